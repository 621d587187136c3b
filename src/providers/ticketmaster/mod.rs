//! Ticketmaster Discovery v2 client: attraction search and lookup, every upcoming event of an
//! attraction (date windows past the 1,000-item paging cap, TBA/TBD fetched separately,
//! de-duplicated by id), venue lookup. The key travels as `apikey` and is never logged.

pub mod mapping;
pub mod types;

use std::collections::HashMap;

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use url::Url;

use super::error::{Provider, ProviderError};
use super::http::{ErrorResponse, HttpSettings, ProviderHttp, default_classify, first_line};
use crate::config::Secret;
use types::{Attraction, ErrorBody, Event, SearchPage, Venue};

const P: Provider = Provider::Ticketmaster;
/// Largest page size the live API accepts (`size >= 200` is refused with DIS1036).
pub const PAGE_SIZE: u64 = 199;
/// Items reachable by paging: `(page + 1) * size <= 1000`.
pub const PAGING_DEPTH: u64 = 1000;
/// Pages of `PAGE_SIZE` within the depth rule (0..=4, 995 items).
pub const MAX_PAGES: u64 = PAGING_DEPTH / PAGE_SIZE;

/// Progress of a long fetch, for the console's "page 3/8".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageProgress {
    pub pages_done: u64,
    pub pages_estimated: u64,
    pub events_so_far: u64,
}

/// Everything fetched for one attraction; `skipped` holds items that could not be read.
#[derive(Debug, Default)]
pub struct AttractionEvents {
    pub events: Vec<Event>,
    pub skipped: Vec<String>,
    pub requests: u64,
}

pub struct TicketmasterClient {
    http: ProviderHttp,
    base: Url,
    key: Secret,
}

impl std::fmt::Debug for TicketmasterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketmasterClient")
            .field("base", &self.base.as_str())
            .field("key", &self.key)
            .finish()
    }
}

/// TM's refusals: `fault.detail.errorcode` (gateway) or `errors[0].code` (Discovery).
pub fn classify(r: &ErrorResponse<'_>) -> ProviderError {
    let body: ErrorBody = serde_json::from_str(r.body).unwrap_or_default();
    let fault_code = body
        .fault
        .as_ref()
        .and_then(|f| f.detail.as_ref())
        .and_then(|d| d.errorcode.clone())
        .unwrap_or_default();
    let discovery = body.errors.first();
    let status = r.status.as_u16();
    if status == 429 && fault_code.contains("QuotaViolation") {
        // 4xx carry no rate headers; the window is 24 h from its first call.
        return ProviderError::QuotaExhausted {
            provider: P,
            resets_at: None,
        };
    }
    if status == 401 || fault_code.contains("InvalidApiKey") {
        let message = body
            .fault
            .and_then(|f| f.faultstring)
            .filter(|m| !m.trim().is_empty())
            .map(|m| tidy(&m))
            .unwrap_or_else(|| first_line(r.body));
        return ProviderError::Auth {
            provider: P,
            status,
            message,
        };
    }
    if let Some(e) = discovery {
        let code = tidy(e.code.as_deref().unwrap_or_default());
        let detail = tidy(e.detail.as_deref().unwrap_or_default());
        return match status {
            404 => ProviderError::NotFound {
                provider: P,
                what: format!("{code} {detail}").trim().to_string(),
            },
            500..=599 => ProviderError::Transient {
                provider: P,
                status: Some(status),
                message: format!("{code} {detail}"),
            },
            _ => ProviderError::Rejected {
                provider: P,
                status,
                message: format!("{code}: {detail}"),
            },
        };
    }
    default_classify(P, r)
}

/// Provider text in a message: one visible line of at most 200 columns, as [`first_line`]
/// makes of a body (a fault string or an error detail can hold newlines or escape codes).
fn tidy(text: &str) -> String {
    crate::text::truncate(&crate::text::sanitize(text.trim()), 200)
}

/// `YYYY-MM-DDTHH:mm:ssZ`, the only format the API accepts (no fractions).
pub fn tm_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Which slice of an attraction's events one query covers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slice {
    /// Everything, dated and undated (`includeTBA=yes&includeTBD=yes`, no dates): one call
    /// for an attraction under the paging depth.
    All,
    /// Dated events starting in `[from, to)`.
    Window {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    /// Undated events: `includeTBA=only` or `includeTBD=only` (asking for both at once returns none).
    Tba,
    Tbd,
}

/// The result count of a search page. A page without `page.totalElements` is not an empty
/// result (that one says `totalElements: 0`): it is a reply of the wrong shape.
fn total_of(page: &SearchPage) -> Result<u64, ProviderError> {
    page.page
        .as_ref()
        .and_then(|p| p.total_elements)
        .ok_or_else(|| ProviderError::BadResponse {
            provider: P,
            what: "events page without page.totalElements (not a Discovery search answer)".into(),
        })
}

