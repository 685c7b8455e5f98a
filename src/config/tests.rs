//! Layering and config errors, against real files in temporary directories.

use std::path::{Path, PathBuf};

use super::*;
use crate::secret::SecretRef;

struct Dirs {
    _tmp: tempfile::TempDir,
    system: PathBuf,
    xdg: PathBuf,
    explicit: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let system = tmp.path().join("etc-acc");
    let xdg = tmp.path().join("xdg");
    std::fs::create_dir_all(&system).unwrap();
    std::fs::create_dir_all(xdg.join("acc")).unwrap();
    let explicit = tmp.path().join("site.toml");
    Dirs {
        system,
        xdg,
        explicit,
        _tmp: tmp,
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn load(d: &Dirs, extra_env: &[(&str, &str)], explicit: bool) -> Result<Config> {
    let mut pairs = vec![
        ("ACC_SYSTEM_CONFIG_DIR", d.system.to_str().unwrap()),
        ("XDG_CONFIG_HOME", d.xdg.to_str().unwrap()),
    ];
    pairs.extend_from_slice(extra_env);
    Config::load(Env::from_pairs(pairs), explicit.then(|| d.explicit.clone()))
}

const BASE: &str = r#"
[defaults]
store = "/srv/system-store"
[profiles.north]
region = "us-can"
[profiles.north.production]
host = "prod.internal"
dbname = "north"
user = "acc"
password_file = "/etc/acc/prod.pw"
"#;

#[test]
fn later_layers_override_earlier_ones_key_by_key() {
    let d = dirs();
    write(&d.system.join("acc.toml"), BASE);
    write(
        &d.xdg.join("acc/acc.toml"),
        "[profiles.north.production]\nport = 6432\n",
    );
    write(
        &d.explicit,
        "[defaults]\nstore = \"/srv/explicit-store\"\n[profiles.north.production]\npassword_env = \"NORTH_PW\"\n",
    );

    let p = load(&d, &[], true)
        .unwrap()
        .profile(Some("north"), RawProfile::default())
        .unwrap();
    let db = p.production().unwrap();
    assert_eq!(db.host, "prod.internal", "from the system file");
    assert_eq!(db.port, 6432, "from the user file");
    assert_eq!(
        db.password,
        Some(SecretRef::Env("NORTH_PW".into())),
        "the explicit file switched the secret's source"
    );
    assert_eq!(p.store, PathBuf::from("/srv/explicit-store"));
    assert_eq!(
        p.origins.len(),
        4,
        "built-in, system, user, explicit: {:?}",
        p.origins
    );
}

#[test]
fn a_profile_setting_beats_any_default() {
    let d = dirs();
    write(
        &d.system.join("acc.toml"),
        &format!("{BASE}\n[profiles.north.staging]\nhost=\"s\"\ndbname=\"n\"\nuser=\"u\"\n"),
    );
    // a default set in a higher layer does not override a profile's own setting in a lower one
    write(
        &d.xdg.join("acc/acc.toml"),
        "[profiles.north]\nstore = \"/srv/north\"\n",
    );
    write(&d.explicit, "[defaults]\nstore = \"/srv/everyone\"\n");
    let p = load(&d, &[], true)
        .unwrap()
        .profile(Some("north"), RawProfile::default())
        .unwrap();
    assert_eq!(p.store, PathBuf::from("/srv/north"));
}

#[test]
fn environment_then_flags_override_files() {
    let d = dirs();
    write(&d.system.join("acc.toml"), BASE);
    let config = load(
        &d,
        &[("ACC_STORE", "/srv/env-store"), ("ACC_REGION", "aus-int")],
        false,
    )
    .unwrap();
    let p = config
        .profile(Some("north"), RawProfile::default())
        .unwrap();
    assert_eq!(
        (p.store.to_str().unwrap(), p.region.name.as_str()),
        ("/srv/env-store", "aus-int")
    );
    let flags = RawProfile {
        region: Some("us-can".into()),
        ..Default::default()
    };
    assert_eq!(
        config.profile(Some("north"), flags).unwrap().region.name,
        "us-can"
    );
}

#[test]
fn built_in_defaults_apply_when_nothing_else_does() {
    let d = dirs();
    write(&d.explicit, "[profiles.solo]\nregion = \"aus-int\"\n");
    let p = load(&d, &[], true)
        .unwrap()
        .profile(None, RawProfile::default())
        .unwrap();
    assert_eq!(
        p.name, "solo",
        "the only profile is chosen without --profile"
    );
    assert_eq!(p.store, PathBuf::from("/var/lib/acc/snapshots"));
}

#[test]
fn unknown_keys_name_the_file_the_line_and_the_key() {
    let d = dirs();
    write(&d.system.join("acc.toml"), BASE);
    write(
        &d.xdg.join("acc/acc.toml"),
        "[profiles.north]\nregion = \"us-can\"\nstor = \"/typo\"\n",
    );
    let err = load(&d, &[], false).unwrap_err();
    assert_eq!(err.exit_code(), 78);
    let msg = err.message();
    assert!(
        msg.contains(&d.xdg.join("acc/acc.toml").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("line 3") && msg.contains("stor"), "{msg}");
}

#[test]
fn config_errors_are_exit_78_and_say_what_to_fix() {
    let d = dirs();
    // --config naming a missing file
    let err = load(&d, &[], true).unwrap_err();
    assert_eq!(err.exit_code(), 78);
    assert!(err.message().contains("does not exist"));

    write(
        &d.explicit,
        "[profiles.a]\nregion = \"us-can\"\n[profiles.b]\nregion = \"mars\"\n[profiles.c]\n",
    );
    let config = load(&d, &[], true).unwrap();
    let err = config
        .profile(Some("zzz"), RawProfile::default())
        .unwrap_err();
    assert_eq!(err.exit_code(), 78);
    assert!(err.hint_text().unwrap().contains("a, b, c"));
    let err = config
        .profile(Some("b"), RawProfile::default())
        .unwrap_err();
    assert!(
        err.message().contains("profiles.b.region") && err.message().contains("mars"),
        "{}",
        err.message()
    );
    let err = config
        .profile(Some("c"), RawProfile::default())
        .unwrap_err();
    assert!(err.message().contains("has no region"));
    let err = config.profile(None, RawProfile::default()).unwrap_err();
    assert_eq!(
        err.exit_code(),
        2,
        "several profiles and none chosen is a usage error"
    );
}

#[test]
fn database_sections_need_their_keys_and_one_secret_source() {
    let d = dirs();
    write(
        &d.explicit,
        "[profiles.a]\nregion = \"us-can\"\n[profiles.a.staging]\nhost = \"h\"\nuser = \"u\"\n",
    );
    let err = load(&d, &[], true)
        .unwrap()
        .profile(Some("a"), RawProfile::default())
        .unwrap_err();
    assert!(
        err.message()
            .contains("profiles.a.staging.dbname is not set"),
        "{}",
        err.message()
    );

    write(
        &d.explicit,
        "[profiles.a]\nregion = \"us-can\"\n[profiles.a.staging]\nhost = \"h\"\nuser = \"u\"\ndbname = \"d\"\npassword_env = \"X\"\npassword_file = \"/x\"\n",
    );
    let err = load(&d, &[], true)
        .unwrap()
        .profile(Some("a"), RawProfile::default())
        .unwrap_err();
    assert!(
        err.message().contains("set only one of"),
        "{}",
        err.message()
    );
}

/// A setting arrives once: flags are the last layer, and the library reads the result.
#[test]
fn exclude_table_flags_add_to_the_profiles_list_and_destinations_parse_once() {
    let d = dirs();
    write(
        &d.explicit,
        "[profiles.a]\nregion = \"us-can\"\nstore = \"/s\"\nexport_to = \"sftp://ops@h:2222/x\"\n[profiles.a.snapshot]\nexclude_tables = [\"audit.*\"]\n",
    );
    let config = load(&d, &[], true).unwrap();
    let flags = RawProfile {
        snapshot: Some(RawSnapshot {
            also_exclude_tables: Some(vec!["scratch".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let p = config.profile(Some("a"), flags).unwrap();
    assert_eq!(p.snapshot.exclude_tables, ["audit.*", "scratch"]);
    assert_eq!(p.destination().unwrap().describe(), "sftp://ops@h:2222/x");
    let bad = RawProfile {
        export_to: Some("ftp://h/x".into()),
        ..Default::default()
    };
    // a bad destination stops only what delivers: the profile resolves, its destination is 78
    let p = config.profile(Some("a"), bad).unwrap();
    let err = p.destination().unwrap_err();
    assert_eq!(err.exit_code(), 78);
    assert!(
        err.message().starts_with("profiles.a.export_to: "),
        "{}",
        err.message()
    );
}

#[test]
fn age_recipients_must_parse() {
    let d = dirs();
    write(
        &d.explicit,
        "[profiles.a]\nregion = \"us-can\"\nage_recipients = [\"age1notakey\"]\n",
    );
    let err = load(&d, &[], true)
        .unwrap()
        .profile(Some("a"), RawProfile::default())
        .unwrap_err();
    assert_eq!(err.exit_code(), 78);
    assert!(
        err.message().contains("profiles.a.age_recipients[0]"),
        "{}",
        err.message()
    );
}

#[test]
fn region_files_next_to_the_explicit_config_override_built_ins() {
    let d = dirs();
    write(&d.explicit, "[profiles.a]\nregion = \"us-can\"\n");
    let regions = d.explicit.parent().unwrap().join("regions");
    std::fs::create_dir_all(&regions).unwrap();
    write(
        &regions.join("us-can.toml"),
        "anchor_zone = \"America/New_York\"\ncutoff = \"22:00\"\ndeadline = \"01:30\"\ndeadline_day = 1\n",
    );
    let p = load(&d, &[], true)
        .unwrap()
        .profile(Some("a"), RawProfile::default())
        .unwrap();
    assert_eq!(p.region.anchor, chrono_tz::America::New_York);
}

#[test]
fn sheets_paper_follows_the_region_and_a_bad_one_names_its_key() {
    let d = dirs();
    write(
        &d.explicit,
        "[profiles.us]\nregion = \"us-can\"\n[profiles.au]\nregion = \"aus-int\"\n\
         [profiles.fr]\nregion = \"us-can\"\n[profiles.fr.sheets]\npaper = \"a4\"\nlanguage = \"fr\"\nformat = \"pdf\"\n\
         [profiles.badpaper]\nregion = \"us-can\"\n[profiles.badpaper.sheets]\npaper = \"a3\"\n",
    );
    let config = load(&d, &[], true).unwrap();
    let get = |name: &str| config.profile(Some(name), RawProfile::default());
    use crate::print::{Language, Paper};
    assert_eq!(get("us").unwrap().sheets.paper, Paper::Letter);
    assert_eq!(get("au").unwrap().sheets.paper, Paper::A4);
    let fr = get("fr").unwrap();
    assert_eq!(
        (fr.sheets.paper, fr.sheets.language),
        (Paper::A4, Language::French)
    );
    assert!(!fr.sheets.format.csv() && fr.sheets.format.pdf());
    let err = get("badpaper").unwrap_err();
    assert_eq!(err.exit_code(), 78);
    assert!(
        err.message().contains("profiles.badpaper.sheets.paper"),
        "{}",
        err.message()
    );
}
