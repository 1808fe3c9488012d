//! google.api.http path templates: the grammar of HttpRule paths, and a route table that matches
//! requests against them. Part of [protoc-gen-rust-svc](https://github.com/protoc-gen-rust-svc/protoc-gen-rust-svc/blob/main/docs/src/introduction.md), whose generator
//! validates `google.api.http` annotations with it and whose REST gateway
//! ([the guide's chapter](https://github.com/protoc-gen-rust-svc/protoc-gen-rust-svc/blob/main/docs/src/gateway.md)) routes with it; it has no dependency on either, for
//! any other use of HttpRule templates.
//!
//! [`PathTemplate`] parses a template such as `/v1/{name=shelves/*/books/*}:publish` into its
//! segments, variables (with their field paths) and verb, and says what is wrong and at which byte
//! when it does not parse. The generator uses it to validate `google.api.http` annotations; the
//! runtime's REST gateway uses [`RouteTable`] to find the rpc for a request, with its path
//! variables percent-decoded as http.proto specifies.
//!
//! The grammar and matching follow google/api/http.proto; where it is silent they follow
//! grpc-gateway v2 and the Envoy transcoder (grpc-httpjson-transcoding), and where those two
//! disagree the choice is written on [`PathTemplate`] and [`RouteTable`].
//!
//! ```
//! use rust_svc_http_template::{Lookup, PathTemplate, RouteTable};
//!
//! let template: PathTemplate = "/v1/{name=messages/*}".parse()?;
//! assert_eq!(template.variables()[0].name(), "name");
//!
//! let mut routes = RouteTable::new();
//! routes.insert("GET", template, "GetMessage")?;
//! let Lookup::Found(found) = routes.lookup("GET", "/v1/messages/123456") else {
//!     panic!("no route");
//! };
//! assert_eq!(*found.value, "GetMessage");
//! assert_eq!(found.bindings[0].value, "messages/123456");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod parse;
mod percent;
mod routes;
mod template;

pub use routes::{Binding, DuplicateRoute, Found, Lookup, RouteMatch, RouteTable};
pub use template::{PathTemplate, Segment, TemplateError, Variable};
