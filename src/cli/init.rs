//! Flags of `acc init`: the same answers the questions ask for, for automation.

use clap::Args;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The region: us-can or aus-int (or one of regions/*.toml).
    #[arg(long, value_name = "NAME")]
    pub region: Option<String>,

    /// Production: a postgresql:// URL, a key=value string or service=NAME (no password).
    #[arg(long, value_name = "CONN")]
    pub production: Option<String>,

    /// Staging, given as production is.
    #[arg(long, value_name = "CONN")]
    pub staging: Option<String>,

    /// Where snapshots go (made 0700).
    #[arg(long, value_name = "DIR")]
    pub store: Option<String>,

    /// Where exports go: sftp://user@host:port/path, a directory, or none.
    #[arg(long, value_name = "URL")]
    pub export_to: Option<String>,

    /// The SSH key acc logs in to the SFTP server with.
    #[arg(long, value_name = "FILE")]
    pub sftp_identity_file: Option<String>,

    /// The known_hosts file that lists the SFTP server's key.
    #[arg(long, value_name = "FILE")]
    pub sftp_known_hosts: Option<String>,

    /// A public key that may read snapshots and exports (age1… or ssh-…); repeat for each.
    #[arg(long, value_name = "KEY")]
    pub age_recipient: Vec<String>,

    /// The staging role care teams read as.
    #[arg(long, value_name = "NAME")]
    pub reader_role: Option<String>,

    /// Replace an existing configuration file.
    #[arg(long)]
    pub force: bool,
}

impl InitArgs {
    /// Whether any answer came as a flag: then nothing is asked.
    pub fn any_answer(&self) -> bool {
        self.region.is_some()
            || self.production.is_some()
            || self.staging.is_some()
            || self.store.is_some()
            || self.export_to.is_some()
            || self.sftp_identity_file.is_some()
            || self.sftp_known_hosts.is_some()
            || !self.age_recipient.is_empty()
            || self.reader_role.is_some()
    }
}
