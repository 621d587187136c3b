//! Bulk sync at scale: 1,000 artists through the engine against the in-process fake on a fresh
//! SQLite file, with the fake's limits set so that Ticketmaster is the bottleneck (50 req/s;
//! setlist.fm 500/s, Spotify 5,000/s over its 30 s window), and the clients paced to match
//! (50/s, 400/s, 2,000/s; daily limits far above the run's needs; shared budgets on).
//!
//! Printed, as ratios:
//! 1. wall time (engine start, queueing and every run's end included) over the Ticketmaster
//!    lower bound: the Ticketmaster requests the fake received divided by the Ticketmaster
//!    rate; and the fake's 429 count;
//! 2. a naive baseline in the same process: the per-artist pipeline (`RunScope::run`) called
//!    directly, one artist after another, without the queue, over the first 100 artists of
//!    the same catalog on its own fresh SQLite file, extrapolated to 1,000, and the engine's
//!    speedup over it;
//! 3. the process's peak RSS during the 1,000-artist run (the fake lives in this process too).
//!
//! The in-process fake answers in well under a millisecond, which flatters the sequential
//! baseline; both runs are then repeated with every answer delayed by 100 ms, nearer to what a
//! real provider takes.
//!
//! `cargo bench --bench bulk_sync`; `BULK_SYNC_CONCURRENCY` (default 32) and
//! `BULK_SYNC_LATENCY_MS` (default 100; 0 skips the second scenario) override. Under
//! `cargo test` (no `--bench`) a tiny version runs (20 artists, fast limits, 20 ms latency)
//! that checks only that every run succeeded without a 429.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use syncdeck::config::DatabaseUrl;
use syncdeck::engine::clients::ClientSettings;
use syncdeck::engine::pipeline::RunScope;
use syncdeck::engine::{Clients, Engine, EngineSettings, EventBus, PipelineSettings, RequestKind};
use syncdeck::fake::{self, FakeConfig, FakeServer, FakeStats, FaultRates, FaultSpec};
use syncdeck::providers::Provider;
use syncdeck::providers::http::HttpSettings;
use syncdeck::providers::limiter::Rate as ClientRate;
use syncdeck::store::Store;
use syncdeck::store::artist_sync::{self, Selection};
use syncdeck::store::runs::RunStatus;

/// Sizes and limits of one run.
struct Scale {
    artists: usize,
    /// Artists the sequential baseline syncs.
    baseline: usize,
    concurrency: usize,
    /// Delay of every answer in the second scenario (0: no second scenario).
    latency_ms: u64,
    /// Requests per second: the fake's limit and the client's pace for Ticketmaster (the
    /// bottleneck), the fake's and the client's for setlist.fm and Spotify (far above it).
    tm_rate: u32,
    setlistfm_fake: u32,
    setlistfm_client: u32,
    spotify_fake: u32,
    spotify_client: u32,
}

const BENCH: Scale = Scale {
    artists: 1000,
    baseline: 100,
    concurrency: 32,
    latency_ms: 100,
    tm_rate: 50,
    setlistfm_fake: 500,
    setlistfm_client: 400,
    spotify_fake: 5000,
    spotify_client: 2000,
};

const TEST: Scale = Scale {
    artists: 20,
    baseline: 5,
    concurrency: 8,
    latency_ms: 20,
    tm_rate: 500,
    setlistfm_fake: 2000,
    setlistfm_client: 1500,
    spotify_fake: 5000,
    spotify_client: 2000,
};

/// Daily limits far above what the run needs, on both sides.
const DAILY: u64 = 10_000_000;

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let scale = if benchmarking { &BENCH } else { &TEST };
    let concurrency = common::env_or("BULK_SYNC_CONCURRENCY", scale.concurrency);
    let latency_ms: u64 = common::env_or("BULK_SYNC_LATENCY_MS", scale.latency_ms);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        // First without latency: the peak RSS is read right after this scenario's bulk run.
        scenario(scale, concurrency, None).await;
        if latency_ms > 0 {
            scenario(scale, concurrency, Some(Duration::from_millis(latency_ms))).await;
        }
    });
}

