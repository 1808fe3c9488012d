//! `protoc-gen-rust-svc check`: compares the handlers of a scaffolded crate with its protos, as
//! they are now. It reads the user's Rust with syn, and reports rpcs without a handler (with
//! the method to paste), handlers of rpcs that no longer exist, and handlers whose request or
//! response type is not the proto's any more.

use std::path::{Path, PathBuf};

use quote::ToTokens;
use syn::spanned::Spanned;

use super::context::{MethodContext, ServiceContext, services};
use super::manifest::{MANIFEST, Manifest};
use crate::Builder;
use crate::error::Error;

/// One difference between the crate and its protos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The crate-relative file it is in.
    pub file: String,
    /// The line, when it is about code that is there.
    pub line: Option<usize>,
    /// What is different, and what to do.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What `check` found in a crate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The differences; none when the crate matches.
    pub findings: Vec<Finding>,
    /// `(service, rpcs)` of each service that was compared.
    pub compared: Vec<(String, usize)>,
}

/// Compares the crate in `dir` with its protos.
pub fn check_crate(dir: &Path) -> Result<CheckReport, Error> {
    let manifest = Manifest::read(dir)?.ok_or_else(|| {
        Error::new(format!(
            "{} has no {MANIFEST}: `check` compares a crate made by `protoc-gen-rust-svc new` with its protos",
            dir.display()
        ))
    })?;
    let includes: Vec<PathBuf> = manifest
        .includes
        .iter()
        .map(|include| dir.join(include))
        .collect();
    let files = manifest.protos.iter().map(|proto| {
        includes
            .iter()
            .map(|include| include.join(proto))
            .find(|path| path.is_file())
            .unwrap_or_else(|| includes[0].join(proto))
    });
    let builder = includes
        .iter()
        .fold(Builder::new(), |builder, include| builder.include(include))
        .files(files)
        .params(super::parameters(&manifest.parameters)?);
    let model = builder.model()?;
    let mut report = CheckReport::default();
    for scaffolded in &manifest.services {
        let Some((package, service)) =
            services(&model).find(|(_, service)| service.full_name == scaffolded.service)
        else {
            report.findings.push(Finding {
                file: scaffolded.file.clone(),
                line: None,
                message: format!(
                    "the protos no longer define {}: its implementation serves nothing; remove it (and its line in src/server.rs), or restore the service",
                    scaffolded.service
                ),
            });
            continue;
        };
        let expected = ServiceContext::new(package, service, Vec::new());
        let path = dir.join(&scaffolded.file);
        let source = std::fs::read_to_string(&path)
            .map_err(|error| Error::new(format!("cannot read {}: {error}", path.display())))?;
        let findings = compare(&scaffolded.file, &source, &expected)?;
        report.findings.extend(findings);
        report
            .compared
            .push((expected.full_name.clone(), expected.methods.len()));
    }
    Ok(report)
}

/// The differences between the implementation of `expected` in `source` (the file `file`) and
/// the service.
pub fn compare(file: &str, source: &str, expected: &ServiceContext) -> Result<Vec<Finding>, Error> {
    let parsed = syn::parse_file(source).map_err(|error| {
        let start = error.span().start();
        Error::new(format!(
            "{file}:{}:{}: cannot read the implementation: {error}",
            start.line,
            start.column + 1
        ))
    })?;
    let finding = |line: Option<usize>, message: String| Finding {
        file: file.to_owned(),
        line,
        message,
    };
    let impls: Vec<&syn::ItemImpl> = parsed
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Impl(item) => Some(item),
            _ => None,
        })
        .filter(|item| {
            item.trait_.as_ref().is_some_and(|(_, path, _)| {
                path.segments
                    .last()
                    .is_some_and(|segment| segment.ident == expected.domain_trait)
            })
        })
        .collect();
    let Some(implementation) = impls.first() else {
        return Ok(vec![finding(
            None,
            format!(
                "no `impl pb::{} for …`: nothing implements {}",
                expected.domain_trait, expected.full_name
            ),
        )]);
    };
    let handlers: Vec<&syn::ImplItemFn> = implementation
        .items
        .iter()
        .filter_map(|item| match item {
            syn::ImplItem::Fn(function) => Some(function),
            _ => None,
        })
        .collect();
    let mut findings = Vec::new();
    for method in &expected.methods {
        let handler = handlers
            .iter()
            .find(|handler| plain(&handler.sig.ident) == method.plain_name);
        match handler {
            None => findings.push(finding(
                Some(implementation.span().start().line),
                format!(
                    "{} has no handler; add it to `impl pb::{}`:\n\n{}",
                    method.path,
                    expected.domain_trait,
                    stub(method)
                ),
            )),
            Some(handler) => {
                if let Some(difference) = signature_difference(&handler.sig, method) {
                    findings.push(finding(
                        Some(handler.sig.ident.span().start().line),
                        format!(
                            "`{}` does not have the signature of {} any more ({difference}); the proto now gives\n\n    {}",
                            method.rust_name, method.path, method.signature
                        ),
                    ));
                }
            }
        }
    }
    for handler in handlers {
        let known = expected
            .methods
            .iter()
            .any(|method| plain(&handler.sig.ident) == method.plain_name);
        if !known {
            findings.push(finding(
                Some(handler.sig.ident.span().start().line),
                format!(
                    "`{}` handles no rpc of {}: the rpc was removed or renamed in the proto; remove the method (or move its body to the rpc's new name)",
                    handler.sig.ident, expected.full_name
                ),
            ));
        }
    }
    Ok(findings)
}

