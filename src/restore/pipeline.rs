//! The data phase with each table's own keys and indexes pipelined behind its load: `jobs`
//! workers share one queue of data files (largest first) and one of tables whose files are
//! all in. A free worker takes a ready table first, the largest, so the longest index builds
//! start earliest; then a foreign key between two plain tables that are both loaded and
//! keyed, added `NOT VALID` (an instant; it is validated later, see `foreign_keys`); and
//! loads the next file otherwise. Small tables that such keys reference load first, so a big table's keys are
//! ready when it is. This is how pgcopydb overlaps its COPY and CREATE INDEX; pg_restore
//! --jobs starts a table's indexes only after all the data, and its foreign keys after that.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::foreign_keys::{EarlyKey, with_retry};
use super::load::{Source, load_file};
use super::per_table::TableWork;
use super::post_data::Placed;
use crate::error::{Error, Kind, Result};
use crate::snapshot::manifest;
use crate::ui::progress::Progress;

/// One worker's next step.
enum Step {
    Build(usize, TableWork),
    Key(Placed),
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
    /// Tables loaded with their own work done: a key between two of them may go.
    built: HashSet<usize>,
    /// Early foreign keys not started.
    keys: Vec<Placed>,
    busy: usize,
    failed: bool,
    /// When the last file was in, when the first table's work started, and the span of the
    /// early keys.
    data_done: Option<Instant>,
    building_from: Option<Instant>,
    keys_from: Option<Instant>,
    keys_until: Option<Instant>,
}

impl State {
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
        let built = &self.built;
        if let Some(i) = self
            .keys
            .iter()
            .position(|k| built.contains(&k.table) && built.contains(&k.references))
        {
            self.busy += 1;
            self.keys_from.get_or_insert_with(Instant::now);
            return Step::Key(self.keys.swap_remove(i));
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
        if *left == 0 {
            match self.pending.remove(&t) {
                Some(work) => self.ready.push((size, t, work)),
                None => {
                    self.built.insert(t);
                }
            }
        }
        if self.files.is_empty() && self.remaining.values().all(|&n| n == 0) {
            self.data_done.get_or_insert_with(Instant::now);
        }
    }

    /// Table `t`'s own work is done.
    fn built(&mut self, t: usize) {
        self.busy -= 1;
        self.built.insert(t);
    }

    /// An early key is in.
    fn keyed(&mut self) {
        self.busy -= 1;
        self.keys_until = Some(Instant::now());
    }
}

/// Data files in loading order: those of small tables that early keys reference first (a
/// twentieth of the data or less), then the largest first.
fn loading_order(tables: &[manifest::Table], keys: &[Placed]) -> Vec<(usize, manifest::File)> {
    let total: u64 = tables.iter().map(|t| t.plaintext_bytes).sum();
    let first: HashSet<usize> = keys
        .iter()
        .map(|k| k.references)
        .filter(|&r| tables[r].plaintext_bytes.saturating_mul(20) <= total)
        .collect();
    let mut files: Vec<(usize, manifest::File)> = tables
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.files.iter().map(move |f| (i, f.clone())))
        .collect();
    files.sort_by_key(|(t, f)| (!first.contains(t), std::cmp::Reverse(f.plaintext_bytes)));
    files
}

