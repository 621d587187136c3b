//! The three provider clients against wiremock servers that behave like the real APIs when
//! they fail (apis.md §5): each test names the failure mode it covers. Every error is also
//! checked for the canary keys, which must never appear in an error's Display or Debug.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use serde_json::{Value, json};
use syncdeck::config::Secret;
use syncdeck::providers::http::{HttpSettings, RetryHook, RetryNotice};
use syncdeck::providers::limiter::Rate;
use syncdeck::providers::setlistfm::{SetlistFmClient, StopReason};
use syncdeck::providers::spotify::{SpotifyClient, mapping as sp_mapping};
use syncdeck::providers::ticketmaster::TicketmasterClient;
use syncdeck::providers::{Provider, ProviderError};
use url::Url;
use wiremock::matchers::{body_string_contains, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TM_KEY: &str = "tmCANARYa1b2c3d4e5f6g7h8";
const SP_ID: &str = "spCANARYclient0id1k2l3m4";
const SP_SECRET: &str = "spCANARYz9y8x7w6v5u4t3s2";
const SF_KEY: &str = "sfCANARYq1w2e3r4t5y6u7i8";

// ---------------------------------------------------------------------------------------------
// Helpers

/// Quick settings: no pacing to speak of, millisecond backoffs, a short default 429 wait.
fn fast(provider: Provider) -> HttpSettings {
    HttpSettings {
        rate: Rate::per_second(1000),
        timeout: Duration::from_secs(10),
        max_attempts: 4,
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        default_retry_after: Duration::from_millis(20),
        ..HttpSettings::for_provider(provider)
    }
}

/// A retry hook and what it saw.
fn recorder() -> (RetryHook, Arc<Mutex<Vec<RetryNotice>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let hook: RetryHook = Arc::new(move |n: &RetryNotice| sink.lock().unwrap().push(n.clone()));
    (hook, seen)
}

/// No key, id, secret or even the canary marker in what an error shows.
fn assert_no_secret(e: &ProviderError) {
    let shown = format!("{e} | {e:?}");
    for secret in [TM_KEY, SP_ID, SP_SECRET, SF_KEY, "CANARY"] {
        assert!(
            !shown.contains(secret),
            "a secret leaked into an error: {shown}"
        );
    }
}

async fn requests_matching(server: &MockServer, path_prefix: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().starts_with(path_prefix))
        .collect()
}

fn query(r: &Request) -> HashMap<String, String> {
    r.url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn base(server: &MockServer) -> Url {
    Url::parse(&server.uri()).unwrap()
}

/// Standard base64, for checking the Basic credentials sent to the token endpoint.
fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn base64_helper_is_right() {
    assert_eq!(
        base64(b"Aladdin:open sesame"),
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
    assert_eq!(base64(b"ab"), "YWI=");
}

// ---------------------------------------------------------------------------------------------
// Ticketmaster

fn tm(server: &MockServer) -> TicketmasterClient {
    TicketmasterClient::new(
        base(server),
        Secret::new(TM_KEY),
        fast(Provider::Ticketmaster),
    )
    .unwrap()
}

fn tm_attraction() -> Value {
    json!({"name": "Los Angeles Philharmonic", "type": "attraction", "id": "K8vZ917uP07",
           "externalLinks": {"musicbrainz": [{"id": "98e4313e-dfb0-4084-805c-3e42ef9301d0"}]}})
}

/// §5 item 8: TM 401 `oauth.v2.InvalidApiKey` is fatal for the source: one request, Auth.
#[tokio::test]
async fn tm_invalid_api_key_is_auth_without_retry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions/K8vZ917uP07.json"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = tm(&server).attraction("K8vZ917uP07").await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Auth { status: 401, message, .. } if message == "Invalid ApiKey"),
        "{e:?}"
    );
    assert!(e.is_fatal_for_source());
    assert_no_secret(&e);
    let sent = requests_matching(&server, "/discovery").await;
    assert_eq!(
        query(&sent[0]).get("apikey").map(String::as_str),
        Some(TM_KEY),
        "the key travels as `apikey`"
    );
}

/// §5 item 1: TM 429 `QuotaViolation` (daily quota) stops TM: one request, QuotaExhausted; its
/// body echoes the key, which must be scrubbed; the budget shows the source as held back.
#[tokio::test]
async fn tm_quota_violation_is_quota_exhausted_without_retry() {
    let server = MockServer::start().await;
    let body = format!(
        r#"{{"fault":{{"faultstring":"Rate limit quota violation. Quota limit  exceeded. Identifier : {TM_KEY}","detail":{{"errorcode":"policies.ratelimit.QuotaViolation"}}}}}}"#
    );
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions.json"))
        .respond_with(ResponseTemplate::new(429).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let client = tm(&server);
    let e = client
        .search_attractions("philharmonic", 20)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::QuotaExhausted {
                provider: Provider::Ticketmaster,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.is_retryable() && e.is_fatal_for_source());
    assert_no_secret(&e);
    assert!(
        client.http().budget.snapshot().throttled_until.is_some(),
        "an exhausted quota must show as throttled"
    );
}

/// A refusal whose body quotes the key (a 400 echoing the request) keeps the body's text but
/// not the key.
#[tokio::test]
async fn tm_rejected_request_body_is_scrubbed() {
    let server = MockServer::start().await;
    let body = format!(
        r#"{{"errors":[{{"code":"DIS1015","detail":"Query param startDateTime with value bad is not valid (apikey={TM_KEY})","status":"400"}}]}}"#
    );
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions.json"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let e = tm(&server).search_attractions("x", 20).await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Rejected { status: 400, message, .. } if message.contains("DIS1015")),
        "{e:?}"
    );
    assert_no_secret(&e);
}

/// §5 item 1: a SpikeArrest 429 (burst) is retried after a wait, then succeeds.
#[tokio::test]
async fn tm_spike_arrest_is_retried_then_ok() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions/K8vZ917uP07.json"))
        .respond_with(ResponseTemplate::new(429).set_body_json(
            json!({"fault": {"faultstring": "Spike arrest violation. Allowed rate : 5ps", "detail": {"errorcode": "policies.ratelimit.SpikeArrestViolation"}}}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions/K8vZ917uP07.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tm_attraction()))
        .mount(&server)
        .await;
    let a = tm(&server).attraction("K8vZ917uP07").await.unwrap();
    assert_eq!(a.id.as_deref(), Some("K8vZ917uP07"));
    assert_eq!(requests_matching(&server, "/discovery").await.len(), 2);
}

/// §5 item 21: a 502 HTML page is transient: retried with backoff, then succeeds.
#[tokio::test]
async fn tm_502_html_page_is_retried_then_ok() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions/K8vZ917uP07.json"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            "text/html",
        ))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions/K8vZ917uP07.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(tm_attraction()))
        .mount(&server)
        .await;
    // The TM client builds its HTTP layer without a retry hook: the retries are counted on the
    // server side.
    let a = tm(&server).attraction("K8vZ917uP07").await.unwrap();
    assert_eq!(a.name.as_deref(), Some("Los Angeles Philharmonic"));
    assert_eq!(requests_matching(&server, "/discovery").await.len(), 3);
}

