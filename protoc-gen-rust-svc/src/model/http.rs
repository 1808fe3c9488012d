//! `google.api.http` rules, resolved and validated against the request and response messages,
//! and the static schemas the gateway needs of each request message.
//!
//! Everything the gateway would otherwise find out on the first request is checked here, once:
//! templates parse, path variables name singular scalar fields, body and response body fields
//! exist. The rules follow google/api/http.proto and what grpc-gateway's generator rejects.

use std::collections::{BTreeMap, VecDeque};

use prost_reflect::{Cardinality, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use rust_svc_http_template::PathTemplate;

use crate::error::{Error, Warning};

use super::{HttpBinding, Streaming};
use crate::options::{HttpPattern, HttpRule};

/// What the rules may do beyond what the Envoy transcoder and grpc-gateway's generator take by
/// default.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Leniency {
    /// A template may have a `*` or a variable after its `**`, as grpc-gateway serves it (the
    /// default; `strict_http_rules` refuses it, as the Envoy transcoder does).
    pub(super) tails: bool,
    /// A `delete` rule may have a `body` (`allow_delete_body`).
    pub(super) delete_body: bool,
}

/// The bindings of one rule: the rule itself, then its additional bindings. What is accepted
/// but served differently by the Envoy transcoder goes into `notes`, for a warning.
pub(super) fn bindings(
    rule: &HttpRule,
    input: &MessageDescriptor,
    output: &MessageDescriptor,
    streaming: Streaming,
    leniency: Leniency,
    notes: &mut Vec<String>,
) -> Result<Vec<HttpBinding>, String> {
    let mut bindings = vec![binding(rule, input, output, streaming, leniency, notes)?];
    for additional in &rule.additional_bindings {
        if !additional.additional_bindings.is_empty() {
            return Err(
                "google.api.http: additional_bindings must not have additional_bindings of their own (only one level is allowed)"
                    .to_owned(),
            );
        }
        bindings.push(binding(
            additional, input, output, streaming, leniency, notes,
        )?);
    }
    Ok(bindings)
}

