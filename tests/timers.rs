//! `acc schedule --systemd` and `--cron`: the units pass `systemd-analyze verify` without a
//! single diagnostic, and `systemd-analyze calendar` fires the snapshot timer exactly ten
//! minutes before each cutoff `acc schedule` lists, across daylight-saving changes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use support::acc;

fn config(dir: &Path) -> PathBuf {
    let path = dir.join("acc.toml");
    std::fs::write(
        &path,
        format!(
            "[defaults]\nstore = \"{store}\"\n\n\
             [profiles.north]\nregion = \"us-can\"\nexport_to = \"sftp://acc@files.example.org/x\"\n\
             [profiles.north.production]\nhost = \"db\"\ndbname = \"north\"\nuser = \"acc\"\npassword_credential = \"north-prod\"\n\
             [profiles.north.staging]\nhost = \"db2\"\ndbname = \"north\"\nuser = \"acc\"\npassword_credential = \"north-staging\"\n\n\
             [profiles.south]\nregion = \"aus-int\"\nexport_to = \"{exports}\"\n",
            store = dir.join("store").display(),
            exports = dir.join("exports").display(),
        ),
    )
    .unwrap();
    path
}

/// `systemd-analyze verify` accepts the units and has nothing at all to say.
fn assert_systemd_verifies(files: &[PathBuf]) {
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "no diagnostics at all for {files:?}"
    );
}

#[test]
fn units_for_both_regions_pass_systemd_analyze_verify_without_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    for (profile, user) in [("north", false), ("south", false), ("north", true)] {
        let units = dir.path().join(format!("units-{profile}-{user}"));
        let mut args = vec![
            "schedule",
            "--profile",
            profile,
            "--systemd",
            "--install",
            units.to_str().unwrap(),
        ];
        if user {
            args.push("--user");
        }
        let run = acc(&cfg, &args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&units)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 6, "a service and a timer per job");
        assert_systemd_verifies(&files);

        let text = |name: &str| std::fs::read_to_string(units.join(name)).unwrap();
        let snapshot = text(&format!("acc-snapshot-{profile}.service"));
        assert!(snapshot.contains(&format!("OnSuccess=acc-restore-{profile}.service")));
        assert!(
            text(&format!("acc-restore-{profile}.service"))
                .contains(&format!("OnSuccess=acc-export-{profile}.service"))
        );
        for needed in [
            "Type=oneshot",
            "RestartPreventExitStatus=2 3 65 69 77 78",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            "NoNewPrivileges=yes",
            "UMask=0077",
        ] {
            assert!(snapshot.contains(needed), "{needed} in {snapshot}");
        }
        assert_eq!(snapshot.contains("User=acc"), !user);
        if profile == "north" {
            assert!(snapshot.contains("LoadCredential=north-prod:/etc/acc/credentials/north-prod"));
            assert!(
                snapshot
                    .contains("LoadCredential=north-staging:/etc/acc/credentials/north-staging")
            );
        }
        let timer = text(&format!("acc-snapshot-{profile}.timer"));
        for needed in ["America/Toronto", "Persistent=true", "AccuracySec="] {
            assert!(timer.contains(needed), "{needed} in {timer}");
        }
    }
}

/// The UTC instants `systemd-analyze calendar` gives for `expr`, from `base`.
fn elapses(expr: &str, base: &str, n: usize) -> Vec<DateTime<Utc>> {
    let out = Command::new("systemd-analyze")
        .args([
            "calendar",
            &format!("--base-time={base}"),
            &format!("--iterations={n}"),
            expr,
        ])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("Next elapse:") || l.contains("Iter."))
        .map(|l| {
            let t = l.split(": ").nth(1).unwrap().trim();
            // "Sat 2026-03-07 03:50:00 UTC"
            let t = t.split_once(' ').unwrap().1.trim_end_matches(" UTC");
            DateTime::parse_from_str(&format!("{t} +0000"), "%Y-%m-%d %H:%M:%S %z")
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect()
}

#[test]
fn systemd_calendar_agrees_with_acc_schedule_across_daylight_saving_in_both_regions() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    // each window covers a change: 2026-03-08 and 2026-11-01 in Toronto, 2026-04-05 and
    // 2026-10-04 in Sydney (the aus-int cutoff is in Toronto time, so Toronto's changes matter)
    for (profile, from) in [
        ("north", "2026-03-05"),
        ("north", "2026-10-29"),
        ("south", "2026-03-05"),
        ("south", "2026-10-29"),
    ] {
        let run = acc(
            &cfg,
            &[
                "schedule",
                "--profile",
                profile,
                "--from",
                from,
                "--days",
                "6",
                "--json",
            ],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let expected: Vec<DateTime<Utc>> = run
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let cutoff: DateTime<Utc> = w["zones"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|z| z["zone"] == "UTC")
                    .unwrap()["cutoff"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                cutoff - Duration::minutes(10)
            })
            .collect();
        let timer = std::fs::read_to_string({
            let units = dir.path().join(format!("u-{profile}"));
            let r = acc(
                &cfg,
                &[
                    "schedule",
                    "--profile",
                    profile,
                    "--systemd",
                    "--install",
                    units.to_str().unwrap(),
                ],
            );
            assert_eq!(r.code, 0, "{}", r.stderr);
            units.join(format!("acc-snapshot-{profile}.timer"))
        })
        .unwrap();
        let expr = timer
            .lines()
            .find_map(|l| l.strip_prefix("OnCalendar="))
            .unwrap();
        // 06:00 UTC: after the previous evening's us-can cutoff, before the morning's aus-int one
        let got = elapses(expr, &format!("{from} 06:00 UTC"), 6);
        assert_eq!(got, expected, "{profile} from {from}: systemd {expr}");
    }
}

