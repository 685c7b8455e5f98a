//! A published day of sealed files at a destination: its layout, its manifest, the writer
//! that builds and publishes one, and the reader that finds and checks one.

pub mod day;
