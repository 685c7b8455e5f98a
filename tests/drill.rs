//! The nightly drill (`scripts/drill`, which `scripts/demo` runs) against the sandbox: every
//! step of a night and an outage succeeds, and no log line of the whole cycle holds the
//! patient-data marker or a sandbox password.

mod support;

use std::process::Command;

use support::Sandbox;

/// Runs the drill with `extra` flags; returns its stdout and its log's text.
fn drill(extra: &[&str]) -> (String, String) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/drill"))
        .arg("--no-seed")
        .args(extra)
        .env("ACC", env!("CARGO_BIN_EXE_acc"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .current_dir(root)
        .output()
        .expect("bash runs the drill");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the drill failed:\n{stdout}\n{stderr}"
    );
    let log = stdout
        .lines()
        .find_map(|l| l.strip_prefix("log: "))
        .unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    (stdout.into_owned(), text)
}

#[test]
fn the_nightly_drill_runs_every_step_and_its_logs_leak_nothing() {
    let _sb = Sandbox::require();
    let (stdout, text) = drill(&[]);
    for step in [
        "snapshot production",
        "restore staging",
        "export the nine",
        "pull, verify",
        "who needs paper first",
        "freeze the refresh",
        "restore is skipped",
        "replay apply",
        "a rerun applies nothing",
        "unfreeze",
        "--require ready",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(step) && l.contains(" ok")),
            "step '{step}' ok:\n{stdout}"
        );
    }
    assert!(stdout.contains("leaks: none"), "{stdout}");
    // the drill's own scan is what the test trusts; make sure it scanned a real log
    assert!(text.lines().count() > 50, "a full cycle's log");
    // the export's summary line, and a progress line for each of the nine dashboards and the
    // sandbox profile's optional device-sync
    assert!(
        text.lines()
            .any(|l| l.starts_with("export ") && l.contains(": 10 of 10 dashboards from staging")),
        "the export's summary"
    );
    // the status step shows who needs paper first
    assert!(
        text.lines()
            .any(|l| l.starts_with("  devices    ") && l.contains("sync mismatch")),
        "status counts the carers whose device missed visits"
    );
    for name in acc::export::dashboard::KNOWN {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("acc: export {name}: ")) && l.contains("encrypted")),
            "{name} logged"
        );
    }
    assert!(!text.contains("SYNTH"));

    // one flag points the same night at the object store: snapshot and restore go through
    // the bucket, each under its lease, and status reads the bucket
    let (stdout, text) = drill(&["--s3"]);
    for step in ["snapshot production", "restore staging", "--require ready"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(step) && l.contains(" ok")),
            "step '{step}' ok against the bucket:\n{stdout}"
        );
    }
    assert!(stdout.contains("leaks: none"), "{stdout}");
    assert!(
        text.lines().any(|l| l.starts_with("  leases     ")),
        "status reads the leases in the bucket"
    );
    assert!(!text.contains("SYNTH"));
}
