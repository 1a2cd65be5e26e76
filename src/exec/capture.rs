//! Bounded capture of a job's output stream: the first `head` bytes and the last `tail` bytes are
//! kept, everything between is counted and replaced by a visible marker. Memory stays at
//! `head + tail` whatever the job prints.

/// A stream being captured.
#[derive(Debug)]
pub struct Capture {
    head: Vec<u8>,
    head_cap: usize,
    tail: Vec<u8>,
    tail_cap: usize,
    /// Next write position in `tail` once it is full (a ring).
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
            head: Vec::new(),
            head_cap,
            tail: Vec::new(),
            tail_cap,
            tail_pos: 0,
            total: 0,
        }
    }

    pub fn push(&mut self, mut chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let into_head = chunk.len().min(self.head_cap - self.head.len());
        self.head.extend_from_slice(&chunk[..into_head]);
        chunk = &chunk[into_head..];
        if self.tail_cap == 0 || chunk.is_empty() {
            return;
        }
        if chunk.len() >= self.tail_cap {
            self.tail.clear();
            self.tail
                .extend_from_slice(&chunk[chunk.len() - self.tail_cap..]);
            self.tail_pos = 0;
            return;
        }
        let room = self.tail_cap - self.tail.len();
        let appended = chunk.len().min(room);
        self.tail.extend_from_slice(&chunk[..appended]);
        let mut rest = &chunk[appended..];
        while !rest.is_empty() {
            let n = rest.len().min(self.tail_cap - self.tail_pos);
            self.tail[self.tail_pos..self.tail_pos + n].copy_from_slice(&rest[..n]);
            self.tail_pos = (self.tail_pos + n) % self.tail_cap;
            rest = &rest[n..];
        }
    }

    /// The kept bytes as lossy UTF-8, with `[execq: N bytes omitted]` where bytes were dropped.
    pub fn finish(self) -> Captured {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let omitted = self.total - kept;
        let (older, newer) = self.tail.split_at(self.tail_pos);
        let mut bytes = self.head;
        if omitted > 0 {
            bytes.extend_from_slice(format!("\n[execq: {omitted} bytes omitted]\n").as_bytes());
        }
        bytes.extend_from_slice(newer);
        bytes.extend_from_slice(older);
        Captured {
            text: String::from_utf8_lossy(&bytes).into_owned(),
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
        for chunk_size in [1, 2, 3, 7, 64, 100, 999, 5000] {
            let chunks: Vec<&[u8]> = data.chunks(chunk_size).collect();
            let got = capture(&chunks, 10, 37);
            let expected = format!(
                "{}\n[execq: {} bytes omitted]\n{}",
                String::from_utf8_lossy(&data[..10]),
                data.len() - 47,
                String::from_utf8_lossy(&data[data.len() - 37..])
            );
            assert_eq!(got.text, expected, "chunk size {chunk_size}");
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        let got = capture(&[&[b'o', b'k', 0xff]], 16, 16);
        assert_eq!(got.text, "ok\u{fffd}");
    }
}
