//! The fake providers: Ticketmaster Discovery v2, the Spotify Web API with its accounts host,
//! and setlist.fm 1.0, on one loopback listener, serving the deterministic demo catalog plus
//! hand-made trap fixtures, with the real APIs' rules, limits, error bodies and injectable
//! faults (research/apis.md §6 is the checklist).
//!
//! Layering (design.md, layer 6): this module knows nothing of `providers`, `store` or `engine`.
//! It builds every payload itself as JSON values from [`crate::catalog`] and from
//! `assets/fixtures/`, so a field the clients get wrong cannot hide inside a type both sides
//! share.
//!
//! URL layout on `http://ADDR`:
//!
//! | base URL (what the clients are given)  | serves                                            |
//! |----------------------------------------|---------------------------------------------------|
//! | `/tm`                                  | `/discovery/v2/{events,attractions,venues}…`      |
//! | `/spotify-api`                         | `/v1/{artists,albums,search}…`                    |
//! | `/spotify-accounts`                    | `/api/token`                                      |
//! | `/setlistfm/rest/1.0`                  | `/search/artists`, `/artist/{mbid}/setlists`, `/setlist/{id}` |

mod data;
mod faults;
pub mod fixtures;
mod limits;
mod server;
mod setlistfm;
mod spotify;
mod stats;
mod ticketmaster;
mod util;
mod xml;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::catalog::{Catalog, DEMO_SEED, MAX_ARTISTS};

pub use faults::{FaultRates, FaultSpec};
pub use limits::Rate;
pub use stats::{FakeStats, ProviderStats};

/// Path prefixes of the four base URLs on the one listener.
pub const TICKETMASTER_PREFIX: &str = "/tm";
pub const SPOTIFY_API_PREFIX: &str = "/spotify-api";
pub const SPOTIFY_ACCOUNTS_PREFIX: &str = "/spotify-accounts";
pub const SETLISTFM_PREFIX: &str = "/setlistfm/rest/1.0";

/// Default keys: demo values, safe to print (the fake accepts nothing else).
pub const DEFAULT_TICKETMASTER_API_KEY: &str = "demo-ticketmaster-key";
pub const DEFAULT_SPOTIFY_CLIENT_ID: &str = "demo-spotify-id";
pub const DEFAULT_SPOTIFY_CLIENT_SECRET: &str = "demo-spotify-secret";
pub const DEFAULT_SETLISTFM_API_KEY: &str = "demo-setlistfm-key";

/// Endpoint labels used in [`ProviderStats::by_endpoint`] and [`ProviderStats::by_target`].
pub mod endpoints {
    pub const TM_EVENTS: &str = "GET /discovery/v2/events.json";
    pub const TM_EVENT: &str = "GET /discovery/v2/events/{id}";
    pub const TM_ATTRACTIONS: &str = "GET /discovery/v2/attractions.json";
    pub const TM_ATTRACTION: &str = "GET /discovery/v2/attractions/{id}";
    pub const TM_VENUES: &str = "GET /discovery/v2/venues.json";
    pub const TM_VENUE: &str = "GET /discovery/v2/venues/{id}";
    pub const SPOTIFY_TOKEN: &str = "POST /api/token";
    pub const SPOTIFY_ARTIST: &str = "GET /v1/artists/{id}";
    pub const SPOTIFY_ARTISTS: &str = "GET /v1/artists";
    pub const SPOTIFY_ARTIST_ALBUMS: &str = "GET /v1/artists/{id}/albums";
    pub const SPOTIFY_TOP_TRACKS: &str = "GET /v1/artists/{id}/top-tracks";
    pub const SPOTIFY_ALBUM: &str = "GET /v1/albums/{id}";
    pub const SPOTIFY_ALBUM_TRACKS: &str = "GET /v1/albums/{id}/tracks";
    pub const SPOTIFY_SEARCH: &str = "GET /v1/search";
    pub const SETLISTFM_SEARCH_ARTISTS: &str = "GET /search/artists";
    pub const SETLISTFM_ARTIST: &str = "GET /artist/{mbid}";
    pub const SETLISTFM_ARTIST_SETLISTS: &str = "GET /artist/{mbid}/setlists";
    pub const SETLISTFM_SEARCH_SETLISTS: &str = "GET /search/setlists";
    pub const SETLISTFM_SETLIST: &str = "GET /setlist/{id}";
    /// Anything else under a provider's prefix.
    pub const UNKNOWN: &str = "unknown";
}

/// One of the three simulated providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Ticketmaster,
    Spotify,
    SetlistFm,
}

