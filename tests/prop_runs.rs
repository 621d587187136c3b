//! Property tests of the run state machine (issue #12 item 5), on SQLite and on Postgres.
//!
//! Random sequences of what the engine does to runs (requests that may join, task deliveries,
//! heartbeats, finishing, retrying, failing, cancelling from any process, a worker that stops
//! heartbeating, one that crashes, one that stops cleanly, recovery) are applied to a real,
//! migrated store through the same public store and engine calls the runner makes, beside an
//! in-memory model of what each call must do. After every step the database must agree with the
//! model and these invariants must hold:
//! - at most one active (queued/running) run per artist; a request for an artist with an active
//!   run joins it (same run id, priority raised only while queued);
//! - a run is active exactly while it has no `finished_at`; a running run has a worker, a start
//!   and a heartbeat; an ended run never changes again (cancelling it changes nothing);
//! - an artist has a part `syncing` only while it has a running run;
//! - after recovery: no running run whose worker stopped heartbeating, none held by a crashed
//!   or stopped worker;
//! - an ended run has no attempt left open, except one a live worker is still executing.
//!
//! apalis's own delivery is not driven here: a "delivery" is what the runner does when apalis
//! hands it a task (`start_attempt` and the pipeline's status writes). Time passing for a worker
//! that stopped heartbeating is simulated by moving its runs' heartbeats far into the past.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use syncdeck::config::DatabaseUrl;
use syncdeck::engine::{Clients, Engine, EngineSettings, RequestKind};
use syncdeck::store::runs::{CancelOutcome, RunError, RunRow, RunStatus, StartRefused};
use syncdeck::store::sync_status::{PartStatus, Source, SyncStatus};
use syncdeck::store::{Backend, Store};

/// Worker slots; a crashed or stopped worker's slot comes back as a new process (new name).
const SLOTS: usize = 2;
/// The engine that runs recovery; never a worker of the simulated runs.
const RECOVERER: &str = "prop-recoverer";
/// A heartbeat from long before any cutoff: a worker that stopped beating, time having passed.
const LONG_AGO: &str = "2000-01-01T00:00:00.000Z";
/// `EngineSettings::default().max_attempts`, which `Engine::enqueue` writes on each run.
const MAX_ATTEMPTS: i32 = 3;

#[derive(Debug, Clone)]
enum Op {
    /// `Engine::enqueue` of these artists (indices, duplicates allowed: the second joins).
    Enqueue { artists: Vec<usize>, kind: Kind },
    /// apalis delivers the task of a run to the worker in `slot`: the `run`-th active run, or
    /// with `stale_task` the `run`-th newest of all (an ended run's task delivered again).
    Deliver {
        slot: usize,
        run: usize,
        stale_task: bool,
    },
    /// The worker's pipeline for one of its executing runs ends: parts succeeded or failed.
    Finish {
        slot: usize,
        pick: usize,
        parts: [bool; 3],
        retryable: bool,
    },
    /// The worker's watch loop beats for the runs it holds.
    Heartbeat { slot: usize },
    /// `Engine::cancel` of the `run`-th newest run, from any process.
    Cancel { run: usize },
    /// `Engine::cancel_artist`.
    CancelArtist { artist: usize },
    /// The worker's watch loop reads cancel flags and stops the flagged runs it holds.
    WatchCancels { slot: usize },
    /// The worker stops heartbeating (stalled past the cutoff) but is still alive.
    Stall { slot: usize },
    /// The worker's process vanishes mid-run (kill -9); the slot restarts as a new worker.
    Crash { slot: usize },
    /// The worker stops cleanly (`runner::shutdown`); the slot restarts as a new worker.
    Shutdown { slot: usize },
    /// `Engine::recover` in another process.
    Recover,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Manual,
    Bulk,
    RetryFailed,
}

impl Kind {
    fn request(self) -> RequestKind {
        match self {
            Kind::Manual => RequestKind::Manual,
            Kind::Bulk => RequestKind::Bulk,
            Kind::RetryFailed => RequestKind::RetryFailed,
        }
    }
}

