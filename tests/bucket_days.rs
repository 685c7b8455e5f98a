//! Export and sheets days in the sandbox's S3-compatible bucket (moto's server): each run
//! writes its sealed files under a prefix of its own, the version goes in by a create-only
//! write of its manifest, `acc pull --from s3://` gets the day whole and checked, and a run
//! killed at any step leaves readers the version they had; the next run clears what it left.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use support::buckets::{bucket_keys, prefix, s3_section};
use support::exports::{export, export_paused, pull_from, pulled, signing_keys};
use support::printed::{sheets, today};
use support::{Sandbox, TestDb, age_decrypt};

/// A profile `t` on the clone `db`, signing its days, with the sandbox bucket's s3 section;
/// returns its configuration and the `s3://` URL of a prefix of its own.
fn bucket_profile(sb: &Sandbox, dir: &Path, db: &str, tag: &str) -> (std::path::PathBuf, String) {
    let (key, signers) = signing_keys(dir);
    let extra = format!(
        "[profiles.t.export]\nsigning_key = \"{}\"\nallowed_signers = \"{}\"\n\n[profiles.t.s3]\n{}\n",
        key.display(),
        signers.display(),
        s3_section(sb, 60)
    );
    let config = sb.write_profile(dir, db, None, &extra);
    let to = format!("s3://{}/{}", sb.var("ACC_S3_BUCKET"), prefix(tag));
    // the destination status reads, as a profile names it
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "region = \"us-can\"\n",
        &format!("region = \"us-can\"\nexport_to = \"{to}\"\n"),
        1,
    );
    std::fs::write(&config, text).unwrap();
    (config, to)
}

/// The prefix of the URL, as the bucket's keys start.
fn key_prefix(url: &str) -> String {
    let rest = url.strip_prefix("s3://").unwrap();
    format!("{}/", rest.split_once('/').unwrap().1)
}

/// The bucket run prefixes (`run-…`) under the day's keys.
fn run_prefixes(keys: &[String]) -> BTreeSet<String> {
    keys.iter()
        .filter_map(|k| k.split('/').find(|p| p.starts_with("run-")))
        .map(str::to_string)
        .collect()
}

