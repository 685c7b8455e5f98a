//! `acc status` over a whole night on the sandbox: before anything, after snapshot and
//! restore, after the export, and while frozen; with `--require ready` and the textfile.

mod support;

use support::{Sandbox, StagingDb, TestDb, acc};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_follows_the_night_and_gates_downtime_on_a_ready_staging() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "status").await;
    let staging = StagingDb::new(&sb, "status");
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let config = sb.write_profile(dir.path(), &prod.name, None, &staging.sections(&sb));
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "region = \"us-can\"",
        &format!("region = \"us-can\"\nexport_to = \"{}\"", exports.display()),
        1,
    );
    std::fs::write(&config, text).unwrap();
    let prom = dir.path().join("acc.prom");
    let status = |extra: &[&str]| {
        let mut args = vec!["status", "--profile", "t", "--json"];
        args.extend_from_slice(extra);
        acc(&config, &args)
    };
    // the Nagios plugin API: one line, and 0, 1, 2 or 3
    let nagios = || {
        let r = acc(&config, &["status", "--profile", "t", "--nagios"]);
        assert_eq!(r.stdout.lines().count(), 1, "one line: {}", r.stdout);
        (r.code, r.stdout.trim().to_string())
    };
    let gauge = |name: &str| -> Option<f64> {
        let text = std::fs::read_to_string(&prom).unwrap();
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{profile=\"t\"}} ")))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
    };

    // nothing has run: staging was never restored, no export
    let run = status(&["--prometheus", prom.to_str().unwrap()]);
    assert_eq!(run.code, 3, "CRITICAL exits 3: {}", run.stderr);
    let s = &run.json()[0];
    assert_eq!(s["verdict"], "CRITICAL");
    assert_eq!(s["ready"], false);
    assert_eq!(gauge("acc_status"), Some(2.0));
    let gate = status(&["--require", "ready"]);
    assert_eq!(gate.code, 3);
    assert!(gate.stderr.contains("never restored"), "{}", gate.stderr);
    let (code, line) = nagios();
    assert_eq!(code, 2, "{line}");
    assert!(line.starts_with("ACC CRITICAL - t: "), "{line}");

    // the night: snapshot, restore, export
    for args in [
        vec!["snapshot", "--profile", "t", "--now"],
        vec!["restore", "--profile", "t"],
        vec!["export", "--profile", "t", "--source", "staging"],
    ] {
        let r = acc(&config, &args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
    let run = status(&["--prometheus", prom.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let s = &run.json()[0];
    assert_eq!(s["verdict"], "OK", "{s}");
    assert_eq!(s["staging"]["read_only"], true);
    assert_eq!(s["export"]["delivered"], 9);
    assert_eq!(s["snapshot"]["complete"], true);
    assert_eq!(s["ready"], true);
    assert_eq!(gauge("acc_status"), Some(0.0));
    assert_eq!(gauge("acc_staging_read_only"), Some(1.0));
    assert_eq!(gauge("acc_staging_current"), Some(1.0));
    assert_eq!(gauge("acc_export_dashboards_delivered"), Some(9.0));
    assert_eq!(gauge("acc_frozen"), Some(0.0));
    assert_eq!(nagios(), (0, "ACC OK - t: ok".to_string()));
    assert!(gauge("acc_staging_data_age_seconds").unwrap() < 600.0);
    assert!(gauge("acc_snapshot_last_success_timestamp_seconds").unwrap() > 1.7e9);
    assert_eq!(status(&["--require", "ready"]).code, 0);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the textfile is renamed into place: {leftovers:?}"
    );

    // an outage: the refresh is frozen; staging still holds last night's data, so still ready
    let r = acc(
        &config,
        &[
            "freeze",
            "--profile",
            "t",
            "on",
            "--reason",
            "production down since 21:40",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let run = status(&["--prometheus", prom.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s = &run.json()[0];
    assert_eq!(s["verdict"], "WARNING");
    assert!(
        s["findings"]
            .to_string()
            .contains("production down since 21:40")
    );
    assert_eq!(gauge("acc_frozen"), Some(1.0));
    assert_eq!(status(&["--require", "ready"]).code, 0);
    let (code, line) = nagios();
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with("ACC WARNING - t: ") && line.contains("production down since 21:40"),
        "{line}"
    );

    // someone makes staging writable: critical, and not ready
    staging
        .admin("postgres")
        .await
        .batch_execute(&format!(
            "ALTER DATABASE {} SET default_transaction_read_only = off",
            staging.name
        ))
        .await
        .unwrap();
    let run = status(&[]);
    assert_eq!(run.code, 3);
    assert!(
        run.json()[0]["findings"]
            .to_string()
            .contains("not read-only")
    );
    let gate = status(&["--require", "ready"]);
    assert_eq!(gate.code, 3);
    assert!(gate.stderr.contains("not read-only"), "{}", gate.stderr);
}
