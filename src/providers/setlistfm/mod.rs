//! setlist.fm 1.0 client: artist search by name and an artist's recent setlists by MusicBrainz
//! id. The key travels in `x-api-key`; `Accept: application/json` is always sent (the API
//! answers XML without it). No results is a 404 here, mapped to "empty"; pages are 1-based,
//! 20 setlists each, newest first, so a fetch stops at the sync horizon (apis.md 3, §5 item 11).

pub mod mapping;
pub mod types;

use std::collections::HashSet;

use chrono::NaiveDate;
use reqwest::header::HeaderValue;
use url::Url;

use super::error::{Provider, ProviderError};
use super::http::{
    ErrorResponse, HttpResponse, HttpSettings, ProviderHttp, RetryHook, default_classify,
    first_line, retry_after,
};
use crate::config::Secret;
use crate::providers::spotify::mapping::Ambiguous;
use types::{ArtistsPage, ErrorBody, Setlist, SetlistsPage, SfArtist};

pub use mapping::exact_artist;

const P: Provider = Provider::Setlistfm;
/// Setlists per page (fixed by the API); used when an answer does not say.
pub const SETLISTS_PER_PAGE: u64 = 20;

/// Why [`SetlistFmClient::artist_setlists`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// The last page by `total` / `itemsPerPage` was read.
    LastPage,
    /// A page answered 404: nothing (more) there.
    NoMorePages,
    /// A setlist older than the horizon was reached; the rest are older still.
    Horizon,
    /// The caller's page limit.
    MaxPages,
    /// The day's budget of calls is spent.
    Budget,
    /// A whole page was stored already: so is everything older.
    AllStored,
}

/// An artist's setlists from the horizon on, newest first; `skipped` holds items that could
/// not be read.
#[derive(Debug)]
pub struct ArtistSetlists {
    pub setlists: Vec<Setlist>,
    pub total: Option<u64>,
    pub skipped: Vec<String>,
    pub requests: u64,
    pub stopped: StopReason,
}

pub struct SetlistFmClient {
    http: ProviderHttp,
    base: Url,
    key: HeaderValue,
}

impl std::fmt::Debug for SetlistFmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetlistFmClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// setlist.fm's refusals. The key can be deactivated silently: 401/403 are fatal for the
/// source. API Gateway's 429 names no wait, so the HTTP layer's default (about 2 s) applies.
pub fn classify(r: &ErrorResponse<'_>) -> ProviderError {
    let body: ErrorBody = serde_json::from_str(r.body).unwrap_or_default();
    let status = r.status.as_u16();
    let message = body
        .message
        .filter(|m| !m.trim().is_empty())
        .map(|m| crate::text::truncate(&crate::text::sanitize(m.trim()), 200))
        .unwrap_or_else(|| first_line(r.body));
    match status {
        401 | 403 => ProviderError::Auth {
            provider: P,
            status,
            message,
        },
        404 => ProviderError::NotFound {
            provider: P,
            what: message,
        },
        429 => ProviderError::RateLimited {
            provider: P,
            retry_after: retry_after(r.headers),
        },
        400 => ProviderError::Rejected {
            provider: P,
            status,
            message,
        },
        _ => default_classify(P, r),
    }
}

impl SetlistFmClient {
    pub fn new(base: Url, key: Secret, settings: HttpSettings) -> Result<Self, ProviderError> {
        if base.cannot_be_a_base() {
            return Err(ProviderError::Rejected {
                provider: P,
                status: 0,
                message: format!(
                    "base URL {} cannot take a path",
                    super::redact::redact_url(&base)
                ),
            });
        }
        // Built once and marked sensitive, so the header never shows in a debug print.
        let mut header = HeaderValue::from_str(key.expose()).map_err(|_| ProviderError::Auth {
            provider: P,
            status: 0,
            message: "the key holds characters an HTTP header cannot carry".into(),
        })?;
        header.set_sensitive(true);
        let http = ProviderHttp::new(P, settings, vec![key.expose().to_string()])?;
        Ok(SetlistFmClient {
            http,
            base,
            key: header,
        })
    }

    /// Reports every retry (429 waits, 5xx backoffs), for logs, progress events and tests.
    pub fn with_retry_hook(mut self, hook: RetryHook) -> Self {
        self.http = self.http.with_retry_hook(hook);
        self
    }

    /// Reconfigures the HTTP layer (gate, retry hook, transport) after construction.
    pub fn map_http(mut self, f: impl FnOnce(ProviderHttp) -> ProviderHttp) -> Self {
        self.http = f(self.http);
        self
    }

    pub fn http(&self) -> &ProviderHttp {
        &self.http
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut u = self.base.clone();
        // `new` refused bases that cannot take a path, so this always applies.
        if let Ok(mut path) = u.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        u
    }

    async fn get(&self, url: Url, query: &[(&str, String)]) -> Result<HttpResponse, ProviderError> {
        self.http
            .send(
                |c| {
                    c.get(url.clone())
                        .query(query)
                        .header("x-api-key", self.key.clone())
                        .header(reqwest::header::ACCEPT, "application/json")
                        // City and country names are localised: pin them to English.
                        .header(reqwest::header::ACCEPT_LANGUAGE, "en")
                },
                classify,
                true,
            )
            .await
    }

