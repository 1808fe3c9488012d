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
