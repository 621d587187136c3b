//! The engine end to end against the fake: full syncs on SQLite and Postgres, idempotent
//! reruns, joins, cancellation, faults.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::engine::{engine_for, fake_scaled, seed};
use syncdeck::config::DatabaseUrl;
use syncdeck::engine::{Engine, RequestKind};
use syncdeck::store::Store;
use syncdeck::store::artist_sync::Selection;
use syncdeck::store::runs::RunStatus;

async fn counts(store: &Store) -> HashMap<&'static str, i64> {
    let mut out = HashMap::new();
    for table in [
        "artists",
        "venues",
        "shows",
        "songs",
        "setlists",
        "setlist_songs",
    ] {
        let n: i64 = syncdeck::with_pool!(&store.db, p, b => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"))).fetch_one(p).await
        })
        .expect("count");
        out.insert(table, n);
    }
    out
}

async fn statuses(store: &Store) -> Vec<(String, String, Option<String>)> {
    store
        .all_artists()
        .await
        .expect("artists")
        .into_iter()
        .map(|a| {
            let parts: Vec<String> = a
                .sync_status
                .parts()
                .iter()
                .map(|(s, p)| format!("{}={}", s.key(), p.as_str()))
                .collect();
            (a.name.clone(), parts.join(","), a.last_sync_error.clone())
        })
        .collect()
}

async fn full_sync(url: DatabaseUrl) {
    let fake = fake_scaled(30, 20, None).await;
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine: Engine = engine_for(&fake, &store, &url, 20, 4).await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    engine.start().await.expect("engine starts");
    let queued = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .expect("enqueue");
    assert_eq!(queued.len(), 30);
    let runs = tokio::time::timeout(
        Duration::from_secs(240),
        engine.wait_for(&queued.iter().map(|q| q.run_id.clone()).collect::<Vec<_>>()),
    )
    .await
    .expect("the sync finishes")
    .expect("runs read");
    let failed: Vec<_> = runs
        .iter()
        .filter(|r| r.status != RunStatus::Succeeded)
        .map(|r| (r.artist_name.clone(), r.error.clone()))
        .collect();
    assert!(failed.is_empty(), "failed runs: {failed:?}");
    // The console's poll sees every run that ended (and its artist) after `before`.
    let polled = store
        .runs_active_or_finished_since(before)
        .await
        .expect("poll");
    assert_eq!(polled.len(), 30, "every finished run, once");
    let later = chrono::Utc::now() + chrono::Duration::seconds(60);
    assert!(
        store
            .runs_active_or_finished_since(later)
            .await
            .expect("poll")
            .is_empty(),
        "nothing ended in the future, nothing is active"
    );
    for (name, status, error) in statuses(&store).await {
        assert_eq!(
            status, "ticketmaster=success,spotify=success,setlistfm=success",
            "{name}: {error:?}"
        );
        assert_eq!(error, None, "{name}");
    }
    let expected = fake.catalog().expected_counts();
    let first = counts(&store).await;
    assert_eq!(first["artists"], expected.artists as i64);
    assert_eq!(first["venues"], expected.venues as i64, "venues");
    assert_eq!(first["shows"], expected.shows as i64, "shows");
    assert_eq!(first["songs"], expected.songs as i64, "songs");
    assert_eq!(first["setlists"], expected.setlists as i64, "setlists");

    // A second run changes nothing and duplicates nothing.
    let again = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .expect("enqueue again");
    let runs = engine
        .wait_for(&again.iter().map(|q| q.run_id.clone()).collect::<Vec<_>>())
        .await
        .expect("runs");
    assert!(runs.iter().all(|r| r.status == RunStatus::Succeeded));
    assert_eq!(counts(&store).await, first);
    engine.shutdown().await;
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_sync_on_sqlite_matches_the_catalog_and_reruns_change_nothing() {
    let (_dir, url) = common::sqlite_url();
    full_sync(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_sync_on_postgres_matches_the_catalog_and_reruns_change_nothing() {
    if common::skip_pg() {
        return;
    }
    let db = common::PgDatabase::create("engine_full").await;
    full_sync(db.database_url()).await;
}
