//! What happens to one task: start the run, run the pipeline (stoppable at every await point),
//! record the outcome, and decide between done, retry and failed. Plus the housekeeping loops
//! around the worker: heartbeats, the cancel watch, and recovery.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::prelude::{AbortError, BoxDynError, WorkerContext};
use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::events::{EngineEvent, EventBus, LogLevel, LogLine, RunCounts};
use super::health::{DatabaseUnusable, Health, Outage};
use super::pipeline::{self, Clients, RunScope};
use super::queue::{self, RequestKind, RetryRun, SyncJob, WorkerSettings};
use super::{EngineError, EngineSettings};
use crate::store::runs::{RunError, RunStatus, StartRefused};
use crate::store::sync_status::SyncStatus;
use crate::store::{DbFault, Store, StoreError};

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
    /// The attempt it is on (or last was on, while waiting for a retry).
    attempt: i32,
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
    pub(super) health: Health,
    /// The queue worker's name now: the process's worker name, with `-rN` after the Nth
    /// restart of a worker that died (apalis refuses a name whose last beat is recent, and on
    /// Postgres holds an advisory lock on it for as long as the registering connection lives).
    pub(super) queue_worker: Mutex<String>,
    /// Deliveries inside [`Inner::execute`] now, registered or not yet: a stop waits for
    /// these (a delivery still starting its attempt would otherwise be cut off mid-way and
    /// leave its run `running` and its parts `syncing`).
    pub(super) in_flight: AtomicUsize,
    /// The queue's pause switch as last read (`syncdeck_queue_state`).
    pub(super) paused: AtomicBool,
}

/// Counts one delivery in [`Inner::in_flight`] for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long a store call made while cleaning up may take when the database is failing: the
/// cleanup is best effort then (recovery finishes it later), a stop must not wait on it.
const CLEANUP_WHILE_FAILING: Duration = Duration::from_secs(1);

/// A run waiting for a quota reset is claimed this long after it, so the provider's window
/// has surely turned.
const QUOTA_RESET_MARGIN_SECS: i64 = 2;

