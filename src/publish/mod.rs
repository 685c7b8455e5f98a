//! A published day of sealed files at a destination: its layout, its manifest, the writer
//! that builds and publishes one, and the reader that finds and checks one. Export and
//! sheets write days; pull and status read them.

mod carry;
pub mod day;
pub mod layout;
mod reader;
mod seal;
mod sealed_file;
mod writer;

pub use carry::{Carried, Trust};
pub use day::{DayKind, DayManifest, EntryStatus, FileEntry};
pub use layout::{FileKind, Layout};
pub use reader::{DayReader, PublishedDay, file_matches};
pub use seal::Chunk;
pub use sealed_file::{SealedFile, channel};
pub use writer::{DayWriter, Published};