fn binding(
    rule: &HttpRule,
    input: &MessageDescriptor,
    output: &MessageDescriptor,
    streaming: Streaming,
    leniency: Leniency,
    notes: &mut Vec<String>,
) -> Result<HttpBinding, String> {
    let (method, path) = match &rule.pattern {
        Some(HttpPattern::Get(path)) => ("GET", path),
        Some(HttpPattern::Put(path)) => ("PUT", path),
        Some(HttpPattern::Post(path)) => ("POST", path),
        Some(HttpPattern::Delete(path)) => ("DELETE", path),
        Some(HttpPattern::Patch(path)) => ("PATCH", path),
        Some(HttpPattern::Custom(custom)) => (custom.kind.as_str(), &custom.path),
        None => return Err("google.api.http: the rule sets no HTTP method and path".to_owned()),
    };
    let what = format!("google.api.http: {} \"{path}\"", method.to_lowercase());
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(format!(
            "{what}: custom kind `{method}` is not an HTTP method name"
        ));
    }
    let template = PathTemplate::parse(path).map_err(|error| format!("{what}: {error}"))?;
    if template.has_wildcard_after_double_wildcard() {
        if !leniency.tails {
            return Err(format!(
                "{what}: a `*` or a variable after `**` is refused under `strict_http_rules=true`, \
                 as the Envoy transcoder refuses it (only literals may follow `**`); without it \
                 the gateway serves it as grpc-gateway does (`**` takes what the fixed number of \
                 segments after it leave)"
            ));
        }
        notes.push(format!(
            "{what}: a `*` or a variable after `**`, served as grpc-gateway serves it (`**` takes \
             what the fixed number of segments after it leave); the Envoy transcoder refuses \
             such a template, and `strict_http_rules=true` makes this an error"
        ));
    }

    let mut variables = Vec::new();
    for variable in template.variables() {
        let field_path = variable.name();
        if variables.contains(&field_path) {
            return Err(format!("{what}: the path binds `{field_path}` twice"));
        }
        path_field(input, variable.field_path())
            .map_err(|problem| format!("{what}: path variable `{field_path}`: {problem}"))?;
        variables.push(field_path);
    }

    if !rule.body.is_empty() && method == "GET" {
        return Err(format!(
            "{what}: a GET request has no body, so `body` must not be set (bind the fields from the path or the query instead)"
        ));
    }
    if !rule.body.is_empty() && method == "DELETE" && !leniency.delete_body {
        return Err(format!(
            "{what}: a DELETE request has no body by default, so `body` must not be set (bind the fields from the path or the query instead, or set `allow_delete_body=true`, as grpc-gateway's option of that name allows it)"
        ));
    }
    // A path variable may name a field inside the body field (`patch: "/v1/{book.name=…}"`
    // with `body: "book"`, the AIP pattern): the path wins, as http.proto says.
    let body_field = match rule.body.as_str() {
        "" | "*" => None,
        body => field_chain(input, body)
            .map_err(|problem| format!("{what}: body field {problem}"))?
            .pop(),
    };
    // A client-streaming rpc reads its requests from the body: a rule without `body` has the
    // whole messages there, as grpc-gateway reads it (flow_combination.proto's
    // `StreamEmptyRpc`).
    let body = if streaming.client_streaming() && rule.body.is_empty() {
        "*".to_owned()
    } else {
        rule.body.clone()
    };

    let (response_body_json, response_body_default, response_http_body) =
        if rule.response_body.is_empty() {
            (String::new(), String::new(), is_http_body(output))
        } else {
            // A dotted path too, as grpc-gateway resolves `response_body`: the JSON names of
            // the fields down to it, which the gateway follows in the response's JSON.
            let chain = field_chain(output, &rule.response_body)
                .map_err(|problem| format!("{what}: response_body field {problem}"))?;
            let field = chain.last().expect("a field path has a field");
            let http_body = !field.is_list()
                && matches!(field.kind(), Kind::Message(message) if is_http_body(&message));
            let json: Vec<&str> = chain.iter().map(FieldDescriptor::json_name).collect();
            (json.join("."), default_json(field), http_body)
        };
    // A client stream of HttpBody (its body is `*`) is the raw body in chunks.
    let request_http_body = match (&body_field, body.as_str()) {
        (Some(field), _) => {
            !field.is_list()
                && matches!(field.kind(), Kind::Message(message) if is_http_body(&message))
        }
        (None, "*") => is_http_body(input),
        (None, _) => false,
    };

    Ok(HttpBinding {
        method: method.to_owned(),
        path: path.clone(),
        body,
        response_body: rule.response_body.clone(),
        response_body_json,
        response_body_default,
        request_http_body,
        response_http_body,
        variables,
        template,
        shadows: Vec::new(),
    })
}

/// Two rpcs (or two bindings of one) of a service with the same method and an equivalent
/// template would shadow each other in its gateway. googleapis does it (bigquery storage's
/// `ReadRows` and `SplitReadStream` both bind `GET /v1/{name=projects/*/locations/*/sessions/*/streams/*}`
/// modulo variable names), so by default it is a warning, and the gateway serves what
/// grpc-gateway v2 serves: its mux tries later registrations first and registers in file order,
/// so the later binding wins. The earlier binding is dropped from its rpc (no route, no OpenAPI
/// operation), and the later one records whom it shadows, for the route table's docs. With
/// `strict` (`strict_http_rules=true`) it is the error it used to be.
///
/// Across services a shared template is legitimate (googleapis has many: services of one
/// package served on different hosts, or aliases of one resource); a gateway that serves two
/// such services together gives the route to the service added later, with a warning, as
/// grpc-gateway's mux does.
pub(super) fn resolve_shared_routes(
    methods: &mut [super::Method],
    strict: bool,
    warnings: &mut Vec<Warning>,
) -> Result<(), Error> {
    // (method index, binding index) of every binding kept so far, in file order.
    let mut seen: Vec<(usize, usize)> = Vec::new();
    for later in 0..methods.len() {
        let mut binding_index = 0;
        while binding_index < methods[later].http.len() {
            let binding = &methods[later].http[binding_index];
            // The same rule as the runtime's route table: equivalent templates match the same
            // requests whatever their variables are called.
            let clash = seen.iter().position(|&(m, b)| {
                let other = &methods[m].http[b];
                other.method == binding.method && other.template.is_equivalent(&binding.template)
            });
            let Some(position) = clash else {
                seen.push((later, binding_index));
                binding_index += 1;
                continue;
            };
            let (earlier, earlier_binding) = seen.remove(position);
            let warning =
                shared_route_warning(methods, (earlier, earlier_binding), (later, binding_index));
            if strict {
                return Err(warning.into_error());
            }
            warnings.push(warning);
            let shadowed = methods[earlier].full_name.clone();
            methods[earlier].http.remove(earlier_binding);
            // Indices of the earlier rpc's later bindings move down by one.
            for (m, b) in &mut seen {
                if *m == earlier && *b > earlier_binding {
                    *b -= 1;
                }
            }
            // The later rpc's index moves too when both bindings are the same rpc's.
            let binding_index_now = if earlier == later && earlier_binding < binding_index {
                binding_index - 1
            } else {
                binding_index
            };
            let winner = &mut methods[later].http[binding_index_now];
            if !winner.shadows.contains(&shadowed) {
                winner.shadows.push(shadowed);
            }
            seen.push((later, binding_index_now));
            binding_index = binding_index_now + 1;
        }
    }
    Ok(())
}