/// One bulk run and one baseline on the same fake (fresh SQLite files for each), printed, then
/// checked: every run succeeded and the fake answered no 429.
async fn scenario(scale: &Scale, concurrency: usize, latency: Option<Duration>) {
    let fake = start_fake(scale, latency).await;
    let settings = client_settings(scale);
    let label = match latency {
        None => String::new(),
        Some(d) => format!("with {} ms latency per request: ", d.as_millis()),
    };

    // 1. The engine over every artist.
    let (_dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    common::engine::seed(&store, &fake).await;
    let rss_before = common::proc_status_kib("VmRSS");
    let bulk = bulk_sync(&fake, &store, &url, &settings, concurrency).await;
    let peak = common::proc_status_kib("VmHWM");
    store.close().await;

    let tm = bulk.stats.ticketmaster.requests;
    let bound = tm as f64 / f64::from(scale.tm_rate);
    let wall = bulk.wall.as_secs_f64();
    let limited = bulk.stats.total_rate_limited();
    println!(
        "{label}bulk_sync: {} artists in {wall:.1} s; Ticketmaster {} requests at {}/s = bound {bound:.1} s; ratio {:.2}; 429s: {limited}",
        thousands(scale.artists as u64),
        thousands(tm),
        scale.tm_rate,
        wall / bound.max(1e-9),
    );
    println!(
        "{label}bulk_sync detail: concurrency {concurrency}; setlist.fm {} and Spotify {} requests; queued {:.2} s, first Ticketmaster request by {:.2} s; {}",
        thousands(bulk.stats.setlistfm.requests),
        thousands(bulk.stats.spotify.requests),
        bulk.enqueued.as_secs_f64(),
        bulk.first_tm.map_or(f64::NAN, |d| d.as_secs_f64()),
        rate_profile(&bulk.tm_samples, scale.tm_rate),
    );

    // 2. The sequential baseline, after the bulk run so that the peak RSS above is the bulk's.
    let (_dir_b, url_b) = common::sqlite_url();
    let store_b = common::migrated_store(&url_b).await;
    common::engine::seed(&store_b, &fake).await;
    let base = sequential_baseline(&fake, &store_b, &url_b, &settings, scale.baseline).await;
    store_b.close().await;
    let per_artist = base.wall.as_secs_f64() / scale.baseline as f64;
    let extrapolated = per_artist * scale.artists as f64;
    println!(
        "{label}baseline (sequential, {} artists: RunScope::run called directly, one artist after another, no queue): {} s/artist => {} s for {}; engine speedup {:.1}x; Ticketmaster {:.1} requests/artist, 429s: {}",
        scale.baseline,
        fmt_secs(per_artist),
        thousands(extrapolated.round() as u64),
        thousands(scale.artists as u64),
        extrapolated / wall.max(1e-9),
        base.stats.ticketmaster.requests as f64 / scale.baseline as f64,
        base.stats.total_rate_limited(),
    );

    // 3. Memory, for the first scenario only (the high-water mark never goes down).
    if latency.is_none() {
        match (rss_before, peak) {
            (Some(before), Some(peak)) => println!(
                "peak RSS {:.0} MiB (VmHWM after the {}-artist run; VmRSS before it {:.0} MiB; the fake and its catalog live in this process too)",
                peak as f64 / 1024.0,
                thousands(scale.artists as u64),
                before as f64 / 1024.0
            ),
            _ => println!("peak RSS: n/a (no /proc/self/status)"),
        }
    }

    fake.shutdown().await;

    assert!(
        bulk.failed.is_empty(),
        "{label}bulk runs that did not succeed: {:?}",
        bulk.failed
    );
    assert_eq!(bulk.succeeded, scale.artists, "{label}every artist synced");
    assert_eq!(limited, 0, "{label}429s during the bulk sync");
    assert!(
        base.failed.is_empty(),
        "{label}baseline artists with failed parts: {:?}",
        base.failed
    );
    assert_eq!(
        base.stats.total_rate_limited(),
        0,
        "{label}429s during the baseline"
    );
}

/// The fake with Ticketmaster as the bottleneck; `latency` delays every answer of all three.
async fn start_fake(scale: &Scale, latency: Option<Duration>) -> FakeServer {
    let faults = match latency {
        None => FaultSpec::none(),
        Some(delay) => FaultSpec::uniform(FaultRates {
            latency: 1.0,
            latency_delay: delay,
            ..FaultRates::default()
        }),
    };
    fake::start(FakeConfig {
        artists: scale.artists,
        tm_rate: Some(fake::Rate::per_second(scale.tm_rate)),
        tm_daily: DAILY,
        spotify_rate: Some(fake::Rate::new(
            scale.spotify_fake * 30,
            Duration::from_secs(30),
        )),
        spotify_daily: None,
        setlistfm_rate: Some(fake::Rate::per_second(scale.setlistfm_fake)),
        setlistfm_daily: DAILY,
        faults,
        ..FakeConfig::default()
    })
    .await
    .expect("the fake starts")
}

fn client_settings(scale: &Scale) -> ClientSettings {
    let paced = |p: Provider, per_second: u32, daily: Option<u64>| HttpSettings {
        rate: ClientRate::per_second(per_second),
        daily_limit: daily,
        ..HttpSettings::for_provider(p)
    };
    ClientSettings {
        ticketmaster: paced(Provider::Ticketmaster, scale.tm_rate, Some(DAILY)),
        spotify: paced(Provider::Spotify, scale.spotify_client, None),
        setlistfm: paced(Provider::Setlistfm, scale.setlistfm_client, Some(DAILY)),
        shared_budgets: true,
    }
}

struct Bulk {
    wall: Duration,
    /// When every run was queued, since the start.
    enqueued: Duration,
    stats: FakeStats,
    succeeded: usize,
    failed: Vec<(String, RunStatus, Option<String>)>,
    first_tm: Option<Duration>,
    /// (seconds since the start, Ticketmaster requests so far).
    tm_samples: Vec<(f64, u64)>,
}

async fn bulk_sync(
    fake: &FakeServer,
    store: &Store,
    url: &DatabaseUrl,
    settings: &ClientSettings,
    concurrency: usize,
) -> Bulk {
    let config = common::engine::config_for(fake, url);
    let clients = Clients::from_config(&config, store, settings);
    let engine = Engine::new(
        store.clone(),
        clients,
        EngineSettings {
            concurrency,
            ..EngineSettings::default()
        },
    );
    fake.reset_stats();
    let started = Instant::now();
    let mut tm_samples: Vec<(f64, u64)> = Vec::new();
    let mut enqueued = Duration::ZERO;
    let work = async {
        engine.start().await.expect("the engine starts");
        let queued = engine
            .enqueue_selection(Selection::All, RequestKind::Bulk)
            .await
            .expect("enqueue every artist");
        enqueued = started.elapsed();
        let ids: Vec<String> = queued.iter().map(|q| q.run_id.clone()).collect();
        engine.wait_for(&ids).await.expect("read the runs")
    };
    // The fake's Ticketmaster count, in the same task, to show where time goes: every 100 ms
    // for the first 2 s, then every 500 ms (a snapshot copies all the fake's counts, ~2 ms).
    let sampling = async {
        loop {
            let at = started.elapsed();
            tm_samples.push((at.as_secs_f64(), fake.stats().ticketmaster.requests));
            let period = if at < Duration::from_secs(2) {
                100
            } else {
                500
            };
            tokio::time::sleep(Duration::from_millis(period)).await;
        }
    };
    let runs = tokio::select! {
        runs = work => runs,
        _ = sampling => unreachable!("the sampler never ends"),
    };
    let wall = started.elapsed();
    let stats = fake.stats();
    tm_samples.push((wall.as_secs_f64(), stats.ticketmaster.requests));
    let first_tm = tm_samples
        .iter()
        .find(|(_, n)| *n > 0)
        .map(|(t, _)| Duration::from_secs_f64(*t));
    engine.shutdown().await;
    let failed: Vec<_> = runs
        .iter()
        .filter(|r| r.status != RunStatus::Succeeded)
        .map(|r| (r.artist_name.clone(), r.status, r.error.clone()))
        .collect();
    Bulk {
        wall,
        enqueued,
        stats,
        succeeded: runs.len() - failed.len(),
        failed,
        first_tm,
        tm_samples,
    }
}

/// Where the Ticketmaster rate fell short: the ramp-up, the steady middle, the tail.
fn rate_profile(samples: &[(f64, u64)], rate: u32) -> String {
    let Some(&(end, total)) = samples.last() else {
        return "no samples".into();
    };
    if total == 0 {
        return "no Ticketmaster requests".into();
    }
    let at = |frac: f64| -> (f64, u64) {
        let want = (total as f64 * frac) as u64;
        samples
            .iter()
            .copied()
            .find(|(_, n)| *n >= want)
            .unwrap_or((end, total))
    };
    let (t10, n10) = at(0.1);
    let (t90, n90) = at(0.9);
    let middle = (n90 - n10) as f64 / (t90 - t10).max(1e-9);
    format!(
        "Ticketmaster rate 10%..90% of requests {middle:.1}/s of {rate}/s; first 10% by {t10:.1} s, last 10% took {:.1} s",
        end - t90
    )
}

struct Baseline {
    wall: Duration,
    stats: FakeStats,
    failed: Vec<(String, String)>,
}

/// The old way: one artist after another, each awaited to the end before the next starts.
/// This is the engine's own per-artist pipeline (`RunScope::run`) plus the artist row's final
/// update, called directly: no queue, no run rows, no heartbeats. Inside one artist the three
/// sources still overlap as `RunScope` does it, so a strictly sequential edge function would be
/// slower than this, not faster.
async fn sequential_baseline(
    fake: &FakeServer,
    store: &Store,
    url: &DatabaseUrl,
    settings: &ClientSettings,
    artists: usize,
) -> Baseline {
    let config = common::engine::config_for(fake, url);
    let clients = Clients::from_config(&config, store, settings);
    let pipeline = PipelineSettings::default();
    let bus = EventBus::default();
    let refs = store
        .artist_refs(Selection::All)
        .await
        .expect("list the artists");
    let mut failed = Vec::new();
    fake.reset_stats();
    let started = Instant::now();
    for (i, (artist_id, name)) in refs.iter().take(artists).enumerate() {
        let target = store
            .sync_target(artist_id)
            .await
            .expect("read the artist")
            .expect("the seeded artist exists");
        let run_id = format!("baseline-{i}");
        let scope = RunScope {
            store,
            clients: &clients,
            settings: &pipeline,
            bus: &bus,
            run_id: &run_id,
            artist: &target,
        };
        let outcome = scope
            .run(&HashSet::new())
            .await
            .expect("the pipeline records its statuses");
        let errors: Vec<String> = outcome.errors().iter().map(|e| e.summary()).collect();
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        let mut tx = store.begin().await.expect("begin");
        artist_sync::finish_artist_sync_tx(&mut tx, artist_id, error.as_deref())
            .await
            .expect("finish the artist");
        tx.commit().await.expect("commit");
        if let Some(e) = error {
            failed.push((name.clone(), e));
        }
    }
    Baseline {
        wall: started.elapsed(),
        stats: fake.stats(),
        failed,
    }
}

fn thousands(n: u64) -> String {
    syncdeck::text::thousands(n as i64)
}

fn fmt_secs(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.0}")
    } else if s >= 0.1 {
        format!("{s:.2}")
    } else {
        format!("{s:.3}")
    }
}
