//! Quota-aware syncing (#11): a spent daily quota makes runs wait for the reset instead of
//! failing, and the engine stops before the provider refuses; stale Ticketmaster ids are
//! reported, not passed off as "no shows", and relinked by `syncdeck artist relink`. On SQLite
//! and Postgres.

mod common;

use std::time::Duration;

use common::engine::{
    assert_every_part_succeeded, engine_for, fake_scaled, seed, syncdeck_command,
};
use syncdeck::config::DatabaseUrl;
use syncdeck::engine::EngineEvent;
use syncdeck::engine::{Engine, RequestKind};
use syncdeck::fake::{self, FakeConfig};
use syncdeck::store::Store;
use syncdeck::store::artist_sync::Selection;
use syncdeck::store::runs::RunStatus;

/// Syncs every artist and waits; returns how many runs succeeded.
async fn sync_all(engine: &Engine) -> usize {
    let queued = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .expect("enqueue");
    let runs = tokio::time::timeout(
        Duration::from_secs(240),
        engine.wait_for(&queued.iter().map(|q| q.run_id.clone()).collect::<Vec<_>>()),
    )
    .await
    .expect("the sync finishes")
    .expect("runs read");
    runs.iter()
        .filter(|r| r.status == RunStatus::Succeeded)
        .count()
}

