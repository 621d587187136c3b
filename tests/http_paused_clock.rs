//! Retry and backoff timing of the shared HTTP layer, on tokio's paused clock: a scripted
//! transport answers in memory, so every wait is measured exactly, without real sleeps.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use syncdeck::providers::http::{
    HttpSettings, ProviderHttp, RetryNotice, Transport, TransportResult,
};
use syncdeck::providers::limiter::Rate;
use syncdeck::providers::{Provider, ProviderError, setlistfm, spotify, ticketmaster};
use tokio::time::Instant;

/// One scripted step: an answer, a network failure, or an answer that never comes.
#[derive(Clone)]
enum Step {
    Answer(u16, Vec<(&'static str, &'static str)>, &'static str),
    Fail(&'static str),
    Hang,
}

struct Script {
    steps: Mutex<VecDeque<Step>>,
    sent_at: Mutex<Vec<Instant>>,
}

impl Script {
    fn new(steps: Vec<Step>) -> Arc<Script> {
        Arc::new(Script {
            steps: Mutex::new(steps.into()),
            sent_at: Mutex::new(Vec::new()),
        })
    }
    fn sent(&self) -> Vec<Instant> {
        self.sent_at.lock().unwrap().clone()
    }
}

impl Transport for Script {
    fn execute<'a>(
        &'a self,
        _client: &'a reqwest::Client,
        _request: reqwest::Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransportResult> + Send + 'a>> {
        self.sent_at.lock().unwrap().push(Instant::now());
        let step = self
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .expect("the script has no more answers");
        Box::pin(async move {
            match step {
                Step::Answer(status, headers, body) => {
                    let mut h = HeaderMap::new();
                    for (k, v) in headers {
                        h.insert(k, v.parse().unwrap());
                    }
                    Ok((StatusCode::from_u16(status).unwrap(), h, Bytes::from(body)))
                }
                Step::Fail(why) => Err(why.into()),
                Step::Hang => std::future::pending().await,
            }
        })
    }
}

fn settings(provider: Provider) -> HttpSettings {
    HttpSettings {
        rate: Rate::per_second(1000),
        ..HttpSettings::for_provider(provider)
    }
}

fn http(provider: Provider, script: &Arc<Script>) -> (ProviderHttp, Arc<Mutex<Vec<RetryNotice>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = notices.clone();
    let h = ProviderHttp::new(
        provider,
        settings(provider),
        vec!["tmCANARYa1b2c3d4e5f6g7h8".into()],
    )
    .unwrap()
    .with_transport(script.clone())
    .with_retry_hook(Arc::new(move |n: &RetryNotice| {
        seen.lock().unwrap().push(n.clone())
    }));
    (h, notices)
}

async fn get(h: &ProviderHttp, classify: Classify) -> Result<(), ProviderError> {
    h.send(
        |c| c.get("http://fake.invalid/x?apikey=tmCANARYa1b2c3d4e5f6g7h8"),
        classify,
        true,
    )
    .await
    .map(|_| ())
}

fn gaps(sent: &[Instant]) -> Vec<Duration> {
    sent.windows(2).map(|w| w[1] - w[0]).collect()
}

type Classify = fn(&syncdeck::providers::http::ErrorResponse<'_>) -> ProviderError;

const OK: Step = Step::Answer(200, vec![], "{}");

#[tokio::test(start_paused = true)]
async fn spotify_retry_after_is_obeyed_to_the_second_and_never_earlier() {
    let s = Script::new(vec![
        Step::Answer(
            429,
            vec![("retry-after", "7")],
            r#"{"error":{"status":429,"message":"API rate limit exceeded"}}"#,
        ),
        OK,
    ]);
    let (h, notices) = http(Provider::Spotify, &s);
    get(&h, spotify::classify).await.unwrap();
    let gap = gaps(&s.sent())[0];
    // 7 s plus at most 250 ms of jitter; never earlier than asked.
    assert!(
        gap >= Duration::from_secs(7) && gap <= Duration::from_millis(7250),
        "{gap:?}"
    );
    assert_eq!(notices.lock().unwrap().len(), 1);
    assert!(h.budget.snapshot().throttled_until.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_longer_than_the_cap_ends_the_call_at_once() {
    let s = Script::new(vec![Step::Answer(
        429,
        vec![("retry-after", "86400")],
        r#"{"error":{"status":429,"message":"API rate limit exceeded"}}"#,
    )]);
    let (h, notices) = http(Provider::Spotify, &s);
    let started = Instant::now();
    let e = get(&h, spotify::classify).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(86400)),
        "{e:?}"
    );
    assert_eq!(started.elapsed(), Duration::ZERO, "no sleeping for a day");
    assert!(notices.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn setlistfm_gateway_429_without_retry_after_waits_the_default_two_seconds() {
    let s = Script::new(vec![
        Step::Answer(
            429,
            vec![("x-amzn-errortype", "TooManyRequestsException")],
            r#"{"message":"Too Many Requests"}"#,
        ),
        OK,
    ]);
    let (h, _) = http(Provider::Setlistfm, &s);
    get(&h, setlistfm::classify).await.unwrap();
    let gap = gaps(&s.sent())[0];
    assert!(
        gap >= Duration::from_secs(2) && gap <= Duration::from_millis(2250),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn ticketmaster_spike_arrest_is_retried_and_quota_violation_is_not() {
    let spike = r#"{"fault":{"faultstring":"Spike arrest violation. Allowed rate : 5ps","detail":{"errorcode":"policies.ratelimit.SpikeArrestViolation"}}}"#;
    let s = Script::new(vec![Step::Answer(429, vec![], spike), OK]);
    let (h, _) = http(Provider::Ticketmaster, &s);
    get(&h, ticketmaster::classify).await.unwrap();
    assert!(gaps(&s.sent())[0] >= Duration::from_secs(2));

    let quota = r#"{"fault":{"faultstring":"Rate limit quota violation. Quota limit  exceeded. Identifier : tmCANARYa1b2c3d4e5f6g7h8","detail":{"errorcode":"policies.ratelimit.QuotaViolation"}}}"#;
    let s = Script::new(vec![Step::Answer(429, vec![], quota)]);
    let (h, notices) = http(Provider::Ticketmaster, &s);
    let started = Instant::now();
    let e = get(&h, ticketmaster::classify).await.unwrap_err();
    assert!(matches!(e, ProviderError::QuotaExhausted { .. }), "{e:?}");
    assert_eq!(
        (s.sent().len(), started.elapsed()),
        (1, Duration::ZERO),
        "a quota is never retried"
    );
    assert!(notices.lock().unwrap().is_empty());
    assert!(!format!("{e} {e:?}").contains("CANARY"));
    assert!(
        h.budget.snapshot().throttled_until.is_some(),
        "the source stays stopped"
    );
}

#[tokio::test(start_paused = true)]
async fn transient_failures_back_off_exponentially_with_jitter_up_to_the_attempt_limit() {
    let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    let s = Script::new(vec![
        Step::Answer(502, vec![], html),
        Step::Fail("the connection dropped while reading the answer"),
        Step::Answer(503, vec![], html),
        Step::Answer(500, vec![], html),
    ]);
    let (h, notices) = http(Provider::Ticketmaster, &s);
    let e = get(&h, ticketmaster::classify).await.unwrap_err();
    assert!(
        matches!(
            e,
            ProviderError::Transient {
                status: Some(500),
                ..
            }
        ),
        "{e:?}"
    );
    let g = gaps(&s.sent());
    assert_eq!(g.len(), 3, "4 attempts in all");
    // Base 500 ms doubling, each wait in [cap/2, cap]: 250–500 ms, 500–1000 ms, 1–2 s.
    for (i, (lo, hi)) in [(250, 500), (500, 1000), (1000, 2000)]
        .into_iter()
        .enumerate()
    {
        assert!(
            g[i] >= Duration::from_millis(lo) && g[i] <= Duration::from_millis(hi),
            "wait {i}: {:?}",
            g[i]
        );
    }
    assert_eq!(notices.lock().unwrap().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_never_answers_times_out_and_is_retried() {
    let s = Script::new(vec![Step::Hang, OK]);
    let (h, notices) = http(Provider::Spotify, &s);
    get(&h, spotify::classify).await.unwrap();
    let g = gaps(&s.sent())[0];
    // The 20 s timeout, then a first backoff of 250–500 ms.
    assert!(
        g >= Duration::from_millis(20_250) && g <= Duration::from_millis(20_500),
        "{g:?}"
    );
    assert!(
        notices.lock().unwrap()[0]
            .reason
            .contains("no answer within 20 s")
    );
}

#[tokio::test(start_paused = true)]
async fn auth_not_found_and_malformed_answers_are_never_retried() {
    for (provider, classify, step) in [
        (
            Provider::Ticketmaster,
            ticketmaster::classify as Classify,
            Step::Answer(
                401,
                vec![],
                r#"{"fault":{"faultstring":"Invalid ApiKey","detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}"#,
            ),
        ),
        (
            Provider::Spotify,
            spotify::classify,
            Step::Answer(
                404,
                vec![],
                r#"{"error":{"status":404,"message":"non existing id"}}"#,
            ),
        ),
        (
            Provider::Setlistfm,
            setlistfm::classify,
            Step::Answer(403, vec![], r#"{"message":"Forbidden"}"#),
        ),
    ] {
        let s = Script::new(vec![step]);
        let (h, notices) = http(provider, &s);
        let started = Instant::now();
        let e = get(&h, classify).await.unwrap_err();
        assert!(!e.is_retryable(), "{e:?}");
        assert_eq!((s.sent().len(), started.elapsed()), (1, Duration::ZERO));
        assert!(notices.lock().unwrap().is_empty());
    }
    // A 200 whose body is an HTML page (a proxy's) is transient; malformed JSON is the item's
    // failure, reported by the caller's parse, and not retried here.
    let s = Script::new(vec![
        Step::Answer(200, vec![], "<html><body>gateway</body></html>"),
        OK,
    ]);
    let (h, _) = http(Provider::Ticketmaster, &s);
    get(&h, ticketmaster::classify).await.unwrap();
    assert_eq!(s.sent().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_source_does_not_stall_the_others() {
    // Spotify is told to wait 30 s; Ticketmaster, on its own limiter, answers meanwhile.
    let sp = Script::new(vec![
        Step::Answer(
            429,
            vec![("retry-after", "30")],
            r#"{"error":{"status":429,"message":"API rate limit exceeded"}}"#,
        ),
        OK,
    ]);
    let tm = Script::new(vec![OK, OK, OK]);
    let (sp_http, _) = http(Provider::Spotify, &sp);
    let (tm_http, _) = http(Provider::Ticketmaster, &tm);
    let started = Instant::now();
    let spotify = async {
        get(&sp_http, spotify::classify).await.unwrap();
        started.elapsed()
    };
    let ticketmaster = async {
        for _ in 0..3 {
            get(&tm_http, ticketmaster::classify).await.unwrap();
        }
        started.elapsed()
    };
    let (sp_done, tm_done) = tokio::join!(spotify, ticketmaster);
    assert!(sp_done >= Duration::from_secs(30), "{sp_done:?}");
    assert!(
        tm_done < Duration::from_secs(1),
        "Ticketmaster waited for Spotify's throttle: {tm_done:?}"
    );
}

/// Five requests in a row without an answer open the breaker: the next calls fail at once,
/// naming the host, without reaching the transport; after the 30 s cool-down one probe goes
/// out, and its answer closes the breaker again.
#[tokio::test(start_paused = true)]
async fn a_host_that_does_not_answer_opens_the_breaker_until_a_probe_gets_an_answer() {
    let refused = Step::Fail("cannot connect: Connection refused");
    // Two requests of four attempts each: the fifth failure opens it mid-way.
    let s = Script::new(
        vec![refused.clone(); 5]
            .into_iter()
            .chain([OK, OK])
            .collect(),
    );
    let (h, _) = http(Provider::Ticketmaster, &s);
    let first = get(&h, ticketmaster::classify).await.unwrap_err();
    assert!(matches!(first, ProviderError::Transient { .. }), "{first}");
    assert!(
        first.to_string().contains("(at fake.invalid:80)"),
        "{first}"
    );
    let second = get(&h, ticketmaster::classify).await.unwrap_err();
    let ProviderError::Unreachable { host, failures, .. } = &second else {
        panic!("expected the breaker to answer: {second}");
    };
    assert_eq!((host.as_str(), *failures), ("fake.invalid:80", 5));
    assert!(
        second
            .to_string()
            .contains("unreachable at fake.invalid:80")
    );
    assert!(
        !second.is_retryable(),
        "a run does not retry into an open breaker"
    );
    assert_eq!(s.sent().len(), 5, "the open breaker sent nothing more");

    // Still open: at once, nothing sent.
    let before = Instant::now();
    assert!(matches!(
        get(&h, ticketmaster::classify).await,
        Err(ProviderError::Unreachable { .. })
    ));
    assert_eq!(Instant::now(), before);
    assert_eq!(s.sent().len(), 5);

    // After the cool-down the probe gets an answer: closed, calls go through again.
    tokio::time::advance(Duration::from_secs(31)).await;
    get(&h, ticketmaster::classify).await.unwrap();
    get(&h, ticketmaster::classify).await.unwrap();
    assert_eq!(s.sent().len(), 7);
}
