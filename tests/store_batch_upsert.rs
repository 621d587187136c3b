//! The batched venue and show upserts on both backends: they leave the database exactly as the
//! per-row upserts do (new and existing rows, duplicates, TBA dates, venue links), reruns write
//! no duplicate, a show's uuid never changes, and inputs larger than one chunk work.

mod common;

use std::collections::HashMap;

use chrono::NaiveDate;
use common::{PgDatabase, migrated_store, skip_pg, sqlite_url};
use syncdeck::store::upsert::{self, ShowRow, ShowStatus, VenueRow};
use syncdeck::store::upsert_batch::{upsert_shows_batch, upsert_venues_batch};
use syncdeck::store::{Store, Tx};

/// Fixed artist uuids, so two databases can be compared row by row.
const HEADLINER: &str = "6f1c0f4e-0d52-4c1e-9a8e-3f1b2a4c5d60";
const SUPPORT: &str = "0b7e9d1a-2c3f-4e5a-8b6c-7d8e9f0a1b2c";

async fn count(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    syncdeck::with_pool!(&store.db, p, _b => {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(p).await.expect("count")
    })
}

async fn insert_artist(store: &Store, id: &str, tm: &str) {
    let q =
        syncdeck::sql!("INSERT INTO artists (id, name, ticketmaster_id) VALUES ($1::uuid, $2, $3)");
    syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query(q.text(b)).bind(id).bind(format!("Artist {tm}")).bind(tm).execute(p).await.map(|_| ())
    })
    .expect("insert artist");
}

/// A migrated store with the two artists.
async fn prepared(url: &syncdeck::config::DatabaseUrl) -> Store {
    let store = migrated_store(url).await;
    insert_artist(&store, HEADLINER, "K8vZ917HEAD").await;
    insert_artist(&store, SUPPORT, "K8vZ917SUPP").await;
    store
}

fn venue(tm: &str) -> VenueRow {
    VenueRow {
        ticketmaster_id: tm.into(),
        name: format!("Venue {tm}"),
        city: Some("Los Angeles".into()),
        state: Some("CA".into()),
        country: Some("United States Of America".into()),
        address: Some("3900 W Manchester Blvd".into()),
        postal_code: Some("90305".into()),
        latitude: Some(34.003101),
        longitude: Some(-118.287804),
        timezone: Some("America/Los_Angeles".into()),
        url: Some(format!("https://tm/venue/{tm}")),
        image_url: None,
    }
}

fn show(tm: &str, venue_tm: Option<&str>) -> ShowRow {
    ShowRow {
        ticketmaster_id: tm.into(),
        name: format!("Show {tm}"),
        date: NaiveDate::from_ymd_opt(2027, 6, 3),
        status: ShowStatus::Upcoming,
        image_url: Some("https://img/wide.jpg".into()),
        ticket_url: Some(format!("https://tm/e/{tm}")),
        url: Some(format!("https://tm/e/{tm}")),
        min_price: Some(55.0),
        max_price: Some(170.0),
        description: None,
        venue_ticketmaster_id: venue_tm.map(str::to_string),
        attraction_ticketmaster_ids: vec!["K8vZ917HEAD".into()],
    }
}

/// A venue's columns except its uuid and timestamps.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct VenueState {
    ticketmaster_id: String,
    name: String,
    city: Option<String>,
    state: Option<String>,
    country: Option<String>,
    address: Option<String>,
    postal_code: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    timezone: Option<String>,
    url: Option<String>,
    image_url: Option<String>,
}

/// A show's columns except its uuid and timestamps; the venue by its Ticketmaster id.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct ShowState {
    ticketmaster_id: String,
    name: String,
    date: Option<String>,
    status: Option<String>,
    image_url: Option<String>,
    ticket_url: Option<String>,
    url: Option<String>,
    min_price: Option<f64>,
    max_price: Option<f64>,
    description: Option<String>,
    venue_tm: Option<String>,
    artist_id: Option<String>,
    sync_status: Option<String>,
    last_sync_error: Option<String>,
    has_last_sync: bool,
}

