//! HTTP rules kept outside the protos, in a gRPC API configuration: a `google.api.Service` YAML
//! file whose `http.rules` map rpcs to routes, for services whose protos carry no
//! `google.api.http` annotations (or that add routes to them). grpc-gateway reads such a file
//! with its `grpc_api_configuration` option, the Envoy transcoder from its service config; the
//! `grpc_api_configuration` parameter reads it here.
//!
//! ```yaml
//! type: google.api.Service
//! config_version: 3
//! http:
//!   rules:
//!   - selector: echo.v1.EchoService.Echo
//!     post: /v1/echo/{id}
//!     body: "*"
//!     additional_bindings:
//!     - get: /v1/echo/{id}
//! ```
//!
//! As grpc-gateway does, an rpc gets the file's rules for it before the rules of its own
//! annotation, and a selector that names no rpc of the files being generated is an error.
//! Field names may be written in proto form or lowerCamelCase (`response_body`,
//! `responseBody`), as protobuf's YAML and JSON readings take both; the file's other sections
//! are not read.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Location};
use crate::options::{CustomHttpPattern, HttpPattern, HttpRule};

/// The rules of one configuration file, by the full name of the rpc they select.
#[derive(Debug, Default)]
pub struct ServiceConfig {
    rules: BTreeMap<String, Vec<(HttpRule, Location)>>,
}

impl ServiceConfig {
    /// Reads the file at `path` (relative to the working directory, as grpc-gateway reads its
    /// option's path).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| {
            Error::new(format!(
                "grpc_api_configuration `{name}`: cannot read it: {error}"
            ))
        })?;
        Self::parse(&name, &text)
    }

    /// Reads `text`, the file `name`.
    pub fn parse(name: &str, text: &str) -> Result<Self, Error> {
        let root: Value = serde_yaml_ng::from_str(text).map_err(|error| {
            let line = error.location().map(|at| at.line() as u32);
            let location = Location {
                file: name.to_owned(),
                line,
            };
            Error::at(location, "grpc_api_configuration", error.to_string())
        })?;
        let whole = Location {
            file: name.to_owned(),
            line: None,
        };
        let problem = |message: String| Error::at(whole.clone(), "grpc_api_configuration", message);
        let rules = match &root {
            // An empty file, or one without `http`, has no rules.
            Value::Null => return Ok(Self::default()),
            Value::Object(root) => match member(root, "http") {
                None | Some(Value::Null) => return Ok(Self::default()),
                Some(Value::Object(http)) => match member(http, "rules") {
                    None | Some(Value::Null) => return Ok(Self::default()),
                    Some(Value::Array(rules)) => rules,
                    Some(_) => return Err(problem("`http.rules` must be a list".to_owned())),
                },
                Some(_) => return Err(problem("`http` must be a mapping".to_owned())),
            },
            _ => {
                return Err(problem(
                    "the file must be a mapping (a google.api.Service)".to_owned(),
                ));
            }
        };
        let mut config = Self::default();
        for (index, rule) in rules.iter().enumerate() {
            let at = format!("http.rules[{index}]");
            let Some(selector) = rule
                .as_object()
                .and_then(|rule| member(rule, "selector"))
                .and_then(Value::as_str)
                .filter(|selector| !selector.is_empty())
            else {
                return Err(problem(format!(
                    "{at}: a rule needs a `selector`, the rpc's full name"
                )));
            };
            let selector = selector.trim_start_matches('.');
            let earlier = config.rules.get(selector).map_or(0, Vec::len);
            let location = Location {
                file: name.to_owned(),
                line: selector_line(text, selector, earlier),
            };
            let element = format!("rule for {selector}");
            let rule = http_rule(rule, &at, true)
                .map_err(|message| Error::at(location.clone(), &element, message))?;
            config
                .rules
                .entry(selector.to_owned())
                .or_default()
                .push((rule, location));
        }
        Ok(config)
    }

    /// The rules for the rpc `full_name`, each with where the file has it.
    pub fn rules_for(&self, full_name: &str) -> &[(HttpRule, Location)] {
        self.rules.get(full_name).map_or(&[], Vec::as_slice)
    }

    /// The selectors of the file, each with where its first rule is.
    pub fn selectors(&self) -> impl Iterator<Item = (&str, &Location)> {
        self.rules
            .iter()
            .filter_map(|(selector, rules)| Some((selector.as_str(), &rules.first()?.1)))
    }
}

