//! The rows of a text-format COPY, counted by their line ends. A text COPY writes each row as
//! one line and escapes a newline inside a value as `\n`, so every raw newline ends a row: the
//! server sends one line per CopyData message, and a stored file is those lines end to end.

use super::copy_binary::FormatError;

/// Counts the rows of a text COPY stream, fed whole messages or arbitrary chunks.
#[derive(Debug, Default)]
pub struct LineCounter {
    rows: u64,
    /// Whether the last byte seen ended a line (true before anything came).
    at_line_start: bool,
    fed: bool,
}

impl LineCounter {
    pub fn new() -> Self {
        LineCounter {
            rows: 0,
            at_line_start: true,
            fed: false,
        }
    }

    /// Takes one CopyData message whole: exactly one row, ending with its newline.
    pub fn message(&mut self, msg: &[u8]) -> Result<(), FormatError> {
        let ends = msg.iter().filter(|&&b| b == b'\n').count();
        if ends != 1 || msg.last() != Some(&b'\n') {
            return Err(FormatError(format!(
                "a text COPY message of {} bytes that is not one line",
                msg.len()
            )));
        }
        self.rows += 1;
        Ok(())
    }

    /// Takes any stretch of a stored text COPY file.
    pub fn feed(&mut self, chunk: &[u8]) {
        if let Some(&last) = chunk.last() {
            self.rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            self.at_line_start = last == b'\n';
            self.fed = true;
        }
    }

    /// The row count of a complete stream; an error if it stopped inside a row.
    pub fn finish(&self) -> Result<u64, FormatError> {
        if self.fed && !self.at_line_start {
            return Err(FormatError("the text COPY data stops inside a row".into()));
        }
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_rows_in_any_chunking_and_an_escaped_newline_is_not() {
        let data = b"1\tline one\\nstill one\t\\N\n2\t978-0-306-40615-7\t1.5 .. 2.5\n";
        for split in 0..data.len() {
            let mut c = LineCounter::new();
            c.feed(&data[..split]);
            c.feed(&data[split..]);
            assert_eq!(c.finish().unwrap(), 2, "split at {split}");
        }
        assert_eq!(LineCounter::new().finish().unwrap(), 0, "an empty table");
    }

    #[test]
    fn a_stream_cut_inside_a_row_is_refused() {
        let mut c = LineCounter::new();
        c.feed(b"1\tone\n2\ttw");
        assert!(c.finish().is_err());
    }

    #[test]
    fn each_message_must_be_exactly_one_line() {
        let mut c = LineCounter::new();
        c.message(b"1\tone\n").unwrap();
        assert!(c.message(b"2\ttwo").is_err(), "no line end");
        assert!(c.message(b"3\n4\n").is_err(), "two rows in one message");
        assert_eq!(c.finish().unwrap(), 1);
    }
}
