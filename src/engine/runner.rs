//! What happens to one task: start the run, run the pipeline (stoppable at every await point),
//! record the outcome, and decide between done, retry and failed. Plus the housekeeping loops
//! around the worker: heartbeats, the cancel watch, and recovery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::prelude::{AbortError, BoxDynError, WorkerContext};
use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::events::{EngineEvent, EventBus, LogLevel, LogLine, RunCounts};
use super::pipeline::{self, Clients, RunScope};
use super::queue::{self, RetryRun, SyncJob, WorkerSettings};
use super::{EngineError, EngineSettings};
use crate::store::runs::{RunError, RunStatus, StartRefused};
use crate::store::sync_status::SyncStatus;
use crate::store::{Store, StoreError};

/// Which run, for events and messages.
#[derive(Clone, Copy)]
struct Who<'a> {
    run_id: &'a str,
    artist_id: &'a str,
    artist_name: &'a str,
}

/// Why a running pipeline is told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    Cancel,
    Shutdown,
}

/// A run this process holds: executing now (`stop` is set) or waiting for its retry.
pub(super) struct Owned {
    artist_id: String,
    artist_name: String,
    prior: SyncStatus,
    started: Instant,
    stop: Option<watch::Sender<Option<Stop>>>,
}

pub(super) struct Inner {
    pub(super) store: Store,
    pub(super) clients: Clients,
    pub(super) settings: EngineSettings,
    pub(super) bus: EventBus,
    pub(super) owned: Mutex<HashMap<String, Owned>>,
    pub(super) shutdown: CancellationToken,
    pub(super) worker_ctx: Mutex<Option<(WorkerContext, WorkerSettings)>>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    pub(super) fn signal_cancel(&self, run_id: &str) {
        if let Some(o) = lock(&self.owned).get(run_id)
            && let Some(stop) = &o.stop
        {
            let _ = stop.send(Some(Stop::Cancel));
        }
    }

    pub(super) fn executing_count(&self) -> usize {
        lock(&self.owned)
            .values()
            .filter(|o| o.stop.is_some())
            .count()
    }

    fn owned_ids(&self) -> Vec<String> {
        lock(&self.owned).keys().cloned().collect()
    }

    fn forget(&self, run_id: &str) -> Option<Owned> {
        lock(&self.owned).remove(run_id)
    }

    fn finished_event(
        &self,
        who: Who<'_>,
        status: RunStatus,
        error: Option<String>,
        counts: RunCounts,
        started: Option<Instant>,
    ) {
        self.bus.send(EngineEvent::Finished {
            run_id: who.run_id.to_string(),
            artist_id: who.artist_id.to_string(),
            artist_name: who.artist_name.to_string(),
            status,
            error,
            counts,
            duration: started.map(|s| s.elapsed()).unwrap_or_default(),
        });
    }

    /// Ends a run that is not executing here as cancelled, restoring what it had started.
    async fn cancel_idle(&self, run_id: &str) -> Result<(), StoreError> {
        let owned = self.forget(run_id);
        let Some(run) = self.store.run(run_id).await? else {
            return Ok(());
        };
        match &owned {
            Some(o) => {
                self.store
                    .restore_syncing_parts(&o.artist_id, &o.prior)
                    .await?
            }
            // Started by a worker that stopped responding: what it found is unknown here.
            None => self
                .store
                .fail_syncing_parts(
                    &run.artist_id,
                    "interrupted: cancelled after its worker stopped responding",
                )
                .await
                .map(|_| ())?,
        }
        let error = RunError {
            message: "cancelled by the operator".into(),
            ..Default::default()
        };
        if self
            .store
            .finish_run(run_id, RunStatus::Cancelled, Some(&error), &run.counts)
            .await?
        {
            self.finished_event(
                Who {
                    run_id,
                    artist_id: &run.artist_id,
                    artist_name: &run.artist_name,
                },
                RunStatus::Cancelled,
                Some(error.message),
                RunCounts::default(),
                owned.map(|o| o.started),
            );
        }
        Ok(())
    }

