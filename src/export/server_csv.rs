//! CSV that PostgreSQL rendered (`COPY ... TO STDOUT (FORMAT csv)`), taken on as it streams:
//! record ends become CRLF, records are counted, and with `spreadsheet_safe` each field is
//! found so that the guard can go in front of it. LF inside a quoted field is data and stays.

use super::csv_out::{BATCH, CsvOut};
use crate::error::{Error, Result};

impl CsvOut {
    /// Appends a chunk of the server's CSV; sends a batch when enough has gathered.
    pub async fn server_csv(&mut self, mut chunk: &[u8]) -> Result<()> {
        while !chunk.is_empty() {
            let hit = match (self.quoted, self.safe) {
                (true, _) => memchr::memchr(b'"', chunk),
                (false, false) => memchr::memchr2(b'"', b'\n', chunk),
                (false, true) => memchr::memchr3(b'"', b'\n', b',', chunk),
            };
            let Some(i) = hit else {
                self.buf.extend_from_slice(chunk);
                self.open_record = true;
                break;
            };
            match chunk[i] {
                b'"' => {
                    // a doubled quote inside a field toggles twice: correct either way
                    self.quoted = !self.quoted;
                    self.buf.extend_from_slice(&chunk[..=i]);
                    self.open_record = true;
                }
                b',' => {
                    self.buf.extend_from_slice(&chunk[..i]);
                    self.end_field();
                    self.buf.push(b',');
                    self.field_start = self.buf.len();
                    self.open_record = true;
                }
                _ => {
                    self.buf.extend_from_slice(&chunk[..i]);
                    self.end_field();
                    self.buf.extend_from_slice(b"\r\n");
                    self.field_start = self.buf.len();
                    self.records += 1;
                    self.open_record = false;
                }
            }
            chunk = &chunk[i + 1..];
        }
        if !self.safe {
            // nothing goes in front of a field: any byte may end a batch
            self.field_start = self.buf.len();
        }
        self.rows = self.records.saturating_sub(1);
        if self.buf.len() >= BATCH {
            self.send().await?;
        }
        Ok(())
    }

    /// Checks that server-rendered CSV ended on a record boundary.
    pub fn end_server_csv(&mut self) -> Result<()> {
        if self.quoted || self.open_record || self.records == 0 {
            return Err(Error::internal(
                "the server's CSV ended inside a record or without its header",
            ));
        }
        Ok(())
    }
}
