//! Reading the markdown structure of a comment's lines: the list items a line continues, and
//! the character references of an HTML preformatted block.

use super::indentation;

/// HTML's character references in a preformatted block (`&#40;`, `&#x5B;`, `&lt;`, `&gt;`,
/// `&amp;`, `&quot;`) as the characters they stand for; anything else as it is.
pub(super) fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let candidate = &rest[at..];
        let decoded = candidate.find(';').and_then(|end| {
            let name = &candidate[1..end];
            let character = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                _ => match name.strip_prefix('#') {
                    Some(hex) if hex.starts_with(['x', 'X']) => u32::from_str_radix(&hex[1..], 16)
                        .ok()
                        .and_then(char::from_u32),
                    Some(decimal) => decimal.parse().ok().and_then(char::from_u32),
                    None => None,
                },
            };
            character.map(|character| (character, end + 1))
        });
        match decoded {
            Some((character, length)) => {
                out.push(character);
                rest = &candidate[length..];
            }
            None => {
                out.push('&');
                rest = &candidate[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The list items a comment is inside, to indent their continuation lines as markdown (and
/// clippy's `doc_lazy_continuation` and `doc_overindented_list_items`) expect: at the column
/// where the item's text starts. googleapis writes them one or two columns off
/// (`1. Leaf …` continued at 4 spaces, `- Fields …` continued at its dash), which renders the
/// same and fails `-D warnings`.
#[derive(Default)]
pub(super) struct Lists {
    /// (indentation of the marker, column of the item's text), outermost first.
    items: Vec<(usize, usize)>,
}

impl Lists {
    /// `line` re-indented if it continues a list item; as it is otherwise.
    pub(super) fn align(&mut self, line: &str, after_blank: bool) -> String {
        let indent = indentation(line);
        let text = line.trim_start();
        if let Some(marker) = list_marker(text) {
            while self.items.last().is_some_and(|&(at, _)| at >= indent) {
                self.items.pop();
            }
            self.items.push((indent, indent + marker));
            return line.to_owned();
        }
        if after_blank {
            // A new paragraph: inside the items it is indented to, else the lists are over.
            while self
                .items
                .last()
                .is_some_and(|&(_, column)| indent < column)
            {
                self.items.pop();
            }
            return line.to_owned();
        }
        // A continuation: of the innermost item whose marker it is not left of.
        while self.items.len() > 1 && self.items.last().is_some_and(|&(at, _)| indent < at) {
            self.items.pop();
        }
        match self.items.last() {
            Some(&(_, column)) if indent != column => format!("{}{text}", " ".repeat(column)),
            _ => line.to_owned(),
        }
    }
}

/// The width of a list marker starting `text` (`- `, `* `, `+ `, `1. `, `1) `), if it has one.
fn list_marker(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if matches!(bytes, [b'-' | b'*' | b'+', b' ', ..]) {
        return Some(2);
    }
    let digits = bytes
        .iter()
        .take_while(|byte| byte.is_ascii_digit())
        .count();
    (1..=9)
        .contains(&digits)
        .then_some(())
        .filter(|()| matches!(bytes.get(digits..digits + 2), Some([b'.' | b')', b' '])))
        .map(|()| digits + 2)
}
