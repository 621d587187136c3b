//! The listener, the router and the per-request pipeline every provider goes through:
//! faults first (as a flaky network or gateway would), then the provider's own handler, then
//! the stats.
//!
//! Dropping a connection without an answer needs a hand on the socket, which axum does not
//! give a handler; so connections come from [`KillableListener`], whose streams carry a
//! switch the handler can flip through [`ConnHandle`]. Once flipped, every write fails and
//! hyper closes the connection without having sent a byte of the response.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::serve::{IncomingStream, Listener};
use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::data::Data;
use super::faults::{self, Faults, Replace, Spoil};
use super::limits::{DailyQuota, RollingWindow, Throttle};
use super::stats::{Record, Recorder};
use super::{
    FakeConfig, Provider, SETLISTFM_PREFIX, SPOTIFY_ACCOUNTS_PREFIX, SPOTIFY_API_PREFIX,
    TICKETMASTER_PREFIX, setlistfm, spotify, ticketmaster,
};

/// A gateway's per-key throttle plus its daily quota.
pub(crate) struct Gateway {
    pub throttle: Option<Throttle>,
    pub quota: DailyQuota,
}

/// Spotify's per-app rolling window plus its optional daily quota.
pub(crate) struct SpotifyLimits {
    pub window: Option<RollingWindow>,
    pub quota: Option<DailyQuota>,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub config: FakeConfig,
    pub data: Data,
    pub faults: Faults,
    pub stats: Recorder,
    pub tm: Mutex<Gateway>,
    pub spotify: Mutex<SpotifyLimits>,
    pub setlistfm: Mutex<Gateway>,
    /// Spotify access token → when it was issued.
    pub tokens: Mutex<HashMap<String, Instant>>,
}

impl Shared {
    pub(crate) fn new(config: FakeConfig, data: Data) -> Shared {
        Shared {
            faults: Faults::new(config.faults.clone()),
            stats: Recorder::default(),
            tm: Mutex::new(Gateway {
                throttle: config
                    .tm_rate
                    .map(|r| Throttle::new(r, config.strict_windows)),
                quota: DailyQuota::with_day(config.tm_daily, config.quota_day),
            }),
            spotify: Mutex::new(SpotifyLimits {
                window: config.spotify_rate.map(RollingWindow::new),
                quota: config
                    .spotify_daily
                    .map(|n| DailyQuota::with_day(n, config.quota_day)),
            }),
            setlistfm: Mutex::new(Gateway {
                throttle: config
                    .setlistfm_rate
                    .map(|r| Throttle::new(r, config.strict_windows)),
                quota: DailyQuota::with_day(config.setlistfm_daily, config.quota_day),
            }),
            tokens: Mutex::new(HashMap::new()),
            data,
            config,
        }
    }
}

/// Locks a mutex whose holders never panic mid-update; a poisoned one is still consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The four services on the one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Ticketmaster,
    Spotify,
    /// Spotify's accounts host (the token endpoint).
    Accounts,
    SetlistFm,
}

impl Api {
    fn provider(self) -> Provider {
        match self {
            Api::Ticketmaster => Provider::Ticketmaster,
            Api::Spotify | Api::Accounts => Provider::Spotify,
            Api::SetlistFm => Provider::SetlistFm,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Api::Ticketmaster => TICKETMASTER_PREFIX,
            Api::Spotify => SPOTIFY_API_PREFIX,
            Api::Accounts => SPOTIFY_ACCOUNTS_PREFIX,
            Api::SetlistFm => SETLISTFM_PREFIX,
        }
    }
}