/// §5 item 21 (a 200 carrying an HTML page is not data either): retried like a 5xx.
#[tokio::test]
async fn tm_200_with_an_html_page_is_transient() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions/K8vZ917uP07.json"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<!DOCTYPE html><html><body>maintenance</body></html>",
            "text/html",
        ))
        .mount(&server)
        .await;
    let e = tm(&server).attraction("K8vZ917uP07").await.unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::Transient {
                status: Some(200),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        requests_matching(&server, "/discovery").await.len(),
        4,
        "max_attempts"
    );
    assert_no_secret(&e);
}

/// Malformed JSON (a syntax error) is a BadResponse for that call and is not retried: the same
/// bytes would come back.
#[tokio::test]
async fn tm_malformed_json_is_bad_response_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions/K8vZ917uP07.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{, "name": "Los Angeles Phil"}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = tm(&server).attraction("K8vZ917uP07").await.unwrap_err();
    assert!(matches!(e, ProviderError::BadResponse { .. }), "{e:?}");
    assert_no_secret(&e);
}

/// A body cut off mid-value was damaged on the way: it is retried like a 5xx.
#[tokio::test]
async fn tm_cut_off_json_is_retried_then_ok() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions/K8vZ917uP07.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"name": "Los Angeles Phil"#, "application/json"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions/K8vZ917uP07.json"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"id": "K8vZ917uP07", "name": "Los Angeles Phil", "type": "attraction"}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let a = tm(&server).attraction("K8vZ917uP07").await.unwrap();
    assert_eq!(a.name.as_deref(), Some("Los Angeles Phil"));
}

/// §5 item 9: no matches is a 200 without `_embedded` and `totalPages: 0`: an empty list.
#[tokio::test]
async fn tm_empty_results_without_embedded_are_empty() {
    let server = MockServer::start().await;
    let empty = json!({"_links": {"self": {"href": "/discovery/v2/events.json?attractionId=K0"}},
                       "page": {"size": 199, "totalElements": 0, "totalPages": 0, "number": 0}});
    Mock::given(method("GET"))
        .and(path("/discovery/v2/events.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&empty))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&empty))
        .mount(&server)
        .await;
    let client = tm(&server);
    assert!(
        client
            .search_attractions("nobody at all", 20)
            .await
            .unwrap()
            .is_empty()
    );
    let out = client
        .attraction_events("K0", Utc::now(), ChronoDuration::days(365), |_| {})
        .await
        .unwrap();
    assert!(out.events.is_empty() && out.skipped.is_empty());
    // One query for everything (dated, TBA and TBD together) under the paging depth.
    assert_eq!(out.requests, 1);
    let sent = requests_matching(&server, "/discovery/v2/events.json").await;
    let q = query(&sent[0]);
    assert_eq!(
        (q["includeTBA"].as_str(), q["includeTBD"].as_str()),
        ("yes", "yes")
    );
    assert!(!q.contains_key("startDateTime") && !q.contains_key("endDateTime"));
}

/// An events answer without the search shape (`{}`: no `page`) is a bad response, never
/// "no events" (which would pass a broken reply off as an artist with no shows).
#[tokio::test]
async fn tm_events_reply_without_the_page_object_is_a_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/discovery/v2/events.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let e = tm(&server)
        .attraction_events("K0", Utc::now(), ChronoDuration::days(365), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ProviderError::BadResponse { what, .. } if what.contains("totalElements")),
        "{e:?}"
    );
}

/// A fake Discovery `events.json` for one attraction with many events, enforcing the live
/// API's rules: `size < 200` (DIS1036), `(page + 1) * size <= 1000` (DIS1035) and the strict
/// `YYYY-MM-DDTHH:mm:ssZ` format (DIS1015). It records every 400 it serves and how often each
/// event was served.
struct DeepPagingTm {
    dated: Vec<(String, DateTime<Utc>)>,
    tba: Vec<String>,
    tbd: Vec<String>,
    served: Mutex<HashMap<String, u32>>,
    refusals: Mutex<Vec<String>>,
}

impl DeepPagingTm {
    fn new(now: DateTime<Utc>, n: usize) -> DeepPagingTm {
        // Ids in an order unrelated to dates, and times off any round boundary.
        let dated = (0..n)
            .map(|i| {
                let id = format!("G5vZ{:05}", (i * 7919) % n);
                (id, now + ChronoDuration::seconds(3 * 3600 * i as i64 + 17))
            })
            .collect();
        DeepPagingTm {
            dated,
            tba: vec!["G5vTBA00001".into()],
            tbd: vec!["G5vTBD00001".into()],
            served: Mutex::new(HashMap::new()),
            refusals: Mutex::new(Vec::new()),
        }
    }

    fn refuse(&self, code: &str, detail: &str) -> ResponseTemplate {
        self.refusals.lock().unwrap().push(code.to_string());
        ResponseTemplate::new(400).set_body_json(
            json!({"errors": [{"code": code, "detail": detail, "status": "400 BAD_REQUEST"}]}),
        )
    }

    fn parse_time(s: &str) -> Option<DateTime<Utc>> {
        let strict = s.len() == 20 && s.ends_with('Z') && !s.contains('.');
        strict
            .then(|| {
                DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            })
            .flatten()
    }

