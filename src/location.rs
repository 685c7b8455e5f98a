//! Where a delivery lives (`export_to`, `--to`, `--from`), as an operator writes it: `sftp://user@host:port/path`,
//! `file:///path`, or a plain local path; and a place in a bucket (`s3://bucket/prefix`).

use std::path::PathBuf;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Sftp(SftpAddress),
    Bucket(S3Url),
}

/// A place in an S3-compatible bucket: `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl S3Url {
    /// `Some` for a text that starts with `s3://`: the URL, or why it is not one.
    pub fn parse(text: &str) -> Option<Result<S3Url>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid {
            // the text is echoed only when it cannot carry a key pair (user:secret@)
            let shown = if text.contains('@') {
                "the s3:// URL".to_string()
            } else {
                format!("'{text}'")
            };
            return Some(Err(Error::config(format!(
                "{shown} does not name a bucket"
            ))
            .hint("use s3://bucket/prefix: a bucket name is 3 to 63 lowercase letters, digits, dots and dashes")));
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
            && !prefix.is_empty()
        {
            return Some(Err(Error::config(format!(
                "'{text}': the prefix has an empty, . or .. part"
            ))));
        }
        Some(Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        }))
    }

    /// `s3://bucket/prefix`, for messages.
    pub fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
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
                "use sftp://user@host:port/path, s3://bucket/prefix, file:///absolute/path, or a plain directory path",
            )
        };
        if let Some(url) = S3Url::parse(text) {
            return url.map(Location::Bucket);
        }
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
            Err(bad("only sftp://, s3:// and file:// are supported"))
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
            Location::Bucket(url) => url.describe(),
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

    #[test]
    fn s3_urls_give_bucket_and_prefix_and_bad_ones_are_named() {
        assert_eq!(
            S3Url::parse("s3://acc-snapshots/agency/north/")
                .unwrap()
                .unwrap(),
            S3Url {
                bucket: "acc-snapshots".into(),
                prefix: "agency/north".into()
            }
        );
        let root = S3Url::parse("s3://acc-snapshots").unwrap().unwrap();
        assert_eq!(
            (root.prefix.as_str(), root.describe()),
            ("", "s3://acc-snapshots".to_string())
        );
        assert!(S3Url::parse("/var/lib/acc").is_none());
        for bad in [
            "s3://Bad_Bucket/x",
            "s3://ab",
            "s3://bucket/a//b",
            "s3://bucket/../x",
        ] {
            assert_eq!(
                S3Url::parse(bad).unwrap().unwrap_err().exit_code(),
                78,
                "{bad}"
            );
        }
    }
}
