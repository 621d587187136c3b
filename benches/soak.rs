//! Soak: the engine against the in-process fake with a share of every fault kind, re-syncing the
//! whole catalog again and again for a fixed time. Checked at the end (and printed):
//! - every artist's parts ended `success` or `error`, and every `error` has a reason;
//! - no run left queued or running; no duplicate show, venue, song or setlist rows;
//! - zero requests over the fake's limits (429s minus the injected ones);
//! - resident memory at the end within 1.2× the first minute's (full run only).
//!
//! `cargo bench --bench soak`: 10,000 artists for 10 minutes, faults 10 % of requests spread
//! evenly over the seven kinds (latency, 429, 5xx, malformed, truncated, drop, slow). Under
//! `cargo test --bench soak` (no `--bench`; `.ci/run` does this) a short version: 150 artists for
//! 30 s, same checks except memory. `SOAK_ARTISTS`, `SOAK_SECONDS`, `SOAK_FAULT_RATE`,
//! `SOAK_CONCURRENCY` override.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use syncdeck::engine::RequestKind;
use syncdeck::engine::clients::ClientSettings;
use syncdeck::fake::{self, FakeConfig, FaultRates, FaultSpec};
use syncdeck::store::artist_sync::Selection;
use syncdeck::store::runs::RunStatus;
use syncdeck::store::sync_status::PartStatus;

/// Fake limits and client pace: this many times the real ones (TM 250/s, setlist.fm 50/s).
const SCALE: u32 = 50;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let artists: usize = common::env_or("SOAK_ARTISTS", if full { 10_000 } else { 150 });
    let seconds: u64 = common::env_or("SOAK_SECONDS", if full { 600 } else { 30 });
    let fault_rate: f64 = common::env_or("SOAK_FAULT_RATE", 0.10);
    let concurrency: usize = common::env_or("SOAK_CONCURRENCY", 32);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(soak(
        artists,
        Duration::from_secs(seconds),
        fault_rate,
        concurrency,
        full,
    ));
}

