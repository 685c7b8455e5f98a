//! A published day of sealed files at a destination: its layout, its manifest, the writer
//! that builds and publishes one, and the reader that finds and checks one. Export and
//! sheets write days; pull and status read them.

pub mod day;
pub mod layout;
mod reader;
mod seal;
mod writer;

pub use day::{DayKind, DayManifest, EntryStatus, FileEntry};
pub use layout::{FileKind, Layout};
pub use reader::{DayReader, PublishedDay, still_matches};
pub use seal::Chunk;
pub use writer::{Carried, DayWriter, SealedFile, Trust, channel};