/// An artist whose Ticketmaster id is gone (the attraction answers 404, its events search is
/// empty) ends its Ticketmaster part in `error` naming the id and how to relink; the other
/// parts still sync. `artist relink` then points it at the live id and the next sync works.
async fn stale_id_is_reported_and_relinked(url: DatabaseUrl) {
    let fake = fake_scaled(6, 20, None).await;
    let store: Store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine = engine_for(&fake, &store, &url, 20, 4).await;
    engine.start().await.expect("engine starts");
    // Synced once while the id was good: the row has its Spotify and MusicBrainz ids now.
    let artists = store.all_artists().await.expect("artists");
    assert_eq!(sync_all(&engine).await, artists.len());
    let artists = store.all_artists().await.expect("artists");
    let victim = artists
        .iter()
        .find(|a| a.spotify_id.is_some() && a.setlist_fm_mbid.is_some())
        .expect("an artist with all ids")
        .clone();
    let live_id = victim.ticketmaster_id.clone();
    // Then Ticketmaster retires the attraction.
    store
        .relink_ticketmaster_id(&victim.id, "K8vZ9GONE000")
        .await
        .expect("point the artist at a retired id");
    assert_eq!(sync_all(&engine).await, artists.len() - 1);
    let after = store
        .find_artists(&victim.id)
        .await
        .expect("read")
        .remove(0);
    let status = after.sync_status.to_json();
    assert!(status.contains(r#""ticketmaster":"error""#), "{status}");
    assert!(
        status.contains(r#""spotify":"success""#) && status.contains(r#""setlistfm":"success""#),
        "{status}"
    );
    let error = after.last_sync_error.unwrap_or_default();
    assert!(
        error.contains("K8vZ9GONE000 is gone at Ticketmaster")
            && error.contains("syncdeck artist relink"),
        "{error}"
    );

    // Relink through the CLI, as the error says.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = syncdeck_command(&fake, &common::url_text(&url), dir.path())
        .args(["artist", "relink", &victim.name, "--tm-id", &live_id])
        .output()
        .expect("run artist relink");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "relink: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("K8vZ9GONE000") && stdout.contains(&live_id),
        "{stdout}"
    );
    let relinked = store
        .find_artists(&victim.id)
        .await
        .expect("read")
        .remove(0);
    assert_eq!(relinked.ticketmaster_id, live_id);
    assert!(
        relinked
            .sync_status
            .to_json()
            .contains(r#""ticketmaster":"pending""#)
    );
    assert_eq!(relinked.last_sync_error, None);

    // An id Ticketmaster does not know is refused, and nothing changes.
    let out = syncdeck_command(&fake, &common::url_text(&url), dir.path())
        .args(["artist", "relink", &victim.id, "--tm-id", "K8vZ9NOPE00"])
        .output()
        .expect("run artist relink");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Ticketmaster has no attraction K8vZ9NOPE00"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An id another artist holds is refused too.
    let other = artists
        .iter()
        .find(|a| a.id != victim.id)
        .expect("another artist");
    let out = syncdeck_command(&fake, &common::url_text(&url), dir.path())
        .args([
            "artist",
            "relink",
            &victim.id,
            "--tm-id",
            &other.ticketmaster_id,
        ])
        .output()
        .expect("run artist relink");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already belongs to artist"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        store
            .find_artists(&victim.id)
            .await
            .expect("read")
            .remove(0)
            .ticketmaster_id,
        live_id
    );

    assert_eq!(sync_all(&engine).await, artists.len());
    let healed = store
        .find_artists(&victim.id)
        .await
        .expect("read")
        .remove(0);
    assert!(
        healed.sync_status.to_json().matches("success").count() == 3,
        "{}",
        healed.sync_status.to_json()
    );
    engine.shutdown().await;
    fake.shutdown().await;
}

crate::on_sqlite_and_postgres!(
    stale_id_is_reported_and_relinked,
    stale_tm_id_on_sqlite_is_reported_and_relinked,
    stale_tm_id_on_postgres_is_reported_and_relinked
);

/// 60 artists against a Ticketmaster key of 40 calls a day, with an 8-second day at the fake:
/// no run fails for quota, the runs that hit the spent quota wait (queued, with the reason and
/// the reset time) while their other parts finish, every artist ends `success` after the
/// resets, and the fake answers not one 429 (the engine stops before Ticketmaster refuses).
async fn runs_wait_for_the_quota_reset(url: DatabaseUrl) {
    let mut config = FakeConfig {
        artists: 60,
        ..FakeConfig::default()
    }
    .with_limits_scaled(20);
    config.tm_daily = 40;
    config.quota_day = Duration::from_secs(8);
    let fake = fake::start(config).await.expect("the fake starts");
    let store: Store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let engine = engine_for(&fake, &store, &url, 20, 4).await;
    let mut events = engine.subscribe();
    engine.start().await.expect("engine starts");
    let queued = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .expect("enqueue");
    let ids: Vec<String> = queued.iter().map(|q| q.run_id.clone()).collect();
    let wait = engine.wait_for(&ids);
    tokio::pin!(wait);
    let mut waits = Vec::new();
    let mut seen_waiting_run = false;
    let runs = loop {
        tokio::select! {
            r = &mut wait => break r.expect("runs read"),
            e = events.recv() => {
                if let Ok(EngineEvent::Waiting { run_id, until, reason, .. }) = e {
                    if !seen_waiting_run {
                        // While it waits the run is queued, with the reason and the reset time.
                        let run = store.run(&run_id).await.expect("read").expect("the run");
                        assert!(run.waiting(chrono::Utc::now()), "{run:?}");
                        assert_eq!(run.wait_until, Some(until));
                        assert!(run.wait_reason.as_deref().is_some_and(|r| r.contains("Ticketmaster's daily quota is spent")), "{run:?}");
                        seen_waiting_run = true;
                    }
                    waits.push(reason);
                }
            }
            _ = tokio::time::sleep(Duration::from_secs(300)) => panic!("the runs did not end within 300 s"),
        }
    };
    let failed: Vec<_> = runs
        .iter()
        .filter(|r| r.status != RunStatus::Succeeded)
        .map(|r| (r.artist_name.clone(), r.error.clone()))
        .collect();
    assert!(failed.is_empty(), "runs failed: {failed:?}");
    assert!(
        !waits.is_empty(),
        "40 calls a day cannot sync 60 artists without waiting"
    );
    assert!(seen_waiting_run);
    assert_every_part_succeeded(&store).await;
    let stats = fake.stats();
    assert_eq!(
        stats.ticketmaster.rate_limited, 0,
        "Ticketmaster refused calls: {:?}",
        stats.ticketmaster.by_status
    );
    // The waiting attempts are in the history, and no run used up its attempts on them.
    let attempts = store.run_attempts(&ids[0]).await.expect("attempts");
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome.as_deref() != Some("failed")),
        "{attempts:?}"
    );
    engine.shutdown().await;
    fake.shutdown().await;
}