/// A heartbeat slower than this has the database probed (see `watch_loop`).
const SLOW_BEAT: Duration = Duration::from_secs(2);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    /// Records a database error: a failure of the whole database starts (or continues) an
    /// outage; the first one is logged and sent to the front ends.
    pub(super) fn db_error(&self, e: &StoreError) {
        if let Some(fault) = e.fault() {
            self.db_fault(fault, &e.to_string());
        }
    }

    pub(super) fn db_fault(&self, fault: DbFault, detail: &str) {
        // The database's own message, without the generic hint: the advice below names where.
        let detail = detail.split("; ").next().unwrap_or(detail);
        let Some(outage) = self.health.failed(fault, detail) else {
            return;
        };
        let message = if fault.is_lasting() {
            self.unusable(&outage).to_string()
        } else {
            format!(
                "lost the database {} ({}); retrying for up to {:.0} s: {}",
                self.store.describe(),
                outage.detail,
                self.health.grace().as_secs_f64(),
                self.store.fault_advice(fault)
            )
        };
        tracing::error!("{message}");
        self.bus.send(EngineEvent::Database {
            usable: false,
            message,
        });
    }

    /// The outage (if any) is over; says so once.
    fn db_back(&self, ended: Option<Outage>) {
        if let Some(o) = ended {
            let message = format!(
                "the database {} works again, {:.1} s after {}",
                self.store.describe(),
                o.since.elapsed().as_secs_f64(),
                match o.fault {
                    DbFault::DiskFull => "the disk was full",
                    DbFault::Io => "a disk I/O error",
                    DbFault::ConnectionLost => "the connection was lost",
                }
            );
            tracing::info!("{message}");
            self.bus.send(EngineEvent::Database {
                usable: true,
                message,
            });
        }
    }

    pub(super) fn unusable(&self, o: &Outage) -> DatabaseUnusable {
        DatabaseUnusable {
            database: self.store.describe(),
            fault: o.fault,
            detail: o.detail.clone(),
            advice: self.store.fault_advice(o.fault),
            after: o.declare_at.saturating_duration_since(o.since),
        }
    }

    /// A database error inside the handler: recorded, then worth another delivery.
    fn retry(&self, e: StoreError) -> BoxDynError {
        self.db_error(&e);
        Box::new(RetryRun(format!("database: {e}")))
    }

    /// This process in syncdeck's worker registry (the jobs view's worker list).
    async fn register(&self) -> Result<(), StoreError> {
        let s = &self.settings;
        self.store
            .register_worker(
                &s.worker_name,
                &super::host_name(),
                std::process::id(),
                s.concurrency,
            )
            .await
    }

    /// The queue worker's current name (see [`Inner::queue_worker`]).
    fn queue_worker(&self) -> String {
        lock(&self.queue_worker).clone()
    }

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

    /// A run whose parts are done but for ones waiting on a spent daily quota: back to the
    /// queue as a task claimed after the reset (plus a margin), the waiting reason on the run.
    /// Not a failed attempt: it does not count against the run's attempts.
    #[allow(clippy::too_many_arguments)]
    async fn wait_for_quota(
        &self,
        who: Who<'_>,
        attempt: i32,
        priority: i32,
        counts: &RunCounts,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), BoxDynError> {
        let resume = until + chrono::Duration::seconds(QUOTA_RESET_MARGIN_SECS);
        self.store
            .finish_attempt(
                who.run_id,
                attempt,
                "waiting",
                Some(reason),
                Some(("quota", resume)),
            )
            .await
            .map_err(|e| self.retry(e))?;
        let mut tx = self.store.begin().await.map_err(|e| self.retry(e))?;
        let waiting = crate::store::runs::wait_run_in_tx(
            &mut tx,
            who.run_id,
            attempt,
            resume,
            reason,
            &counts.to_json(),
        )
        .await
        .map_err(|e| self.retry(e))?;
        if waiting {
            let job = SyncJob {
                run_id: who.run_id.to_string(),
                artist_id: who.artist_id.to_string(),
            };
            let task_id = queue::push_at_in_tx(&mut tx, &job, priority, Some(resume))
                .await
                .map_err(|e| self.retry(e))?;
            crate::store::runs::set_task(&mut tx, who.run_id, &task_id, priority)
                .await
                .map_err(|e| self.retry(e))?;
        }
        tx.commit().await.map_err(|e| self.retry(e))?;
        self.forget(who.run_id);
        tracing::info!(artist_id = %who.artist_id, "sync of {} waits until {resume}: {reason}", who.artist_name);
        self.bus.send(EngineEvent::Waiting {
            run_id: who.run_id.to_string(),
            artist_id: who.artist_id.to_string(),
            artist_name: who.artist_name.to_string(),
            until: resume,
            reason: reason.to_string(),
        });
        Ok(())
    }

    /// apalis calls this for every delivery of a task.
    pub(super) async fn execute(
        self: Arc<Self>,
        job: SyncJob,
        attempt: usize,
        worker: String,
    ) -> Result<(), BoxDynError> {
        let _in_flight = InFlight::enter(&self.in_flight);
        let attempt = attempt.max(1) as i32;
        let run_id = job.run_id.as_str();
        // Claimed just before the worker saw the pause: the run stays queued and this
        // delivery waits for the resume (or the stop, which leaves it to the next process).
        while self.paused.load(Ordering::SeqCst) && !self.shutdown.is_cancelled() {
            tokio::select! {
                _ = tokio::time::sleep(PAUSE_CHECK / 4) => {}
                _ = self.shutdown.cancelled() => {}
            }
        }
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
                self.cancel_idle(run_id).await.map_err(|e| self.retry(e))?;
                return Err(Box::new(AbortError::new("cancelled before it started")));
            }
            Err(e) => return Err(self.retry(e)),
        };
        // Numbered on from the attempts before a quota wait (see `wait_for_quota`).
        let attempt = run.attempts;
        let Some(target) = self
            .store
            .sync_target(&run.artist_id)
            .await
            .map_err(|e| self.retry(e))?
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
                attempt,
                stop: None,
            });
            entry.attempt = attempt;
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
        // Bulk work leaves the quota share reserved for manual syncs (the HTTP layer reads it).
        let bulk = run.trigger != RequestKind::Manual.trigger();
        let pipeline = crate::providers::budget::BULK_WORK.scope(bulk, scope.run(&done));
        let result = tokio::select! {
            r = pipeline.instrument(span) => Ok(r),
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
                    .map_err(|e| self.retry(e))?;
                self.cancel_idle(run_id).await.map_err(|e| self.retry(e))?;
                tracing::info!(artist_id = %target.id, "sync of {} cancelled", target.name);
                Err(Box::new(AbortError::new("cancelled by the operator")))
            }
            Err(Stop::Shutdown) => {
                self.store
                    .restore_syncing_parts(&target.id, &prior)
                    .await
                    .map_err(|e| self.retry(e))?;
                self.store
                    .finish_attempt(
                        run_id,
                        attempt,
                        "interrupted",
                        Some("syncdeck was stopping"),
                        None,
                    )
                    .await
                    .map_err(|e| self.retry(e))?;
                self.store
                    .requeue_run(run_id)
                    .await
                    .map_err(|e| self.retry(e))?;
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
                self.db_error(&store_error);
                let message = format!("database: {store_error}");
                if self
                    .store
                    .fail_syncing_parts(&target.id, &message)
                    .await
                    .is_err()
                {
                    // A full disk takes no longer error text; the status alone shrinks in place.
                    let _ = self.store.restore_syncing_parts(&target.id, &prior).await;
                }
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
                for e in outcome.errors() {
                    if let Some(fault) = e.fault {
                        self.db_fault(fault, &e.message);
                    }
                }
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
                if let (true, Some((until, reason))) = (errors.is_empty(), outcome.waiting()) {
                    return self
                        .wait_for_quota(
                            Who {
                                run_id,
                                artist_id: &target.id,
                                artist_name: &target.name,
                            },
                            attempt,
                            run.priority,
                            &counts,
                            until,
                            &reason,
                        )
                        .await;
                }
                if errors.is_empty() {
                    let mut tx = self.store.begin().await.map_err(|e| self.retry(e))?;
                    crate::store::artist_sync::finish_artist_sync_tx(&mut tx, &target.id, None)
                        .await
                        .map_err(|e| self.retry(e))?;
                    tx.commit().await.map_err(|e| self.retry(e))?;
                    self.store
                        .finish_attempt(run_id, attempt, "succeeded", None, None)
                        .await
                        .map_err(|e| self.retry(e))?;
                    self.store
                        .finish_run(run_id, RunStatus::Succeeded, None, &counts.to_json())
                        .await
                        .map_err(|e| self.retry(e))?;
                    self.forget(run_id);
                    self.db_back(self.health.wrote());
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
                let mut tx = self.store.begin().await.map_err(|e| self.retry(e))?;
                crate::store::artist_sync::finish_artist_sync_tx(
                    &mut tx,
                    &target.id,
                    Some(&message),
                )
                .await
                .map_err(|e| self.retry(e))?;
                tx.commit().await.map_err(|e| self.retry(e))?;
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
            // The next attempt adds its counts to these: the run's counts cover every attempt.
            self.store
                .set_run_counts(run_id, counts)
                .await
                .map_err(|e| self.retry(e))?;
            self.store
                .finish_attempt(
                    run_id,
                    attempt,
                    "retrying",
                    Some(&error.message),
                    Some((&error.message, at)),
                )
                .await
                .map_err(|e| self.retry(e))?;
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
            .map_err(|e| self.retry(e))?;
        self.store
            .finish_run(run_id, RunStatus::Failed, Some(&error), counts)
            .await
            .map_err(|e| self.retry(e))?;
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

pub(super) async fn start(inner: &Arc<Inner>) -> Result<(), EngineError> {
    let s = &inner.settings;
    inner.register().await?;
    recover(inner).await?;
    prune_history(inner).await;
    // Read before the worker starts: a paused queue must not start one run here.
    let paused = inner.store.queue_paused().await?.is_some();
    inner.paused.store(paused, Ordering::SeqCst);
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
    let worker =
        new_worker(inner, &settings, s.worker_name.clone()).map_err(EngineError::Worker)?;
    let tasks = vec![
        // The worker first: shutdown gives it a moment to flush its acknowledgements.
        tokio::spawn(supervise_worker(inner.clone(), settings, worker)),
        tokio::spawn(watch_loop(inner.clone())),
        tokio::spawn(recovery_loop(inner.clone())),
        tokio::spawn(health_loop(inner.clone())),
        tokio::spawn(pause_loop(inner.clone())),
        tokio::spawn(forward_logs(inner.bus.clone())),
    ];
    lock(&inner.tasks).extend(tasks);
    Ok(())
}

type WorkerFuture = futures::future::BoxFuture<'static, Result<(), queue::WorkerStopped>>;

/// A queue worker named `name`, recorded as this process's current one.
fn new_worker(
    inner: &Arc<Inner>,
    settings: &WorkerSettings,
    name: String,
) -> Result<WorkerFuture, String> {
    let ctx = WorkerContext::new(&name);
    let settings = WorkerSettings {
        name: name.clone(),
        ..settings.clone()
    };
    let handler: queue::Handler = inner.clone();
    let worker = queue::worker_future(
        inner.store.db.clone(),
        settings.clone(),
        ctx.clone(),
        handler,
    )?;
    *lock(&inner.queue_worker) = name;
    *lock(&inner.worker_ctx) = Some((ctx, settings));
    Ok(worker)
}

/// Runs apalis's worker, and starts a new one when it dies. apalis ends its worker at the
/// first failed poll (a full disk, a lost connection), dropping the runs it was executing;
/// without this, this process would keep beating for runs nobody runs any more, and
/// `sync --all` would wait for them for ever. The runs it dropped go back to the queue (or,
/// with the database down, to recovery), and the database's health decides whether the
/// front ends give up.
async fn supervise_worker(inner: Arc<Inner>, settings: WorkerSettings, first: WorkerFuture) {
    let mut worker = first;
    let mut restarts: u32 = 0;
    let mut pause = Duration::from_millis(250);
    loop {
        let started = Instant::now();
        let result = worker.await;
        if inner.shutdown.is_cancelled() {
            return;
        }
        // Its beats stop here; a future worker gets a name of its own.
        lock(&inner.worker_ctx).take();
        let why = match result {
            Err(e) => {
                if let Some(fault) = e.fault {
                    inner.db_fault(fault, &e.message);
                }
                e.to_string()
            }
            Ok(()) => "the job queue's worker stopped without an error".to_string(),
        };
        if started.elapsed() > Duration::from_secs(60) {
            pause = Duration::from_millis(250);
        }
        let message = format!("{why}; starting a new one in {:.1} s", pause.as_secs_f64());
        tracing::error!("{message}");
        inner.bus.send(log_event(LogLevel::Error, &message));
        inner.abandon_owned(&why).await;
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = inner.shutdown.cancelled() => return,
        }
        pause = (pause * 2).min(Duration::from_secs(5));
        restarts += 1;
        let name = format!("{}-r{restarts}", settings.name);
        worker = match new_worker(&inner, &settings, name) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!("cannot start a new job queue worker: {e}");
                return;
            }
        };
    }
}

