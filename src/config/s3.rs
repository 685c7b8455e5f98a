//! `[defaults.s3]` / `[profiles.P.s3]` resolved: how acc reaches the S3-compatible service a
//! `store = "s3://bucket/prefix"` names. Credentials are acc's own reference
//! (`secret_access_key_env`, `_file`, `_credential`, with `access_key_id`), else the standard
//! AWS chain, read when the bucket is opened.

use std::path::PathBuf;

use super::raw::RawS3;
use crate::error::{Error, Result};
use crate::secret::SecretRef;

/// A lease lasts this long unless renewed; a crashed holder's is taken over after it.
const DEFAULT_LEASE_SECONDS: u64 = 300;

#[derive(Debug, Clone, PartialEq)]
pub struct S3Settings {
    pub region: Option<String>,
    /// For S3-compatible services (MinIO, Ceph, R2, Wasabi, the sandbox): `https://host:port`.
    pub endpoint: Option<String>,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`.
    pub path_style: bool,
    /// A PEM file of the CA that signed the service's certificate, beside the system's.
    pub ca_file: Option<PathBuf>,
    /// Plain HTTP, only when said.
    pub allow_http: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretRef>,
    pub lease: std::time::Duration,
}

impl Default for S3Settings {
    /// AWS itself, keys by the standard chain: what a profile without an `s3` section gets.
    fn default() -> S3Settings {
        S3Settings {
            region: None,
            endpoint: None,
            path_style: false,
            ca_file: None,
            allow_http: false,
            access_key_id: None,
            secret_access_key: None,
            lease: std::time::Duration::from_secs(DEFAULT_LEASE_SECONDS),
        }
    }
}

pub fn resolve(key: &str, raw: RawS3) -> Result<S3Settings> {
    let secret_access_key = SecretRef::from_keys(
        &format!("{key}.secret_access_key"),
        raw.secret_access_key_env,
        raw.secret_access_key_file,
        raw.secret_access_key_credential,
    )?;
    if secret_access_key.is_some() != raw.access_key_id.is_some() {
        return Err(Error::config(format!(
            "{key}: access_key_id and a secret_access_key reference go together"
        ))
        .hint("set both, or neither to use the standard AWS chain (environment, shared credentials file, instance or web-identity role)"));
    }
    if let Some(endpoint) = &raw.endpoint
        && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
    {
        return Err(Error::config(format!(
            "{key}.endpoint '{endpoint}' is not an http(s):// URL"
        )));
    }
    let lease_seconds = raw.lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS);
    if !(5..=86_400).contains(&lease_seconds) {
        return Err(Error::config(format!(
            "{key}.lease_seconds must be between 5 and 86400, not {lease_seconds}"
        )));
    }
    Ok(S3Settings {
        region: raw.region,
        endpoint: raw.endpoint,
        path_style: raw.path_style.unwrap_or(false),
        ca_file: raw.ca_file,
        allow_http: raw.allow_http.unwrap_or(false),
        access_key_id: raw.access_key_id,
        secret_access_key,
        lease: std::time::Duration::from_secs(lease_seconds),
    })
}
