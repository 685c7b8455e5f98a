//! When each step of a restore ran, as offsets from the restore's start: `-v` shows them, and
//! the refresh benchmark draws its timeline from them (overlapping steps show as overlapping
//! spans). Lines read `restore timeline: data 0.12s..9.80s`.

use std::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    start: Instant,
}

impl Timeline {
    pub fn start() -> Timeline {
        Timeline {
            start: Instant::now(),
        }
    }

    /// Records that `step` ran from `from` until now; returns how long it took, in seconds.
    pub fn span(&self, step: &str, from: Instant) -> f64 {
        self.between(step, from, Instant::now())
    }

    /// Records what a resumed run did not do again.
    pub fn skipped(&self, what: &str) {
        crate::events::detail(&format!("restore timeline: resumed, skipped {what}"));
    }

    /// Records that `step` ran from `from` to `to`; returns how long it took, in seconds.
    pub fn between(&self, step: &str, from: Instant, to: Instant) -> f64 {
        let (begin, end) = (
            from.duration_since(self.start).as_secs_f64(),
            to.duration_since(self.start).as_secs_f64(),
        );
        crate::events::detail(&format!("restore timeline: {step} {begin:.2}s..{end:.2}s"));
        end - begin
    }
}
