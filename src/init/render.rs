//! The `acc.toml` that `acc init` writes: the answers, each with a comment that says what it is,
//! and the settings a newcomer may want next, commented out. Secrets appear only by reference.

use std::fmt::Write as _;

use super::answers::{Answers, Connection};

/// The whole file.
pub fn render(a: &Answers, written_on: chrono::NaiveDate) -> String {
    let p = &a.profile;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# acc.toml, written by `acc init` on {written_on}. Reference: docs/configuration.md\n\
         # No secret is written here. PostgreSQL passwords come from ~/.pgpass or a service file\n\
         # (PGPASSFILE, PGSERVICEFILE), or from a password_file / password_env /\n\
         # password_credential line added under the database's section.\n"
    );
    let _ = writeln!(t, "[profiles.{p}]");
    let _ = writeln!(
        t,
        "region = {}                 # cutoffs and deadlines: `acc schedule --profile {p}`",
        quote(&a.region)
    );
    let _ = writeln!(
        t,
        "store = {}   # snapshots, kept 0700",
        quote(&a.store.display().to_string())
    );
    match &a.export_to {
        Some(to) => {
            let _ = writeln!(
                t,
                "export_to = {}   # the nine dashboards, daily",
                quote(to)
            );
        }
        None => {
            let _ = writeln!(
                t,
                "# export_to = \"sftp://user@host:22/exports\"   # the nine dashboards, daily"
            );
        }
    }
    let _ = writeln!(
        t,
        "# snapshots and exports are encrypted to each of these (age or ssh public keys)"
    );
    let _ = writeln!(t, "age_recipients = [");
    for r in &a.age_recipients {
        let _ = writeln!(t, "    {},", quote(r));
    }
    let _ = writeln!(t, "]\n");
    if let Some(c) = &a.production {
        let what = "captured at the cutoff; acc reads it (replay writes back what paper collected)";
        database(&mut t, p, "production", c, what);
    }
    if let Some(c) = &a.staging {
        let what =
            "the read-only copy, refreshed every night; acc's user needs CREATEDB and CREATEROLE";
        database(&mut t, p, "staging", c, what);
    }
    let _ = writeln!(t, "[profiles.{p}.restore]");
    let _ = writeln!(
        t,
        "reader_role = {}   # the role care teams read staging as; it may only SELECT",
        quote(&a.reader_role)
    );
    let _ = writeln!(
        t,
        "# age_identity = \"/etc/acc/age-identity.txt\"   # decrypts snapshots; or restore --identity"
    );
    let _ = writeln!(
        t,
        "# preserve_schemas = [\"data_exploration\"]      # kept across each night's reset\n"
    );
    if let Some(sftp) = &a.sftp {
        let _ = writeln!(t, "[profiles.{p}.sftp]");
        let _ = writeln!(
            t,
            "identity_file = {}   # or use_agent = true",
            quote(&sftp.identity_file.display().to_string())
        );
        let _ = writeln!(
            t,
            "known_hosts = {}     # the server's key must be listed",
            quote(&sftp.known_hosts.display().to_string())
        );
        let _ = writeln!(t, "# passphrase_file = \"/etc/acc/sftp.passphrase\"\n");
    }
    let _ = writeln!(t, "[profiles.{p}.export]");
    let _ = writeln!(
        t,
        "# keep_days = 30                                  # days kept at the destination"
    );
    let _ = writeln!(
        t,
        "# signing_key = \"/etc/acc/export_signing_ed25519\"   # signs each day's manifest"
    );
    let _ = writeln!(
        t,
        "# allowed_signers = \"/etc/acc/allowed_signers\"      # acc pull checks it"
    );
    t
}

fn database(t: &mut String, profile: &str, name: &str, c: &Connection, what: &str) {
    let _ = writeln!(t, "# {what}");
    let _ = writeln!(t, "[profiles.{profile}.{name}]");
    match c {
        Connection::Url(s) | Connection::KeyValue(s) => {
            let _ = writeln!(t, "url = {}", quote(s));
        }
        Connection::Service(s) => {
            let _ = writeln!(t, "service = {}", quote(s));
        }
    }
    let _ = writeln!(t, "# password_file = \"/etc/acc/{name}.password\"\n");
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::answers::SftpLogin;

    #[test]
    fn the_file_parses_and_resolves_to_the_answers() {
        let a = Answers {
            profile: "north".into(),
            region: "us-can".into(),
            production: Connection::parse("host=prod.example port=5432 dbname=agency user=acc")
                .ok(),
            staging: Connection::parse("postgresql://acc@staging.example/agency").ok(),
            store: "/var/lib/acc".into(),
            export_to: Some("sftp://acc@files.example:22/exports \"quoted\"".into()),
            sftp: Some(SftpLogin {
                identity_file: "/etc/acc/sftp_ed25519".into(),
                known_hosts: "/etc/acc/known_hosts".into(),
            }),
            age_recipients: vec![
                "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into(),
            ],
            reader_role: "staging_reader".into(),
        };
        let text = render(&a, chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
        let file: crate::config::RawFile = toml::from_str(&text).unwrap();
        let p = &file.profiles["north"];
        assert_eq!(p.region.as_deref(), Some("us-can"));
        assert_eq!(p.export_to, a.export_to);
        assert_eq!(p.age_recipients.as_ref(), Some(&a.age_recipients));
        assert_eq!(
            p.production.as_ref().unwrap().url.as_deref(),
            Some("host=prod.example port=5432 dbname=agency user=acc")
        );
        assert_eq!(
            p.restore.as_ref().unwrap().reader_role.as_deref(),
            Some("staging_reader")
        );
        assert!(!text.contains("password ="), "no secret is ever written");
    }
}
