//! Validation of the policies of options.proto: ranges checked, defaults applied, the
//! idempotency key field checked, and a retry policy only where the client retries.

use std::time::Duration;

use prost_reflect::{DescriptorPool, Kind, MethodDescriptor};

use super::shedding::{validate_method_shedding, validate_shedding};
use super::{
    CircuitBreaker, FIELD_OPTIONS, HedgingPolicy, Idempotency, IdempotencyKey, Policy, RetryPolicy,
    RetryThrottling, Streaming, option_location,
};
use crate::comments::SourceInfos;
use crate::error::Error;
use crate::options;

/// gRPC status code names accepted in `retryable_status_codes`.
const CODE_NAMES: &[&str] = &[
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
];

pub(super) fn duration(value: &prost_types::Duration, what: &str) -> Result<Duration, String> {
    if value.seconds < 0 || value.nanos < 0 {
        return Err(format!("{what} must not be negative"));
    }
    if value.nanos >= 1_000_000_000 {
        return Err(format!("{what} has nanos out of range (0..1e9)"));
    }
    let duration = Duration::new(value.seconds as u64, value.nanos as u32);
    if duration.is_zero() {
        return Err(format!("{what} must be greater than zero"));
    }
    Ok(duration)
}

fn validate_retry(retry: &options::RetryPolicy) -> Result<RetryPolicy, String> {
    // Any count is accepted, as gRFC A6 accepts it: the client caps it at run time (5 unless
    // its builder says otherwise, as grpc-go does).
    if retry.max_attempts < 1 {
        return Err(format!(
            "retry.max_attempts is {}; it must be at least 1 (it counts the first attempt)",
            retry.max_attempts
        ));
    }
    let initial_backoff = retry
        .initial_backoff
        .as_ref()
        .map(|d| duration(d, "retry.initial_backoff"))
        .transpose()?
        .unwrap_or(Duration::from_millis(100));
    let max_backoff = retry
        .max_backoff
        .as_ref()
        .map(|d| duration(d, "retry.max_backoff"))
        .transpose()?
        .unwrap_or(Duration::from_secs(1).max(initial_backoff));
    if max_backoff < initial_backoff {
        return Err("retry.max_backoff must not be less than retry.initial_backoff".to_owned());
    }
    let backoff_multiplier = match retry.backoff_multiplier {
        0.0 => 2.0,
        m if m.is_finite() && m > 0.0 => m,
        m => {
            return Err(format!(
                "retry.backoff_multiplier is {m}; it must be greater than 0"
            ));
        }
    };
    let retryable_codes = if retry.retryable_status_codes.is_empty() {
        vec!["UNAVAILABLE".to_owned()]
    } else {
        // Names in any case, as service configs write them (`unavailable`, `Unavailable`).
        code_names(
            &retry.retryable_status_codes,
            "retry.retryable_status_codes",
        )?
    };
    Ok(RetryPolicy {
        max_attempts: retry.max_attempts,
        initial_backoff,
        max_backoff,
        backoff_multiplier,
        retryable_codes,
    })
}

fn validate_throttling(throttling: &options::RetryThrottling) -> Result<RetryThrottling, String> {
    let max_tokens = match throttling.max_tokens {
        0 => 10,
        n @ 1..=1000 => n,
        n => {
            return Err(format!(
                "retry_throttling.max_tokens is {n}; it must be at most 1000"
            ));
        }
    };
    let token_ratio = match throttling.token_ratio {
        0.0 => 0.1,
        r if r.is_finite() && r > 0.0 => r,
        r => {
            return Err(format!(
                "retry_throttling.token_ratio is {r}; it must be positive"
            ));
        }
    };
    Ok(RetryThrottling {
        max_tokens,
        token_ratio,
    })
}

fn validate_breaker(breaker: &options::CircuitBreakerPolicy) -> Result<CircuitBreaker, String> {
    let failure_rate_threshold = match breaker.failure_rate_threshold {
        0.0 => 0.5,
        r if r > 0.0 && r <= 1.0 => r,
        r => {
            return Err(format!(
                "circuit_breaker.failure_rate_threshold is {r}; it must be in (0, 1]"
            ));
        }
    };
    let sliding_window_size = match breaker.sliding_window_size {
        0 => 100,
        n => n,
    };
    let minimum_calls = match breaker.minimum_calls {
        0 => 10.min(sliding_window_size),
        n if n <= sliding_window_size => n,
        n => {
            return Err(format!(
                "circuit_breaker.minimum_calls is {n}; it must not exceed sliding_window_size ({sliding_window_size})"
            ));
        }
    };
    let open_duration = breaker
        .open_duration
        .as_ref()
        .map(|d| duration(d, "circuit_breaker.open_duration"))
        .transpose()?
        .unwrap_or(Duration::from_secs(30));
    Ok(CircuitBreaker {
        failure_rate_threshold,
        sliding_window_size,
        minimum_calls,
        open_duration,
        half_open_max_calls: match breaker.half_open_max_calls {
            0 => 5,
            n => n,
        },
    })
}

