//! `syncdeck migrate`: syncdeck's migrations and apalis's, side by side.
//!
//! syncdeck records its migrations in `syncdeck_migrations` (never the shared default
//! `_sqlx_migrations`, which apalis uses on SQLite), and both migrators ignore versions they do not
//! know, so each tolerates the other. apalis's `setup()` is never called: on SQLite it would set
//! `synchronous = OFF` on a pooled connection.

use sqlx::migrate::Migrator;

use super::{Db, Store, StoreError};

/// What a migrate run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MigrateReport {
    pub syncdeck_applied: Vec<String>,
    pub apalis_applied: usize,
    /// True when the app's tables existed before syncdeck's first migration ran.
    pub existing_app_database: bool,
}

const SYNCDECK_TABLE: &str = "syncdeck_migrations";

fn syncdeck_migrator(db: &Db) -> Migrator {
    let mut m = match db {
        Db::Sqlite(_) => sqlx::migrate!("migrations/sqlite"),
        Db::Postgres(_) => sqlx::migrate!("migrations/postgres"),
    };
    m.dangerous_set_table_name(SYNCDECK_TABLE);
    m.set_ignore_missing(true);
    m
}

fn apalis_migrator(db: &Db) -> Migrator {
    let mut m = match db {
        Db::Sqlite(_) => apalis_sqlite::SqliteStorage::migrations(),
        Db::Postgres(_) => apalis_postgres::PostgresStorage::migrations(),
    };
    m.set_ignore_missing(true);
    m
}

/// Runs both migrators. Running it again is a no-op.
pub async fn migrate(store: &Store) -> Result<MigrateReport, StoreError> {
    let existing_before = super::inspect::present_tables(store).await?;
    let existing_app_database =
        existing_before.contains("artists") && !existing_before.contains("syncdeck_runs");
    let applied_before = applied_versions(store).await?;
    let apalis_before = apalis_count_if_present(&existing_before, store).await?;

    let syncdeck = syncdeck_migrator(&store.db);
    let apalis = apalis_migrator(&store.db);
    let backend = store.backend().name();
    let fail = |who: &str, e: sqlx::migrate::MigrateError| StoreError::Migration {
        backend,
        reason: format!("{who}: {}", describe_migrate(&e)),
    };
    crate::with_pool!(&store.db, pool, _b => {
        syncdeck.run(pool).await.map_err(|e| fail("syncdeck migrations", e))?;
        apalis.run(pool).await.map_err(|e| fail("apalis migrations", e))?;
    });

    let applied_after = applied_versions(store).await?;
    let syncdeck_applied = syncdeck
        .iter()
        .filter(|m| applied_after.contains(&m.version) && !applied_before.contains(&m.version))
        .map(|m| format!("{} {}", m.version, m.description))
        .collect();
    let apalis_applied = apalis_applied_count(store)
        .await?
        .saturating_sub(apalis_before);
    Ok(MigrateReport {
        syncdeck_applied,
        apalis_applied,
        existing_app_database,
    })
}

async fn applied_versions(store: &Store) -> Result<Vec<i64>, StoreError> {
    let tables = super::inspect::present_tables(store).await?;
    if !tables.contains(SYNCDECK_TABLE) {
        return Ok(Vec::new());
    }
    let q = crate::sql!("SELECT version FROM syncdeck_migrations WHERE success ORDER BY version");
    crate::with_pool!(&store.db, pool, b => {
        sqlx::query_scalar::<_, i64>(q.text(b)).fetch_all(pool).await
    })
    .map_err(|e| StoreError::query("reading syncdeck_migrations", e))
}

async fn apalis_applied_count(store: &Store) -> Result<usize, StoreError> {
    let n: i64 = match &store.db {
        Db::Sqlite(p) => {
            sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
                .fetch_one(p)
                .await
        }
        Db::Postgres(p) => {
            sqlx::query_scalar("SELECT count(*) FROM apalis._sqlx_migrations")
                .fetch_one(p)
                .await
        }
    }
    .map_err(|e| StoreError::query("reading apalis's migrations table", e))?;
    Ok(n as usize)
}

async fn apalis_count_if_present(
    tables: &std::collections::BTreeSet<String>,
    store: &Store,
) -> Result<usize, StoreError> {
    let present = match &store.db {
        Db::Sqlite(_) => tables.contains("_sqlx_migrations"),
        Db::Postgres(_) => tables.contains("apalis._sqlx_migrations"),
    };
    if present {
        apalis_applied_count(store).await
    } else {
        Ok(0)
    }
}

fn describe_migrate(e: &sqlx::migrate::MigrateError) -> String {
    match e {
        sqlx::migrate::MigrateError::Execute(err) => super::describe_sqlx(err),
        sqlx::migrate::MigrateError::ExecuteMigration(err, v) => {
            format!("migration {v}: {}", super::describe_sqlx(err))
        }
        other => other.to_string(),
    }
}
