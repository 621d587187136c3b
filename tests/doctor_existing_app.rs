//! `migrate` and `doctor` against an existing app database shaped like the live one
//! (tests/fixtures/app_schema_live.sql): migrate leaves every app object and row alone; doctor
//! finds the trigger that breaks every show write and the extra unique key that breaks shared
//! tracks, proves it with rolled-back writes that leave the database exactly as it was, and its
//! fixes make the database clean. Postgres tests are mandatory (see tests/common).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{PgDatabase, migrated_store, skip_pg, sqlite_url};
use sqlx::{Connection, PgConnection};
use syncdeck::store::doctor::{self, DoctorReport, Finding, FindingKind, ProbeResult, Severity};
use syncdeck::store::inspect::{self, SYNCDECK_TABLES};
use syncdeck::store::{OpenMode, Store, migrate};

const FIXTURE: &str = include_str!("fixtures/app_schema_live.sql");

async fn connect(db: &PgDatabase) -> PgConnection {
    PgConnection::connect(&db.url)
        .await
        .expect("connect to the test database")
}

async fn exec(db: &PgDatabase, sql: &str) {
    let mut conn = connect(db).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("running {sql}: {e}"));
}

/// A fresh database holding the live app schema and its rows.
async fn app_database(tag: &str) -> PgDatabase {
    let db = PgDatabase::create(tag).await;
    exec(&db, FIXTURE).await;
    db
}

async fn open(db: &PgDatabase) -> Store {
    Store::open(&db.database_url(), OpenMode::Existing)
        .await
        .expect("open the store")
}

/// Everything a change could touch, one line per object, each tagged with its schema and table:
/// columns (type, nullability, default), constraints, indexes, triggers (and enabled state),
/// policies, RLS flags, function sources, sequence positions, and every table's rows (count
/// and a hash of their text).
async fn fingerprint(db: &PgDatabase) -> Vec<(String, String)> {
    let mut conn = connect(db).await;
    const USER: &str = "NOT IN ('pg_catalog', 'information_schema', 'pg_toast')";
    let queries = [
        format!(
            "SELECT table_schema || '.' || table_name, 'column ' || column_name || ' ' || data_type || ' ' || udt_name || ' ' || is_nullable || ' ' || COALESCE(column_default, '') \
             FROM information_schema.columns WHERE table_schema {USER}"
        ),
        format!(
            "SELECT n.nspname || '.' || c.relname, 'constraint ' || con.conname || ' ' || pg_get_constraintdef(con.oid) \
             FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname {USER}"
        ),
        format!("SELECT schemaname || '.' || tablename, 'index ' || indexdef FROM pg_indexes WHERE schemaname {USER}"),
        "SELECT n.nspname || '.' || c.relname, 'trigger ' || t.tgname || ' ' || t.tgenabled::text || ' ' || pg_get_triggerdef(t.oid) \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal"
            .to_string(),
        "SELECT schemaname || '.' || tablename, 'policy ' || policyname || ' ' || cmd || ' ' || COALESCE(qual, '') || ' ' || COALESCE(with_check, '') FROM pg_policies"
            .to_string(),
        format!(
            "SELECT n.nspname || '.' || c.relname, 'rls ' || c.relrowsecurity || ' ' || c.relforcerowsecurity \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname {USER}"
        ),
        // Functions an extension brings are the extension's, listed once as the extension.
        format!(
            "SELECT n.nspname || '.' || p.proname, 'function ' || p.oid::regprocedure::text || ' ' || md5(COALESCE(p.prosrc, '')) \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname {USER} \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')"
        ),
        "SELECT n.nspname || '.' || e.extname, 'extension ' || e.extname || ' ' || e.extversion \
         FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            .to_string(),
        "SELECT schemaname || '.' || sequencename, 'sequence ' || COALESCE(last_value::text, 'unused') FROM pg_sequences".to_string(),
    ];
    let mut out = Vec::new();
    for q in queries {
        let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(q.clone()))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        out.extend(rows);
    }
    let tables: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables \
         WHERE table_type = 'BASE TABLE' AND table_schema {USER}"
    )))
    .fetch_all(&mut conn)
    .await
    .expect("list tables");
    for t in tables {
        let q = format!(
            "SELECT count(*)::text || ' ' || COALESCE(md5(string_agg(r::text, '|' ORDER BY r::text)), '-') FROM {t} r"
        );
        let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(q))
            .fetch_one(&mut conn)
            .await
            .expect("hash rows");
        out.push((t.replace('"', ""), format!("rows {rows}")));
    }
    out.sort();
    out
}

