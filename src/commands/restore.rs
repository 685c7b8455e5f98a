//! `acc restore`: flags resolved against the profile, then one restore or rollback.

use serde_json::json;

use super::{block_on, default_jobs};
use crate::cli::RestoreArgs;
use crate::config::{Config, Database, RawProfile, SecretRef};
use crate::error::{Error, Kind, Result};
use crate::output;
use crate::progress::Mode;
use crate::restore::{Outcome, Request, Target, restore, rollback};

pub fn run(args: &RestoreArgs, config: &Config, profile: Option<&str>) -> Result<()> {
    let p = config.profile(profile, RawProfile::default())?;
    let target = args.target.as_deref().map(parse_target).transpose()?;
    if args.rollback {
        let db = block_on(rollback(&p, config.env(), target))??;
        return output::emit(&format!(
            "rolled back: {db} holds the previous copy again\n"
        ));
    }
    let req = Request {
        snapshot: args.snapshot.clone(),
        jobs: args
            .jobs
            .map(usize::from)
            .or(p.restore.jobs)
            .unwrap_or_else(default_jobs),
        force: args.force,
        target,
        identity: args.identity.clone(),
        progress: Mode::detect(),
    };
    let o = block_on(restore(&p, config.env(), &req))??;
    if args.json {
        output::emit_json(&json!(o))?;
    } else {
        output::emit(&text(&o))?;
    }
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

fn text(o: &Outcome) -> String {
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

/// `postgres://user@host:port/dbname`; a password in the URL is refused, PGPASSWORD is used.
fn parse_target(url: &str) -> Result<Target> {
    let cfg: tokio_postgres::Config = url
        .parse()
        .map_err(|e| Error::usage(format!("--target is not a PostgreSQL URL: {e}")))?;
    if cfg.get_password().is_some() {
        return Err(Error::usage("--target must not carry a password")
            .hint("put it in the PGPASSWORD environment variable instead"));
    }
    let host = match cfg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => {
            return Err(Error::usage(
                "--target needs a TCP host, e.g. postgres://acc@127.0.0.1:5432/staging",
            ));
        }
    };
    let dbname = cfg.get_dbname().ok_or_else(|| {
        Error::usage("--target needs a database name, e.g. postgres://acc@host:5432/staging")
    })?;
    Ok(Target {
        db: Database {
            host,
            port: cfg.get_ports().first().copied().unwrap_or(5432),
            dbname: dbname.to_string(),
            user: cfg.get_user().unwrap_or("postgres").to_string(),
            password: std::env::var_os("PGPASSWORD").map(|_| SecretRef::Env("PGPASSWORD".into())),
        },
        is_staging: false,
    })
}
