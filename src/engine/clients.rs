//! The three provider clients the engine uses, built from the configuration, each behind the
//! database-shared budget of its key so that every process using that key stays inside the
//! provider's limits together.

use std::sync::Arc;

use super::budget_gate::DbGate;
use super::pipeline::Clients;
use crate::config::Config;
use crate::providers::error::Provider;
use crate::providers::http::{HttpSettings, ProviderHttp};
use crate::providers::setlistfm::SetlistFmClient;
use crate::providers::spotify::SpotifyClient;
use crate::providers::ticketmaster::TicketmasterClient;
use crate::store::Store;

/// Per-provider HTTP settings; the defaults are the providers' documented limits.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub ticketmaster: HttpSettings,
    pub spotify: HttpSettings,
    pub setlistfm: HttpSettings,
    /// Share budgets through the database (off only for tests of the HTTP layer itself).
    pub shared_budgets: bool,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            ticketmaster: HttpSettings::for_provider(Provider::Ticketmaster),
            spotify: HttpSettings::for_provider(Provider::Spotify),
            setlistfm: HttpSettings::for_provider(Provider::Setlistfm),
            shared_budgets: true,
        }
    }
}

impl ClientSettings {
    /// Each provider's rate and daily limit `factor` times the documented one (to match a
    /// fake started with `FakeConfig::with_limits_scaled`, or an upgraded key).
    pub fn scaled(factor: u32) -> ClientSettings {
        let scaled = |p: Provider| {
            let s = HttpSettings::for_provider(p);
            HttpSettings {
                rate: crate::providers::limiter::Rate {
                    count: s.rate.count * factor,
                    ..s.rate
                },
                daily_limit: s.daily_limit.map(|d| d * u64::from(factor)),
                ..s
            }
        };
        ClientSettings {
            ticketmaster: scaled(Provider::Ticketmaster),
            spotify: scaled(Provider::Spotify),
            setlistfm: scaled(Provider::Setlistfm),
            shared_budgets: true,
        }
    }
}

fn gated(
    http: ProviderHttp,
    store: &Store,
    provider: Provider,
    secret: &str,
    shared: bool,
) -> ProviderHttp {
    if !shared {
        return http;
    }
    let gate = DbGate::for_provider(store.clone(), provider, secret, &http.settings);
    http.with_gate(Arc::new(gate))
}

const MISSING: &str = "is not set; add it to the environment or .env (see `syncdeck env check`)";

impl Clients {
    pub fn from_config(config: &Config, store: &Store, settings: &ClientSettings) -> Clients {
        let c = &config.credentials;
        let b = &config.base_urls;
        let shared = settings.shared_budgets;
        let ticketmaster =
            match &c.ticketmaster_api_key {
                Some(key) => TicketmasterClient::new(
                    b.ticketmaster.clone(),
                    key.clone(),
                    settings.ticketmaster.clone(),
                )
                .map(|client| {
                    Arc::new(client.map_http(|h| {
                        gated(h, store, Provider::Ticketmaster, key.expose(), shared)
                    }))
                })
                .map_err(|e| e.to_string()),
                None => Err(format!("TICKETMASTER_API_KEY {MISSING}")),
            };
        let spotify = match (&c.spotify_client_id, &c.spotify_client_secret) {
            (Some(id), Some(secret)) => SpotifyClient::new(
                b.spotify_api.clone(),
                b.spotify_accounts.clone(),
                id.clone(),
                secret.clone(),
                settings.spotify.clone(),
            )
            .map(|client| {
                Arc::new(
                    client.map_http(|h| gated(h, store, Provider::Spotify, id.expose(), shared)),
                )
            })
            .map_err(|e| e.to_string()),
            (None, _) => Err(format!("SPOTIFY_CLIENT_ID {MISSING}")),
            (_, None) => Err(format!("SPOTIFY_CLIENT_SECRET {MISSING}")),
        };
        let setlistfm = match &c.setlistfm_api_key {
            Some(key) => {
                SetlistFmClient::new(b.setlistfm.clone(), key.clone(), settings.setlistfm.clone())
                    .map(|client| {
                        Arc::new(client.map_http(|h| {
                            gated(h, store, Provider::Setlistfm, key.expose(), shared)
                        }))
                    })
                    .map_err(|e| e.to_string())
            }
            None => Err(format!("SETLISTFM_API_KEY {MISSING}")),
        };
        Clients {
            ticketmaster,
            spotify,
            setlistfm,
        }
    }
}
