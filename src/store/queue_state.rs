//! The queue's pause switch, in `syncdeck_queue_state`: every worker on this database reads it
//! and starts no run while it is on (running ones finish).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::time::{from_db, now_db};
use super::{Store, StoreError};

/// Who paused the queue and when, while it is paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paused {
    pub since: Option<DateTime<Utc>>,
    pub by: Option<String>,
}

impl Store {
    /// `Some` while the queue is paused.
    pub async fn queue_paused(&self) -> Result<Option<Paused>, StoreError> {
        let q = crate::sql!(
            "SELECT paused, changed_at::text, changed_by FROM syncdeck_queue_state WHERE id = 1"
        );
        let row: Option<(bool, Option<String>, Option<String>)> =
            crate::with_pool!(&self.db, pool, b => {
                sqlx::query_as(q.text(b)).fetch_optional(pool).await
            })
            .map_err(|e| StoreError::query("reading whether the queue is paused", e))?;
        Ok(row.and_then(|(paused, at, by)| {
            paused.then(|| Paused {
                since: at.as_deref().and_then(from_db),
                by,
            })
        }))
    }

    /// Pauses (`true`) or resumes the queue for every process; `by` names who did it.
    pub async fn set_queue_paused(&self, paused: bool, by: &str) -> Result<(), StoreError> {
        let q = crate::sql!(
            "INSERT INTO syncdeck_queue_state (id, paused, changed_at, changed_by) VALUES (1, $1, $2::timestamptz, $3) \
             ON CONFLICT (id) DO UPDATE SET paused = EXCLUDED.paused, changed_at = EXCLUDED.changed_at, \
             changed_by = EXCLUDED.changed_by"
        );
        crate::with_pool!(&self.db, pool, b => {
            sqlx::query(q.text(b)).bind(paused).bind(now_db()).bind(by).execute(pool).await.map(|_| ())
        })
        .map_err(|e| StoreError::query(if paused { "pausing the queue" } else { "resuming the queue" }, e))
    }
}