/// Loads every data file, runs each table's `work` as soon as its files are in and each
/// early key as soon as both its tables are built, on `jobs` connections; checks each file's
/// rows. `header` is the session settings the work runs after. Returns the rows loaded and
/// the keys it did not add (a table they name was never built here).
pub async fn data(
    src: &Source<'_>,
    progress: &Progress,
    mut work: HashMap<usize, TableWork>,
    keys: Vec<Placed>,
    header: &str,
) -> Result<(u64, Vec<EarlyKey>)> {
    let m = src.manifest;
    let mut state = State {
        files: loading_order(&m.tables, &keys).into(),
        keys,
        ..State::default()
    };
    for (i, t) in m.tables.iter().enumerate() {
        state.remaining.insert(i, t.files.len());
        match (work.remove(&i), t.files.is_empty()) {
            (Some(w), true) => state.ready.push((t.plaintext_bytes, i, w)),
            (Some(w), false) => {
                state.pending.insert(i, w);
            }
            (None, true) => {
                state.built.insert(i);
            }
            (None, false) => {}
        }
    }
    let state = Arc::new((Mutex::new(state), Notify::new()));
    let started = Instant::now();
    let tables = Arc::new(m.tables.clone());
    let mut set = JoinSet::new();
    for w in 0..src.jobs.max(1) {
        let (state, tables, ids, progress) = (
            Arc::clone(&state),
            Arc::clone(&tables),
            Arc::clone(src.ids),
            progress.clone(),
        );
        let (target, env, dir) = (src.target.clone(), src.env.clone(), src.dir.to_path_buf());
        let header = header.to_string();
        set.spawn(async move {
            let client = target.connect(&target.incoming(), &env).await?;
            client
                .batch_execute(&format!(
                    "{header}\nSET synchronous_commit = off; SET statement_timeout = 0"
                ))
                .await
                .map_err(|e| Error::unavailable("cannot prepare a loading connection").source(e))?;
            let (lock, wake) = &*state;
            let fail = |e: Error| {
                lock.lock().expect("state lock").failed = true;
                wake.notify_waiters();
                e
            };
            let mut rows = 0u64;
            loop {
                let waiting = wake.notified();
                let step = lock.lock().expect("state lock").next();
                match step {
                    Step::Done => break,
                    Step::Wait => waiting.await,
                    Step::Build(t, work) => {
                        crate::failpoint::pause("restore:table-indexes").await;
                        let table = &tables[t];
                        progress.worker(w, &format!("indexes of {}.{}", table.schema, table.name));
                        for sql in &work.statements {
                            client.batch_execute(sql).await.map_err(|e| {
                                fail(
                                    Error::unavailable(format!(
                                        "cannot build the keys and indexes of {}.{}",
                                        table.schema, table.name
                                    ))
                                    .source(e),
                                )
                            })?;
                        }
                        lock.lock().expect("state lock").built(t);
                        wake.notify_waiters();
                    }
                    Step::Key(k) => {
                        crate::failpoint::pause("restore:early-key").await;
                        progress.worker(w, &format!("foreign key {}", k.key.key.name));
                        with_retry(&client, &k.key.add).await.map_err(fail)?;
                        lock.lock().expect("state lock").keyed();
                        wake.notify_waiters();
                    }
                    Step::Load(t, file) => {
                        let table = &tables[t];
                        progress.worker(w, &format!("{}.{}", table.schema, table.name));
                        let path = dir.join(&file.name);
                        let n = load_file(&client, table, &path, &file, &ids, &progress)
                            .await
                            .map_err(fail)?;
                        if Some(n) != file.rows {
                            return Err(fail(Error::new(
                                Kind::BadInput,
                                format!(
                                    "{} loaded {n} rows into {}.{}, the manifest says {:?}",
                                    file.name, table.schema, table.name, file.rows
                                ),
                            )));
                        }
                        rows += n;
                        progress.add_rows(n);
                        lock.lock()
                            .expect("state lock")
                            .loaded(t, table.plaintext_bytes);
                        wake.notify_waiters();
                    }
                }
            }
            progress.worker(w, "done");
            Ok::<_, Error>(rows)
        });
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
    let mut s = state.0.lock().expect("state lock");
    let end = Instant::now();
    src.timeline
        .between("data", started, s.data_done.unwrap_or(end));
    if let Some(from) = s.building_from {
        src.timeline.between("table keys and indexes", from, end);
    }
    if let (Some(from), Some(until)) = (s.keys_from, s.keys_until) {
        src.timeline.between("early foreign keys", from, until);
    }
    let left = std::mem::take(&mut s.keys)
        .into_iter()
        .map(|k| k.key)
        .collect();
    Ok((total, left))
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

    fn key(table: usize, references: usize) -> Placed {
        let key = crate::restore::foreign_keys::ForeignKey {
            table: "a.t".into(),
            name: "k".into(),
            sql: "ALTER TABLE ONLY a.t\n    ADD CONSTRAINT k FOREIGN KEY (r) REFERENCES a.r(id);"
                .into(),
            only: true,
            not_valid: false,
            references: "a.r".into(),
            added: false,
        };
        let (mut early, _) = crate::restore::foreign_keys::early(vec![key], &HashMap::new());
        Placed {
            table,
            references,
            key: early.remove(0),
        }
    }

    #[test]
    fn a_key_goes_once_both_tables_are_built_before_any_further_load() {
        let mut s = State {
            files: VecDeque::from([(1, file("r.1")), (0, file("t.1")), (2, file("u.1"))]),
            remaining: HashMap::from([(0, 1), (1, 1), (2, 1)]),
            pending: HashMap::from([(0, TableWork::default())]),
            keys: vec![key(0, 1)],
            ..State::default()
        };
        let Step::Load(1, _) = s.next() else { panic!() };
        s.loaded(1, 10);
        assert!(
            s.built.contains(&1),
            "a table without work is built once loaded"
        );
        let Step::Load(0, _) = s.next() else { panic!() };
        s.loaded(0, 100);
        let Step::Build(0, _) = s.next() else {
            panic!("the table's own indexes before its key")
        };
        let Step::Load(2, _) = s.next() else {
            panic!("the key waits for its table's indexes")
        };
        s.built(0);
        let Step::Key(k) = s.next() else {
            panic!("the key before anything else")
        };
        assert_eq!((k.table, k.references), (0, 1));
        s.loaded(2, 1);
        s.keyed();
        assert!(s.keys_until.is_some());
        let Step::Done = s.next() else { panic!() };
    }

    #[test]
    fn small_referenced_tables_load_first_then_the_largest() {
        let table = |name: &str, bytes: u64| manifest::Table {
            schema: "a".into(),
            name: name.into(),
            columns: vec![],
            rows: 1,
            plaintext_bytes: bytes,
            files: vec![manifest::File {
                plaintext_bytes: bytes,
                ..file(&format!("{name}.1"))
            }],
        };
        let tables = [table("t", 1000), table("r", 10), table("u", 500)];
        let order: Vec<String> = loading_order(&tables, &[key(0, 1)])
            .into_iter()
            .map(|(_, f)| f.name)
            .collect();
        assert_eq!(order, ["r.1", "t.1", "u.1"]);
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