    /// Artists matching `name`, most relevant first (the API's default order is by sort name).
    /// No match is a 404 there and an empty list here. Use [`exact_artist`] on the result.
    pub async fn search_artists(&self, name: &str) -> Result<Vec<SfArtist>, ProviderError> {
        let query = [
            ("artistName", name.trim().to_string()),
            ("sort", "relevance".into()),
            ("p", "1".into()),
        ];
        let page: ArtistsPage = match self.get(self.url(&["search", "artists"]), &query).await {
            Ok(r) => r.json(P, "artist search")?,
            Err(ProviderError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(page
            .artist
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect())
    }

    /// The artist named exactly `name`, if exactly one is: search plus [`exact_artist`].
    pub async fn find_artist_by_name(
        &self,
        name: &str,
    ) -> Result<Result<Option<SfArtist>, Ambiguous>, ProviderError> {
        let candidates = self.search_artists(name).await?;
        Ok(exact_artist(name, &candidates))
    }

    /// One page (1-based) of an artist's setlists; `None` when the page does not exist (404).
    pub async fn setlists_page(
        &self,
        mbid: &str,
        page: u64,
    ) -> Result<Option<SetlistsPage>, ProviderError> {
        match self
            .get(
                self.url(&["artist", mbid, "setlists"]),
                &[("p", page.max(1).to_string())],
            )
            .await
        {
            Ok(r) => Ok(Some(r.json(P, &format!("setlists page {page}"))?)),
            Err(ProviderError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The artist's setlists dated on or after `horizon`, newest first, reading at most
    /// `max_pages` pages. Stops at a 404, at the last page by the answer's own count, at the
    /// first setlist older than the horizon, or when the day's budget is spent, so a sync costs
    /// as few of the 1,440 daily calls as it can.
    /// The artist's setlists newest first, back to `horizon`, at most `max_pages` pages. A
    /// page whose setlists are all in `known` (stored by an earlier sync) ends the sweep: the
    /// older ones are stored too.
    pub async fn artist_setlists(
        &self,
        mbid: &str,
        horizon: NaiveDate,
        max_pages: u32,
        known: &HashSet<String>,
    ) -> Result<ArtistSetlists, ProviderError> {
        let mut out = ArtistSetlists {
            setlists: Vec::new(),
            total: None,
            skipped: Vec::new(),
            requests: 0,
            stopped: StopReason::MaxPages,
        };
        let mut page_no: u64 = 1;
        while page_no <= u64::from(max_pages) {
            // Past the first page, a spent budget ends the sweep with what it has; on the first
            // the request is refused as quota-spent and the part waits for the reset.
            if page_no > 1 && self.http.budget.snapshot().remaining == Some(0) {
                out.stopped = StopReason::Budget;
                return Ok(out);
            }
            out.requests += 1;
            let Some(page) = self.setlists_page(mbid, page_no).await? else {
                out.stopped = StopReason::NoMorePages;
                return Ok(out);
            };
            out.total = page.total.or(out.total);
            let on_page = page.setlist.len() as u64;
            let mut older = false;
            let mut all_known = on_page > 0;
            for raw in page.setlist {
                match serde_json::from_value::<Setlist>(raw) {
                    Ok(s) => {
                        if s.id.as_ref().is_none_or(|id| !known.contains(id)) {
                            all_known = false;
                        }
                        match mapping::setlist_date(&s) {
                            Some(d) if d < horizon => {
                                older = true;
                                break;
                            }
                            // An unreadable date cannot end the sweep; mapping reports it.
                            _ => out.setlists.push(s),
                        }
                    }
                    Err(e) => {
                        all_known = false;
                        out.skipped.push(format!("an unreadable setlist: {e}"));
                    }
                }
            }
            if older {
                out.stopped = StopReason::Horizon;
                return Ok(out);
            }
            if all_known {
                out.stopped = StopReason::AllStored;
                return Ok(out);
            }
            let per_page = page
                .items_per_page
                .filter(|n| *n > 0)
                .unwrap_or(SETLISTS_PER_PAGE);
            let last = match page.total {
                Some(total) => page_no >= total.div_ceil(per_page),
                // No count: a page that is not full is the last.
                None => on_page < per_page,
            };
            if last {
                out.stopped = StopReason::LastPage;
                return Ok(out);
            }
            page_no += 1;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn err(status: u16, body: &str) -> ProviderError {
        classify(&ErrorResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: &HeaderMap::new(),
            body,
        })
    }

    #[test]
    fn classifies_gateway_and_api_errors() {
        let e = err(
            404,
            r#"{"code":404,"status":"Not Found","message":"not found","timestamp":"2026-09-30T12:00:00.000+0000"}"#,
        );
        assert_eq!(
            e,
            ProviderError::NotFound {
                provider: P,
                what: "not found".into()
            }
        );
        assert!(matches!(
            err(403, r#"{"message":"Forbidden"}"#),
            ProviderError::Auth { status: 403, .. }
        ));
        assert!(matches!(
            err(401, ""),
            ProviderError::Auth { status: 401, .. }
        ));
        assert_eq!(
            err(429, r#"{"message":"Too Many Requests"}"#),
            ProviderError::RateLimited {
                provider: P,
                retry_after: None
            }
        );
        assert!(matches!(
            err(503, "<html>Service Unavailable</html>"),
            ProviderError::Transient {
                status: Some(503),
                ..
            }
        ));
    }

    #[test]
    fn the_key_never_prints() {
        let c = SetlistFmClient::new(
            Url::parse("https://api.setlist.fm/rest/1.0").unwrap(),
            Secret::new("sfCANARYq1w2e3r4t5y6u7i8"),
            HttpSettings::for_provider(P),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("sfCANARY"));
        assert_eq!(
            c.url(&["artist", "e01646f2", "setlists"]).as_str(),
            "https://api.setlist.fm/rest/1.0/artist/e01646f2/setlists"
        );
    }
}
