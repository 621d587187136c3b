//! What the keep-fresh scheduler reads and writes: its lease (one scheduler enqueues per
//! database), each periodic rule's last firing, and every artist's freshness (last sync, next
//! show, failures since its last success, whether a run is active).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::sync_status::SyncStatus;
use super::time::{from_db, to_db};
use super::{Store, StoreError};

/// One artist as the scheduler ranks it.
#[derive(Debug, Clone, PartialEq)]
pub struct Freshness {
    pub artist_id: String,
    pub name: String,
    pub sync_status: SyncStatus,
    pub last_sync: Option<DateTime<Utc>>,
    /// Its earliest show on or after today.
    pub next_show: Option<NaiveDate>,
    /// Failed runs since its last successful one.
    pub failures: u32,
    pub last_failure: Option<DateTime<Utc>>,
    /// A run of it is queued or running.
    pub active: bool,
}

/// The current holder of the scheduler's lease.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lease {
    pub holder: String,
    pub expires_at: Option<DateTime<Utc>>,
}

const FRESHNESS: &str = "SELECT a.id::text AS id, a.name, a.sync_status::text AS sync_status, \
     a.last_sync::text AS last_sync, \
     (SELECT min(s.date)::text FROM shows s WHERE s.artist_id = a.id AND s.date >= $1::date) AS next_show, \
     (SELECT count(*) FROM syncdeck_runs r WHERE r.artist_id = a.id AND r.status = 'failed' \
        AND r.finished_at > COALESCE((SELECT max(r2.finished_at) FROM syncdeck_runs r2 \
            WHERE r2.artist_id = a.id AND r2.status = 'succeeded'), '1970-01-01T00:00:00Z'::timestamptz)) AS failures, \
     (SELECT max(r.finished_at)::text FROM syncdeck_runs r WHERE r.artist_id = a.id AND r.status = 'failed') AS last_failure, \
     EXISTS (SELECT 1 FROM syncdeck_runs r WHERE r.artist_id = a.id AND r.status IN ('queued', 'running')) AS active \
     FROM artists a";

impl Store {
    /// Every artist's freshness, for the scheduler (`today`: the first day a show counts).
    pub async fn freshness(&self, today: NaiveDate) -> Result<Vec<Freshness>, StoreError> {
        let q = crate::sql!(FRESHNESS);
        let day = today.format("%Y-%m-%d").to_string();
        let ctx = "reading every artist's freshness for the scheduler";
        crate::with_pool!(&self.db, pool, b => {
            let rows = sqlx::query(q.text(b)).bind(&day).fetch_all(pool).await
                .map_err(|e| StoreError::query(ctx, e))?;
            rows.iter()
                .map(|row| -> Result<Freshness, sqlx::Error> {
                    let ts = |name: &str| -> Result<Option<DateTime<Utc>>, sqlx::Error> {
                        Ok(row.try_get::<Option<String>, _>(name)?.as_deref().and_then(from_db))
                    };
                    Ok(Freshness {
                        artist_id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        sync_status: SyncStatus::from_db(
                            row.try_get::<Option<String>, _>("sync_status")?.as_deref(),
                        ),
                        last_sync: ts("last_sync")?,
                        next_show: row
                            .try_get::<Option<String>, _>("next_show")?
                            .as_deref()
                            .and_then(|d| NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d").ok()),
                        failures: u32::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(0),
                        last_failure: ts("last_failure")?,
                        active: row.try_get("active")?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::query(ctx, e))
        })
    }

    /// Takes or renews the scheduler's lease for `holder` until `until`: `true` when `holder`
    /// holds it now (it held it, or the last holder's lease ran out before `now`).
    pub async fn hold_scheduler_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let q = crate::sql!(
            "INSERT INTO syncdeck_scheduler_lease (id, holder, expires_at) VALUES (1, $1, $2::timestamptz) \
             ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at \
             WHERE syncdeck_scheduler_lease.holder = EXCLUDED.holder \
                OR syncdeck_scheduler_lease.expires_at < $3::timestamptz"
        );
        let done = crate::with_pool!(&self.db, pool, b => {
            sqlx::query(q.text(b)).bind(holder).bind(to_db(until)).bind(to_db(now))
                .execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(|e| StoreError::query("taking the scheduler's lease", e))?;
        Ok(done == 1)
    }

    /// Gives the lease up (a stopping scheduler), so another process takes over at once.
    pub async fn release_scheduler_lease(&self, holder: &str) -> Result<(), StoreError> {
        let q = crate::sql!("DELETE FROM syncdeck_scheduler_lease WHERE id = 1 AND holder = $1");
        crate::with_pool!(&self.db, pool, b => {
            sqlx::query(q.text(b)).bind(holder).execute(pool).await.map(|_| ())
        })
        .map_err(|e| StoreError::query("releasing the scheduler's lease", e))
    }

    /// Who holds the scheduler's lease (it may have run out).
    pub async fn scheduler_lease(&self) -> Result<Option<Lease>, StoreError> {
        let q = crate::sql!(
            "SELECT holder, expires_at::text FROM syncdeck_scheduler_lease WHERE id = 1"
        );
        let row: Option<(String, String)> = crate::with_pool!(&self.db, pool, b => {
            sqlx::query_as(q.text(b)).fetch_optional(pool).await
        })
        .map_err(|e| StoreError::query("reading the scheduler's lease", e))?;
        Ok(row.map(|(holder, at)| Lease {
            holder,
            expires_at: from_db(&at),
        }))
    }

    /// When the periodic rule `name` last fired (`None`: never seen).
    pub async fn rule_last_fired(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let q =
            crate::sql!("SELECT last_fired_at::text FROM syncdeck_schedule_rules WHERE name = $1");
        let row: Option<(String,)> = crate::with_pool!(&self.db, pool, b => {
            sqlx::query_as(q.text(b)).bind(name).fetch_optional(pool).await
        })
        .map_err(|e| StoreError::query("reading a schedule rule's last firing", e))?;
        Ok(row.and_then(|(at,)| from_db(&at)))
    }

    /// Records that the rule `name` fired at `at`.
    pub async fn set_rule_fired(&self, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let q = crate::sql!(
            "INSERT INTO syncdeck_schedule_rules (name, last_fired_at) VALUES ($1, $2::timestamptz) \
             ON CONFLICT (name) DO UPDATE SET last_fired_at = EXCLUDED.last_fired_at"
        );
        crate::with_pool!(&self.db, pool, b => {
            sqlx::query(q.text(b)).bind(name).bind(to_db(at)).execute(pool).await.map(|_| ())
        })
        .map_err(|e| StoreError::query("recording a schedule rule's firing", e))
    }

    /// Runs queued or running that the scheduler enqueued.
    pub async fn active_scheduled_runs(&self) -> Result<i64, StoreError> {
        let q = crate::sql!(
            "SELECT count(*) FROM syncdeck_runs WHERE trigger = 'scheduled' AND status IN ('queued', 'running')"
        );
        let (n,): (i64,) = crate::with_pool!(&self.db, pool, b => {
            sqlx::query_as(q.text(b)).fetch_one(pool).await
        })
        .map_err(|e| StoreError::query("counting the scheduler's active runs", e))?;
        Ok(n)
    }
}
