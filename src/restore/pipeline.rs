//! The data phase with each table's own keys, indexes and ANALYZE pipelined behind its load:
//! `jobs` workers share one queue of data files (largest first) and one of the index builds
//! of tables whose files are all in. A free worker takes a table's remaining work first (its
//! keys' constraints over their indexes, its ANALYZE, in one transaction with its resume
//! record), then an index build, of the largest table, so the longest builds start earliest
//! and one table's indexes build side by side (each commits with its own record), and loads
//! the next file otherwise. This is how pgcopydb overlaps its
//! COPY and CREATE INDEX; pg_restore --jobs starts a table's indexes only after all the data.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;

use super::foreign_keys::EarlyKey;
use super::index_builds::IndexBuild;
use super::load::{Source, load_file_as};
use super::per_table::{ParentWork, TableWork};
use super::resume::{self, Done};
use crate::error::{Error, Kind, Result};
use crate::pg::quote_ident;
use crate::progress::{Doing, Run};
use crate::snapshot::manifest;

/// One worker's next step.
enum Step {
    Build(usize, TableWork),
    Index(usize, IndexBuild),
    Key(KeyStep),
    Load(usize, manifest::File),
    Wait,
    Done,
}

/// One statement of a foreign key put in during the data phase, and the tables no other key
/// statement may touch meanwhile: both tables for the add (SHARE ROW EXCLUSIVE on each), the
/// referencing one for the validation (SHARE UPDATE EXCLUSIVE; the referenced table is only
/// read). So no two key statements ever wait on each other, and none deadlocks.
#[derive(Debug)]
struct KeyStep {
    sql: String,
    step: &'static str,
    tables: Vec<usize>,
    /// The validation, once the add is in.
    then: Option<Box<KeyStep>>,
}

impl KeyStep {
    fn of(k: EarlyKey) -> Option<KeyStep> {
        let validate = k.validate.map(|sql| KeyStep {
            sql,
            step: EARLY_VALIDATE,
            tables: vec![k.table],
            then: None,
        });
        match k.add {
            Some(sql) => Some(KeyStep {
                sql,
                step: match k.partitions.is_empty() {
                    true => EARLY_ADD,
                    false => EARLY_TO_PARTITIONED,
                },
                tables: [k.table, k.references]
                    .into_iter()
                    .chain(k.partitions)
                    .collect(),
                then: validate.map(Box::new),
            }),
            None => validate,
        }
    }
}

/// The memory each restore session sorts and hashes in: at least 256 MB for index builds
/// (in one sort, and with room for PostgreSQL's parallel workers, which need 32 MB each) and
/// 64 MB for the joins that validate foreign keys, or the server's own settings where larger.
/// With `jobs` sessions that is `jobs` times as much at most, on the staging server.
pub(super) const SESSION_MEMORY: &str = "SELECT set_config(name, pg_size_pretty(greatest(pg_size_bytes(current_setting(name)), pg_size_bytes(floor))), false)
     FROM (VALUES ('maintenance_work_mem', '256MB'), ('work_mem', '64MB')) AS m(name, floor);";

const EARLY_ADD: &str = "foreign key during data";
const EARLY_VALIDATE: &str = "validate during data";
/// A key to a partitioned parent, added validated.
const EARLY_TO_PARTITIONED: &str = "key to a partitioned table during data";

/// What the data phase runs besides loading: each table's own keys, indexes and ANALYZE, the
/// partitioned parents' (each at the place after the manifest's tables, in order), the
/// foreign keys the data phase can put in, and the session settings all run after.
#[derive(Default)]
pub struct Work {
    pub tables: HashMap<usize, TableWork>,
    pub parents: Vec<ParentWork>,
    pub keys: Vec<EarlyKey>,
    pub header: String,
}