/// The part of a fingerprint that belongs to the app: not syncdeck's tables, not apalis's schema.
fn app_part(fp: &[(String, String)]) -> BTreeSet<(String, String)> {
    fp.iter()
        .filter(|(obj, _)| {
            let (schema, name) = obj.split_once('.').unwrap_or(("", obj));
            schema != "apalis" && !name.starts_with("syncdeck_")
        })
        .cloned()
        .collect()
}

fn assert_same(
    what: &str,
    before: &BTreeSet<(String, String)>,
    after: &BTreeSet<(String, String)>,
) {
    let gone: Vec<_> = before.difference(after).collect();
    let new: Vec<_> = after.difference(before).collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "{what} changed\n  before only: {gone:#?}\n  after only: {new:#?}"
    );
}

fn required(report: &DoctorReport) -> Vec<&Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Required)
        .collect()
}

fn find<'a>(report: &'a DoctorReport, kind: FindingKind, object_part: &str) -> &'a Finding {
    report
        .findings
        .iter()
        .find(|f| f.kind == kind && f.object.contains(object_part))
        .unwrap_or_else(|| {
            panic!(
                "no {kind:?} finding about {object_part}; findings: {:#?}",
                report.findings
            )
        })
}

fn probe_result<'a>(report: &'a DoctorReport, name: &str) -> &'a ProbeResult {
    &report
        .probes
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no probe {name}: {:#?}", report.probes))
        .result
}

async fn trigger_exists(db: &PgDatabase, name: &str) -> bool {
    let mut conn = connect(db).await;
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .expect("read pg_trigger")
}

// (a) ------------------------------------------------------------------------------------------

#[tokio::test]
async fn migrate_on_the_live_app_schema_changes_no_app_column_or_row() {
    if skip_pg() {
        return;
    }
    let db = app_database("doctor_migrate").await;
    let before = fingerprint(&db).await;
    let store = open(&db).await;

    let report = migrate::migrate(&store)
        .await
        .expect("migrate an existing app database");
    assert!(
        report.existing_app_database,
        "the app's tables were there first"
    );
    assert!(
        !report.syncdeck_applied.is_empty() && report.apalis_applied > 0,
        "{report:?}"
    );

    let after = fingerprint(&db).await;
    // apalis's migrations run `CREATE EXTENSION IF NOT EXISTS hstore` (and pgcrypto, which the
    // app database already has in `extensions`), which lands in the first schema of the
    // search_path. That is the only addition allowed outside syncdeck_ tables and `apalis`.
    assert_same(
        "the app's schema and rows (migrate)",
        &app_part(&before),
        &app_part(&after)
            .into_iter()
            .filter(|(_, l)| !l.starts_with("extension hstore "))
            .collect(),
    );
    // Spot checks that the fingerprint saw what matters: the app's column types and rows.
    let after_set = app_part(&after);
    for expected in [
        ("public.shows", "column date date date YES "),
        ("public.setlists", "column date date date YES "),
        ("public.venues", "column latitude numeric numeric YES "),
        (
            "public.artists",
            "column sync_status jsonb jsonb YES '{}'::jsonb",
        ),
        ("public.artists", "rows 3"),
    ] {
        assert!(
            after_set
                .iter()
                .any(|(o, l)| o == expected.0 && l.starts_with(expected.1)),
            "{expected:?} missing from {after_set:#?}"
        );
    }

    let tables = inspect::present_tables(&store).await.expect("tables");
    for t in SYNCDECK_TABLES {
        assert!(tables.contains(*t), "{t} was not created: {tables:?}");
    }
    assert!(
        tables.contains("apalis.jobs"),
        "apalis's jobs table is missing: {tables:?}"
    );

    let again = migrate::migrate(&store).await.expect("migrate again");
    assert!(again.syncdeck_applied.is_empty(), "{again:?}");
    assert_eq!(again.apalis_applied, 0, "{again:?}");
    assert_eq!(
        fingerprint(&db).await,
        after,
        "a second migrate changed something"
    );
    store.close().await;
}

