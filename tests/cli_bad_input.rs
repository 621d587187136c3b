//! Bad input gets one clear message and a non-zero exit, never a panic; no secret is printed.

mod common;

use std::path::Path;
use std::process::{Command, Output};

const CANARY_TM: &str = "tmCANARYa1b2c3d4e5f6g7h8";
const CANARY_SP: &str = "spCANARYz9y8x7w6v5u4t3s2";
const CANARY_SF: &str = "sfCANARYq1w2e3r4t5y6u7i8";

/// Runs the binary in `cwd` with a clean environment plus `env`.
fn syncdeck(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_syncdeck"));
    cmd.current_dir(cwd)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("SYNCDECK_DATA_DIR", cwd.join("data"))
        .env("HOME", cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run syncdeck")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn assert_clear_failure(o: &Output, needles: &[&str]) {
    let t = text(o);
    assert!(!o.status.success(), "expected failure, got success: {t}");
    assert!(!t.contains("panicked"), "panic: {t}");
    assert!(!t.contains("stack backtrace"), "backtrace: {t}");
    for n in needles {
        assert!(
            t.to_lowercase().contains(&n.to_lowercase()),
            "missing {n:?} in: {t}"
        );
    }
}

#[test]
fn unknown_database_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let o = syncdeck(dir.path(), &[("DATABASE_URL", "mysql://nope")], &["status"]);
    assert_clear_failure(
        &o,
        &["DATABASE_URL", "unknown scheme 'mysql'", "postgres://"],
    );
}

#[test]
fn unreachable_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let o = syncdeck(
        dir.path(),
        &[("DATABASE_URL", "postgres://postgres:pw@127.0.0.1:1/app")],
        &["status"],
    );
    assert_clear_failure(&o, &["127.0.0.1:1", "connection refused"]);
    assert!(!text(&o).contains(":pw@"), "password printed: {}", text(&o));
}

#[test]
fn postgres_unknown_role_and_missing_database() {
    if common::skip_pg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut url = url::Url::parse(&common::pg_admin_url()).unwrap();
    // Trust auth accepts any password, so a wrong password cannot be told apart here; an unknown
    // role takes the same path (authentication refused by the server).
    url.set_username("syncdeck_no_such_role").unwrap();
    url.set_password(Some("secretpw123")).unwrap();
    let o = syncdeck(dir.path(), &[("DATABASE_URL", url.as_str())], &["status"]);
    assert_clear_failure(
        &o,
        &["cannot connect to Postgres", "check the user and password"],
    );
    assert!(!text(&o).contains("secretpw123"));
    let mut url = url::Url::parse(&common::pg_admin_url()).unwrap();
    url.set_path("/syncdeck_no_such_database");
    let o = syncdeck(dir.path(), &[("DATABASE_URL", url.as_str())], &["status"]);
    assert_clear_failure(&o, &["does not exist", "create the database"]);
}

#[test]
fn missing_sqlite_file_is_not_created_by_status() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nothere.db");
    let o = syncdeck(
        dir.path(),
        &[("DATABASE_URL", &format!("sqlite://{}", db.display()))],
        &["status"],
    );
    assert_clear_failure(&o, &["does not exist", "syncdeck migrate"]);
    assert!(!db.exists());
}

#[test]
fn database_without_the_app_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("empty.db");
    std::fs::write(&db, b"").unwrap();
    let o = syncdeck(
        dir.path(),
        &[("DATABASE_URL", &format!("sqlite://{}", db.display()))],
        &["status"],
    );
    assert_clear_failure(&o, &["syncdeck migrate"]);
}

#[test]
fn malformed_dotenv_line_names_file_and_line_not_value() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!("# keys\nTICKETMASTER_API_KEY={CANARY_TM}\nSPOTIFY_CLIENT_SECRET=\"{CANARY_SP}\n"),
    )
    .unwrap();
    let o = syncdeck(dir.path(), &[], &["status"]);
    assert_clear_failure(&o, &[".env line 3", "quote"]);
    assert!(!text(&o).contains(CANARY_SP));
    let o = syncdeck(dir.path(), &[], &["env", "check"]);
    assert_clear_failure(&o, &[".env line 3"]);
    assert!(!text(&o).contains(CANARY_SP) && !text(&o).contains(CANARY_TM));
}

