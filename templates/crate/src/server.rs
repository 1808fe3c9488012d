//! How the services are put together: each implementation inside the server interceptor stack,
//! the services it calls reached through their generated clients, all on one port.

use std::sync::Arc;

use rust_svc_runtime::host::Host;
#[cfg(feature = "tls")]
use rust_svc_runtime::host::tls::TlsFiles;
use rust_svc_runtime::interceptors::{
    Auth, CallInfo, Interceptors, Logging, Metrics, RequestIds, Tracing,
};
use rust_svc_runtime::{Context, Status};
use tonic::service::Routes;

use crate::config::Config;
use crate::proto;

/// The auth hook: every call passes through it before anything else runs. It admits every
/// call; replace the body with your check (a token in `ctx.metadata()`, the client's
/// certificate), or use `Auth::bearer`. Reject with `Status::unauthenticated` or
/// `Status::permission_denied`; put what a handler needs to know about the caller into
/// `ctx.extensions_mut()`.
pub fn authenticate(call: &CallInfo, ctx: &mut Context) -> Result<(), Status> {
    let _ = (call, ctx);
    Ok(())
}

/// The server stack every service gets: auth first, so a rejected call costs nothing else;
/// request ids next, so the span, the metrics and the access log line carry the id; logging
/// last, so its clock times the handler.
pub fn server_stack() -> Interceptors {
    Interceptors::server()
        .with(Auth::new(authenticate))
        .with(RequestIds)
        .with(Tracing)
        .with(Metrics::new())
        .with(Logging::new())
}
{%- if project.has_clients %}

/// The client stack of the services called: the request id and trace context travel on, and
/// the calls are counted as `grpc_client_*` metrics.
pub fn client_stack() -> Interceptors {
    Interceptors::client()
        .with(RequestIds)
        .with(Tracing)
        .with(Metrics::new())
}
{%- endif %}

/// The port as `config` says: every service with its REST gateway, health, reflection (off in
/// production), CORS and TLS. `/metrics` is added by `main`, which owns the recorder. Clients
/// connect on first use, so the services called need not be up yet.
pub fn host(config: &Config) -> Result<Host, String> {
{%- for client in project.clients %}
    let {{ client.field }}: Arc<dyn proto::{{ client.module }}::{{ client.dyn_trait }}> = Arc::new(
        client_stack().wrap(
            proto::{{ client.module }}::{{ client.client }}::connect_lazy(&config.{{ client.field }})
                .map_err(|error| format!("--{{ client.flag }}: {error}"))?,
        ),
    );
{%- endfor %}
    let mut host = Host::new("{{ project.name }}")
        .descriptors(proto::FILE_DESCRIPTOR_SET)
        .reflection(!config.production)
        .cors_origins(config.cors_origins.iter().cloned());
{%- for service in project.services %}
    let {{ service.file }} = Arc::new(server_stack().wrap(crate::{{ service.file }}::{{ service.struct_name }}::new(
{%- for client in service.clients %}
        Arc::clone(&{{ client.field }}),
{%- endfor %}
    )));
    host = host.service(
        proto::{{ service.module }}::{{ service.info }}.name,
{%- if service.has_gateway %}
        Routes::new(proto::{{ service.module }}::{{ service.grpc_adapter }}::from_arc(Arc::clone(&{{ service.file }})).into_service()),
        Some(proto::{{ service.module }}::{{ service.gateway }}::routes_from_arc({{ service.file }})),
{%- else %}
        Routes::new(proto::{{ service.module }}::{{ service.grpc_adapter }}::from_arc({{ service.file }}).into_service()),
        None,
{%- endif %}
    );
{%- endfor %}
    #[cfg(feature = "tls")]
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        host = host.tls(TlsFiles::new(cert.clone(), key.clone()));
    }
    Ok(host)
}
