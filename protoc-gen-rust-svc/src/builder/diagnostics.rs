//! The embedded compiler's (protox's) errors, printed as rustc prints its own:
//! `file:line:column: message`, the source line with a caret under the problem, and hints (the
//! include paths searched, where `rust_svc/v1/options.proto` comes from, the field that was
//! probably meant). protox's errors are miette diagnostics: their labels and source text give the
//! place; only its `Debug` output says which of two labels is the error's own.

use std::path::{Path, PathBuf};

use miette::{Diagnostic, SourceCode, SourceOffset, SourceSpan};
use prost_reflect::DescriptorPool;

use super::snippet::{self, Mark};
use crate::error::{Error, Location};

/// What the builder knows when the compiler fails.
pub(super) struct Context<'a> {
    pub includes: &'a [PathBuf],
    /// The file given to the builder that was being compiled.
    pub file: &'a Path,
    /// What the compiler built before it failed (the imports): names fields for suggestions.
    pub pool: &'a DescriptorPool,
}

/// The policy options' file, which users copy from this repository.
const OPTIONS_PROTO: &str = "rust_svc/v1/options.proto";

/// Fails for a file to compile that exists neither as given nor under an include path (the
/// compiler would say it "is not in any include path", as if the file were there).
pub(super) fn check_files_exist(files: &[PathBuf], includes: &[PathBuf]) -> Result<(), Error> {
    for file in files {
        let under_include =
            file.is_relative() && includes.iter().any(|dir| dir.join(file).is_file());
        if file.exists() || under_include {
            continue;
        }
        let mut message = format!("no such file: {}", file.display());
        if file.is_relative() {
            let cwd = std::env::current_dir()
                .map_or_else(|_| "?".into(), |dir| dir.display().to_string());
            message.push_str(&format!(
                " (not in the current directory {cwd}, nor under an include path)"
            ));
        }
        return Err(Error::new(message));
    }
    Ok(())
}

/// The generator's error for a compiler error.
pub(super) fn compile_error(error: &protox::Error, cx: &Context<'_>) -> Error {
    let Some(file) = error.file() else {
        if error.is_file_not_found() {
            return not_included(cx);
        }
        return Error::new(with_causes(error)).with_detail(snippet::render("", &[], &help(error)));
    };
    let mut message = with_causes(error);
    let mut notes = help(error);
    if let Some(import) = missing_import(&message) {
        notes.extend(import_hints(import, cx.includes));
    }
    let source = error.source_code().and_then(whole_text);
    let Some(source) = source else {
        // No text to excerpt, but protox may still know the place.
        let (line, column) = reported_position(error, file).unzip();
        let location = Location {
            file: file.to_owned(),
            line: line.and_then(|line| u32::try_from(line).ok()),
        };
        let column = column.and_then(|column| u32::try_from(column).ok());
        return Error::in_source(location, column, message).with_detail(snippet::render(
            "",
            &[],
            &notes,
        ));
    };
    let mut marks = marks(error, &source, file);
    if message.contains("found 'edition'") {
        message = EDITIONS_UNSUPPORTED.to_owned();
        notes.clear();
    }
    if let Some(inner) = error.diagnostic_source() {
        // An option's value failed to parse: protox points at the whole option and keeps the
        // reason (an unknown field, say) in an inner diagnostic over the value's text alone.
        message = format!("{message}: {inner}");
        if let Some(primary) = marks.iter_mut().find(|mark| mark.primary)
            && let Some(start) = nested_start(&source, primary, inner)
        {
            *primary = Mark {
                start,
                len: inner_label(inner).map_or(1, |span| span.len()),
                label: None,
                primary: true,
            };
        }
        notes.extend(suggestion(&inner.to_string(), cx.pool));
    }
    if marks.is_empty() && message.ends_with("reached end of file") {
        let end = source.trim_end().len();
        marks.push(Mark {
            start: end,
            len: 0,
            label: None,
            primary: true,
        });
    }
    let position = marks
        .iter()
        .find(|mark| mark.primary)
        .map(|mark| snippet::line_column(&source, mark.start));
    let location = Location {
        file: file.to_owned(),
        line: position.map(|(line, _)| line),
    };
    let mut detail = snippet::render(&source, &marks, &notes);
    for related in error.related().into_iter().flatten() {
        detail.extend(related_error(related, &source, file));
    }
    Error::in_source(location, position.map(|(_, column)| column), message).with_detail(detail)
}

/// What the builder says of a file written with editions, which protox does not parse: one
/// line, with the ways that work.
const EDITIONS_UNSUPPORTED: &str = "this file uses editions (`edition = ...`), which the \
    embedded compiler does not parse yet: compile it with protoc 27 or later \
    (`Builder::protoc`, `generate --protoc`), or generate with buf or protoc through the plugin";

/// The error's message, followed by the causes protox leaves out of it (the I/O error behind
/// "error opening file").
fn with_causes(error: &protox::Error) -> String {
    let mut message = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        let text = error.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = error.source();
    }
    message
}