#[test]
fn locked_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("locked.db");
    let url = format!("sqlite://{}", db.display());
    assert!(
        syncdeck(dir.path(), &[("DATABASE_URL", &url)], &["migrate"])
            .status
            .success()
    );
    // Another process holds the write lock for longer than syncdeck's busy timeout.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _holder = rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut c)
            .await
            .unwrap();
        c
    });
    let o = syncdeck(
        dir.path(),
        &[("DATABASE_URL", &url)],
        &["seed", "--demo", "--artists", "5"],
    );
    assert_clear_failure(&o, &["locked", "another process"]);
}

#[tokio::test]
async fn read_only_sqlite_gets_a_hint() {
    // As root, file permissions cannot make a file read-only, so open it read-only instead: the
    // write fails with SQLite's own read-only error, which must carry the hint.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    let url = syncdeck::config::DatabaseUrl::Sqlite {
        path: path.clone(),
        memory: false,
    };
    common::migrated_store(&url).await.close().await;
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true);
    use sqlx::ConnectOptions;
    let mut c = opts.connect().await.unwrap();
    let e = sqlx::query(
        "INSERT INTO syncdeck_workers (id, host, pid, concurrency) VALUES ('w', 'h', 1, 1)",
    )
    .execute(&mut c)
    .await
    .unwrap_err();
    let msg = syncdeck::store::describe_sqlx(&e);
    assert!(
        msg.contains("read-only") && msg.contains("permissions"),
        "{msg}"
    );
}

#[test]
fn env_check_never_prints_a_secret_and_fails_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("e.db").display());
    assert!(
        syncdeck(dir.path(), &[("DATABASE_URL", &db)], &["migrate"])
            .status
            .success()
    );
    let keys = [
        ("DATABASE_URL", db.as_str()),
        ("TICKETMASTER_API_KEY", CANARY_TM),
        ("SPOTIFY_CLIENT_ID", "x"),
        ("SPOTIFY_CLIENT_SECRET", CANARY_SP),
        ("SETLISTFM_API_KEY", CANARY_SF),
        ("TICKETMASTER_BASE_URL", "http://127.0.0.1:9"),
    ];
    for args in [&["env", "check"][..], &["env", "check", "--json"][..]] {
        let o = syncdeck(dir.path(), &keys, args);
        let t = text(&o);
        for c in [CANARY_TM, CANARY_SP, CANARY_SF, "CANARY"] {
            assert!(!t.contains(c), "{c} printed by {args:?}: {t}");
        }
    }
    let o = syncdeck(dir.path(), &keys, &["env", "check", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert!(v["ok"].is_boolean());
    let checks = v["checks"].as_array().unwrap();
    let by_name = |n: &str| {
        checks
            .iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("no check {n}"))
    };
    assert_eq!(by_name("TICKETMASTER_API_KEY")["status"], "ok");
    assert_eq!(by_name("TICKETMASTER_API_KEY")["source"], "env");
    assert_eq!(by_name("database")["status"], "ok");
    for c in checks {
        let s = c["status"].as_str().unwrap();
        assert!(
            [
                "ok",
                "missing",
                "invalid",
                "unreachable",
                "rate-limited",
                "error",
                "skipped"
            ]
            .contains(&s),
            "{c}"
        );
        assert!(c["name"].is_string() && c["detail"].is_string());
    }

    // No keys at all: non-zero, each key reported missing.
    let o = syncdeck(
        dir.path(),
        &[("DATABASE_URL", &db)],
        &["env", "check", "--json"],
    );
    assert!(!o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let missing = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "missing")
        .count();
    assert_eq!(missing, 4);

    // From .env, and the alias with its warning.
    std::fs::write(
        dir.path().join(".env"),
        format!("SETLIST_FM_API_KEY={CANARY_SF}\n"),
    )
    .unwrap();
    let o = syncdeck(
        dir.path(),
        &[("DATABASE_URL", &db)],
        &["env", "check", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sf = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "SETLISTFM_API_KEY")
        .unwrap()
        .clone();
    assert_eq!(sf["status"], "ok");
    assert_eq!(sf["source"], ".env");
    assert!(
        sf["detail"]
            .as_str()
            .unwrap()
            .contains("SETLIST_FM_API_KEY")
    );
    assert!(!text(&o).contains(CANARY_SF));
}

#[test]
fn invalid_base_url_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = syncdeck(
        dir.path(),
        &[("SPOTIFY_API_BASE_URL", "ftp://example")],
        &["status"],
    );
    assert_clear_failure(&o, &["SPOTIFY_API_BASE_URL", "http or https"]);
}