/// The warning (or, strict, the error) for the binding `later` that shadows `earlier`, each a
/// (method index, binding index), at the later rpc's `google.api.http` option.
fn shared_route_warning(
    methods: &[super::Method],
    (earlier, earlier_binding): (usize, usize),
    (later, later_binding): (usize, usize),
) -> Warning {
    let (first, second) = (&methods[earlier], &methods[later]);
    let (shadowed, binding) = (&first.http[earlier_binding], &second.http[later_binding]);
    let verb = binding.method.to_lowercase();
    let message = if earlier == later {
        format!(
            "google.api.http: {verb} \"{}\" matches the same requests as its binding {verb} \"{}\"; \
             the gateway serves only the later binding",
            binding.path, shadowed.path,
        )
    } else {
        format!(
            "google.api.http: {verb} \"{}\" matches the same requests as {verb} \"{}\" of rpc {} ({}); \
             the gateway serves this rpc there, as grpc-gateway v2 does (the later rpc in file order wins), \
             and {} gets no route for it (`strict_http_rules=true` makes this an error)",
            binding.path, shadowed.path, first.full_name, first.http_location, first.proto_name,
        )
    };
    Warning::at(
        second.http_location.clone(),
        format!("rpc {}", second.full_name),
        message,
    )
}

/// RFC 9110 `tchar`: what an HTTP method name may consist of.
/// `google.api.HttpBody`: the raw HTTP body and its content type, which the gateway passes
/// as they are instead of reading or writing JSON.
fn is_http_body(message: &MessageDescriptor) -> bool {
    message.full_name() == "google.api.HttpBody"
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// The fields a `body` or `response_body` names, from the message's own down: one field of
/// the message, or (as grpc-gateway and the Envoy transcoder take it, beyond http.proto's
/// top-level rule) a dotted path of proto names through singular message fields to one, whose
/// value the body then is (`body: "shelf.theme"`).
pub(super) fn field_chain(
    message: &MessageDescriptor,
    path: &str,
) -> Result<Vec<FieldDescriptor>, String> {
    let mut at = message.clone();
    let mut chain = Vec::new();
    let mut steps = path.split('.').peekable();
    while let Some(step) = steps.next() {
        let field = at.get_field_by_name(step).ok_or_else(|| {
            if steps.peek().is_none() && chain.is_empty() {
                format!("`{path}` is not a field of {}", message.full_name())
            } else {
                format!("`{path}`: `{step}` is not a field of {}", at.full_name())
            }
        })?;
        if steps.peek().is_none() {
            chain.push(field);
            return Ok(chain);
        }
        match field.kind() {
            Kind::Message(inner) if field.cardinality() != Cardinality::Repeated => {
                at = inner;
            }
            _ => {
                return Err(format!(
                    "`{path}`: `{step}` is not a singular message field of {}, so it has no \
                     fields of its own",
                    at.full_name()
                ));
            }
        }
        chain.push(field);
    }
    Err(format!("`{path}` is not a field path"))
}

/// The field a path variable binds, checked: every step but the last a singular message field,
/// the last a scalar or enum, singular or repeated (grpc-gateway's comma-separated values:
/// `/v1/{ids}` with `1,2,3`), or a singular well-known type written as one string (Timestamp,
/// Duration, a wrapper, FieldMask), as grpc-gateway reads them. http.proto asks for singular
/// scalars; both extensions are grpc-gateway's, and its users' protos rely on them.
fn path_field(input: &MessageDescriptor, field_path: &[String]) -> Result<FieldDescriptor, String> {
    let mut message = input.clone();
    let (last, steps) = field_path
        .split_last()
        .ok_or_else(|| "an empty field path".to_owned())?;
    for step in steps {
        let field = message
            .get_field_by_name(step)
            .ok_or_else(|| format!("`{step}` is not a field of {}", message.full_name()))?;
        match field.kind() {
            Kind::Message(inner) if field.cardinality() != Cardinality::Repeated => {
                message = inner;
            }
            _ => {
                return Err(format!(
                    "`{step}` is not a singular message field of {}, so it has no field `{}`",
                    message.full_name(),
                    field_path.join(".")
                ));
            }
        }
    }
    let field = message
        .get_field_by_name(last)
        .ok_or_else(|| format!("`{last}` is not a field of {}", message.full_name()))?;
    if field.is_map() {
        return Err(format!(
            "`{}` is a map field; a path variable binds a scalar, string or enum field",
            field.full_name()
        ));
    }
    if let Kind::Message(inner) = field.kind() {
        let one_string = matches!(
            well_known(&inner),
            Some(("Timestamp" | "Duration" | "FieldMask" | "Wrapper", _))
        );
        if field.is_list() || !one_string {
            return Err(format!(
                "`{}` is a {}message field ({}); a path variable binds a scalar, string or enum \
                 field (repeated ones comma-separated), or a Timestamp, Duration, FieldMask or \
                 wrapper",
                field.full_name(),
                if field.is_list() { "repeated " } else { "" },
                inner.full_name()
            ));
        }
    }
    Ok(field)
}

/// The proto3 JSON a field has when pbjson omits it as default, for a `response_body` of it.
fn default_json(field: &FieldDescriptor) -> String {
    if field.is_map() {
        return "{}".to_owned();
    }
    if field.is_list() {
        return "[]".to_owned();
    }
    match field.kind() {
        Kind::Message(message) => match well_known(&message) {
            Some(_) => "null".to_owned(),
            None => "{}".to_owned(),
        },
        Kind::Enum(enumeration) => {
            serde_json::to_string(&enum_default(&enumeration)).unwrap_or_else(|_| "0".to_owned())
        }
        Kind::Bool => "false".to_owned(),
        Kind::String | Kind::Bytes => "\"\"".to_owned(),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            "\"0\"".to_owned()
        }
        _ => "0".to_owned(),
    }
}

