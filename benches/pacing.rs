//! Pacing with a margin, measured: a bulk sync against the fake's strict sliding windows (never
//! more than N requests in any period, at exactly the client's rates) with every arrival
//! jittered by up to 25 ms, at the default pacing margin. Prints each provider's calls, 429s,
//! the time its calls need at the rate bound and the time they took (first to last answer at
//! the fake), and for the binding provider the ratio of the two. Fails on any 429 or a ratio
//! above 1.10 (the whole bulk's ratio, engine start and tail included, is printed too).
//!
//! `cargo bench --bench pacing`: 240 artists. Under `cargo test --bench pacing` (`.ci/run`):
//! 120. `PACING_ARTISTS` overrides.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use syncdeck::engine::clients::ClientSettings;
use syncdeck::fake::{FakeConfig, ProviderStats, Rate};

/// The real rates times this, at the fake and in the client alike.
const SCALE: u32 = 10;
/// Bulk time over the slowest provider's time at the rate bound.
const BOUND: f64 = 1.10;
const JITTER: &str = "25ms";

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let artists: usize = common::env_or("PACING_ARTISTS", if full { 240 } else { 120 });
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(measure(artists));
}

/// API calls (Spotify's token requests go to the accounts service, outside the window).
fn api_calls(s: &ProviderStats) -> u64 {
    s.requests - s.by_endpoint.get("POST /api/token").copied().unwrap_or(0)
}

async fn measure(artists: usize) {
    let settings = ClientSettings::scaled(SCALE);
    // The fake's strict windows at exactly the client's nominal rates.
    let window = |r: syncdeck::providers::limiter::Rate| Rate::new(r.count, r.period);
    // On its own thread, as a provider is its own machine (see FakeOnItsOwn).
    let own = common::engine::FakeOnItsOwn::start(FakeConfig {
        artists,
        tm_rate: Some(window(settings.ticketmaster.rate)),
        spotify_rate: Some(window(settings.spotify.rate)),
        setlistfm_rate: Some(window(settings.setlistfm.rate)),
        tm_daily: 10_000_000,
        setlistfm_daily: 10_000_000,
        strict_windows: true,
        faults: format!("jitter=1:{JITTER},seed=5")
            .parse()
            .expect("fault spec"),
        ..FakeConfig::default()
    });
    let fake = &own.fake;
    let (_dir, _store, engine) =
        common::engine::started_engine_on_fresh_sqlite(fake, &settings, 16).await;

    let started = Instant::now();
    common::engine::sync_all_succeeded(&engine, Duration::from_secs(3600)).await;
    let took = started.elapsed();
    let stats = fake.stats();
    engine.shutdown().await;
    drop(own);

    println!(
        "pacing: {artists} artists, strict windows at {SCALE}x the real rates, every arrival jittered by up to {JITTER}, margin {} ms",
        settings.ticketmaster.rate.margin.as_millis()
    );
    println!(
        "{:<13} {:>8} {:>6} {:>10} {:>14} {:>11}",
        "provider", "calls", "429s", "rate", "time at bound", "took"
    );
    // The binding provider (the most time at its bound) decides the bulk's pace: its calls'
    // span against the bound is the pacer's cost; the whole bulk adds the engine's start and
    // the last artists' other parts.
    let mut binding: Option<(&str, Duration, Duration)> = None;
    let mut refused = 0;
    for (name, s, rate) in [
        (
            "ticketmaster",
            &stats.ticketmaster,
            settings.ticketmaster.rate,
        ),
        ("spotify", &stats.spotify, settings.spotify.rate),
        ("setlist.fm", &stats.setlistfm, settings.setlistfm.rate),
    ] {
        let calls = api_calls(s);
        // n calls at the bound: the first at once, then n - 1 intervals of period / count.
        let at_bound = (rate.period / rate.count).mul_f64(calls.saturating_sub(1) as f64);
        let span = s.span().unwrap_or_default();
        refused += s.rate_limited;
        println!(
            "{name:<13} {calls:>8} {:>6} {:>8.1}/s {:>12.2} s {:>9.2} s",
            s.rate_limited,
            f64::from(rate.count) / rate.period.as_secs_f64(),
            at_bound.as_secs_f64(),
            span.as_secs_f64()
        );
        if binding.is_none_or(|(_, b, _)| at_bound > b) {
            binding = Some((name, at_bound, span));
        }
    }
    let (name, at_bound, span) = binding.expect("three providers");
    let ratio = span.as_secs_f64() / at_bound.as_secs_f64().max(1e-9);
    println!(
        "{name} (binding): its calls took {ratio:.3}x the time at its rate bound (bound {BOUND}x); the whole bulk sync {:.2} s, {:.3}x",
        took.as_secs_f64(),
        took.as_secs_f64() / at_bound.as_secs_f64().max(1e-9)
    );
    assert_eq!(
        refused, 0,
        "a strict window refused requests: the margin does not cover the jitter"
    );
    assert!(
        ratio <= BOUND,
        "{name}'s calls took {ratio:.3}x the time at its rate bound (bound {BOUND}x)"
    );
}
