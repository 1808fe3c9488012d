//! The random but valid proto files [`check_random_protos`](super::check_random_protos) feeds
//! the generator: a [`Spec`] that `arbitrary` shapes from the fuzzer's bytes, written out as
//! `.proto` sources with names drawn from pools of the names that have broken generators.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use arbitrary::Arbitrary;

/// Names that have broken generators: Rust keywords (strict, reserved, and those that cannot be
/// raw), prelude and std names, names our runtime and tonic use, case-only variants.
const NAMES: &[&str] = &[
    "Foo",
    "foo",
    "FOO",
    "fOO",
    "Thing",
    "thing",
    "THING",
    "get_thing",
    "GetThing",
    "getThing",
    "Getthing",
    "GETTHING",
    "type",
    "Type",
    "self",
    "Self",
    "super",
    "crate",
    "mod",
    "fn",
    "async",
    "await",
    "dyn",
    "try",
    "gen",
    "match",
    "loop",
    "ref",
    "r",
    "_x",
    "x_",
    "Option",
    "Result",
    "String",
    "Vec",
    "Box",
    "Some",
    "None",
    "Ok",
    "Err",
    "Default",
    "Send",
    "Sync",
    "Sized",
    "Future",
    "Stream",
    "Clone",
    "Debug",
    "Hash",
    "Status",
    "Request",
    "Response",
    "Context",
    "Code",
    "Streaming",
    "Channel",
    "Client",
    "Server",
    "Service",
    "Grpc",
    "Fake",
    "Dyn",
    "Unimplemented",
    "connect",
    "Connect",
    "new",
    "with_interceptor",
    "into_inner",
    "call",
    "ready",
    "poll_ready",
    "builder",
    "inner",
    "prost",
    "tonic",
    "core",
    "std",
    "alloc",
    "v1",
    "V1",
    "a_b",
    "A_B",
    "aB",
    "Ab",
    "ab",
    "AB_C",
    "abC",
    "x1",
    "X_1",
    "value",
    "Value",
    "Kind",
    "kind",
    "KIND",
    "Inner",
    "Outer",
    "outer",
    "ctx",
    "request",
    "response",
    "T",
    "S",
];

/// Package name parts: lower case, keywords among them.
const PACKAGE_PARTS: &[&str] = &[
    "a", "b", "type", "self", "super", "crate", "mod", "v1", "fn", "r", "gen", "foo", "Foo",
    "outer", "inner", "thing", "_x",
];

const SCALARS: &[&str] = &[
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32",
    "sfixed64", "bool", "string", "bytes", "double", "float",
];

/// Pieces of `google.api.http` path templates, valid and not.
const TEMPLATE_PIECES: &[&str] = &[
    "/v1",
    "/things",
    "/{name}",
    "/{name=things/*}",
    "/{name=**}",
    "/{a.b}",
    "/{id}",
    ":verb",
    ":cancel",
    "/*",
    "/**",
    "",
    "/",
    "{",
    "}",
    "/{",
    "=",
    "/{x=*}/y",
    "/v1/{parent=a/*}/b",
    "/{Foo}",
    "/{type}",
    "/{self}",
];

/// A whole generator input: up to three files, each importing the ones before it.
#[derive(Debug, Arbitrary)]
pub struct Spec {
    files: Vec<FileSpec>,
}

#[derive(Debug, Arbitrary)]
struct FileSpec {
    proto2: bool,
    package: Vec<u8>,
    messages: Vec<MessageSpec>,
    enums: Vec<EnumSpec>,
    services: Vec<ServiceSpec>,
}

#[derive(Debug, Arbitrary)]
struct MessageSpec {
    name: u8,
    fields: Vec<FieldSpec>,
    nested: Vec<MessageSpec>,
    enums: Vec<EnumSpec>,
    oneof: Option<(u8, Vec<FieldSpec>)>,
}

#[derive(Debug, Arbitrary)]
struct FieldSpec {
    name: u8,
    kind: FieldKind,
    repeated: bool,
}

#[derive(Debug, Arbitrary)]
enum FieldKind {
    Scalar(u8),
    Message(u8),
    Enum(u8),
    Map(u8, u8),
    WellKnown(u8),
}

#[derive(Debug, Arbitrary)]
struct EnumSpec {
    name: u8,
    values: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct ServiceSpec {
    name: u8,
    methods: Vec<MethodSpec>,
}

#[derive(Debug, Arbitrary)]
struct MethodSpec {
    name: u8,
    input: u8,
    output: u8,
    client_streaming: bool,
    server_streaming: bool,
    http: Option<HttpSpec>,
}

#[derive(Debug, Arbitrary)]
struct HttpSpec {
    verb: u8,
    path: Vec<u8>,
    body: u8,
    additional: Option<Box<HttpSpec>>,
}

fn pick<'a>(pool: &[&'a str], index: u8) -> &'a str {
    pool[usize::from(index) % pool.len()]
}

/// Names already used in one proto scope: a repeat gets a numeric suffix, because protobuf
/// rejects it. Case-only differences are kept on purpose.
#[derive(Default)]
struct Scope(HashSet<String>);

