//! SHA-256 and size of what is written, computed on the way to the disk.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The size and SHA-256 (lowercase hex) of one file as it lies on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub size: u64,
    pub sha256: String,
}

/// How a file differs from the digest its manifest gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Size {
        found: u64,
        expected: u64,
    },
    Sha256,
    /// It could not be read to its end.
    Unreadable(String),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Size { found, expected } => {
                write!(f, "its size is {found}, the manifest says {expected}")
            }
            Mismatch::Sha256 => f.write_str("its sha256 differs from the manifest's"),
            Mismatch::Unreadable(why) => write!(f, "cannot read it ({why})"),
        }
    }
}

impl Digest {
    /// Ok when this is the digest `expected`; else what differs.
    pub fn matches(&self, expected: &Digest) -> Result<(), Mismatch> {
        if self.size != expected.size {
            return Err(Mismatch::Size {
                found: self.size,
                expected: expected.size,
            });
        }
        if self.sha256 != expected.sha256 {
            return Err(Mismatch::Sha256);
        }
        Ok(())
    }
}

/// Passes writes through while counting and hashing them.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The inner writer and the digest of everything written.
    pub fn finish(self) -> (W, Digest) {
        let digest = Digest {
            size: self.size,
            sha256: hex(&self.hasher.finalize()),
        };
        (self.inner, digest)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes what is read through it into a running digest the caller keeps.
pub struct HashingReader<'a, R> {
    inner: R,
    hasher: &'a mut Running,
}

/// A SHA-256 and byte count in progress.
#[derive(Default)]
pub struct Running {
    hasher: Sha256,
    size: u64,
}

impl Running {
    pub fn digest(self) -> Digest {
        Digest {
            size: self.size,
            sha256: hex(&self.hasher.finalize()),
        }
    }
}

impl<'a, R: Read> HashingReader<'a, R> {
    pub fn new(inner: R, hasher: &'a mut Running) -> Self {
        HashingReader { inner, hasher }
    }
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.hasher.update(&buf[..n]);
        self.hasher.size += n as u64;
        Ok(n)
    }
}

/// A reader that hashes what passes through it, and a check that reads whatever the consumer
/// left unread and compares the whole against the digest expected. Shared, because the reader
/// ends up deep inside a decryptor.
pub fn checked<R: Read>(inner: R, expected: Digest) -> (CheckedReader<R>, Check<R>) {
    let state = std::sync::Arc::new(std::sync::Mutex::new((inner, Running::default())));
    (
        CheckedReader(std::sync::Arc::clone(&state)),
        Check { state, expected },
    )
}

pub struct CheckedReader<R>(std::sync::Arc<std::sync::Mutex<(R, Running)>>);

impl<R: Read> Read for CheckedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut guard = self
            .0
            .lock()
            .map_err(|_| io::Error::other("a reader panicked"))?;
        let (inner, running) = &mut *guard;
        let n = inner.read(buf)?;
        running.hasher.update(&buf[..n]);
        running.size += n as u64;
        Ok(n)
    }
}

pub struct Check<R> {
    state: std::sync::Arc<std::sync::Mutex<(R, Running)>>,
    expected: Digest,
}

impl<R: Read> Check<R> {
    /// Ok when every byte read, and any left over, hash to the expected digest.
    pub fn finish(self) -> Result<(), Mismatch> {
        let mut guard = self
            .state
            .lock()
            .map_err(|_| Mismatch::Unreadable("a reader panicked".into()))?;
        let (inner, running) = &mut *guard;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = inner
                .read(&mut buf)
                .map_err(|e| Mismatch::Unreadable(e.to_string()))?;
            if n == 0 {
                break;
            }
            running.hasher.update(&buf[..n]);
            running.size += n as u64;
        }
        std::mem::take(running).digest().matches(&self.expected)
    }
}

/// The digest of a file already on disk, read in bounded chunks.
pub fn file_digest(path: &Path) -> io::Result<Digest> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Digest {
        size,
        sha256: hex(&hasher.finalize()),
    })
}

/// Lowercase hex, the one encoder acc uses for digests and keys.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_sha256_of_what_was_written() {
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (bytes, d) = w.finish();
        assert_eq!(bytes, b"abc");
        assert_eq!(d.size, 3);
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