impl Provider {
    pub const ALL: [Provider; 3] = [
        Provider::Ticketmaster,
        Provider::Spotify,
        Provider::SetlistFm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Provider::Ticketmaster => "ticketmaster",
            Provider::Spotify => "spotify",
            Provider::SetlistFm => "setlistfm",
        }
    }

    fn index(self) -> usize {
        match self {
            Provider::Ticketmaster => 0,
            Provider::Spotify => 1,
            Provider::SetlistFm => 2,
        }
    }
}

/// Which Spotify app the fake plays (apis.md 2.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// A 2026 development-mode app: top tracks answer 403, `followers`/`popularity` and other
    /// fields are stripped, search and artist-album `limit` capped at 10.
    #[default]
    DevMode,
    /// Extended quota mode: every field and endpoint, `limit` up to 50.
    Extended,
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Profile, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "dev-mode" | "dev" | "development" => Ok(Profile::DevMode),
            "extended" => Ok(Profile::Extended),
            other => Err(format!("unknown profile `{other}` (dev-mode or extended)")),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::DevMode => "dev-mode",
            Profile::Extended => "extended",
        })
    }
}

/// The credentials the fake accepts (and prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeKeys {
    pub ticketmaster_api_key: String,
    pub spotify_client_id: String,
    pub spotify_client_secret: String,
    pub setlistfm_api_key: String,
}

impl Default for FakeKeys {
    fn default() -> FakeKeys {
        FakeKeys {
            ticketmaster_api_key: DEFAULT_TICKETMASTER_API_KEY.into(),
            spotify_client_id: DEFAULT_SPOTIFY_CLIENT_ID.into(),
            spotify_client_secret: DEFAULT_SPOTIFY_CLIENT_SECRET.into(),
            setlistfm_api_key: DEFAULT_SETLISTFM_API_KEY.into(),
        }
    }
}

/// Everything the fake can be told. `Default` is the real APIs' published limits on a random
/// loopback port with the demo catalog.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Must be a loopback address; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Catalog size (same meaning as `seed --demo --artists`).
    pub artists: usize,
    pub seed: u64,
    /// Events fall after this date and setlists before it; `None` = today (UTC), so the demo's
    /// shows are upcoming. Set it for byte-identical answers across days.
    pub anchor: Option<NaiveDate>,
    pub profile: Profile,
    pub faults: FaultSpec,
    pub keys: FakeKeys,
    /// Lifetime of Spotify access tokens (`expires_in`).
    pub token_ttl: Duration,
    /// Ticketmaster's per-key SpikeArrest (a token bucket with a burst of `count`); `None`: off.
    pub tm_rate: Option<Rate>,
    /// Ticketmaster's calls per 24 h per key.
    pub tm_daily: u64,
    /// Spotify's per-app rolling window; `None`: off.
    pub spotify_rate: Option<Rate>,
    /// A day's quota for the app (429 with `reason: QUOTA_EXCEEDED`); `None`: unlimited.
    pub spotify_daily: Option<u64>,
    /// setlist.fm's per-key throttle (token bucket); `None`: off.
    pub setlistfm_rate: Option<Rate>,
    /// Ticketmaster's and setlist.fm's throttles as strict sliding windows (never more than
    /// `count` requests in any `per`) instead of token buckets; Spotify's is one already.
    pub strict_windows: bool,
    pub setlistfm_daily: u64,
    /// How long a quota day lasts (24 h; shorter to rehearse a reset in seconds).
    pub quota_day: Duration,
    /// Serve the trap fixtures of `assets/fixtures/` next to the catalog.
    pub fixtures: bool,
    /// One line per request on stderr.
    pub log_requests: bool,
}

impl Default for FakeConfig {
    fn default() -> FakeConfig {
        FakeConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            artists: 200,
            seed: DEMO_SEED,
            anchor: None,
            profile: Profile::DevMode,
            faults: FaultSpec::none(),
            keys: FakeKeys::default(),
            token_ttl: Duration::from_secs(3600),
            tm_rate: Some(Rate::per_second(5)),
            tm_daily: 5000,
            // "Generous": the real number is unpublished; 20/s over Spotify's 30-second window.
            spotify_rate: Some(Rate::new(600, Duration::from_secs(30))),
            spotify_daily: None,
            setlistfm_rate: Some(Rate::per_second(2)),
            setlistfm_daily: 1440,
            strict_windows: false,
            quota_day: limits::DAY,
            fixtures: true,
            log_requests: false,
        }
    }
}