#[derive(Default)]
struct State {
    files: VecDeque<(usize, manifest::File)>,
    /// Files of each table still to load.
    remaining: HashMap<usize, usize>,
    /// Tables loaded whose work is waiting, with their size.
    ready: Vec<(u64, usize, TableWork)>,
    /// Index builds of loaded tables, with their table's size: any may run now.
    indexes_ready: Vec<(u64, usize, IndexBuild)>,
    /// A loaded table's work waiting for its index builds: how many are left, its size.
    after_indexes: HashMap<usize, (usize, u64, TableWork)>,
    /// Index builds this run committed.
    indexes_committed: usize,
    /// Not yet ready: the work of tables still loading.
    pending: HashMap<usize, TableWork>,
    /// Not yet ready: partitioned parents' work, by their place.
    parents: HashMap<usize, TableWork>,
    /// Each parent's partitions, which its build locks (its attaches): no key statement on
    /// one of them runs beside it.
    partitions: HashMap<usize, Vec<usize>>,
    /// Tables whose own keys and indexes are in, and the foreign keys waiting for theirs.
    built: HashSet<usize>,
    keys_waiting: Vec<EarlyKey>,
    keys_ready: Vec<KeyStep>,
    /// Tables a running key statement touches.
    keys_touching: HashSet<usize>,
    /// When the first key statement started, and when the last one ended.
    keys_span: Option<(Instant, Instant)>,
    busy: usize,
    /// More files are to come (a followed snapshot still being taken).
    arriving: bool,
    /// Files this run loaded.
    committed: usize,
    failed: bool,
    /// When the last file was in, and when the first table's work started.
    data_done: Option<Instant>,
    building_from: Option<Instant>,
}