/// What the model expects of one run row.
#[derive(Debug, Clone)]
struct MRun {
    id: String,
    artist: usize,
    status: RunStatus,
    worker: Option<String>,
    cancel: bool,
    /// Running with a heartbeat older than the orphan cutoff.
    stale: bool,
    attempts: i32,
    priority: i32,
}

/// A run a worker holds (the runner's `Owned`): executing, or waiting for its retry.
#[derive(Debug, Clone)]
struct Held {
    artist: usize,
    prior: [PartStatus; 3],
    attempt: i32,
    executing: bool,
}

#[derive(Debug, Default)]
struct Slot {
    generation: usize,
    held: BTreeMap<String, Held>,
}

#[derive(Debug, Default)]
struct Model {
    parts: Vec<[PartStatus; 3]>,
    runs: Vec<MRun>,
    slots: Vec<Slot>,
    /// Workers that crashed or stopped: they never act again.
    gone: BTreeSet<String>,
}

impl Model {
    fn worker(&self, slot: usize) -> String {
        format!("w{slot}-g{}", self.slots[slot].generation)
    }

    fn active_of(&self, artist: usize) -> Option<usize> {
        self.runs
            .iter()
            .position(|r| r.artist == artist && r.status.is_active())
    }

    fn run_index(&self, id: &str) -> usize {
        self.runs
            .iter()
            .position(|r| r.id == id)
            .expect("the model knows every run it hands out")
    }

    /// The `nth` newest run, if any.
    fn newest(&self, nth: usize) -> Option<usize> {
        let n = self.runs.len();
        (n > 0).then(|| n - 1 - nth % n)
    }

    fn has_running(&self, artist: usize) -> bool {
        self.runs
            .iter()
            .any(|r| r.artist == artist && r.status == RunStatus::Running)
    }
}

fn to_status(parts: [PartStatus; 3]) -> SyncStatus {
    let mut s = SyncStatus::default();
    for (i, source) in Source::ALL.into_iter().enumerate() {
        s.set(source, parts[i]);
    }
    s
}

fn to_parts(s: &SyncStatus) -> [PartStatus; 3] {
    Source::ALL.map(|source| s.get(source))
}

/// `restore_syncing_parts`: syncing parts go back to the prior status (a prior `syncing` is
/// `pending`).
fn restore(parts: &mut [PartStatus; 3], prior: [PartStatus; 3]) {
    for i in 0..3 {
        if parts[i] == PartStatus::Syncing {
            parts[i] = match prior[i] {
                PartStatus::Syncing => PartStatus::Pending,
                p => p,
            };
        }
    }
}

/// `fail_syncing_parts`: syncing parts become `error`; true when one did.
fn fail_syncing(parts: &mut [PartStatus; 3]) -> bool {
    let mut changed = false;
    for p in parts.iter_mut() {
        if *p == PartStatus::Syncing {
            *p = PartStatus::Error;
            changed = true;
        }
    }
    changed
}

fn db<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, TestCaseError> {
    r.map_err(|e| TestCaseError::fail(format!("store error: {e}")))
}

struct World<'a> {
    store: &'a Store,
    engine: &'a Engine,
    artist_ids: Vec<String>,
    m: Model,
    /// Every ended run as first seen ended: it must never change again.
    frozen: HashMap<String, RunRow>,
}

