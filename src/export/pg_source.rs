//! Running a dashboard on PostgreSQL (staging or production) and rendering each value from
//! its binary wire form, so that every type is shown exactly as the CSV rules say.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use futures_util::{TryStreamExt, pin_mut};
use tokio_postgres::types::{FromSql, Kind, Type};
use tokio_postgres::{Client, Row};

use super::csv_out::CsvOut;
use super::dashboard::Dashboard;
use crate::error::{Error, Result};

/// How a column is rendered, decided once from its type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Render {
    Text,
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Json,
    Jsonb,
    Bytea,
    Uuid,
}

fn render_for(ty: &Type) -> Option<Render> {
    if matches!(ty.kind(), Kind::Enum(_)) {
        return Some(Render::Text);
    }
    let domain = match ty.kind() {
        Kind::Domain(inner) => inner,
        _ => ty,
    };
    Some(match *domain {
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => Render::Text,
        Type::BOOL => Render::Bool,
        Type::INT2 => Render::Int2,
        Type::INT4 => Render::Int4,
        Type::INT8 => Render::Int8,
        Type::OID => Render::Oid,
        Type::FLOAT4 => Render::Float4,
        Type::FLOAT8 => Render::Float8,
        Type::NUMERIC => Render::Numeric,
        Type::DATE => Render::Date,
        Type::TIME => Render::Time,
        Type::TIMESTAMP => Render::Timestamp,
        Type::TIMESTAMPTZ => Render::TimestampTz,
        Type::JSON => Render::Json,
        Type::JSONB => Render::Jsonb,
        Type::BYTEA => Render::Bytea,
        Type::UUID => Render::Uuid,
        _ if domain.name() == "citext" => Render::Text,
        _ => return None,
    })
}

