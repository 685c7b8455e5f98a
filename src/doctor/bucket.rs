//! The doctor's check of an object store (`store = "s3://..."`, `export_to = "s3://..."`): the bucket can be listed,
//! written and read with the profile's settings, shown with where each came from. A probe
//! object is written create-only, read back and removed.

use crate::config::Profile;
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::location::S3Url;
use crate::objects::{Bucket, credentials_source};

use super::check::{Check, fail, pass};

const NAME: &str = "object store";

/// Nothing when the store is a directory.
pub(super) async fn check(p: &Profile, env: &Env) -> Option<Check> {
    Some(checked(NAME, p.object_store.as_ref()?, p, env).await)
}

/// The check named `name` of the bucket `url` names (the store, the export destination).
pub(super) async fn checked(name: &str, url: &S3Url, p: &Profile, env: &Env) -> Check {
    match probe(url, p, env).await {
        Ok(()) => pass(
            name,
            format!(
                "{}: listed, wrote (create-only, a second refused), read back and removed a probe; keys from {}; region {}; endpoint {}",
                url.describe(),
                credentials_source(&p.s3, env),
                origin_of(
                    p.s3.region.as_deref(),
                    "s3.region",
                    env,
                    &["AWS_REGION", "AWS_DEFAULT_REGION"]
                )
                .unwrap_or_else(|| "us-east-1 (the default)".into()),
                p.s3.endpoint
                    .as_deref()
                    .map_or("AWS's own".to_string(), |e| format!("{e} (s3.endpoint)")),
            ),
        ),
        Err(e) => fail(name, &e),
    }
}

/// `value (setting)`, or the first of `vars` set, or `None`.
fn origin_of(value: Option<&str>, setting: &str, env: &Env, vars: &[&str]) -> Option<String> {
    if let Some(v) = value {
        return Some(format!("{v} ({setting})"));
    }
    vars.iter()
        .find_map(|var| env.get(var).map(|v| format!("{v} ({var})")))
}

async fn probe(url: &S3Url, p: &Profile, env: &Env) -> Result<()> {
    let bucket = Bucket::open(url, &p.s3, env)?;
    bucket.dirs(&p.name).await?;
    let key = format!(
        "{}/.doctor-{}-{}",
        p.name,
        crate::host::file_part(),
        std::process::id()
    );
    let body = b"acc doctor probe".to_vec();
    if bucket.put_if(&key, body.clone(), None).await?.is_err() {
        return Err(Error::new(
            Kind::Temporary,
            format!("{} is already there", bucket.describe(&key)),
        ));
    }
    // the lease and the pointer rest on conditional writes: a service that ignores them
    // would let two hosts run one job
    let honoured = bucket.put_if(&key, body.clone(), None).await?.is_err();
    let read = bucket.get(&key).await?;
    bucket.remove(&key).await?;
    if !honoured {
        return Err(Error::config(format!(
            "{} ignores conditional writes (a second create-only write of {} was taken)",
            bucket.describe(""),
            key
        ))
        .hint("acc needs If-None-Match and If-Match (AWS S3 since 2024, MinIO, R2, Ceph): use a service that honours them"));
    }
    match read {
        Some((bytes, _)) if bytes.as_ref() == body.as_slice() => Ok(()),
        _ => Err(Error::new(
            Kind::Unavailable,
            format!(
                "{} did not read back what was written",
                bucket.describe(&key)
            ),
        )),
    }
}