// (b) ------------------------------------------------------------------------------------------

#[tokio::test]
async fn doctor_names_the_broken_trigger_and_the_extra_song_key_and_leaves_no_trace() {
    if skip_pg() {
        return;
    }
    let db = app_database("doctor_live").await;
    let store = open(&db).await;
    migrate::migrate(&store).await.expect("migrate");
    let before = fingerprint(&db).await;

    let report = doctor::diagnose(&store).await.expect("diagnose");

    assert_eq!(
        fingerprint(&db).await,
        before,
        "diagnose left something behind"
    );

    let trigger = find(
        &report,
        FindingKind::BlockingTrigger,
        "shows_upcoming_count_trigger",
    );
    assert_eq!(trigger.severity, Severity::Required);
    assert_eq!(trigger.table, "shows");
    assert!(
        trigger
            .object
            .contains("update_artist_upcoming_shows_count()"),
        "{trigger:#?}"
    );
    let error = trigger.db_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("show_time") && error.contains("42703"),
        "{error}"
    );
    let fix = trigger.fix_sql.as_deref().unwrap_or_default();
    assert!(
        fix.contains("DROP TRIGGER IF EXISTS shows_upcoming_count_trigger ON shows;"),
        "{fix}"
    );
    assert!(
        fix.contains("pg_get_functiondef('update_artist_upcoming_shows_count()'::regprocedure)"),
        "{fix}"
    );

    let key = find(
        &report,
        FindingKind::ConflictingUniqueKey,
        "songs_spotify_id_key",
    );
    assert_eq!(key.severity, Severity::Required);
    assert_eq!(key.table, "songs");
    let error = key.db_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("songs_spotify_id_key") && error.contains("23505"),
        "{error}"
    );
    assert!(
        key.fix_sql
            .as_deref()
            .unwrap_or_default()
            .contains("ALTER TABLE songs DROP CONSTRAINT songs_spotify_id_key;"),
        "{key:#?}"
    );
    assert_eq!(
        key.probes,
        vec!["same track for a second artist".to_string()]
    );

    // Exactly those two are required: the live schema has every column and natural key.
    let mut objects: Vec<&str> = required(&report)
        .iter()
        .map(|f| f.object.as_str())
        .collect();
    objects.sort();
    assert_eq!(
        objects,
        vec![
            "trigger shows_upcoming_count_trigger on shows (function update_artist_upcoming_shows_count())",
            "unique key songs_spotify_id_key on songs (spotify_id)",
        ],
        "{:#?}",
        report.findings
    );

    // The live trigger that stamps last_sync on every update is a warning, with its SQL.
    let stamp = find(
        &report,
        FindingKind::TriggerOverwrites,
        "update_artist_last_sync_trigger",
    );
    assert_eq!(stamp.severity, Severity::Warning);
    assert!(
        stamp
            .fix_sql
            .as_deref()
            .unwrap_or_default()
            .contains("DROP TRIGGER IF EXISTS update_artist_last_sync_trigger ON artists;")
    );

    // Connected as a superuser: RLS does not apply, so no RLS warning.
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.kind != FindingKind::RowLevelSecurity),
        "{:#?}",
        report.findings
    );

    assert_eq!(probe_result(&report, "insert show"), &ProbeResult::Failed);
    assert!(matches!(
        probe_result(&report, "update show"),
        ProbeResult::Skipped(_)
    ));
    for ok in [
        "insert artist",
        "insert venue",
        "insert song",
        "insert setlist",
        "insert setlist song",
        "update venue",
        "update artist (succeeded part)",
    ] {
        assert_eq!(probe_result(&report, ok), &ProbeResult::Ok, "{ok}");
    }
    store.close().await;
}

