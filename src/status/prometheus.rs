//! The node_exporter textfile: gauges for alerting, written to a temporary file and renamed,
//! so the exporter never reads half a file. It holds times, counts and states only.

use super::facts::Facts;
use super::verdict::{Severity, is_current};
use crate::metrics::text::{Family, render as text};

/// The node_exporter textfile: every gauge's HELP and TYPE, then one sample per profile.
/// Long on purpose: it is the list of gauges, one block each, so each name can be found.
pub fn render(all: &[(Facts, Severity)]) -> String {
    let mut families = Vec::new();
    let mut gauge = |name: &str, help: &str, values: Vec<(&str, Option<f64>)>| {
        let family = values
            .into_iter()
            .filter_map(|(profile, v)| Some((profile, v?)))
            .fold(Family::gauge(name, help), |f, (profile, v)| {
                f.sample(&[("profile", profile)], v)
            });
        families.push(family);
    };
    let ts = |t: chrono::DateTime<chrono::Utc>| Some(t.timestamp() as f64);
    let per = |f: &dyn Fn(&Facts, Severity) -> Option<f64>| -> Vec<(&str, Option<f64>)> {
        all.iter()
            .map(|(x, l)| (x.profile.as_str(), f(x, *l)))
            .collect()
    };
    gauge(
        "acc_status",
        "Verdict: 0 OK, 1 WARNING, 2 CRITICAL",
        per(&|_, l| Some(l as u8 as f64)),
    );
    gauge(
        "acc_next_cutoff_timestamp_seconds",
        "Next snapshot cutoff, Unix time",
        per(&|x, _| ts(x.next.cutoff)),
    );
    gauge(
        "acc_next_deadline_timestamp_seconds",
        "Next staging-ready deadline, Unix time",
        per(&|x, _| ts(x.next.deadline)),
    );
    gauge(
        "acc_snapshot_last_success_timestamp_seconds",
        "When the latest complete snapshot finished, Unix time",
        per(&|x, _| {
            x.snapshot
                .as_ref()
                .ok()
                .and_then(Option::as_ref)
                .and_then(|s| ts(s.finished_at))
        }),
    );
    gauge(
        "acc_snapshot_last_size_bytes",
        "Encrypted size of the latest complete snapshot",
        per(&|x, _| {
            x.snapshot
                .as_ref()
                .ok()
                .and_then(Option::as_ref)
                .map(|s| s.bytes as f64)
        }),
    );
    let staging = |x: &Facts| x.staging.as_ref().ok().and_then(Option::as_ref).cloned();
    gauge(
        "acc_staging_data_age_seconds",
        "Age of the data staging holds",
        per(&|x, _| {
            staging(x).map(|s| x.now.signed_duration_since(s.data_as_of).num_seconds() as f64)
        }),
    );
    gauge(
        "acc_staging_current",
        "1 when staging holds the latest cutoff's data",
        per(&|x, _| staging(x).map(|s| f64::from(u8::from(is_current(&s, x.latest.cutoff))))),
    );
    gauge(
        "acc_staging_read_only",
        "1 when staging is read-only",
        per(&|x, _| staging(x).map(|s| f64::from(u8::from(s.read_only)))),
    );
    gauge(
        "acc_staging_restore_late",
        "1 when the last restore finished after its deadline",
        per(&|x, _| staging(x).map(|s| f64::from(u8::from(s.late)))),
    );
    gauge(
        "acc_frozen",
        "1 while the staging refresh is frozen",
        per(&|x, _| {
            x.freeze
                .as_ref()
                .ok()
                .map(|z| f64::from(u8::from(z.is_some())))
        }),
    );
    let export = |x: &Facts| {
        x.export
            .as_ref()
            .and_then(|e| e.as_ref().ok())
            .cloned()
            .flatten()
    };
    gauge(
        "acc_export_dashboards_delivered",
        "Dashboards in the latest export day",
        per(&|x, _| export(x).map(|e| e.delivered as f64)),
    );
    gauge(
        "acc_export_last_success_timestamp_seconds",
        "When the latest export day was published, Unix time",
        per(&|x, _| export(x).and_then(|e| ts(e.finished_at))),
    );
    gauge(
        "acc_sync_mismatch_carers",
        "Carers whose device missed visits of the next 24 hours (device-sync, on staging)",
        per(&|x, _| {
            x.devices
                .as_ref()
                .and_then(|d| d.as_ref().ok())
                .map(|d| d.mismatch as f64)
        }),
    );
    let mut expiry = Family::gauge(
        "acc_tls_certificate_expiry_timestamp_seconds",
        "When the certificate a server presents expires, Unix time",
    );
    for (x, _) in all {
        for (server, cert) in &x.certificates {
            expiry = expiry.sample(
                &[("profile", x.profile.as_str()), ("server", server)],
                cert.not_after.timestamp() as f64,
            );
        }
    }
    families.push(expiry);
    text(&families)
}
