//! Artists: the paged, filtered, sorted list the console and `status` show; one artist's detail;
//! and the status bookkeeping a sync writes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{QueryBuilder, Row};

use super::sync_status::{
    Overall, PartStatus, Source, SyncStatus, sql_overall_expr, sql_part_expr,
};
use super::time::{from_db, now_db};
use super::{Backend, Store, StoreError};

/// One row of the artists list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArtistSummary {
    pub id: String,
    pub name: String,
    pub ticketmaster_id: String,
    pub spotify_id: Option<String>,
    pub setlist_fm_mbid: Option<String>,
    pub sync_status: SyncStatus,
    pub last_sync: Option<DateTime<Utc>>,
    pub last_ticketmaster_sync: Option<DateTime<Utc>>,
    pub last_spotify_sync: Option<DateTime<Utc>>,
    pub last_sync_error: Option<String>,
    pub upcoming_shows_count: i64,
    pub songs_count: i64,
}

impl ArtistSummary {
    pub fn overall(&self) -> Overall {
        self.sync_status.overall()
    }
}

/// Every field of one artist plus counts of what hangs off it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArtistDetail {
    #[serde(flatten)]
    pub summary: ArtistSummary,
    pub image_url: Option<String>,
    pub url: Option<String>,
    pub spotify_url: Option<String>,
    pub genres: Vec<String>,
    pub followers: Option<i64>,
    pub popularity: Option<i64>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub shows_count: i64,
    pub venues_count: i64,
    pub setlists_count: i64,
}

/// Filters of the list; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArtistFilter {
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    /// Each (source, status) pair must hold.
    pub parts: Vec<(Source, PartStatus)>,
    pub overall: Option<Overall>,
    /// `Some(true)`: only artists with a `last_sync_error`; `Some(false)`: only without.
    pub has_error: Option<bool>,
    /// `Some(true)`: only artists never synced (`last_sync` is null).
    pub never_synced: Option<bool>,
}

/// Columns the list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    Name,
    Overall,
    Ticketmaster,
    Spotify,
    Setlistfm,
    LastSync,
    Shows,
    Songs,
    LastError,
}

impl SortKey {
    pub const ALL: [SortKey; 9] = [
        SortKey::Name,
        SortKey::Overall,
        SortKey::Ticketmaster,
        SortKey::Spotify,
        SortKey::Setlistfm,
        SortKey::LastSync,
        SortKey::Shows,
        SortKey::Songs,
        SortKey::LastError,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Overall => "overall",
            SortKey::Ticketmaster => "ticketmaster",
            SortKey::Spotify => "spotify",
            SortKey::Setlistfm => "setlist.fm",
            SortKey::LastSync => "last sync",
            SortKey::Shows => "shows",
            SortKey::Songs => "songs",
            SortKey::LastError => "last error",
        }
    }

    /// The next key in [`SortKey::ALL`], round to the first.
    pub fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|c| *c == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }
}

/// A page request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: ArtistFilter,
    pub sort: SortKey,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            filter: ArtistFilter::default(),
            sort: SortKey::Name,
            descending: false,
            offset: 0,
            limit: 100,
        }
    }
}

/// A page of artists, with how many match and how many exist.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub rows: Vec<ArtistSummary>,
    pub matching: i64,
    pub total: i64,
}

const SUMMARY_COLUMNS: &str = "a.id::text AS id, a.name, a.ticketmaster_id, a.spotify_id, a.setlist_fm_mbid, \
     a.sync_status::text AS sync_status, a.last_sync::text AS last_sync, \
     a.last_ticketmaster_sync::text AS last_ticketmaster_sync, a.last_spotify_sync::text AS last_spotify_sync, \
     a.last_sync_error, COALESCE(a.upcoming_shows_count, 0)::bigint AS upcoming_shows_count, \
     (SELECT count(*) FROM songs s WHERE s.artist_id = a.id) AS songs_count";

