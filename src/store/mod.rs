//! Where snapshots live on disk, how they are published atomically, and who may write them.

mod durable;
mod layout;
mod lock;

pub use durable::{fsync_dir, write_atomic};
pub use layout::{LATEST, PARTIAL_SUFFIX, ProfileStore};
pub use lock::RunLock;