/// Exit code 2 (clap's code for a bad argument), one clear message, the value not echoed whole.
fn assert_bad_argument(o: &Output, needles: &[&str]) {
    assert_clear_failure(o, needles);
    assert_eq!(o.status.code(), Some(2), "{}", text(o));
    let t = text(o);
    assert!(
        t.len() < 2_000,
        "the message must not echo the value in full ({} bytes): {}",
        t.len(),
        &t[..t.len().min(400)]
    );
    assert!(
        !t.contains('\u{202e}') && !t.contains('\u{1b}'),
        "raw control characters in: {t:?}"
    );
}

#[test]
fn over_long_artist_names_are_refused_at_parse_time() {
    let dir = tempfile::tempdir().unwrap();
    let huge = format!("{}\u{202e}gnp.evil", "A".repeat(100_000));
    let o = syncdeck(dir.path(), &[], &["artist", "add", &huge]);
    assert_bad_argument(&o, &["NAME", "100009 characters", "at most 200"]);
    let o = syncdeck(dir.path(), &[], &["sync", "--artist", &huge]);
    assert_bad_argument(&o, &["--artist", "100009 characters", "at most 200"]);
    // One long value among good ones is enough to refuse the command.
    let o = syncdeck(
        dir.path(),
        &[],
        &["sync", "--artist", "Phish", &"B".repeat(201)],
    );
    assert_bad_argument(&o, &["--artist", "201 characters"]);
    // 200 characters pass the parser (and then fail for want of a database, not as bad input).
    let o = syncdeck(
        dir.path(),
        &[("DATABASE_URL", "mysql://nope")],
        &["sync", "--artist", &"C".repeat(200)],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("DATABASE_URL"), "{}", text(&o));
}

#[test]
fn malformed_ticketmaster_ids_are_refused_at_parse_time() {
    let dir = tempfile::tempdir().unwrap();
    let o = syncdeck(
        dir.path(),
        &[],
        &["artist", "add", "--tm-id", &"K".repeat(65)],
    );
    assert_bad_argument(&o, &["--tm-id", "65 characters", "at most 64"]);
    let o = syncdeck(dir.path(), &[], &["artist", "add", "--tm-id", "K8v/../x"]);
    assert_bad_argument(&o, &["--tm-id", "'/'", "letters, digits"]);
    let o = syncdeck(
        dir.path(),
        &[],
        &["artist", "add", "--tm-id", "K8v\u{202e}Z917"],
    );
    assert_bad_argument(&o, &["--tm-id", "U+202E"]);
    let o = syncdeck(dir.path(), &[], &["artist", "add", "--tm-id", " "]);
    assert_bad_argument(&o, &["--tm-id", "empty"]);
}

#[test]
fn a_daily_limit_of_zero_is_refused_with_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--tm-daily", "--setlistfm-daily"] {
        let o = syncdeck(dir.path(), &[], &["sync", "--all", flag, "0"]);
        assert_bad_argument(&o, &[flag, "minimum is 1"]);
        let o = syncdeck(dir.path(), &[], &["sync", "--all", flag, "lots"]);
        assert_bad_argument(&o, &[flag, "whole number, at least 1"]);
    }
}