impl Inner {
    /// The queue worker died and took its runs with it: each goes back to the queue with its
    /// artist's parts as they were. Best effort within a bound when the database is failing:
    /// what cannot be written now, recovery does once the runs' heartbeats are stale.
    async fn abandon_owned(&self, why: &str) {
        let owned: Vec<(String, Owned)> = lock(&self.owned).drain().collect();
        let reason = format!("interrupted: {why}");
        let cleanups = owned.into_iter().map(|(run_id, o)| {
            let reason = reason.clone();
            async move {
                let cleanup = async {
                    self.store
                        .restore_syncing_parts(&o.artist_id, &o.prior)
                        .await?;
                    self.store
                        .finish_attempt(&run_id, o.attempt, "interrupted", Some(&reason), None)
                        .await?;
                    self.store.requeue_run(&run_id).await
                };
                match tokio::time::timeout(CLEANUP_WHILE_FAILING, cleanup).await {
                    Ok(Ok(_)) => self.bus.send(EngineEvent::Requeued {
                        run_id,
                        artist_id: o.artist_id,
                        reason,
                    }),
                    Ok(Err(e)) => {
                        self.db_error(&e);
                        tracing::warn!(
                            "run {run_id} of {} is left to recovery: {e}",
                            o.artist_name
                        );
                    }
                    Err(_) => tracing::warn!(
                        "run {run_id} of {} is left to recovery: the database did not answer",
                        o.artist_name
                    ),
                }
            }
        });
        futures::future::join_all(cleanups).await;
    }
}

