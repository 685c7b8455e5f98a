//! One of the snapshot's two schema archives, decrypted into a private temporary directory:
//! pg_restore reads its table of contents and picks entries from it by a use-list, which a
//! pipe does not allow. It holds no table data, and goes with the directory.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files::Files;
use crate::crypt::{Identities, unseal};
use crate::error::{Error, Kind, Result};
use crate::pg::tools as pg_tools;
use crate::process::PrivateDir;
use crate::snapshot::manifest;

pub struct Archive {
    tmp: PrivateDir,
    path: PathBuf,
}

impl Archive {
    /// Checks `f` against the manifest and decrypts it as `name` in a new private directory.
    pub async fn open(
        files: &Files,
        f: &manifest::File,
        ids: &Arc<Identities>,
        name: &str,
    ) -> Result<Archive> {
        let tmp = PrivateDir::new("restore")
            .map_err(|e| Error::io("cannot create a private temporary directory", e))?;
        let path = tmp.path().join(name);
        let sealed = super::load::verified_bytes_off(files, f).await?;
        decrypt_to(sealed, path.clone(), Arc::clone(ids)).await?;
        Ok(Archive { tmp, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The archive's table of contents, as `pg_restore --list` prints it.
    pub async fn toc(&self) -> Result<String> {
        pg_tools::archive_text(&["--list".into()], &self.path).await
    }

    /// Writes a use-list (or any private text) beside the archive; returns its path.
    pub fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.tmp.path().join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        Ok(path)
    }

    /// `pg_restore -f -` of the entries `list` selects.
    pub async fn sql_of(&self, list: &Path) -> Result<String> {
        super::script::of(&self.path, list).await
    }

    /// `pg_restore -f -` of the entries of `toc` that `keep` chooses, through a use-list
    /// written as `name`.
    pub async fn sql_of_entries(
        &self,
        toc: &str,
        keep: impl Fn(&str) -> bool,
        name: &str,
    ) -> Result<String> {
        let list: String = toc
            .lines()
            .map(|l| match super::script::entry(l).is_some() && !keep(l) {
                true => format!(";{l}\n"),
                false => format!("{l}\n"),
            })
            .collect();
        self.sql_of(&self.write(name, &list)?).await
    }
}

async fn decrypt_to(sealed: Vec<u8>, dst: PathBuf, ids: Arc<Identities>) -> Result<()> {
    crate::pool::run(move || -> Result<()> {
        let mut reader = unseal(std::io::Cursor::new(sealed), &dst, &ids)?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&dst)
            .map_err(|e| Error::io("cannot write a schema archive", e))?;
        std::io::copy(&mut reader, &mut out)
            .and_then(|_| out.flush())
            .map_err(|e| Error::new(Kind::BadInput, "cannot decrypt a schema archive").source(e))?;
        Ok(())
    })
    .await?
}
