//! Joining, cancelling and stopping runs: a duplicate request joins the active run, a cancel
//! stops a queued or running run (from this or another engine on the same database), and a
//! stopping engine puts its runs back in the queue. Nothing is ever left `syncing`.

mod common;

use std::time::Duration;

use common::engine::{engine_for, fake_scaled, seed};
use syncdeck::engine::{EngineEvent, RequestKind};
use syncdeck::store::Store;
use syncdeck::store::artist_sync::Selection;
use syncdeck::store::runs::{CancelOutcome, RunStatus};
use syncdeck::store::sync_status::PartStatus;

async fn artist(store: &Store, index: usize) -> (String, String) {
    let all = store.artist_refs(Selection::All).await.expect("artists");
    all[index].clone()
}

async fn none_syncing(store: &Store) {
    for a in store.all_artists().await.expect("artists") {
        assert!(
            a.sync_status
                .parts()
                .iter()
                .all(|(_, p)| *p != PartStatus::Syncing),
            "{} left syncing: {}",
            a.name,
            a.sync_status.to_json()
        );
    }
}

async fn wait_started(events: &mut tokio::sync::broadcast::Receiver<EngineEvent>, run_id: &str) {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(EngineEvent::Started { run_id: r, .. }) if r == run_id => return,
                Ok(_) => {}
                Err(e) => panic!("event stream: {e}"),
            }
        }
    })
    .await
    .expect("the run starts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_request_joins_the_active_run_and_the_pipeline_runs_once() {
    let fake = fake_scaled(5, 20, None).await;
    let (_dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine = engine_for(&fake, &store, &url, 20, 2).await;
    let a = artist(&store, 3).await;
    let first = engine
        .enqueue(std::slice::from_ref(&a), RequestKind::Bulk)
        .await
        .unwrap();
    let second = engine
        .enqueue(std::slice::from_ref(&a), RequestKind::Manual)
        .await
        .unwrap();
    assert!(!first[0].joined);
    assert!(second[0].joined, "the second request joins");
    assert_eq!(first[0].run_id, second[0].run_id);
    engine.start().await.unwrap();
    let runs = engine.wait_for(&[first[0].run_id.clone()]).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert_eq!(runs[0].attempts, 1);
    let tm_id = store
        .sync_target(&a.0)
        .await
        .unwrap()
        .unwrap()
        .ticketmaster_id
        .unwrap();
    let stats = fake.stats();
    let event_calls: u64 = stats
        .ticketmaster
        .by_target
        .iter()
        .filter(|(endpoint, _)| endpoint.contains("events"))
        .filter_map(|(_, targets)| targets.get(&tm_id))
        .sum();
    // One events query covers an artist under the paging depth; a second run would add one.
    assert_eq!(event_calls, 1, "fetched once, not twice: {stats:?}");
    // Once ended, a new request makes a new run.
    let third = engine.enqueue(&[a], RequestKind::Manual).await.unwrap();
    assert!(!third[0].joined);
    assert_ne!(third[0].run_id, first[0].run_id);
    engine.wait_for(&[third[0].run_id.clone()]).await.unwrap();
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_a_queued_run_skips_it_and_leaves_the_artist_as_it_was() {
    let fake = fake_scaled(5, 20, None).await;
    let (_dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine = engine_for(&fake, &store, &url, 20, 2).await;
    let a = artist(&store, 1).await;
    let b = artist(&store, 2).await;
    let q = engine
        .enqueue(&[a.clone(), b.clone()], RequestKind::Bulk)
        .await
        .unwrap();
    assert_eq!(
        engine.cancel(&q[0].run_id).await.unwrap(),
        CancelOutcome::CancelledQueued
    );
    assert_eq!(
        engine.cancel(&q[0].run_id).await.unwrap(),
        CancelOutcome::NotActive
    );
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    engine.start().await.unwrap();
    let runs = engine
        .wait_for(&[q[0].run_id.clone(), q[1].run_id.clone()])
        .await
        .unwrap();
    assert_eq!(runs[0].status, RunStatus::Cancelled);
    assert_eq!(runs[1].status, RunStatus::Succeeded);
    // What the console's poll reads: both ended after `before`, none after now.
    let mut seen: Vec<String> = store
        .runs_active_or_finished_since(before)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    seen.sort();
    let mut want = vec![q[0].run_id.clone(), q[1].run_id.clone()];
    want.sort();
    assert_eq!(seen, want);
    let later = chrono::Utc::now() + chrono::Duration::seconds(60);
    assert!(
        store
            .runs_active_or_finished_since(later)
            .await
            .unwrap()
            .is_empty()
    );
    let target = store.sync_target(&a.0).await.unwrap().unwrap();
    assert!(
        target
            .sync_status
            .parts()
            .iter()
            .all(|(_, p)| *p == PartStatus::Pending),
        "a cancelled queued run never touched the artist: {}",
        target.sync_status.to_json()
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_a_running_run_from_another_engine_stops_it_at_the_next_await() {
    // Every answer takes 1.5 s, so the run is surely mid-flight when the cancel comes.
    let fake = fake_scaled(5, 20, Some("latency=1:1500ms")).await;
    let (_dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let runner = engine_for(&fake, &store, &url, 20, 2).await;
    // Another process on the same database: its own pool, its own engine, never started.
    let other_store = Store::open(&url, syncdeck::store::OpenMode::Existing)
        .await
        .unwrap();
    let other = engine_for(&fake, &other_store, &url, 20, 1).await;
    let mut events = runner.subscribe();
    runner.start().await.unwrap();
    let a = artist(&store, 4).await;
    let q = runner
        .enqueue(std::slice::from_ref(&a), RequestKind::Manual)
        .await
        .unwrap();
    wait_started(&mut events, &q[0].run_id).await;
    let started = std::time::Instant::now();
    assert_eq!(
        other.cancel(&q[0].run_id).await.unwrap(),
        CancelOutcome::Flagged
    );
    let runs = runner.wait_for(&[q[0].run_id.clone()]).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped at the next await point, not after the whole run: {:?}",
        started.elapsed()
    );
    let target = store.sync_target(&a.0).await.unwrap().unwrap();
    assert!(
        target
            .sync_status
            .parts()
            .iter()
            .all(|(_, p)| *p == PartStatus::Pending),
        "parts went back to what they were: {}",
        target.sync_status.to_json()
    );
    let attempts = store.run_attempts(&q[0].run_id).await.unwrap();
    assert_eq!(
        attempts.last().and_then(|a| a.outcome.clone()).as_deref(),
        Some("cancelled")
    );
    none_syncing(&store).await;
    runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_all_stops_running_and_queued_runs() {
    let fake = fake_scaled(8, 20, Some("latency=1:1s")).await;
    let (_dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine = engine_for(&fake, &store, &url, 20, 2).await;
    let mut events = engine.subscribe();
    engine.start().await.unwrap();
    let q = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .unwrap();
    // The first run to start, whichever it is: tasks queued in the same instant are claimed
    // in no set order, so waiting for `q[0]` could mean waiting for most runs to end.
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(EngineEvent::Started { .. }) => return,
                Ok(_) => {}
                Err(e) => panic!("event stream: {e}"),
            }
        }
    })
    .await
    .expect("a run starts");
    let active = engine.cancel_all().await.unwrap();
    assert!(active >= 7, "most runs were still active: {active}");
    let ids: Vec<String> = q.iter().map(|e| e.run_id.clone()).collect();
    let runs = tokio::time::timeout(Duration::from_secs(20), engine.wait_for(&ids))
        .await
        .expect("everything stops")
        .unwrap();
    let cancelled = runs
        .iter()
        .filter(|r| r.status == RunStatus::Cancelled)
        .count();
    assert!(cancelled >= 7, "{cancelled} of 8 cancelled");
    none_syncing(&store).await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_puts_running_runs_back_in_the_queue_and_a_new_engine_finishes_them() {
    let fake = fake_scaled(6, 20, Some("latency=1:800ms")).await;
    let (_dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine = engine_for(&fake, &store, &url, 20, 3).await;
    let mut events = engine.subscribe();
    engine.start().await.unwrap();
    let q = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .unwrap();
    wait_started(&mut events, &q[0].run_id).await;
    tokio::time::timeout(Duration::from_secs(15), engine.shutdown())
        .await
        .expect("shutdown is prompt");
    none_syncing(&store).await;
    let ids: Vec<String> = q.iter().map(|e| e.run_id.clone()).collect();
    let runs = store.runs(&ids).await.unwrap();
    assert!(
        runs.iter()
            .all(|r| matches!(r.status, RunStatus::Queued | RunStatus::Succeeded)),
        "every run is queued again or done: {:?}",
        runs.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(runs.iter().any(|r| r.status == RunStatus::Queued));
    // The next process picks them up.
    let next = engine_for(&fake, &store, &url, 20, 3).await;
    next.start().await.unwrap();
    let runs = tokio::time::timeout(Duration::from_secs(60), next.wait_for(&ids))
        .await
        .expect("the next engine finishes them")
        .unwrap();
    assert!(
        runs.iter().all(|r| r.status == RunStatus::Succeeded),
        "{:?}",
        runs.iter()
            .map(|r| (r.status, r.error.clone()))
            .collect::<Vec<_>>()
    );
    none_syncing(&store).await;
    next.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manual_request_goes_before_bulk_work_even_when_it_joins_a_bulk_run() {
    let fake = fake_scaled(6, 20, None).await;
    let (_dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine = engine_for(&fake, &store, &url, 20, 1).await;
    let bulk = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .unwrap();
    let last = artist(&store, 5).await;
    let manual = engine
        .enqueue(std::slice::from_ref(&last), RequestKind::Manual)
        .await
        .unwrap();
    assert!(manual[0].joined);
    let mut events = engine.subscribe();
    engine.start().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(EngineEvent::Started { artist_id, .. }) = events.recv().await {
                return artist_id;
            }
        }
    })
    .await
    .expect("a run starts");
    assert_eq!(first, last.0, "the manual request ran first");
    let ids: Vec<String> = bulk.iter().map(|q| q.run_id.clone()).collect();
    engine.wait_for(&ids).await.unwrap();
    engine.shutdown().await;
}

/// Run history is kept for the console, not for ever: an engine that starts deletes finished
/// runs older than `keep_runs` with their attempts, and keeps recent ones and active ones.
async fn old_finished_runs_are_pruned_at_start(url: syncdeck::config::DatabaseUrl) {
    let fake = fake_scaled(3, 20, None).await;
    let store: Store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine = engine_for(&fake, &store, &url, 20, 2).await;
    engine.start().await.expect("engine starts");
    let runs = common::engine::sync_all_succeeded(&engine, Duration::from_secs(120)).await;
    engine.shutdown().await;
    let old = &runs[0].id;
    let long_ago =
        (chrono::Utc::now() - chrono::Duration::days(100)).format("%Y-%m-%dT%H:%M:%S%.3fZ");
    common::execute(
        &store,
        &format!("UPDATE syncdeck_runs SET requested_at = '{long_ago}' WHERE id = '{old}'"),
    )
    .await;
    let attempts =
        |id: &str| format!("SELECT count(*) FROM syncdeck_run_attempts WHERE run_id = '{id}'");
    assert!(common::scalar(&store, &attempts(old)).await > 0);

    let again = engine_for(&fake, &store, &url, 20, 2).await;
    again.start().await.expect("engine starts");
    assert_eq!(
        store.run(old).await.expect("read"),
        None,
        "the 100-day-old run is gone"
    );
    assert_eq!(
        common::scalar(&store, &attempts(old)).await,
        0,
        "with its attempts"
    );
    assert_eq!(
        common::scalar(&store, "SELECT count(*) FROM syncdeck_runs").await,
        2,
        "the recent runs stay"
    );
    again.shutdown().await;
    fake.shutdown().await;
}

crate::on_sqlite_and_postgres!(
    old_finished_runs_are_pruned_at_start,
    old_runs_are_pruned_at_start_sqlite,
    old_runs_are_pruned_at_start_postgres
);
