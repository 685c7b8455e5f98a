//! Progress of a long run as numbers: the library reports what it has done (bytes, rows,
//! parts, what each worker is on, each item's state), and the UI alone decides whether that
//! becomes bars, a line every few seconds, or nothing (`ui::progress`). A library caller that
//! wants none passes `Watch::silent()`.

use std::fmt;
use std::sync::Arc;

/// The kind of run whose progress is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Production's tables copied into a snapshot.
    Snapshot,
    /// A snapshot's tables loaded into staging.
    Restore,
    /// A snapshot's large objects recreated on staging.
    LargeObjects,
}

/// What one worker of a run is on.
#[derive(Debug, Clone, Copy)]
pub enum Doing<'a> {
    Copying {
        schema: &'a str,
        table: &'a str,
        part: usize,
    },
    Loading {
        schema: &'a str,
        table: &'a str,
    },
    Indexing {
        schema: &'a str,
        table: &'a str,
    },
    Done,
}

/// Where one item of a run (an export's dashboard) stands.
#[derive(Debug, Clone, Copy)]
pub enum Item {
    Started,
    /// Rows and plaintext bytes written so far.
    Moved {
        rows: u64,
        bytes: u64,
    },
    /// Finished: its rows and the size of its sealed file.
    Sealed {
        rows: u64,
        size: u64,
    },
    Failed,
}

#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A run of about `bytes` in `parts` parts begins, by `workers` workers; `label` names
    /// what it is about (a snapshot's label).
    Began {
        phase: Phase,
        label: &'a str,
        bytes: u64,
        parts: u64,
        workers: usize,
    },
    /// More bytes read or loaded.
    Bytes(u64),
    /// A part finished, with its rows.
    Part {
        rows: u64,
    },
    Worker {
        index: usize,
        doing: Doing<'a>,
    },
    /// The run ended, well or not.
    Ended,
    Item {
        name: &'a str,
        state: Item,
    },
}

/// Receives a run's events; the UI's reporter is one.
pub trait Watcher: Send + Sync {
    fn event(&self, event: Event<'_>);
}

/// The handle a run reports through, shared by its workers.
#[derive(Clone)]
pub struct Watch(Option<Arc<dyn Watcher>>);

impl Watch {
    pub fn new(watcher: impl Watcher + 'static) -> Watch {
        Watch(Some(Arc::new(watcher)))
    }

    /// Reports to nobody.
    pub fn silent() -> Watch {
        Watch(None)
    }

    pub fn event(&self, event: Event<'_>) {
        if let Some(w) = &self.0 {
            w.event(event);
        }
    }

    /// Reports the start of a run.
    pub fn begin(&self, phase: Phase, label: &str, bytes: u64, parts: u64, workers: usize) -> Run {
        self.event(Event::Began {
            phase,
            label,
            bytes,
            parts,
            workers,
        });
        Run(self.clone())
    }

    pub fn item(&self, name: &str, state: Item) {
        self.event(Event::Item { name, state });
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Watch"
        } else {
            "Watch(silent)"
        })
    }
}

/// One run under way: what its workers report through. Its owner calls `end` once the
/// workers are done, whether they succeeded or not.
#[derive(Clone)]
pub struct Run(Watch);

impl Run {
    pub fn bytes(&self, n: u64) {
        self.0.event(Event::Bytes(n));
    }

    pub fn part_done(&self, rows: u64) {
        self.0.event(Event::Part { rows });
    }

    pub fn worker(&self, index: usize, doing: Doing<'_>) {
        self.0.event(Event::Worker { index, doing });
    }

    pub fn end(self) {
        self.0.event(Event::Ended);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    struct Record(Arc<Mutex<Vec<String>>>);

    impl Watcher for Record {
        fn event(&self, event: Event<'_>) {
            self.0.lock().unwrap().push(format!("{event:?}"));
        }
    }

    #[test]
    fn a_run_reports_its_numbers_in_order_and_silence_reports_nothing() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let watch = Watch::new(Record(Arc::clone(&seen)));
        let run = watch.begin(Phase::Restore, "l", 10, 2, 1);
        run.bytes(4);
        run.part_done(3);
        run.end();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 4);
        assert!(seen[0].starts_with("Began { phase: Restore"));
        assert_eq!(seen[1], "Bytes(4)");
        assert_eq!(seen[2], "Part { rows: 3 }");
        assert_eq!(seen[3], "Ended");
        Watch::silent().begin(Phase::Snapshot, "l", 1, 1, 1).end();
    }
}
