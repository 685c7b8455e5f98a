//! The rows of a binary `COPY ... TO STDOUT` counted from its messages as they arrive.
//!
//! The server sends "zero or more CopyData messages (always one per row)" (the protocol's COPY
//! operations): the file header rides in front of the first row and the -1 trailer is a message
//! of its own. Counting messages costs a few bytes' look per row, where `copy_binary::RowCounter`
//! reads every field's length; that one still checks a stored file, which has no messages.
//! Each message must start like a row and the stream must end on the trailer, so a stream cut
//! short, or one framed another way, is refused rather than miscounted.

use super::copy_binary::{FIXED_HEADER, FormatError, SIGNATURE, ended};

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// The first message, with the header, is still to come.
    Start,
    Rows,
    /// The trailer came; nothing may follow.
    Done,
}

/// Counts the rows of a binary COPY stream fed one CopyData message at a time.
#[derive(Debug)]
pub struct MessageCounter {
    state: State,
    rows: u64,
}

impl Default for MessageCounter {
    fn default() -> Self {
        MessageCounter {
            state: State::Start,
            rows: 0,
        }
    }
}

impl MessageCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one CopyData message whole.
    pub fn message(&mut self, msg: &[u8]) -> Result<(), FormatError> {
        let body = match self.state {
            State::Start => {
                self.state = State::Rows;
                &msg[header_len(msg)?..]
            }
            State::Rows => msg,
            State::Done => {
                return Err(FormatError("data after the end-of-data trailer".into()));
            }
        };
        let [hi, lo, rest @ ..] = body else {
            return Err(FormatError("a COPY message shorter than a row".into()));
        };
        match i16::from_be_bytes([*hi, *lo]) {
            -1 if rest.is_empty() => self.state = State::Done,
            // every field has at least its 4-byte length
            fields if fields >= 0 && rest.len() >= 4 * fields as usize => self.rows += 1,
            fields => {
                return Err(FormatError(format!(
                    "a COPY message of {} bytes that is neither one row nor the trailer \
                     (field count {fields})",
                    msg.len()
                )));
            }
        }
        Ok(())
    }

    /// The row count of a complete stream; an error if the trailer never came.
    pub fn finish(&self) -> Result<u64, FormatError> {
        ended(self.state == State::Done, self.rows)
    }
}

/// The length of the header at the start of the first message, extension included.
fn header_len(msg: &[u8]) -> Result<usize, FormatError> {
    if msg.len() < FIXED_HEADER || &msg[..SIGNATURE.len()] != SIGNATURE {
        return Err(FormatError(
            "not a binary COPY stream (bad signature)".into(),
        ));
    }
    let ext = u32::from_be_bytes([msg[15], msg[16], msg[17], msg[18]]) as usize;
    let len = FIXED_HEADER.saturating_add(ext);
    if msg.len() < len {
        return Err(FormatError("a header longer than its message".into()));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::copy_binary::RowCounter;
    use crate::pg::copy_binary::tests::{header, row};

    /// The messages of a COPY of `rows`: the header before the first, then the trailer alone.
    fn messages(rows: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = rows.to_vec();
        out.push((-1i16).to_be_bytes().to_vec());
        out[0].splice(0..0, header());
        out
    }

    fn count(msgs: &[Vec<u8>]) -> Result<u64, FormatError> {
        let mut c = MessageCounter::new();
        for m in msgs {
            c.message(m)?;
        }
        c.finish()
    }

    #[test]
    fn counts_what_the_field_parser_counts() {
        let rows = vec![
            row(1, Some("a")),
            row(2, None),
            row(3, Some("")),
            row(4, Some("long")),
        ];
        let msgs = messages(&rows);
        let mut parsed = RowCounter::new();
        msgs.iter().for_each(|m| parsed.feed(m).unwrap());
        assert_eq!(count(&msgs), Ok(4));
        assert_eq!(parsed.finish(), Ok(4));
    }

    #[test]
    fn an_empty_table_is_the_header_and_the_trailer_in_one_message() {
        assert_eq!(count(&messages(&[])), Ok(0));
    }

    #[test]
    fn a_stream_without_its_trailer_is_not_complete() {
        let mut msgs = messages(&[row(1, Some("a")), row(2, Some("b"))]);
        msgs.pop();
        let e = count(&msgs).unwrap_err();
        assert!(e.0.contains("ended early, after 2 complete rows"), "{e}");
    }

    #[test]
    fn anything_after_the_trailer_or_a_missing_header_is_refused() {
        let mut msgs = messages(&[row(1, Some("a"))]);
        msgs.push(row(2, Some("b")));
        assert!(
            count(&msgs)
                .unwrap_err()
                .0
                .contains("after the end-of-data")
        );
        let headless = vec![row(1, Some("a")), (-1i16).to_be_bytes().to_vec()];
        assert!(count(&headless).unwrap_err().0.contains("bad signature"));
    }

    #[test]
    fn a_message_that_is_not_one_row_is_refused() {
        // a row cut before its field lengths, and a trailer with bytes after it
        let mut short = messages(&[row(1, Some("a"))]);
        short.insert(1, vec![0, 2, 0, 0]);
        assert!(
            count(&short)
                .unwrap_err()
                .0
                .contains("neither one row nor the trailer")
        );
        let mut long_trailer = messages(&[row(1, Some("a"))]);
        long_trailer.last_mut().unwrap().push(0);
        assert!(count(&long_trailer).is_err());
    }
}