    fn answer(&self, r: &Request) -> ResponseTemplate {
        let q = query(r);
        if q.get("apikey").map(String::as_str) != Some(TM_KEY) {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "oauth.v2.InvalidApiKey"}}}));
        }
        let size: u64 = q.get("size").and_then(|s| s.parse().ok()).unwrap_or(20);
        let page: u64 = q.get("page").and_then(|s| s.parse().ok()).unwrap_or(0);
        if size >= 200 {
            return self.refuse("DIS1036", "Query param \"size\" must be less than 200");
        }
        if (page + 1) * size > 1000 {
            return self.refuse("DIS1035", "API Limits Exceeded: Max paging depth exceeded. (page * size) must be less than 1,000");
        }
        let include = |name: &str| q.get(name).map(String::as_str);
        let undated = |class: &[String], start: Value| {
            class
                .iter()
                .map(move |id| (id.clone(), start.clone()))
                .collect::<Vec<_>>()
        };
        let dated = |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| {
            self.dated
                .iter()
                .filter(|(_, t)| from.is_none_or(|f| *t >= f) && to.is_none_or(|e| *t < e))
                .map(|(id, t)| {
                    let start = json!({"localDate": t.format("%Y-%m-%d").to_string(), "localTime": t.format("%H:%M:%S").to_string(),
                                       "dateTime": t.format("%Y-%m-%dT%H:%M:%SZ").to_string()});
                    (id.clone(), start)
                })
                .collect::<Vec<_>>()
        };
        let no_dates = !q.contains_key("startDateTime") && !q.contains_key("endDateTime");
        let mut ids: Vec<(String, Value)> = if no_dates
            && include("includeTBA") == Some("yes")
            && include("includeTBD") == Some("yes")
        {
            // Everything: the dated events and both undated kinds.
            let mut all = dated(None, None);
            all.extend(undated(
                &self.tba,
                json!({"localDate": null, "dateTBA": true}),
            ));
            all.extend(undated(&self.tbd, json!({"dateTBD": true})));
            all
        } else if include("includeTBA") == Some("only") {
            self.tba
                .iter()
                .map(|id| (id.clone(), json!({"localDate": null, "dateTBA": true})))
                .collect()
        } else if q.get("includeTBD").map(String::as_str) == Some("only") {
            self.tbd
                .iter()
                .map(|id| (id.clone(), json!({"dateTBD": true})))
                .collect()
        } else {
            let (Some(from), Some(to)) = (
                q.get("startDateTime").and_then(|s| Self::parse_time(s)),
                q.get("endDateTime").and_then(|s| Self::parse_time(s)),
            ) else {
                return self.refuse(
                    "DIS1015",
                    "Query param startDateTime or endDateTime is not valid",
                );
            };
            dated(Some(from), Some(to))
        };
        if q.get("sort").map(String::as_str) == Some("id,asc") {
            ids.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let total = ids.len() as u64;
        let slice: Vec<Value> = ids
            .into_iter()
            .skip((page * size) as usize)
            .take(size as usize)
            .map(|(id, start)| {
                *self.served.lock().unwrap().entry(id.clone()).or_default() += 1;
                json!({"id": id, "name": format!("Show {id}"), "dates": {"start": start, "status": {"code": "onsale"}}})
            })
            .collect();
        let mut body = json!({"page": {"size": size, "totalElements": total, "totalPages": total.div_ceil(size), "number": page}});
        if !slice.is_empty() {
            body["_embedded"] = json!({"events": slice});
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// §5 item 9: 2,500 events of one attraction, past the 1,000-item paging depth. Every event
/// comes back exactly once, and the client never makes a request the API would refuse.
#[tokio::test]
async fn tm_deep_paging_splits_windows_and_never_breaks_the_rules() {
    let server = MockServer::start().await;
    let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let fake = Arc::new(DeepPagingTm::new(now, 2500));
    let responder = fake.clone();
    Mock::given(method("GET"))
        .and(path("/discovery/v2/events.json"))
        .and(query_param("attractionId", "K8vZ917uP07"))
        .respond_with(move |r: &Request| responder.answer(r))
        .mount(&server)
        .await;
    let mut progress = Vec::new();
    let out = tm(&server)
        .attraction_events("K8vZ917uP07", now, ChronoDuration::days(400), |p| {
            progress.push(p)
        })
        .await
        .unwrap();

    assert_eq!(
        *fake.refusals.lock().unwrap(),
        Vec::<String>::new(),
        "the client sent requests the API refuses"
    );
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for e in &out.events {
        *counts.entry(e.id.clone().unwrap()).or_default() += 1;
    }
    assert_eq!(
        counts.len(),
        2502,
        "every dated event plus the TBA and the TBD one"
    );
    assert!(counts.values().all(|&n| n == 1), "an event came back twice");
    for (id, _) in &fake.dated {
        assert_eq!(counts.get(id), Some(&1), "{id} missing");
    }
    assert!(counts.contains_key("G5vTBA00001") && counts.contains_key("G5vTBD00001"));
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    assert_eq!(
        fake.served.lock().unwrap().len(),
        2502,
        "every event was served"
    );
    let sent = requests_matching(&server, "/discovery").await;
    assert_eq!(out.requests, sent.len() as u64);
    for r in &sent {
        let q = query(r);
        let size: u64 = q["size"].parse().unwrap();
        let page: u64 = q["page"].parse().unwrap();
        assert!(size < 200 && (page + 1) * size <= 1000, "{}", r.url);
    }
    assert!(progress.last().is_some_and(|p| p.events_so_far == 2502));
}

// ---------------------------------------------------------------------------------------------
// Spotify

fn sp(server: &MockServer) -> SpotifyClient {
    SpotifyClient::new(
        base(server),
        base(server),
        Secret::new(SP_ID),
        Secret::new(SP_SECRET),
        fast(Provider::Spotify),
    )
    .unwrap()
}

fn token_answer(token: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}),
    )
}

/// The token endpoint as documented: POST, Basic credentials, form body.
fn token_mock(answer: ResponseTemplate) -> Mock {
    let basic = format!(
        "Basic {}",
        base64(format!("{SP_ID}:{SP_SECRET}").as_bytes())
    );
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(header("authorization", basic.as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(answer)
}

fn sp_artist(id: &str, name: &str) -> Value {
    json!({"external_urls": {"spotify": format!("https://open.spotify.com/artist/{id}")}, "genres": [],
           "href": format!("https://api.spotify.com/v1/artists/{id}"), "id": id, "images": [], "name": name,
           "type": "artist", "uri": format!("spotify:artist:{id}")})
}

async fn mount_artist(server: &MockServer, bearer: &str) {
    Mock::given(method("GET"))
        .and(path("/v1/artists/0TnOYISbd1XYRBk9myaseg"))
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(sp_artist("0TnOYISbd1XYRBk9myaseg", "Pitbull")),
        )
        .mount(server)
        .await;
}

fn expired() -> ResponseTemplate {
    ResponseTemplate::new(401)
        .set_body_json(json!({"error": {"status": 401, "message": "The access token expired"}}))
}

/// §5 item 5: the token is reused: 20 calls, one token request.
#[tokio::test]
async fn sp_token_is_cached_across_calls() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600))
        .expect(1)
        .mount(&server)
        .await;
    mount_artist(&server, "tok-1").await;
    let client = sp(&server);
    for _ in 0..20 {
        assert_eq!(
            client
                .artist("0TnOYISbd1XYRBk9myaseg")
                .await
                .unwrap()
                .name
                .as_deref(),
            Some("Pitbull")
        );
    }
    assert_eq!(client.token_cache().token_requests(), 1);
}

/// §5 item 5: 20 concurrent calls on a cold cache cause exactly one token request (single
/// flight), even while the token endpoint is slow.
#[tokio::test]
async fn sp_concurrent_calls_share_one_token_request() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600).set_delay(Duration::from_millis(200)))
        .expect(1)
        .mount(&server)
        .await;
    mount_artist(&server, "tok-1").await;
    let client = sp(&server);
    let calls = (0..20).map(|_| client.artist("0TnOYISbd1XYRBk9myaseg"));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(requests_matching(&server, "/api/token").await.len(), 1);
    assert_eq!(requests_matching(&server, "/v1/").await.len(), 20);
}

