//! `acc pull` trusts only what it can check: signatures, the day's kind, profile and date,
//! rollbacks, sizes, and an ssh private key as the identity.

mod support;

use std::path::Path;
use std::process::Command;

use support::exports::*;
use support::{
    Remote, Sandbox, TestDb, acc, age_decrypt, assert_no_plaintext, current_version, day_file,
    day_manifest, files_under,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_verifies_the_signed_manifest_and_refuses_a_modified_file_by_name() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_pull").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, signers) = signing_profile(&sb, dir.path(), &db.name);
    let remote = Remote::new(&sb, "pull");
    let run = export(&config, &remote.url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let day = remote.day();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("store/t"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o700,
            "the export's store directory is private"
        );
    }

    // OpenSSH alone accepts the signature, under the export namespace
    assert_openssh_verifies(&signers, &day);

    let identity = sb.var("ACC_AGE_IDENTITY").to_string();
    let pull = |out: &Path, extra: &[&str]| {
        pull_from(&config, &remote.url, out, &[extra, &["--json"]].concat())
    };
    let good = dir.path().join("good");
    let run = pull(&good, &["--identity", &identity]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["signed_by"], "exports@agency.example");
    use std::os::unix::fs::PermissionsExt;
    let m = day_manifest(&day);
    for entry in m["dashboards"].as_array().unwrap() {
        let file = good.join(format!("{}.csv", entry["name"].as_str().unwrap()));
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let rows = records(&std::fs::read(&file).unwrap()).len() as u64 - 1;
        assert_eq!(rows, entry["rows"].as_u64().unwrap());
    }

    // --keep-encrypted keeps exactly what was delivered, still verified, and no plaintext
    let sealed = dir.path().join("sealed");
    let run = pull(&sealed, &["--keep-encrypted"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read(sealed.join("employee-list.csv.age")).unwrap(),
        std::fs::read(day_file(&day, "employee-list")).unwrap()
    );
    assert_no_plaintext(&sealed);

    // a signed day copied under another date is refused: an old day cannot pass for a new one
    use std::os::unix::fs::MetadataExt;
    let replayed = day.parent().unwrap().join("2020-01-01");
    let owner = std::fs::metadata(&day).unwrap();
    let own = |p: &Path| std::os::unix::fs::chown(p, Some(owner.uid()), Some(owner.gid())).unwrap();
    std::fs::create_dir(&replayed).unwrap();
    own(&replayed);
    for f in files_under(&day) {
        let copy = replayed.join(f.strip_prefix(&day).unwrap());
        if let Some(parent) = copy.parent().filter(|p| !p.exists()) {
            std::fs::create_dir(parent).unwrap();
            own(parent);
        }
        std::fs::copy(&f, &copy).unwrap();
        own(&copy);
    }
    let run = pull(
        &dir.path().join("replayed"),
        &["--identity", &identity, "--date", "2020-01-01"],
    );
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(
        run.stderr.contains("not 't' for 2020-01-01"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("replayed/employee-list.csv").exists());
    std::fs::remove_dir_all(&replayed).unwrap();

    // one flipped byte in one file: that file is refused by name, the others still land
    let target = day_file(&day, "client-medications");
    let mut bytes = std::fs::read(&target).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&target, &bytes).unwrap();
    let tampered = dir.path().join("tampered");
    let run = pull(&tampered, &["--identity", &identity]);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(
        run.stderr.contains("client-medications.csv.age"),
        "{}",
        run.stderr
    );
    assert!(!tampered.join("client-medications.csv").exists());
    assert!(
        !files_under(&tampered)
            .iter()
            .any(|f| f.to_str().unwrap().ends_with(".tmp"))
    );
    assert!(tampered.join("employee-list.csv").exists());

    // a day whose signature is gone is refused outright
    std::fs::remove_file(current_manifest(&day).with_extension("json.sig")).unwrap();
    let run = pull(&dir.path().join("unsigned"), &["--identity", &identity]);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(run.stderr.contains("not signed"), "{}", run.stderr);
    assert!(!dir.path().join("unsigned/employee-list.csv").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_recipients_read_the_export_and_pull_takes_an_ssh_private_key() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_ssh").await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("it_team");
    let public = ssh_key(&key);
    let config = profile(&sb, dir.path(), &db.name, "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("age_recipients = [\"{}\"]", sb.var("ACC_AGE_RECIPIENT")),
        &format!(
            "age_recipients = [\"{}\", \"{}\"]",
            sb.var("ACC_AGE_RECIPIENT"),
            public.trim()
        ),
    );
    std::fs::write(&config, text).unwrap();
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &["--only", "employee-list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let day = to.join("t").join(run.json()["date"].as_str().unwrap());
    // both recipients can read it: the age CLI with the ssh key, and the sandbox identity
    let by_ssh = Command::new("age")
        .args(["--decrypt", "--identity"])
        .arg(&key)
        .arg(day_file(&day, "employee-list"))
        .output()
        .unwrap();
    assert!(
        by_ssh.status.success(),
        "{}",
        String::from_utf8_lossy(&by_ssh.stderr)
    );
    assert_eq!(
        by_ssh.stdout,
        age_decrypt(&sb, &day_file(&day, "employee-list"))
    );
    let copy = dir.path().join("copy");
    let run = acc(
        &config,
        &[
            "pull",
            "--profile",
            "t",
            "--from",
            to.to_str().unwrap(),
            "--identity",
            key.to_str().unwrap(),
            "--out",
            copy.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read(copy.join("employee-list.csv")).unwrap(),
        by_ssh.stdout
    );
}

/// The day manifest records its kind, under the signature: a signed sheets manifest copied
/// over the same day's export is refused by pull (65). A signed day pulled by a profile with
/// no allowed signers says, every time, that nobody checked who wrote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_refuses_a_sheets_manifest_over_an_export_day_and_warns_when_nothing_is_checked() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "pull_kind").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, _signers) = signing_profile(&sb, dir.path(), &db.name);
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let date = run.json()["date"].as_str().unwrap().to_string();
    let pull = |config: &Path, out: &str| {
        let (from, out) = (to.to_str().unwrap(), dir.path().join(out));
        pull_from(config, from, &out, &["--keep-encrypted"])
    };
    // with no allowed signers, the signed day is pulled with a warning that nothing was checked
    let unchecked = dir.path().join("unchecked");
    std::fs::create_dir(&unchecked).unwrap();
    let plain = profile(&sb, &unchecked, &db.name, "");
    let warned = pull(&plain, "pull-unchecked");
    assert_eq!(warned.code, 0, "{warned:?}");
    assert!(
        warned.stderr.contains("signature was not checked"),
        "{}",
        warned.stderr
    );

    let sheets = acc(
        &config,
        &[
            "sheets",
            "--profile",
            "t",
            "--source",
            "production",
            "--date",
            &date,
            "--to",
            to.to_str().unwrap(),
            "--format",
            "csv",
        ],
    );
    assert_eq!(sheets.code, 0, "{sheets:?}");
    let (export_day, sheets_day) = (to.join("t").join(&date), to.join("t/sheets").join(&date));
    for f in ["manifest.json", "manifest.json.sig"] {
        std::fs::copy(
            current_version(&sheets_day).join(f),
            current_version(&export_day).join(f),
        )
        .unwrap();
    }
    let refused = pull(&config, "pull-swapped");
    assert_eq!(refused.code, 65, "{refused:?}");
    assert!(
        refused.stderr.contains("is a sheets day"),
        "{}",
        refused.stderr
    );
}

/// `latest` cannot take a reader back: once this host pulled a signed day, a `latest` that
/// names an older one is refused (65) unless `--date` names it on purpose; and that day's
/// newer version removed from the destination is refused (65) even when named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_refuses_a_latest_older_than_a_signed_day_it_already_pulled() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "pull_rollback").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, _signers) = signing_profile(&sb, dir.path(), &db.name);
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let date = run.json()["date"].as_str().unwrap().to_string();
    let pull = |out: &str, extra: &[&str]| {
        let (from, out) = (to.to_str().unwrap(), dir.path().join(out));
        pull_from(
            &config,
            from,
            &out,
            &[&["--keep-encrypted"], extra].concat(),
        )
    };
    assert_eq!(pull("first", &[]).code, 0);
    let newest = dir.path().join("store/t/.pulled-newest");
    assert_eq!(
        std::fs::read_to_string(&newest).unwrap().trim(),
        format!("{date} v1")
    );
    // a rerun of the day publishes version 2; once pulled, the day never goes back to 1
    let rerun = export(&config, to.to_str().unwrap(), &[]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert_eq!(pull("second", &[]).code, 0);
    assert_eq!(
        std::fs::read_to_string(&newest).unwrap().trim(),
        format!("{date} v2")
    );
    let v2 = to.join("t").join(&date).join("v2");
    assert!(v2.join("manifest.json").exists(), "{v2:?}");
    std::fs::rename(&v2, to.join("t").join(&date).join("removed")).unwrap();
    let older = pull("older-version", &[]);
    assert_eq!(older.code, 65, "{older:?}");
    assert!(
        older.stderr.contains("already pulled its signed version 2"),
        "{}",
        older.stderr
    );
    let named = pull("older-version-named", &["--date", &date]);
    assert_eq!(
        named.code, 65,
        "naming the day does not take it back a version: {named:?}"
    );
    assert!(
        !dir.path()
            .join("older-version")
            .join("manifest.json")
            .exists()
    );
    // as if this host had pulled the next day before the destination went back to today's
    let next = (chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap()
        + chrono::Days::new(1))
    .to_string();
    std::fs::write(&newest, format!("{next}\n")).unwrap();
    let refused = pull("rolled-back", &[]);
    assert_eq!(refused.code, 65, "{refused:?}");
    assert!(refused.stderr.contains("rolled back"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("--date {date}")),
        "{}",
        refused.stderr
    );
    std::fs::rename(to.join("t").join(&date).join("removed"), &v2).unwrap();
    let named = pull("named", &["--date", &date]);
    assert_eq!(named.code, 0, "{named:?}");
    assert_eq!(
        std::fs::read_to_string(&newest).unwrap().trim(),
        next,
        "never moves back"
    );
}

/// `pull.require_signature` is on once allowed signers are set: an unsigned day is refused.
/// Turned off, the day is taken with a warning; turned on with nothing to check against, pull
/// refuses to start (78).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_require_signature_refuses_what_it_cannot_check_unless_turned_off() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "pull_require_sig").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, signers) = signing_profile(&sb, dir.path(), &db.name);
    let to = dir.path().join("out");
    let run = export(&config, to.to_str().unwrap(), &["--only", "employee-list"]);
    assert_eq!(run.code, 0, "{run:?}");
    let day = to.join("t").join(run.json()["date"].as_str().unwrap());
    std::fs::remove_file(current_manifest(&day).with_extension("json.sig")).unwrap();
    let pull = |config: &Path, out: &str| {
        let (from, out) = (to.to_str().unwrap(), dir.path().join(out));
        pull_from(
            config,
            from,
            &out,
            &["--identity", sb.var("ACC_AGE_IDENTITY")],
        )
    };
    let refused = pull(&config, "default");
    assert_eq!(refused.code, 65, "{refused:?}");
    assert!(refused.stderr.contains("not signed"), "{}", refused.stderr);

    let layer = |name: &str, extra: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        profile(&sb, &d, &db.name, extra)
    };
    let off = layer(
        "off",
        &format!(
            "[profiles.t.export]\nallowed_signers = \"{}\"\n[profiles.t.pull]\nrequire_signature = false\n",
            signers.display()
        ),
    );
    let taken = pull(&off, "off-out");
    assert_eq!(taken.code, 0, "{taken:?}");
    assert!(
        taken.stderr.contains("require_signature is off"),
        "{}",
        taken.stderr
    );
    assert!(dir.path().join("off-out/employee-list.csv").exists());
    // off or not, a signature that is there is checked: a foreign one is refused
    let (foreign_key, _) = {
        let other = dir.path().join("foreign");
        std::fs::create_dir(&other).unwrap();
        signing_keys(&other)
    };
    let manifest = current_manifest(&day);
    let signed = std::process::Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "acc-export", "-f"])
        .arg(&foreign_key)
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(signed.status.success(), "{signed:?}");
    let forged = pull(&off, "forged-out");
    assert_eq!(forged.code, 65, "{forged:?}");
    assert!(!dir.path().join("forged-out/employee-list.csv").exists());

    let nothing = layer("nothing", "[profiles.t.pull]\nrequire_signature = true\n");
    let run = pull(&nothing, "nothing-out");
    assert_eq!(run.code, 78, "{run:?}");
    assert!(
        run.stderr.contains("pull.require_signature is on"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("nothing-out").exists());
}
