//! RFC 4180 CSV, rendered the same way whatever the source, and handed on in batches.
//!
//! The rendering rules (README documents them):
//! - NULL is an empty field; an empty string is `""`, so the two stay distinguishable;
//! - a field is quoted when it holds a comma, a quote, CR or LF, or is empty; quotes double;
//! - dates are `YYYY-MM-DD`; times `HH:MM:SS`, with `.ffffff` only when there is a fraction;
//! - timestamps with a zone are shown in the region's local zone with their offset:
//!   `2026-11-22 07:00:00-05:00`; timestamps without a zone as written;
//! - decimals exactly as stored; booleans `true` / `false`; binary as lowercase hex;
//! - records end with CRLF; UTF-8 throughout, with an optional byte-order mark first.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;

use super::sink::Chunk;
use crate::error::{Error, Result};

/// Bytes gathered before a batch is handed to the sealer.
const BATCH: usize = 256 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Builds CSV records and sends them on in batches.
pub struct CsvOut {
    buf: Vec<u8>,
    tx: mpsc::Sender<Chunk>,
    first_field: bool,
    rows: u64,
    bytes: u64,
    zone: Tz,
    on_batch: Box<dyn FnMut(u64, u64) + Send>,
}

impl CsvOut {
    /// `on_batch(rows, bytes)` is told the totals after every batch (for progress).
    pub fn new(
        tx: mpsc::Sender<Chunk>,
        zone: Tz,
        bom: bool,
        on_batch: Box<dyn FnMut(u64, u64) + Send>,
    ) -> CsvOut {
        let mut buf = Vec::with_capacity(BATCH + 64 * 1024);
        if bom {
            buf.extend_from_slice(BOM);
        }
        CsvOut {
            buf,
            tx,
            first_field: true,
            rows: 0,
            bytes: 0,
            zone,
            on_batch,
        }
    }

    /// Writes the header record; it is not counted as a row.
    pub fn header<S: AsRef<str>>(&mut self, names: &[S]) {
        for n in names {
            self.text(n.as_ref());
        }
        self.buf.extend_from_slice(b"\r\n");
        self.first_field = true;
    }

    fn sep(&mut self) {
        if !self.first_field {
            self.buf.push(b',');
        }
        self.first_field = false;
    }

    pub fn null(&mut self) {
        self.sep();
    }

    /// A field that may need quoting.
    pub fn text(&mut self, s: &str) {
        self.sep();
        let needs = s.is_empty() || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
        if !needs {
            self.buf.extend_from_slice(s.as_bytes());
            return;
        }
        self.buf.push(b'"');
        for part in s.split('"').enumerate() {
            if part.0 > 0 {
                self.buf.extend_from_slice(b"\"\"");
            }
            self.buf.extend_from_slice(part.1.as_bytes());
        }
        self.buf.push(b'"');
    }

    /// A field known to hold no comma, quote or line break (numbers, dates).
    pub fn plain(&mut self, s: &str) {
        self.sep();
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// `std::fmt` straight into the buffer, for numbers and dates without an allocation.
    pub fn plain_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        use std::io::Write;
        self.sep();
        let _ = self.buf.write_fmt(args);
    }

    pub fn boolean(&mut self, b: bool) {
        self.plain(if b { "true" } else { "false" });
    }

    pub fn date(&mut self, d: NaiveDate) {
        self.sep();
        push_date(&mut self.buf, d);
    }

    pub fn time(&mut self, t: NaiveTime) {
        self.sep();
        push_time(&mut self.buf, t);
    }

    pub fn timestamp(&mut self, t: NaiveDateTime) {
        self.sep();
        push_date(&mut self.buf, t.date());
        self.buf.push(b' ');
        push_time(&mut self.buf, t.time());
    }

    /// In the local zone, with the offset in force there at that instant.
    pub fn timestamp_tz(&mut self, t: DateTime<Utc>) {
        use chrono::{Offset, TimeZone};
        let offset = self
            .zone
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc();
        self.timestamp(t.naive_utc() + chrono::Duration::seconds(offset.into()));
        let (sign, abs) = if offset < 0 {
            (b'-', -offset)
        } else {
            (b'+', offset)
        };
        self.buf.push(sign);
        push_2(&mut self.buf, (abs / 3600) as u32);
        self.buf.push(b':');
        push_2(&mut self.buf, (abs / 60 % 60) as u32);
        if abs % 60 != 0 {
            // local mean time before standard zones had seconds in its offset
            self.buf.push(b':');
            push_2(&mut self.buf, (abs % 60) as u32);
        }
    }

