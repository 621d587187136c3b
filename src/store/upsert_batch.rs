//! Multi-row forms of [`upsert_venue`](super::upsert::upsert_venue) and
//! [`upsert_show`](super::upsert::upsert_show): one statement per chunk instead of one per row,
//! because a round trip per row dominates a large sync (see `benches/db_writes.rs`).
//!
//! The column semantics are the single-row ones. Duplicates in the input are merged first, as
//! running them one after another would (the later row wins, but its unknown fields keep the
//! earlier row's values), since one `ON CONFLICT DO UPDATE` cannot touch a row twice on Postgres.

use std::collections::HashMap;

use sqlx::QueryBuilder;
use uuid::Uuid;

use super::time::now_db;
use super::upsert::{ShowRow, VenueRow};
use super::{Backend, StoreError, Tx};

/// Rows per statement: 14 or 16 parameters a row stays far below SQLite's 32,766 and Postgres's
/// 65,535 bind parameters.
const CHUNK_ROWS: usize = 500;

/// Keeps the first occurrence's position and folds each later duplicate into it.
fn merge_by_key<'a, T: 'a, M>(
    rows: impl IntoIterator<Item = &'a T>,
    key: impl Fn(&T) -> &str,
    start: impl Fn(&'a T) -> M,
    fold: impl Fn(&mut M, &'a T),
) -> Vec<M> {
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<M> = Vec::new();
    for row in rows {
        match at.get(key(row)) {
            Some(&i) => fold(&mut out[i], row),
            None => {
                at.insert(key(row), out.len());
                out.push(start(row));
            }
        }
    }
    out
}

/// A later `Some` replaces, a later `None` keeps: what `COALESCE(EXCLUDED.x, t.x)` does.
fn keep<T: Clone>(merged: &mut Option<T>, later: &Option<T>) {
    if later.is_some() {
        merged.clone_from(later);
    }
}

/// Upserts venues on `ticketmaster_id` in multi-row statements; returns every venue's uuid by
/// its Ticketmaster id.
pub async fn upsert_venues_batch(
    tx: &mut Tx,
    venues: &[VenueRow],
) -> Result<HashMap<String, String>, StoreError> {
    let unique = merge_by_key(
        venues,
        |v| v.ticketmaster_id.as_str(),
        VenueRow::clone,
        |m, v| {
            m.name.clone_from(&v.name);
            keep(&mut m.city, &v.city);
            keep(&mut m.state, &v.state);
            keep(&mut m.country, &v.country);
            keep(&mut m.address, &v.address);
            keep(&mut m.postal_code, &v.postal_code);
            keep(&mut m.latitude, &v.latitude);
            keep(&mut m.longitude, &v.longitude);
            keep(&mut m.timezone, &v.timezone);
            keep(&mut m.url, &v.url);
            keep(&mut m.image_url, &v.image_url);
        },
    );
    let mut ids = HashMap::with_capacity(unique.len());
    for chunk in unique.chunks(CHUNK_ROWS) {
        let now = now_db();
        let rows: Vec<(String, String)> = crate::with_tx!(tx, c, b => {
            let cast = |pg: &'static str| if b == Backend::Postgres { pg } else { "" };
            let mut qb = QueryBuilder::new(
                "INSERT INTO venues (id, ticketmaster_id, name, city, state, country, address, postal_code, latitude, longitude, timezone, url, image_url, updated_at) ",
            );
            qb.push_values(chunk, |mut row, v| {
                row.push_bind(Uuid::new_v4().to_string()).push_unseparated(cast("::uuid"))
                    .push_bind(v.ticketmaster_id.clone())
                    .push_bind(v.name.clone())
                    .push_bind(v.city.clone())
                    .push_bind(v.state.clone())
                    .push_bind(v.country.clone())
                    .push_bind(v.address.clone())
                    .push_bind(v.postal_code.clone())
                    .push_bind(v.latitude).push_unseparated(cast("::float8"))
                    .push_bind(v.longitude).push_unseparated(cast("::float8"))
                    .push_bind(v.timezone.clone())
                    .push_bind(v.url.clone())
                    .push_bind(v.image_url.clone())
                    .push_bind(now.clone()).push_unseparated(cast("::timestamptz"));
            });
            qb.push(
                " ON CONFLICT (ticketmaster_id) DO UPDATE SET name = EXCLUDED.name, \
                 city = COALESCE(EXCLUDED.city, venues.city), state = COALESCE(EXCLUDED.state, venues.state), \
                 country = COALESCE(EXCLUDED.country, venues.country), address = COALESCE(EXCLUDED.address, venues.address), \
                 postal_code = COALESCE(EXCLUDED.postal_code, venues.postal_code), latitude = COALESCE(EXCLUDED.latitude, venues.latitude), \
                 longitude = COALESCE(EXCLUDED.longitude, venues.longitude), timezone = COALESCE(EXCLUDED.timezone, venues.timezone), \
                 url = COALESCE(EXCLUDED.url, venues.url), image_url = COALESCE(EXCLUDED.image_url, venues.image_url), \
                 updated_at = EXCLUDED.updated_at RETURNING ticketmaster_id, id",
            );
            qb.push(cast("::text"));
            qb.build_query_as().fetch_all(c).await
        })
        .map_err(|e| StoreError::query(format!("upserting a batch of {} venues", chunk.len()), e))?;
        ids.extend(rows);
    }
    Ok(ids)
}

/// Venue uuids by Ticketmaster id, for the given ids that are in the database.
async fn venue_ids(
    tx: &mut Tx,
    ticketmaster_ids: &[&str],
) -> Result<HashMap<String, String>, StoreError> {
    let mut out = HashMap::with_capacity(ticketmaster_ids.len());
    for chunk in ticketmaster_ids.chunks(CHUNK_ROWS) {
        let rows: Vec<(String, String)> = crate::with_tx!(tx, c, b => {
            let mut qb = QueryBuilder::new(if b == Backend::Postgres {
                "SELECT ticketmaster_id, id::text FROM venues WHERE ticketmaster_id IN ("
            } else {
                "SELECT ticketmaster_id, id FROM venues WHERE ticketmaster_id IN ("
            });
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(id.to_string());
            }
            qb.push(")");
            qb.build_query_as().fetch_all(c).await
        })
        .map_err(|e| StoreError::query("looking up venues by Ticketmaster id", e))?;
        out.extend(rows);
    }
    Ok(out)
}

/// One show to write: the merged row, its owner and its venue's uuid.
struct MergedShow<'a> {
    show: ShowRow,
    owner: &'a str,
    venue_id: Option<&'a String>,
}

