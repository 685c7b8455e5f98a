//! What the export, publish and pull tests share: a profile delivering to the sandbox, running
//! an export (or pausing one), signing keys, and pulling a day back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Run, Sandbox, acc, acc_command, current_version, sftp_section};

/// A profile `t` reading the clone `db` as production, delivering to the sandbox's SFTP.
pub fn profile(sb: &Sandbox, dir: &Path, db: &str, extra: &str) -> PathBuf {
    sb.write_profile(dir, db, None, &format!("{}{extra}", sftp_section(sb)))
}

pub fn export(config: &Path, to: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "export",
        "--profile",
        "t",
        "--source",
        "production",
        "--to",
        to,
        "--json",
    ];
    args.extend_from_slice(extra);
    acc(config, &args)
}

pub fn records(csv: &[u8]) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv)
        .records()
        .map(|r| r.expect("valid CSV"))
        .collect()
}

pub fn current_manifest(day: &Path) -> PathBuf {
    current_version(day).join("manifest.json")
}

/// Makes an ed25519 key pair at `path` (no passphrase); returns the public key line.
pub fn ssh_key(path: &Path) -> String {
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "acc-test"])
        .arg("-f")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::read_to_string(path.with_extension("pub")).unwrap()
}

/// A profile that signs its exports, and the allowed_signers file that trusts its key.
pub fn signing_profile(sb: &Sandbox, dir: &Path, db: &str) -> (PathBuf, PathBuf) {
    let (key, signers) = signing_keys(dir);
    let extra = format!(
        "[profiles.t.export]\nsigning_key = \"{}\"\nallowed_signers = \"{}\"\n",
        key.display(),
        signers.display()
    );
    (profile(sb, dir, db, &extra), signers)
}

/// `ssh-keygen -Y verify` accepts the day's manifest signature under the export namespace.
pub fn assert_openssh_verifies(signers: &Path, day: &Path) {
    let verified = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-n",
            "acc-export",
            "-I",
            "exports@agency.example",
            "-f",
        ])
        .arg(signers)
        .arg("-s")
        .arg(current_manifest(day).with_extension("json.sig"))
        .stdin(std::fs::File::open(current_manifest(day)).unwrap())
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

/// An SSH signing key and an allowed_signers file that trusts it for export manifests.
pub fn signing_keys(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("signer");
    let public = ssh_key(&key);
    let signers = dir.join("allowed_signers");
    let mut f = std::fs::File::create(&signers).unwrap();
    writeln!(
        f,
        "exports@agency.example namespaces=\"acc-export\" {}",
        public.trim()
    )
    .unwrap();
    (key, signers)
}

/// `acc pull --profile t --from <from> --out <out>` and `extra`.
pub fn pull_from(config: &Path, from: &str, out: &Path, extra: &[&str]) -> Run {
    let out = out.to_str().unwrap();
    let mut args = vec!["pull", "--profile", "t", "--from", from, "--out", out];
    args.extend_from_slice(extra);
    acc(config, &args)
}

/// Pulls the newest day from `from` (a directory or an SFTP URL); returns the dashboards pulled.
pub fn pulled(sb: &Sandbox, config: &Path, from: &str, out: &Path) -> Vec<String> {
    let identity = ["--identity", sb.var("ACC_AGE_IDENTITY"), "--json"];
    let run = pull_from(config, from, out, &identity);
    assert_eq!(run.code, 0, "{run:?}");
    let mut names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    names
}

/// `acc export --only <only>` to `to`, started with `ACC_PAUSE_AT=point`: returns it paused.
pub fn export_paused(
    config: &Path,
    to: &str,
    only: &str,
    point: &str,
    resume: Option<&Path>,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
) {
    let mut cmd = acc_command(config);
    cmd.args([
        "export",
        "--profile",
        "t",
        "--source",
        "production",
        "--to",
        to,
        "--only",
        only,
        "--json",
    ]);
    super::paused_at(&mut cmd, point, resume)
}
