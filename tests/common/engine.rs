//! An engine wired to an in-process fake, for the engine tests and benchmarks.

use std::process::Command;
use std::time::Duration;

use syncdeck::catalog::{Catalog, DEMO_SEED};
use syncdeck::config::{Config, DatabaseUrl, EnvSnapshot, Overrides};
use syncdeck::engine::clients::ClientSettings;
use syncdeck::engine::{Clients, Engine, EngineSettings};
use syncdeck::fake::{self, FakeConfig, FakeServer};
use syncdeck::providers::http::HttpSettings;
use syncdeck::store::Store;

/// The fake with every limit `factor` times the real one (tests that check correctness, not
/// pacing, need not wait for the real 5 req/s).
pub async fn fake_scaled(artists: usize, factor: u32, faults: Option<&str>) -> FakeServer {
    fake::start(
        FakeConfig {
            artists,
            faults: faults
                .map(|f| f.parse().expect("fault spec"))
                .unwrap_or_default(),
            ..FakeConfig::default()
        }
        .with_limits_scaled(factor),
    )
    .await
    .expect("the fake starts")
}

/// A fake served by its own runtime on its own thread, as a provider is its own machine: the
/// engine's CPU work (parsing, mapping) then cannot hold up the fake's clock between a request
/// leaving and the fake counting it, which in-process would look like network jitter.
pub struct FakeOnItsOwn {
    pub fake: FakeServer,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeOnItsOwn {
    pub fn start(config: FakeConfig) -> FakeOnItsOwn {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("the fake's runtime");
        let handle = runtime.handle().clone();
        // Started from a plain thread: an async caller may not block on another runtime.
        let fake = std::thread::spawn(move || handle.block_on(fake::start(config)))
            .join()
            .expect("the fake's start thread")
            .expect("the fake starts");
        FakeOnItsOwn {
            fake,
            runtime: Some(runtime),
        }
    }
}

impl Drop for FakeOnItsOwn {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's async context panics; this does not.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A configuration that points every provider at the fake.
pub fn config_for(fake: &FakeServer, db: &DatabaseUrl) -> Config {
    let env = fake.env();
    let url = match db {
        DatabaseUrl::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres { url } => url.clone(),
    };
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("DATABASE_URL", &url));
    Config::from_snapshot(EnvSnapshot::from_pairs(pairs), &Overrides::default())
        .expect("config for the fake")
}

/// Client settings `factor` times faster than the real limits, with quick HTTP retries.
pub fn client_settings(factor: u32) -> ClientSettings {
    let quick = |s: HttpSettings| HttpSettings {
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        default_retry_after: Duration::from_millis(300),
        ..s
    };
    let s = ClientSettings::scaled(factor);
    ClientSettings {
        ticketmaster: quick(s.ticketmaster),
        spotify: quick(s.spotify),
        setlistfm: quick(s.setlistfm),
        shared_budgets: true,
    }
}

/// Engine settings with short heartbeats and backoffs.
pub fn engine_settings(concurrency: usize) -> EngineSettings {
    EngineSettings {
        concurrency,
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(300),
        heartbeat: Duration::from_secs(1),
        missed_heartbeats: 3,
        poll_interval: Duration::from_millis(100),
        watch_interval: Duration::from_millis(100),
        ..EngineSettings::default()
    }
}

/// Seeds the catalog's artists and returns an engine over the store (not started).
pub async fn engine_for(
    fake: &FakeServer,
    store: &Store,
    url: &DatabaseUrl,
    factor: u32,
    concurrency: usize,
) -> Engine {
    let config = config_for(fake, url);
    let clients = Clients::from_config(&config, store, &client_settings(factor));
    Engine::new(store.clone(), clients, engine_settings(concurrency))
}

/// A started engine with `concurrency` slots, `clients` limits and default timings, on a fresh
/// SQLite file seeded with the fake's catalog: the benches' set-up. Keep the directory alive
/// while the engine runs.
pub async fn started_engine_on_fresh_sqlite(
    fake: &FakeServer,
    clients: &ClientSettings,
    concurrency: usize,
) -> (tempfile::TempDir, Store, Engine) {
    let (dir, url) = crate::common::sqlite_url();
    let store = crate::common::migrated_store(&url).await;
    seed(&store, fake).await;
    let config = config_for(fake, &url);
    let engine = Engine::new(
        store.clone(),
        Clients::from_config(&config, &store, clients),
        EngineSettings {
            concurrency,
            ..EngineSettings::default()
        },
    );
    engine.start().await.expect("the engine starts");
    (dir, store, engine)
}

/// The flags that pace a `syncdeck` child at [`fake_scaled`]`(…, 10, …)`'s limits.
pub const PACED_AT_SCALE_10: [&str; 6] = [
    "--tm-rate",
    "50",
    "--setlistfm-rate",
    "10",
    "--spotify-rate",
    "100",
];

/// Queues every artist as bulk work and waits (at most `limit`) for every run to succeed;
/// returns the runs. Fails naming the artists whose runs did not.
pub async fn sync_all_succeeded(
    engine: &Engine,
    limit: Duration,
) -> Vec<syncdeck::store::runs::RunRow> {
    let queued = engine
        .enqueue_selection(
            syncdeck::store::artist_sync::Selection::All,
            syncdeck::engine::RequestKind::Bulk,
        )
        .await
        .expect("enqueue every artist");
    let ids: Vec<String> = queued.iter().map(|q| q.run_id.clone()).collect();
    let runs = tokio::time::timeout(limit, engine.wait_for(&ids))
        .await
        .unwrap_or_else(|_| panic!("the runs did not end within {limit:?}"))
        .expect("read the runs");
    let failed: Vec<_> = runs
        .iter()
        .filter(|r| r.status != syncdeck::store::runs::RunStatus::Succeeded)
        .map(|r| (r.artist_name.clone(), r.error.clone()))
        .collect();
    assert!(failed.is_empty(), "runs failed: {failed:?}");
    runs
}

pub async fn seed(store: &Store, fake: &FakeServer) {
    store
        .insert_catalog_artists(fake.catalog().artists())
        .await
        .expect("seed");
}

pub fn catalog(artists: usize) -> Catalog {
    Catalog::new(DEMO_SEED, artists)
}

/// `syncdeck sync EXTRA…` as a child process on the SQLite database `url`, against `fake`, in
/// `dir` (its HOME and data directory, so no `.env` of the checkout is read).
pub fn sync_command(
    fake: &FakeServer,
    url: &DatabaseUrl,
    dir: &std::path::Path,
    extra: &[&str],
) -> Command {
    let DatabaseUrl::Sqlite { path, .. } = url else {
        panic!("SQLite only")
    };
    sync_command_on(fake, &format!("sqlite://{}", path.display()), dir, 1, extra)
}

/// [`sync_command`] on any database URL, beating every `heartbeat` seconds (a lost database
/// connection is ridden out for three beats). The child paces itself at the scaled fake's limits.
pub fn sync_command_on(
    fake: &FakeServer,
    database_url: &str,
    dir: &std::path::Path,
    heartbeat: u32,
    extra: &[&str],
) -> Command {
    let mut cmd = syncdeck_command(fake, database_url, dir);
    cmd.arg("sync")
        .args(extra)
        .args(PACED_AT_SCALE_10)
        .args(["--heartbeat", &heartbeat.to_string()]);
    cmd
}

/// Every artist's three parts are `success`.
pub async fn assert_every_part_succeeded(store: &Store) {
    for a in store.all_artists().await.expect("read the artists") {
        assert_eq!(
            a.sync_status.to_json().matches("success").count(),
            3,
            "{}: {} {:?}",
            a.name,
            a.sync_status.to_json(),
            a.last_sync_error
        );
    }
}

/// `syncdeck` (no arguments yet) on the database at `database_url` (any backend), against
/// `fake`, in `dir` (its HOME and data directory, so no `.env` of the checkout is read).
pub fn syncdeck_command(fake: &FakeServer, database_url: &str, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_syncdeck"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("SYNCDECK_DATA_DIR", dir)
        .env("DATABASE_URL", database_url)
        .current_dir(dir);
    for (k, v) in fake.env() {
        cmd.env(k, v);
    }
    cmd
}
