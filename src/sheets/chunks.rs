//! A sheet's bytes in chunks through a channel: the query's CSV read back as it arrives
//! (`ChunkReader`), and plaintext handed to a sealer in batches (`ChunkWriter`).

use std::io::{self, Read, Write};

use tokio::sync::mpsc;

use crate::publish::Chunk;

/// Plaintext gathered before it is handed to a sealer.
const BATCH: usize = 64 * 1024;

/// Plaintext in batches to a sealer; `end` sends the end-of-data mark.
pub(super) struct ChunkWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
    bytes: u64,
}

impl ChunkWriter {
    pub(super) fn new(tx: mpsc::Sender<Chunk>) -> ChunkWriter {
        ChunkWriter {
            tx,
            buf: Vec::with_capacity(BATCH),
            bytes: 0,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH));
        self.bytes += batch.len() as u64;
        self.tx
            .blocking_send(Chunk::Data(batch))
            .map_err(|_| io::Error::other("the encrypting writer stopped early"))
    }

    /// Sends what is left and the end mark; returns the plaintext bytes written.
    pub(super) fn end(mut self) -> io::Result<u64> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.tx
            .blocking_send(Chunk::End)
            .map_err(|_| io::Error::other("the encrypting writer stopped early"))?;
        Ok(self.bytes)
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BATCH {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The query's CSV as a reader; a stream that closes without its end mark is an error, so
/// a failed query never passes for a short one.
pub(super) struct ChunkReader {
    rx: mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl ChunkReader {
    pub(super) fn new(rx: mpsc::Receiver<Chunk>) -> ChunkReader {
        ChunkReader {
            rx,
            current: Vec::new(),
            pos: 0,
            ended: false,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Chunk::Data(bytes)) => {
                    self.current = bytes;
                    self.pos = 0;
                }
                Some(Chunk::End) => self.ended = true,
                None => return Err(io::Error::other("the sheet query stopped early")),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_refuses_a_stream_without_its_end_mark() {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Chunk::Data(b"a,b\r\n".to_vec())).unwrap();
        drop(tx);
        let mut text = String::new();
        assert!(ChunkReader::new(rx).read_to_string(&mut text).is_err());
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Chunk::Data(b"a,b\r\n".to_vec())).unwrap();
        tx.try_send(Chunk::End).unwrap();
        drop(tx);
        let mut text = String::new();
        ChunkReader::new(rx).read_to_string(&mut text).unwrap();
        assert_eq!(text, "a,b\r\n");
    }
}
