//! One S3-compatible bucket under a prefix, through Apache Arrow's `object_store`: small
//! objects read and written whole (create-only or replace-if-unchanged for the ones that
//! coordinate hosts), files streamed up by multipart upload and down to disk with bounded
//! memory, listing and removal.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion,
    WriteMultipart,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::credentials::{self, Keys};
use crate::config::S3Settings;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::location::S3Url;

/// Multipart parts: S3's minimum is 5 MiB; at most `PARTS_IN_FLIGHT` are held at once.
pub const PART: usize = 8 << 20;
pub const PARTS_IN_FLIGHT: usize = 2;

pub struct Bucket {
    store: Arc<AmazonS3>,
    url: S3Url,
}

/// Another writer changed (or created) the object first.
#[derive(Debug, PartialEq, Eq)]
pub struct Lost;

/// A 4xx answer other than a timeout or "slow down": asking again changes nothing.
fn refused_as_asked(text: &str) -> bool {
    text.split("non-2xx status code: ")
        .nth(1)
        .is_some_and(|status| {
            status.starts_with('4') && !status.starts_with("408") && !status.starts_with("429")
        })
}

impl Bucket {
    /// The bucket `url` names, reached with `s`; credentials by acc's reference, else the
    /// standard AWS chain. Nothing is sent yet.
    pub fn open(url: &S3Url, s: &S3Settings, env: &Env) -> Result<Bucket> {
        if let Some(endpoint) = &s.endpoint
            && endpoint.starts_with("http://")
            && !s.allow_http
        {
            return Err(Error::config(format!(
                "s3.endpoint {endpoint} is plain HTTP: credentials and snapshots would cross the network unprotected"
            ))
            .hint("use https://, or set s3.allow_http = true for a service on this host or a private test network"));
        }
        // the AWS SDKs' endpoint variables are honoured by the client: refused the same way
        for var in ["AWS_ENDPOINT", "AWS_ENDPOINT_URL"] {
            if s.endpoint.is_none()
                && env.get(var).is_some_and(|e| e.starts_with("http://"))
                && !s.allow_http
            {
                return Err(Error::config(format!(
                    "{var} is plain HTTP: credentials and snapshots would cross the network unprotected"
                ))
                .hint("use https://, or set s3.allow_http = true for a service on this host or a private test network"));
            }
        }
        // a request gives up within a minute, so a lease is renewed or known lost in time
        let mut options = ClientOptions::new()
            .with_allow_http(s.allow_http)
            .with_timeout(std::time::Duration::from_secs(30))
            .with_connect_timeout(std::time::Duration::from_secs(10));
        if let Some(ca) = &s.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                Error::config(format!("cannot read s3.ca_file {}", ca.display())).source(e)
            })?;
            for cert in object_store::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::config(format!(
                    "s3.ca_file {} holds no PEM certificate",
                    ca.display()
                ))
                .source(e)
            })? {
                options = options.with_root_certificate(cert);
            }
        }
        let region = s
            .region
            .clone()
            .or_else(|| env.get("AWS_REGION").map(str::to_string))
            .or_else(|| env.get("AWS_DEFAULT_REGION").map(str::to_string))
            .unwrap_or_else(|| "us-east-1".into());
        let mut b = match credentials::keys(s, env)? {
            Some(Keys { id, secret, token }) => {
                let b = AmazonS3Builder::new()
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
                match token {
                    Some(t) => b.with_token(t),
                    None => b,
                }
            }
            // instance and web-identity roles, as the AWS SDKs find them
            None => AmazonS3Builder::from_env(),
        };
        b = b
            .with_bucket_name(&url.bucket)
            .with_region(region)
            .with_allow_http(s.allow_http)
            .with_virtual_hosted_style_request(!s.path_style)
            .with_client_options(options)
            .with_retry(object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(60),
                ..object_store::RetryConfig::default()
            });
        if let Some(endpoint) = &s.endpoint {
            b = b.with_endpoint(endpoint);
        }
        let store = b
            .build()
            .map_err(|e| Error::config(format!("cannot use {}", url.describe())).source(e))?;
        Ok(Bucket {
            store: Arc::new(store),
            url: url.clone(),
        })
    }

    /// `s3://bucket/prefix/rel`, for messages.
    pub fn describe(&self, rel: &str) -> String {
        format!("{}/{rel}", self.url.describe())
    }

    fn key(&self, rel: &str) -> Key {
        if self.url.prefix.is_empty() {
            Key::from(rel)
        } else {
            Key::from(format!("{}/{rel}", self.url.prefix))
        }
    }

    fn failed(&self, what: &str, rel: &str, e: object_store::Error) -> Error {
        let text = e.to_string();
        let kind = match &e {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Kind::Permission,
            object_store::Error::NotFound { .. } => Kind::Unavailable,
            object_store::Error::NotImplemented { .. }
            | object_store::Error::NotSupported { .. }
            | object_store::Error::UnknownConfigurationKey { .. }
            | object_store::Error::InvalidPath { .. } => Kind::Config,
            // the service refused the request itself (a wrong region, a redirect), or the
            // certificate: retrying changes nothing
            _ if text.contains("certificate") || text.contains("redirect") => Kind::Config,
            // the object changed under a conditional read: what was read is not what it is
            object_store::Error::Precondition { .. } => Kind::BadInput,
            _ if refused_as_asked(&text) => Kind::Unavailable,
            // a lost link, a timeout, a busy service: the client's retries ran out
            _ => Kind::Temporary,
        };
        Error::new(kind, format!("cannot {what} {}", self.describe(rel))).source(e)
    }

    /// A small object whole, with its ETag; `None` when there is none.
    pub async fn get(&self, rel: &str) -> Result<Option<(Bytes, Option<String>)>> {
        match self.store.get(&self.key(rel)).await {
            Ok(r) => {
                let etag = r.meta.e_tag.clone();
                let bytes = r.bytes().await.map_err(|e| self.failed("read", rel, e))?;
                Ok(Some((bytes, etag)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed("read", rel, e)),
        }
    }

    /// Writes `bytes` whole, replacing what is there.
    pub async fn put(&self, rel: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.key(rel), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| self.failed("write", rel, e))
    }

    /// Writes `bytes` only if nothing is there (`etag` `None`) or what is there still has
    /// `etag`: `Ok(Err(Lost))` when another writer came first. Returns the new ETag.
    pub async fn put_if(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        etag: Option<String>,
    ) -> Result<std::result::Result<Option<String>, Lost>> {
        let mode = match etag {
            None => PutMode::Create,
            Some(e_tag) => PutMode::Update(UpdateVersion {
                e_tag: Some(e_tag),
                version: None,
            }),
        };
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&self.key(rel), PutPayload::from(bytes), opts)
            .await
        {
            Ok(r) => Ok(Ok(r.e_tag)),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(Err(Lost)),
            Err(e) => Err(self.failed("write", rel, e)),
        }
    }

    /// Streams the local file `from` up as `rel` by multipart upload, a part at a time;
    /// returns its size. A failure aborts the upload, so no part is left behind.
    pub async fn upload_file(&self, from: &Path, rel: &str) -> Result<u64> {
        let mut file = tokio::fs::File::open(from).await.map_err(|e| {
            Error::new(Kind::Io, format!("cannot read {}", from.display())).source(e)
        })?;
        let upload = self
            .store
            .put_multipart(&self.key(rel))
            .await
            .map_err(|e| self.failed("start uploading", rel, e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(
                        Error::new(Kind::Io, format!("cannot read {}", from.display())).source(e),
                    );
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = w.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = w.abort().await;
                return Err(self.failed("upload", rel, e));
            }
            w.write(&buf[..n]);
            size += n as u64;
        }
        w.finish()
            .await
            .map_err(|e| self.failed("finish uploading", rel, e))?;
        Ok(size)
    }

    /// Streams `rel` down into the new local file `to`; returns its size.
    pub async fn download_file(&self, rel: &str, to: &Path) -> Result<u64> {
        let r = self
            .store
            .get(&self.key(rel))
            .await
            .map_err(|e| self.failed("read", rel, e))?;
        let mut out = tokio::fs::File::create(to).await.map_err(|e| {
            Error::new(Kind::Io, format!("cannot write {}", to.display())).source(e)
        })?;
        let mut stream = r.into_stream();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.failed("read", rel, e))?;
            out.write_all(&chunk).await.map_err(|e| {
                Error::new(Kind::Io, format!("cannot write {}", to.display())).source(e)
            })?;
            size += chunk.len() as u64;
        }
        out.sync_all().await.map_err(|e| {
            Error::new(Kind::Io, format!("cannot write {}", to.display())).source(e)
        })?;
        Ok(size)
    }

    /// Whether the object `rel` is there.
    pub async fn has(&self, rel: &str) -> Result<bool> {
        match self.store.head(&self.key(rel)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed("look for", rel, e)),
        }
    }

    /// The size and ETag of the object `rel`; `None` when it is not there.
    pub async fn meta(&self, rel: &str) -> Result<Option<(u64, Option<String>)>> {
        match self.store.head(&self.key(rel)).await {
            Ok(m) => Ok(Some((m.size, m.e_tag))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed("look for", rel, e)),
        }
    }

    /// Bytes `range` of the object `rel` as a stream of chunks, as they arrive; refused when
    /// the object no longer has ETag `if_match` (it was replaced while being read). A request
    /// gives up within its time limit, so a large object is read one bounded range at a time.
    pub async fn range(
        &self,
        rel: &str,
        range: std::ops::Range<u64>,
        if_match: Option<String>,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<Bytes>>> {
        let opts = object_store::GetOptions {
            range: Some(object_store::GetRange::Bounded(range)),
            if_match,
            ..Default::default()
        };
        let r = self
            .store
            .get_opts(&self.key(rel), opts)
            .await
            .map_err(|e| self.failed("read", rel, e))?;
        let what = self.describe(rel);
        Ok(r.into_stream()
            .map(move |chunk| {
                chunk.map_err(|e| {
                    Error::new(Kind::Temporary, format!("cannot read {what}")).source(e)
                })
            })
            .boxed())
    }

    /// Starts a multipart upload of `rel`, written in `PART`s: `finish` it, or `abort` it.
    pub async fn multipart(&self, rel: &str) -> Result<WriteMultipart> {
        let upload = self
            .store
            .put_multipart(&self.key(rel))
            .await
            .map_err(|e| self.failed("start uploading", rel, e))?;
        Ok(WriteMultipart::new_with_chunk_size(upload, PART))
    }

    /// An error of the service while writing `rel`, named.
    pub fn write_failed(&self, rel: &str, e: object_store::Error) -> Error {
        self.failed("write", rel, e)
    }

    /// The "directories" (common prefixes) and the objects directly under `rel/`.
    pub async fn entries(&self, rel: &str) -> Result<(Vec<String>, Vec<String>)> {
        let listed = self
            .store
            .list_with_delimiter(Some(&self.key(rel)))
            .await
            .map_err(|e| self.failed("list", rel, e))?;
        let name = |p: &Key| p.filename().map(str::to_string);
        Ok((
            listed.common_prefixes.iter().filter_map(name).collect(),
            listed
                .objects
                .iter()
                .filter_map(|o| name(&o.location))
                .collect(),
        ))
    }

    /// The names directly under `rel/` that are "directories" (common prefixes).
    pub async fn dirs(&self, rel: &str) -> Result<Vec<String>> {
        let listed = self
            .store
            .list_with_delimiter(Some(&self.key(rel)))
            .await
            .map_err(|e| self.failed("list", rel, e))?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }

    /// Every object under `rel/`, with its size and when it was written.
    pub async fn objects(
        &self,
        rel: &str,
    ) -> Result<Vec<(String, u64, chrono::DateTime<chrono::Utc>)>> {
        let base = self.key(rel);
        let mut out = Vec::new();
        let mut listing = self.store.list(Some(&base));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| self.failed("list", rel, e))?;
            let name = meta
                .location
                .prefix_match(&base)
                .map(|parts| {
                    parts
                        .map(|p| p.as_ref().to_string())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_default();
            out.push((name, meta.size, meta.last_modified));
        }
        Ok(out)
    }

    /// Removes the object `rel`, if it is there.
    pub async fn remove(&self, rel: &str) -> Result<()> {
        match self.store.delete(&self.key(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed("remove", rel, e)),
        }
    }

    /// Removes every object under `rel/`.
    pub async fn remove_tree(&self, rel: &str) -> Result<()> {
        for (name, _, _) in self.objects(rel).await? {
            self.remove(&format!("{rel}/{name}")).await?;
        }
        Ok(())
    }
}