async fn venues_state(store: &Store) -> Vec<VenueState> {
    let q = syncdeck::sql!(
        "SELECT ticketmaster_id, name, city, state, country, address, postal_code, latitude::float8 AS latitude, \
                longitude::float8 AS longitude, timezone, url, image_url FROM venues ORDER BY ticketmaster_id"
    );
    syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query_as::<_, VenueState>(q.text(b)).fetch_all(p).await.expect("venues")
    })
}

async fn shows_state(store: &Store) -> Vec<ShowState> {
    let q = syncdeck::sql!(
        "SELECT s.ticketmaster_id, s.name, s.date::text AS date, s.status, s.image_url, s.ticket_url, s.url, \
                s.min_price::float8 AS min_price, s.max_price::float8 AS max_price, s.description, \
                v.ticketmaster_id AS venue_tm, s.artist_id::text AS artist_id, s.sync_status, s.last_sync_error, \
                (s.last_sync IS NOT NULL) AS has_last_sync \
         FROM shows s LEFT JOIN venues v ON v.id = s.venue_id ORDER BY s.ticketmaster_id"
    );
    syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query_as::<_, ShowState>(q.text(b)).fetch_all(p).await.expect("shows")
    })
}

/// Every row's uuid by Ticketmaster id, straight from the table.
async fn uuids(store: &Store, table: &str) -> HashMap<String, String> {
    let sql = format!(
        "SELECT ticketmaster_id, id{} FROM {table}",
        if store.backend() == syncdeck::store::Backend::Postgres {
            "::text"
        } else {
            ""
        }
    );
    syncdeck::with_pool!(&store.db, p, _b => {
        sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).fetch_all(p).await.expect("uuids")
    })
    .into_iter()
    .collect()
}

async fn per_row(tx: &mut Tx, venues: &[VenueRow], shows: &[(ShowRow, String)]) {
    for v in venues {
        upsert::upsert_venue(tx, v).await.expect("upsert venue");
    }
    for (s, owner) in shows {
        upsert::upsert_show(tx, s, owner)
            .await
            .expect("upsert show");
    }
}

/// Writes with the batch functions; checks the returned maps name every input row.
async fn batched(tx: &mut Tx, venues: &[VenueRow], shows: &[(ShowRow, String)]) {
    let v = upsert_venues_batch(tx, venues).await.expect("venues batch");
    for row in venues {
        assert!(
            v.contains_key(&row.ticketmaster_id),
            "{}",
            row.ticketmaster_id
        );
    }
    let s = upsert_shows_batch(tx, shows).await.expect("shows batch");
    for (row, _) in shows {
        assert!(
            s.contains_key(&row.ticketmaster_id),
            "{}",
            row.ticketmaster_id
        );
    }
}

/// Rows both databases hold before the update under test.
fn existing() -> (Vec<VenueRow>, Vec<(ShowRow, String)>) {
    let venues = vec![venue("KovOLD1"), venue("KovOLD2")];
    let mut tba = show("vvOLDTBA", Some("KovOLD2"));
    tba.date = NaiveDate::from_ymd_opt(2027, 9, 1);
    let shows = vec![
        (show("vvOLD1", Some("KovOLD1")), HEADLINER.to_string()),
        (tba, SUPPORT.to_string()),
        (show("vvOLDNOVENUE", None), SUPPORT.to_string()),
    ];
    (venues, shows)
}

