//! `interop_client`: one test case of the gRPC interop spec
//! (<https://github.com/grpc/grpc/blob/master/doc/interop-test-descriptions.md>) per run, made
//! through the generated `TestServiceClient`, with the flags of grpc-go's `interop/client`:
//!
//! ```text
//! interop_client --server_host=localhost --server_port=10000 --test_case=large_unary --use_tls=false
//! ```
//!
//! It exits 0 when the case passes, and 1 with the reason on stderr when it fails. Plain TCP
//! only. The cases are those a client without TLS or credentials can run (see [`CASES`]); the
//! credential, ALTS, load-balancing, soak and ORCA cases are not implemented.
//!
//! Where the generated client cannot do what the spec asks, the case does the nearest thing:
//!
//! - A call is cancelled by ending its request stream with an error (the client then resets the
//!   stream, and the call fails with that error): `cancel_after_begin` and
//!   `cancel_after_first_response` check that the call ends `CANCELLED` there.
//! - Compression is set per client, not per message: `client_compressed_streaming` sends its
//!   second message (`expect_compressed: false`) compressed too, and `server_compressed_*`
//!   cannot check the compressed flag of a response (the client does not show it; only the
//!   sizes are checked), asking for compressed responses from a client that accepts gzip and for
//!   uncompressed ones from a client that does not.

use std::process::ExitCode;
use std::time::Duration;

use rust_svc_interop::grpc::testing::{
    BoolValue, EchoStatus, Empty, PayloadType, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingOutputCallRequest, StreamingOutputCallResponse,
    TestService, TestServiceClient, UnimplementedService, UnimplementedServiceClient,
};
use rust_svc_interop::{ECHO_INITIAL, ECHO_TRAILING, Flags, payload};
use rust_svc_runtime::{BoxStream, Code, CompressionEncoding, Context, MetadataMap, Status};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// Every test case this client runs, in the spec's order.
const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
];

/// How long one test case may take before it fails (a hang is a failure, not a wait).
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

const LARGE_REQUEST: usize = 271_828;
const LARGE_RESPONSE: i32 = 314_159;
const REQUEST_SIZES: [usize; 4] = [27_182, 8, 1_828, 45_904];
const RESPONSE_SIZES: [i32; 4] = [31_415, 9, 2_653, 58_979];
const INITIAL_VALUE: &str = "test_initial_metadata_value";
const TRAILING_VALUE: &[u8] = b"\x0a\x0b\x0a\x0b\x0a\x0b";

type Outcome = Result<(), String>;

/// Fails the case with a message unless `condition` holds.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

/// What a client sends and accepts compressed.
#[derive(Clone, Copy, PartialEq)]
enum Compression {
    None,
    /// Requests gzip-compressed.
    Send,
    /// Responses accepted gzip-compressed.
    Accept,
}

/// The server under test.
struct Target {
    url: String,
}

impl Target {
    fn client(&self, compression: Compression) -> Result<TestServiceClient, String> {
        let builder = TestServiceClient::builder();
        let builder = match compression {
            Compression::None => builder,
            Compression::Send => builder.send_compressed(CompressionEncoding::Gzip),
            Compression::Accept => builder.accept_compressed(CompressionEncoding::Gzip),
        };
        builder
            .connect_lazy([&self.url])
            .map_err(|error| format!("client for {}: {error}", self.url))
    }
}

/// A message that says what went wrong with a call.
fn failed(what: &str, status: &Status) -> String {
    format!("{what} failed: {:?}: {:?}", status.code(), status.message())
}

/// Checks that a call failed with `code` (and `message`, when given).
fn expect_status<T>(
    what: &str,
    result: Result<T, Status>,
    code: Code,
    message: Option<&str>,
) -> Outcome {
    match result {
        Ok(_) => Err(format!("{what} succeeded; want {code:?}")),
        Err(status) => {
            ensure!(
                status.code() == code,
                "{what}: got {:?} ({:?}); want {code:?}",
                status.code(),
                status.message()
            );
            if let Some(message) = message {
                ensure!(
                    status.message() == message,
                    "{what}: got the message {:?}; want {message:?}",
                    status.message()
                );
            }
            Ok(())
        }
    }
}

/// Checks a response payload: the `COMPRESSABLE` type, `size` bytes, all zero.
fn check_payload(
    what: &str,
    payload: Option<&rust_svc_interop::grpc::testing::Payload>,
    size: i32,
) -> Outcome {
    let payload = payload.ok_or_else(|| format!("{what}: the response has no payload"))?;
    ensure!(
        payload.r#type == PayloadType::Compressable as i32,
        "{what}: payload type {}; want COMPRESSABLE",
        payload.r#type
    );
    ensure!(
        payload.body.len() == size as usize,
        "{what}: payload of {} bytes; want {size}",
        payload.body.len()
    );
    ensure!(
        payload.body.iter().all(|byte| *byte == 0),
        "{what}: the payload is not all zeros"
    );
    Ok(())
}