fn summary_columns(backend: Backend) -> String {
    match backend {
        Backend::Postgres => SUMMARY_COLUMNS.to_string(),
        Backend::Sqlite => super::dialect::strip_casts(SUMMARY_COLUMNS),
    }
}

fn summary_from_row<R: Row>(row: &R) -> Result<ArtistSummary, sqlx::Error>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database>,
{
    let ts = |name: &str| -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        Ok(row
            .try_get::<Option<String>, _>(name)?
            .as_deref()
            .and_then(from_db))
    };
    Ok(ArtistSummary {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        ticketmaster_id: row.try_get("ticketmaster_id")?,
        spotify_id: row.try_get("spotify_id")?,
        setlist_fm_mbid: row.try_get("setlist_fm_mbid")?,
        sync_status: SyncStatus::from_db(
            row.try_get::<Option<String>, _>("sync_status")?.as_deref(),
        ),
        last_sync: ts("last_sync")?,
        last_ticketmaster_sync: ts("last_ticketmaster_sync")?,
        last_spotify_sync: ts("last_spotify_sync")?,
        last_sync_error: row.try_get("last_sync_error")?,
        upcoming_shows_count: row
            .try_get::<Option<i64>, _>("upcoming_shows_count")?
            .unwrap_or(0),
        songs_count: row.try_get::<Option<i64>, _>("songs_count")?.unwrap_or(0),
    })
}

/// Appends ` WHERE …` for the filter, values bound (never formatted into the SQL).
fn push_filter<DB: sqlx::Database>(
    qb: &mut QueryBuilder<DB>,
    backend: Backend,
    filter: &ArtistFilter,
) where
    for<'e> String: sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    let mut first = true;
    let mut and = |qb: &mut QueryBuilder<DB>| {
        qb.push(if first { " WHERE " } else { " AND " });
        first = false;
    };
    if let Some(name) = filter.name_contains.as_ref().filter(|n| !n.is_empty()) {
        and(qb);
        // instr() on SQLite, strpos() on Postgres: a plain substring test, no LIKE wildcards.
        qb.push(match backend {
            Backend::Sqlite => "instr(lower(a.name), ",
            Backend::Postgres => "strpos(lower(a.name), ",
        });
        qb.push_bind(name.to_lowercase());
        qb.push(") > 0");
    }
    for (source, status) in &filter.parts {
        and(qb);
        qb.push(sql_part_expr(backend, "a.sync_status", *source));
        qb.push(" = ");
        qb.push_bind(status.as_str().to_string());
    }
    if let Some(overall) = filter.overall {
        and(qb);
        qb.push(sql_overall_expr(backend, "a.sync_status"));
        qb.push(" = ");
        qb.push_bind(overall.as_str().to_string());
    }
    if let Some(has) = filter.has_error {
        and(qb);
        qb.push(if has {
            "(a.last_sync_error IS NOT NULL AND a.last_sync_error <> '')"
        } else {
            "(a.last_sync_error IS NULL OR a.last_sync_error = '')"
        });
    }
    if let Some(never) = filter.never_synced {
        and(qb);
        qb.push(if never {
            "a.last_sync IS NULL"
        } else {
            "a.last_sync IS NOT NULL"
        });
    }
}

/// Ranks status words in the order of the Rust enums' `Ord`, so the database and a console
/// sorting in memory agree.
fn rank(expr: String, order: &[&str]) -> String {
    let whens: String = order
        .iter()
        .enumerate()
        .map(|(i, w)| format!(" WHEN '{w}' THEN {i}"))
        .collect();
    format!("(CASE {expr}{whens} ELSE {} END)", order.len())
}

