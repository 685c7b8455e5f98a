//! The top of the command line: `acc`'s global flags and its subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::*;
use crate::error::EXIT_CODES_HELP;

const ABOUT: &str = "Keeps a home-care agency working when its cloud platform is down.";

const LONG_ABOUT: &str = "\
Keeps a home-care agency working when its cloud platform is down.

Every night acc snapshots production at the region's cutoff, restores it into a read-only
staging database before the staging-ready deadline, and exports the nine continuity
dashboards as age-encrypted CSV for IT teams to keep. After an outage it replays what field
staff wrote on paper back into production, exactly once.

A typical night (us-can):
  23:00  acc snapshot --profile P      capture production
  23:xx  acc restore  --profile P      refresh read-only staging, ready by 02:00
         acc export   --profile P      deliver the nine dashboards
  any    acc status   --profile P      is staging ready, is anything late?

Configuration: acc.toml, layered: built-in defaults, /etc/acc/acc.toml,
$XDG_CONFIG_HOME/acc/acc.toml, --config FILE (or ACC_CONFIG), ACC_* variables, then flags.
Secrets are referenced (password_env, password_file, password_credential), never passed as
flags.";

#[derive(Debug, Parser)]
#[command(name = "acc", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXIT_CODES_HELP)]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Configuration file read after /etc/acc/acc.toml and the user's own.
    #[arg(long, global = true, env = "ACC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The profile (one organisation's environment) to act on.
    #[arg(long, global = true, env = "ACC_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Log lines on stderr: `text` (acc: ..., one event per line) or `json` (one object per
    /// line; progress bars off).
    #[arg(long, global = true, env = "ACC_LOG_FORMAT", value_name = "FORMAT", value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,

    /// Only warnings and errors on stderr (no progress).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail on stderr, such as each step's timing.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a first acc.toml: asks for each answer (or takes them as flags) and checks it.
    ///
    /// On a terminal it asks for the profile name and region, production and staging (it logs
    /// in and shows the server's version, TLS and certificate, and the rights acc lacks), where
    /// snapshots go, where exports go (it logs in and checks the host key), the age recipients
    /// and the reader role, asking again after a wrong answer. Given any answer as a flag, it
    /// asks nothing, and a wrong or missing answer exits 78.
    ///
    /// The file is written 0600 (to --config FILE, else /etc/acc/acc.toml as root and
    /// ~/.config/acc/acc.toml otherwise), never over an existing one without --force, and holds
    /// no secret: passwords stay in ~/.pgpass or a service file. Then it runs the doctor's
    /// checks and prints the first night's commands.
    #[command(after_help = EXIT_CODES_HELP)]
    Init(InitArgs),

    /// List each business date's snapshot cutoff and staging-ready deadline.
    ///
    /// Shows, for each business date, when production is captured (the cutoff) and when
    /// staging must be ready (the deadline), in the region's anchor zone, its display zones
    /// and UTC. Use it to plan timers, to check a daylight-saving night, or to answer "when
    /// is tonight's cutoff in Sydney?".
    ///
    /// Daylight saving: a wall-clock time that does not exist that day (in a spring-forward
    /// gap) is read with the offset in force before the gap, so 02:00 becomes 03:00; a time
    /// that occurs twice (fall-back) is the earlier of the two. Such times are flagged.
    #[command(after_help = EXIT_CODES_HELP)]
    Schedule(ScheduleArgs),

    /// Capture a consistent, encrypted snapshot of production at the regional cutoff.
    ///
    /// Run it from a timer up to 15 minutes before the cutoff: it waits for the cutoff, then
    /// copies every table from one consistent view of production (one exported snapshot shared
    /// by all workers) into zstd + age files under <store>/<profile>/<label>/, with a manifest
    /// written last. A timer that fires late still runs until the staging-ready deadline;
    /// earlier or later it is skipped with exit 3. The label is the business date in the
    /// region's anchor zone; with --now it is <date>-now-<hhmmss>. Plaintext never touches
    /// the disk. One run per profile at a time (a second one exits 75). A run that fails
    /// leaves nothing that looks like a snapshot, and the next run clears its leftovers.
    #[command(after_help = EXIT_CODES_HELP)]
    Snapshot(SnapshotArgs),

    /// Check that a snapshot is complete and untampered.
    ///
    /// Checks the manifest, its signature when the profile lists allowed signers, and every
    /// file's size and SHA-256. With --identity it also decrypts and decompresses every file
    /// in memory and checks its row count. Use it before trusting a snapshot, or on a copy you
    /// moved elsewhere. Exits 65 naming every file that failed.
    #[command(after_help = EXIT_CODES_HELP)]
    Verify(VerifyArgs),

    /// Refresh staging from a snapshot, atomically and read-only, before the deadline.
    ///
    /// Run it after the snapshot. The snapshot is verified (the signature and sizes first, each
    /// file's SHA-256 as it is loaded), loaded into <staging db>__incoming (schema, then data
    /// streamed from the encrypted files, then indexes and constraints in parallel, the
    /// materialized views production had populated, sequences, ANALYZE), checked row by row
    /// count, made read-only with a reader
    /// role that may only SELECT, and swapped into place; the replaced copy is kept as
    /// <staging db>__previous for --rollback. Readers see the old data until the swap and the
    /// new data after it. While the refresh is frozen it is skipped with exit 3. A restore
    /// that ends after the staging-ready deadline completes but exits 3. Restoring the label
    /// staging already holds does nothing.
    #[command(after_help = EXIT_CODES_HELP)]
    Restore(RestoreArgs),

    /// Snapshot production and restore it into staging as one pipeline.
    ///
    /// The snapshot of acc snapshot and the restore of acc restore, in one process: each
    /// table's file loads into staging's incoming copy as soon as the snapshot has sealed it,
    /// and its indexes follow once all of its files are in. Nothing about safety changes: the
    /// swap waits for the signed manifest, every loaded file must match it (size and
    /// SHA-256), and a snapshot that fails leaves staging untouched. A run cut short is resumed
    /// by acc restore of the same snapshot. Needs the snapshots in this host's store.
    #[command(after_help = EXIT_CODES_HELP)]
    Refresh(RefreshArgs),

    /// Freeze or unfreeze the staging refresh while production is down.
    ///
    /// When production has been down for more than 24 hours, freeze the refresh so that last
    /// night's lifeline in staging is not overwritten. The state lives on the staging server
    /// (database acc_control), so every host running acc for the profile sees it.
    #[command(after_help = EXIT_CODES_HELP)]
    Freeze(FreezeArgs),

    /// Export the nine continuity dashboards as age-encrypted CSV to SFTP or a directory.
    ///
    /// Run it daily so that the agency holds its employee list, client list, risks and
    /// allergies, supplies, schedules, vacant visits, availability, care plans and
    /// medications even when production and staging are both down.
    ///
    /// Each dashboard is queried (Snowflake, staging or production), rendered as RFC 4180 CSV
    /// with times in the region's local zone, encrypted with age to every recipient of the
    /// profile as it streams, and written to <root>/<profile>/<YYYY-MM-DD>/v<n>/<name>.csv.age.
    /// Each run of a day is its next version v<n>, assembled in a hidden directory with
    /// manifest.json (rows, size and SHA-256 of each file, signed when export.signing_key is
    /// set) and renamed into place whole; a rerun lists the files it keeps from the version
    /// before by their place, and `latest` names the day. Plaintext never touches disk.
    ///
    /// A dashboard whose query fails does not stop the others: they are delivered, the
    /// manifest lists the failure, and the exit code is 3.
    #[command(after_help = EXIT_CODES_HELP)]
    Export(ExportArgs),

    /// Download and verify a day's exported dashboards (for IT teams).
    ///
    /// Use it to keep the daily copy in a secure place. Every file is checked against the
    /// day's manifest (size, SHA-256 and row count) before it appears in --out, decrypted or,
    /// with --keep-encrypted, as it was delivered; files are mode 0600. When
    /// export.allowed_signers is set, an unsigned or badly signed manifest is refused. Any
    /// mismatch exits 65 and names the file.
    #[command(after_help = EXIT_CODES_HELP)]
    Pull(PullArgs),

    /// Produce each employee's paper downtime visit sheet.
    ///
    /// Use it when an outage starts: staff get their visits with client name, address and
    /// phone, scheduled times in local time, the tasks (numbered), the client's allergies and
    /// risks, and blank columns to write clock-in, clock-out, tasks done, a note and their
    /// initials. One age-encrypted CSV per employee plus `all`, delivered like exports to
    /// <root>/<profile>/sheets/<date>/. Typed up, the same CSV is the input of `acc replay`.
    #[command(after_help = EXIT_CODES_HELP)]
    Sheets(SheetsArgs),

    /// Check and replay paper-collected visits, tasks and notes into production, exactly once.
    ///
    /// Use it after an outage, once the sheets are typed up. `check` validates without
    /// writing; `apply` writes what is valid, each line exactly once, and sets aside what is
    /// refused or conflicts with production for review.
    #[command(after_help = REPLAY_FORMATS)]
    Replay(ReplayArgs),

    /// Tell whether staging is ready, snapshots and exports are fresh, and what is frozen.
    ///
    /// For people and monitoring alike: now in the anchor and display zones, the last and next
    /// cutoff and deadline, the latest complete snapshot, what staging holds (from
    /// acc.staging_info) and whether it is read-only and was late, the freeze, and the latest
    /// export day. A verdict of OK, WARNING or CRITICAL follows the rules in README; CRITICAL
    /// exits 3. `--require ready` is the gate before scheduled downtime: it exits 0 only when
    /// staging holds the latest cutoff's data and is read-only, and 3 with the reason
    /// otherwise.
    #[command(after_help = EXIT_CODES_HELP)]
    Status(StatusArgs),

    /// Show the resolved profile (secrets as ***) and check the environment acc depends on.
    ///
    /// Use it after changing the configuration, or when a night went wrong. It prints every
    /// setting with the files it came from, then checks production and staging (login, pg_dump
    /// version, staging rights), store space, keys and secret files, the SFTP host key and login,
    /// and Snowflake. A failed check exits 3 and says how to fix it.
    #[command(after_help = EXIT_CODES_HELP)]
    Doctor(DoctorArgs),

    /// Print a shell completion script: subcommands, flags, and profile names.
    ///
    /// bash: `acc completions bash > /etc/bash_completion.d/acc` (or source it from
    /// ~/.bashrc); zsh: into a directory on $fpath as `_acc`; fish:
    /// `acc completions fish > ~/.config/fish/completions/acc.fish`. `--profile` completes the
    /// profiles the configuration defines, read when you press tab.
    Completions(CompletionsArgs),

    /// Write the manual pages, one per subcommand, into a directory.
    ///
    /// `acc manpage --dir /usr/local/share/man/man1`, then `man acc-restore`.
    Manpage(ManpageArgs),

    /// The configured profile names, one per line (for shell completion).
    #[command(name = "__profiles", hide = true)]
    Profiles,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: ShellArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct ManpageArgs {
    /// Where the pages go; created when missing.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}