/// A unary request for `response_size` bytes carrying `request_size` bytes.
fn simple_request(request_size: usize, response_size: i32) -> SimpleRequest {
    SimpleRequest {
        response_type: PayloadType::Compressable as i32,
        response_size,
        payload: Some(payload(request_size)),
        ..Default::default()
    }
}

/// A streaming request asking for one response per size.
fn output_request(request_size: usize, response_sizes: &[i32]) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_type: PayloadType::Compressable as i32,
        response_parameters: response_sizes
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..Default::default()
            })
            .collect(),
        payload: (request_size > 0).then(|| payload(request_size)),
        ..Default::default()
    }
}

/// A request stream the case feeds as it goes: dropping the sender half-closes it, sending an
/// error cancels the call.
fn request_stream<T: Send + 'static>() -> (mpsc::Sender<Result<T, Status>>, BoxStream<T>) {
    let (tx, rx) = mpsc::channel(4);
    (tx, Box::pin(ReceiverStream::new(rx)))
}

/// The next response of a stream, which must be there.
async fn next_response(
    what: &str,
    responses: &mut BoxStream<StreamingOutputCallResponse>,
) -> Result<StreamingOutputCallResponse, String> {
    match responses.next().await {
        Some(Ok(response)) => Ok(response),
        Some(Err(status)) => Err(failed(what, &status)),
        None => Err(format!("{what}: the stream ended early")),
    }
}

/// Checks that a stream ends cleanly with nothing more in it.
async fn expect_end(what: &str, responses: &mut BoxStream<StreamingOutputCallResponse>) -> Outcome {
    match responses.next().await {
        None => Ok(()),
        Some(Ok(_)) => Err(format!("{what}: an unexpected response; want the end")),
        Some(Err(status)) => Err(failed(what, &status)),
    }
}

/// Checks the echoed metadata of `custom_metadata`: exactly one header and one trailer.
fn check_echo(what: &str, ctx: &Context) -> Outcome {
    let headers = ctx.response().headers().clone();
    let initial: Vec<_> = headers.get_all(ECHO_INITIAL).iter().collect();
    ensure!(
        initial.len() == 1 && initial[0] == INITIAL_VALUE,
        "{what}: response headers {headers:?}; want one {ECHO_INITIAL}: {INITIAL_VALUE}"
    );
    let trailers = ctx.response().trailers().clone();
    let trailing: Vec<_> = trailers.get_all_bin(ECHO_TRAILING).iter().collect();
    ensure!(
        trailing.len() == 1 && trailing[0].to_bytes().ok().as_deref() == Some(TRAILING_VALUE),
        "{what}: trailers {trailers:?}; want one {ECHO_TRAILING}: {TRAILING_VALUE:?}"
    );
    Ok(())
}

async fn empty_unary(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let reply = client
        .empty_call(&Context::new(), Empty {})
        .await
        .map_err(|status| failed("EmptyCall", &status))?;
    ensure!(
        reply == Empty {},
        "EmptyCall: got {reply:?}; want an empty message"
    );
    Ok(())
}

/// The large unary call of `large_unary` and the compression cases, through `client`.
async fn large_unary_with(
    what: &str,
    client: &TestServiceClient,
    change: impl FnOnce(&mut SimpleRequest),
) -> Outcome {
    let mut request = simple_request(LARGE_REQUEST, LARGE_RESPONSE);
    change(&mut request);
    let reply: SimpleResponse = client
        .unary_call(&Context::new(), request)
        .await
        .map_err(|status| failed(what, &status))?;
    check_payload(what, reply.payload.as_ref(), LARGE_RESPONSE)
}

async fn large_unary(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    large_unary_with("UnaryCall", &client, |_| {}).await
}

/// Streams `requests` up and returns the aggregated size the server counted.
async fn stream_input(
    client: &TestServiceClient,
    requests: Vec<StreamingInputCallRequest>,
) -> Result<i32, Status> {
    let requests = tokio_stream::iter(requests.into_iter().map(Ok));
    let reply = client
        .streaming_input_call(&Context::new(), Box::pin(requests))
        .await?;
    Ok(reply.aggregated_payload_size)
}

