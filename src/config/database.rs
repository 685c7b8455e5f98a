//! A PostgreSQL server and database as libpq names one: separate keys, a `url` (or `key=value`
//! string), a `service` from pg_service.conf, and the TLS settings, each setting with the
//! place it came from.
//!
//! Precedence, highest first: the separate keys of the profile, then `url`, then `service`,
//! then the defaults (port 5432, `sslmode = "verify-full"`). The password comes from
//! `password_env`/`_file`/`_credential` when one is set, else from `PGPASSFILE` or `~/.pgpass`.

use std::path::PathBuf;

use super::raw::RawDatabase;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::pg::{Database, RootCert, SslMode, Tls, conninfo, pgpass, service};
use crate::secret::SecretRef;

/// Resolves a profile's section; `key` is its dotted path (`profiles.P.production`).
pub fn resolve_database(key: &str, d: RawDatabase, env: &Env) -> Result<Database> {
    let mut settings = Settings::default();
    if let Some(name) = &d.service {
        let (file, pairs) =
            service::lookup(name, env).map_err(|e| Error::config(format!("{key}.service: {e}")))?;
        settings.lay(pairs, &format!("service {name} in {}", file.display()));
    }
    if let Some(url) = &d.url {
        let pairs = conninfo::parse(url).map_err(|e| Error::config(format!("{key}.url: {e}")))?;
        settings.lay(pairs, "url");
    }
    let own = [
        ("host", d.host),
        ("hostaddr", d.hostaddr),
        ("port", d.port.map(|p| p.to_string())),
        ("dbname", d.dbname),
        ("user", d.user),
        ("sslmode", d.sslmode),
        ("sslrootcert", d.sslrootcert),
        ("sslcert", d.sslcert),
        ("sslkey", d.sslkey),
        ("sslcrl", d.sslcrl),
    ];
    settings.lay(
        own.into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
        "profile",
    );
    settings.build(
        key,
        env,
        d.password_env,
        d.password_file,
        d.password_credential,
    )
}

