//! `acc completions` and `acc manpage`: the shell and the manual, both from the clap types.
//! `--profile` completes the configured profiles by asking `acc __profiles` at tab time.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, ShellArg};
use crate::config::Config;
use crate::error::{Error, Kind, Result};
use crate::ui::output;

pub fn completions(shell: ShellArg) -> Result<()> {
    output::emit(&script(shell))
}

/// The completion script for `shell`, with `--profile` completing from the configuration.
pub fn script(shell: ShellArg) -> String {
    let (shell, extra) = match shell {
        ShellArg::Bash => (Shell::Bash, BASH_PROFILES),
        ShellArg::Zsh => (Shell::Zsh, ""),
        ShellArg::Fish => (Shell::Fish, FISH_PROFILES),
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "acc", &mut buf);
    let text = String::from_utf8_lossy(&buf);
    let mut out: String = text
        .lines()
        .filter_map(|line| tidy(shell, line))
        .map(|line| line + "\n")
        .collect();
    out.push_str(extra);
    out
}

/// One line of clap's script as acc ships it: the hidden `__profiles` helper is not offered,
/// and zsh asks it for `--profile`'s values instead of completing file names.
fn tidy(shell: Shell, line: &str) -> Option<String> {
    match shell {
        Shell::Bash => Some(line.replace(" __profiles", "")),
        Shell::Fish if line.contains("\"__profiles\"") => None,
        Shell::Zsh if line.starts_with("'__profiles:") => None,
        Shell::Zsh if line.starts_with("'--profile=[") => Some(line.replace(
            ":NAME:_default",
            ":NAME:{_values profile ${(f)\"$(acc __profiles 2>/dev/null)\"}}",
        )),
        _ => Some(line.to_string()),
    }
}

/// Wraps clap's `_acc`: after `--profile`, the names `acc __profiles` prints.
const BASH_PROFILES: &str = r#"
_acc_profiles() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    if [[ "$prev" == "--profile" ]]; then
        COMPREPLY=($(compgen -W "$(acc __profiles 2>/dev/null)" -- "$cur"))
        return 0
    fi
    _acc "$@"
}
complete -F _acc_profiles -o bashdefault -o default acc
"#;

const FISH_PROFILES: &str = "complete -c acc -l profile -f -r -a '(acc __profiles 2>/dev/null)'\n";

/// The profile names, one per line; nothing when there is no configuration.
pub fn profiles(config: &Config) -> Result<()> {
    let names = config.profile_names();
    output::emit(&names.iter().map(|n| format!("{n}\n")).collect::<String>())
}

/// One page per command and subcommand: `acc.1`, `acc-snapshot.1`, `acc-replay-apply.1`...
pub fn manpages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd, dir).map_err(|e| cannot(dir, e))?;
    output::emit(&format!("manual pages written to {}\n", dir.display()))
}

fn cannot(dir: &Path, e: std::io::Error) -> Error {
    Error::new(
        Kind::Unavailable,
        format!("cannot write the manual pages into {}", dir.display()),
    )
    .source(e)
}
