//! Migrations and upserts on both backends: migrating twice is a no-op, upserts converge on
//! natural keys, and a provider id never replaces a row's uuid.

mod common;

use std::collections::HashMap;

use chrono::NaiveDate;
use common::{PgDatabase, migrated_store, skip_pg, sqlite_url};
use syncdeck::store::sync_status::{PartStatus, Source, SyncStatus};
use syncdeck::store::upsert::{
    self, SetlistRow, SetlistSongRow, ShowRow, ShowStatus, SongRow, VenueRow,
};
use syncdeck::store::{Store, inspect, migrate};

async fn count(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    syncdeck::with_pool!(&store.db, p, _b => {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(p).await.expect("count")
    })
}

async fn insert_artist(store: &Store, name: &str, tm: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let q = syncdeck::sql!(
        "INSERT INTO artists (id, name, ticketmaster_id, sync_status) VALUES ($1::uuid, $2, $3, $4::jsonb)"
    );
    syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query(q.text(b)).bind(&id).bind(name).bind(tm).bind(SyncStatus::default().to_json()).execute(p).await.map(|_| ())
    })
    .expect("insert artist");
    id
}

fn venue(tm: &str) -> VenueRow {
    VenueRow {
        ticketmaster_id: tm.into(),
        name: format!("Venue {tm}"),
        city: Some("Los Angeles".into()),
        country: Some("United States Of America".into()),
        latitude: Some(34.003101),
        longitude: Some(-118.287804),
        timezone: Some("America/Los_Angeles".into()),
        ..Default::default()
    }
}

fn show(tm: &str, venue_tm: &str, attractions: &[&str]) -> ShowRow {
    ShowRow {
        ticketmaster_id: tm.into(),
        name: format!("Show {tm}"),
        date: NaiveDate::from_ymd_opt(2027, 6, 3),
        status: ShowStatus::Upcoming,
        image_url: Some("https://img/wide.jpg".into()),
        ticket_url: Some("https://tm/e".into()),
        url: Some("https://tm/e".into()),
        min_price: Some(55.0),
        max_price: Some(170.0),
        description: None,
        venue_ticketmaster_id: Some(venue_tm.into()),
        attraction_ticketmaster_ids: attractions.iter().map(|s| s.to_string()).collect(),
    }
}

async fn migrations_are_idempotent(store: &Store) {
    let tables = inspect::present_tables(store).await.unwrap();
    for t in inspect::REQUIRED_TABLES {
        assert!(tables.contains(*t), "missing {t}: {tables:?}");
    }
    let again = migrate::migrate(store).await.expect("second migrate");
    assert!(again.syncdeck_applied.is_empty(), "{again:?}");
    assert_eq!(again.apalis_applied, 0, "{again:?}");
    store.require_migrated().await.unwrap();
}

