//! The HTTP layer the three clients share: rate limiting, a per-request timeout, retries with
//! capped exponential backoff and full jitter that obey `Retry-After`, budget counting, and
//! errors mapped into [`ProviderError`] with every key scrubbed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

use super::breaker::{Breaker, BreakerSettings};
use super::budget::Budget;
use super::error::{Provider, ProviderError};
use super::gate::RequestGate;
use super::limiter::{Limiter, Rate};
use super::redact::{redact_url, scrub};

/// How one provider's requests are paced and retried. All overridable.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub rate: Rate,
    pub timeout: Duration,
    /// Attempts of one request, the first included.
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest `Retry-After` obeyed by sleeping; longer ones end the request as rate-limited.
    pub max_retry_after: Duration,
    /// Wait after a 429 that names no `Retry-After` (setlist.fm's API gateway sends none).
    pub default_retry_after: Duration,
    pub daily_limit: Option<u64>,
    /// Largest answer body read, in bytes (after decompression). A larger one is refused as a
    /// bad response, without reading the rest: no API documents answers anywhere near this.
    pub max_body_bytes: u64,
    /// When consecutive requests without an answer stop calling the host for a while.
    pub breaker: BreakerSettings,
    /// Share of the daily quota, in percent, that bulk work leaves to manual syncs: bulk
    /// requests stop (and their runs wait for the reset) when only this much is left.
    pub manual_reserve_percent: u8,
}

/// The default [`HttpSettings::manual_reserve_percent`].
pub const DEFAULT_MANUAL_RESERVE_PERCENT: u8 = 10;

/// The default [`HttpSettings::max_body_bytes`]: 16 MiB, about fifty times the largest real
/// answer (a page of 200 Ticketmaster events).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

impl HttpSettings {
    pub fn for_provider(provider: Provider) -> HttpSettings {
        let base = HttpSettings {
            rate: Rate::per_second(5),
            timeout: Duration::from_secs(20),
            max_attempts: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
            default_retry_after: Duration::from_secs(2),
            daily_limit: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            breaker: BreakerSettings::default(),
            manual_reserve_percent: DEFAULT_MANUAL_RESERVE_PERCENT,
        };
        match provider {
            // 5 req/s and 5,000 a day per key (apis.md 1.3).
            Provider::Ticketmaster => HttpSettings {
                daily_limit: Some(5000),
                ..base
            },
            // No published number; a rolling 30 s window. 10/s is well inside what is seen.
            Provider::Spotify => HttpSettings {
                rate: Rate::per_second(10),
                ..base
            },
            // About 1 req/s and 1,440 a day for a standard key.
            Provider::Setlistfm => HttpSettings {
                rate: Rate::per_second(1),
                daily_limit: Some(1440),
                ..base
            },
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// Parses the body as JSON into `T`; a malformed body is a [`ProviderError::BadResponse`].
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        provider: Provider,
        what: &str,
    ) -> Result<T, ProviderError> {
        serde_json::from_slice(&self.body).map_err(|e| ProviderError::BadResponse {
            provider,
            what: format!("{what}: malformed JSON ({e}) in {} bytes", self.body.len()),
        })
    }
}

/// A refused answer, handed to the provider's classifier.
pub struct ErrorResponse<'a> {
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    pub body: &'a str,
}

/// A notice that a request is being retried, for logs and progress events.
#[derive(Debug, Clone)]
pub struct RetryNotice {
    pub provider: Provider,
    pub attempt: u32,
    pub wait: Duration,
    pub reason: String,
}

pub type RetryHook = Arc<dyn Fn(&RetryNotice) + Send + Sync>;

/// An answer as a transport returns it: status, headers, body; or why none came (no URL in it).
pub type TransportResult = Result<(StatusCode, HeaderMap, Bytes), TransportError>;

/// Why a transport has no answer to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No whole answer came (refused or dropped connection, a timeout): worth another try.
    NoAnswer(String),
    /// The body is larger than `limit` bytes: `seen` is its declared length, or what was read
    /// before stopping. Asking again would fetch the same, so it is a bad response.
    TooLarge { limit: u64, seen: u64 },
}

impl From<String> for TransportError {
    fn from(why: String) -> TransportError {
        TransportError::NoAnswer(why)
    }
}

impl From<&str> for TransportError {
    fn from(why: &str) -> TransportError {
        TransportError::NoAnswer(why.to_string())
    }
}

