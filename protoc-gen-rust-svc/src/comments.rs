//! Proto comments to rustdoc, made safe.
//!
//! Rustdoc treats comment text as Markdown and compiles code blocks as doctests, which proto
//! comments never meant: a fenced or indented block becomes a `text` block, brackets that would
//! become intra-doc links are escaped, bare URLs become autolinks, and `<` that would open an
//! HTML tag is escaped.

mod markdown;

use std::collections::HashMap;

use prost_types::SourceCodeInfo;

use markdown::{Lists, decode_entities};

/// The comments attached to one proto element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comments {
    /// The comment above the element.
    pub leading: String,
    /// The comment after the element on the same or the next line.
    pub trailing: String,
}

/// The source locations (comments, lines) of every file, by file name.
///
/// They are kept apart from the descriptor pool, which gets the files without them: the pool
/// would copy them several times, and at googleapis scale they are most of the bytes (see
/// bench/RESULTS.md).
#[derive(Debug, Default)]
pub struct SourceInfos(HashMap<String, SourceCodeInfo>);

impl SourceInfos {
    /// Records `file`'s source locations.
    pub fn insert(&mut self, file: String, info: SourceCodeInfo) {
        self.0.insert(file, info);
    }

    /// The source locations of `file`, if the request has them.
    pub fn get(&self, file: &str) -> Option<&SourceCodeInfo> {
        self.0.get(file)
    }

    /// The comments and the 1-based line of the element at `path` in `file`.
    pub fn find(&self, file: &str, path: &[i32]) -> (Comments, Option<u32>) {
        Comments::find(self.get(file), path)
    }
}

impl Comments {
    /// The comments and the 1-based line of the element at `path`, from a file's `info`.
    pub fn find(info: Option<&SourceCodeInfo>, path: &[i32]) -> (Self, Option<u32>) {
        let location =
            info.and_then(|info| info.location.iter().find(|location| location.path == path));
        match location {
            None => (Self::default(), None),
            Some(location) => (
                Self {
                    leading: location.leading_comments().to_owned(),
                    trailing: location.trailing_comments().to_owned(),
                },
                location.span.first().map(|line| (*line).max(0) as u32 + 1),
            ),
        }
    }

    /// Sanitized rustdoc lines, each to be emitted as `#[doc = "…"]`.
    pub fn rustdoc(&self) -> Vec<String> {
        let (leading, trailing) = (
            unify_line_breaks(&self.leading),
            unify_line_breaks(&self.trailing),
        );
        let mut text: Vec<&str> = leading.lines().collect();
        if !trailing.trim().is_empty() {
            if !text.is_empty() {
                text.push("");
            }
            text.extend(trailing.lines());
        }
        while text.last().is_some_and(|line| line.trim().is_empty()) {
            text.pop();
        }
        while text.first().is_some_and(|line| line.trim().is_empty()) {
            text.remove(0);
        }
        sanitize(&text, Escape::Markdown)
    }
}

