//! RFC 4180 CSV, rendered the same way whatever the source, and handed on in batches.
//!
//! The rule is PostgreSQL's own CSV output with DateStyle ISO and the session's TimeZone set to
//! the region's local zone: PostgreSQL renders it server-side, and the Snowflake reader
//! imitates it value by value (README documents the table):
//! - NULL is an empty field; an empty string is `""`, so the two stay distinguishable;
//! - a field is quoted when it holds a comma, a quote, CR or LF, or is empty; quotes double;
//! - dates `YYYY-MM-DD`; times `HH:MM:SS`, with the microseconds' significant digits when
//!   there is a fraction (`08:00:00.25`);
//! - timestamps with a zone in the local zone with their offset, `-05`, or `+05:30` when it has
//!   minutes: `2026-11-22 07:00:00-05`; timestamps without a zone as stored;
//! - decimals exactly as stored; booleans `t` / `f`; binary `\x` then lowercase hex;
//! - records end with CRLF; UTF-8 throughout, with an optional byte-order mark first.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::publish::Chunk;

/// Bytes gathered before a batch is handed to the sealer.
pub(super) const BATCH: usize = 256 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Bytes that make a field need quotes: comma, quote, CR, LF.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

/// Builds CSV records and sends them on in batches.
pub struct CsvOut {
    pub(super) buf: Vec<u8>,
    tx: mpsc::Sender<Chunk>,
    first_field: bool,
    pub(super) rows: u64,
    bytes: u64,
    zone: Tz,
    on_batch: Box<dyn FnMut(u64, u64) + Send>,
    /// Inside a quoted field of server-rendered CSV, across chunks.
    pub(super) quoted: bool,
    /// Bytes of an unfinished record of server-rendered CSV.
    pub(super) open_record: bool,
    /// Records of server-rendered CSV, the header included.
    pub(super) records: u64,
    /// Guard cells a spreadsheet would run as formulas (see `spreadsheet`).
    pub(super) safe: bool,
    /// Where the field being written starts in `buf`: a batch never splits it, so the
    /// guard can still be put in front of it.
    pub(super) field_start: usize,
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
            quoted: false,
            open_record: false,
            records: 0,
            safe: false,
            field_start: 0,
        }
        .at_field_start()
    }

    /// Prefixes cells a spreadsheet would run as formulas with `'` (`export.spreadsheet_safe`).
    pub fn spreadsheet_safe(mut self, on: bool) -> CsvOut {
        self.safe = on;
        self
    }

    pub(super) fn at_field_start(mut self) -> CsvOut {
        self.field_start = self.buf.len();
        self
    }

    /// Ends the field being written: the guard goes in front of it when it needs one.
    pub(super) fn end_field(&mut self) {
        if self.safe {
            super::spreadsheet::guard(&mut self.buf, self.field_start);
        }
    }

    /// Writes the header record; it is not counted as a row.
    pub fn header<S: AsRef<str>>(&mut self, names: &[S]) {
        for n in names {
            self.text(n.as_ref());
        }
        self.end_field();
        self.buf.extend_from_slice(b"\r\n");
        self.first_field = true;
    }

    fn sep(&mut self) {
        if !self.first_field {
            self.end_field();
            self.buf.push(b',');
        }
        self.first_field = false;
        self.field_start = self.buf.len();
    }

    pub fn null(&mut self) {
        self.sep();
    }

    /// A field that may need quoting.
    pub fn text(&mut self, s: &str) {
        self.text_bytes(s.as_bytes());
    }

    /// A field of UTF-8 bytes (from a source that guarantees the encoding).
    pub fn text_bytes(&mut self, s: &[u8]) {
        self.sep();
        if !s.is_empty() && !s.iter().any(|&b| SPECIAL[usize::from(b)]) {
            self.buf.extend_from_slice(s);
            return;
        }
        self.buf.push(b'"');
        for (i, part) in s.split(|&b| b == b'"').enumerate() {
            if i > 0 {
                self.buf.extend_from_slice(b"\"\"");
            }
            self.buf.extend_from_slice(part);
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

    /// As PostgreSQL prints a double: shortest exact digits, exponent form outside 1e-4..1e15.
    pub fn float(&mut self, f: f64) {
        if f.is_nan() {
            return self.plain("NaN");
        }
        if f.is_infinite() {
            return self.plain(if f > 0.0 { "Infinity" } else { "-Infinity" });
        }
        let sci = format!("{f:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if f != 0.0 && !(-4..15).contains(&exp) {
            let sign = if exp < 0 { '-' } else { '+' };
            self.plain_fmt(format_args!("{mantissa}e{sign}{:02}", exp.abs()));
        } else {
            self.plain_fmt(format_args!("{f}"));
        }
    }

    pub fn boolean(&mut self, b: bool) {
        self.plain(if b { "t" } else { "f" });
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
        if abs % 3600 != 0 {
            self.buf.push(b':');
            push_2(&mut self.buf, (abs / 60 % 60) as u32);
        }
        if abs % 60 != 0 {
            // local mean time, before standard zones, had seconds in its offset
            self.buf.push(b':');
            push_2(&mut self.buf, (abs % 60) as u32);
        }
    }

    pub fn hex(&mut self, bytes: &[u8]) {
        self.sep();
        self.buf.extend_from_slice(b"\\x");
        for b in bytes {
            let _ = std::io::Write::write_fmt(&mut self.buf, format_args!("{b:02x}"));
        }
    }

    /// Ends a record, sending a batch when enough has gathered.
    pub async fn end_row(&mut self) -> Result<()> {
        self.end_field();
        self.buf.extend_from_slice(b"\r\n");
        self.field_start = self.buf.len();
        self.first_field = true;
        self.rows += 1;
        if self.buf.len() >= BATCH {
            self.send().await?;
        }
        Ok(())
    }

    /// Sends everything before the field being written; that field stays for the next batch.
    pub(super) async fn send(&mut self) -> Result<()> {
        let rest = self.buf.split_off(self.field_start);
        let mut next = Vec::with_capacity(BATCH + 64 * 1024);
        next.extend_from_slice(&rest);
        let batch = std::mem::replace(&mut self.buf, next);
        self.field_start = 0;
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
        self.field_start = self.buf.len();
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

/// `HH:MM:SS`, then the fraction's significant digits (to the microsecond), if any.
fn push_time(buf: &mut Vec<u8>, t: NaiveTime) {
    use chrono::Timelike;
    push_2(buf, t.hour());
    buf.push(b':');
    push_2(buf, t.minute());
    buf.push(b':');
    push_2(buf, t.second());
    let mut micros = t.nanosecond() / 1000;
    if micros != 0 {
        let mut digits = 6;
        while micros.is_multiple_of(10) {
            micros /= 10;
            digits -= 1;
        }
        let _ = std::io::Write::write_fmt(buf, format_args!(".{micros:0digits$}"));
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
    async fn offsets_with_minutes_or_seconds_and_floats_follow_postgresql() {
        let s = render(|o| {
            o.zone = chrono_tz::Asia::Kolkata;
            o.timestamp_tz(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
            o.zone = chrono_tz::America::Toronto;
            o.timestamp_tz(Utc.with_ymd_and_hms(1880, 1, 1, 12, 0, 0).unwrap());
            o.float(0.1);
            o.float(1e21);
            o.float(1.5e-7);
            o.float(f64::NAN);
        })
        .await;
        assert_eq!(
            s,
            "2026-01-01 05:30:00+05:30,1880-01-01 06:42:28-05:17:32,0.1,1e+21,1.5e-07,NaN\r\n"
        );
    }

    #[tokio::test]
    async fn server_csv_gets_crlf_record_ends_but_keeps_newlines_inside_quotes() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut out = CsvOut::new(tx, chrono_tz::UTC, false, Box::new(|_, _| {}));
        for chunk in [&b"a,b\n1,\"x\ny\"\n2,\"say \"\"hi"[..], &b"\"\"\"\n"[..]] {
            out.server_csv(chunk).await.unwrap();
        }
        out.end_server_csv().unwrap();
        assert_eq!(out.finish().await.unwrap().0, 2);
        let Some(Chunk::Data(b)) = rx.recv().await else {
            panic!()
        };
        assert_eq!(b, b"a,b\r\n1,\"x\ny\"\r\n2,\"say \"\"hi\"\"\"\r\n");
    }

    #[tokio::test]
    async fn server_csv_cut_inside_a_record_is_an_error() {
        let (tx, _rx) = mpsc::channel(8);
        let mut out = CsvOut::new(tx, chrono_tz::UTC, false, Box::new(|_, _| {}));
        out.server_csv(b"a\n\"open").await.unwrap();
        assert!(out.end_server_csv().is_err());
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
            "2026-11-22 07:00:00-05,2026-07-01 08:00:00-04,2026-07-01 08:00:00.00025-04,1931-02-03,08:00:00,f,\\x00ff\r\n"
        );
    }
}
