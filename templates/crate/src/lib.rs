//! {{ project.name }}: {% for service in project.services %}`{{ service.full_name }}`{% if loop.last %}{% else %}, {% endif %}{% endfor %}.
//!
//! - [`proto`]: the code generated from proto/ (rewritten on every build: never edit it);
{%- for service in project.services %}
//! - [`{{ service.file }}`]: the implementation of `{{ service.full_name }}`: yours to fill in;
{%- endfor %}
//! - [`server`]: how the services are put together and served;
//! - [`config`]: the command line and environment.
//!
//! Scaffolded by protoc-gen-rust-svc {{ project.generator_version }}. Files written by the scaffold are
//! yours: regenerating never touches them. `protoc-gen-rust-svc check` compares the
//! implementations with the protos.

pub mod config;
pub mod proto;
pub mod server;
{%- for service in project.services %}
pub mod {{ service.file }};
{%- endfor %}
