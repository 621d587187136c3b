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
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Wraps a sqlx error with what was being done and a hint where the cause is recognisable.
    pub fn query(context: impl Into<String>, err: sqlx::Error) -> Self {
        StoreError::Query {
            context: context.into(),
            reason: describe_sqlx(&err),
        }
    }
}

/// A one-line description of a sqlx error with a hint for the causes operators meet.
pub fn describe_sqlx(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let msg = db.message().to_string();
            let hint = match code.as_str() {
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
                _ => "",
            };
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
