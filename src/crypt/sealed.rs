//! A sealed file: plaintext goes through zstd, then age, then SHA-256, then the disk.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::digest::{Digest, HashingWriter};
use super::keys::{Identities, Recipients};
use crate::error::{Error, Kind, Result};

/// zstd level 1: on a busy two-core host the server's COPY and our encryption compete for CPU,
/// and level 1 keeps compression off the critical path at a small cost in size.
const ZSTD_LEVEL: i32 = 1;

type Chain = zstd::Encoder<'static, age::stream::StreamWriter<HashingWriter<BufWriter<File>>>>;

/// Writes plaintext into a new file (mode 0600, never overwriting) as zstd + age.
pub struct SealedWriter {
    chain: Chain,
    plaintext: u64,
}

impl SealedWriter {
    pub fn create(path: &Path, recipients: &Recipients) -> Result<SealedWriter> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| io_error("cannot create", path, e))?;
        let hashed = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
        let encrypted = recipients
            .encryptor()?
            .wrap_output(hashed)
            .map_err(|e| io_error("cannot start encrypting", path, e))?;
        let chain = zstd::Encoder::new(encrypted, ZSTD_LEVEL)
            .map_err(|e| io_error("cannot start compressing", path, e))?;
        Ok(SealedWriter {
            chain,
            plaintext: 0,
        })
    }

    pub fn write(&mut self, plaintext: &[u8]) -> io::Result<()> {
        self.plaintext += plaintext.len() as u64;
        self.chain.write_all(plaintext)
    }

    /// Ends compression and encryption, flushes and fsyncs. Returns the plaintext size and the
    /// digest of the file on disk.
    pub fn finish(self) -> io::Result<(u64, Digest)> {
        let encrypted = self.chain.finish()?;
        let hashed = encrypted.finish()?;
        let (buffered, digest) = hashed.finish();
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((self.plaintext, digest))
    }
}

/// Opens a sealed file for reading its plaintext, streaming; nothing is written anywhere.
pub fn open_sealed(path: &Path, identities: &Identities) -> Result<impl Read + use<>> {
    let file = File::open(path).map_err(|e| io_error("cannot open", path, e))?;
    unseal(file, path, identities)
}

/// The plaintext of sealed bytes read from `source` (`path` names it in messages).
pub fn unseal<R: Read>(
    source: R,
    path: &Path,
    identities: &Identities,
) -> Result<impl Read + use<R>> {
    let decryptor =
        age::Decryptor::new(BufReader::with_capacity(1 << 20, source)).map_err(|e| {
            Error::new(
                Kind::BadInput,
                format!("{} is not an age file", path.display()),
            )
            .source(e)
        })?;
    let decrypted = decryptor.decrypt(identities.iter()).map_err(|e| {
        Error::new(Kind::BadInput, format!("cannot decrypt {}", path.display()))
            .source(e)
            .hint("is the identity one of the profile's age recipients?")
    })?;
    zstd::Decoder::new(decrypted).map_err(|e| io_error("cannot start decompressing", path, e))
}

fn io_error(what: &str, path: &Path, e: io::Error) -> Error {
    Error::internal(format!("{what} {}", path.display())).source(e)
}
