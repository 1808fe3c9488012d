//! Every identifier rule of the generator, in one place.
//!
//! Proto names become Rust names here and nowhere else: case conversion (heck), keywords (raw
//! identifiers, or a `_` suffix for the four that cannot be raw), and a per-scope registry that
//! renames deterministically when a name is reserved or already taken, so that rpcs named
//! `Connect` or `New`, or two rpcs `GetThing` and `get_thing`, still compile.

use std::collections::{BTreeSet, HashSet};

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// Keywords of every edition, strict and reserved.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be written as raw identifiers.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Method names that generated types already use for something else: tonic's client
/// constructors and builders, tower's `Service`, std traits every generated type implements, and
/// the names the client wrapper reserves. An rpc that maps to one of these gets an `_rpc` suffix.
const RESERVED_METHODS: &[&str] = &[
    "accept_compressed",
    "breaker_state",
    "breaker_states",
    "builder",
    "call",
    "clone",
    "connect",
    "connect_lazy",
    "default",
    "fmt",
    "from",
    "from_arc",
    "inner",
    "into",
    "into_inner",
    "into_service",
    "max_decoding_message_size",
    "max_encoding_message_size",
    "new",
    "poll_ready",
    "ready",
    "register",
    "send_compressed",
    "service",
    "with_interceptor",
    "with_origin",
];

/// Turns a name into an identifier string, escaping keywords.
pub fn escape(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// `snake_case` identifier for a proto name.
pub fn snake(name: &str) -> String {
    escape(&name.to_snake_case())
}

/// `UpperCamelCase` identifier for a proto name.
pub fn upper_camel(name: &str) -> String {
    escape(&name.to_upper_camel_case())
}

/// An `Ident` from an identifier string made by this module (raw when it starts with `r#`).
pub fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// Names already taken in one Rust scope; hands out free names deterministically.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    taken: BTreeSet<String>,
}

impl Scope {
    /// A scope in which `taken` are already used.
    pub fn with_taken(taken: impl IntoIterator<Item = String>) -> Self {
        Self {
            taken: taken
                .into_iter()
                .map(|name| unraw(&name).to_owned())
                .collect(),
        }
    }

    /// Claims `wanted`, or `wanted2`, `wanted3`… (`wanted_2` for snake case) when it is taken.
    pub fn claim(&mut self, wanted: &str) -> String {
        let bare = unraw(wanted);
        let separator = if bare.contains('_') || bare.chars().all(|c| !c.is_uppercase()) {
            "_"
        } else {
            ""
        };
        let mut candidate = wanted.to_owned();
        let mut counter = 2;
        while self.taken.contains(unraw(&candidate)) {
            candidate = format!("{bare}{separator}{counter}");
            counter += 1;
        }
        self.taken.insert(unraw(&candidate).to_owned());
        candidate
    }

    /// Claims `name` as it is, if no one has: `false` when it is taken.
    pub fn claim_exact(&mut self, name: &str) -> bool {
        self.taken.insert(unraw(name).to_owned())
    }
}

/// Runtime items that a services file names on nearly every line (each rpc's signature in every
/// implementation of its trait): the file imports each one that the package module leaves free,
/// and names it bare (`emit::Settings::item`), instead of by its full path.
pub const RUNTIME_IMPORTS: &[&str] = &[
    "BoxReply",
    "BoxStream",
    "Context",
    "Reply",
    "Status",
    "dyn_reply",
];

/// The names of [`RUNTIME_IMPORTS`] that `types`, the package module's scope once every
/// generated name is claimed, leaves free; they are claimed too.
pub fn runtime_imports(types: &mut Scope) -> Vec<&'static str> {
    RUNTIME_IMPORTS
        .iter()
        .copied()
        .filter(|name| types.claim_exact(name))
        .collect()
}

fn unraw(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// The Rust method names for a service's rpcs, in declaration order: snake case, keywords
/// escaped, reserved names suffixed with `_rpc`, and later duplicates numbered.
pub fn method_names<'a>(proto_names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut scope = Scope::with_taken(RESERVED_METHODS.iter().map(|name| (*name).to_owned()));
    proto_names
        .into_iter()
        .map(|proto_name| {
            let name = snake(proto_name);
            let name = if RESERVED_METHODS.contains(&name.as_str()) {
                format!("{name}_rpc")
            } else {
                name
            };
            scope.claim(&name)
        })
        .collect()
}

/// The names of the rpcs' methods on the object-safe companion trait (`DynFooService`), in
/// declaration order: `dyn_` and the Rust name, numbered where that is the Rust name of another
/// rpc. Rpcs `Foo` and `DynFoo` would otherwise both have a `dyn_foo`, one on each trait, and a
/// type implementing both traits (every implementation does, through the blanket impl) could
/// not call it unqualified.
pub fn dyn_method_names(rust_names: &[String]) -> Vec<String> {
    let mut scope = Scope::with_taken(rust_names.iter().map(|name| unraw(name).to_owned()));
    rust_names
        .iter()
        .map(|name| scope.claim(&format!("dyn_{}", unraw(name))))
        .collect()
}