fn validate_hedging(hedging: &options::HedgingPolicy) -> Result<HedgingPolicy, String> {
    if hedging.max_attempts < 1 {
        return Err(format!(
            "hedging.max_attempts is {}; it must be at least 1 (it counts the first attempt)",
            hedging.max_attempts
        ));
    }
    let hedging_delay = match &hedging.hedging_delay {
        None => Duration::ZERO,
        Some(delay) if delay.seconds == 0 && delay.nanos == 0 => Duration::ZERO,
        Some(delay) => duration(delay, "hedging.hedging_delay")?,
    };
    Ok(HedgingPolicy {
        max_attempts: hedging.max_attempts,
        hedging_delay,
        non_fatal_codes: code_names(
            &hedging.non_fatal_status_codes,
            "hedging.non_fatal_status_codes",
        )?,
    })
}

/// Both retry and hedging on one policy: gRFC A6 allows one or the other.
fn one_of_retry_and_hedging(policy: &Policy, option: &str) -> Result<(), String> {
    if policy.retry.is_some() && policy.hedging.is_some() {
        return Err(format!(
            "both retry and hedging are set in its {option} option; gRFC A6 allows one or the other"
        ));
    }
    Ok(())
}

/// Canonical gRPC code names from `names`, in any case, upper-cased and each once.
fn code_names(names: &[String], field: &str) -> Result<Vec<String>, String> {
    let mut codes = Vec::with_capacity(names.len());
    for code in names {
        let name = code.trim().to_ascii_uppercase();
        if !CODE_NAMES.contains(&name.as_str()) {
            return Err(format!(
                "{field}: `{code}` is not a gRPC status code name (such as UNAVAILABLE)"
            ));
        }
        if !codes.contains(&name) {
            codes.push(name);
        }
    }
    Ok(codes)
}

pub(super) fn validate_service_policy(policy: &options::ServicePolicy) -> Result<Policy, String> {
    let validated = Policy {
        deadline: policy
            .default_deadline
            .as_ref()
            .map(|d| duration(d, "default_deadline"))
            .transpose()?,
        retry: policy.retry.as_ref().map(validate_retry).transpose()?,
        retry_throttling: policy
            .retry_throttling
            .as_ref()
            .map(validate_throttling)
            .transpose()?,
        circuit_breaker: policy
            .circuit_breaker
            .as_ref()
            .map(validate_breaker)
            .transpose()?,
        hedging: policy.hedging.as_ref().map(validate_hedging).transpose()?,
        load_shedding: policy
            .load_shedding
            .as_ref()
            .map(validate_shedding)
            .transpose()?,
    };
    one_of_retry_and_hedging(&validated, "(rust_svc.v1.service)")?;
    Ok(validated)
}

pub(super) fn validate_method_policy(policy: &options::MethodPolicy) -> Result<Policy, String> {
    let validated = Policy {
        deadline: policy
            .deadline
            .as_ref()
            .map(|d| duration(d, "deadline"))
            .transpose()?,
        retry: policy.retry.as_ref().map(validate_retry).transpose()?,
        retry_throttling: None,
        circuit_breaker: policy
            .circuit_breaker
            .as_ref()
            .map(validate_breaker)
            .transpose()?,
        hedging: policy.hedging.as_ref().map(validate_hedging).transpose()?,
        load_shedding: policy
            .load_shedding
            .as_ref()
            .map(validate_method_shedding)
            .transpose()?,
    };
    one_of_retry_and_hedging(&validated, "(rust_svc.v1.method)")?;
    Ok(validated)
}