impl World<'_> {
    fn artist_ref(&self, a: usize) -> (String, String) {
        (self.artist_ids[a].clone(), format!("Prop Artist {a}"))
    }

    async fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let n = self.artist_ids.len();
        match op {
            Op::Enqueue { artists, kind } => {
                let picked: Vec<usize> = artists.iter().map(|a| a % n).collect();
                let refs: Vec<(String, String)> =
                    picked.iter().map(|a| self.artist_ref(*a)).collect();
                let out = db(self.engine.enqueue(&refs, kind.request()).await)?;
                prop_assert_eq!(out.len(), refs.len());
                let p = kind.request().priority();
                for (e, &a) in out.iter().zip(&picked) {
                    match self.m.active_of(a) {
                        Some(i) => {
                            // A request for an artist with an active run joins that run.
                            prop_assert!(e.joined, "artist {} has an active run: joins", a);
                            prop_assert_eq!(&e.run_id, &self.m.runs[i].id);
                            let r = &mut self.m.runs[i];
                            if r.status == RunStatus::Queued && p > r.priority {
                                r.priority = p;
                            }
                        }
                        None => {
                            prop_assert!(!e.joined, "artist {} has no active run: new", a);
                            prop_assert!(self.m.runs.iter().all(|r| r.id != e.run_id));
                            self.m.runs.push(MRun {
                                id: e.run_id.clone(),
                                artist: a,
                                status: RunStatus::Queued,
                                worker: None,
                                cancel: false,
                                stale: false,
                                attempts: 0,
                                priority: p,
                            });
                        }
                    }
                }
            }
            Op::Deliver {
                slot,
                run,
                stale_task,
            } => {
                let active: Vec<usize> = (0..self.m.runs.len())
                    .filter(|i| self.m.runs[*i].status.is_active())
                    .collect();
                let pick = match (*stale_task, active.is_empty()) {
                    (false, false) => Some(active[run % active.len()]),
                    _ => self.m.newest(*run),
                };
                let Some(i) = pick else {
                    return Ok(());
                };
                let r = self.m.runs[i].clone();
                let w = self.m.worker(*slot);
                if self.m.slots[*slot]
                    .held
                    .get(&r.id)
                    .is_some_and(|h| h.executing)
                {
                    // apalis does not hand a worker a task it is executing.
                    return Ok(());
                }
                let attempt = r.attempts + 1;
                let cutoff = chrono::Utc::now() - chrono::Duration::seconds(15);
                let got = db(self.store.start_attempt(&r.id, attempt, &w, cutoff).await)?;
                let artist_id = self.artist_ids[r.artist].clone();
                if !r.status.is_active() {
                    // A redelivered task of an ended run is dropped; the worker forgets it.
                    prop_assert_eq!(got, Err(StartRefused::Ended(r.status)));
                    self.m.slots[*slot].held.remove(&r.id);
                } else if r.status == RunStatus::Running
                    && r.worker.as_deref() != Some(w.as_str())
                    && !r.stale
                {
                    // Another live worker runs it (and sees any cancel itself): never run an
                    // artist twice at once, nor end a run under the worker that runs it.
                    prop_assert_eq!(got, Err(StartRefused::RunningElsewhere(r.worker.unwrap())));
                } else if r.cancel {
                    prop_assert_eq!(got, Err(StartRefused::CancelRequested));
                    // The runner's `cancel_idle` (private, so mirrored here: keep in step with
                    // runner.rs): restore what this process started, then end the run. A run
                    // a dead worker started: what it found is unknown here, so its `syncing`
                    // parts become `error` "interrupted".
                    let owned = self.m.slots[*slot].held.remove(&r.id);
                    if let Some(h) = &owned {
                        db(self
                            .store
                            .restore_syncing_parts(&artist_id, &to_status(h.prior))
                            .await)?;
                        restore(&mut self.m.parts[r.artist], h.prior);
                    } else {
                        db(self
                            .store
                            .fail_syncing_parts(
                                &artist_id,
                                "interrupted: cancelled after its worker stopped responding",
                            )
                            .await)?;
                        fail_syncing(&mut self.m.parts[r.artist]);
                    }
                    let ended = db(self
                        .store
                        .finish_run(&r.id, RunStatus::Cancelled, Some(&cancelled()), &empty())
                        .await)?;
                    prop_assert!(ended, "an active run ends as cancelled");
                    self.m.runs[i].status = RunStatus::Cancelled;
                } else {
                    // Queued, this worker's own (a retry), or its worker stopped: it starts.
                    let row = match got {
                        Ok(row) => row,
                        Err(refused) => {
                            return Err(TestCaseError::fail(format!(
                                "{w} may start run {} ({:?}, worker {:?}, stale {}): refused {refused:?}",
                                r.id, r.status, r.worker, r.stale
                            )));
                        }
                    };
                    prop_assert_eq!(row.status, RunStatus::Running);
                    prop_assert_eq!(row.worker.as_deref(), Some(w.as_str()));
                    prop_assert_eq!(row.attempts, attempt);
                    let m = &mut self.m.runs[i];
                    m.status = RunStatus::Running;
                    m.worker = Some(w.clone());
                    m.stale = false;
                    m.attempts = attempt;
                    // The runner keeps the statuses it found at its first start here.
                    let current = self.m.parts[r.artist];
                    let held = self.m.slots[*slot]
                        .held
                        .entry(r.id.clone())
                        .or_insert(Held {
                            artist: r.artist,
                            prior: current,
                            attempt,
                            executing: true,
                        });
                    held.attempt = attempt;
                    held.executing = true;
                    // The pipeline marks every part it will sync as syncing.
                    for source in Source::ALL {
                        db(self
                            .store
                            .set_part_status(&artist_id, source, PartStatus::Syncing)
                            .await)?;
                    }
                    self.m.parts[r.artist] = [PartStatus::Syncing; 3];
                }
            }
            Op::Finish {
                slot,
                pick,
                parts,
                retryable,
            } => {
                let executing: Vec<String> = self.m.slots[*slot]
                    .held
                    .iter()
                    .filter(|(_, h)| h.executing)
                    .map(|(id, _)| id.clone())
                    .collect();
                if executing.is_empty() {
                    return Ok(());
                }
                let id = executing[pick % executing.len()].clone();
                let h = self.m.slots[*slot].held[&id].clone();
                let artist_id = self.artist_ids[h.artist].clone();
                // Each part writes its own result, whatever happened to the run meanwhile.
                for (k, source) in Source::ALL.into_iter().enumerate() {
                    let status = if parts[k] {
                        PartStatus::Success
                    } else {
                        PartStatus::Error
                    };
                    let error = (!parts[k]).then_some("prop: the part failed");
                    db(self
                        .store
                        .set_part_result(&artist_id, source, status, error)
                        .await)?;
                    self.m.parts[h.artist][k] = status;
                }
                let i = self.m.run_index(&id);
                let all_ok = parts.iter().all(|p| *p);
                let message = "prop: a part failed";
                let mut tx = db(self.store.begin().await)?;
                db(syncdeck::store::artist_sync::finish_artist_sync_tx(
                    &mut tx,
                    &artist_id,
                    (!all_ok).then_some(message),
                )
                .await)?;
                db(tx.commit().await)?;
                let end = if all_ok {
                    db(self
                        .store
                        .finish_attempt(&id, h.attempt, "succeeded", None, None)
                        .await)?;
                    Some((RunStatus::Succeeded, None))
                } else if *retryable && h.attempt < MAX_ATTEMPTS {
                    let at = chrono::Utc::now() + chrono::Duration::seconds(1);
                    db(self
                        .store
                        .finish_attempt(
                            &id,
                            h.attempt,
                            "retrying",
                            Some(message),
                            Some((message, at)),
                        )
                        .await)?;
                    None
                } else {
                    db(self
                        .store
                        .finish_attempt(&id, h.attempt, "failed", Some(message), None)
                        .await)?;
                    let error = RunError {
                        message: message.into(),
                        source: Some("spotify".into()),
                        step: Some("albums".into()),
                        http_status: Some(503),
                    };
                    Some((RunStatus::Failed, Some(error)))
                };
                match end {
                    Some((status, error)) => {
                        let ended = db(self
                            .store
                            .finish_run(&id, status, error.as_ref(), &empty())
                            .await)?;
                        // Only an active run can end.
                        prop_assert_eq!(ended, self.m.runs[i].status.is_active());
                        if ended {
                            self.m.runs[i].status = status;
                        }
                        self.m.slots[*slot].held.remove(&id);
                    }
                    None => {
                        // Waits for its retry, still running and held by this worker.
                        if let Some(h) = self.m.slots[*slot].held.get_mut(&id) {
                            h.executing = false;
                        }
                    }
                }
            }
            Op::Heartbeat { slot } => {
                let w = self.m.worker(*slot);
                let ids: Vec<String> = self.m.slots[*slot].held.keys().cloned().collect();
                db(self.store.heartbeat_runs(&ids, &w).await)?;
                for r in self.m.runs.iter_mut() {
                    if ids.contains(&r.id)
                        && r.status == RunStatus::Running
                        && r.worker.as_deref() == Some(w.as_str())
                    {
                        r.stale = false;
                    }
                }
            }
            Op::Cancel { run } => {
                let Some(i) = self.m.newest(*run) else {
                    return Ok(());
                };
                let id = self.m.runs[i].id.clone();
                let got = db(self.engine.cancel(&id).await)?;
                self.expect_cancel(i, got)?;
            }
            Op::CancelArtist { artist } => {
                let a = artist % n;
                let got = db(self.engine.cancel_artist(&self.artist_ids[a]).await)?;
                match self.m.active_of(a) {
                    Some(i) => self.expect_cancel(i, got)?,
                    None => prop_assert_eq!(got, CancelOutcome::NotActive),
                }
            }
            Op::WatchCancels { slot } => {
                let ids: Vec<String> = self.m.slots[*slot].held.keys().cloned().collect();
                if ids.is_empty() {
                    return Ok(());
                }
                let mut flagged = db(self.store.cancel_flags(&ids).await)?;
                flagged.sort();
                let expected: Vec<String> = ids
                    .iter()
                    .filter(|id| self.m.runs[self.m.run_index(id)].cancel)
                    .cloned()
                    .collect();
                prop_assert_eq!(&flagged, &expected);
                for id in flagged {
                    let h = self.m.slots[*slot]
                        .held
                        .remove(&id)
                        .expect("flagged runs are held");
                    if h.executing {
                        db(self
                            .store
                            .finish_attempt(&id, h.attempt, "cancelled", None, None)
                            .await)?;
                    }
                    let artist_id = self.artist_ids[h.artist].clone();
                    db(self
                        .store
                        .restore_syncing_parts(&artist_id, &to_status(h.prior))
                        .await)?;
                    restore(&mut self.m.parts[h.artist], h.prior);
                    let i = self.m.run_index(&id);
                    let ended = db(self
                        .store
                        .finish_run(&id, RunStatus::Cancelled, Some(&cancelled()), &empty())
                        .await)?;
                    prop_assert_eq!(ended, self.m.runs[i].status.is_active());
                    if ended {
                        self.m.runs[i].status = RunStatus::Cancelled;
                    }
                }
            }
            Op::Stall { slot } => {
                let w = self.m.worker(*slot);
                self.stop_heartbeats(&w).await?;
            }
            Op::Crash { slot } => {
                let w = self.m.worker(*slot);
                self.stop_heartbeats(&w).await?;
                self.m.gone.insert(w);
                let s = &mut self.m.slots[*slot];
                s.generation += 1;
                s.held.clear();
            }
            Op::Shutdown { slot } => {
                let w = self.m.worker(*slot);
                let held = std::mem::take(&mut self.m.slots[*slot].held);
                // Executing runs first, then those waiting for a retry (as `runner::shutdown`).
                let order = held
                    .iter()
                    .filter(|(_, h)| h.executing)
                    .chain(held.iter().filter(|(_, h)| !h.executing));
                for (id, h) in order {
                    let artist_id = self.artist_ids[h.artist].clone();
                    db(self
                        .store
                        .restore_syncing_parts(&artist_id, &to_status(h.prior))
                        .await)?;
                    restore(&mut self.m.parts[h.artist], h.prior);
                    if h.executing {
                        db(self
                            .store
                            .finish_attempt(id, h.attempt, "interrupted", Some("stopping"), None)
                            .await)?;
                    }
                    let requeued = db(self.store.requeue_run(id).await)?;
                    let i = self.m.run_index(id);
                    let r = &mut self.m.runs[i];
                    prop_assert_eq!(requeued, r.status == RunStatus::Running);
                    if requeued {
                        r.status = RunStatus::Queued;
                        r.worker = None;
                        r.stale = false;
                    }
                }
                db(self.store.unregister_worker(&w).await)?;
                self.m.gone.insert(w);
                self.m.slots[*slot].generation += 1;
            }
            Op::Recover => {
                let repaired = db(self.engine.recover().await)?;
                let mut expected = 0;
                for r in self.m.runs.iter_mut() {
                    if r.status == RunStatus::Running && r.stale {
                        r.status = RunStatus::Queued;
                        r.worker = None;
                        r.stale = false;
                        fail_syncing(&mut self.m.parts[r.artist]);
                        expected += 1;
                    }
                }
                for a in 0..n {
                    if !self.m.has_running(a) && fail_syncing(&mut self.m.parts[a]) {
                        expected += 1;
                    }
                }
                prop_assert_eq!(repaired, expected, "what recovery repaired");
            }
        }
        Ok(())
    }

    fn expect_cancel(&mut self, i: usize, got: CancelOutcome) -> Result<(), TestCaseError> {
        let r = &mut self.m.runs[i];
        match r.status {
            RunStatus::Queued => {
                prop_assert_eq!(got, CancelOutcome::CancelledQueued);
                r.status = RunStatus::Cancelled;
                r.cancel = true;
            }
            RunStatus::Running => {
                prop_assert_eq!(got, CancelOutcome::Flagged);
                r.cancel = true;
            }
            // An ended run: nothing to cancel (the frozen-row check sees that nothing changed).
            _ => prop_assert_eq!(got, CancelOutcome::NotActive),
        }
        Ok(())
    }

    /// The worker stopped beating long ago: its running runs' heartbeats are old.
    async fn stop_heartbeats(&mut self, worker: &str) -> Result<(), TestCaseError> {
        let q = syncdeck::sql!(
            "UPDATE syncdeck_runs SET heartbeat_at = $2::timestamptz WHERE status = 'running' AND worker = $1"
        );
        db(syncdeck::with_pool!(&self.store.db, p, b => {
            sqlx::query(q.text(b)).bind(worker).bind(LONG_AGO).execute(p).await.map(|_| ())
        }))?;
        for r in self.m.runs.iter_mut() {
            if r.status == RunStatus::Running && r.worker.as_deref() == Some(worker) {
                r.stale = true;
            }
        }
        Ok(())
    }

    /// The database agrees with the model, and the invariants hold.
    async fn check(&mut self, after: &Op) -> Result<(), TestCaseError> {
        let ids: Vec<String> = self.m.runs.iter().map(|r| r.id.clone()).collect();
        let rows: HashMap<String, RunRow> = db(self.store.runs(&ids).await)?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        prop_assert_eq!(rows.len(), ids.len(), "every run is there once");
        let total: i64 = db(self.store.run_counts().await)?.iter().map(|c| c.1).sum();
        prop_assert_eq!(total, ids.len() as i64, "no run the model does not know");
        let mut active_per_artist = vec![0; self.artist_ids.len()];
        for m in &self.m.runs {
            let row = &rows[&m.id];
            prop_assert_eq!(&row.artist_id, &self.artist_ids[m.artist]);
            prop_assert_eq!(
                row.status,
                m.status,
                "status of run {} after {:?}",
                m.id,
                after
            );
            prop_assert_eq!(&row.worker, &m.worker, "worker of run {}", m.id);
            prop_assert_eq!(
                row.cancel_requested,
                m.cancel,
                "cancel flag of run {}",
                m.id
            );
            prop_assert_eq!(row.attempts, m.attempts, "attempts of run {}", m.id);
            prop_assert_eq!(row.priority, m.priority, "priority of run {}", m.id);
            prop_assert_eq!(row.max_attempts, MAX_ATTEMPTS);
            // Active exactly while unfinished.
            prop_assert_eq!(
                row.finished_at.is_none(),
                row.status.is_active(),
                "{:?}",
                row
            );
            if row.status == RunStatus::Running {
                prop_assert!(row.worker.is_some() && row.started_at.is_some());
                prop_assert!(row.heartbeat_at.is_some());
            }
            if row.status == RunStatus::Queued {
                prop_assert!(
                    row.worker.is_none(),
                    "a queued run has no worker: {:?}",
                    row
                );
            }
            if row.status.is_active() {
                active_per_artist[m.artist] += 1;
            } else {
                // History never changes once written.
                match self.frozen.get(&m.id) {
                    Some(before) => prop_assert_eq!(before, row, "an ended run changed"),
                    None => {
                        self.frozen.insert(m.id.clone(), row.clone());
                    }
                }
                // No attempt stays open on an ended run, unless a live worker still executes it.
                for a in db(self.store.run_attempts(&m.id).await)? {
                    if a.finished_at.is_none() {
                        let still_running = self.m.slots.iter().enumerate().any(|(s, slot)| {
                            slot.held.get(&m.id).is_some_and(|h| {
                                h.executing
                                    && h.attempt == a.attempt
                                    && a.worker.as_deref() == Some(self.m.worker(s).as_str())
                            })
                        });
                        prop_assert!(
                            still_running,
                            "run {} ended ({:?}) with attempt {} of {:?} still open",
                            m.id,
                            row.status,
                            a.attempt,
                            a.worker
                        );
                    }
                }
            }
        }
        prop_assert!(
            active_per_artist.iter().all(|n| *n <= 1),
            "at most one active run per artist: {:?}",
            active_per_artist
        );
        let mut violators = BTreeSet::new();
        for (a, artist_id) in self.artist_ids.iter().enumerate() {
            let active = db(self.store.active_run_of(artist_id).await)?.map(|r| r.id);
            let expected = self.m.active_of(a).map(|i| self.m.runs[i].id.clone());
            prop_assert_eq!(active, expected, "the active run of artist {}", a);
            let target = db(self.store.sync_target(artist_id).await)?;
            let parts = to_parts(&target.expect("the artist exists").sync_status);
            prop_assert_eq!(parts, self.m.parts[a], "sync_status of artist {}", a);
            if parts.contains(&PartStatus::Syncing) && !self.m.has_running(a) {
                violators.insert(a);
            }
        }
        // `syncing` only while a run is running.
        prop_assert!(
            violators.is_empty(),
            "artists {:?} syncing without a running run after {:?}",
            violators,
            after
        );
        if matches!(after, Op::Recover) {
            for r in &self.m.runs {
                if r.status == RunStatus::Running {
                    let row = &rows[&r.id];
                    prop_assert!(!r.stale, "recovery re-queued every run without heartbeat");
                    prop_assert!(
                        !self.m.gone.contains(row.worker.as_deref().unwrap_or("")),
                        "no run left running for a dead worker: {:?}",
                        row
                    );
                }
            }
        }
        Ok(())
    }
}

