//! Which messages and enums get proto3 JSON (serde) impls: those a client can send or receive
//! as JSON, the requests and responses of the rpcs (through the gateway's routes, or as
//! Connect's `application/json` on any rpc) and every type their fields reach, transitively.
//! The rest of a package is never read or written as JSON by what the generator emits, and its
//! impls were most of the code: on the googleapis medium request, 5 MB of messages became 30 MB
//! with impls for every message (issue 27). `json_all_messages=true` gives every message impls,
//! for code of one's own that serializes messages no rpc carries.

use std::collections::BTreeSet;

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

use super::closure::is_extern;

/// The well-known types, whose JSON the runtime's `wkt` has already.
const WELL_KNOWN_PACKAGE: &str = "google.protobuf";

/// The full names (without the leading dot) of the messages and enums that need JSON impls
/// for the rpcs of the services in `files_to_generate`. Types that `extern_paths` map are left
/// to the crate they are mapped to.
pub fn json_types(
    pool: &DescriptorPool,
    files_to_generate: &[String],
    extern_paths: &[(String, String)],
) -> BTreeSet<String> {
    let mut reached = BTreeSet::new();
    let mut queue: Vec<MessageDescriptor> = Vec::new();
    for file in files_to_generate
        .iter()
        .filter_map(|name| pool.get_file_by_name(name))
    {
        for service in file.services() {
            for method in service.methods() {
                queue.extend([method.input(), method.output()]);
            }
        }
    }
    let wanted = |full_name: &str, package: &str| {
        package != WELL_KNOWN_PACKAGE && !is_extern(full_name, extern_paths)
    };
    while let Some(message) = queue.pop() {
        // A map entry is not a type of its own in JSON (the field is an object): its value is
        // what needs impls.
        if !message.is_map_entry()
            && (!wanted(message.full_name(), message.package_name())
                || !reached.insert(message.full_name().to_owned()))
        {
            continue;
        }
        for field in message.fields() {
            match field.kind() {
                Kind::Message(inner) => queue.push(inner),
                Kind::Enum(enumeration)
                    if wanted(enumeration.full_name(), enumeration.package_name()) =>
                {
                    reached.insert(enumeration.full_name().to_owned());
                }
                _ => {}
            }
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `files` (name, source) compiled by protox with the googleapis protos of proto/ on the
    /// include path, imports included, encoded as a plugin request has them.
    fn encoded(files: &[(&str, &str)]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        for (name, source) in files {
            std::fs::write(dir.path().join(name), source).unwrap();
        }
        let proto = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto");
        let mut compiler = protox::Compiler::new([dir.path().to_str().unwrap(), proto]).unwrap();
        compiler.include_imports(true);
        compiler
            .open_files(files.iter().map(|(name, _)| *name))
            .unwrap();
        compiler.encode_file_descriptor_set()
    }

    /// The pool of [`encoded`] files, decoded from bytes as the generator does: through
    /// prost-types the options' extensions would be lost.
    fn pool(files: &[(&str, &str)]) -> DescriptorPool {
        DescriptorPool::decode(encoded(files).as_slice()).unwrap()
    }

    const SHOP: (&str, &str) = (
        "shop.proto",
        r#"syntax = "proto3";
            package shop.v1;
            import "google/api/annotations.proto";
            import "google/protobuf/timestamp.proto";
            service Shop {
              rpc Get(GetRequest) returns (Item) { option (google.api.http) = { get: "/v1/{id}" }; }
              rpc Internal(Secret) returns (Secret);
            }
            message Loose { Unreached u = 1; }
            message GetRequest { string id = 1; }
            message Item { Price price = 1; map<string, Tag> tags = 2; Kind kind = 3;
                           google.protobuf.Timestamp at = 4; oneof o { Note note = 5; } }
            message Price { int64 cents = 1; }
            message Tag { string name = 1; }
            message Note { Nested n = 1; message Nested { bool b = 1; } }
            enum Kind { KIND_UNSPECIFIED = 0; }
            message Secret { string s = 1; }
            message Unreached { string s = 1; }
            "#,
    );

    #[test]
    fn only_what_an_rpc_reaches_gets_json() {
        let pool = pool(&[SHOP]);
        let reached = json_types(&pool, &["shop.proto".to_owned()], &[]);
        let expected = [
            "shop.v1.GetRequest",
            "shop.v1.Item",
            "shop.v1.Kind",
            "shop.v1.Note",
            "shop.v1.Note.Nested",
            "shop.v1.Price",
            "shop.v1.Secret",
            "shop.v1.Tag",
        ];
        assert_eq!(
            reached.iter().map(String::as_str).collect::<Vec<_>>(),
            expected
        );

        // An extern type is its crate's business.
        let extern_paths = [(".shop.v1.Price".to_owned(), "::prices::Price".to_owned())];
        let reached = json_types(&pool, &["shop.proto".to_owned()], &extern_paths);
        assert!(!reached.contains("shop.v1.Price"));
    }

    #[test]
    fn json_all_messages_gives_every_message_impls() {
        /// A `FileDescriptorSet` whose files stay bytes, their options' extensions intact.
        #[derive(Clone, PartialEq, prost::Message)]
        struct RawSet {
            #[prost(bytes = "vec", repeated, tag = "1")]
            file: Vec<Vec<u8>>,
        }
        let set = <RawSet as prost::Message>::decode(encoded(&[SHOP]).as_slice()).unwrap();
        let input = || crate::Input {
            files_to_generate: vec!["shop.proto".to_owned()],
            proto_files: set.file.clone(),
        };
        let messages = |params: &crate::Params| {
            crate::generate(input(), params)
                .unwrap()
                .into_iter()
                .find(|file| file.name == "shop.v1.rs")
                .unwrap()
                .content
        };
        let serializes =
            |code: &str, name: &str| code.contains(&format!("serde::Serialize for {name} {{"));
        let routed = messages(&crate::Params::default());
        assert!(serializes(&routed, "Item") && serializes(&routed, "Secret"));
        assert!(!serializes(&routed, "Loose"));
        let all = messages(&crate::Params::parse("json_all_messages=true").unwrap());
        assert!(serializes(&all, "Item") && serializes(&all, "Loose"));
    }
}
