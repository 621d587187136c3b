//! The durable queue is apalis's (`apalis-sqlite` on the embedded default, `apalis-postgres`
//! for many machines). This file only pushes tasks (inside syncdeck's own transaction, so a run
//! row and its task land together) and builds the worker. Retries, claims with `SKIP LOCKED`,
//! heartbeats and re-enqueueing a dead worker's tasks are apalis's.

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::retry::backoff::{ExponentialBackoffMaker, MakeBackoff};
use apalis::layers::retry::{HasherRng, RetryPolicy};
use apalis::prelude::*;
use serde::{Deserialize, Serialize};

use crate::store::{Db, DbFault, StoreError, Tx, classify_sqlx};

/// The queue every syncdeck process shares.
pub const QUEUE: &str = "syncdeck.sync_artist";

/// apalis's own attempt ceiling per task. It counts every delivery, including re-deliveries
/// after a crash or a shutdown, so it sits far above the run's own `max_attempts` (which
/// counts real tries and is what the operator sees).
pub const TASK_MAX_ATTEMPTS: usize = 50;

/// The payload of one task: which run, which artist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub run_id: String,
    pub artist_id: String,
}

/// Priority of a request: a manual single-artist sync goes before bulk work, and an operator's
/// bulk work before what the keep-fresh scheduler plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    Manual,
    Bulk,
    RetryFailed,
    /// Enqueued by the keep-fresh scheduler (`syncdeck serve`).
    Scheduled,
}

impl RequestKind {
    pub fn priority(self) -> i32 {
        match self {
            RequestKind::Manual => 10,
            RequestKind::RetryFailed => 5,
            RequestKind::Bulk => 1,
            RequestKind::Scheduled => 0,
        }
    }

    pub fn trigger(self) -> &'static str {
        match self {
            RequestKind::Manual => "manual",
            RequestKind::Bulk => "bulk",
            RequestKind::RetryFailed => "retry-failed",
            RequestKind::Scheduled => "scheduled",
        }
    }
}

/// A handler error that asks apalis to try the task again after a backoff.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RetryRun(pub String);

/// Pushes one task for `job` inside `tx`; returns the task id.
pub async fn push_in_tx(tx: &mut Tx, job: &SyncJob, priority: i32) -> Result<String, StoreError> {
    push_at_in_tx(tx, job, priority, None).await
}

/// Pushes one task for `job` inside `tx` that no worker claims before `run_at` (a quota
/// reset); returns the task id.
pub async fn push_at_in_tx(
    tx: &mut Tx,
    job: &SyncJob,
    priority: i32,
    run_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<String, StoreError> {
    let id = ulid::Ulid::generate();
    let args = serde_json::to_vec(job)
        .map_err(|e| StoreError::Invalid(format!("cannot encode a sync task: {e}")))?;
    let mut builder = TaskBuilder::new(args)
        .task_id(TaskId::from_ulid(id))
        .priority(priority.max(0) as usize)
        .max_attempts(TASK_MAX_ATTEMPTS);
    if let Some(at) = run_at {
        builder = builder.run_at_timestamp(u64::try_from(at.timestamp()).unwrap_or(0));
    }
    let task = builder.build();
    let failed = |sqlx: Option<sqlx::Error>, text: String| match sqlx {
        // The database itself failed (full disk, lost connection): say that, typed.
        Some(e) if classify_sqlx(&e).is_some() => StoreError::query("queueing the sync task", e),
        _ => StoreError::Invalid(format!(
            "cannot queue the sync task: {text}; run `syncdeck migrate`"
        )),
    };
    match tx {
        Tx::Sqlite(t) => apalis_sqlite::queries::push_tasks(&mut **t, QUEUE, &[task])
            .await
            .map_err(|e| {
                let text = e.to_string();
                match e {
                    apalis_sqlite::Error::Database(e) => failed(Some(e), text),
                    _ => failed(None, text),
                }
            })?,
        Tx::Postgres(t) => apalis_postgres::queries::push_tasks(&mut **t, QUEUE, vec![task])
            .await
            .map_err(|e| {
                let text = e.to_string();
                match e {
                    apalis_postgres::Error::Database(e) => failed(Some(e), text),
                    _ => failed(None, text),
                }
            })?,
    };
    Ok(id.to_string())
}

/// Raises a waiting task's priority (a manual request joined a bulk-queued run: it should go
/// first). A task already claimed is left alone.
pub async fn raise_priority(tx: &mut Tx, task_id: &str, priority: i32) -> Result<(), StoreError> {
    let done = match tx {
        Tx::Sqlite(t) => sqlx::query(
            "UPDATE Jobs SET priority = ?2 WHERE id = ?1 AND status = 'Pending' AND priority < ?2",
        )
        .bind(task_id)
        .bind(priority)
        .execute(&mut **t)
        .await
        .map(|_| ()),
        Tx::Postgres(t) => sqlx::query(
            "UPDATE apalis.jobs SET priority = $2 WHERE id = $1 AND status = 'Pending' AND priority < $2",
        )
        .bind(task_id)
        .bind(priority)
        .execute(&mut **t)
        .await
        .map(|_| ()),
    };
    done.map_err(|e| StoreError::query(format!("raising the priority of task {task_id}"), e))
}

/// How the worker claims and retries.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub name: String,
    pub concurrency: usize,
    /// Retries after the first try, for transient failures only.
    pub retries: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub heartbeat: Duration,
    /// Heartbeats a worker may miss before its tasks go to another one.
    pub missed_heartbeats: usize,
    pub poll_interval: Duration,
}

