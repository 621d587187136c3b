//! With faults injected into every kind of request, a sync still ends: every artist is
//! `success` or `error` with a message that names source and step, retried runs converge, and
//! no part is half-written (its rows are all there or none are).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::engine::{engine_for, fake_scaled, seed};
use syncdeck::engine::RequestKind;
use syncdeck::store::Store;
use syncdeck::store::artist_sync::Selection;
use syncdeck::store::runs::RunStatus;
use syncdeck::store::sync_status::{PartStatus, Source};

const FAULTS: &str =
    "5xx=0.06,429=0.05,malformed=0.05,truncated=0.05,drop=0.05,latency=0.05:100ms,seed=17";

async fn per_artist(store: &Store, sql: &'static str) -> HashMap<String, i64> {
    let rows: Vec<(String, i64)> = syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query_as(sql).fetch_all(p).await
    })
    .expect(sql);
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_everywhere_end_in_success_or_a_useful_error_and_nothing_half_written() {
    let fake = fake_scaled(60, 20, Some(FAULTS)).await;
    let (_dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine = engine_for(&fake, &store, &url, 20, 6).await;
    engine.start().await.unwrap();
    let q = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .unwrap();
    let ids: Vec<String> = q.iter().map(|e| e.run_id.clone()).collect();
    let runs = tokio::time::timeout(Duration::from_secs(300), engine.wait_for(&ids))
        .await
        .expect("the run ends")
        .unwrap();
    let stats = fake.stats();
    let faulted = stats.ticketmaster.requests - stats.ticketmaster.success + stats.spotify.requests
        - stats.spotify.success
        + stats.setlistfm.requests
        - stats.setlistfm.success;
    assert!(faulted > 20, "faults were injected: {faulted}");

    let retried_ok = runs
        .iter()
        .filter(|r| r.attempts > 1 && r.status == RunStatus::Succeeded)
        .count();
    let failed = runs
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .count();
    eprintln!(
        "{} runs: {retried_ok} succeeded after a retry, {failed} failed",
        runs.len()
    );
    assert!(retried_ok > 0, "some runs needed and survived a retry");
    assert!(
        failed <= 10,
        "retries absorb most faults: {failed} of 60 failed"
    );

    // Each artist: success everywhere, or an error that names the source and step.
    let catalog = fake.catalog();
    let songs = per_artist(
        &store,
        "SELECT artist_id, COUNT(*) FROM songs GROUP BY artist_id",
    )
    .await;
    let setlists = per_artist(
        &store,
        "SELECT artist_id, COUNT(*) FROM setlists GROUP BY artist_id",
    )
    .await;
    for a in store.all_artists().await.unwrap() {
        let parts = a.sync_status;
        assert!(
            parts
                .parts()
                .iter()
                .all(|(_, p)| matches!(p, PartStatus::Success | PartStatus::Error))
        );
        if parts.parts().iter().any(|(_, p)| *p == PartStatus::Error) {
            let err = a.last_sync_error.clone().unwrap_or_default();
            assert!(err.contains(" step: "), "{}: useless error {err:?}", a.name);
            for (source, p) in parts.parts() {
                if p == PartStatus::Error {
                    assert!(
                        err.contains(source.label()),
                        "{}: {err} names {}",
                        a.name,
                        source.label()
                    );
                }
            }
        } else {
            assert_eq!(a.last_sync_error, None, "{}", a.name);
        }
        let index = catalog
            .artists()
            .iter()
            .position(|c| c.ticketmaster_id == a.ticketmaster_id)
            .expect("a catalog artist");
        let expected_songs: std::collections::HashSet<String> = catalog
            .albums_with_tracks(index)
            .into_iter()
            .flat_map(|(_, t)| t.into_iter().map(|t| t.id))
            .collect();
        let have_songs = songs.get(&a.id).copied().unwrap_or(0);
        match parts.get(Source::Spotify) {
            PartStatus::Success => {
                assert_eq!(have_songs, expected_songs.len() as i64, "{}: songs", a.name)
            }
            _ => assert_eq!(
                have_songs, 0,
                "{}: a failed Spotify part wrote songs",
                a.name
            ),
        }
        let have_setlists = setlists.get(&a.id).copied().unwrap_or(0);
        match parts.get(Source::Setlistfm) {
            PartStatus::Success => assert_eq!(
                have_setlists,
                catalog.setlists(index).len() as i64,
                "{}: setlists",
                a.name
            ),
            _ => assert_eq!(
                have_setlists, 0,
                "{}: a failed setlist.fm part wrote setlists",
                a.name
            ),
        }
    }

    // Retrying the failed ones converges.
    for _ in 0..4 {
        let again = engine
            .enqueue_selection(Selection::Failed, RequestKind::RetryFailed)
            .await
            .unwrap();
        if again.is_empty() {
            break;
        }
        let ids: Vec<String> = again.iter().map(|e| e.run_id.clone()).collect();
        engine.wait_for(&ids).await.unwrap();
    }
    let mut left = Vec::new();
    for (id, name) in store.artist_refs(Selection::Failed).await.unwrap() {
        let runs = store.artist_runs(&id, 10).await.unwrap();
        left.push((
            name,
            runs.into_iter()
                .map(|r| (r.status, r.attempts, r.error))
                .collect::<Vec<_>>(),
        ));
    }
    assert!(left.is_empty(), "still failing after retries: {left:#?}");
    engine.shutdown().await;
    fake.shutdown().await;
}

/// A run's counts cover every attempt: setlist.fm answers 503 for its first second, so the
/// first attempt fails after writing the Ticketmaster shows and the Spotify songs, and the
/// second (2 s later) runs only setlist.fm's part and succeeds; the run's counts hold what both
/// attempts wrote (before, the first attempt's counts were lost on the retry).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runs_counts_add_up_every_attempt() {
    let fake = fake_scaled(4, 20, Some("setlistfm.broken=1:1s")).await;
    let (_dir, url) = common::sqlite_url();
    let store: Store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let config = common::engine::config_for(&fake, &url);
    let clients = syncdeck::engine::Clients::from_config(
        &config,
        &store,
        &common::engine::client_settings(20),
    );
    let engine = syncdeck::engine::Engine::new(
        store.clone(),
        clients,
        syncdeck::engine::EngineSettings {
            backoff_min: Duration::from_secs(2),
            backoff_max: Duration::from_secs(2),
            ..common::engine::engine_settings(4)
        },
    );
    engine.start().await.expect("engine starts");
    let runs = common::engine::sync_all_succeeded(&engine, Duration::from_secs(120)).await;
    engine.shutdown().await;
    let mut checked = 0;
    for run in &runs {
        let shows = common::scalar(
            &store,
            &format!(
                "SELECT count(*) FROM shows WHERE artist_id = '{}'",
                run.artist_id
            ),
        )
        .await;
        let counts: syncdeck::engine::RunCounts =
            serde_json::from_value(run.counts.clone()).expect("counts");
        assert_eq!(run.attempts, 2, "{run:?}");
        let setlists = common::scalar(
            &store,
            &format!(
                "SELECT count(*) FROM setlists WHERE artist_id = '{}'",
                run.artist_id
            ),
        )
        .await;
        assert_eq!(
            counts.shows, shows as u64,
            "the first attempt's shows: {run:?}"
        );
        assert_eq!(
            counts.setlists, setlists as u64,
            "the second's setlists: {run:?}"
        );
        if shows > 0 && setlists > 0 {
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "no artist with both shows and setlists among {}",
        runs.len()
    );
    fake.shutdown().await;
}