impl Scope {
    fn claim(&mut self, wanted: &str) -> String {
        let mut name = wanted.to_owned();
        let mut n = 2;
        while !self.0.insert(name.clone()) {
            name = format!("{wanted}_{n}");
            n += 1;
        }
        name
    }
}

/// Every message and enum type of the files so far, by full name with a leading dot.
#[derive(Default)]
struct Types {
    messages: Vec<String>,
    enums: Vec<String>,
}

impl Spec {
    /// The `.proto` sources, by file name.
    pub fn sources(&self) -> BTreeMap<String, String> {
        let mut sources = BTreeMap::new();
        let mut types = Types::default();
        for (index, file) in self.files.iter().take(3).enumerate() {
            let name = format!("f{index}.proto");
            let imports: Vec<String> = sources.keys().cloned().collect();
            sources.insert(name, file.source(index, &imports, &mut types));
        }
        sources
    }
}

impl FileSpec {
    fn source(&self, index: usize, imports: &[String], types: &mut Types) -> String {
        let parts: Vec<&str> = self
            .package
            .iter()
            .take(3)
            .map(|&part| pick(PACKAGE_PARTS, part))
            .collect();
        // A file index keeps packages apart unless the spec repeats one on purpose (`a` twice).
        let package = if parts.is_empty() {
            format!("p{index}")
        } else {
            parts.join(".")
        };
        let syntax = if self.proto2 { "proto2" } else { "proto3" };
        let mut out = format!("syntax = \"{syntax}\";\npackage {package};\n");
        for import in imports {
            writeln!(out, "import \"{import}\";").unwrap();
        }
        out.push_str("import \"google/api/annotations.proto\";\n");
        out.push_str("import \"google/protobuf/timestamp.proto\";\n");
        out.push_str("import \"google/protobuf/empty.proto\";\n");

        // Declare first, so fields can refer to any message (recursion included).
        let mut scope = Scope::default();
        let messages: Vec<(String, &MessageSpec)> = self
            .messages
            .iter()
            .take(6)
            .map(|message| (scope.claim(pick(NAMES, message.name)), message))
            .collect();
        let enums: Vec<(String, &EnumSpec)> = self
            .enums
            .iter()
            .take(3)
            .map(|enumeration| (scope.claim(pick(NAMES, enumeration.name)), enumeration))
            .collect();
        for (name, message) in &messages {
            declare_message(&format!(".{package}.{name}"), message, 0, types);
        }
        for (name, _) in &enums {
            types.enums.push(format!(".{package}.{name}"));
        }
        for (name, message) in &messages {
            write_message(&mut out, name, message, 0, self.proto2, types);
        }
        for (name, enumeration) in &enums {
            write_enum(&mut out, name, enumeration, 0, &mut scope);
        }
        for service in self.services.iter().take(2) {
            let name = scope.claim(pick(NAMES, service.name));
            write_service(&mut out, &name, service, types);
        }
        out
    }
}

fn declare_message(full_name: &str, message: &MessageSpec, depth: usize, types: &mut Types) {
    types.messages.push(full_name.to_owned());
    if depth >= 2 {
        return;
    }
    let mut scope = Scope::default();
    for nested in message.nested.iter().take(2) {
        let name = scope.claim(pick(NAMES, nested.name));
        declare_message(&format!("{full_name}.{name}"), nested, depth + 1, types);
    }
    for enumeration in message.enums.iter().take(2) {
        let name = scope.claim(pick(NAMES, enumeration.name));
        types.enums.push(format!("{full_name}.{name}"));
    }
}

/// Writes a message; nested names are claimed in the same order as [`declare_message`].
fn write_message(
    out: &mut String,
    name: &str,
    message: &MessageSpec,
    depth: usize,
    proto2: bool,
    types: &Types,
) {
    let indent = "  ".repeat(depth);
    writeln!(out, "{indent}message {name} {{").unwrap();
    let mut scope = Scope::default();
    if depth < 2 {
        for nested in message.nested.iter().take(2) {
            let nested_name = scope.claim(pick(NAMES, nested.name));
            write_message(out, &nested_name, nested, depth + 1, proto2, types);
        }
        for enumeration in message.enums.iter().take(2) {
            let enum_name = scope.claim(pick(NAMES, enumeration.name));
            write_enum(out, &enum_name, enumeration, depth + 1, &mut scope);
        }
    }
    let mut number = 1;
    for field in message.fields.iter().take(6) {
        let line = field_line(field, &mut scope, &mut number, proto2, true, types);
        writeln!(out, "{indent}  {line}").unwrap();
    }
    if let Some((oneof_name, fields)) = &message.oneof
        && !fields.is_empty()
    {
        let oneof_name = scope.claim(&pick(NAMES, *oneof_name).to_lowercase());
        writeln!(out, "{indent}  oneof {oneof_name} {{").unwrap();
        for field in fields.iter().take(3) {
            let line = field_line(field, &mut scope, &mut number, proto2, false, types);
            writeln!(out, "{indent}    {line}").unwrap();
        }
        writeln!(out, "{indent}  }}").unwrap();
    }
    writeln!(out, "{indent}}}").unwrap();
}