/// What apalis calls for every task (concrete types only: trait objects in a handler's
/// signature trip rustc's higher-ranked `Send` check when the worker is spawned).
pub(super) type Handler = Arc<super::runner::Inner>;

async fn run_task(
    job: SyncJob,
    attempt: Attempt,
    worker: WorkerContext,
    inner: Data<Handler>,
) -> Result<(), BoxDynError> {
    let inner: Handler = (*inner).clone();
    inner
        .execute(job, attempt.current(), worker.name().to_string())
        .await
}

type Backoff = apalis::layers::retry::backoff::ExponentialBackoff<HasherRng>;

/// Retries only what the handler marked as worth it ([`RetryRun`]), after a backoff.
#[derive(Clone)]
struct TransientOnly(apalis::layers::retry::BackoffRetryPolicy<Backoff>);

impl<T: Clone, Res> apalis::layers::retry::Policy<Task<T>, Res, BoxDynError> for TransientOnly {
    type Future =
        <apalis::layers::retry::BackoffRetryPolicy<Backoff> as apalis::layers::retry::Policy<
            Task<T>,
            Res,
            BoxDynError,
        >>::Future;

    fn retry(
        &mut self,
        req: &mut Task<T>,
        result: &mut Result<Res, BoxDynError>,
    ) -> Option<Self::Future> {
        match result {
            Err(e) if e.downcast_ref::<RetryRun>().is_some() => self.0.retry(req, result),
            _ => None,
        }
    }

    fn clone_request(&mut self, req: &Task<T>) -> Option<Task<T>> {
        Some(req.clone())
    }
}

fn retry_policy(s: &WorkerSettings) -> Result<TransientOnly, String> {
    let backoff =
        ExponentialBackoffMaker::new(s.backoff_min, s.backoff_max, 0.5, HasherRng::default())
            .map_err(|e| format!("invalid retry backoff: {e}"))?
            .make_backoff();
    Ok(TransientOnly(
        RetryPolicy::retries(s.retries).with_backoff(backoff),
    ))
}

fn sqlite_config(settings: &WorkerSettings) -> apalis_sqlite::Config {
    apalis_sqlite::Config::default()
        .queue(QUEUE)
        .batch_size(settings.concurrency.max(1))
        .heartbeat_interval(settings.heartbeat)
        .missed_heartbeats(settings.missed_heartbeats)
}

