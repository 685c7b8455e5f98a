//! Progress of an export: a line per dashboard on a terminal, updated as batches go out;
//! otherwise a plain log line every few seconds and one when each dashboard ends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ui::progress::Mode;

const LINE_EVERY: Duration = Duration::from_secs(5);

pub struct Board {
    multi: Option<MultiProgress>,
}

impl Board {
    pub fn new(mode: Mode) -> Board {
        Board {
            multi: (mode == Mode::Bars)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Starts tracking one dashboard; the callback suits `CsvOut::new`.
    pub fn start(&self, name: &'static str) -> (Tracker, Box<dyn FnMut(u64, u64) + Send>) {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<24} {msg}")
                    .expect("a valid template"),
            );
            bar.set_prefix(name);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let last = Arc::new(Mutex::new(Instant::now()));
        let b = bar.clone();
        let callback = Box::new(move |rows: u64, bytes: u64| {
            let text = format!("{rows} rows, {}", super::units::size(bytes));
            match &b {
                Some(bar) => bar.set_message(text),
                None => {
                    let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
                    if last.elapsed() >= LINE_EVERY {
                        *last = Instant::now();
                        crate::events::info(&format!("export {name}: {text} so far"));
                    }
                }
            }
        });
        (Tracker { name, bar }, callback)
    }
}

pub struct Tracker {
    name: &'static str,
    bar: Option<ProgressBar>,
}

impl Tracker {
    pub fn done(self, summary: &str) {
        match self.bar {
            Some(bar) => bar.finish_with_message(summary.to_string()),
            None => crate::events::info(&format!("export {}: {summary}", self.name)),
        }
    }
}
