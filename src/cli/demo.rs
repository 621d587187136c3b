//! `syncdeck demo`: a fresh embedded SQLite with the demo catalog, no keys needed.
//!
//! Until the sync engine and console exist, the demo runs the seeded headless flow: a new
//! database file, migrated, seeded, and its status table printed.

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};

use super::{GlobalArgs, load_config};
use crate::catalog::{Catalog, DEMO_SEED};
use crate::config::DatabaseUrl;
use crate::store::{OpenMode, Store, migrate};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many demo artists.
    #[arg(long, default_value_t = 200)]
    pub artists: usize,
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
    let artists = store
        .all_artists()
        .await
        .wrap_err("cannot read the demo artists")?;
    println!(
        "{}",
        super::status::render_text(&artists, &store.describe(), chrono::Utc::now())
    );
    println!(
        "demo: {} artists seeded into a fresh SQLite database ({}); the sync engine and the console come with the next issues",
        seeded.inserted,
        path.display()
    );
    store.close().await;
    remove_database_files(&path);
    Ok(0)
}

/// Removes a SQLite file and its WAL companions.
fn remove_database_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