impl State {
    /// Every file queued, largest first; each table's work waiting for its files (or ready
    /// now, for a table with none).
    /// Files and tables a cut-short run committed (`done`) are left out.
    fn plan(
        tables: &[manifest::TableEntry],
        mut work: HashMap<usize, TableWork>,
        parents: Vec<ParentWork>,
        done: &Done,
    ) -> State {
        let left = |f: &&manifest::File| !done.has(&resume::file(&f.name));
        let mut files: Vec<(usize, manifest::File)> = tables
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.files.iter().filter(left).map(move |f| (i, f.clone())))
            .collect();
        files.sort_by_key(|(_, f)| std::cmp::Reverse(f.plaintext_bytes));
        let mut state = State {
            files: files.into(),
            ..State::default()
        };
        for (i, t) in tables.iter().enumerate() {
            let remaining = t.files.iter().filter(left).count();
            state.remaining.insert(i, remaining);
            match work.remove(&i) {
                Some(_) if done.has(&resume::table(t)) => {
                    state.built.insert(i);
                }
                Some(mut w) => {
                    w.indexes.retain(|b| !done.has(&resume::index(&b.name)));
                    match remaining {
                        0 => state.table_ready(t.plaintext_bytes, i, w),
                        _ => {
                            state.pending.insert(i, w);
                        }
                    }
                }
                None => {}
            }
        }
        for (j, p) in parents.into_iter().enumerate() {
            let place = tables.len() + j;
            // a run that recorded the rest of post-data built the parents there (an older
            // acc's, which left them to it)
            match done.has(&resume::parent(&p.name)) || done.has(resume::POST_DATA) {
                true => {
                    state.built.insert(place);
                }
                false => {
                    state.partitions.insert(place, p.leaves);
                    state.parents.insert(place, p.work);
                }
            }
        }
        state.parents_ready();
        state
    }

    /// Table `t`'s files are all in: its index builds may run, and the rest of its work once
    /// they are in.
    fn table_ready(&mut self, size: u64, t: usize, mut work: TableWork) {
        let builds = std::mem::take(&mut work.indexes);
        if builds.is_empty() {
            self.ready.push((size, t, work));
            return;
        }
        self.after_indexes.insert(t, (builds.len(), size, work));
        (self.indexes_ready).extend(builds.into_iter().map(|b| (size, t, b)));
    }

    /// One index of table `t` is in: after its last, the rest of the table's work is ready.
    /// Returns how many index builds this run has committed.
    fn index_done(&mut self, t: usize) -> usize {
        self.busy -= 1;
        self.indexes_committed += 1;
        if let Some((left, _, _)) = self.after_indexes.get_mut(&t) {
            *left -= 1;
            if *left == 0
                && let Some((_, size, work)) = self.after_indexes.remove(&t)
            {
                self.ready.push((size, t, work));
            }
        }
        self.indexes_committed
    }

    /// A parent's partitions; none for a table.
    fn partitions_of(&self, place: usize) -> &[usize] {
        self.partitions.get(&place).map_or(&[], Vec::as_slice)
    }

    /// The parents whose partitions are all built are ready.
    fn parents_ready(&mut self) {
        let partitions_built =
            |place: &usize| (self.partitions_of(*place).iter()).all(|l| self.built.contains(l));
        let ready: Vec<usize> = self
            .parents
            .keys()
            .copied()
            .filter(partitions_built)
            .collect();
        for place in ready {
            if let Some(work) = self.parents.remove(&place) {
                self.ready.push((0, place, work));
            }
        }
    }

    /// The foreign keys waiting for the tables built so far become ready.
    fn keys(&mut self, keys: Vec<EarlyKey>) {
        self.keys_waiting.extend(keys);
        let (ready, waiting): (Vec<EarlyKey>, Vec<EarlyKey>) =
            std::mem::take(&mut self.keys_waiting)
                .into_iter()
                .partition(|k| self.built.contains(&k.table) && self.built.contains(&k.references));
        self.keys_waiting = waiting;
        self.keys_ready
            .extend(ready.into_iter().filter_map(KeyStep::of));
    }

    fn next(&mut self) -> Step {
        if self.failed {
            return Step::Done;
        }
        let unlocked =
            |t: &usize| (self.partitions_of(*t).iter()).all(|p| !self.keys_touching.contains(p));
        let buildable = (0..self.ready.len()).filter(|&i| unlocked(&self.ready[i].1));
        if let Some(i) = buildable.max_by_key(|&i| self.ready[i].0) {
            let (_, t, work) = self.ready.swap_remove(i);
            let partitions = self.partitions.get(&t).cloned().unwrap_or_default();
            self.keys_touching.extend(partitions);
            self.busy += 1;
            self.building_from.get_or_insert_with(Instant::now);
            return Step::Build(t, work);
        }
        let largest = (0..self.indexes_ready.len()).max_by_key(|&i| self.indexes_ready[i].0);
        if let Some(i) = largest {
            let (_, t, build) = self.indexes_ready.swap_remove(i);
            self.busy += 1;
            self.building_from.get_or_insert_with(Instant::now);
            return Step::Index(t, build);
        }
        let free = |k: &KeyStep| k.tables.iter().all(|t| !self.keys_touching.contains(t));
        if let Some(i) = self.keys_ready.iter().position(free) {
            let key = self.keys_ready.swap_remove(i);
            self.keys_touching.extend(key.tables.iter().copied());
            self.busy += 1;
            let now = Instant::now();
            self.keys_span.get_or_insert((now, now));
            return Step::Key(key);
        }
        if let Some((t, f)) = self.files.pop_front() {
            self.busy += 1;
            return Step::Load(t, f);
        }
        if self.busy == 0 && !self.arriving {
            Step::Done
        } else {
            Step::Wait
        }
    }

    /// Table `t`'s own keys and indexes are in: the foreign keys between it and the tables
    /// already built are ready.
    fn built(&mut self, t: usize) {
        self.busy -= 1;
        self.built.insert(t);
        for p in self.partitions.remove(&t).unwrap_or_default() {
            self.keys_touching.remove(&p);
        }
        self.parents_ready();
        self.keys(Vec::new());
    }

    /// A key statement ended (`then`: the validation that follows an add that went in).
    fn key_done(&mut self, tables: &[usize], then: Option<KeyStep>) {
        self.busy -= 1;
        for t in tables {
            self.keys_touching.remove(t);
        }
        if let Some((_, end)) = &mut self.keys_span {
            *end = Instant::now();
        }
        self.keys_ready.extend(then);
    }

    /// A file of table `t` is in: when it was its last, the table's work is ready. Returns
    /// how many files this run has loaded.
    fn loaded(&mut self, t: usize, size: u64) -> usize {
        self.busy -= 1;
        self.committed += 1;
        let left = self.remaining.entry(t).or_insert(1);
        *left -= 1;
        if *left == 0
            && let Some(work) = self.pending.remove(&t)
        {
            self.table_ready(size, t, work);
        }
        if self.files.is_empty() && self.remaining.values().all(|&n| n == 0) {
            self.data_done.get_or_insert_with(Instant::now);
        }
        self.committed
    }
}