#[test]
fn cron_lines_chain_the_night_in_the_region_zone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let run = acc(&cfg, &["schedule", "--profile", "south", "--cron"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines[0], "CRON_TZ=America/Toronto");
    assert!(
        lines[1].starts_with("50 7 * * * ") && lines[1].contains("snapshot --profile south && "),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with("export --profile south"), "{}", lines[1]);
    assert!(lines[2].starts_with("30 8 * * * ") && lines[2].ends_with("restore --profile south"));
    assert!(lines[3].starts_with("0 9 * * * ") && lines[3].ends_with("export --profile south"));
}

/// A fleet on one host: three template services shared by every profile, and a timer per
/// profile and job in its region's zone; `systemd-analyze verify` loads each instance from
/// its template and has nothing to say.
#[test]
fn template_units_serve_every_profile_and_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("acc.toml");
    let profile = |name: &str, region: &str| {
        format!(
            "[profiles.{name}]\nregion = \"{region}\"\nexport_to = \"sftp://acc@files.example.org/{name}\"\n\
             [profiles.{name}.production]\nhost = \"db\"\ndbname = \"{name}\"\nuser = \"acc\"\n\
             password_credential = \"production_password\"\n"
        )
    };
    std::fs::write(
        &cfg,
        format!(
            "[defaults]\nstore = \"{}\"\n\n{}{}",
            dir.path().join("store").display(),
            profile("north", "us-can"),
            profile("south", "aus-int")
        ),
    )
    .unwrap();
    let units = dir.path().join("units");
    let run = acc(
        &cfg,
        &[
            "schedule",
            "--systemd",
            "--template",
            "--install",
            units.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut names: Vec<String> = std::fs::read_dir(&units)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "acc-export@.service",
            "acc-export@north.timer",
            "acc-export@south.timer",
            "acc-restore@.service",
            "acc-restore@north.timer",
            "acc-restore@south.timer",
            "acc-snapshot@.service",
            "acc-snapshot@north.timer",
            "acc-snapshot@south.timer",
        ]
    );
    let timers: Vec<PathBuf> = names
        .iter()
        .filter(|n| n.ends_with(".timer"))
        .map(|n| units.join(n))
        .collect();
    assert_systemd_verifies(&timers);

    let text = |name: &str| std::fs::read_to_string(units.join(name)).unwrap();
    let snapshot = text("acc-snapshot@.service");
    assert!(snapshot.contains("snapshot --profile %i"), "{snapshot}");
    assert!(snapshot.contains("OnSuccess=acc-restore@%i.service"));
    assert!(
        snapshot.contains(
            "LoadCredential=production_password:/etc/acc/credentials/%i/production_password"
        ),
        "each instance reads its own secrets: {snapshot}"
    );
    assert!(text("acc-restore@.service").contains("OnSuccess=acc-export@%i.service"));
    // each timer keeps its region's time; systemd-analyze calendar reads it as given
    for (timer, zone) in [
        ("acc-snapshot@north.timer", "America/Toronto"),
        ("acc-snapshot@south.timer", "America/Toronto"),
    ] {
        let t = text(timer);
        let expr = t
            .lines()
            .find_map(|l| l.strip_prefix("OnCalendar="))
            .unwrap();
        assert!(expr.ends_with(zone), "{expr}");
        let parsed = Command::new("systemd-analyze")
            .args(["calendar", expr])
            .output()
            .unwrap();
        assert!(parsed.status.success(), "{expr}");
    }
    assert_ne!(
        text("acc-snapshot@north.timer")
            .lines()
            .find(|l| l.starts_with("OnCalendar=")),
        text("acc-snapshot@south.timer")
            .lines()
            .find(|l| l.starts_with("OnCalendar=")),
        "the two regions' cutoffs differ"
    );

    // profiles that name different credentials cannot share a template
    let mixed = std::fs::read_to_string(&cfg).unwrap().replacen(
        "password_credential = \"production_password\"",
        "password_credential = \"north-prod\"",
        1,
    );
    std::fs::write(&cfg, mixed).unwrap();
    let run = acc(&cfg, &["schedule", "--systemd", "--template"]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    assert!(
        run.stderr.contains("different credentials"),
        "{}",
        run.stderr
    );
}
