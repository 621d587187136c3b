//! The artist-row writes and reads of one sync: ids discovered on the way, Spotify details,
//! the upcoming-shows total, and putting `syncing` parts back after a cancel or a crash.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::sync_status::{PartStatus, Source, SyncStatus};
use super::time::{date_from_db, now_db};
use super::{Backend, Store, StoreError, Tx};

/// What the pipeline needs of an artist row.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncTarget {
    pub id: String,
    pub name: String,
    pub ticketmaster_id: Option<String>,
    pub spotify_id: Option<String>,
    pub setlist_fm_mbid: Option<String>,
    pub sync_status: SyncStatus,
}

/// A show of the artist, for linking setlists by venue-local date.
#[derive(Debug, Clone, PartialEq)]
pub struct ShowOnDate {
    pub show_id: String,
    pub venue_id: Option<String>,
    pub date: NaiveDate,
}

fn err(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
    let context = context.into();
    move |e| StoreError::query(context, e)
}

/// Which artists a bulk request takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    All,
    /// Artists with at least one part in `error`.
    Failed,
}

impl Store {
    /// (id, name) of the selected artists, by name.
    pub async fn artist_refs(&self, which: Selection) -> Result<Vec<(String, String)>, StoreError> {
        let q =
            crate::sql!("SELECT id::text, name, sync_status::text FROM artists ORDER BY name, id");
        let rows: Vec<(String, String, Option<String>)> = crate::with_pool!(&self.db, p, b => {
            sqlx::query_as(q.text(b)).fetch_all(p).await
        })
        .map_err(err("listing artists"))?;
        Ok(rows
            .into_iter()
            .filter(|(_, _, status)| match which {
                Selection::All => true,
                Selection::Failed => SyncStatus::from_db(status.as_deref())
                    .parts()
                    .iter()
                    .any(|(_, p)| *p == PartStatus::Error),
            })
            .map(|(id, name, _)| (id, name))
            .collect())
    }

    pub async fn sync_target(&self, artist_id: &str) -> Result<Option<SyncTarget>, StoreError> {
        type Raw = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let q = crate::sql!(
            "SELECT id::text, name, ticketmaster_id, spotify_id, setlist_fm_mbid, sync_status::text FROM artists WHERE id = $1::uuid"
        );
        let row: Option<Raw> = crate::with_pool!(&self.db, p, b => {
            sqlx::query_as(q.text(b)).bind(artist_id).fetch_optional(p).await
        })
        .map_err(err(format!("reading artist {artist_id}")))?;
        Ok(row.map(|r| SyncTarget {
            id: r.0,
            name: r.1,
            ticketmaster_id: r.2.filter(|s| !s.trim().is_empty()),
            spotify_id: r.3.filter(|s| !s.trim().is_empty()),
            setlist_fm_mbid: r.4.filter(|s| !s.trim().is_empty()),
            sync_status: SyncStatus::from_db(r.5.as_deref()),
        }))
    }

    /// Puts every part that is `syncing` back to what it was before the run (`prior`): a
    /// cancelled run leaves the artist as it found it.
    pub async fn restore_syncing_parts(
        &self,
        artist_id: &str,
        prior: &SyncStatus,
    ) -> Result<(), StoreError> {
        self.rewrite_syncing_parts(artist_id, |source| prior.get(source), None)
            .await
            .map(|_| ())
    }

    /// Sets every part that is `syncing` to `error` with `message` as `last_sync_error`: a run
    /// that ended without finishing its parts (crash, lost worker).
    pub async fn fail_syncing_parts(
        &self,
        artist_id: &str,
        message: &str,
    ) -> Result<bool, StoreError> {
        self.rewrite_syncing_parts(artist_id, |_| PartStatus::Error, Some(message))
            .await
    }

