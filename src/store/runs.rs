//! syncdeck's run bookkeeping beside apalis's queue: one active run per artist (a second request
//! joins it), cancellation flags any process can set, heartbeats, and the history the console
//! shows. apalis owns delivery (claim, retry, orphan re-enqueue); these rows own meaning.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::time::{from_db, now_db, to_db};
use super::{Backend, Store, StoreError, Tx};

/// Where a run is. `queued` and `running` are active (at most one per artist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(word: &str) -> Option<RunStatus> {
        Some(match word {
            "queued" => RunStatus::Queued,
            "running" => RunStatus::Running,
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            "interrupted" => RunStatus::Interrupted,
            _ => return None,
        })
    }

    pub fn is_active(self) -> bool {
        matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

/// A request to sync one artist.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub artist_id: String,
    pub artist_name: String,
    pub priority: i32,
    pub trigger: String,
    pub max_attempts: i32,
}

/// What a request did: started a new run, or joined the artist's active one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    New {
        run_id: String,
    },
    Joined {
        run_id: String,
        status: RunStatus,
        /// The apalis task carrying the run, and its priority.
        task_id: Option<String>,
        priority: i32,
    },
}

impl Requested {
    pub fn run_id(&self) -> &str {
        match self {
            Requested::New { run_id } | Requested::Joined { run_id, .. } => run_id,
        }
    }
}

/// One run as the console and the waiters read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub id: String,
    pub artist_id: String,
    pub artist_name: String,
    pub status: RunStatus,
    pub priority: i32,
    pub trigger: String,
    pub requested_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub worker: Option<String>,
    pub task_id: Option<String>,
    pub cancel_requested: bool,
    pub error: Option<String>,
    pub error_source: Option<String>,
    pub error_step: Option<String>,
    pub error_http_status: Option<i32>,
    pub counts: serde_json::Value,
    pub progress: Option<serde_json::Value>,
    /// Queued again for a provider's daily quota reset: not before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<DateTime<Utc>>,
    /// Why it waits ("Ticketmaster's daily quota is spent …").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_reason: Option<String>,
}

impl RunRow {
    /// Queued but held back until a quota reset that is still ahead.
    pub fn waiting(&self, now: DateTime<Utc>) -> bool {
        self.status == RunStatus::Queued && self.wait_until.is_some_and(|t| t > now)
    }
}

/// One attempt of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRow {
    pub attempt: i32,
    pub worker: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub retry_reason: Option<String>,
    pub retry_at: Option<DateTime<Utc>>,
}

/// The error of a finished run, with where it happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunError {
    pub message: String,
    pub source: Option<String>,
    pub step: Option<String>,
    pub http_status: Option<i32>,
}

/// What a cancel request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CancelOutcome {
    /// It was queued: now cancelled; its task will be skipped when claimed.
    CancelledQueued,
    /// It is running: flagged; the running pipeline stops at its next await point.
    Flagged,
    /// Nothing active to cancel.
    NotActive,
}

const RUN_COLUMNS_PG: &str = "id::text, artist_id::text, artist_name, status, priority, trigger, requested_at::text, \
     started_at::text, finished_at::text, heartbeat_at::text, attempts, max_attempts, worker, task_id, \
     cancel_requested, error, error_source, error_step, error_http_status, counts::text, progress::text, \
     wait_until::text, wait_reason";
const RUN_COLUMNS_SQLITE: &str = "id, artist_id, artist_name, status, priority, trigger, requested_at, \
     started_at, finished_at, heartbeat_at, attempts, max_attempts, worker, task_id, \
     cancel_requested, error, error_source, error_step, error_http_status, counts, progress, \
     wait_until, wait_reason";

fn run_columns(b: Backend) -> &'static str {
    match b {
        Backend::Postgres => RUN_COLUMNS_PG,
        Backend::Sqlite => RUN_COLUMNS_SQLITE,
    }
}

#[derive(sqlx::FromRow)]
struct RawRun {
    id: String,
    artist_id: String,
    artist_name: String,
    status: String,
    priority: i32,
    trigger: String,
    requested_at: Option<String>,
    started_at: Option<String>,
    finished_at: Option<String>,
    heartbeat_at: Option<String>,
    attempts: i32,
    max_attempts: i32,
    worker: Option<String>,
    task_id: Option<String>,
    cancel_requested: bool,
    error: Option<String>,
    error_source: Option<String>,
    error_step: Option<String>,
    error_http_status: Option<i32>,
    counts: Option<String>,
    progress: Option<String>,
    wait_until: Option<String>,
    wait_reason: Option<String>,
}