fn cancelled() -> RunError {
    RunError {
        message: "cancelled by the operator".into(),
        ..Default::default()
    }
}

fn empty() -> serde_json::Value {
    serde_json::json!({})
}

/// One case: fresh tables, `n` artists with the given statuses, then the operations.
async fn run_case(
    store: &Store,
    engine: &Engine,
    n: usize,
    initial: &[[PartStatus; 3]],
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let jobs = match store.backend() {
        Backend::Postgres => "DELETE FROM apalis.jobs",
        Backend::Sqlite => "DELETE FROM Jobs",
    };
    for sql in [
        "DELETE FROM syncdeck_run_attempts",
        "DELETE FROM syncdeck_runs",
        "DELETE FROM syncdeck_workers",
        "DELETE FROM artists",
        jobs,
    ] {
        db(syncdeck::with_pool!(&store.db, p, b => {
            sqlx::query(sql).execute(p).await.map(|_| ())
        }))?;
    }
    let insert = syncdeck::sql!(
        "INSERT INTO artists (id, name, ticketmaster_id, sync_status) VALUES ($1::uuid, $2, $3, $4::jsonb)"
    );
    let mut artist_ids = Vec::new();
    for (a, parts) in initial.iter().enumerate().take(n) {
        let id = uuid::Uuid::new_v4().to_string();
        db(syncdeck::with_pool!(&store.db, p, b => {
            sqlx::query(insert.text(b)).bind(&id).bind(format!("Prop Artist {a}"))
                .bind(format!("K8prop{a}")).bind(to_status(*parts).to_json()).execute(p).await.map(|_| ())
        }))?;
        artist_ids.push(id);
    }
    let mut world = World {
        store,
        engine,
        artist_ids,
        m: Model {
            parts: initial[..n].to_vec(),
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            ..Model::default()
        },
        frozen: HashMap::new(),
    };
    for op in ops {
        world.apply(op).await?;
        world.check(op).await?;
    }
    // Whatever happened, one recovery leaves nothing syncing and no dead worker's run running.
    world.apply(&Op::Recover).await?;
    world.check(&Op::Recover).await
}

