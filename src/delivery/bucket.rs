//! A delivery in an S3-compatible bucket, behind the same blocking calls as a directory:
//! each request runs on a small runtime of its own and the caller's thread waits for it, so
//! the blocking pool, a plain thread and sync code all use it alike. Objects cannot be
//! renamed: a day version goes in by a create-only write of its manifest (see `publish`).

use std::future::Future;
use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::WriteMultipart;

use super::Entry;
use crate::error::{Error, Kind, Result};
use crate::objects::Bucket;
use crate::objects::bucket::{PART, PARTS_IN_FLIGHT};

/// The runtime bucket requests run on, whatever thread asks: never one of its own workers.
fn io() -> &'static tokio::runtime::Runtime {
    static IO: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    IO.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("acc-bucket")
            .enable_all()
            .build()
            .expect("the bucket's runtime starts")
    })
}

/// Runs `f` on the bucket's runtime and waits for it on this thread.
fn block<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    io().spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().expect("a bucket request runs to its end")
}

#[derive(Clone)]
pub struct BucketDir {
    bucket: Arc<Bucket>,
}

impl BucketDir {
    pub fn at(bucket: Bucket) -> BucketDir {
        BucketDir {
            bucket: Arc::new(bucket),
        }
    }

    fn call<T: Send + 'static, F: Future<Output = T> + Send + 'static>(
        &self,
        f: impl FnOnce(Arc<Bucket>) -> F,
    ) -> T {
        block(f(Arc::clone(&self.bucket)))
    }

    pub fn describe(&self, rel: &str) -> String {
        self.bucket.describe(rel)
    }

    /// A new object, sent when closed: whole when small, else by multipart upload as it is
    /// written, with at most a few parts in memory.
    pub fn create(&self, rel: &str) -> BucketUpload {
        BucketUpload {
            dir: self.clone(),
            rel: rel.to_string(),
            pending: Vec::new(),
            upload: None,
        }
    }

    /// The object `rel` as it is read; not there is `Kind::Unavailable`.
    pub fn open(&self, rel: &str) -> Result<BucketReader> {
        let r = rel.to_string();
        let Some((size, etag)) = self.call(|b| async move { b.meta(&r).await })? else {
            return Err(Error::new(
                Kind::Unavailable,
                format!("{} is not there", self.describe(rel)),
            ));
        };
        Ok(BucketReader {
            bucket: Arc::clone(&self.bucket),
            rel: rel.to_string(),
            size,
            etag,
            next: 0,
            received: 0,
            stream: None,
            chunks: Default::default(),
            failed: None,
        })
    }

    pub fn read_whole(&self, rel: &str) -> Result<Vec<u8>> {
        let r = rel.to_string();
        match self.call(|b| async move { b.get(&r).await })? {
            Some((bytes, _)) => Ok(bytes.to_vec()),
            None => Err(Error::new(
                Kind::Unavailable,
                format!("{} is not there", self.describe(rel)),
            )),
        }
    }

    /// Writes a small object that must not be there yet: refused (75) when another writer
    /// created it first.
    pub fn write_new(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let (r, body) = (rel.to_string(), bytes.to_vec());
        match self.call(|b| async move { b.put_if(&r, body, None).await })? {
            Ok(_) => Ok(()),
            Err(crate::objects::bucket::Lost) => Err(Error::new(
                Kind::Temporary,
                format!("{} was written by another run first", self.describe(rel)),
            )),
        }
    }

    /// Replaces the small object `rel` with what `next` makes of its content, by a write
    /// conditional on the content read: another writer coming in between is read again.
    pub fn replace(
        &self,
        rel: &str,
        next: &dyn Fn(Option<&[u8]>) -> Option<Vec<u8>>,
    ) -> Result<()> {
        for _ in 0..5 {
            let r = rel.to_string();
            let now = self.call(|b| async move { b.get(&r).await })?;
            let (current, etag) = match &now {
                Some((bytes, etag)) => (Some(bytes.as_ref()), etag.clone()),
                None => (None, None),
            };
            let Some(body) = next(current) else {
                return Ok(());
            };
            if now.is_some() && etag.is_none() {
                return Err(Error::config(format!(
                    "{} gives no ETag: acc cannot replace it safely",
                    self.describe(rel)
                )));
            }
            let r = rel.to_string();
            if self
                .call(|b| async move { b.put_if(&r, body, etag).await })?
                .is_ok()
            {
                return Ok(());
            }
        }
        Err(Error::new(
            Kind::Temporary,
            format!("{} kept changing under this run", self.describe(rel)),
        ))
    }

    /// Whether an object or a prefix `rel` is there; an error when the bucket cannot say.
    pub fn try_exists(&self, rel: &str) -> Result<bool> {
        let r = rel.to_string();
        self.call(|b| async move {
            if b.has(&r).await? {
                return Ok(true);
            }
            b.entries(&r)
                .await
                .map(|(dirs, files)| !dirs.is_empty() || !files.is_empty())
        })
    }

    pub fn remove_file(&self, rel: &str) -> Result<()> {
        let r = rel.to_string();
        self.call(|b| async move { b.remove(&r).await })
    }

    pub fn remove_tree(&self, rel: &str) -> Result<()> {
        let r = rel.to_string();
        self.call(|b| async move { b.remove_tree(&r).await })
    }

    pub fn list(&self, rel: &str) -> Result<Vec<Entry>> {
        let r = rel.to_string();
        let (dirs, files) = self.call(|b| async move { b.entries(&r).await })?;
        let entry = |is_dir| move |name| Entry { name, is_dir };
        Ok(dirs
            .into_iter()
            .map(entry(true))
            .chain(files.into_iter().map(entry(false)))
            .collect())
    }
}

