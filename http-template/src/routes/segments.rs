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

/// The bytes of `chunk` (at most eight) that are `/` or `?`: the high bit of byte `i` of the
/// answer is set when `chunk[i]` is one, the rest clear.
fn stops_in(chunk: &[u8]) -> u64 {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const LOW_SEVEN: u64 = u64::from_le_bytes([0x7f; 8]);
    /// The high bit of each byte of `x` that is zero, exactly (no borrow runs into the next
    /// byte, unlike the shorter `(x - ONES) & !x` form).
    fn zero_bytes(x: u64) -> u64 {
        !(((x & LOW_SEVEN).wrapping_add(LOW_SEVEN)) | x | LOW_SEVEN)
    }
    let word = match <[u8; 8]>::try_from(chunk) {
        Ok(whole) => u64::from_le_bytes(whole),
        // The path's last bytes, the rest zeros, which are neither: shifted in a byte at a
        // time, as a copy into a padded array would be a call to `memcpy`.
        Err(_) => chunk
            .iter()
            .enumerate()
            .fold(0, |word, (i, &byte)| word | u64::from(byte) << (8 * i)),
    };
    zero_bytes(word ^ (ONES * u64::from(b'/'))) | zero_bytes(word ^ (ONES * u64::from(b'?')))
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
        // One pass over the bytes, eight at a time: a segment ends at `/`, at `?` (the query)
        // or at the end. A byte at a time, this was a third of a lookup; `memchr` costs more
        // still on paths this short (two searches, each with its set-up).
        let mut start = 1;
        let mut end = bytes.len();
        let mut at = 1;
        'scan: while at < bytes.len() {
            let chunk = &bytes[at..bytes.len().min(at + 8)];
            let mut stops = stops_in(chunk);
            while stops != 0 {
                let i = at + (stops.trailing_zeros() / 8) as usize;
                if bytes[i] == b'?' {
                    end = i;
                    break 'scan;
                }
                // A segment, empty between two slashes (`//`).
                segments.push(i);
                start = i + 1;
                stops &= stops - 1;
            }
            at += chunk.len();
        }
        if end > start {
            segments.push(end);
        } else if segments.len > 0 {
            segments.trailing_slash = true;
        }
        Some(segments)
    }

    #[inline]
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

    /// The bytes of segment `i`, its end cut at `last_end` if it is the last one: what a
    /// template's literal is compared with (bytes, as every cut is at an ASCII `/`, `?` or `:`,
    /// so no check of a char boundary is needed).
    pub(super) fn get(&self, i: usize, last_end: usize) -> &'p [u8] {
        let (start, end) = self.range(i);
        let end = if i + 1 == self.len { last_end } else { end };
        &self.path.as_bytes()[start..end]
    }

    /// The bytes of segment `i`, a verb on the last one included: what a route without a verb
    /// compares its literal with.
    pub(super) fn whole(&self, i: usize) -> &'p [u8] {
        let (start, end) = self.range(i);
        &self.path.as_bytes()[start..end]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The split a byte at a time, as it was written first: what the word-at-a-time scan must
    /// agree with.
    fn reference(path: &str) -> Option<(Vec<u32>, bool)> {
        let bytes = path.as_bytes();
        if bytes.first() != Some(&b'/') {
            return None;
        }
        let (mut ends, mut start, mut end) = (Vec::new(), 1, bytes.len());
        for (i, byte) in bytes.iter().enumerate().skip(1) {
            match byte {
                b'/' => {
                    ends.push(i as u32);
                    start = i + 1;
                }
                b'?' => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let trailing_slash = end <= start && !ends.is_empty();
        if end > start {
            ends.push(end as u32);
        }
        Some((ends, trailing_slash))
    }

    #[test]
    fn the_scan_finds_every_slash_and_the_query_at_any_offset() {
        // Each stop at each position within and across the eight-byte words, with bytes
        // around that are near `/` and `?`: `.` and `>` one below, `o` one bit off, DEL, and
        // the second bytes of `¯` and `¿` (0xAF, 0xBF: `/` and `?` with the high bit set).
        let fillers = ["a", ".", "o", ">", "\u{7f}", "é", "¯", "¿", "%2F"];
        let mut paths = vec![
            "/".to_owned(),
            "//".to_owned(),
            "/?".to_owned(),
            "/a/".to_owned(),
        ];
        for len in 0..20 {
            for filler in fillers {
                for stop in ["/", "?", "//", "/?/", "?/"] {
                    for at in 0..=len {
                        let mut path = "/".to_owned();
                        for i in 0..len {
                            path.push_str(if i == at { stop } else { filler });
                        }
                        paths.push(path.clone());
                        path.push('/');
                        paths.push(path);
                    }
                }
            }
        }
        for path in &paths {
            let split = Segments::split(path).map(|s| (s.ends().to_vec(), s.trailing_slash));
            assert_eq!(split, reference(path), "{path:?}");
        }
    }

    #[test]
    fn a_path_with_more_segments_than_the_inline_ones_spills() {
        let path = "/a".repeat(40);
        let segments = Segments::split(&path).unwrap();
        assert_eq!(segments.len(), 40);
        assert_eq!(segments.get(39, segments.range(39).1), b"a");
        assert_eq!(Some((segments.ends().to_vec(), false)), reference(&path));
    }
}