fn enum_default(enumeration: &EnumDescriptor) -> String {
    enumeration
        .get_value(0)
        .map(|value| value.name().to_owned())
        .unwrap_or_else(|| "0".to_owned())
}

/// A request message as the gateway sees it (see the runtime's `gateway::schema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSchema {
    /// Full proto name.
    pub full_name: String,
    /// The fields, in declaration order. Empty for messages reached only through repeated or
    /// map fields, which a query parameter cannot go into.
    pub fields: Vec<FieldSchema>,
}

/// One field of a [`MessageSchema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSchema {
    /// Proto name.
    pub name: String,
    /// proto3 JSON name.
    pub json_name: String,
    /// What it holds.
    pub kind: FieldKind,
    /// `Single`, `Repeated` or `Map(key)`, as the runtime's `Cardinality` names them.
    pub cardinality: FieldCardinality,
}

/// How many values a field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldCardinality {
    /// One.
    Single,
    /// A list.
    Repeated,
    /// A map with keys of this scalar kind (a runtime `ScalarKind` variant name).
    Map(&'static str),
}

/// What a field holds, as the runtime's `FieldKind` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// A `ScalarKind` variant name.
    Scalar(&'static str),
    /// An enum's full name.
    Enum(String),
    /// Index of the message's schema among the service's schemas.
    Message(usize),
    /// A `WellKnown` variant, as tokens of its name (`Timestamp`, `Wrapper(Int64)`).
    WellKnown(&'static str, Option<&'static str>),
}

