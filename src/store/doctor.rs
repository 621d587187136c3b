//! `syncdeck doctor`: what in this database would break a sync, and the SQL that fixes it.
//!
//! Two kinds of evidence:
//! 1. The catalog: every app table must have the columns syncdeck writes and reads (the upserts
//!    in [`super::upsert`], the status bookkeeping in [`super::artists`], the live columns of
//!    research/origin.md 2.3) and the unique keys its upserts name as conflict targets.
//! 2. Real writes: the same upserts a sync performs, on probe rows, inside one transaction that
//!    is always rolled back. Only a real write meets what the catalog cannot show: a trigger whose
//!    function refers to a column that does not exist, a second unique key that rejects a row the
//!    natural key would accept, row-level security, NOT NULL and CHECK constraints. Each probe runs
//!    under its own savepoint, so one failure does not hide the ones after it.
//!
//! Every failure becomes a [`Finding`] that carries the database's own error, the object at fault
//! (found in the catalog, never guessed from the table alone) and, when there is one, the SQL that
//! fixes it. [`apply_fixes`] runs that SQL in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::artists::{ArtistFilter, ListQuery, SortKey, set_part_status_tx};
use super::inspect::{self, APP_TABLES, SYNCDECK_TABLES, UniqueKey};
use super::sync_status::{Overall, PartStatus, Source, SyncStatus};
use super::time::now_db;
use super::upsert::{self, SetlistRow, SetlistSongRow, ShowRow, ShowStatus, SongRow, VenueRow};
use super::{Backend, Db, Store, StoreError, Tx, describe_sqlx};

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

/// How bad a finding is: `Required` means a sync will fail (or write wrong data) until it is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Required,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Required => "required",
            Severity::Warning => "warning",
        }
    }
}

/// What kind of object is at fault; also orders the fixes (columns before the keys on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    SyncdeckTablesMissing,
    MissingTable,
    MissingColumn,
    ColumnType,
    MissingUniqueKey,
    /// A user trigger whose function fails (or refers to something missing) on syncdeck's writes.
    BlockingTrigger,
    /// A unique key beside syncdeck's natural key that rejects rows the natural key accepts.
    ConflictingUniqueKey,
    NotNullColumn,
    CheckConstraint,
    RowLevelSecurity,
    Privilege,
    /// A trigger that rewrites a column syncdeck owns (e.g. stamps `last_sync` on every update).
    TriggerOverwrites,
    WriteFailed,
    ReadFailed,
}

impl FindingKind {
    /// The order [`apply_fixes`] runs fixes in: a column must exist before a key on it, and a
    /// conflicting key must be gone before anything relies on the natural one.
    fn fix_order(self) -> u8 {
        match self {
            FindingKind::MissingColumn => 0,
            FindingKind::ColumnType => 1,
            FindingKind::BlockingTrigger
            | FindingKind::ConflictingUniqueKey
            | FindingKind::NotNullColumn
            | FindingKind::TriggerOverwrites => 2,
            FindingKind::MissingUniqueKey => 3,
            _ => 4,
        }
    }
}

/// One problem, with everything an operator needs to act on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: FindingKind,
    /// The app table it belongs to (`artists`, …), or `syncdeck` for syncdeck's own tables.
    pub table: String,
    /// The object at fault: `column venues.timezone`, `unique key songs (spotify_id, artist_id)`,
    /// `trigger t on shows (function f())`.
    pub object: String,
    /// What is wrong and what it breaks.
    pub problem: String,
    /// The database's own error when a probe hit it: `record "new" has no field "show_time" (code 42703)`.
    pub db_error: Option<String>,
    /// SQL that fixes it, ready for [`apply_fixes`]; `--` comment lines explain it.
    pub fix_sql: Option<String>,
    /// What to do when there is no SQL to run here (or a note beside it).
    pub advice: Option<String>,
    /// The write probes that hit it.
    pub probes: Vec<String>,
}

impl Finding {
    fn new(
        severity: Severity,
        kind: FindingKind,
        table: &str,
        object: String,
        problem: String,
    ) -> Self {
        Finding {
            severity,
            kind,
            table: table.to_string(),
            object,
            problem,
            db_error: None,
            fix_sql: None,
            advice: None,
            probes: Vec::new(),
        }
    }

    fn fix(mut self, sql: String) -> Self {
        self.fix_sql = Some(sql);
        self
    }

    fn advice(mut self, text: impl Into<String>) -> Self {
        self.advice = Some(text.into());
        self
    }

    fn hit_by(mut self, probe: &str, failure: &DbFailure) -> Self {
        self.db_error = Some(failure.display());
        self.probes.push(probe.to_string());
        self
    }
}

/// How one write probe went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "reason", rename_all = "lowercase")]
pub enum ProbeResult {
    Ok,
    Failed,
    /// Not run, because what it needs (a table, or a row an earlier probe failed to write) is missing.
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeOutcome {
    /// `insert show`, `update artist (failed part)`, …
    pub name: String,
    pub table: String,
    pub result: ProbeResult,
}

/// Everything `doctor` found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub backend: Backend,
    /// `postgres host:5432/db` or `sqlite /path`: never a password.
    pub database: String,
    pub server_version: String,
    pub findings: Vec<Finding>,
    /// The write probes, in the order they ran (all rolled back).
    pub probes: Vec<ProbeOutcome>,
}

impl DoctorReport {
    pub fn has_required(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Required)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// True when syncdeck's own tables are missing (`syncdeck migrate` has not run).
    pub fn needs_migrate(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.kind == FindingKind::SyncdeckTablesMissing)
    }

    /// The findings whose fix SQL `doctor --fix` applies: the required ones that have SQL.
    pub fn fixable(&self) -> Vec<Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Required && f.fix_sql.is_some())
            .cloned()
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// What syncdeck needs of the app's tables
// ---------------------------------------------------------------------------------------------

/// A column syncdeck writes or reads, with the type to add it with on each backend (Postgres from
/// origin.md 2.3 / migrations/postgres, SQLite from migrations/sqlite). Defaults are only ones
/// `ADD COLUMN` accepts on a table that already has rows (SQLite forbids non-constant defaults).
struct ColumnSpec {
    name: &'static str,
    pg: &'static str,
    sqlite: &'static str,
}

const fn col(name: &'static str, pg: &'static str, sqlite: &'static str) -> ColumnSpec {
    ColumnSpec { name, pg, sqlite }
}

