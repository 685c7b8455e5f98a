//! Shared helpers for integration tests that need the sandbox's real servers.
//!
//! A test that needs a server calls `Sandbox::require()`: when the sandbox is not up it fails
//! with the command to run, never skips.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use acc::config::{Config, Env};

pub struct Sandbox {
    vars: BTreeMap<String, String>,
}

impl Sandbox {
    /// The sandbox's variables, from `$ACC_SANDBOX/env` or `.sandbox/env` in the work tree.
    pub fn require() -> Sandbox {
        let dir = std::env::var("ACC_SANDBOX")
            .map(PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join(".sandbox"));
        let file = dir.join("env");
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!("this test needs the sandbox servers, but {} is unreadable ({e}); run scripts/sandbox up && scripts/sandbox seed, or scripts/test", file.display())
        });
        let vars = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .flat_map(|l| l.split(' ').filter_map(|kv| kv.split_once('=')))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        Sandbox { vars }
    }

    pub fn var(&self, key: &str) -> &str {
        self.vars.get(key).unwrap_or_else(|| {
            panic!("the sandbox env file has no {key}; rerun scripts/sandbox up")
        })
    }

    pub fn path(&self, key: &str) -> PathBuf {
        PathBuf::from(self.var(key))
    }

    /// The sandbox's acc.toml, loaded as acc would load it, with no system or user layers.
    pub fn config(&self) -> Config {
        let env = Env::from_pairs([
            ("ACC_SYSTEM_CONFIG_DIR", "/nonexistent"),
            ("HOME", "/nonexistent"),
        ]);
        Config::load(env, Some(self.path("ACC_CONFIG"))).expect("the sandbox acc.toml loads")
    }

    /// An admin connection to a cluster (`ACC_PROD_URL` or `ACC_STAGING_URL`) and database.
    pub async fn admin(&self, url_var: &str, db: &str) -> tokio_postgres::Client {
        let url = format!("{}/{db}", self.var(url_var));
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach {url_var} ({e}); is the sandbox up? run scripts/sandbox up")
            });
        tokio::spawn(conn);
        client
    }
}