/// A method's own `retry` where the runtime never retries (client streams, and calls neither
/// idempotent nor carrying an idempotency key) would be dead configuration whose docs claim
/// attempts that never happen, so it is an error naming the fix. An inherited service policy
/// is fine: it serves the service's other rpcs.
pub(super) fn check_own_retry(
    what: &str,
    streaming: Streaming,
    idempotency: Idempotency,
    has_key: bool,
    request: &str,
) -> Result<(), String> {
    // A request stream has no one message to carry a key: only idempotency makes it safe.
    let keyed = has_key && !streaming.client_streaming();
    if idempotency == Idempotency::Unknown && streaming.client_streaming() {
        return Err(format!(
            "{what} is set, but the rpc is never retried: a request stream is sent again only \
             when the method is declared `option idempotency_level = IDEMPOTENT;` (or \
             NO_SIDE_EFFECTS)"
        ));
    }
    if idempotency == Idempotency::Unknown && !keyed {
        return Err(format!(
            "{what} is set, but the rpc is never retried: it is not declared idempotent and its \
             request {request} has no idempotency key; mark it `option idempotency_level = \
             IDEMPOTENT;` (or NO_SIDE_EFFECTS) if repeating it is safe, or add a \
             `(rust_svc.v1.idempotency_key)` field to {request}"
        ));
    }
    Ok(())
}

