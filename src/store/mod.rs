//! Where snapshots live on disk, how they are published atomically, and who may write them.

mod durable;
mod layout;
mod lock;

pub use durable::{fsync_dir, write_atomic};
pub use layout::{LATEST, PARTIAL_SUFFIX, ProfileStore};
pub use lock::RunLock;

/// The lock a restore holds while it reads a snapshot; pruning takes it too.
pub const RESTORE_LOCK: &str = ".restore.lock";
