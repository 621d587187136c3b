//! `syncdeck seed --demo [--artists N]`: artists from the deterministic demo catalog.

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, bail};

use super::{GlobalArgs, load_config, open_store};
use crate::catalog::{Catalog, DEMO_SEED, MAX_ARTISTS};
use crate::store::{OpenMode, StoreError, migrate};

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Insert artists from the demo catalog.
    #[arg(long)]
    pub demo: bool,
    /// How many demo artists.
    #[arg(long, default_value_t = 200)]
    pub artists: usize,
}

pub async fn run(global: &GlobalArgs, args: SeedArgs) -> Result<i32> {
    if !args.demo {
        bail!(
            "only demo seeding exists: run `syncdeck seed --demo [--artists N]` to insert artists from the built-in demo catalog"
        );
    }
    if args.artists == 0 || args.artists > MAX_ARTISTS {
        bail!(
            "--artists must be between 1 and {MAX_ARTISTS} (got {})",
            args.artists
        );
    }
    let config = load_config(global)?;
    let store = open_store(&config, OpenMode::Create).await?;
    // A fresh default database has no tables yet: create them, so `seed --demo` works alone.
    match store.require_migrated().await {
        Ok(()) => {}
        Err(StoreError::NotMigrated { .. }) => {
            migrate::migrate(&store)
                .await
                .wrap_err("the database had no syncdeck tables and migrating it failed")?;
            println!("migrated {}", store.describe());
        }
        Err(e) => return Err(e).wrap_err("cannot inspect the database"),
    }
    let catalog = Catalog::new(DEMO_SEED, args.artists);
    let report = store
        .insert_catalog_artists(catalog.artists())
        .await
        .wrap_err("seeding failed; nothing was inserted")?;
    println!(
        "seeded {} demo artists into {} ({} already present)",
        report.inserted,
        store.describe(),
        report.already_present
    );
    store.close().await;
    Ok(0)
}
