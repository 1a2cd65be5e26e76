//! Bounded capture of a job's output stream: the first `head` bytes and the last `tail` bytes are
//! kept, everything between is counted and replaced by a visible marker. Memory stays at
//! `head + tail` whatever the job prints, and the kept bytes become the record's text in place:
//! head, marker and tail share one buffer, so finishing copies nothing.

/// Room left between the head and the tail for the marker: `\n[execq: N bytes omitted]\n` is at
/// most 45 bytes (N has at most 20 digits).
const MARKER_ROOM: usize = 64;

/// A stream being captured.
#[derive(Debug)]
pub struct Capture {
    /// The head; once it is full and more comes, [`MARKER_ROOM`] bytes, then the tail (a ring).
    buf: Vec<u8>,
    head_cap: usize,
    tail_cap: usize,
    /// Next write position in the tail (relative to its start) once it is full.
    tail_pos: usize,
    total: u64,
}

/// A finished capture, ready for the record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    pub text: String,
    pub truncated: bool,
    pub bytes: u64,
}

impl Capture {
    pub fn new(head_cap: usize, tail_cap: usize) -> Self {
        Self {
            buf: Vec::new(),
            head_cap,
            tail_cap,
            tail_pos: 0,
            total: 0,
        }
    }

    /// Where the tail starts in `buf`.
    fn tail_start(&self) -> usize {
        self.head_cap + MARKER_ROOM
    }

    pub fn push(&mut self, mut chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let into_head = chunk
            .len()
            .min(self.head_cap.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(&chunk[..into_head]);
        chunk = &chunk[into_head..];
        if self.tail_cap == 0 || chunk.is_empty() {
            return;
        }
        let start = self.tail_start();
        if self.buf.len() < start {
            // The head is full: room for the marker and the whole tail is reserved once,
            // exactly, so the buffer never grows by doubling past what it keeps.
            self.buf.reserve_exact(MARKER_ROOM + self.tail_cap);
            self.buf.resize(start, 0);
        }
        let tail_len = self.buf.len() - start;
        if chunk.len() >= self.tail_cap {
            self.buf.truncate(start);
            self.buf
                .extend_from_slice(&chunk[chunk.len() - self.tail_cap..]);
            self.tail_pos = 0;
            return;
        }
        let appended = chunk.len().min(self.tail_cap - tail_len);
        self.buf.extend_from_slice(&chunk[..appended]);
        let mut rest = &chunk[appended..];
        while !rest.is_empty() {
            let n = rest.len().min(self.tail_cap - self.tail_pos);
            let at = start + self.tail_pos;
            self.buf[at..at + n].copy_from_slice(&rest[..n]);
            self.tail_pos = (self.tail_pos + n) % self.tail_cap;
            rest = &rest[n..];
        }
    }

    /// The kept bytes as lossy UTF-8, with `[execq: N bytes omitted]` where bytes were dropped.
    pub fn finish(self) -> Captured {
        let start = self.tail_start();
        let mut bytes = self.buf;
        let head = bytes.len().min(self.head_cap);
        let tail = bytes.len().saturating_sub(start);
        let omitted = self.total - (head + tail) as u64;
        let marker = if omitted > 0 {
            format!("\n[execq: {omitted} bytes omitted]\n")
        } else {
            String::new()
        };
        if bytes.len() > head {
            // Oldest tail byte first, then the marker just before the tail, then the tail moved
            // up against the head: all within the buffer.
            bytes[start..].rotate_left(self.tail_pos);
            bytes[head..head + marker.len()].copy_from_slice(marker.as_bytes());
            bytes.copy_within(start.., head + marker.len());
            bytes.truncate(head + marker.len() + tail);
        } else {
            bytes.extend_from_slice(marker.as_bytes());
        }
        // Valid UTF-8 (most output) becomes the text without a copy.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Captured {
            text,
            truncated: omitted > 0,
            bytes: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(chunks: &[&[u8]], head: usize, tail: usize) -> Captured {
        let mut c = Capture::new(head, tail);
        chunks.iter().for_each(|chunk| c.push(chunk));
        c.finish()
    }

    #[test]
    fn short_output_is_kept_whole() {
        let got = capture(&[b"hello ", b"world\n"], 8, 8);
        assert_eq!(
            got,
            Captured {
                text: "hello world\n".into(),
                truncated: false,
                bytes: 12
            }
        );
    }

    #[test]
    fn long_output_keeps_both_ends_and_marks_the_gap() {
        let got = capture(&[b"0123456789", b"abcdefghij", b"KLMNOPQRST"], 4, 6);
        assert_eq!(got.text, "0123\n[execq: 20 bytes omitted]\nOPQRST");
        assert!(got.truncated);
        assert_eq!(got.bytes, 30);
    }

    #[test]
    fn the_tail_ring_wraps_across_small_chunks() {
        let chunks: Vec<&[u8]> = vec![b"ab", b"cd", b"ef", b"gh", b"ij"];
        let got = capture(&chunks, 2, 3);
        assert_eq!(got.text, "ab\n[execq: 5 bytes omitted]\nhij");
    }

    #[test]
    fn the_ring_matches_a_naive_reference_for_any_chunking() {
        let data: Vec<u8> = (0..5000u32).map(|i| b'a' + (i * 7 % 26) as u8).collect();
        let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
        for (head, tail) in [
            (10, 37),
            (0, 37),
            (10, 0),
            (0, 0),
            (3000, 1999),
            (3000, 2000),
        ] {
            let expected = match data.len().checked_sub(head + tail) {
                Some(omitted) if omitted > 0 => format!(
                    "{}\n[execq: {omitted} bytes omitted]\n{}",
                    text(&data[..head]),
                    text(&data[data.len() - tail..])
                ),
                _ => text(&data),
            };
            for chunk_size in [1, 2, 3, 7, 64, 100, 999, 5000] {
                let chunks: Vec<&[u8]> = data.chunks(chunk_size).collect();
                let got = capture(&chunks, head, tail);
                let what = format!("head {head}, tail {tail}, chunk size {chunk_size}");
                assert_eq!(got.text, expected, "{what}");
                assert_eq!(got.truncated, data.len() > head + tail, "{what}");
                assert_eq!(got.bytes, data.len() as u64, "{what}");
            }
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let got = capture(&[&[b'o', b'k', 0xff]], 16, 16);
        assert_eq!(got.text, "ok\u{fffd}");
    }
}
