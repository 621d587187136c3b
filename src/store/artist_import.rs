//! Adding one artist by hand (`syncdeck artist add`, the console's `a`): look it up by its
//! natural keys and insert it with every part of `sync_status` `pending`.
//!
//! The insert is `ON CONFLICT (ticketmaster_id) DO NOTHING`, so adding an artist twice changes
//! nothing. A Spotify id that another artist already holds (the `spotify_id` unique key) does
//! not fail the insert: the new row gets none, and the caller is told who holds it.

use serde::Serialize;
use uuid::Uuid;

use super::sync_status::SyncStatus;
use super::time::now_db;
use super::{Store, StoreError};

/// An artist row that is already there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingArtist {
    pub id: String,
    pub name: String,
    pub ticketmaster_id: String,
}

/// What a hand-added artist starts with. Everything else is filled by its first sync.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct NewArtist {
    pub name: String,
    pub ticketmaster_id: String,
    pub spotify_id: Option<String>,
    pub setlist_fm_mbid: Option<String>,
    /// The Ticketmaster attraction page.
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub genres: Vec<String>,
}

/// What [`Store::insert_new_artist`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum InsertArtist {
    Inserted {
        artist_id: String,
        /// The Spotify id written (`None` when there was none or another artist holds it).
        spotify_id: Option<String>,
        /// The artist that already holds the Spotify id, which was therefore left out.
        spotify_id_held_by: Option<ExistingArtist>,
    },
    /// An artist with this Ticketmaster id exists; nothing was written.
    AlreadyPresent(ExistingArtist),
}

const BY_TICKETMASTER_ID: &str = "SELECT a.id::text AS id, a.name, a.ticketmaster_id FROM artists a \
     WHERE a.ticketmaster_id = $1 ORDER BY a.id::text LIMIT 1";
const BY_SPOTIFY_ID: &str = "SELECT a.id::text AS id, a.name, a.ticketmaster_id FROM artists a \
     WHERE a.spotify_id = $1 ORDER BY a.id::text LIMIT 1";

/// What [`Store::relink_ticketmaster_id`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Relink {
    /// The artist now carries the new id; its Ticketmaster part is `pending` again.
    Relinked { old_ticketmaster_id: Option<String> },
    /// Another artist already holds the new id; nothing was written.
    HeldBy(ExistingArtist),
    /// No artist with that row id.
    NoSuchArtist,
}

impl Store {
    /// Points an artist at another Ticketmaster attraction (its old id is gone at Ticketmaster):
    /// sets `ticketmaster_id`, puts the Ticketmaster part back to `pending` and clears the
    /// error, so the next sync fetches the new attraction's events.
    pub async fn relink_ticketmaster_id(
        &self,
        artist_id: &str,
        new_id: &str,
    ) -> Result<Relink, StoreError> {
        if let Some(holder) = self.artist_by_ticketmaster_id(new_id).await?
            && holder.id != artist_id
        {
            return Ok(Relink::HeldBy(holder));
        }
        let err = |e: sqlx::Error| {
            StoreError::query(format!("relinking artist {artist_id} to {new_id}"), e)
        };
        let mut tx = self.begin().await?;
        let old: Option<Option<String>> = crate::with_tx!(&mut tx, c, b => {
            let q = crate::sql!("SELECT ticketmaster_id FROM artists WHERE id = $1::uuid");
            sqlx::query_scalar(q.text(b)).bind(artist_id).fetch_optional(c).await
        })
        .map_err(err)?;
        let Some(old) = old else {
            return Ok(Relink::NoSuchArtist);
        };
        crate::with_tx!(&mut tx, c, b => {
            let q = crate::sql!("UPDATE artists SET ticketmaster_id = $2, last_sync_error = NULL WHERE id = $1::uuid");
            sqlx::query(q.text(b)).bind(artist_id).bind(new_id).execute(c).await.map(|_| ())
        })
        .map_err(err)?;
        super::artists::set_part_status_tx(
            &mut tx,
            artist_id,
            super::sync_status::Source::Ticketmaster,
            super::sync_status::PartStatus::Pending,
        )
        .await?;
        tx.commit().await?;
        Ok(Relink::Relinked {
            old_ticketmaster_id: old,
        })
    }

    /// The artist with this Ticketmaster id, if any.
    pub async fn artist_by_ticketmaster_id(
        &self,
        ticketmaster_id: &str,
    ) -> Result<Option<ExistingArtist>, StoreError> {
        self.existing_artist(
            crate::sql!(BY_TICKETMASTER_ID),
            ticketmaster_id,
            "Ticketmaster",
        )
        .await
    }

    /// The artist holding this Spotify id, if any.
    pub async fn artist_by_spotify_id(
        &self,
        spotify_id: &str,
    ) -> Result<Option<ExistingArtist>, StoreError> {
        self.existing_artist(crate::sql!(BY_SPOTIFY_ID), spotify_id, "Spotify")
            .await
    }

