//! systemd units and crontab lines that run the night: snapshot shortly before the cutoff,
//! restore when the snapshot succeeds, export when the restore succeeds.
//!
//! Chaining: the snapshot service names the restore service in `OnSuccess=`, and the restore
//! service names the export service, so each step starts the moment the one before it has
//! succeeded, with no guess about how long it takes; `After=` alone would only order jobs that
//! happen to be queued together. Each step also has its own timer as a catch-up: at the
//! deadline less the restore's margin, and at the deadline for the export. The commands are
//! idempotent (a restore of the snapshot staging already holds, a second export of the day),
//! so a catch-up after a chained run changes nothing, while a chain broken by a reboot or a
//! failed step is picked up. `Persistent=true` runs a timer missed while the machine was off.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{NaiveTime, TimeDelta};

use crate::config::Profile;
use crate::location::Location;

use crate::schedule::region::Region;
use crate::secret::SecretRef;

/// The snapshot starts this long before the cutoff; `acc snapshot` waits for the cutoff.
pub const LEAD: TimeDelta = TimeDelta::minutes(10);
/// The catch-up restore starts this long before the deadline.
pub const RESTORE_MARGIN: TimeDelta = TimeDelta::minutes(30);
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nightly {
    Snapshot,
    Restore,
    Export,
}

impl Nightly {
    pub const ALL: [Nightly; 3] = [Nightly::Snapshot, Nightly::Restore, Nightly::Export];

    pub fn name(self) -> &'static str {
        match self {
            Nightly::Snapshot => "snapshot",
            Nightly::Restore => "restore",
            Nightly::Export => "export",
        }
    }

    /// When its timer fires, as a wall-clock time in the region's anchor zone.
    pub fn at(self, region: &Region) -> NaiveTime {
        match self {
            Nightly::Snapshot => region.cutoff - LEAD,
            Nightly::Restore => region.deadline - RESTORE_MARGIN,
            Nightly::Export => region.deadline,
        }
    }

    fn next(self) -> Option<Nightly> {
        match self {
            Nightly::Snapshot => Some(Nightly::Restore),
            Nightly::Restore => Some(Nightly::Export),
            Nightly::Export => None,
        }
    }
}

/// How the units run acc.
pub struct Setup {
    pub acc: PathBuf,
    pub config: Option<PathBuf>,
    /// `--user` units: no `User=`, and `default.target`.
    pub user: bool,
    /// Where `LoadCredential=` finds each referenced credential.
    pub credentials_dir: PathBuf,
}

pub fn unit_name(profile: &str, job: Nightly, ext: &str) -> String {
    format!("acc-{}-{profile}.{ext}", job.name())
}

/// `*-*-* 22:50:00 America/Toronto`.
pub fn on_calendar(job: Nightly, region: &Region) -> String {
    format!(
        "*-*-* {} {}",
        job.at(region).format("%H:%M:%S"),
        region.anchor.name()
    )
}

pub(super) fn command(s: &Setup, profile: &str, job: Nightly) -> String {
    let mut c = s.acc.display().to_string();
    if let Some(cfg) = &s.config {
        let _ = write!(c, " --config {}", cfg.display());
    }
    let _ = write!(c, " {} --profile {profile}", job.name());
    c
}

