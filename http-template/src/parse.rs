//! The HttpRule path-template parser: a hand-written recursive descent over bytes, so that every
//! error can name the byte where it was found.

use crate::template::{PathTemplate, Segment, TemplateError, Variable};

pub(crate) fn parse(src: &str) -> Result<PathTemplate, TemplateError> {
    let mut p = Parser {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        segments: Vec::new(),
        offsets: Vec::new(),
        variables: Vec::new(),
        variable_offsets: Vec::new(),
        open_brace: None,
        verb: None,
    };
    if !src.starts_with('/') {
        return Err(p.error(0, "missing leading `/`"));
    }
    // Both references accept the bare root although the grammar needs one segment.
    if src != "/" {
        p.pos = 1;
        p.top_level()?;
        p.check_double_wildcard()?;
        p.check_duplicate_fields()?;
    }
    Ok(PathTemplate {
        source: src.to_owned(),
        segments: p.segments,
        variables: p.variables,
        verb: p.verb,
    })
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    segments: Vec<Segment>,
    /// The byte where each flattened segment starts (a `{var}`'s implied `*` starts at its `{`).
    offsets: Vec<usize>,
    variables: Vec<Variable>,
    variable_offsets: Vec<usize>,
    /// Where the variable being parsed opened, so that running out of input can say so.
    open_brace: Option<usize>,
    verb: Option<String>,
}

