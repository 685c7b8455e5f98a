//! The blocking end of one file: CSV batches in, age to every recipient, SHA-256 of the
//! ciphertext, and the delivery's writer. Only an explicit end-of-data mark completes a file;
//! a producer that stops early leaves the caller an error, never a finished-looking file.

use std::io::Write;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::crypt::{Digest, HashingWriter, Recipients, encrypt_to};
use crate::delivery::Upload;
use crate::error::{Error, Kind, Result};

pub enum Chunk {
    Data(Vec<u8>),
    End,
}

/// Encrypts everything received into `upload` until `Chunk::End`; returns the ciphertext's
/// size and SHA-256. Runs on a blocking thread.
pub fn seal(
    mut rx: mpsc::Receiver<Chunk>,
    upload: Upload,
    recipients: Arc<Recipients>,
    name: &str,
) -> Result<Digest> {
    let failed =
        |e: std::io::Error| Error::new(Kind::Temporary, format!("cannot write {name}")).source(e);
    let mut encrypted = encrypt_to(&recipients, HashingWriter::new(upload))?;
    loop {
        match rx.blocking_recv() {
            Some(Chunk::Data(bytes)) => encrypted.write_all(&bytes).map_err(failed)?,
            Some(Chunk::End) => break,
            None => {
                return Err(Error::internal(format!(
                    "{name} ended without its end-of-data mark"
                )));
            }
        }
    }
    let hashed = encrypted.finish().map_err(failed)?;
    let (upload, digest) = hashed.finish();
    upload.close().map_err(failed)?;
    Ok(digest)
}
