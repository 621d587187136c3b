//! Calls per artist per provider: a first sync of the catalog, then a re-sync of the unchanged
//! catalog, against the in-process fake (no faults). Printed with the artists a day's quota
//! refreshes at the real limits (Ticketmaster 5,000 calls a day, setlist.fm 1,440), and checked
//! against the bounds for an unchanged artist, catalog average: Ticketmaster ≤ 1.2, Spotify
//! ≤ 2, setlist.fm ≤ 1.05 (the run fails past one).
//!
//! `cargo bench --bench calls_per_artist`: 1,000 artists. Under `cargo test --bench
//! calls_per_artist` (`.ci/run`): 120. `CALLS_ARTISTS` overrides.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use syncdeck::engine::Engine;
use syncdeck::engine::clients::ClientSettings;
use syncdeck::fake::ProviderStats;

/// Fake limits and client pace: this many times the real ones.
const SCALE: u32 = 50;

/// (provider, real daily quota, bound for an unchanged artist)
const PROVIDERS: [(&str, Option<u64>, f64); 3] = [
    ("ticketmaster", Some(5_000), 1.2),
    ("spotify", None, 2.0),
    ("setlistfm", Some(1_440), 1.05),
];

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let artists: usize = common::env_or("CALLS_ARTISTS", if full { 1_000 } else { 120 });
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(measure(artists));
}

/// API calls (Spotify's token requests are not API calls and have no quota).
fn api_calls(s: &ProviderStats) -> u64 {
    s.requests - s.by_endpoint.get("POST /api/token").copied().unwrap_or(0)
}

async fn sync_all(engine: &Engine) {
    common::engine::sync_all_succeeded(engine, std::time::Duration::from_secs(3600)).await;
}

async fn measure(artists: usize) {
    let fake = common::engine::fake_scaled(artists, SCALE, None).await;
    let (_dir, _store, engine) =
        common::engine::started_engine_on_fresh_sqlite(&fake, &ClientSettings::scaled(SCALE), 16)
            .await;

    let t = Instant::now();
    sync_all(&engine).await;
    let first_took = t.elapsed();
    let first = fake.stats();
    let t = Instant::now();
    sync_all(&engine).await;
    let again_took = t.elapsed();
    let both = fake.stats();
    engine.shutdown().await;
    fake.shutdown().await;

    let n = artists as f64;
    println!(
        "calls per artist, {artists} artists (first sync {:.1} s, re-sync {:.1} s at {SCALE}x the real rates)",
        first_took.as_secs_f64(),
        again_took.as_secs_f64()
    );
    println!(
        "{:<13} {:>11} {:>9} {:>7} {:>18} {:>20}",
        "provider", "first sync", "re-sync", "bound", "first syncs/day", "re-syncs/day"
    );
    let mut over = Vec::new();
    for (name, quota, bound) in PROVIDERS {
        let (a, b) = match name {
            "ticketmaster" => (&first.ticketmaster, &both.ticketmaster),
            "spotify" => (&first.spotify, &both.spotify),
            _ => (&first.setlistfm, &both.setlistfm),
        };
        let first_per = api_calls(a) as f64 / n;
        let again_per = (api_calls(b) - api_calls(a)) as f64 / n;
        let per_day = |per: f64| match quota {
            Some(q) if per > 0.0 => format!("{:.0}", q as f64 / per),
            Some(_) => "unbounded".to_string(),
            None => "no daily quota".to_string(),
        };
        println!(
            "{name:<13} {first_per:>11.2} {again_per:>9.2} {bound:>7.2} {:>18} {:>20}",
            per_day(first_per),
            per_day(again_per)
        );
        for (endpoint, total) in &b.by_endpoint {
            let before = a.by_endpoint.get(endpoint).copied().unwrap_or(0);
            println!(
                "  {endpoint:<40} first {:>6.2}  re-sync {:>6.2}",
                before as f64 / n,
                (total - before) as f64 / n
            );
        }
        if again_per > bound {
            over.push(format!(
                "{name}: {again_per:.2} calls per unchanged artist (bound {bound})"
            ));
        }
    }
    assert!(over.is_empty(), "re-sync over its bound: {over:?}");
}
