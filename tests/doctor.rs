//! `acc doctor` against the sandbox: every check passes on the sandbox's own profile, and the
//! mistakes operators make are each named with their fix.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::{Sandbox, acc};

#[test]
fn the_sandbox_profile_passes_every_check_and_hides_its_secrets() {
    let sb = Sandbox::require();
    let run = acc(&sb.path("ACC_CONFIG"), &["doctor", "--profile", "demo-us"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for name in [
        "production",
        "staging rights",
        "pg_dump for staging",
        "export destination",
        "snowflake",
        "snapshot store space",
        "sheet query",
        "device-sync",
    ] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains(" ok ") && l.contains(name)),
            "{name}: {}",
            run.stdout
        );
    }
    let password =
        std::fs::read_to_string(sb.path("ACC_SANDBOX").join("secrets/pg_acc_password")).unwrap();
    assert!(
        !run.stdout.contains(password.trim()),
        "no secret in the output"
    );
}

/// `acc doctor --json` says the same as the text, for a monitoring script to read.
#[test]
fn doctor_json_lists_every_check_and_the_settings_without_secrets() {
    let sb = Sandbox::require();
    let run = acc(
        &sb.path("ACC_CONFIG"),
        &["doctor", "--profile", "demo-us", "--json"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["profile"], "demo-us");
    assert_eq!(v["ok"], true);
    let checks = v["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "staging rights" && c["ok"] == true)
    );
    let settings = v["settings"].as_array().unwrap();
    assert!(
        settings
            .iter()
            .any(|s| s["key"] == "production tls"
                && s["value"].as_str().unwrap().contains("sslmode")),
        "{settings:?}"
    );
    let password =
        std::fs::read_to_string(sb.path("ACC_SANDBOX").join("secrets/pg_acc_password")).unwrap();
    assert!(
        !run.stdout.contains(password.trim()),
        "no secret in the output"
    );
}

#[test]
fn loose_modes_a_wrong_host_key_and_a_closed_port_fail_with_their_fix() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("pw");
    std::fs::copy(
        sb.path("ACC_SANDBOX").join("secrets/pg_acc_password"),
        &secret,
    )
    .unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let identity = dir.path().join("identity.txt");
    std::fs::copy(sb.path("ACC_AGE_IDENTITY"), &identity).unwrap();
    std::fs::set_permissions(&identity, std::fs::Permissions::from_mode(0o640)).unwrap();
    let known = dir.path().join("known_hosts");
    std::fs::write(&known, "").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let extra = format!(
        "[profiles.t.staging]\nhost = \"127.0.0.1\"\nport = {port}\ndbname = \"x\"\nuser = \"acc\"\n\
         sslrootcert = \"{}/tls/ca.crt\"\n\
         [profiles.t.restore]\nage_identity = \"{}\"\n\
         [profiles.t.sftp]\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n",
        sb.var("ACC_SANDBOX"),
        identity.display(),
        sb.path("ACC_SFTP_KEY").display(),
        known.display()
    );
    let config = sb.write_profile(dir.path(), "demo_us", None, &extra);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            &format!("{}/secrets/pg_acc_password", sb.var("ACC_SANDBOX")),
            secret.to_str().unwrap(),
        )
        .replacen(
            "region = \"us-can\"",
            &format!(
                "region = \"us-can\"\nexport_to = \"{}\"",
                sb.var("ACC_SFTP_URL")
            ),
            1,
        );
    std::fs::write(&config, text).unwrap();
    let run = acc(&config, &["doctor", "--profile", "t"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let out = &run.stdout;
    let failed = |name: &str, says: &str| {
        let i = out
            .find(&format!("FAIL {name}"))
            .unwrap_or_else(|| panic!("{name} fails: {out}"));
        assert!(
            out[i..].lines().take(2).any(|l| l.contains(says)),
            "{name}: expected '{says}' in {out}"
        );
    };
    failed("secret file", &format!("chmod 600 {}", secret.display()));
    failed(
        "restore identity",
        &format!("chmod 600 {}", identity.display()),
    );
    failed("export destination", "is not in");
    failed("staging", "cannot reach");
    assert!(out.contains("ok   production"), "{out}");
}

/// A sheet query override that leaves out a column of the paper sheet fails doctor's check,
/// naming the column, before a night's `acc sheets` would stop on it (asked of production
/// while staging holds no restored copy yet); an `export_to` that is not a location fails the
/// destination check, and stops only the commands that deliver.
#[test]
fn an_override_missing_a_sheet_column_and_a_bad_export_to_are_named_before_the_night() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let staging = format!(
        "[profiles.t.staging]\nhost = \"127.0.0.1\"\nport = {}\ndbname = \"postgres\"\nuser = \"acc\"\n\
         password_file = \"{sandbox}/secrets/pg_acc_password\"\nsslrootcert = \"{sandbox}/tls/ca.crt\"\n",
        sb.var("ACC_STAGING_URL").rsplit(':').next().unwrap(),
        sandbox = sb.var("ACC_SANDBOX"),
    );
    let config = sb.write_profile(dir.path(), "demo_us", None, &staging);
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "region = \"us-can\"",
        "region = \"us-can\"\nexport_to = \"ftp://files.example.org/x\"",
        1,
    );
    std::fs::write(&config, text).unwrap();
    // the built-in query without its Phone column
    let builtin = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/sheets/downtime-sheet.sql"),
    )
    .unwrap();
    let without_phone: String = builtin
        .lines()
        .filter(|l| !l.contains("AS \"Phone\""))
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(without_phone.lines().count(), builtin.lines().count());
    std::fs::create_dir(dir.path().join("sheets")).unwrap();
    std::fs::write(dir.path().join("sheets/downtime-sheet.sql"), without_phone).unwrap();

    let run = acc(&config, &["doctor", "--profile", "t"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.contains(&format!("FAIL {name}")))
            .unwrap_or_else(|| panic!("{name} fails: {}", run.stdout))
            .to_string()
    };
    assert!(
        line("sheet query").contains("no column \"Phone\""),
        "{}",
        run.stdout
    );
    assert!(
        line("export destination").contains("export_to"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("ok   production"), "{}", run.stdout);
    // a bad destination does not stop the snapshot, and stops the export naming the key
    let snapshot = acc(&config, &["snapshot", "--profile", "t", "--now"]);
    assert_eq!(snapshot.code, 0, "{snapshot:?}");
    let export = acc(&config, &["export", "--profile", "t"]);
    assert_eq!(export.code, 78, "{export:?}");
    assert!(
        export.stderr.contains("profiles.t.export_to"),
        "{}",
        export.stderr
    );
}

