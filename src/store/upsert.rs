//! Upserts of the catalog on its natural keys, inside a caller's transaction.
//!
//! Conflict targets are exactly design.md's: `venues.ticketmaster_id`, `shows.ticketmaster_id`,
//! `songs (spotify_id, artist_id)`, `setlists.setlist_fm_id`, `setlist_songs (setlist_id, position)`.
//! A row's uuid `id` is generated here on insert and never touched on update. Optional fields
//! that a provider omits this time keep what the row had (`COALESCE`), so a sparse payload never
//! erases data.

use uuid::Uuid;

use super::time::now_db;
use super::{Backend, StoreError, Tx};

pub use crate::rows::{SetlistRow, SetlistSongRow, ShowRow, ShowStatus, SongRow, VenueRow};

fn q(context: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
    move |e| StoreError::query(context.to_string(), e)
}

/// Upserts a venue on `ticketmaster_id`; returns its uuid.
pub async fn upsert_venue(tx: &mut Tx, v: &VenueRow) -> Result<String, StoreError> {
    let sql = crate::sql!(
        "INSERT INTO venues (id, ticketmaster_id, name, city, state, country, address, postal_code, latitude, longitude, timezone, url, image_url, updated_at) \
         VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9::float8, $10::float8, $11, $12, $13, $14::timestamptz) \
         ON CONFLICT (ticketmaster_id) DO UPDATE SET name = EXCLUDED.name, \
           city = COALESCE(EXCLUDED.city, venues.city), state = COALESCE(EXCLUDED.state, venues.state), \
           country = COALESCE(EXCLUDED.country, venues.country), address = COALESCE(EXCLUDED.address, venues.address), \
           postal_code = COALESCE(EXCLUDED.postal_code, venues.postal_code), latitude = COALESCE(EXCLUDED.latitude, venues.latitude), \
           longitude = COALESCE(EXCLUDED.longitude, venues.longitude), timezone = COALESCE(EXCLUDED.timezone, venues.timezone), \
           url = COALESCE(EXCLUDED.url, venues.url), image_url = COALESCE(EXCLUDED.image_url, venues.image_url), \
           updated_at = EXCLUDED.updated_at \
         RETURNING id::text"
    );
    crate::with_tx!(tx, c, b => {
        sqlx::query_scalar::<_, String>(sql.text(b))
            .bind(Uuid::new_v4().to_string()).bind(&v.ticketmaster_id).bind(&v.name).bind(&v.city).bind(&v.state)
            .bind(&v.country).bind(&v.address).bind(&v.postal_code).bind(v.latitude).bind(v.longitude)
            .bind(&v.timezone).bind(&v.url).bind(&v.image_url).bind(now_db())
            .fetch_one(c).await
    })
    .map_err(q(&format!("upserting venue {}", v.ticketmaster_id)))
}

/// Who owns a show: the first of its attractions (headliner first) that is an artist in the
/// database, else the artist being synced. It depends only on the database, never on which
/// artist synced first, so a support act's sync never takes a show from its headliner.
pub fn show_owner(
    attractions: &[String],
    artists_by_ticketmaster_id: &std::collections::HashMap<String, String>,
    syncing_artist_id: &str,
) -> String {
    attractions
        .iter()
        .find_map(|tm| artists_by_ticketmaster_id.get(tm))
        .cloned()
        .unwrap_or_else(|| syncing_artist_id.to_string())
}

/// Artist uuids by Ticketmaster id, for the given ids that are in the database.
pub async fn artist_ids_by_ticketmaster_id(
    tx: &mut Tx,
    ticketmaster_ids: &[String],
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    let mut out = std::collections::HashMap::new();
    for chunk in ticketmaster_ids.chunks(500) {
        let rows: Vec<(String, String)> = crate::with_tx!(tx, c, b => {
            let mut qb = sqlx::QueryBuilder::new(if b == Backend::Postgres {
                "SELECT ticketmaster_id, id::text FROM artists WHERE ticketmaster_id IN ("
            } else {
                "SELECT ticketmaster_id, id FROM artists WHERE ticketmaster_id IN ("
            });
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(id.clone());
            }
            qb.push(")");
            qb.build_query_as().fetch_all(c).await
        })
        .map_err(q("looking up artists by Ticketmaster id"))?;
        out.extend(rows);
    }
    Ok(out)
}

