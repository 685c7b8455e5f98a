//! Configuration: layered files, environment and flags resolved into profiles.

mod database;
mod layers;
mod profile;
mod raw;
mod s3;
mod sheets;

#[cfg(test)]
mod tests;

pub use database::resolve_database;
pub use layers::{ENV_OVERRIDES, Layer, Sources};
pub use profile::{
    DashboardSource, ExportSettings, Profile, RestoreSettings, Sftp, SnapshotSettings, Snowflake,
    one_per_core,
};
pub use raw::{
    Overlay, RawDatabase, RawExport, RawFile, RawProfile, RawRestore, RawSheets, RawSnapshot,
};
pub use s3::S3Settings;
pub use sheets::{SheetFormat, SheetsSettings};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::schedule::region::Regions;

/// Every layer read, the known regions and the environment: everything needed to resolve a
/// profile, opened once per run.
#[derive(Debug, Clone)]
pub struct Config {
    layers: Vec<Layer>,
    regions: Regions,
    env: Env,
    /// Directories that may hold `regions/` and `dashboards/` overrides, lowest precedence first.
    dirs: Vec<std::path::PathBuf>,
    /// `--config FILE` or `ACC_CONFIG`, when given.
    explicit: Option<std::path::PathBuf>,
}

impl Config {
    /// Reads every layer and region file. `explicit` is `--config` or `ACC_CONFIG`.
    pub fn load(env: Env, explicit: Option<std::path::PathBuf>) -> Result<Config> {
        let sources = Sources::discover(&env, explicit.clone());
        let layers = sources.load()?;
        let dirs = sources.config_dirs();
        let regions = Regions::load(&dirs)?;
        Ok(Config {
            layers,
            regions,
            env,
            dirs,
            explicit,
        })
    }

    pub fn regions(&self) -> &Regions {
        &self.regions
    }

    /// Directories that may hold overrides (`dashboards/`, `regions/`), lowest precedence first.
    pub fn dirs(&self) -> &[std::path::PathBuf] {
        &self.dirs
    }

    /// The `--config` file (or `ACC_CONFIG`), when one was given.
    pub fn explicit(&self) -> Option<&std::path::Path> {
        self.explicit.as_deref()
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    /// Names of the profiles any layer defines.
    pub fn profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .layers
            .iter()
            .flat_map(|l| l.file.profiles.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The profile named `requested` (or the only one defined), with `ACC_*` variables and then
    /// `flags` laid over it.
    pub fn profile(&self, requested: Option<&str>, flags: RawProfile) -> Result<Profile> {
        let names = self.profile_names();
        let name = match requested {
            Some(n) => n.to_string(),
            None if names.len() == 1 => names[0].clone(),
            None if names.is_empty() => {
                return Err(Error::config("no profile is configured").hint(
                    "define [profiles.NAME] in acc.toml (see README), or point --config / ACC_CONFIG at one",
                ));
            }
            None => {
                return Err(Error::usage(format!(
                    "several profiles are configured: {}",
                    names.join(", ")
                ))
                .hint("choose one with --profile NAME or ACC_PROFILE"));
            }
        };
        if !names.contains(&name) {
            let known = if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            };
            return Err(
                Error::config(format!("unknown profile '{name}'")).hint(format!(
                    "profiles configured: {known}; files read: {}",
                    self.origins().join(", ")
                )),
            );
        }
        let mut merged = RawProfile::default();
        for layer in &self.layers {
            merged.overlay(layer.file.defaults.clone());
        }
        for layer in &self.layers {
            if let Some(own) = layer.file.profiles.get(&name) {
                merged.overlay(own.clone());
            }
        }
        merged.overlay(layers::env_overrides(&self.env));
        merged.overlay(flags);
        Profile::resolve(&name, merged, &self.regions, self.origins(), &self.env)
    }

    fn origins(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.origin.clone()).collect()
    }
}
