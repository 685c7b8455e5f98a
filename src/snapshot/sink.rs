//! Hands a stream of plaintext chunks to a blocking thread that seals them into a file, so
//! compression and encryption never stall the async connections. The channel is bounded, so
//! memory stays flat whatever the table size.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::crypt::{Digest, Recipients, SealedWriter};
use crate::error::{Error, Result};

/// Chunks in flight per file; callers send batches of up to a few hundred KiB, so this bounds
/// a file's buffered plaintext to a few MiB.
const DEPTH: usize = 8;

enum Msg {
    Data(Bytes),
    /// The producer finished cleanly; without it the file is never called complete.
    End,
}

/// What was sealed: rows (for COPY data), plaintext size and the file's digest.
#[derive(Debug, Clone, Default)]
pub struct Sealed {
    pub rows: Option<u64>,
    pub plaintext_bytes: u64,
    pub digest: Digest,
}

pub struct Sink {
    tx: mpsc::Sender<Msg>,
    join: crate::pool::Task<Result<(u64, Digest)>>,
}

impl Sink {
    /// Starts sealing into `path`.
    pub fn spawn(path: PathBuf, recipients: Arc<Recipients>) -> Sink {
        let (tx, mut rx) = mpsc::channel::<Msg>(DEPTH);
        let join = crate::pool::start(move || {
            let mut writer = SealedWriter::create(&path, &recipients)?;
            let write_failed =
                |e: std::io::Error| Error::io(format!("cannot write {}", path.display()), e);
            loop {
                match rx.blocking_recv() {
                    Some(Msg::Data(chunk)) => writer.write(&chunk).map_err(write_failed)?,
                    Some(Msg::End) => break,
                    None => {
                        return Err(Error::internal(format!(
                            "the stream for {} stopped before its end",
                            path.display()
                        )));
                    }
                }
            }
            let (plaintext_bytes, digest) = writer.finish().map_err(write_failed)?;
            Ok((plaintext_bytes, digest))
        });
        Sink { tx, join }
    }

    /// Queues one chunk, waiting while the sealing thread catches up.
    pub async fn send(&self, chunk: Bytes) -> Result<()> {
        if self.tx.send(Msg::Data(chunk)).await.is_err() {
            // the sealing thread stopped; its own error explains why
            return Err(Error::internal("the sealing thread stopped early"));
        }
        Ok(())
    }

    /// Ends the file and waits for it to be sealed and fsynced; `rows` is what the producer
    /// counted, if the file is COPY data.
    pub async fn finish(self, rows: Option<u64>) -> Result<Sealed> {
        let _ = self.tx.send(Msg::End).await;
        drop(self.tx);
        let (plaintext_bytes, digest) = self.join.join().await??;
        Ok(Sealed {
            rows,
            plaintext_bytes,
            digest,
        })
    }

    /// The sealing thread's own error, if it stopped early; used when `send` failed.
    pub async fn abandon(self) -> Option<Error> {
        drop(self.tx);
        match self.join.join().await {
            Ok(Err(e)) => Some(e),
            _ => None,
        }
    }
}
