//! Custom options read from descriptors: our policies (`proto/rust_svc/v1/options.proto`) and
//! `google.api.http`.
//!
//! Options are read through a prost-reflect `DescriptorPool`, whose option messages keep their
//! extensions (plain `prost_types` decoding drops them), and transcoded into the structs below.
//! The structs mirror the proto definitions field for field; a test compiles the protos and
//! checks the mirror against them.

use prost_reflect::{DescriptorPool, DynamicMessage, Value};

/// `rust_svc.v1.RetryPolicy`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryPolicy {
    #[prost(uint32, tag = "1")]
    pub max_attempts: u32,
    #[prost(message, optional, tag = "2")]
    pub initial_backoff: Option<prost_types::Duration>,
    #[prost(message, optional, tag = "3")]
    pub max_backoff: Option<prost_types::Duration>,
    #[prost(double, tag = "4")]
    pub backoff_multiplier: f64,
    #[prost(string, repeated, tag = "5")]
    pub retryable_status_codes: Vec<String>,
}

/// `rust_svc.v1.RetryThrottling`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryThrottling {
    #[prost(uint32, tag = "1")]
    pub max_tokens: u32,
    #[prost(double, tag = "2")]
    pub token_ratio: f64,
}

/// `rust_svc.v1.CircuitBreakerPolicy`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CircuitBreakerPolicy {
    #[prost(double, tag = "1")]
    pub failure_rate_threshold: f64,
    #[prost(uint32, tag = "2")]
    pub sliding_window_size: u32,
    #[prost(uint32, tag = "3")]
    pub minimum_calls: u32,
    #[prost(message, optional, tag = "4")]
    pub open_duration: Option<prost_types::Duration>,
    #[prost(uint32, tag = "5")]
    pub half_open_max_calls: u32,
}

/// `rust_svc.v1.MethodPolicy`, the `(rust_svc.v1.method)` option.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MethodPolicy {
    #[prost(message, optional, tag = "1")]
    pub deadline: Option<prost_types::Duration>,
    #[prost(message, optional, tag = "2")]
    pub retry: Option<RetryPolicy>,
    #[prost(message, optional, tag = "3")]
    pub circuit_breaker: Option<CircuitBreakerPolicy>,
    #[prost(message, optional, tag = "4")]
    pub hedging: Option<HedgingPolicy>,
    #[prost(message, optional, tag = "5")]
    pub load_shedding: Option<LoadShedding>,
}

/// `rust_svc.v1.LoadShedding`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LoadShedding {
    #[prost(bool, tag = "1")]
    pub disabled: bool,
    #[prost(uint32, tag = "2")]
    pub initial_limit: u32,
    #[prost(uint32, tag = "3")]
    pub min_limit: u32,
    #[prost(uint32, tag = "4")]
    pub max_limit: u32,
    #[prost(double, tag = "5")]
    pub tolerance: f64,
    #[prost(message, optional, tag = "6")]
    pub max_queue_wait: Option<prost_types::Duration>,
}

/// `rust_svc.v1.HedgingPolicy`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HedgingPolicy {
    #[prost(uint32, tag = "1")]
    pub max_attempts: u32,
    #[prost(message, optional, tag = "2")]
    pub hedging_delay: Option<prost_types::Duration>,
    #[prost(string, repeated, tag = "3")]
    pub non_fatal_status_codes: Vec<String>,
}

/// `rust_svc.v1.ServicePolicy`, the `(rust_svc.v1.service)` option.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServicePolicy {
    #[prost(message, optional, tag = "1")]
    pub default_deadline: Option<prost_types::Duration>,
    #[prost(message, optional, tag = "2")]
    pub retry: Option<RetryPolicy>,
    #[prost(message, optional, tag = "3")]
    pub retry_throttling: Option<RetryThrottling>,
    #[prost(message, optional, tag = "4")]
    pub circuit_breaker: Option<CircuitBreakerPolicy>,
    #[prost(message, optional, tag = "5")]
    pub hedging: Option<HedgingPolicy>,
    #[prost(message, optional, tag = "6")]
    pub load_shedding: Option<LoadShedding>,
}

/// `google.api.HttpRule`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpRule {
    #[prost(string, tag = "1")]
    pub selector: String,
    #[prost(oneof = "HttpPattern", tags = "2, 3, 4, 5, 6, 8")]
    pub pattern: Option<HttpPattern>,
    #[prost(string, tag = "7")]
    pub body: String,
    #[prost(string, tag = "12")]
    pub response_body: String,
    #[prost(message, repeated, tag = "11")]
    pub additional_bindings: Vec<HttpRule>,
}

/// The `pattern` oneof of `google.api.HttpRule`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum HttpPattern {
    #[prost(string, tag = "2")]
    Get(String),
    #[prost(string, tag = "3")]
    Put(String),
    #[prost(string, tag = "4")]
    Post(String),
    #[prost(string, tag = "5")]
    Delete(String),
    #[prost(string, tag = "6")]
    Patch(String),
    #[prost(message, tag = "8")]
    Custom(CustomHttpPattern),
}

/// `google.api.CustomHttpPattern`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CustomHttpPattern {
    #[prost(string, tag = "1")]
    pub kind: String,
    #[prost(string, tag = "2")]
    pub path: String,
}

/// Full names of the extensions we read.
pub const METHOD_POLICY: &str = "rust_svc.v1.method";
/// The service-level policy extension.
pub const SERVICE_POLICY: &str = "rust_svc.v1.service";
/// The field option marking a request's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "rust_svc.v1.idempotency_key";
/// `google.api.http`.
pub const HTTP: &str = "google.api.http";

/// Field number of the extensions above in their option messages (all share 51234; http is
/// 72295728). Used to find the source location of an option.
pub fn extension_number(pool: &DescriptorPool, name: &str) -> Option<u32> {
    pool.get_extension_by_name(name).map(|ext| ext.number())
}

/// Reads message-typed extension `name` from an options message, if it is set.
///
/// An error means the option is set but does not decode as the expected message.
pub fn read_message<T: prost::Message + Default>(
    pool: &DescriptorPool,
    options: &DynamicMessage,
    name: &str,
) -> Result<Option<T>, String> {
    let Some(extension) = pool.get_extension_by_name(name) else {
        return Ok(None);
    };
    if !options.has_extension(&extension) {
        return Ok(None);
    }
    match options.get_extension(&extension).as_ref() {
        Value::Message(message) => message
            .transcode_to::<T>()
            .map(Some)
            .map_err(|error| format!("option ({name}) does not decode: {error}")),
        other => Err(format!("option ({name}) has an unexpected value {other:?}")),
    }
}

/// Reads bool-typed extension `name` from an options message (false when unset).
pub fn read_bool(pool: &DescriptorPool, options: &DynamicMessage, name: &str) -> bool {
    pool.get_extension_by_name(name).is_some_and(|extension| {
        options.has_extension(&extension)
            && matches!(
                options.get_extension(&extension).as_ref(),
                Value::Bool(true)
            )
    })
}