/// Stand-in proto names for sibling types that prost-build would give one Rust name: `Fb` and
/// `FB` are both `Fb` (as `Foo_Bar` and `FooBar` are both `FooBar`), with `pub mod fb` for
/// their nested types, which is E0428. `siblings` are `(proto name, is a message)` in declaration order. The first to
/// claim a name keeps it; each later one gets `FB_2` (`Fb2`, `fb_2`), or `FB_3` and so on when
/// that is taken by any sibling too. `None` where the name is kept. (A oneof's enum, in the
/// same scope, prost-build renames itself: `KindOneOf` beside a nested `Kind`.)
///
/// Names are compared as heck writes them: prost-build's identifiers (which the JSON impls name) are
/// heck's with keywords escaped, which maps equal names to equal identifiers and no others.
pub fn type_stand_ins(siblings: &[(&str, bool)]) -> Vec<Option<String>> {
    // Equal Rust names (types or modules) need equal letters and digits ignoring case, since
    // heck only drops separators and changes case: most scopes are settled here, cheaply.
    let mut keys = HashSet::with_capacity(siblings.len());
    let distinct = siblings
        .iter()
        .all(|(name, _)| keys.insert(name.replace('_', "").to_ascii_lowercase()));
    if distinct {
        return vec![None; siblings.len()];
    }
    let mut types = HashSet::new();
    let mut modules = HashSet::new();
    // The names siblings have before renaming, all of which a stand-in avoids: a stand-in that
    // took a later sibling's name would only move the clash.
    let natural_types: HashSet<String> = siblings
        .iter()
        .map(|(name, _)| name.to_upper_camel_case())
        .collect();
    let natural_modules: HashSet<String> = siblings
        .iter()
        .filter(|(_, is_message)| *is_message)
        .map(|(name, _)| name.to_snake_case())
        .collect();
    siblings
        .iter()
        .map(|&(name, is_message)| {
            let rust_names = |name: &str| (name.to_upper_camel_case(), name.to_snake_case());
            let (mut rust, mut module) = rust_names(name);
            let mut stand_in = None;
            if types.contains(&rust) || (is_message && modules.contains(&module)) {
                let free = (2..)
                    .map(|n| format!("{name}_{n}"))
                    .map(|candidate| (rust_names(&candidate), candidate))
                    .find(|((rust, module), _)| {
                        let module_taken =
                            natural_modules.contains(module) || modules.contains(module);
                        let taken = natural_types.contains(rust) || types.contains(rust);
                        !(taken || (is_message && module_taken))
                    })
                    .expect("an unbounded search finds a free name");
                ((rust, module), stand_in) = (free.0, Some(free.1));
            }
            types.insert(rust);
            if is_message {
                modules.insert(module);
            }
            stand_in
        })
        .collect()
}

/// All the names generated for one service, computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNames {
    /// The domain trait, e.g. `InventoryService`.
    pub domain_trait: String,
    /// The `static` describing the service and its rpcs, e.g. `INVENTORY_SERVICE`.
    pub info: String,
    /// Its object-safe companion, e.g. `DynInventoryService`.
    pub dyn_trait: String,
    /// The UNIMPLEMENTED implementation, e.g. `UnimplementedInventoryService`.
    pub stub: String,
    /// The programmable fake, e.g. `FakeInventoryService`.
    pub fake: String,
    /// The tonic adapter, e.g. `InventoryServiceGrpc`.
    pub grpc_adapter: String,
    /// The client wrapper, e.g. `InventoryServiceClient`.
    pub client: String,
    /// The name tonic-build derives its items from; its modules are `{snake}_server` and
    /// `{snake}_client`, its server struct `{name}Server`.
    pub tonic_base: String,
    /// tonic-build's server module, e.g. `inventory_service_server`.
    pub server_module: String,
    /// tonic-build's client module, e.g. `inventory_service_client`.
    pub client_module: String,
    /// The REST/JSON gateway, e.g. `InventoryServiceGateway`.
    pub gateway: String,
    /// The private module of the gateway's dispatch and request schemas, e.g.
    /// `inventory_service_gateway`.
    pub gateway_module: String,
}