/// The request field marked `(rust_svc.v1.idempotency_key)`, checked: one singular string
/// field outside any oneof.
pub(super) fn idempotency_key_field(
    pool: &DescriptorPool,
    sources: &SourceInfos,
    method: &MethodDescriptor,
) -> Result<Option<IdempotencyKey>, Error> {
    let input = method.input();
    let mut marked = input
        .fields()
        .filter(|field| options::read_bool(pool, &field.options(), options::IDEMPOTENCY_KEY));
    let Some(field) = marked.next() else {
        return Ok(None);
    };
    let file = input.parent_file();
    let field_error = |field: &prost_reflect::FieldDescriptor, message: String| {
        let number = options::extension_number(pool, options::IDEMPOTENCY_KEY);
        Error::at(
            option_location(sources, &file, field.path(), FIELD_OPTIONS, number),
            format!("field {}", field.full_name()),
            message,
        )
    };
    if field.kind() != Kind::String || field.is_list() {
        return Err(field_error(
            &field,
            "(rust_svc.v1.idempotency_key) must mark a singular string field".to_owned(),
        ));
    }
    if let Some(second) = marked.next() {
        return Err(field_error(
            &second,
            format!(
                "only one field may be the idempotency key; {} already is",
                field.name()
            ),
        ));
    }
    let oneof = field.containing_oneof();
    if oneof.as_ref().is_some_and(|oneof| !oneof.is_synthetic()) {
        return Err(field_error(
            &field,
            "(rust_svc.v1.idempotency_key) must not mark a member of a oneof".to_owned(),
        ));
    }
    Ok(Some(IdempotencyKey {
        // prost-build names fields with the same snake case and keyword rules.
        rust_field: crate::names::snake(field.name()),
        optional: field.supports_presence(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(seconds: i64, nanos: i32) -> prost_types::Duration {
        prost_types::Duration { seconds, nanos }
    }

    #[test]
    fn durations_must_be_positive_and_well_formed() {
        assert_eq!(duration(&d(1, 500), "x"), Ok(Duration::new(1, 500)));
        assert!(
            duration(&d(-1, 0), "deadline")
                .unwrap_err()
                .contains("deadline must not be negative")
        );
        assert!(
            duration(&d(0, 0), "x")
                .unwrap_err()
                .contains("greater than zero")
        );
        assert!(
            duration(&d(0, 1_000_000_000), "x")
                .unwrap_err()
                .contains("out of range")
        );
    }

    #[test]
    fn retry_policies_are_checked_and_defaulted() {
        let mut retry = options::RetryPolicy {
            max_attempts: 3,
            ..Default::default()
        };
        let valid = validate_retry(&retry).unwrap();
        assert_eq!(valid.backoff_multiplier, 2.0);
        assert_eq!(valid.retryable_codes, ["UNAVAILABLE"]);
        // Above 5 is accepted as gRFC A6 accepts it; the client caps it.
        for (attempts, ok) in [(0, false), (1, true), (5, true), (6, true), (100, true)] {
            retry.max_attempts = attempts;
            assert_eq!(validate_retry(&retry).is_ok(), ok, "{attempts}");
        }
        retry.max_attempts = 2;
        // Code names in any case, each once.
        retry.retryable_status_codes = ["Unavailable", "resource_exhausted", "UNAVAILABLE"]
            .map(str::to_owned)
            .to_vec();
        assert_eq!(
            validate_retry(&retry).unwrap().retryable_codes,
            ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]
        );
        retry.retryable_status_codes = vec!["Unavailabel".to_owned()];
        assert!(
            validate_retry(&retry)
                .unwrap_err()
                .contains("`Unavailabel` is not a gRPC status")
        );
        retry.retryable_status_codes.clear();
        // Any positive multiplier; a shrinking one too.
        retry.backoff_multiplier = 0.5;
        assert_eq!(validate_retry(&retry).unwrap().backoff_multiplier, 0.5);
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            retry.backoff_multiplier = bad;
            assert!(
                validate_retry(&retry)
                    .unwrap_err()
                    .contains("must be greater than 0"),
                "{bad}"
            );
        }
    }

    #[test]
    fn hedging_policies_are_checked_and_exclude_retries() {
        let mut hedging = options::HedgingPolicy {
            max_attempts: 3,
            hedging_delay: Some(d(0, 50_000_000)),
            non_fatal_status_codes: vec!["unavailable".to_owned(), "Aborted".to_owned()],
        };
        let valid = validate_hedging(&hedging).unwrap();
        assert_eq!(valid.hedging_delay, Duration::from_millis(50));
        assert_eq!(valid.non_fatal_codes, ["UNAVAILABLE", "ABORTED"]);
        hedging.hedging_delay = None;
        assert_eq!(
            validate_hedging(&hedging).unwrap().hedging_delay,
            Duration::ZERO
        );
        hedging.max_attempts = 0;
        assert!(
            validate_hedging(&hedging)
                .unwrap_err()
                .contains("at least 1")
        );
        hedging.max_attempts = 2;
        hedging.non_fatal_status_codes = vec!["SOMETIMES".to_owned()];
        assert!(
            validate_hedging(&hedging)
                .unwrap_err()
                .contains("hedging.non_fatal_status_codes: `SOMETIMES`")
        );
        let both = options::MethodPolicy {
            retry: Some(options::RetryPolicy {
                max_attempts: 2,
                ..Default::default()
            }),
            hedging: Some(options::HedgingPolicy {
                max_attempts: 2,
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(
            validate_method_policy(&both)
                .unwrap_err()
                .contains("both retry and hedging")
        );
        let error = check_own_retry(
            "hedging",
            Streaming::Unary,
            Idempotency::Unknown,
            false,
            "p.Req",
        )
        .unwrap_err();
        assert!(
            error.starts_with("hedging is set, but the rpc is never retried"),
            "{error}"
        );
    }

    #[test]
    fn own_retry_needs_an_rpc_that_may_be_retried() {
        use Idempotency::{Idempotent, NoSideEffects, Unknown};
        for streaming in [Streaming::Unary, Streaming::Server] {
            assert!(check_own_retry("retry", streaming, Idempotent, false, "p.Req").is_ok());
            assert!(check_own_retry("retry", streaming, NoSideEffects, false, "p.Req").is_ok());
            assert!(check_own_retry("retry", streaming, Unknown, true, "p.Req").is_ok());
            let error = check_own_retry("retry", streaming, Unknown, false, "p.Req").unwrap_err();
            assert!(
                error.contains("`option idempotency_level = IDEMPOTENT;`")
                    && error.contains("`(rust_svc.v1.idempotency_key)` field to p.Req"),
                "{error}"
            );
        }
        // Request streams are retried (their messages replayed) when idempotent; a key field
        // does not make them safe, as no one message carries it.
        for streaming in [Streaming::Client, Streaming::Bidi] {
            assert!(check_own_retry("retry", streaming, Idempotent, false, "p.Req").is_ok());
            assert!(check_own_retry("retry", streaming, NoSideEffects, false, "p.Req").is_ok());
            let error = check_own_retry("retry", streaming, Unknown, true, "p.Req").unwrap_err();
            assert!(
                error.contains("a request stream is sent again only"),
                "{error}"
            );
        }
    }

    #[test]
    fn breaker_settings_are_checked() {
        let mut breaker = options::CircuitBreakerPolicy::default();
        assert_eq!(
            validate_breaker(&breaker).unwrap().failure_rate_threshold,
            0.5
        );
        breaker.failure_rate_threshold = 1.5;
        assert!(validate_breaker(&breaker).is_err());
        breaker.failure_rate_threshold = 0.2;
        breaker.sliding_window_size = 5;
        breaker.minimum_calls = 6;
        assert!(
            validate_breaker(&breaker)
                .unwrap_err()
                .contains("must not exceed")
        );
    }
}
