//! The data phase with each table's own keys and indexes pipelined behind its load: `jobs`
//! workers share one queue of data files (largest first) and one of tables whose files are
//! all in. A free worker takes a ready table first, the largest, so the longest index builds
//! start earliest, and loads the next file otherwise. This is how pgcopydb overlaps its
//! COPY and CREATE INDEX; pg_restore --jobs starts a table's indexes only after all the data.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::load::{Source, load_file};
use super::per_table::TableWork;
use crate::error::{Error, Kind, Result};
use crate::progress::{Doing, Run};
use crate::snapshot::manifest;

/// One worker's next step.
enum Step {
    Build(usize, TableWork),
    Load(usize, manifest::File),
    Wait,
    Done,
}

#[derive(Default)]
struct State {
    files: VecDeque<(usize, manifest::File)>,
    /// Files of each table still to load.
    remaining: HashMap<usize, usize>,
    /// Tables loaded whose work is waiting, with their size.
    ready: Vec<(u64, usize, TableWork)>,
    /// Not yet ready: the work of tables still loading.
    pending: HashMap<usize, TableWork>,
    busy: usize,
    failed: bool,
    /// When the last file was in, and when the first table's work started.
    data_done: Option<Instant>,
    building_from: Option<Instant>,
}

impl State {
    /// Every file queued, largest first; each table's work waiting for its files (or ready
    /// now, for a table with none).
    fn plan(m: &manifest::Manifest, mut work: HashMap<usize, TableWork>) -> State {
        let mut files: Vec<(usize, manifest::File)> = m
            .tables
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.files.iter().map(move |f| (i, f.clone())))
            .collect();
        files.sort_by_key(|(_, f)| std::cmp::Reverse(f.plaintext_bytes));
        let mut state = State {
            files: files.into(),
            ..State::default()
        };
        for (i, t) in m.tables.iter().enumerate() {
            state.remaining.insert(i, t.files.len());
            if let Some(w) = work.remove(&i) {
                if t.files.is_empty() {
                    state.ready.push((t.plaintext_bytes, i, w));
                } else {
                    state.pending.insert(i, w);
                }
            }
        }
        state
    }

    fn next(&mut self) -> Step {
        if self.failed {
            return Step::Done;
        }
        if let Some(i) = (0..self.ready.len()).max_by_key(|&i| self.ready[i].0) {
            let (_, t, work) = self.ready.swap_remove(i);
            self.busy += 1;
            self.building_from.get_or_insert_with(Instant::now);
            return Step::Build(t, work);
        }
        if let Some((t, f)) = self.files.pop_front() {
            self.busy += 1;
            return Step::Load(t, f);
        }
        if self.busy == 0 {
            Step::Done
        } else {
            Step::Wait
        }
    }

    /// A file of table `t` is in: when it was its last, the table's work is ready.
    fn loaded(&mut self, t: usize, size: u64) {
        self.busy -= 1;
        let left = self.remaining.entry(t).or_insert(1);
        *left -= 1;
        if *left == 0
            && let Some(work) = self.pending.remove(&t)
        {
            self.ready.push((size, t, work));
        }
        if self.files.is_empty() && self.remaining.values().all(|&n| n == 0) {
            self.data_done.get_or_insert_with(Instant::now);
        }
    }
}

/// Loads every data file and runs each table's `work` as soon as its files are in, on `jobs`
/// connections; checks each file's rows. `header` is the session settings the work runs
/// after. Returns the rows loaded.
pub async fn data(
    src: &Source<'_>,
    progress: &Run,
    work: HashMap<usize, TableWork>,
    header: &str,
) -> Result<u64> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::plan(src.manifest, work)),
        wake: Notify::new(),
        tables: src.manifest.tables.clone(),
    });
    let started = Instant::now();
    let mut set = JoinSet::new();
    for w in 0..src.jobs.max(1) {
        let worker = Worker {
            index: w,
            shared: Arc::clone(&shared),
            ids: Arc::clone(src.ids),
            progress: progress.clone(),
            target: src.target.clone(),
            env: src.env.clone(),
            files: src.files.clone(),
            header: header.to_string(),
        };
        set.spawn(worker.run());
    }
    let mut total = 0;
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined.map_err(|e| Error::internal("a loading worker panicked").source(e)) {
            Ok(Ok(n)) => total += n,
            Ok(Err(e)) | Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let s = shared.lock();
    let end = Instant::now();
    src.timeline
        .between("data", started, s.data_done.unwrap_or(end));
    if let Some(from) = s.building_from {
        src.timeline.between("table keys and indexes", from, end);
    }
    Ok(total)
}

/// What the workers share: the queues, the bell that wakes a waiting worker, the tables.
struct Shared {
    state: Mutex<State>,
    wake: Notify,
    tables: Vec<manifest::TableEntry>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("state lock")
    }

    /// Marks the run failed, so the other workers stop taking work, and passes `e` on.
    fn fail(&self, e: Error) -> Error {
        self.lock().failed = true;
        self.wake.notify_waiters();
        e
    }
}