/// The update under test: new and existing rows, sparse payloads, duplicates, TBA dates, a venue
/// that is not in the database.
fn update() -> (Vec<VenueRow>, Vec<(ShowRow, String)>) {
    let mut sparse_old = venue("KovOLD1");
    sparse_old.name = "Renamed Forum".into();
    sparse_old.city = None;
    sparse_old.latitude = None;
    sparse_old.image_url = Some("https://img/forum.jpg".into());
    let mut dup_first = venue("KovNEW1");
    dup_first.address = Some("1 First St".into());
    let mut dup_later = venue("KovNEW1");
    dup_later.name = "New Hall, later name".into();
    dup_later.address = None;
    dup_later.timezone = Some("America/New_York".into());
    let mut bare = VenueRow {
        ticketmaster_id: "KovNEW2".into(),
        name: "Bare Venue".into(),
        ..Default::default()
    };
    bare.longitude = Some(2.5);
    let venues = vec![sparse_old, dup_first, bare.clone(), dup_later, bare];

    let mut old_sparse = show("vvOLD1", Some("KovNEW1"));
    old_sparse.status = ShowStatus::Cancelled;
    old_sparse.min_price = None;
    old_sparse.description = Some("moved".into());
    // TBA now: the known date stays, as in upsert_show.
    let mut old_tba = show("vvOLDTBA", None);
    old_tba.date = None;
    old_tba.image_url = None;
    let mut new_tba = show("vvNEWTBA", Some("KovNEW2"));
    new_tba.date = None;
    new_tba.max_price = None;
    let mut dup_first = show("vvDUP", Some("KovOLD2"));
    dup_first.date = NaiveDate::from_ymd_opt(2027, 7, 4);
    dup_first.description = Some("first".into());
    let mut dup_later = show("vvDUP", Some("KovUNKNOWN"));
    dup_later.name = "Dup, later name".into();
    dup_later.date = None;
    dup_later.status = ShowStatus::Completed;
    dup_later.ticket_url = None;
    let mut dup_last = show("vvDUP", None);
    dup_last.name = "Dup, last name".into();
    dup_last.date = None;
    dup_last.status = ShowStatus::Cancelled;
    dup_last.ticket_url = None;
    dup_last.min_price = Some(12.5);
    let shows = vec![
        (old_sparse, HEADLINER.to_string()),
        (old_tba, HEADLINER.to_string()),
        (show("vvNEW1", Some("KovNEW1")), SUPPORT.to_string()),
        (new_tba, HEADLINER.to_string()),
        (dup_first, SUPPORT.to_string()),
        (
            show("vvNEWUNKNOWNVENUE", Some("KovUNKNOWN")),
            SUPPORT.to_string(),
        ),
        (dup_later, HEADLINER.to_string()),
        (dup_last, SUPPORT.to_string()),
    ];
    (venues, shows)
}

/// Marks every show failed, so the upsert must set `success` and clear the error.
async fn mark_shows_failed(store: &Store) {
    syncdeck::with_pool!(&store.db, p, _b => {
        sqlx::query("UPDATE shows SET sync_status = 'error', last_sync_error = 'ticketmaster: events step: HTTP 500'")
            .execute(p).await.map(|_| ()).expect("mark failed")
    });
}

