//! Each job's node_exporter textfile, and status's: they pass `promtool check metrics` with
//! no warning, and a failed job updates its failure time and exit code but keeps its success.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::{Sandbox, StagingDb, TestDb, acc};

/// `promtool check metrics` (Debian's prometheus package) accepts the file with no warning.
fn assert_promtool_clean(path: &Path) {
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::from(std::fs::File::open(path).unwrap()))
        .output()
        .expect("promtool is installed by scripts/test");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "{}: {}{}",
        path.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn value(path: &Path, metric: &str) -> Option<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .find(|l| l.starts_with(&format!("{metric}{{")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_writes_a_textfile_promtool_accepts_and_a_failure_keeps_the_last_success() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "metrics").await;
    let staging = StagingDb::new(&sb, "metrics");
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("textfiles");
    std::fs::create_dir(&metrics).unwrap();
    let extra = format!(
        "{}\n[profiles.t.metrics]\ntextfile_dir = \"{}\"\n[profiles.t.snapshot]\nretry_seconds = 2\n",
        staging.sections(&sb),
        metrics.display()
    );
    let config = sb.write_profile(dir.path(), &db.name, None, &extra);
    let out = dir.path().join("out");
    let to = out.to_str().unwrap();

    // a night that works: snapshot, verify, restore, export
    for (args, file) in [
        (
            vec!["snapshot", "--profile", "t", "--now"],
            "acc_snapshot-t.prom",
        ),
        (vec!["verify", "--profile", "t"], "acc_verify-t.prom"),
        (vec!["restore", "--profile", "t"], "acc_restore-t.prom"),
        (
            vec![
                "export",
                "--profile",
                "t",
                "--source",
                "staging",
                "--to",
                to,
            ],
            "acc_export-t.prom",
        ),
    ] {
        let run = acc(&config, &args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let path = metrics.join(file);
        assert_promtool_clean(&path);
        let job = file.trim_start_matches("acc_").split('-').next().unwrap();
        assert_eq!(
            value(&path, &format!("acc_{job}_last_exit_code")),
            Some(0.0),
            "{file}"
        );
        assert!(
            value(&path, &format!("acc_{job}_last_success_timestamp_seconds")).unwrap() > 1.7e9
        );
        assert!(
            value(&path, &format!("acc_{job}_rows")).unwrap() > 0.0,
            "{file}"
        );
        assert!(value(&path, "acc_build_info") == Some(1.0));
    }
    let export = metrics.join("acc_export-t.prom");
    let succeeded = value(&export, "acc_export_last_success_timestamp_seconds").unwrap();
    assert!(value(&export, "acc_export_bytes").unwrap() > 0.0);

    // the export fails (its destination is a file): failure time and code move, success stays
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let blocked = dir.path().join("not-a-directory");
    std::fs::write(&blocked, b"x").unwrap();
    let run = acc(
        &config,
        &[
            "export",
            "--profile",
            "t",
            "--source",
            "staging",
            "--to",
            blocked.to_str().unwrap(),
        ],
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert_promtool_clean(&export);
    assert_eq!(
        value(&export, "acc_export_last_exit_code"),
        Some(f64::from(run.code as u8))
    );
    assert_eq!(
        value(&export, "acc_export_last_success_timestamp_seconds"),
        Some(succeeded),
        "a failure leaves the last success alone"
    );
    assert!(value(&export, "acc_export_last_failure_timestamp_seconds").unwrap() > succeeded);

    // status's own textfile passes too, under the renamed *_timestamp_seconds gauges
    let prom = dir.path().join("status.prom");
    let run = acc(
        &config,
        &[
            "status",
            "--profile",
            "t",
            "--prometheus",
            prom.to_str().unwrap(),
        ],
    );
    assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
    assert_promtool_clean(&prom);
    assert!(value(&prom, "acc_next_cutoff_timestamp_seconds").unwrap() > 1.7e9);
    assert!(value(&prom, "acc_next_cutoff_timestamp").is_none());
}