fn postgres_config(settings: &WorkerSettings) -> apalis_postgres::Config {
    apalis_postgres::Config::default()
        .queue(QUEUE)
        .batch_size(settings.concurrency.max(1))
        .heartbeat_interval(settings.heartbeat)
        .missed_heartbeats(settings.missed_heartbeats)
}

/// apalis's own heartbeat for this worker, sent from syncdeck's housekeeping task. apalis
/// beats only while the worker polls for tasks, and a worker whose every slot is busy with a
/// long sync does not poll: without this, the others would take its tasks as orphans and run
/// them a second time.
pub async fn keep_alive(
    db: &Db,
    settings: &WorkerSettings,
    ctx: &WorkerContext,
) -> Result<(), String> {
    match db {
        Db::Sqlite(pool) => {
            let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
            apalis_sqlite::queries::keep_alive(&mut *conn, &sqlite_config(settings), ctx)
                .await
                .map_err(|e| e.to_string())
        }
        Db::Postgres(pool) => {
            let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
            apalis_postgres::queries::keep_alive(&mut *conn, QUEUE, ctx)
                .await
                .map_err(|e| e.to_string())
        }
    }
}

/// Why apalis's worker stopped: its error, and the database fault behind it, if any.
#[derive(Debug, thiserror::Error)]
#[error("the job queue's worker stopped: {message}")]
pub struct WorkerStopped {
    pub message: String,
    pub fault: Option<DbFault>,
}

impl WorkerStopped {
    fn from_apalis(e: WorkerError) -> WorkerStopped {
        WorkerStopped {
            fault: worker_fault(&e),
            message: e.to_string(),
        }
    }
}

/// The database fault behind a worker's error: its backend's polls (fetch, heartbeat, acks)
/// fail with the storage crate's error around a sqlx one.
fn worker_fault(e: &WorkerError) -> Option<DbFault> {
    let WorkerError::BackendError(inner) = e else {
        return None;
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
    while let Some(c) = cause {
        if let Some(apalis_sqlite::Error::Database(e)) = c.downcast_ref::<apalis_sqlite::Error>() {
            return classify_sqlx(e);
        }
        if let Some(apalis_postgres::Error::Database(e)) =
            c.downcast_ref::<apalis_postgres::Error>()
        {
            return classify_sqlx(e);
        }
        if let Some(e) = c.downcast_ref::<sqlx::Error>() {
            return classify_sqlx(e);
        }
        cause = c.source();
    }
    None
}

/// A worker on the store's queue, running until `ctx` is stopped. Built in a plain fn and
/// boxed here, where the types are concrete, so the future is provably `Send` for a spawn.
pub(super) fn worker_future(
    db: Db,
    settings: WorkerSettings,
    ctx: WorkerContext,
    handler: Handler,
) -> Result<futures::future::BoxFuture<'static, Result<(), WorkerStopped>>, String> {
    let policy = retry_policy(&settings)?;
    let concurrency = settings.concurrency.max(1);
    let stopped = WorkerStopped::from_apalis;
    Ok(match db {
        Db::Sqlite(pool) => {
            let config = sqlite_config(&settings);
            let backend = apalis_sqlite::SqliteStorage::<SyncJob>::new(&pool)
                .with_config(config)
                .poll_with_interval(settings.poll_interval);
            let worker = WorkerBuilder::new(&ctx)
                .backend(backend)
                .data(handler)
                .concurrency(concurrency)
                .retry(policy)
                .build(run_task);
            Box::pin(async move { worker.run().await.map_err(stopped) })
        }
        Db::Postgres(pool) => {
            let config = postgres_config(&settings);
            let backend = apalis_postgres::PostgresStorage::<SyncJob>::new(&pool)
                .with_config(config)
                .poll_with_interval(settings.poll_interval);
            let worker = WorkerBuilder::new(&ctx)
                .backend(backend)
                .data(handler)
                .concurrency(concurrency)
                .retry(policy)
                .build(run_task);
            Box::pin(async move { worker.run().await.map_err(stopped) })
        }
    })
}
