//! `acc restore` and `acc freeze`: staging refreshed atomically and read-only from a verified
//! snapshot, never half-loaded, never writable, never overwritten while frozen.

mod archive;
mod autovacuum;
mod extension_rows;
mod files;
mod follow;
mod foreign_keys;
mod freeze;
mod incoming_locale;
mod index_builds;
mod lanes;
mod large_objects;
mod load;
mod matviews;
mod per_table;
mod pipeline;
mod post_data;
mod pre_data;
mod privileged;
mod readonly;
mod resume;
mod roles;
mod run;
mod script;
mod shared;
mod superuser_only;
mod swap;
mod target;
mod timeline;
mod watch;

pub use follow::{followable, restore_following};
pub use freeze::{FreezeState, freeze_off, freeze_on, freeze_state};
pub use incoming_locale::{refusal_for as locale_refusal, same as same_locale};
pub use pre_data::refusal_for as extensions_refusal;
pub use readonly::{StagingInfo, read_info};
pub use resume::{Kept, kept};
pub use run::{RestoreReport, RestoreRequest, restore, rollback};
pub use swap::advice as swap_advice;
pub use target::Target;
pub use watch::Taker;