// (c) ------------------------------------------------------------------------------------------

#[tokio::test]
async fn applying_the_fixes_leaves_no_required_finding_and_keeps_the_rows() {
    if skip_pg() {
        return;
    }
    let db = app_database("doctor_fix").await;
    let store = open(&db).await;
    migrate::migrate(&store).await.expect("migrate");
    let before = app_part(&fingerprint(&db).await);

    let report = doctor::diagnose(&store).await.expect("diagnose");
    let fixes = report.fixable();
    assert_eq!(fixes.len(), 2, "{fixes:#?}");
    doctor::apply_fixes(&store, &fixes)
        .await
        .expect("apply the fixes");

    let after = doctor::diagnose(&store)
        .await
        .expect("diagnose after the fixes");
    assert!(required(&after).is_empty(), "{:#?}", after.findings);
    assert!(
        after.probes.iter().all(|p| p.result == ProbeResult::Ok),
        "every probe should pass now: {:#?}",
        after.probes
    );
    assert!(!trigger_exists(&db, "shows_upcoming_count_trigger").await);

    // Only the two objects went; every row and every other object is as it was, and syncdeck's
    // natural key on songs is still there.
    let now = app_part(&fingerprint(&db).await);
    let gone: Vec<String> = before
        .difference(&now)
        .map(|(o, l)| format!("{o} {l}"))
        .collect();
    assert_eq!(gone.len(), 3, "{gone:#?}");
    assert!(
        gone.iter()
            .any(|l| l.contains("trigger shows_upcoming_count_trigger")),
        "{gone:#?}"
    );
    assert!(
        gone.iter()
            .any(|l| l.contains("constraint songs_spotify_id_key ")),
        "{gone:#?}"
    );
    assert!(
        gone.iter()
            .any(|l| l.contains("index CREATE UNIQUE INDEX songs_spotify_id_key ")),
        "{gone:#?}"
    );
    assert!(
        now.difference(&before).next().is_none(),
        "the fixes added something"
    );
    store.close().await;
}

