//! Bounds on what providers hand in: answer bodies past the size limit are refused as bad
//! responses after one request (declared or streamed), names are cut and over-long ids refuse
//! their item, and provider text reaches an error only with its controls made visible.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use syncdeck::config::Secret;
use syncdeck::providers::http::{DEFAULT_MAX_BODY_BYTES, HttpSettings};
use syncdeck::providers::limiter::Rate;
use syncdeck::providers::ticketmaster::TicketmasterClient;
use syncdeck::providers::ticketmaster::mapping::{attraction_info, show_row};
use syncdeck::providers::ticketmaster::types::{Attraction, Event};
use syncdeck::providers::{Provider, ProviderError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ATTRACTION_PATH: &str = "/discovery/v2/attractions/K8vZ917uP07.json";

/// No pacing to speak of and millisecond backoffs, so a wrong retry would show as extra
/// requests rather than as a slow test.
fn fast(max_body_bytes: u64) -> HttpSettings {
    HttpSettings {
        rate: Rate::per_second(1000),
        timeout: Duration::from_secs(30),
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_body_bytes,
        ..HttpSettings::for_provider(Provider::Ticketmaster)
    }
}

fn tm(base: &str, settings: HttpSettings) -> TicketmasterClient {
    let base = Url::parse(base).expect("the test server's URL parses");
    TicketmasterClient::new(base, Secret::new("tmKEYa1b2c3d4e5f6"), settings)
        .expect("the client builds")
}

/// A valid attraction padded with trailing spaces to exactly `len` bytes.
fn padded_attraction(len: usize) -> Vec<u8> {
    let mut body = serde_json::to_vec(
        &json!({"id": "K8vZ917uP07", "name": "Los Angeles Philharmonic", "type": "attraction"}),
    )
    .expect("the fixture encodes");
    assert!(body.len() <= len, "the fixture is larger than {len} bytes");
    body.resize(len, b' ');
    body
}

async fn mount_body(server: &MockServer, body: Vec<u8>) {
    Mock::given(method("GET"))
        .and(path(ATTRACTION_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .map(|r| r.len())
        .unwrap_or_default()
}

fn assert_too_large(e: &ProviderError, limit_words: &str) {
    match e {
        ProviderError::BadResponse { what, .. } => {
            assert!(
                what.contains(limit_words) && what.contains("limit"),
                "the error must name the {limit_words} limit: {what}"
            );
            assert!(
                what.contains("base URL"),
                "the error must say what to check: {what}"
            );
        }
        other => panic!("expected a bad response, got {other:?}"),
    }
    assert!(!e.is_retryable(), "a too-large answer must not be retried");
}

#[tokio::test]
async fn a_20_mb_body_is_refused_at_the_default_limit_after_one_request() {
    assert_eq!(DEFAULT_MAX_BODY_BYTES, 16 * 1024 * 1024);
    let server = MockServer::start().await;
    mount_body(&server, padded_attraction(20_000_000)).await;
    let settings = fast(HttpSettings::for_provider(Provider::Ticketmaster).max_body_bytes);
    let e = tm(&server.uri(), settings)
        .attraction("K8vZ917uP07")
        .await
        .expect_err("a 20 MB answer must be refused");
    assert_too_large(&e, "16 MiB");
    assert_eq!(requests(&server).await, 1, "refused after one request");
}

#[tokio::test]
async fn a_body_at_the_limit_passes_and_one_byte_more_is_refused() {
    let limit = 256 * 1024;
    let server = MockServer::start().await;
    mount_body(&server, padded_attraction(limit)).await;
    let a = tm(&server.uri(), fast(limit as u64))
        .attraction("K8vZ917uP07")
        .await
        .expect("an answer of exactly the limit is read");
    assert_eq!(a.name.as_deref(), Some("Los Angeles Philharmonic"));

    let server = MockServer::start().await;
    mount_body(&server, padded_attraction(limit + 1)).await;
    let e = tm(&server.uri(), fast(limit as u64))
        .attraction("K8vZ917uP07")
        .await
        .expect_err("one byte over the limit is refused");
    assert_too_large(&e, "256 KiB");
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn a_body_under_the_default_limit_passes() {
    let server = MockServer::start().await;
    mount_body(&server, padded_attraction(2_000_000)).await;
    let a = tm(&server.uri(), fast(DEFAULT_MAX_BODY_BYTES))
        .attraction("K8vZ917uP07")
        .await
        .expect("a 2 MB answer is read");
    assert_eq!(a.id.as_deref(), Some("K8vZ917uP07"));
}

/// A server that answers every request with an endless chunked body (no Content-Length), and
/// counts requests and the body bytes it managed to hand to the socket.
async fn endless_chunked_server() -> (String, Arc<AtomicUsize>, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("the listener has an address");
    let requests = Arc::new(AtomicUsize::new(0));
    let written = Arc::new(AtomicU64::new(0));
    let (req, wr) = (requests.clone(), written.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (req, wr) = (req.clone(), wr.clone());
            tokio::spawn(async move {
                // The request head, then the answer; the body ends only when the client goes.
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                req.fetch_add(1, Ordering::SeqCst);
                let start = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if sock.write_all(start).await.is_err() {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                let frame = [
                    format!("{:x}\r\n", chunk.len()).into_bytes(),
                    chunk,
                    b"\r\n".to_vec(),
                ]
                .concat();
                // Stop at 1 GiB in any case, so a client that never stops cannot hang the test.
                for _ in 0..16_384 {
                    if sock.write_all(&frame).await.is_err() {
                        return;
                    }
                    wr.fetch_add(64 * 1024, Ordering::SeqCst);
                }
            });
        }
    });
    (format!("http://{addr}"), requests, written)
}

#[tokio::test]
async fn a_chunked_body_without_content_length_is_cut_off_at_the_limit() {
    let (base, requests, written) = endless_chunked_server().await;
    let limit: u64 = 1024 * 1024;
    let e = tm(&base, fast(limit))
        .attraction("K8vZ917uP07")
        .await
        .expect_err("an endless answer must be refused");
    assert_too_large(&e, "1 MiB");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "refused after one request"
    );
    // The client stopped reading soon after the limit: the server could not hand over much
    // more than the limit plus the sockets' buffers (never the whole gigabyte).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = written.load(Ordering::SeqCst);
    assert!(
        sent < 64 * limit,
        "the server wrote {sent} bytes: the client kept reading past the limit"
    );
}

#[test]
fn provider_names_are_cut_and_over_long_ids_refuse_their_item() {
    let huge = "N".repeat(100_000);
    let a: Attraction = serde_json::from_value(
        json!({"id": "K8vZ917uP07", "name": huge, "classifications": [
            {"primary": true, "genre": {"name": huge}}
        ]}),
    )
    .expect("the attraction fixture parses");
    let info = attraction_info(&a).expect("a long name is cut, not refused");
    assert_eq!(info.name.chars().count(), syncdeck::text::MAX_NAME_CHARS);
    assert!(info.name.ends_with('…'));
    assert!(info.genres.iter().all(|g| g.chars().count() <= 200));

    let a: Attraction = serde_json::from_value(json!({"id": huge, "name": "Phish"}))
        .expect("the attraction fixture parses");
    let e = attraction_info(&a).expect_err("an over-long id refuses the item");
    assert!(
        e.to_string().contains("at most 64") && e.to_string().len() < 300,
        "{e}"
    );

    let ev: Event = serde_json::from_value(json!({"id": "vvG1IZ9YbPJ4b5", "name": huge}))
        .expect("the event fixture parses");
    let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).expect("a date");
    let row = show_row(&ev, today).expect("a long show name is cut");
    assert_eq!(row.name.chars().count(), syncdeck::text::MAX_NAME_CHARS);
}

#[tokio::test]
async fn provider_text_in_an_error_has_its_controls_made_visible() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ATTRACTION_PATH))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw("bad \u{202e}tseuqer\u{200b} \u{1b}[2J here", "text/plain"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = tm(&server.uri(), fast(DEFAULT_MAX_BODY_BYTES))
        .attraction("K8vZ917uP07")
        .await
        .expect_err("a 400 is an error");
    let shown = e.to_string();
    assert!(
        shown.contains("\\u{202e}tseuqer\\u{200b}") && shown.contains("^[[2J"),
        "{shown}"
    );
    assert!(
        !shown.contains('\u{202e}') && !shown.contains('\u{200b}') && !shown.contains('\u{1b}'),
        "{shown:?}"
    );
}
