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

use rust_svc_interop::Flags;
use rust_svc_interop::grpc::testing::TestServiceClient;
use rust_svc_runtime::CompressionEncoding;

/// Fails the case with a message unless `condition` holds.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

mod cases;
mod checks;

use checks::Outcome;

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

/// Runs `case` against `target`.
async fn run(case: &str, target: &Target) -> Outcome {
    match case {
        "empty_unary" => cases::empty_unary(target).await,
        "large_unary" => cases::large_unary(target).await,
        "client_streaming" => cases::client_streaming(target).await,
        "server_streaming" => cases::server_streaming(target).await,
        "ping_pong" => cases::ping_pong(target).await,
        "empty_stream" => cases::empty_stream(target).await,
        "timeout_on_sleeping_server" => cases::timeout_on_sleeping_server(target).await,
        "cancel_after_begin" => cases::cancel_after_begin(target).await,
        "cancel_after_first_response" => cases::cancel_after_first_response(target).await,
        "custom_metadata" => cases::custom_metadata(target).await,
        "status_code_and_message" => cases::status_code_and_message(target).await,
        "special_status_message" => cases::special_status_message(target).await,
        "unimplemented_method" => cases::unimplemented_method(target).await,
        "unimplemented_service" => cases::unimplemented_service(target).await,
        "client_compressed_unary" => cases::client_compressed_unary(target).await,
        "server_compressed_unary" => cases::server_compressed_unary(target).await,
        "client_compressed_streaming" => cases::client_compressed_streaming(target).await,
        "server_compressed_streaming" => cases::server_compressed_streaming(target).await,
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
