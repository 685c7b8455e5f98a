//! Progress of long runs on stderr, rendered from the library's events (`crate::progress`):
//! indicatif bars on a terminal, otherwise one plain line every few seconds, which suits
//! journald and cron mail. A run (snapshot, restore) gets one bar for its bytes and a line per
//! worker; items (export's dashboards) get a line each as they go out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::units::{rate, size};
use crate::progress::{Doing, Event, Item, Phase, Watch, Watcher};

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
                && super::output::log_format() == super::output::LogFormat::Text
                && super::output::verbosity() != super::output::Verbosity::Quiet,
            std::env::var_os("CI").is_some(),
        )
    }
}

/// The reporter for one command: `noun` starts each item's line (`export client-list: ...`).
pub fn watch(noun: &'static str) -> Watch {
    Watch::new(Reporter {
        mode: Mode::detect(),
        noun,
        state: Mutex::new(State::default()),
    })
}

struct Reporter {
    mode: Mode,
    noun: &'static str,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    run: Option<RunView>,
    multi: Option<MultiProgress>,
    items: HashMap<String, ItemView>,
}

/// A run's counters, shared with the ticker that logs them.
struct Counters {
    what: String,
    bytes: AtomicU64,
    rows: AtomicU64,
    parts: AtomicU64,
    total_parts: u64,
    started: Instant,
}

struct RunView {
    counters: Arc<Counters>,
    overall: Option<ProgressBar>,
    workers: Vec<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

struct ItemView {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Watcher for Reporter {
    fn event(&self, event: Event<'_>) {
        let mut state = self.lock();
        match event {
            Event::Began {
                phase,
                label,
                bytes,
                parts,
                workers,
            } => {
                let what = match phase {
                    Phase::Snapshot => format!("snapshot {label}"),
                    Phase::Restore => format!("restore {label}"),
                    Phase::LargeObjects => "large objects".to_string(),
                };
                if let Some(old) = state.run.take() {
                    old.finish();
                }
                let run = self.begin(&mut state, what, bytes, parts, workers);
                state.run = Some(run);
            }
            Event::Bytes(n) => {
                if let Some(run) = &state.run {
                    run.counters.bytes.fetch_add(n, Ordering::Relaxed);
                    if let Some(bar) = &run.overall {
                        bar.inc(n);
                    }
                }
            }
            Event::Part { rows } => {
                if let Some(run) = &state.run {
                    run.part_done(rows);
                }
            }
            Event::Worker { index, doing } => {
                if let Some(bar) = state.run.as_ref().and_then(|r| r.workers.get(index)) {
                    bar.set_message(doing_text(doing));
                }
            }
            Event::Ended => {
                if let Some(run) = state.run.take() {
                    run.finish();
                }
            }
            Event::Item { name, state: item } => self.item(&mut state, name, item),
        }
    }
}

impl Reporter {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn multi(state: &mut State) -> &MultiProgress {
        state
            .multi
            .get_or_insert_with(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
    }

    fn begin(
        &self,
        state: &mut State,
        what: String,
        total_bytes: u64,
        total_parts: u64,
        workers: usize,
    ) -> RunView {
        let counters = Arc::new(Counters {
            what,
            bytes: AtomicU64::new(0),
            rows: AtomicU64::new(0),
            parts: AtomicU64::new(0),
            total_parts,
            started: Instant::now(),
        });
        match self.mode {
            Mode::Bars => {
                let multi = Self::multi(state);
                let overall = multi.add(ProgressBar::new(total_bytes));
                overall.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {bytes}/~{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                overall.set_prefix(counters.what.clone());
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
                RunView {
                    counters,
                    overall: Some(overall),
                    workers,
                    ticker: None,
                }
            }
            Mode::Lines => {
                // a line every few seconds, on the runtime the run is on (none: no lines)
                let c = Arc::clone(&counters);
                let ticker = tokio::runtime::Handle::try_current().ok().map(|rt| {
                    rt.spawn(async move {
                        loop {
                            tokio::time::sleep(LINE_EVERY).await;
                            crate::events::info(&c.line());
                        }
                    })
                });
                RunView {
                    counters,
                    overall: None,
                    workers: Vec::new(),
                    ticker,
                }
            }
        }
    }

    fn item(&self, state: &mut State, name: &str, item: Item) {
        let noun = self.noun;
        match item {
            Item::Started => {
                let bar = (self.mode == Mode::Bars).then(|| {
                    let bar = Self::multi(state).add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} {prefix:<24} {msg}")
                            .expect("a valid template"),
                    );
                    bar.set_prefix(name.to_string());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                state.items.insert(
                    name.to_string(),
                    ItemView {
                        bar,
                        last_line: Instant::now(),
                    },
                );
            }
            Item::Moved { rows, bytes } => {
                let Some(view) = state.items.get_mut(name) else {
                    return;
                };
                let text = format!("{rows} rows, {}", size(bytes));
                match &view.bar {
                    Some(bar) => bar.set_message(text),
                    None if view.last_line.elapsed() >= LINE_EVERY => {
                        view.last_line = Instant::now();
                        crate::events::info(&format!("{noun} {name}: {text} so far"));
                    }
                    None => {}
                }
            }
            Item::Sealed { .. } | Item::Failed => {
                let summary = match item {
                    Item::Sealed { rows, size: bytes } => {
                        format!("{rows} rows, {} encrypted", size(bytes))
                    }
                    _ => "failed".to_string(),
                };
                match state.items.remove(name).and_then(|v| v.bar) {
                    Some(bar) => bar.finish_with_message(summary),
                    None => crate::events::info(&format!("{noun} {name}: {summary}")),
                }
            }
        }
    }
}

fn doing_text(doing: Doing<'_>) -> String {
    match doing {
        Doing::Copying {
            schema,
            table,
            part,
        } => format!("{schema}.{table} part {part}"),
        Doing::Loading { schema, table } => format!("{schema}.{table}"),
        Doing::Indexing { schema, table } => format!("indexes of {schema}.{table}"),
        Doing::Done => "done".to_string(),
    }
}

impl RunView {
    fn part_done(&self, rows: u64) {
        let rows = self.counters.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        let parts = self.counters.parts.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.overall {
            bar.set_message(format!(
                "{rows} rows, {parts}/{} parts",
                self.counters.total_parts
            ));
        }
    }

    fn finish(self) {
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
            size(bytes),
            rate(bytes, secs),
            self.rows.load(Ordering::Relaxed),
        )
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

    #[test]
    fn a_runs_line_counts_what_its_workers_reported() {
        let r = Reporter {
            mode: Mode::Lines,
            noun: "export",
            state: Mutex::new(State::default()),
        };
        r.event(Event::Began {
            phase: Phase::Restore,
            label: "2026-12-03",
            bytes: 100,
            parts: 4,
            workers: 2,
        });
        r.event(Event::Bytes(2048));
        r.event(Event::Part { rows: 7 });
        r.event(Event::Part { rows: 5 });
        let line = r.lock().run.as_ref().unwrap().counters.line();
        assert!(
            line.starts_with("restore 2026-12-03: 2/4 parts, 2.0 KiB read"),
            "{line}"
        );
        assert!(line.ends_with(", 12 rows"), "{line}");
        r.event(Event::Ended);
        assert!(r.lock().run.is_none());
    }
}