/// The message of a [`TransportError::TooLarge`], naming the limit and what to check.
pub fn too_large_message(limit: u64, seen: u64) -> String {
    format!(
        "the answer is larger than the {} limit (at least {} bytes), so it was not read further; \
         no API documents answers this large: check that the base URL points at the real API \
         and not at a proxy or a download",
        describe_bytes(limit),
        crate::text::thousands(i64::try_from(seen).unwrap_or(i64::MAX))
    )
}

/// `16 MiB`, `512 KiB` or `100 bytes`.
fn describe_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!(
            "{} bytes",
            crate::text::thousands(i64::try_from(n).unwrap_or(i64::MAX))
        )
    }
}

/// What carries a request. Production uses reqwest; tests script answers in memory, so retry
/// and backoff timing can be checked on tokio's paused clock without sockets.
pub trait Transport: Send + Sync {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransportResult> + Send + 'a>>;
}

/// The real network, through reqwest. Bodies are read chunk by chunk and given up on past
/// `max_body_bytes` (a declared `Content-Length` over it is refused before reading), so an
/// endless or huge answer costs at most that much memory.
pub struct ReqwestTransport {
    pub max_body_bytes: u64,
}

impl Transport for ReqwestTransport {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransportResult> + Send + 'a>> {
        Box::pin(async move {
            let limit = self.max_body_bytes;
            let no_answer = |e: reqwest::Error| TransportError::NoAnswer(describe_reqwest(&e));
            let mut resp = client.execute(request).await.map_err(no_answer)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            // Without decompression the declared length is the body's; with it, reqwest
            // drops the header and the loop below counts the decoded bytes.
            if let Some(declared) = resp.content_length().filter(|n| *n > limit) {
                return Err(TransportError::TooLarge {
                    limit,
                    seen: declared,
                });
            }
            let capacity = resp.content_length().unwrap_or(0).min(limit);
            let mut body = bytes::BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
            while let Some(chunk) = resp.chunk().await.map_err(no_answer)? {
                let seen = body.len() as u64 + chunk.len() as u64;
                if seen > limit {
                    return Err(TransportError::TooLarge { limit, seen });
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, headers, body.freeze()))
        })
    }
}

/// One provider's HTTP client.
pub struct ProviderHttp {
    pub provider: Provider,
    client: reqwest::Client,
    limiter: Limiter,
    pub settings: HttpSettings,
    pub budget: Arc<Budget>,
    /// Secret values to scrub from any text that leaves this layer.
    secrets: Vec<String>,
    on_retry: Option<RetryHook>,
    transport: Arc<dyn Transport>,
    /// The budget shared with other processes on the same key, awaited before every attempt.
    gate: Option<Arc<dyn RequestGate>>,
    /// Fails requests at once while the host is not answering.
    breaker: Breaker,
}

impl std::fmt::Debug for ProviderHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderHttp")
            .field("provider", &self.provider)
            .field("settings", &self.settings)
            .finish()
    }
}

/// Default mapping of a refused answer; providers refine it for their own bodies.
pub fn default_classify(provider: Provider, r: &ErrorResponse<'_>) -> ProviderError {
    let message = first_line(r.body);
    match r.status.as_u16() {
        401 | 403 => ProviderError::Auth {
            provider,
            status: r.status.as_u16(),
            message,
        },
        404 => ProviderError::NotFound {
            provider,
            what: message,
        },
        429 => ProviderError::RateLimited {
            provider,
            retry_after: retry_after(r.headers),
        },
        408 | 500..=599 => ProviderError::Transient {
            provider,
            status: Some(r.status.as_u16()),
            message,
        },
        s => ProviderError::Rejected {
            provider,
            status: s,
            message,
        },
    }
}

/// A short, single-line excerpt of a body (HTML pages reduced to their text's start).
pub fn first_line(body: &str) -> String {
    let text = if looks_like_html(body) {
        "an HTML error page".to_string()
    } else {
        body.trim().to_string()
    };
    crate::text::truncate(
        &crate::text::sanitize(text.lines().next().unwrap_or("")),
        200,
    )
}

pub fn looks_like_html(body: &str) -> bool {
    let t = body.trim_start();
    t.starts_with('<')
        && t.get(..200)
            .unwrap_or(t)
            .to_ascii_lowercase()
            .contains("html")
}

/// `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    (at - Utc::now()).to_std().ok()
}