fn help(error: &dyn Diagnostic) -> Vec<String> {
    error
        .help()
        .map(|help| format!("help: {help}"))
        .into_iter()
        .collect()
}

/// The error's spans; the primary one is the error's own place.
fn marks(error: &protox::Error, source: &str, file: &str) -> Vec<Mark> {
    let mut marks: Vec<Mark> = error
        .labels()
        .into_iter()
        .flatten()
        .map(|label| Mark {
            start: label.offset(),
            len: label.len(),
            label: label.label().map(str::to_owned),
            primary: false,
        })
        .collect();
    // With two labels (a duplicate and its first definition) the position protox reports says
    // which is the error's own; otherwise the first is.
    let reported = reported_position(error, file)
        .map(|(line, column)| SourceOffset::from_location(source, line, column).offset());
    let primary = marks
        .iter()
        .position(|mark| Some(mark.start) == reported)
        .unwrap_or(0);
    if let Some(mark) = marks.get_mut(primary) {
        mark.primary = true;
    }
    marks
}

/// The 1-based line and column protox's `Debug` form starts with (`file:line:column: …`).
fn reported_position(error: &protox::Error, file: &str) -> Option<(usize, usize)> {
    let debug = format!("{error:?}");
    let rest = debug.strip_prefix(file)?.strip_prefix(':')?;
    let (line, rest) = rest.split_once(':')?;
    let (column, _) = rest.split_once(':')?;
    Some((line.parse().ok()?, column.parse().ok()?))
}

/// A further error protox found in the same file, with its own excerpt.
fn related_error(related: &dyn Diagnostic, source: &str, file: &str) -> Vec<String> {
    // prost-reflect lists an earlier definition before the place of the error.
    let Some(label) = related.labels().into_iter().flatten().last() else {
        return vec![format!("{file}: {related}")];
    };
    let (line, column) = snippet::line_column(source, label.offset());
    let mark = Mark {
        start: label.offset(),
        len: label.len(),
        label: label.label().map(str::to_owned),
        primary: true,
    };
    let mut lines = vec![format!("{file}:{line}:{column}: {related}")];
    lines.extend(snippet::render(source, &[mark], &help(related)));
    lines
}

/// All of a diagnostic's source text.
fn whole_text(code: &dyn SourceCode) -> Option<String> {
    let contents = code
        .read_span(&SourceSpan::from(0..0), usize::MAX, usize::MAX)
        .ok()?;
    String::from_utf8(contents.data().to_vec()).ok()
}

fn inner_label(inner: &dyn Diagnostic) -> Option<miette::LabeledSpan> {
    inner.labels()?.next()
}

/// Where in the file the inner diagnostic's span is. Its text is the option's value as protox
/// re-printed it (tokens joined by single spaces), so the span is found by token: the `n`th
/// occurrence of its text there is the `n`th in the option as written.
fn nested_start(source: &str, outer: &Mark, inner: &dyn Diagnostic) -> Option<usize> {
    let value = whole_text(inner.source_code()?)?;
    let span = inner_label(inner)?;
    let token = value.get(span.offset()..span.offset() + span.len())?;
    if token.trim().is_empty() {
        return None;
    }
    let nth = occurrences(&value[..span.offset()], token).len();
    let option = source.get(outer.start..outer.start + outer.len)?;
    // The value starts at the first brace, after the option's name.
    let body = option.find('{')?;
    let found = *occurrences(&option[body..], token).get(nth)?;
    Some(outer.start + body + found)
}

/// Byte offsets of `token` in `text` as a whole word, outside comments and (unless the token is
/// itself a string) outside string literals.
fn occurrences(text: &str, token: &str) -> Vec<usize> {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let quoted = token.starts_with(['"', '\'']);
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(c) = text[at..].chars().next() {
        let rest = &text[at..];
        let skip = if rest.starts_with("//") {
            rest.find('\n').unwrap_or(rest.len())
        } else if let Some(comment) = rest.strip_prefix("/*") {
            comment.find("*/").map_or(rest.len(), |end| end + 4)
        } else if !quoted && (c == '"' || c == '\'') {
            string_len(rest)
        } else if rest.starts_with(token)
            && !(token.starts_with(word) && text[..at].ends_with(word))
            && !(token.ends_with(word) && rest[token.len()..].starts_with(word))
        {
            found.push(at);
            token.len()
        } else {
            c.len_utf8()
        };
        at += skip;
    }
    found
}

/// The length of the string literal `text` starts with (to its closing quote, or its line's end).
fn string_len(text: &str) -> usize {
    let quote = text.as_bytes()[0];
    let mut escaped = false;
    for (at, &byte) in text.as_bytes().iter().enumerate().skip(1) {
        match byte {
            b'\n' => return at,
            b'\\' if !escaped => escaped = true,
            _ if byte == quote && !escaped => return at + 1,
            _ => escaped = false,
        }
    }
    text.len()
}