/// Whether a dated event starts after `last_day` (undated and unreadable ones are kept).
fn beyond(e: &Event, last_day: chrono::NaiveDate) -> bool {
    e.dates
        .as_ref()
        .and_then(|d| d.start.as_ref())
        .and_then(|s| s.local_date.as_deref())
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .is_some_and(|d| d > last_day)
}

impl TicketmasterClient {
    pub fn new(base: Url, key: Secret, settings: HttpSettings) -> Result<Self, ProviderError> {
        let http = ProviderHttp::new(P, settings, vec![key.expose().to_string()])?;
        Ok(TicketmasterClient { http, base, key })
    }

    /// Reconfigures the HTTP layer (gate, retry hook, transport) after construction.
    pub fn map_http(mut self, f: impl FnOnce(ProviderHttp) -> ProviderHttp) -> Self {
        self.http = f(self.http);
        self
    }

    pub fn http(&self) -> &ProviderHttp {
        &self.http
    }

    fn url(&self, path: &str) -> Url {
        let mut u = self.base.clone();
        let base_path = u.path().trim_end_matches('/').to_string();
        u.set_path(&format!("{base_path}/discovery/v2/{path}"));
        u
    }

    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<super::http::HttpResponse, ProviderError> {
        let url = self.url(path);
        let response = self
            .http
            .send(
                |c| {
                    c.get(url.clone())
                        .query(&[("apikey", self.key.expose())])
                        .query(query)
                        .header(reqwest::header::ACCEPT, "application/json")
                },
                classify,
                true,
            )
            .await?;
        // TM's own count of what is left (sent on 200s only) replaces the local estimate.
        let header = |name: &str| {
            response
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        let limit = header("Rate-Limit").and_then(|v| u64::try_from(v).ok());
        let remaining = header("Rate-Limit-Available").and_then(|v| u64::try_from(v).ok());
        let resets_at = header("Rate-Limit-Reset").and_then(DateTime::from_timestamp_millis);
        self.http
            .budget
            .observe_limit_headers(limit, remaining, resets_at);
        Ok(response)
    }

    /// Attractions matching a keyword (for `artist add`), music only.
    pub async fn search_attractions(
        &self,
        keyword: &str,
        size: u64,
    ) -> Result<Vec<Attraction>, ProviderError> {
        let r = self
            .get(
                "attractions.json",
                &[
                    ("keyword", keyword.to_string()),
                    ("size", size.clamp(1, PAGE_SIZE).to_string()),
                    ("segmentId", "KZFzniwnSyZfZ7v7nJ".into()),
                ],
            )
            .await?;
        let page: SearchPage = r.json(P, "attraction search")?;
        Ok(page
            .embedded
            .map(|e| {
                e.attractions
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok())
                    .collect()
            })
            .unwrap_or_default())
    }

    pub async fn attraction(&self, id: &str) -> Result<Attraction, ProviderError> {
        self.get(&format!("attractions/{}.json", urlencode(id)), &[])
            .await?
            .json(P, &format!("attraction {id}"))
    }

    pub async fn venue(&self, id: &str) -> Result<Venue, ProviderError> {
        self.get(&format!("venues/{}.json", urlencode(id)), &[])
            .await?
            .json(P, &format!("venue {id}"))
    }

    async fn page(
        &self,
        attraction_id: &str,
        slice: Slice,
        page: u64,
    ) -> Result<SearchPage, ProviderError> {
        let mut q: Vec<(&str, String)> = vec![
            ("attractionId", attraction_id.to_string()),
            ("size", PAGE_SIZE.to_string()),
            ("page", page.to_string()),
            // A strict order, so nothing shifts between pages.
            ("sort", "id,asc".into()),
        ];
        match slice {
            Slice::All => {
                q.push(("includeTBA", "yes".into()));
                q.push(("includeTBD", "yes".into()));
            }
            Slice::Window { from, to } => {
                q.push(("startDateTime", tm_datetime(from)));
                q.push(("endDateTime", tm_datetime(to)));
            }
            Slice::Tba => q.push(("includeTBA", "only".into())),
            Slice::Tbd => q.push(("includeTBD", "only".into())),
        }
        self.get("events.json", &q).await?.json(P, "events page")
    }

