//! A request path split into segments without allocating, for the route table's lookups.

/// Inline capacity for path segments: more than any real API path has, so lookups do not
/// allocate; longer paths spill to the heap.
const INLINE_SEGMENTS: usize = 16;

/// A request path split into segments, each kept as the byte offset where it ends: a segment
/// starts one past the end of the one before it (the first at 1, past the leading `/`). Offsets
/// are `u32` (the path is at most 4 GiB) so that the inline array is 64 bytes to fill.
pub(super) struct Segments<'p> {
    path: &'p str,
    inline: [u32; INLINE_SEGMENTS],
    len: usize,
    spilled: Vec<u32>,
    /// The path ended with a `/` (ignored), which makes its last segment no place for a verb.
    trailing_slash: bool,
}

impl<'p> Segments<'p> {
    /// `None` when the path cannot match any route: no leading `/` (or over 4 GiB). Empty
    /// segments (`//`) are kept, for a `**` to take; one trailing `/` is not a segment.
    pub(super) fn split(path: &'p str) -> Option<Self> {
        let bytes = path.as_bytes();
        if bytes.first() != Some(&b'/') || u32::try_from(bytes.len()).is_err() {
            return None;
        }
        let mut segments = Segments {
            path,
            inline: [0; INLINE_SEGMENTS],
            len: 0,
            spilled: Vec::new(),
            trailing_slash: false,
        };
        // One pass over the bytes: a segment ends at `/`, at `?` (the query) or at the end.
        let mut start = 1;
        let mut end = bytes.len();
        for (i, byte) in bytes.iter().enumerate().skip(1) {
            match byte {
                // A segment, empty between two slashes (`//`).
                b'/' => {
                    segments.push(i);
                    start = i + 1;
                }
                b'?' => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        if end > start {
            segments.push(end);
        } else if segments.len > 0 {
            segments.trailing_slash = true;
        }
        Some(segments)
    }

    fn push(&mut self, end: usize) {
        // `split` refused paths whose offsets do not fit.
        let end = end as u32;
        if self.len < INLINE_SEGMENTS {
            self.inline[self.len] = end;
        } else {
            if self.spilled.is_empty() {
                // Room to grow once more before reallocating.
                self.spilled.reserve(4 * INLINE_SEGMENTS);
                self.spilled.extend_from_slice(&self.inline);
            }
            self.spilled.push(end);
        }
        self.len += 1;
    }

    fn ends(&self) -> &[u32] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }

    /// The byte range of segment `i`.
    fn range(&self, i: usize) -> (usize, usize) {
        let ends = self.ends();
        let start = match i {
            0 => 1,
            _ => ends[i - 1] as usize + 1,
        };
        (start, ends[i] as usize)
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Segment `i`, its end cut at `last_end` if it is the last one.
    pub(super) fn get(&self, i: usize, last_end: usize) -> &'p str {
        let (start, end) = self.range(i);
        let end = if i + 1 == self.len { last_end } else { end };
        &self.path[start..end]
    }

    /// Where the last segment ends for a route with this verb: `None` if the route cannot match
    /// (it has a verb the path does not end with), the whole segment for a route without one.
    pub(super) fn last_end_for(&self, verb: Option<&str>) -> Option<usize> {
        if self.len == 0 {
            // The root has no segment to carry a verb.
            return verb.is_none().then_some(0);
        }
        let (start, end) = self.range(self.len - 1);
        let Some(verb) = verb else {
            return Some(end);
        };
        if self.trailing_slash {
            return None;
        }
        let segment = &self.path[start..end];
        let cut = segment.strip_suffix(verb)?.strip_suffix(':')?;
        // `/:verb` and `/x/:verb` would leave an empty segment.
        (!cut.is_empty()).then_some(start + cut.len())
    }

    /// The raw text of path segments `from..to` (separators included), the last one cut at
    /// `last_end`; empty when the range is.
    pub(super) fn raw_span(&self, from: usize, to: usize, last_end: usize) -> &'p str {
        if from >= to {
            return "";
        }
        let start = self.range(from).0;
        let end = if to == self.len {
            last_end
        } else {
            self.ends()[to - 1] as usize
        };
        &self.path[start..end]
    }
}
