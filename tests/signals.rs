//! SIGINT, SIGTERM and SIGHUP (a dropped SSH session) to `syncdeck sync --all` and to a worker
//! while syncs are in flight: a clean stop with exit code 128 + the signal's number, the runs
//! back in the queue, no artist part left `syncing`, nothing left `running`. (The console's
//! signals are checked through a PTY in tests/tui_pty.rs.)

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::engine::{engine_for, fake_scaled, seed, sync_command};
use syncdeck::config::DatabaseUrl;
use syncdeck::engine::RequestKind;
use syncdeck::store::Store;
use syncdeck::store::artist_sync::Selection;

async fn running_runs(store: &Store) -> i64 {
    common::scalar(
        store,
        "SELECT COUNT(*) FROM syncdeck_runs WHERE status = 'running'",
    )
    .await
}

/// Waits (up to 60 s) until the child has runs executing, so the signal lands mid-sync.
async fn wait_until_running(store: &Store, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while running_runs(store).await == 0 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the child exited ({status}) before any sync ran");
        }
        assert!(Instant::now() < deadline, "no sync started within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a stopped child left: its exit code, stdout, stderr, and how long it took to stop.
struct Stopped {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Sends `signal` (a `kill -s` name) and waits for the exit.
async fn stop_with(mut child: Child, signal: &str) -> Stopped {
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-s", signal, &pid])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -s {signal} {pid}");
    let started = Instant::now();
    let signal = signal.to_string();
    let out = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break child
                    .wait_with_output()
                    .expect("collect the child's output");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("no exit within 30 s of {signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .expect("the waiting task");
    Stopped {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// The child's log files under `dir`, for a failure message.
fn child_logs(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for entry in walkdir(dir) {
        if entry.to_string_lossy().contains("syncdeck.log") {
            out.push_str(&std::fs::read_to_string(&entry).unwrap_or_default());
        }
    }
    out
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walkdir(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Nothing is left half-done: no run `running`, no part `syncing`; every run the signal
/// interrupted is queued again (or ended), so the next sync picks it up.
async fn assert_left_clean(store: &Store, dir: &std::path::Path) {
    assert_eq!(
        running_runs(store).await,
        0,
        "a run was left running; the child's log:\n{}",
        child_logs(dir)
    );
    for a in store.all_artists().await.expect("read the artists") {
        assert!(
            !a.sync_status.to_json().contains("syncing"),
            "{} left syncing: {}; the child's log:\n{}",
            a.name,
            a.sync_status.to_json(),
            child_logs(dir)
        );
    }
}

/// One process per signal: stopped mid-sync, it exits 128 + n and leaves nothing syncing;
/// a later sync then finishes every artist (nothing was lost).
async fn signal_stops_cleanly(args: &[&str], signal: &str, code: i32) {
    // Slow answers: every sync is still in flight when the signal comes.
    let fake = fake_scaled(12, 10, Some("latency=1.0:400ms")).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = DatabaseUrl::Sqlite {
        path: dir.path().join("signals.db"),
        memory: false,
    };
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    if args.contains(&"--worker") {
        // A worker serves what others queued: this process only queues.
        let queuer = engine_for(&fake, &store, &url, 10, 1).await;
        let queued = queuer
            .enqueue_selection(Selection::All, RequestKind::Bulk)
            .await
            .expect("queue the artists");
        assert_eq!(queued.len(), 12);
    }
    let mut child = sync_command(&fake, &url, dir.path(), args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn syncdeck sync");
    wait_until_running(&store, &mut child).await;
    let Stopped {
        code: got,
        stdout,
        stderr,
        took,
    } = stop_with(child, signal).await;
    eprintln!("{args:?} stopped by {signal} in {took:?}");
    assert_eq!(got, code, "exit code after {signal}; stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("SIG{signal}")),
        "the exit says which signal stopped it:\n{stderr}"
    );
    if args.contains(&"--json") {
        // The last line sums it up, typed; what the signal left unfinished counts as interrupted.
        let summary: serde_json::Value =
            serde_json::from_str(stdout.lines().last().unwrap_or("{}")).expect("summary line");
        assert_eq!(summary["type"], "summary", "{stdout}");
        let ended = ["succeeded", "failed", "cancelled", "interrupted"]
            .iter()
            .map(|k| summary[*k].as_u64().expect("a count"))
            .sum::<u64>();
        assert_eq!(summary["requested"].as_u64(), Some(ended), "{summary}");
        assert!(summary["interrupted"].as_u64() > Some(0), "{summary}");
        for line in stdout.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            assert!(
                ["artist", "summary", "waiting"].contains(&v["type"].as_str().unwrap_or("")),
                "{line}"
            );
        }
    }
    assert_left_clean(&store, dir.path()).await;
    let queued = common::scalar(
        &store,
        "SELECT COUNT(*) FROM syncdeck_runs WHERE status = 'queued'",
    )
    .await;
    assert!(queued > 0, "the interrupted runs went back to the queue");

    // The next sync finishes what the signal interrupted.
    let out = sync_command(&fake, &url, dir.path(), &["--all", "--json"])
        .output()
        .expect("the follow-up sync");
    assert!(
        out.status.success(),
        "follow-up sync: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_left_clean(&store, dir.path()).await;
    assert_eq!(
        common::scalar(
            &store,
            "SELECT COUNT(*) FROM syncdeck_runs WHERE status IN ('queued', 'running')"
        )
        .await,
        0
    );
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_sync_all_cleanly_with_130() {
    signal_stops_cleanly(&["--all"], "INT", 130).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_sync_all_cleanly_with_143() {
    signal_stops_cleanly(&["--all", "--json"], "TERM", 143).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_stops_sync_all_cleanly_with_129() {
    signal_stops_cleanly(&["--all"], "HUP", 129).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_stops_a_worker_cleanly_with_129() {
    signal_stops_cleanly(&["--worker"], "HUP", 129).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_worker_cleanly_with_143() {
    signal_stops_cleanly(&["--worker"], "TERM", 143).await;
}

/// A command with nothing to put back (`env check` here, blocked on providers that accept
/// connections and never answer) ends at once on SIGTERM with 143 instead of finishing first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_without_a_clean_stop_ends_at_once_on_sigterm() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", silent.local_addr().expect("addr"));
    let dir = tempfile::tempdir().expect("temp dir");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_syncdeck"))
        .args(["env", "check"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("SYNCDECK_DATA_DIR", dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .env("TICKETMASTER_API_KEY", "k")
        .env("SPOTIFY_CLIENT_ID", "i")
        .env("SPOTIFY_CLIENT_SECRET", "s")
        .env("SETLISTFM_API_KEY", "k")
        .env("TICKETMASTER_BASE_URL", &base)
        .env("SPOTIFY_API_BASE_URL", &base)
        .env("SPOTIFY_ACCOUNTS_BASE_URL", &base)
        .env("SETLISTFM_BASE_URL", &base)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn env check");
    // The probes are waiting on the silent listener by now (each waits up to 4 s).
    tokio::time::sleep(Duration::from_millis(700)).await;
    let Stopped {
        code, stderr, took, ..
    } = stop_with(child, "TERM").await;
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    assert!(
        took < Duration::from_secs(3),
        "it waited for the probes: {took:?}"
    );
    drop(silent);
}