async fn soak(artists: usize, duration: Duration, fault_rate: f64, concurrency: usize, full: bool) {
    let each = fault_rate / 7.0;
    let faults = FaultSpec::uniform(FaultRates {
        latency: each,
        latency_delay: Duration::from_millis(200),
        rate_limit: each,
        server_error: each,
        malformed: each,
        truncated: each,
        drop: each,
        slow: each,
        slow_delay: Duration::from_secs(1),
        ..FaultRates::default()
    });
    let fake = fake::start(
        FakeConfig {
            artists,
            faults,
            ..FakeConfig::default()
        }
        .with_limits_scaled(SCALE),
    )
    .await
    .expect("the fake starts");
    let (_dir, store, engine) = common::engine::started_engine_on_fresh_sqlite(
        &fake,
        &ClientSettings::scaled(SCALE),
        concurrency,
    )
    .await;

    let started = Instant::now();
    let first_minute = if full {
        Duration::from_secs(60)
    } else {
        duration / 6
    };
    let mut rss_first_minute: Option<u64> = None;
    let mut passes = 0usize;
    let mut runs_total = 0usize;
    let mut outcomes = [0usize; 3]; // succeeded, failed, other
    // Whole passes over the catalog while time is left; the last one is waited for.
    while started.elapsed() < duration {
        let queued = engine
            .enqueue_selection(Selection::All, RequestKind::Bulk)
            .await
            .expect("enqueue every artist");
        let ids: Vec<String> = queued.iter().map(|q| q.run_id.clone()).collect();
        let wait = engine.wait_for(&ids);
        tokio::pin!(wait);
        let runs = loop {
            tokio::select! {
                r = &mut wait => break r.expect("wait for the pass"),
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if rss_first_minute.is_none() && started.elapsed() >= first_minute {
                        rss_first_minute = common::proc_status_kib("VmRSS");
                    }
                }
            }
        };
        passes += 1;
        runs_total += runs.len();
        for r in &runs {
            let slot = match r.status {
                RunStatus::Succeeded => 0,
                RunStatus::Failed => 1,
                _ => 2,
            };
            outcomes[slot] += 1;
        }
        println!(
            "soak: pass {passes} done at {:.0} s: {} runs",
            started.elapsed().as_secs_f64(),
            runs.len()
        );
    }
    let wall = started.elapsed();
    let rss_end = common::proc_status_kib("VmRSS");
    engine.shutdown().await;
    let stats = fake.stats();
    fake.shutdown().await;

    // Every artist ended success or error, and every error says why.
    let mut unfinished = Vec::new();
    let mut unexplained = Vec::new();
    let mut with_error = 0usize;
    let all = store.all_artists().await.expect("read the artists");
    for a in &all {
        let parts = a.sync_status.parts();
        if parts
            .iter()
            .any(|(_, p)| !matches!(p, PartStatus::Success | PartStatus::Error))
        {
            unfinished.push(format!("{}: {}", a.name, a.sync_status.to_json()));
        }
        if parts.iter().any(|(_, p)| *p == PartStatus::Error) {
            with_error += 1;
            if a.last_sync_error
                .as_deref()
                .is_none_or(|e| e.trim().is_empty())
            {
                unexplained.push(a.name.clone());
            }
        }
    }
    let active = common::scalar(
        &store,
        "SELECT COUNT(*) FROM syncdeck_runs WHERE status IN ('queued', 'running')",
    )
    .await;
    let duplicates = [
        (
            "shows",
            "SELECT COUNT(*) - COUNT(DISTINCT ticketmaster_id) FROM shows",
        ),
        (
            "venues",
            "SELECT COUNT(*) - COUNT(DISTINCT ticketmaster_id) FROM venues",
        ),
        (
            "songs",
            "SELECT COUNT(*) - (SELECT COUNT(*) FROM (SELECT DISTINCT spotify_id, artist_id FROM songs)) FROM songs",
        ),
        (
            "setlists",
            "SELECT COUNT(*) - COUNT(DISTINCT setlist_fm_id) FROM setlists",
        ),
    ];
    let mut dup_counts = Vec::new();
    for (table, sql) in duplicates {
        dup_counts.push((table, common::scalar(&store, sql).await));
    }
    let injected_429: u64 = [&stats.ticketmaster, &stats.spotify, &stats.setlistfm]
        .iter()
        .map(|s| s.fault("429"))
        .sum();
    let over_limit = stats.total_rate_limited().saturating_sub(injected_429);
    let faults_injected: u64 = [&stats.ticketmaster, &stats.spotify, &stats.setlistfm]
        .iter()
        .map(|s| s.faults.values().sum::<u64>())
        .sum();

    println!(
        "soak: {} artists, {passes} passes, {runs_total} runs in {:.0} s (asked {} s; concurrency {concurrency}; faults {:.0} % of requests over 7 kinds)",
        all.len(),
        wall.as_secs_f64(),
        duration.as_secs(),
        fault_rate * 100.0
    );
    println!(
        "soak: runs succeeded {}, failed {}, other {}; artists with an error part at the end {with_error}; unfinished {}; errors without a reason {}",
        outcomes[0],
        outcomes[1],
        outcomes[2],
        unfinished.len(),
        unexplained.len()
    );
    println!(
        "soak: requests TM {} / Spotify {} / setlist.fm {}; faults injected {faults_injected} (429 {injected_429}); 429s over the limits {over_limit}; runs left active {active}; duplicate rows {:?}",
        stats.ticketmaster.requests, stats.spotify.requests, stats.setlistfm.requests, dup_counts
    );
    let rss_ratio = match (rss_first_minute, rss_end) {
        (Some(first), Some(end)) => {
            let ratio = end as f64 / first as f64;
            println!(
                "soak: RSS after {} s {:.1} MiB, at the end {:.1} MiB: ratio {ratio:.2} ({})",
                first_minute.as_secs(),
                first as f64 / 1024.0,
                end as f64 / 1024.0,
                if full {
                    "bound 1.20"
                } else {
                    "not checked in the short run: the first seconds are still warm-up"
                }
            );
            Some(ratio)
        }
        _ => {
            println!(
                "soak: RSS n/a (no /proc/self/status, or the run ended before the first sample)"
            );
            None
        }
    };

    assert!(
        unfinished.is_empty(),
        "artists not ended: {:?}",
        &unfinished[..unfinished.len().min(5)]
    );
    assert!(
        unexplained.is_empty(),
        "errors without a reason: {unexplained:?}"
    );
    assert_eq!(active, 0, "runs left queued or running");
    for (table, n) in dup_counts {
        assert_eq!(n, 0, "duplicate rows in {table}");
    }
    assert_eq!(over_limit, 0, "requests over the fake's limits");
    assert!(faults_injected > 0, "the soak injected no faults");
    if full && let Some(ratio) = rss_ratio {
        assert!(ratio <= 1.2, "RSS grew {ratio:.2}× after the first minute");
    }
}
