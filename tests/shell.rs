//! The shell and the manual: the bash completion loads in a real bash and completes
//! subcommands and the configured profiles; every manual page renders with `man -l`.

mod support;

use std::path::Path;
use std::process::Command;

use support::Sandbox;

/// Sources `acc completions bash` in bash, completes `words` as if tab were pressed after
/// the last one, and returns the candidates.
fn complete(config: &Path, words: &[&str]) -> Vec<String> {
    let bin = Path::new(env!("CARGO_BIN_EXE_acc"));
    let script = Command::new(bin)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(script.status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acc.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={}; \
         _acc_profiles acc \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .env("PATH", path)
        .env("ACC_CONFIG", config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_the_configured_profiles() {
    let sb = Sandbox::require();
    let config = sb.path("ACC_CONFIG");
    assert_eq!(complete(&config, &["acc", "sn"]), vec!["snapshot"]);
    let subcommands = complete(&config, &["acc", ""]);
    assert!(
        subcommands.contains(&"restore".to_string()),
        "{subcommands:?}"
    );
    assert!(
        !subcommands.iter().any(|s| s.starts_with("__")),
        "the helper is not offered: {subcommands:?}"
    );
    let mut profiles = complete(&config, &["acc", "status", "--profile", ""]);
    profiles.sort();
    assert_eq!(
        profiles,
        vec!["demo-au", "demo-us"],
        "from the configuration"
    );
    assert_eq!(
        complete(&config, &["acc", "export", "--profile", "demo-a"]),
        vec!["demo-au"]
    );
}

#[test]
fn every_manual_page_renders_with_man() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_acc"))
        .args(["manpage", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    for sub in [
        "acc",
        "acc-snapshot",
        "acc-restore",
        "acc-export",
        "acc-replay-apply",
    ] {
        assert!(
            pages
                .iter()
                .any(|p| p.file_name().unwrap() == format!("{sub}.1").as_str()),
            "{sub}.1 in {pages:?}"
        );
    }
    for page in &pages {
        let shown = Command::new("man")
            .args(["-P", "cat", "-l"])
            .arg(page)
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        let name = page.file_stem().unwrap().to_str().unwrap();
        assert!(
            shown.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&shown.stderr)
        );
        assert!(
            shown.stderr.is_empty(),
            "{name} renders without a warning: {}",
            String::from_utf8_lossy(&shown.stderr)
        );
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(
            text.contains("NAME") && text.contains(name),
            "{name}: {text}"
        );
    }
}