struct TableSpec {
    name: &'static str,
    columns: &'static [ColumnSpec],
    /// The natural keys syncdeck upserts on (design.md "Data contract").
    keys: &'static [&'static [&'static str]],
}

const TIMESTAMPTZ_NOW: &str = "timestamptz DEFAULT now()";

const SPECS: &[TableSpec] = &[
    TableSpec {
        name: "artists",
        columns: &[
            col("id", "uuid DEFAULT gen_random_uuid()", "TEXT"),
            col("name", "text", "TEXT"),
            col("ticketmaster_id", "text", "TEXT"),
            col("spotify_id", "text", "TEXT"),
            col("setlist_fm_mbid", "text", "TEXT"),
            col(
                "sync_status",
                "jsonb DEFAULT '{}'::jsonb",
                "TEXT DEFAULT '{}'",
            ),
            col("last_sync", "timestamptz", "TEXT"),
            col("last_sync_error", "text", "TEXT"),
            col("last_ticketmaster_sync", "timestamptz", "TEXT"),
            col("last_spotify_sync", "timestamptz", "TEXT"),
            col(
                "upcoming_shows_count",
                "integer DEFAULT 0",
                "INTEGER DEFAULT 0",
            ),
            col("image_url", "text", "TEXT"),
            col("url", "text", "TEXT"),
            col("spotify_url", "text", "TEXT"),
            col("genres", "text[]", "TEXT"),
            col("followers", "integer", "INTEGER"),
            col("popularity", "integer", "INTEGER"),
            col("created_at", TIMESTAMPTZ_NOW, "TEXT"),
            col("updated_at", TIMESTAMPTZ_NOW, "TEXT"),
        ],
        keys: &[&["ticketmaster_id"], &["spotify_id"]],
    },
    TableSpec {
        name: "venues",
        columns: &[
            col("id", "uuid DEFAULT gen_random_uuid()", "TEXT"),
            col("ticketmaster_id", "text", "TEXT"),
            col("name", "text", "TEXT"),
            col("city", "text", "TEXT"),
            col("state", "text", "TEXT"),
            col("country", "text", "TEXT"),
            col("address", "text", "TEXT"),
            col("postal_code", "text", "TEXT"),
            col("latitude", "numeric", "REAL"),
            col("longitude", "numeric", "REAL"),
            col("timezone", "text", "TEXT"),
            col("url", "text", "TEXT"),
            col("image_url", "text", "TEXT"),
            col("updated_at", TIMESTAMPTZ_NOW, "TEXT"),
        ],
        keys: &[&["ticketmaster_id"]],
    },
    TableSpec {
        name: "shows",
        columns: &[
            col("id", "uuid DEFAULT gen_random_uuid()", "TEXT"),
            col("ticketmaster_id", "text", "TEXT"),
            col("name", "text", "TEXT"),
            col("date", "date", "TEXT"),
            col("status", "text", "TEXT"),
            col("image_url", "text", "TEXT"),
            col("ticket_url", "text", "TEXT"),
            col("url", "text", "TEXT"),
            col("min_price", "numeric", "REAL"),
            col("max_price", "numeric", "REAL"),
            col("description", "text", "TEXT"),
            col("venue_id", "uuid", "TEXT"),
            col("artist_id", "uuid", "TEXT"),
            col("sync_status", "text", "TEXT"),
            col("last_sync", "timestamptz", "TEXT"),
            col("last_sync_error", "text", "TEXT"),
            col("updated_at", TIMESTAMPTZ_NOW, "TEXT"),
            col("last_updated", "timestamptz", "TEXT"),
        ],
        keys: &[&["ticketmaster_id"]],
    },
    TableSpec {
        name: "songs",
        columns: &[
            col("id", "uuid DEFAULT gen_random_uuid()", "TEXT"),
            col("spotify_id", "text", "TEXT"),
            col("artist_id", "uuid", "TEXT"),
            col("name", "text", "TEXT"),
            col("duration_ms", "integer", "INTEGER"),
            col("preview_url", "text", "TEXT"),
            col("album_name", "text", "TEXT"),
            col("album_image_url", "text", "TEXT"),
            col("popularity", "integer DEFAULT 0", "INTEGER DEFAULT 0"),
            col("updated_at", TIMESTAMPTZ_NOW, "TEXT"),
        ],
        keys: &[&["spotify_id", "artist_id"]],
    },
    TableSpec {
        name: "setlists",
        columns: &[
            col("id", "uuid DEFAULT gen_random_uuid()", "TEXT"),
            col("setlist_fm_id", "text", "TEXT"),
            col("artist_id", "uuid", "TEXT"),
            col("date", "date", "TEXT"),
            col("tour_name", "text", "TEXT"),
            col("show_id", "uuid", "TEXT"),
            col("venue_id", "uuid", "TEXT"),
            col("songs", "jsonb", "TEXT"),
            col("updated_at", TIMESTAMPTZ_NOW, "TEXT"),
        ],
        keys: &[&["setlist_fm_id"]],
    },
    TableSpec {
        name: "setlist_songs",
        columns: &[
            col("id", "uuid DEFAULT gen_random_uuid()", "TEXT"),
            col("setlist_id", "uuid", "TEXT"),
            col("song_id", "uuid", "TEXT"),
            col("position", "integer", "INTEGER"),
            col("name", "text", "TEXT"),
            col("is_encore", "boolean DEFAULT false", "INTEGER DEFAULT 0"),
            col("artist_id", "uuid", "TEXT"),
            col("played", "boolean DEFAULT false", "INTEGER DEFAULT 0"),
            col("updated_at", TIMESTAMPTZ_NOW, "TEXT"),
            col("last_updated", TIMESTAMPTZ_NOW, "TEXT"),
        ],
        keys: &[&["setlist_id", "position"]],
    },
];

fn spec(table: &str) -> Option<&'static TableSpec> {
    SPECS.iter().find(|s| s.name == table)
}

/// A key counts when it has exactly these columns, in any order.
fn same_columns(have: &[String], want: &[&str]) -> bool {
    have.len() == want.len() && want.iter().all(|w| have.iter().any(|h| h == w))
}

fn is_natural_key(table: &str, columns: &[String]) -> bool {
    spec(table).is_some_and(|s| s.keys.iter().any(|k| same_columns(columns, k)))
}

// ---------------------------------------------------------------------------------------------
// diagnose
// ---------------------------------------------------------------------------------------------

/// What the catalog says, read once and shared by the checks and the failure analysis.
#[derive(Default)]
struct Catalog {
    tables: BTreeSet<String>,
    columns: BTreeMap<String, BTreeMap<String, String>>,
    keys: BTreeMap<String, Vec<UniqueKey>>,
    triggers: Vec<TriggerInfo>,
}

/// A user (non-internal, enabled) trigger on a table of the current schema.
#[derive(Debug, Clone)]
struct TriggerInfo {
    name: String,
    table: String,
    /// Postgres: `update_artist_upcoming_shows_count()` (regprocedure); SQLite: empty.
    function: String,
    /// Postgres: the function's name without arguments, to match an error's context.
    function_name: String,
    /// `AFTER INSERT OR UPDATE`; empty on SQLite.
    timing: String,
    /// The function's source (Postgres) or the trigger's SQL (SQLite).
    source: String,
}

impl TriggerInfo {
    fn object(&self) -> String {
        if self.function.is_empty() {
            format!("trigger {} on {}", self.name, self.table)
        } else {
            format!(
                "trigger {} on {} (function {})",
                self.name, self.table, self.function
            )
        }
    }
}

/// Inspects the database and runs the rolled-back write probes. Leaves the database as it was.
pub async fn diagnose(store: &Store) -> Result<DoctorReport, StoreError> {
    let backend = store.backend();
    let server_version = inspect::server_version(store).await?;
    let mut cat = Catalog {
        tables: inspect::present_tables(store).await?,
        triggers: user_triggers(store).await?,
        ..Catalog::default()
    };
    let mut findings = Vec::new();

    let missing_own: Vec<&str> = SYNCDECK_TABLES
        .iter()
        .copied()
        .filter(|t| !cat.tables.contains(*t))
        .collect();
    if !missing_own.is_empty() {
        findings.push(
            Finding::new(
                Severity::Required,
                FindingKind::SyncdeckTablesMissing,
                "syncdeck",
                format!("syncdeck's tables ({})", missing_own.join(", ")),
                "syncdeck keeps its runs, budgets and workers in its own tables, and they are not here yet".into(),
            )
            .advice("run `syncdeck migrate`: it adds only syncdeck_ tables and the job queue to an existing app database"),
        );
    }

    for spec in SPECS {
        check_table(store, spec, &mut cat, &mut findings).await?;
    }
    if backend == Backend::Postgres {
        check_sync_status_type(&cat, &mut findings);
        check_row_level_security(store, &cat, &mut findings).await?;
    }

    let (probes, failures, last_sync_overwritten) = run_write_probes(store, &cat).await?;
    for failure in &failures {
        analyse_failure(store, &cat, failure, &mut findings).await?;
    }
    if last_sync_overwritten {
        report_last_sync_overwrite(&cat, &mut findings);
    }
    read_probe(store, &cat, &mut findings).await?;

    Ok(DoctorReport {
        backend,
        database: store.describe(),
        server_version,
        findings,
        probes,
    })
}

async fn check_table(
    store: &Store,
    spec: &TableSpec,
    cat: &mut Catalog,
    findings: &mut Vec<Finding>,
) -> Result<(), StoreError> {
    let table = spec.name;
    if !cat.tables.contains(table) {
        let migrated = cat.tables.contains("syncdeck_migrations");
        findings.push(
            Finding::new(
                Severity::Required,
                FindingKind::MissingTable,
                table,
                format!("table {table}"),
                format!("the app table {table} does not exist; syncdeck reads and writes it"),
            )
            .advice(if migrated {
                format!(
                    "syncdeck's migrations create app tables only on their first run, which already happened here; \
                     create {table} from migrations/{}/0001_app_schema.sql",
                    store.backend().name()
                )
            } else {
                "run `syncdeck migrate`: it creates the app tables that do not exist".to_string()
            }),
        );
        return Ok(());
    }
    let columns = inspect::columns(store, table).await?;
    let keys = inspect::unique_keys(store, table).await?;
    let backend = store.backend();

    for c in spec.columns {
        if columns.contains_key(c.name) {
            continue;
        }
        let sql = match backend {
            Backend::Postgres => format!(
                "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {};",
                ident(table),
                ident(c.name),
                c.pg
            ),
            Backend::Sqlite => format!(
                "ALTER TABLE {} ADD COLUMN {} {};",
                ident(table),
                ident(c.name),
                c.sqlite
            ),
        };
        findings.push(
            Finding::new(
                Severity::Required,
                FindingKind::MissingColumn,
                table,
                column_object(table, c.name),
                format!(
                    "{table} has no column {}; syncdeck writes or reads it on every sync",
                    c.name
                ),
            )
            .fix(sql),
        );
    }

    for key in spec.keys {
        let present = keys
            .iter()
            .any(|k| !k.partial && same_columns(&k.columns, key));
        if present {
            continue;
        }
        let columns_exist = key.iter().all(|c| columns.contains_key(*c));
        findings.push(missing_key_finding(store, table, key, columns_exist, &keys).await?);
    }

    cat.columns.insert(table.to_string(), columns);
    cat.keys.insert(table.to_string(), keys);
    Ok(())
}

fn column_object(table: &str, column: &str) -> String {
    format!("column {table}.{column}")
}

fn key_object(table: &str, columns: &[&str]) -> String {
    format!("unique key {table} ({})", columns.join(", "))
}

