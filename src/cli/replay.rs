//! Flags of `acc replay`: typing the paper back into production.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// The input formats, for `acc replay --help` (README says the same).
pub const REPLAY_FORMATS: &str = "\
Input files: CSV, UTF-8 (with or without BOM), comma-separated, a header line; CRLF and quoted
line breaks are fine. Column names ignore case, spaces and dashes (`Clock in` = clock_in).
A file ending in .age is decrypted in memory with --identity. The kind comes from the header:

  attendance   visit_id, clock_in, clock_out [, employee_number]
  tasks        visit_id, task_id, done [, comment]
  notes        visit_id, author, written_at, body
  sheet        the CSV of `acc sheets`, typed up: employee_number, visit_id, clock_in,
               clock_out, tasks_done, note, initials (and the printed columns, ignored)

  visit_id         the visit's number (`visit` is accepted)
  clock_in/out     2026-11-22 08:05, or 08:05 (the visit's day), in the region's local zone;
                   add an offset (08:05-05:00) to say which of two fall-back times it is
  employee_number  must be the visit's assigned worker
  task_id, done    a task of that visit; done is yes/no (y/n, true/false, 1/0)
  comment          free text, optional
  author           the writer's employee number
  written_at       when the note was written, like clock_in
  body             the note
  tasks_done       on a sheet: task numbers from the Tasks column (space- or ;-separated),
                   `all`, or `none` (the visit's other tasks are marked not done)
  note             on a sheet: a progress note by the sheet's worker, dated by clock-out
  initials         the worker's initials; a filled-in line without them is refused
  reject_reason    added by rejects files; ignored, so fixed rejects can be fed back

Refused: unknown columns, missing required columns, unparseable times, clock-out before
clock-in, times more than 12 h from the visit, unknown visits, tasks or employees, a claim
repeated in the batch, a time in a spring-forward gap, a fall-back time without an offset
(unless --ambiguous). Every problem is printed as file:line:column: reason.

Exit codes: 0 ok; 3 apply finished but some lines were refused or conflict (listed);
65 check found problems, or a file could not be read at all (check and apply alike);
69/75 production unavailable; 77 permission; 78 config.";

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(subcommand)]
    pub action: ReplayAction,
}

#[derive(Debug, Subcommand)]
pub enum ReplayAction {
    /// Validate files against production without writing; every problem as file:line:column.
    #[command(after_help = REPLAY_FORMATS)]
    Check(ReplayCheckArgs),
    /// Apply valid lines to production exactly once; refused lines and conflicts are written,
    /// encrypted, beside the inputs for review.
    #[command(after_help = REPLAY_FORMATS)]
    Apply(ReplayApplyArgs),
}

#[derive(Debug, Args)]
pub struct ReplayCheckArgs {
    /// The typed-up files (CSV, or .csv.age with --identity).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Which of two identical fall-back times a time without an offset means.
    #[arg(long, value_name = "WHICH", value_enum)]
    pub ambiguous: Option<AmbiguousArg>,

    /// Decrypts .age input files.
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,

    /// Refuse (65) a file that holds no entries (a header alone, or sheet lines nobody filled
    /// in) instead of warning about it: the pile typed up after an outage is never empty.
    #[arg(long)]
    pub require_entries: bool,

    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReplayApplyArgs {
    #[command(flatten)]
    pub check: ReplayCheckArgs,

    /// Who is applying the batch; recorded with every write.
    #[arg(long, value_name = "NAME")]
    pub operator: String,

    /// Show exactly what would change, and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// When production already holds a different value, write the paper's (the old value is
    /// kept in the ledger) instead of setting the line aside as a conflict.
    #[arg(long, value_name = "SIDE", value_enum)]
    pub prefer: Option<PreferArg>,

    /// Where rejects and conflicts files go [default: beside each input].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `acc replay --ambiguous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AmbiguousArg {
    Earlier,
    Later,
}

/// `acc replay apply --prefer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreferArg {
    Paper,
}
