//! The sync engine (layer 4): the per-artist pipeline run as apalis tasks, one active run per
//! artist, cancellation from any process, recovery after crashes, and one event stream for the
//! front ends. It knows nothing of the TUI or the CLI.

pub mod artist_import;
pub mod budget_gate;
pub mod clients;
pub mod events;
pub mod health;
pub mod pipeline;
pub mod plan;
pub mod queue;
mod runner;
pub mod scheduler;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub use events::{EngineEvent, EventBus, RunCounts};
pub use health::DatabaseUnusable;
pub use pipeline::{Clients, PipelineSettings};
pub use queue::RequestKind;

use crate::store::artist_sync::Selection;
use crate::store::runs::{CancelOutcome, Requested, RunRequest, RunRow, RunStatus};
use crate::store::{Store, StoreError};

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Artists synced at the same time by this process.
    pub concurrency: usize,
    /// Tries of one run (the first included) when failures are transient.
    pub max_attempts: i32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// apalis's and syncdeck's heartbeat period.
    pub heartbeat: Duration,
    /// Heartbeats missed before a process counts as dead and its runs move on.
    pub missed_heartbeats: usize,
    /// How often an idle worker looks for new tasks.
    pub poll_interval: Duration,
    /// How often running runs look for a cancel request from another process.
    pub watch_interval: Duration,
    pub pipeline: PipelineSettings,
    /// Unique per process: apalis refuses a worker name that is still alive.
    pub worker_name: String,
    /// Finished runs (and their attempts) older than this are deleted, at start and hourly:
    /// the console's history, not an archive.
    pub keep_runs: Duration,
}

/// The default [`EngineSettings::keep_runs`]: 90 days.
pub const KEEP_RUNS: Duration = Duration::from_secs(90 * 24 * 3600);

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            concurrency: 4,
            max_attempts: 3,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(20),
            heartbeat: Duration::from_secs(5),
            missed_heartbeats: 3,
            poll_interval: Duration::from_millis(250),
            watch_interval: Duration::from_millis(500),
            pipeline: PipelineSettings::default(),
            worker_name: default_worker_name(),
            keep_runs: KEEP_RUNS,
        }
    }
}

impl EngineSettings {
    /// After this long without a heartbeat, a process's runs are taken over.
    pub fn orphan_after(&self) -> Duration {
        self.heartbeat * self.missed_heartbeats.max(1) as u32
    }

    /// How long a lost database connection may last before the database counts as unusable:
    /// as long as other processes wait before taking this one's runs over. A shorter outage
    /// (a server restart, a network blip) is ridden out.
    pub fn outage_grace(&self) -> Duration {
        self.orphan_after()
    }
}

/// `host-pid-random`: readable in the jobs view, unique across restarts.
pub fn default_worker_name() -> String {
    format!(
        "{}-{}-{:04x}",
        host_name(),
        std::process::id(),
        rand::random::<u16>()
    )
}

/// Who is acting, for the record of a change (the queue's pause switch): `user@host (via)`.
pub fn operator(via: &str) -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "someone".into());
    format!("{user}@{} ({via})", host_name())
}

pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no artist matches {0:?}; check the id or name with `syncdeck status`")]
    UnknownArtist(String),
    #[error("{0}")]
    Worker(String),
    #[error(transparent)]
    DatabaseUnusable(#[from] DatabaseUnusable),
}

/// What one request did for one artist.
#[derive(Debug, Clone, Serialize)]
pub struct Enqueued {
    pub artist_id: String,
    pub artist_name: String,
    pub run_id: String,
    /// The artist already had an active run, which this request joined.
    pub joined: bool,
}

/// The engine: cheap to clone, shared by the front ends.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<runner::Inner>,
}

