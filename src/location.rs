//! Where a delivery lives (`export_to`, `--to`, `--from`), as an operator writes it: `sftp://user@host:port/path`,
//! `file:///path`, or a plain local path.

use std::path::PathBuf;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Sftp(SftpAddress),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SftpAddress {
    pub user: String,
    pub host: String,
    pub port: u16,
    /// The remote root directory, absolute (`/` when the URL has no path).
    pub root: String,
}

impl Location {
    pub fn parse(text: &str) -> Result<Location> {
        let bad = |why: &str| {
            Error::config(format!("'{text}' is not a delivery location: {why}")).hint(
                "use sftp://user@host:port/path, file:///absolute/path, or a plain directory path",
            )
        };
        if text.starts_with("sftp://") {
            let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
            if url.password().is_some() {
                // the text itself is not echoed: it carries the secret
                return Err(Error::config("the sftp URL carries a password")
                    .hint("remove it: acc logs in with sftp.identity_file or the ssh agent"));
            }
            if url.username().is_empty() {
                return Err(bad("it names no user (sftp://user@host/...)"));
            }
            let host = url.host_str().ok_or_else(|| bad("it names no host"))?;
            let root = percent_encoding::percent_decode_str(url.path())
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| bad("the path is not UTF-8"))?;
            Ok(Location::Sftp(SftpAddress {
                user: url.username().to_string(),
                host: host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                port: url.port().unwrap_or(22),
                root: if root.is_empty() { "/".into() } else { root },
            }))
        } else if text.starts_with("file://") {
            let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
            url.to_file_path()
                .map(Location::Local)
                .map_err(|()| bad("file URLs must be absolute and local"))
        } else if text.contains("://") {
            Err(bad("only sftp:// and file:// are supported"))
        } else if text.is_empty() {
            Err(bad("it is empty"))
        } else {
            Ok(Location::Local(PathBuf::from(text)))
        }
    }

    /// For messages: never carries a secret, since URLs with passwords are refused.
    pub fn describe(&self) -> String {
        match self {
            Location::Local(p) => p.display().to_string(),
            Location::Sftp(a) => format!("sftp://{}@{}:{}{}", a.user, a.host, a.port, a.root),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sftp_urls_give_user_host_port_and_root() {
        assert_eq!(
            Location::parse("sftp://acc@127.0.0.1:2222/upload/daily%20copy").unwrap(),
            Location::Sftp(SftpAddress {
                user: "acc".into(),
                host: "127.0.0.1".into(),
                port: 2222,
                root: "/upload/daily copy".into(),
            })
        );
        let Location::Sftp(a) = Location::parse("sftp://acc@files.example.org").unwrap() else {
            panic!()
        };
        assert_eq!((a.port, a.root.as_str()), (22, "/"));
    }

    #[test]
    fn local_paths_and_file_urls_are_directories() {
        assert_eq!(
            Location::parse("file:///srv/exports").unwrap(),
            Location::Local("/srv/exports".into())
        );
        assert_eq!(
            Location::parse("exports").unwrap(),
            Location::Local("exports".into())
        );
    }

    #[test]
    fn passwords_users_and_other_schemes_are_refused() {
        for bad in [
            "sftp://acc:hunter2@host/x",
            "sftp://host/x",
            "https://host/x",
            "",
        ] {
            let err = Location::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 78, "{bad}");
            assert!(!err.message().contains("hunter2"), "{}", err.message());
        }
    }
}
