//! Which keys open the bucket: acc's own reference (`s3.access_key_id` with
//! `s3.secret_access_key_env`, `_file` or `_credential`), else the standard AWS chain's
//! static parts (the environment, then the shared credentials file). `None` leaves the rest of
//! the chain (instance and web-identity roles) to the object store client.

use std::path::PathBuf;

use crate::config::S3Settings;
use crate::env::Env;
use crate::error::{Error, Result};

pub struct Keys {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

/// Where the keys come from, as `acc doctor` says it; never the keys themselves.
pub fn source(s: &S3Settings, env: &Env) -> String {
    if s.access_key_id.is_some() && s.secret_access_key.is_some() {
        return "acc's reference (s3.access_key_id and s3.secret_access_key_*)".into();
    }
    if env.get("AWS_ACCESS_KEY_ID").is_some() && env.get("AWS_SECRET_ACCESS_KEY").is_some() {
        return "the environment (AWS_ACCESS_KEY_ID)".into();
    }
    let file = env
        .get("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            env.get("HOME")
                .map(|h| PathBuf::from(h).join(".aws/credentials"))
        });
    match file.filter(|f| f.is_file()) {
        Some(f) => format!(
            "the shared credentials file {} (profile {})",
            f.display(),
            env.get("AWS_PROFILE").unwrap_or("default")
        ),
        None => "the instance or web-identity role".into(),
    }
}

pub fn keys(s: &S3Settings, env: &Env) -> Result<Option<Keys>> {
    if let (Some(id), Some(secret)) = (&s.access_key_id, &s.secret_access_key) {
        return Ok(Some(Keys {
            id: id.clone(),
            secret: secret.resolve(env)?.expose().to_string(),
            token: None,
        }));
    }
    if let (Some(id), Some(secret)) = (
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
    ) {
        return Ok(Some(Keys {
            id: id.to_string(),
            secret: secret.to_string(),
            token: env.get("AWS_SESSION_TOKEN").map(str::to_string),
        }));
    }
    let file = env
        .get("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            env.get("HOME")
                .map(|h| PathBuf::from(h).join(".aws/credentials"))
        });
    let Some(file) = file.filter(|f| f.is_file()) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        Error::config(format!(
            "cannot read the AWS credentials file {}",
            file.display()
        ))
        .source(e)
    })?;
    let profile = env.get("AWS_PROFILE").unwrap_or("default");
    Ok(shared_profile(&text, profile))
}

/// The keys of `[profile]` in an AWS shared credentials file (INI).
fn shared_profile(text: &str, profile: &str) -> Option<Keys> {
    let mut inside = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            inside = line[1..line.len() - 1].trim() == profile;
            continue;
        }
        if !inside || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = Some(v.trim().to_string());
            match k.trim() {
                "aws_access_key_id" => id = v,
                "aws_secret_access_key" => secret = v,
                "aws_session_token" => token = v,
                _ => {}
            }
        }
    }
    Some(Keys {
        id: id?,
        secret: secret?,
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_credentials_file_gives_the_named_profile() {
        let text = "[default]\naws_access_key_id = AKIDEFAULT\naws_secret_access_key = s1\n\n\
                    [night]\n# the night host's\naws_access_key_id=AKINIGHT\naws_secret_access_key=s2\naws_session_token = t2\n";
        let night = shared_profile(text, "night").unwrap();
        assert_eq!(
            (night.id.as_str(), night.secret.as_str()),
            ("AKINIGHT", "s2")
        );
        assert_eq!(night.token.as_deref(), Some("t2"));
        assert_eq!(shared_profile(text, "default").unwrap().id, "AKIDEFAULT");
        assert!(shared_profile(text, "missing").is_none());
    }
}
