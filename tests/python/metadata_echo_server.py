"""A grpcio server of tests.metadata.MetadataEcho for tests/tests/it/python_interop.rs.

Answers like the Rust `Echo` of tests/tests/it/call_metadata.rs: response headers describe the
request metadata it saw (`x-seen-tenant`, `x-seen-blob-bin`), trailers say how many bytes
arrived (`x-received-bytes`) plus a binary trailer (`x-trailer-bin` = 01 02 03).

Needs the stubs of tests/protos/metadata.proto (grpc_tools.protoc) on PYTHONPATH. Binds
127.0.0.1:0, prints the port on one stdout line, and serves until stdin closes or it is killed.
"""

import sys
from concurrent import futures

import grpc

import metadata_pb2
import metadata_pb2_grpc


def seen(context):
    """The response metadata describing the request's metadata, as the Rust Echo sets it."""
    request_metadata = dict(context.invocation_metadata())
    described = []
    if "x-tenant" in request_metadata:
        described.append(("x-seen-tenant", request_metadata["x-tenant"]))
    if "x-blob-bin" in request_metadata:
        # grpcio has already base64-decoded the -bin value into bytes.
        described.append(("x-seen-blob-bin", request_metadata["x-blob-bin"]))
    return described


class Echo(metadata_pb2_grpc.MetadataEchoServicer):
    def Echo(self, request, context):
        described = seen(context)
        trailers = [
            ("x-received-bytes", str(len(request.data))),
            ("x-trailer-bin", bytes([1, 2, 3])),
        ]
        if request.fail_with:
            # As the Rust server does: on failure, headers travel with the status as trailers.
            context.set_trailing_metadata(described + trailers)
            context.abort(grpc.StatusCode(code_of(request.fail_with)), "asked to fail")
        context.send_initial_metadata(described)
        context.set_trailing_metadata(trailers)
        data = bytes([7]) * request.reply_size if request.reply_size else request.data
        return metadata_pb2.Blob(data=data)

    def Repeat(self, request, context):
        context.send_initial_metadata(seen(context))
        for n in range(request.count):
            yield metadata_pb2.Blob(count=n)
        context.set_trailing_metadata([("x-sent", str(request.count))])


def code_of(number):
    """grpc.StatusCode's value is a (number, name) pair."""
    return next(code.value for code in grpc.StatusCode if code.value[0] == number)


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    metadata_pb2_grpc.add_MetadataEchoServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    # The test reads this line to learn where to connect, so it must not sit in a buffer.
    print(port, flush=True)
    # The test holds our stdin open for as long as it needs the server.
    sys.stdin.read()
    server.stop(grace=None)


if __name__ == "__main__":
    main()