/// One loading connection's worker.
struct Worker {
    index: usize,
    shared: Arc<Shared>,
    ids: Arc<crate::crypt::Identities>,
    progress: Run,
    target: super::target::Target,
    env: crate::env::Env,
    files: super::files::Files,
    header: String,
}

impl Worker {
    /// Takes steps until there is nothing left; returns the rows it loaded.
    async fn run(self) -> Result<u64> {
        let client = self
            .target
            .connect(&self.target.incoming(), &self.env)
            .await?;
        client
            .batch_execute(&format!(
                "{}\nSET synchronous_commit = off; SET statement_timeout = 0",
                self.header
            ))
            .await
            .map_err(|e| crate::pg::sqlstate::failure("cannot prepare a loading connection", e))?;
        let mut rows = 0u64;
        loop {
            let waiting = self.shared.wake.notified();
            let step = self.shared.lock().next();
            match step {
                Step::Done => break,
                Step::Wait => waiting.await,
                Step::Build(t, work) => self.build(&client, t, work).await?,
                Step::Load(t, file) => rows += self.load(&client, t, file).await?,
            }
        }
        self.progress.worker(self.index, Doing::Done);
        Ok(rows)
    }

    /// Runs a loaded table's own keys and indexes.
    async fn build(
        &self,
        client: &tokio_postgres::Client,
        t: usize,
        work: TableWork,
    ) -> Result<()> {
        crate::failpoint::pause("restore:table-indexes").await;
        let table = &self.shared.tables[t];
        self.progress.worker(
            self.index,
            Doing::Indexing {
                schema: &table.schema,
                table: &table.name,
            },
        );
        for sql in &work.statements {
            client.batch_execute(sql).await.map_err(|e| {
                self.shared.fail(crate::pg::sqlstate::failure(
                    format!(
                        "cannot build the keys and indexes of {}.{}",
                        table.schema, table.name
                    ),
                    e,
                ))
            })?;
        }
        self.shared.lock().busy -= 1;
        self.shared.wake.notify_waiters();
        Ok(())
    }

    /// Loads one file of table `t` and checks its rows against the manifest.
    async fn load(
        &self,
        client: &tokio_postgres::Client,
        t: usize,
        file: manifest::File,
    ) -> Result<u64> {
        let table = &self.shared.tables[t];
        self.progress.worker(
            self.index,
            Doing::Loading {
                schema: &table.schema,
                table: &table.name,
            },
        );
        let n = load_file(client, table, &self.files, &file, &self.ids, &self.progress)
            .await
            .map_err(|e| self.shared.fail(e))?;
        if Some(n) != file.rows {
            return Err(self.shared.fail(Error::new(
                Kind::BadInput,
                format!(
                    "{} loaded {n} rows into {}.{}, the manifest says {:?}",
                    file.name, table.schema, table.name, file.rows
                ),
            )));
        }
        self.progress.part_done(n);
        self.shared.lock().loaded(t, table.plaintext_bytes);
        self.shared.wake.notify_waiters();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> manifest::File {
        serde_json::from_value(serde_json::json!({
            "name": name, "size": 1, "sha256": "00", "plaintext_bytes": 1, "rows": 1
        }))
        .unwrap_or_else(|e| panic!("a manifest file entry: {e}"))
    }

    #[test]
    fn a_tables_work_is_ready_after_its_last_file_and_the_largest_goes_first() {
        let mut s = State {
            files: VecDeque::from([(0, file("a.1")), (0, file("a.2")), (1, file("b.1"))]),
            remaining: HashMap::from([(0, 2), (1, 1)]),
            pending: HashMap::from([(0, TableWork::default()), (1, TableWork::default())]),
            ..State::default()
        };
        let Step::Load(0, _) = s.next() else { panic!() };
        let Step::Load(0, _) = s.next() else { panic!() };
        s.loaded(0, 100);
        assert!(s.ready.is_empty(), "one of a's files is still loading");
        let Step::Load(1, _) = s.next() else { panic!() };
        s.loaded(1, 10);
        s.loaded(0, 100);
        assert!(s.data_done.is_some());
        let Step::Build(0, _) = s.next() else {
            panic!("the larger table first")
        };
        let Step::Build(1, _) = s.next() else {
            panic!()
        };
        let Step::Wait = s.next() else {
            panic!("two builds still running")
        };
        s.busy = 0;
        let Step::Done = s.next() else { panic!() };
    }

    #[test]
    fn a_failure_stops_every_worker() {
        let mut s = State {
            files: VecDeque::from([(0, file("a.1"))]),
            failed: true,
            ..State::default()
        };
        let Step::Done = s.next() else { panic!() };
    }
}
