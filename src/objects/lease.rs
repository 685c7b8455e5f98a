//! A lease in the bucket instead of a host lock: a small object written create-only, then
//! renewed by replacing it only while it is unchanged (its ETag), with an expiry. Two hosts
//! never hold one lease at once; a crashed holder's lease expires by itself and the next run
//! takes it over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::bucket::{Bucket, Lost};
use crate::error::{Error, Kind, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Holder {
    /// `<host>-<pid>-<nanos>`: this run, whichever host it is on.
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub job: String,
    pub taken_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Given up by its holder at the end of its job.
    #[serde(default)]
    pub released: bool,
}

pub struct Lease {
    bucket: Arc<Bucket>,
    rel: String,
    state: Arc<Mutex<(Holder, Option<String>)>>,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

/// Who holds the lease at `rel`, if anyone ever took it (an expired one included).
pub async fn holder(bucket: &Bucket, rel: &str) -> Result<Option<Holder>> {
    Ok(match bucket.get(rel).await? {
        None => None,
        Some((bytes, _)) => serde_json::from_slice(&bytes).ok(),
    })
}

/// Whether a run holds the lease at `rel` now: taken, not given up, not expired.
pub async fn held(bucket: &Bucket, rel: &str) -> Result<bool> {
    Ok(holder(bucket, rel)
        .await?
        .is_some_and(|h| !h.released && h.expires_at > Utc::now()))
}

impl Lease {
    /// Takes the lease at `rel` for `job`, lasting `ttl` and renewed every third of it. Held
    /// by another run and not expired: exit 75 naming the holder and until when.
    pub async fn take(
        bucket: Arc<Bucket>,
        rel: &str,
        job: &str,
        ttl: std::time::Duration,
    ) -> Result<Lease> {
        let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(5));
        let host = crate::host::name();
        let pid = std::process::id();
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let mut me = Holder {
            id: format!("{host}-{pid}-{nanos}"),
            host,
            pid,
            job: job.to_string(),
            taken_at: Utc::now(),
            expires_at: Utc::now() + ttl,
            released: false,
        };
        for _ in 0..5 {
            let current = bucket.get(rel).await?;
            let mut expired = false;
            let etag = match &current {
                None => None,
                Some((bytes, etag)) => {
                    let theirs: Option<Holder> = serde_json::from_slice(bytes).ok();
                    expired = theirs.as_ref().is_some_and(|h| !h.released);
                    if let Some(h) = theirs.filter(|h| h.expires_at > Utc::now() && !h.released) {
                        return Err(Error::new(
                            Kind::Temporary,
                            format!(
                                "{} is running on host {} (pid {}): it holds the lease {} until {}",
                                h.job,
                                h.host,
                                h.pid,
                                bucket.describe(rel),
                                h.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                            ),
                        )
                        .hint("this run did nothing; if that host crashed, its lease expires by itself and the next run takes over"));
                    }
                    etag.clone()
                }
            };
            me.taken_at = Utc::now();
            me.expires_at = me.taken_at + ttl;
            let taken_over = expired;
            match bucket.put_if(rel, to_json(&me), etag).await? {
                Err(Lost) => continue,
                Ok(etag) => {
                    if taken_over {
                        crate::events::warning(&format!(
                            "took over the expired lease {}",
                            bucket.describe(rel)
                        ));
                    }
                    return Ok(Lease::hold(bucket, rel, me, etag, ttl));
                }
            }
        }
        Err(Error::new(
            Kind::Temporary,
            format!(
                "the lease {} kept changing under this run",
                bucket.describe(rel)
            ),
        ))
    }

    fn hold(
        bucket: Arc<Bucket>,
        rel: &str,
        me: Holder,
        etag: Option<String>,
        ttl: chrono::Duration,
    ) -> Lease {
        let state = Arc::new(Mutex::new((me, etag)));
        let lost = Arc::new(AtomicBool::new(false));
        let every = (ttl / 3)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60));
        let renewer = {
            let (bucket, rel, state, lost) =
                (bucket.clone(), rel.to_string(), state.clone(), lost.clone());
            tokio::spawn(async move {
                let mut wait = every;
                loop {
                    tokio::time::sleep(wait).await;
                    let mut s = state.lock().await;
                    let mut next = s.0.clone();
                    next.expires_at = Utc::now() + ttl;
                    match bucket.put_if(&rel, to_json(&next), s.1.clone()).await {
                        Ok(Ok(etag)) => {
                            *s = (next, etag);
                            wait = every;
                        }
                        Ok(Err(Lost)) => {
                            lost.store(true, Ordering::SeqCst);
                            crate::events::warning(&format!(
                                "lost the lease {}: another run took it over",
                                bucket.describe(&rel)
                            ));
                            return;
                        }
                        // a passing failure: try again soon, and give the lease up for lost
                        // once it has expired, so this run publishes nothing after that
                        Err(e) => {
                            if s.0.expires_at <= Utc::now() {
                                lost.store(true, Ordering::SeqCst);
                            }
                            crate::events::warning(&format!(
                                "could not renew the lease {}: {}",
                                bucket.describe(&rel),
                                e.message()
                            ));
                            wait = std::time::Duration::from_secs(5).min(every);
                        }
                    }
                }
            })
        };
        Lease {
            bucket,
            rel: rel.to_string(),
            state,
            lost,
            renewer,
        }
    }

    /// `Ok` while this run still holds the lease: checked before anything is published.
    pub async fn check(&self) -> Result<()> {
        let s = self.state.lock().await;
        if self.lost.load(Ordering::SeqCst) || s.0.expires_at <= Utc::now() {
            return Err(Error::new(
                Kind::Temporary,
                format!(
                    "this run no longer holds the lease {}",
                    self.bucket.describe(&self.rel)
                ),
            )
            .hint("another host took the job over; nothing was published by this run"));
        }
        Ok(())
    }

    /// Gives the lease up at once, so the next run need not wait for it to expire.
    pub async fn release(self) {
        self.renewer.abort();
        let s = self.state.lock().await;
        if self.lost.load(Ordering::SeqCst) {
            return;
        }
        let mut done = s.0.clone();
        done.expires_at = Utc::now();
        done.released = true;
        if let Err(e) = self
            .bucket
            .put_if(&self.rel, to_json(&done), s.1.clone())
            .await
        {
            crate::events::warning(&format!(
                "could not release the lease {}: it expires by itself: {}",
                self.bucket.describe(&self.rel),
                e.message()
            ));
        }
    }
}

fn to_json(h: &Holder) -> Vec<u8> {
    serde_json::to_vec_pretty(h).expect("a lease serialises")
}
