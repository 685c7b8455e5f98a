//! Progress of long runs on stderr: indicatif bars on a terminal, otherwise one plain line
//! every few seconds, which suits journald and cron mail. Two views share the mode, the
//! cadence and the units: `Progress`, one bar for a run's bytes with a line per worker
//! (snapshot, restore), and `Board`, a line per item as each goes out (export's dashboards).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a line is logged when there is no terminal.
const LINE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bars,
    Lines,
}

impl Mode {
    /// Bars only for a person at a terminal; CI and timers get lines.
    pub fn pick(stderr_is_terminal: bool, ci: bool) -> Mode {
        if stderr_is_terminal && !ci {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }

    pub fn detect() -> Mode {
        use std::io::IsTerminal;
        Mode::pick(
            std::io::stderr().is_terminal()
                && crate::ui::output::log_format() == crate::ui::output::LogFormat::Text
                && crate::ui::output::verbosity() != crate::ui::output::Verbosity::Quiet,
            std::env::var_os("CI").is_some(),
        )
    }
}

struct Counters {
    what: String,
    bytes: AtomicU64,
    rows: AtomicU64,
    parts: AtomicU64,
    total_parts: u64,
    started: Instant,
}

/// Shared by all workers of one run.
#[derive(Clone)]
pub struct Progress {
    counters: Arc<Counters>,
    overall: Option<ProgressBar>,
    workers: Vec<ProgressBar>,
    _multi: Option<MultiProgress>,
    ticker: Option<Arc<tokio::task::JoinHandle<()>>>,
}

impl Progress {
    /// Starts reporting a run of `total_parts` parts of about `total_bytes`, by `workers`.
    pub fn start(
        what: &str,
        mode: Mode,
        total_bytes: u64,
        total_parts: u64,
        workers: usize,
    ) -> Progress {
        let counters = Arc::new(Counters {
            what: what.to_string(),
            bytes: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            parts: AtomicU64::new(0),
            total_parts,
            started: Instant::now(),
        });
        match mode {
            Mode::Bars => {
                let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
                let overall = multi.add(ProgressBar::new(total_bytes));
                overall.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {bytes}/~{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                overall.set_prefix(what.to_string());
                let workers = (0..workers)
                    .map(|i| {
                        let bar = multi.add(ProgressBar::new_spinner());
                        bar.set_style(
                            ProgressStyle::with_template("  worker {prefix}: {msg}")
                                .expect("a valid template"),
                        );
                        bar.set_prefix(i.to_string());
                        bar.set_message("starting");
                        bar
                    })
                    .collect();
                Progress {
                    counters,
                    overall: Some(overall),
                    workers,
                    _multi: Some(multi),
                    ticker: None,
                }
            }
            Mode::Lines => {
                let c = Arc::clone(&counters);
                let ticker = tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(LINE_EVERY).await;
                        crate::events::info(&c.line());
                    }
                });
                Progress {
                    counters,
                    overall: None,
                    workers: Vec::new(),
                    _multi: None,
                    ticker: Some(Arc::new(ticker)),
                }
            }
        }
    }

    pub fn add_bytes(&self, n: u64) {
        self.counters.bytes.fetch_add(n, Ordering::Relaxed);
        if let Some(bar) = &self.overall {
            bar.inc(n);
        }
    }

    pub fn add_rows(&self, n: u64) {
        let rows = self.counters.rows.fetch_add(n, Ordering::Relaxed) + n;
        let parts = self.counters.parts.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.overall {
            bar.set_message(format!(
                "{rows} rows, {parts}/{} parts",
                self.counters.total_parts
            ));
        }
    }

    /// What worker `i` is doing now.
    pub fn worker(&self, i: usize, doing: &str) {
        if let Some(bar) = self.workers.get(i) {
            bar.set_message(doing.to_string());
        }
    }

    pub fn finish(&self) {
        if let Some(t) = &self.ticker {
            t.abort();
        }
        for bar in self.workers.iter().chain(self.overall.iter()) {
            bar.finish_and_clear();
        }
    }
}

impl Counters {
    fn line(&self) -> String {
        let bytes = self.bytes.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        format!(
            "{}: {}/{} parts, {} read ({}), {} rows",
            self.what,
            self.parts.load(Ordering::Relaxed),
            self.total_parts,
            super::units::size(bytes),
            super::units::rate(bytes, secs),
            self.rows.load(Ordering::Relaxed),
        )
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_only_on_a_terminal_outside_ci() {
        assert_eq!(Mode::pick(true, false), Mode::Bars);
        assert_eq!(Mode::pick(true, true), Mode::Lines);
        assert_eq!(Mode::pick(false, false), Mode::Lines);
    }
}
