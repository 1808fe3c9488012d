//! A request path split into segments without allocating, for the route table's lookups.

/// Inline capacity for path segments: more than any real API path has, so lookups do not
/// allocate; longer paths spill to the heap.
const INLINE_SEGMENTS: usize = 16;

/// A request path split into segments, as byte ranges into the path.
pub(super) struct Segments<'p> {
    path: &'p str,
    inline: [(usize, usize); INLINE_SEGMENTS],
    len: usize,
    spilled: Vec<(usize, usize)>,
    /// The path ended with a `/` (ignored), which makes its last segment no place for a verb.
    trailing_slash: bool,
}

impl<'p> Segments<'p> {
    /// `None` when the path cannot match any route: no leading `/`. Empty segments (`//`) are
    /// kept, for a `**` to take; one trailing `/` is not a segment.
    pub(super) fn split(path: &'p str) -> Option<Self> {
        let bytes = path.as_bytes();
        if bytes.first() != Some(&b'/') {
            return None;
        }
        let mut segments = Segments {
            path,
            inline: [(0, 0); INLINE_SEGMENTS],
            len: 0,
            spilled: Vec::new(),
            trailing_slash: false,
        };
        // One pass over the bytes: a segment ends at `/`, at `?` (the query) or at the end.
        let mut start = 1;
        for i in 1..=bytes.len() {
            let byte = bytes.get(i).copied();
            if !matches!(byte, None | Some(b'/' | b'?')) {
                continue;
            }
            let last = byte != Some(b'/');
            if i > start || !last {
                // A segment, empty between two slashes (`//`).
                segments.push((start, i));
            } else if segments.len > 0 {
                segments.trailing_slash = true;
            }
            if last {
                break;
            }
            start = i + 1;
        }
        Some(segments)
    }

    fn push(&mut self, range: (usize, usize)) {
        if self.len < INLINE_SEGMENTS {
            self.inline[self.len] = range;
        } else {
            if self.spilled.is_empty() {
                // Room to grow once more before reallocating.
                self.spilled.reserve(4 * INLINE_SEGMENTS);
                self.spilled.extend_from_slice(&self.inline);
            }
            self.spilled.push(range);
        }
        self.len += 1;
    }

    fn ranges(&self) -> &[(usize, usize)] {
        if self.spilled.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Segment `i`, its end cut at `last_end` if it is the last one.
    pub(super) fn get(&self, i: usize, last_end: usize) -> &'p str {
        let (start, end) = self.ranges()[i];
        let end = if i + 1 == self.len { last_end } else { end };
        &self.path[start..end]
    }

    /// Where the last segment ends for a route with this verb: `None` if the route cannot match
    /// (it has a verb the path does not end with), the whole segment for a route without one.
    pub(super) fn last_end_for(&self, verb: Option<&str>) -> Option<usize> {
        let Some(&(start, end)) = self.ranges().last() else {
            // The root has no segment to carry a verb.
            return verb.is_none().then_some(0);
        };
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
        let start = self.ranges()[from].0;
        let end = if to == self.len {
            last_end
        } else {
            self.ranges()[to - 1].1
        };
        &self.path[start..end]
    }
}
