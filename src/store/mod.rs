//! The store: one API over SQLite (embedded default) and Postgres (Supabase or any other).
//!
//! Layer 2 of the design. Every write is an upsert on a natural key, so reruns converge.

pub mod artist_import;
pub mod artist_sync;
pub mod artists;
pub mod budgets;
pub mod dialect;
pub mod doctor;
mod error;
pub mod incremental;
pub mod inspect;
pub mod migrate;
pub mod queue_state;
pub mod runs;
pub mod scheduler;
pub mod seed;
pub mod sync_status;
pub mod time;
pub mod upsert;
pub mod upsert_batch;

pub use dialect::Backend;
pub use error::{DbFault, StoreError, classify_sqlx, describe_sqlx};

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::config::DatabaseUrl;

/// A connection pool on one of the two backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool `$db` holds; `$b` is bound to its [`Backend`].
/// The body is type-checked once per backend, so one query text serves both.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, $p:ident, $b:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($p) => {
                #[allow(unused_variables)]
                let $b = $crate::store::Backend::Sqlite;
                $body
            }
            $crate::store::Db::Postgres($p) => {
                #[allow(unused_variables)]
                let $b = $crate::store::Backend::Postgres;
                $body
            }
        }
    };
}

/// Like [`with_pool!`] for an open transaction: `$c` is the transaction's connection.
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, $c:ident, $b:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $c = &mut **t;
                #[allow(unused_variables)]
                let $b = $crate::store::Backend::Sqlite;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $c = &mut **t;
                #[allow(unused_variables)]
                let $b = $crate::store::Backend::Postgres;
                $body
            }
        }
    };
}

/// An open transaction on either backend. Upserts take one, so a caller can make one part of a
/// sync all-or-nothing.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
        .map_err(|e| StoreError::query("committing a transaction", e))
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
        }
        .map_err(|e| StoreError::query("rolling back a transaction", e))
    }

    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }
}

/// The pool's check on every SQLite connection handed back. A COMMIT or ROLLBACK that fails
/// (a full disk, an I/O error) can leave sqlx counting a transaction that SQLite already
/// rolled back by itself: the ROLLBACK sqlx queues when the `Transaction` drops then fails
/// too, and the connection would come back from the pool refusing every `BEGIN IMMEDIATE`
/// ("attempted to call begin_with at non-zero transaction depth"). Such a connection is
/// closed instead (closing rolls back whatever may still be open); the pool opens a new one.
/// Postgres needs no such check: sqlx lowers its count when it queues the rollback, and a
/// broken connection fails the pool's own ping.
async fn release_only_outside_transactions(
    conn: &mut sqlx::SqliteConnection,
) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    // Commands run in order: once the ping answers, a rollback queued by a dropped
    // transaction has run, and the count says whether it worked.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!(
            "a SQLite connection came back to the pool still counting an open transaction \
             (a commit or rollback failed); closing it"
        );
        return Ok(false);
    }
    Ok(true)
}

/// How to open the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the SQLite file (and its directory) when missing: `migrate`, `seed`, `demo`.
    Create,
    /// Open only what exists: `status`, `env check`, `doctor` never create a database.
    Existing,
}

/// Test hooks: never set in normal use, they make the database fail on purpose so the tests
/// can check what syncdeck does then. Read from the environment by [`Store::open`].
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    /// TEST HOOK (`SYNCDECK_TEST_SQLITE_MAX_PAGES`): `PRAGMA max_page_count` on every SQLite
    /// connection, so a write that would grow the file past that many pages fails with
    /// `SQLITE_FULL` ("database or disk is full"), exactly as on a full disk.
    pub sqlite_max_pages: Option<u64>,
}

impl TestHooks {
    pub const SQLITE_MAX_PAGES: &'static str = "SYNCDECK_TEST_SQLITE_MAX_PAGES";

    pub fn from_env() -> TestHooks {
        TestHooks {
            sqlite_max_pages: std::env::var(Self::SQLITE_MAX_PAGES)
                .ok()
                .and_then(|v| v.trim().parse().ok()),
        }
    }
}

/// The store: a pool plus where it points, for display.
#[derive(Clone, Debug)]
pub struct Store {
    pub db: Db,
    location: String,
}

impl Store {
    /// Opens the database. SQLite gets WAL, `synchronous=NORMAL`, a busy timeout and foreign keys
    /// on every connection (apalis's own setup, which turns `synchronous` off, is never called).
    pub async fn open(url: &DatabaseUrl, mode: OpenMode) -> Result<Self, StoreError> {
        Self::open_with(url, mode, &TestHooks::from_env()).await
    }

