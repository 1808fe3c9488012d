//! Source excerpts as rustc prints them: the line numbered in a gutter, a caret under the span,
//! and `= help:` notes aligned on the gutter.

/// A span of the source to underline: `^^^` for the error's own place, `---` for a place it
/// refers to (a first definition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mark {
    /// Byte offset into the source.
    pub start: usize,
    /// Length in bytes; an empty span still gets one caret.
    pub len: usize,
    pub label: Option<String>,
    pub primary: bool,
}

/// Spaces a tab stands for in an excerpt, as rustc shows them.
const TAB: &str = "    ";

/// The 1-based line and column (in characters, a tab counting one, as protoc counts) of a byte
/// offset.
pub(super) fn line_column(source: &str, offset: usize) -> (u32, u32) {
    let offset = char_boundary(source, offset);
    let (line, start, _) = line_of(source, offset);
    let column = source[start..offset].chars().count() + 1;
    (line, u32::try_from(column).unwrap_or(u32::MAX))
}

/// The excerpt's lines for `marks` (in any order), then `notes` (`help: …`, `note: …`).
pub(super) fn render(source: &str, marks: &[Mark], notes: &[String]) -> Vec<String> {
    let mut marks: Vec<&Mark> = marks.iter().collect();
    marks.sort_by_key(|mark| mark.start);
    let located: Vec<(u32, usize, usize, &Mark)> = marks
        .into_iter()
        .map(|mark| {
            let start = char_boundary(source, mark.start);
            let (line, line_start, line_end) = line_of(source, start);
            (line, line_start, line_end, mark)
        })
        .collect();
    let width = located
        .iter()
        .map(|(line, ..)| line.to_string().len())
        .max()
        .unwrap_or(1);
    let gutter = " ".repeat(width);
    let mut out = Vec::new();
    if !located.is_empty() {
        out.push(format!("{gutter} |"));
    }
    let mut previous: Option<u32> = None;
    for (line, line_start, line_end, mark) in located {
        if previous != Some(line) {
            if previous.is_some_and(|previous| line > previous + 1) {
                out.push("...".to_owned());
            }
            let text = source[line_start..line_end].trim_end_matches('\r');
            out.push(trimmed(format!(
                "{line:>width$} | {}",
                text.replace('\t', TAB)
            )));
        }
        previous = Some(line);
        let start = char_boundary(source, mark.start);
        let end = char_boundary(source, mark.start.saturating_add(mark.len)).clamp(start, line_end);
        let indent = display_width(&source[line_start..start]);
        let underline = display_width(&source[start..end]).max(1);
        let marker = if mark.primary { "^" } else { "-" };
        let mut text = format!(
            "{gutter} | {}{}",
            " ".repeat(indent),
            marker.repeat(underline)
        );
        if let Some(label) = &mark.label {
            text.push(' ');
            text.push_str(label);
        }
        out.push(text);
    }
    out.extend(notes.iter().map(|note| format!("{gutter} = {note}")));
    out
}

/// The 1-based line number of `offset`, and the byte range of that line without its newline.
fn line_of(source: &str, offset: usize) -> (u32, usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let end = source[offset..]
        .find('\n')
        .map_or(source.len(), |newline| offset + newline);
    (u32::try_from(line).unwrap_or(u32::MAX), start, end)
}

/// Columns `text` takes in an excerpt, with tabs expanded as [`render`] expands them.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| if c == '\t' { TAB.len() } else { 1 })
        .sum()
}

/// `offset` clamped to the source and moved back to the start of its character.
fn char_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn trimmed(mut line: String) -> String {
    line.truncate(line.trim_end().len());
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(start: usize, len: usize, primary: bool) -> Mark {
        Mark {
            start,
            len,
            label: None,
            primary,
        }
    }

    #[test]
    fn columns_count_characters() {
        let source = "a\n\té x\n";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, 2), (2, 1));
        // The tab and the two-byte `é` are one column each.
        assert_eq!(line_column(source, source.find('x').unwrap()), (2, 4));
        // Past the end: the end.
        assert_eq!(line_column(source, 100), (3, 1));
    }

    #[test]
    fn caret_under_the_span_with_tabs_expanded() {
        let source = "syntax = \"proto3\";\n\tstring é = 1\n}\n";
        let at = source.find("= 1").unwrap();
        let lines = render(source, &[mark(at, 3, true)], &["help: add `;`".to_owned()]);
        assert_eq!(
            lines,
            [
                "  |",
                "2 |     string é = 1",
                "  |              ^^^",
                "  = help: add `;`",
            ]
        );
    }

    #[test]
    fn secondary_marks_and_elided_lines() {
        let source = "a x\nb\nc\nd\ne\nf\ng\nh\ni\nj x\n";
        let first = source.find('x').unwrap();
        let second = source.rfind('x').unwrap();
        let mut marks = [mark(second, 1, true), mark(first, 1, false)];
        marks[0].label = Some("defined again here".to_owned());
        assert_eq!(
            render(source, &marks, &[]),
            [
                "   |",
                " 1 | a x",
                "   |   -",
                "...",
                "10 | j x",
                "   |   ^ defined again here",
            ]
        );
    }

    #[test]
    fn a_span_over_several_lines_is_underlined_to_the_end_of_its_first() {
        let source = "option x = {\n  a: 1\n};\n";
        assert_eq!(
            render(source, &[mark(0, source.len(), true)], &[]),
            ["  |", "1 | option x = {", "  | ^^^^^^^^^^^^"]
        );
    }

    #[test]
    fn notes_without_an_excerpt() {
        assert_eq!(
            render("", &[], &["note: searched a, b".to_owned()]),
            ["  = note: searched a, b"]
        );
    }
}