/// §5 item 5: a token that expires mid-sync (401 "The access token expired") is renewed once
/// and the request repeated with the new token.
#[tokio::test]
async fn sp_expired_token_is_renewed_once_and_the_call_retried() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    token_mock(token_answer("tok-2", 3600)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/artists/0TnOYISbd1XYRBk9myaseg"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(expired())
        .mount(&server)
        .await;
    mount_artist(&server, "tok-2").await;
    let client = sp(&server);
    let a = client.artist("0TnOYISbd1XYRBk9myaseg").await.unwrap();
    assert_eq!(a.id.as_deref(), Some("0TnOYISbd1XYRBk9myaseg"));
    assert_eq!(requests_matching(&server, "/api/token").await.len(), 2);
    assert_eq!(requests_matching(&server, "/v1/").await.len(), 2);
    // The fresh token is then reused.
    client.artist("0TnOYISbd1XYRBk9myaseg").await.unwrap();
    assert_eq!(requests_matching(&server, "/api/token").await.len(), 2);
}

/// §5 item 5: concurrent callers that all saw the same 401 renew the token once, not once each.
#[tokio::test]
async fn sp_concurrent_401s_renew_the_token_once() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    token_mock(token_answer("tok-2", 3600).set_delay(Duration::from_millis(100)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/artists/0TnOYISbd1XYRBk9myaseg"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(expired().set_delay(Duration::from_millis(50)))
        .mount(&server)
        .await;
    mount_artist(&server, "tok-2").await;
    let client = sp(&server);
    let results =
        futures::future::join_all((0..10).map(|_| client.artist("0TnOYISbd1XYRBk9myaseg"))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(requests_matching(&server, "/api/token").await.len(), 2);
}

/// §5 item 5: a second 401 in a row is final: Auth, after exactly one renewal.
#[tokio::test]
async fn sp_second_401_is_auth() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-x", 3600)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path_regex("^/v1/"))
        .respond_with(expired())
        .mount(&server)
        .await;
    let e = sp(&server)
        .artist("0TnOYISbd1XYRBk9myaseg")
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Auth { status: 401, .. }),
        "{e:?}"
    );
    assert_eq!(requests_matching(&server, "/api/token").await.len(), 2);
    assert_eq!(requests_matching(&server, "/v1/").await.len(), 2);
    assert_no_secret(&e);
}

/// §5 item 6: refused client credentials are a 400 `invalid_client`: Auth, never retried, and
/// not asked again by later calls. The description echoes the client id: scrubbed.
#[tokio::test]
async fn sp_invalid_client_is_auth_and_never_retried() {
    let server = MockServer::start().await;
    token_mock(
        ResponseTemplate::new(400)
            .set_body_json(json!({"error": "invalid_client", "error_description": format!("Invalid client secret for {SP_ID}")})),
    )
    .expect(1)
    .mount(&server)
    .await;
    Mock::given(path_regex("^/v1/"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let client = sp(&server);
    for _ in 0..3 {
        let e = client.artist("0TnOYISbd1XYRBk9myaseg").await.unwrap_err();
        assert!(
            matches!(&e, ProviderError::Auth { status: 400, message, .. } if message.contains("invalid_client")),
            "{e:?}"
        );
        assert!(e.is_fatal_for_source());
        assert_no_secret(&e);
    }
    let e = client.check_credentials().await.unwrap_err();
    assert_no_secret(&e);
}

/// §5 item 6: a 5xx from the accounts service is transient: retried, then the token is issued.
#[tokio::test]
async fn sp_accounts_5xx_is_retried() {
    let server = MockServer::start().await;
    token_mock(
        ResponseTemplate::new(503)
            .set_body_string("upstream connect error or disconnect/reset before headers"),
    )
    .up_to_n_times(1)
    .with_priority(1)
    .mount(&server)
    .await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    mount_artist(&server, "tok-1").await;
    sp(&server).artist("0TnOYISbd1XYRBk9myaseg").await.unwrap();
    assert_eq!(requests_matching(&server, "/api/token").await.len(), 2);
}

/// §5 items 5, 20: `expires_in` is seconds and the token is replaced before it runs out.
#[tokio::test]
async fn sp_short_lived_token_is_refreshed_before_expiry() {
    let server = MockServer::start().await;
    // Two seconds of life: refreshed after one (half its lifetime, as the minute margin is longer).
    token_mock(token_answer("tok-1", 2)).mount(&server).await;
    mount_artist(&server, "tok-1").await;
    let client = sp(&server);
    client.artist("0TnOYISbd1XYRBk9myaseg").await.unwrap();
    client.artist("0TnOYISbd1XYRBk9myaseg").await.unwrap();
    assert_eq!(client.token_cache().token_requests(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client.artist("0TnOYISbd1XYRBk9myaseg").await.unwrap();
    assert_eq!(client.token_cache().token_requests(), 2);
}

/// §5 item 2: a 429 with `Retry-After: 1` is retried no earlier than one second later.
#[tokio::test]
async fn sp_429_retry_after_is_obeyed() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/artists/0TnOYISbd1XYRBk9myaseg"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(
                    json!({"error": {"status": 429, "message": "API rate limit exceeded"}}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_artist(&server, "tok-1").await;
    let (hook, seen) = recorder();
    let client = sp(&server).with_retry_hook(hook);
    let started = std::time::Instant::now();
    client.artist("0TnOYISbd1XYRBk9myaseg").await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1),
        "retried after {elapsed:?}"
    );
    let notices = seen.lock().unwrap();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].wait >= Duration::from_secs(1),
        "{:?}",
        notices[0]
    );
    assert!(!notices[0].reason.contains("CANARY"));
}

/// §5 item 2: a `Retry-After` of hours is not slept through: the call ends rate-limited at
/// once, carrying the wait, so the engine can persist a resume point.
#[tokio::test]
async fn sp_huge_retry_after_ends_the_call() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/artists/0TnOYISbd1XYRBk9myaseg"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "19056"))
        .expect(1)
        .mount(&server)
        .await;
    let e = sp(&server)
        .artist("0TnOYISbd1XYRBk9myaseg")
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ProviderError::RateLimited {
            provider: Provider::Spotify,
            retry_after: Some(Duration::from_secs(19056))
        }
    );
    assert_no_secret(&e);
}

/// §5 item 2: `reason: QUOTA_EXCEEDED` is the day's quota: QuotaExhausted, not retried.
#[tokio::test]
async fn sp_quota_exceeded_is_quota_exhausted_not_retried() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/artists/0TnOYISbd1XYRBk9myaseg"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = sp(&server)
        .artist("0TnOYISbd1XYRBk9myaseg")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::QuotaExhausted {
                provider: Provider::Spotify,
                ..
            }
        ),
        "{e:?}"
    );
    assert_no_secret(&e);
}

/// §5 item 7: the owner's Premium lapsed: 403 on every call is Auth, not retried.
#[tokio::test]
async fn sp_premium_lapsed_403_is_auth() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/artists/0TnOYISbd1XYRBk9myaseg"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"status": 403,
            "message": "Your application is blocked from accessing the Web API since you do not have a Spotify Premium subscription."}})))
        .expect(1)
        .mount(&server)
        .await;
    let e = sp(&server)
        .artist("0TnOYISbd1XYRBk9myaseg")
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Auth { status: 403, .. }),
        "{e:?}"
    );
    assert_no_secret(&e);
}

