//! What the fake saw, per provider: the engine's tests assert on these ("zero 429s", "each
//! artist's albums fetched once") instead of trusting the client's own counters.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use super::Provider;

/// Counts for one provider. Endpoints are labelled `METHOD /path/{param}` (see
/// [`super::endpoints`]); targets are the id or search term a request was about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProviderStats {
    /// Every request that reached the provider's prefix, dropped ones included.
    pub requests: u64,
    /// Answers with a 2xx status.
    pub success: u64,
    /// Answers with 429, from the limiters or from injected faults.
    pub rate_limited: u64,
    /// Connections closed without an answer (the `drop` fault).
    pub dropped: u64,
    pub by_status: BTreeMap<u16, u64>,
    pub by_endpoint: BTreeMap<String, u64>,
    /// Endpoint label → target (attraction id, artist id, album id, mbid, search term) → count.
    pub by_target: BTreeMap<String, BTreeMap<String, u64>>,
    /// Injected faults by kind (`latency`, `429`, `5xx`, `malformed`, `truncated`, `drop`, `slow`).
    pub faults: BTreeMap<String, u64>,
    /// When the first and the last request were answered (pacing benches measure the span).
    #[serde(skip)]
    pub first_at: Option<std::time::Instant>,
    #[serde(skip)]
    pub last_at: Option<std::time::Instant>,
}

impl ProviderStats {
    /// From the first answer to the last.
    pub fn span(&self) -> Option<std::time::Duration> {
        Some(self.last_at?.saturating_duration_since(self.first_at?))
    }

    /// Answers with this status.
    pub fn status(&self, code: u16) -> u64 {
        self.by_status.get(&code).copied().unwrap_or(0)
    }

    /// Requests to this endpoint label, e.g. [`super::endpoints::TM_EVENTS`].
    pub fn endpoint(&self, label: &str) -> u64 {
        self.by_endpoint.get(label).copied().unwrap_or(0)
    }

    /// Requests to this endpoint about this target.
    pub fn target(&self, label: &str, target: &str) -> u64 {
        self.by_target
            .get(label)
            .and_then(|t| t.get(target))
            .copied()
            .unwrap_or(0)
    }

    pub fn fault(&self, kind: &str) -> u64 {
        self.faults.get(kind).copied().unwrap_or(0)
    }
}

/// A snapshot of all three providers (Spotify's accounts host counts under Spotify, endpoint
/// [`super::endpoints::SPOTIFY_TOKEN`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FakeStats {
    pub ticketmaster: ProviderStats,
    pub spotify: ProviderStats,
    pub setlistfm: ProviderStats,
}

impl FakeStats {
    pub fn provider(&self, provider: Provider) -> &ProviderStats {
        match provider {
            Provider::Ticketmaster => &self.ticketmaster,
            Provider::Spotify => &self.spotify,
            Provider::SetlistFm => &self.setlistfm,
        }
    }

    fn provider_mut(&mut self, provider: Provider) -> &mut ProviderStats {
        match provider {
            Provider::Ticketmaster => &mut self.ticketmaster,
            Provider::Spotify => &mut self.spotify,
            Provider::SetlistFm => &mut self.setlistfm,
        }
    }

    pub fn total_requests(&self) -> u64 {
        Provider::ALL
            .iter()
            .map(|p| self.provider(*p).requests)
            .sum()
    }

    /// 429s over all providers: a well-behaved engine run against default limits has none.
    pub fn total_rate_limited(&self) -> u64 {
        Provider::ALL
            .iter()
            .map(|p| self.provider(*p).rate_limited)
            .sum()
    }
}

/// One finished request.
pub(crate) struct Record<'a> {
    pub endpoint: &'a str,
    pub target: Option<&'a str>,
    /// `None`: the connection was dropped.
    pub status: Option<u16>,
    pub faults: &'a [&'static str],
}

#[derive(Default)]
pub(crate) struct Recorder(Mutex<FakeStats>);

impl Recorder {
    pub(crate) fn record(&self, provider: Provider, r: &Record<'_>) {
        let mut all = self.lock();
        let s = all.provider_mut(provider);
        s.requests += 1;
        let now = std::time::Instant::now();
        s.first_at.get_or_insert(now);
        s.last_at = Some(now);
        match r.status {
            Some(code) => {
                *s.by_status.entry(code).or_default() += 1;
                if (200..300).contains(&code) {
                    s.success += 1;
                }
                if code == 429 {
                    s.rate_limited += 1;
                }
            }
            None => s.dropped += 1,
        }
        *s.by_endpoint.entry(r.endpoint.to_string()).or_default() += 1;
        if let Some(t) = r.target {
            *s.by_target
                .entry(r.endpoint.to_string())
                .or_default()
                .entry(t.to_string())
                .or_default() += 1;
        }
        for f in r.faults {
            *s.faults.entry((*f).to_string()).or_default() += 1;
        }
    }

    pub(crate) fn snapshot(&self) -> FakeStats {
        self.lock().clone()
    }

    pub(crate) fn reset(&self) {
        *self.lock() = FakeStats::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeStats> {
        // Counting never panics while holding the lock; a poisoned one still holds good counts.
        match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}
