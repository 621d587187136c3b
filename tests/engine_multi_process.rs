//! Three `syncdeck sync --worker` processes on one Postgres share the queue: every artist's
//! pipeline runs once (never twice at once), the shared budgets keep all three together under
//! the fake's limits (zero 429s), and killing one mid-run still finishes everything.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::engine::{engine_for, fake_scaled, seed};
use syncdeck::config::DatabaseUrl;
use syncdeck::engine::RequestKind;
use syncdeck::fake::FakeServer;
use syncdeck::store::artist_sync::Selection;
use syncdeck::store::runs::RunStatus;

const BIN: &str = env!("CARGO_BIN_EXE_syncdeck");
/// The fake runs at 4x the real limits; each worker alone would pace itself at the fake's full
/// Ticketmaster rate, so three of them without the shared budget would be refused.
const SCALE: u32 = 4;

fn worker(fake: &FakeServer, url: &str, dir: &std::path::Path) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(["sync", "--worker", "--concurrency", "4", "--heartbeat", "1"])
        .args(["--tm-rate", &(5 * SCALE).to_string()])
        .args(["--setlistfm-rate", &SCALE.to_string()])
        .args(["--spotify-rate", &(10 * SCALE).to_string()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("SYNCDECK_DATA_DIR", dir)
        .env("DATABASE_URL", url)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in fake.env() {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn a worker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_share_the_queue_and_the_budgets_and_survive_losing_one() {
    if common::skip_pg() {
        return;
    }
    let db = common::PgDatabase::create("engine_multi").await;
    let url = db.database_url();
    let DatabaseUrl::Postgres { url: pg_url } = &url else {
        unreachable!()
    };
    let fake = fake_scaled(300, SCALE, None).await;
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let dir = tempfile::tempdir().unwrap();
    let mut workers: Vec<Child> = (0..3).map(|_| worker(&fake, pg_url, dir.path())).collect();
    // This process only queues and watches.
    let coordinator = engine_for(&fake, &store, &url, SCALE, 1).await;
    let queued = coordinator
        .enqueue_selection(Selection::All, RequestKind::Bulk)
        .await
        .unwrap();
    assert_eq!(queued.len(), 300);
    let ids: Vec<String> = queued.iter().map(|q| q.run_id.clone()).collect();

    // Kill one worker once a third of the artists are done.
    let started = Instant::now();
    let mut killed = false;
    loop {
        let runs = store.runs(&ids).await.unwrap();
        let done = runs.iter().filter(|r| !r.status.is_active()).count();
        if !killed && done >= 100 {
            workers[0].kill().expect("kill -9 one worker");
            workers[0].wait().ok();
            killed = true;
        }
        if done == 300 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "300 artists not done after 10 minutes: {done}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(killed);
    for w in workers.iter_mut().skip(1) {
        // SIGKILL too: the runs are done, and a clean stop is tested elsewhere.
        w.kill().ok();
        w.wait().ok();
    }
    let runs = store.runs(&ids).await.unwrap();
    let not_ok: Vec<_> = runs
        .iter()
        .filter(|r| r.status != RunStatus::Succeeded)
        .map(|r| (r.artist_name.clone(), r.status, r.error.clone()))
        .collect();
    assert!(not_ok.is_empty(), "{not_ok:?}");

    // Zero 429s: the three workers stayed under the fake's limits together.
    let stats = fake.stats();
    assert_eq!(stats.ticketmaster.rate_limited, 0, "ticketmaster 429s");
    assert_eq!(stats.setlistfm.rate_limited, 0, "setlist.fm 429s");
    assert_eq!(stats.spotify.rate_limited, 0, "spotify 429s");

    // Each pipeline ran once, except the few the killed worker held, which ran again after
    // it died, never at the same time as their first try.
    let mut reruns = 0;
    let mut workers_seen = std::collections::HashSet::new();
    for r in &runs {
        let attempts = store.run_attempts(&r.id).await.unwrap();
        let succeeded = attempts
            .iter()
            .filter(|a| a.outcome.as_deref() == Some("succeeded"))
            .count();
        assert_eq!(succeeded, 1, "{}: {attempts:?}", r.artist_name);
        for a in &attempts {
            workers_seen.insert(a.worker.clone());
        }
        if attempts.len() > 1 {
            reruns += 1;
            for pair in attempts.windows(2) {
                let (first, next) = (&pair[0], &pair[1]);
                assert_eq!(
                    first.outcome.as_deref(),
                    Some("interrupted"),
                    "{attempts:?}"
                );
                assert!(
                    next.started_at >= first.started_at,
                    "{}: attempts overlap: {attempts:?}",
                    r.artist_name
                );
            }
        }
    }
    assert!(
        reruns <= 4,
        "only the killed worker's 4 slots ran again: {reruns}"
    );
    assert_eq!(
        workers_seen.len(),
        3,
        "all three workers took part: {workers_seen:?}"
    );
    eprintln!(
        "300 artists by 3 workers in {:.1} s, {reruns} re-run after the kill; TM {} requests, setlist.fm {}, Spotify {}",
        started.elapsed().as_secs_f64(),
        stats.ticketmaster.requests,
        stats.setlistfm.requests,
        stats.spotify.requests
    );
    fake.shutdown().await;
}