async fn missing_key_finding(
    store: &Store,
    table: &str,
    key: &[&str],
    columns_exist: bool,
    keys: &[UniqueKey],
) -> Result<Finding, StoreError> {
    let name = free_key_name(store, table, key).await?;
    let cols = key.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
    let not_null = key
        .iter()
        .map(|c| format!("{} IS NOT NULL", ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let find_duplicates = format!(
        "SELECT {cols}, count(*) FROM {} WHERE {not_null} GROUP BY {cols} HAVING count(*) > 1;",
        ident(table)
    );
    let add = match store.backend() {
        Backend::Postgres => format!(
            "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({cols});",
            ident(table),
            ident(&name)
        ),
        // SQLite cannot add a constraint to a table; a unique index serves ON CONFLICT the same way.
        Backend::Sqlite => format!(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({cols});",
            ident(&name),
            ident(table)
        ),
    };
    let sql = format!(
        "-- Rows sharing a ({}) would block this key; list them first with:\n--   {find_duplicates}\n{add}",
        key.join(", ")
    );

    let mut problem = format!(
        "syncdeck upserts {table} ON CONFLICT ({}), which needs a unique key on exactly those columns; \
         without it every such upsert fails",
        key.join(", ")
    );
    if let Some(partial) = keys
        .iter()
        .find(|k| k.partial && same_columns(&k.columns, key))
    {
        problem.push_str(&format!(
            " (the partial unique index {} has a WHERE clause, so it cannot serve as the conflict target)",
            partial.name
        ));
    }
    if columns_exist {
        let dupes = duplicate_groups(store, table, key).await?;
        if dupes > 0 {
            problem.push_str(&format!(
                "; {dupes} value(s) occur more than once today, so the key cannot be added until those rows are merged or removed"
            ));
        }
    }
    Ok(Finding::new(
        Severity::Required,
        FindingKind::MissingUniqueKey,
        table,
        key_object(table, key),
        problem,
    )
    .fix(sql))
}

/// How many values of `key` occur more than once (each would block a unique key).
async fn duplicate_groups(store: &Store, table: &str, key: &[&str]) -> Result<i64, StoreError> {
    let cols = key.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
    let not_null = key
        .iter()
        .map(|c| format!("{} IS NOT NULL", ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM {} WHERE {not_null} GROUP BY {cols} HAVING count(*) > 1) AS dupes",
        ident(table)
    );
    crate::with_pool!(&store.db, p, _b => {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(p).await
    })
    .map_err(|e| StoreError::query(format!("counting duplicates in {table}"), e))
}

/// `{table}_{cols}_key` unless that name is taken (an index, or a constraint on the table), then
/// the same with a `_syncdeck` suffix.
async fn free_key_name(store: &Store, table: &str, key: &[&str]) -> Result<String, StoreError> {
    let base: String = format!("{table}_{}_key", key.join("_"));
    for n in 0..10 {
        let mut name = match n {
            0 => base.clone(),
            1 => format!("{base}_syncdeck"),
            n => format!("{base}_syncdeck{n}"),
        };
        // Postgres truncates identifiers to 63 bytes; do it here so the check sees the real name.
        while name.len() > 63 {
            name.pop();
        }
        let taken: bool = match &store.db {
            Db::Postgres(p) => sqlx::query_scalar(
                "SELECT to_regclass(quote_ident($1)) IS NOT NULL \
                     OR EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass(quote_ident($2)))",
            )
            .bind(&name)
            .bind(table)
            .fetch_one(p)
            .await,
            Db::Sqlite(p) => {
                sqlx::query_scalar("SELECT count(*) > 0 FROM sqlite_master WHERE name = $1")
                    .bind(&name)
                    .fetch_one(p)
                    .await
            }
        }
        .map_err(|e| StoreError::query("checking a constraint name", e))?;
        if !taken {
            return Ok(name);
        }
    }
    Ok(format!(
        "{table}_syncdeck_{}_key",
        &Uuid::new_v4().simple().to_string()[..8]
    ))
}

/// `artists.sync_status` must be jsonb on Postgres: the app's frontend reads it as JSON and
/// syncdeck's status filters use jsonb functions. Text or json still store the object, so this is
/// a warning unless the read probe shows the console's queries failing on it.
fn check_sync_status_type(cat: &Catalog, findings: &mut Vec<Finding>) {
    let Some(ty) = cat
        .columns
        .get("artists")
        .and_then(|c| c.get("sync_status"))
    else {
        return;
    };
    if ty == "jsonb" {
        return;
    }
    findings.push(
        Finding::new(
            Severity::Warning,
            FindingKind::ColumnType,
            "artists",
            column_object("artists", "sync_status"),
            format!(
                "artists.sync_status is {ty}, not jsonb: syncdeck writes the JSON object as text, but the app's \
                 frontend and syncdeck's status filters expect jsonb"
            ),
        )
        .fix(
            "-- Rows whose sync_status is not valid JSON block the conversion; fix or clear them first.\n\
             ALTER TABLE artists ALTER COLUMN sync_status DROP DEFAULT;\n\
             ALTER TABLE artists ALTER COLUMN sync_status TYPE jsonb USING sync_status::jsonb;\n\
             ALTER TABLE artists ALTER COLUMN sync_status SET DEFAULT '{}'::jsonb;"
                .to_string(),
        ),
    );
}

/// Row-level security is bypassed by superusers, BYPASSRLS roles and the table's owner (unless
/// forced); any other role gets only what the policies allow, and the app's policies allow writes
/// to the `service_role` JWT claim only, which a direct connection never carries.
async fn check_row_level_security(
    store: &Store,
    cat: &Catalog,
    findings: &mut Vec<Finding>,
) -> Result<(), StoreError> {
    let Db::Postgres(p) = &store.db else {
        return Ok(());
    };
    let (role, bypass): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, COALESCE((SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user), false)",
    )
    .fetch_one(p)
    .await
    .map_err(|e| StoreError::query("reading the current role", e))?;
    if bypass {
        return Ok(());
    }
    let tables: Vec<String> = APP_TABLES
        .iter()
        .filter(|t| cat.tables.contains(**t))
        .map(|t| t.to_string())
        .collect();
    let rows: Vec<(String, bool, bool, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity, pg_has_role(current_user, c.relowner, 'USAGE') \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)",
    )
    .bind(&tables)
    .fetch_all(p)
    .await
    .map_err(|e| StoreError::query("reading row-level security settings", e))?;
    for (table, enabled, forced, owner) in rows {
        if !enabled || (owner && !forced) {
            continue;
        }
        findings.push(
            Finding::new(
                Severity::Warning,
                FindingKind::RowLevelSecurity,
                &table,
                format!("row-level security on {table}"),
                format!(
                    "row-level security is on for {table} and syncdeck connects as {role}, which is neither a superuser, \
                     a BYPASSRLS role nor {}the owner: the table's policies decide what it may read and write",
                    if forced { "(the policies are forced, even for) " } else { "" }
                ),
            )
            .advice(
                "connect syncdeck as the service role or the tables' owner (on Supabase, the database connection string \
                 of the postgres user, whose role bypasses these policies)",
            ),
        );
    }
    Ok(())
}