/// §5 item 7: top tracks are removed for development-mode apps (403): Unavailable, a missing
/// capability the caller does without.
#[tokio::test]
async fn sp_top_tracks_403_is_unavailable() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/artists/0TnOYISbd1XYRBk9myaseg/top-tracks"))
        .and(query_param("market", "US"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error": {"status": 403, "message": "Forbidden"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = sp(&server)
        .top_tracks("0TnOYISbd1XYRBk9myaseg")
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ProviderError::Unavailable {
            provider: Provider::Spotify,
            capability: "top tracks".into(),
            status: 403
        }
    );
    assert!(!e.is_fatal_for_source() && !e.is_retryable());
    assert_no_secret(&e);
}

/// 400 "invalid id" is Rejected and 404 NotFound, neither retried.
#[tokio::test]
async fn sp_invalid_id_is_rejected_and_unknown_id_not_found() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/artists/bad!id"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"status": 400, "message": "invalid id"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/artists/0000000000000000000000"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"error": {"status": 404, "message": "non existing id"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = sp(&server);
    let e = client.artist("bad!id").await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Rejected { status: 400, message, .. } if message == "invalid id"),
        "{e:?}"
    );
    let e = client.artist("0000000000000000000000").await.unwrap_err();
    assert!(matches!(e, ProviderError::NotFound { .. }), "{e:?}");
}

