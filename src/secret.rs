//! Secrets by reference: an environment variable, a file, or a systemd credential. Never inline,
//! never a flag, never printed.

use std::fmt;
use std::path::PathBuf;

use crate::env::Env;
use crate::error::{Error, Result};

/// Where a secret is read from. Printing one shows where, never what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `<name>_env = "VAR"`
    Env(String),
    /// `<name>_file = "/path"`; trailing newlines are dropped.
    File(PathBuf),
    /// `<name>_credential = "id"`: `$CREDENTIALS_DIRECTORY/id`, as systemd's `LoadCredential=` provides.
    Credential(String),
}

impl SecretRef {
    /// Builds the reference from a config section's `<name>_env`, `<name>_file` and
    /// `<name>_credential` keys; `key` is the dotted path used in messages.
    pub fn from_keys(
        key: &str,
        env: Option<String>,
        file: Option<PathBuf>,
        credential: Option<String>,
    ) -> Result<Option<SecretRef>> {
        let set: Vec<SecretRef> = [
            env.map(SecretRef::Env),
            file.map(SecretRef::File),
            credential.map(SecretRef::Credential),
        ]
        .into_iter()
        .flatten()
        .collect();
        match set.len() {
            0 => Ok(None),
            1 => Ok(set.into_iter().next()),
            _ => Err(Error::config(format!(
                "{key}: set only one of {key}_env, {key}_file and {key}_credential"
            ))),
        }
    }

    /// Reads the secret now.
    pub fn resolve(&self, env: &Env) -> Result<Secret> {
        let text = match self {
            SecretRef::Env(var) => env.get(var).map(str::to_owned).ok_or_else(|| {
                Error::config(format!(
                    "the secret's environment variable {var} is not set"
                ))
                .hint(format!(
                    "export {var}, or point the config at a file with _file"
                ))
            })?,
            SecretRef::File(path) => read(path)?,
            SecretRef::Credential(id) => {
                let dir = env.get("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    Error::config(format!("credential '{id}' needs $CREDENTIALS_DIRECTORY"))
                        .hint(format!("run under systemd with LoadCredential={id}:/path"))
                })?;
                read(&PathBuf::from(dir).join(id))?
            }
        };
        Ok(Secret(text.trim_end_matches(['\n', '\r']).to_string()))
    }
}

fn read(path: &PathBuf) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::PermissionDenied {
            crate::error::Kind::Permission
        } else {
            crate::error::Kind::Config
        };
        Error::new(kind, format!("cannot read secret file {}", path.display())).source(e)
    })
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(var) => write!(f, "*** (from environment variable {var})"),
            SecretRef::File(p) => write!(f, "*** (from file {})", p.display()),
            SecretRef::Credential(id) => write!(f, "*** (from systemd credential {id})"),
        }
    }
}

/// A secret's value. `Debug` and `Display` print `***`; only `expose` gives the text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Secret {
        Secret(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s} {s:?} {:?}", Some(&s)), "*** *** Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn resolves_from_env_file_and_credential() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "from-file\n").unwrap();
        std::fs::write(dir.path().join("db"), "from-credential").unwrap();
        let env = Env::from_pairs([
            ("PW", "from-env"),
            ("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap()),
        ]);
        let get = |r: SecretRef| r.resolve(&env).unwrap().expose().to_string();
        assert_eq!(get(SecretRef::Env("PW".into())), "from-env");
        assert_eq!(get(SecretRef::File(dir.path().join("pw"))), "from-file");
        assert_eq!(get(SecretRef::Credential("db".into())), "from-credential");
    }

    #[test]
    fn missing_sources_are_config_errors_naming_them() {
        let env = Env::from_pairs([]);
        let err = SecretRef::Env("NOPE".into()).resolve(&env).unwrap_err();
        assert_eq!(err.exit_code(), 78);
        assert!(err.message().contains("NOPE"));
        let err = SecretRef::File("/nonexistent/pw".into())
            .resolve(&env)
            .unwrap_err();
        assert!(err.message().contains("/nonexistent/pw"));
        let err = SecretRef::Credential("db".into())
            .resolve(&env)
            .unwrap_err();
        assert!(err.message().contains("CREDENTIALS_DIRECTORY"));
    }

    #[test]
    fn two_sources_for_one_secret_is_an_error() {
        let err = SecretRef::from_keys(
            "profiles.x.production.password",
            Some("A".into()),
            Some("/f".into()),
            None,
        )
        .unwrap_err();
        assert!(err.message().contains("set only one of"));
    }
}
