//! The command line as clap types: parsing only, no I/O and no decisions.

mod days;
mod init;
mod night;
mod replay;
mod root;

pub use days::{
    ExportArgs, PaperArg, PullArgs, SheetFormatArg, SheetsArgs, SheetsSourceArg, SourceArg,
};
pub use init::InitArgs;
pub use night::{
    DoctorArgs, FreezeAction, FreezeArgs, RefreshArgs, Requirement, RestoreArgs, ScheduleArgs,
    SnapshotArgs, StatusArgs, VerifyArgs,
};
pub use replay::{
    AmbiguousArg, PreferArg, REPLAY_FORMATS, ReplayAction, ReplayApplyArgs, ReplayArgs,
    ReplayCheckArgs,
};
pub use root::{Cli, Command, CompletionsArgs, LogFormatArg, ManpageArgs, ShellArg};
