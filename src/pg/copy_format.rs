//! The two COPY formats a snapshot file may hold, and their row counters. Binary is the
//! default and the fastest; text carries any type, including those whose type has no binary
//! send or receive function (`isbn13`, `seg`, and whatever is built over them).

use serde::{Deserialize, Serialize};

use super::copy_binary::{FormatError, RowCounter};
use super::copy_messages::MessageCounter;
use super::copy_text::LineCounter;

/// The settings both ends of a text COPY run under, so that what production writes reads back
/// the same on staging whatever either database's defaults: a database set to
/// `DateStyle = 'SQL, DMY'` prints 2024-03-04 as 04/03/2024, which staging would read as April
/// (pg_dump pins the same three); and `money` prints and reads by `lc_monetary`, whose digits
/// after the point differ between locales (1234.56 in en_US is 123456 hundredths, in ja_JP
/// ￥1,235), so both ends take the C locale's.
const PORTABLE_TEXT: [(&str, &str); 4] = [
    ("DateStyle", "ISO"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "3"),
    ("lc_monetary", "C"),
];

/// The `SET` statements of the portable text settings, for the session; with `local`, for
/// the transaction only (`SET LOCAL`), so that nothing else the session runs later (a CHECK
/// that casts money, on a binary load) sees them.
pub fn portable_text(local: bool) -> String {
    let set = if local { "SET LOCAL" } else { "SET" };
    (PORTABLE_TEXT.iter())
        .map(|(name, value)| format!("{set} {name} = '{value}'"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CopyFormat {
    #[default]
    Binary,
    Text,
}

impl CopyFormat {
    /// The `FORMAT` option of a COPY statement.
    pub fn keyword(self) -> &'static str {
        match self {
            CopyFormat::Binary => "binary",
            CopyFormat::Text => "text",
        }
    }

    pub fn is_binary(&self) -> bool {
        *self == CopyFormat::Binary
    }

    /// Counts the rows of a COPY TO STDOUT stream in this format, one message at a time.
    pub fn message_counter(self) -> MessageRows {
        match self {
            CopyFormat::Binary => MessageRows::Binary(MessageCounter::new()),
            CopyFormat::Text => MessageRows::Text(LineCounter::new()),
        }
    }

    /// Counts the rows of a stored COPY file in this format, fed in any chunks.
    pub fn file_counter(self) -> FileRows {
        match self {
            CopyFormat::Binary => FileRows::Binary(RowCounter::new()),
            CopyFormat::Text => FileRows::Text(LineCounter::new()),
        }
    }
}

pub enum MessageRows {
    Binary(MessageCounter),
    Text(LineCounter),
}

impl MessageRows {
    pub fn message(&mut self, msg: &[u8]) -> Result<(), FormatError> {
        match self {
            MessageRows::Binary(c) => c.message(msg),
            MessageRows::Text(c) => c.message(msg),
        }
    }

    pub fn finish(&self) -> Result<u64, FormatError> {
        match self {
            MessageRows::Binary(c) => c.finish(),
            MessageRows::Text(c) => c.finish(),
        }
    }
}

pub enum FileRows {
    Binary(RowCounter),
    Text(LineCounter),
}

impl FileRows {
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), FormatError> {
        match self {
            FileRows::Binary(c) => c.feed(chunk),
            FileRows::Text(c) => {
                c.feed(chunk);
                Ok(())
            }
        }
    }

    pub fn finish(&self) -> Result<u64, FormatError> {
        match self {
            FileRows::Binary(c) => c.finish(),
            FileRows::Text(c) => c.finish(),
        }
    }
}