fn run_from_raw(r: RawRun) -> RunRow {
    let ts = |t: Option<String>| t.as_deref().and_then(from_db);
    RunRow {
        status: RunStatus::parse(&r.status).unwrap_or(RunStatus::Failed),
        requested_at: ts(r.requested_at),
        started_at: ts(r.started_at),
        finished_at: ts(r.finished_at),
        heartbeat_at: ts(r.heartbeat_at),
        wait_until: ts(r.wait_until),
        wait_reason: r.wait_reason,
        counts: r
            .counts
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Object(Default::default())),
        progress: r.progress.and_then(|t| serde_json::from_str(&t).ok()),
        id: r.id,
        artist_id: r.artist_id,
        artist_name: r.artist_name,
        priority: r.priority,
        trigger: r.trigger,
        attempts: r.attempts,
        max_attempts: r.max_attempts,
        worker: r.worker,
        task_id: r.task_id,
        cancel_requested: r.cancel_requested,
        error: r.error,
        error_source: r.error_source,
        error_step: r.error_step,
        error_http_status: r.error_http_status,
    }
}

fn err(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let context = context.into();
    move |e| StoreError::query(context, e)
}

/// Starts a run for the artist, or joins its active one. Inside the caller's transaction, so
/// the run row and its apalis task land together.
pub async fn request_run(tx: &mut Tx, req: &RunRequest) -> Result<Requested, StoreError> {
    let id = Uuid::new_v4().to_string();
    // The conflict target names the partial index's predicate: both backends accept it.
    let insert = crate::sql!(
        "INSERT INTO syncdeck_runs (id, artist_id, artist_name, status, priority, trigger, requested_at, max_attempts) \
         VALUES ($1::uuid, $2::uuid, $3, 'queued', $4, $5, $6::timestamptz, $7) \
         ON CONFLICT (artist_id) WHERE status IN ('queued', 'running') DO NOTHING"
    );
    let inserted = crate::with_tx!(tx, c, b => {
        sqlx::query(insert.text(b)).bind(&id).bind(&req.artist_id).bind(&req.artist_name).bind(req.priority)
            .bind(&req.trigger).bind(now_db()).bind(req.max_attempts).execute(c).await.map(|r| r.rows_affected())
    })
    .map_err(err(format!("queueing a sync of artist {}", req.artist_name)))?;
    if inserted == 1 {
        return Ok(Requested::New { run_id: id });
    }
    let existing = crate::sql!(
        "SELECT id::text, status, task_id, priority FROM syncdeck_runs WHERE artist_id = $1::uuid AND status IN ('queued', 'running')"
    );
    let row: Option<(String, String, Option<String>, i32)> = crate::with_tx!(tx, c, b => {
        sqlx::query_as(existing.text(b)).bind(&req.artist_id).fetch_optional(c).await
    })
    .map_err(err(format!(
        "finding the active sync of artist {}",
        req.artist_name
    )))?;
    match row {
        Some((run_id, status, task_id, priority)) => Ok(Requested::Joined {
            run_id,
            status: RunStatus::parse(&status).unwrap_or(RunStatus::Queued),
            task_id,
            priority,
        }),
        None => Err(StoreError::Invalid(format!(
            "the sync of artist {} could neither be queued nor joined; retry",
            req.artist_name
        ))),
    }
}

/// Records which apalis task carries the run, and the priority it was given.
pub async fn set_task(
    tx: &mut Tx,
    run_id: &str,
    task_id: &str,
    priority: i32,
) -> Result<(), StoreError> {
    let q = crate::sql!(
        "UPDATE syncdeck_runs SET task_id = $2, priority = GREATEST(priority, $3) WHERE id = $1::uuid"
    );
    crate::with_tx!(tx, c, b => {
        let text = if b == Backend::Sqlite { q.text(b).replace("GREATEST(", "MAX(") } else { q.text(b).to_string() };
        sqlx::query(sqlx::AssertSqlSafe(text)).bind(run_id).bind(task_id).bind(priority).execute(c).await.map(|_| ())
    })
    .map_err(err(format!("recording the task of run {run_id}")))
}