/// User triggers of the current schema (Postgres) or the main database (SQLite). Disabled
/// triggers are left out: they cannot be what fails.
async fn user_triggers(store: &Store) -> Result<Vec<TriggerInfo>, StoreError> {
    match &store.db {
        Db::Postgres(p) => {
            let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
                "SELECT t.tgname::text, c.relname::text, p.oid::regprocedure::text, p.proname::text, \
                        concat_ws(' ', CASE WHEN t.tgtype::int & 2 <> 0 THEN 'BEFORE' \
                                            WHEN t.tgtype::int & 64 <> 0 THEN 'INSTEAD OF' ELSE 'AFTER' END, \
                                  array_to_string(array_remove(ARRAY[ \
                                      CASE WHEN t.tgtype::int & 4 <> 0 THEN 'INSERT' END, \
                                      CASE WHEN t.tgtype::int & 16 <> 0 THEN 'UPDATE' END, \
                                      CASE WHEN t.tgtype::int & 8 <> 0 THEN 'DELETE' END, \
                                      CASE WHEN t.tgtype::int & 32 <> 0 THEN 'TRUNCATE' END], NULL), ' OR ')), \
                        COALESCE(p.prosrc, '') \
                 FROM pg_trigger t \
                 JOIN pg_class c ON c.oid = t.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_proc p ON p.oid = t.tgfoid \
                 WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND n.nspname = current_schema() \
                 ORDER BY c.relname, t.tgname",
            )
            .fetch_all(p)
            .await
            .map_err(|e| StoreError::query("listing triggers", e))?;
            Ok(rows
                .into_iter()
                .map(
                    |(name, table, function, function_name, timing, source)| TriggerInfo {
                        name,
                        table,
                        function,
                        function_name,
                        timing,
                        source,
                    },
                )
                .collect())
        }
        Db::Sqlite(p) => {
            let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY tbl_name, name",
            )
            .fetch_all(p)
            .await
            .map_err(|e| StoreError::query("listing triggers", e))?;
            Ok(rows
                .into_iter()
                .map(|(name, table, sql)| TriggerInfo {
                    name,
                    table,
                    function: String::new(),
                    function_name: String::new(),
                    timing: String::new(),
                    source: sql.unwrap_or_default(),
                })
                .collect())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Write probes
// ---------------------------------------------------------------------------------------------

/// A database error, broken into the parts the analysis needs.
#[derive(Debug, Clone)]
struct DbFailure {
    message: String,
    /// SQLSTATE on Postgres, the (extended) result code on SQLite.
    code: String,
    constraint: Option<String>,
    /// The column a NOT NULL violation is about (Postgres, full errors only).
    column: Option<String>,
    /// Postgres's CONTEXT (`PL/pgSQL function f() line 3 at IF`), when the error came with it.
    context: Option<String>,
    /// describe_sqlx's hint, for failures the analysis cannot place.
    hint: Option<String>,
}

impl DbFailure {
    fn display(&self) -> String {
        let mut s = format!("{} (code {})", self.message, self.code);
        if let Some(ctx) = &self.context {
            s.push_str(&format!("; context: {}", ctx.replace('\n', " / ")));
        }
        s
    }

    /// From a sqlx error: everything Postgres says, including the constraint and the context.
    fn from_sqlx(e: &sqlx::Error) -> Option<DbFailure> {
        let sqlx::Error::Database(db) = e else {
            return None;
        };
        let code = db.code()?.to_string();
        let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
        let (_, hint) = split_described(&describe_sqlx(e));
        Some(DbFailure {
            message: db.message().to_string(),
            code,
            constraint: db.constraint().map(str::to_string),
            column: pg.and_then(|p| p.column()).map(str::to_string),
            context: pg.and_then(|p| p.r#where()).map(str::to_string),
            hint,
        })
    }

    /// From a store error: the upserts wrap their sqlx error into text (describe_sqlx's
    /// `message (code X); hint`), so the code and the constraint are read back from it.
    fn from_store(e: &StoreError) -> Option<DbFailure> {
        let StoreError::Query { reason, .. } = e else {
            return None;
        };
        let (head, hint) = split_described(reason);
        let open = head.rfind(" (code ")?;
        let code = head[open + 7..].trim_end_matches(')').to_string();
        let message = head[..open].to_string();
        Some(DbFailure {
            constraint: quoted_after(&message, "constraint \""),
            column: None,
            message,
            code,
            context: None,
            hint,
        })
    }
}

/// Splits describe_sqlx's `message (code X); hint` into `message (code X)` and the hint.
fn split_described(text: &str) -> (String, Option<String>) {
    match text
        .find(" (code ")
        .and_then(|i| text[i..].find(')').map(|j| i + j + 1))
    {
        Some(end) => {
            let hint = text[end..].trim_start_matches(';').trim();
            (
                text[..end].to_string(),
                (!hint.is_empty()).then(|| hint.to_string()),
            )
        }
        None => (text.to_string(), None),
    }
}

enum ProbeError {
    /// The database refused the write: a finding.
    Db(DbFailure),
    /// Anything else (connection lost, pool closed): doctor cannot go on.
    Fatal(StoreError),
}

impl From<StoreError> for ProbeError {
    fn from(e: StoreError) -> Self {
        match DbFailure::from_store(&e) {
            Some(f) => ProbeError::Db(f),
            None => ProbeError::Fatal(e),
        }
    }
}

fn probe_err(context: &str) -> impl Fn(sqlx::Error) -> ProbeError + '_ {
    move |e| match DbFailure::from_sqlx(&e) {
        Some(f) => ProbeError::Db(f),
        None => ProbeError::Fatal(StoreError::query(context.to_string(), e)),
    }
}

struct ProbeFailure {
    probe: String,
    table: &'static str,
    failure: DbFailure,
}

/// Runs the probes in one transaction on one connection, always rolled back.
struct Prober {
    tx: Tx,
    outcomes: Vec<ProbeOutcome>,
    failures: Vec<ProbeFailure>,
}

impl Prober {
    async fn exec(&mut self, sql: &'static str) -> Result<(), StoreError> {
        crate::with_tx!(&mut self.tx, c, _b => {
            sqlx::raw_sql(sql).execute(c).await.map(|_| ())
        })
        .map_err(|e| StoreError::query(format!("doctor: {sql}"), e))
    }

    /// Records the result of one probe that ran under the savepoint, undoing it on failure so
    /// the transaction stays usable for the next probe.
    async fn settle<T>(
        &mut self,
        name: &str,
        table: &'static str,
        result: Result<T, ProbeError>,
    ) -> Result<Option<T>, StoreError> {
        let outcome = |result| ProbeOutcome {
            name: name.to_string(),
            table: table.to_string(),
            result,
        };
        match result {
            Ok(v) => {
                self.exec("RELEASE SAVEPOINT syncdeck_doctor_probe").await?;
                self.outcomes.push(outcome(ProbeResult::Ok));
                Ok(Some(v))
            }
            Err(ProbeError::Db(failure)) => {
                self.exec("ROLLBACK TO SAVEPOINT syncdeck_doctor_probe")
                    .await?;
                self.exec("RELEASE SAVEPOINT syncdeck_doctor_probe").await?;
                self.outcomes.push(outcome(ProbeResult::Failed));
                self.failures.push(ProbeFailure {
                    probe: name.to_string(),
                    table,
                    failure,
                });
                Ok(None)
            }
            Err(ProbeError::Fatal(e)) => Err(e),
        }
    }

    async fn begin_probe(&mut self) -> Result<(), StoreError> {
        self.exec("SAVEPOINT syncdeck_doctor_probe").await
    }

    fn skip(&mut self, name: &str, table: &str, reason: impl Into<String>) {
        self.outcomes.push(ProbeOutcome {
            name: name.to_string(),
            table: table.to_string(),
            result: ProbeResult::Skipped(reason.into()),
        });
    }
}

/// Runs one probe: skipped when its table is missing or `$needs` (a [`needs`] result: the rows
/// of earlier probes it builds on) is an `Err`; otherwise under a savepoint, failure recorded.
macro_rules! probe {
    ($p:expr, $cat:expr, $name:expr, $table:expr, $needs:expr, |$tx:ident, $dep:pat_param| $body:expr) => {{
        if !$cat.tables.contains($table) {
            $p.skip($name, $table, format!("table {} does not exist", $table));
            None
        } else {
            match $needs {
                Err(why) => {
                    $p.skip($name, $table, why);
                    None
                }
                Ok($dep) => {
                    $p.begin_probe().await?;
                    let result = {
                        let $tx = &mut $p.tx;
                        $body
                    };
                    $p.settle($name, $table, result).await?
                }
            }
        }
    }};
}

/// What a probe needs from an earlier one, with the reason it is skipped when that is missing.
fn needs<'a, T>(value: &'a Option<T>, what: &str) -> Result<&'a T, String> {
    value
        .as_ref()
        .ok_or_else(|| format!("needs the probe {what}, which could not be written"))
}

/// The rows the probes write: ids no real row has, so an upsert never touches app data (and all
/// of it is rolled back anyway).
struct ProbeRows {
    tag: String,
}

impl ProbeRows {
    fn tm(&self, what: &str) -> String {
        format!("syncdeck-doctor-{}-{what}", self.tag)
    }

    fn venue(&self, name: &str) -> VenueRow {
        VenueRow {
            ticketmaster_id: self.tm("venue"),
            name: name.to_string(),
            city: Some("New York".into()),
            state: Some("New York".into()),
            country: Some("United States Of America".into()),
            address: Some("4 Pennsylvania Plaza".into()),
            postal_code: Some("10001".into()),
            latitude: Some(40.7505),
            longitude: Some(-73.9934),
            timezone: Some("America/New_York".into()),
            url: Some("https://example.invalid/venue".into()),
            image_url: Some("https://example.invalid/venue.jpg".into()),
        }
    }

    fn show(&self, status: ShowStatus) -> ShowRow {
        ShowRow {
            ticketmaster_id: self.tm("show"),
            name: "syncdeck doctor probe show".into(),
            date: Some((Utc::now() + Duration::days(30)).date_naive()),
            status,
            image_url: Some("https://example.invalid/show.jpg".into()),
            ticket_url: Some("https://example.invalid/tickets".into()),
            url: Some("https://example.invalid/show".into()),
            min_price: Some(49.5),
            max_price: Some(149.5),
            description: Some("written by syncdeck doctor and rolled back".into()),
            venue_ticketmaster_id: Some(self.tm("venue")),
            attraction_ticketmaster_ids: vec![self.tm("artist")],
        }
    }

