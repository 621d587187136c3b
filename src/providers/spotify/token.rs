//! Spotify's client-credentials token (apis.md 2.1; §5 items 5, 6): one token for the whole
//! client, reused until shortly before it expires, refreshed by exactly one caller while the
//! others wait for it, and dropped when the API says it expired.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::types::{ErrorBody, ErrorField, TokenAnswer};
use crate::config::Secret;
use crate::providers::error::{Provider, ProviderError};
use crate::providers::http::{ErrorResponse, ProviderHttp};

const P: Provider = Provider::Spotify;
/// Refresh this long before the token expires, so no request goes out with a token that dies
/// in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Lifetime assumed when the answer names none (Spotify documents 3600 s).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// A bearer token. Prints as its sequence number only.
#[derive(Clone)]
pub struct AccessToken {
    value: Secret,
    /// 1 for the first token this cache obtained, 2 for the next, …; tells a stale token from
    /// a fresh one in [`TokenCache::invalidate`].
    generation: u64,
}

impl AccessToken {
    /// The clear value, for the `Authorization` header only.
    pub fn bearer(&self) -> &str {
        self.value.expose()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessToken(#{})", self.generation)
    }
}

/// When a token obtained at `obtained` for `lifetime` should be replaced: [`REFRESH_MARGIN`]
/// early, but never more than half its lifetime early, so a short-lived token (a fake's
/// configurable TTL) is still reused rather than fetched for every call.
pub fn refresh_at(obtained: Instant, lifetime: Duration) -> Instant {
    obtained + lifetime - REFRESH_MARGIN.min(lifetime / 2)
}

#[derive(Default)]
struct Slot {
    token: Option<(AccessToken, Instant)>,
    /// A refused credential, remembered so that no caller asks again with the same one:
    /// invalid client credentials are fatal configuration, never a retry loop.
    refused: Option<ProviderError>,
}

/// The cached token of one client.
pub struct TokenCache {
    url: Url,
    client_id: Secret,
    client_secret: Secret,
    /// Held across the token request: concurrent callers on a cold or stale cache queue behind
    /// the one refreshing and then find its token (a single flight, no stampede).
    slot: Mutex<Slot>,
    issued: AtomicU64,
    requested: AtomicU64,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("url", &self.url.as_str())
            .field("client_id", &self.client_id)
            .field("issued", &self.tokens_issued())
            .finish()
    }
}

/// The accounts service's refusals. A refused credential is 400 `invalid_client` (not 401);
/// anything else is read like an API answer (5xx transient, 429 rate-limited).
pub fn classify_token(r: &ErrorResponse<'_>) -> ProviderError {
    let body: ErrorBody = serde_json::from_str(r.body).unwrap_or_default();
    let status = r.status.as_u16();
    if let Some(ErrorField::OAuth(code)) = &body.error
        && matches!(status, 400 | 401)
        && matches!(code.as_str(), "invalid_client" | "unauthorized_client")
    {
        let description = body.error_description.unwrap_or_default();
        let message = crate::text::truncate(
            &crate::text::sanitize(format!("{code}: {description}").trim()),
            200,
        );
        return ProviderError::Auth {
            provider: P,
            status,
            message,
        };
    }
    super::classify(r)
}