/// While the connection is lost, a probe on a connection of its own every half second; the
/// first answer ends the outage (a full disk or an I/O error ends only with a write that
/// works, see [`Health::wrote`]).
async fn health_loop(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(outage) = inner.health.current() else {
            continue;
        };
        if outage.fault.is_lasting() {
            continue;
        }
        match inner.store.probe(Duration::from_secs(2)).await {
            Ok(()) => inner.db_back(inner.health.answered()),
            Err(e) => tracing::debug!("database probe: {e}"),
        }
    }
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

/// One heartbeat: this process's runs, apalis's worker, syncdeck's worker registry.
async fn beat(inner: &Inner, ids: &[String]) {
    if let Err(e) = inner.store.heartbeat_runs(ids, &inner.queue_worker()).await {
        inner.db_error(&e);
        tracing::warn!("heartbeat failed: {e}");
    }
    let apalis_worker = lock(&inner.worker_ctx).clone();
    if let Some((ctx, settings)) = apalis_worker
        && let Err(e) = queue::keep_alive(&inner.store.db, &settings, &ctx).await
    {
        // Not registered yet (the worker registers on its first poll): harmless.
        tracing::debug!("queue heartbeat: {e}");
    }
    if let Err(e) = inner.register().await {
        inner.db_error(&e);
    }
}