/// Loads every data file and runs each table's `work` as soon as its files are in, on `jobs`
/// connections; checks each file's rows. `header` is the session settings the work runs
/// after. With `arrivals` (a followed snapshot), the files are those sent there, as they are
/// sealed, until it closes. Returns the rows loaded.
pub async fn data(
    src: &Source<'_>,
    progress: &Run,
    work: Work,
    arrivals: Option<mpsc::UnboundedReceiver<manifest::File>>,
) -> Result<u64> {
    let Work {
        tables: mut work,
        parents,
        keys,
        header,
    } = work;
    let parent_names: Vec<String> = parents.iter().map(|p| p.name.clone()).collect();
    // every table has work, its ANALYZE at least
    for i in 0..src.manifest.tables.len() {
        work.entry(i).or_default();
    }
    let mut state = State::plan(&src.manifest.tables, work, parents, src.done);
    state.keys(keys);
    if arrivals.is_some() {
        state.files.clear();
        state.arriving = true;
    }
    let shared = Arc::new(Shared {
        state: Mutex::new(state),
        wake: Notify::new(),
        tables: src.manifest.tables.clone(),
        parents: parent_names,
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
            header: header.clone(),
        };
        set.spawn(worker.run());
    }
    // the files of a followed snapshot, queued as they come; stopped once the workers stop
    let receiver = arrivals.map(|rx| {
        let receiving = receive(rx, Arc::clone(&shared), src.manifest, src.done);
        AbortOnDrop(tokio::spawn(receiving))
    });
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
    drop(receiver);
    if let Some(e) = first_error {
        return Err(e);
    }
    let s = shared.lock();
    if let Some((&t, _)) = s.remaining.iter().find(|(_, n)| **n > 0) {
        let table = &src.manifest.tables[t];
        return Err(Error::internal(format!(
            "files of {}.{} never arrived to be loaded",
            table.schema, table.name
        )));
    }
    let unbuilt = (s.ready.first().map(|r| r.1)).or(s.after_indexes.keys().next().copied());
    if let Some(place) = s.parents.keys().next().copied().or(unbuilt) {
        let n = src.manifest.tables.len();
        let name = match place.checked_sub(n) {
            Some(j) => shared.parents[j].clone(),
            None => format!(
                "{}.{}",
                src.manifest.tables[place].schema, src.manifest.tables[place].name
            ),
        };
        return Err(Error::internal(format!(
            "the keys and indexes of {name} were never built"
        )));
    }
    let end = Instant::now();
    src.timeline
        .between("data", started, s.data_done.unwrap_or(end));
    if let Some(from) = s.building_from {
        src.timeline.between("table keys and indexes", from, end);
    }
    if let Some((from, to)) = s.keys_span {
        src.timeline.between("foreign keys during data", from, to);
    }
    Ok(total)
}

/// Queues each file sent on `rx` (leaving out those a cut-short run loaded) until it closes.
fn receive(
    mut rx: mpsc::UnboundedReceiver<manifest::File>,
    shared: Arc<Shared>,
    m: &manifest::Manifest,
    done: &Done,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let places: HashMap<String, usize> = (m.tables.iter().enumerate())
        .flat_map(|(i, t)| t.files.iter().map(move |f| (f.name.clone(), i)))
        .filter(|(name, _)| !done.has(&resume::file(name)))
        .collect();
    async move {
        while let Some(f) = rx.recv().await {
            if let Some(&t) = places.get(&f.name) {
                shared.lock().files.push_back((t, f));
                shared.wake.notify_waiters();
            }
        }
        shared.lock().arriving = false;
        shared.wake.notify_waiters();
    }
}

