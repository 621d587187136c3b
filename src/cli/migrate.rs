//! `syncdeck migrate`.

use color_eyre::eyre::{Result, WrapErr};

use super::{GlobalArgs, load_config, open_store};
use crate::store::{OpenMode, migrate};

pub async fn run(global: &GlobalArgs) -> Result<i32> {
    let config = load_config(global)?;
    let store = open_store(&config, OpenMode::Create).await?;
    let report = migrate::migrate(&store)
        .await
        .wrap_err("migrate failed; the database was left as it was before the failing step")?;
    println!("database: {}", store.describe());
    if report.existing_app_database {
        println!(
            "existing app database: its tables were left untouched; only syncdeck_ tables and the job queue were added"
        );
    }
    if report.syncdeck_applied.is_empty() && report.apalis_applied == 0 {
        println!("already up to date");
    } else {
        for m in &report.syncdeck_applied {
            println!("applied {m}");
        }
        if report.apalis_applied > 0 {
            println!(
                "applied {} job-queue (apalis) migrations",
                report.apalis_applied
            );
        }
    }
    println!("next: `syncdeck doctor` checks the schema for anything that would break a sync");
    store.close().await;
    Ok(0)
}
