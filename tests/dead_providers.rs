//! Every provider unreachable (a port nothing listens on): the per-provider breakers open after
//! a few refused connections and the rest of a 200-artist sync fails at once, each artist's
//! error naming the host, nothing left `syncing`. Before the breaker this took about 15 s ×
//! 3 attempts per artist (72 of 200 in 900 s).

mod common;

use std::time::{Duration, Instant};

use common::engine::{fake_scaled, seed};
use syncdeck::config::{Config, EnvSnapshot, Overrides};
use syncdeck::engine::clients::ClientSettings;
use syncdeck::engine::{Clients, Engine, EngineSettings, RequestKind};
use syncdeck::store::artist_sync::Selection;
use syncdeck::store::runs::RunStatus;

/// A local port that refuses connections: bound, then released.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_artists_against_dead_providers_fail_fast_naming_the_host() {
    // The fake only lends its catalog and keys; every base URL points at the dead port.
    let fake = fake_scaled(200, 1, None).await;
    let (_dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let dead = refused_url();
    let host = dead.trim_start_matches("http://").to_string();
    let db = match &url {
        syncdeck::config::DatabaseUrl::Sqlite { path, .. } => {
            format!("sqlite://{}", path.display())
        }
        syncdeck::config::DatabaseUrl::Postgres { url } => url.clone(),
    };
    let mut pairs: Vec<(&str, String)> = fake
        .env()
        .into_iter()
        .map(|(k, v)| {
            if k.ends_with("_BASE_URL") {
                (k, dead.clone())
            } else {
                (k, v)
            }
        })
        .collect();
    pairs.push(("DATABASE_URL", db));
    let config = Config::from_snapshot(
        EnvSnapshot::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))),
        &Overrides::default(),
    )
    .expect("config");
    // Real client and engine settings: the backoffs an operator would get.
    let clients = Clients::from_config(&config, &store, &ClientSettings::default());
    let engine = Engine::new(store.clone(), clients, EngineSettings::default());
    engine.start().await.expect("start");
    let started = Instant::now();
    let queued = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .expect("enqueue");
    assert_eq!(queued.len(), 200);
    let ids: Vec<String> = queued.iter().map(|q| q.run_id.clone()).collect();
    let runs = tokio::time::timeout(Duration::from_secs(60), engine.wait_for(&ids))
        .await
        .expect("200 artists against dead providers finish within a minute")
        .expect("wait");
    eprintln!(
        "200 artists against dead providers: {:?}",
        started.elapsed()
    );
    assert!(runs.iter().all(|r| r.status == RunStatus::Failed));
    for a in store.all_artists().await.expect("artists") {
        assert!(!a.sync_status.to_json().contains("syncing"), "{}", a.name);
        let error = a.last_sync_error.unwrap_or_default();
        assert!(
            error.contains(&host),
            "{}: the error names the host: {error}",
            a.name
        );
    }
    engine.shutdown().await;
    fake.shutdown().await;
}
