//! A database's encoding and locale: production's is recorded in each manifest, and staging's
//! copy is made in it, so text sorts, compares and changes case on staging as on production.

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::error::Result;
use crate::pg::sqlstate::failure;

/// A database's encoding and locale, as `pg_database` has them.
/// Fields a later acc may add (ICU rules, say) are read past, not refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseLocale {
    pub encoding: String,
    pub collate: String,
    pub ctype: String,
    /// `libc`, `icu` (PostgreSQL 15 on) or `builtin` (17 on).
    pub provider: String,
    /// The ICU or builtin locale, where the provider is not libc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_locale: Option<String>,
}

impl std::fmt::Display for DatabaseLocale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, collation {}, ctype {}",
            self.encoding, self.collate, self.ctype
        )?;
        match &self.provider_locale {
            Some(l) => write!(f, ", {} locale {l}", self.provider),
            None => Ok(()),
        }
    }
}

/// The locale of database `name` (the current one when `None`), read as JSON so that the
/// columns of every major version (`datlocprovider` from 15, `daticulocale` until 16,
/// `datlocale` from 17) are read where they exist; `None` when there is no such database.
pub async fn of_database(client: &Client, name: Option<&str>) -> Result<Option<DatabaseLocale>> {
    let row = client
        .query_opt(
            "SELECT pg_encoding_to_char(d.encoding), d.datcollate::text, d.datctype::text,
                    to_jsonb(d) ->> 'datlocprovider',
                    COALESCE(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale')
             FROM pg_database d WHERE d.datname = COALESCE($1::text, current_database())",
            &[&name],
        )
        .await
        .map_err(|e| failure("cannot read the database's encoding and locale", e))?;
    Ok(row.map(|r| {
        let provider = match r.get::<_, Option<String>>(3).as_deref() {
            Some("i") => "icu",
            Some("b") => "builtin",
            _ => "libc",
        };
        DatabaseLocale {
            encoding: r.get(0),
            collate: r.get(1),
            ctype: r.get(2),
            provider: provider.to_string(),
            provider_locale: r.get::<_, Option<String>>(4).filter(|_| provider != "libc"),
        }
    }))
}
