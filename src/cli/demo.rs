//! `syncdeck demo`: the real engine against the in-process fake providers on a fresh embedded
//! SQLite seeded with the demo catalog; no keys needed. The fake injects a few faults, so a
//! newcomer sees retries and failures as well as successes.

use std::time::Duration;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, eyre};

use super::{GlobalArgs, load_config};
use crate::catalog::{Catalog, DEMO_SEED};
use crate::config::{Config, DatabaseUrl, EnvSnapshot, Overrides};
use crate::engine::clients::ClientSettings;
use crate::engine::{Clients, Engine, EngineEvent, EngineSettings, RequestKind};
use crate::fake::{self, FakeConfig, FakeServer};
use crate::store::artist_sync::Selection;
use crate::store::{OpenMode, Store, migrate};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many demo artists.
    #[arg(long, default_value_t = 200)]
    pub artists: usize,
    /// Faults the fake providers inject (the `syncdeck fake --faults` grammar).
    #[arg(long, default_value = DEFAULT_FAULTS)]
    pub faults: String,
    /// How many times faster than the real APIs' limits the demo runs (1 = real limits).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub speed: u32,
    /// Seed and show the artists without syncing (with --headless).
    #[arg(long)]
    pub no_sync: bool,
    /// No console: sync everything and print one line per artist, then the status table.
    #[arg(long)]
    pub headless: bool,
    /// How many artists the console queues at start, so there is something to watch.
    #[arg(long, default_value_t = 40)]
    pub warm_up: usize,
}

/// A few of every kind, so retries and a failure or two show up.
/// A few random faults everywhere (retried away), and 5 % of setlist.fm's resources broken for
/// the first two minutes: a newcomer sees real failures within a minute, and `r` (retry failed)
/// succeeding once they heal.
pub const DEFAULT_FAULTS: &str = "5xx=0.02,429=0.01,malformed=0.003,setlistfm.broken=0.05:2m";

/// The demo's fake: the real limits times `speed`.
pub async fn start_fake(artists: usize, faults: &str, speed: u32) -> Result<FakeServer> {
    let faults = faults
        .parse()
        .map_err(|e| eyre!("--faults is invalid: {e}"))?;
    fake::start(
        FakeConfig {
            artists,
            faults,
            ..FakeConfig::default()
        }
        .with_limits_scaled(speed),
    )
    .await
    .wrap_err("cannot start the fake providers")
}

/// Clients paced at the real limits times `speed` (matching the demo's fake).
pub fn client_settings(speed: u32) -> ClientSettings {
    ClientSettings::scaled(speed)
}

/// A configuration pointing at the fake and the demo database (never the user's settings).
pub fn demo_config(fake: &FakeServer, path: &std::path::Path, base: &Config) -> Result<Config> {
    let url = format!("sqlite://{}", path.display());
    let data_dir = base.data_dir.display().to_string();
    let env = fake.env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("DATABASE_URL", &url));
    pairs.push(("SYNCDECK_DATA_DIR", &data_dir));
    Config::from_snapshot(EnvSnapshot::from_pairs(pairs), &Overrides::default())
        .wrap_err("cannot configure the demo")
}

pub async fn run(global: &GlobalArgs, args: DemoArgs) -> Result<i32> {
    let config = load_config(global)?;
    // Always a fresh file of its own, never the configured database.
    let dir = config.data_dir.join("demo");
    std::fs::create_dir_all(&dir)
        .wrap_err_with(|| format!("cannot create the demo directory {}", dir.display()))?;
    let path = dir.join(format!("demo-{}.db", std::process::id()));
    remove_database_files(&path);
    let url = DatabaseUrl::Sqlite {
        path: path.clone(),
        memory: false,
    };
    let store = Store::open(&url, OpenMode::Create)
        .await
        .wrap_err("cannot create the demo database")?;
    migrate::migrate(&store)
        .await
        .wrap_err("cannot migrate the demo database")?;
    let catalog = Catalog::new(DEMO_SEED, args.artists.max(1));
    let seeded = store
        .insert_catalog_artists(catalog.artists())
        .await
        .wrap_err("cannot seed the demo database")?;
    eprintln!(
        "demo: {} artists in a fresh SQLite database ({})",
        seeded.inserted,
        path.display()
    );
    if !args.headless {
        let result = console(&store, &path, &config, &args, global.no_color).await;
        store.close().await;
        remove_database_files(&path);
        return result;
    }
    let result = if args.no_sync {
        Ok(0)
    } else {
        sync_all(&store, &path, &config, &args).await
    };
    let artists = store
        .all_artists()
        .await
        .wrap_err("cannot read the demo artists")?;
    println!(
        "{}",
        super::status::render_text(&artists, &store.describe(), chrono::Utc::now())
    );
    store.close().await;
    remove_database_files(&path);
    result
}