/// The handler of `method` as the scaffold writes it, indented for an impl block.
pub fn stub(method: &MethodContext) -> String {
    let mut text = String::new();
    for line in &method.doc {
        text.push_str(&format!("    ///{line}\n"));
    }
    text.push_str(&format!(
        "    {} {{\n        let _ = (ctx, {});\n        Err(Status::unimplemented(\"{} is not implemented yet\"))\n    }}\n",
        method.signature, method.arg, method.path
    ));
    text
}

/// How `signature` differs from the trait method of `method`, if it does. Types are compared
/// by their last path segments, so that `pb::Order`, `Order` and `crate::proto::…::Order` are
/// one type, and an `impl Future<Output = …>` return is read as the `async fn` it stands for.
fn signature_difference(signature: &syn::Signature, method: &MethodContext) -> Option<String> {
    let last = |path: &str| path.rsplit("::").next().unwrap_or(path).to_owned();
    let request = if method.client_streaming {
        format!("BoxStream<{}>", last(&method.request_type))
    } else {
        last(&method.request_type)
    };
    let response = if method.server_streaming {
        format!("BoxStream<{}>", last(&method.response_type))
    } else {
        last(&method.response_type)
    };
    let inputs: Vec<&syn::FnArg> = signature.inputs.iter().collect();
    if inputs.len() != 3 {
        return Some(format!(
            "it takes {} parameters, the trait method `&self, ctx, {}`",
            inputs.len(),
            method.arg
        ));
    }
    let given_request = match inputs[2] {
        syn::FnArg::Typed(typed) => shape(&typed.ty),
        syn::FnArg::Receiver(_) => String::new(),
    };
    if given_request != request {
        return Some(format!(
            "the request is `{given_request}`, the proto's `{request}`"
        ));
    }
    let given_response = match &signature.output {
        syn::ReturnType::Default => "()".to_owned(),
        syn::ReturnType::Type(_, ty) => shape(ty),
    };
    let wanted = format!("Result<{response},Status>");
    if given_response != wanted {
        return Some(format!(
            "it returns `{given_response}`, the proto's `Result<{response}, Status>`"
        ));
    }
    None
}

/// A type by the last segment of each path in it: `pb::Order` is `Order`,
/// `Result<pb::Order, rust_svc_runtime::Status>` is `Result<Order,Status>`; an
/// `impl Future<Output = T>` is `T`.
fn shape(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(path) => {
            let Some(segment) = path.path.segments.last() else {
                return String::new();
            };
            let mut text = segment.ident.to_string();
            if let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments {
                let inner: Vec<String> = arguments
                    .args
                    .iter()
                    .filter_map(|argument| match argument {
                        syn::GenericArgument::Type(ty) => Some(shape(ty)),
                        _ => None,
                    })
                    .collect();
                text.push_str(&format!("<{}>", inner.join(",")));
            }
            text
        }
        syn::Type::Paren(inner) => shape(&inner.elem),
        syn::Type::Group(inner) => shape(&inner.elem),
        syn::Type::ImplTrait(bounds) => {
            let output = bounds.bounds.iter().find_map(|bound| match bound {
                syn::TypeParamBound::Trait(bound) => {
                    let segment = bound.path.segments.last()?;
                    let syn::PathArguments::AngleBracketed(arguments) = &segment.arguments else {
                        return None;
                    };
                    arguments.args.iter().find_map(|argument| match argument {
                        syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => {
                            Some(shape(&assoc.ty))
                        }
                        _ => None,
                    })
                }
                _ => None,
            });
            output.unwrap_or_else(|| ty.to_token_stream().to_string())
        }
        other => other.to_token_stream().to_string(),
    }
}