    async fn existing_artist(
        &self,
        q: super::dialect::Sql,
        key: &str,
        what: &str,
    ) -> Result<Option<ExistingArtist>, StoreError> {
        let row: Option<(String, String, String)> = crate::with_pool!(&self.db, pool, b => {
            sqlx::query_as(q.text(b)).bind(key).fetch_optional(pool).await
        })
        .map_err(|e| StoreError::query(format!("looking up the artist with {what} id {key}"), e))?;
        Ok(row.map(|(id, name, ticketmaster_id)| ExistingArtist {
            id,
            name,
            ticketmaster_id,
        }))
    }

    /// Inserts the artist with `sync_status` all `pending`, unless its Ticketmaster id is
    /// already there. A Spotify id held by another artist is left out (and reported), also
    /// when that artist was added between the check and the insert.
    pub async fn insert_new_artist(&self, a: &NewArtist) -> Result<InsertArtist, StoreError> {
        if a.name.trim().is_empty() || a.ticketmaster_id.trim().is_empty() {
            return Err(StoreError::Invalid(
                "an artist needs a name and a Ticketmaster id".into(),
            ));
        }
        let tm_id = a.ticketmaster_id.trim();
        if let Some(existing) = self.artist_by_ticketmaster_id(tm_id).await? {
            return Ok(InsertArtist::AlreadyPresent(existing));
        }
        let mut spotify_id = a
            .spotify_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let mut held_by = None;
        if let Some(sp) = &spotify_id {
            held_by = self.artist_by_spotify_id(sp).await?;
        }
        if held_by.is_some() {
            spotify_id = None;
        }
        let id = Uuid::new_v4().to_string();
        let inserted = match self.insert_row(&id, a, spotify_id.as_deref()).await {
            Ok(n) => n,
            // Another process took the Spotify id since the check: insert without it.
            Err(e) if spotify_id.is_some() && is_spotify_id_conflict(&e) => {
                if let Some(sp) = spotify_id.take() {
                    held_by = self.artist_by_spotify_id(&sp).await?;
                }
                self.insert_row(&id, a, None).await.map_err(|e| {
                    StoreError::query(format!("adding artist {}", a.ticketmaster_id), e)
                })?
            }
            Err(e) => {
                return Err(StoreError::query(
                    format!("adding artist {}", a.ticketmaster_id),
                    e,
                ));
            }
        };
        if inserted == 0 {
            // Added by someone else between the check and the insert.
            return match self.artist_by_ticketmaster_id(tm_id).await? {
                Some(existing) => Ok(InsertArtist::AlreadyPresent(existing)),
                None => Err(StoreError::Invalid(format!(
                    "adding artist {} inserted nothing and no row with that Ticketmaster id exists; \
                     check the artists table's unique key on ticketmaster_id with `syncdeck doctor`",
                    a.ticketmaster_id
                ))),
            };
        }
        Ok(InsertArtist::Inserted {
            artist_id: id,
            spotify_id,
            spotify_id_held_by: held_by,
        })
    }

    /// One `INSERT … ON CONFLICT (ticketmaster_id) DO NOTHING`; returns the rows inserted.
    async fn insert_row(
        &self,
        id: &str,
        a: &NewArtist,
        spotify_id: Option<&str>,
    ) -> Result<u64, sqlx::Error> {
        let status = SyncStatus::default().to_json();
        let now = now_db();
        let setlist_fm_mbid = a
            .setlist_fm_mbid
            .as_deref()
            .filter(|m| !m.trim().is_empty());
        let genres_json = serde_json::to_string(&a.genres).unwrap_or_else(|_| "[]".into());
        match &self.db {
            super::Db::Postgres(pool) => {
                sqlx::query(
                    "INSERT INTO artists (id, name, ticketmaster_id, spotify_id, setlist_fm_mbid, url, image_url, \
                     genres, sync_status, created_at, updated_at) \
                     VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8::text[], $9::jsonb, $10::timestamptz, $10::timestamptz) \
                     ON CONFLICT (ticketmaster_id) DO NOTHING",
                )
                .bind(id)
                .bind(a.name.trim())
                .bind(a.ticketmaster_id.trim())
                .bind(spotify_id)
                .bind(setlist_fm_mbid)
                .bind(a.url.as_deref())
                .bind(a.image_url.as_deref())
                .bind(a.genres.clone())
                .bind(&status)
                .bind(&now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            }
            // SQLite keeps `genres` as a JSON array in text.
            super::Db::Sqlite(pool) => {
                sqlx::query(
                    "INSERT INTO artists (id, name, ticketmaster_id, spotify_id, setlist_fm_mbid, url, image_url, \
                     genres, sync_status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
                     ON CONFLICT (ticketmaster_id) DO NOTHING",
                )
                .bind(id)
                .bind(a.name.trim())
                .bind(a.ticketmaster_id.trim())
                .bind(spotify_id)
                .bind(setlist_fm_mbid)
                .bind(a.url.as_deref())
                .bind(a.image_url.as_deref())
                .bind(genres_json)
                .bind(&status)
                .bind(&now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            }
        }
    }
}

/// A unique violation on the Spotify id (constraint `artists_spotify_id_key` on Postgres,
/// `UNIQUE constraint failed: artists.spotify_id` on SQLite, or any unique index naming it).
fn is_spotify_id_conflict(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            db.constraint().is_some_and(|c| c.contains("spotify"))
                || db.message().contains("spotify_id")
        }
        _ => false,
    }
}