impl FakeConfig {
    /// Every rate and daily limit `factor` times the real one (the demo and tests that check
    /// correctness, not pacing, need not wait for the real 5 req/s).
    pub fn with_limits_scaled(self, factor: u32) -> FakeConfig {
        let scale = |r: Option<Rate>| {
            r.map(|r| Rate {
                count: r.count * factor,
                per: r.per,
            })
        };
        FakeConfig {
            tm_rate: scale(self.tm_rate),
            tm_daily: self.tm_daily * u64::from(factor),
            spotify_rate: scale(self.spotify_rate),
            setlistfm_rate: scale(self.setlistfm_rate),
            setlistfm_daily: self.setlistfm_daily * u64::from(factor),
            ..self
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error(
        "the fake serves demo keys to anyone who can reach it, so it only binds loopback addresses (got {0}); use 127.0.0.1:PORT"
    )]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--artists must be between 1 and {MAX_ARTISTS} (got {0})")]
    Artists(usize),
    #[error("a built-in fixture is broken: {0}")]
    Fixture(String),
    #[error("the catalog index could not be built: {0}")]
    Index(String),
}

/// The base URLs, in the `NAME=value` form `syncdeck fake` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUrls {
    pub ticketmaster: String,
    pub spotify_api: String,
    pub spotify_accounts: String,
    pub setlistfm: String,
}

/// A running fake. Dropping it stops the server too; [`FakeServer::shutdown`] waits for it.
pub struct FakeServer {
    addr: SocketAddr,
    urls: FakeUrls,
    shared: Arc<server::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl FakeServer {
    /// The bound address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn urls(&self) -> &FakeUrls {
        &self.urls
    }

    /// `TICKETMASTER_BASE_URL`: the client appends `/discovery/v2/…`.
    pub fn ticketmaster_base_url(&self) -> &str {
        &self.urls.ticketmaster
    }

    /// `SPOTIFY_API_BASE_URL`: the client appends `/v1/…`.
    pub fn spotify_api_base_url(&self) -> &str {
        &self.urls.spotify_api
    }

    /// `SPOTIFY_ACCOUNTS_BASE_URL`: the client appends `/api/token`.
    pub fn spotify_accounts_base_url(&self) -> &str {
        &self.urls.spotify_accounts
    }

    /// `SETLISTFM_BASE_URL`: the client appends `/search/artists`, `/artist/{mbid}/setlists`.
    pub fn setlistfm_base_url(&self) -> &str {
        &self.urls.setlistfm
    }

    pub fn keys(&self) -> &FakeKeys {
        &self.shared.config.keys
    }

    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// The catalog being served (anchored as served).
    pub fn catalog(&self) -> &Catalog {
        &self.shared.data.catalog
    }

    /// The eight variables, in the order `syncdeck fake` prints them.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let k = self.keys();
        vec![
            ("TICKETMASTER_BASE_URL", self.urls.ticketmaster.clone()),
            ("SPOTIFY_API_BASE_URL", self.urls.spotify_api.clone()),
            (
                "SPOTIFY_ACCOUNTS_BASE_URL",
                self.urls.spotify_accounts.clone(),
            ),
            ("SETLISTFM_BASE_URL", self.urls.setlistfm.clone()),
            ("TICKETMASTER_API_KEY", k.ticketmaster_api_key.clone()),
            ("SPOTIFY_CLIENT_ID", k.spotify_client_id.clone()),
            ("SPOTIFY_CLIENT_SECRET", k.spotify_client_secret.clone()),
            ("SETLISTFM_API_KEY", k.setlistfm_api_key.clone()),
        ]
    }

    /// What the fake has seen so far.
    pub fn stats(&self) -> FakeStats {
        self.shared.stats.snapshot()
    }

    /// Forgets the counts (limits and quotas keep their state).
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
    }

    /// Stops accepting, lets answers in flight finish (at most 5 s), and returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Builds the catalog index and starts serving. Returns once the listener is bound.
pub async fn start(config: FakeConfig) -> Result<FakeServer, FakeError> {
    if !config.addr.ip().is_loopback() {
        return Err(FakeError::NotLoopback(config.addr));
    }
    if config.artists == 0 || config.artists > MAX_ARTISTS {
        return Err(FakeError::Artists(config.artists));
    }
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| FakeError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| FakeError::Bind {
        addr: config.addr,
        source,
    })?;
    let root = format!("http://{addr}");
    let urls = FakeUrls {
        ticketmaster: format!("{root}{TICKETMASTER_PREFIX}"),
        spotify_api: format!("{root}{SPOTIFY_API_PREFIX}"),
        spotify_accounts: format!("{root}{SPOTIFY_ACCOUNTS_PREFIX}"),
        setlistfm: format!("{root}{SETLISTFM_PREFIX}"),
    };
    // Generating every event of a large catalog takes a moment of CPU: off the async threads.
    let build_config = config.clone();
    let data = tokio::task::spawn_blocking(move || data::Data::build(&build_config))
        .await
        .map_err(|e| FakeError::Index(e.to_string()))??;
    let shared = Arc::new(server::Shared::new(config, data));
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(server::serve(listener, shared.clone(), stopped));
    Ok(FakeServer {
        addr,
        urls,
        shared,
        stop: Some(stop),
        task: Some(task),
    })
}