/// Pulls the newest day into a fresh directory: the dashboards pulled, decrypted.
fn pull_all(sb: &Sandbox, config: &Path, from: &str) -> Vec<String> {
    let out = tempfile::tempdir().unwrap();
    pulled(sb, config, from, &out.path().join("pulled"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_day_in_the_bucket_is_sealed_published_by_its_manifest_and_pulled_whole() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "s3_export_day").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, to) = bucket_profile(&sb, dir.path(), &prod.name, "export-day");

    let run = export(&config, &to, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["version"], 1);
    let keys = bucket_keys(&sb, &key_prefix(&to));
    // nothing in plaintext: sealed files, the manifest, its signature and `latest`
    for k in &keys {
        assert!(
            k.ends_with(".csv.age")
                || k.ends_with("/v1/manifest.json")
                || k.ends_with("/v1/manifest.json.sig")
                || k.ends_with("/t/latest"),
            "{k}"
        );
    }
    let sealed: Vec<&String> = keys.iter().filter(|k| k.ends_with(".csv.age")).collect();
    assert_eq!(sealed.len(), 9, "{keys:?}");
    assert_eq!(
        run_prefixes(&keys).len(),
        1,
        "one run, one prefix: {keys:?}"
    );

    // pulled and checked (size, SHA-256, the signature), and decrypted outside acc
    let out = dir.path().join("pulled");
    let names = pulled(&sb, &config, &to, &out);
    assert_eq!(names.len(), 9, "{names:?}");
    let sealed_out = dir.path().join("sealed");
    let kept = pull_from(&config, &to, &sealed_out, &["--keep-encrypted"]);
    assert_eq!(kept.code, 0, "{}", kept.stderr);
    for name in &names {
        let plain = age_decrypt(&sb, &sealed_out.join(format!("{name}.age")));
        assert_eq!(plain, std::fs::read(out.join(name)).unwrap(), "{name}");
    }

    // sheets go the same way, under the profile's sheets base
    let printed = sheets(&config, &to, &today(), &[]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    let keys = bucket_keys(&sb, &format!("{}t/sheets/", key_prefix(&to)));
    assert!(keys.iter().any(|k| k.ends_with("/v1/manifest.json")));
    let pdfs = keys.iter().filter(|k| k.ends_with(".pdf.age")).count();
    assert!(pdfs >= 2, "{pdfs} sealed PDFs");
    let plain: Vec<&String> = keys
        .iter()
        .filter(|k| !(k.ends_with(".age") || k.contains("/v1/manifest.json")))
        .collect();
    assert!(
        plain.len() == 1 && plain[0].ends_with("/t/sheets/latest"),
        "{plain:?}"
    );

    // status reads the day from the bucket as pull does
    let status = support::acc(&config, &["status", "--profile", "t", "--json"]);
    let export_day = &status.json()[0]["export"];
    assert_eq!(export_day["delivered"], 9, "{}", status.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_killed_at_each_step_leaves_readers_a_whole_version_and_the_next_run_clears_what_it_left()
 {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "s3_export_kill").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, to) = bucket_profile(&sb, dir.path(), &prod.name, "export-kill");
    let first = export(&config, &to, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);

    // a rerun of one dashboard carries the other eight where they are
    let rerun = export(&config, &to, &["--only", "client-list"]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let json = rerun.json();
    assert_eq!(json["version"], 2);
    assert_eq!(json["carried"].as_array().map_or(0, Vec::len), 8, "{json}");
    assert_eq!(pull_all(&sb, &config, &to).len(), 9);

    // each killed run's files are in the bucket until the next run of this host clears them
    let run_of = |pid: u32| {
        let keys = bucket_keys(&sb, &key_prefix(&to));
        run_prefixes(&keys)
            .into_iter()
            .find(|r| r.contains(&format!("-{pid}-")))
    };
    let mut left = Vec::new();
    for point in [
        "publish:file-sealed",
        "publish:version-ready",
        "publish:version-in-place",
    ] {
        let (mut child, _) = export_paused(&config, &to, "client-list", point, None);
        let pid = child.id();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // every reader still gets a whole, signed day of nine
        assert_eq!(pull_all(&sb, &config, &to).len(), 9, "{point}");
        let prefix = run_of(pid);
        assert!(prefix.is_some(), "{point}: its files are in the bucket");
        left.push((point, prefix.unwrap()));
    }
    let keys = bucket_keys(&sb, &key_prefix(&to));
    // killed between the signature and the manifest: the version's number is passed over
    assert!(
        keys.iter().any(|k| k.ends_with("/v3/manifest.json.sig"))
            && !keys.iter().any(|k| k.ends_with("/v3/manifest.json")),
        "{keys:?}"
    );
    // killed after the manifest: that version is published, and readers took it
    assert!(
        keys.iter().any(|k| k.ends_with("/v4/manifest.json")),
        "{keys:?}"
    );

    let next = export(&config, &to, &["--only", "client-list"]);
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert_eq!(next.json()["version"], 5);
    let keys = bucket_keys(&sb, &key_prefix(&to));
    let after = run_prefixes(&keys);
    assert!(
        !after.contains(&left[0].1) && !after.contains(&left[1].1),
        "never published, so removed: {after:?}"
    );
    assert!(
        after.contains(&left[2].1),
        "a published version's files stay: {after:?}"
    );
    assert_eq!(pull_all(&sb, &config, &to).len(), 9);
}

#[test]
fn a_bad_s3_export_destination_is_named_and_nothing_is_sent() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let config = sb.write_profile(dir.path(), "postgres", None, "");
    let run = export(&config, "s3://Not_A_Bucket/x", &[]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not name a bucket"),
        "{}",
        run.stderr
    );
    // plain HTTP without allow_http: refused before anything is sent
    let extra = format!(
        "[profiles.t.s3]\nendpoint = \"{}\"\npath_style = true\n",
        sb.var("ACC_S3_ENDPOINT")
    );
    let config = sb.write_profile(dir.path(), "postgres", None, &extra);
    let to = format!("s3://{}/{}", sb.var("ACC_S3_BUCKET"), prefix("plain-http"));
    let run = pull_from(&config, &to, &dir.path().join("out"), &["--keep-encrypted"]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    assert!(run.stderr.contains("plain HTTP"), "{}", run.stderr);
    assert!(bucket_keys(&sb, &key_prefix(&to)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_one_day_in_the_bucket_never_publish_beneath_one_another_and_old_days_go() {
    let sb = Sandbox::require();
    let prod = TestDb::clone_of(&sb, "demo_us", "s3_export_race").await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (config, to) = bucket_profile(&sb, dir_a.path(), &prod.name, "export-race");
    // a second host: its own configuration and store, the same bucket and signing key
    let config_b = dir_b.path().join("acc.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &dir_a.path().join("store").display().to_string(),
        &dir_b.path().join("store").display().to_string(),
    );
    std::fs::write(&config_b, text).unwrap();
    let first = export(&config, &to, &["--only", "employee-list"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let day = first.json()["date"].as_str().unwrap().to_string();

    // A has signed version 2 and is about to write its manifest when B publishes
    let resume = dir_a.path().join("resume");
    let (a, mut a_err) = export_paused(
        &config,
        &to,
        "client-list",
        "publish:version-ready",
        Some(&resume),
    );
    let b = export(&config_b, &to, &["--only", "vacant-visits"]);
    std::fs::write(&resume, "").unwrap();
    assert_eq!(b.code, 0, "{}", b.stderr);
    assert_eq!(b.json()["version"], 3, "version 2's directory is A's");
    let mut said = String::new();
    std::io::Read::read_to_string(&mut a_err, &mut said).unwrap();
    let a_done = a.wait_with_output().unwrap();
    assert_eq!(a_done.status.code(), Some(75), "{said}");
    assert!(said.contains("another run published version 3"), "{said}");
    let keys = bucket_keys(&sb, &key_prefix(&to));
    assert!(!keys.iter().any(|k| k.ends_with("/v2/manifest.json")));
    assert_eq!(
        run_prefixes(&keys).len(),
        2,
        "the loser took its sealed files away: {:?}",
        run_prefixes(&keys)
    );
    // B's version is the day, with A's first file carried
    let out = tempfile::tempdir().unwrap();
    let names = pulled(&sb, &config, &to, &out.path().join("p"));
    assert_eq!(names, ["employee-list.csv", "vacant-visits.csv"]);

    // retention: a day older than keep_days goes whole, today's stays
    let old = format!("{}t/2020-01-01/v1/manifest.json", key_prefix(&to));
    support::buckets::boto3(
        &sb,
        "s3.put_object(Bucket=bucket, Key=args[0], Body=b'{}')",
        &[&old],
    );
    let keep = std::fs::read_to_string(&config).unwrap().replace(
        "[profiles.t.export]\n",
        "[profiles.t.export]\nkeep_days = 7\n",
    );
    std::fs::write(&config, keep).unwrap();
    let run = export(&config, &to, &["--only", "client-list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let keys = bucket_keys(&sb, &key_prefix(&to));
    assert!(!keys.iter().any(|k| k.contains("/2020-01-01/")), "{keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.contains(&format!("/{day}/v4/manifest.json")))
    );
}

#[test]
fn a_bucket_file_goes_up_in_parts_and_comes_down_in_ranges_and_a_file_replaced_mid_read_fails() {
    use acc::delivery::Delivery;
    use sha2::{Digest, Sha256};
    use std::io::{Read, Write};
    let sb = Sandbox::require();
    let config = sb.config();
    let profile = config
        .profile(Some("demo-us"), acc::config::RawProfile::default())
        .unwrap();
    let url = format!("s3://{}/{}", sb.var("ACC_S3_BUCKET"), prefix("ranges"));
    let location = acc::location::Location::parse(&url).unwrap();
    let d = Delivery::open(&location, &acc::delivery::Reach::of(&profile), config.env()).unwrap();
    assert!(!d.renames(), "a bucket publishes by create-only writes");

    // two full 8 MiB parts and a remainder, written in odd-sized pieces; and an empty file
    let body: Vec<u8> = (0..(17u32 << 20) + 5).map(|i| (i % 251) as u8).collect();
    let mut up = d.create("big.bin").unwrap();
    for piece in body.chunks(1_000_003) {
        up.write_all(piece).unwrap();
    }
    up.close().unwrap();
    d.create("empty.bin").unwrap().close().unwrap();
    let read_all = |name: &str| {
        let mut got = Vec::new();
        d.open_read(name).unwrap().read_to_end(&mut got).unwrap();
        got
    };
    let got = read_all("big.bin");
    assert_eq!(got.len(), body.len());
    assert_eq!(Sha256::digest(&got), Sha256::digest(&body));
    assert!(read_all("empty.bin").is_empty());
    assert!(d.try_exists("big.bin").unwrap() && !d.try_exists("none.bin").unwrap());

    // replaced after the first range was read: the next range is refused, and stays refused
    let mut reader = d.open_read("big.bin").unwrap();
    let mut first = vec![0u8; 1 << 20];
    reader.read_exact(&mut first).unwrap();
    let key = format!(
        "{}/big.bin",
        url.split_once(&format!("{}/", sb.var("ACC_S3_BUCKET")))
            .unwrap()
            .1
    );
    support::buckets::flip_a_byte(&sb, &key);
    let mut rest = Vec::new();
    assert!(
        reader.read_to_end(&mut rest).is_err(),
        "read {} more bytes",
        rest.len()
    );
    assert!(reader.read(&mut first).is_err(), "an error stays");

    // a small file is written create-only: a second write of it is refused
    d.write_small("once.json", b"{}").unwrap();
    assert!(d.write_small("once.json", b"{}").is_err());
}