/// Why a claimed task should not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRefused {
    /// No such run (deleted by hand): nothing to do.
    Missing,
    /// The run already ended (a redelivered task after a crash, or cancelled while queued).
    Ended(RunStatus),
    /// Cancel was requested before it started.
    CancelRequested,
    /// Another worker runs it and its heartbeat is fresh: never run an artist twice at once.
    RunningElsewhere(String),
}

impl Store {
    pub async fn run(&self, run_id: &str) -> Result<Option<RunRow>, StoreError> {
        let out: Option<RawRun> = crate::with_pool!(&self.db, p, b => {
            let text = format!("SELECT {} FROM syncdeck_runs WHERE id = $1{}", run_columns(b), if b == Backend::Postgres { "::uuid" } else { "" });
            sqlx::query_as(sqlx::AssertSqlSafe(text)).bind(run_id).fetch_optional(p).await
        })
        .map_err(err(format!("reading run {run_id}")))?;
        Ok(out.map(run_from_raw))
    }

    /// Runs by id (for waiters), in no particular order.
    pub async fn runs(&self, run_ids: &[String]) -> Result<Vec<RunRow>, StoreError> {
        let mut out = Vec::with_capacity(run_ids.len());
        for chunk in run_ids.chunks(500) {
            let rows: Vec<RawRun> = crate::with_pool!(&self.db, p, b => {
                let mut qb = sqlx::QueryBuilder::new(format!("SELECT {} FROM syncdeck_runs WHERE id IN ", run_columns(b)));
                super::dialect::push_uuid_list(&mut qb, b, chunk);
                qb.build_query_as().fetch_all(p).await
            })
            .map_err(err("reading runs"))?;
            out.extend(rows.into_iter().map(run_from_raw));
        }
        Ok(out)
    }