fn order_by(backend: Backend, sort: SortKey, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    let part = |source| {
        rank(
            sql_part_expr(backend, "a.sync_status", source),
            &["pending", "syncing", "success", "error"],
        )
    };
    let key = match sort {
        // Never null, and a plain key lets the lower(name) index serve the sort.
        SortKey::Name => return format!(" ORDER BY lower(a.name) {dir}, a.id {dir}"),
        SortKey::Overall => rank(
            sql_overall_expr(backend, "a.sync_status"),
            &["syncing", "error", "pending", "success"],
        ),
        SortKey::Ticketmaster => part(Source::Ticketmaster),
        SortKey::Spotify => part(Source::Spotify),
        SortKey::Setlistfm => part(Source::Setlistfm),
        SortKey::LastSync => "a.last_sync".to_string(),
        SortKey::Shows => "COALESCE(a.upcoming_shows_count, 0)".to_string(),
        // Postgres does not accept an output alias inside an ORDER BY expression.
        SortKey::Songs => "(SELECT count(*) FROM songs s WHERE s.artist_id = a.id)".to_string(),
        SortKey::LastError => "COALESCE(a.last_sync_error, '')".to_string(),
    };
    // Nulls last either way, then a stable tie-break so pages never overlap.
    format!(" ORDER BY ({key}) IS NULL, {key} {dir}, lower(a.name) ASC, a.id ASC")
}