    /// Every upcoming event of an attraction, each once. One call for an attraction with up to
    /// one page of events (dated, TBA and TBD together); only past the paging depth are the
    /// undated ones fetched apart and the dated ones in date windows, split in halves until
    /// each fits, so no request breaks the API's rules.
    pub async fn attraction_events(
        &self,
        attraction_id: &str,
        now: DateTime<Utc>,
        horizon: ChronoDuration,
        mut progress: impl FnMut(PageProgress),
    ) -> Result<AttractionEvents, ProviderError> {
        let mut out = AttractionEvents::default();
        let mut seen: HashMap<String, usize> = HashMap::new();
        // Whole seconds: the API's format has none finer.
        let start = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let last_day = (start + horizon).date_naive();
        let mut pending = vec![Slice::All];
        let mut pages_done = 0u64;
        let mut pages_estimated = 1u64;
        while let Some(slice) = pending.pop() {
            let first = self.page(attraction_id, slice, 0).await?;
            out.requests += 1;
            let total = total_of(&first)?;
            if total > MAX_PAGES * PAGE_SIZE {
                match slice {
                    Slice::All => {
                        pending.extend([
                            Slice::Tba,
                            Slice::Tbd,
                            Slice::Window {
                                from: start,
                                to: start + horizon,
                            },
                        ]);
                        pages_estimated += 3;
                        continue;
                    }
                    Slice::Window { from, to } if to - from > ChronoDuration::minutes(2) => {
                        let mid = from + (to - from) / 2;
                        let mid = DateTime::from_timestamp(mid.timestamp(), 0).unwrap_or(mid);
                        pending.push(Slice::Window { from: mid, to });
                        pending.push(Slice::Window { from, to: mid });
                        pages_estimated += 2;
                        continue;
                    }
                    _ => {}
                }
            }
            let pages = total.div_ceil(PAGE_SIZE).min(MAX_PAGES);
            pages_estimated += pages.saturating_sub(1);
            let mut page_data = Some(first);
            for p in 0..pages.max(1) {
                let data = match page_data.take() {
                    Some(d) => d,
                    None => {
                        out.requests += 1;
                        self.page(attraction_id, slice, p).await?
                    }
                };
                for raw in data.embedded.map(|e| e.events).unwrap_or_default() {
                    match serde_json::from_value::<Event>(raw) {
                        Ok(ev) if slice == Slice::All && beyond(&ev, last_day) => {}
                        Ok(ev) => match ev.id.clone() {
                            Some(id) if !seen.contains_key(&id) => {
                                seen.insert(id, out.events.len());
                                out.events.push(ev);
                            }
                            Some(_) => {}
                            None => out.skipped.push("an event without an id".into()),
                        },
                        Err(e) => out.skipped.push(format!("an unreadable event: {e}")),
                    }
                }
                pages_done += 1;
                progress(PageProgress {
                    pages_done,
                    pages_estimated: pages_estimated.max(pages_done),
                    events_so_far: out.events.len() as u64,
                });
            }
            if total > MAX_PAGES * PAGE_SIZE {
                out.skipped.push(format!(
                    "{} events in a two-minute window past the paging depth",
                    total - MAX_PAGES * PAGE_SIZE
                ));
            }
        }
        Ok(out)
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
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
    fn classifies_both_envelopes() {
        assert!(matches!(
            err(
                401,
                r#"{"fault":{"faultstring":"Invalid ApiKey","detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}"#
            ),
            ProviderError::Auth { status: 401, .. }
        ));
        assert!(matches!(
            err(
                429,
                r#"{"fault":{"faultstring":"Rate limit quota violation. Quota limit  exceeded. Identifier : ***","detail":{"errorcode":"policies.ratelimit.QuotaViolation"}}}"#
            ),
            ProviderError::QuotaExhausted { .. }
        ));
        assert!(matches!(
            err(
                429,
                r#"{"fault":{"faultstring":"Spike arrest violation. Allowed rate : 5ps","detail":{"errorcode":"policies.ratelimit.SpikeArrestViolation"}}}"#
            ),
            ProviderError::RateLimited { .. }
        ));
        assert!(matches!(
            err(
                404,
                r#"{"errors":[{"code":"DIS1004","detail":"Resource not found with provided criteria (locale=en-us, id=KovZpZAalvAA)","status":"404"}]}"#
            ),
            ProviderError::NotFound { .. }
        ));
        let e = err(
            400,
            r#"{"errors":[{"code":"DIS1035","detail":"API Limits Exceeded: Max paging depth exceeded. (page * size) must be less than 1,000","status":"400 BAD_REQUEST"}]}"#,
        );
        assert!(
            matches!(&e, ProviderError::Rejected { status: 400, message, .. } if message.contains("DIS1035")),
            "{e:?}"
        );
        assert!(matches!(
            err(502, "<html><body>bad gateway</body></html>"),
            ProviderError::Transient {
                status: Some(502),
                ..
            }
        ));
    }

    #[test]
    fn datetimes_have_no_fractions() {
        let t = DateTime::parse_from_rfc3339("2026-10-06T15:06:52.123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(tm_datetime(t), "2026-10-06T15:06:52Z");
        const {
            assert!(
                MAX_PAGES * PAGE_SIZE <= PAGING_DEPTH && (MAX_PAGES + 1) * PAGE_SIZE > PAGING_DEPTH
            )
        };
    }
}
