//! Signing manifests with an SSH key so that `ssh-keygen -Y verify` accepts them, and checking
//! them against an `allowed_signers` file. OpenSSH's own tool does both, so a signature acc
//! writes can be checked without acc.

use std::fs::File;
use std::path::Path;
use std::process::Stdio;

use crate::error::{Error, Kind, Result};

/// The namespace of snapshot-manifest signatures; a signature made for anything else fails.
pub const NAMESPACE: &str = "acc-snapshot";
/// The namespace of export-manifest signatures: a snapshot's signature cannot pass for one.
pub const EXPORT_NAMESPACE: &str = "acc-export";

/// Signs `file` with the SSH private key `key`, writing `<file>.sig`.
pub fn sign(key: &Path, file: &Path) -> Result<()> {
    sign_as(key, file, NAMESPACE)
}

/// Signs `file` under `namespace`, writing `<file>.sig`.
pub fn sign_as(key: &Path, file: &Path, namespace: &str) -> Result<()> {
    let sig = sig_path(file);
    let _ = std::fs::remove_file(&sig);
    let out = crate::process::command("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(key)
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Error::unavailable("cannot run ssh-keygen to sign the manifest")
                .source(e)
                .hint("install openssh-client")
        })?;
    if !out.status.success() {
        return Err(Error::config(format!(
            "signing with {} failed: {}",
            key.display(),
            first_line(&out.stderr)
        ))
        .hint("the signing_key must be an SSH private key without a passphrase, mode 0600"));
    }
    Ok(())
}

/// The signature of `bytes` under `namespace` with the SSH private key `key`, made in a
/// private directory of its own (nothing but `bytes` and the signature are written there).
pub fn sign_bytes(key: &Path, bytes: &[u8], namespace: &str) -> Result<Vec<u8>> {
    let dir = crate::process::PrivateDir::new("sign")
        .map_err(|e| Error::unavailable("cannot create a private temporary directory").source(e))?;
    let file = dir
        .write("signed", bytes)
        .map_err(|e| Error::io("cannot stage what is to be signed", e))?;
    sign_as(key, &file, namespace)?;
    std::fs::read(sig_path(&file)).map_err(|e| Error::io("cannot read the signature", e))
}

/// Checks `<file>.sig` against `allowed_signers`; returns the principal that signed it.
pub fn verify(allowed_signers: &Path, file: &Path) -> Result<String> {
    verify_as(allowed_signers, file, NAMESPACE)
}

/// Checks `<file>.sig` under `namespace`; returns the principal that signed it.
pub fn verify_as(allowed_signers: &Path, file: &Path, namespace: &str) -> Result<String> {
    let sig = sig_path(file);
    if !sig.exists() {
        return Err(Error::new(
            Kind::BadInput,
            format!(
                "{} is not signed, and allowed signers are configured",
                file.display()
            ),
        ));
    }
    let found = crate::process::command("ssh-keygen")
        .args(["-Y", "find-principals", "-f"])
        .arg(allowed_signers)
        .arg("-s")
        .arg(&sig)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            Error::unavailable("cannot run ssh-keygen to check the signature").source(e)
        })?;
    let principals = String::from_utf8_lossy(&found.stdout).to_string();
    let bad = |why: String| {
        Error::new(
            Kind::BadInput,
            format!("the signature of {} does not verify: {why}", file.display()),
        )
    };
    if !found.status.success() {
        return Err(bad(format!(
            "no key in {} made it",
            allowed_signers.display()
        )));
    }
    for principal in principals.lines().map(str::trim).filter(|p| !p.is_empty()) {
        let ok = crate::process::command("ssh-keygen")
            .args(["-Y", "verify", "-n", namespace, "-f"])
            .arg(allowed_signers)
            .args(["-I", principal, "-s"])
            .arg(&sig)
            .stdin(File::open(file).map_err(|e| {
                Error::new(Kind::BadInput, format!("cannot read {}", file.display())).source(e)
            })?)
            .output()
            .map_err(|e| {
                Error::unavailable("cannot run ssh-keygen to check the signature").source(e)
            })?;
        if ok.status.success() {
            return Ok(principal.to_string());
        }
    }
    Err(bad("the content does not match the signature".into()))
}

/// Checks `signature` over exactly `bytes` (read once by the caller, who then uses those same
/// bytes), staged in a private directory of its own; returns the principal that signed them.
pub fn verify_detached(
    allowed_signers: &Path,
    name: &str,
    bytes: &[u8],
    signature: &[u8],
    namespace: &str,
) -> Result<String> {
    let dir = crate::process::PrivateDir::new("verify")
        .map_err(|e| Error::unavailable("cannot create a private temporary directory").source(e))?;
    let staged = |n: &str, b: &[u8]| {
        dir.write(n, b)
            .map_err(|e| Error::io("cannot stage the manifest for checking", e))
    };
    let path = staged(name, bytes)?;
    staged(&format!("{name}.sig"), signature)?;
    verify_as(allowed_signers, &path, namespace)
}

/// Checks `signature` over `bytes` against the public half of the private key `key` alone:
/// whatever this signer signed, and nothing anyone else did.
pub fn verify_own(key: &Path, bytes: &[u8], signature: &[u8], namespace: &str) -> Result<()> {
    let out = crate::process::command("ssh-keygen")
        .args(["-y", "-f"])
        .arg(key)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::unavailable("cannot run ssh-keygen").source(e))?;
    if !out.status.success() {
        return Err(Error::config(format!(
            "cannot read the public half of {}: {}",
            key.display(),
            first_line(&out.stderr)
        )));
    }
    let public = String::from_utf8_lossy(&out.stdout);
    let dir = crate::process::PrivateDir::new("own-signer")
        .map_err(|e| Error::unavailable("cannot create a private temporary directory").source(e))?;
    let signers = dir
        .write(
            "allowed_signers",
            format!("acc namespaces=\"{namespace}\" {}\n", public.trim()).as_bytes(),
        )
        .map_err(|e| Error::io("cannot stage the signer", e))?;
    verify_detached(&signers, "manifest.json", bytes, signature, namespace).map(|_| ())
}

pub fn sig_path(file: &Path) -> std::path::PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".sig");
    s.into()
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .to_string()
}
