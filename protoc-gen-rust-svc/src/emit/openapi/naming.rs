//! The names of the document's schemas under `openapi_naming_strategy`: the full proto name by
//! default, or one of the shorter names protoc-gen-openapiv2 gives, so that clients generated
//! from a grpc-gateway team's documents keep their type names (`v1Item`) when the team moves.
//!
//! Each name is split into components (`inventory.v1.Item`: `inventory`, `v1`, `Item`; under
//! `package`, the nested type path is one component, `Outer.Inner`); the shortest run of last
//! components that no other message or enum of the request ends with names it. `simple` joins that run
//! with `.`, `package` does too, `legacy` takes one component more and joins them without a
//! separator, the package components after the first capitalized (`v1Item`, `rpcStatus`).

use serde_json::{Map, Value as Json};

use crate::params::SchemaNaming;

/// The prefix of a reference to a schema of the document.
const SCHEMA_REF: &str = "#/components/schemas/";

/// Renames `document`'s schemas by `naming`, and every reference to them. `universe` is every
/// message and enum of the request (protoc-gen-openapiv2 tells names apart among all of them,
/// imports included, not only among the document's); the document's schemas are added to it.
pub(super) fn apply(document: &mut Json, naming: SchemaNaming, universe: &[String]) {
    if naming == SchemaNaming::Fqn {
        return;
    }
    let Some(Json::Object(schemas)) = document.pointer_mut("/components/schemas") else {
        return;
    };
    let names: Vec<String> = schemas.keys().cloned().collect();
    let mut all: Vec<String> = universe.to_vec();
    all.extend(names.iter().cloned());
    all.sort_unstable();
    all.dedup();
    let mut renamed = unique_names(&names, &all, naming);
    // `legacy` drops the separators, so two names can still meet (`a.v1.item`, `b.v1.Item`):
    // those keep their full names rather than one schema taking both.
    let mut seen = std::collections::HashMap::new();
    for new in renamed.values() {
        *seen.entry(new.clone()).or_insert(0) += 1;
    }
    for (old, new) in &mut renamed {
        if seen[new.as_str()] > 1 {
            new.clone_from(old);
        }
    }
    let old = std::mem::take(schemas);
    *schemas = old
        .into_iter()
        .map(|(name, schema)| {
            let new = renamed.get(&name).cloned().unwrap_or(name);
            (new, schema)
        })
        .collect::<Map<String, Json>>();
    rewrite_refs(document, &renamed);
}

