//! Failures of the connection under a call, told apart from answers of the server.
//!
//! tonic reports a connection that went away under a call with the code its HTTP/2 cause maps
//! to: a server's graceful GOAWAY (`NO_ERROR`) for a stream it never processed is `INTERNAL`,
//! and hyper cancelling the requests still queued on a connection that closed is `CANCELLED`.
//! gRPC's HTTP/2 mapping (PROTOCOL-HTTP2.md) and grpc-go report both as `UNAVAILABLE`: the
//! server did not answer, and a call that is safe to retry should be retried elsewhere. The
//! runtime's client does the same, so that its retries, breakers and callers see the
//! dependency's unavailability rather than a bug (`INTERNAL`) or a caller's cancellation.

use std::error::Error;

use tonic::{Code, Status};

/// `UNAVAILABLE` for a status that reports a lost connection rather than the server's answer;
/// any other status as it is. A status the server sent (grpc-status) has no source, so it is
/// never changed.
pub(super) fn unavailable_if_connection_lost(status: Status) -> Status {
    if !matches!(
        status.code(),
        Code::Internal | Code::Cancelled | Code::Unknown
    ) {
        return status;
    }
    let mut source: Option<&(dyn Error + 'static)> = status.source();
    while let Some(error) = source {
        if let Some(lost) = describe_loss(error) {
            return Status::unavailable(format!("{lost}: {}", status.message()));
        }
        source = error.source();
    }
    status
}

/// Whether `status` says the server refused the stream before processing it: an HTTP/2
/// `REFUSED_STREAM`, a GOAWAY whose last stream id is below it, or a request hyper never sent
/// on a connection that closed. Such a call can be sent again whatever it does (gRFC A6's
/// transparent retry).
pub(super) fn never_processed(status: &Status) -> bool {
    let mut source: Option<&(dyn Error + 'static)> = status.source();
    while let Some(error) = source {
        if let Some(h2) = error.downcast_ref::<h2::Error>() {
            let refused = h2.reason() == Some(h2::Reason::REFUSED_STREAM);
            let above_go_away = h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR);
            if refused || above_go_away {
                return true;
            }
        }
        if error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_canceled)
        {
            return true;
        }
        source = error.source();
    }
    false
}

/// What went wrong with the connection, when `error` is such a failure.
fn describe_loss(error: &(dyn Error + 'static)) -> Option<&'static str> {
    if let Some(h2) = error.downcast_ref::<h2::Error>() {
        // A GOAWAY's streams above its last stream id were never processed.
        if h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR) {
            return Some("the server closed the connection (GOAWAY) before taking the call");
        }
        if h2.is_io() {
            return Some("the connection failed");
        }
    }
    if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
        if hyper.is_canceled() {
            return Some("the connection closed before the call was sent");
        }
        if hyper.is_closed() || hyper.is_incomplete_message() {
            return Some("the connection closed during the call");
        }
    }
    if error.downcast_ref::<std::io::Error>().is_some() {
        return Some("the connection failed");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_source(code: Code, source: impl Error + Send + Sync + 'static) -> Status {
        let mut status = Status::new(code, "transport error");
        status.set_source(std::sync::Arc::new(source));
        status
    }

    #[test]
    fn a_stream_reset_without_a_status_stays_internal() {
        // gRPC's mapping for a RST_STREAM(NO_ERROR) without a status; only a GOAWAY says the
        // call was never processed. h2 makes that error only from the wire: the logistics
        // fault tests (examples/logistics/tests/faults.rs) meet it, and lost connections, when
        // they stop and kill servers under load.
        let status = with_source(Code::Internal, h2::Error::from(h2::Reason::NO_ERROR));
        assert_eq!(
            unavailable_if_connection_lost(status).code(),
            Code::Internal
        );
    }

    #[test]
    fn an_io_failure_under_the_call_is_unavailable() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let status = with_source(Code::Unknown, reset);
        let mapped = unavailable_if_connection_lost(status);
        assert_eq!(mapped.code(), Code::Unavailable);
        assert!(
            mapped.message().contains("the connection failed"),
            "{}",
            mapped.message()
        );
    }

    #[test]
    fn a_status_the_server_sent_is_kept() {
        for code in [Code::Internal, Code::Cancelled, Code::Unknown] {
            let status = Status::new(code, "from the handler");
            assert_eq!(unavailable_if_connection_lost(status).code(), code);
        }
    }

    #[test]
    fn other_codes_are_kept_whatever_their_source() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let status = with_source(Code::NotFound, reset);
        assert_eq!(
            unavailable_if_connection_lost(status).code(),
            Code::NotFound
        );
    }
}
