//! The Debian package: built by `scripts/package` (lintian reports no error), installed on this
//! machine, checked as an operator would use it, then removed, leaving only the configuration.
//! It installs system-wide, so it runs as root (as `scripts/test` and CI do), and fails
//! otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh(script: &str) -> String {
    run(Command::new("bash").args(["-c", script]))
}

#[test]
fn the_package_installs_works_and_removes_leaving_only_the_configuration() {
    assert!(
        acc::process::is_root(),
        "this test installs a package: run it as root (scripts/test does, in CI)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = run(Command::new(root.join("scripts/package")).current_dir(root));
    let deb = root.join(built.trim());
    assert!(deb.is_file(), "{}", deb.display());
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        name,
        format!("acc_{}-1_amd64.deb", env!("CARGO_PKG_VERSION")),
        "acc_<version>_amd64.deb"
    );

    let _ = Command::new("dpkg").args(["--purge", "acc"]).output();
    run(Command::new("dpkg").arg("-i").arg(&deb));
    let files: Vec<PathBuf> = run(Command::new("dpkg").args(["-L", "acc"]))
        .lines()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();

    let version = run(Command::new("/usr/bin/acc").arg("--version"));
    assert_eq!(version.trim(), format!("acc {}", env!("CARGO_PKG_VERSION")));
    let page = run(Command::new("man").args(["-w", "acc-restore"]));
    assert!(
        page.trim().starts_with("/usr/share/man/man1/acc-restore.1"),
        "{page}"
    );
    let example = Path::new("/etc/acc/acc.toml.example");
    assert!(example.is_file());

    // the installed template services, verified through a timer of the example's profile
    let dir = tempfile::tempdir().unwrap();
    run(Command::new("/usr/bin/acc")
        .env("ACC_SYSTEM_CONFIG_DIR", "/nonexistent")
        .env_remove("ACC_CONFIG")
        .args(["--config", example.to_str().unwrap()])
        .args([
            "schedule",
            "--profile",
            "north",
            "--systemd",
            "--template",
            "--install",
        ])
        .arg(dir.path()));
    let timers: Vec<PathBuf> = ["snapshot", "restore", "export"]
        .iter()
        .map(|job| {
            let timer = format!("acc-{job}@north.timer");
            let alone = dir.path().join("timers").join(&timer);
            std::fs::create_dir_all(alone.parent().unwrap()).unwrap();
            std::fs::copy(dir.path().join(&timer), &alone).unwrap();
            alone
        })
        .collect();
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&timers)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
    assert_eq!(
        String::from_utf8_lossy(&verify.stderr),
        "",
        "no diagnostic at all"
    );
    let service = std::fs::read_to_string("/lib/systemd/system/acc-snapshot@.service").unwrap();
    assert!(
        service.contains("ExecStart=/usr/bin/acc snapshot --profile %i"),
        "{service}"
    );

    // the completion loads in bash and completes the subcommands
    let completion = sh("source /usr/share/bash-completion/completions/acc && \
         f=$(complete -p acc | sed -E 's/.* -F ([^ ]+) .*/\\1/') && \
         COMP_WORDS=(acc res) COMP_CWORD=1 COMP_LINE='acc res' COMP_POINT=7 && \
         \"$f\" acc res acc && printf '%s\\n' \"${COMPREPLY[@]}\"");
    assert!(completion.lines().any(|l| l == "restore"), "{completion}");

    // the system user and its home
    sh("getent passwd acc");
    let home = sh("stat -c '%U %a' /var/lib/acc");
    assert_eq!(home.trim(), "acc 700");

    // removed: every file is gone but the configuration, and the empty home
    run(Command::new("dpkg").args(["-r", "acc"]));
    let left: Vec<&PathBuf> = files.iter().filter(|p| p.exists()).collect();
    assert_eq!(
        left,
        [&PathBuf::from("/etc/acc/acc.toml.example")],
        "only the configuration"
    );
    assert!(
        !Path::new("/var/lib/acc").exists(),
        "the empty home went with it"
    );
    run(Command::new("dpkg").args(["--purge", "acc"]));
    assert!(!example.exists(), "purge removes the configuration too");
}