    fn song(&self, name: &str) -> SongRow {
        SongRow {
            spotify_id: format!("sdprobe{}", self.tag),
            name: name.to_string(),
            duration_ms: Some(201_000),
            preview_url: Some("https://example.invalid/preview.mp3".into()),
            album_name: Some("syncdeck doctor probe album".into()),
            album_image_url: Some("https://example.invalid/album.jpg".into()),
            popularity: Some(50),
        }
    }

    fn setlist(&self, show_id: Option<String>, venue_id: Option<String>, tour: &str) -> SetlistRow {
        SetlistRow {
            setlist_fm_id: self.tm("setlist"),
            date: Some((Utc::now() + Duration::days(30)).date_naive()),
            tour_name: Some(tour.to_string()),
            show_id,
            venue_id,
            songs: serde_json::json!([{ "name": "syncdeck doctor probe song", "encore": false }]),
        }
    }

    fn setlist_song(&self, song_id: Option<String>, is_encore: bool) -> SetlistSongRow {
        SetlistSongRow {
            position: 1,
            name: "syncdeck doctor probe song".into(),
            is_encore,
            song_id,
        }
    }
}

/// Inserts an artist the way an import does: Ticketmaster and Spotify ids, Spotify's details,
/// the normalised three-key status.
async fn insert_artist(
    tx: &mut Tx,
    name: &str,
    tm: &str,
    spotify: &str,
) -> Result<String, ProbeError> {
    const SQL: &str = "INSERT INTO artists (id, name, ticketmaster_id, spotify_id, setlist_fm_mbid, sync_status, image_url, url, \
                       spotify_url, genres, followers, popularity, upcoming_shows_count, created_at, updated_at) \
                       VALUES ($1::uuid, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::text[], $11::integer, $12::integer, 0, \
                       $13::timestamptz, $13::timestamptz) RETURNING id::text";
    let id = Uuid::new_v4().to_string();
    let status = SyncStatus::default().to_json();
    let mbid = format!("{tm}-mbid");
    let genres = vec!["rock".to_string()];
    let image = "https://example.invalid/artist.jpg";
    let url = "https://example.invalid/artist";
    let spotify_url = format!("https://open.spotify.com/artist/{spotify}");
    let now = now_db();
    // genres is text[] on Postgres and JSON text on SQLite, so the bind differs per backend.
    match tx {
        Tx::Postgres(t) => {
            sqlx::query_scalar::<_, String>(SQL)
                .bind(&id)
                .bind(name)
                .bind(tm)
                .bind(spotify)
                .bind(&mbid)
                .bind(&status)
                .bind(image)
                .bind(url)
                .bind(&spotify_url)
                .bind(&genres)
                .bind(1000_i64)
                .bind(50_i64)
                .bind(&now)
                .fetch_one(&mut **t)
                .await
        }
        Tx::Sqlite(t) => {
            let genres = serde_json::to_string(&genres).unwrap_or_else(|_| "[]".into());
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(super::dialect::strip_casts(SQL)))
                .bind(&id)
                .bind(name)
                .bind(tm)
                .bind(spotify)
                .bind(&mbid)
                .bind(&status)
                .bind(image)
                .bind(url)
                .bind(&spotify_url)
                .bind(genres)
                .bind(1000_i64)
                .bind(50_i64)
                .bind(&now)
                .fetch_one(&mut **t)
                .await
        }
    }
    .map_err(probe_err("inserting the probe artist"))
}

/// One part's end the way a sync records it: the part's status (set_part_status_tx, as the
/// engine does), then the same UPDATE as [`Store::finish_artist_sync`], which runs on the pool and
/// so cannot take part in this rolled-back transaction. Returns whether `last_sync` is set
/// afterwards.
async fn record_part(
    tx: &mut Tx,
    artist_id: &str,
    source: Source,
    status: PartStatus,
    error: Option<&str>,
    upcoming: Option<i64>,
) -> Result<bool, ProbeError> {
    set_part_status_tx(tx, artist_id, source, status).await?;
    let finish = crate::sql!(
        "UPDATE artists SET last_sync_error = $2, \
         last_sync = CASE WHEN $3 THEN $4::timestamptz ELSE last_sync END, \
         upcoming_shows_count = COALESCE($5, upcoming_shows_count), updated_at = $4::timestamptz \
         WHERE id = $1::uuid"
    );
    let success = status == PartStatus::Success;
    crate::with_tx!(tx, c, b => {
        sqlx::query(finish.text(b)).bind(artist_id).bind(error).bind(success).bind(now_db())
            .bind(upcoming).execute(c).await.map(|_| ())
    })
    .map_err(probe_err("recording the end of the probe artist's sync"))?;
    let read = crate::sql!("SELECT last_sync IS NOT NULL FROM artists WHERE id = $1::uuid");
    crate::with_tx!(tx, c, b => {
        sqlx::query_scalar::<_, bool>(read.text(b)).bind(artist_id).fetch_optional(c).await
    })
    .map(|v| v.unwrap_or(false))
    .map_err(probe_err("reading back the probe artist"))
}

type ProbeRun = (Vec<ProbeOutcome>, Vec<ProbeFailure>, bool);

/// The probes: insert an artist, a venue, a show linked to both, a song, a setlist and a setlist
/// song; write each again (the update path of every upsert, and the triggers that fire on it);
/// record a failed and a succeeded part on the artist; then give a second artist the same Spotify
/// track (collaborations are one track id under two artists, which the natural key allows).
/// Returns the outcomes, the failures and whether a failed part's update set `last_sync`.
async fn run_write_probes(store: &Store, cat: &Catalog) -> Result<ProbeRun, StoreError> {
    let mut p = Prober {
        tx: store.begin().await?,
        outcomes: Vec::new(),
        failures: Vec::new(),
    };
    if store.backend() == Backend::Postgres {
        // Fail instead of waiting behind a running sync's locks; check deferred constraints at
        // each statement, since this transaction never reaches COMMIT where they would fire.
        p.exec("SET LOCAL lock_timeout = '5s'").await?;
        p.exec("SET LOCAL statement_timeout = '60s'").await?;
        p.exec("SET CONSTRAINTS ALL IMMEDIATE").await?;
    }
    let rows = ProbeRows {
        tag: Uuid::new_v4().simple().to_string()[..12].to_string(),
    };
    let artist_tm = rows.tm("artist");
    let artist_spotify = format!("sdprobe{}a", rows.tag);
    let no_dep: Result<(), String> = Ok(());

    let artist = probe!(
        p,
        cat,
        "insert artist",
        "artists",
        no_dep.clone(),
        |tx, _| {
            insert_artist(
                tx,
                "syncdeck doctor probe artist",
                &artist_tm,
                &artist_spotify,
            )
            .await
        }
    );
    let venue = probe!(p, cat, "insert venue", "venues", no_dep.clone(), |tx, _| {
        upsert::upsert_venue(tx, &rows.venue("syncdeck doctor probe venue"))
            .await
            .map_err(ProbeError::from)
    });
    let show = probe!(
        p,
        cat,
        "insert show",
        "shows",
        needs(&artist, "artist"),
        |tx, a| {
            upsert::upsert_show(tx, &rows.show(ShowStatus::Upcoming), a)
                .await
                .map_err(ProbeError::from)
        }
    );
    let song = probe!(
        p,
        cat,
        "insert song",
        "songs",
        needs(&artist, "artist"),
        |tx, a| {
            upsert::upsert_song(tx, a, &rows.song("syncdeck doctor probe song"))
                .await
                .map_err(ProbeError::from)
        }
    );
    let setlist = probe!(
        p,
        cat,
        "insert setlist",
        "setlists",
        needs(&artist, "artist"),
        |tx, a| {
            upsert::upsert_setlist(
                tx,
                a,
                &rows.setlist(show.clone(), venue.clone(), "Probe Tour"),
            )
            .await
            .map_err(ProbeError::from)
        }
    );
    let setlist_song = probe!(
        p,
        cat,
        "insert setlist song",
        "setlist_songs",
        needs(&setlist, "setlist").and_then(|l| needs(&artist, "artist").map(|a| (l, a))),
        |tx, (l, a)| {
            upsert::upsert_setlist_song(tx, l, a, &rows.setlist_song(song.clone(), false))
                .await
                .map_err(ProbeError::from)
        }
    );

    // The same rows again: every upsert's DO UPDATE path, and the UPDATE triggers.
    probe!(
        p,
        cat,
        "update venue",
        "venues",
        needs(&venue, "venue"),
        |tx, _| {
            upsert::upsert_venue(tx, &rows.venue("syncdeck doctor probe venue (renamed)"))
                .await
                .map_err(ProbeError::from)
        }
    );
    probe!(
        p,
        cat,
        "update show",
        "shows",
        needs(&show, "show").and_then(|_| needs(&artist, "artist")),
        |tx, a| {
            upsert::upsert_show(tx, &rows.show(ShowStatus::Cancelled), a)
                .await
                .map_err(ProbeError::from)
        }
    );
    probe!(
        p,
        cat,
        "update song",
        "songs",
        needs(&song, "song").and_then(|_| needs(&artist, "artist")),
        |tx, a| {
            upsert::upsert_song(tx, a, &rows.song("syncdeck doctor probe song (remastered)"))
                .await
                .map_err(ProbeError::from)
        }
    );
    probe!(
        p,
        cat,
        "update setlist",
        "setlists",
        needs(&setlist, "setlist").and_then(|_| needs(&artist, "artist")),
        |tx, a| {
            upsert::upsert_setlist(
                tx,
                a,
                &rows.setlist(show.clone(), venue.clone(), "Probe Tour (leg 2)"),
            )
            .await
            .map_err(ProbeError::from)
        }
    );
    probe!(
        p,
        cat,
        "update setlist song",
        "setlist_songs",
        needs(&setlist_song, "setlist song")
            .and_then(|_| needs(&setlist, "setlist"))
            .and_then(|l| needs(&artist, "artist").map(|a| (l, a))),
        |tx, (l, a)| {
            upsert::upsert_setlist_song(tx, l, a, &rows.setlist_song(song.clone(), true))
                .await
                .map_err(ProbeError::from)
        }
    );

    // The artist's own bookkeeping. A failed part first: last_sync must stay as it was (NULL),
    // since it means "a part succeeded", so the app's "never synced" stays true.
    let last_sync_after_failure = probe!(
        p,
        cat,
        "update artist (failed part)",
        "artists",
        needs(&artist, "artist"),
        |tx, a| {
            record_part(
                tx,
                a,
                Source::Spotify,
                PartStatus::Error,
                Some("spotify: albums step: HTTP 503 (doctor probe)"),
                None,
            )
            .await
        }
    );
    probe!(
        p,
        cat,
        "update artist (succeeded part)",
        "artists",
        needs(&artist, "artist"),
        |tx, a| {
            record_part(
                tx,
                a,
                Source::Ticketmaster,
                PartStatus::Success,
                None,
                Some(1),
            )
            .await
        }
    );

    let second_tm = rows.tm("artist2");
    let second_spotify = format!("sdprobe{}b", rows.tag);
    let second = probe!(
        p,
        cat,
        "insert second artist",
        "artists",
        no_dep.clone(),
        |tx, _| {
            insert_artist(
                tx,
                "syncdeck doctor probe artist 2",
                &second_tm,
                &second_spotify,
            )
            .await
        }
    );
    probe!(
        p,
        cat,
        "same track for a second artist",
        "songs",
        needs(&second, "second artist").and_then(|b| needs(&song, "song").map(|_| b)),
        |tx, b| {
            upsert::upsert_song(
                tx,
                b,
                &rows.song("syncdeck doctor probe song (feat. probe 2)"),
            )
            .await
            .map_err(ProbeError::from)
        }
    );

    let Prober {
        tx,
        outcomes,
        failures,
    } = p;
    tx.rollback().await?;
    Ok((outcomes, failures, last_sync_after_failure.unwrap_or(false)))
}

