//! `{{ service.full_name }}`: yours to implement. Written once by the scaffold; regenerating
//! never touches it.
//!
{%- for line in service.doc %}
//!{{ line }}
{%- endfor %}
//!
//! Each method answers `UNIMPLEMENTED` until you write its body. When the proto changes, the
//! build fails here where you have to act, and `protoc-gen-rust-svc check` says what changed.

{%- if service.has_clients %}

use std::sync::Arc;
{%- endif %}
{% if service.has_streams %}
use rust_svc_runtime::{BoxStream, Context, Status};
{%- else %}
{%- for method in service.methods %}
{%- if loop.first %}
use rust_svc_runtime::{Context, Status};
{%- endif %}
{%- endfor %}
{%- endif %}

use crate::proto::{{ service.module }} as pb;

/// Implements [`pb::{{ service.domain_trait }}`].
{%- if service.has_clients %}
pub struct {{ service.struct_name }} {
{%- for client in service.clients %}
    /// `{{ client.full_name }}`, through its generated client (a fake in tests).
    {{ client.field }}: Arc<dyn crate::proto::{{ client.module }}::{{ client.dyn_trait }}>,
{%- endfor %}
}

impl {{ service.struct_name }} {
    /// The service, calling the services it depends on through `{% for client in service.clients %}{{ client.field }}{% if loop.last %}{% else %}`, `{% endif %}{% endfor %}`.
    pub fn new(
{%- for client in service.clients %}
        {{ client.field }}: Arc<dyn crate::proto::{{ client.module }}::{{ client.dyn_trait }}>,
{%- endfor %}
    ) -> Self {
        Self {
{%- for client in service.clients %}
            {{ client.field }},
{%- endfor %}
        }
    }
{%- for client in service.clients %}

    /// `{{ client.full_name }}`, with the methods of `{{ client.domain_trait }}` (bring it into
    /// scope). Pass the handler's `ctx`, so that the deadline and request id travel on.
    pub fn {{ client.field }}(&self) -> &Arc<dyn crate::proto::{{ client.module }}::{{ client.dyn_trait }}> {
        &self.{{ client.field }}
    }
{%- endfor %}
}
{%- else %}
#[derive(Debug, Default)]
pub struct {{ service.struct_name }} {}

impl {{ service.struct_name }} {
    /// The service.
    pub fn new() -> Self {
        Self::default()
    }
}
{%- endif %}

{% if service.deprecated %}// The proto deprecates the service; it is still this crate's to serve.
#[allow(deprecated)]
{% endif %}impl pb::{{ service.domain_trait }} for {{ service.struct_name }} {
{%- for method in service.methods %}
{%- if loop.first %}{% else %}
{% endif %}
{%- for line in method.doc %}
    ///{{ line }}
{%- endfor %}
    {{ method.signature }} {
        let _ = (ctx, {{ method.arg }});
        Err(Status::unimplemented("{{ method.path }} is not implemented yet"))
    }
{%- endfor %}
}