impl TokenCache {
    pub fn new(accounts_base: &Url, client_id: Secret, client_secret: Secret) -> TokenCache {
        let mut url = accounts_base.clone();
        let base_path = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base_path}/api/token"));
        TokenCache {
            url,
            client_id,
            client_secret,
            slot: Mutex::new(Slot::default()),
            issued: AtomicU64::new(0),
            requested: AtomicU64::new(0),
        }
    }

    /// Tokens obtained so far.
    pub fn tokens_issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }

    /// Token requests sent so far (retries of one request by the HTTP layer count once).
    pub fn token_requests(&self) -> u64 {
        self.requested.load(Ordering::SeqCst)
    }

    /// A token that is good for at least the refresh margin, obtained if needed.
    pub async fn get(&self, http: &ProviderHttp) -> Result<AccessToken, ProviderError> {
        let mut slot = self.slot.lock().await;
        if let Some(e) = &slot.refused {
            return Err(e.clone());
        }
        if let Some((token, refresh)) = &slot.token
            && Instant::now() < *refresh
        {
            return Ok(token.clone());
        }
        // Timed from before the request, so the expiry errs early.
        let sent = Instant::now();
        let (value, lifetime) = match self.request(http).await {
            Ok(v) => v,
            Err(e) => {
                if matches!(e, ProviderError::Auth { .. }) {
                    slot.refused = Some(e.clone());
                }
                slot.token = None;
                return Err(e);
            }
        };
        let generation = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let token = AccessToken { value, generation };
        slot.token = Some((token.clone(), refresh_at(sent, lifetime)));
        tracing::debug!(provider = %P, generation, lifetime_s = lifetime.as_secs(), "access token obtained");
        Ok(token)
    }

    /// Drops `stale` after the API refused it (401). A token that a concurrent caller has
    /// already replaced stays, so twenty callers that saw the same 401 cause one refresh.
    pub async fn invalidate(&self, stale: &AccessToken) {
        let mut slot = self.slot.lock().await;
        if slot
            .token
            .as_ref()
            .is_some_and(|(t, _)| t.generation == stale.generation)
        {
            slot.token = None;
        }
    }

    async fn request(&self, http: &ProviderHttp) -> Result<(Secret, Duration), ProviderError> {
        self.requested.fetch_add(1, Ordering::SeqCst);
        let url = self.url.clone();
        let answer = http
            .send(
                |c| {
                    c.post(url.clone())
                        .basic_auth(self.client_id.expose(), Some(self.client_secret.expose()))
                        .header(reqwest::header::ACCEPT, "application/json")
                        .form(&[("grant_type", "client_credentials")])
                },
                classify_token,
                true,
            )
            .await?;
        // No serde detail in the message: it could quote a fragment of the token.
        let body: TokenAnswer =
            serde_json::from_slice(&answer.body).map_err(|_| ProviderError::BadResponse {
                provider: P,
                what: format!(
                    "token answer is not the documented JSON ({} bytes)",
                    answer.body.len()
                ),
            })?;
        if body
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(ProviderError::BadResponse {
                provider: P,
                what: format!(
                    "token of type {:?}, expected Bearer",
                    body.token_type.unwrap_or_default()
                ),
            });
        }
        let value = body
            .access_token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| ProviderError::BadResponse {
                provider: P,
                what: "token answer without an access_token".into(),
            })?;
        // `expires_in` is seconds (apis.md §5 item 20); 0 would mean refreshing on every call.
        let lifetime = body
            .expires_in
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        Ok((Secret::new(value), lifetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn err(status: u16, body: &str) -> ProviderError {
        classify_token(&ErrorResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: &HeaderMap::new(),
            body,
        })
    }

    #[test]
    fn refreshes_a_minute_early_but_never_before_half_the_lifetime() {
        let t0 = Instant::now();
        assert_eq!(
            refresh_at(t0, Duration::from_secs(3600)),
            t0 + Duration::from_secs(3540)
        );
        assert_eq!(
            refresh_at(t0, Duration::from_secs(30)),
            t0 + Duration::from_secs(15)
        );
    }

    #[test]
    fn refused_credentials_are_auth_and_accounts_outages_transient() {
        let e = err(
            400,
            r#"{"error":"invalid_client","error_description":"Invalid client secret"}"#,
        );
        assert!(
            matches!(&e, ProviderError::Auth { status: 400, message, .. } if message.contains("Invalid client secret")),
            "{e:?}"
        );
        assert!(!e.is_retryable());
        let e = err(
            400,
            r#"{"error":"unsupported_grant_type","error_description":"grant_type parameter is missing"}"#,
        );
        assert!(
            matches!(e, ProviderError::Rejected { status: 400, .. }),
            "{e:?}"
        );
        assert!(matches!(
            err(503, "upstream connect error"),
            ProviderError::Transient {
                status: Some(503),
                ..
            }
        ));
        assert!(matches!(
            err(502, "<html><body>bad gateway</body></html>"),
            ProviderError::Transient { .. }
        ));
    }

    #[test]
    fn a_token_never_prints() {
        let t = AccessToken {
            value: Secret::new("BQDuSECRETTOKENvalueXw"),
            generation: 3,
        };
        assert_eq!(format!("{t:?}"), "AccessToken(#3)");
        let a: TokenAnswer = serde_json::from_str(
            r#"{"access_token":"BQDuSECRETTOKENvalueXw","token_type":"Bearer","expires_in":3600}"#,
        )
        .unwrap();
        assert!(!format!("{a:?}").contains("SECRET"));
    }
}