/// A handler's name as the rpc's plain name spells it: `r#move` is `move` (an rpc `Move`).
fn plain(ident: &syn::Ident) -> String {
    use syn::ext::IdentExt;
    ident.unraw().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffold::tests::example_project;

    fn orders() -> ServiceContext {
        example_project().services.remove(0)
    }

    /// The implementation file the scaffold writes for the orders service.
    fn scaffolded() -> String {
        let project = example_project();
        let files = super::super::templates::render_all(
            &project,
            &super::super::templates::Overrides::none(),
        )
        .unwrap();
        files
            .into_iter()
            .find(|file| file.path == "src/order.rs")
            .unwrap()
            .text
    }

    #[test]
    fn a_fresh_scaffold_matches() {
        assert_eq!(
            compare("src/order.rs", &scaffolded(), &orders()).unwrap(),
            []
        );
    }

    #[test]
    fn an_rpc_named_with_a_keyword_matches_its_raw_handler() {
        // compute's `rpc Move`: its handler is `r#move`, whose plain name is `move`.
        let mut expected = orders();
        let method = expected
            .methods
            .iter_mut()
            .find(|method| method.plain_name == "get_order")
            .unwrap();
        method.plain_name = "move".to_owned();
        method.rust_name = "r#move".to_owned();
        let source = scaffolded().replacen("async fn get_order(", "async fn r#move(", 1);
        assert_eq!(compare("src/order.rs", &source, &expected).unwrap(), []);
    }

    #[test]
    fn each_change_is_named_with_its_line() {
        let source = scaffolded()
            // A handler removed: its rpc has none.
            .replacen("async fn get_order(", "async fn get_order_gone(", 1)
            // A request type changed.
            .replacen(
                "request: pb::CancelOrderRequest",
                "request: pb::GetOrderRequest",
                1,
            );
        let findings = compare("src/order.rs", &source, &orders()).unwrap();
        let messages: Vec<String> = findings.iter().map(ToString::to_string).collect();
        assert_eq!(findings.len(), 3, "{messages:#?}");
        assert!(messages[0].contains("/orders.v1.OrderService/GetOrder has no handler"));
        assert!(
            messages[0]
                .contains("async fn get_order(&self, ctx: &Context, request: pb::GetOrderRequest)")
        );
        assert!(
            messages[1].contains("`cancel_order` does not have the signature")
                && messages[1]
                    .contains("the request is `GetOrderRequest`, the proto's `CancelOrderRequest`"),
            "{}",
            messages[1]
        );
        assert!(messages[2].contains("`get_order_gone` handles no rpc"));
        assert!(
            findings
                .iter()
                .skip(1)
                .all(|finding| finding.line.is_some())
        );
    }

    #[test]
    fn types_are_compared_by_name_and_futures_by_their_output() {
        let orders = orders();
        let get = orders
            .methods
            .iter()
            .find(|method| method.proto_name == "GetOrder")
            .unwrap();
        let trait_style: syn::Signature = syn::parse_str(
            "fn get_order(&self, ctx: &Context, request: crate::proto::orders::v1::GetOrderRequest) \
             -> impl Future<Output = Result<Order, rust_svc_runtime::Status>> + Send",
        )
        .unwrap();
        assert_eq!(signature_difference(&trait_style, get), None);
        let wrong: syn::Signature =
            syn::parse_str("async fn get_order(&self, ctx: &Context, request: GetOrderRequest) -> Result<Vec<Order>, Status>")
                .unwrap();
        assert!(
            signature_difference(&wrong, get)
                .unwrap()
                .contains("it returns `Result<Vec<Order>,Status>`")
        );
    }

    #[test]
    fn unreadable_rust_is_an_error_naming_the_place() {
        let error = compare("src/order.rs", "impl {", &orders())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("src/order.rs:1:"), "{error}");
    }
}
