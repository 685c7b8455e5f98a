//! Streams one part of a table out of production into a sealed file.

use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;
use futures_util::{StreamExt, pin_mut};
use tokio_postgres::Client;

use super::catalog::{Part, Table};
use super::sink::{Sealed, Sink};
use crate::crypt::Recipients;
use crate::error::{Error, Kind, Result};
use crate::pg::copy_binary::FormatError;
use crate::pg::copy_messages::MessageCounter;
use crate::ui::progress::Progress;

/// Plaintext handed to the sealing thread at a time.
const BATCH: usize = 256 << 10;

/// `COPY ... TO STDOUT (FORMAT binary)` through the sink into `path`.
pub async fn copy_part(
    client: &Client,
    table: &Table,
    part: &Part,
    path: &Path,
    recipients: Arc<Recipients>,
    progress: &Progress,
) -> Result<Sealed> {
    let what = format!("{}.{}", table.schema, table.name);
    let lost = |e: tokio_postgres::Error| {
        Error::new(Kind::Temporary, format!("copying {what} from production failed"))
            .source(e)
            .hint("production may have gone away mid-run; nothing was published and the run is safe to retry")
    };
    let stream = client.copy_out(&part.copy_sql(table)).await.map_err(lost)?;
    pin_mut!(stream);
    let sink = Sink::spawn(path.to_path_buf(), recipients);
    // the rows are counted from the server's messages, one per row, as they arrive
    let mut rows = MessageCounter::new();
    let malformed = |e: FormatError| {
        Error::new(
            Kind::Unavailable,
            format!("production sent malformed COPY data for {what}"),
        )
        .source(e)
    };
    // the server sends one message per row; batching them keeps the channel cheap
    let mut batch = BytesMut::with_capacity(BATCH);
    loop {
        let next = match stream.next().await {
            Some(Ok(chunk)) => match rows.message(&chunk) {
                Ok(()) => Some(Ok(chunk)),
                Err(e) => Some(Err(malformed(e))),
            },
            Some(Err(e)) => Some(Err(lost(e))),
            None => None,
        };
        let flush = match &next {
            Some(Ok(chunk)) => {
                batch.extend_from_slice(chunk);
                batch.len() >= BATCH
            }
            Some(Err(_)) => false,
            None => !batch.is_empty(),
        };
        if flush {
            progress.add_bytes(batch.len() as u64);
            if sink.send(batch.split().freeze()).await.is_err() {
                return Err(sink
                    .abandon()
                    .await
                    .unwrap_or_else(|| Error::internal("sealing stopped early")));
            }
            batch.reserve(BATCH);
        }
        match next {
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                let _ = sink.abandon().await;
                return Err(e);
            }
            None => break,
        }
    }
    let rows = match rows.finish() {
        Ok(n) => n,
        Err(e) => {
            let _ = sink.abandon().await;
            return Err(malformed(e));
        }
    };
    let mut sealed = sink.finish().await?;
    sealed.rows = Some(rows);
    progress.add_rows(rows);
    Ok(sealed)
}