/// A request as the handlers see it: the path below the provider's prefix, decoded query.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    /// The query string as sent (for `_links` that echo it).
    pub raw_query: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    /// The first value of a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Non-empty, percent-decoded path segments.
    pub(crate) fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(super::util::percent_decode)
            .collect()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer before faults and stats: status, extra headers, body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Bytes,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, value: &Value) -> Reply {
        Reply::json_typed(status, value, "application/json; charset=utf-8")
    }

    pub(crate) fn json_typed(
        status: StatusCode,
        value: &Value,
        content_type: &'static str,
    ) -> Reply {
        Reply {
            status,
            content_type,
            headers: Vec::new(),
            // A Value always serializes; the empty fallback is unreachable.
            body: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    pub(crate) fn text(status: StatusCode, content_type: &'static str, body: String) -> Reply {
        Reply {
            status,
            content_type,
            headers: Vec::new(),
            body: Bytes::from(body),
        }
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers
            .push((HeaderName::from_static(name), value.into()));
        self
    }
}

/// The switch a handler flips to drop its connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnHandle(Arc<AtomicBool>);

impl ConnHandle {
    fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A TCP stream that fails every read and write once its switch is flipped.
pub(crate) struct KillableStream {
    inner: TcpStream,
    killed: ConnHandle,
}

impl KillableStream {
    fn is_killed(&self) -> bool {
        self.killed.0.load(Ordering::SeqCst)
    }
}

fn aborted() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "dropped by the fake")
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.is_killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.is_killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_killed() {
            return Poll::Ready(Err(aborted()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

pub(crate) struct KillableListener(TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (KillableStream, std::net::SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((inner, addr)) => {
                    // Small answers go out at once instead of waiting on Nagle.
                    let _ = inner.set_nodelay(true);
                    let stream = KillableStream {
                        inner,
                        killed: ConnHandle::default(),
                    };
                    return (stream, addr);
                }
                // Out of file descriptors and the like: wait a little, as axum's own loop does.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> ConnHandle {
        stream.io().killed.clone()
    }
}

/// Serves until `stop` fires (or its sender is dropped).
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, stop: oneshot::Receiver<()>) {
    let router = Router::new()
        .route(&format!("{TICKETMASTER_PREFIX}/{{*rest}}"), any(tm))
        .route(&format!("{SPOTIFY_API_PREFIX}/{{*rest}}"), any(spotify_api))
        .route(
            &format!("{SPOTIFY_ACCOUNTS_PREFIX}/{{*rest}}"),
            any(spotify_accounts),
        )
        .route(&format!("{SETLISTFM_PREFIX}/{{*rest}}"), any(setlistfm))
        .fallback(not_here)
        .with_state(shared);
    let service = router.into_make_service_with_connect_info::<ConnHandle>();
    let _ = axum::serve(KillableListener(listener), service)
        .with_graceful_shutdown(async {
            let _ = stop.await;
        })
        .await;
}

type Conn = ConnectInfo<ConnHandle>;

async fn tm(State(s): State<Arc<Shared>>, ConnectInfo(c): Conn, req: Request) -> Response {
    pipeline(s, Api::Ticketmaster, c, req).await
}

async fn spotify_api(State(s): State<Arc<Shared>>, ConnectInfo(c): Conn, req: Request) -> Response {
    pipeline(s, Api::Spotify, c, req).await
}

async fn spotify_accounts(
    State(s): State<Arc<Shared>>,
    ConnectInfo(c): Conn,
    req: Request,
) -> Response {
    pipeline(s, Api::Accounts, c, req).await
}

async fn setlistfm(State(s): State<Arc<Shared>>, ConnectInfo(c): Conn, req: Request) -> Response {
    pipeline(s, Api::SetlistFm, c, req).await
}

/// Outside the four prefixes: say where things are.
async fn not_here() -> Response {
    (
        StatusCode::NOT_FOUND,
        format!(
            "syncdeck fake: nothing here. Base URLs: {TICKETMASTER_PREFIX} (Ticketmaster), {SPOTIFY_API_PREFIX} (Spotify API), {SPOTIFY_ACCOUNTS_PREFIX} (Spotify accounts), {SETLISTFM_PREFIX} (setlist.fm)\n"
        ),
    )
        .into_response()
}

/// No API here takes a body anywhere near this; a bigger one reaches the handler empty.
const MAX_BODY: usize = 64 * 1024;

async fn pipeline(shared: Arc<Shared>, api: Api, conn: ConnHandle, req: Request) -> Response {
    let started = Instant::now();
    let provider = api.provider();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let path = parts
        .uri
        .path()
        .strip_prefix(api.prefix())
        .unwrap_or("")
        .to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let req = Req {
        method: parts.method,
        query: url::form_urlencoded::parse(raw_query.as_bytes())
            .into_owned()
            .collect(),
        raw_query,
        path,
        headers: parts.headers,
        body,
    };
    let (endpoint, target) = match api {
        Api::Ticketmaster => ticketmaster::endpoint(&req),
        Api::Spotify => spotify::api_endpoint(&req),
        Api::Accounts => spotify::accounts_endpoint(&req),
        Api::SetlistFm => setlistfm::endpoint(&req),
    };

    // What `broken` keys on: the resource, or for a search the whole request (per artist).
    let resource = match target.as_deref() {
        Some(t) => t.to_string(),
        None => format!("{}?{}", req.path, req.raw_query),
    };
    let plan = shared.faults.plan(provider, &resource);
    if let Some(delay) = plan.latency {
        tokio::time::sleep(delay).await;
    }
    // The network's share: before the gateway counts the request, as on the real path.
    if let Some(delay) = plan.jitter {
        tokio::time::sleep(delay).await;
    }
    let mut reply = match plan.replace {
        Some(Replace::Drop) => {
            conn.kill();
            let record = Record {
                endpoint,
                target: target.as_deref(),
                status: None,
                faults: &plan.labels(false),
            };
            shared.stats.record(provider, &record);
            log(&shared, api, &req, None, started);
            // Never written: the stream refuses every byte from now on.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(Replace::ServerError(code)) => Reply::text(
            StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY),
            "text/html",
            faults::server_error_page(code),
        ),
        Some(Replace::RateLimited) => match api {
            Api::Ticketmaster => ticketmaster::spike_arrest(&shared),
            Api::Spotify | Api::Accounts => spotify::rate_limited(1),
            Api::SetlistFm => setlistfm::throttled(),
        },
        None => match api {
            Api::Ticketmaster => ticketmaster::handle(&shared, &req),
            Api::Spotify => spotify::handle_api(&shared, &req),
            Api::Accounts => spotify::handle_accounts(&shared, &req),
            Api::SetlistFm => setlistfm::handle(&shared, &req),
        },
    };
    // Body faults spoil only successful answers: an error body is already what a client must
    // survive, and "a 200 that does not parse" is the case worth testing.
    let success = reply.status.is_success();
    if success {
        match plan.spoil {
            Some(Spoil::Malformed) => reply.body = faults::malform(&reply.body),
            Some(Spoil::Truncated) => reply.body = faults::truncate(&reply.body),
            None => {}
        }
    }
    let record = Record {
        endpoint,
        target: target.as_deref(),
        status: Some(reply.status.as_u16()),
        faults: &plan.labels(success),
    };
    shared.stats.record(provider, &record);
    log(&shared, api, &req, Some(reply.status), started);
    into_response(reply, if success { plan.slow } else { None })
}

fn into_response(reply: Reply, slow: Option<Duration>) -> Response {
    let mut builder = Response::builder()
        .status(reply.status)
        .header(header::CONTENT_TYPE, reply.content_type);
    for (name, value) in &reply.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            builder = builder.header(name, v);
        }
    }
    let body = match slow {
        // Headers now, the body later: a server that stalls mid-answer.
        Some(delay) => {
            let bytes = reply.body;
            Body::from_stream(futures::stream::once(async move {
                tokio::time::sleep(delay).await;
                Ok::<Bytes, std::convert::Infallible>(bytes)
            }))
        }
        None => Body::from(reply.body),
    };
    builder
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn log(shared: &Shared, api: Api, req: &Req, status: Option<StatusCode>, started: Instant) {
    if !shared.config.log_requests {
        return;
    }
    // The Ticketmaster key rides in the query: never echo it, even a fake one.
    let query: Vec<String> = req
        .query
        .iter()
        .filter(|(k, _)| k != "apikey")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let status = status.map_or("dropped".to_string(), |s| s.as_u16().to_string());
    eprintln!(
        "{} {}{}{}{} {} {:.1} ms",
        req.method,
        api.prefix(),
        req.path,
        if query.is_empty() { "" } else { "?" },
        query.join("&"),
        status,
        started.elapsed().as_secs_f64() * 1000.0
    );
}
