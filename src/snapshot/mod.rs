//! `acc snapshot`: one consistent, encrypted copy of production at the regional cutoff, and
//! `acc verify`, which proves a snapshot complete and untampered.

mod capture;
mod catalog;
mod copy;
mod filter;
pub mod journal;
mod large_objects;
pub mod manifest;
mod row_security;
mod schema;
mod session;
mod shared;
mod sink;
mod take;
mod timing;
mod user_mappings;
mod verify;

pub use catalog::RANGE_BYTES;
pub use filter::TableFilter;
pub use row_security::{
    Hidden, describe as describe_hidden, hidden_for, refusal as row_security_refusal,
};
pub use shared::prune_shared;
pub use take::{SnapshotReport, SnapshotRequest, prune_kept, take};
pub use timing::{EARLY_START, Plan, plan};
pub use user_mappings::{hidden as hidden_user_mappings, refusal as user_mappings_refusal};
pub use verify::{Depth, VerifyReport, verify};