/// §4, §5 item 7: the name search asks for at most 10 and takes only an unambiguous exact match.
#[tokio::test]
async fn sp_search_takes_exact_unambiguous_names_only() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    let page = |items: Vec<Value>| {
        json!({"artists": {"href": "https://api.spotify.com/v1/search?query=x&offset=0&limit=10&type=artist", "items": items,
                           "limit": 10, "next": null, "offset": 0, "previous": null, "total": 3}})
    };
    Mock::given(method("GET"))
        .and(path("/v1/search"))
        .and(query_param("q", "Nirvana"))
        .and(query_param("type", "artist"))
        .and(query_param("limit", "10"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![
            sp_artist("6olE6TJLqED3rqDCT0FyPh", "Nirvana"),
            sp_artist("1ZNI1X7Y5ljN0yz7kUWDoS", "NIRVANA"),
            sp_artist("3VhIYJtAgwGpW5E7XPmNXx", "Nirvana Tribute"),
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/search"))
        .and(query_param("q", "Tania Bowra"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(page(vec![sp_artist(
                "08td7MxkoHQkXnWAYD8d6Q",
                "Tania Bowra",
            )])),
        )
        .mount(&server)
        .await;
    let client = sp(&server);
    let amb = client
        .find_artist_by_name("Nirvana")
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(amb.ids.len(), 2);
    let found = client
        .find_artist_by_name("Tania Bowra")
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(found.id.as_deref(), Some("08td7MxkoHQkXnWAYD8d6Q"));
}

/// A fake artist-albums and album-tracks pair that refuses `limit` over the 2026 caps with
/// 400 "Invalid limit" and whose `next` links point at the production host.
struct SpotifyCatalogFake {
    albums: Vec<(String, Vec<String>)>,
}

impl SpotifyCatalogFake {
    fn new() -> SpotifyCatalogFake {
        // 23 albums; album 0 has 60 tracks (two track pages); each single (odd albums) repeats
        // track 0 of the album before it, as singles do.
        let mut albums = Vec::new();
        for a in 0..23 {
            let id = format!("alb{a:02}xxxxxxxxxxxxxxxxx");
            let tracks: Vec<String> = if a == 0 {
                (0..60).map(|t| format!("t{a:02}{t:02}")).collect()
            } else if a % 2 == 1 {
                vec![format!("t{:02}00", a - 1)]
            } else {
                (0..3).map(|t| format!("t{a:02}{t:02}")).collect()
            };
            albums.push((id, tracks));
        }
        SpotifyCatalogFake { albums }
    }

    fn invalid_limit() -> ResponseTemplate {
        ResponseTemplate::new(400)
            .set_body_json(json!({"error": {"status": 400, "message": "Invalid limit"}}))
    }

    fn paging(url: &Url, items: Vec<Value>, offset: usize, limit: usize, total: usize) -> Value {
        let next = (offset + limit < total).then(|| {
            format!(
                "https://api.spotify.com{}?offset={}&limit={limit}",
                url.path(),
                offset + limit
            )
        });
        json!({"href": format!("https://api.spotify.com{}", url.path()), "items": items, "limit": limit, "offset": offset,
               "next": next, "previous": null, "total": total})
    }

    fn answer(&self, r: &Request) -> ResponseTemplate {
        let q = query(r);
        let limit: usize = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(20);
        let offset: usize = q.get("offset").and_then(|s| s.parse().ok()).unwrap_or(0);
        let segments: Vec<&str> = r.url.path().split('/').collect();
        match segments.as_slice() {
            ["", "v1", "artists", _, "albums"] => {
                if limit > 10 {
                    return Self::invalid_limit();
                }
                let items = self.albums.iter().enumerate().skip(offset).take(limit).map(|(i, (id, tracks))| {
                    // Year- and month-precision dates, no album_group, no images on some: all normal.
                    let (date, precision) = match i % 3 { 0 => ("1981", "year"), 1 => ("1981-08", "month"), _ => ("1981-08-07", "day") };
                    let images = if i % 4 == 0 { json!([]) } else {
                        json!([{"url": format!("https://i.scdn.co/image/{id}-64"), "width": 64, "height": 64},
                               {"url": format!("https://i.scdn.co/image/{id}-640"), "width": 640, "height": 640}])
                    };
                    json!({"album_type": if i % 2 == 1 { "single" } else { "album" }, "id": id, "name": format!("Album {i}"),
                           "images": images, "release_date": date, "release_date_precision": precision, "total_tracks": tracks.len(),
                           "type": "album", "uri": format!("spotify:album:{id}")})
                });
                ResponseTemplate::new(200).set_body_json(Self::paging(
                    &r.url,
                    items.collect(),
                    offset,
                    limit,
                    self.albums.len(),
                ))
            }
            ["", "v1", "albums", id, "tracks"] => {
                if limit > 50 {
                    return Self::invalid_limit();
                }
                let Some((_, tracks)) = self.albums.iter().find(|(a, _)| a == id) else {
                    return ResponseTemplate::new(404).set_body_json(
                        json!({"error": {"status": 404, "message": "non existing id"}}),
                    );
                };
                let items = tracks.iter().skip(offset).take(limit).map(|t| {
                    json!({"id": t, "name": format!("Song {t}"), "duration_ms": 200000, "preview_url": null,
                           "disc_number": 1, "track_number": 1, "explicit": false, "is_local": false, "type": "track"})
                });
                ResponseTemplate::new(200).set_body_json(Self::paging(
                    &r.url,
                    items.collect(),
                    offset,
                    limit,
                    tracks.len(),
                ))
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

/// A re-sync asks for the tracks of new albums only: the known ones are listed (the albums
/// pages) but their tracks are not fetched again, and the fetched ones are reported with
/// their track counts for the store to remember.
#[tokio::test]
async fn sp_artist_songs_skips_the_tracks_of_known_albums() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    let fake = Arc::new(SpotifyCatalogFake::new());
    let responder = fake.clone();
    Mock::given(method("GET"))
        .and(path_regex("^/v1/(artists|albums)/"))
        .respond_with(move |r: &Request| responder.answer(r))
        .mount(&server)
        .await;
    // Every album but the last is stored.
    let last = fake.albums.last().unwrap().0.clone();
    let known: HashSet<String> = fake
        .albums
        .iter()
        .map(|(id, _)| id.clone())
        .filter(|id| *id != last)
        .collect();
    let out = sp(&server)
        .artist_songs("1vCWHaC5f2uS3yhpwWbIA6", &known, |_| {})
        .await
        .unwrap();
    let track_requests = requests_matching(&server, "/v1/albums/").await;
    assert_eq!(track_requests.len(), 1, "only the new album's tracks");
    assert!(track_requests[0].url.path().contains(&last));
    assert_eq!(out.requests, 3 + 1, "3 album pages + 1 track page");
    let last_tracks = fake.albums.last().unwrap().1.len() as u64;
    assert_eq!(out.fetched_albums, vec![(last.clone(), last_tracks)]);
    assert_eq!(out.tracks.len() as u64, last_tracks);
}

/// §5 items 7, 10, 16: all albums and tracks of an artist, paged by offset/total with
/// `limit ≤ 10` on every album request, never following the absolute `next` links; a track on
/// two albums is one song.
#[tokio::test]
async fn sp_artist_songs_page_within_the_limits() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    let fake = Arc::new(SpotifyCatalogFake::new());
    let responder = fake.clone();
    Mock::given(method("GET"))
        .and(path_regex("^/v1/(artists|albums)/"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(move |r: &Request| responder.answer(r))
        .mount(&server)
        .await;
    let mut progress = Vec::new();
    let out = sp(&server)
        .artist_songs("1vCWHaC5f2uS3yhpwWbIA6", &Default::default(), |p| {
            progress.push(p)
        })
        .await
        .unwrap();

    let album_requests = requests_matching(&server, "/v1/artists/").await;
    assert_eq!(album_requests.len(), 3, "23 albums in pages of 10");
    for r in &album_requests {
        let q = query(r);
        assert!(q["limit"].parse::<u64>().unwrap() <= 10, "{}", r.url);
        assert_eq!(
            (q["include_groups"].as_str(), q["market"].as_str()),
            ("album,single,compilation", "US")
        );
    }
    for r in requests_matching(&server, "/v1/albums/").await {
        let q = query(&r);
        assert!(
            q["limit"].parse::<u64>().unwrap() <= 50 && q["market"] == "US",
            "{}",
            r.url
        );
    }
    assert_eq!(out.albums, 23);
    assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    // Album 0 needs two track pages: 3 album pages + 24 track pages.
    assert_eq!(out.requests, 3 + 24);
    let all_tracks: usize = fake.albums.iter().map(|(_, t)| t.len()).sum();
    assert_eq!(out.tracks.len(), all_tracks);

    let (rows, errors) = sp_mapping::song_rows(&out.tracks);
    assert!(errors.is_empty());
    // 60 + 11 albums of 3; the 11 singles repeat a track already seen.
    assert_eq!(rows.len(), 60 + 11 * 3);
    let t0200 = rows.iter().find(|s| s.spotify_id == "t0200").unwrap();
    assert_eq!(
        t0200.album_name.as_deref(),
        Some("Album 2"),
        "the first album keeps a repeated track"
    );
    assert_eq!(
        t0200.album_image_url.as_deref(),
        Some("https://i.scdn.co/image/alb02xxxxxxxxxxxxxxxxx-640")
    );
    assert_eq!(rows[0].album_image_url, None, "album 0 has no images");
    assert_eq!(
        progress.last().map(|p| (p.albums_done, p.albums_total)),
        Some((23, 23))
    );
}

/// §5 item 7: the fake used above really refuses a `limit` over 10 with 400 "Invalid limit"
/// (so the test above would catch a client asking for more), and the client's own album page
/// stays within it.
#[tokio::test]
async fn sp_album_limit_over_10_is_refused_by_the_fake() {
    let server = MockServer::start().await;
    token_mock(token_answer("tok-1", 3600)).mount(&server).await;
    let fake = Arc::new(SpotifyCatalogFake::new());
    Mock::given(method("GET"))
        .and(path_regex("^/v1/"))
        .respond_with(move |r: &Request| fake.answer(r))
        .mount(&server)
        .await;
    let raw = reqwest::get(format!("{}/v1/artists/x/albums?limit=15", server.uri()))
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    assert!(raw.text().await.unwrap().contains("Invalid limit"));
    let page = sp(&server).artist_albums_page("x", 0).await.unwrap();
    assert_eq!(page.items.len(), 10);
}

// ---------------------------------------------------------------------------------------------
// setlist.fm

fn sf_with(server: &MockServer, settings: HttpSettings) -> SetlistFmClient {
    let base = Url::parse(&format!("{}/rest/1.0", server.uri())).unwrap();
    SetlistFmClient::new(base, Secret::new(SF_KEY), settings).unwrap()
}

fn sf(server: &MockServer) -> SetlistFmClient {
    sf_with(server, fast(Provider::Setlistfm))
}

fn sf_not_found() -> ResponseTemplate {
    ResponseTemplate::new(404)
        .set_body_json(json!({"code": 404, "status": "Not Found", "message": "not found", "timestamp": "2026-09-30T12:00:00.000+0000"}))
}

fn sf_setlist(id: &str, date: NaiveDate) -> Value {
    json!({"id": id, "versionId": format!("v{id}"), "eventDate": date.format("%d-%m-%Y").to_string(),
           "artist": {"mbid": "e01646f2-2a04-450d-8bf2-0d993082e058", "name": "Phish"},
           "venue": {"id": "33d62cf9", "name": "Hollywood Bowl"},
           "sets": {"set": [{"song": [{"name": "Fuego"}]}]},
           "url": format!("https://www.setlist.fm/setlist/phish/{id}.html")})
}

/// A setlist listing of `total` setlists, one a day back from `newest`, 20 a page, newest
/// first; pages in `missing` answer 404.
fn sf_listing(
    newest: NaiveDate,
    total: u64,
    missing: Vec<u64>,
) -> impl Fn(&Request) -> ResponseTemplate {
    move |r: &Request| {
        let p: u64 = query(r).get("p").and_then(|s| s.parse().ok()).unwrap_or(1);
        let first = (p - 1) * 20;
        if missing.contains(&p) || first >= total {
            return sf_not_found();
        }
        let items: Vec<Value> = (first..(first + 20).min(total))
            .map(|i| sf_setlist(&format!("{i:08x}"), newest - ChronoDuration::days(i as i64)))
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"type": "setlists", "itemsPerPage": 20, "page": p, "total": total, "setlist": items}))
    }
}

fn sf_pages_requested(requests: &[Request]) -> Vec<u64> {
    requests
        .iter()
        .map(|r| query(r).get("p").and_then(|s| s.parse().ok()).unwrap_or(0))
        .collect()
}

/// §6: setlist.fm answers XML unless asked for JSON; the client asks for JSON and sends its key.
#[tokio::test]
async fn sf_asks_for_json_and_sends_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/1.0/search/artists"))
        .and(header("accept", "application/json"))
        .and(header("x-api-key", SF_KEY))
        .and(query_param("artistName", "Phish"))
        .and(query_param("sort", "relevance"))
        .and(query_param("p", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"type": "artists", "itemsPerPage": 30, "page": 1, "total": 2,
            "artist": [
                {"mbid": "e01646f2-2a04-450d-8bf2-0d993082e058", "name": "Phish", "sortName": "Phish", "disambiguation": ""},
                {"mbid": "d942f71b-09d3-406c-8f7d-c52eba3135c1", "name": "Trey Anastasio", "sortName": "Anastasio, Trey",
                 "disambiguation": "US jam band Phish lead singer"}]})))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><artists itemsPerPage="30" page="1" total="0"/>"#,
            "application/xml",
        ))
        .mount(&server)
        .await;
    let client = sf(&server);
    let artists = client.search_artists("Phish").await.unwrap();
    assert_eq!(artists.len(), 2);
    let phish = client
        .find_artist_by_name("Phish")
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        phish.mbid.as_deref(),
        Some("e01646f2-2a04-450d-8bf2-0d993082e058")
    );
}

