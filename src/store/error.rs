//! Store errors: what failed, in words an operator can act on.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the SQLite database {path}: {reason}")]
    SqliteOpen { path: PathBuf, reason: String },
    #[error("cannot connect to Postgres at {location}: {reason}")]
    PostgresConnect { location: String, reason: String },
    #[error("the database has no syncdeck tables yet ({missing}); run `syncdeck migrate` first")]
    NotMigrated { missing: String },
    #[error("migration failed on {backend}: {reason}")]
    Migration {
        backend: &'static str,
        reason: String,
    },
    #[error("{context}: {reason}")]
    Query { context: String, reason: String },
    /// A query failed because the database itself is unusable (disk full, I/O error, server
    /// gone), not because of this query: retrying it at once cannot help.
    #[error("{context}: {reason}")]
    Unusable {
        fault: DbFault,
        context: String,
        reason: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Wraps a sqlx error with what was being done and a hint where the cause is recognisable.
    pub fn query(context: impl Into<String>, err: sqlx::Error) -> Self {
        let (context, reason) = (context.into(), describe_sqlx(&err));
        match classify_sqlx(&err) {
            Some(fault) => StoreError::Unusable {
                fault,
                context,
                reason,
            },
            None => StoreError::Query { context, reason },
        }
    }

    /// What is wrong with the database as a whole, when this error says so.
    pub fn fault(&self) -> Option<DbFault> {
        match self {
            StoreError::Unusable { fault, .. } => Some(*fault),
            _ => None,
        }
    }
}

/// Why the database as a whole cannot be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbFault {
    /// No room left to write: SQLite's `SQLITE_FULL` (a full disk, or `max_page_count`),
    /// Postgres's `53100 disk_full`.
    DiskFull,
    /// The disk failed a read or write: SQLite's `SQLITE_IOERR` family, Postgres's `58030`.
    Io,
    /// The server went away or cannot be reached: a refused, reset or closed connection, a
    /// Postgres shutdown (`57P01`…`57P03`, class `08`), or no connection within the pool's wait.
    ConnectionLost,
}

impl DbFault {
    /// Lasting faults need an operator (free space, fix the disk); a lost connection may come
    /// back by itself (a server restart, a network blip).
    pub fn is_lasting(self) -> bool {
        matches!(self, DbFault::DiskFull | DbFault::Io)
    }

    pub fn describe(self) -> &'static str {
        match self {
            DbFault::DiskFull => "the disk is full",
            DbFault::Io => "a disk I/O error",
            DbFault::ConnectionLost => "the connection is lost",
        }
    }
}

/// SQLite's primary result codes that mean the database itself is unusable.
const SQLITE_IOERR: i64 = 10;
const SQLITE_FULL: i64 = 13;

/// Whether a sqlx error means the database as a whole is unusable, and how.
pub fn classify_sqlx(err: &sqlx::Error) -> Option<DbFault> {
    match err {
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Extended result codes keep the primary code in their low byte.
                match code.parse::<i64>().ok()? & 0xff {
                    SQLITE_FULL => Some(DbFault::DiskFull),
                    SQLITE_IOERR => Some(DbFault::Io),
                    _ => None,
                }
            } else {
                match code.as_ref() {
                    "53100" => Some(DbFault::DiskFull),
                    "58030" => Some(DbFault::Io),
                    "57P01" | "57P02" | "57P03" => Some(DbFault::ConnectionLost),
                    c if c.starts_with("08") => Some(DbFault::ConnectionLost),
                    _ => None,
                }
            }
        }
        sqlx::Error::Io(io) => {
            use std::io::ErrorKind as K;
            matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::BrokenPipe
                    | K::UnexpectedEof
                    | K::NotConnected
                    | K::TimedOut
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::NetworkDown
            )
            .then_some(DbFault::ConnectionLost)
        }
        // Also a pool kept busy for its whole wait; the engine's health probe (a connection of
        // its own) tells the two apart within a second.
        sqlx::Error::PoolTimedOut => Some(DbFault::ConnectionLost),
        _ => None,
    }
}

/// The hint for a SQLite I/O or full-disk error (the codes come in many extended forms).
fn sqlite_fault_hint(code: &str) -> Option<&'static str> {
    match code.parse::<i64>().ok()? & 0xff {
        SQLITE_FULL => Some(
            "; the disk holding the SQLite database is full: free disk space there, then sync again",
        ),
        SQLITE_IOERR => Some(
            "; the disk holding the SQLite database failed a read or write: check its free space, health and mount",
        ),
        _ => None,
    }
}

/// A one-line description of a sqlx error with a hint for the causes operators meet.
pub fn describe_sqlx(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let msg = db.message().to_string();
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            let fault_hint = sqlite.then(|| sqlite_fault_hint(&code)).flatten();
            let hint = fault_hint.unwrap_or(match code.as_str() {
                // SQLite result codes (primary and extended)
                "8" | "1032" | "264" | "520" | "776" => {
                    "; the SQLite file or its directory is read-only: fix the permissions or point DATABASE_URL at a writable file"
                }
                "5" | "517" | "261" | "6" => {
                    "; the SQLite database is locked by another process: close the other syncdeck or wait and retry"
                }
                "14" => {
                    "; SQLite cannot open the file: check that the directory exists and is writable"
                }
                // Postgres SQLSTATEs
                "28P01" | "28000" => "; check the user and password in DATABASE_URL",
                "3D000" => "; create the database first (createdb) or fix the name in DATABASE_URL",
                "42P01" => "; a table is missing: run `syncdeck migrate`, then `syncdeck doctor`",
                "42703" => {
                    "; a column is missing: run `syncdeck doctor` to see which and how to add it"
                }
                "42P10" => {
                    "; a unique key that syncdeck upserts on is missing: run `syncdeck doctor`"
                }
                "42501" => "; the database user lacks a privilege: grant it or use another user",
                "53300" => {
                    "; the Postgres server has too many connections: lower concurrency or raise max_connections"
                }
                "53100" => "; the Postgres server's disk is full: free disk space on the database server",
                "58030" => "; the Postgres server failed a disk read or write: check the database server's disk",
                "57P01" | "57P02" | "57P03" => {
                    "; the Postgres server is shutting down or restarting: check that it is up"
                }
                _ => "",
            });
            if code.is_empty() {
                format!("{msg}{hint}")
            } else {
                format!("{msg} (code {code}){hint}")
            }
        }
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "connection refused: is the server running and listening on that host and port?"
                    .to_string()
            }
            std::io::ErrorKind::TimedOut => {
                "timed out: check the host, port and firewall".to_string()
            }
            _ => format!("I/O error: {io}"),
        },
        sqlx::Error::PoolTimedOut => {
            "timed out waiting for a connection: is the server reachable and not overloaded?"
                .to_string()
        }
        sqlx::Error::Tls(e) => format!("TLS error: {e}; check sslmode in DATABASE_URL"),
        sqlx::Error::Configuration(e) => format!("bad connection settings: {e}"),
        other => other.to_string(),
    }
}