/// `object`'s member `name` (snake_case) under that name or its lowerCamelCase one.
fn member<'v>(object: &'v serde_json::Map<String, Value>, name: &str) -> Option<&'v Value> {
    object
        .get(name)
        .or_else(|| object.get(&heck::AsLowerCamelCase(name).to_string()))
}

/// The `google.api.HttpRule` written at `at`; `top`: whether it may have additional bindings
/// (and a selector).
fn http_rule(value: &Value, at: &str, top: bool) -> Result<HttpRule, String> {
    let Value::Object(object) = value else {
        return Err(format!("{at}: a rule must be a mapping"));
    };
    let text = |name: &str| -> Result<String, String> {
        match member(object, name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(_) => Err(format!("{at}: `{name}` must be a string")),
        }
    };
    let mut patterns = Vec::new();
    for (name, make) in [
        ("get", HttpPattern::Get as fn(String) -> HttpPattern),
        ("put", HttpPattern::Put),
        ("post", HttpPattern::Post),
        ("delete", HttpPattern::Delete),
        ("patch", HttpPattern::Patch),
    ] {
        if member(object, name).is_some() {
            patterns.push(make(text(name)?));
        }
    }
    if let Some(custom) = member(object, "custom") {
        let Value::Object(custom) = custom else {
            return Err(format!(
                "{at}: `custom` must be a mapping of `kind` and `path`"
            ));
        };
        let field = |name: &str| match member(custom, name) {
            Some(Value::String(text)) => Ok(text.clone()),
            _ => Err(format!("{at}: `custom.{name}` must be a string")),
        };
        patterns.push(HttpPattern::Custom(CustomHttpPattern {
            kind: field("kind")?,
            path: field("path")?,
        }));
    }
    if patterns.len() > 1 {
        return Err(format!(
            "{at}: a rule has one method and path (`get`, `put`, `post`, `delete`, `patch` or \
             `custom`), this one has {}",
            patterns.len()
        ));
    }
    let mut additional_bindings = Vec::new();
    match member(object, "additional_bindings") {
        None | Some(Value::Null) => {}
        Some(Value::Array(bindings)) if top => {
            for (index, binding) in bindings.iter().enumerate() {
                let at = format!("{at}.additional_bindings[{index}]");
                additional_bindings.push(http_rule(binding, &at, false)?);
            }
        }
        Some(Value::Array(_)) => {
            return Err(format!(
                "{at}: additional_bindings must not have additional_bindings of their own \
                 (only one level is allowed)"
            ));
        }
        Some(_) => return Err(format!("{at}: `additional_bindings` must be a list")),
    }
    Ok(HttpRule {
        selector: String::new(),
        pattern: patterns.pop(),
        body: text("body")?,
        response_body: text("response_body")?,
        additional_bindings,
    })
}