/// An XML answer (what a client without the Accept header gets) is a BadResponse, not a panic.
#[tokio::test]
async fn sf_xml_answer_is_bad_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"<?xml version="1.0"?><artists total="0"/>"#,
            "application/xml",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let e = sf(&server).search_artists("Phish").await.unwrap_err();
    assert!(matches!(e, ProviderError::BadResponse { .. }), "{e:?}");
    assert_no_secret(&e);
}

/// §5 item 11: no results is a 404: an empty list, not an error, and not retried.
#[tokio::test]
async fn sf_404_on_empty_search_is_empty() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/1.0/search/artists"))
        .respond_with(sf_not_found())
        .expect(1)
        .mount(&server)
        .await;
    assert!(
        sf(&server)
            .search_artists("Nobody Has This Name")
            .await
            .unwrap()
            .is_empty()
    );
}

/// §5 item 11: paging stops at the first 404 (past the end), even if `total` promised more.
#[tokio::test]
async fn sf_paging_stops_at_404() {
    let server = MockServer::start().await;
    let newest = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    Mock::given(method("GET"))
        .and(path(
            "/rest/1.0/artist/e01646f2-2a04-450d-8bf2-0d993082e058/setlists",
        ))
        .respond_with(sf_listing(newest, 100, vec![3]))
        .mount(&server)
        .await;
    let out = sf(&server)
        .artist_setlists(
            "e01646f2-2a04-450d-8bf2-0d993082e058",
            NaiveDate::MIN,
            50,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.setlists.len(), out.stopped, out.requests),
        (40, StopReason::NoMorePages, 3)
    );
    assert_eq!(
        sf_pages_requested(&requests_matching(&server, "/rest").await),
        [1, 2, 3]
    );
}

/// A re-sync stops at the first page whose setlists are all stored: an unchanged artist costs
/// one call, one with three new setlists two (the page holding them, then a stored one).
#[tokio::test]
async fn sf_paging_stops_at_the_first_page_already_stored() {
    let server = MockServer::start().await;
    let newest = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    Mock::given(method("GET"))
        .and(path_regex("/setlists$"))
        .respond_with(sf_listing(newest, 100, vec![]))
        .mount(&server)
        .await;
    let client = sf(&server);
    let mbid = "e01646f2-2a04-450d-8bf2-0d993082e058";
    let all: HashSet<String> = (0..100u64).map(|i| format!("{i:08x}")).collect();
    let out = client
        .artist_setlists(mbid, NaiveDate::MIN, 50, &all)
        .await
        .unwrap();
    assert_eq!((out.stopped, out.requests), (StopReason::AllStored, 1));
    assert_eq!(out.setlists.len(), 20, "the stored page is still upserted");

    let but_three: HashSet<String> = (3..100u64).map(|i| format!("{i:08x}")).collect();
    let out = client
        .artist_setlists(mbid, NaiveDate::MIN, 50, &but_three)
        .await
        .unwrap();
    assert_eq!((out.stopped, out.requests), (StopReason::AllStored, 2));
    assert!(
        ["00000000", "00000001", "00000002"]
            .iter()
            .all(|id| out.setlists.iter().any(|s| s.id.as_deref() == Some(*id)))
    );
}

/// §5 item 11: an artist with no setlists at all (404 on page 1) has an empty list.
#[tokio::test]
async fn sf_no_setlists_is_empty() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("/setlists$"))
        .respond_with(sf_not_found())
        .expect(1)
        .mount(&server)
        .await;
    let out = sf(&server)
        .artist_setlists(
            "e01646f2-2a04-450d-8bf2-0d993082e058",
            NaiveDate::MIN,
            5,
            &Default::default(),
        )
        .await
        .unwrap();
    assert!(out.setlists.is_empty());
    assert_eq!(out.stopped, StopReason::NoMorePages);
}

/// §5 items 3, 11: newest first, so the sweep stops at the first setlist older than the
/// horizon: nothing older is returned and no later page is asked for.
#[tokio::test]
async fn sf_paging_stops_at_the_horizon() {
    let server = MockServer::start().await;
    let newest = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    Mock::given(method("GET"))
        .and(path_regex("/setlists$"))
        .respond_with(sf_listing(newest, 2073, vec![]))
        .mount(&server)
        .await;
    // 30 days back: setlists 0..=30 are on or after it; the 31st is on page 2.
    let horizon = newest - ChronoDuration::days(30);
    let out = sf(&server)
        .artist_setlists(
            "e01646f2-2a04-450d-8bf2-0d993082e058",
            horizon,
            50,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.stopped, StopReason::Horizon);
    assert_eq!(out.setlists.len(), 31);
    assert_eq!(out.total, Some(2073));
    assert_eq!(
        sf_pages_requested(&requests_matching(&server, "/rest").await),
        [1, 2]
    );
}