/// Upserts shows on `ticketmaster_id`, each owned by the artist uuid paired with it (see
/// [`show_owner`](super::upsert::show_owner)); returns every show's uuid by its Ticketmaster id.
/// A show's uuid never changes. Venues (upsert them first) are looked up by Ticketmaster id once
/// for the whole batch: a subquery per row made the SQLite insert about twice as slow.
pub async fn upsert_shows_batch(
    tx: &mut Tx,
    shows: &[(ShowRow, String)],
) -> Result<HashMap<String, String>, StoreError> {
    let mut wanted: Vec<&str> = shows
        .iter()
        .filter_map(|(s, _)| s.venue_ticketmaster_id.as_deref())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let venues = venue_ids(tx, &wanted).await?;
    let venue_of = |s: &ShowRow| {
        s.venue_ticketmaster_id
            .as_ref()
            .and_then(|tm| venues.get(tm))
    };
    let unique = merge_by_key(
        shows,
        |(s, _)| s.ticketmaster_id.as_str(),
        |(s, owner)| MergedShow {
            show: s.clone(),
            owner,
            venue_id: venue_of(s),
        },
        |m, (s, owner)| {
            let merged = &mut m.show;
            merged.name.clone_from(&s.name);
            merged.status = s.status;
            keep(&mut merged.date, &s.date);
            keep(&mut merged.image_url, &s.image_url);
            keep(&mut merged.ticket_url, &s.ticket_url);
            keep(&mut merged.url, &s.url);
            keep(&mut merged.min_price, &s.min_price);
            keep(&mut merged.max_price, &s.max_price);
            keep(&mut merged.description, &s.description);
            m.owner = owner;
            // As `COALESCE(EXCLUDED.venue_id, shows.venue_id)`: an unknown venue keeps the known one.
            m.venue_id = venue_of(s).or(m.venue_id);
        },
    );
    let mut ids = HashMap::with_capacity(unique.len());
    for chunk in unique.chunks(CHUNK_ROWS) {
        let now = now_db();
        let rows: Vec<(String, String)> = crate::with_tx!(tx, c, b => {
            let cast = |pg: &'static str| if b == Backend::Postgres { pg } else { "" };
            let mut qb = QueryBuilder::new(
                "INSERT INTO shows (id, ticketmaster_id, name, date, status, image_url, ticket_url, url, min_price, max_price, description, \
                                    venue_id, artist_id, sync_status, last_sync, last_sync_error, updated_at, last_updated) ",
            );
            qb.push_values(chunk, |mut row, m| {
                let s = &m.show;
                row.push_bind(Uuid::new_v4().to_string()).push_unseparated(cast("::uuid"))
                    .push_bind(s.ticketmaster_id.clone())
                    .push_bind(s.name.clone())
                    .push_bind(s.date.map(|d| d.to_string())).push_unseparated(cast("::date"))
                    .push_bind(s.status.as_str())
                    .push_bind(s.image_url.clone())
                    .push_bind(s.ticket_url.clone())
                    .push_bind(s.url.clone())
                    .push_bind(s.min_price).push_unseparated(cast("::float8"))
                    .push_bind(s.max_price).push_unseparated(cast("::float8"))
                    .push_bind(s.description.clone())
                    .push_bind(m.venue_id.cloned()).push_unseparated(cast("::uuid"))
                    .push_bind(m.owner.to_string()).push_unseparated(cast("::uuid"))
                    .push("'success'")
                    .push_bind(now.clone()).push_unseparated(cast("::timestamptz"))
                    .push("NULL")
                    .push_bind(now.clone()).push_unseparated(cast("::timestamptz"))
                    .push_bind(now.clone()).push_unseparated(cast("::timestamptz"));
            });
            qb.push(
                " ON CONFLICT (ticketmaster_id) DO UPDATE SET name = EXCLUDED.name, date = COALESCE(EXCLUDED.date, shows.date), \
                 status = EXCLUDED.status, image_url = COALESCE(EXCLUDED.image_url, shows.image_url), \
                 ticket_url = COALESCE(EXCLUDED.ticket_url, shows.ticket_url), url = COALESCE(EXCLUDED.url, shows.url), \
                 min_price = COALESCE(EXCLUDED.min_price, shows.min_price), max_price = COALESCE(EXCLUDED.max_price, shows.max_price), \
                 description = COALESCE(EXCLUDED.description, shows.description), venue_id = COALESCE(EXCLUDED.venue_id, shows.venue_id), \
                 artist_id = EXCLUDED.artist_id, sync_status = 'success', last_sync = EXCLUDED.last_sync, last_sync_error = NULL, \
                 updated_at = EXCLUDED.updated_at, last_updated = EXCLUDED.last_updated \
                 RETURNING ticketmaster_id, id",
            );
            qb.push(cast("::text"));
            qb.build_query_as().fetch_all(c).await
        })
        .map_err(|e| StoreError::query(format!("upserting a batch of {} shows", chunk.len()), e))?;
        ids.extend(rows);
    }
    Ok(ids)
}
