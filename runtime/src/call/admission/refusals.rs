//! The answers of an admission that refuses a call, and how a caller tells them from other
//! errors.

use std::time::Duration;

use super::{MAX_PUSHBACK, MIN_PUSHBACK};
use crate::Status;
use crate::rpc::RETRY_PUSHBACK;

/// Whether `status` is a refusal for load made by an admission (or passed on from one): it
/// carries a pushback.
pub fn is_load_refusal(status: &Status) -> bool {
    status.metadata().contains_key(RETRY_PUSHBACK)
}

/// The `ErrorInfo` domain of the refusals an admission makes.
pub const ERROR_DOMAIN: &str = "rust-svc.server";

/// The `ErrorInfo` reason of a call refused because its deadline was out of reach
/// (`DEADLINE_EXCEEDED` answered before any work).
pub const DEADLINE_OUT_OF_REACH: &str = "DEADLINE_OUT_OF_REACH";

/// Whether `status` is an admission's refusal made before the call did any work: a refusal
/// for load ([`is_load_refusal`]) or a deadline out of reach ([`DEADLINE_OUT_OF_REACH`]), as
/// the server sent it or passed on by a service that got it. A `DEADLINE_EXCEEDED` without
/// the mark leaves open whether the call took effect; with it, a caller that would undo a call
/// that may have taken effect knows there is nothing to undo.
pub fn refused_before_work(status: &Status) -> bool {
    use tonic_types::StatusExt as _;
    is_load_refusal(status)
        || status.code() == crate::Code::DeadlineExceeded
            && status.get_details_error_info().is_some_and(|info| {
                info.reason == DEADLINE_OUT_OF_REACH && info.domain == ERROR_DOMAIN
            })
}

/// Readies the response to a refused call for the connection it goes out on. Over HTTP/1.1
/// (REST, gRPC-Web) a refusal for load also closes the connection, as Envoy's overload manager
/// does (`disable_http_keepalive`): a client that sends its next request the moment it has an
/// answer would otherwise keep the server busy refusing, taking the machine from the calls it
/// let in; having to connect again, it waits its turn to be accepted instead (see
/// `host::ConnectionLimits::accepts_while_shedding`). The refusal itself is answered at once.
pub fn close_after_refusal(status: &Status, version: http::Version, headers: &mut http::HeaderMap) {
    if is_load_refusal(status) && version <= http::Version::HTTP_11 {
        headers.insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
}

/// The answer to a call whose deadline the service cannot meet at its current latency:
/// `DEADLINE_EXCEEDED` now rather than at the deadline, nothing done. No pushback: the call's
/// own deadline is short, not the service's capacity (a pushback would pause every call a
/// client sends to this server, and tell it to retry what cannot succeed), so it is neither
/// a refusal for load ([`is_load_refusal`]) nor a reason to close the connection.
/// It carries an `ErrorInfo` ([`DEADLINE_OUT_OF_REACH`]) that tells it from a deadline missed
/// during the work ([`refused_before_work`]).
pub(super) fn out_of_reach(service: &str, reason: &str) -> Status {
    use tonic_types::{ErrorDetails, StatusExt as _};
    let details = ErrorDetails::with_error_info(
        DEADLINE_OUT_OF_REACH,
        ERROR_DOMAIN,
        [("service".to_owned(), service.to_owned())],
    );
    Status::with_error_details(
        crate::Code::DeadlineExceeded,
        format!("{service} cannot answer in time: {reason}; nothing was done"),
        details,
    )
}

/// The answer to a call refused for load: `UNAVAILABLE`, nothing done, come back in `pushback`.
pub(super) fn overloaded(service: &str, reason: &str, pushback: Duration) -> Status {
    let pushback = pushback.clamp(MIN_PUSHBACK, MAX_PUSHBACK);
    let mut status = Status::unavailable(format!(
        "{service} is overloaded: {reason}; nothing was done, retry in {} ms",
        pushback.as_millis()
    ));
    status.metadata_mut().insert(
        RETRY_PUSHBACK,
        tonic::metadata::MetadataValue::from(pushback.as_millis() as u64),
    );
    status
}