/// Upserts a show on `ticketmaster_id`, owned by `owner_artist_id` (see [`show_owner`]);
/// returns its uuid. The show's own `sync_status` is set to `success` with `last_sync`.
pub async fn upsert_show(
    tx: &mut Tx,
    s: &ShowRow,
    owner_artist_id: &str,
) -> Result<String, StoreError> {
    let sql = crate::sql!(
        "INSERT INTO shows (id, ticketmaster_id, name, date, status, image_url, ticket_url, url, min_price, max_price, description, \
                            venue_id, artist_id, sync_status, last_sync, last_sync_error, updated_at, last_updated) \
         VALUES ($1::uuid, $2, $3, $4::date, $5, $6, $7, $8, $9::float8, $10::float8, $11, \
                 (SELECT v.id FROM venues v WHERE v.ticketmaster_id = $12), $13::uuid, \
                 'success', $14::timestamptz, NULL, $14::timestamptz, $14::timestamptz) \
         ON CONFLICT (ticketmaster_id) DO UPDATE SET name = EXCLUDED.name, date = COALESCE(EXCLUDED.date, shows.date), \
           status = EXCLUDED.status, image_url = COALESCE(EXCLUDED.image_url, shows.image_url), \
           ticket_url = COALESCE(EXCLUDED.ticket_url, shows.ticket_url), url = COALESCE(EXCLUDED.url, shows.url), \
           min_price = COALESCE(EXCLUDED.min_price, shows.min_price), max_price = COALESCE(EXCLUDED.max_price, shows.max_price), \
           description = COALESCE(EXCLUDED.description, shows.description), venue_id = COALESCE(EXCLUDED.venue_id, shows.venue_id), \
           artist_id = EXCLUDED.artist_id, sync_status = 'success', last_sync = EXCLUDED.last_sync, last_sync_error = NULL, \
           updated_at = EXCLUDED.updated_at, last_updated = EXCLUDED.last_updated \
         RETURNING id::text"
    );
    crate::with_tx!(tx, c, b => {
        sqlx::query_scalar::<_, String>(sql.text(b))
            .bind(Uuid::new_v4().to_string()).bind(&s.ticketmaster_id).bind(&s.name).bind(s.date.map(|d| d.to_string()))
            .bind(s.status.as_str()).bind(&s.image_url).bind(&s.ticket_url).bind(&s.url).bind(s.min_price).bind(s.max_price)
            .bind(&s.description).bind(&s.venue_ticketmaster_id).bind(owner_artist_id).bind(now_db())
            .fetch_one(c).await
    })
    .map_err(q(&format!("upserting show {}", s.ticketmaster_id)))
}

/// Upserts a song on `(spotify_id, artist_id)`; returns its uuid. An unknown popularity (Spotify
/// development mode removed the field) is stored as NULL and never erases a known one.
pub async fn upsert_song(tx: &mut Tx, artist_id: &str, s: &SongRow) -> Result<String, StoreError> {
    let sql = crate::sql!(
        "INSERT INTO songs (id, spotify_id, artist_id, name, duration_ms, preview_url, album_name, album_image_url, popularity, updated_at) \
         VALUES ($1::uuid, $2, $3::uuid, $4, $5::integer, $6, $7, $8, $9::integer, $10::timestamptz) \
         ON CONFLICT (spotify_id, artist_id) DO UPDATE SET name = EXCLUDED.name, \
           duration_ms = COALESCE(EXCLUDED.duration_ms, songs.duration_ms), preview_url = COALESCE(EXCLUDED.preview_url, songs.preview_url), \
           album_name = COALESCE(EXCLUDED.album_name, songs.album_name), album_image_url = COALESCE(EXCLUDED.album_image_url, songs.album_image_url), \
           popularity = COALESCE(EXCLUDED.popularity, songs.popularity), \
           updated_at = EXCLUDED.updated_at \
         RETURNING id::text"
    );
    crate::with_tx!(tx, c, b => {
        sqlx::query_scalar::<_, String>(sql.text(b))
            .bind(Uuid::new_v4().to_string()).bind(&s.spotify_id).bind(artist_id).bind(&s.name).bind(s.duration_ms)
            .bind(&s.preview_url).bind(&s.album_name).bind(&s.album_image_url).bind(s.popularity).bind(now_db())
            .fetch_one(c).await
    })
    .map_err(q(&format!("upserting song {}", s.spotify_id)))
}