async fn upserts_converge(store: &Store) {
    let a = insert_artist(store, "Headliner", "K8vZ917HEAD").await;
    let support = insert_artist(store, "Support", "K8vZ917SUPP").await;

    for _ in 0..2 {
        let mut tx = store.begin().await.unwrap();
        let v1 = upsert::upsert_venue(&mut tx, &venue("KovZpZA1"))
            .await
            .unwrap();
        let v2 = upsert::upsert_venue(&mut tx, &venue("KovZpZA1"))
            .await
            .unwrap();
        assert_eq!(v1, v2, "same natural key, same uuid");
        assert!(
            uuid::Uuid::parse_str(&v1).is_ok(),
            "venue id is a uuid, not a provider id: {v1}"
        );
        let map = upsert::artist_ids_by_ticketmaster_id(
            &mut tx,
            &["K8vZ917HEAD".into(), "K8vZ917SUPP".into()],
        )
        .await
        .unwrap();
        let owner = upsert::show_owner(
            &["K8vZ917HEAD".into(), "K8vZ917SUPP".into()],
            &map,
            &support,
        );
        assert_eq!(owner, a, "the headliner in the database owns the show");
        let s = upsert::upsert_show(
            &mut tx,
            &show(
                "vvG1VZKS5pr1qy",
                "KovZpZA1",
                &["K8vZ917HEAD", "K8vZ917SUPP"],
            ),
            &owner,
        )
        .await
        .unwrap();
        assert!(uuid::Uuid::parse_str(&s).is_ok());
        let songs = vec![
            SongRow {
                spotify_id: "6fgjU6IfBOXHI3OKtndEeE".into(),
                name: "Suspicious Minds".into(),
                duration_ms: Some(260_973),
                ..Default::default()
            },
            SongRow {
                spotify_id: "3f9zqUnrnIq0LANhmnaF0V".into(),
                name: "Money".into(),
                ..Default::default()
            },
            // Same track twice (on two albums): written once.
            SongRow {
                spotify_id: "3f9zqUnrnIq0LANhmnaF0V".into(),
                name: "Money".into(),
                ..Default::default()
            },
        ];
        assert_eq!(
            upsert::upsert_songs_batch(&mut tx, &a, &songs)
                .await
                .unwrap(),
            2
        );
        // The same track for another artist is another row (composite key).
        upsert::upsert_song(&mut tx, &support, &songs[0])
            .await
            .unwrap();
        let setlist = SetlistRow {
            setlist_fm_id: "235d0827".into(),
            date: NaiveDate::from_ymd_opt(2025, 4, 27),
            tour_name: Some("Spring Tour".into()),
            show_id: Some(s.clone()),
            venue_id: Some(v1.clone()),
            songs: serde_json::json!([{"name": "The Landlady"}]),
        };
        let l = upsert::upsert_setlist(&mut tx, &a, &setlist).await.unwrap();
        for p in 1..=3 {
            let row = SetlistSongRow {
                position: p,
                name: format!("song {p}"),
                is_encore: p == 3,
                song_id: None,
            };
            upsert::upsert_setlist_song(&mut tx, &l, &a, &row)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    assert_eq!(count(store, "venues").await, 1);
    assert_eq!(count(store, "shows").await, 1);
    assert_eq!(count(store, "songs").await, 3);
    assert_eq!(count(store, "setlists").await, 1);
    assert_eq!(count(store, "setlist_songs").await, 3);

    // A sparse payload later never erases what the row had, and the show's uuid stays.
    let before: String = syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query_scalar(syncdeck::sql!("SELECT id::text FROM shows").text(b)).fetch_one(p).await.unwrap()
    });
    let mut tx = store.begin().await.unwrap();
    let mut sparse = venue("KovZpZA1");
    sparse.city = None;
    sparse.latitude = None;
    upsert::upsert_venue(&mut tx, &sparse).await.unwrap();
    let mut later = show("vvG1VZKS5pr1qy", "KovZpZA1", &["K8vZ917HEAD"]);
    later.status = ShowStatus::Cancelled;
    later.min_price = None;
    let after = upsert::upsert_show(&mut tx, &later, &a).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(before, after);
    let (city, lat, status, min): (Option<String>, Option<f64>, String, Option<f64>) = syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query_as(syncdeck::sql!(
            "SELECT v.city, v.latitude::float8, s.status, s.min_price::float8 FROM shows s JOIN venues v ON v.id = s.venue_id"
        ).text(b)).fetch_one(p).await.unwrap()
    });
    assert_eq!(city.as_deref(), Some("Los Angeles"));
    assert_eq!(lat, Some(34.003101));
    assert_eq!(status, "cancelled");
    assert_eq!(min, Some(55.0));
}

async fn show_owner_does_not_depend_on_sync_order(store: &Store) {
    // Headliner not in the database: the support act holds the show; once the headliner is
    // added, either artist's next sync gives it to the headliner.
    let support = insert_artist(store, "Opener", "K8vZ917OPEN").await;
    let attractions: Vec<String> = vec!["K8vZ917LATE".into(), "K8vZ917OPEN".into()];
    let owner_now = |map: &HashMap<String, String>| upsert::show_owner(&attractions, map, &support);
    let mut tx = store.begin().await.unwrap();
    let map = upsert::artist_ids_by_ticketmaster_id(&mut tx, &attractions)
        .await
        .unwrap();
    assert_eq!(owner_now(&map), support);
    tx.rollback().await.unwrap();
    let late = insert_artist(store, "Late Headliner", "K8vZ917LATE").await;
    let mut tx = store.begin().await.unwrap();
    let map = upsert::artist_ids_by_ticketmaster_id(&mut tx, &attractions)
        .await
        .unwrap();
    assert_eq!(owner_now(&map), late);
    assert_eq!(
        upsert::show_owner(&attractions, &map, &late),
        late,
        "the same owner whoever syncs"
    );
    tx.rollback().await.unwrap();
}