/// The schemas of every request message of `inputs` and of the messages their fields reach,
/// the first ones in `inputs` order. Messages reached only through repeated or map fields get
/// no fields: the gateway never writes into them from a query parameter.
pub fn schemas(inputs: &[MessageDescriptor]) -> Vec<MessageSchema> {
    let mut collector = Collector::default();
    for input in inputs {
        collector.claim(input, true);
    }
    while let Some(message) = collector.queue.pop_front() {
        let at = collector.index[message.full_name()];
        if !collector.schemas[at].fields.is_empty() {
            continue;
        }
        let fields = message
            .fields()
            .filter_map(|field| collector.field(&field))
            .collect();
        collector.schemas[at].fields = fields;
    }
    collector.schemas
}

#[derive(Default)]
struct Collector {
    index: BTreeMap<String, usize>,
    schemas: Vec<MessageSchema>,
    /// Messages whose fields are still to be walked.
    queue: VecDeque<MessageDescriptor>,
}

impl Collector {
    /// The index of `message`'s schema, added if new; its fields are walked when `walk`.
    fn claim(&mut self, message: &MessageDescriptor, walk: bool) -> usize {
        if let Some(&at) = self.index.get(message.full_name()) {
            // Reached before only through a list, now singularly: walk it after all.
            if walk && self.schemas[at].fields.is_empty() && message.fields().len() > 0 {
                self.queue.push_back(message.clone());
            }
            return at;
        }
        let at = self.schemas.len();
        self.index.insert(message.full_name().to_owned(), at);
        self.schemas.push(MessageSchema {
            full_name: message.full_name().to_owned(),
            fields: Vec::new(),
        });
        if walk {
            self.queue.push_back(message.clone());
        }
        at
    }

    fn field(&mut self, field: &FieldDescriptor) -> Option<FieldSchema> {
        let (value, cardinality) = if field.is_map() {
            let Kind::Message(entry) = field.kind() else {
                return None;
            };
            let key = entry.get_field_by_name("key")?;
            let value = entry.get_field_by_name("value")?;
            (
                value,
                FieldCardinality::Map(scalar(&key.kind()).unwrap_or("String")),
            )
        } else if field.is_list() {
            (field.clone(), FieldCardinality::Repeated)
        } else {
            (field.clone(), FieldCardinality::Single)
        };
        let walk = cardinality == FieldCardinality::Single;
        let kind = match value.kind() {
            Kind::Message(inner) => match well_known(&inner) {
                Some((name, wrapped)) => FieldKind::WellKnown(name, wrapped),
                None => FieldKind::Message(self.claim(&inner, walk)),
            },
            Kind::Enum(enumeration) => FieldKind::Enum(enumeration.full_name().to_owned()),
            other => FieldKind::Scalar(scalar(&other).unwrap_or("String")),
        };
        Some(FieldSchema {
            name: field.name().to_owned(),
            json_name: field.json_name().to_owned(),
            kind,
            cardinality,
        })
    }
}

fn scalar(kind: &Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Double => "Double",
        Kind::Float => "Float",
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "Int32",
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "Int64",
        Kind::Uint32 | Kind::Fixed32 => "Uint32",
        Kind::Uint64 | Kind::Fixed64 => "Uint64",
        Kind::Bool => "Bool",
        Kind::String => "String",
        Kind::Bytes => "Bytes",
        Kind::Message(_) | Kind::Enum(_) => return None,
    })
}

/// The runtime's `WellKnown` variant for a `google.protobuf` message with a JSON form of its own.
fn well_known(message: &MessageDescriptor) -> Option<(&'static str, Option<&'static str>)> {
    let name = message.full_name().strip_prefix("google.protobuf.")?;
    Some(match name {
        "Timestamp" => ("Timestamp", None),
        "Duration" => ("Duration", None),
        "FieldMask" => ("FieldMask", None),
        "Empty" => ("Empty", None),
        "Struct" => ("Struct", None),
        "Value" => ("Value", None),
        "ListValue" => ("ListValue", None),
        "Any" => ("Any", None),
        "DoubleValue" => ("Wrapper", Some("Double")),
        "FloatValue" => ("Wrapper", Some("Float")),
        "Int64Value" => ("Wrapper", Some("Int64")),
        "UInt64Value" => ("Wrapper", Some("Uint64")),
        "Int32Value" => ("Wrapper", Some("Int32")),
        "UInt32Value" => ("Wrapper", Some("Uint32")),
        "BoolValue" => ("Wrapper", Some("Bool")),
        "StringValue" => ("Wrapper", Some("String")),
        "BytesValue" => ("Wrapper", Some("Bytes")),
        _ => return None,
    })
}