/// A task that ends with its handle.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the workers share: the queues, the bell that wakes a waiting worker, the tables.
struct Shared {
    state: Mutex<State>,
    wake: Notify,
    tables: Vec<manifest::TableEntry>,
    /// The partitioned parents the data phase builds, as pg_dump names them.
    parents: Vec<String>,
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
                "{}\nSET synchronous_commit = off; SET statement_timeout = 0; {SESSION_MEMORY}",
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
                Step::Index(t, build) => self.index_build(&client, t, build).await?,
                Step::Key(key) => self.key(&client, key).await?,
                Step::Load(t, file) => rows += self.load(&client, t, file).await?,
            }
        }
        self.progress.worker(self.index, Doing::Done);
        Ok(rows)
    }

    /// Runs a loaded table's own keys and indexes, or a partitioned parent's once its
    /// partitions' are in; then a table's ANALYZE, and the record.
    async fn build(
        &self,
        client: &tokio_postgres::Client,
        t: usize,
        work: TableWork,
    ) -> Result<()> {
        crate::failpoint::pause("restore:table-indexes").await;
        // a parent is not analyzed: in PostgreSQL 15 that analyzes every partition again
        let (schema, name, analyze, record) = match self.shared.tables.get(t) {
            Some(table) => (
                table.schema.as_str(),
                table.name.as_str(),
                Some(format!(
                    "ANALYZE {}.{}",
                    quote_ident(&table.schema),
                    quote_ident(&table.name)
                )),
                resume::table(table),
            ),
            None => {
                let parent = &self.shared.parents[t - self.shared.tables.len()];
                let (schema, name) = parent.split_once('.').unwrap_or(("", parent));
                (schema, name, None, resume::parent(parent))
            }
        };
        self.progress.worker(
            self.index,
            Doing::Indexing {
                schema,
                table: name,
            },
        );
        // the table's keys commit with their record, so a resumed run keeps them; its
        // statistics too, while other tables load, before the first reader plans a query
        let statements: Vec<&str> = (work.statements.iter().map(String::as_str))
            .chain(analyze.as_deref())
            .collect();
        let what = format!("the keys and indexes of {schema}.{name}");
        self.committed(client, &statements, &record, &what).await?;
        self.shared.lock().built(t);
        self.shared.wake.notify_waiters();
        Ok(())
    }

    /// Builds one index of loaded table `t`, committed with its record, beside the table's
    /// other builds.
    async fn index_build(
        &self,
        client: &tokio_postgres::Client,
        t: usize,
        build: IndexBuild,
    ) -> Result<()> {
        let table = &self.shared.tables[t];
        self.progress.worker(
            self.index,
            Doing::Indexing {
                schema: &table.schema,
                table: &table.name,
            },
        );
        let what = format!("index {} of {}.{}", build.name, table.schema, table.name);
        let record = resume::index(&build.name);
        (self.committed(client, &[build.sql.as_str()], &record, &what)).await?;
        let count = self.shared.lock().index_done(t);
        self.shared.wake.notify_waiters();
        crate::failpoint::pause(&format!("restore:indexes-built:{count}")).await;
        Ok(())
    }

    /// Runs `statements` in one transaction that commits with resume record `record`; a
    /// failure fails the run, naming `what` could not be built.
    async fn committed(
        &self,
        client: &tokio_postgres::Client,
        statements: &[&str],
        record: &str,
        what: &str,
    ) -> Result<()> {
        let failed = |e| {
            self.shared.fail(crate::pg::sqlstate::failure(
                format!("cannot build {what}"),
                e,
            ))
        };
        client.batch_execute("BEGIN").await.map_err(failed)?;
        for sql in statements.iter().copied() {
            client.batch_execute(sql).await.map_err(failed)?;
        }
        resume::record(client, record)
            .await
            .map_err(|e| self.shared.fail(e))?;
        client
            .batch_execute("COMMIT")
            .await
            .map_err(failed)
            .map(|_| ())
    }

    /// Adds or validates one foreign key whose two tables are in. A statement the server
    /// refuses (a key whose referenced unique key comes later, with the rest of post-data) is
    /// left to the foreign-key step at the end, which meets every key not yet in place; a
    /// lost connection fails the run.
    async fn key(&self, client: &tokio_postgres::Client, key: KeyStep) -> Result<()> {
        crate::failpoint::pause(&format!("restore:{}", key.step)).await;
        let KeyStep {
            sql, tables, then, ..
        } = key;
        let table = &self.shared.tables[tables[0]];
        self.progress.worker(
            self.index,
            Doing::Indexing {
                schema: &table.schema,
                table: &table.name,
            },
        );
        let then = match client.batch_execute(&sql).await {
            Ok(()) => then.map(|v| *v),
            Err(e) if e.as_db_error().is_some() => {
                crate::events::detail(&format!(
                    "restore: left for the foreign-key step: {} ({e})",
                    sql.lines().next().unwrap_or_default()
                ));
                None
            }
            Err(e) => {
                return Err(self.shared.fail(crate::pg::sqlstate::failure(
                    "cannot put a foreign key in",
                    e,
                )));
            }
        };
        self.shared.lock().key_done(&tables, then);
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
        // the file's rows commit with its record, and only once they are all in and checked;
        // on any error the connection goes and its transaction with it
        let failed = |e| {
            self.shared.fail(crate::pg::sqlstate::failure(
                format!("loading {}.{} failed", table.schema, table.name),
                e,
            ))
        };
        // a table of one file is emptied in the same transaction, so its rows go in frozen;
        // it has no key yet that could stop the TRUNCATE (keys come once it is built)
        let freeze = table.files.len() == 1;
        let mut begin = match freeze {
            true => format!(
                "BEGIN; TRUNCATE ONLY {}.{}",
                quote_ident(&table.schema),
                quote_ident(&table.name)
            ),
            false => "BEGIN".to_string(),
        };
        // a text file reads back under the settings production wrote it under
        if !file.format.is_binary() {
            begin.push_str(&format!(
                "; {}",
                crate::pg::copy_format::portable_text(true)
            ));
        }
        client.batch_execute(&begin).await.map_err(failed)?;
        let source = (&self.files, &file);
        let n = load_file_as(client, table, source, &self.ids, &self.progress, freeze)
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
        resume::record(client, &resume::file(&file.name))
            .await
            .map_err(|e| self.shared.fail(e))?;
        client.batch_execute("COMMIT").await.map_err(failed)?;
        self.progress.part_done(n);
        let count = self.shared.lock().loaded(t, table.plaintext_bytes);
        self.shared.wake.notify_waiters();
        crate::failpoint::pause(&format!("restore:files-loaded:{count}")).await;
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

    fn index(name: &str) -> IndexBuild {
        IndexBuild {
            name: name.into(),
            sql: format!("CREATE INDEX {name}"),
        }
    }

    #[test]
    fn a_tables_indexes_build_side_by_side_and_the_rest_of_its_work_follows_the_last() {
        let work = TableWork {
            indexes: vec![index("a.pkey"), index("a.idx")],
            statements: vec![
                "ALTER TABLE a ADD CONSTRAINT pkey PRIMARY KEY USING INDEX pkey".into(),
            ],
        };
        let mut s = State {
            files: VecDeque::from([(0, file("a.1")), (1, file("b.1"))]),
            remaining: HashMap::from([(0, 1), (1, 1)]),
            pending: HashMap::from([(0, work), (1, TableWork::default())]),
            ..State::default()
        };
        let Step::Load(0, _) = s.next() else { panic!() };
        s.loaded(0, 100);
        let Step::Index(0, first) = s.next() else {
            panic!("a's index builds come before the next file")
        };
        let Step::Index(0, second) = s.next() else {
            panic!("and both of them at once")
        };
        assert_ne!(first, second);
        let Step::Load(1, _) = s.next() else {
            panic!("nothing else of a can run yet")
        };
        assert_eq!(s.index_done(0), 1);
        assert!(s.ready.is_empty(), "one build is still running");
        assert_eq!(s.index_done(0), 2);
        let Step::Build(0, rest) = s.next() else {
            panic!("the key's constraint and the ANALYZE follow the last build")
        };
        assert!(rest.indexes.is_empty() && rest.statements.len() == 1);
    }

    #[test]
    fn a_resumed_plan_loads_only_what_is_missing_and_keeps_built_tables() {
        let table = |name: &str, files: &[&str]| {
            serde_json::json!({
                "schema": "agency", "name": name, "columns": ["id"], "rows": 1,
                "plaintext_bytes": 1, "files": files.iter().map(|f| serde_json::json!({
                    "name": f, "size": 1, "sha256": "00", "plaintext_bytes": 1, "rows": 1
                })).collect::<Vec<_>>()
            })
        };
        let tables = serde_json::json!([
            table("a", &["a.1", "a.2"]),
            table("b", &["b.1"]),
            table("c", &["c.1"])
        ]);
        let tables: Vec<manifest::TableEntry> =
            serde_json::from_value(tables).unwrap_or_else(|e| panic!("{e}"));
        let two = TableWork {
            indexes: vec![index("agency.b_pkey"), index("agency.b_idx")],
            statements: Vec::new(),
        };
        let work = HashMap::from([
            (0, TableWork::default()),
            (1, two),
            (2, TableWork::default()),
        ]);
        // a.1 and all of b and c are in; one of b's indexes and all of c's are built
        let done = Done::of(&[
            "file:a.1",
            "file:b.1",
            "file:c.1",
            "index:agency.b_pkey",
            "table:agency.c",
        ]);
        let s = State::plan(&tables, work, Vec::new(), &done);
        let files: Vec<&str> = s.files.iter().map(|(_, f)| f.name.as_str()).collect();
        assert_eq!(files, ["a.2"]);
        assert_eq!(s.remaining[&0], 1);
        assert_eq!(
            (s.indexes_ready.iter())
                .map(|r| (r.1, r.2.name.as_str()))
                .collect::<Vec<_>>(),
            [(1, "agency.b_idx")],
            "b builds the index it lacks now"
        );
        assert!(
            s.pending.contains_key(&0) && !s.pending.contains_key(&2),
            "c is kept"
        );
    }

    fn key(table: usize, references: usize, validate: bool) -> EarlyKey {
        EarlyKey {
            table,
            references,
            add: Some(format!("add {table}->{references}")),
            validate: validate.then(|| format!("validate {table}->{references}")),
            partitions: Vec::new(),
        }
    }

    #[test]
    fn a_foreign_key_goes_in_once_both_tables_are_built_and_never_beside_one_sharing_its_locks() {
        let mut s = State::default();
        s.keys(vec![key(0, 1, true), key(1, 0, true), key(2, 1, false)]);
        s.busy = 1;
        s.built(1);
        assert!(s.keys_ready.is_empty(), "no key has both its tables built");
        s.busy = 1;
        s.built(0);
        assert_eq!(s.keys_ready.len(), 2, "0->1 and 1->0 are ready, 2->1 waits");
        let Step::Key(first) = s.next() else {
            panic!("a ready key runs")
        };
        assert_eq!(first.step, EARLY_ADD);
        let Step::Wait = s.next() else {
            panic!("the other add shares both tables: it waits")
        };
        s.key_done(&first.tables, first.then.map(|v| *v));
        let Step::Key(second) = s.next() else {
            panic!()
        };
        let Step::Wait = s.next() else {
            panic!("the first key's validation waits for the add holding its table")
        };
        s.key_done(&second.tables, second.then.map(|v| *v));
        let (Step::Key(v1), Step::Key(v2)) = (s.next(), s.next()) else {
            panic!("two validations of two tables run side by side")
        };
        assert_eq!((v1.step, v2.step), (EARLY_VALIDATE, EARLY_VALIDATE));
        assert_eq!(
            v1.tables.len() + v2.tables.len(),
            2,
            "each locks its own table"
        );
        s.key_done(&v1.tables, None);
        s.key_done(&v2.tables, None);
        s.busy = 1;
        s.built(2);
        let Step::Key(last) = s.next() else { panic!() };
        assert_eq!(last.sql, "add 2->1");
        assert!(last.then.is_none(), "production had it NOT VALID");
        s.key_done(&last.tables, None);
        let Step::Done = s.next() else { panic!() };
    }

    #[test]
    fn a_parent_builds_once_its_partitions_have_and_no_key_holds_one_then_keys_to_it_go_in() {
        // places 0 and 1 are visits' partitions, 2 references visits, 3 is visits itself
        let parent = ParentWork {
            name: "agency.visits".into(),
            leaves: vec![0, 1],
            work: TableWork {
                statements: vec!["parent's key".into()],
                ..TableWork::default()
            },
        };
        let mut s = State::plan(&[], HashMap::new(), Vec::new(), &Done::default());
        s.partitions.insert(3, parent.leaves);
        s.parents.insert(3, parent.work);
        let mut to_parent = key(2, 3, false);
        to_parent.partitions = vec![0, 1];
        s.keys(vec![to_parent, key(0, 2, true)]);
        for t in [0, 2] {
            s.busy = 1;
            s.built(t);
        }
        assert!(s.ready.is_empty(), "partition 1 is not built yet");
        let Step::Key(leaf_key) = s.next() else {
            panic!("0->2 is ready")
        };
        s.busy += 1;
        s.built(1);
        let Step::Wait = s.next() else {
            panic!("the parent's attaches would wait on the key holding partition 0")
        };
        s.key_done(&leaf_key.tables, leaf_key.then.map(|v| *v));
        let Step::Build(3, _) = s.next() else {
            panic!("the parent builds")
        };
        let Step::Wait = s.next() else {
            panic!("0->2's validation waits: the parent's build holds partition 0")
        };
        s.built(3);
        let mut steps = Vec::new();
        while let Step::Key(k) = s.next() {
            s.key_done(&k.tables, None);
            steps.push(k);
        }
        let to_parent = steps
            .iter()
            .find(|k| k.sql == "add 2->3")
            .unwrap_or_else(|| panic!("the key to the parent is ready: {steps:?}"));
        assert_eq!(to_parent.tables, [2, 3, 0, 1], "it locks every partition");
        assert_eq!(to_parent.step, EARLY_TO_PARTITIONED);
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