// (d) ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_missing_venue_key_is_reported_with_the_sql_to_add_it() {
    if skip_pg() {
        return;
    }
    let db = app_database("doctor_nokey").await;
    exec(&db, "ALTER TABLE venues DROP CONSTRAINT venues_ticketmaster_id_key; DROP INDEX venues_ticketmaster_id_unique;").await;
    let store = open(&db).await;
    migrate::migrate(&store).await.expect("migrate");

    let report = doctor::diagnose(&store).await.expect("diagnose");
    let key = find(
        &report,
        FindingKind::MissingUniqueKey,
        "unique key venues (ticketmaster_id)",
    );
    assert_eq!(key.severity, Severity::Required);
    let fix = key.fix_sql.as_deref().unwrap_or_default();
    assert!(
        fix.contains(
            "ALTER TABLE venues ADD CONSTRAINT venues_ticketmaster_id_key UNIQUE (ticketmaster_id);"
        ),
        "{fix}"
    );
    assert!(
        fix.contains("-- ") && fix.contains("GROUP BY ticketmaster_id HAVING count(*) > 1"),
        "the SQL says how to find duplicates first: {fix}"
    );
    // The venue probe hit it for real: Postgres's own words about the ON CONFLICT target.
    assert!(
        key.db_error
            .as_deref()
            .unwrap_or_default()
            .contains("42P10"),
        "{key:#?}"
    );

    // A duplicate blocks the key: doctor says so, and applying all fixes fails as one: nothing
    // (not even the trigger drop) is applied.
    exec(
        &db,
        "INSERT INTO venues (name, ticketmaster_id) VALUES ('MSG again', 'KovZpZA7AAEA')",
    )
    .await;
    let report = doctor::diagnose(&store).await.expect("diagnose");
    let key = find(
        &report,
        FindingKind::MissingUniqueKey,
        "unique key venues (ticketmaster_id)",
    );
    assert!(
        key.problem.contains("1 value(s) occur more than once"),
        "{}",
        key.problem
    );
    let before = fingerprint(&db).await;
    let err = doctor::apply_fixes(&store, &report.fixable())
        .await
        .expect_err("a duplicate blocks the key");
    assert!(err.to_string().contains("venues"), "{err}");
    assert_eq!(
        fingerprint(&db).await,
        before,
        "a failed apply_fixes must change nothing"
    );
    assert!(trigger_exists(&db, "shows_upcoming_count_trigger").await);

    // Without the duplicate, the fixes apply and the key is back.
    exec(&db, "DELETE FROM venues WHERE name = 'MSG again'").await;
    doctor::apply_fixes(&store, &report.fixable())
        .await
        .expect("apply");
    let after = doctor::diagnose(&store).await.expect("diagnose");
    assert!(required(&after).is_empty(), "{:#?}", after.findings);
    let keys = inspect::unique_keys(&store, "venues").await.expect("keys");
    assert!(
        keys.iter()
            .any(|k| k.name == "venues_ticketmaster_id_key" && k.columns == ["ticketmaster_id"]),
        "{keys:?}"
    );
    store.close().await;
}

// (e) ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_fresh_migrated_postgres_database_is_clean() {
    if skip_pg() {
        return;
    }
    let db = PgDatabase::create("doctor_fresh").await;
    let store = migrated_store(&db.database_url()).await;
    let before = fingerprint(&db).await;
    let report = doctor::diagnose(&store).await.expect("diagnose");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(
        report.probes.iter().all(|p| p.result == ProbeResult::Ok),
        "{:#?}",
        report.probes
    );
    assert_eq!(report.probes.len(), 15);
    assert_eq!(fingerprint(&db).await, before);
    store.close().await;
}

async fn sqlite_counts(store: &Store) -> Vec<i64> {
    let mut out = Vec::new();
    for t in [
        "artists",
        "venues",
        "shows",
        "songs",
        "setlists",
        "setlist_songs",
    ] {
        let sql = format!("SELECT count(*) FROM {t}");
        out.push(syncdeck::with_pool!(&store.db, p, _b => {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(p).await.expect("count")
        }));
    }
    out
}

#[tokio::test]
async fn a_fresh_migrated_sqlite_database_is_clean() {
    let (_dir, url) = sqlite_url();
    let store = migrated_store(&url).await;
    let report = doctor::diagnose(&store).await.expect("diagnose");
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(
        report.probes.iter().all(|p| p.result == ProbeResult::Ok),
        "{:#?}",
        report.probes
    );
    assert_eq!(
        sqlite_counts(&store).await,
        vec![0; 6],
        "the probes were rolled back"
    );
    store.close().await;
}

