//! PostgreSQL's binary COPY format, read incrementally: enough to count the rows in a stream
//! and to tell a complete stream from a truncated one, without holding it in memory.

use std::fmt;

pub(super) const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Signature, flags (4 bytes) and header-extension length (4 bytes).
pub(super) const FIXED_HEADER: usize = 19;

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Collecting the fixed header.
    Header,
    /// Skipping `n` bytes of header extension.
    Extension(u64),
    /// Expecting a tuple's 16-bit field count, or the -1 trailer.
    Tuple,
    /// Expecting the 32-bit length of one of `left` more fields.
    FieldLength { left: u16 },
    /// Skipping `bytes` of field data, then `left` more fields.
    FieldData { bytes: u64, left: u16 },
    /// The trailer was read; nothing may follow.
    Done,
}

/// Why a stream is not valid binary COPY data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

/// Counts rows of a binary COPY stream fed in arbitrary chunks.
#[derive(Debug)]
pub struct RowCounter {
    state: State,
    /// Bytes of a header or integer split across chunks.
    pending: [u8; FIXED_HEADER],
    pending_len: usize,
    rows: u64,
}

impl Default for RowCounter {
    fn default() -> Self {
        RowCounter {
            state: State::Header,
            pending: [0; FIXED_HEADER],
            pending_len: 0,
            rows: 0,
        }
    }
}

impl RowCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), FormatError> {
        while !chunk.is_empty() {
            if self.state == State::Tuple && self.pending_len == 0 {
                chunk = self.whole_rows(chunk);
                if chunk.is_empty() {
                    break;
                }
            }
            match self.state {
                State::Header => {
                    let Some(h) = self.take(&mut chunk, FIXED_HEADER) else {
                        continue;
                    };
                    if &h[..11] != SIGNATURE {
                        return Err(FormatError(
                            "not a binary COPY stream (bad signature)".into(),
                        ));
                    }
                    let ext = u32::from_be_bytes([h[15], h[16], h[17], h[18]]);
                    self.state = State::Extension(u64::from(ext));
                }
                State::Extension(n) => {
                    self.state = skip(&mut chunk, n, State::Tuple, State::Extension)
                }
                State::Tuple => {
                    let Some(b) = self.take(&mut chunk, 2) else {
                        continue;
                    };
                    let fields = i16::from_be_bytes([b[0], b[1]]);
                    // a row is counted when it starts; finish() refuses a stream cut inside one
                    self.state = match fields {
                        -1 => State::Done,
                        0 => State::Tuple,
                        n if n > 0 => State::FieldLength { left: n as u16 },
                        n => return Err(FormatError(format!("negative field count {n}"))),
                    };
                    if fields >= 0 {
                        self.rows += 1;
                    }
                }
                State::FieldLength { left } => {
                    let Some(b) = self.take(&mut chunk, 4) else {
                        continue;
                    };
                    let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    let left = left - 1;
                    self.state = match len {
                        -1 => self.after_field(left),
                        n if n >= 0 => State::FieldData {
                            bytes: n as u64,
                            left,
                        },
                        n => return Err(FormatError(format!("negative field length {n}"))),
                    };
                }
                State::FieldData { bytes, left } => {
                    let after = self.after_field(left);
                    self.state = skip(&mut chunk, bytes, after, |b| State::FieldData {
                        bytes: b,
                        left,
                    });
                }
                State::Done => {
                    return Err(FormatError("data after the end-of-data trailer".into()));
                }
            }
        }
        Ok(())
    }

    /// The row count of a complete stream; an error if the stream stopped early.
    pub fn finish(&self) -> Result<u64, FormatError> {
        ended(self.state == State::Done, self.rows)
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The fast path: counts the complete rows at the start of `c` in one tight loop and
    /// returns the rest (a partial row, the trailer or bad data) for the state machine.
    fn whole_rows<'a>(&mut self, mut c: &'a [u8]) -> &'a [u8] {
        loop {
            if c.len() < 2 {
                return c;
            }
            let fields = i16::from_be_bytes([c[0], c[1]]);
            if fields < 0 {
                return c;
            }
            let mut pos = 2usize;
            for _ in 0..fields {
                let Some(b) = c.get(pos..pos + 4) else {
                    return c;
                };
                let len = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                if len < -1 {
                    return c;
                }
                pos += 4 + len.max(0) as usize;
                if pos > c.len() {
                    return c;
                }
            }
            self.rows += 1;
            c = &c[pos..];
        }
    }

    fn after_field(&self, left: u16) -> State {
        if left == 0 {
            State::Tuple
        } else {
            State::FieldLength { left }
        }
    }

    /// Collects `n` bytes across chunks; `None` while some are still missing. Without an
    /// allocation: this runs once per field of every row.
    fn take(&mut self, chunk: &mut &[u8], n: usize) -> Option<[u8; FIXED_HEADER]> {
        let mut out = [0u8; FIXED_HEADER];
        if self.pending_len == 0 && chunk.len() >= n {
            out[..n].copy_from_slice(&chunk[..n]);
            *chunk = &chunk[n..];
            return Some(out);
        }
        let got = (n - self.pending_len).min(chunk.len());
        self.pending[self.pending_len..self.pending_len + got].copy_from_slice(&chunk[..got]);
        self.pending_len += got;
        *chunk = &chunk[got..];
        if self.pending_len < n {
            return None;
        }
        self.pending_len = 0;
        out[..n].copy_from_slice(&self.pending[..n]);
        Some(out)
    }
}

