//! The names of status codes (the gRPC spec's, which logs and the gateway use; grpc-go's, which
//! metric labels use; the Connect protocol's) and the HTTP status of each code.

use http::StatusCode;

use crate::Code;

/// The canonical name of a status code, as in the gRPC spec and `grpc-status` docs: `"OK"`,
/// `"NOT_FOUND"`, `"DEADLINE_EXCEEDED"`. `&'static` so that metric labels need no allocation.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The name grpc-go gives a status code (`codes.Code.String()`): `"OK"`, `"NotFound"`,
/// `"Canceled"`. go-grpc-prometheus labels `grpc_code` with it, so dashboards and alerts written
/// for Go services match ours.
pub fn go_code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// The name the Connect protocol gives a status code in its JSON errors: `"not_found"`,
/// `"canceled"` (one l, as in Go). `OK` has none: Connect never sends it as an error.
pub fn connect_code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The code a Connect JSON error names, if it names one.
pub fn code_from_connect_name(name: &str) -> Option<Code> {
    (1..=16)
        .map(Code::from_i32)
        .find(|code| connect_code_name(*code) == name)
}

/// The HTTP status of a code: grpc-gateway v2's `HTTPStatusFromCode` (`runtime/errors.go`),
/// which is also the Connect protocol's (`connectCodeToHTTP` in connect-go) and the mapping
/// google/rpc/code.proto documents.
///
/// `FAILED_PRECONDITION` is deliberately 400, not 412: 412 is about HTTP conditional requests,
/// which is not what the gRPC code means (grpc-gateway and code.proto agree).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        // 499 is nginx's "client closed request"; http has no constant for it.
        Code::Cancelled => StatusCode::from_u16(499).expect("499 is a valid status code"),
        Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::FailedPrecondition => StatusCode::BAD_REQUEST,
        Code::Aborted => StatusCode::CONFLICT,
        Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
    }
}

/// The code a Connect client gives a response whose body is not a Connect error, from its HTTP
/// status (the protocol's "HTTP to error code" table): a proxy's or load balancer's answer.
pub fn code_from_http_status(status: StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_names_read_back_and_spell_canceled_as_go_does() {
        for n in 1..=16 {
            let code = Code::from_i32(n);
            assert_eq!(code_from_connect_name(connect_code_name(code)), Some(code));
        }
        assert_eq!(connect_code_name(Code::Cancelled), "canceled");
        assert_eq!(code_from_connect_name("ok"), None, "OK is never an error");
        assert_eq!(code_from_connect_name("NOT_FOUND"), None);
    }

    #[test]
    fn http_statuses_follow_connect_both_ways() {
        assert_eq!(http_status(Code::ResourceExhausted), 429);
        assert_eq!(http_status(Code::Cancelled), 499);
        assert_eq!(
            code_from_http_status(StatusCode::BAD_GATEWAY),
            Code::Unavailable
        );
        assert_eq!(
            code_from_http_status(StatusCode::NOT_FOUND),
            Code::Unimplemented
        );
        assert_eq!(
            code_from_http_status(StatusCode::IM_A_TEAPOT),
            Code::Unknown
        );
    }

    #[test]
    fn go_names_are_grpc_gos() {
        let names: Vec<_> = (0..=16).map(|n| go_code_name(Code::from_i32(n))).collect();
        assert_eq!(names[1], "Canceled", "grpc-go spells it with one l");
        assert_eq!(names[4], "DeadlineExceeded");
        assert_eq!(names[16], "Unauthenticated");
    }

    #[test]
    fn every_code_has_its_canonical_name() {
        let names: Vec<_> = (0..=16).map(|n| code_name(Code::from_i32(n))).collect();
        assert_eq!(
            names,
            [
                "OK",
                "CANCELLED",
                "UNKNOWN",
                "INVALID_ARGUMENT",
                "DEADLINE_EXCEEDED",
                "NOT_FOUND",
                "ALREADY_EXISTS",
                "PERMISSION_DENIED",
                "RESOURCE_EXHAUSTED",
                "FAILED_PRECONDITION",
                "ABORTED",
                "OUT_OF_RANGE",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS",
                "UNAUTHENTICATED",
            ]
        );
    }
}
