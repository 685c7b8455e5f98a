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
/// Ciphertext between two syncs of the file being uploaded. The server writes each stretch
/// to disk while the next is sent (the queue above absorbs the pause), so the durable publish
/// at the end of the day waits for one stretch at most, not for the whole file.
const SYNC_EVERY: usize = 32 * PIECE;

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
    let mut unsynced = 0;
    loop {
        match pieces.recv() {
            Ok(Some(piece)) => {
                upload.write_all(&piece)?;
                unsynced += piece.len();
                if unsynced >= SYNC_EVERY {
                    upload.sync_so_far()?;
                    unsynced = 0;
                }
            }
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

#[cfg(test)]
mod tests {
    use std::io::Read;

    use age::secrecy::ExposeSecret;

    use super::*;
    use crate::crypt::{Identities, decrypt_from, file_digest};
    use crate::delivery::Delivery;
    use crate::location::Location;

    /// Bytes that no two pieces of the file share, so a piece lost or repeated shows.
    fn numbered(len: usize) -> Vec<u8> {
        (0..len / 8)
            .flat_map(|i| (i as u64).to_le_bytes())
            .collect()
    }

    #[test]
    fn a_file_synced_in_stretches_arrives_whole_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let identity = age::x25519::Identity::generate();
        let key = dir.path().join("identity.txt");
        std::fs::write(&key, identity.to_string().expose_secret()).unwrap();
        let recipients = Recipients::parse(vec![identity.to_public().to_string()]).unwrap();
        let root = dir.path().join("out");
        std::fs::create_dir(&root).unwrap();
        let delivery = Delivery::open(
            &Location::Local(root.clone()),
            &Default::default(),
            &Default::default(),
        );
        let upload = delivery.unwrap().create("f.age").unwrap();
        // more than two stretches, and a tail that is none
        let data = numbered(2 * SYNC_EVERY + PIECE / 3);
        let (tx, rx) = mpsc::channel(4);
        let sealer = std::thread::spawn(move || seal(rx, upload, Arc::new(recipients), "f"));
        for batch in data.chunks(256 << 10) {
            tx.blocking_send(Chunk::Data(batch.to_vec())).unwrap();
        }
        tx.blocking_send(Chunk::End).unwrap();
        let digest = sealer.join().unwrap().unwrap();

        let path = root.join("f.age");
        let on_disk = file_digest(&path).unwrap();
        assert_eq!(
            (digest.size, &digest.sha256),
            (on_disk.size, &on_disk.sha256)
        );
        let identities = Identities::load(&key).unwrap();
        let mut plain = Vec::new();
        decrypt_from(&identities, std::fs::File::open(&path).unwrap(), "f")
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert!(
            plain == data,
            "the decrypted file differs from what was sent"
        );
    }
}