    /// apalis calls this for every delivery of a task.
    pub(super) async fn execute(
        self: Arc<Self>,
        job: SyncJob,
        attempt: usize,
        worker: String,
    ) -> Result<(), BoxDynError> {
        let attempt = attempt.max(1) as i32;
        let run_id = job.run_id.as_str();
        if self.shutdown.is_cancelled() {
            // Delivered while stopping: leave it for the next process (apalis re-delivers).
            let _ = self.store.requeue_run(run_id).await;
            return Err("syncdeck is stopping; the task goes back to the queue".into());
        }
        let cutoff = Utc::now()
            - chrono::Duration::from_std(self.settings.orphan_after()).unwrap_or_default();
        let run = match self
            .store
            .start_attempt(run_id, attempt, &worker, cutoff)
            .await
        {
            Ok(Ok(run)) => run,
            Ok(Err(StartRefused::Missing)) | Ok(Err(StartRefused::Ended(_))) => {
                self.forget(run_id);
                return Ok(());
            }
            Ok(Err(StartRefused::RunningElsewhere(other))) => {
                // A second delivery while a live worker runs it: that worker finishes it.
                tracing::warn!(
                    "run {run_id} is already running on {other}; this delivery is dropped"
                );
                return Ok(());
            }
            Ok(Err(StartRefused::CancelRequested)) => {
                self.cancel_idle(run_id).await.map_err(retry)?;
                return Err(Box::new(AbortError::new("cancelled before it started")));
            }
            Err(e) => return Err(retry(e)),
        };
        let Some(target) = self
            .store
            .sync_target(&run.artist_id)
            .await
            .map_err(retry)?
        else {
            let error = RunError {
                message: "the artist no longer exists".into(),
                ..Default::default()
            };
            let _ = self
                .store
                .finish_run(run_id, RunStatus::Failed, Some(&error), &run.counts)
                .await;
            self.forget(run_id);
            self.finished_event(
                Who {
                    run_id,
                    artist_id: &run.artist_id,
                    artist_name: &run.artist_name,
                },
                RunStatus::Failed,
                Some(error.message.clone()),
                RunCounts::default(),
                None,
            );
            return Err(Box::new(AbortError::new(error.message)));
        };
        let (stop_tx, mut stop_rx) = watch::channel(None);
        {
            let mut owned = lock(&self.owned);
            let entry = owned.entry(run_id.to_string()).or_insert_with(|| Owned {
                artist_id: target.id.clone(),
                artist_name: target.name.clone(),
                prior: target.sync_status,
                started: Instant::now(),
                stop: None,
            });
            entry.stop = Some(stop_tx);
        }
        self.bus.send(EngineEvent::Started {
            run_id: run_id.to_string(),
            artist_id: target.id.clone(),
            artist_name: target.name.clone(),
            attempt,
            worker: worker.clone(),
        });
        tracing::info!(artist_id = %target.id, "sync of {} started (attempt {attempt})", target.name);
        let done = pipeline::done_sources(run.progress.as_ref());
        let scope = RunScope {
            store: &self.store,
            clients: &self.clients,
            settings: &self.settings.pipeline,
            bus: &self.bus,
            run_id,
            artist: &target,
        };
        let span = tracing::info_span!("run", artist_id = %target.id, run_id = %run_id);
        let signalled = async {
            loop {
                if let Some(reason) = *stop_rx.borrow_and_update() {
                    return reason;
                }
                if stop_rx.changed().await.is_err() {
                    return Stop::Shutdown;
                }
            }
        };
        // The shutdown token too: a run that registered just after shutdown signalled the
        // others would otherwise miss it and hold the shutdown up.
        let stopped = async {
            tokio::select! {
                reason = signalled => reason,
                _ = self.shutdown.cancelled() => Stop::Shutdown,
            }
        };
        let result = tokio::select! {
            r = scope.run(&done).instrument(span) => Ok(r),
            s = stopped => Err(s),
        };
        if let Some(o) = lock(&self.owned).get_mut(run_id) {
            o.stop = None;
        }
        let (prior, started) = lock(&self.owned)
            .get(run_id)
            .map(|o| (o.prior, o.started))
            .unwrap_or((target.sync_status, Instant::now()));
        match result {
            Err(Stop::Cancel) => {
                // The dropped pipeline rolled back its open transaction; parts it had finished
                // keep their result, the rest go back to what they were.
                self.store
                    .finish_attempt(run_id, attempt, "cancelled", None, None)
                    .await
                    .map_err(retry)?;
                self.cancel_idle(run_id).await.map_err(retry)?;
                tracing::info!(artist_id = %target.id, "sync of {} cancelled", target.name);
                Err(Box::new(AbortError::new("cancelled by the operator")))
            }
            Err(Stop::Shutdown) => {
                self.store
                    .restore_syncing_parts(&target.id, &prior)
                    .await
                    .map_err(retry)?;
                self.store
                    .finish_attempt(
                        run_id,
                        attempt,
                        "interrupted",
                        Some("syncdeck was stopping"),
                        None,
                    )
                    .await
                    .map_err(retry)?;
                self.store.requeue_run(run_id).await.map_err(retry)?;
                self.forget(run_id);
                self.bus.send(EngineEvent::Requeued {
                    run_id: run_id.to_string(),
                    artist_id: target.id.clone(),
                    reason: "syncdeck was stopping".into(),
                });
                Err("interrupted by shutdown; the task goes back to the queue".into())
            }
            Ok(Err(store_error)) => {
                // The database failed while recording statuses: nothing may stay `syncing`.
                let message = format!("database: {store_error}");
                let _ = self.store.fail_syncing_parts(&target.id, &message).await;
                self.settle_failure(
                    Who {
                        run_id,
                        artist_id: &target.id,
                        artist_name: &target.name,
                    },
                    attempt,
                    &run.counts,
                    RunError {
                        message: message.clone(),
                        ..Default::default()
                    },
                    true,
                    started,
                )
                .await
            }
            Ok(Ok(outcome)) => {
                let mut progress = run
                    .progress
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({}));
                let done: Vec<&str> = outcome
                    .succeeded_sources()
                    .iter()
                    .map(|s| s.key())
                    .collect();
                progress["done"] = serde_json::json!(done);
                let mut counts: RunCounts =
                    serde_json::from_value(run.counts.clone()).unwrap_or_default();
                counts.add(&outcome.counts());
                let _ = self.store.set_run_progress(run_id, &progress).await;
                let errors = outcome.errors();
                if errors.is_empty() {
                    let mut tx = self.store.begin().await.map_err(retry)?;
                    crate::store::artist_sync::finish_artist_sync_tx(&mut tx, &target.id, None)
                        .await
                        .map_err(retry)?;
                    tx.commit().await.map_err(retry)?;
                    self.store
                        .finish_attempt(run_id, attempt, "succeeded", None, None)
                        .await
                        .map_err(retry)?;
                    self.store
                        .finish_run(run_id, RunStatus::Succeeded, None, &counts.to_json())
                        .await
                        .map_err(retry)?;
                    self.forget(run_id);
                    tracing::info!(artist_id = %target.id, "sync of {} succeeded", target.name);
                    self.finished_event(
                        Who {
                            run_id,
                            artist_id: &target.id,
                            artist_name: &target.name,
                        },
                        RunStatus::Succeeded,
                        None,
                        counts,
                        Some(started),
                    );
                    return Ok(());
                }
                let message = errors
                    .iter()
                    .map(|e| e.summary())
                    .collect::<Vec<_>>()
                    .join("; ");
                let first = errors[0];
                let retryable = errors.iter().any(|e| e.retryable);
                let mut tx = self.store.begin().await.map_err(retry)?;
                crate::store::artist_sync::finish_artist_sync_tx(
                    &mut tx,
                    &target.id,
                    Some(&message),
                )
                .await
                .map_err(retry)?;
                tx.commit().await.map_err(retry)?;
                self.settle_failure(
                    Who {
                        run_id,
                        artist_id: &target.id,
                        artist_name: &target.name,
                    },
                    attempt,
                    &counts.to_json(),
                    RunError {
                        message,
                        source: Some(first.source.key().to_string()),
                        step: Some(first.step.to_string()),
                        http_status: first.http_status.map(i32::from),
                    },
                    retryable,
                    started,
                )
                .await
            }
        }
    }

    /// A failed attempt: retried after a backoff when worth it and allowed, else the run fails.
    async fn settle_failure(
        &self,
        who: Who<'_>,
        attempt: i32,
        counts: &serde_json::Value,
        error: RunError,
        retryable: bool,
        started: Instant,
    ) -> Result<(), BoxDynError> {
        let Who {
            run_id,
            artist_id,
            artist_name,
        } = who;
        let max = self.settings.max_attempts.max(1);
        if retryable && attempt < max && !self.shutdown.is_cancelled() {
            let wait = self.settings.backoff_min * 2u32.saturating_pow(attempt as u32 - 1);
            let wait = wait.min(self.settings.backoff_max);
            let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            self.store
                .finish_attempt(
                    run_id,
                    attempt,
                    "retrying",
                    Some(&error.message),
                    Some((&error.message, at)),
                )
                .await
                .map_err(retry)?;
            tracing::warn!(artist_id = %artist_id, "sync of {artist_name} failed (attempt {attempt} of {max}), retrying: {}", error.message);
            self.bus.send(EngineEvent::Retrying {
                run_id: run_id.to_string(),
                artist_id: artist_id.to_string(),
                source: error
                    .source
                    .as_deref()
                    .and_then(crate::store::sync_status::Source::parse),
                attempt,
                reason: error.message.clone(),
                wait,
            });
            return Err(Box::new(RetryRun(error.message)));
        }
        self.store
            .finish_attempt(run_id, attempt, "failed", Some(&error.message), None)
            .await
            .map_err(retry)?;
        self.store
            .finish_run(run_id, RunStatus::Failed, Some(&error), counts)
            .await
            .map_err(retry)?;
        self.forget(run_id);
        tracing::error!(artist_id = %artist_id, "sync of {artist_name} failed: {}", error.message);
        self.finished_event(
            Who {
                run_id,
                artist_id,
                artist_name,
            },
            RunStatus::Failed,
            Some(error.message.clone()),
            serde_json::from_value(counts.clone()).unwrap_or_default(),
            Some(started),
        );
        Err(Box::new(AbortError::new(error.message)))
    }
}