impl Parser<'_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> TemplateError {
        TemplateError {
            template: self.src.to_owned(),
            offset,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn char_at(&self, pos: usize) -> char {
        self.src[pos..].chars().next().unwrap_or('\0')
    }

    /// `Segments [ Verb ]` after the leading `/`.
    fn top_level(&mut self) -> Result<(), TemplateError> {
        loop {
            self.segment()?;
            if self.verb.is_some() {
                // A final literal took its verb with it (`/v1/items:batchGet`).
                return Ok(());
            }
            match self.peek() {
                None => return Ok(()),
                Some(b'/') => self.pos += 1,
                Some(b':') => return self.parse_verb(),
                Some(b'}') => return Err(self.error(self.pos, "unmatched `}`")),
                Some(_) => {
                    let c = self.char_at(self.pos);
                    return Err(
                        self.error(self.pos, format!("expected `/` or `:` but found {c:?}"))
                    );
                }
            }
        }
    }

    /// One `Segment`, at top level or inside a variable.
    fn segment(&mut self) -> Result<(), TemplateError> {
        let start = self.pos;
        match self.peek() {
            None | Some(b'/') => match self.open_brace {
                Some(brace) if self.peek().is_none() => Err(self.error(brace, "unclosed `{`")),
                _ => Err(self.error(start, "empty segment")),
            },
            Some(b'*') => {
                self.pos += 1;
                let segment = if self.peek() == Some(b'*') {
                    self.pos += 1;
                    Segment::DoubleWildcard
                } else {
                    Segment::Wildcard
                };
                let end_ok = match self.peek() {
                    None | Some(b'/') => true,
                    Some(b'}') => self.open_brace.is_some(),
                    Some(b':') => self.open_brace.is_none(),
                    Some(_) => false,
                };
                if !end_ok {
                    let what = if segment == Segment::Wildcard {
                        "`*`"
                    } else {
                        "`**`"
                    };
                    return Err(self.error(start, format!("{what} must be a whole segment")));
                }
                self.push(segment, start);
                Ok(())
            }
            Some(b'{') => match self.open_brace {
                Some(_) => Err(self.error(start, "nested variable")),
                None => self.variable(),
            },
            Some(b'}') if self.open_brace.is_none() => Err(self.error(start, "unmatched `}`")),
            Some(b'}') => Err(self.error(start, "empty segment")),
            Some(_) => self.literal(),
        }
    }

    /// A LITERAL segment: RFC 3986 pchars. A final top-level literal also carries the verb, split
    /// at its last `:` like grpc-gateway does.
    fn literal(&mut self) -> Result<(), TemplateError> {
        let start = self.pos;
        self.scan_pchars("literal")?;
        let end = self.pos;
        match self.peek() {
            Some(b'{') if self.open_brace.is_some() => {
                return Err(self.error(end, "nested variable"));
            }
            Some(b'{') => return Err(self.error(end, "`{` must start a segment")),
            Some(b'}') if self.open_brace.is_none() => {
                return Err(self.error(end, "unmatched `}`"));
            }
            _ => {}
        }
        let text = &self.src[start..end];
        if self.open_brace.is_none()
            && end == self.bytes.len()
            && let Some(colon) = text.rfind(':')
        {
            let (literal, verb) = (&text[..colon], &text[colon + 1..]);
            if literal.is_empty() {
                return Err(self.error(start, "empty segment"));
            }
            if verb.is_empty() {
                return Err(self.error(start + colon, "empty verb"));
            }
            self.push(Segment::Literal(literal.to_owned()), start);
            self.verb = Some(verb.to_owned());
            return Ok(());
        }
        if text.is_empty() {
            let c = self.char_at(start);
            return Err(self.error(start, format!("invalid character {c:?} in literal")));
        }
        self.push(Segment::Literal(text.to_owned()), start);
        Ok(())
    }

    /// Advances over pchars; stops at `/`, `{`, `}` or the end, and rejects anything else.
    fn scan_pchars(&mut self, what: &str) -> Result<(), TemplateError> {
        while let Some(b) = self.peek() {
            match b {
                b'/' | b'{' | b'}' => break,
                b'%' => {
                    let hex = |i: usize| self.bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
                    if !(hex(self.pos + 1) && hex(self.pos + 2)) {
                        return Err(self.error(self.pos, "malformed percent-encoding"));
                    }
                    self.pos += 3;
                }
                _ if is_pchar(b) => self.pos += 1,
                _ => {
                    let c = self.char_at(self.pos);
                    return Err(self.error(self.pos, format!("invalid character {c:?} in {what}")));
                }
            }
        }
        Ok(())
    }

    /// `":" LITERAL` after a final `*`, `**` or variable: the verb is everything after the colon.
    fn parse_verb(&mut self) -> Result<(), TemplateError> {
        let colon = self.pos;
        self.pos += 1;
        let start = self.pos;
        self.scan_pchars("verb")?;
        if self.pos < self.bytes.len() {
            let c = self.char_at(self.pos);
            return Err(self.error(self.pos, format!("invalid character {c:?} in verb")));
        }
        if start == self.pos {
            return Err(self.error(colon, "empty verb"));
        }
        self.verb = Some(self.src[start..].to_owned());
        Ok(())
    }

    /// `"{" FieldPath [ "=" Segments ] "}"`.
    fn variable(&mut self) -> Result<(), TemplateError> {
        let brace = self.pos;
        self.open_brace = Some(brace);
        self.pos += 1;
        let field_path = self.field_path()?;
        let first = self.segments.len();
        if self.peek() == Some(b'=') {
            self.pos += 1;
            loop {
                self.segment()?;
                match self.peek() {
                    Some(b'/') => self.pos += 1,
                    Some(b'}') => break,
                    None => return Err(self.error(brace, "unclosed `{`")),
                    Some(_) => {
                        let c = self.char_at(self.pos);
                        let message = format!("expected `/` or `}}` but found {c:?}");
                        return Err(self.error(self.pos, message));
                    }
                }
            }
        } else {
            // `{var}` is `{var=*}`.
            self.push(Segment::Wildcard, brace);
        }
        self.pos += 1; // the `}`
        self.open_brace = None;
        let covered = &self.segments[first..];
        let multi_segment = covered.len() > 1 || covered.contains(&Segment::DoubleWildcard);
        self.variables.push(Variable {
            field_path,
            segments: first..self.segments.len(),
            multi_segment,
        });
        self.variable_offsets.push(brace);
        Ok(())
    }

    /// `IDENT { "." IDENT }`, stopping before `=` or `}`.
    fn field_path(&mut self) -> Result<Vec<String>, TemplateError> {
        let brace = self.pos - 1;
        let mut path = Vec::new();
        loop {
            let start = self.pos;
            while self
                .peek()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                self.pos += 1;
            }
            let ident = &self.src[start..self.pos];
            match self.peek() {
                None => return Err(self.error(brace, "unclosed `{`")),
                Some(b'.' | b'=' | b'}') if ident.is_empty() => {
                    let message = if path.is_empty() && self.peek() != Some(b'.') {
                        "empty field path".to_owned()
                    } else {
                        "empty identifier in field path".to_owned()
                    };
                    return Err(self.error(start, message));
                }
                Some(b'.' | b'=' | b'}') => {}
                Some(b'{') => return Err(self.error(self.pos, "nested variable")),
                Some(_) => {
                    let c = self.char_at(self.pos);
                    let message = format!("invalid character {c:?} in field path");
                    return Err(self.error(self.pos, message));
                }
            }
            if ident.as_bytes()[0].is_ascii_digit() {
                let message = format!("field path identifier `{ident}` starts with a digit");
                return Err(self.error(start, message));
            }
            path.push(ident.to_owned());
            if self.peek() == Some(b'.') {
                self.pos += 1;
            } else {
                return Ok(path);
            }
        }
    }

    fn push(&mut self, segment: Segment, offset: usize) {
        self.segments.push(segment);
        self.offsets.push(offset);
    }

    /// At most one `**`: the matcher can then give it exactly the segments that the fixed number
    /// of segments after it leaves (`/v1/{name=**/sessions/*}`, `/v1/{parent=a/**}/{id}`), as
    /// grpc-gateway does (Envoy refuses `*` and variables after `**`).
    fn check_double_wildcard(&self) -> Result<(), TemplateError> {
        let mut double_wildcards = self
            .segments
            .iter()
            .zip(&self.offsets)
            .filter(|(segment, _)| **segment == Segment::DoubleWildcard);
        match (double_wildcards.next(), double_wildcards.next()) {
            (Some(_), Some((_, &offset))) => Err(self.error(offset, "only one `**` is allowed")),
            _ => Ok(()),
        }
    }

    /// Binding one field from two places has no meaningful result, so it is an error here rather
    /// than a silent overwrite as in the references.
    fn check_duplicate_fields(&self) -> Result<(), TemplateError> {
        for (i, var) in self.variables.iter().enumerate() {
            if self.variables[..i]
                .iter()
                .any(|v| v.field_path == var.field_path)
            {
                let message = format!("field path `{}` is bound twice", var.name());
                return Err(self.error(self.variable_offsets[i], message));
            }
        }
        Ok(())
    }
}

/// RFC 3986 `pchar` minus `%` (handled by the caller): unreserved, sub-delims, `:` and `@`.
fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}
