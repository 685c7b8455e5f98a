//! Streams one part of a table out of production into a sealed file.

use std::path::Path;
use std::sync::Arc;

use bytes::BytesMut;
use futures_util::{StreamExt, pin_mut};
use tokio_postgres::Client;

use super::catalog::{Part, SourceTable};
use super::sink::{Sealed, Sink};
use crate::crypt::Recipients;
use crate::error::{Error, Kind, Result};
use crate::pg::copy_binary::FormatError;
use crate::pg::sqlstate;
use crate::progress::Run;

/// Plaintext handed to the sealing thread at a time.
const BATCH: usize = 256 << 10;

/// `COPY ... TO STDOUT` in the table's format through the sink into `path`.
pub async fn copy_part(
    client: &Client,
    table: &SourceTable,
    part: &Part,
    path: &Path,
    recipients: Arc<Recipients>,
    progress: &Run,
) -> Result<Sealed> {
    let what = format!("{}.{}", table.schema, table.name);
    let lost = |e: tokio_postgres::Error| {
        sqlstate::failure(format!("copying {what} from production failed"), e)
    };
    let stream = client.copy_out(&part.copy_sql(table)).await.map_err(lost)?;
    pin_mut!(stream);
    let sink = Sink::spawn(path.to_path_buf(), recipients);
    let malformed = |e: FormatError| {
        Error::new(
            Kind::Unavailable,
            format!("production sent malformed COPY data for {what}"),
        )
        .source(e)
    };
    // an error of its own (`Some`), or the sealing thread stopped (`None`: it says why)
    let copied: std::result::Result<u64, Option<Error>> = async {
        // the rows are counted from the server's messages, one per row, as they arrive
        let mut rows = table.format.message_counter();
        // batching the messages keeps the channel cheap
        let mut batch = BytesMut::with_capacity(BATCH);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Some(lost(e)))?;
            rows.message(&chunk).map_err(|e| Some(malformed(e)))?;
            batch.extend_from_slice(&chunk);
            if batch.len() >= BATCH {
                hand_over(&sink, &mut batch, progress).await?;
            }
        }
        hand_over(&sink, &mut batch, progress).await?;
        rows.finish().map_err(|e| Some(malformed(e)))
    }
    .await;
    let rows = match copied {
        Ok(rows) => rows,
        Err(Some(e)) => {
            let _ = sink.abandon().await;
            return Err(e);
        }
        Err(None) => {
            return Err(sink
                .abandon()
                .await
                .unwrap_or_else(|| Error::internal("sealing stopped early")));
        }
    };
    let sealed = sink.finish(Some(rows)).await?;
    progress.part_done(rows);
    Ok(sealed)
}

/// Sends the batch gathered so far to the sealing thread, if there is one; `Err` when that
/// thread has stopped.
async fn hand_over(
    sink: &Sink,
    batch: &mut BytesMut,
    progress: &Run,
) -> std::result::Result<(), Option<Error>> {
    if batch.is_empty() {
        return Ok(());
    }
    progress.bytes(batch.len() as u64);
    sink.send(batch.split().freeze()).await.map_err(|_| None)?;
    batch.reserve(BATCH);
    Ok(())
}