/// §5 items 3, 11: the page count comes from `total`/`itemsPerPage`; `max_pages` bounds the
/// calls spent on one artist.
#[tokio::test]
async fn sf_paging_stops_at_the_last_page_and_at_max_pages() {
    let server = MockServer::start().await;
    let newest = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    Mock::given(method("GET"))
        .and(path_regex("/setlists$"))
        .respond_with(sf_listing(newest, 45, vec![]))
        .mount(&server)
        .await;
    let client = sf(&server);
    let out = client
        .artist_setlists(
            "e01646f2-2a04-450d-8bf2-0d993082e058",
            NaiveDate::MIN,
            50,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.setlists.len(), out.stopped, out.requests),
        (45, StopReason::LastPage, 3)
    );
    let out = client
        .artist_setlists(
            "e01646f2-2a04-450d-8bf2-0d993082e058",
            NaiveDate::MIN,
            2,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.setlists.len(), out.stopped, out.requests),
        (40, StopReason::MaxPages, 2)
    );
    assert_eq!(
        sf_pages_requested(&requests_matching(&server, "/rest").await),
        [1, 2, 3, 1, 2]
    );
}

/// §5 item 3: the day's budget (1,440 calls for a standard key) ends the sweep with what was
/// read, instead of spending calls the key does not have.
#[tokio::test]
async fn sf_paging_stops_when_the_daily_budget_is_spent() {
    let server = MockServer::start().await;
    let newest = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
    Mock::given(method("GET"))
        .and(path_regex("/setlists$"))
        .respond_with(sf_listing(newest, 2073, vec![]))
        .mount(&server)
        .await;
    let settings = HttpSettings {
        daily_limit: Some(2),
        ..fast(Provider::Setlistfm)
    };
    let out = sf_with(&server, settings)
        .artist_setlists(
            "e01646f2-2a04-450d-8bf2-0d993082e058",
            NaiveDate::MIN,
            50,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        (out.setlists.len(), out.stopped, out.requests),
        (40, StopReason::Budget, 2)
    );
    assert_eq!(requests_matching(&server, "/rest").await.len(), 2);
}

/// §5 item 3: API Gateway's 429 has no `Retry-After`: the request is retried after the default
/// wait (about 2 s), then succeeds.
#[tokio::test]
async fn sf_429_without_retry_after_waits_the_default() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/1.0/search/artists"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-amzn-errortype", "TooManyRequestsException")
                .set_body_json(json!({"message": "Too Many Requests"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/1.0/search/artists"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"type": "artists", "itemsPerPage": 30, "page": 1, "total": 1,
            "artist": [{"mbid": "e01646f2-2a04-450d-8bf2-0d993082e058", "name": "Phish"}]}),
        ))
        .mount(&server)
        .await;
    let default_wait = HttpSettings::for_provider(Provider::Setlistfm).default_retry_after;
    let settings = HttpSettings {
        default_retry_after: default_wait,
        ..fast(Provider::Setlistfm)
    };
    let (hook, seen) = recorder();
    let client = sf_with(&server, settings).with_retry_hook(hook);
    let started = std::time::Instant::now();
    assert_eq!(client.search_artists("Phish").await.unwrap().len(), 1);
    assert!(
        started.elapsed() >= default_wait,
        "retried after {:?}",
        started.elapsed()
    );
    let notices = seen.lock().unwrap();
    assert_eq!(notices.len(), 1);
    assert!(
        notices[0].wait >= default_wait && notices[0].wait >= Duration::from_secs(2),
        "{:?}",
        notices[0]
    );
}

/// §5 item 8: a deactivated key (401, or API Gateway's 403) is Auth, fatal, not retried.
#[tokio::test]
async fn sf_401_and_403_are_auth() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/1.0/search/artists"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"code": 401, "status": "Unauthorized",
            "message": format!("invalid api key {SF_KEY}")})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("/setlists$"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .expect(1)
        .mount(&server)
        .await;
    let client = sf(&server);
    let e = client.search_artists("Phish").await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Auth { status: 401, .. }) && e.is_fatal_for_source(),
        "{e:?}"
    );
    assert_no_secret(&e);
    let e = client
        .artist_setlists(
            "e01646f2-2a04-450d-8bf2-0d993082e058",
            NaiveDate::MIN,
            3,
            &Default::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Auth { status: 403, .. }),
        "{e:?}"
    );
    assert_no_secret(&e);
}

/// §5 item 17 end to end: a page with an empty set list, the docs' `set` shape and a setlist
/// without tour or city maps without losing the others.
#[tokio::test]
async fn sf_setlists_map_with_missing_parts() {
    use syncdeck::providers::setlistfm::mapping::setlist_rows;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("/setlists$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"type": "setlists", "itemsPerPage": 20, "page": 1, "total": 3,
            "setlist": [
                {"id": "235d0827", "eventDate": "27-04-2025", "tour": {"name": "Spring Tour 2025"},
                 "venue": {"id": "33d62cf9", "name": "Hollywood Bowl", "city": {"name": "Los Angeles", "country": {"code": "US"}}},
                 "sets": {"set": [{"name": "Set 1:", "song": [{"name": "Intro", "tape": true}, {"name": "The Landlady"}]},
                                  {"encore": 1, "song": [{"name": "Fuego"}]}]}},
                {"id": "3b5d0820", "eventDate": "26-04-2025", "venue": {"id": "bd6c9f6", "name": "Bowl, Los Angeles"}, "sets": {"set": []}},
                {"id": "63de4613", "eventDate": "25-04-2025", "set": [{"song": [{"name": "Yesterday"}]}]}
            ]})))
        .mount(&server)
        .await;
    let out = sf(&server)
        .artist_setlists(
            "e01646f2-2a04-450d-8bf2-0d993082e058",
            NaiveDate::MIN,
            3,
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.setlists.len(), 3);
    let mapped: Vec<_> = out
        .setlists
        .iter()
        .map(|s| setlist_rows(s).unwrap())
        .collect();
    assert_eq!(
        mapped[0]
            .1
            .iter()
            .map(|s| (s.position, s.is_encore))
            .collect::<Vec<_>>(),
        [(1, false), (2, true)]
    );
    assert!(mapped[1].1.is_empty() && mapped[1].0.tour_name.is_none());
    assert_eq!(mapped[2].1.len(), 1);
    assert_eq!(mapped[0].0.date, NaiveDate::from_ymd_opt(2025, 4, 27));
}

#[tokio::test]
async fn tm_budget_follows_the_rate_limit_headers() {
    let server = MockServer::start().await;
    let empty = json!({"page": {"size": 20, "totalElements": 0, "totalPages": 0, "number": 0}});
    Mock::given(method("GET"))
        .and(path("/discovery/v2/attractions.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(&empty)
                .insert_header("Rate-Limit", "5000")
                .insert_header("Rate-Limit-Available", "4723")
                .insert_header("Rate-Limit-Over", "0")
                .insert_header("Rate-Limit-Reset", "1457417554290"),
        )
        .mount(&server)
        .await;
    let client = tm(&server);
    client.search_attractions("x", 1).await.unwrap();
    let b = client.http().budget.snapshot();
    assert_eq!(b.calls, 1);
    assert_eq!(b.remaining, Some(4723), "the header, not the local 4999");
    assert_eq!(
        b.resets_at.map(|t| t.timestamp_millis()),
        Some(1_457_417_554_290)
    );
}
