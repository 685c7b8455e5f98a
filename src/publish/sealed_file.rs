//! One sealed file of a day in the making: age on a thread of its own, the upload on another,
//! under a temporary name until it is finished.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::seal::{Chunk, seal};
use crate::crypt::{Digest, Recipients};
use crate::delivery::{Remote, Upload};
use crate::error::{Error, Result};
use crate::pool::run as blocking;

/// The two ends of a sealed file's input: a producer may start sending before the file is
/// created (`DayWriter::create_from`); a few batches wait in between.
pub fn channel() -> (mpsc::Sender<Chunk>, mpsc::Receiver<Chunk>) {
    mpsc::channel(8)
}

/// A sealed file being written: age on a thread of its own, the upload on another.
pub struct SealedFile {
    pub(super) tx: Option<mpsc::Sender<Chunk>>,
    sealer: std::thread::JoinHandle<Result<Digest>>,
    remote: Remote,
    file: String,
    tmp: String,
    final_path: String,
}

impl SealedFile {
    pub(super) fn start(
        remote: Remote,
        (upload, rx): (Upload, mpsc::Receiver<Chunk>),
        recipients: Arc<Recipients>,
        file: String,
        tmp: String,
        final_path: String,
    ) -> SealedFile {
        let label = file.clone();
        let sealer = std::thread::spawn(move || seal(rx, upload, recipients, &label));
        SealedFile {
            tx: None,
            sealer,
            remote,
            file,
            tmp,
            final_path,
        }
    }

    /// The file's name in its day.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The producer's end of a file from `create_blocking`: it sends `Chunk::Data`, then
    /// `Chunk::End`. Taken once.
    pub fn sender(&mut self) -> mpsc::Sender<Chunk> {
        self.tx
            .take()
            .expect("a sealed file's sender is taken once")
    }

    /// Waits for the sealer and renames the file into place in the working directory (made
    /// durable by `publish`); returns its size and SHA-256.
    pub async fn finish(self) -> Result<Digest> {
        blocking(move || self.finish_blocking()).await?
    }

    pub fn finish_blocking(mut self) -> Result<Digest> {
        drop(self.tx.take());
        let digest = self.sealer.join().map_err(|_| {
            Error::internal(format!("the encrypting writer of {} panicked", self.file))
        })?;
        let d = self.remote.blocking();
        match digest {
            Ok(digest) => {
                crate::failpoint::pause_blocking("publish:file-sealed");
                if self.tmp != self.final_path {
                    d.rename_unsynced(&self.tmp, &self.final_path)?;
                }
                Ok(digest)
            }
            Err(e) => {
                let _ = d.remove_file(&self.tmp);
                Err(e)
            }
        }
    }

    /// Stops the sealer (its producer failed) and removes the unfinished file.
    pub async fn abandon(self) -> Result<()> {
        blocking(move || self.abandon_blocking()).await?
    }

    pub fn abandon_blocking(mut self) -> Result<()> {
        drop(self.tx.take());
        let _ = self.sealer.join();
        self.remote.blocking().remove_file(&self.tmp)
    }
}
