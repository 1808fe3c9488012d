//! What the cases check, and the requests they build.

use rust_svc_interop::grpc::testing::{
    BoolValue, Payload, PayloadType, ResponseParameters, SimpleRequest, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};
use rust_svc_interop::{ECHO_INITIAL, ECHO_TRAILING, payload};
use rust_svc_runtime::{BoxStream, Code, Context, Status};
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

/// The sizes of `large_unary`'s request and response payloads.
pub const LARGE_REQUEST: usize = 271_828;
pub const LARGE_RESPONSE: i32 = 314_159;
/// The sizes of the streamed requests and responses (`client_streaming`, `ping_pong`, …).
pub const REQUEST_SIZES: [usize; 4] = [27_182, 8, 1_828, 45_904];
pub const RESPONSE_SIZES: [i32; 4] = [31_415, 9, 2_653, 58_979];
/// What `custom_metadata` sends and expects echoed.
pub const INITIAL_VALUE: &str = "test_initial_metadata_value";
pub const TRAILING_VALUE: &[u8] = b"\x0a\x0b\x0a\x0b\x0a\x0b";

/// What a case comes to: passed, or why not.
pub type Outcome = Result<(), String>;

/// A message that says what went wrong with a call.
pub fn failed(what: &str, status: &Status) -> String {
    format!("{what} failed: {:?}: {:?}", status.code(), status.message())
}

/// Checks that a call failed with `code` (and `message`, when given).
pub fn expect_status<T>(
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
pub fn check_payload(what: &str, payload: Option<&Payload>, size: i32) -> Outcome {
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
pub fn simple_request(request_size: usize, response_size: i32) -> SimpleRequest {
    SimpleRequest {
        response_type: PayloadType::Compressable as i32,
        response_size,
        payload: Some(payload(request_size)),
        ..Default::default()
    }
}

/// A streaming request asking for one response per size.
pub fn output_request(request_size: usize, response_sizes: &[i32]) -> StreamingOutputCallRequest {
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
pub fn request_stream<T: Send + 'static>() -> (mpsc::Sender<Result<T, Status>>, BoxStream<T>) {
    let (tx, rx) = mpsc::channel(4);
    (tx, Box::pin(ReceiverStream::new(rx)))
}

/// The next response of a stream, which must be there.
pub async fn next_response(
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
pub async fn expect_end(
    what: &str,
    responses: &mut BoxStream<StreamingOutputCallResponse>,
) -> Outcome {
    match responses.next().await {
        None => Ok(()),
        Some(Ok(_)) => Err(format!("{what}: an unexpected response; want the end")),
        Some(Err(status)) => Err(failed(what, &status)),
    }
}

/// Checks the echoed metadata of `custom_metadata`: exactly one header and one trailer.
pub fn check_echo(what: &str, ctx: &Context) -> Outcome {
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

/// A set `google.protobuf.BoolValue`-like field of the interop messages.
pub fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}
