//! Errors from the embedded compiler (build.rs and `generate`, where users have no protoc) name
//! the place as `file:line:column`, show the source line with a caret, and say what to do.

use std::path::Path;

use protoc_gen_rust_svc::{Builder, Error};

use crate::common::root;

/// Compiles `name` (written with `text` into a fresh include directory) and returns the error.
fn compile_error(name: &str, text: &str, extra_includes: &[&Path]) -> (Error, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    let mut builder = Builder::new().include(dir.path());
    for include in extra_includes {
        builder = builder.include(include);
    }
    let error = builder
        .file(&path)
        .generate()
        .expect_err("the proto is wrong");
    (error, dir)
}

#[test]
fn a_syntax_error_names_line_and_column_and_shows_the_line() {
    let text = "syntax = \"proto3\";\npackage x;\nmessage A {\n  string a = 1\n}\n";
    let (error, _dir) = compile_error("x.proto", text, &[]);
    assert_eq!(
        error.to_string(),
        "\
x.proto:5:1: expected ';' or '[', but found '}'
  |
5 | }
  | ^ found here"
    );
    assert_eq!(error.location().unwrap().line, Some(5));
    assert_eq!(error.column(), Some(1));
}

#[test]
fn the_caret_is_under_the_span_within_its_line() {
    let text = "syntax = \"proto3\";\npackage x;\nmessage A { strin a = 1; }\n";
    let (error, _dir) = compile_error("x.proto", text, &[]);
    assert_eq!(
        error.to_string(),
        "\
x.proto:3:13: name 'strin' is not defined
  |
3 | message A { strin a = 1; }
  |             ^^^^^ found here"
    );
}

#[test]
fn a_file_that_ends_too_early_points_at_its_end() {
    let text = "syntax = \"proto3\";\npackage x;\nmessage A {\n  string a = 1;\n";
    let (error, _dir) = compile_error("x.proto", text, &[]);
    let rendered = error.to_string();
    assert!(
        rendered.starts_with("x.proto:4:16: expected "),
        "{rendered}"
    );
    assert!(
        rendered
            .ends_with("but reached end of file\n  |\n4 |   string a = 1;\n  |                ^"),
        "{rendered}"
    );
}

#[test]
fn a_duplicate_points_at_the_second_and_shows_the_first() {
    let text =
        "syntax = \"proto3\";\npackage x;\nmessage A {\n  string a = 1;\n  int32 a = 2;\n}\n";
    let (error, _dir) = compile_error("x.proto", text, &[]);
    // protox reports the clash of JSON names first, then the duplicate name itself.
    assert_eq!(
        error.to_string(),
        "\
x.proto:5:9: camel-case name of field 'a' conflicts with field 'a'
  |
4 |   string a = 1;
  |          - first defined here
5 |   int32 a = 2;
  |         ^ defined again here
x.proto:5:9: name 'x.A.a' is defined twice
  |
5 |   int32 a = 2;
  |         ^ defined again here"
    );
}

#[test]
fn a_typo_in_an_option_field_names_the_field_its_line_and_the_right_name() {
    let text = "\
syntax = \"proto3\";
package lib.v1;

import \"rust_svc/v1/options.proto\";

service S {
  option (rust_svc.v1.service) = {
    retry: { max_attempts: 3 }
    default_deadlin: { seconds: 5 }
  };
  rpc Get(Req) returns (Req);
}
message Req {}
";
    let (error, _dir) = compile_error("lib/v1/lib.proto", text, &[&root().join("proto")]);
    assert_eq!(
        error.to_string(),
        "\
lib/v1/lib.proto:9:5: invalid value of type 'rust_svc.v1.ServicePolicy' for option \
'(rust_svc.v1.service)': field 'default_deadlin' not found for message 'rust_svc.v1.ServicePolicy'
  |
9 |     default_deadlin: { seconds: 5 }
  |     ^^^^^^^^^^^^^^^
  = help: did you mean 'default_deadline'?"
    );
}

#[test]
fn an_unknown_field_far_from_any_lists_the_fields_and_is_found_past_comments_and_strings() {
    let text = "\
syntax = \"proto3\";
package lib.v1;
import \"rust_svc/v1/options.proto\";
service S {
  option (rust_svc.v1.service) = {
    /* nonsense */ retry: { retryable_status_codes: \"nonsense\" nonsense: 1 }
  };
  rpc Get(Req) returns (Req);
}
message Req {}
";
    let (error, _dir) = compile_error("lib/v1/lib.proto", text, &[&root().join("proto")]);
    assert_eq!(
        error.to_string(),
        "\
lib/v1/lib.proto:6:64: invalid value of type 'rust_svc.v1.ServicePolicy' for option \
'(rust_svc.v1.service)': field 'nonsense' not found for message 'rust_svc.v1.RetryPolicy'
  |
6 |     /* nonsense */ retry: { retryable_status_codes: \"nonsense\" nonsense: 1 }
  |                                                                ^^^^^^^^
  = help: the fields of rust_svc.v1.RetryPolicy are: max_attempts, initial_backoff, \
max_backoff, backoff_multiplier, retryable_status_codes"
    );
}

#[test]
fn a_typo_in_an_enum_value_of_an_option_suggests_the_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("paint.proto"),
        "\
syntax = \"proto3\";
package paint;
import \"google/protobuf/descriptor.proto\";
enum Color { COLOR_UNSPECIFIED = 0; GREEN = 1; }
message Paint { Color color = 1; }
extend google.protobuf.MessageOptions { Paint paint = 50000; }
",
    )
    .unwrap();
    let text = "\
syntax = \"proto3\";
package x;
import \"paint.proto\";
message A { option (paint.paint) = { color: GRENE }; }
";
    let (error, _dir) = compile_error("x.proto", text, &[dir.path()]);
    let rendered = error.to_string();
    assert!(
        rendered.starts_with("x.proto:4:45: invalid value of type 'paint.Paint'"),
        "{rendered}"
    );
    assert!(
        rendered.ends_with("^^^^^\n  = help: did you mean 'GREEN'?"),
        "{rendered}"
    );
}