crate::on_sqlite_and_postgres!(
    runs_wait_for_the_quota_reset,
    quota_spent_on_sqlite_waits_for_the_reset,
    quota_spent_on_postgres_waits_for_the_reset
);

/// `syncdeck queue pause` stops the workers from starting runs (requests still queue up);
/// `queue status --json` says so; `queue resume` lets them run and every artist finishes.
async fn pause_holds_the_queue_until_resumed(url: DatabaseUrl) {
    let fake = fake_scaled(8, 20, None).await;
    let store: Store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let queue = |args: &[&str]| {
        let out = syncdeck_command(&fake, &common::url_text(&url), dir.path())
            .arg("queue")
            .args(args)
            .output()
            .expect("run syncdeck queue");
        assert!(
            out.status.success(),
            "queue {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let status: serde_json::Value =
        serde_json::from_str(&queue(&["status", "--json"])).expect("status JSON");
    assert_eq!(status["paused"], false);
    assert!(queue(&["pause"]).contains("paused"));
    let status: serde_json::Value =
        serde_json::from_str(&queue(&["status", "--json"])).expect("status JSON");
    assert_eq!(status["paused"], true, "{status}");
    assert!(
        status["by"]
            .as_str()
            .is_some_and(|b| b.contains("syncdeck queue"))
    );

    let engine = engine_for(&fake, &store, &url, 20, 4).await;
    engine.start().await.expect("engine starts");
    let queued = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .expect("enqueue");
    assert_eq!(queued.len(), 8, "requests queue up while paused");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = common::scalar(
        &store,
        "SELECT COUNT(*) FROM syncdeck_runs WHERE status <> 'queued'",
    )
    .await;
    assert_eq!(started, 0, "no run starts while the queue is paused");
    let stats = fake.stats();
    assert_eq!(
        stats.ticketmaster.requests + stats.spotify.requests + stats.setlistfm.requests,
        0,
        "no provider was called"
    );

    assert!(queue(&["resume"]).contains("resumed"));
    let runs = tokio::time::timeout(
        Duration::from_secs(120),
        engine.wait_for(&queued.iter().map(|q| q.run_id.clone()).collect::<Vec<_>>()),
    )
    .await
    .expect("the runs finish once resumed")
    .expect("runs read");
    assert!(
        runs.iter().all(|r| r.status == RunStatus::Succeeded),
        "{runs:?}"
    );
    engine.shutdown().await;
    fake.shutdown().await;
}

crate::on_sqlite_and_postgres!(
    pause_holds_the_queue_until_resumed,
    pause_on_sqlite_holds_the_queue_until_resumed,
    pause_on_postgres_holds_the_queue_until_resumed
);

/// `sync --all --plan --json` queues nothing and states the cost per provider: never-synced
/// artists are first syncs everywhere, the calls follow the measured costs, a provider without
/// a daily quota says so, and a quota too small for the catalog puts the rest on later days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_states_the_cost_and_queues_nothing() {
    let fake = fake_scaled(6, 1, None).await;
    let (dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let run = |extra: &[&str]| {
        let out = syncdeck_command(&fake, &common::url_text(&url), dir.path())
            .args(["sync", "--all", "--plan", "--json"])
            .args(extra)
            .output()
            .expect("run sync --plan");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("one JSON object")
    };
    let plan = run(&[]);
    assert_eq!(plan["artists"], 6);
    assert_eq!(plan["artists_today"], 6);
    assert_eq!(plan["rest_done_by"], serde_json::Value::Null);
    let providers = plan["providers"].as_array().expect("providers");
    let names: Vec<&str> = providers
        .iter()
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ticketmaster", "Spotify", "setlist.fm"]);
    assert!(
        providers
            .iter()
            .all(|p| p["first_syncs"] == 6 && p["re_syncs"] == 0)
    );
    assert_eq!(providers[0]["calls_needed"], 14, "6 × 2.3, rounded up");
    assert_eq!(providers[0]["left_today"], 5000);
    assert_eq!(providers[1]["left_today"], serde_json::Value::Null);
    // Ten Ticketmaster calls a day: four artists today, the rest tomorrow.
    let tight = run(&["--tm-daily", "10"]);
    assert_eq!(tight["artists_today"], 4);
    assert!(tight["rest_done_by"].is_string(), "{tight}");
    assert_eq!(
        common::scalar(&store, "SELECT COUNT(*) FROM syncdeck_runs").await,
        0,
        "a plan queues nothing"
    );
    fake.shutdown().await;
}

/// Bulk work leaves the reserved share of a daily quota to manual syncs: with half of 40
/// Ticketmaster calls reserved, the bulk runs wait once 20 are left, and a manual sync of an
/// artist queued behind them still goes through before the quota resets.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_work_leaves_the_reserved_share_to_manual_syncs() {
    let mut config = FakeConfig {
        artists: 24,
        ..FakeConfig::default()
    }
    .with_limits_scaled(20);
    config.tm_daily = 40;
    config.quota_day = Duration::from_secs(120);
    let fake = fake::start(config).await.expect("the fake starts");
    let (_dir, url) = common::sqlite_url();
    let store: Store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let mut settings = common::engine::client_settings(20);
    settings.ticketmaster.manual_reserve_percent = 50;
    let clients = syncdeck::engine::Clients::from_config(
        &common::engine::config_for(&fake, &url),
        &store,
        &settings,
    );
    let engine = Engine::new(store.clone(), clients, common::engine::engine_settings(4));
    let mut events = engine.subscribe();
    engine.start().await.expect("engine starts");
    let artists = store.all_artists().await.expect("artists");
    let (manual, bulk) = artists.split_last().expect("artists");
    let bulk: Vec<(String, String)> = bulk
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    engine
        .enqueue(&bulk, RequestKind::Bulk)
        .await
        .expect("enqueue bulk");
    // Wait until bulk work stops at the reserve.
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Ok(EngineEvent::Waiting { .. }) = events.recv().await {
                break;
            }
        }
    })
    .await
    .expect("a bulk run waits at the reserve");
    // Bulk work spent the unreserved half and not one call of the reserve.
    let bulk_calls = fake.stats().ticketmaster.requests;
    assert!(
        (15..=20).contains(&bulk_calls),
        "bulk work made {bulk_calls} of the 40 calls; it may use 20"
    );
    let manual_run = engine
        .enqueue(
            &[(manual.id.clone(), manual.name.clone())],
            RequestKind::Manual,
        )
        .await
        .expect("enqueue the manual sync");
    let runs = tokio::time::timeout(
        Duration::from_secs(60),
        engine.wait_for(&[manual_run[0].run_id.clone()]),
    )
    .await
    .expect("the manual sync does not wait for the reset")
    .expect("runs read");
    assert_eq!(runs[0].status, RunStatus::Succeeded, "{:?}", runs[0]);
    let waiting = store
        .waiting_runs(chrono::Utc::now())
        .await
        .expect("waiting runs");
    assert!(!waiting.is_empty(), "bulk runs still wait for the reset");
    assert_eq!(fake.stats().ticketmaster.rate_limited, 0);
    engine.shutdown().await;
    fake.shutdown().await;
}
