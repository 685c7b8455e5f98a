//! A delivered day is never lost or forged: same-day reruns as new versions, kills at every
//! step, two hosts at once, retention and leftovers, and a tampered manifest never re-signed.

mod support;

use support::exports::*;
use support::{Remote, Sandbox, TestDb, day_file, day_manifest, sftp_section};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_days_removes_old_days_and_a_rerun_replaces_the_day() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_keep").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let to = dir.path().join("out");
    for old in ["2020-01-01", "2020-01-02"] {
        std::fs::create_dir_all(to.join("t").join(old)).unwrap();
        std::fs::write(to.join("t").join(old).join("manifest.json"), "{}").unwrap();
    }
    let run = export(
        &config,
        to.to_str().unwrap(),
        &["--only", "employee-list", "--keep-days", "2"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    assert_eq!(
        summary["removed_days"],
        serde_json::json!(["2020-01-01", "2020-01-02"])
    );
    let date = summary["date"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::read_to_string(to.join("t/latest")).unwrap().trim(),
        date
    );

    let first = day_manifest(&to.join("t").join(&date));
    let run = export(
        &config,
        to.to_str().unwrap(),
        &["--only", "employee-list,vacant-visits", "--keep-days", "2"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries: Vec<String> = std::fs::read_dir(to.join("t"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries.len(), 2, "one day and latest: {entries:?}");
    let second = day_manifest(&to.join("t").join(&date));
    assert_ne!(
        first["generated_at"], second["generated_at"],
        "the rerun replaced the day"
    );
    let day = to.join("t").join(&date);
    assert_eq!(
        run.json()["version"],
        2,
        "the rerun is the day's second version"
    );
    assert!(day_file(&day, "vacant-visits").ends_with("v2/vacant-visits.csv.age"));
    assert!(
        day.join("v1/employee-list.csv.age").exists(),
        "version 1's file stays: a later version never deletes one"
    );

    // a later run of one dashboard keeps the day's others, untouched and still listed
    let kept_file = day_file(&day, "employee-list");
    let kept = std::fs::read(&kept_file).unwrap();
    let run = export(&config, to.to_str().unwrap(), &["--only", "vacant-visits"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["carried"], serde_json::json!(["employee-list"]));
    assert_eq!(
        day_file(&day, "employee-list"),
        kept_file,
        "carried by reference"
    );
    assert_eq!(std::fs::read(&kept_file).unwrap(), kept);
    let third = day_manifest(&day);
    let names: Vec<&str> = third["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["employee-list", "vacant-visits"], "delivery order");
    assert_eq!(
        third["dashboards"][0]["carried_from"],
        second["generated_at"]
    );
    assert!(third["dashboards"][1]["carried_from"].is_null());

    // a carried file replaced at the destination is checked before the new manifest vouches
    // for it: it is dropped, reported, and its dashboard listed as failed
    let forged = support::age_encrypt(&sb, b"employee_number,name\r\nE000001,Forged Person\r\n");
    std::fs::write(&kept_file, &forged).unwrap();
    let run = export(&config, to.to_str().unwrap(), &["--only", "vacant-visits"]);
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stderr
            .contains("v2/employee-list.csv.age was not carried")
            && run.stderr.contains("no longer matches its manifest entry"),
        "{}",
        run.stderr
    );
    let fourth = day_manifest(&day);
    let employees = fourth["dashboards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "employee-list")
        .expect("still listed");
    assert_eq!(employees["status"], "failed", "{employees}");
    assert!(employees["sha256"].is_null() && employees["file"].is_null());
    assert!(
        !day_manifest(&day)
            .to_string()
            .contains("v2/employee-list.csv.age"),
        "the forged file is listed by no version after it"
    );
}

/// A `.latest.tmp` that a run killed while moving `latest` left behind made every later export
/// exit 69 after publishing, so retention never ran again. The next run replaces it, and
/// leaves another host's work in progress alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporary_latest_a_killed_run_left_never_blocks_the_next_run_or_retention() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_leftover_tmp").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let to = dir.path().join("out");
    let base = to.join("t");
    std::fs::create_dir_all(base.join("2020-01-01")).unwrap();
    std::fs::write(base.join("2020-01-01").join("manifest.json"), "{}").unwrap();
    std::fs::write(base.join(".latest.tmp"), "2020-01-01\n").unwrap();
    // a host that stopped delivering here long ago left its work: retention clears it
    let stale = base.join(".2020-01-01.partial-another_host-4242");
    std::fs::create_dir_all(&stale).unwrap();
    let run = export(
        &config,
        to.to_str().unwrap(),
        &["--only", "employee-list", "--keep-days", "2"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.json();
    assert_eq!(summary["removed_days"], serde_json::json!(["2020-01-01"]));
    assert_eq!(
        std::fs::read_to_string(base.join("latest")).unwrap().trim(),
        summary["date"].as_str().unwrap()
    );
    assert!(!base.join(".latest.tmp").exists());
    assert!(!stale.exists(), "retention removes a dead host's old work");

    // another host delivering to the same destination today is mid-run: not ours to clear
    let theirs = base.join(format!(
        ".{}.partial-another_host-4242",
        summary["date"].as_str().unwrap()
    ));
    std::fs::create_dir_all(&theirs).unwrap();
    let run = export(
        &config,
        to.to_str().unwrap(),
        &["--only", "employee-list", "--keep-days", "2"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        theirs.is_dir(),
        "another host's work in progress is left alone"
    );
}

/// A same-day rerun of one dashboard that fails at signing, or is killed at any step of its
/// version going in, never costs the day a file it delivered: on a local directory and on
/// SFTP, `acc pull` gets all nine dashboards while the rerun waits at each step, after the
/// kill, and after the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_killed_rerun_never_loses_a_file_the_day_delivered() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_rerun_keeps").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let remote = Remote::new(&sb, "rerun");
    let local = dir.path().join("out");
    let mut n = 0;
    let mut pull = |to: &str| {
        n += 1;
        pulled(&sb, &config, to, &dir.path().join(format!("pull-{n}")))
    };
    for to in [local.to_str().unwrap(), remote.url.as_str()] {
        let first = export(&config, to, &[]);
        assert_eq!(first.code, 0, "{first:?}");
        let all = pull(to);
        assert_eq!(all.len(), 9, "{all:?}");

        // a rerun whose signing fails publishes nothing, and the day keeps its nine files
        let garbage = dir.path().join("not-a-key");
        std::fs::write(&garbage, "not a key\n").unwrap();
        let bad = dir.path().join("bad");
        let _ = std::fs::create_dir(&bad);
        let unsigned = sb.write_profile(
            &bad,
            &db.name,
            None,
            &format!(
                "{}[profiles.t.export]\nsigning_key = \"{}\"\n",
                sftp_section(&sb),
                garbage.display()
            ),
        );
        let failed = export(&unsigned, to, &["--only", "client-list"]);
        assert_eq!(failed.code, 78, "{failed:?}");
        assert!(
            failed.stderr.contains("not-a-key"),
            "the key is named: {}",
            failed.stderr
        );
        assert_eq!(pull(to), all, "{to}: after a failed signing");
        let ok = export(&config, to, &["--only", "client-list"]);
        assert_eq!(ok.code, 0, "{ok:?}");
        assert_eq!(pull(to), all);

        // kill -9 before and after the version goes in; readers see a whole day throughout
        for point in ["publish:version-ready", "publish:version-in-place"] {
            let (mut child, _) = export_paused(&config, to, "vacant-visits", point, None);
            assert_eq!(pull(to), all, "{to}: while a rerun waits at {point}");
            child.kill().unwrap();
            child.wait().unwrap();
            assert_eq!(pull(to), all, "{to}: after a kill at {point}");
            let next = export(&config, to, &["--only", "employee-list"]);
            assert_eq!(next.code, 0, "{to}: after a kill at {point}: {next:?}");
            assert_eq!(pull(to), all, "{to}: the run after a kill at {point}");
        }
    }
    let hidden: Vec<String> = std::fs::read_dir(local.join("t"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        hidden.is_empty(),
        "the runs after the kills cleared: {hidden:?}"
    );
}

/// Two hosts export the same day to one destination at the same moment (each with its own run
/// lock). Both aim at version 2: the one that gets there first publishes it, the other is told
/// to run again (75) and publishes nothing over it; its rerun carries the winner's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_publishing_one_day_never_hide_each_others_files() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_two_hosts").await;
    let dir = tempfile::tempdir().unwrap();
    let config = profile(&sb, dir.path(), &db.name, "");
    let other = dir.path().join("other-host");
    std::fs::create_dir(&other).unwrap();
    let config_b = profile(&sb, &other, &db.name, "");
    let remote = Remote::new(&sb, "two-hosts");
    let local = dir.path().join("out");
    let names = |m: &serde_json::Value| -> Vec<String> {
        m["dashboards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    for (to, base) in [
        (local.to_str().unwrap(), local.join("t")),
        (remote.url.as_str(), remote.disk.join("t")),
    ] {
        let first = export(&config, to, &["--only", "employee-list"]);
        assert_eq!(first.code, 0, "{first:?}");
        let day = base.join(first.json()["date"].as_str().unwrap());

        let resume = dir.path().join(format!("resume-{}", to.len()));
        let (a, mut a_err) = export_paused(
            &config,
            to,
            "client-list",
            "publish:version-ready",
            Some(&resume),
        );
        let b = export(&config_b, to, &["--only", "vacant-visits"]);
        assert_eq!(b.code, 0, "{to}: {b:?}");
        assert_eq!(b.json()["version"], 2);
        std::fs::write(&resume, "").unwrap();
        let mut said = String::new();
        std::io::Read::read_to_string(&mut a_err, &mut said).unwrap();
        let a_done = a.wait_with_output().unwrap();
        assert_eq!(a_done.status.code(), Some(75), "{to}: {said}");
        assert!(said.contains("another run published version 2"), "{said}");
        assert_eq!(
            names(&day_manifest(&day)),
            ["employee-list", "vacant-visits"],
            "{to}: the version that went in first is the day"
        );
        let hidden: Vec<String> = std::fs::read_dir(&base)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.') && n.contains(".partial-"))
            .collect();
        assert!(
            hidden.is_empty(),
            "{to}: the loser took its sealed files away: {hidden:?}"
        );

        // a stray, empty version directory (an operator's mkdir, a mirror mid-copy) is passed
        // over by readers and by the next version
        std::fs::create_dir(day.join("v41")).unwrap();
        let again = export(&config, to, &["--only", "client-list"]);
        assert_eq!(again.code, 0, "{to}: {again:?}");
        assert_eq!(again.json()["version"], 42);
        assert_eq!(
            names(&day_manifest(&day)),
            ["employee-list", "client-list", "vacant-visits"]
        );
    }
}

/// Someone with write access to the destination adds an entry to the day's manifest, or
/// changes one's hash. The rerun checks the earlier manifest's signature against its own key
/// first: it fails, so nothing of that day is carried, the rerun reports what it dropped, and
/// its own signature covers only what it delivered and checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_entry_or_hash_in_the_days_manifest_is_never_carried_or_signed() {
    let sb = Sandbox::require();
    let db = TestDb::clone_of(&sb, "demo_us", "export_forged").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, signers) = signing_profile(&sb, dir.path(), &db.name);
    let to = dir.path().join("out");
    for forgery in ["an extra entry", "a changed hash"] {
        let full = export(&config, to.to_str().unwrap(), &[]);
        assert_eq!(full.code, 0, "{full:?}");
        let day = to.join("t").join(full.json()["date"].as_str().unwrap());
        let path = current_manifest(&day);
        let earlier = day_file(&day, "employee-list");
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let entries = m["dashboards"].as_array_mut().unwrap();
        if forgery == "an extra entry" {
            let mut forged = entries[0].clone();
            let file = forged["file"].as_str().unwrap().to_string();
            forged["name"] = "forged-dashboard".into();
            forged["file"] = "forged-dashboard.csv.age".into();
            std::fs::copy(day.join(&file), day.join("forged-dashboard.csv.age")).unwrap();
            entries.push(forged);
        } else {
            let e = entries
                .iter_mut()
                .find(|e| e["name"] == "employee-list")
                .unwrap();
            e["sha256"] = "0".repeat(64).into();
        }
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();

        let rerun = export(&config, to.to_str().unwrap(), &["--only", "client-list"]);
        assert_eq!(rerun.code, 3, "{forgery}: {rerun:?}");
        assert!(
            rerun.stderr.contains("not carried"),
            "{forgery}: {}",
            rerun.stderr
        );
        assert_ne!(current_manifest(&day), path, "{forgery}: a new version");
        let m = day_manifest(&day);
        let ok: Vec<&str> = m["dashboards"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == "ok")
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            ok,
            ["client-list"],
            "{forgery}: only what this run checked is signed"
        );
        assert!(!m.to_string().contains("forged-dashboard"), "{forgery}");
        assert_openssh_verifies(&signers, &day);
        // the earlier files were not signed again, and not deleted either: they stay in their
        // version until retention removes the day
        assert!(
            earlier.exists(),
            "{forgery}: the earlier employee-list stays"
        );
    }
}