/// An object being written. Dropped unfinished, its multipart upload is aborted.
pub struct BucketUpload {
    dir: BucketDir,
    rel: String,
    pending: Vec<u8>,
    upload: Option<WriteMultipart>,
}

impl BucketUpload {
    /// Hands a full part to the upload, starting it on the first; waits while two parts are
    /// still on their way.
    fn send_part(&mut self) -> std::io::Result<()> {
        let data = std::mem::take(&mut self.pending);
        let upload = self.upload.take();
        let rel = self.rel.clone();
        let w = self.dir.call(|b| async move {
            let mut w = match upload {
                Some(w) => w,
                None => b.multipart(&rel).await?,
            };
            match w.wait_for_capacity(PARTS_IN_FLIGHT).await {
                Ok(()) => {
                    w.write(&data);
                    Ok(w)
                }
                Err(e) => {
                    let _ = w.abort().await;
                    Err(b.write_failed(&rel, e))
                }
            }
        });
        self.upload = Some(w.map_err(std::io::Error::other)?);
        Ok(())
    }

    /// Sends what is left and completes the object.
    pub fn finish(mut self) -> std::io::Result<()> {
        let rel = self.rel.clone();
        let data = std::mem::take(&mut self.pending);
        let done = match self.upload.take() {
            None => self.dir.call(|b| async move { b.put(&rel, data).await }),
            Some(mut w) => self.dir.call(|b| async move {
                w.write(&data);
                w.finish()
                    .await
                    .map(drop)
                    .map_err(|e| b.write_failed(&rel, e))
            }),
        };
        done.map_err(std::io::Error::other)
    }
}

impl Drop for BucketUpload {
    fn drop(&mut self) {
        if let Some(w) = self.upload.take() {
            self.dir.call(|_| async move {
                let _ = w.abort().await;
            });
        }
    }
}

impl Write for BucketUpload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = PART - self.pending.len();
        let n = buf.len().min(room);
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() == PART {
            self.send_part()?;
        }
        Ok(n)
    }

    /// Parts go as they fill: there is nothing to push early.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An object read as it arrives, one bounded range after another (each request gives up
/// within its time limit, whatever the pace of the reader), every range refused if the object
/// was replaced since the first. An error stays: every read after it fails too.
pub struct BucketReader {
    bucket: Arc<Bucket>,
    rel: String,
    size: u64,
    etag: Option<String>,
    /// Where the next range starts.
    next: u64,
    /// Bytes received so far: at each range's end, where it ends.
    received: u64,
    stream: Option<BoxStream<'static, Result<Bytes>>>,
    chunks: std::collections::VecDeque<Bytes>,
    failed: Option<String>,
}

/// One range's length: read well within a request's time limit even by a slow consumer.
const RANGE: u64 = 8 << 20;
/// What one wait for the stream brings: the next chunk and those already there behind it.
const GATHER: usize = 1 << 20;

impl BucketReader {
    /// Waits for the next chunk, and takes those that arrived with it (up to `GATHER`), so
    /// this thread does not wait once per network packet; starts the next range when one ends.
    fn refill(&mut self) -> Result<()> {
        let stream = match self.stream.take() {
            Some(stream) => stream,
            None => {
                let end = self.size.min(self.next + RANGE);
                let (b, rel, etag) = (
                    Arc::clone(&self.bucket),
                    self.rel.clone(),
                    self.etag.clone(),
                );
                let range = self.next..end;
                let stream = block(async move { b.range(&rel, range, etag).await })?;
                self.next = end;
                stream
            }
        };
        let (got, ended, stream) = block(async move {
            let mut stream = stream;
            let mut got = Vec::new();
            let mut size = 0;
            let mut next = Some(stream.next().await);
            loop {
                match next {
                    None => break,
                    Some(None) => return (got, None, None),
                    Some(Some(Err(e))) => return (got, Some(e), None),
                    Some(Some(Ok(chunk))) => {
                        size += chunk.len();
                        got.push(chunk);
                    }
                }
                if size >= GATHER {
                    break;
                }
                next = futures_util::FutureExt::now_or_never(stream.next());
            }
            (got, None, Some(stream))
        });
        self.received += got.iter().map(|c| c.len() as u64).sum::<u64>();
        self.chunks.extend(got);
        if let Some(e) = ended {
            return Err(e);
        }
        self.stream = stream;
        if self.stream.is_none() && self.received != self.next {
            return Err(Error::new(
                Kind::Temporary,
                format!(
                    "{} ended after {} of {} bytes",
                    self.bucket.describe(&self.rel),
                    self.received,
                    self.next
                ),
            ));
        }
        Ok(())
    }
}

impl Read for BucketReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(why) = &self.failed {
            return Err(std::io::Error::other(why.clone()));
        }
        while self.chunks.front().is_none_or(Bytes::is_empty) {
            if self.chunks.pop_front().is_some() {
                continue;
            }
            if self.stream.is_none() && self.next >= self.size {
                return Ok(0);
            }
            if let Err(e) = self.refill() {
                self.failed = Some(e.one_line());
                return Err(std::io::Error::other(e));
            }
        }
        let chunk = self.chunks.front_mut().expect("a chunk with bytes");
        let n = buf.len().min(chunk.len());
        buf[..n].copy_from_slice(&chunk.split_to(n));
        Ok(n)
    }
}