    async fn rewrite_syncing_parts(
        &self,
        artist_id: &str,
        replacement: impl Fn(Source) -> PartStatus,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let current: Option<Option<String>> = crate::with_tx!(&mut tx, c, b => {
            let read = match b {
                Backend::Postgres => "SELECT sync_status::text FROM artists WHERE id = $1::uuid FOR UPDATE",
                Backend::Sqlite => "SELECT sync_status FROM artists WHERE id = $1",
            };
            sqlx::query_scalar(read).bind(artist_id).fetch_optional(c).await
        })
        .map_err(err(format!("reading the sync status of artist {artist_id}")))?;
        let Some(current) = current else {
            return Ok(false);
        };
        let mut status = SyncStatus::from_db(current.as_deref());
        let mut changed = false;
        for (source, part) in status.parts() {
            if part == PartStatus::Syncing {
                let mut to = replacement(source);
                if to == PartStatus::Syncing {
                    to = PartStatus::Pending;
                }
                status.set(source, to);
                changed = true;
            }
        }
        if changed {
            let q = crate::sql!(
                "UPDATE artists SET sync_status = $2::jsonb, last_sync_error = COALESCE($3, last_sync_error), \
                 updated_at = $4::timestamptz WHERE id = $1::uuid"
            );
            crate::with_tx!(&mut tx, c, b => {
                sqlx::query(q.text(b)).bind(artist_id).bind(status.to_json()).bind(error).bind(now_db())
                    .execute(c).await.map(|_| ())
            })
            .map_err(err(format!("repairing the sync status of artist {artist_id}")))?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Sets one part's status and, for an error, `last_sync_error` (one short transaction).
    pub async fn set_part_result(
        &self,
        artist_id: &str,
        source: Source,
        status: PartStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        super::artists::set_part_status_tx(&mut tx, artist_id, source, status).await?;
        if let Some(message) = error {
            set_last_sync_error(&mut tx, artist_id, Some(message)).await?;
        }
        tx.commit().await
    }
}

/// Sets (or clears) `last_sync_error`.
pub async fn set_last_sync_error(
    tx: &mut Tx,
    artist_id: &str,
    message: Option<&str>,
) -> Result<(), StoreError> {
    let q = crate::sql!("UPDATE artists SET last_sync_error = $2 WHERE id = $1::uuid");
    crate::with_tx!(tx, c, b => {
        sqlx::query(q.text(b)).bind(artist_id).bind(message).execute(c).await.map(|_| ())
    })
    .map_err(err(format!("writing the last error of artist {artist_id}")))
}

/// Fills ids the artist row lacks (never overwrites one an operator set).
pub async fn fill_artist_ids(
    tx: &mut Tx,
    artist_id: &str,
    spotify_id: Option<&str>,
    setlist_fm_mbid: Option<&str>,
) -> Result<(), StoreError> {
    // A Spotify id another artist row already holds is not copied (a unique key, and a sign of
    // a duplicate artist the operator should look at); the songs are still written.
    let q = crate::sql!(
        "UPDATE artists SET spotify_id = CASE WHEN EXISTS (SELECT 1 FROM artists o WHERE o.spotify_id = $2 AND o.id <> $1::uuid) \
           THEN spotify_id ELSE COALESCE(NULLIF(spotify_id, ''), $2) END, \
         setlist_fm_mbid = COALESCE(NULLIF(setlist_fm_mbid, ''), $3) WHERE id = $1::uuid"
    );
    crate::with_tx!(tx, c, b => {
        sqlx::query(q.text(b)).bind(artist_id).bind(spotify_id).bind(setlist_fm_mbid).execute(c).await.map(|_| ())
    })
    .map_err(err(format!("recording the provider ids of artist {artist_id}")))
}

/// Spotify's details of the artist.
pub async fn apply_spotify_details(
    tx: &mut Tx,
    artist_id: &str,
    image_url: Option<&str>,
    spotify_url: Option<&str>,
    genres: &[String],
    followers: Option<i64>,
    popularity: Option<i64>,
) -> Result<(), StoreError> {
    let done = match tx {
        Tx::Postgres(c) => sqlx::query(
            "UPDATE artists SET image_url = COALESCE($2, image_url), spotify_url = COALESCE($3, spotify_url), \
             genres = CASE WHEN cardinality($4::text[]) > 0 THEN $4::text[] ELSE genres END, \
             followers = COALESCE($5::integer, followers), popularity = COALESCE($6::integer, popularity), \
             spotify_popularity = COALESCE($6::integer, spotify_popularity) WHERE id = $1::uuid",
        )
        .bind(artist_id).bind(image_url).bind(spotify_url).bind(genres.to_vec()).bind(followers).bind(popularity)
        .execute(&mut **c).await.map(|_| ()),
        // SQLite keeps `genres` as a JSON array in text.
        Tx::Sqlite(c) => sqlx::query(
            "UPDATE artists SET image_url = COALESCE($2, image_url), spotify_url = COALESCE($3, spotify_url), \
             genres = CASE WHEN $4 <> '[]' THEN $4 ELSE genres END, \
             followers = COALESCE($5, followers), popularity = COALESCE($6, popularity), \
             spotify_popularity = COALESCE($6, spotify_popularity) WHERE id = $1",
        )
        .bind(artist_id).bind(image_url).bind(spotify_url)
        .bind(serde_json::to_string(genres).unwrap_or_else(|_| "[]".into()))
        .bind(followers).bind(popularity)
        .execute(&mut **c).await.map(|_| ()),
    };
    done.map_err(err(format!(
        "writing the Spotify details of artist {artist_id}"
    )))
}

/// The real total of upcoming shows, as Ticketmaster reported them.
pub async fn set_upcoming_shows_count(
    tx: &mut Tx,
    artist_id: &str,
    count: i64,
) -> Result<(), StoreError> {
    let q =
        crate::sql!("UPDATE artists SET upcoming_shows_count = $2::integer WHERE id = $1::uuid");
    crate::with_tx!(tx, c, b => {
        sqlx::query(q.text(b)).bind(artist_id).bind(count).execute(c).await.map(|_| ())
    })
    .map_err(err(format!(
        "writing the upcoming shows of artist {artist_id}"
    )))
}

/// Ends the sync on the artist row: `last_sync` when every part succeeded, and
/// `last_sync_error` set to `error` or cleared.
pub async fn finish_artist_sync_tx(
    tx: &mut Tx,
    artist_id: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let q = crate::sql!(
        "UPDATE artists SET last_sync_error = $2, \
         last_sync = CASE WHEN $2 IS NULL THEN $3::timestamptz ELSE last_sync END, updated_at = $3::timestamptz \
         WHERE id = $1::uuid"
    );
    crate::with_tx!(tx, c, b => {
        sqlx::query(q.text(b)).bind(artist_id).bind(error).bind(now_db()).execute(c).await.map(|_| ())
    })
    .map_err(err(format!("recording the end of the sync of artist {artist_id}")))
}

/// The artist's dated shows (for linking setlists).
pub async fn shows_on_dates(tx: &mut Tx, artist_id: &str) -> Result<Vec<ShowOnDate>, StoreError> {
    let q = crate::sql!(
        "SELECT id::text, venue_id::text, date::text FROM shows WHERE artist_id = $1::uuid AND date IS NOT NULL"
    );
    let rows: Vec<(String, Option<String>, String)> = crate::with_tx!(tx, c, b => {
        sqlx::query_as(q.text(b)).bind(artist_id).fetch_all(c).await
    })
    .map_err(err(format!("reading the shows of artist {artist_id}")))?;
    Ok(rows
        .into_iter()
        .filter_map(|(show_id, venue_id, date)| {
            Some(ShowOnDate {
                show_id,
                venue_id,
                date: date_from_db(&date)?,
            })
        })
        .collect())
}

/// The artist's songs by lower-cased name (first one wins), for linking setlist songs.
pub async fn song_ids_by_name(
    tx: &mut Tx,
    artist_id: &str,
) -> Result<HashMap<String, String>, StoreError> {
    let q = crate::sql!(
        "SELECT name, id::text FROM songs WHERE artist_id = $1::uuid ORDER BY created_at, id"
    );
    let rows: Vec<(String, String)> = crate::with_tx!(tx, c, b => {
        sqlx::query_as(q.text(b)).bind(artist_id).fetch_all(c).await
    })
    .map_err(err(format!("reading the songs of artist {artist_id}")))?;
    let mut out = HashMap::new();
    for (name, id) in rows {
        out.entry(name.to_lowercase()).or_insert(id);
    }
    Ok(out)
}