fn part() -> impl Strategy<Value = PartStatus> {
    prop_oneof![
        Just(PartStatus::Pending),
        Just(PartStatus::Success),
        Just(PartStatus::Error)
    ]
}

/// Mostly the newest runs (live ones), sometimes any older one (ended ones).
fn run_pick() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0usize..2, 1 => 0usize..32]
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        Just(Kind::Manual),
        Just(Kind::Bulk),
        Just(Kind::RetryFailed)
    ];
    prop_oneof![
        4 => (prop::collection::vec(0usize..4, 1..=3), kind)
            .prop_map(|(artists, kind)| Op::Enqueue { artists, kind }),
        6 => (0..SLOTS, 0usize..4, prop::bool::weighted(0.15)).prop_map(
            |(slot, run, stale_task)| Op::Deliver { slot, run, stale_task }
        ),
        4 => (0..SLOTS, 0usize..4, any::<[bool; 3]>(), any::<bool>()).prop_map(
            |(slot, pick, parts, retryable)| Op::Finish { slot, pick, parts, retryable }
        ),
        2 => (0..SLOTS).prop_map(|slot| Op::Heartbeat { slot }),
        2 => run_pick().prop_map(|run| Op::Cancel { run }),
        1 => (0usize..4).prop_map(|artist| Op::CancelArtist { artist }),
        2 => (0..SLOTS).prop_map(|slot| Op::WatchCancels { slot }),
        1 => (0..SLOTS).prop_map(|slot| Op::Stall { slot }),
        1 => (0..SLOTS).prop_map(|slot| Op::Crash { slot }),
        1 => (0..SLOTS).prop_map(|slot| Op::Shutdown { slot }),
        2 => Just(Op::Recover),
    ]
}

