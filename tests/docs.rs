//! Every code block in README.md and docs/ stays true: each `acc` command line names commands
//! and flags that exist (and parses whole when it is a real command rather than a synopsis),
//! and each TOML block parses as a configuration file, where an unknown key is an error.

use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};

/// A fenced block: the file, the line it starts on, its language and its lines.
struct Block {
    at: String,
    lang: String,
    lines: Vec<String>,
}

fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut open: Option<(usize, Block)> = None;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        match (&mut open, trimmed.strip_prefix("```")) {
            (None, Some(lang)) => {
                let block = Block {
                    at: format!("{}:{}", path.display(), n + 1),
                    lang: lang.trim().to_string(),
                    lines: Vec::new(),
                };
                open = Some((indent, block));
            }
            (Some(_), Some(_)) => out.push(open.take().unwrap().1),
            (Some((indent, block)), None) => {
                let cut = line.len().min(*indent);
                block.lines.push(line[cut..].to_string());
            }
            (None, None) => {}
        }
    }
    assert!(
        open.is_none(),
        "{}: a block is never closed",
        path.display()
    );
    out
}

fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    all.extend(docs);
    all
}

/// Shell words, with single and double quotes; a `#` that starts a word ends the line.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut word, mut quote, mut any) = (String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (None, '#') if !any => break,
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (_, c) => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(word);
    }
    out
}

/// The `acc` invocations of a shell block: continuations joined, `&&`, `;` and pipes split,
/// leading `VAR=value` and `sudo` dropped.
fn invocations(lines: &[String]) -> Vec<Vec<String>> {
    let joined = lines.join("\n").replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        for part in line
            .split("&&")
            .flat_map(|p| p.split(';'))
            .flat_map(|p| p.split(" | "))
        {
            let mut w = words(part);
            while w.first().is_some_and(|t| {
                t == "sudo" || t == "$" || (t.contains('=') && !t.starts_with('-'))
            }) {
                w.remove(0);
            }
            if w.first().is_some_and(|t| t == "acc" || t.ends_with("/acc")) {
                out.push(w);
            }
        }
    }
    out
}

/// Whether the line is a synopsis (`[--flag]`, `A|B`, `FILE...`) rather than a command to run.
fn synopsis(words: &[String]) -> bool {
    words
        .iter()
        .any(|w| w.contains(['[', ']', '|', '…', '<', '>']) || w.ends_with("..."))
}

/// Checks one invocation: its subcommands and every flag it names exist; a real command parses.
fn check(words: &[String]) -> Result<(), String> {
    let mut root = acc::cli::Cli::command();
    root.build();
    let globals: Vec<clap::Arg> = root.get_arguments().cloned().collect();
    let mut cmd = &root;
    let mut path = vec!["acc".to_string()];
    let mut skip_value = false;
    for w in &words[1..] {
        if skip_value {
            skip_value = false;
            continue;
        }
        let w = w.trim_matches(|c| c == '[' || c == ']');
        if let Some(long) = w.strip_prefix("--") {
            let name = long.split(['=', '|']).next().unwrap();
            let arg = cmd
                .get_arguments()
                .chain(globals.iter())
                .find(|a| a.get_long() == Some(name))
                .ok_or_else(|| format!("{} has no flag --{name}", path.join(" ")))?;
            skip_value = !long.contains('=') && arg.get_action().takes_values();
        } else if let Some(short) = w.strip_prefix('-').filter(|s| s.len() == 1) {
            let c = short.chars().next().unwrap();
            cmd.get_arguments()
                .chain(globals.iter())
                .find(|a| a.get_short() == Some(c))
                .ok_or_else(|| format!("{} has no flag -{c}", path.join(" ")))?;
        } else if let Some(sub) = cmd.find_subcommand(w) {
            path.push(w.to_string());
            cmd = sub;
        } else if cmd.has_subcommands() && path.len() == 1 {
            return Err(format!("acc has no command '{w}'"));
        }
    }
    if synopsis(words) {
        return Ok(());
    }
    match acc::cli::Cli::try_parse_from(words) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e.to_string().lines().next().unwrap_or_default().to_string()),
    }
}

/// A region file, read as acc reads `regions/*.toml` beside a configuration layer.
fn region(text: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("regions")).unwrap();
    std::fs::write(dir.path().join("regions/documented.toml"), text).unwrap();
    let regions = acc::schedule::region::Regions::load(&[dir.path().to_path_buf()])
        .map_err(|e| e.message().to_string())?;
    regions
        .get("documented")
        .map(|_| ())
        .map_err(|e| e.message().to_string())
}

#[test]
fn every_command_flag_and_configuration_key_in_the_docs_exists() {
    // the checker itself catches what it is for
    for wrong in [
        "acc restore --profile p --no-such-flag",
        "acc no-such-command --profile p",
        "acc replay check --profile p",
    ] {
        assert!(check(&words(wrong)).is_err(), "{wrong}");
    }
    assert!(toml::from_str::<acc::config::RawFile>("[profiles.p]\nno_such_key = 1\n").is_err());

    let (mut commands, mut configs, mut failures) = (0, 0, Vec::new());
    for doc in documents() {
        for b in blocks(&doc) {
            match b.lang.as_str() {
                "toml" => {
                    configs += 1;
                    if let Err(e) = toml::from_str::<acc::config::RawFile>(&b.lines.join("\n")) {
                        failures.push(format!("{}: {e}", b.at));
                    }
                }
                "toml region" => {
                    configs += 1;
                    if let Err(e) = region(&b.lines.join("\n")) {
                        failures.push(format!("{}: {e}", b.at));
                    }
                }
                "" | "sh" | "bash" | "console" => {
                    for words in invocations(&b.lines) {
                        commands += 1;
                        if let Err(e) = check(&words) {
                            failures.push(format!("{}: `{}`: {e}", b.at, words.join(" ")));
                        }
                    }
                }
                other => failures.push(format!("{}: a ```{other} block nothing checks", b.at)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        commands >= 25 && configs >= 4,
        "{commands} commands, {configs} configurations"
    );
}

#[test]
fn the_packaged_example_configuration_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = acc::env::Env::from_pairs([("ACC_SYSTEM_CONFIG_DIR", "/nonexistent")]);
    let config = acc::config::Config::load(env, Some(root.join("examples/acc.toml"))).unwrap();
    for name in ["north", "harbour"] {
        config
            .profile(Some(name), acc::config::RawProfile::default())
            .unwrap_or_else(|e| panic!("{name}: {}", e.message()));
    }
}
