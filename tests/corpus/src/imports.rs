//! The imports of a `.proto` file, read from its source text.
//!
//! Which files to leave out, and which files each crate needs, must be known before anything is
//! compiled: a file with a missing import does not compile at all, so the compiler cannot be
//! asked. The source is enough, because imports are simple statements:
//! `import "x";`, `import public "x";` and `import weak "x";`.

/// The files that `source` imports, in order of appearance.
pub fn parse_imports(source: &str) -> Vec<String> {
    let code = strip_comments(source);
    let mut imports = Vec::new();
    for line in code.lines() {
        // Imports are statements of their own, so only statements at the start of a line (or
        // following another import on the same line) are looked at.
        let mut rest = line;
        while let Some((path, after)) = parse_import_statement(rest) {
            imports.push(path.to_owned());
            rest = after;
        }
    }
    imports
}

/// Parses `import [public|weak] "path";` at the start of `text`, returning the path and the text
/// after the semicolon.
fn parse_import_statement(text: &str) -> Option<(&str, &str)> {
    let mut rest = strip_keyword(text.trim_start(), "import")?;
    for modifier in ["public", "weak"] {
        if let Some(after) = strip_keyword(rest, modifier) {
            rest = after;
            break;
        }
    }
    let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let literal = &rest[quote.len_utf8()..];
    let end = literal.find(quote)?;
    let after = literal[end + quote.len_utf8()..]
        .trim_start()
        .strip_prefix(';')?;
    Some((&literal[..end], after))
}

/// Strips `keyword` and the whitespace after it, if `text` starts with it as a whole word
/// (`imports = 1;` is a field, not an import).
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(keyword)?;
    let whole_word = rest.starts_with(|c: char| c.is_whitespace() || matches!(c, '"' | '\''));
    whole_word.then(|| rest.trim_start())
}

/// `source` without its `//` and `/* */` comments, keeping line breaks. String literals are
/// copied as they are: HTTP rules such as `"/v1/{parent=projects/*}/things"` hold `/*`.
fn strip_comments(source: &str) -> String {
    let mut code = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                code.push(c);
                while let Some(inside) = chars.next() {
                    code.push(inside);
                    if inside == '\\' {
                        code.extend(chars.next());
                    } else if inside == c || inside == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                if chars.by_ref().any(|skipped| skipped == '\n') {
                    code.push('\n');
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                code.push(' ');
                let mut previous = '\0';
                for skipped in chars.by_ref() {
                    if previous == '*' && skipped == '/' {
                        break;
                    }
                    if skipped == '\n' {
                        code.push('\n');
                    }
                    previous = skipped;
                }
            }
            _ => code.push(c),
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_public_and_weak_imports() {
        let source = r#"syntax = "proto3";

package a.v1;

import "google/api/annotations.proto";
import public "a/v1/common.proto";
  import weak 'a/v1/legacy.proto' ;
import"a/v1/tight.proto";
"#;
        assert_eq!(
            parse_imports(source),
            [
                "google/api/annotations.proto",
                "a/v1/common.proto",
                "a/v1/legacy.proto",
                "a/v1/tight.proto"
            ]
        );
    }

    #[test]
    fn reads_several_imports_on_one_line() {
        assert_eq!(
            parse_imports(r#"import "a.proto"; import "b.proto"; // and no more"#),
            ["a.proto", "b.proto"]
        );
    }

    #[test]
    fn ignores_commented_out_imports() {
        let source = r#"// import "line.proto";
/* import "block.proto";
   import "block2.proto"; */ import "after_block.proto";
/**/import "empty_block.proto";
"#;
        assert_eq!(
            parse_imports(source),
            ["after_block.proto", "empty_block.proto"]
        );
    }

    #[test]
    fn comment_markers_inside_strings_are_not_comments() {
        let source = r#"option (google.api.http) = { get: "/v1/{name=projects/*}" };
import "a.proto";
option x = "// not a comment"; import "not_at_line_start.proto";
"#;
        assert_eq!(parse_imports(source), ["a.proto"]);
    }

    #[test]
    fn ignores_things_that_only_look_like_imports() {
        let source = r#"message M {
  string imports = 1;
  importer.Thing thing = 2;
}
import "unterminated.proto
import "no_semicolon.proto"
import public;
"#;
        assert!(parse_imports(source).is_empty());
    }
}