/// `help: did you mean …` for an unknown field or enum value in an option's value.
fn suggestion(inner: &str, pool: &DescriptorPool) -> Option<String> {
    if let Some((field, message)) = between(inner, "field '", "' not found for message '") {
        let message = pool.get_message_by_name(message)?;
        let names: Vec<String> = message.fields().map(|f| f.name().to_owned()).collect();
        return Some(did_you_mean(field, &names, "fields", message.full_name()));
    }
    if let Some((value, name)) = between(inner, "value '", "' was not found for enum '") {
        let enumeration = pool.get_enum_by_name(name)?;
        let names: Vec<String> = enumeration.values().map(|v| v.name().to_owned()).collect();
        return Some(did_you_mean(
            value,
            &names,
            "values",
            enumeration.full_name(),
        ));
    }
    None
}

/// The two quoted names in `{prefix}{first}{middle}{second}'`.
fn between<'a>(text: &'a str, prefix: &str, middle: &str) -> Option<(&'a str, &'a str)> {
    let (first, second) = text.strip_prefix(prefix)?.split_once(middle)?;
    Some((first, second.strip_suffix('\'')?))
}

fn did_you_mean(unknown: &str, names: &[String], kind: &str, owner: &str) -> String {
    match closest(unknown, names) {
        Some(name) => format!("help: did you mean '{name}'?"),
        None => format!("help: the {kind} of {owner} are: {}", names.join(", ")),
    }
}

/// The name nearest `unknown` by edit distance, if near enough to be a typo (a third of its
/// length, as rustc allows).
fn closest<'a>(unknown: &str, names: &'a [String]) -> Option<&'a str> {
    let limit = (unknown.chars().count() / 3).max(1);
    names
        .iter()
        .map(|name| {
            let distance = if name.eq_ignore_ascii_case(unknown) {
                0
            } else {
                edit_distance(unknown, name)
            };
            (distance, name)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.as_str())
}

/// Edit distance in characters, counting a swap of two neighbours as one edit (optimal string
/// alignment): `retyr` is one typo away from `retry`, not two.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // d[i][j]: distance between the first i characters of a and the first j of b.
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The name in protox's "import '…' not found".
fn missing_import(message: &str) -> Option<&str> {
    message
        .strip_prefix("import '")?
        .strip_suffix("' not found")
}

fn import_hints(import: &str, includes: &[PathBuf]) -> Vec<String> {
    let mut notes = vec![format!("note: {}", searched(includes))];
    let origin = if import == OPTIONS_PROTO {
        "comes with protoc-gen-rust-svc: it is in the proto/ directory of its repository"
    } else if import.starts_with("google/api/") {
        "is part of googleapis; protoc-gen-rust-svc's repository has a copy in its proto/ directory"
    } else {
        return notes;
    };
    // Users who installed the generator with cargo have no checkout to look in.
    let repository = match env!("CARGO_PKG_REPOSITORY") {
        "" => String::new(),
        url => format!(" ({url})"),
    };
    notes.push(format!(
        "help: {import} {origin}{repository}; copy it into an include path as {import}, or add \
         that proto/ directory as an include path"
    ));
    notes
}

fn searched(includes: &[PathBuf]) -> String {
    if includes.is_empty() {
        return "no include paths were given (-I DIR, or Builder::include); only the compiler's \
                built-in google/protobuf/*.proto were searched"
            .to_owned();
    }
    let list: Vec<String> = includes
        .iter()
        .map(|dir| dir.display().to_string())
        .collect();
    format!(
        "searched the include paths ({}) and the compiler's built-in google/protobuf/*.proto",
        list.join(", ")
    )
}

/// A file that exists, but under none of the include paths.
fn not_included(cx: &Context<'_>) -> Error {
    let list: Vec<String> = cx
        .includes
        .iter()
        .map(|dir| dir.display().to_string())
        .collect();
    let message = if list.is_empty() {
        format!(
            "{} is not under any include path: none were given",
            cx.file.display()
        )
    } else {
        format!(
            "{} is not under any include path ({})",
            cx.file.display(),
            list.join(", ")
        )
    };
    let help = "help: add the directory its imports are relative to as an include path (-I DIR, \
                or Builder::include)"
        .to_owned();
    Error::new(message).with_detail(snippet::render("", &[], &[help]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("default_deadlin", "default_deadline"), 1);
        assert_eq!(edit_distance("retyr", "retry"), 1);
        assert_eq!(edit_distance("GRENE", "GREEN"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_names_only_near_ones() {
        let names = ["default_deadline", "retry", "retry_throttling"].map(String::from);
        assert_eq!(closest("default_deadlin", &names), Some("default_deadline"));
        assert_eq!(closest("RETRY", &names), Some("retry"));
        assert_eq!(closest("circuit", &names), None);
    }

    #[test]
    fn occurrences_are_whole_words_outside_comments_and_strings() {
        let text = "{ // retry\n retry_x: 1 /* retry */ s: \"retry\" retry: 2 }";
        assert_eq!(occurrences(text, "retry"), [text.rfind("retry").unwrap()]);
        assert_eq!(
            occurrences(text, "\"retry\""),
            [text.find("\"retry\"").unwrap()]
        );
    }
}