/// Upserts many songs of one artist in multi-row statements (deduplicated by Spotify id, since
/// one statement cannot update the same row twice). Returns how many rows were written.
pub async fn upsert_songs_batch(
    tx: &mut Tx,
    artist_id: &str,
    songs: &[SongRow],
) -> Result<usize, StoreError> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&SongRow> = songs
        .iter()
        .filter(|s| seen.insert(s.spotify_id.as_str()))
        .collect();
    // 10 parameters a row; stay far below SQLite's 32,766 and Postgres's 65,535.
    for chunk in unique.chunks(500) {
        let now = now_db();
        crate::with_tx!(tx, c, b => {
            let cast = |pg: &'static str| if b == Backend::Postgres { pg } else { "" };
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO songs (id, spotify_id, artist_id, name, duration_ms, preview_url, album_name, album_image_url, popularity, updated_at) ",
            );
            qb.push_values(chunk, |mut row, s| {
                row.push_bind(Uuid::new_v4().to_string()).push_unseparated(cast("::uuid"))
                    .push_bind(s.spotify_id.clone())
                    .push_bind(artist_id.to_string()).push_unseparated(cast("::uuid"))
                    .push_bind(s.name.clone())
                    .push_bind(s.duration_ms).push_unseparated(cast("::integer"))
                    .push_bind(s.preview_url.clone())
                    .push_bind(s.album_name.clone())
                    .push_bind(s.album_image_url.clone())
                    .push_bind(s.popularity).push_unseparated(cast("::integer"))
                    .push_bind(now.clone()).push_unseparated(cast("::timestamptz"));
            });
            qb.push(
                " ON CONFLICT (spotify_id, artist_id) DO UPDATE SET name = EXCLUDED.name, \
                 duration_ms = COALESCE(EXCLUDED.duration_ms, songs.duration_ms), preview_url = COALESCE(EXCLUDED.preview_url, songs.preview_url), \
                 album_name = COALESCE(EXCLUDED.album_name, songs.album_name), album_image_url = COALESCE(EXCLUDED.album_image_url, songs.album_image_url), \
                 popularity = COALESCE(EXCLUDED.popularity, songs.popularity), updated_at = EXCLUDED.updated_at",
            );
            qb.build().execute(c).await.map(|_| ())
        })
        .map_err(q("upserting a batch of songs"))?;
    }
    Ok(unique.len())
}

/// Upserts a setlist on `setlist_fm_id`; returns its uuid.
pub async fn upsert_setlist(
    tx: &mut Tx,
    artist_id: &str,
    s: &SetlistRow,
) -> Result<String, StoreError> {
    let sql = crate::sql!(
        "INSERT INTO setlists (id, setlist_fm_id, artist_id, date, tour_name, show_id, venue_id, songs, updated_at) \
         VALUES ($1::uuid, $2, $3::uuid, $4::date, $5, $6::uuid, $7::uuid, $8::jsonb, $9::timestamptz) \
         ON CONFLICT (setlist_fm_id) DO UPDATE SET artist_id = EXCLUDED.artist_id, date = COALESCE(EXCLUDED.date, setlists.date), \
           tour_name = COALESCE(EXCLUDED.tour_name, setlists.tour_name), show_id = EXCLUDED.show_id, \
           venue_id = COALESCE(EXCLUDED.venue_id, setlists.venue_id), songs = EXCLUDED.songs, updated_at = EXCLUDED.updated_at \
         RETURNING id::text"
    );
    crate::with_tx!(tx, c, b => {
        sqlx::query_scalar::<_, String>(sql.text(b))
            .bind(Uuid::new_v4().to_string()).bind(&s.setlist_fm_id).bind(artist_id).bind(s.date.map(|d| d.to_string()))
            .bind(&s.tour_name).bind(&s.show_id).bind(&s.venue_id).bind(s.songs.to_string()).bind(now_db())
            .fetch_one(c).await
    })
    .map_err(q(&format!("upserting setlist {}", s.setlist_fm_id)))
}

/// Upserts one song of a setlist on `(setlist_id, position)`; returns its uuid.
pub async fn upsert_setlist_song(
    tx: &mut Tx,
    setlist_id: &str,
    artist_id: &str,
    s: &SetlistSongRow,
) -> Result<String, StoreError> {
    let sql = crate::sql!(
        "INSERT INTO setlist_songs (id, setlist_id, position, name, is_encore, song_id, artist_id, played, updated_at, last_updated) \
         VALUES ($1::uuid, $2::uuid, $3::integer, $4, $5, $6::uuid, $7::uuid, true, $8::timestamptz, $8::timestamptz) \
         ON CONFLICT (setlist_id, position) DO UPDATE SET name = EXCLUDED.name, is_encore = EXCLUDED.is_encore, \
           song_id = EXCLUDED.song_id, artist_id = EXCLUDED.artist_id, played = true, \
           updated_at = EXCLUDED.updated_at, last_updated = EXCLUDED.last_updated \
         RETURNING id::text"
    );
    crate::with_tx!(tx, c, b => {
        sqlx::query_scalar::<_, String>(sql.text(b))
            .bind(Uuid::new_v4().to_string()).bind(setlist_id).bind(s.position).bind(&s.name).bind(s.is_encore)
            .bind(&s.song_id).bind(artist_id).bind(now_db())
            .fetch_one(c).await
    })
    .map_err(q(&format!("upserting song {} of setlist {setlist_id}", s.position)))
}

/// Removes setlist songs past `keep_positions` (a setlist that got shorter on setlist.fm).
pub async fn trim_setlist_songs(
    tx: &mut Tx,
    setlist_id: &str,
    keep_positions: i64,
) -> Result<u64, StoreError> {
    let sql = crate::sql!(
        "DELETE FROM setlist_songs WHERE setlist_id = $1::uuid AND position > $2::integer"
    );
    crate::with_tx!(tx, c, b => {
        sqlx::query(sql.text(b)).bind(setlist_id).bind(keep_positions).execute(c).await.map(|r| r.rows_affected())
    })
    .map_err(q(&format!("trimming setlist {setlist_id}")))
}