async fn batch_equals_per_row(per_row_store: &Store, batch_store: &Store) {
    let (venues, shows) = existing();
    for store in [per_row_store, batch_store] {
        let mut tx = store.begin().await.unwrap();
        per_row(&mut tx, &venues, &shows).await;
        tx.commit().await.unwrap();
        mark_shows_failed(store).await;
    }
    let shows_before = uuids(batch_store, "shows").await;
    let venues_before = uuids(batch_store, "venues").await;

    let (venues, shows) = update();
    let mut tx = per_row_store.begin().await.unwrap();
    per_row(&mut tx, &venues, &shows).await;
    tx.commit().await.unwrap();
    let mut tx = batch_store.begin().await.unwrap();
    batched(&mut tx, &venues, &shows).await;
    tx.commit().await.unwrap();

    let expected_venues = venues_state(per_row_store).await;
    let expected_shows = shows_state(per_row_store).await;
    assert_eq!(venues_state(batch_store).await, expected_venues);
    assert_eq!(shows_state(batch_store).await, expected_shows);
    assert_eq!(expected_venues.len(), 4);
    assert_eq!(expected_shows.len(), 7);

    // Spot checks that the comparison covers what it should.
    let by_tm = |tm: &str| {
        expected_shows
            .iter()
            .find(|s| s.ticketmaster_id == tm)
            .unwrap()
    };
    assert_eq!(by_tm("vvOLDTBA").date.as_deref(), Some("2027-09-01"));
    assert_eq!(
        by_tm("vvNEWTBA").date,
        None,
        "a TBA show is kept with a null date"
    );
    assert_eq!(by_tm("vvNEWTBA").venue_tm.as_deref(), Some("KovNEW2"));
    assert_eq!(by_tm("vvOLD1").venue_tm.as_deref(), Some("KovNEW1"));
    assert_eq!(by_tm("vvOLDNOVENUE").venue_tm, None);
    assert_eq!(by_tm("vvNEWUNKNOWNVENUE").venue_tm, None);
    let dup = by_tm("vvDUP");
    assert_eq!(dup.name, "Dup, last name");
    assert_eq!(dup.status.as_deref(), Some("cancelled"));
    assert_eq!(
        dup.date.as_deref(),
        Some("2027-07-04"),
        "later TBA keeps the known date"
    );
    assert_eq!(dup.ticket_url.as_deref(), Some("https://tm/e/vvDUP"));
    assert_eq!(dup.description.as_deref(), Some("first"));
    assert_eq!(dup.min_price, Some(12.5));
    assert_eq!(
        dup.venue_tm.as_deref(),
        Some("KovOLD2"),
        "an unknown venue id keeps the earlier one"
    );
    assert_eq!(dup.artist_id.as_deref(), Some(SUPPORT));
    assert_eq!(by_tm("vvOLD1").sync_status.as_deref(), Some("success"));
    assert_eq!(by_tm("vvOLD1").last_sync_error, None);
    assert_eq!(
        by_tm("vvOLDNOVENUE").sync_status.as_deref(),
        Some("error"),
        "a show not in the input is untouched"
    );
    let new1 = expected_venues
        .iter()
        .find(|v| v.ticketmaster_id == "KovNEW1")
        .unwrap();
    assert_eq!(new1.name, "New Hall, later name");
    assert_eq!(new1.address.as_deref(), Some("1 First St"));
    assert_eq!(new1.timezone.as_deref(), Some("America/New_York"));

    // Existing rows kept their uuids.
    let shows_after = uuids(batch_store, "shows").await;
    let venues_after = uuids(batch_store, "venues").await;
    for (tm, id) in &shows_before {
        assert_eq!(shows_after.get(tm), Some(id), "show {tm} kept its uuid");
    }
    for (tm, id) in &venues_before {
        assert_eq!(venues_after.get(tm), Some(id), "venue {tm} kept its uuid");
    }
}

async fn rerun_writes_no_duplicate_and_keeps_uuids(store: &Store) {
    let (venues, shows) = update();
    let run = |venues: Vec<VenueRow>, shows: Vec<(ShowRow, String)>| async move {
        let mut tx = store.begin().await.unwrap();
        let v = upsert_venues_batch(&mut tx, &venues).await.unwrap();
        let s = upsert_shows_batch(&mut tx, &shows).await.unwrap();
        tx.commit().await.unwrap();
        (v, s)
    };
    let (v1, s1) = run(venues.clone(), shows.clone()).await;
    assert_eq!(v1.len(), 3, "{v1:?}");
    assert_eq!(s1.len(), 6, "{s1:?}");
    let (venue_rows, show_rows) = (count(store, "venues").await, count(store, "shows").await);
    let state = shows_state(store).await;

    let (v2, s2) = run(venues, shows).await;
    assert_eq!(v1, v2, "same venue uuids on a rerun");
    assert_eq!(s1, s2, "same show uuids on a rerun");
    assert_eq!(count(store, "venues").await, venue_rows);
    assert_eq!(count(store, "shows").await, show_rows);
    assert_eq!(shows_state(store).await, state);

    // Changed fields and another owner still never change a show's uuid, in either form.
    let mut changed = show("vvNEW1", Some("KovOLD1"));
    changed.name = "Renamed".into();
    changed.date = NaiveDate::from_ymd_opt(2028, 1, 2);
    let (_, s3) = run(vec![], vec![(changed.clone(), HEADLINER.to_string())]).await;
    assert_eq!(s3.get("vvNEW1"), s1.get("vvNEW1"));
    let mut tx = store.begin().await.unwrap();
    let single = upsert::upsert_show(&mut tx, &changed, SUPPORT)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(Some(&single), s1.get("vvNEW1"));
    let table = uuids(store, "shows").await;
    for (tm, id) in &s1 {
        assert_eq!(
            table.get(tm),
            Some(id),
            "show {tm} has the uuid the batch returned"
        );
    }

    // Nothing to write is not an error.
    let (v, s) = run(vec![], vec![]).await;
    assert!(v.is_empty() && s.is_empty());
}

