"""A grpcio client of tests.metadata.MetadataEcho for tests/tests/it/python_interop.rs.

Usage: metadata_echo_client.py ADDRESS (host:port). Calls Echo with metadata `x-tenant: python`
and `x-blob-bin: 00 ff`, then Repeat(count=2), and prints one JSON object with the response
metadata grpcio surfaced (binary values hex-encoded) for the Rust test to check.

Needs the stubs of tests/protos/metadata.proto (grpc_tools.protoc) on PYTHONPATH.
"""

import json
import sys

import grpc

import metadata_pb2
import metadata_pb2_grpc

# Only a safety net so that a broken server fails the test instead of hanging it.
DEADLINE_SECONDS = 60


def as_json(metadata):
    """Metadata pairs as a JSON object; grpcio gives -bin values as bytes, shown as hex."""
    return {
        key: value.hex() if isinstance(value, bytes) else value
        for key, value in (metadata or ())
    }


def main():
    (address,) = sys.argv[1:]
    metadata = [("x-tenant", "python"), ("x-blob-bin", b"\x00\xff")]
    with grpc.insecure_channel(address) as channel:
        stub = metadata_pb2_grpc.MetadataEchoStub(channel)
        reply, call = stub.Echo.with_call(
            metadata_pb2.Blob(data=b"hello"), metadata=metadata, timeout=DEADLINE_SECONDS
        )
        stream = stub.Repeat(
            metadata_pb2.Blob(count=2), metadata=metadata, timeout=DEADLINE_SECONDS
        )
        messages = sum(1 for _ in stream)
        print(
            json.dumps(
                {
                    "echo": {
                        "data": reply.data.hex(),
                        "initial_metadata": as_json(call.initial_metadata()),
                        "trailing_metadata": as_json(call.trailing_metadata()),
                    },
                    "repeat": {
                        "messages": messages,
                        "initial_metadata": as_json(stream.initial_metadata()),
                        "trailing_metadata": as_json(stream.trailing_metadata()),
                    },
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
