//! The server and database a restore writes to, and the names it uses beside it.

use tokio_postgres::Client;

use crate::pg::Database;

use crate::env::Env;
use crate::error::Result;
use crate::pg;
use crate::pg::tools as pg_tools;

/// The database being refreshed: the profile's staging, or one the operator named.
#[derive(Debug, Clone)]
pub struct Target {
    /// Connection to the target server; `dbname` is the database readers use.
    pub db: Database,
    /// Whether this is the profile's staging (freeze applies) or an operator's `--target`.
    pub is_staging: bool,
}

/// PostgreSQL truncates names past 63 bytes (NAMEDATALEN - 1).
pub const MAX_NAME: usize = 63;
/// The longest suffix acc adds: `__incoming`, `__previous`, `__rollback`, `__older`.
const LONGEST_SUFFIX: usize = "__incoming".len();

impl Target {
    /// Refuses a database name too long for the names acc makes beside it, before anything runs.
    pub fn check_name(&self) -> Result<()> {
        let room = MAX_NAME - LONGEST_SUFFIX;
        if self.db.dbname.len() > room {
            return Err(crate::error::Error::config(format!(
                "the staging database name '{}' is {} bytes; with acc's `__incoming` and `__previous` copies it must be at most {room} (PostgreSQL's limit is {MAX_NAME} bytes)",
                self.db.dbname,
                self.db.dbname.len()
            ))
            .hint(format!("choose a staging dbname of at most {room} bytes")));
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.db.dbname
    }

    /// Where the new copy is loaded before the swap.
    pub fn incoming(&self) -> String {
        format!("{}__incoming", self.db.dbname)
    }

    /// Where the replaced copy is kept for `--rollback`.
    pub fn previous(&self) -> String {
        format!("{}__previous", self.db.dbname)
    }

    /// Where `__previous` waits during a swap, so a swap that fails keeps it for `--rollback`.
    pub fn older(&self) -> String {
        format!("{}__older", self.db.dbname)
    }

    /// The same server, another database.
    pub fn on(&self, dbname: &str) -> Database {
        Database {
            dbname: dbname.to_string(),
            ..self.db.clone()
        }
    }

    /// A connection to the server's maintenance database, for CREATE, DROP and RENAME.
    pub async fn maintenance(&self, env: &Env) -> Result<Client> {
        pg::connect(&self.on("postgres"), env, "acc restore").await
    }

    /// `pg_restore` into the incoming database, objects owned by the connecting user and no
    /// grants (staging's own grants are set afterwards), stopping at the first error.
    pub fn pg_restore(&self, env: &Env) -> Result<pg_tools::Tool> {
        let mut cmd =
            pg_tools::command("pg_restore", &self.db, &self.incoming(), env, "--dbname=")?;
        cmd.args(["--no-owner", "--no-privileges", "--exit-on-error"]);
        Ok(cmd)
    }

    pub async fn connect(&self, dbname: &str, env: &Env) -> Result<Client> {
        pg::connect(&self.on(dbname), env, "acc restore").await
    }
}