impl ServiceNames {
    /// Names for a service, claimed in `types` (type namespace of the package module) and
    /// `modules` (module names of the package module, which share the type namespace too).
    pub fn assign(proto_name: &str, types: &mut Scope) -> Self {
        let base = upper_camel(proto_name);
        let base = unraw(&base).to_owned();
        let domain_trait = types.claim(&base);
        let tonic_base = domain_trait.clone();
        let server_module = types.claim(&format!("{}_server", tonic_snake(&tonic_base)));
        let client_module = types.claim(&format!("{}_client", tonic_snake(&tonic_base)));
        Self {
            info: types.claim(&tonic_snake(&tonic_base).to_uppercase()),
            dyn_trait: types.claim(&format!("Dyn{domain_trait}")),
            stub: types.claim(&format!("Unimplemented{domain_trait}")),
            fake: types.claim(&format!("Fake{domain_trait}")),
            grpc_adapter: types.claim(&format!("{domain_trait}Grpc")),
            client: types.claim(&format!("{domain_trait}Client")),
            gateway: types.claim(&format!("{domain_trait}Gateway")),
            gateway_module: types.claim(&format!("{}_gateway", tonic_snake(&tonic_base))),
            domain_trait,
            tonic_base,
            server_module,
            client_module,
        }
    }
}

/// tonic-build's own snake case for module names (it does not use heck): an `_` before every
/// upper-case letter but the first. Mirrored here so we know the module names it will emit.
pub fn tonic_snake(name: &str) -> String {
    let mut snake = String::new();
    for (i, ch) in name.char_indices() {
        if i > 0 && ch.is_uppercase() {
            snake.push('_');
        }
        snake.push(ch.to_ascii_lowercase());
    }
    snake
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_escaped() {
        assert_eq!(snake("Type"), "r#type");
        assert_eq!(snake("Async"), "r#async");
        assert_eq!(snake("Self"), "self_");
        assert_eq!(snake("Super"), "super_");
        assert_eq!(snake("Crate"), "crate_");
        assert_eq!(upper_camel("self"), "Self_");
        assert_eq!(snake("CheckStock"), "check_stock");
        assert_eq!(ident("r#type").to_string(), "r#type");
    }

    #[test]
    fn companion_names_never_repeat_an_rpcs_own_name() {
        let rust_names = method_names(["Foo", "DynFoo", "Type"]);
        assert_eq!(rust_names, ["foo", "dyn_foo", "r#type"]);
        assert_eq!(
            dyn_method_names(&rust_names),
            ["dyn_foo_2", "dyn_dyn_foo", "dyn_type"]
        );
    }

    #[test]
    fn reserved_and_colliding_methods_are_renamed_deterministically() {
        let names = method_names([
            "Connect",
            "Ready",
            "New",
            "Register",
            "GetThing",
            "get_thing",
            "Clone",
            "connect_rpc",
        ]);
        assert_eq!(
            names,
            [
                "connect_rpc",
                "ready_rpc",
                "new_rpc",
                "register_rpc",
                "get_thing",
                "get_thing_2",
                "clone_rpc",
                "connect_rpc_2"
            ]
        );
    }

    #[test]
    fn types_differing_only_in_case_get_numbered_stand_ins() {
        let stand_ins = type_stand_ins(&[
            ("Fb", true),
            ("FB", true),
            ("Fb2", false),
            ("fb", false),
            ("Foo_Bar", true),
            ("FooBar", false),
            ("Other", true),
        ]);
        assert_eq!(
            stand_ins,
            [
                None,
                // `FB_2` would be `Fb2`, which a sibling has.
                Some("FB_3".to_owned()),
                None,
                Some("fb_4".to_owned()),
                None,
                Some("FooBar_2".to_owned()),
                None,
            ]
        );
        assert_eq!("FB_3".to_upper_camel_case(), "Fb3");
        assert_eq!("FB_3".to_snake_case(), "fb_3");
        assert_eq!(type_stand_ins(&[("A", true), ("B", false)]), [None, None]);
    }

    #[test]
    fn service_names_avoid_message_names() {
        let mut types = Scope::with_taken(["Greeter".to_owned(), "DynGreeter2".to_owned()]);
        let names = ServiceNames::assign("Greeter", &mut types);
        assert_eq!(names.domain_trait, "Greeter2");
        assert_eq!(names.server_module, "greeter2_server");
        assert_eq!(names.dyn_trait, "DynGreeter22");
        let names = ServiceNames::assign("InventoryService", &mut Scope::default());
        assert_eq!(names.grpc_adapter, "InventoryServiceGrpc");
        assert_eq!(names.server_module, "inventory_service_server");
    }

    #[test]
    fn runtime_items_are_imported_only_where_their_names_are_free() {
        // dialogflow has a message `Context`; a service `Reply` takes its trait's name.
        let mut types = Scope::with_taken(["Context".to_owned()]);
        ServiceNames::assign("Reply", &mut types);
        assert_eq!(
            runtime_imports(&mut types),
            ["BoxReply", "BoxStream", "Status", "dyn_reply"]
        );
        assert_eq!(types.claim("Status"), "Status2");
    }
}
