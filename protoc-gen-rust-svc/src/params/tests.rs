//! Parsing the plugin parameter string.

use super::*;

#[test]
fn empty_parameter_gives_defaults() {
    assert_eq!(Params::parse("").unwrap(), Params::default());
    assert!(!Params::default().emits(Artifact::TonicClient));
    assert!(!Params::default().emits(Artifact::TonicServer));
}

#[test]
fn tonic_modules_stand_alone_or_join_the_rest() {
    let alone = Params::parse("artifacts=tonic_client+tonic_server").unwrap();
    assert_eq!(
        alone.artifacts,
        [Artifact::TonicClient, Artifact::TonicServer]
            .into_iter()
            .collect()
    );
    let every = Params::parse(
        "artifacts=domain+stub+server+client+fake+tonic_client+tonic_server+gateway+openapi",
    )
    .unwrap();
    assert_eq!(every.artifacts, Artifact::ALL.into_iter().collect());
}

#[test]
fn every_key_parses() {
    let params = Params::parse(
        "artifacts=domain+server, messages=false,runtime_crate=crate::rt,include_file=lib_gen.rs,\
         extern_path=.google.type=::google_types,extern_path=.acme=crate::acme",
    )
    .unwrap();
    assert_eq!(
        params.artifacts,
        [Artifact::Domain, Artifact::Server].into_iter().collect()
    );
    assert!(!params.messages);
    assert_eq!(params.runtime_crate, "crate::rt");
    assert_eq!(params.include_file.as_deref(), Some("lib_gen.rs"));
    assert_eq!(
        params.extern_paths,
        vec![
            (".google.type".to_owned(), "::google_types".to_owned()),
            (".acme".to_owned(), "crate::acme".to_owned())
        ]
    );
    assert_eq!(Params::parse("include_file=").unwrap().include_file, None);
}

#[test]
fn switches_default_off_and_turn_on() {
    let defaults = Params::default();
    assert!(!defaults.default_stubs && !defaults.file_descriptor_set);
    assert!(!defaults.emit_unpopulated && !defaults.use_proto_names && !defaults.use_enum_numbers);
    let on = Params::parse(
        "default_stubs=true,file_descriptor_set=true,emit_unpopulated=true,\
         use_proto_names=true,use_enum_numbers=true",
    )
    .unwrap();
    assert!(on.default_stubs && on.file_descriptor_set && on.emit_unpopulated);
    assert!(on.use_proto_names && on.use_enum_numbers);
}

#[test]
fn attributes_repeat_and_keep_their_equals_signs_and_escaped_commas() {
    let params = Params::parse(
        "type_attribute=.=#[derive(Hash)],type_attribute=.a.B=#[derive(Eq\\, Hash)],\
         field_attribute=B.name=#[serde(rename = \"n\")] #[doc = \"x\"]",
    )
    .unwrap();
    assert_eq!(
        params.type_attributes,
        vec![
            (".".to_owned(), "#[derive(Hash)]".to_owned()),
            (".a.B".to_owned(), "#[derive(Eq, Hash)]".to_owned()),
        ]
    );
    assert_eq!(
        params.field_attributes,
        vec![(
            "B.name".to_owned(),
            "#[serde(rename = \"n\")] #[doc = \"x\"]".to_owned()
        )]
    );
    // Only `\,` is an escape: other backslashes stay, as in a string in the attribute.
    let params = Params::parse("type_attribute=.a=#[doc = \"a\\\\b\"]").unwrap();
    assert_eq!(params.type_attributes[0].1, "#[doc = \"a\\\\b\"]");
}

