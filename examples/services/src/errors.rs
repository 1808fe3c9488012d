//! Statuses the example services answer with. Bad input carries a `google.rpc.BadRequest` and
//! a refused precondition a `google.rpc.PreconditionFailure`, so that a client can tell which
//! field or which resource was at fault without parsing the message; over REST both appear in
//! the `details` of the `google.rpc.Status` JSON.

use std::fmt::Display;

use rust_svc_runtime::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `INVALID_ARGUMENT` for `field`, with the message `field: description`.
pub(crate) fn invalid(field: &str, description: impl Display) -> Status {
    let description = description.to_string();
    Status::with_error_details(
        Code::InvalidArgument,
        format!("{field}: {description}"),
        ErrorDetails::with_bad_request_violation(field, description),
    )
}

/// `FAILED_PRECONDITION` about `subject` (a violation of kind `kind`, e.g. `STOCK`).
pub(crate) fn refused(kind: &str, subject: &str, description: impl Display) -> Status {
    let description = description.to_string();
    Status::with_error_details(
        Code::FailedPrecondition,
        format!("{subject}: {description}"),
        ErrorDetails::with_precondition_failure_violation(kind, subject, description),
    )
}