/// The row count of a stream that reached its trailer (`done`), else why it is incomplete.
pub(super) fn ended(done: bool, rows: u64) -> Result<u64, FormatError> {
    if done {
        Ok(rows)
    } else {
        Err(FormatError(format!(
            "the stream ended early, after {rows} complete rows"
        )))
    }
}

/// Skips up to `n` bytes; moves to `then` when all were skipped, else stays with the rest.
fn skip(chunk: &mut &[u8], n: u64, then: State, rest: impl Fn(u64) -> State) -> State {
    let avail = chunk.len() as u64;
    if n <= avail {
        *chunk = &chunk[n as usize..];
        then
    } else {
        *chunk = &[];
        rest(n - avail)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The header, with no extension.
    pub(in crate::pg) fn header() -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend([0; 8]);
        v
    }

    /// One row of (int4, text or NULL).
    pub(in crate::pg) fn row(n: i32, t: Option<&str>) -> Vec<u8> {
        let mut v = 2i16.to_be_bytes().to_vec();
        v.extend(4i32.to_be_bytes());
        v.extend(n.to_be_bytes());
        match t {
            Some(t) => {
                v.extend((t.len() as i32).to_be_bytes());
                v.extend(t.as_bytes());
            }
            None => v.extend((-1i32).to_be_bytes()),
        }
        v
    }

    /// rows of (int4, text or NULL)
    fn stream(rows: &[(i32, Option<&str>)]) -> Vec<u8> {
        let mut v = header();
        rows.iter().for_each(|(n, t)| v.extend(row(*n, *t)));
        v.extend((-1i16).to_be_bytes());
        v
    }

    #[test]
    fn counts_rows_whatever_the_chunking() {
        let data = stream(&[
            (1, Some("a")),
            (2, None),
            (3, Some("")),
            (4, Some("long text")),
        ]);
        for size in 1..data.len() {
            let mut c = RowCounter::new();
            for chunk in data.chunks(size) {
                c.feed(chunk).unwrap();
            }
            assert_eq!(c.finish(), Ok(4), "chunks of {size}");
        }
    }

    #[test]
    fn a_truncated_stream_is_not_complete() {
        let data = stream(&[(1, Some("a")), (2, Some("b"))]);
        let mut c = RowCounter::new();
        c.feed(&data[..data.len() - 2]).unwrap();
        assert!(c.finish().is_err());
    }

    #[test]
    fn garbage_is_refused() {
        let mut c = RowCounter::new();
        assert!(c.feed(b"id,name\n1,Ada Example\n2,SYNTH Person\n").is_err());
    }

    #[test]
    fn an_empty_table_has_zero_rows() {
        let mut c = RowCounter::new();
        c.feed(&stream(&[])).unwrap();
        assert_eq!(c.finish(), Ok(0));
    }
}