#[tokio::test]
async fn on_sqlite_a_broken_trigger_and_an_extra_song_key_are_found_and_fixed() {
    let (_dir, url) = sqlite_url();
    let store = migrated_store(&url).await;
    let setup = "CREATE TRIGGER shows_count AFTER INSERT ON shows BEGIN \
                   UPDATE artists SET upcoming_shows_count = NEW.show_time WHERE id = NEW.artist_id; END; \
                 CREATE UNIQUE INDEX songs_spotify_only ON songs (spotify_id);";
    syncdeck::with_pool!(&store.db, p, _b => {
        sqlx::raw_sql(setup).execute(p).await.expect("set up");
    });
    let report = doctor::diagnose(&store).await.expect("diagnose");
    let trigger = find(
        &report,
        FindingKind::BlockingTrigger,
        "trigger shows_count on shows",
    );
    assert!(
        trigger
            .db_error
            .as_deref()
            .unwrap_or_default()
            .contains("show_time"),
        "{trigger:#?}"
    );
    assert!(
        trigger
            .fix_sql
            .as_deref()
            .unwrap_or_default()
            .contains("DROP TRIGGER IF EXISTS shows_count;")
    );
    let key = find(
        &report,
        FindingKind::ConflictingUniqueKey,
        "songs_spotify_only",
    );
    assert!(
        key.fix_sql
            .as_deref()
            .unwrap_or_default()
            .contains("DROP INDEX IF EXISTS songs_spotify_only;")
    );
    assert_eq!(required(&report).len(), 2, "{:#?}", report.findings);
    assert_eq!(
        sqlite_counts(&store).await,
        vec![0; 6],
        "the probes were rolled back"
    );

    doctor::apply_fixes(&store, &report.fixable())
        .await
        .expect("apply");
    let after = doctor::diagnose(&store).await.expect("diagnose");
    assert!(after.findings.is_empty(), "{:#?}", after.findings);
    store.close().await;
}

// (f) ------------------------------------------------------------------------------------------

