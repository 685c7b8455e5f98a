//! Downtime sheets as PDF, for a person with a pen: one employee's visits per sheet, each
//! visit a block that keeps to one page, in the profile's paper size and language, with the
//! fonts embedded. Built in memory; the caller seals it.

mod block;
mod document;
mod font;
mod labels;
mod page;
mod paint;
mod text;

pub use document::{Context, Document, missed};
pub use labels::labels_of;

/// zlib-deflated, as `/FlateDecode` wants.
fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}