async fn client_streaming(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let requests = REQUEST_SIZES
        .iter()
        .map(|&size| StreamingInputCallRequest {
            payload: Some(payload(size)),
            ..Default::default()
        })
        .collect();
    let sum = stream_input(&client, requests)
        .await
        .map_err(|status| failed("StreamingInputCall", &status))?;
    let want: usize = REQUEST_SIZES.iter().sum();
    ensure!(
        sum as usize == want,
        "StreamingInputCall: aggregated {sum}; want {want}"
    );
    Ok(())
}

/// Asks for responses of `sizes` (with `change` made to the request) and checks them.
async fn stream_output(
    client: &TestServiceClient,
    sizes: &[i32],
    change: impl FnOnce(&mut StreamingOutputCallRequest),
) -> Outcome {
    let what = "StreamingOutputCall";
    let mut request = output_request(0, sizes);
    change(&mut request);
    let mut responses = client
        .streaming_output_call(&Context::new(), request)
        .await
        .map_err(|status| failed(what, &status))?;
    for (index, &size) in sizes.iter().enumerate() {
        let response = next_response(what, &mut responses).await?;
        check_payload(
            &format!("{what} response {index}"),
            response.payload.as_ref(),
            size,
        )?;
    }
    expect_end(what, &mut responses).await
}

async fn server_streaming(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    stream_output(&client, &RESPONSE_SIZES, |_| {}).await
}

async fn ping_pong(target: &Target) -> Outcome {
    let what = "FullDuplexCall";
    let client = target.client(Compression::None)?;
    let (tx, requests) = request_stream();
    let send = |index: usize| {
        let request = output_request(REQUEST_SIZES[index], &[RESPONSE_SIZES[index]]);
        tx.try_send(Ok(request))
            .map_err(|error| format!("{what}: sending request {index}: {error}"))
    };
    // The first ping goes before the call is answered: a server may send its headers with its
    // first response only.
    send(0)?;
    let mut responses = client
        .full_duplex_call(&Context::new(), requests)
        .await
        .map_err(|status| failed(what, &status))?;
    for (index, size) in RESPONSE_SIZES.into_iter().enumerate() {
        if index > 0 {
            send(index)?;
        }
        let response = next_response(what, &mut responses).await?;
        check_payload(
            &format!("{what} pong {index}"),
            response.payload.as_ref(),
            size,
        )?;
    }
    drop(tx);
    expect_end(what, &mut responses).await
}

async fn empty_stream(target: &Target) -> Outcome {
    let what = "FullDuplexCall";
    let client = target.client(Compression::None)?;
    let requests = Box::pin(tokio_stream::empty());
    let mut responses = client
        .full_duplex_call(&Context::new(), requests)
        .await
        .map_err(|status| failed(what, &status))?;
    expect_end(what, &mut responses).await
}

async fn timeout_on_sleeping_server(target: &Target) -> Outcome {
    let what = "FullDuplexCall";
    let client = target.client(Compression::None)?;
    let ctx = Context::new().with_timeout(Duration::from_millis(1));
    let (tx, requests) = request_stream();
    tx.try_send(Ok(output_request(27_182, &[])))
        .map_err(|error| format!("{what}: {error}"))?;
    // The request stream stays open (`tx` lives on): the server waits for more and sends
    // nothing, until the deadline ends the call.
    let result = match client.full_duplex_call(&ctx, requests).await {
        Err(status) => Err(status),
        Ok(mut responses) => match responses.next().await {
            Some(Err(status)) => Err(status),
            Some(Ok(_)) => Ok(()),
            None => Ok(()),
        },
    };
    drop(tx);
    expect_status(what, result, Code::DeadlineExceeded, None)
}

/// The error that cancels a call, sent down its request stream.
fn cancel() -> Status {
    Status::cancelled("cancelled by the interop client")
}

async fn cancel_after_begin(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let (tx, requests) = request_stream::<StreamingInputCallRequest>();
    let ctx = Context::new();
    let call = client.streaming_input_call(&ctx, requests);
    let cancel_later = async {
        // Time for the call's headers to go out before it is cancelled.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = tx.send(Err(cancel())).await;
    };
    let (result, ()) = tokio::join!(call, cancel_later);
    expect_status("StreamingInputCall", result, Code::Cancelled, None)
}

