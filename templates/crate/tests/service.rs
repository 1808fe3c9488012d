//! Tests of `{{ service.full_name }}`, passing on the skeleton: every rpc answers
//! `UNIMPLEMENTED` until its handler is written. Once it is, assert on the response instead,
//! and add a test per rule of the rpc.
{% if service.has_clients %}
use std::sync::Arc;
{% endif %}
{%- if service.has_probe %}
use rust_svc_runtime::{Code, Context};
{%- endif %}
use {{ project.lib }}::proto::{{ service.module }} as pb;
use {{ project.lib }}::{{ service.file }}::{{ service.struct_name }};
{%- if service.has_probe %}
{%- if service.deprecated %}
#[allow(deprecated)]
{%- endif %}
use pb::{{ service.domain_trait }} as _;
{%- endif %}
{%- if service.has_clients %}

/// The service with a fake of each service it calls: program a fake's answer with
/// `fake.method.returns(..)` (or `fails`, `responds_with`, `hangs`), and read what the service
/// sent it with `fake.method.requests()`.
fn service_with_fakes() -> (
    {{ service.struct_name }},
{%- for client in service.clients %}
    Arc<{{ project.lib }}::proto::{{ client.module }}::{{ client.fake }}>,
{%- endfor %}
) {
{%- for client in service.clients %}
    let {{ client.field }} = Arc::new({{ project.lib }}::proto::{{ client.module }}::{{ client.fake }}::new());
{%- endfor %}
    let service = {{ service.struct_name }}::new(
{%- for client in service.clients %}
        {{ client.field }}.clone(),
{%- endfor %}
    );
    (service,{% for client in service.clients %} {{ client.field }},{% endfor %})
}
{%- else %}

/// The service under test. Give it what it needs (a store, a clock) as you add it.
fn service() -> {{ service.struct_name }} {
    {{ service.struct_name }}::new()
}
{%- endif %}
{%- if service.has_probe %}

/// A unit test: the handler called directly{% if service.has_clients %}, the services it calls faked{% endif %}.
#[tokio::test]
{%- if service.deprecated %}
#[allow(deprecated)] // the proto deprecates what this calls, which is still served
{%- else %}
{%- if service.probe.deprecated %}
#[allow(deprecated)] // the proto deprecates what this calls, which is still served
{%- endif %}
{%- endif %}
async fn {{ service.probe.plain_name }}_called_directly() {
{%- if service.has_clients %}
    // Program the fakes first, e.g. `{{ service.clients[0].field }}.<method>.returns(..)`.
    let (service,{% for client in service.clients %} _{{ client.field }},{% endfor %}) = service_with_fakes();
{%- else %}
    let service = service();
{%- endif %}
    let result = service
        .{{ service.probe.rust_name }}(&Context::new(), Default::default())
        .await;
    let Err(status) = result else {
        panic!("the skeleton answers UNIMPLEMENTED");
    };
    assert_eq!(status.code(), Code::Unimplemented);
}

/// An in-process test: the service behind its generated gRPC adapter, over real HTTP/2 in
/// memory, called through its generated client with the policies of the proto (deadlines,
/// retries); what a remote caller sees.
#[tokio::test]
{%- if service.deprecated %}
#[allow(deprecated)] // the proto deprecates what this calls, which is still served
{%- else %}
{%- if service.probe.deprecated %}
#[allow(deprecated)] // the proto deprecates what this calls, which is still served
{%- endif %}
{%- endif %}
async fn {{ service.probe.plain_name }}_over_grpc() {
{%- if service.has_clients %}
    let (service,{% for client in service.clients %} _{{ client.field }},{% endfor %}) = service_with_fakes();
{%- else %}
    let service = service();
{%- endif %}
    let harness = pb::{{ service.grpc_adapter }}::serve_in_memory(service);
    let result = harness
        .client()
        .{{ service.probe.rust_name }}(&Context::new(), Default::default())
        .await;
    let Err(status) = result else {
        panic!("the skeleton answers UNIMPLEMENTED");
    };
    assert_eq!(status.code(), Code::Unimplemented);
}
{%- else %}

/// The service can be served. It has no rpc taking one request message to call here: its rpcs,
/// if it has any, take streams, which a test writes with `futures::stream::iter` into the
/// generated client.
#[tokio::test]
{%- if service.deprecated %}
#[allow(deprecated)] // the proto deprecates the service, which is still served
{%- endif %}
async fn serves_over_grpc() {
{%- if service.has_clients %}
    let (service,{% for client in service.clients %} _{{ client.field }},{% endfor %}) = service_with_fakes();
{%- else %}
    let service = service();
{%- endif %}
    let harness = pb::{{ service.grpc_adapter }}::serve_in_memory(service);
    let _ = harness.client();
}
{%- endif %}