// ---------------------------------------------------------------------------------------------
// Placing a failure on the object at fault
// ---------------------------------------------------------------------------------------------

/// Adds `f`, or merges it into an existing finding for the same object (a second probe that hit
/// the same trigger, a probe that confirms a catalog finding).
fn push_or_merge(findings: &mut Vec<Finding>, f: Finding) {
    if let Some(existing) = findings
        .iter_mut()
        .find(|x| x.kind == f.kind && x.object == f.object)
    {
        if existing.db_error.is_none() {
            existing.db_error = f.db_error;
        }
        for probe in f.probes {
            if !existing.probes.contains(&probe) {
                existing.probes.push(probe);
            }
        }
        existing.severity = existing.severity.min(f.severity);
        return;
    }
    findings.push(f);
}

async fn analyse_failure(
    store: &Store,
    cat: &Catalog,
    pf: &ProbeFailure,
    findings: &mut Vec<Finding>,
) -> Result<(), StoreError> {
    let f = &pf.failure;
    let table = pf.table;
    let code = f.code.as_str();
    let msg = f.message.as_str();
    let backend = store.backend();
    let sqlite = backend == Backend::Sqlite;

    // The upsert's conflict target has no unique key: the catalog check already said which.
    if (code == "42P10" || (sqlite && msg.contains("ON CONFLICT clause does not match")))
        && let Some(existing) = findings
            .iter_mut()
            .find(|x| x.kind == FindingKind::MissingUniqueKey && x.table == table)
    {
        if existing.db_error.is_none() {
            existing.db_error = Some(f.display());
        }
        existing.probes.push(pf.probe.clone());
        return Ok(());
    }

    // Raised inside a trigger function (Postgres tells us which, when we have the full error).
    if let Some(function) = f.context.as_deref().and_then(context_function) {
        let hits = triggers_running(cat, table, &function);
        if !hits.is_empty() && !is_rls_violation(code, msg) {
            let missing = missing_name(msg);
            for t in hits {
                push_or_merge(
                    findings,
                    trigger_finding(backend, t, missing.as_deref(), pf),
                );
            }
            return Ok(());
        }
    }

    let undefined = matches!(code, "42703" | "42P01" | "42883")
        || (sqlite
            && (msg.starts_with("no such column")
                || msg.contains("has no column named")
                || msg.starts_with("no such table")
                || msg.starts_with("no such function")));
    if undefined && let Some(name) = missing_name(msg) {
        // One of syncdeck's own columns that the catalog check found missing.
        let object = column_object(table, &name);
        if let Some(existing) = findings
            .iter_mut()
            .find(|x| x.kind == FindingKind::MissingColumn && x.object == object)
        {
            if existing.db_error.is_none() {
                existing.db_error = Some(f.display());
            }
            existing.probes.push(pf.probe.clone());
            return Ok(());
        }
        // Else a trigger whose code names it: on the written table first, then any table
        // (a trigger's function may write another table and fire that table's triggers).
        let hits = triggers_mentioning(cat, table, &name);
        if !hits.is_empty() {
            for t in hits {
                push_or_merge(findings, trigger_finding(backend, t, Some(&name), pf));
            }
            return Ok(());
        }
    }

    let unique = matches!(code, "23505" | "2067" | "1555");
    if unique
        && let Some((key_table, key)) = violated_key(cat, table, f)
        && !is_natural_key(&key_table, &key.columns)
    {
        let finding = conflicting_key_finding(store, &key_table, &key, pf).await?;
        push_or_merge(findings, finding);
        return Ok(());
    }

    if code == "42501" {
        if is_rls_violation(code, msg) {
            let mut finding = Finding::new(
                Severity::Required,
                FindingKind::RowLevelSecurity,
                table,
                format!("row-level security on {table}"),
                format!("the policies on {table} reject syncdeck's writes for the role it connects as"),
            )
            .advice(
                "connect syncdeck as the service role or the tables' owner (on Supabase, the database connection \
                 string of the postgres user, whose role bypasses these policies)",
            )
            .hit_by(&pf.probe, f);
            // Replaces the catalog's warning, which said the same thing before it was proven.
            if let Some(existing) = findings
                .iter_mut()
                .find(|x| x.kind == FindingKind::RowLevelSecurity && x.table == table)
            {
                finding.probes.append(&mut existing.probes);
                *existing = finding;
            } else {
                findings.push(finding);
            }
        } else {
            push_or_merge(
                findings,
                Finding::new(
                    Severity::Required,
                    FindingKind::Privilege,
                    table,
                    format!("privileges on {table}"),
                    format!("syncdeck's database user may not write {table}"),
                )
                .advice(format!(
                    "as the owner of {table}, run: GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO <syncdeck's user>; \
                     or connect syncdeck as the owner",
                    ident(table)
                ))
                .hit_by(&pf.probe, f),
            );
        }
        return Ok(());
    }

    if matches!(code, "23502" | "1299") {
        let column = f
            .column
            .clone()
            .or_else(|| quoted_after(msg, "column \""))
            .or_else(|| {
                msg.strip_prefix("NOT NULL constraint failed: ")
                    .map(|rest| last_segment(rest.trim()))
            });
        if let Some(column) = column {
            let mut finding = Finding::new(
                Severity::Required,
                FindingKind::NotNullColumn,
                table,
                column_object(table, &column),
                format!(
                    "{table}.{column} is NOT NULL without a default, and syncdeck leaves it empty on some writes \
                     (it does not fill it, or the provider had no value)"
                ),
            )
            .hit_by(&pf.probe, f);
            finding = match backend {
                Backend::Postgres => finding.fix(format!(
                    "ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL;",
                    ident(table),
                    ident(&column)
                )),
                Backend::Sqlite => finding.advice(
                    "SQLite cannot drop NOT NULL in place: rebuild the table without it (create the new table, copy the rows, drop the old one, rename)",
                ),
            };
            push_or_merge(findings, finding);
            return Ok(());
        }
    }

    if matches!(code, "23514" | "275") {
        let name = f
            .constraint
            .clone()
            .or_else(|| quoted_after(msg, "check constraint \""))
            .or_else(|| {
                msg.strip_prefix("CHECK constraint failed: ")
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "?".into());
        let advice = match backend {
            Backend::Postgres => format!(
                "see it with SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = {}; \
                 widen it to the values of syncdeck's data contract (design.md), or drop it",
                literal(&name)
            ),
            Backend::Sqlite => "compare it with the values of syncdeck's data contract (design.md); SQLite needs a table rebuild to change it".into(),
        };
        push_or_merge(
            findings,
            Finding::new(
                Severity::Required,
                FindingKind::CheckConstraint,
                table,
                format!("check constraint {name} on {table}"),
                format!("the check constraint {name} rejects a value syncdeck writes to {table}"),
            )
            .advice(advice)
            .hit_by(&pf.probe, f),
        );
        return Ok(());
    }

    let mut finding = Finding::new(
        Severity::Required,
        FindingKind::WriteFailed,
        table,
        format!("table {table}"),
        format!("the database refused syncdeck's write ({}) and doctor cannot tell which object is at fault", pf.probe),
    )
    .hit_by(&pf.probe, f);
    if let Some(hint) = f.hint.as_ref().filter(|h| !h.contains("doctor")) {
        finding = finding.advice(hint.clone());
    }
    push_or_merge(findings, finding);
    Ok(())
}

fn is_rls_violation(code: &str, msg: &str) -> bool {
    code == "42501" && msg.contains("row-level security")
}

/// `PL/pgSQL function update_artist_upcoming_shows_count() line 3 at IF` → its name. The
/// innermost function is the last such line.
fn context_function(context: &str) -> Option<String> {
    context
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find("PL/pgSQL function ")? + "PL/pgSQL function ".len()..];
            let name = &rest[..rest.find('(')?];
            Some(last_segment(name))
        })
        .next()
}