    pub fn hex(&mut self, bytes: &[u8]) {
        self.sep();
        for b in bytes {
            let _ = std::io::Write::write_fmt(&mut self.buf, format_args!("{b:02x}"));
        }
    }

    /// Ends a record, sending a batch when enough has gathered.
    pub async fn end_row(&mut self) -> Result<()> {
        self.buf.extend_from_slice(b"\r\n");
        self.first_field = true;
        self.rows += 1;
        if self.buf.len() >= BATCH {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> Result<()> {
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH + 64 * 1024));
        self.bytes += batch.len() as u64;
        self.tx
            .send(Chunk::Data(batch))
            .await
            .map_err(|_| Error::internal("the encrypting writer stopped early"))?;
        (self.on_batch)(self.rows, self.bytes);
        Ok(())
    }

    /// Sends what is left and the end-of-data mark; returns (rows, plaintext bytes).
    pub async fn finish(mut self) -> Result<(u64, u64)> {
        if !self.buf.is_empty() {
            self.send().await?;
        }
        self.tx
            .send(Chunk::End)
            .await
            .map_err(|_| Error::internal("the encrypting writer stopped early"))?;
        (self.on_batch)(self.rows, self.bytes);
        Ok((self.rows, self.bytes))
    }
}

fn push_2(buf: &mut Vec<u8>, n: u32) {
    buf.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
}

/// `YYYY-MM-DD`; years outside 0..=9999 keep their sign and digits.
fn push_date(buf: &mut Vec<u8>, d: NaiveDate) {
    use chrono::Datelike;
    let y = d.year();
    if (0..=9999).contains(&y) {
        push_2(buf, (y / 100) as u32);
        push_2(buf, (y % 100) as u32);
    } else {
        let _ = std::io::Write::write_fmt(buf, format_args!("{y:+05}"));
    }
    buf.push(b'-');
    push_2(buf, d.month());
    buf.push(b'-');
    push_2(buf, d.day());
}

/// `HH:MM:SS`, then `.ffffff` (microseconds) only when there is a fraction.
fn push_time(buf: &mut Vec<u8>, t: NaiveTime) {
    use chrono::Timelike;
    push_2(buf, t.hour());
    buf.push(b':');
    push_2(buf, t.minute());
    buf.push(b':');
    push_2(buf, t.second());
    let micros = t.nanosecond() / 1000;
    if micros != 0 {
        buf.push(b'.');
        push_2(buf, micros / 10_000);
        push_2(buf, micros / 100 % 100);
        push_2(buf, micros % 100);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    async fn render(f: impl FnOnce(&mut CsvOut)) -> String {
        let (tx, mut rx) = mpsc::channel(8);
        let mut out = CsvOut::new(tx, chrono_tz::America::Toronto, false, Box::new(|_, _| {}));
        f(&mut out);
        out.end_row().await.unwrap();
        out.finish().await.unwrap();
        let mut all = Vec::new();
        while let Some(Chunk::Data(b)) = rx.recv().await {
            all.extend(b);
        }
        String::from_utf8(all).unwrap()
    }

    #[tokio::test]
    async fn quoting_follows_rfc_4180_and_null_differs_from_empty() {
        let s = render(|o| {
            o.text("plain");
            o.text("a, b");
            o.text("say \"hi\"");
            o.text("two\nlines");
            o.text("");
            o.null();
            o.text("🙂 émilie");
        })
        .await;
        assert_eq!(
            s,
            "plain,\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\",\"\",,🙂 émilie\r\n"
        );
    }

    #[tokio::test]
    async fn timestamps_are_local_with_their_offset_across_daylight_saving() {
        let s = render(|o| {
            o.timestamp_tz(Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap());
            o.timestamp_tz(Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap());
            o.timestamp_tz(
                Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap()
                    + chrono::Duration::microseconds(250),
            );
            o.date(NaiveDate::from_ymd_opt(1931, 2, 3).unwrap());
            o.time(NaiveTime::from_hms_opt(8, 0, 0).unwrap());
            o.boolean(false);
            o.hex(&[0, 255]);
        })
        .await;
        assert_eq!(
            s,
            "2026-11-22 07:00:00-05:00,2026-07-01 08:00:00-04:00,2026-07-01 08:00:00.000250-04:00,1931-02-03,08:00:00,false,00ff\r\n"
        );
    }
}