/// A database error inside the handler: worth another delivery.
fn retry(e: StoreError) -> BoxDynError {
    Box::new(RetryRun(format!("database: {e}")))
}

pub(super) async fn start(inner: &Arc<Inner>) -> Result<(), EngineError> {
    let s = &inner.settings;
    inner
        .store
        .register_worker(
            &s.worker_name,
            &super::host_name(),
            std::process::id(),
            s.concurrency,
        )
        .await?;
    recover(inner).await?;
    let ctx = WorkerContext::new(&s.worker_name);
    let handler: queue::Handler = inner.clone();
    let settings = WorkerSettings {
        name: s.worker_name.clone(),
        concurrency: s.concurrency,
        retries: s.max_attempts.max(1) as usize,
        backoff_min: s.backoff_min,
        backoff_max: s.backoff_max,
        heartbeat: s.heartbeat,
        missed_heartbeats: s.missed_heartbeats,
        poll_interval: s.poll_interval,
    };
    *lock(&inner.worker_ctx) = Some((ctx.clone(), settings.clone()));
    let mut tasks = Vec::new();
    {
        let worker = queue::worker_future(inner.store.db.clone(), settings, ctx, handler)
            .map_err(EngineError::Worker)?;
        let bus = inner.bus.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = worker.await {
                tracing::error!("{e}");
                bus.send(log_event(LogLevel::Error, &e));
            }
        }));
    }
    tasks.push(tokio::spawn(watch_loop(inner.clone())));
    tasks.push(tokio::spawn(recovery_loop(inner.clone())));
    tasks.push(tokio::spawn(forward_logs(inner.bus.clone())));
    lock(&inner.tasks).extend(tasks);
    Ok(())
}

