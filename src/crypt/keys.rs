//! age recipients (who can read what acc writes) and identities (what reads it back).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Kind, Result};

/// The profile's recipients, parsed once when the profile is resolved: X25519 keys or
/// ssh-ed25519/ssh-rsa public keys, with the text of each (a snapshot's manifest lists them).
#[derive(Clone, Default)]
pub struct Recipients {
    keys: Vec<String>,
    parsed: Arc<Vec<Box<dyn age::Recipient + Send + Sync>>>,
}

impl Recipients {
    /// Parses every key; a key that does not parse is named by its place in the list.
    pub fn parse(keys: Vec<String>) -> std::result::Result<Recipients, (usize, String)> {
        let parsed = keys
            .iter()
            .enumerate()
            .map(|(i, k)| parse_one(k).map_err(|why| (i, why)))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Recipients {
            keys,
            parsed: Arc::new(parsed),
        })
    }

    /// The keys as written.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// These recipients, for a job that encrypts; a profile with none cannot run one.
    pub fn required(&self, profile: &str) -> Result<Arc<Recipients>> {
        if self.keys.is_empty() {
            return Err(Error::config(format!(
                "profile '{profile}' has no age_recipients, so nothing could be encrypted"
            ))
            .hint(format!(
                "add age_recipients = [\"age1...\"] under [profiles.{profile}] (age-keygen -y IDENTITY prints one)"
            )));
        }
        Ok(Arc::new(self.clone()))
    }

    pub(super) fn encryptor(&self) -> Result<age::Encryptor> {
        age::Encryptor::with_recipients(
            self.parsed
                .iter()
                .map(|r| r.as_ref() as &dyn age::Recipient),
        )
        .map_err(|e| Error::internal("cannot set up age encryption").source(e))
    }
}

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.keys).finish()
    }
}

impl PartialEq for Recipients {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys
    }
}

/// One key: an age X25519 recipient or an ssh-ed25519/ssh-rsa public key.
pub fn parse_one(key: &str) -> std::result::Result<Box<dyn age::Recipient + Send + Sync>, String> {
    if let Ok(r) = key.parse::<age::x25519::Recipient>() {
        return Ok(Box::new(r));
    }
    key.parse::<age::ssh::Recipient>()
        .map(|r| Box::new(r) as Box<dyn age::Recipient + Send + Sync>)
        .map_err(|_| {
            format!(
                "'{}' is not an age X25519 or ssh-ed25519/ssh-rsa public key",
                short(key)
            )
        })
}

fn short(s: &str) -> String {
    if s.chars().count() > 24 {
        format!("{}…", s.chars().take(24).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Identities read from an age identity file or an unencrypted SSH private key.
pub struct Identities(Vec<Box<dyn age::Identity + Send + Sync>>);

impl Identities {
    pub fn load(path: &Path) -> Result<Identities> {
        let unreadable = |e: std::io::Error| {
            Error::new(
                Kind::Config,
                format!("cannot read the identity file {}", path.display()),
            )
            .source(e)
        };
        let file = File::open(path).map_err(unreadable)?;
        let name = path.display().to_string();
        let from_age_file = age::IdentityFile::from_file(name.clone())
            .ok()
            .and_then(|f| f.into_identities().ok())
            .filter(|ids| !ids.is_empty());
        if let Some(ids) = from_age_file {
            return Ok(Identities(ids));
        }
        match age::ssh::Identity::from_buffer(BufReader::new(file), Some(name)) {
            Ok(age::ssh::Identity::Unencrypted(id)) => Ok(Identities(vec![Box::new(
                age::ssh::Identity::Unencrypted(id),
            )])),
            Ok(age::ssh::Identity::Encrypted(_)) => Err(Error::config(format!(
                "{} is a passphrase-protected SSH key",
                path.display()
            ))
            .hint(
                "use an age identity file, or an SSH key without a passphrase kept with mode 0600",
            )),
            _ => Err(Error::config(format!(
                "{} is neither an age identity file nor an SSH private key age can use",
                path.display()
            ))),
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.0.iter().map(|i| i.as_ref() as &dyn age::Identity)
    }
}
