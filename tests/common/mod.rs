//! Shared test helpers: a fresh Postgres database per test, a fresh SQLite file per test.
#![allow(dead_code)]

pub mod engine;
pub mod plan_fixture;
pub mod tui_keys;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use syncdeck::config::DatabaseUrl;
use syncdeck::store::sync_status::{PartStatus, Source, SyncStatus};
use syncdeck::store::{OpenMode, Store, migrate};

/// The benches' spread of sync states over demo catalog artists (one mix for every bench):
/// 45 % never synced, 25 % all success, 12 % a Spotify error, 8 % a setlist.fm error, 5 %
/// syncing, 5 % only Ticketmaster done.
pub struct BenchStatus {
    pub status: SyncStatus,
    pub error: Option<&'static str>,
    /// `None`: never synced.
    pub minutes_since_sync: Option<i64>,
}

impl BenchStatus {
    pub fn of(index: usize) -> BenchStatus {
        let h = index.wrapping_mul(0x9E37_79B9) % 100;
        let (status, error) = match h {
            0..=44 => (SyncStatus::default(), None),
            45..=69 => (SyncStatus::all(PartStatus::Success), None),
            70..=81 => {
                let mut s = SyncStatus::all(PartStatus::Success);
                s.set(Source::Spotify, PartStatus::Error);
                (s, Some("spotify: albums step: HTTP 403 Forbidden"))
            }
            82..=89 => {
                let mut s = SyncStatus::all(PartStatus::Success);
                s.set(Source::Setlistfm, PartStatus::Error);
                (s, Some("setlist.fm: setlists step: HTTP 429"))
            }
            90..=94 => (SyncStatus::all(PartStatus::Syncing), None),
            _ => {
                let mut s = SyncStatus::default();
                s.set(Source::Ticketmaster, PartStatus::Success);
                (s, None)
            }
        };
        BenchStatus {
            status,
            error,
            minutes_since_sync: (h >= 45).then_some((index % 40_000) as i64),
        }
    }
}

/// The server the Postgres tests use: `TEST_DATABASE_URL` (CI sets it), else the local default.
pub fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A fresh, empty Postgres database for one test, dropped when the guard drops.
/// Postgres tests are mandatory: an unreachable server fails the test loudly. Only an explicit
/// `SYNCDECK_SKIP_PG=1` skips them, and says so.
pub struct PgDatabase {
    pub url: String,
    name: String,
    admin: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn skip_pg() -> bool {
    if std::env::var("SYNCDECK_SKIP_PG").as_deref() == Ok("1")
        && std::env::var("CI").as_deref() != Ok("true")
    {
        eprintln!("SKIPPED: Postgres test skipped because SYNCDECK_SKIP_PG=1");
        return true;
    }
    false
}

impl PgDatabase {
    pub async fn create(tag: &str) -> PgDatabase {
        use sqlx::Connection;
        let admin = pg_admin_url();
        let name = format!(
            "sd_{}_{}_{}_{}",
            tag.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(20)
                .collect::<String>()
                .to_lowercase(),
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            rand::random::<u32>()
        );
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("Postgres tests need a server at {admin} (set TEST_DATABASE_URL, or SYNCDECK_SKIP_PG=1 to skip locally): {e}")
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        PgDatabase {
            url: url.to_string(),
            name,
            admin,
        }
    }

    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::Postgres {
            url: self.url.clone(),
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        block_on_own_runtime(async move {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
            }
        });
    }
}

/// Runs cleanup from a `Drop`, which cannot await: on a thread with its own runtime, waited for.
pub fn block_on_own_runtime(cleanup: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(cleanup);
    })
    .join();
}

/// A fresh SQLite file in a temp dir (kept alive by the returned guard).
pub fn sqlite_url() -> (tempfile::TempDir, DatabaseUrl) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("test.db");
    (
        dir,
        DatabaseUrl::Sqlite {
            path,
            memory: false,
        },
    )
}

/// `url` as a `DATABASE_URL` value, for a child `syncdeck` process.
pub fn url_text(url: &DatabaseUrl) -> String {
    match url {
        DatabaseUrl::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres { url } => url.clone(),
    }
}

/// Opens and migrates a store.
pub async fn migrated_store(url: &DatabaseUrl) -> Store {
    let store = Store::open(url, OpenMode::Create)
        .await
        .expect("open store");
    migrate::migrate(&store).await.expect("migrate");
    store
}

/// A field of /proc/self/status in KiB (`VmRSS`, `VmHWM`); `None` off Linux.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Two tests of `$scenario(url: DatabaseUrl)`: `$sqlite` on a fresh SQLite file, `$postgres` on
/// a fresh Postgres database (mandatory on CI, see [`skip_pg`]).
#[macro_export]
macro_rules! on_sqlite_and_postgres {
    ($scenario:ident, $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $sqlite() {
            let (_dir, url) = $crate::common::sqlite_url();
            $scenario(url).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $postgres() {
            if $crate::common::skip_pg() {
                return;
            }
            let db = $crate::common::PgDatabase::create(stringify!($scenario)).await;
            $scenario(db.database_url()).await;
        }
    };
}

/// One integer from `sql` (a count, usually), for tests' checks on the database.
pub async fn scalar(store: &Store, sql: &str) -> i64 {
    syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(p).await
    })
    .expect(sql)
}

/// Runs one statement `sql` (tests that set a row up by hand).
pub async fn execute(store: &Store, sql: &str) {
    syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).execute(p).await.map(|_| ())
    })
    .expect(sql)
}

/// The environment variable `name` parsed, or `default` (bench knobs).
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