fn field_line(
    field: &FieldSpec,
    scope: &mut Scope,
    number: &mut u32,
    proto2: bool,
    labels_allowed: bool,
    types: &Types,
) -> String {
    let name = scope.claim(pick(NAMES, field.name));
    let this = *number;
    *number += 1;
    let message = |index: u8| pick_type(&types.messages, index, ".google.protobuf.Empty");
    let enumeration = |index: u8| pick_type(&types.enums, index, "int32");
    let (type_name, is_map) = match field.kind {
        FieldKind::Scalar(index) => (pick(SCALARS, index).to_owned(), false),
        FieldKind::Message(index) => (message(index), false),
        FieldKind::Enum(index) => (enumeration(index), false),
        FieldKind::WellKnown(index) => (
            pick(
                &[".google.protobuf.Timestamp", ".google.protobuf.Empty"],
                index,
            )
            .to_owned(),
            false,
        ),
        FieldKind::Map(key, value) => {
            let key = pick(&["string", "int32", "uint64", "bool"], key);
            let value = if value % 2 == 0 {
                message(value / 2)
            } else {
                pick(SCALARS, value / 2).to_owned()
            };
            (format!("map<{key}, {value}>"), true)
        }
    };
    let label = match (labels_allowed && !is_map, field.repeated, proto2) {
        (false, _, _) => "",
        (true, true, _) => "repeated ",
        (true, false, true) => "optional ",
        (true, false, false) => "",
    };
    format!("{label}{type_name} {name} = {this};")
}

fn pick_type(names: &[String], index: u8, fallback: &str) -> String {
    if names.is_empty() {
        fallback.to_owned()
    } else {
        names[usize::from(index) % names.len()].clone()
    }
}

/// Enum values live in the enclosing scope (C++ rules), so they claim names there.
fn write_enum(
    out: &mut String,
    name: &str,
    enumeration: &EnumSpec,
    depth: usize,
    scope: &mut Scope,
) {
    let indent = "  ".repeat(depth);
    writeln!(out, "{indent}enum {name} {{").unwrap();
    let values = enumeration.values.iter().take(5);
    let mut wrote = false;
    for (number, &value) in values.enumerate() {
        // Upper-cased pool names, prefixed now and then with the enum's own name.
        let base = pick(NAMES, value);
        let wanted = if value % 3 == 0 {
            format!("{}_{}", name.to_uppercase(), base.to_uppercase())
        } else {
            base.to_owned()
        };
        let value_name = scope.claim(&wanted);
        writeln!(out, "{indent}  {value_name} = {number};").unwrap();
        wrote = true;
    }
    if !wrote {
        let value_name = scope.claim(&format!("{}_UNSPECIFIED", name.to_uppercase()));
        writeln!(out, "{indent}  {value_name} = 0;").unwrap();
    }
    writeln!(out, "{indent}}}").unwrap();
}

fn write_service(out: &mut String, name: &str, service: &ServiceSpec, types: &Types) {
    writeln!(out, "service {name} {{").unwrap();
    let mut scope = Scope::default();
    for method in service.methods.iter().take(5) {
        let method_name = scope.claim(pick(NAMES, method.name));
        let message = |index: u8| pick_type(&types.messages, index, ".google.protobuf.Empty");
        let stream = |on: bool| if on { "stream " } else { "" };
        write!(
            out,
            "  rpc {method_name}({}{}) returns ({}{})",
            stream(method.client_streaming),
            message(method.input),
            stream(method.server_streaming),
            message(method.output),
        )
        .unwrap();
        match &method.http {
            Some(http) => {
                writeln!(out, " {{\n    option (google.api.http) = {{").unwrap();
                write_http(out, http, 0);
                writeln!(out, "    }};\n  }}").unwrap();
            }
            None => out.push_str(";\n"),
        }
    }
    writeln!(out, "}}").unwrap();
}

fn write_http(out: &mut String, http: &HttpSpec, depth: usize) {
    let path: String = http
        .path
        .iter()
        .take(5)
        .map(|&piece| pick(TEMPLATE_PIECES, piece))
        .collect();
    let verb = pick(
        &["get", "put", "post", "delete", "patch", "custom"],
        http.verb,
    );
    if verb == "custom" {
        writeln!(out, "      custom: {{ kind: \"HEAD\" path: \"{path}\" }}").unwrap();
    } else {
        writeln!(out, "      {verb}: \"{path}\"").unwrap();
    }
    let body = pick(&["", "*", "foo", "name", "value", "a.b"], http.body);
    if !body.is_empty() {
        writeln!(out, "      body: \"{body}\"").unwrap();
    }
    if let Some(additional) = &http.additional
        && depth == 0
    {
        writeln!(out, "      additional_bindings {{").unwrap();
        write_http(out, additional, depth + 1);
        writeln!(out, "      }}").unwrap();
    }
}