/// Settings laid one source over another, each remembering its source.
#[derive(Default)]
struct Settings(Vec<(&'static str, String, String)>);

impl Settings {
    fn lay(&mut self, pairs: Vec<(String, String)>, origin: &str) {
        for (k, v) in pairs {
            let Some(name) = conninfo::KEYS.iter().copied().find(|n| *n == k) else {
                continue;
            };
            self.0.retain(|(n, _, _)| *n != name);
            self.0.push((name, v, origin.to_string()));
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, v, _)| v.as_str())
    }

    fn build(
        self,
        key: &str,
        env: &Env,
        password_env: Option<String>,
        password_file: Option<PathBuf>,
        password_credential: Option<String>,
    ) -> Result<Database> {
        let required = |name: &str| {
            self.get(name).map(str::to_string).ok_or_else(|| {
                Error::config(format!("{key}.{name} is not set"))
                    .hint(format!("set {name}, or url or service, under [{key}]"))
            })
        };
        let bad = |name: &str, why: String| Error::config(format!("{key}.{name}: {why}"));
        let port = match self.get("port") {
            None => 5432,
            Some(p) => p
                .parse()
                .map_err(|_| bad("port", format!("'{p}' is not a port number")))?,
        };
        let hostaddr = self
            .get("hostaddr")
            .map(|a| {
                a.parse()
                    .map_err(|_| bad("hostaddr", format!("'{a}' is not an IP address")))
            })
            .transpose()?;
        let (mode, root_cert) = self.tls(key, env)?;
        let path = |name: &str| self.get(name).map(PathBuf::from);
        let password = SecretRef::from_keys(
            &format!("{key}.password"),
            password_env,
            password_file,
            password_credential,
        )?;
        let mut origins: Vec<(&'static str, String)> =
            self.0.iter().map(|(n, _, o)| (*n, o.clone())).collect();
        if self.get("sslrootcert").is_none() && root_cert.is_some() {
            origins.push(("sslrootcert", "libpq default".into()));
        }
        let passfile = if password.is_none() {
            pgpass::default_path(env)
        } else {
            None
        };
        origins.push((
            "password",
            match (&password, &passfile) {
                (Some(r), _) => r.to_string(),
                (None, Some(f)) => format!(
                    "*** (from the password file {}, if it has a line)",
                    f.display()
                ),
                (None, None) => "none".into(),
            },
        ));
        Ok(Database {
            host: required("host")?,
            hostaddr,
            port,
            dbname: required("dbname")?,
            user: required("user")?,
            password,
            passfile,
            tls: Tls {
                mode,
                root_cert,
                cert: path("sslcert"),
                key: path("sslkey"),
                crl: path("sslcrl"),
            },
            origins,
        })
    }

    /// sslmode (libpq's default is prefer; acc's is verify-full) and the root certificate,
    /// which under verify-* defaults to `~/.postgresql/root.crt` as in libpq.
    fn tls(&self, key: &str, env: &Env) -> Result<(SslMode, Option<RootCert>)> {
        let bad = |name: &str, why: String| Error::config(format!("{key}.{name}: {why}"));
        let mode = match self.get("sslmode") {
            None => SslMode::VerifyFull,
            Some(m) => SslMode::parse(m).ok_or_else(|| {
                bad(
                    "sslmode",
                    format!("'{m}' is not one of disable, allow, prefer, require, verify-ca, verify-full"),
                )
            })?,
        };
        let root_cert = match self.get("sslrootcert") {
            Some("system") => Some(RootCert::System),
            Some(f) => Some(RootCert::File(PathBuf::from(f))),
            None if mode >= SslMode::VerifyCa => env
                .get("HOME")
                .map(|h| RootCert::File(PathBuf::from(h).join(".postgresql/root.crt"))),
            None => None,
        };
        if root_cert == Some(RootCert::System) && mode != SslMode::VerifyFull {
            return Err(bad(
                "sslrootcert",
                format!("\"system\" needs sslmode = \"verify-full\", not \"{}\"", mode.name()),
            )
            .hint("any CA the system trusts could vouch for any name, so libpq requires the name check too"));
        }
        Ok((mode, root_cert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml_text: &str) -> RawDatabase {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn separate_keys_win_over_the_url_which_wins_over_the_service() {
        let dir = tempfile::tempdir().unwrap();
        let svc = dir.path().join("services");
        std::fs::write(&svc, "[agency]\nhost=from-service\nport=7000\ndbname=svc\nuser=svc_user\nsslmode=verify-ca\n").unwrap();
        let env = Env::from_pairs([
            ("PGSERVICEFILE", svc.to_str().unwrap()),
            ("HOME", "/home/ops"),
        ]);
        let db = resolve_database(
            "profiles.p.production",
            raw("service = \"agency\"\nurl = \"postgresql://url_user@from-url/urldb\"\nuser = \"acc\"\n"),
            &env,
        )
        .unwrap();
        assert_eq!(
            (
                db.host.as_str(),
                db.port,
                db.dbname.as_str(),
                db.user.as_str()
            ),
            ("from-url", 7000, "urldb", "acc")
        );
        assert_eq!(db.tls.mode, SslMode::VerifyCa);
        assert_eq!(db.origin("user"), "profile");
        assert_eq!(db.origin("host"), "url");
        assert!(
            db.origin("port").starts_with("service agency in "),
            "{}",
            db.origin("port")
        );
        assert_eq!(
            db.tls.root_cert,
            Some(RootCert::File("/home/ops/.postgresql/root.crt".into()))
        );
        assert_eq!(db.passfile, Some(PathBuf::from("/home/ops/.pgpass")));
    }

    #[test]
    fn the_default_is_verify_full_and_system_needs_it() {
        let env = Env::from_pairs([]);
        let db = resolve_database(
            "k",
            raw("host = \"h\"\ndbname = \"d\"\nuser = \"u\"\nsslrootcert = \"system\"\n"),
            &env,
        )
        .unwrap();
        assert_eq!(
            (db.tls.mode, db.tls.root_cert.clone()),
            (SslMode::VerifyFull, Some(RootCert::System))
        );
        assert_eq!(db.origin("sslmode"), "default");
        let err = resolve_database(
            "k",
            raw("host = \"h\"\ndbname = \"d\"\nuser = \"u\"\nsslrootcert = \"system\"\nsslmode = \"require\"\n"),
            &env,
        )
        .unwrap_err();
        assert!(err.message().contains("verify-full"), "{}", err.message());
        let err = resolve_database(
            "k",
            raw("host = \"h\"\ndbname = \"d\"\nuser = \"u\"\nsslmode = \"verify_full\"\n"),
            &env,
        )
        .unwrap_err();
        assert!(err.message().contains("k.sslmode"), "{}", err.message());
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_echo() {
        let err = resolve_database(
            "k",
            raw("url = \"postgres://u:hunter2@h/d\"\n"),
            &Env::from_pairs([]),
        )
        .unwrap_err();
        assert!(
            err.message().starts_with("k.url: ") && !err.message().contains("hunter2"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn a_password_reference_replaces_the_password_file() {
        let env = Env::from_pairs([("PGPASSFILE", "/etc/acc/pgpass")]);
        let db = resolve_database(
            "k",
            raw("url = \"host=h dbname=d user=u\"\npassword_env = \"PW\"\n"),
            &env,
        )
        .unwrap();
        assert_eq!(
            (db.password.clone(), db.passfile.clone()),
            (Some(SecretRef::Env("PW".into())), None)
        );
        let db = resolve_database("k", raw("url = \"host=h dbname=d user=u\"\n"), &env).unwrap();
        assert_eq!(db.passfile, Some(PathBuf::from("/etc/acc/pgpass")));
    }
}