/// The 1-based line of the `nth` (0-based) `selector:` naming `selector` outside a comment, if
/// the text has one.
fn selector_line(text: &str, selector: &str, nth: usize) -> Option<u32> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split_once('#').map_or(*line, |(code, _)| code);
            code.split_once("selector:").is_some_and(|(_, value)| {
                value
                    .trim()
                    .trim_end_matches([',', '}'])
                    .trim()
                    .trim_matches(['"', '\''])
                    .trim_start_matches('.')
                    == selector
            })
        })
        .nth(nth)
        .and_then(|(index, _)| u32::try_from(index + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: &str = r#"
type: google.api.Service
config_version: 3

http:
  rules:
  - selector: echo.v1.Echo.Say
    post: "/v1/echo/{id}"
    body: "*"
    additionalBindings:
    - get: /v1/echo/{id}/{num}
    - custom:
        kind: HEAD
        path: /v1/echo
  - selector: .echo.v1.Echo.Stream
    get: /v1/stream
    response_body: items
"#;

    #[test]
    fn rules_are_read_by_selector_with_both_field_name_forms() {
        let config = ServiceConfig::parse("echo.yaml", ECHO).unwrap();
        let say = config.rules_for("echo.v1.Echo.Say");
        assert_eq!(say.len(), 1);
        let (rule, location) = &say[0];
        assert_eq!(location.to_string(), "echo.yaml:7");
        assert_eq!(
            rule.pattern,
            Some(HttpPattern::Post("/v1/echo/{id}".into()))
        );
        assert_eq!(rule.body, "*");
        assert_eq!(rule.additional_bindings.len(), 2);
        assert_eq!(
            rule.additional_bindings[0].pattern,
            Some(HttpPattern::Get("/v1/echo/{id}/{num}".into()))
        );
        assert_eq!(
            rule.additional_bindings[1].pattern,
            Some(HttpPattern::Custom(CustomHttpPattern {
                kind: "HEAD".into(),
                path: "/v1/echo".into()
            }))
        );
        let (stream, location) = &config.rules_for("echo.v1.Echo.Stream")[0];
        assert_eq!(location.line, Some(15));
        assert_eq!(stream.response_body, "items");
        assert!(config.rules_for("echo.v1.Echo.Other").is_empty());
        // A second rule for an rpc is found at its own line, a commented-out one skipped.
        let text = "http:\n  rules:\n  # - selector: a.B.C\n  - selector: a.B.C\n    get: /x\n  - selector: \"a.B.C\"\n    get: /y\n";
        let two = ServiceConfig::parse("two.yaml", text).unwrap();
        let lines: Vec<_> = two
            .rules_for("a.B.C")
            .iter()
            .map(|(_, at)| at.line)
            .collect();
        assert_eq!(lines, [Some(4), Some(6)]);
        assert_eq!(config.selectors().count(), 2);
    }

    #[test]
    fn a_file_without_rules_has_none() {
        for text in [
            "",
            "type: google.api.Service\n",
            "http:\n",
            "http:\n  rules: []\n",
        ] {
            let config = ServiceConfig::parse("empty.yaml", text).unwrap();
            assert_eq!(config.selectors().count(), 0, "{text:?}");
        }
    }

    #[test]
    fn bad_files_and_rules_are_errors_naming_the_place() {
        let error = |text: &str| {
            ServiceConfig::parse("bad.yaml", text)
                .unwrap_err()
                .to_string()
        };
        assert!(
            error("http:\n  rules:\n  - selector: a.B.C\n    get: [1\n").starts_with("bad.yaml:"),
            "{}",
            error("http:\n  rules:\n  - selector: a.B.C\n    get: [1\n")
        );
        assert_eq!(
            error("http:\n  rules:\n  - get: /v1/x\n"),
            "bad.yaml: grpc_api_configuration: http.rules[0]: a rule needs a `selector`, the rpc's full name"
        );
        assert_eq!(
            error("http:\n  rules:\n  - selector: a.B.C\n    get: /x\n    post: /y\n"),
            "bad.yaml:3: rule for a.B.C: http.rules[0]: a rule has one method and path (`get`, `put`, `post`, `delete`, `patch` or `custom`), this one has 2"
        );
        assert_eq!(
            error(
                "http:\n  rules:\n  - selector: a.B.C\n    get: /x\n    additional_bindings:\n    - get: /y\n      additional_bindings: [{get: /z}]\n"
            ),
            "bad.yaml:3: rule for a.B.C: http.rules[0].additional_bindings[0]: additional_bindings must not have additional_bindings of their own (only one level is allowed)"
        );
        assert_eq!(
            error("http:\n  rules:\n  - selector: a.B.C\n    get: 7\n"),
            "bad.yaml:3: rule for a.B.C: http.rules[0]: `get` must be a string"
        );
    }
}
