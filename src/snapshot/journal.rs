//! The journal of a snapshot in progress, `journal.jsonl` in its `.partial` directory, so a
//! restore can load each file while the rest is still being captured (`acc refresh`,
//! `acc restore --follow`). Its first entry is the plan: the manifest as far as it is known
//! before any row is copied (every table, its columns and the names of its files). Then one
//! entry per sealed file, once it is finished, with its size, SHA-256 and rows. Each line
//! carries the SHA-256 of the line before it and its own entry, so a line changed, lost or
//! torn breaks the chain. Where snapshots are signed, each line also carries the signature of
//! its chain, so a follower checks that the snapshot's own key wrote everything up to the last
//! line it read before it runs any of it (the schema archives above all). The journal is a
//! schedule, not a proof: every file a follower loads is checked against the signed manifest
//! before the swap. It is removed just before the manifest is written, so a published
//! snapshot holds none.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::manifest::{File, Manifest};
use crate::error::{Error, Kind, Result};

pub const FILE_NAME: &str = "journal.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// The manifest before the copy: every table with its files' names, no digests yet.
    Plan(Box<Manifest>),
    /// A file sealed and synced.
    Sealed(File),
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Line {
    pub entry: Entry,
    /// SHA-256 of the previous line's `chain` and this entry's JSON: it names this run's
    /// journal up to here.
    pub chain: String,
    /// The signature of `chain` by the snapshot's signing key, where it has one: it vouches
    /// for every line up to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

fn link(previous: &str, entry_json: &str) -> String {
    let mut h = Sha256::new();
    h.update(previous.as_bytes());
    h.update(entry_json.as_bytes());
    crate::crypt::hex(&h.finalize())
}

/// The writing end, shared by the capture's workers.
pub struct Journal {
    state: Mutex<(std::fs::File, String)>,
    signing_key: Option<PathBuf>,
}

impl Journal {
    /// The journal of the snapshot in `dir`; each line signed with `signing_key` if given.
    pub fn create(dir: &Path, signing_key: Option<&Path>) -> Result<Journal> {
        let path = dir.join(FILE_NAME);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        Ok(Journal {
            state: Mutex::new((file, String::new())),
            signing_key: signing_key.map(Path::to_path_buf),
        })
    }

    /// `write`, off the async threads when the line is signed (ssh-keygen is a child
    /// process the thread waits on).
    pub async fn append(self: &std::sync::Arc<Self>, entry: Entry) -> Result<()> {
        if self.signing_key.is_none() {
            return self.write(entry);
        }
        let journal = std::sync::Arc::clone(self);
        crate::pool::run(move || journal.write(entry)).await?
    }

    /// Appends `entry` as one line, written whole in one call. A follower reads the page
    /// cache, so it is not synced: after a crash the snapshot is not published anyway.
    pub fn write(&self, entry: Entry) -> Result<()> {
        let mut state = self.state.lock().expect("journal lock");
        let json = serde_json::to_string(&entry).expect("an entry always serializes");
        let chain = link(&state.1, &json);
        let signature = match &self.signing_key {
            Some(key) => Some(sign_chain(key, &chain)?),
            None => None,
        };
        let mut line = serde_json::to_string(&Line {
            entry,
            chain: chain.clone(),
            signature,
        })
        .expect("a line always serializes");
        line.push('\n');
        state
            .0
            .write_all(line.as_bytes())
            .map_err(|e| Error::io("cannot write the snapshot's journal", e))?;
        state.1 = chain;
        Ok(())
    }
}

/// What a line's signature signs: its chain, under a heading of its own, in the snapshot
/// namespace (an allowed_signers file that limits the key to it accepts it); the heading keeps
/// it from ever passing for a manifest, which is JSON.
fn signed_text(chain: &str) -> String {
    format!("acc snapshot journal {chain}")
}

fn sign_chain(key: &Path, chain: &str) -> Result<String> {
    use crate::crypt::signing;
    let text = signed_text(chain);
    let signature = signing::sign_bytes(key, text.as_bytes(), signing::NAMESPACE)?;
    String::from_utf8(signature)
        .map_err(|_| Error::internal("ssh-keygen wrote a signature that is not text"))
}

/// Checks that `line` is signed by one of `allowed_signers`: then every line up to it is the
/// signer's, through the chain. Returns who signed it.
pub fn check_signed(line: &Line, allowed_signers: &Path) -> Result<String> {
    use crate::crypt::signing;
    let Some(signature) = &line.signature else {
        return Err(Error::new(
            Kind::BadInput,
            "the journal of the snapshot being followed is not signed, and allowed signers are configured",
        )
        .hint("staging was not touched; set snapshot.signing_key on the host taking the snapshot (its journal is then signed as it goes)"));
    };
    signing::verify_detached(
        allowed_signers,
        "journal-line",
        signed_text(&line.chain).as_bytes(),
        signature.as_bytes(),
        signing::NAMESPACE,
    )
    .map_err(|e| {
        Error::new(
            Kind::BadInput,
            format!(
                "the journal of the snapshot being followed is not its signer's: {}",
                e.message()
            ),
        )
        .hint("staging was not touched; the snapshot being followed is not what it says: take a new one")
    })
}

/// The lines of the journal text read so far: whole lines only (a last line still being
/// written is left for the next read), each checked against the chain.
pub fn lines(text: &str) -> Result<Vec<Line>> {
    let mut previous = String::new();
    let mut out = Vec::new();
    let whole = text.rfind('\n').map_or("", |end| &text[..end]);
    for (n, raw) in whole.lines().enumerate() {
        let broken = |why: &str| {
            Error::new(
                Kind::BadInput,
                format!("the snapshot's journal is broken at line {}: {why}", n + 1),
            )
            .hint("staging was not touched; the snapshot being followed is not what it says: take a new one")
        };
        let line: Line = serde_json::from_str(raw).map_err(|e| broken(&e.to_string()))?;
        let json = serde_json::to_string(&line.entry).expect("an entry always serializes");
        if link(&previous, &json) != line.chain {
            return Err(broken("its chain does not match"));
        }
        previous.clone_from(&line.chain);
        out.push(line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(name: &str) -> Entry {
        Entry::Sealed(
            serde_json::from_value(serde_json::json!({
                "name": name, "size": 10, "sha256": "ab", "plaintext_bytes": 20, "rows": 2
            }))
            .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    fn entries(text: &str) -> Result<Vec<Entry>> {
        Ok(lines(text)?.into_iter().map(|l| l.entry).collect())
    }

    fn names(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Sealed(f) => f.name.clone(),
                Entry::Plan(_) => "plan".into(),
            })
            .collect()
    }

    /// An SSH key in `dir` and an allowed_signers file trusting it.
    fn signer(dir: &Path) -> (PathBuf, PathBuf) {
        let key = dir.join("key");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "journal-test", "-f"])
            .arg(&key)
            .status()
            .is_ok_and(|s| s.success());
        assert!(made, "ssh-keygen made no key");
        let public = std::fs::read_to_string(dir.join("key.pub")).unwrap_or_default();
        let signers = dir.join("allowed_signers");
        std::fs::write(&signers, format!("ops@agency.example {public}"))
            .unwrap_or_else(|e| panic!("{e}"));
        (key, signers)
    }

    fn written(dir: &Path, key: Option<&Path>, sizes: &[u64]) -> Vec<Line> {
        let j = Journal::create(dir, key).unwrap_or_else(|e| panic!("{e}"));
        for (n, size) in sizes.iter().enumerate() {
            let mut f = match sealed(&format!("t{n:05}.p0000")) {
                Entry::Sealed(f) => f,
                Entry::Plan(_) => unreachable!(),
            };
            f.digest.size = *size;
            j.write(Entry::Sealed(f)).unwrap_or_else(|e| panic!("{e}"));
        }
        let text = std::fs::read_to_string(dir.join(FILE_NAME)).unwrap_or_default();
        lines(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_signed_journal_verifies_and_a_rewritten_or_unsigned_one_does_not() {
        let keys = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (key, signers) = signer(keys.path());
        let signed = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let good = written(signed.path(), Some(&key), &[10, 10, 10]);
        for line in &good {
            let who = check_signed(line, &signers).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(who, "ops@agency.example");
        }
        // the same journal with line 2 changed and the chain computed again: the signer's
        // last signature does not vouch for it
        let unsigned = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut forged = written(unsigned.path(), None, &[10, 11, 10]);
        let e = check_signed(&forged[2], &signers)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not signed"), "{e}");
        forged[2].signature.clone_from(&good[2].signature);
        let e = check_signed(&forged[2], &signers)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not its signer's"), "{e}");
        // signed by a key the allowed signers do not name
        let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (other_key, _) = signer(other.path());
        let elsewhere = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let theirs = written(elsewhere.path(), Some(&other_key), &[10]);
        assert!(check_signed(&theirs[0], &signers).is_err());
    }

    #[test]
    fn whole_lines_are_read_and_a_line_changed_breaks_the_chain() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let j = Journal::create(dir.path(), None).unwrap_or_else(|e| panic!("{e}"));
        for n in ["t00000.p0000", "t00001.p0000", "t00002.p0000"] {
            j.write(sealed(n)).unwrap_or_else(|e| panic!("{e}"));
        }
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap_or_default();
        let read = entries(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            names(&read),
            ["t00000.p0000", "t00001.p0000", "t00002.p0000"]
        );
        // a line still being written is not read yet
        let torn = &text[..text.len() - 5];
        assert_eq!(names(&entries(torn).unwrap_or_default()).len(), 2);
        // another size for the second file: the chain breaks there
        let forged = text.replacen("\"size\":10", "\"size\":11", 2).replacen(
            "\"size\":11",
            "\"size\":10",
            1,
        );
        let e = entries(&forged)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("line 2"), "{e}");
        // a line taken out: the next one no longer follows
        let lines: Vec<&str> = text.lines().collect();
        let dropped = format!("{}\n{}\n", lines[0], lines[2]);
        assert!(entries(&dropped).is_err());
    }
}