impl Store {
    /// One page of artists with their statuses, filtered and sorted in the database.
    pub async fn list_artists(&self, q: &ListQuery) -> Result<Page, StoreError> {
        crate::with_pool!(&self.db, pool, b => {
            let mut qb = QueryBuilder::new(format!("SELECT {} FROM artists a", summary_columns(b)));
            push_filter(&mut qb, b, &q.filter);
            qb.push(order_by(b, q.sort, q.descending));
            qb.push(" LIMIT ");
            qb.push_bind(q.limit.max(0));
            qb.push(" OFFSET ");
            qb.push_bind(q.offset.max(0));
            let rows = qb.build().fetch_all(pool).await.map_err(|e| StoreError::query("listing artists", e))?;
            let rows = rows.iter().map(summary_from_row).collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::query("reading an artist row", e))?;

            let mut count = QueryBuilder::new("SELECT count(*) FROM artists a");
            push_filter(&mut count, b, &q.filter);
            let matching: i64 = count.build_query_scalar().fetch_one(pool).await
                .map_err(|e| StoreError::query("counting artists", e))?;
            let total: i64 = sqlx::query_scalar("SELECT count(*) FROM artists").fetch_one(pool).await
                .map_err(|e| StoreError::query("counting artists", e))?;
            Ok(Page { rows, matching, total })
        })
    }

    /// Every artist, in name order (for `status` and the console's in-memory table).
    pub async fn all_artists(&self) -> Result<Vec<ArtistSummary>, StoreError> {
        let q = ListQuery {
            limit: i64::MAX,
            ..Default::default()
        };
        Ok(self.list_artists(&q).await?.rows)
    }

    /// Every artist in no particular order, and nothing else: the console sorts and counts
    /// in memory, so the database's sort (a third of the time at 100,000 artists) and the
    /// page counts are skipped.
    pub async fn all_artists_unordered(&self) -> Result<Vec<ArtistSummary>, StoreError> {
        use futures::TryStreamExt;
        crate::with_pool!(&self.db, pool, b => {
            let sql = format!("SELECT {} FROM artists a", summary_columns(b));
            // Streamed: each row is decoded as it arrives, so the raw rows of 100,000 artists
            // are never all held at once beside the decoded ones.
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(pool);
            let mut out = Vec::new();
            while let Some(row) = rows.try_next().await
                .map_err(|e| StoreError::query("reading every artist", e))?
            {
                out.push(summary_from_row(&row).map_err(|e| StoreError::query("reading an artist row", e))?);
            }
            Ok(out)
        })
    }

    /// The artists with these uuids (unknown ones left out), in no particular order.
    pub async fn artist_summaries(&self, ids: &[String]) -> Result<Vec<ArtistSummary>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            crate::with_pool!(&self.db, pool, b => {
                let mut qb = QueryBuilder::new(format!("SELECT {} FROM artists a WHERE a.id IN ", summary_columns(b)));
                super::dialect::push_uuid_list(&mut qb, b, chunk);
                let rows = qb.build().fetch_all(pool).await
                    .map_err(|e| StoreError::query("reading artists by id", e))?;
                for row in &rows {
                    out.push(summary_from_row(row).map_err(|e| StoreError::query("reading an artist row", e))?);
                }
                Ok::<(), StoreError>(())
            })?;
        }
        Ok(out)
    }

    /// How many artists exist (cheap: the database counts an index).
    pub async fn artist_count(&self) -> Result<i64, StoreError> {
        crate::with_pool!(&self.db, pool, _b => {
            sqlx::query_scalar("SELECT count(*) FROM artists").fetch_one(pool).await
        })
        .map_err(|e| StoreError::query("counting artists", e))
    }

    /// The newest `updated_at` of any artist: tells a reader holding every artist whether a
    /// full re-read could show anything new. A scan of every row (the app's table has no index
    /// on it), so asked seldom.
    pub async fn artists_newest_update(&self) -> Result<Option<String>, StoreError> {
        let q = crate::sql!("SELECT max(updated_at)::text FROM artists");
        crate::with_pool!(&self.db, pool, b => {
            sqlx::query_scalar(q.text(b)).fetch_one(pool).await
        })
        .map_err(|e| StoreError::query("reading the newest artist update", e))
    }

    /// One artist by uuid, with counts of its shows, venues, songs and setlists.
    pub async fn artist_detail(&self, id: &str) -> Result<Option<ArtistDetail>, StoreError> {
        crate::with_pool!(&self.db, pool, b => {
            let sql = format!(
                "SELECT {}, a.image_url, a.url, a.spotify_url, {genres} AS genres, a.followers::bigint AS followers, \
                 a.popularity::bigint AS popularity, a.created_at::text AS created_at, a.updated_at::text AS updated_at, \
                 (SELECT count(*) FROM shows s WHERE s.artist_id = a.id) AS shows_count, \
                 (SELECT count(DISTINCT s.venue_id) FROM shows s WHERE s.artist_id = a.id) AS venues_count, \
                 (SELECT count(*) FROM setlists l WHERE l.artist_id = a.id) AS setlists_count \
                 FROM artists a WHERE a.id = $1::uuid",
                SUMMARY_COLUMNS,
                genres = match b { Backend::Postgres => "array_to_json(a.genres)::text", Backend::Sqlite => "a.genres" },
            );
            let sql = match b { Backend::Postgres => sql, Backend::Sqlite => super::dialect::strip_casts(&sql) };
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await
                .map_err(|e| StoreError::query(format!("reading artist {id}"), e))?;
            let Some(row) = row else { return Ok(None) };
            let read = |row: &_| -> Result<ArtistDetail, sqlx::Error> {
                let ts = |name: &str| -> Result<Option<DateTime<Utc>>, sqlx::Error> {
                    Ok(Row::try_get::<Option<String>, _>(row, name)?.as_deref().and_then(from_db))
                };
                let genres: Option<String> = Row::try_get(row, "genres")?;
                Ok(ArtistDetail {
                    summary: summary_from_row(row)?,
                    image_url: Row::try_get(row, "image_url")?,
                    url: Row::try_get(row, "url")?,
                    spotify_url: Row::try_get(row, "spotify_url")?,
                    genres: genres.as_deref().and_then(|g| serde_json::from_str(g).ok()).unwrap_or_default(),
                    followers: Row::try_get(row, "followers")?,
                    popularity: Row::try_get(row, "popularity")?,
                    created_at: ts("created_at")?,
                    updated_at: ts("updated_at")?,
                    shows_count: Row::try_get(row, "shows_count")?,
                    venues_count: Row::try_get(row, "venues_count")?,
                    setlists_count: Row::try_get(row, "setlists_count")?,
                })
            };
            read(&row).map(Some).map_err(|e| StoreError::query(format!("reading artist {id}"), e))
        })
    }

    /// Finds artists by uuid, Ticketmaster id or exact (case-insensitive) name.
    pub async fn find_artists(&self, key: &str) -> Result<Vec<ArtistSummary>, StoreError> {
        let q = crate::sql!(
            "SELECT a.id::text AS id FROM artists a WHERE a.id::text = $1 OR a.ticketmaster_id = $1 OR lower(a.name) = lower($1) \
             ORDER BY lower(a.name)"
        );
        let ids: Vec<String> = crate::with_pool!(&self.db, pool, b => {
            sqlx::query_scalar(q.text(b)).bind(key).fetch_all(pool).await
        })
        .map_err(|e| StoreError::query(format!("looking up artist '{key}'"), e))?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(d) = self.artist_detail(&id).await? {
                out.push(d.summary);
            }
        }
        Ok(out)
    }

    /// Sets one source's part of `sync_status`, normalising the whole object to the three keys.
    /// On success the source's own timestamp is set too. Returns false when no such artist.
    pub async fn set_part_status(
        &self,
        artist_id: &str,
        source: Source,
        status: PartStatus,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = set_part_status_tx(&mut tx, artist_id, source, status).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Records the end of a sync: `last_sync_error` set (failure) or cleared (all three
    /// succeeded), `last_sync` set when any part succeeded, and the real upcoming-shows total.
    pub async fn finish_artist_sync(
        &self,
        artist_id: &str,
        error: Option<&str>,
        any_success: bool,
        upcoming_shows_count: Option<i64>,
    ) -> Result<(), StoreError> {
        let q = crate::sql!(
            "UPDATE artists SET last_sync_error = $2, \
             last_sync = CASE WHEN $3 THEN $4::timestamptz ELSE last_sync END, \
             upcoming_shows_count = COALESCE($5, upcoming_shows_count), updated_at = $4::timestamptz \
             WHERE id = $1::uuid"
        );
        crate::with_pool!(&self.db, pool, b => {
            sqlx::query(q.text(b)).bind(artist_id).bind(error).bind(any_success).bind(now_db())
                .bind(upcoming_shows_count).execute(pool).await.map(|_| ())
        })
        .map_err(|e| {
            StoreError::query(
                format!("recording the end of the sync of artist {artist_id}"),
                e,
            )
        })?;
        Ok(())
    }
}

/// [`Store::set_part_status`] inside a caller's transaction (so a part's status lands with its rows).
pub async fn set_part_status_tx(
    tx: &mut super::Tx,
    artist_id: &str,
    source: Source,
    status: PartStatus,
) -> Result<bool, StoreError> {
    // FOR UPDATE on Postgres: two parts finishing at once must not overwrite each other's key
    // (SQLite's IMMEDIATE transactions already serialise writers).
    let current: Option<Option<String>> = crate::with_tx!(tx, c, b => {
        let read = match b {
            Backend::Postgres => "SELECT sync_status::text FROM artists WHERE id = $1::uuid FOR UPDATE",
            Backend::Sqlite => "SELECT sync_status FROM artists WHERE id = $1",
        };
        sqlx::query_scalar(read).bind(artist_id).fetch_optional(c).await
    })
    .map_err(|e| StoreError::query(format!("reading the sync status of artist {artist_id}"), e))?;
    let Some(current) = current else {
        return Ok(false);
    };
    let mut s = SyncStatus::from_db(current.as_deref());
    s.set(source, status);
    let stamp_column = match (source, status) {
        (Source::Ticketmaster, PartStatus::Success) => ", last_ticketmaster_sync = $3::timestamptz",
        (Source::Spotify, PartStatus::Success) => ", last_spotify_sync = $3::timestamptz",
        _ => "",
    };
    let pg = format!(
        "UPDATE artists SET sync_status = $2::jsonb, updated_at = $3::timestamptz{stamp_column} WHERE id = $1::uuid"
    );
    crate::with_tx!(tx, c, b => {
        let text = match b { Backend::Postgres => pg.clone(), Backend::Sqlite => super::dialect::strip_casts(&pg) };
        sqlx::query(sqlx::AssertSqlSafe(text)).bind(artist_id).bind(s.to_json()).bind(now_db()).execute(c).await.map(|_| ())
    })
    .map_err(|e| StoreError::query(format!("writing the {} status of artist {artist_id}", source.label()), e))?;
    Ok(true)
}