async fn cancel_after_first_response(target: &Target) -> Outcome {
    let what = "FullDuplexCall";
    let client = target.client(Compression::None)?;
    let (tx, requests) = request_stream();
    tx.try_send(Ok(output_request(27_182, &[31_415])))
        .map_err(|error| format!("{what}: {error}"))?;
    let mut responses = client
        .full_duplex_call(&Context::new(), requests)
        .await
        .map_err(|status| failed(what, &status))?;
    let response = next_response(what, &mut responses).await?;
    check_payload(what, response.payload.as_ref(), 31_415)?;
    tx.send(Err(cancel()))
        .await
        .map_err(|error| format!("{what}: cancelling: {error}"))?;
    let result = match responses.next().await {
        Some(Err(status)) => Err(status),
        Some(Ok(_)) => Ok("a response"),
        None => Ok("the end of the stream"),
    };
    expect_status(what, result, Code::Cancelled, None)
}

async fn custom_metadata(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let context = || {
        let mut metadata = MetadataMap::new();
        metadata.insert(ECHO_INITIAL, INITIAL_VALUE.parse().expect("an ASCII value"));
        metadata.insert_bin(
            ECHO_TRAILING,
            tonic::metadata::MetadataValue::from_bytes(TRAILING_VALUE),
        );
        Context::new().with_outgoing_metadata(metadata)
    };
    let ctx = context();
    let reply = client
        .unary_call(&ctx, simple_request(1, 1))
        .await
        .map_err(|status| failed("UnaryCall", &status))?;
    check_payload("UnaryCall", reply.payload.as_ref(), 1)?;
    check_echo("UnaryCall", &ctx)?;

    let what = "FullDuplexCall";
    let ctx = context();
    let (tx, requests) = request_stream();
    tx.try_send(Ok(output_request(1, &[1])))
        .map_err(|error| format!("{what}: {error}"))?;
    let mut responses = client
        .full_duplex_call(&ctx, requests)
        .await
        .map_err(|status| failed(what, &status))?;
    let response = next_response(what, &mut responses).await?;
    check_payload(what, response.payload.as_ref(), 1)?;
    drop(tx);
    expect_end(what, &mut responses).await?;
    check_echo(what, &ctx)
}

/// The status `status_code_and_message` and `special_status_message` ask the server for.
fn echo_status(message: &str) -> EchoStatus {
    EchoStatus {
        code: Code::Unknown as i32,
        message: message.to_owned(),
    }
}

async fn status_code_and_message(target: &Target) -> Outcome {
    const MESSAGE: &str = "test status message";
    let client = target.client(Compression::None)?;
    let request = SimpleRequest {
        response_status: Some(echo_status(MESSAGE)),
        ..Default::default()
    };
    let result = client.unary_call(&Context::new(), request).await;
    expect_status("UnaryCall", result, Code::Unknown, Some(MESSAGE))?;

    let request = StreamingOutputCallRequest {
        response_status: Some(echo_status(MESSAGE)),
        ..Default::default()
    };
    let requests = Box::pin(tokio_stream::iter([Ok(request)]));
    let result = match client.full_duplex_call(&Context::new(), requests).await {
        Err(status) => Err(status),
        Ok(mut responses) => match responses.next().await {
            Some(Err(status)) => Err(status),
            Some(Ok(_)) => Ok("a response"),
            None => Ok("the end of the stream"),
        },
    };
    expect_status("FullDuplexCall", result, Code::Unknown, Some(MESSAGE))
}

async fn special_status_message(target: &Target) -> Outcome {
    const MESSAGE: &str = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";
    let client = target.client(Compression::None)?;
    let request = SimpleRequest {
        response_status: Some(echo_status(MESSAGE)),
        ..Default::default()
    };
    let ctx = Context::new().with_timeout(Duration::from_secs(10));
    let result = client.unary_call(&ctx, request).await;
    expect_status("UnaryCall", result, Code::Unknown, Some(MESSAGE))
}

async fn unimplemented_method(target: &Target) -> Outcome {
    let client = target.client(Compression::None)?;
    let result = client.unimplemented_call(&Context::new(), Empty {}).await;
    expect_status(
        "TestService/UnimplementedCall",
        result,
        Code::Unimplemented,
        None,
    )
}

async fn unimplemented_service(target: &Target) -> Outcome {
    let client = UnimplementedServiceClient::connect_lazy([&target.url])
        .map_err(|error| format!("client for {}: {error}", target.url))?;
    let result = client.unimplemented_call(&Context::new(), Empty {}).await;
    expect_status(
        "UnimplementedService/UnimplementedCall",
        result,
        Code::Unimplemented,
        None,
    )
}

fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