/// Any value's raw binary bytes.
struct Raw<'a>(&'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Runs the dashboard's query and writes its header and rows. Returns nothing: `out` counts.
pub async fn run(client: &Client, d: &Dashboard, out: &mut CsvOut) -> Result<()> {
    let failed = |e: tokio_postgres::Error| query_error(d.name, e);
    let stmt = client.prepare(&d.sql).await.map_err(failed)?;
    let plan = stmt
        .columns()
        .iter()
        .map(|c| {
            render_for(c.type_()).ok_or_else(|| {
                Error::config(format!(
                    "dashboard {}: column \"{}\" has type {}, which acc does not render",
                    d.name,
                    c.name(),
                    c.type_().name()
                ))
                .hint("cast it to text in the query (arrays: array_to_string(col, ' '))")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.header(&stmt.columns().iter().map(|c| c.name()).collect::<Vec<_>>());
    let rows = client
        .query_raw(&stmt, std::iter::empty::<i32>())
        .await
        .map_err(failed)?;
    pin_mut!(rows);
    while let Some(row) = rows.try_next().await.map_err(failed)? {
        for (i, r) in plan.iter().enumerate() {
            value(&row, i, *r, out).map_err(|why| {
                Error::internal(format!(
                    "dashboard {}: column {} could not be rendered: {why}",
                    d.name,
                    i + 1
                ))
            })?;
        }
        out.end_row().await?;
    }
    Ok(())
}

fn query_error(name: &str, e: tokio_postgres::Error) -> Error {
    // the server's message, never its DETAIL, which may quote a row's values
    let msg = e
        .as_db_error()
        .map(|db| format!("{} ({})", db.message(), db.code().code()))
        .unwrap_or_else(|| e.to_string());
    let kind = if e.is_closed() || e.as_db_error().is_none() {
        crate::error::Kind::Temporary
    } else {
        crate::error::Kind::Unavailable
    };
    Error::new(kind, format!("dashboard {name}: {msg}"))
}

type Why = Box<dyn std::error::Error + Sync + Send>;

fn value(row: &Row, i: usize, r: Render, out: &mut CsvOut) -> std::result::Result<(), Why> {
    let Some(Raw(b)) = row.try_get::<_, Option<Raw>>(i)? else {
        out.null();
        return Ok(());
    };
    match r {
        Render::Text => out.text(std::str::from_utf8(b)?),
        Render::Bool => out.boolean(b.first().copied().unwrap_or(0) != 0),
        Render::Int2 => out.plain_fmt(format_args!("{}", i16::from_be_bytes(b.try_into()?))),
        Render::Int4 => out.plain_fmt(format_args!("{}", i32::from_be_bytes(b.try_into()?))),
        Render::Int8 => out.plain_fmt(format_args!("{}", i64::from_be_bytes(b.try_into()?))),
        Render::Oid => out.plain_fmt(format_args!("{}", u32::from_be_bytes(b.try_into()?))),
        Render::Float4 => out.plain_fmt(format_args!("{}", f32::from_be_bytes(b.try_into()?))),
        Render::Float8 => out.plain_fmt(format_args!("{}", f64::from_be_bytes(b.try_into()?))),
        Render::Numeric => out.plain(&numeric(b)?),
        Render::Date => match i32::from_be_bytes(b.try_into()?) {
            i32::MAX => out.plain("infinity"),
            i32::MIN => out.plain("-infinity"),
            days => out.date(epoch().date() + Duration::days(days.into())),
        },
        Render::Time => {
            let us = i64::from_be_bytes(b.try_into()?);
            out.time(NaiveTime::MIN + Duration::microseconds(us));
        }
        Render::Timestamp | Render::TimestampTz => match i64::from_be_bytes(b.try_into()?) {
            i64::MAX => out.plain("infinity"),
            i64::MIN => out.plain("-infinity"),
            us => {
                let t = epoch() + Duration::microseconds(us);
                if r == Render::Timestamp {
                    out.timestamp(t);
                } else {
                    out.timestamp_tz(DateTime::<Utc>::from_naive_utc_and_offset(t, Utc));
                }
            }
        },
        Render::Json => out.text(std::str::from_utf8(b)?),
        Render::Jsonb => out.text(std::str::from_utf8(b.get(1..).unwrap_or_default())?),
        Render::Bytea => out.hex(b),
        Render::Uuid => {
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            out.plain(&format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            ));
        }
    }
    Ok(())
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
}

/// PostgreSQL's binary numeric: ndigits, weight, sign, dscale, then base-10000 digits.
/// Rendered exactly, with `dscale` decimals, as PostgreSQL's own output function does.
fn numeric(b: &[u8]) -> std::result::Result<String, Why> {
    let word = |i: usize| -> std::result::Result<i16, Why> {
        Ok(i16::from_be_bytes(
            b.get(i..i + 2).ok_or("short numeric")?.try_into()?,
        ))
    };
    let (ndigits, weight, sign, dscale) = (
        word(0)? as usize,
        word(2)? as i32,
        word(4)? as u16,
        word(6)? as usize,
    );
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits: Vec<i16> = (0..ndigits)
        .map(|k| word(8 + 2 * k))
        .collect::<std::result::Result<_, _>>()?;
    let digit = |pos: i32| -> i16 {
        // pos 0 is the group of weight `weight`
        usize::try_from(pos)
            .ok()
            .and_then(|p| digits.get(p).copied())
            .unwrap_or(0)
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for g in 0..=weight {
            let d = digit(g);
            if g == 0 {
                s.push_str(&d.to_string());
            } else {
                s.push_str(&format!("{d:04}"));
            }
        }
    }
    if dscale > 0 {
        s.push('.');
        let mut frac = String::new();
        let mut g = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(g)));
            g += 1;
        }
        frac.truncate(dscale);
        s.push_str(&frac);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::numeric;

    fn enc(ndigits: i16, weight: i16, sign: u16, dscale: i16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight, sign as i16, dscale].iter().chain(digits) {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_render_exactly_with_their_scale() {
        // 38.50
        assert_eq!(numeric(&enc(2, 0, 0, 2, &[38, 5000])).unwrap(), "38.50");
        // 0.0050
        assert_eq!(numeric(&enc(1, -1, 0, 4, &[50])).unwrap(), "0.0050");
        // -12345678.9
        assert_eq!(
            numeric(&enc(3, 1, 0x4000, 1, &[1234, 5678, 9000])).unwrap(),
            "-12345678.9"
        );
        // 10000 (trailing zero groups are not sent)
        assert_eq!(numeric(&enc(1, 1, 0, 0, &[1])).unwrap(), "10000");
        // 0
        assert_eq!(numeric(&enc(0, 0, 0, 2, &[])).unwrap(), "0.00");
        assert_eq!(numeric(&enc(0, 0, 0xC000, 0, &[])).unwrap(), "NaN");
    }
}
