//! Pacing with a margin: the fake's strict sliding windows (never more than N requests in any
//! period) with every arrival jittered, against a bulk sync at exactly the fake's rates. The
//! client's margin absorbs the jitter: not one 429. Without a margin, the same jittered traffic
//! is refused, so the strict mode is a real check. Throughput against the rate bound is a
//! bench (`cargo bench --bench pacing`), not a timed assertion here.

mod common;

use std::time::Duration;

use syncdeck::config::DatabaseUrl;
use syncdeck::engine::{Clients, Engine};
use syncdeck::fake::{self, FakeConfig, Rate};
use syncdeck::store::Store;

use common::engine::{FakeOnItsOwn, client_settings, config_for, engine_settings, seed};

/// The real rates times this (the fake's windows and the client's pace alike).
const SCALE: u32 = 10;

/// The fake at exactly the client's scaled rates, as strict windows, every request jittered by
/// up to `jitter`, on its own thread (see [`FakeOnItsOwn`]).
fn strict_fake(artists: usize, jitter: &str) -> FakeOnItsOwn {
    let config = FakeConfig {
        artists,
        tm_rate: Some(Rate::per_second(5 * SCALE)),
        spotify_rate: Some(Rate::per_second(10 * SCALE)),
        setlistfm_rate: Some(Rate::per_second(SCALE)),
        tm_daily: 1_000_000,
        setlistfm_daily: 1_000_000,
        strict_windows: true,
        faults: format!("jitter=1:{jitter},seed=11")
            .parse()
            .expect("fault spec"),
        ..FakeConfig::default()
    };
    FakeOnItsOwn::start(config)
}

async fn bulk_sync_sees_no_429(url: DatabaseUrl) {
    let own = strict_fake(40, "25ms");
    let fake = &own.fake;
    let store: Store = common::migrated_store(&url).await;
    seed(&store, fake).await;
    let mut settings = client_settings(SCALE);
    // 100 ms: the fake's 25 ms of jitter plus room for a loaded test machine's scheduling.
    for http in [
        &mut settings.ticketmaster,
        &mut settings.spotify,
        &mut settings.setlistfm,
    ] {
        http.rate.margin = Duration::from_millis(100);
    }
    let clients = Clients::from_config(&config_for(fake, &url), &store, &settings);
    let engine = Engine::new(store.clone(), clients, engine_settings(16));
    engine.start().await.expect("engine starts");
    common::engine::sync_all_succeeded(&engine, Duration::from_secs(240)).await;
    let stats = fake.stats();
    for (name, s) in [
        ("ticketmaster", &stats.ticketmaster),
        ("spotify", &stats.spotify),
        ("setlist.fm", &stats.setlistfm),
    ] {
        assert!(s.requests > 0, "{name} was called");
        assert_eq!(
            s.rate_limited, 0,
            "{name}: 429s from a strict window with jittered arrivals, of {} requests ({:?})",
            s.requests, s.by_status
        );
    }
    engine.shutdown().await;
}

crate::on_sqlite_and_postgres!(
    bulk_sync_sees_no_429,
    bulk_sync_under_strict_windows_and_jitter_sees_no_429_sqlite,
    bulk_sync_under_strict_windows_and_jitter_sees_no_429_postgres
);

/// The control: requests sent evenly at exactly the rate (no margin), each jittered by up to
/// 40 ms on the way, put six arrivals in one second now and then, and the strict window says
/// 429. So the test above passes because of the margin, not because the fake is lenient.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jittered_arrivals_at_exactly_the_rate_are_refused_by_a_strict_window() {
    let own = strict_fake(5, "40ms");
    let fake = &own.fake;
    let url = format!(
        "{}/discovery/v2/events.json?apikey={}&keyword=x",
        fake.urls().ticketmaster,
        fake::DEFAULT_TICKETMASTER_API_KEY
    );
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / (5 * SCALE));
    let mut sent = Vec::new();
    for _ in 0..300 {
        tick.tick().await;
        let (client, url) = (client.clone(), url.clone());
        sent.push(tokio::spawn(async move { client.get(&url).send().await }));
    }
    for request in sent {
        request
            .await
            .expect("the request task")
            .expect("the fake answers");
    }
    let refused = fake.stats().ticketmaster.rate_limited;
    assert!(
        refused > 0,
        "300 requests at exactly 50/s, jittered by up to 40 ms, never broke a strict 50/s window"
    );
}