async fn client_compressed_unary(target: &Target) -> Outcome {
    let plain = target.client(Compression::None)?;
    let gzip = target.client(Compression::Send)?;
    // The probe: an uncompressed request that says it is compressed must be refused.
    let mut probe = simple_request(LARGE_REQUEST, LARGE_RESPONSE);
    probe.expect_compressed = bool_value(true);
    let result = plain.unary_call(&Context::new(), probe).await;
    expect_status("UnaryCall (probe)", result, Code::InvalidArgument, None)?;
    large_unary_with("UnaryCall (compressed)", &gzip, |request| {
        request.expect_compressed = bool_value(true);
    })
    .await?;
    large_unary_with("UnaryCall (uncompressed)", &plain, |request| {
        request.expect_compressed = bool_value(false);
    })
    .await
}

async fn server_compressed_unary(target: &Target) -> Outcome {
    let accepting = target.client(Compression::Accept)?;
    let plain = target.client(Compression::None)?;
    large_unary_with("UnaryCall (compressed response)", &accepting, |request| {
        request.response_compressed = bool_value(true);
    })
    .await?;
    large_unary_with("UnaryCall (uncompressed response)", &plain, |request| {
        request.response_compressed = bool_value(false);
    })
    .await
}

async fn client_compressed_streaming(target: &Target) -> Outcome {
    let plain = target.client(Compression::None)?;
    let gzip = target.client(Compression::Send)?;
    let request = |size: usize, compressed: bool| StreamingInputCallRequest {
        payload: Some(payload(size)),
        expect_compressed: bool_value(compressed),
    };
    let result = stream_input(&plain, vec![request(27_182, true)]).await;
    expect_status(
        "StreamingInputCall (probe)",
        result,
        Code::InvalidArgument,
        None,
    )?;
    let sum = stream_input(&gzip, vec![request(27_182, true), request(45_904, false)])
        .await
        .map_err(|status| failed("StreamingInputCall", &status))?;
    ensure!(
        sum == 73_086,
        "StreamingInputCall: aggregated {sum}; want 73086"
    );
    Ok(())
}

async fn server_compressed_streaming(target: &Target) -> Outcome {
    let accepting = target.client(Compression::Accept)?;
    stream_output(&accepting, &[31_415, 92_653], |request| {
        request.response_parameters[0].compressed = bool_value(true);
        request.response_parameters[1].compressed = bool_value(false);
    })
    .await
}

async fn run(case: &str, target: &Target) -> Outcome {
    match case {
        "empty_unary" => empty_unary(target).await,
        "large_unary" => large_unary(target).await,
        "client_streaming" => client_streaming(target).await,
        "server_streaming" => server_streaming(target).await,
        "ping_pong" => ping_pong(target).await,
        "empty_stream" => empty_stream(target).await,
        "timeout_on_sleeping_server" => timeout_on_sleeping_server(target).await,
        "cancel_after_begin" => cancel_after_begin(target).await,
        "cancel_after_first_response" => cancel_after_first_response(target).await,
        "custom_metadata" => custom_metadata(target).await,
        "status_code_and_message" => status_code_and_message(target).await,
        "special_status_message" => special_status_message(target).await,
        "unimplemented_method" => unimplemented_method(target).await,
        "unimplemented_service" => unimplemented_service(target).await,
        "client_compressed_unary" => client_compressed_unary(target).await,
        "server_compressed_unary" => server_compressed_unary(target).await,
        "client_compressed_streaming" => client_compressed_streaming(target).await,
        "server_compressed_streaming" => server_compressed_streaming(target).await,
        _ => Err(format!(
            "unsupported test case `{case}` (supported: {})",
            CASES.join(", ")
        )),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    const KNOWN: &[&str] = &["server_host", "server_port", "test_case", "use_tls"];
    let flags = match Flags::parse(std::env::args().skip(1), KNOWN, &["use_tls"]) {
        Ok(flags) => flags,
        Err(error) => {
            eprintln!("interop_client: {error}");
            return ExitCode::from(2);
        }
    };
    let settings = (
        flags.number("server_port", 10000u16),
        flags.boolean("use_tls"),
    );
    let port = match settings {
        (Ok(port), Ok(false)) => port,
        (Ok(_), Ok(true)) => {
            eprintln!("interop_client: --use_tls=true is not supported: plain TCP only");
            return ExitCode::from(2);
        }
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("interop_client: {error}");
            return ExitCode::from(2);
        }
    };
    let host = flags.string("server_host", "localhost");
    let case = flags.string("test_case", "large_unary");
    let target = Target {
        url: format!("http://{host}:{port}"),
    };
    let outcome = match tokio::time::timeout(CASE_TIMEOUT, run(&case, &target)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no result within {CASE_TIMEOUT:?}")),
    };
    match outcome {
        Ok(()) => {
            println!("{case}: passed");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "interop_client: {case} FAILED against {}: {error}",
                target.url
            );
            ExitCode::FAILURE
        }
    }
}
