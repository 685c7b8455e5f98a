//! `acc init` against the sandbox servers: by flags (nothing asked, 78 on a wrong answer) and
//! through a real terminal (tmux), where a wrong answer is explained and asked again.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Run, Sandbox, acc_command};

/// A private directory with a password file libpq-style, so no password is ever typed or
/// written into acc.toml.
struct Setup {
    dir: tempfile::TempDir,
    pgpass: PathBuf,
}

impl Setup {
    fn new(sb: &Sandbox) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let password =
            std::fs::read_to_string(sb.path("ACC_SANDBOX").join("secrets/pg_acc_password"))
                .unwrap();
        let pgpass = dir.path().join("pgpass");
        std::fs::write(&pgpass, format!("127.0.0.1:*:*:acc:{}\n", password.trim())).unwrap();
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
        Setup { dir, pgpass }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `host=… port=… dbname=… user=acc sslrootcert=…` for the sandbox cluster behind `url_var`.
fn server(sb: &Sandbox, url_var: &str, db: &str) -> String {
    let port = sb.var(url_var).rsplit(':').next().unwrap().to_string();
    on_port(sb, &port, db)
}

/// The same on a port where nothing listens.
fn unreachable(sb: &Sandbox) -> String {
    on_port(sb, "9", "demo_us")
}

fn on_port(sb: &Sandbox, port: &str, db: &str) -> String {
    format!(
        "host=127.0.0.1 port={port} dbname={db} user=acc sslrootcert={}",
        sb.path("ACC_SANDBOX").join("tls/ca.crt").display()
    )
}

fn init(s: &Setup, config: &Path, args: &[&str]) -> Run {
    support::run(
        acc_command(config)
            .env("PGPASSFILE", &s.pgpass)
            .env("HOME", s.dir.path())
            .arg("init")
            .args(args),
    )
}

#[test]
fn init_by_flags_writes_a_private_file_that_doctor_passes_and_refuses_a_wrong_answer_with_78() {
    let sb = Sandbox::require();
    let s = Setup::new(&sb);
    let config = s.path("etc/acc.toml");
    let production = server(&sb, "ACC_PROD_URL", "demo_us");
    let staging = server(&sb, "ACC_STAGING_URL", "acc_init_staging");
    let store = s.path("store");
    let keys = sb.path("ACC_SANDBOX");
    let flags = |production: &str, region: &str| -> Vec<String> {
        [
            "--profile",
            "north",
            "--region",
            region,
            "--production",
            production,
            "--staging",
            &staging,
            "--store",
            store.to_str().unwrap(),
            "--export-to",
            sb.var("ACC_SFTP_URL"),
            "--sftp-identity-file",
            keys.join("keys/sftp_ed25519").to_str().unwrap(),
            "--sftp-known-hosts",
            keys.join("ssh/known_hosts").to_str().unwrap(),
            "--age-recipient",
            sb.var("ACC_AGE_RECIPIENT"),
        ]
        .map(str::to_string)
        .to_vec()
    };
    let run_with = |f: Vec<String>| {
        init(
            &s,
            &config,
            &f.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };

    // wrong answers: each refused with 78, naming the flag, and nothing is written
    let with_password = production.replace("user=acc", "user=acc password=hunter2");
    for (bad, says) in [
        (
            flags(&production, "mars"),
            "--region: unknown region 'mars'",
        ),
        (
            flags(&with_password, "us-can"),
            "--production: acc.toml never holds a password",
        ),
        (
            flags(&production.replace("port=", "port=1"), "us-can"),
            "--production:",
        ),
    ] {
        let run = run_with(bad);
        assert_eq!(run.code, 78, "{says}: {run:?}");
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
        assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
        assert!(!config.exists(), "{says}: nothing is written");
    }
    let missing = init(&s, &config, &["--region", "us-can"]);
    assert_eq!(missing.code, 78, "{missing:?}");
    assert!(
        missing.stderr.contains("--production is needed"),
        "{}",
        missing.stderr
    );

    let run = run_with(flags(&production, "us-can"));
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let password = std::fs::read_to_string(keys.join("secrets/pg_acc_password")).unwrap();
    assert!(!text.contains(password.trim()), "no secret in acc.toml");
    assert!(
        run.stdout
            .contains("staging database         acc_init_staging does not exist yet"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("export destination"), "{}", run.stdout);
    assert!(run.stdout.contains(&format!(
        "acc --config {} snapshot --profile north --now",
        config.display()
    )));
    assert!(store.is_dir(), "the store was made");

    // the file is one acc reads: doctor passes on it
    let doctor = acc_command(&config)
        .env("PGPASSFILE", &s.pgpass)
        .args(["doctor", "--profile", "north"])
        .output()
        .unwrap();
    assert_eq!(doctor.status.code(), Some(0), "{doctor:?}");

    // never over an existing file without --force
    let again = run_with(flags(&production, "us-can"));
    assert_eq!(again.code, 78, "{again:?}");
    assert!(again.stderr.contains("exists"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
    let mut forced = flags(&production, "us-can");
    forced.push("--force".into());
    assert_eq!(run_with(forced).code, 0);
}

/// A tmux session running one command, read back as a person sees the screen.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn start(command: &str) -> Terminal {
        let socket = format!("acc-init-{}", std::process::id());
        let started = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "220",
                "-y",
                "80",
            ])
            .arg(format!("{command}; echo EXIT=$?; sleep 600"))
            .status()
            .expect("tmux runs");
        assert!(started.success());
        Terminal { socket }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J", "-S", "-400"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` `times` times in all.
    fn wait_for(&self, text: &str, times: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= times {
                return screen;
            }
            assert!(Instant::now() < deadline, "never saw {text:?}:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn type_line(&self, line: &str) {
        for keys in [vec!["-l", line], vec!["Enter"]] {
            let ok = Command::new("tmux")
                .args(["-L", &self.socket, "send-keys", "-t", "0"])
                .args(&keys)
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// Shell-quotes one word.
fn sh(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

#[test]
fn init_on_a_terminal_asks_each_question_and_asks_again_after_a_wrong_answer() {
    let sb = Sandbox::require();
    let s = Setup::new(&sb);
    let config = s.path("acc.toml");
    let command = format!(
        "env -u ACC_PROFILE ACC_SYSTEM_CONFIG_DIR=/nonexistent XDG_CONFIG_HOME=/nonexistent HOME={home} PGPASSFILE={pgpass} {acc} --config {config} init",
        home = sh(s.dir.path().to_str().unwrap()),
        pgpass = sh(s.pgpass.to_str().unwrap()),
        acc = sh(env!("CARGO_BIN_EXE_acc")),
        config = sh(config.to_str().unwrap()),
    );
    let t = Terminal::start(&command);
    let keys = sb.path("ACC_SANDBOX");
    let production = server(&sb, "ACC_PROD_URL", "demo_us");
    let steps: Vec<(&str, String)> = vec![
        ("profile name", "north".into()),
        ("region", "mars".into()),
        ("unknown region 'mars'", "us-can".into()),
        ("production server", unreachable(&sb)),
        ("cannot reach", production.clone()),
        (
            "staging server",
            server(&sb, "ACC_STAGING_URL", "acc_init_tty"),
        ),
        (
            "where snapshots go",
            s.path("store").to_str().unwrap().into(),
        ),
        ("where exports go", sb.var("ACC_SFTP_URL").into()),
        (
            "SSH key acc logs in with",
            keys.join("keys/sftp_ed25519").to_str().unwrap().into(),
        ),
        (
            "known_hosts file",
            keys.join("ssh/known_hosts").to_str().unwrap().into(),
        ),
        ("age recipients", "age1notakey".into()),
        ("is not an age X25519", sb.var("ACC_AGE_RECIPIENT").into()),
        ("  : ", String::new()),
        ("staging role care teams read as", String::new()),
    ];
    let mut seen: std::collections::BTreeMap<&str, usize> = Default::default();
    for (prompt, answer) in &steps {
        let n = seen.entry(prompt).or_default();
        *n += 1;
        t.wait_for(prompt, *n);
        t.type_line(answer);
    }
    let screen = t.wait_for("EXIT=", 1);
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains("region (aus-int, us-can) [us-can]: "),
        "{screen}"
    );
    assert!(
        screen.contains("reached and logged in (server 15)"),
        "the server shown as answered:\n{screen}"
    );
    assert!(screen.contains("next, the first night"), "{screen}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[profiles.north.production]"), "{text}");
    assert!(
        text.contains(&production),
        "the answer given after the refusal: {text}"
    );
    assert!(text.contains("reader_role = \"staging_reader\""), "{text}");
}