#[test]
fn bad_parameters_are_errors_that_name_them() {
    let cases = [
        ("colour=blue", "unknown plugin parameter `colour`"),
        ("messages", "has no value"),
        ("messages=yes", "`messages=yes` must be `true` or `false`"),
        ("artifacts=domain+rest", "unknown artifact `rest`"),
        (
            "artifacts=gateway",
            "artifact `gateway` implements or serves",
        ),
        ("artifacts=server", "add `domain`"),
        (
            "artifacts=domain+tonic-client",
            "unknown artifact `tonic-client`",
        ),
        (
            "artifacts=fake",
            "artifact `fake` implements or serves the domain trait",
        ),
        ("runtime_crate=not a path", "is not an absolute Rust path"),
        ("runtime_crate=rt", "is not an absolute Rust path"),
        ("include_file=../x.rs", "without directories"),
        ("extern_path=google=::g", "must start with `.`"),
        ("extern_path=.google", "must be `.proto.path=::rust::path`"),
        (
            "default_stubs=1",
            "`default_stubs=1` must be `true` or `false`",
        ),
        (
            "file_descriptor_set=true,include_file=",
            "`file_descriptor_set=true` puts the constant in the include file",
        ),
        (
            "type_attribute=#[derive(Hash)]",
            "must be `PATH=#[attribute]`",
        ),
        (
            "type_attribute==#[derive(Hash)]",
            "must be `PATH=#[attribute]`",
        ),
        ("field_attribute=.a.B.c", "`field_attribute=.a.B.c` must be"),
        (
            "type_attribute=.a.B=derive(Hash)",
            "is not a Rust attribute",
        ),
        ("type_attribute=.a.B=", "must be `PATH=#[attribute]`"),
        (
            "field_attribute=.a.B.c=#[serde(",
            "`field_attribute=.a.B.c=#[serde(`",
        ),
        // An unescaped comma ends the parameter inside the attribute: the error says how
        // to write one.
        (
            "type_attribute=.a.B=#[derive(Eq, Hash)]",
            "write a comma inside it as `\\,`",
        ),
    ];
    for (parameter, expected) in cases {
        let error = Params::parse(parameter).unwrap_err().to_string();
        assert!(error.contains(expected), "{parameter}: {error}");
    }
}

// PARAMETERS is the one table of the parameters: the tests below keep it true to the parser,
// the Builder and the rendered reference.

#[test]
fn keys_are_unique() {
    let mut seen = BTreeSet::new();
    for parameter in PARAMETERS {
        assert!(seen.insert(parameter.key), "`{}` twice", parameter.key);
    }
}

#[test]
fn every_parameter_has_an_example_that_parses_and_changes_the_params() {
    for parameter in PARAMETERS {
        let given = format!("{}={}", parameter.key, parameter.example);
        let params = Params::parse(&given).unwrap_or_else(|error| panic!("{given}: {error}"));
        // `wildcards_after_double_wildcard` too: deprecated, it changes no output, but its
        // field is still set.
        assert_ne!(params, Params::default(), "`{given}` changes nothing");
    }
}

#[test]
fn switches_take_true_and_false_only() {
    let switches = PARAMETERS
        .iter()
        .filter(|parameter| parameter.value == "`true` or `false`");
    for parameter in switches {
        let key = parameter.key;
        assert!(
            parameter.default == "`true`" || parameter.default == "`false`",
            "{key}"
        );
        for value in ["true", "false"] {
            Params::parse(&format!("{key}={value}"))
                .unwrap_or_else(|error| panic!("{key}={value}: {error}"));
        }
        let error = Params::parse(&format!("{key}=yes")).unwrap_err();
        assert!(
            error.to_string().contains("must be `true` or `false`"),
            "{error}"
        );
        // The documented default is the parsed one.
        let default = Params::parse(&format!("{key}={}", parameter.default.trim_matches('`')));
        assert_eq!(default.unwrap(), Params::default(), "{key}");
    }
}

#[test]
fn the_unknown_key_error_lists_exactly_the_tables_keys() {
    let keys: Vec<&str> = PARAMETERS.iter().map(|parameter| parameter.key).collect();
    for parameter in ["colour=blue", "tonic_server=true"] {
        let error = Params::parse(parameter).unwrap_err().to_string();
        let listed = error
            .split_once("(known: ")
            .and_then(|(_, listed)| listed.strip_suffix(')'))
            .unwrap_or_else(|| panic!("{error}"));
        assert_eq!(listed.split(", ").collect::<Vec<_>>(), keys);
    }
    let error = Params::parse("messages").unwrap_err().to_string();
    assert!(
        error.ends_with(&format!("(keys: {})", keys.join(", "))),
        "{error}"
    );
}