    /// The newest `limit` runs of every state for the jobs view: running first, then queued,
    /// then the ended ones, newest first within each.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunRow>, StoreError> {
        let rows: Vec<RawRun> = crate::with_pool!(&self.db, p, b => {
            let text = format!(
                "SELECT {} FROM syncdeck_runs ORDER BY CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1 ELSE 2 END, requested_at DESC LIMIT $1",
                run_columns(b)
            );
            sqlx::query_as(sqlx::AssertSqlSafe(text)).bind(limit).fetch_all(p).await
        })
        .map_err(err("reading recent runs"))?;
        Ok(rows.into_iter().map(run_from_raw).collect())
    }

    /// An artist's runs, newest first, for the detail pane.
    pub async fn artist_runs(
        &self,
        artist_id: &str,
        limit: i64,
    ) -> Result<Vec<RunRow>, StoreError> {
        let rows: Vec<RawRun> = crate::with_pool!(&self.db, p, b => {
            let text = format!(
                "SELECT {} FROM syncdeck_runs WHERE artist_id = $1{} ORDER BY requested_at DESC LIMIT $2",
                run_columns(b), if b == Backend::Postgres { "::uuid" } else { "" }
            );
            sqlx::query_as(sqlx::AssertSqlSafe(text)).bind(artist_id).bind(limit).fetch_all(p).await
        })
        .map_err(err(format!("reading the runs of artist {artist_id}")))?;
        Ok(rows.into_iter().map(run_from_raw).collect())
    }

    /// The attempts of a run, oldest first.
    pub async fn run_attempts(&self, run_id: &str) -> Result<Vec<AttemptRow>, StoreError> {
        type Raw = (
            i32,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let q = crate::sql!(
            "SELECT attempt, worker, started_at::text, finished_at::text, outcome, error, retry_reason, retry_at::text \
             FROM syncdeck_run_attempts WHERE run_id = $1::uuid ORDER BY attempt"
        );
        let rows: Vec<Raw> = crate::with_pool!(&self.db, p, b => {
            sqlx::query_as(q.text(b)).bind(run_id).fetch_all(p).await
        })
        .map_err(err(format!("reading the attempts of run {run_id}")))?;
        let ts = |t: Option<String>| t.as_deref().and_then(from_db);
        Ok(rows
            .into_iter()
            .map(|r| AttemptRow {
                attempt: r.0,
                worker: r.1,
                started_at: ts(r.2),
                finished_at: ts(r.3),
                outcome: r.4,
                error: r.5,
                retry_reason: r.6,
                retry_at: ts(r.7),
            })
            .collect())
    }

    /// Counts of runs by status, for the header.
    pub async fn run_counts(&self) -> Result<Vec<(RunStatus, i64)>, StoreError> {
        let rows: Vec<(String, i64)> = crate::with_pool!(&self.db, p, b => {
            sqlx::query_as("SELECT status, COUNT(*) FROM syncdeck_runs GROUP BY status").fetch_all(p).await
        })
        .map_err(err("counting runs"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, n)| RunStatus::parse(&s).map(|s| (s, n)))
            .collect())
    }

    /// Marks a claimed run as running for this attempt and records the attempt. Refuses when
    /// the run ended or a cancel was requested meanwhile.
    pub async fn start_attempt(
        &self,
        run_id: &str,
        attempt: i32,
        worker: &str,
        stale_before: DateTime<Utc>,
    ) -> Result<Result<RunRow, StartRefused>, StoreError> {
        let now = now_db();
        let mut tx = self.begin().await?;
        // Attempts after a quota wait go on from the ones before it (the wait's new task
        // starts apalis's count at 1 again).
        let base: Option<i32> = crate::with_tx!(&mut tx, c, b => {
            let q = crate::sql!("SELECT attempt_base FROM syncdeck_runs WHERE id = $1::uuid");
            sqlx::query_scalar(q.text(b)).bind(run_id).fetch_optional(c).await
        })
        .map_err(err(format!("starting run {run_id}")))?;
        let attempt = base.unwrap_or(0) + attempt;
        let q = crate::sql!(
            "UPDATE syncdeck_runs SET status = 'running', wait_until = NULL, started_at = COALESCE(started_at, $2::timestamptz), \
             heartbeat_at = $2::timestamptz, attempts = $3, worker = $4 \
             WHERE id = $1::uuid AND NOT cancel_requested AND (status = 'queued' OR (status = 'running' \
               AND (worker IS NULL OR worker = $4 OR heartbeat_at IS NULL OR heartbeat_at < $5::timestamptz)))"
        );
        let updated = crate::with_tx!(&mut tx, c, b => {
            sqlx::query(q.text(b)).bind(run_id).bind(&now).bind(attempt).bind(worker).bind(to_db(stale_before))
                .execute(c).await.map(|r| r.rows_affected())
        })
        .map_err(err(format!("starting run {run_id}")))?;
        if updated == 1 {
            // A run taken over from a worker that stopped responding: its attempt ended.
            let close = crate::sql!(
                "UPDATE syncdeck_run_attempts SET finished_at = $3::timestamptz, outcome = 'interrupted', \
                 error = 'its worker stopped responding' WHERE run_id = $1::uuid AND attempt <> $2 AND finished_at IS NULL"
            );
            crate::with_tx!(&mut tx, c, b => {
                sqlx::query(close.text(b)).bind(run_id).bind(attempt).bind(&now).execute(c).await.map(|_| ())
            })
            .map_err(err(format!("closing the interrupted attempts of run {run_id}")))?;
            let a = crate::sql!(
                "INSERT INTO syncdeck_run_attempts (run_id, attempt, worker, started_at) VALUES ($1::uuid, $2, $3, $4::timestamptz) \
                 ON CONFLICT (run_id, attempt) DO UPDATE SET worker = EXCLUDED.worker, started_at = EXCLUDED.started_at, \
                 finished_at = NULL, outcome = NULL, error = NULL"
            );
            crate::with_tx!(&mut tx, c, b => {
                sqlx::query(a.text(b)).bind(run_id).bind(attempt).bind(worker).bind(&now).execute(c).await.map(|_| ())
            })
            .map_err(err(format!("recording attempt {attempt} of run {run_id}")))?;
        }
        tx.commit().await?;
        let Some(run) = self.run(run_id).await? else {
            return Ok(Err(StartRefused::Missing));
        };
        if updated == 1 {
            return Ok(Ok(run));
        }
        let live_elsewhere = run.status == RunStatus::Running
            && run.worker.as_deref().is_some_and(|w| w != worker)
            && run.heartbeat_at.is_some_and(|h| h >= stale_before);
        if run.status.is_active() && run.cancel_requested && !live_elsewhere {
            return Ok(Err(StartRefused::CancelRequested));
        }
        if run.status == RunStatus::Running {
            return Ok(Err(StartRefused::RunningElsewhere(
                run.worker.unwrap_or_else(|| "another worker".into()),
            )));
        }
        Ok(Err(StartRefused::Ended(run.status)))
    }

    /// Ends an attempt with its outcome; `retry` says why and when it will be tried again.
    pub async fn finish_attempt(
        &self,
        run_id: &str,
        attempt: i32,
        outcome: &str,
        error: Option<&str>,
        retry: Option<(&str, DateTime<Utc>)>,
    ) -> Result<(), StoreError> {
        let q = crate::sql!(
            "UPDATE syncdeck_run_attempts SET finished_at = $3::timestamptz, outcome = $4, error = $5, \
             retry_reason = $6, retry_at = $7::timestamptz WHERE run_id = $1::uuid AND attempt = $2"
        );
        crate::with_pool!(&self.db, p, b => {
            sqlx::query(q.text(b)).bind(run_id).bind(attempt).bind(now_db()).bind(outcome).bind(error)
                .bind(retry.map(|r| r.0)).bind(retry.map(|r| to_db(r.1))).execute(p).await.map(|_| ())
        })
        .map_err(err(format!("finishing attempt {attempt} of run {run_id}")))
    }

    /// Ends a run. Only an active run can end, so a late writer never rewrites history.
    pub async fn finish_run(
        &self,
        run_id: &str,
        status: RunStatus,
        error: Option<&RunError>,
        counts: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let q = crate::sql!(
            "UPDATE syncdeck_runs SET status = $2, finished_at = $3::timestamptz, error = $4, error_source = $5, \
             error_step = $6, error_http_status = $7, counts = $8::jsonb, progress = NULL \
             WHERE id = $1::uuid AND status IN ('queued', 'running')"
        );
        let n = crate::with_pool!(&self.db, p, b => {
            sqlx::query(q.text(b)).bind(run_id).bind(status.as_str()).bind(now_db())
                .bind(error.map(|e| e.message.clone())).bind(error.and_then(|e| e.source.clone()))
                .bind(error.and_then(|e| e.step.clone())).bind(error.and_then(|e| e.http_status))
                .bind(counts.to_string()).execute(p).await.map(|r| r.rows_affected())
        })
        .map_err(err(format!("finishing run {run_id}")))?;
        if n == 1 {
            let close = crate::sql!(
                "UPDATE syncdeck_run_attempts SET finished_at = $2::timestamptz, outcome = 'interrupted', \
                 error = 'the run ended without it' WHERE run_id = $1::uuid AND finished_at IS NULL"
            );
            crate::with_pool!(&self.db, p, b => {
                sqlx::query(close.text(b)).bind(run_id).bind(now_db()).execute(p).await.map(|_| ())
            })
            .map_err(err(format!("closing the attempts of run {run_id}")))?;
        }
        Ok(n == 1)
    }

    /// Puts a running run back to `queued` (its process is stopping or died); apalis delivers
    /// its task again.
    pub async fn requeue_run(&self, run_id: &str) -> Result<bool, StoreError> {
        let q = crate::sql!(
            "UPDATE syncdeck_runs SET status = 'queued', worker = NULL \
             WHERE id = $1::uuid AND status = 'running'"
        );
        let n = crate::with_pool!(&self.db, p, b => {
            sqlx::query(q.text(b)).bind(run_id).execute(p).await.map(|r| r.rows_affected())
        })
        .map_err(err(format!("re-queueing run {run_id}")))?;
        Ok(n == 1)
    }

    /// Saves a run's progress (JSON): which parts are done, so a retry skips them.
    pub async fn set_run_progress(
        &self,
        run_id: &str,
        progress: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let q = crate::sql!(
            "UPDATE syncdeck_runs SET progress = $2::jsonb WHERE id = $1::uuid AND status IN ('queued', 'running')"
        );
        crate::with_pool!(&self.db, p, b => {
            sqlx::query(q.text(b)).bind(run_id).bind(progress.to_string()).execute(p).await.map(|_| ())
        })
        .map_err(err(format!("saving the progress of run {run_id}")))
    }

    /// Cancels a run: a queued one at once, a running one by flag.
    pub async fn request_cancel(&self, run_id: &str) -> Result<CancelOutcome, StoreError> {
        let queued = crate::sql!(
            "UPDATE syncdeck_runs SET status = 'cancelled', cancel_requested = true, finished_at = $2::timestamptz, \
             error = 'cancelled before it started' WHERE id = $1::uuid AND status = 'queued'"
        );
        let running = crate::sql!(
            "UPDATE syncdeck_runs SET cancel_requested = true WHERE id = $1::uuid AND status = 'running'"
        );
        let now = now_db();
        let (q, r) = crate::with_pool!(&self.db, p, b => {
            async {
                let q = sqlx::query(queued.text(b)).bind(run_id).bind(&now).execute(p).await?.rows_affected();
                let r = if q == 0 { sqlx::query(running.text(b)).bind(run_id).execute(p).await?.rows_affected() } else { 0 };
                Ok::<_, sqlx::Error>((q, r))
            }.await
        })
        .map_err(err(format!("cancelling run {run_id}")))?;
        Ok(if q == 1 {
            CancelOutcome::CancelledQueued
        } else if r == 1 {
            CancelOutcome::Flagged
        } else {
            CancelOutcome::NotActive
        })
    }

    /// Queued runs waiting for a quota reset still ahead of `now`, soonest first.
    pub async fn waiting_runs(&self, now: DateTime<Utc>) -> Result<Vec<RunRow>, StoreError> {
        let rows: Vec<RawRun> = crate::with_pool!(&self.db, p, b => {
            let text = format!(
                "SELECT {} FROM syncdeck_runs WHERE status = 'queued' AND wait_until IS NOT NULL ORDER BY wait_until",
                run_columns(b)
            );
            sqlx::query_as(sqlx::AssertSqlSafe(text)).fetch_all(p).await
        })
        .map_err(err("reading the runs waiting for a quota reset"))?;
        Ok(rows
            .into_iter()
            .map(run_from_raw)
            .filter(|r| r.waiting(now))
            .collect())
    }

    /// The active run of an artist, if any.
    pub async fn active_run_of(&self, artist_id: &str) -> Result<Option<RunRow>, StoreError> {
        let rows: Option<RawRun> = crate::with_pool!(&self.db, p, b => {
            let text = format!(
                "SELECT {} FROM syncdeck_runs WHERE artist_id = $1{} AND status IN ('queued', 'running')",
                run_columns(b), if b == Backend::Postgres { "::uuid" } else { "" }
            );
            sqlx::query_as(sqlx::AssertSqlSafe(text)).bind(artist_id).fetch_optional(p).await
        })
        .map_err(err(format!("reading the active run of artist {artist_id}")))?;
        Ok(rows.map(run_from_raw))
    }

    /// The active runs and the runs that ended after `since`, in any process: what the
    /// console re-reads every few seconds to follow work it did not start.
    pub async fn runs_active_or_finished_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<RunRow>, StoreError> {
        let rows: Vec<RawRun> = crate::with_pool!(&self.db, p, b => {
            // A UNION, so each half uses its own index (status; finished_at).
            let cols = run_columns(b);
            let text = format!(
                "SELECT {cols} FROM syncdeck_runs WHERE status IN ('queued', 'running') \
                 UNION SELECT {cols} FROM syncdeck_runs WHERE finished_at > $1{}",
                if b == Backend::Postgres { "::timestamptz" } else { "" }
            );
            sqlx::query_as(sqlx::AssertSqlSafe(text)).bind(to_db(since)).fetch_all(p).await
        })
        .map_err(err("reading the active and recently finished runs"))?;
        Ok(rows.into_iter().map(run_from_raw).collect())
    }

    /// Ids of all active runs.
    pub async fn active_run_ids(&self) -> Result<Vec<String>, StoreError> {
        let q = crate::sql!(
            "SELECT id::text FROM syncdeck_runs WHERE status IN ('queued', 'running') ORDER BY requested_at"
        );
        crate::with_pool!(&self.db, p, b => {
            sqlx::query_scalar(q.text(b)).fetch_all(p).await
        })
        .map_err(err("listing active runs"))
    }

    /// Of the given running runs, those whose cancel flag is set.
    pub async fn cancel_flags(&self, run_ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for chunk in run_ids.chunks(500) {
            let rows: Vec<String> = crate::with_pool!(&self.db, p, b => {
                let mut qb = sqlx::QueryBuilder::new(if b == Backend::Postgres {
                    "SELECT id::text FROM syncdeck_runs WHERE cancel_requested AND id IN "
                } else {
                    "SELECT id FROM syncdeck_runs WHERE cancel_requested AND id IN "
                });
                super::dialect::push_uuid_list(&mut qb, b, chunk);
                qb.build_query_scalar().fetch_all(p).await
            })
            .map_err(err("reading cancel flags"))?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Proves this process still runs these runs (recovery re-queues runs without a heartbeat).
    pub async fn heartbeat_runs(&self, run_ids: &[String], worker: &str) -> Result<(), StoreError> {
        let now = now_db();
        for chunk in run_ids.chunks(500) {
            crate::with_pool!(&self.db, p, b => {
                let mut qb = sqlx::QueryBuilder::new("UPDATE syncdeck_runs SET heartbeat_at = ");
                qb.push_bind(now.clone());
                if b == Backend::Postgres { qb.push("::timestamptz"); }
                qb.push(" WHERE status = 'running' AND worker = ");
                qb.push_bind(worker.to_string());
                qb.push(" AND id IN ");
                super::dialect::push_uuid_list(&mut qb, b, chunk);
                qb.build().execute(p).await.map(|_| ())
            })
            .map_err(err("recording run heartbeats"))?;
        }
        Ok(())
    }

    /// Running runs whose process stopped sending heartbeats before `cutoff`, excluding
    /// `own_worker`'s (this process knows its own runs).
    pub async fn stale_runs(
        &self,
        cutoff: DateTime<Utc>,
        own_worker: &str,
    ) -> Result<Vec<RunRow>, StoreError> {
        let rows: Vec<RawRun> = crate::with_pool!(&self.db, p, b => {
            let text = format!(
                "SELECT {} FROM syncdeck_runs WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $1{}) \
                 AND (worker IS NULL OR worker <> $2)",
                run_columns(b), if b == Backend::Postgres { "::timestamptz" } else { "" }
            );
            sqlx::query_as(sqlx::AssertSqlSafe(text)).bind(to_db(cutoff)).bind(own_worker).fetch_all(p).await
        })
        .map_err(err("finding runs without a heartbeat"))?;
        Ok(rows.into_iter().map(run_from_raw).collect())
    }

    /// Re-queues a stale run only if it is still stale (another process may have done it, or
    /// its worker came back), and closes its open attempt as interrupted.
    pub async fn requeue_stale_run(
        &self,
        run_id: &str,
        cutoff: DateTime<Utc>,
        note: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let q = crate::sql!(
            "UPDATE syncdeck_runs SET status = 'queued', worker = NULL \
             WHERE id = $1::uuid AND status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $2::timestamptz)"
        );
        let n = crate::with_tx!(&mut tx, c, b => {
            sqlx::query(q.text(b)).bind(run_id).bind(to_db(cutoff)).execute(c).await.map(|r| r.rows_affected())
        })
        .map_err(err(format!("re-queueing stale run {run_id}")))?;
        if n == 1 {
            let a = crate::sql!(
                "UPDATE syncdeck_run_attempts SET finished_at = $2::timestamptz, outcome = 'interrupted', error = $3 \
                 WHERE run_id = $1::uuid AND finished_at IS NULL"
            );
            crate::with_tx!(&mut tx, c, b => {
                sqlx::query(a.text(b)).bind(run_id).bind(now_db()).bind(note).execute(c).await.map(|_| ())
            })
            .map_err(err(format!("closing the interrupted attempt of run {run_id}")))?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Artists with a part in `syncing` and no running run: left behind by a crash.
    pub async fn artists_stuck_syncing(&self) -> Result<Vec<(String, String)>, StoreError> {
        let q = crate::sql!(
            "SELECT a.id::text, a.name FROM artists a WHERE a.sync_status::text LIKE '%syncing%' \
             AND NOT EXISTS (SELECT 1 FROM syncdeck_runs r WHERE r.artist_id = a.id AND r.status = 'running')"
        );
        crate::with_pool!(&self.db, p, b => {
            sqlx::query_as(q.text(b)).fetch_all(p).await
        })
        .map_err(err("finding artists left syncing"))
    }

    /// Queued runs whose apalis task is gone or ended (so nothing would ever run them).
    pub async fn orphaned_queued_runs(&self) -> Result<Vec<RunRow>, StoreError> {
        let rows: Vec<RawRun> = crate::with_pool!(&self.db, p, b => {
            let jobs = if b == Backend::Postgres { "apalis.jobs" } else { "Jobs" };
            let text = format!(
                "SELECT {} FROM syncdeck_runs r WHERE r.status = 'queued' AND NOT EXISTS \
                 (SELECT 1 FROM {jobs} j WHERE j.id = r.task_id AND (j.status IN ('Pending', 'Queued', 'Running') \
                  OR (j.status = 'Failed' AND j.attempts < j.max_attempts)))",
                run_columns(b)
            );
            sqlx::query_as(sqlx::AssertSqlSafe(text)).fetch_all(p).await
        })
        .map_err(err("finding queued runs without a task"))?;
        Ok(rows.into_iter().map(run_from_raw).collect())
    }

    /// Stores a run's counts so far (the attempts before a retry), for the next attempt to add to.
    pub async fn set_run_counts(
        &self,
        run_id: &str,
        counts: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let q = crate::sql!("UPDATE syncdeck_runs SET counts = $2::jsonb WHERE id = $1::uuid");
        crate::with_pool!(&self.db, p, b => {
            sqlx::query(q.text(b)).bind(run_id).bind(counts.to_string()).execute(p).await.map(|_| ())
        })
        .map_err(err("storing a run's counts"))
    }

    /// Deletes finished runs older than `before` (history is kept for the console, not forever).
    pub async fn prune_runs(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let q = crate::sql!(
            "DELETE FROM syncdeck_runs WHERE status NOT IN ('queued', 'running') AND requested_at < $1::timestamptz"
        );
        crate::with_pool!(&self.db, p, b => {
            sqlx::query(q.text(b)).bind(to_db(before)).execute(p).await.map(|r| r.rows_affected())
        })
        .map_err(err("pruning old runs"))
    }
}

impl Store {
    /// Records this process as a worker (for the header's worker count), with a heartbeat.
    pub async fn register_worker(
        &self,
        id: &str,
        host: &str,
        pid: u32,
        concurrency: usize,
    ) -> Result<(), StoreError> {
        let q = crate::sql!(
            "INSERT INTO syncdeck_workers (id, host, pid, concurrency, started_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, concurrency = EXCLUDED.concurrency"
        );
        crate::with_pool!(&self.db, p, b => {
            sqlx::query(q.text(b)).bind(id).bind(host).bind(pid as i32).bind(concurrency as i32).bind(now_db())
                .execute(p).await.map(|_| ())
        })
        .map_err(err(format!("registering worker {id}")))
    }

    /// Removes this process's worker row (clean stop).
    pub async fn unregister_worker(&self, id: &str) -> Result<(), StoreError> {
        let q = crate::sql!("DELETE FROM syncdeck_workers WHERE id = $1");
        crate::with_pool!(&self.db, p, b => {
            sqlx::query(q.text(b)).bind(id).execute(p).await.map(|_| ())
        })
        .map_err(err(format!("unregistering worker {id}")))
    }

    /// Workers with a heartbeat after `cutoff`: (id, concurrency).
    pub async fn live_workers(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<(String, i32)>, StoreError> {
        let q = crate::sql!(
            "SELECT id, concurrency FROM syncdeck_workers WHERE heartbeat_at >= $1::timestamptz ORDER BY id"
        );
        crate::with_pool!(&self.db, p, b => {
            sqlx::query_as(q.text(b)).bind(to_db(cutoff)).fetch_all(p).await
        })
        .map_err(err("listing workers"))
    }
}

/// Puts a running run back in the queue to wait for a quota reset: `wait_until` and the
/// reason are shown while it waits; its next attempt is numbered after this one, which does
/// not count against `max_attempts`. The caller pushes the task that runs at `until`.
pub async fn wait_run_in_tx(
    tx: &mut Tx,
    run_id: &str,
    attempt: i32,
    until: DateTime<Utc>,
    reason: &str,
    counts: &serde_json::Value,
) -> Result<bool, StoreError> {
    let q = crate::sql!(
        "UPDATE syncdeck_runs SET status = 'queued', worker = NULL, wait_until = $2::timestamptz, \
         wait_reason = $3, attempt_base = $4, max_attempts = max_attempts + 1, counts = $5::jsonb \
         WHERE id = $1::uuid AND status = 'running'"
    );
    let n = crate::with_tx!(tx, c, b => {
        sqlx::query(q.text(b)).bind(run_id).bind(to_db(until)).bind(reason).bind(attempt)
            .bind(counts.to_string()).execute(c).await.map(|r| r.rows_affected())
    })
    .map_err(err(format!(
        "putting run {run_id} to wait for a quota reset"
    )))?;
    Ok(n == 1)
}