#[test]
fn a_snowflake_key_encrypted_with_the_openssl_pkcs8_des3_recipe_logs_in() {
    let sb = Sandbox::require();
    let dir = tempfile::tempdir().unwrap();
    let (plain, key, pass) = (
        dir.path().join("rsa.pem"),
        dir.path().join("rsa_key.p8"),
        dir.path().join("passphrase"),
    );
    std::fs::write(&pass, "synthetic passphrase\n").unwrap();
    std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
    // the recipe Snowflake's own documentation gives
    for args in [
        vec!["genrsa", "-out", plain.to_str().unwrap(), "2048"],
        vec![
            "pkcs8",
            "-topk8",
            "-v2",
            "des3",
            "-inform",
            "PEM",
            "-in",
            plain.to_str().unwrap(),
            "-out",
            key.to_str().unwrap(),
            "-passout",
            &format!("file:{}", pass.display()),
        ],
    ] {
        let out = std::process::Command::new("openssl")
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("ENCRYPTED PRIVATE KEY")
    );
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.path().join("acc.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.t]\nregion = \"us-can\"\nstore = \"{}\"\n[profiles.t.snowflake]\nbase_url = \"{}\"\n\
             account = \"sandbox\"\nuser = \"acc\"\ndatabase = \"DEMO_US\"\nschema = \"AGENCY\"\n\
             private_key_file = \"{}\"\nprivate_key_passphrase_file = \"{}\"\n",
            dir.path().join("store").display(),
            sb.var("ACC_SNOWFLAKE_URL"),
            key.display(),
            pass.display()
        ),
    )
    .unwrap();
    let run = acc(&config, &["doctor", "--profile", "t"]);
    let line = run
        .stdout
        .lines()
        .skip_while(|l| *l != "checks")
        .find(|l| l.contains(" snowflake "))
        .unwrap_or_else(|| panic!("no snowflake check: {run:?}"));
    assert!(
        line.trim_start().starts_with("ok"),
        "{line}\n{}",
        run.stdout
    );
}