impl ProviderHttp {
    pub fn new(
        provider: Provider,
        settings: HttpSettings,
        secrets: Vec<String>,
    ) -> Result<ProviderHttp, ProviderError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("syncdeck/", env!("CARGO_PKG_VERSION")))
            .gzip(true)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ProviderError::Transient {
                provider,
                status: None,
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        let max_body_bytes = settings.max_body_bytes;
        let breaker = Breaker::new(settings.breaker);
        Ok(ProviderHttp {
            provider,
            client,
            limiter: Limiter::new(settings.rate),
            budget: Arc::new(Budget::new(settings.daily_limit)),
            settings,
            secrets,
            on_retry: None,
            transport: Arc::new(ReqwestTransport { max_body_bytes }),
            breaker,
            gate: None,
        })
    }

    /// Replaces the network (tests).
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = transport;
        self
    }

    /// Paces every attempt through `gate` too (the per-key budget shared through the database)
    /// and tells it of each 429, so other processes back off as well.
    pub fn with_gate(mut self, gate: Arc<dyn RequestGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    pub fn with_retry_hook(mut self, hook: RetryHook) -> Self {
        self.on_retry = Some(hook);
        self
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Scrubs every known secret out of `text`.
    pub fn scrub(&self, text: &str) -> String {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        scrub(text, &secrets)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .settings
            .base_backoff
            .saturating_mul(1u32 << attempt.min(16).saturating_sub(1));
        let cap = exp.min(self.settings.max_backoff);
        // Full jitter: anywhere in [cap/2, cap], so retries of many workers spread out.
        let half = cap / 2;
        half + half.mul_f64(rand::random::<f64>())
    }

    /// A request that got no answer from `host`: counted by the breaker, named in the error.
    fn no_answer(&self, host: &str, why: String) -> ProviderError {
        if self
            .breaker
            .no_answer(host, &why, tokio::time::Instant::now())
        {
            tracing::warn!(provider = %self.provider, host, "{}: {host} is not answering; failing its requests at once for {} s", self.provider, self.settings.breaker.cool_down.as_secs());
        }
        ProviderError::Transient {
            provider: self.provider,
            status: None,
            message: format!("{why} (at {host})"),
        }
    }

    /// Sends the request `build` makes (called again for each attempt), paced and retried.
    /// `classify` maps a refused answer to an error; `expect_json` treats an HTML 2xx body
    /// (a proxy's error page) as transient.
    pub async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        classify: impl Fn(&ErrorResponse<'_>) -> ProviderError,
        expect_json: bool,
    ) -> Result<HttpResponse, ProviderError> {
        let provider = self.provider;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Before the limiter and the shared budget: a host that is not answering costs
            // neither a slot nor a wait.
            if let Err(open) = self.breaker.admit(
                tokio::time::Instant::now(),
                self.settings.timeout + PROBE_GRACE,
            ) {
                tracing::debug!(provider = %provider, host = %open.host, "circuit open: not calling");
                return Err(ProviderError::Unreachable {
                    provider,
                    host: open.host,
                    failures: open.failures,
                    last_error: open.last_error,
                    retry_in: open.retry_in,
                });
            }
            self.limiter.until_ready().await;
            // After the local limiter: its wait is cheap and in memory, the gate's slot is
            // booked in the database and should be used as soon as it comes.
            if let Some(gate) = &self.gate {
                gate.acquire().await?;
            }
            let request = build(&self.client)
                .build()
                .map_err(|e| ProviderError::Rejected {
                    provider,
                    status: 0,
                    message: self.scrub(&format!("cannot build the request: {}", e.without_url())),
                })?;
            let shown_url = redact_url(request.url());
            let host = host_of(request.url());
            // The day's quota is spent (the provider said so in its headers, or the local count
            // is at the limit): a request would only be refused, and TM counts refusals too.
            // Bulk work leaves the reserved share of the day to manual syncs.
            let keep = if super::budget::is_bulk_work() {
                self.budget.share(self.settings.manual_reserve_percent)
            } else {
                0
            };
            if let Err(until) = self.budget.try_count_call(Utc::now(), keep) {
                tracing::debug!(provider = %provider, "daily quota spent until {until}: not calling");
                return Err(ProviderError::QuotaExhausted {
                    provider,
                    resets_at: Some(until),
                });
            }
            // Last, so that the window holds the times requests really left.
            self.limiter.until_window_open().await;
            let started = tokio::time::Instant::now();
            let outcome = tokio::time::timeout(
                self.settings.timeout,
                self.transport.execute(&self.client, request),
            )
            .await;
            if let (Some(gate), Ok(Ok((status, _, _)))) = (&self.gate, &outcome) {
                gate.answered(status.as_u16());
            }
            let error = match outcome {
                Err(_) => self.no_answer(
                    &host,
                    format!("no answer within {} s", self.settings.timeout.as_secs()),
                ),
                Ok(Err(TransportError::NoAnswer(e))) => self.no_answer(&host, self.scrub(&e)),
                Ok(Err(TransportError::TooLarge { limit, seen })) => {
                    self.breaker.answered();
                    ProviderError::BadResponse {
                        provider,
                        what: too_large_message(limit, seen),
                    }
                }
                Ok(Ok((status, headers, body))) => {
                    self.breaker.answered();
                    tracing::debug!(provider = %provider, url = %shown_url, status = status.as_u16(), ms = started.elapsed().as_millis() as u64, "request");
                    let text = String::from_utf8_lossy(&body);
                    if status.is_success() && expect_json && is_cut_off_json(&body) {
                        // A body that ends mid-value was cut off on the way: another try
                        // helps. (A syntax error would come back the same: the caller's
                        // parse reports it as a bad response, not retried here.)
                        ProviderError::Transient {
                            provider,
                            status: Some(status.as_u16()),
                            message: format!("the answer was cut off after {} bytes", body.len()),
                        }
                    } else if status.is_success() && !(expect_json && looks_like_html(&text)) {
                        return Ok(HttpResponse {
                            status,
                            headers,
                            body,
                        });
                    } else if status.is_success() {
                        ProviderError::Transient {
                            provider,
                            status: Some(status.as_u16()),
                            message: "an HTML page instead of JSON".into(),
                        }
                    } else {
                        let scrubbed = self.scrub(&text);
                        classify(&ErrorResponse {
                            status,
                            headers: &headers,
                            body: &scrubbed,
                        })
                    }
                }
            };
            let wait = match &error {
                ProviderError::RateLimited {
                    retry_after: Some(d),
                    ..
                } if *d > self.settings.max_retry_after => None,
                ProviderError::RateLimited { retry_after, .. } => {
                    let base = retry_after.unwrap_or(self.settings.default_retry_after);
                    // Never earlier than asked: retrying early extends the penalty.
                    Some(base + Duration::from_millis((rand::random::<f64>() * 250.0) as u64))
                }
                ProviderError::Transient { .. } => Some(self.backoff(attempt)),
                _ => None,
            };
            if let ProviderError::RateLimited { retry_after, .. } = &error {
                let until = Utc::now()
                    + chrono::Duration::from_std(
                        retry_after.unwrap_or(self.settings.default_retry_after),
                    )
                    .unwrap_or_default();
                self.budget.throttle_until(Some(until));
                if let Some(gate) = &self.gate {
                    gate.throttled(until);
                }
            }
            if let ProviderError::QuotaExhausted { resets_at, .. } = &error {
                // Without a reset time from the provider (TM's 4xx carry no headers), hold back
                // until the local daily window ends; `None` here would clear the throttle and
                // show an exhausted source as free.
                let until = resets_at.or_else(|| self.budget.snapshot().resets_at);
                self.budget.throttle_until(until);
            }
            if self.breaker.is_open(tokio::time::Instant::now()) {
                // This failure (or a concurrent one) opened it: the loop's check turns the
                // request into `Unreachable` at once instead of waiting out the retries.
                continue;
            }
            match wait {
                Some(wait) if attempt < self.settings.max_attempts => {
                    let notice = RetryNotice {
                        provider,
                        attempt,
                        wait,
                        reason: error.to_string(),
                    };
                    tracing::warn!(provider = %provider, url = %shown_url, attempt, wait_ms = wait.as_millis() as u64, "retrying: {}", notice.reason);
                    if let Some(hook) = &self.on_retry {
                        hook(&notice);
                    }
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    // A 404 is an answer (no such page, nothing found), not a failure to report.
                    if matches!(error, ProviderError::NotFound { .. }) {
                        tracing::debug!(provider = %provider, url = %shown_url, "not found: {error}");
                    } else {
                        tracing::warn!(provider = %provider, url = %shown_url, attempt, "request failed: {error}");
                    }
                    return Err(error);
                }
            }
        }
    }
}

/// How long a probe through a half-open breaker may be out before another one is let through.
const PROBE_GRACE: Duration = Duration::from_secs(5);

/// `host:port` of a URL: names the server in errors without a path or query (which may carry
/// a key).
pub fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => "an unknown host".to_string(),
    }
}

/// True when a body that should be JSON stops in the middle of a value (a truncated answer).
pub fn is_cut_off_json(body: &[u8]) -> bool {
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Ok(_) => false,
        Err(e) => e.classify() == serde_json::error::Category::Eof && !body.is_empty(),
    }
}

/// A reqwest error in words, without its URL (which would carry a key).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the connection dropped while reading the answer"
    } else if e.is_request() {
        "the request failed"
    } else {
        "HTTP error"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}
