//! The code generated from proto/: messages, domain traits, clients, fakes, adapters and
//! gateways, one module per proto package (e.g. `proto::{{ project.services[0].module }}`).
//! Never edited by hand: it is rewritten from the protos
{%- if project.buf %} by `buf generate`.

include!("generated/mod.rs");
{%- else %} on every build (build.rs).

include!(concat!(env!("OUT_DIR"), "/mod.rs"));
{%- endif %}
