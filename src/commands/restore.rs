//! `acc restore`: flags resolved against the profile, then one restore or rollback.

use serde_json::json;

use super::block_on;
use crate::cli::RestoreArgs;
use crate::config::{Config, Profile, RawDatabase, RawProfile, RawRestore};
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::metrics::{Job, Run};
use crate::restore::{
    RestoreReport, RestoreRequest, Taker, Target, restore, restore_following, rollback,
};
use crate::ui::output;
use crate::ui::progress;

pub fn run(args: &RestoreArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let overlay = RawProfile {
        restore: Some(RawRestore {
            jobs: args.jobs.map(usize::from),
            age_identity: args.identity.clone(),
            ..RawRestore::default()
        }),
        ..RawProfile::default()
    };
    let p = config.profile(profile, overlay)?;
    if args.rollback {
        return exec(args, config, &p, None);
    }
    super::measured(&p, Job::Restore, |m| exec(args, config, &p, Some(m)))
}

/// The restore (measured), or the rollback (not a refresh, so not measured).
fn exec(args: &RestoreArgs, config: &Config, p: &Profile, m: Option<&mut Run>) -> Result<()> {
    let target = args
        .target
        .as_deref()
        .map(|u| parse_target(u, config.env()))
        .transpose()?;
    if args.rollback {
        let db = block_on(rollback(p, config.env(), target))??;
        return output::emit(&format!(
            "rolled back: {db} holds the previous copy again\n"
        ));
    }
    let req = RestoreRequest {
        snapshot: args.snapshot.clone(),
        force: args.force,
        target,
        from_profile: args.from_profile.clone(),
        progress: progress::watch("restore"),
    };
    let o = match args.follow {
        true => {
            let label = (args.snapshot != "latest").then(|| args.snapshot.clone());
            block_on(restore_following(
                p,
                config.env(),
                &req,
                label,
                Taker::Elsewhere,
            ))??
        }
        false => block_on(restore(p, config.env(), &req))??,
    };
    if let Some(m) = m {
        m.rows(o.rows);
    }
    if args.json {
        output::emit_json(&json!(o))?;
    } else {
        output::emit(&text(&o))?;
    }
    late(&o)
}

/// A restore that ended after the deadline: staging is current, the run exits 3.
pub(super) fn late(o: &RestoreReport) -> Result<()> {
    if o.late {
        return Err(Error::new(
            Kind::Partial,
            format!(
                "the restore of {} finished after the staging-ready deadline ({}); staging is current but was late",
                o.label,
                o.deadline.map(|d| d.to_rfc3339()).unwrap_or_default()
            ),
        ));
    }
    Ok(())
}

pub(super) fn text(o: &RestoreReport) -> String {
    if o.already_current {
        return format!(
            "{} already holds snapshot {}; nothing to do\n",
            o.database, o.label
        );
    }
    let mut s = format!(
        "restored {} into {}: {} tables, {} rows, data as of {}{}\n",
        o.label,
        o.database,
        o.tables,
        o.rows,
        o.data_as_of.to_rfc3339(),
        if o.late { " (LATE)" } else { "" }
    );
    if !o.preserved_schemas.is_empty() {
        s.push_str(&format!("  preserved {}\n", o.preserved_schemas.join(", ")));
    }
    s
}

/// `postgres://user@host:port/dbname?sslmode=...` (or libpq `key=value`), resolved like a
/// profile's `url`: a password in it is refused; the password comes from `PGPASSWORD` if set,
/// else `PGPASSFILE` or `~/.pgpass`.
fn parse_target(url: &str, env: &Env) -> Result<Target> {
    let raw = RawDatabase {
        url: Some(url.to_string()),
        password_env: env.get("PGPASSWORD").map(|_| "PGPASSWORD".to_string()),
        ..Default::default()
    };
    let db = crate::config::resolve_database("--target", raw, env).map_err(|e| {
        Error::usage(e.message().to_string()).hint(
            e.hint_text()
                .unwrap_or(
                    "e.g. postgres://acc@db.example.org:5432/staging?sslrootcert=/etc/acc/ca.pem",
                )
                .to_string(),
        )
    })?;
    Ok(Target {
        db,
        is_staging: false,
    })
}
