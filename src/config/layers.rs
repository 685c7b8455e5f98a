//! Where configuration comes from, lowest precedence first: built-in defaults, the system file,
//! the user's file, the file named by `--config` or `ACC_CONFIG`, then `ACC_*` variables.
//! Command-line flags are laid over the result by the command that has them.

use std::path::{Path, PathBuf};

use super::raw::{RawFile, RawProfile};
use crate::env::Env;
use crate::error::{Error, Result};

const BUILT_IN_DEFAULTS: &str = include_str!("../../profiles/defaults.toml");

/// The variables that override profile keys, and the key each one sets. `ACC_CONFIG` and
/// `ACC_PROFILE` are read by the command line itself.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("ACC_REGION", "region"),
    ("ACC_STORE", "store"),
    ("ACC_EXPORT_TO", "export_to"),
];

/// One parsed configuration file, or the built-in defaults.
#[derive(Debug, Clone)]
pub struct Layer {
    /// `built-in`, or the file's path.
    pub origin: String,
    pub file: RawFile,
}

/// The configuration files and directories this run reads.
#[derive(Debug, Clone)]
pub struct Sources {
    /// `/etc/acc`, or `ACC_SYSTEM_CONFIG_DIR` (for tests and unusual installs).
    pub system_dir: PathBuf,
    /// `$XDG_CONFIG_HOME/acc`, else `$HOME/.config/acc`.
    pub user_dir: Option<PathBuf>,
    /// `--config FILE` or `ACC_CONFIG`: must exist when given.
    pub explicit: Option<PathBuf>,
}

impl Sources {
    pub fn discover(env: &Env, explicit: Option<PathBuf>) -> Sources {
        let system_dir = env
            .get("ACC_SYSTEM_CONFIG_DIR")
            .map_or_else(|| PathBuf::from("/etc/acc"), PathBuf::from);
        let user_dir = env
            .get("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".config")))
            .map(|d| d.join("acc"));
        Sources {
            system_dir,
            user_dir,
            explicit,
        }
    }

    /// Directories that may hold `regions/` and `dashboards/` overrides, lowest precedence first.
    pub fn config_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.system_dir.clone()];
        dirs.extend(self.user_dir.clone());
        if let Some(parent) = self.explicit.as_deref().and_then(Path::parent) {
            dirs.push(if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent.to_path_buf()
            });
        }
        dirs
    }

    /// Every layer that exists, lowest precedence first.
    pub fn load(&self) -> Result<Vec<Layer>> {
        let mut layers = vec![Layer {
            origin: "built-in".into(),
            file: parse("built-in defaults", BUILT_IN_DEFAULTS)?,
        }];
        for path in [
            Some(self.system_dir.join("acc.toml")),
            self.user_dir.as_ref().map(|d| d.join("acc.toml")),
        ]
        .into_iter()
        .flatten()
        {
            if path.exists() {
                layers.push(read(&path)?);
            }
        }
        if let Some(path) = &self.explicit {
            if !path.exists() {
                return Err(Error::config(format!(
                    "config file {} does not exist",
                    path.display()
                ))
                .hint("check --config or ACC_CONFIG"));
            }
            layers.push(read(path)?);
        }
        Ok(layers)
    }
}

/// The profile keys set by `ACC_*` variables.
pub fn env_overrides(env: &Env) -> RawProfile {
    RawProfile {
        region: env.get("ACC_REGION").map(str::to_owned),
        store: env.get("ACC_STORE").map(PathBuf::from),
        export_to: env.get("ACC_EXPORT_TO").map(str::to_owned),
        ..RawProfile::default()
    }
}

fn read(path: &Path) -> Result<Layer> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::config(format!("cannot read config file {}", path.display())).source(e)
    })?;
    let origin = path.display().to_string();
    Ok(Layer {
        file: parse(&format!("config file {origin}"), &text)?,
        origin,
    })
}

fn parse(what: &str, text: &str) -> Result<RawFile> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        Error::config(format!("{what}{at}: {}", e.message()))
    })
}
