//! The blocking end of one file: CSV batches in, age to every recipient, SHA-256 of the
//! ciphertext, and the delivery's writer. Only an explicit end-of-data mark completes a file;
//! a producer that stops early leaves the caller an error, never a finished-looking file.
//!
//! Encryption and the upload run on two threads joined by a small bounded queue, so that
//! SSH's own encryption of the link overlaps age's instead of following it.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;

use crate::crypt::{Digest, HashingWriter, Recipients, encrypt_to};
use crate::delivery::Upload;
use crate::error::{Error, Kind, Result};

pub enum Chunk {
    Data(Vec<u8>),
    End,
}

/// Ciphertext handed to the uploading thread in pieces of this size.
const PIECE: usize = 1 << 20;
/// Pieces in flight between the two threads: bounds memory at a few MiB.
const IN_FLIGHT: usize = 4;

/// Encrypts everything received into `upload` until `Chunk::End`; returns the ciphertext's
/// size and SHA-256. Runs on a blocking thread, and starts one more for the upload.
pub fn seal(
    mut rx: mpsc::Receiver<Chunk>,
    upload: Upload,
    recipients: Arc<Recipients>,
    name: &str,
) -> Result<Digest> {
    let failed =
        |e: io::Error| Error::new(Kind::Temporary, format!("cannot write {name}")).source(e);
    let (tx, pieces) = std_mpsc::sync_channel::<Option<Vec<u8>>>(IN_FLIGHT);
    let uploader = std::thread::spawn(move || upload_pieces(pieces, upload));
    let encrypted = (|| -> Result<Digest> {
        let mut encrypted = encrypt_to(&recipients, HashingWriter::new(Pieces::new(tx)))?;
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
        let (pieces, digest) = encrypted.finish().map_err(failed)?.finish();
        pieces.end().map_err(failed)?;
        Ok(digest)
    })();
    // the uploader ends either way: on the end mark, or when the sender is dropped
    let uploaded = uploader
        .join()
        .map_err(|_| Error::internal(format!("the upload of {name} panicked")))?;
    let digest = encrypted?;
    uploaded.map_err(failed)?;
    Ok(digest)
}

/// Writes pieces until the end mark; a queue closed without it is an abandoned file.
fn upload_pieces(
    pieces: std_mpsc::Receiver<Option<Vec<u8>>>,
    mut upload: Upload,
) -> io::Result<()> {
    loop {
        match pieces.recv() {
            Ok(Some(piece)) => upload.write_all(&piece)?,
            Ok(None) => return upload.close(),
            Err(_) => return Err(io::Error::other("abandoned before its end")),
        }
    }
}

/// A writer that hands full pieces to the uploading thread.
struct Pieces {
    tx: std_mpsc::SyncSender<Option<Vec<u8>>>,
    buf: Vec<u8>,
}

impl Pieces {
    fn new(tx: std_mpsc::SyncSender<Option<Vec<u8>>>) -> Pieces {
        Pieces {
            tx,
            buf: Vec::with_capacity(PIECE),
        }
    }

    fn send(&mut self, piece: Option<Vec<u8>>) -> io::Result<()> {
        self.tx
            .send(piece)
            .map_err(|_| io::Error::other("the upload stopped"))
    }

    /// Sends what is left and the end mark.
    fn end(mut self) -> io::Result<()> {
        let rest = std::mem::take(&mut self.buf);
        if !rest.is_empty() {
            self.send(Some(rest))?;
        }
        self.send(None)
    }
}

impl Write for Pieces {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE));
            self.send(Some(full))?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
