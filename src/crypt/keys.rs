//! age recipients (who can read what acc writes) and identities (what reads it back).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::error::{Error, Kind, Result};

/// The profile's recipients, parsed once: X25519 keys or ssh-ed25519/ssh-rsa public keys.
pub struct Recipients(Vec<Box<dyn age::Recipient + Send + Sync>>);

impl Recipients {
    pub fn parse(profile: &str, keys: &[String]) -> Result<Recipients> {
        if keys.is_empty() {
            return Err(Error::config(format!(
                "profile '{profile}' has no age_recipients, so nothing could be encrypted"
            ))
            .hint(format!(
                "add age_recipients = [\"age1...\"] under [profiles.{profile}] (age-keygen -y IDENTITY prints one)"
            )));
        }
        let parsed = keys
            .iter()
            .map(|k| -> Result<Box<dyn age::Recipient + Send + Sync>> {
                if let Ok(r) = k.parse::<age::x25519::Recipient>() {
                    return Ok(Box::new(r));
                }
                k.parse::<age::ssh::Recipient>()
                    .map(|r| Box::new(r) as Box<dyn age::Recipient + Send + Sync>)
                    .map_err(|_| {
                        Error::config(format!(
                            "profile '{profile}': an age recipient does not parse"
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        Ok(Recipients(parsed))
    }

    pub(super) fn encryptor(&self) -> Result<age::Encryptor> {
        age::Encryptor::with_recipients(self.0.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| Error::internal("cannot set up age encryption").source(e))
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