type Case = (usize, Vec<[PartStatus; 3]>, Vec<Op>);

fn case() -> impl Strategy<Value = Case> {
    (
        2usize..=4,
        prop::collection::vec(prop::array::uniform3(part()), 4),
        prop::collection::vec(op(), 1..=24),
    )
}

/// Runs the property on one store; the runtime lives across cases (the pool is bound to it).
fn check_backend(rt: &tokio::runtime::Runtime, store: &Store, cases: u32) {
    let engine = Engine::new(
        store.clone(),
        Clients {
            ticketmaster: Err("not used: no worker is started".into()),
            spotify: Err("not used: no worker is started".into()),
            setlistfm: Err("not used: no worker is started".into()),
        },
        EngineSettings {
            worker_name: RECOVERER.into(),
            ..EngineSettings::default()
        },
    );
    // Far from a cutoff: the live workers' heartbeats must stay fresh for a whole case.
    assert!(engine.settings().orphan_after() >= std::time::Duration::from_secs(15));
    assert_eq!(engine.settings().max_attempts, MAX_ATTEMPTS);
    // PROPTEST_CASES runs more (or fewer) cases locally.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let mut runner = TestRunner::new(Config {
        cases,
        // No regression files in the tree; a failure prints its minimal case.
        failure_persistence: None,
        max_shrink_time: 120_000,
        ..Config::default()
    });
    let result = runner.run(&case(), |(n, initial, ops)| {
        rt.block_on(run_case(store, &engine, n, &initial, &ops))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn run_state_machine_holds_its_invariants_on_sqlite() {
    let rt = runtime();
    let (_dir, url) = common::sqlite_url();
    let store = rt.block_on(common::migrated_store(&url));
    check_backend(&rt, &store, 64);
}

#[test]
fn run_state_machine_holds_its_invariants_on_postgres() {
    if common::skip_pg() {
        return;
    }
    let rt = runtime();
    let pg = rt.block_on(common::PgDatabase::create("prop_runs"));
    let url: DatabaseUrl = pg.database_url();
    let store = rt.block_on(common::migrated_store(&url));
    check_backend(&rt, &store, 48);
    rt.block_on(store.close());
    drop(pg);
}