/// The in-process fake, a configuration pointing at it, and an engine over the demo database.
async fn demo_engine(
    store: &Store,
    path: &std::path::Path,
    base: &Config,
    args: &DemoArgs,
) -> Result<(FakeServer, Config, Engine)> {
    let fake = start_fake(args.artists.max(1), &args.faults, args.speed).await?;
    let config = demo_config(&fake, path, base)?;
    let clients = Clients::from_config(&config, store, &client_settings(args.speed));
    let engine = Engine::new(
        store.clone(),
        clients,
        EngineSettings {
            concurrency: 8,
            ..EngineSettings::default()
        },
    );
    Ok((fake, config, engine))
}

/// The console over the demo database and the in-process fake.
async fn console(
    store: &Store,
    path: &std::path::Path,
    base: &Config,
    args: &DemoArgs,
    no_color: bool,
) -> Result<i32> {
    let (fake, config, engine) = demo_engine(store, path, base, args).await?;
    engine
        .start()
        .await
        .wrap_err("cannot start the sync engine")?;
    let mut refs = store.artist_refs(Selection::All).await?;
    refs.truncate(args.warm_up);
    engine.enqueue(&refs, RequestKind::Bulk).await?;
    let settings = crate::tui::settings::load(
        crate::tui::settings::default_path().as_deref(),
        no_color || base.no_color,
    );
    let mut notices = settings.problems.clone();
    let scheduler = super::serve::default_scheduler_settings(&mut notices);
    notices.push(format!(
        "demo: fake providers with faults ({}); {} artists syncing · s syncs one · S all shown · ? help",
        args.faults,
        refs.len()
    ));
    let result = crate::tui::run(
        engine,
        crate::tui::TuiOptions {
            theme: settings.theme,
            keys: settings.keys,
            notices,
            config,
            mouse: settings.mouse,
            clients: client_settings(args.speed),
            scheduler,
        },
    )
    .await;
    fake.shutdown().await;
    result
}

async fn sync_all(
    store: &Store,
    path: &std::path::Path,
    base: &Config,
    args: &DemoArgs,
) -> Result<i32> {
    let (fake, _config, engine) = demo_engine(store, path, base, args).await?;
    let mut events = engine.subscribe();
    engine
        .start()
        .await
        .wrap_err("cannot start the sync engine")?;
    let queued = engine
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await?;
    eprintln!(
        "demo: syncing {} artists against the built-in fake providers (faults: {}); Ctrl-C stops",
        queued.len(),
        args.faults
    );
    let ids: Vec<String> = queued.iter().map(|q| q.run_id.clone()).collect();
    let wait = engine.wait_for(&ids);
    tokio::pin!(wait);
    let mut done = 0usize;
    let outcome = loop {
        tokio::select! {
            r = &mut wait => break Some(Ok(r)),
            signal = crate::shutdown::stopped() => break Some(Err(signal)),
            ev = events.recv() => match ev {
                Ok(EngineEvent::Finished { artist_name, status, error, .. }) => {
                    done += 1;
                    let name = crate::text::truncate(&crate::text::sanitize(&artist_name), 40);
                    match error {
                        Some(e) => eprintln!("[{done}/{}] {name}: {} ({})", queued.len(), status.as_str(), crate::text::truncate(&crate::text::sanitize(&e), 160)),
                        None => eprintln!("[{done}/{}] {name}: {}", queued.len(), status.as_str()),
                    }
                }
                Ok(EngineEvent::Retrying { reason, wait, .. }) => {
                    eprintln!("  retrying in {:.1} s: {}", wait.as_secs_f64(), crate::text::truncate(&crate::text::sanitize(&reason), 160));
                }
                _ => {}
            },
            _ = tokio::time::sleep(Duration::from_secs(3600)) => break None,
        }
    };
    engine.shutdown().await;
    fake.shutdown().await;
    match outcome {
        Some(Ok(runs)) => {
            let runs = runs?;
            let ok = runs
                .iter()
                .filter(|r| r.status == crate::store::runs::RunStatus::Succeeded)
                .count();
            eprintln!(
                "demo: {ok} of {} artists synced fully; the rest show why in LAST ERROR",
                runs.len()
            );
            Ok(0)
        }
        Some(Err(signal)) => {
            eprintln!(
                "demo: stopped on {}; running syncs went back to the queue",
                signal.name()
            );
            Ok(signal.exit_code())
        }
        None => {
            eprintln!("demo: stopped after an hour; running syncs went back to the queue");
            Ok(1)
        }
    }
}

/// Removes a SQLite file and its WAL companions.
fn remove_database_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