/// More rows than one statement takes: 1,200 venues and 2,500 shows, some shows twice.
async fn many_rows_are_chunked(store: &Store) {
    let venues: Vec<VenueRow> = (0..1_200)
        .map(|i| venue(&format!("KovBULK{i:05}")))
        .collect();
    let shows: Vec<(ShowRow, String)> = (0..2_600)
        .map(|i| {
            let n = i % 2_500;
            let mut s = show(
                &format!("vvBULK{n:05}"),
                Some(&format!("KovBULK{:05}", n % 1_200)),
            );
            if n % 7 == 0 {
                s.date = None;
            }
            let owner = if i % 2 == 0 { HEADLINER } else { SUPPORT };
            (s, owner.to_string())
        })
        .collect();
    let (venues_before, shows_before) = (count(store, "venues").await, count(store, "shows").await);
    let mut tx = store.begin().await.unwrap();
    let v = upsert_venues_batch(&mut tx, &venues).await.unwrap();
    let s = upsert_shows_batch(&mut tx, &shows).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(v.len(), 1_200);
    assert_eq!(s.len(), 2_500);
    assert_eq!(count(store, "venues").await, venues_before + 1_200);
    assert_eq!(count(store, "shows").await, shows_before + 2_500);
    let table = uuids(store, "shows").await;
    for (tm, id) in &s {
        assert_eq!(table.get(tm), Some(id), "returned uuid of {tm}");
    }
    let unlinked = shows_state(store)
        .await
        .into_iter()
        .filter(|r| r.ticketmaster_id.starts_with("vvBULK") && r.venue_tm.is_none())
        .count();
    assert_eq!(unlinked, 0, "every bulk show is linked to its venue");

    // And again: same uuids, no new rows.
    let mut tx = store.begin().await.unwrap();
    let v2 = upsert_venues_batch(&mut tx, &venues).await.unwrap();
    let s2 = upsert_shows_batch(&mut tx, &shows).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((v, s), (v2, s2));
    assert_eq!(count(store, "shows").await, shows_before + 2_500);
}

async fn all(per_row_store: Store, batch_store: Store) {
    batch_equals_per_row(&per_row_store, &batch_store).await;
    rerun_writes_no_duplicate_and_keeps_uuids(&batch_store).await;
    many_rows_are_chunked(&batch_store).await;
    per_row_store.close().await;
    batch_store.close().await;
}

#[tokio::test]
async fn sqlite_batch_upserts_match_per_row() {
    let (_dir_a, url_a) = sqlite_url();
    let (_dir_b, url_b) = sqlite_url();
    all(prepared(&url_a).await, prepared(&url_b).await).await;
}

#[tokio::test]
async fn postgres_batch_upserts_match_per_row() {
    if skip_pg() {
        return;
    }
    let a = PgDatabase::create("batchrow").await;
    let b = PgDatabase::create("batchbatch").await;
    all(
        prepared(&a.database_url()).await,
        prepared(&b.database_url()).await,
    )
    .await;
}
