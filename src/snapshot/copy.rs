//! Streams one part of a table out of production into a sealed file.

use std::path::Path;
use std::sync::Arc;

use futures_util::{StreamExt, pin_mut};
use tokio_postgres::Client;

use super::catalog::{Part, Table};
use super::sink::{Sealed, Sink};
use crate::crypt::Recipients;
use crate::error::{Error, Kind, Result};
use crate::progress::Progress;

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
    let sink = Sink::spawn(path.to_path_buf(), recipients, true);
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = sink.abandon().await;
                return Err(lost(e));
            }
        };
        progress.add_bytes(chunk.len() as u64);
        if sink.send(chunk).await.is_err() {
            return Err(sink
                .abandon()
                .await
                .unwrap_or_else(|| Error::internal("sealing stopped early")));
        }
    }
    let sealed = sink.finish().await?;
    progress.add_rows(sealed.rows.unwrap_or(0));
    Ok(sealed)
}