#[test]
fn the_artifacts_row_names_every_artifact_and_the_default_those_left_out() {
    let row = PARAMETERS
        .iter()
        .find(|parameter| parameter.key == "artifacts")
        .unwrap();
    for artifact in Artifact::ALL {
        let name = format!("`{}`", artifact.name());
        assert!(row.value.contains(&name), "value lacks {name}");
        assert!(row.description.contains(&name), "description lacks {name}");
        assert_eq!(
            row.default.contains(&name),
            !Artifact::DEFAULT.contains(&artifact),
            "the default ({}) and {name}",
            row.default
        );
    }
}

#[test]
fn builder_methods_exist() {
    let builder = include_str!("../builder.rs");
    for parameter in PARAMETERS {
        let methods: Vec<&str> = parameter
            .builder
            .split('`')
            .filter_map(|code| code.strip_prefix("Builder::"))
            .collect();
        assert_eq!(
            methods.is_empty(),
            parameter.builder.is_empty(),
            "{}: `{}`",
            parameter.key,
            parameter.builder
        );
        for method in methods {
            assert!(
                builder.contains(&format!("    pub fn {method}(")),
                "{}: no `Builder::{method}`",
                parameter.key
            );
        }
    }
}

#[test]
fn every_cell_is_filled_and_one_line() {
    for parameter in PARAMETERS {
        for text in [
            parameter.key,
            parameter.value,
            parameter.default,
            parameter.description,
            parameter.example,
        ] {
            assert!(!text.trim().is_empty(), "{}", parameter.key);
            assert!(!text.contains('\n'), "{}: {text}", parameter.key);
            assert!(!text.contains("  "), "{}: {text}", parameter.key);
        }
    }
}

#[test]
fn the_reference_page_has_its_title_notice_table_and_constraints() {
    let page = reference_markdown();
    assert!(
        page.starts_with(
            "# Plugin parameters\n\n<!-- Generated from PARAMETERS in \
             protoc-gen-rust-svc/src/params.rs by `cargo generate-docs`; do not edit. -->\n\n"
        ),
        "{page}"
    );
    assert!(page.ends_with('\n') && !page.ends_with("\n\n"));
    assert!(page.contains(
        "\n| key | value | default | Builder | description |\n| --- | --- | --- | --- | --- |\n"
    ));
    let rows: Vec<&str> = page
        .lines()
        .filter(|line| line.starts_with("| `"))
        .collect();
    assert_eq!(rows.len(), PARAMETERS.len());
    for (row, parameter) in rows.iter().zip(PARAMETERS) {
        assert!(
            row.starts_with(&format!("| `{}` | ", parameter.key)),
            "{row}"
        );
        // Six unescaped bars: five cells.
        let bars = row.replace("\\|", "").matches('|').count();
        assert_eq!(bars, 6, "{row}");
    }
    assert!(page.contains("`stub`, `server`, `client`, `fake` and `gateway` implement"));
    for word in [
        "`opt:`",
        "`--rust-svc_opt=`",
        "`--opt`",
        "`Builder::parameter`",
        "`\\,`",
    ] {
        assert!(page.contains(word), "{word}");
    }
    assert_eq!(page.matches("```").count() % 2, 0, "unclosed code block");
    // The guide compiles every chapter with a Rust block as a doctest of examples/services
    // (examples/services/tests/it/docs.rs); this page has none to compile.
    assert!(!page.contains("```rust"));
}

#[test]
fn cells_escape_bars_and_line_breaks() {
    assert_eq!(reference::cell("`a|b`\nc"), "`a\\|b` c");
}
