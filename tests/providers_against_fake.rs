//! The real clients against the fake with its real limits: the shared limiter keeps many
//! concurrent callers under the provider's rate, so the fake never answers 429.

use std::sync::Arc;
use std::time::{Duration, Instant};

use syncdeck::config::Secret;
use syncdeck::fake::{self, FakeConfig};
use syncdeck::providers::Provider;
use syncdeck::providers::http::HttpSettings;
use syncdeck::providers::setlistfm::SetlistFmClient;
use syncdeck::providers::ticketmaster::TicketmasterClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_callers_stay_under_the_ticketmaster_rate() {
    let server = fake::start(FakeConfig {
        artists: 20,
        ..Default::default()
    })
    .await
    .expect("fake starts");
    let client = Arc::new(
        TicketmasterClient::new(
            url::Url::parse(server.ticketmaster_base_url()).unwrap(),
            Secret::new(server.keys().ticketmaster_api_key.clone()),
            HttpSettings::for_provider(Provider::Ticketmaster),
        )
        .unwrap(),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..3 {
                client
                    .search_attractions(&format!("a{i}{j}"), 1)
                    .await
                    .expect("search answered");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    let stats = server.stats();
    assert_eq!(stats.ticketmaster.requests, 24);
    assert_eq!(
        stats.ticketmaster.rate_limited, 0,
        "the fake answered 429: {stats:?}"
    );
    // 24 requests at 5/s: the first at once, then 23 intervals of 200 ms.
    assert!(
        elapsed >= Duration::from_millis(4400),
        "faster than the configured rate: {elapsed:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_callers_stay_under_the_setlistfm_rate() {
    let server = fake::start(FakeConfig {
        artists: 20,
        ..Default::default()
    })
    .await
    .expect("fake starts");
    let client = Arc::new(
        SetlistFmClient::new(
            url::Url::parse(server.setlistfm_base_url()).unwrap(),
            Secret::new(server.keys().setlistfm_api_key.clone()),
            HttpSettings::for_provider(Provider::Setlistfm),
        )
        .unwrap(),
    );
    let mut tasks = Vec::new();
    for i in 0..8 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .search_artists(&format!("nobody {i}"))
                .await
                .map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("search answered");
    }
    let stats = server.stats();
    assert_eq!(stats.setlistfm.requests, 8);
    assert_eq!(
        stats.setlistfm.rate_limited, 0,
        "the fake answered 429: {stats:?}"
    );
    server.shutdown().await;
}
