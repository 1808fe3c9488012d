//! Proto comments as OpenAPI descriptions.

use std::cell::RefCell;
use std::collections::HashMap;

use prost_reflect::FileDescriptor;

use crate::comments::SourceInfos;

/// Proto comments as OpenAPI descriptions (CommonMark), by file and element path.
///
/// Each file's comments are indexed on first use: looking each element up in the file's list
/// of locations would be quadratic, and googleapis files have thousands.
pub(super) struct Comments<'a> {
    sources: &'a SourceInfos,
    files: RefCell<HashMap<String, HashMap<Vec<i32>, String>>>,
}

impl<'a> Comments<'a> {
    pub(super) fn new(sources: &'a SourceInfos) -> Self {
        Self {
            sources,
            files: Default::default(),
        }
    }

    pub(super) fn of(&self, file: &FileDescriptor, path: &[i32]) -> Option<String> {
        let mut files = self.files.borrow_mut();
        let index = files.entry(file.name().to_owned()).or_insert_with(|| {
            let Some(info) = self.sources.get(file.name()) else {
                return HashMap::new();
            };
            info.location
                .iter()
                .filter_map(|location| {
                    let text =
                        description(location.leading_comments(), location.trailing_comments())?;
                    Some((location.path.clone(), text))
                })
                .collect()
        });
        index.get(path).cloned()
    }
}

/// A description from a leading and a trailing comment: the common indentation removed,
/// `(-- … --)` spans dropped (googleapis' comments for API reviewers, which its public
/// documentation leaves out), blank lines trimmed; `None` if nothing is left.
fn description(leading: &str, trailing: &str) -> Option<String> {
    let mut text = leading.replace("\r\n", "\n").replace('\r', "\n");
    let trailing = trailing.replace("\r\n", "\n").replace('\r', "\n");
    if !trailing.trim().is_empty() {
        if !text.trim().is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&trailing);
    }
    while let Some(start) = text.find("(--") {
        let Some(length) = text[start..].find("--)") else {
            break;
        };
        text.replace_range(start..start + length + 3, "");
    }
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let indent = lines
        .iter()
        .filter(|line| !line.is_empty())
        .map(|line| line.len() - line.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    // One blank line between paragraphs, however many the comments (or a dropped span) left.
    let mut kept: Vec<&str> = Vec::new();
    for line in &lines {
        let line = line.get(indent..).unwrap_or("");
        if !(line.is_empty() && kept.last().is_none_or(|last| last.is_empty())) {
            kept.push(line);
        }
    }
    while kept.last().is_some_and(|line| line.is_empty()) {
        kept.pop();
    }
    (!kept.is_empty()).then(|| kept.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_dedented_and_trimmed() {
        let cases = [
            (" One line.\n", "", Some("One line.")),
            (
                " First.\n\n Second:\n   indented\n",
                "",
                Some("First.\n\nSecond:\n  indented"),
            ),
            (" Leading.\n", " Trailing.\n", Some("Leading.\n\nTrailing.")),
            ("", " Trailing only.\n", Some("Trailing only.")),
            (" a\r\n b\r c\n", "", Some("a\nb\nc")),
            (
                " Public.\n (-- api-linter: core::0131=disabled\n     aip.dev/not-precedent --)\n",
                "",
                Some("Public."),
            ),
            (" (-- internal --)\n", "", None),
            (" A.\n\n (-- internal --)\n\n B.\n", "", Some("A.\n\nB.")),
            ("\n  \n", "", None),
        ];
        for (leading, trailing, expected) in cases {
            assert_eq!(
                description(leading, trailing).as_deref(),
                expected,
                "{leading:?} {trailing:?}"
            );
        }
    }
}
