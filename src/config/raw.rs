//! The configuration file format, key by key, and how one layer overrides another.
//!
//! Every struct refuses unknown keys, so a typo is an error that names the file and the key
//! rather than a setting silently ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// One `acc.toml`: settings every profile inherits, and named profiles.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub defaults: RawProfile,
    #[serde(default)]
    pub profiles: BTreeMap<String, RawProfile>,
}

/// A profile as written: every key optional, because any layer may set any part of it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub region: Option<String>,
    pub store: Option<PathBuf>,
    pub export_to: Option<String>,
    pub age_recipients: Option<Vec<String>>,
    pub production: Option<RawDatabase>,
    pub staging: Option<RawDatabase>,
    pub sftp: Option<RawSftp>,
    pub snowflake: Option<RawSnowflake>,
    pub snapshot: Option<RawSnapshot>,
    pub restore: Option<RawRestore>,
    pub export: Option<RawExport>,
    pub metrics: Option<RawMetrics>,
    pub sheets: Option<RawSheets>,
    pub pull: Option<RawPull>,
    pub s3: Option<RawS3>,
    /// Where a host keeps snapshots it fetched from, or is sending to, an object store.
    pub cache: Option<PathBuf>,
}

/// `[defaults.s3]` or `[profiles.P.s3]`: how to reach the S3-compatible service a `s3://`
/// store names.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawS3 {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub path_style: Option<bool>,
    pub ca_file: Option<PathBuf>,
    pub allow_http: Option<bool>,
    pub access_key_id: Option<String>,
    pub secret_access_key_env: Option<String>,
    pub secret_access_key_file: Option<PathBuf>,
    pub secret_access_key_credential: Option<String>,
    pub lease_seconds: Option<u64>,
}

/// `[profiles.P.pull]`: what `acc pull` demands of a day before it takes it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPull {
    pub require_signature: Option<bool>,
}

/// `[profiles.P.sheets]`: which files `acc sheets` writes, on what paper, in what language.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSheets {
    pub format: Option<String>,
    pub paper: Option<String>,
    pub language: Option<String>,
}

/// `[profiles.P.metrics]`: where each job leaves its node_exporter textfile.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub textfile_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// A `postgresql://` URL or a libpq `key=value` string.
    pub url: Option<String>,
    /// A section of pg_service.conf.
    pub service: Option<String>,
    pub host: Option<String>,
    pub hostaddr: Option<String>,
    pub port: Option<u16>,
    pub dbname: Option<String>,
    pub user: Option<String>,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
    pub sslcrl: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_credential: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSftp {
    pub identity_file: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub use_agent: Option<bool>,
    pub passphrase_env: Option<String>,
    pub passphrase_file: Option<PathBuf>,
    pub passphrase_credential: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSnowflake {
    pub base_url: Option<String>,
    pub account: Option<String>,
    pub user: Option<String>,
    pub role: Option<String>,
    pub warehouse: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    pub password_credential: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub private_key_passphrase_env: Option<String>,
    pub private_key_passphrase_file: Option<PathBuf>,
    pub private_key_passphrase_credential: Option<String>,
}

/// `[profiles.P.snapshot]`: how production is captured and how long snapshots are kept.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSnapshot {
    pub jobs: Option<usize>,
    pub keep: Option<usize>,
    pub exclude_tables: Option<Vec<String>>,
    /// Tables left out on top of `exclude_tables` (`--exclude-table`); no file sets it.
    #[serde(skip)]
    pub also_exclude_tables: Option<Vec<String>>,
    pub only_schemas: Option<Vec<String>>,
    pub retry_seconds: Option<u64>,
    pub signing_key: Option<PathBuf>,
    pub allowed_signers: Option<PathBuf>,
    pub enable_row_security: Option<bool>,
    pub user_mappings_without_options: Option<bool>,
}

/// `[profiles.P.restore]`: how staging is refreshed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRestore {
    pub jobs: Option<usize>,
    pub reader_role: Option<String>,
    pub preserve_schemas: Option<Vec<String>>,
    pub template: Option<String>,
    pub age_identity: Option<PathBuf>,
}

/// `[profiles.P.export]`: where the nine dashboards come from and how they are delivered.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    pub source: Option<String>,
    pub days: Option<u32>,
    pub keep_days: Option<u32>,
    pub bom: Option<bool>,
    pub spreadsheet_safe: Option<bool>,
    pub signing_key: Option<PathBuf>,
    pub allowed_signers: Option<PathBuf>,
    pub extra_dashboards: Option<Vec<String>>,
}

/// Laying a higher-precedence layer over a lower one.
pub trait Overlay {
    fn overlay(&mut self, upper: Self);
}

