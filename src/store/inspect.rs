//! Reading the database's own description: tables, columns, unique keys, server version.

use std::collections::{BTreeMap, BTreeSet};

use super::{Db, Store, StoreError};

/// The app's tables syncdeck reads and writes.
pub const APP_TABLES: &[&str] = &[
    "artists",
    "venues",
    "shows",
    "songs",
    "setlists",
    "setlist_songs",
];
/// syncdeck's own tables.
pub const SYNCDECK_TABLES: &[&str] = &[
    "syncdeck_runs",
    "syncdeck_run_attempts",
    "syncdeck_api_budgets",
    "syncdeck_workers",
    "syncdeck_spotify_albums",
    "syncdeck_tm_id_checks",
    "syncdeck_queue_state",
];
/// What must exist before syncdeck can work: both of the above.
pub const REQUIRED_TABLES: &[&str] = &[
    "artists",
    "venues",
    "shows",
    "songs",
    "setlists",
    "setlist_songs",
    "syncdeck_runs",
    "syncdeck_run_attempts",
    "syncdeck_api_budgets",
    "syncdeck_workers",
    "syncdeck_spotify_albums",
    "syncdeck_tm_id_checks",
    "syncdeck_queue_state",
    "syncdeck_scheduler_lease",
    "syncdeck_schedule_rules",
];

/// Table names in the current schema (Postgres: the first schema of `search_path`, plus
/// `apalis.*` qualified), or in the SQLite main database.
pub async fn present_tables(store: &Store) -> Result<BTreeSet<String>, StoreError> {
    let names: Vec<String> = match &store.db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(p).await,
        Db::Postgres(p) => {
            sqlx::query_scalar(
                "SELECT CASE WHEN table_schema = 'apalis' THEN 'apalis.' || table_name ELSE table_name END::text \
                 FROM information_schema.tables WHERE table_schema = current_schema() OR table_schema = 'apalis'",
            )
            .fetch_all(p)
            .await
        }
    }
    .map_err(|e| StoreError::query("listing tables", e))?;
    Ok(names.into_iter().collect())
}

/// Column name → declared type, for one table (empty when the table is absent).
pub async fn columns(store: &Store, table: &str) -> Result<BTreeMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> = match &store.db {
        Db::Sqlite(p) => {
            sqlx::query_as("SELECT name, type FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(p)
                .await
        }
        Db::Postgres(p) => {
            sqlx::query_as(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(table)
            .fetch_all(p)
            .await
        }
    }
    .map_err(|e| StoreError::query(format!("reading the columns of {table}"), e))?;
    Ok(rows.into_iter().collect())
}

/// A unique key (constraint or unique index) on a table: its name and columns in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueKey {
    pub name: String,
    pub columns: Vec<String>,
    /// A partial unique index (has a WHERE clause): cannot serve as an ON CONFLICT target as-is.
    pub partial: bool,
}

/// Every unique key and unique index of a table, primary keys excluded.
pub async fn unique_keys(store: &Store, table: &str) -> Result<Vec<UniqueKey>, StoreError> {
    match &store.db {
        Db::Sqlite(p) => {
            let indexes: Vec<(String, i64, String, i64)> = sqlx::query_as(
                "SELECT name, \"unique\", origin, partial FROM pragma_index_list($1)",
            )
            .bind(table)
            .fetch_all(p)
            .await
            .map_err(|e| StoreError::query(format!("reading the indexes of {table}"), e))?;
            let mut keys = Vec::new();
            for (name, unique, origin, partial) in indexes {
                if unique == 0 || origin == "pk" {
                    continue;
                }
                let cols: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                        .bind(&name)
                        .fetch_all(p)
                        .await
                        .map_err(|e| StoreError::query(format!("reading index {name}"), e))?;
                keys.push(UniqueKey {
                    name,
                    columns: cols,
                    partial: partial != 0,
                });
            }
            Ok(keys)
        }
        Db::Postgres(p) => {
            // Expression columns (attnum 0) and invalid indexes (a failed concurrent build) can
            // never serve as an ON CONFLICT target, so such an index counts as partial.
            let rows: Vec<(String, Vec<String>, bool)> = sqlx::query_as(
                "SELECT i.relname::text, \
                        array_agg(COALESCE(a.attname::text, '(expression)') ORDER BY k.ord), \
                        (x.indpred IS NOT NULL OR x.indexprs IS NOT NULL OR NOT x.indisvalid) \
                 FROM pg_index x \
                 JOIN pg_class t ON t.oid = x.indrelid \
                 JOIN pg_class i ON i.oid = x.indexrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) \
                 LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0 \
                 WHERE n.nspname = current_schema() AND t.relname = $1 AND x.indisunique AND NOT x.indisprimary \
                 GROUP BY i.relname, x.indpred, x.indexprs, x.indisvalid",
            )
            .bind(table)
            .fetch_all(p)
            .await
            .map_err(|e| StoreError::query(format!("reading the unique keys of {table}"), e))?;
            Ok(rows
                .into_iter()
                .map(|(name, columns, partial)| UniqueKey {
                    name,
                    columns,
                    partial,
                })
                .collect())
        }
    }
}

/// `PostgreSQL 15.19 …` or `SQLite 3.46.0`.
pub async fn server_version(store: &Store) -> Result<String, StoreError> {
    match &store.db {
        Db::Sqlite(p) => {
            sqlx::query_scalar::<_, String>("SELECT 'SQLite ' || sqlite_version()")
                .fetch_one(p)
                .await
        }
        Db::Postgres(p) => {
            sqlx::query_scalar::<_, String>("SELECT version()")
                .fetch_one(p)
                .await
        }
    }
    .map_err(|e| StoreError::query("reading the server version", e))
}
