//! One OpenAPI path per route: paths that would be the same for different routes.

use std::collections::{BTreeMap, BTreeSet};

use super::paths;
use super::{Operation, PathParam, Unlisted, UnlistedReason};

/// An operation, and its path in expanded form.
pub(super) struct Candidate {
    pub operation: Operation,
    pub expanded: (String, Vec<PathParam>),
    pub template: String,
}

/// Gives every operation a path that no operation matching other requests shares.
///
/// OpenAPI deems paths that differ only in parameter names the same path. Compact paths
/// that are the same for templates matching different requests (`/v1/{name}` for
/// `{name=shelves/*}` and `{name=authors/*}`) are expanded, all of them, so that the choice
/// does not depend on declaration order. Operations whose paths are then the same take the
/// parameter names of the first (the parameters say which field each binds), and one whose
/// path and method are another's (`*` and `**` look alike) is left out.
pub(super) fn distinct_paths(
    candidates: Vec<Candidate>,
    unlisted: &mut Vec<Unlisted>,
) -> Vec<Operation> {
    let mut matched: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for candidate in &candidates {
        matched
            .entry(paths::shape(&candidate.operation.path))
            .or_default()
            .insert(paths::shape(&candidate.expanded.0));
    }
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut taken: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut operations = Vec::new();
    for candidate in candidates {
        let Candidate {
            mut operation,
            expanded,
            template,
        } = candidate;
        if matched[&paths::shape(&operation.path)].len() > 1 {
            (operation.path, operation.path_params) = expanded;
        }
        let shape = paths::shape(&operation.path);
        let key = (operation.method.clone(), shape.clone());
        if let Some(first) = taken.get(&key) {
            unlisted.push(Unlisted {
                method: operation.method.to_ascii_uppercase(),
                template,
                rpc: operation.rpc,
                reason: UnlistedReason::SameAs(first.clone()),
            });
            continue;
        }
        taken.insert(key, operation.operation_id.clone());
        let own: Vec<String> = operation
            .path_params
            .iter()
            .map(|p| p.name.clone())
            .collect();
        let canonical = names.entry(shape).or_insert_with(|| own.clone());
        if *canonical != own {
            operation.path = paths::rename(&operation.path, canonical);
            for (param, name) in operation.path_params.iter_mut().zip(canonical.iter()) {
                param.name.clone_from(name);
            }
        }
        operations.push(operation);
    }
    operations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::openapi::{FieldType, PathValue, Response, Scalar, Value};

    /// An operation on `path`, whose expanded form is `expanded`; parameters are named from
    /// the paths.
    fn candidate(method: &str, path: &str, expanded: &str, id: &str) -> Candidate {
        let params = |path: &str| -> Vec<PathParam> {
            path.split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}'))
                .map(|(name, _)| PathParam {
                    name: name.to_owned(),
                    field: Some(name.to_owned()),
                    value: PathValue::Field(Value::Scalar(Scalar::String)),
                    description: None,
                    annotation: Default::default(),
                })
                .collect()
        };
        let response = Response {
            message: "a.M".to_owned(),
            field: None,
            value: FieldType::Single(Value::Message("a.M".to_owned())),
            stream: false,
            raw: false,
        };
        Candidate {
            operation: Operation {
                method: method.to_owned(),
                path: path.to_owned(),
                operation_id: id.to_owned(),
                tag: "S".to_owned(),
                rpc: format!("a.S.{id}"),
                description: None,
                deprecated: false,
                path_params: params(path),
                query_params: Vec::new(),
                body: None,
                response,
            },
            expanded: (expanded.to_owned(), params(expanded)),
            template: path.to_owned(),
        }
    }

    fn paths(operations: &[Operation]) -> Vec<(&str, &str)> {
        operations
            .iter()
            .map(|op| (op.method.as_str(), op.path.as_str()))
            .collect()
    }

    #[test]
    fn same_paths_for_different_routes_are_expanded() {
        let mut unlisted = Vec::new();
        let operations = distinct_paths(
            vec![
                candidate("get", "/v1/{name}", "/v1/shelves/{shelvesId}", "GetShelf"),
                candidate(
                    "delete",
                    "/v1/{name}",
                    "/v1/shelves/{shelvesId}",
                    "DeleteShelf",
                ),
                candidate("get", "/v1/{name}", "/v1/authors/{authorsId}", "GetAuthor"),
                candidate(
                    "post",
                    "/v1/{name}:move",
                    "/v1/shelves/{shelvesId}:move",
                    "Move",
                ),
            ],
            &mut unlisted,
        );
        assert_eq!(
            paths(&operations),
            [
                ("get", "/v1/shelves/{shelvesId}"),
                ("delete", "/v1/shelves/{shelvesId}"),
                ("get", "/v1/authors/{authorsId}"),
                // Alone on its path: compact.
                ("post", "/v1/{name}:move"),
            ]
        );
        assert!(unlisted.is_empty());
    }

    #[test]
    fn routes_of_one_path_share_the_first_ones_parameter_names() {
        let mut unlisted = Vec::new();
        let operations = distinct_paths(
            vec![
                candidate("get", "/v1/orders/{orderId}", "/v1/orders/{orderId}", "Get"),
                candidate(
                    "patch",
                    "/v1/orders/{order.orderId}",
                    "/v1/orders/{order.orderId}",
                    "Update",
                ),
            ],
            &mut unlisted,
        );
        assert_eq!(
            paths(&operations),
            [
                ("get", "/v1/orders/{orderId}"),
                ("patch", "/v1/orders/{orderId}")
            ]
        );
        // The parameter still says which field it binds.
        let param = &operations[1].path_params[0];
        assert_eq!(
            (param.name.as_str(), param.field.as_deref()),
            ("orderId", Some("order.orderId"))
        );
    }

    #[test]
    fn a_route_with_another_ones_path_and_method_is_left_out() {
        let mut unlisted = Vec::new();
        let operations = distinct_paths(
            vec![
                candidate("get", "/v1/files/{path}", "/v1/files/{pathSegment}", "Read"),
                candidate("get", "/v1/files/{id}", "/v1/files/{id}", "Stat"),
            ],
            &mut unlisted,
        );
        assert_eq!(paths(&operations), [("get", "/v1/files/{path}")]);
        assert_eq!(
            unlisted,
            [Unlisted {
                method: "GET".to_owned(),
                template: "/v1/files/{id}".to_owned(),
                rpc: "a.S.Stat".to_owned(),
                reason: UnlistedReason::SameAs("Read".to_owned()),
            }]
        );
    }
}