impl Engine {
    pub fn new(store: Store, clients: Clients, settings: EngineSettings) -> Engine {
        let grace = settings.outage_grace();
        let queue_worker = settings.worker_name.clone();
        Engine {
            inner: Arc::new(runner::Inner {
                store,
                clients,
                settings,
                bus: EventBus::default(),
                owned: Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
                worker_ctx: Mutex::new(None),
                tasks: Mutex::new(Vec::new()),
                health: health::Health::new(grace),
                queue_worker: Mutex::new(queue_worker),
                in_flight: std::sync::atomic::AtomicUsize::new(0),
                paused: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    pub fn worker_name(&self) -> &str {
        &self.inner.settings.worker_name
    }

    /// Every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.bus.subscribe()
    }

    pub fn bus(&self) -> &EventBus {
        &self.inner.bus
    }

    /// Queues the given artists (joining any active run of theirs).
    pub async fn enqueue(
        &self,
        artists: &[(String, String)],
        kind: RequestKind,
    ) -> Result<Vec<Enqueued>, EngineError> {
        let mut out = Vec::with_capacity(artists.len());
        // One transaction per chunk: a run row and its task land together or not at all.
        for chunk in artists.chunks(200) {
            let mut tx = self.inner.store.begin().await?;
            let mut batch = Vec::with_capacity(chunk.len());
            for (artist_id, artist_name) in chunk {
                let req = RunRequest {
                    artist_id: artist_id.clone(),
                    artist_name: artist_name.clone(),
                    priority: kind.priority(),
                    trigger: kind.trigger().to_string(),
                    max_attempts: self.inner.settings.max_attempts,
                };
                let requested = crate::store::runs::request_run(&mut tx, &req).await?;
                if let Requested::Joined {
                    run_id,
                    status: RunStatus::Queued,
                    task_id: Some(task_id),
                    priority,
                } = &requested
                    && kind.priority() > *priority
                {
                    queue::raise_priority(&mut tx, task_id, kind.priority()).await?;
                    crate::store::runs::set_task(&mut tx, run_id, task_id, kind.priority()).await?;
                }
                if let Requested::New { run_id } = &requested {
                    let job = queue::SyncJob {
                        run_id: run_id.clone(),
                        artist_id: artist_id.clone(),
                    };
                    let task_id = queue::push_in_tx(&mut tx, &job, kind.priority()).await?;
                    crate::store::runs::set_task(&mut tx, run_id, &task_id, kind.priority())
                        .await?;
                }
                batch.push(Enqueued {
                    artist_id: artist_id.clone(),
                    artist_name: artist_name.clone(),
                    run_id: requested.run_id().to_string(),
                    joined: matches!(requested, Requested::Joined { .. }),
                });
            }
            tx.commit().await?;
            for e in &batch {
                self.inner.bus.send(EngineEvent::Queued {
                    run_id: e.run_id.clone(),
                    artist_id: e.artist_id.clone(),
                    artist_name: e.artist_name.clone(),
                    joined: e.joined,
                    priority: kind.priority(),
                });
            }
            out.extend(batch);
        }
        Ok(out)
    }

    /// Queues every artist, or every artist with a failed part.
    pub async fn enqueue_selection(
        &self,
        which: Selection,
        kind: RequestKind,
    ) -> Result<Vec<Enqueued>, EngineError> {
        let refs = self.inner.store.artist_refs(which).await?;
        self.enqueue(&refs, kind).await
    }

    /// Pauses (`true`) or resumes the queue for every process on this database: workers start
    /// no run while it is paused (running ones finish); `by` names who did it.
    pub async fn set_paused(&self, paused: bool, by: &str) -> Result<(), EngineError> {
        self.inner.store.set_queue_paused(paused, by).await?;
        // This process at once; the others at their next read of the switch.
        runner::apply_pause(&self.inner, paused);
        Ok(())
    }

    /// Resolves ids or names (exact id, Ticketmaster id, or name) to artists.
    pub async fn resolve_artists(
        &self,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, EngineError> {
        let mut out = Vec::new();
        for key in keys {
            let found = self.inner.store.find_artists(key).await?;
            if found.is_empty() {
                return Err(EngineError::UnknownArtist(key.clone()));
            }
            out.extend(found.into_iter().map(|a| (a.id, a.name)));
        }
        out.dedup_by(|a, b| a.0 == b.0);
        Ok(out)
    }

    /// Cancels a run: a queued one at once, a running one at its next await point (in
    /// whichever process runs it).
    pub async fn cancel(&self, run_id: &str) -> Result<CancelOutcome, EngineError> {
        let outcome = self.inner.store.request_cancel(run_id).await?;
        match outcome {
            CancelOutcome::CancelledQueued => {
                if let Some(run) = self.inner.store.run(run_id).await? {
                    self.inner.bus.send(EngineEvent::Finished {
                        run_id: run.id.clone(),
                        artist_id: run.artist_id.clone(),
                        artist_name: run.artist_name.clone(),
                        status: run.status,
                        error: run.error.clone(),
                        counts: RunCounts::default(),
                        duration: Duration::ZERO,
                    });
                }
            }
            CancelOutcome::Flagged => self.inner.signal_cancel(run_id),
            CancelOutcome::NotActive => {}
        }
        Ok(outcome)
    }

    /// Cancels the artist's active run, if any.
    pub async fn cancel_artist(&self, artist_id: &str) -> Result<CancelOutcome, EngineError> {
        match self.inner.store.active_run_of(artist_id).await? {
            Some(run) => self.cancel(&run.id).await,
            None => Ok(CancelOutcome::NotActive),
        }
    }

    /// Cancels every active run; returns how many were active.
    pub async fn cancel_all(&self) -> Result<usize, EngineError> {
        let ids = self.inner.store.active_run_ids().await?;
        for id in &ids {
            self.cancel(id).await?;
        }
        Ok(ids.len())
    }

    /// Starts this process's worker and its housekeeping (heartbeats, cancel watch, recovery).
    pub async fn start(&self) -> Result<(), EngineError> {
        runner::start(&self.inner).await
    }

    /// Runs recovery once: runs of dead processes back to the queue, no artist left
    /// `syncing`, lost tasks pushed again. Returns how many things it repaired.
    pub async fn recover(&self) -> Result<usize, EngineError> {
        Ok(runner::recover(&self.inner).await?)
    }

    /// Stops cleanly: running pipelines stop at their next await point, their artists' parts
    /// go back to what they were, their runs go back to the queue.
    pub async fn shutdown(&self) {
        runner::shutdown(&self.inner).await
    }

    /// Resolves once the database has become unusable: at once on a full disk or an I/O
    /// error, after [`EngineSettings::outage_grace`] for a lost connection that does not come
    /// back. Headless front ends stop on it (exit code 3); the console shows it.
    pub async fn database_unusable(&self) -> DatabaseUnusable {
        let outage = self.inner.health.unusable().await;
        self.inner.unusable(&outage)
    }

    /// The database failure going on now, if any (a lost connection may still come back).
    pub fn database_outage(&self) -> Option<DatabaseUnusable> {
        self.inner.health.current().map(|o| self.inner.unusable(&o))
    }

    /// Records a database error a front end met in its own query: a failure of the whole
    /// database counts toward the engine's view of it, like the engine's own errors.
    pub fn note_store_error(&self, e: &StoreError) {
        self.inner.db_error(e);
    }

    /// The failure of the whole database behind `e`, if that is what `e` is, with what to do.
    pub fn unusable_because(&self, e: &EngineError) -> Option<DatabaseUnusable> {
        match e {
            EngineError::DatabaseUnusable(u) => Some(u.clone()),
            EngineError::Store(s) => {
                let fault = s.fault()?;
                self.note_store_error(s);
                Some(DatabaseUnusable {
                    database: self.inner.store.describe(),
                    fault,
                    detail: s
                        .to_string()
                        .split("; ")
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                    advice: self.inner.store.fault_advice(fault),
                    after: Duration::ZERO,
                })
            }
            _ => None,
        }
    }

    /// Runs executing in this process right now.
    pub fn running_here(&self) -> usize {
        self.inner.executing_count()
    }

    /// Waits until every given run has ended; returns them. Runs may end in any process.
    pub async fn wait_for(&self, run_ids: &[String]) -> Result<Vec<RunRow>, EngineError> {
        let mut pending: Vec<String> = run_ids.to_vec();
        pending.sort();
        pending.dedup();
        let mut done: HashMap<String, RunRow> = HashMap::new();
        let unusable = self.database_unusable();
        tokio::pin!(unusable);
        loop {
            let rows = match self.inner.store.runs(&pending).await {
                Ok(rows) => rows,
                // The engine's health decides when a failing database is given up on.
                Err(e) if e.fault().is_some() => {
                    self.note_store_error(&e);
                    Vec::new()
                }
                Err(e) => return Err(e.into()),
            };
            for r in rows {
                if !r.status.is_active() {
                    done.insert(r.id.clone(), r);
                }
            }
            pending.retain(|id| !done.contains_key(id));
            if pending.is_empty() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                u = &mut unusable => return Err(u.into()),
            }
        }
        Ok(run_ids
            .iter()
            .filter_map(|id| done.get(id).cloned())
            .collect())
    }
}