/// Heartbeats for this process's runs, and cancel requests from any process.
/// How often the queue's pause switch is read (a process that flips it applies it at once;
/// others follow within this). Each read is a query: once a second cost an idle console
/// about a third of a percent of a core.
const PAUSE_CHECK: Duration = Duration::from_secs(3);

/// Pauses or resumes this process's queue worker to match the switch in the database.
pub(super) fn apply_pause(inner: &Inner, paused: bool) {
    inner.paused.store(paused, Ordering::SeqCst);
    let guard = lock(&inner.worker_ctx);
    let Some((ctx, _)) = guard.as_ref() else {
        return;
    };
    if paused && !ctx.is_paused() && ctx.pause().is_ok() {
        tracing::info!("the queue is paused: no new sync starts here until it is resumed");
    } else if !paused && ctx.is_paused() && ctx.resume().is_ok() {
        tracing::info!("the queue is resumed");
    }
}

/// Follows the queue's pause switch. A task of its own: a read that hangs on a lost database
/// must not hold up the heartbeats, whose probe is what notices the loss (the beats report
/// database errors; this loop only logs them).
async fn pause_loop(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(PAUSE_CHECK).await;
        match tokio::time::timeout(PAUSE_CHECK, inner.store.queue_paused()).await {
            Ok(Ok(paused)) => apply_pause(&inner, paused.is_some()),
            Ok(Err(e)) => tracing::debug!("reading the queue's pause switch failed: {e}"),
            Err(_) => tracing::debug!("reading the queue's pause switch took over {PAUSE_CHECK:?}"),
        }
    }
}

async fn watch_loop(inner: Arc<Inner>) {
    let mut last_beat = Instant::now() - inner.settings.heartbeat;
    loop {
        tokio::time::sleep(inner.settings.watch_interval).await;
        let ids = inner.owned_ids();
        if last_beat.elapsed() >= inner.settings.heartbeat {
            last_beat = Instant::now();
            // A beat that hangs is how a lost server shows first when no query is in flight:
            // the pool keeps retrying a refused connection for its whole wait (10 s). After
            // 2 s a probe on a connection of its own tells; the beat itself goes on.
            let beat = beat(&inner, &ids);
            tokio::pin!(beat);
            tokio::select! {
                _ = &mut beat => {}
                _ = tokio::time::sleep(SLOW_BEAT) => {
                    tracing::warn!("a heartbeat got no answer within {SLOW_BEAT:?}; probing the database");
                    if let Err(e) = inner.store.probe(Duration::from_secs(2)).await {
                        inner.db_error(&e);
                    }
                    beat.await;
                }
            }
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
            Err(e) => {
                inner.db_error(&e);
                tracing::warn!("reading cancel requests failed: {e}");
            }
        }
    }
}