fn syncdeck(url: &str, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_syncdeck"));
    cmd.args(args)
        // A temp working directory, so no developer's .env is read.
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env("SYNCDECK_DATA_DIR", dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for var in [
        "TICKETMASTER_API_KEY",
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "SETLISTFM_API_KEY",
        "SETLIST_FM_API_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().expect("run syncdeck")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_doctor_command_end_to_end() {
    if skip_pg() {
        return;
    }
    let db = app_database("doctor_cli").await;
    let dir = tempfile::tempdir().expect("temp dir");

    // Before migrate: the app's problems are reported, and so is the missing migrate.
    let out = syncdeck(&db.url, dir.path(), &["doctor"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("run `syncdeck migrate`"), "{stdout}");
    assert!(stdout.contains("show_time"), "{stdout}");

    let out = syncdeck(&db.url, dir.path(), &["migrate"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    let out = syncdeck(&db.url, dir.path(), &["doctor"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for needle in [
        "show_time",
        "shows_upcoming_count_trigger",
        "DROP TRIGGER IF EXISTS shows_upcoming_count_trigger ON shows;",
        "ALTER TABLE songs DROP CONSTRAINT songs_spotify_id_key;",
        "venues: no problems found",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }

    // --fix without a terminal and without --yes refuses and changes nothing.
    let out = syncdeck(&db.url, dir.path(), &["doctor", "--fix"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("refusing to apply fixes"), "{stderr}");
    assert!(trigger_exists(&db, "shows_upcoming_count_trigger").await);

    let out = syncdeck(&db.url, dir.path(), &["doctor", "--fix", "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("applied 2 fixes"), "{stdout}");
    assert!(!trigger_exists(&db, "shows_upcoming_count_trigger").await);

    let out = syncdeck(&db.url, dir.path(), &["doctor"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("[required]"), "{stdout}");
    assert!(stdout.contains("shows: no problems found"), "{stdout}");
}

/// `doctor --fix` on a real terminal asks, and does only what the answer says.
#[tokio::test]
async fn doctor_fix_asks_on_a_terminal() {
    if skip_pg() {
        return;
    }
    let db = app_database("doctor_tty").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = syncdeck(&db.url, dir.path(), &["migrate"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    let (code, screen) = doctor_fix_on_a_terminal(&db.url, dir.path(), "n");
    assert!(screen.contains("apply these 2 fixes? [y/N]"), "{screen}");
    assert!(screen.contains("not applied"), "{screen}");
    assert_eq!(code, 1, "{screen}");
    assert!(trigger_exists(&db, "shows_upcoming_count_trigger").await);

    let (code, screen) = doctor_fix_on_a_terminal(&db.url, dir.path(), "y");
    assert!(screen.contains("applied 2 fixes"), "{screen}");
    assert_eq!(code, 0, "{screen}");
    assert!(!trigger_exists(&db, "shows_upcoming_count_trigger").await);
}

/// Runs `syncdeck doctor --fix` on a pseudo-terminal, answers the question, returns the exit
/// code and everything it printed.
fn doctor_fix_on_a_terminal(url: &str, dir: &Path, answer: &str) -> (u32, String) {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 60,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("open a pty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_syncdeck"));
    cmd.args(["doctor", "--fix"]);
    cmd.cwd(dir);
    cmd.env("DATABASE_URL", url);
    cmd.env("SYNCDECK_DATA_DIR", dir);
    cmd.env("NO_COLOR", "1");
    let mut child = pair
        .slave
        .spawn_command(cmd)
        .expect("spawn syncdeck on the pty");
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().expect("pty reader");
    let mut writer = pair.master.take_writer().expect("pty writer");
    let screen = Arc::new(Mutex::new(String::new()));
    let collector = {
        let screen = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with EOF or EIO once the child is gone and the master is closed.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                screen
                    .lock()
                    .expect("screen")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !screen.lock().expect("screen").contains("[y/N]") {
        assert!(
            Instant::now() < deadline,
            "no question within 120 s:\n{}",
            screen.lock().expect("screen")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    writer
        .write_all(format!("{answer}\r").as_bytes())
        .expect("answer");
    writer.flush().expect("flush the answer");
    let status = child.wait().expect("wait for syncdeck");
    drop(writer);
    drop(pair.master);
    collector.join().expect("output collector");
    let screen = screen.lock().expect("screen").clone();
    (status.exit_code(), screen)
}

// Row-level security ------------------------------------------------------------------------------

/// A login role without BYPASSRLS that is not the tables' owner (what a Supabase `anon` or
/// `authenticated` connection amounts to), dropped when the guard goes.
struct PlainRole {
    name: String,
    db_url: String,
}

impl PlainRole {
    async fn create(db: &PgDatabase) -> (PlainRole, String) {
        let name = format!("sd_plain_{}_{}", std::process::id(), rand::random::<u32>());
        exec(
            db,
            &format!(
                "CREATE ROLE {name} LOGIN; \
                 GRANT USAGE ON SCHEMA public, auth, extensions TO {name}; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name};"
            ),
        )
        .await;
        let mut url = url::Url::parse(&db.url).expect("a URL");
        url.set_username(&name).expect("set the user");
        (
            PlainRole {
                name,
                db_url: db.url.clone(),
            },
            url.to_string(),
        )
    }
}

impl Drop for PlainRole {
    fn drop(&mut self) {
        let (name, db_url) = (self.name.clone(), self.db_url.clone());
        let admin = common::pg_admin_url();
        // Roles are cluster-wide: revoke what it holds in the test database, then drop it.
        common::block_on_own_runtime(async move {
            if let Ok(mut c) = PgConnection::connect(&db_url).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP OWNED BY {name}")))
                    .execute(&mut c)
                    .await;
            }
            if let Ok(mut c) = PgConnection::connect(&admin).await {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {name}")))
                    .execute(&mut c)
                    .await;
            }
        });
    }
}

#[tokio::test]
async fn row_level_security_is_reported_for_a_role_that_does_not_bypass_it() {
    if skip_pg() {
        return;
    }
    let db = app_database("doctor_rls").await;
    let admin = open(&db).await;
    migrate::migrate(&admin).await.expect("migrate");
    admin.close().await;
    let (_role, url) = PlainRole::create(&db).await;
    let store = Store::open(
        &syncdeck::config::DatabaseUrl::Postgres { url },
        OpenMode::Existing,
    )
    .await
    .expect("open as the plain role");
    let before = fingerprint(&db).await;

    let report = doctor::diagnose(&store).await.expect("diagnose");

    assert_eq!(
        fingerprint(&db).await,
        before,
        "diagnose left something behind"
    );
    // Proven by the artist insert: the policies reject it.
    let artists = find(
        &report,
        FindingKind::RowLevelSecurity,
        "row-level security on artists",
    );
    assert_eq!(artists.severity, Severity::Required, "{artists:#?}");
    assert!(
        artists
            .db_error
            .as_deref()
            .unwrap_or_default()
            .contains("row-level security policy"),
        "{artists:#?}"
    );
    assert!(
        artists
            .advice
            .as_deref()
            .unwrap_or_default()
            .contains("service role"),
        "{artists:#?}"
    );
    // Tables whose probes could not run (they need the artist) keep the catalog's warning.
    let setlists = find(
        &report,
        FindingKind::RowLevelSecurity,
        "row-level security on setlists",
    );
    assert_eq!(setlists.severity, Severity::Warning, "{setlists:#?}");
    assert!(matches!(
        probe_result(&report, "insert show"),
        ProbeResult::Skipped(_)
    ));
    store.close().await;
}

#[tokio::test]
async fn a_missing_column_and_a_text_sync_status_are_reported_and_fixed() {
    if skip_pg() {
        return;
    }
    let db = app_database("doctor_columns").await;
    exec(
        &db,
        "ALTER TABLE venues DROP COLUMN timezone; \
         ALTER TABLE artists ALTER COLUMN sync_status DROP DEFAULT; \
         ALTER TABLE artists ALTER COLUMN sync_status TYPE text USING sync_status::text;",
    )
    .await;
    let store = open(&db).await;
    migrate::migrate(&store).await.expect("migrate");

    let report = doctor::diagnose(&store).await.expect("diagnose");
    let column = find(
        &report,
        FindingKind::MissingColumn,
        "column venues.timezone",
    );
    assert_eq!(column.severity, Severity::Required);
    assert_eq!(
        column.fix_sql.as_deref(),
        Some("ALTER TABLE venues ADD COLUMN IF NOT EXISTS timezone text;")
    );
    // The venue probe's own error is attached to the catalog finding, not reported twice.
    let error = column.db_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("timezone") && error.contains("42703"),
        "{column:#?}"
    );
    assert_eq!(
        report
            .findings
            .iter()
            .filter(|f| f.table == "venues")
            .count(),
        1,
        "{:#?}",
        report.findings
    );

    // Text still stores the object, but the console's status filters need jsonb: the read
    // probe proves it and makes the warning required.
    let status = find(
        &report,
        FindingKind::ColumnType,
        "column artists.sync_status",
    );
    assert_eq!(status.severity, Severity::Required, "{status:#?}");
    assert!(status.db_error.is_some(), "{status:#?}");
    assert!(
        status
            .fix_sql
            .as_deref()
            .unwrap_or_default()
            .contains("TYPE jsonb USING sync_status::jsonb"),
        "{status:#?}"
    );

    doctor::apply_fixes(&store, &report.fixable())
        .await
        .expect("apply");
    let after = doctor::diagnose(&store).await.expect("diagnose");
    assert!(required(&after).is_empty(), "{:#?}", after.findings);
    let columns = inspect::columns(&store, "artists").await.expect("columns");
    assert_eq!(
        columns.get("sync_status").map(String::as_str),
        Some("jsonb")
    );
    let venues = inspect::columns(&store, "venues").await.expect("columns");
    assert_eq!(venues.get("timezone").map(String::as_str), Some("text"));
    store.close().await;
}