fn log_event(level: LogLevel, message: &str) -> EngineEvent {
    EngineEvent::Log(LogLine {
        at: Utc::now(),
        level,
        target: "syncdeck::engine".into(),
        message: message.to_string(),
        artist_id: None,
    })
}

/// The engine's log lines, as events.
async fn forward_logs(bus: EventBus) {
    let mut tap = crate::logging::tap();
    loop {
        match tap.recv().await {
            Ok(line) => bus.send(EngineEvent::Log(LogLine {
                at: line.at,
                level: match line.level {
                    tracing::Level::TRACE => LogLevel::Trace,
                    tracing::Level::DEBUG => LogLevel::Debug,
                    tracing::Level::INFO => LogLevel::Info,
                    tracing::Level::WARN => LogLevel::Warn,
                    _ => LogLevel::Error,
                },
                target: line.target,
                message: line.message,
                artist_id: line.artist_id,
            })),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => bus.send(log_event(
                LogLevel::Warn,
                &format!("{n} log lines dropped: the log pane could not keep up"),
            )),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Heartbeats for this process's runs, and cancel requests from any process.
async fn watch_loop(inner: Arc<Inner>) {
    let mut last_beat = Instant::now() - inner.settings.heartbeat;
    loop {
        tokio::time::sleep(inner.settings.watch_interval).await;
        let ids = inner.owned_ids();
        if last_beat.elapsed() >= inner.settings.heartbeat {
            last_beat = Instant::now();
            let s = &inner.settings;
            if let Err(e) = inner.store.heartbeat_runs(&ids, &s.worker_name).await {
                tracing::warn!("heartbeat failed: {e}");
            }
            let apalis_worker = lock(&inner.worker_ctx).clone();
            if let Some((ctx, settings)) = apalis_worker
                && let Err(e) = queue::keep_alive(&inner.store.db, &settings, &ctx).await
            {
                // Not registered yet (the worker registers on its first poll): harmless.
                tracing::debug!("queue heartbeat: {e}");
            }
            let _ = inner
                .store
                .register_worker(
                    &s.worker_name,
                    &super::host_name(),
                    std::process::id(),
                    s.concurrency,
                )
                .await;
        }
        if ids.is_empty() {
            continue;
        }
        match inner.store.cancel_flags(&ids).await {
            Ok(flagged) => {
                for id in flagged {
                    let executing = lock(&inner.owned)
                        .get(&id)
                        .is_some_and(|o| o.stop.is_some());
                    if executing {
                        inner.signal_cancel(&id);
                    } else if let Err(e) = inner.cancel_idle(&id).await {
                        tracing::warn!("cancelling run {id} failed: {e}");
                    }
                }
            }
            Err(e) => tracing::warn!("reading cancel requests failed: {e}"),
        }
    }
}

async fn recovery_loop(inner: Arc<Inner>) {
    let mut beats: u64 = 0;
    loop {
        tokio::time::sleep(inner.settings.heartbeat).await;
        beats += 1;
        // Stale runs are cheap to find (indexed) and checked every beat. The scan for artists
        // left `syncing` reads the whole artists table, so it runs about once a minute: such
        // artists only come from a crash, which the stale-run check and the start already cover.
        let full = beats.is_multiple_of(12);
        if let Err(e) = recover_pass(&inner, full).await {
            tracing::warn!("recovery pass failed: {e}");
        }
    }
}

/// Runs of dead processes go back to the queue, artists left `syncing` are repaired, and
/// queued runs whose task vanished get a new one.
pub(super) async fn recover(inner: &Arc<Inner>) -> Result<usize, StoreError> {
    recover_pass(inner, true).await
}

async fn recover_pass(inner: &Arc<Inner>, scan_artists: bool) -> Result<usize, StoreError> {
    let s = &inner.settings;
    let cutoff = Utc::now() - chrono::Duration::from_std(s.orphan_after()).unwrap_or_default();
    let mut repaired = 0;
    for run in inner.store.stale_runs(cutoff, &s.worker_name).await? {
        let worker = run.worker.clone().unwrap_or_else(|| "a worker".into());
        let note =
            format!("interrupted: {worker} stopped responding; the run went back to the queue");
        if inner
            .store
            .requeue_stale_run(&run.id, cutoff, &note)
            .await?
        {
            inner
                .store
                .fail_syncing_parts(&run.artist_id, &note)
                .await?;
            tracing::warn!(artist_id = %run.artist_id, "{}: {note}", run.artist_name);
            inner.bus.send(EngineEvent::Requeued {
                run_id: run.id.clone(),
                artist_id: run.artist_id.clone(),
                reason: note,
            });
            repaired += 1;
        }
    }
    let stuck = if scan_artists || repaired > 0 {
        inner.store.artists_stuck_syncing().await?
    } else {
        Vec::new()
    };
    for (artist_id, name) in stuck {
        let own = lock(&inner.owned)
            .values()
            .any(|o| o.artist_id == artist_id);
        if own {
            continue;
        }
        let note = "interrupted: the sync stopped before this part finished; sync again";
        if inner.store.fail_syncing_parts(&artist_id, note).await? {
            tracing::warn!(artist_id = %artist_id, "{name}: {note}");
            repaired += 1;
        }
    }
    for run in inner.store.orphaned_queued_runs().await? {
        let mut tx = inner.store.begin().await?;
        let job = SyncJob {
            run_id: run.id.clone(),
            artist_id: run.artist_id.clone(),
        };
        let task_id = queue::push_in_tx(&mut tx, &job, run.priority).await?;
        crate::store::runs::set_task(&mut tx, &run.id, &task_id, run.priority).await?;
        tx.commit().await?;
        tracing::warn!(artist_id = %run.artist_id, "{}: its queued run had lost its task; queued it again", run.artist_name);
        repaired += 1;
    }
    Ok(repaired)
}

pub(super) async fn shutdown(inner: &Arc<Inner>) {
    inner.shutdown.cancel();
    for o in lock(&inner.owned).values() {
        if let Some(stop) = &o.stop {
            let _ = stop.send(Some(Stop::Shutdown));
        }
    }
    if let Some((ctx, _)) = lock(&inner.worker_ctx).take() {
        let _ = ctx.stop();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while inner.executing_count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Runs waiting for a retry here: back to the queue for whoever runs next.
    let waiting: Vec<(String, Owned)> = lock(&inner.owned).drain().collect();
    for (run_id, o) in waiting {
        let _ = inner
            .store
            .restore_syncing_parts(&o.artist_id, &o.prior)
            .await;
        if inner.store.requeue_run(&run_id).await.unwrap_or(false) {
            inner.bus.send(EngineEvent::Requeued {
                run_id,
                artist_id: o.artist_id,
                reason: format!(
                    "syncdeck stopped while {} waited for a retry",
                    o.artist_name
                ),
            });
        }
    }
    let mut tasks: Vec<JoinHandle<()>> = lock(&inner.tasks).drain(..).collect();
    if !tasks.is_empty() {
        // The worker first: it flushes its acknowledgements. It may sit in a retry backoff
        // (those runs are already back in the queue), so it gets a short grace period only.
        let worker = tasks.remove(0);
        let abort = worker.abort_handle();
        if tokio::time::timeout(Duration::from_millis(500), worker)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    for t in tasks {
        t.abort();
    }
    let _ = inner
        .store
        .unregister_worker(&inner.settings.worker_name)
        .await;
}
