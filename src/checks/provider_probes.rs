//! Live checks of the three providers for `env check` and the env panel: one cheap call each
//! (TM: a one-item attraction search; Spotify: a token request; setlist.fm: an artist search),
//! no retries, each under the caller's timeout, never blocking one another.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Check, CheckStatus, LiveProbe};
use crate::config::Config;
use crate::providers::Provider;
use crate::providers::error::ProviderError;
use crate::providers::http::HttpSettings;
use crate::providers::setlistfm::SetlistFmClient;
use crate::providers::spotify::SpotifyClient;
use crate::providers::ticketmaster::TicketmasterClient;

/// Two tries with short timeouts: a check answers in seconds, yet one 429 from a burst just
/// before (setlist.fm's gateway throttles at about 1 req/s) does not fail a good key.
fn probe_settings(provider: Provider) -> HttpSettings {
    HttpSettings {
        max_attempts: 2,
        timeout: Duration::from_secs(4),
        max_retry_after: Duration::from_secs(3),
        ..HttpSettings::for_provider(provider)
    }
}

/// Turns a probe's outcome into a check row with a hint.
pub fn check_from(name: &str, outcome: Result<String, ProviderError>, latency: Duration) -> Check {
    let (status, detail, hint) = match outcome {
        Ok(detail) => (CheckStatus::Ok, detail, None),
        Err(e) => {
            let text = e.to_string();
            match e {
                ProviderError::Auth { .. } => (
                    CheckStatus::Invalid,
                    text,
                    Some(format!(
                        "the {name} key was refused: fix it in the environment or .env"
                    )),
                ),
                ProviderError::RateLimited { .. } | ProviderError::QuotaExhausted { .. } => (
                    CheckStatus::RateLimited,
                    text,
                    Some("the key works but is throttled now; wait, or lower concurrency".into()),
                ),
                ProviderError::Transient { status: None, .. } => (
                    CheckStatus::Unreachable,
                    text,
                    Some(format!(
                        "cannot reach {name}: check its base URL and the network"
                    )),
                ),
                _ => (
                    CheckStatus::Error,
                    text,
                    Some(format!("{name} answered unexpectedly; see the detail")),
                ),
            }
        }
    };
    let mut c = Check::new(name, status, detail);
    c.latency_ms = Some(latency.as_millis() as u64);
    c.hint = hint;
    c
}

fn skipped(name: &str, why: &str) -> Check {
    let mut c = Check::new(name, CheckStatus::Skipped, why);
    c.required = false;
    c
}

type Call = Pin<Box<dyn Future<Output = Result<String, ProviderError>> + Send>>;

/// A probe: one cheap call on a client, or a skipped row when the client could not be made.
struct ClientProbe<C> {
    name: &'static str,
    client: Result<Arc<C>, String>,
    call: fn(Arc<C>) -> Call,
}

impl<C: Send + Sync + 'static> LiveProbe for ClientProbe<C> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn run(&self) -> Pin<Box<dyn Future<Output = Check> + Send + '_>> {
        Box::pin(async move {
            let client = match &self.client {
                Ok(c) => c.clone(),
                Err(why) => return skipped(self.name, why),
            };
            let started = Instant::now();
            let outcome = (self.call)(client).await;
            check_from(self.name, outcome, started.elapsed())
        })
    }
}

const NO_KEY: &str = "not checked: the key is not set";

/// The three probes for a configuration; a provider without its key gets a skipped row.
pub fn probes(config: &Config) -> Vec<Box<dyn LiveProbe>> {
    let c = &config.credentials;
    let b = &config.base_urls;
    let tm = match &c.ticketmaster_api_key {
        Some(k) => TicketmasterClient::new(
            b.ticketmaster.clone(),
            k.clone(),
            probe_settings(Provider::Ticketmaster),
        )
        .map_err(|e| e.to_string()),
        None => Err(NO_KEY.to_string()),
    };
    let sp = match (&c.spotify_client_id, &c.spotify_client_secret) {
        (Some(id), Some(secret)) => SpotifyClient::new(
            b.spotify_api.clone(),
            b.spotify_accounts.clone(),
            id.clone(),
            secret.clone(),
            probe_settings(Provider::Spotify),
        )
        .map_err(|e| e.to_string()),
        _ => Err(
            "not checked: SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET are both needed".to_string(),
        ),
    };
    let sf = match &c.setlistfm_api_key {
        Some(k) => SetlistFmClient::new(
            b.setlistfm.clone(),
            k.clone(),
            probe_settings(Provider::Setlistfm),
        )
        .map_err(|e| e.to_string()),
        None => Err(NO_KEY.to_string()),
    };
    vec![
        Box::new(ClientProbe {
            name: "ticketmaster",
            client: tm.map(Arc::new),
            call: |c| {
                Box::pin(async move {
                    c.search_attractions("music", 1)
                        .await
                        .map(|_| "key accepted (one attraction search)".into())
                })
            },
        }),
        Box::new(ClientProbe {
            name: "spotify",
            client: sp.map(Arc::new),
            call: |c| {
                Box::pin(async move {
                    c.check_credentials()
                        .await
                        .map(|_| "client credentials accepted (token issued)".into())
                })
            },
        }),
        Box::new(ClientProbe {
            name: "setlistfm",
            client: sf.map(Arc::new),
            // A search with no match answers 404, which still proves the key was accepted.
            call: |c| {
                Box::pin(async move {
                    c.search_artists("Radiohead")
                        .await
                        .map(|_| "key accepted (one artist search)".into())
                })
            },
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_the_contract_words() {
        let d = Duration::from_millis(5);
        let auth = ProviderError::Auth {
            provider: Provider::Ticketmaster,
            status: 401,
            message: "Invalid ApiKey".into(),
        };
        assert_eq!(
            check_from("ticketmaster", Err(auth), d).status,
            CheckStatus::Invalid
        );
        let down = ProviderError::Transient {
            provider: Provider::Spotify,
            status: None,
            message: "cannot connect".into(),
        };
        assert_eq!(
            check_from("spotify", Err(down), d).status,
            CheckStatus::Unreachable
        );
        let slow = ProviderError::RateLimited {
            provider: Provider::Setlistfm,
            retry_after: None,
        };
        assert_eq!(
            check_from("setlistfm", Err(slow), d).status,
            CheckStatus::RateLimited
        );
        let ok = check_from("setlistfm", Ok("fine".into()), d);
        assert_eq!((ok.status, ok.latency_ms), (CheckStatus::Ok, Some(5)));
    }
}