/// Every `$ref` to a schema in `value`, renamed.
fn rewrite_refs(value: &mut Json, renamed: &std::collections::HashMap<String, String>) {
    // A work list, not recursion: documents nest as deep as their messages.
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Json::Object(object) => {
                if let Some(Json::String(reference)) = object.get_mut("$ref")
                    && let Some(name) = reference.strip_prefix(SCHEMA_REF)
                    && let Some(new) = renamed.get(name)
                {
                    *reference = format!("{SCHEMA_REF}{new}");
                }
                stack.extend(object.values_mut());
            }
            Json::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

/// The name of each of `names` (full proto names) under `naming`, told apart from every name of
/// `universe` (which holds them too).
fn unique_names(
    names: &[String],
    universe: &[String],
    naming: SchemaNaming,
) -> std::collections::HashMap<String, String> {
    let (extra, separator, nested_as_one) = match naming {
        SchemaNaming::Fqn => return names.iter().map(|n| (n.clone(), n.clone())).collect(),
        SchemaNaming::Legacy => (1, "", false),
        SchemaNaming::Simple => (0, ".", false),
        SchemaNaming::Package => (0, ".", true),
    };
    let components: Vec<Vec<&str>> = universe
        .iter()
        .map(|name| split(name, nested_as_one))
        .collect();
    // How many names end with a given run of components.
    let ending_with = |suffix: &[&str]| {
        components
            .iter()
            .filter(|other| other.ends_with(suffix))
            .count()
    };
    names
        .iter()
        .map(|name| (name, split(name, nested_as_one)))
        .map(|(name, parts)| {
            // The shortest run of last components only this name ends with (all of them when
            // none is shorter), then `extra` more.
            // (With `extra`, no component of its own suffices when the document has one
            // schema: protoc-gen-openapiv2 names it by its last component.)
            let depth = (0..=parts.len())
                .find(|&depth| depth + extra > 0 && ending_with(&parts[parts.len() - depth..]) == 1)
                .unwrap_or(parts.len());
            let start = parts.len().saturating_sub(depth + extra);
            let mut run: Vec<String> = parts[start..].iter().map(|&p| p.to_owned()).collect();
            if separator.is_empty() {
                // camelCase across the package components: `google.rpc.Status` is
                // `googleRpcStatus` when all three are needed, a type name keeps its case.
                for part in run.iter_mut().skip(1) {
                    if *part == part.to_lowercase()
                        && let Some(first) = part.chars().next()
                    {
                        *part = first.to_uppercase().chain(part.chars().skip(1)).collect();
                    }
                }
            }
            (name.clone(), run.join(separator))
        })
        .collect()
}

/// The components of a full name; with `nested_as_one`, the package's, then the type's path
/// (from the first component that starts upper case: packages are lower case by convention)
/// as one.
fn split(name: &str, nested_as_one: bool) -> Vec<&str> {
    if nested_as_one {
        let start = name
            .match_indices('.')
            .find(|(at, _)| name[at + 1..].starts_with(|c: char| c.is_ascii_uppercase()))
            .map(|(at, _)| at);
        if let Some(at) = start {
            let mut parts: Vec<&str> = name[..at].split('.').collect();
            parts.push(&name[at + 1..]);
            return parts;
        }
    }
    name.split('.').collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// protoc-gen-openapiv2's own naming cases (its naming_test.go): each strategy's name of
    /// each message, given all of them.
    #[test]
    fn names_are_protoc_gen_openapiv2s() {
        let cases = [
            ("A", ["A", "A", "A"]),
            ("a.B.C", ["aBC", "B.C", "B.C"]),
            ("a.D.C", ["aDC", "D.C", "D.C"]),
            ("a.E.F", ["aEF", "a.E.F", "a.E.F"]),
            ("b.E.F", ["bEF", "b.E.F", "b.E.F"]),
            ("c.G.H", ["GH", "H", "G.H"]),
        ];
        let names: Vec<String> = cases.iter().map(|(name, _)| (*name).to_owned()).collect();
        for (index, naming) in [
            SchemaNaming::Legacy,
            SchemaNaming::Simple,
            SchemaNaming::Package,
        ]
        .into_iter()
        .enumerate()
        {
            let renamed = unique_names(&names, &names, naming);
            for (name, expected) in cases {
                assert_eq!(renamed[name], expected[index], "{naming:?} of {name}");
            }
        }
    }

    #[test]
    fn names_are_told_apart_from_every_type_of_the_request() {
        // `google.protobuf.SourceCodeInfo.Location` is in the request (an import), so the
        // document's `acme.v1.Location` needs its package too, as protoc-gen-openapiv2 names it.
        let mut document = json!({"components": {"schemas": {
            "acme.v1.Location": {}, "acme.v1.Shelf": {},
        }}});
        let universe = ["google.protobuf.SourceCodeInfo.Location".to_owned()];
        apply(&mut document, SchemaNaming::Simple, &universe);
        let schemas = document["components"]["schemas"].as_object().unwrap();
        assert_eq!(schemas.keys().collect::<Vec<_>>(), ["Shelf", "v1.Location"]);
        // Names that meet once `legacy` drops the separators keep their full names.
        let mut document = json!({"components": {"schemas": {
            "a.v1.item": {}, "b.v1.Item": {},
        }}});
        apply(&mut document, SchemaNaming::Legacy, &[]);
        let schemas = document["components"]["schemas"].as_object().unwrap();
        assert_eq!(
            schemas.keys().collect::<Vec<_>>(),
            ["a.v1.item", "b.v1.Item"]
        );
    }

    #[test]
    fn the_familiar_legacy_names_and_references_follow() {
        let mut document = json!({
            "paths": {"/v1/items": {"get": {"responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/inventory.v1.Item"}
            }}}}}}},
            "components": {"schemas": {
                "inventory.v1.Item": {"properties": {"status": {
                    "$ref": "#/components/schemas/google.rpc.Status"
                }}},
                "google.rpc.Status": {"type": "object"},
            }},
        });
        apply(&mut document, SchemaNaming::Legacy, &[]);
        let schemas = document["components"]["schemas"].as_object().unwrap();
        assert_eq!(schemas.keys().collect::<Vec<_>>(), ["rpcStatus", "v1Item"]);
        assert_eq!(
            schemas["v1Item"]["properties"]["status"]["$ref"],
            "#/components/schemas/rpcStatus"
        );
        assert_eq!(
            document.pointer(
                "/paths/~1v1~1items/get/responses/200/content/application~1json/schema/$ref"
            ),
            Some(&json!("#/components/schemas/v1Item"))
        );
    }
}