impl<T: Overlay> Overlay for Option<T> {
    fn overlay(&mut self, upper: Self) {
        match (self.as_mut(), upper) {
            (Some(lower), Some(upper)) => lower.overlay(upper),
            (None, Some(upper)) => *self = Some(upper),
            (_, None) => {}
        }
    }
}

/// Plain keys: the upper value wins when set. Nested sections: merged key by key.
/// Secret groups (`x_env`, `x_file`, `x_credential`): setting any one in the upper layer
/// replaces the whole group, so a user file can switch a secret from a file to a variable.
macro_rules! overlay {
    ($ty:ty { keys: [$($key:ident),*] $(, nested: [$($nested:ident),*])? $(, secrets: [$([$($s:ident),+]),*])? }) => {
        impl Overlay for $ty {
            fn overlay(&mut self, upper: Self) {
                $( if upper.$key.is_some() { self.$key = upper.$key; } )*
                $($( self.$nested.overlay(upper.$nested); )*)?
                $($( if false $(|| upper.$s.is_some())+ { $( self.$s = upper.$s; )+ } )*)?
            }
        }
    };
}

overlay!(RawProfile {
    keys: [region, store, export_to, age_recipients, cache],
    nested: [
        production, staging, sftp, snowflake, snapshot, restore, export, metrics, sheets, pull, s3
    ]
});
overlay!(RawS3 {
    keys: [
        region,
        endpoint,
        path_style,
        ca_file,
        allow_http,
        access_key_id,
        lease_seconds
    ],
    secrets: [[
        secret_access_key_env,
        secret_access_key_file,
        secret_access_key_credential
    ]]
});
overlay!(RawPull {
    keys: [require_signature]
});
overlay!(RawSheets {
    keys: [format, paper, language]
});
overlay!(RawMetrics {
    keys: [textfile_dir]
});
overlay!(RawExport {
    keys: [
        extra_dashboards,
        source,
        days,
        keep_days,
        bom,
        spreadsheet_safe,
        signing_key,
        allowed_signers
    ]
});
overlay!(RawRestore {
    keys: [jobs, reader_role, preserve_schemas, age_identity, template]
});
overlay!(RawSnapshot {
    keys: [
        jobs,
        keep,
        exclude_tables,
        also_exclude_tables,
        only_schemas,
        retry_seconds,
        signing_key,
        allowed_signers,
        enable_row_security,
        user_mappings_without_options
    ]
});
overlay!(RawDatabase {
    keys: [
        url,
        service,
        host,
        hostaddr,
        port,
        dbname,
        user,
        sslmode,
        sslrootcert,
        sslcert,
        sslkey,
        sslcrl
    ],
    secrets: [[password_env, password_file, password_credential]]
});
overlay!(RawSftp {
    keys: [identity_file, known_hosts, use_agent],
    secrets: [[passphrase_env, passphrase_file, passphrase_credential]]
});
overlay!(RawSnowflake {
    keys: [
        base_url,
        account,
        user,
        role,
        warehouse,
        database,
        schema,
        private_key_file
    ],
    secrets: [
        [password_env, password_file, password_credential],
        [
            private_key_passphrase_env,
            private_key_passphrase_file,
            private_key_passphrase_credential
        ]
    ]
});

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> RawFile {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn upper_keys_win_and_unset_keys_fall_through() {
        let mut lower = parse("[profiles.p]\nregion = \"us-can\"\nstore = \"/a\"\n[profiles.p.production]\nhost = \"h1\"\nport = 5432\n")
            .profiles["p"]
            .clone();
        let upper = parse("[profiles.p]\nstore = \"/b\"\n[profiles.p.production]\nport = 6432\n")
            .profiles["p"]
            .clone();
        lower.overlay(upper);
        assert_eq!(lower.region.as_deref(), Some("us-can"));
        assert_eq!(lower.store, Some(PathBuf::from("/b")));
        let db = lower.production.unwrap();
        assert_eq!((db.host.as_deref(), db.port), (Some("h1"), Some(6432)));
    }

    #[test]
    fn a_secret_reference_replaces_the_whole_group() {
        let mut lower = RawDatabase {
            password_file: Some("/etc/acc/pw".into()),
            ..Default::default()
        };
        lower.overlay(RawDatabase {
            password_env: Some("PGPASSWORD_PROD".into()),
            ..Default::default()
        });
        assert_eq!(lower.password_env.as_deref(), Some("PGPASSWORD_PROD"));
        assert_eq!(lower.password_file, None);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = toml::from_str::<RawFile>(
            "[profiles.p.production]\nhost = \"h\"\npasword_file = \"/x\"\n",
        )
        .unwrap_err();
        assert!(err.message().contains("pasword_file"), "{}", err.message());
    }
}