/// Credential ids the profile reads from `$CREDENTIALS_DIRECTORY`.
fn credentials(p: &Profile) -> Vec<String> {
    let mut refs: Vec<Option<&SecretRef>> = Vec::new();
    for db in [&p.production, &p.staging].into_iter().flatten() {
        refs.push(db.password.as_ref());
    }
    if let Some(s) = &p.sftp {
        refs.push(s.passphrase.as_ref());
    }
    if let Some(s) = &p.snowflake {
        refs.push(s.password.as_ref());
        refs.push(s.private_key_passphrase.as_ref());
    }
    let mut ids: Vec<String> = refs
        .into_iter()
        .flatten()
        .filter_map(|r| match r {
            SecretRef::Credential(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// `(file name, contents)` of every unit for the profile: a service and a timer per job.
pub fn units(p: &Profile, s: &Setup) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for job in Nightly::ALL {
        let svc = Service {
            exec_profile: p.name.clone(),
            next: job.next().map(|n| unit_name(&p.name, n, "service")),
            window: window_minutes(&p.region),
            credentials: credentials(p)
                .into_iter()
                .map(|id| {
                    (
                        id.clone(),
                        s.credentials_dir.join(&id).display().to_string(),
                    )
                })
                .collect(),
            writable: writable(std::slice::from_ref(p)),
            header: format!("for profile {}", p.name),
            description: format!(
                "acc {} for profile {} ({})",
                job.name(),
                p.name,
                p.region.name
            ),
        };
        out.push((unit_name(&p.name, job, "service"), service(&svc, job, s)));
        out.push((unit_name(&p.name, job, "timer"), timer(p, job)));
    }
    out
}

/// A fleet of profiles on one host: one template service per job (`acc-snapshot@.service`,
/// `%i` the profile) and one timer per profile and job (`acc-snapshot@north.timer`), each in
/// its region's zone. Adding an agency is its timers; the services are shared. Each instance
/// reads its secrets from `<credentials_dir>/<profile>/<id>`, so the profiles must name the
/// same credential ids.
pub fn template_units(
    profiles: &[Profile],
    s: &Setup,
) -> crate::error::Result<Vec<(String, String)>> {
    let first = profiles
        .first()
        .ok_or_else(|| crate::error::Error::config("no profile is configured"))?;
    let ids = credentials(first);
    if let Some(other) = profiles.iter().find(|p| credentials(p) != ids) {
        return Err(crate::error::Error::config(format!(
            "profiles {} and {} name different credentials ({} and {}), and template units load the same names for every instance",
            first.name,
            other.name,
            show_ids(&ids),
            show_ids(&credentials(other))
        ))
        .hint("give every profile the same credential names (for example password_credential = \"production_password\"), or use per-profile units without --template"));
    }
    let mut out = Vec::new();
    for job in Nightly::ALL {
        let svc = Service {
            exec_profile: "%i".into(),
            next: job.next().map(|n| format!("acc-{}@%i.service", n.name())),
            window: profiles
                .iter()
                .map(|p| window_minutes(&p.region))
                .max()
                .unwrap_or(0),
            credentials: ids
                .iter()
                .map(|id| {
                    (
                        id.clone(),
                        format!("{}/%i/{id}", s.credentials_dir.display()),
                    )
                })
                .collect(),
            writable: writable(profiles),
            header: "as a template: one instance per profile (%i)".into(),
            description: format!("acc {} for profile %i", job.name()),
        };
        out.push((
            format!("acc-{}@.service", job.name()),
            service(&svc, job, s),
        ));
        for p in profiles {
            out.push((
                format!("acc-{}@{}.timer", job.name(), p.name),
                timer(p, job),
            ));
        }
    }
    Ok(out)
}

fn show_ids(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

/// What differs between a profile's own service and a template's.
struct Service {
    /// The profile, or `%i`.
    exec_profile: String,
    next: Option<String>,
    /// Minutes a run may take: the region's cutoff-to-deadline window plus the lead.
    window: i64,
    /// `(id, path)` for each `LoadCredential=`.
    credentials: Vec<(String, String)>,
    writable: Vec<String>,
    header: String,
    description: String,
}

fn window_minutes(region: &Region) -> i64 {
    region
        .deadline
        .signed_duration_since(region.cutoff)
        .num_minutes()
        .rem_euclid(24 * 60)
        + LEAD.num_minutes()
}

/// The store, and a local export directory, of each profile: what ProtectSystem= leaves
/// writable.
fn writable(profiles: &[Profile]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in profiles {
        out.push(p.store.display().to_string());
        if let Some(Ok(Location::Local(dir))) = &p.export_to {
            out.push(format!("-{}", dir.display()));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A job's service unit. Long on purpose: it is the unit's text, as systemd will read it.
fn service(v: &Service, job: Nightly, s: &Setup) -> String {
    let mut svc = String::new();
    let _ = writeln!(svc, "# Written by acc schedule --systemd {}.", v.header);
    let _ = writeln!(svc, "[Unit]");
    let _ = writeln!(svc, "Description={}", v.description);
    let _ = writeln!(svc, "Documentation=https://github.com/acc/acc#readme");
    let _ = writeln!(svc, "Wants=network-online.target");
    let _ = writeln!(svc, "After=network-online.target");
    if let Some(next) = &v.next {
        let _ = writeln!(svc, "OnSuccess={next}");
    }
    let _ = writeln!(svc, "StartLimitIntervalSec=1h");
    let _ = writeln!(svc, "StartLimitBurst=4");
    let _ = writeln!(svc, "\n[Service]");
    let _ = writeln!(svc, "Type=oneshot");
    let _ = writeln!(svc, "ExecStart={}", command(s, &v.exec_profile, job));
    let _ = writeln!(svc, "Restart=on-failure");
    let _ = writeln!(svc, "RestartSec=2min");
    let no_retry: Vec<String> = crate::error::no_retry_codes()
        .iter()
        .map(u8::to_string)
        .collect();
    let _ = writeln!(svc, "RestartPreventExitStatus={}", no_retry.join(" "));
    let _ = writeln!(svc, "TimeoutStartSec={}min", v.window);
    for (id, path) in &v.credentials {
        let _ = writeln!(svc, "LoadCredential={id}:{path}");
    }
    if !s.user {
        let _ = writeln!(svc, "User=acc");
        let _ = writeln!(svc, "Group=acc");
    }
    for line in [
        "UMask=0077",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=strict",
    ] {
        let _ = writeln!(svc, "{line}");
    }
    for dir in &v.writable {
        let _ = writeln!(svc, "ReadWritePaths={dir}");
    }
    for line in [
        "ProtectHome=read-only",
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectControlGroups=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    ] {
        let _ = writeln!(svc, "{line}");
    }
    svc
}

/// A job's timer for one profile, in its region's zone.
fn timer(p: &Profile, job: Nightly) -> String {
    let region = &p.region;
    let mut timer = String::new();
    let _ = writeln!(
        timer,
        "# Written by acc schedule --systemd for profile {}.",
        p.name
    );
    let _ = writeln!(timer, "[Unit]");
    let why = match job {
        Nightly::Snapshot => format!(
            "{} min before the {} cutoff",
            LEAD.num_minutes(),
            region.cutoff.format("%H:%M")
        ),
        Nightly::Restore => "catch-up restore before the staging-ready deadline".to_string(),
        Nightly::Export => "catch-up export at the staging-ready deadline".to_string(),
    };
    let _ = writeln!(
        timer,
        "Description=acc {} for profile {}: {why}",
        job.name(),
        p.name
    );
    let _ = writeln!(timer, "\n[Timer]");
    let _ = writeln!(timer, "OnCalendar={}", on_calendar(job, region));
    let _ = writeln!(timer, "Persistent=true");
    let _ = writeln!(timer, "AccuracySec=30s");
    let _ = writeln!(timer, "\n[Install]");
    let _ = writeln!(timer, "WantedBy=timers.target");
    timer
}

/// Writes the units into `dir` (created if missing); returns their paths.
pub fn install(dir: &Path, units: &[(String, String)]) -> crate::error::Result<Vec<PathBuf>> {
    use crate::error::{Error, Kind};
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::new(Kind::Permission, format!("cannot create {}", dir.display())).source(e)
    })?;
    let mut written = Vec::new();
    for (name, text) in units {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                Error::new(Kind::Permission, format!("cannot write {}", path.display())).source(e)
            })?;
        written.push(path);
    }
    Ok(written)
}