    /// [`Store::open`] with explicit [`TestHooks`] (the tests' way in; `open` reads them from
    /// the environment).
    #[doc(hidden)]
    pub async fn open_with(
        url: &DatabaseUrl,
        mode: OpenMode,
        hooks: &TestHooks,
    ) -> Result<Self, StoreError> {
        match url {
            DatabaseUrl::Sqlite { path, memory } => {
                let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
                if let (false, OpenMode::Create, Some(dir)) = (*memory, mode, dir) {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::SqliteOpen {
                        path: path.clone(),
                        reason: format!("cannot create its directory {}: {e}", dir.display()),
                    })?;
                }
                if !memory && mode == OpenMode::Existing && !path.exists() {
                    return Err(StoreError::SqliteOpen {
                        path: path.clone(),
                        reason: "the file does not exist; run `syncdeck migrate` to create it (or check DATABASE_URL)".into(),
                    });
                }
                let options = if *memory {
                    SqliteConnectOptions::from_str("sqlite::memory:")
                        .map_err(|e| StoreError::Invalid(e.to_string()))?
                } else {
                    SqliteConnectOptions::new()
                        .filename(path)
                        .create_if_missing(mode == OpenMode::Create)
                }
                .journal_mode(if *memory {
                    SqliteJournalMode::Memory
                } else {
                    SqliteJournalMode::Wal
                })
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
                let options = match hooks.sqlite_max_pages {
                    Some(pages) => {
                        tracing::warn!("TEST HOOK: SQLite max_page_count = {pages}");
                        options.pragma("max_page_count", pages.to_string())
                    }
                    None => options,
                };
                let pool = SqlitePoolOptions::new()
                    // An in-memory database exists per connection: keep exactly one.
                    .max_connections(if *memory { 1 } else { 8 })
                    .min_connections(if *memory { 1 } else { 0 })
                    .idle_timeout(if *memory {
                        None
                    } else {
                        Some(Duration::from_secs(300))
                    })
                    .acquire_timeout(Duration::from_secs(15))
                    .after_release(|conn, _| Box::pin(release_only_outside_transactions(conn)))
                    .connect_with(options)
                    .await
                    .map_err(|e| StoreError::SqliteOpen {
                        path: path.clone(),
                        reason: describe_sqlx(&e),
                    })?;
                Ok(Store {
                    db: Db::Sqlite(pool),
                    location: path.display().to_string(),
                })
            }
            DatabaseUrl::Postgres { url: raw } => {
                let location = url.display_location();
                let options = PgConnectOptions::from_str(raw)
                    .map_err(|e| StoreError::PostgresConnect {
                        location: location.clone(),
                        reason: format!("bad URL: {}", describe_sqlx(&e)),
                    })?
                    .application_name("syncdeck");
                let fail = |reason: String| StoreError::PostgresConnect {
                    location: location.clone(),
                    reason,
                };
                // One direct connection first: a pool retries until its timeout and then reports
                // only "timed out", hiding the real cause (refused, bad password, no database).
                use sqlx::Connection;
                let probe = tokio::time::timeout(
                    Duration::from_secs(10),
                    sqlx::PgConnection::connect_with(&options),
                )
                .await
                .map_err(|_| {
                    fail("no answer within 10 s: check the host, port and firewall".into())
                })?
                .map_err(|e| fail(describe_sqlx(&e)))?;
                let _ = probe.close().await;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(|e| fail(describe_sqlx(&e)))?;
                Ok(Store {
                    db: Db::Postgres(pool),
                    location,
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// What an operator should do about `fault` on this database, naming where it lives.
    pub fn fault_advice(&self, fault: DbFault) -> String {
        let at = &self.location;
        match (self.backend(), fault) {
            (Backend::Sqlite, DbFault::DiskFull) => {
                let dir = std::path::Path::new(at)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| ".".into());
                format!(
                    "free disk space at {dir} (the file system holding {at}; the file and its -wal journal need room to grow)"
                )
            }
            (Backend::Sqlite, DbFault::Io) => {
                format!(
                    "check the disk holding {at}: its free space, its health and that it is still mounted"
                )
            }
            (Backend::Sqlite, DbFault::ConnectionLost) => {
                format!("check that {at} is still reachable and not held by another process")
            }
            (Backend::Postgres, DbFault::DiskFull) => {
                format!("free disk space on the Postgres server at {at}")
            }
            (Backend::Postgres, DbFault::Io) => {
                format!("check the disk of the Postgres server at {at}")
            }
            (Backend::Postgres, DbFault::ConnectionLost) => {
                format!("check that Postgres at {at} is up and reachable from this machine")
            }
        }
    }

    /// Opens a connection of its own (not one of the pool's) and runs `SELECT 1` within
    /// `within`: whether the database answers at all, whatever state the pool is in.
    pub async fn probe(&self, within: Duration) -> Result<(), StoreError> {
        use sqlx::Connection;
        let probe = async {
            match &self.db {
                Db::Sqlite(p) => {
                    let mut c = sqlx::SqliteConnection::connect_with(&p.connect_options()).await?;
                    sqlx::query("SELECT 1").execute(&mut c).await?;
                    c.close().await
                }
                Db::Postgres(p) => {
                    let mut c = sqlx::PgConnection::connect_with(&p.connect_options()).await?;
                    sqlx::query("SELECT 1").execute(&mut c).await?;
                    c.close().await
                }
            }
        };
        match tokio::time::timeout(within, probe).await {
            Ok(done) => done.map_err(|e| StoreError::query("probing the database", e)),
            Err(_) => Err(StoreError::Unusable {
                fault: DbFault::ConnectionLost,
                context: "probing the database".into(),
                reason: format!("no answer within {} s", within.as_secs_f64()),
            }),
        }
    }

    /// `sqlite /path/to/file.db` or `postgres host:5432/db`: never a password.
    pub fn describe(&self) -> String {
        format!("{} {}", self.backend().name(), self.location)
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        match &self.db {
            // IMMEDIATE takes the write lock up front, so a read-then-write never fails to upgrade.
            Db::Sqlite(p) => p.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite),
            Db::Postgres(p) => p.begin().await.map(Tx::Postgres),
        }
        .map_err(|e| StoreError::query("starting a transaction", e))
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }

    /// Fails with [`StoreError::NotMigrated`] unless syncdeck's and the app's tables exist.
    pub async fn require_migrated(&self) -> Result<(), StoreError> {
        let tables = inspect::present_tables(self).await?;
        let missing: Vec<&str> = inspect::REQUIRED_TABLES
            .iter()
            .copied()
            .filter(|t| !tables.contains(*t))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(StoreError::NotMigrated {
                missing: missing.join(", "),
            })
        }
    }
}