/// How the hint names the repository, if the package says where it is.
fn repository() -> String {
    match env!("CARGO_PKG_REPOSITORY") {
        "" => String::new(),
        url => format!(" ({url})"),
    }
}

#[test]
fn a_missing_options_import_says_where_the_file_comes_from() {
    let text = "syntax = \"proto3\";\npackage x;\nimport \"rust_svc/v1/options.proto\";\n";
    let (error, dir) = compile_error("x.proto", text, &[]);
    assert_eq!(
        error.to_string(),
        format!(
            "\
x.proto:3:1: import 'rust_svc/v1/options.proto' not found
  |
3 | import \"rust_svc/v1/options.proto\";
  | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ imported here
  = note: searched the include paths ({}) and the compiler's built-in google/protobuf/*.proto
  = help: rust_svc/v1/options.proto comes with protoc-gen-rust-svc: it is in the proto/ \
directory of its repository{}; copy it into an include path as rust_svc/v1/options.proto, or \
add that proto/ directory as an include path",
            dir.path().display(),
            repository(),
        )
    );
}

#[test]
fn a_missing_import_lists_every_include_path() {
    let other = tempfile::tempdir().unwrap();
    let text = "syntax = \"proto3\";\npackage x;\nimport \"google/api/annotations.proto\";\n";
    let (error, dir) = compile_error("x.proto", text, &[other.path()]);
    let rendered = error.to_string();
    let searched = format!(
        "= note: searched the include paths ({}, {}) and",
        dir.path().display(),
        other.path().display()
    );
    assert!(rendered.contains(&searched), "{rendered}");
    assert!(
        rendered.contains("= help: google/api/annotations.proto is part of googleapis"),
        "{rendered}"
    );
}

#[test]
fn a_file_that_does_not_exist_is_no_such_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.proto");
    let error = Builder::new()
        .include(dir.path())
        .file(&missing)
        .generate()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("no such file: {}", missing.display())
    );

    let error = Builder::new()
        .include(dir.path())
        .file("proto/missing.proto")
        .generate()
        .unwrap_err();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        error.to_string(),
        format!(
            "no such file: proto/missing.proto (not in the current directory {}, nor under an \
             include path)",
            cwd.display()
        )
    );
}

#[test]
fn a_file_outside_every_include_path_lists_them() {
    let file_dir = tempfile::tempdir().unwrap();
    let include = tempfile::tempdir().unwrap();
    let file = file_dir.path().join("x.proto");
    std::fs::write(&file, "syntax = \"proto3\";\n").unwrap();
    let error = Builder::new()
        .include(include.path())
        .file(&file)
        .generate()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} is not under any include path ({})
  = help: add the directory its imports are relative to as an include path (-I DIR, or \
Builder::include)",
            file.display(),
            include.path().display()
        )
    );
}

#[test]
fn a_file_named_relative_to_an_include_path_is_found() {
    // A name under an include path, as protoc takes it.
    let relative = Path::new("inventory/v1/inventory.proto");
    let files = Builder::new()
        .include(root().join("proto"))
        .file(relative)
        .generate()
        .expect("a name under an include path is a file");
    assert!(!files.is_empty());
}

#[test]
fn writing_over_a_regular_file_says_it_is_not_a_directory() {
    // What `generate --out PATH` runs, with PATH a regular file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out");
    std::fs::write(&file, "").unwrap();
    let compile_into = |out: &Path| {
        Builder::new()
            .include(root().join("proto"))
            .file(root().join("proto/inventory/v1/inventory.proto"))
            .out_dir(out)
            .compile()
            .unwrap_err()
    };
    assert_eq!(
        compile_into(&file).to_string(),
        format!(
            "cannot write to {}: it is a file, not a directory",
            file.display()
        )
    );
    let below = file.join("generated");
    assert_eq!(
        compile_into(&below).to_string(),
        format!(
            "cannot create the directory {}: {} is a file, not a directory",
            below.display(),
            file.display()
        )
    );
}

#[test]
fn debug_reads_like_display() {
    let text = "syntax = \"proto3\";\npackage x;\nmessage A {\n  string a = 1\n}\n";
    let (error, _dir) = compile_error("x.proto", text, &[]);
    assert_eq!(format!("{error:?}"), error.to_string());
    let plain = Error::new("no .proto files to generate");
    assert_eq!(format!("{plain:?}"), "no .proto files to generate");
    // What a build script's `fn main() -> Result<(), Box<dyn Error>>` prints.
    let boxed: Box<dyn std::error::Error> = Box::new(plain);
    assert_eq!(format!("{boxed:?}"), "no .proto files to generate");
}