async fn status_parts_are_written_canonically(store: &Store) {
    let id = insert_artist(store, "Status Artist", "K8vZ917STAT").await;
    assert!(
        store
            .set_part_status(&id, Source::Spotify, PartStatus::Error)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_part_status(&id, Source::Ticketmaster, PartStatus::Success)
            .await
            .unwrap()
    );
    store
        .finish_artist_sync(
            &id,
            Some("spotify: albums step: HTTP 403 Forbidden"),
            true,
            Some(16),
        )
        .await
        .unwrap();
    let d = store.artist_detail(&id).await.unwrap().expect("artist");
    assert_eq!(d.summary.sync_status.ticketmaster, PartStatus::Success);
    assert_eq!(d.summary.sync_status.spotify, PartStatus::Error);
    assert_eq!(d.summary.sync_status.setlistfm, PartStatus::Pending);
    assert!(d.summary.last_ticketmaster_sync.is_some());
    assert!(d.summary.last_spotify_sync.is_none());
    assert_eq!(d.summary.upcoming_shows_count, 16);
    assert_eq!(
        d.summary.last_sync_error.as_deref(),
        Some("spotify: albums step: HTTP 403 Forbidden")
    );
    let raw: String = syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query_scalar(syncdeck::sql!("SELECT sync_status::text FROM artists WHERE id = $1::uuid").text(b)).bind(&id).fetch_one(p).await.unwrap()
    });
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"ticketmaster": "success", "spotify": "error", "setlistfm": "pending"})
    );
    store
        .finish_artist_sync(&id, None, true, None)
        .await
        .unwrap();
    let d = store.artist_detail(&id).await.unwrap().unwrap();
    assert_eq!(d.summary.last_sync_error, None, "cleared on success");
    assert!(
        !store
            .set_part_status(
                &uuid::Uuid::new_v4().to_string(),
                Source::Spotify,
                PartStatus::Error
            )
            .await
            .unwrap()
    );
}

async fn all(store: Store) {
    migrations_are_idempotent(&store).await;
    upserts_converge(&store).await;
    show_owner_does_not_depend_on_sync_order(&store).await;
    status_parts_are_written_canonically(&store).await;
    store.close().await;
}

#[tokio::test]
async fn sqlite_migrations_upserts_and_status() {
    let (_dir, url) = sqlite_url();
    all(migrated_store(&url).await).await;
}

#[tokio::test]
async fn postgres_migrations_upserts_and_status() {
    if skip_pg() {
        return;
    }
    let db = PgDatabase::create("upserts").await;
    all(migrated_store(&db.database_url()).await).await;
}

#[tokio::test]
async fn sqlite_pragmas_are_set_on_every_connection() {
    let (_dir, url) = sqlite_url();
    let store = migrated_store(&url).await;
    let syncdeck::store::Db::Sqlite(pool) = &store.db else {
        unreachable!()
    };
    // Several connections at once: each must have WAL, NORMAL sync (1), FKs and a busy timeout.
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(pool.acquire().await.unwrap());
    }
    for c in conns.iter_mut() {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut **c)
            .await
            .unwrap();
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut **c)
            .await
            .unwrap();
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut **c)
            .await
            .unwrap();
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(&mut **c)
            .await
            .unwrap();
        assert_eq!((mode.as_str(), sync, fk), ("wal", 1, 1));
        assert!(busy >= 5000);
    }
}

/// Three parts of the same artist finishing at the same moment keep all three keys.
async fn concurrent_parts_do_not_overwrite_each_other(store: &Store) {
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            insert_artist(
                store,
                &format!("Concurrent {i}"),
                &format!("K8vZ917C{i:03}"),
            )
            .await,
        );
    }
    let mut tasks = Vec::new();
    for id in &ids {
        for (source, status) in [
            (Source::Ticketmaster, PartStatus::Success),
            (Source::Spotify, PartStatus::Error),
            (Source::Setlistfm, PartStatus::Success),
        ] {
            let (store, id) = (store.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                store.set_part_status(&id, source, status).await
            }));
        }
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap());
    }
    for id in &ids {
        let s = store
            .artist_detail(id)
            .await
            .unwrap()
            .unwrap()
            .summary
            .sync_status;
        assert_eq!(
            (s.ticketmaster, s.spotify, s.setlistfm),
            (PartStatus::Success, PartStatus::Error, PartStatus::Success),
            "a concurrent write lost a part of artist {id}"
        );
    }
}

#[tokio::test]
async fn concurrent_part_updates_sqlite_and_postgres() {
    let (_dir, url) = sqlite_url();
    concurrent_parts_do_not_overwrite_each_other(&migrated_store(&url).await).await;
    if skip_pg() {
        return;
    }
    let db = PgDatabase::create("concurrent").await;
    concurrent_parts_do_not_overwrite_each_other(&migrated_store(&db.database_url()).await).await;
}