/// Triggers whose function is `function`: on `table` first, else on any table.
fn triggers_running<'a>(cat: &'a Catalog, table: &str, function: &str) -> Vec<&'a TriggerInfo> {
    prefer_table(
        cat.triggers
            .iter()
            .filter(|t| t.function_name.eq_ignore_ascii_case(function))
            .collect(),
        table,
    )
}

/// Triggers whose code names `name` as a whole word: on `table` first, else on any table.
fn triggers_mentioning<'a>(cat: &'a Catalog, table: &str, name: &str) -> Vec<&'a TriggerInfo> {
    prefer_table(
        cat.triggers
            .iter()
            .filter(|t| mentions_word(&t.source, name))
            .collect(),
        table,
    )
}

fn prefer_table<'a>(hits: Vec<&'a TriggerInfo>, table: &str) -> Vec<&'a TriggerInfo> {
    let own: Vec<&TriggerInfo> = hits.iter().copied().filter(|t| t.table == table).collect();
    if own.is_empty() { hits } else { own }
}

fn trigger_finding(
    backend: Backend,
    t: &TriggerInfo,
    missing: Option<&str>,
    pf: &ProbeFailure,
) -> Finding {
    let what = match missing {
        Some(name) => format!("refers to {name}, which does not exist"),
        None => "raises an error".to_string(),
    };
    let (problem, sql) = match backend {
        Backend::Postgres => (
            format!(
                "the trigger {} ({} on {}) runs {}, which {what}; every write to {} that fires it fails",
                t.name, t.timing, t.table, t.function, t.table
            ),
            format!(
                "-- Unblocks syncdeck's writes to {}. To keep what the trigger does, rewrite the function\n\
                 -- instead (its source: SELECT pg_get_functiondef({}::regprocedure);) and skip this.\n\
                 DROP TRIGGER IF EXISTS {} ON {};",
                t.table,
                literal(&t.function),
                ident(&t.name),
                ident(&t.table)
            ),
        ),
        Backend::Sqlite => (
            format!(
                "the trigger {} on {} {what}; every write to {} that fires it fails",
                t.name, t.table, t.table
            ),
            format!(
                "-- Unblocks syncdeck's writes to {}. To keep what the trigger does, recreate it without the fault instead.\n\
                 DROP TRIGGER IF EXISTS {};",
                t.table,
                ident(&t.name)
            ),
        ),
    };
    Finding::new(
        Severity::Required,
        FindingKind::BlockingTrigger,
        &t.table,
        t.object(),
        problem,
    )
    .fix(sql)
    .hit_by(&pf.probe, &pf.failure)
}

/// The unique key a 23505 (Postgres) or SQLITE_CONSTRAINT_UNIQUE was about, and its table.
fn violated_key(cat: &Catalog, table: &str, f: &DbFailure) -> Option<(String, UniqueKey)> {
    if let Some(name) = &f.constraint {
        let mut tables: Vec<&String> = cat.keys.keys().collect();
        tables.sort_by_key(|t| *t != table);
        for t in tables {
            if let Some(k) = cat
                .keys
                .get(t)
                .and_then(|ks| ks.iter().find(|k| &k.name == name))
            {
                return Some((t.clone(), k.clone()));
            }
        }
        return None;
    }
    // SQLite: `UNIQUE constraint failed: songs.spotify_id, songs.artist_id`.
    let rest = f.message.strip_prefix("UNIQUE constraint failed: ")?;
    let mut key_table = None;
    let mut columns = Vec::new();
    for part in rest.split(',') {
        let (t, c) = part.trim().split_once('.')?;
        key_table = Some(t.to_string());
        columns.push(c.to_string());
    }
    let key_table = key_table?;
    let key = cat
        .keys
        .get(&key_table)?
        .iter()
        .find(|k| {
            same_columns(
                &k.columns,
                &columns.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        })?
        .clone();
    Some((key_table, key))
}

async fn conflicting_key_finding(
    store: &Store,
    table: &str,
    key: &UniqueKey,
    pf: &ProbeFailure,
) -> Result<Finding, StoreError> {
    let natural = spec(table)
        .and_then(|s| s.keys.first())
        .map(|k| k.join(", "))
        .unwrap_or_default();
    let cols = key.columns.join(", ");
    let mut problem = format!(
        "{} makes ({cols}) unique on its own, but syncdeck keys {table} on ({natural}): a row the natural key \
         accepts is rejected",
        key.name
    );
    if table == "songs" && key.columns == ["spotify_id"] {
        problem.push_str(
            "; one Spotify track shared by two artists (a collaboration) can be stored for only one of them",
        );
    }
    let finding = Finding::new(
        Severity::Required,
        FindingKind::ConflictingUniqueKey,
        table,
        format!("unique key {} on {table} ({cols})", key.name),
        problem,
    )
    .hit_by(&pf.probe, &pf.failure);
    Ok(match &store.db {
        Db::Postgres(p) => {
            let is_constraint: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass(quote_ident($2)))",
            )
            .bind(&key.name)
            .bind(table)
            .fetch_one(p)
            .await
            .map_err(|e| StoreError::query("reading a constraint", e))?;
            let drop = if is_constraint {
                format!(
                    "ALTER TABLE {} DROP CONSTRAINT {};",
                    ident(table),
                    ident(&key.name)
                )
            } else {
                format!("DROP INDEX {};", ident(&key.name))
            };
            finding.fix(format!(
                "-- syncdeck's natural key ({natural}) stays; only the extra key goes.\n{drop}"
            ))
        }
        Db::Sqlite(_) if key.name.starts_with("sqlite_autoindex_") => finding.advice(
            "the key is part of the table's definition and SQLite cannot drop it in place: rebuild the table without it \
             (create the new table, copy the rows, drop the old one, rename)",
        ),
        Db::Sqlite(_) => finding.fix(format!("DROP INDEX IF EXISTS {};", ident(&key.name))),
    })
}

/// A failed part's update set `last_sync`: something rewrites it on every update.
fn report_last_sync_overwrite(cat: &Catalog, findings: &mut Vec<Finding>) {
    let problem = "every update of an artist sets last_sync, so an artist whose sync failed looks freshly synced and \
                   the console's \"never synced\" and \"last sync\" lie; syncdeck sets last_sync only when a part succeeds";
    let culprits: Vec<&TriggerInfo> = cat
        .triggers
        .iter()
        .filter(|t| t.table == "artists" && mentions_word(&t.source, "last_sync"))
        .collect();
    if culprits.is_empty() {
        findings.push(Finding::new(
            Severity::Warning,
            FindingKind::TriggerOverwrites,
            "artists",
            column_object("artists", "last_sync"),
            format!("{problem} (doctor found no trigger that names it; look for a rule or a trigger in another schema)"),
        ));
        return;
    }
    for t in culprits {
        let mut f = Finding::new(
            Severity::Warning,
            FindingKind::TriggerOverwrites,
            "artists",
            t.object(),
            format!("{} ({}): {problem}", t.name, t.timing.trim()),
        )
        .fix(format!(
            "-- Stops {} from stamping last_sync on every update; syncdeck stamps it itself.\nDROP TRIGGER IF EXISTS {} ON artists;",
            t.name,
            ident(&t.name)
        ));
        f.probes.push("update artist (failed part)".into());
        findings.push(f);
    }
}

