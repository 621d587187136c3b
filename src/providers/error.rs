//! The typed error every provider call ends in. The engine decides from the kind alone whether
//! to retry, stop that source, or fail one item and go on.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Which API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Ticketmaster,
    Spotify,
    Setlistfm,
}

impl Provider {
    pub fn label(self) -> &'static str {
        match self {
            Provider::Ticketmaster => "ticketmaster",
            Provider::Spotify => "spotify",
            Provider::Setlistfm => "setlist.fm",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What went wrong talking to a provider. Messages never carry a key: URLs are redacted first.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ProviderError {
    /// The key or client credentials were refused: fatal for that source until fixed.
    #[error(
        "{provider}: credentials refused (HTTP {status}): {message}; check the key in the environment"
    )]
    Auth {
        provider: Provider,
        status: u16,
        message: String,
    },
    /// A short-term limit; retry after the given wait.
    #[error("{provider}: rate limited (HTTP 429){}", retry_after.map(|d| format!(", retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        provider: Provider,
        retry_after: Option<Duration>,
    },
    /// The daily quota is used up: stop calling this source until it resets.
    #[error("{provider}: daily quota exhausted (HTTP 429){}; stopped calling it", resets_at.map(|t| format!(", resets at {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default())]
    QuotaExhausted {
        provider: Provider,
        resets_at: Option<DateTime<Utc>>,
    },
    /// The resource does not exist at the provider.
    #[error("{provider}: not found (HTTP 404): {what}")]
    NotFound { provider: Provider, what: String },
    /// A feature this app may not use (e.g. Spotify top-tracks in development mode): not an error
    /// of the sync, a capability to do without.
    #[error("{provider}: {capability} is not available to this app (HTTP {status})")]
    Unavailable {
        provider: Provider,
        capability: String,
        status: u16,
    },
    /// A failure worth retrying: 5xx, timeout, reset connection, an HTML error page.
    #[error("{provider}: temporary failure{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Transient {
        provider: Provider,
        status: Option<u16>,
        message: String,
    },
    /// The request was refused as malformed (4xx other than the above): a bug or bad input, not retried.
    #[error("{provider}: request refused (HTTP {status}): {message}")]
    Rejected {
        provider: Provider,
        status: u16,
        message: String,
    },
    /// The answer was not what the API documents (malformed JSON, missing required field): that
    /// item fails, the run goes on.
    #[error("{provider}: unexpected response: {what}")]
    BadResponse { provider: Provider, what: String },
    /// The breaker is open: the host gave no answer to several requests in a row.
    #[error("{provider}: unreachable at {host}: no answer to {failures} requests in a row (last: {last_error}); not called again for {} s; check its base URL and the network", retry_in.as_secs().max(1))]
    Unreachable {
        provider: Provider,
        host: String,
        failures: u32,
        last_error: String,
        retry_in: Duration,
    },
}

impl ProviderError {
    pub fn provider(&self) -> Provider {
        match self {
            ProviderError::Auth { provider, .. }
            | ProviderError::RateLimited { provider, .. }
            | ProviderError::QuotaExhausted { provider, .. }
            | ProviderError::NotFound { provider, .. }
            | ProviderError::Unavailable { provider, .. }
            | ProviderError::Transient { provider, .. }
            | ProviderError::Rejected { provider, .. }
            | ProviderError::BadResponse { provider, .. }
            | ProviderError::Unreachable { provider, .. } => *provider,
        }
    }

    /// The HTTP status behind it, for `last_sync_error` and run history.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ProviderError::Auth { status, .. }
            | ProviderError::Unavailable { status, .. }
            | ProviderError::Rejected { status, .. } => Some(*status),
            ProviderError::RateLimited { .. } | ProviderError::QuotaExhausted { .. } => Some(429),
            ProviderError::NotFound { .. } => Some(404),
            ProviderError::Transient { status, .. } => *status,
            ProviderError::BadResponse { .. } | ProviderError::Unreachable { .. } => None,
        }
    }

    /// Worth another attempt of the same request.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Transient { .. } | ProviderError::RateLimited { .. }
        )
    }

    /// Stops that source for this run (and, for quota, for the day).
    pub fn is_fatal_for_source(&self) -> bool {
        matches!(
            self,
            ProviderError::Auth { .. }
                | ProviderError::QuotaExhausted { .. }
                | ProviderError::Unreachable { .. }
        )
    }
}
