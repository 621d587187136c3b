//! `kill -9` of a real `syncdeck sync` process at random moments, several times, then a run to
//! completion: no artist left `syncing`, no job lost, no duplicate rows, the catalog complete.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::engine::{assert_every_part_succeeded, fake_scaled, seed, sync_command};
use syncdeck::config::DatabaseUrl;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_moments_then_a_full_run_loses_nothing() {
    let fake = fake_scaled(40, 10, None).await;
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite {
        path: dir.path().join("crash.db"),
        memory: false,
    };
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    for round in 0..3 {
        let mut child = sync_command(&fake, &url, dir.path(), &["--all"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn syncdeck sync");
        let wait_ms = 600 + rand::random::<u64>() % 2500;
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        child.kill().expect("kill -9"); // SIGKILL on unix: no cleanup runs
        child.wait().expect("reap");
        eprintln!("round {round}: killed after {wait_ms} ms");
    }
    let out = tokio::task::spawn_blocking({
        let mut cmd = sync_command(&fake, &url, dir.path(), &["--all", "--json"]);
        move || cmd.output().expect("final sync")
    });
    let out = tokio::time::timeout(Duration::from_secs(240), out)
        .await
        .expect("the final sync finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "final sync failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).expect("summary line");
    assert_eq!(summary["requested"], 40, "{summary}");
    assert_eq!(summary["succeeded"], 40, "{summary}");

    // Nothing syncing, nothing pending, nothing active, no duplicates, nothing missing.
    assert_every_part_succeeded(&store).await;
    assert_eq!(
        common::scalar(
            &store,
            "SELECT COUNT(*) FROM syncdeck_runs WHERE status IN ('queued', 'running')"
        )
        .await,
        0,
        "no run left active"
    );
    assert_eq!(
        common::scalar(&store, "SELECT COUNT(*) FROM shows").await,
        common::scalar(&store, "SELECT COUNT(DISTINCT ticketmaster_id) FROM shows").await
    );
    assert_eq!(
        common::scalar(&store, "SELECT COUNT(*) FROM venues").await,
        common::scalar(&store, "SELECT COUNT(DISTINCT ticketmaster_id) FROM venues").await
    );
    assert_eq!(
        common::scalar(&store, "SELECT COUNT(*) FROM songs").await,
        common::scalar(
            &store,
            "SELECT COUNT(*) FROM (SELECT DISTINCT spotify_id, artist_id FROM songs)"
        )
        .await
    );
    let expected = fake.catalog().expected_counts();
    assert_eq!(
        common::scalar(&store, "SELECT COUNT(*) FROM shows").await,
        expected.shows as i64
    );
    assert_eq!(
        common::scalar(&store, "SELECT COUNT(*) FROM venues").await,
        expected.venues as i64
    );
    assert_eq!(
        common::scalar(&store, "SELECT COUNT(*) FROM songs").await,
        expected.songs as i64
    );
    assert_eq!(
        common::scalar(&store, "SELECT COUNT(*) FROM setlists").await,
        expected.setlists as i64
    );
    // The killed processes' runs all ended (succeeded, or joined and finished by the last one).
    let interrupted = common::scalar(
        &store,
        "SELECT COUNT(*) FROM syncdeck_run_attempts WHERE outcome = 'interrupted'",
    )
    .await;
    eprintln!("attempts recorded as interrupted by a kill: {interrupted}");
    fake.shutdown().await;
}