/// Code blocks in a raw proto comment turned into `text` blocks, the prose left as it is: what
/// prost-build gets, since it escapes links and URLs itself but lets code blocks run as doctests.
pub fn neutralize_code_blocks(comment: &str) -> String {
    let comment = unify_line_breaks(comment);
    let lines: Vec<&str> = comment.lines().collect();
    let lines = for_prost(sanitize(&lines, Escape::None));
    let mut text = lines.join("\n");
    if comment.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Reference-style links to proto elements (`[HttpRule][google.api.HttpRule]`, `[Foo][]`),
/// which googleapis writes everywhere: rustdoc would take the reference for an intra-doc link
/// that resolves nowhere (a warning, an error under `-D warnings`), so only the text is kept.
fn unlink_references(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            break;
        };
        let text = &after[..close];
        let tail = &after[close + 1..];
        let reference = tail
            .strip_prefix('[')
            .and_then(|tail| tail.find(']').map(|end| (&tail[..end], &tail[end + 1..])));
        match reference {
            Some((target, remainder))
                if !text.contains('[') && !target.contains(char::is_whitespace) =>
            {
                out.push_str(&rest[..open]);
                out.push_str(text);
                rest = remainder;
            }
            _ => {
                out.push_str(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `lines` (each a space and then the line as `sanitize` indented it) made so that prost-build
/// writes them indented as they are. prost-build writes one more space before a line that
/// starts with two or more (for list continuations, it says), and none before one that starts
/// with one: so a line indented by one more than the text's margin cannot keep its place, and
/// the others move right by one. Without such a line, the lines indented past the margin lose
/// the space prost-build adds back; with one, every line gets a space more, prost-build adds
/// its own to all of them, and rustdoc's unindenting takes the common margin off again.
fn for_prost(lines: Vec<String>) -> Vec<String> {
    let lines: Vec<String> = lines.iter().map(|line| unlink_references(line)).collect();
    let one_past_margin = lines
        .iter()
        .any(|line| line.starts_with("  ") && !line.starts_with("   "));
    if one_past_margin {
        return lines
            .into_iter()
            .map(|line| {
                if line.is_empty() {
                    line
                } else {
                    format!(" {line}")
                }
            })
            .collect();
    }
    lines
        .into_iter()
        .map(|line| match line.strip_prefix(' ') {
            Some(rest) if rest.starts_with(' ') => rest.to_owned(),
            _ => line,
        })
        .collect()
}

/// `\r\n` and a lone `\r` (old Mac line ends, or a stray byte) as `\n`: `str::lines` keeps a
/// lone `\r`, and Rust rejects one in a doc comment (found by fuzzing).
fn unify_line_breaks(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        text.into()
    }
}

/// Whether prose lines are escaped for rustdoc.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    Markdown,
    None,
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn sanitize(lines: &[&str], escape: Escape) -> Vec<String> {
    let common = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| indentation(line))
        .min()
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut in_fence = false;
    let mut in_indented = false;
    let mut previous_blank = true;
    let mut lists = Lists::default();
    let mut in_pre = false;
    for raw in lines {
        let line = raw.get(common..).unwrap_or("").trim_end();
        let trimmed = line.trim_start();
        // googleapis writes preformatted examples as HTML (`<pre><code>…</code></pre>`, with
        // entities for brackets): a `text` block, so that their lines are neither read as list
        // items (which re-indented the prose after them into code that ran as a doctest) nor
        // escaped.
        if in_pre {
            match line.find("</pre>") {
                Some(end) => {
                    let code = &line[..end];
                    let code = code.strip_suffix("</code>").unwrap_or(code);
                    if !code.trim().is_empty() {
                        out.push(format!(" {}", decode_entities(code)));
                    }
                    out.push(" ```".to_owned());
                    in_pre = false;
                    lists = Lists::default();
                    let after = line[end + "</pre>".len()..].trim();
                    if !after.is_empty() {
                        out.push(format!(" {after}"));
                    }
                    previous_blank = after.is_empty();
                }
                None => out.push(format!(" {}", decode_entities(line))),
            }
            continue;
        }
        if !in_fence && !in_indented && trimmed.starts_with("<pre>") && !trimmed.contains("</pre>")
        {
            let code = &trimmed["<pre>".len()..];
            let code = code.strip_prefix("<code>").unwrap_or(code);
            out.push(" ```text".to_owned());
            if !code.trim().is_empty() {
                out.push(format!(" {}", decode_entities(code)));
            }
            in_pre = true;
            continue;
        }
        let aligned;
        let line = if in_fence || in_indented || line.is_empty() {
            line
        } else {
            aligned = lists.align(line, previous_blank);
            aligned.as_str()
        };
        if in_indented && !line.is_empty() && indentation(line) < 4 {
            close_indented_block(&mut out);
            in_indented = false;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            // Every fence becomes (or closes) a `text` block: never a doctest.
            out.push(if in_fence {
                " ```".to_owned()
            } else {
                " ```text".to_owned()
            });
            in_fence = !in_fence;
        } else if in_fence {
            out.push(format!(" {line}"));
        } else if in_indented {
            out.push(match line.get(4..) {
                Some(code) => format!(" {code}"),
                None => String::new(),
            });
        } else if indentation(line) >= 4 && previous_blank {
            out.push(" ```text".to_owned());
            out.push(format!(" {}", &line[4..]));
            in_indented = true;
        } else if line.is_empty() {
            out.push(String::new());
        } else if escape == Escape::Markdown {
            out.push(format!(" {}", escape_markdown(line)));
        } else {
            out.push(format!(" {line}"));
        }
        previous_blank = line.is_empty();
    }
    if in_indented {
        close_indented_block(&mut out);
        while out.last().is_some_and(String::is_empty) {
            out.pop();
        }
    }
    if in_fence || in_pre {
        out.push(" ```".to_owned());
    }
    out
}

/// Closes an indented block, moving the blank lines that ended it after the fence.
fn close_indented_block(out: &mut Vec<String>) {
    let mut blanks = 0;
    while out.last().is_some_and(String::is_empty) {
        out.pop();
        blanks += 1;
    }
    out.push(" ```".to_owned());
    out.extend(std::iter::repeat_n(String::new(), blanks));
}

/// Escapes one line of prose: brackets, `<`, and bare URLs; text in backticks is left alone.
fn escape_markdown(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut in_code = false;
    let mut rest = line;
    while let Some(ch) = rest.chars().next() {
        if ch == '`' {
            in_code = !in_code;
            out.push(ch);
            rest = &rest[1..];
            continue;
        }
        if !in_code && (rest.starts_with("<http://") || rest.starts_with("<https://")) {
            // Already an autolink: keep it whole.
            if let Some(end) = rest.find('>') {
                out.push_str(&rest[..=end]);
                rest = &rest[end + 1..];
                continue;
            }
        }
        if !in_code && (rest.starts_with("http://") || rest.starts_with("https://")) {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`' | ')' | ']'))
                .unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', '\'']);
            out.push('<');
            out.push_str(url);
            out.push('>');
            rest = &rest[url.len()..];
            continue;
        }
        match ch {
            '[' | ']' if !in_code => {
                out.push('\\');
                out.push(ch);
            }
            '<' if !in_code => out.push_str("&lt;"),
            _ => out.push(ch),
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(leading: &str) -> Vec<String> {
        Comments {
            leading: leading.to_owned(),
            trailing: String::new(),
        }
        .rustdoc()
    }

    #[test]
    fn prose_is_escaped() {
        let cases = [
            (" See [foo] and [a](b).\n", " See \\[foo\\] and \\[a\\](b)."),
            (" A Vec<T> of `Vec<T>`.\n", " A Vec&lt;T> of `Vec<T>`."),
            (
                " Docs: https://example.com/x.\n",
                " Docs: <https://example.com/x>.",
            ),
            (
                " Already <https://example.com>\n",
                " Already <https://example.com>",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(doc(input), vec![expected.to_owned()], "{input:?}");
        }
    }

    #[test]
    fn reference_links_to_proto_elements_keep_their_text() {
        assert_eq!(
            unlink_references(" A [HttpRule][google.api.HttpRule], see [Foo][] and [x](y)."),
            " A HttpRule, see Foo and [x](y)."
        );
        assert_eq!(unlink_references(" [a] b [c"), " [a] b [c");
    }

    #[test]
    fn list_continuations_are_indented_to_their_item() {
        let text = "\
Rules
1. Leaf fields
   message) are classified:
   - Fields referred by the body. They
   are passed via the HTTP
     request body.
 2. If the body is
    the whole message.";
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            sanitize(&lines, Escape::None),
            [
                " Rules",
                " 1. Leaf fields",
                "    message) are classified:",
                "    - Fields referred by the body. They",
                "      are passed via the HTTP",
                "      request body.",
                "  2. If the body is",
                "     the whole message.",
            ]
        );
        // After a blank line, text left of the item's column ends the list.
        let lines = ["- item", "  more", "", "after"];
        assert_eq!(
            sanitize(&lines, Escape::None),
            [" - item", "   more", "", " after"]
        );
    }

    #[test]
    fn html_preformatted_blocks_become_text_blocks_and_end_any_list() {
        // google/api/documentation.proto: YAML whose `- name:` lines are no list items, and the
        // prose after `</code></pre>` is prose, not code.
        let text = "\
Example:
<pre><code>documentation:
  pages:
  - name: Overview
    content: &#40;== include overview.md ==&#41;
</code></pre>
Documentation is provided in markdown syntax.
A reference: <pre><code>&#91;name]&#91;]</code></pre>";
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            sanitize(&lines, Escape::None),
            [
                " Example:",
                " ```text",
                " documentation:",
                "   pages:",
                "   - name: Overview",
                "     content: (== include overview.md ==)",
                " ```",
                " Documentation is provided in markdown syntax.",
                " A reference: <pre><code>&#91;name]&#91;]</code></pre>",
            ]
        );
        assert_eq!(
            decode_entities("a &#x5B; &lt;b&gt; &amp; &nope; &"),
            "a [ <b> & &nope; &"
        );
    }

    #[test]
    fn fences_become_text_blocks() {
        let lines = doc(" Example:\n ```rust\n let x = 1;\n ```\n done\n");
        assert_eq!(
            lines,
            [" Example:", " ```text", " let x = 1;", " ```", " done"]
        );
    }

    #[test]
    fn indented_blocks_become_text_blocks() {
        let lines = doc(" Call it like:\n\n     foo(bar)\n     baz()\n\n After.\n");
        assert_eq!(
            lines,
            [
                " Call it like:",
                "",
                " ```text",
                " foo(bar)",
                " baz()",
                " ```",
                "",
                " After."
            ]
        );
    }

    #[test]
    fn an_unclosed_fence_is_closed() {
        assert_eq!(doc(" ```\n code\n"), [" ```text", " code", " ```"]);
    }

    #[test]
    fn prost_gets_code_blocks_neutralized_and_prose_untouched() {
        let raw = " See [x].\n ```\n code()\n ```\n";
        assert_eq!(
            neutralize_code_blocks(raw),
            " See [x].\n ```text\n code()\n ```\n"
        );
        assert_eq!(neutralize_code_blocks(" plain\n"), " plain\n");
    }

    #[test]
    fn trailing_comments_follow_leading_ones() {
        let comments = Comments {
            leading: " Leading.\n".to_owned(),
            trailing: " Trailing.\n".to_owned(),
        };
        assert_eq!(comments.rustdoc(), [" Leading.", "", " Trailing."]);
    }

    #[test]
    fn carriage_returns_end_lines_and_never_reach_the_doc() {
        assert_eq!(doc(" one\r two\r\n three\n"), [" one", " two", " three"]);
        let neutralized = neutralize_code_blocks(" a\rb\r\n");
        assert!(!neutralized.contains('\r'), "{neutralized:?}");
        assert_eq!(neutralized.lines().count(), 2);
    }
}