/// The console's reads: the artists list filtered and sorted by status (jsonb functions on
/// Postgres) and one artist's detail. Read-only, on the pool.
async fn read_probe(
    store: &Store,
    cat: &Catalog,
    findings: &mut Vec<Finding>,
) -> Result<(), StoreError> {
    let all = ["artists", "songs", "shows", "setlists"]
        .iter()
        .all(|t| cat.tables.contains(*t));
    let columns_missing = findings
        .iter()
        .any(|f| f.kind == FindingKind::MissingColumn && f.table == "artists");
    if !all || columns_missing {
        return Ok(());
    }
    let query = ListQuery {
        filter: ArtistFilter {
            parts: vec![(Source::Ticketmaster, PartStatus::Error)],
            overall: Some(Overall::Error),
            ..ArtistFilter::default()
        },
        sort: SortKey::Overall,
        limit: 1,
        ..ListQuery::default()
    };
    let mut result = store.list_artists(&query).await.map(|_| ());
    if result.is_ok() {
        let q = crate::sql!("SELECT id::text FROM artists LIMIT 1");
        let id: Option<String> = crate::with_pool!(&store.db, pool, b => {
            sqlx::query_scalar(q.text(b)).fetch_optional(pool).await
        })
        .map_err(|e| StoreError::query("reading an artist id", e))?;
        if let Some(id) = id {
            result = store.artist_detail(&id).await.map(|_| ());
        }
    }
    let Err(e) = result else {
        return Ok(());
    };
    let Some(failure) = DbFailure::from_store(&e) else {
        return Err(e);
    };
    if let Some(existing) = findings.iter_mut().find(|f| {
        f.kind == FindingKind::ColumnType && f.object == column_object("artists", "sync_status")
    }) {
        existing.severity = Severity::Required;
        existing.db_error = Some(failure.display());
        existing
            .problem
            .push_str("; the console's artist list fails on it");
        existing.probes.push("read artists".into());
        return Ok(());
    }
    let mut f = Finding::new(
        Severity::Required,
        FindingKind::ReadFailed,
        "artists",
        "table artists".into(),
        "the console's artist list or detail query fails".into(),
    );
    f.db_error = Some(failure.display());
    f.probes.push("read artists".into());
    findings.push(f);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// apply_fixes
// ---------------------------------------------------------------------------------------------

/// Runs the fix SQL of `findings` (those that have one) in one transaction: all or nothing.
/// Columns are added before keys on them, whatever order the findings come in.
pub async fn apply_fixes(store: &Store, findings: &[Finding]) -> Result<(), StoreError> {
    let mut ordered: Vec<&Finding> = findings.iter().filter(|f| f.fix_sql.is_some()).collect();
    if ordered.is_empty() {
        return Ok(());
    }
    ordered.sort_by_key(|f| f.kind.fix_order());
    let mut tx = store.begin().await?;
    if store.backend() == Backend::Postgres {
        // DDL takes an exclusive lock and every reader of the table queues behind a waiting one;
        // on a live app database, give up rather than stall the app.
        crate::with_tx!(&mut tx, c, _b => {
            sqlx::raw_sql("SET LOCAL lock_timeout = '10s'").execute(c).await.map(|_| ())
        })
        .map_err(|e| StoreError::query("setting lock_timeout", e))?;
    }
    for f in ordered {
        let Some(sql) = f.fix_sql.clone() else {
            continue;
        };
        let result = crate::with_tx!(&mut tx, c, _b => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(c).await.map(|_| ())
        });
        if let Err(e) = result {
            // Dropping the transaction rolls it back; say so explicitly to surface a failure there.
            let err = StoreError::query(
                format!("applying the fix for {} (nothing was changed)", f.object),
                e,
            );
            tx.rollback().await?;
            return Err(err);
        }
    }
    tx.commit().await
}

// ---------------------------------------------------------------------------------------------
// Small text helpers
// ---------------------------------------------------------------------------------------------

/// Keywords that cannot be a bare column or table name in Postgres (and a few SQLite adds).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "index",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

/// An identifier as SQL: bare when it is a plain lower-case name, else double-quoted.
fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The text between `prefix` and the next `"`.
fn quoted_after(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)? + prefix.len();
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_string())
}

fn last_segment(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim_matches('"')
        .to_string()
}

/// The name an "undefined object" error is about: `column "x" does not exist`,
/// `column s.x does not exist`, `record "new" has no field "x"`, `relation "x" does not exist`,
/// `function f(uuid) does not exist`; SQLite's `no such column: NEW.x`, `table t has no column
/// named x`, `no such table: main.x`.
fn missing_name(msg: &str) -> Option<String> {
    if let Some(n) = quoted_after(msg, "has no field \"") {
        return Some(n);
    }
    for prefix in ["column \"", "relation \""] {
        if msg.starts_with(prefix) {
            return quoted_after(msg, prefix).map(|n| last_segment(&n));
        }
    }
    for prefix in ["column ", "function "] {
        if let Some(rest) = msg.strip_prefix(prefix) {
            let name = rest.split([' ', '(']).next()?;
            return Some(last_segment(name));
        }
    }
    for marker in [
        "no such column: ",
        "has no column named ",
        "no such table: ",
        "no such function: ",
    ] {
        if let Some(i) = msg.find(marker) {
            let rest = msg[i + marker.len()..].split_whitespace().next()?;
            return Some(last_segment(rest));
        }
    }
    None
}

/// Whether `word` occurs in `text` as a whole identifier (case-insensitive): `last_sync` is in
/// `NEW.last_sync = now()` but not in `last_sync_error`.
fn mentions_word(text: &str, word: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let word = word.to_ascii_lowercase();
    if word.is_empty() {
        return false;
    }
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = text[from..].find(&word) {
        let start = from + i;
        let end = start + word.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return true;
        }
        from = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_names_are_read_from_both_backends_messages() {
        assert_eq!(
            missing_name(r#"record "new" has no field "show_time""#).as_deref(),
            Some("show_time")
        );
        assert_eq!(
            missing_name(r#"column "timezone" of relation "venues" does not exist"#).as_deref(),
            Some("timezone")
        );
        assert_eq!(
            missing_name("column s.show_time does not exist").as_deref(),
            Some("show_time")
        );
        assert_eq!(
            missing_name(r#"relation "public.sync_queue" does not exist"#).as_deref(),
            Some("sync_queue")
        );
        assert_eq!(
            missing_name("function get_artist_data(uuid) does not exist").as_deref(),
            Some("get_artist_data")
        );
        assert_eq!(
            missing_name("no such column: NEW.show_time").as_deref(),
            Some("show_time")
        );
        assert_eq!(
            missing_name("table venues has no column named timezone").as_deref(),
            Some("timezone")
        );
    }

    #[test]
    fn words_match_whole_identifiers_only() {
        assert!(mentions_word("NEW.last_sync = NOW();", "last_sync"));
        assert!(!mentions_word(
            "NEW.last_sync_error = NULL; x.last_spotify_sync",
            "last_sync"
        ));
        assert!(mentions_word("IF NEW.SHOW_TIME > now()", "show_time"));
    }

    #[test]
    fn described_errors_split_into_message_code_and_hint() {
        let e = StoreError::Query {
            context: "upserting song x".into(),
            reason: "duplicate key value violates unique constraint \"songs_spotify_id_key\" (code 23505)".into(),
        };
        let f = DbFailure::from_store(&e).expect("a database error");
        assert_eq!(f.code, "23505");
        assert_eq!(f.constraint.as_deref(), Some("songs_spotify_id_key"));
        let e = StoreError::Query {
            context: "x".into(),
            reason: "record \"new\" has no field \"show_time\" (code 42703); a column is missing: run `syncdeck doctor`".into(),
        };
        let f = DbFailure::from_store(&e).expect("a database error");
        assert_eq!(f.message, "record \"new\" has no field \"show_time\"");
        assert_eq!(f.code, "42703");
        assert!(f.hint.is_some_and(|h| h.contains("doctor")));
        let e = StoreError::Query {
            context: "x".into(),
            reason: "connection refused: is the server running".into(),
        };
        assert!(
            DbFailure::from_store(&e).is_none(),
            "not a database error: doctor must stop"
        );
    }

    #[test]
    fn pl_pgsql_context_names_the_innermost_function() {
        let ctx = "SQL expression \"NEW.show_time > NOW()\"\nPL/pgSQL function update_artist_upcoming_shows_count() line 3 at IF";
        assert_eq!(
            context_function(ctx).as_deref(),
            Some("update_artist_upcoming_shows_count")
        );
        assert_eq!(context_function("SQL statement \"x\""), None);
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(ident("venues"), "venues");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("Weird\"Name"), "\"Weird\"\"Name\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn keys_match_in_any_order() {
        let have = vec!["artist_id".to_string(), "spotify_id".to_string()];
        assert!(same_columns(&have, &["spotify_id", "artist_id"]));
        assert!(!same_columns(&have, &["spotify_id"]));
        assert!(is_natural_key("songs", &have));
        assert!(!is_natural_key("songs", &["spotify_id".to_string()]));
    }
}