/// Deletes finished runs past [`EngineSettings::keep_runs`]; a failure only costs a warning
/// (the next pass tries again).
async fn prune_history(inner: &Arc<Inner>) {
    let keep =
        chrono::Duration::from_std(inner.settings.keep_runs).unwrap_or(chrono::Duration::MAX);
    let Some(before) = Utc::now().checked_sub_signed(keep) else {
        return;
    };
    match inner.store.prune_runs(before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            runs = n,
            "deleted finished runs older than {} days",
            keep.num_days()
        ),
        Err(e) => {
            inner.db_error(&e);
            tracing::warn!("pruning old runs failed: {e}");
        }
    }
}

async fn recovery_loop(inner: Arc<Inner>) {
    let mut beats: u64 = 0;
    // About hourly at the default 5 s beat.
    let prune_every = (3600 / inner.settings.heartbeat.as_secs().max(1)).max(1);
    loop {
        tokio::time::sleep(inner.settings.heartbeat).await;
        beats += 1;
        if beats.is_multiple_of(prune_every) {
            prune_history(&inner).await;
        }
        // Stale runs are cheap to find (indexed) and checked every beat. The scan for artists
        // left `syncing` reads the whole artists table, so it runs about once a minute: such
        // artists only come from a crash, which the stale-run check and the start already cover.
        let full = beats.is_multiple_of(12);
        if let Err(e) = recover_pass(&inner, full).await {
            inner.db_error(&e);
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
    // Runs of this process's earlier queue workers (before a restart) count as others'.
    for run in inner
        .store
        .stale_runs(cutoff, &inner.queue_worker())
        .await?
    {
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
    // With the database failing, the runs' own cleanup cannot be waited for long: what they
    // cannot write, recovery does later (their heartbeats stop with this process).
    let outage = inner.health.current();
    let failing = outage.is_some();
    // A connection the probes found lost for a whole grace: no write can get through.
    let unreachable = outage.is_some_and(|o| o.fault == DbFault::ConnectionLost);
    let (wait, each) = if failing {
        (CLEANUP_WHILE_FAILING, CLEANUP_WHILE_FAILING)
    } else {
        (Duration::from_secs(10), Duration::from_secs(15))
    };
    let deadline = Instant::now() + wait;
    // Every delivery in flight, also one still starting its attempt: each sees the stop
    // (the token) and puts its run back itself.
    while inner.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let stuck = inner.in_flight.load(Ordering::SeqCst);
    if stuck > 0 {
        tracing::warn!(
            "{stuck} sync(s) did not stop within {:?}; their runs are put back from here",
            wait
        );
    }
    // Runs waiting for a retry here: back to the queue for whoever runs next.
    let waiting: Vec<(String, Owned)> = lock(&inner.owned).drain().collect();
    let requeues = waiting.into_iter().map(|(run_id, o)| async move {
        let requeue = async {
            if let Err(e) = inner
                .store
                .restore_syncing_parts(&o.artist_id, &o.prior)
                .await
            {
                tracing::warn!(artist_id = %o.artist_id, "{}: cannot put its parts back ({e}); the next syncdeck to start does", o.artist_name);
            }
            inner.store.requeue_run(&run_id).await.unwrap_or(false)
        };
        if tokio::time::timeout(each, requeue).await.unwrap_or(false) {
            inner.bus.send(EngineEvent::Requeued {
                run_id,
                artist_id: o.artist_id,
                reason: format!(
                    "syncdeck stopped while {} waited for a retry",
                    o.artist_name
                ),
            });
        }
    });
    futures::future::join_all(requeues).await;
    let mut tasks: Vec<JoinHandle<()>> = lock(&inner.tasks).drain(..).collect();
    if !tasks.is_empty() {
        // The worker first: it flushes its acknowledgements. It may sit in a retry backoff
        // (those runs are already back in the queue), so it gets a short grace period only.
        let worker = tasks.remove(0);
        let abort = worker.abort_handle();
        let grace = if failing {
            Duration::ZERO
        } else {
            Duration::from_millis(500)
        };
        if tokio::time::timeout(grace, worker).await.is_err() {
            abort.abort();
        }
    }
    for t in tasks {
        t.abort();
    }
    if !unreachable {
        let _ = tokio::time::timeout(
            each,
            inner.store.unregister_worker(&inner.settings.worker_name),
        )
        .await;
    }
}
