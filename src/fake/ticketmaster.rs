//! Ticketmaster Discovery v2 (apis.md §1): events, attractions and venues, with the gateway's
//! key check, SpikeArrest and daily quota in front (Apigee faults, `fault` envelope) and the
//! Discovery rules behind it (`errors[]` envelope): DIS1036 size, DIS1035 paging depth, DIS1015
//! date format, DIS1004 unknown id. Only 200s carry the `Rate-Limit*` headers.

use std::collections::HashSet;
use std::time::Instant;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::data::{Data, DateClass, EventMeta};
use super::endpoints as ep;
use super::limits::QuotaState;
use super::server::{Reply, Req, Shared, lock};
use super::util::{fnv64, slug};
use crate::catalog::{CatalogArtist, CatalogEvent, CatalogImage, CatalogVenue};

const API: &str = "/discovery/v2";
const MUSIC_SEGMENT: (&str, &str) = ("KZFzniwnSyZfZ7v7nJ", "Music");
const CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// `size` must stay below this (DIS1036) and `page * size` below [`PAGING_DEPTH`] (DIS1035).
const MAX_SIZE: u64 = 200;
const PAGING_DEPTH: u64 = 1000;

enum Route {
    Events,
    Event(String),
    Attractions,
    Attraction(String),
    Venues,
    Venue(String),
    /// Under `/discovery/v2` but no such resource.
    Unknown,
    /// Not an API path at all: the gateway has no proxy for it.
    NoProxy,
}

fn route(req: &Req) -> Route {
    let segments = req.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    // `_links` omit `.json` on single resources; the API answers both spellings.
    let id = |x: &str| x.strip_suffix(".json").unwrap_or(x).to_string();
    match s.as_slice() {
        ["discovery", "v2", "events.json" | "events"] => Route::Events,
        ["discovery", "v2", "events", x] => Route::Event(id(x)),
        ["discovery", "v2", "attractions.json" | "attractions"] => Route::Attractions,
        ["discovery", "v2", "attractions", x] => Route::Attraction(id(x)),
        ["discovery", "v2", "venues.json" | "venues"] => Route::Venues,
        ["discovery", "v2", "venues", x] => Route::Venue(id(x)),
        ["discovery", ..] => Route::Unknown,
        _ => Route::NoProxy,
    }
}

/// The stats label and target of a request.
pub(crate) fn endpoint(req: &Req) -> (&'static str, Option<String>) {
    match route(req) {
        Route::Events => (
            ep::TM_EVENTS,
            req.param("attractionId")
                .or_else(|| req.param("keyword"))
                .map(str::to_string),
        ),
        Route::Event(id) => (ep::TM_EVENT, Some(id)),
        Route::Attractions => (
            ep::TM_ATTRACTIONS,
            req.param("keyword")
                .or_else(|| req.param("id"))
                .map(str::to_string),
        ),
        Route::Attraction(id) => (ep::TM_ATTRACTION, Some(id)),
        Route::Venues => (ep::TM_VENUES, req.param("keyword").map(str::to_string)),
        Route::Venue(id) => (ep::TM_VENUE, Some(id)),
        Route::Unknown | Route::NoProxy => (ep::UNKNOWN, None),
    }
}

fn fault(status: StatusCode, faultstring: &str, errorcode: &str) -> Reply {
    Reply::json_typed(
        status,
        &json!({"fault": {"faultstring": faultstring, "detail": {"errorcode": errorcode}}}),
        CONTENT_TYPE,
    )
}

fn invalid_api_key() -> Reply {
    fault(
        StatusCode::UNAUTHORIZED,
        "Invalid ApiKey",
        "oauth.v2.InvalidApiKey",
    )
}

/// The per-second burst refusal (Apigee SpikeArrest), also used for injected 429s.
pub(crate) fn spike_arrest(shared: &Shared) -> Reply {
    let allowed = match shared.config.tm_rate {
        Some(r) if r.per.as_secs() == 60 => format!("{}pm", r.count),
        Some(r) => format!(
            "{}ps",
            (f64::from(r.count) / r.per.as_secs_f64()).round() as u64
        ),
        None => "5ps".to_string(),
    };
    fault(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Spike arrest violation. Allowed rate : {allowed}"),
        "policies.ratelimit.SpikeArrestViolation",
    )
}

/// The daily quota refusal; the real one echoes the key (double space and all).
fn quota_violation(key: &str) -> Reply {
    fault(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("Rate limit quota violation. Quota limit  exceeded. Identifier : {key}"),
        "policies.ratelimit.QuotaViolation",
    )
}

/// A Discovery error (`errors[]` envelope). DIS1015's link is `self`, the others' `about`.
fn discovery_error(status: StatusCode, code: &str, detail: &str, status_text: &str) -> Reply {
    let link = if code == "DIS1015" { "self" } else { "about" };
    Reply::json_typed(
        status,
        &json!({"errors": [{
            "code": code,
            "detail": detail,
            "status": status_text,
            "_links": {link: {"href": format!("{API}/errors.html#{code}")}}
        }]}),
        CONTENT_TYPE,
    )
}

fn not_found(id: &str) -> Reply {
    discovery_error(
        StatusCode::NOT_FOUND,
        "DIS1004",
        &format!("Resource not found with provided criteria (locale=en-us, id={id})"),
        "404",
    )
}

fn invalid_param(name: &str, value: &str) -> Reply {
    discovery_error(
        StatusCode::BAD_REQUEST,
        "DIS1015",
        &format!("Query param \"{name}\" with value \"{value}\" is invalid"),
        "400",
    )
}

pub(crate) fn handle(shared: &Shared, req: &Req) -> Reply {
    let route = route(req);
    if let Route::NoProxy = route {
        return fault(
            StatusCode::NOT_FOUND,
            &format!(
                "Unable to identify proxy for host: default and url: {}",
                req.path
            ),
            "messaging.adaptors.http.flow.ApplicationNotFound",
        );
    }
    let key = shared.config.keys.ticketmaster_api_key.as_str();
    if req.param("apikey") != Some(key) {
        return invalid_api_key();
    }
    // The gateway throttles before the API validates: 400s count against the quota, 429s not.
    let quota = {
        let mut gateway = lock(&shared.tm);
        let now = Instant::now();
        if let Some(throttle) = gateway.throttle.as_mut()
            && !throttle.admit(now)
        {
            return spike_arrest(shared);
        }
        match gateway.quota.try_use(now) {
            Ok(state) => state,
            Err(_) => return quota_violation(key),
        }
    };
    let reply = if req.method != Method::GET {
        not_found(&req.path)
    } else {
        let data = &shared.data;
        match route {
            Route::Events => search_events(data, req),
            Route::Event(id) => match data.event_by_id.get(&id) {
                Some(i) => ok(event_json(data, &data.events[*i])),
                None => not_found(&id),
            },
            Route::Attractions => search_attractions(data, req),
            Route::Attraction(id) => match attraction_by_id(data, &id) {
                Some(v) => ok(v),
                None => not_found(&id),
            },
            Route::Venues => search_venues(data, req),
            Route::Venue(id) => match venue_by_id(data, &id) {
                Some(v) => ok(v),
                None => not_found(&id),
            },
            Route::Unknown | Route::NoProxy => not_found(&req.path),
        }
    };
    if reply.status == StatusCode::OK {
        with_rate_headers(reply, quota)
    } else {
        reply
    }
}

fn ok(value: Value) -> Reply {
    Reply::json_typed(StatusCode::OK, &value, CONTENT_TYPE)
}

fn with_rate_headers(reply: Reply, q: QuotaState) -> Reply {
    reply
        .with_header("rate-limit", q.limit.to_string())
        .with_header("rate-limit-available", q.remaining.to_string())
        .with_header("rate-limit-over", "0")
        .with_header("rate-limit-reset", q.reset_epoch_ms.to_string())
}

// ---------------------------------------------------------------------------------------------
// Query parameters

struct Paging {
    page: u64,
    size: u64,
}

fn paging(req: &Req) -> Result<Paging, Reply> {
    let number = |name: &str, default: u64| -> Result<u64, Reply> {
        match req.param(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| invalid_param(name, v)),
        }
    };
    let size = number("size", 20)?;
    if size >= MAX_SIZE {
        return Err(discovery_error(
            StatusCode::BAD_REQUEST,
            "DIS1036",
            "Query param \"size\" must be less than 200",
            "400 BAD_REQUEST",
        ));
    }
    if size == 0 {
        return Err(invalid_param("size", "0"));
    }
    let page = number("page", 0)?;
    if page.saturating_mul(size) >= PAGING_DEPTH {
        return Err(discovery_error(
            StatusCode::BAD_REQUEST,
            "DIS1035",
            "API Limits Exceeded: Max paging depth exceeded. (page * size) must be less than 1,000",
            "400 BAD_REQUEST",
        ));
    }
    Ok(Paging { page, size })
}

/// `YYYY-MM-DDTHH:mm:ssZ` exactly: no fractions, no offset, `Z` required.
fn strict_datetime(name: &str, value: &str) -> Result<DateTime<Utc>, Reply> {
    let b = value.as_bytes();
    let shape = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    let parsed = shape
        .then(|| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ").ok())
        .flatten();
    parsed.map(|t| Utc.from_utc_datetime(&t)).ok_or_else(|| {
        discovery_error(
            StatusCode::BAD_REQUEST,
            "DIS1015",
            &format!(
                "Query param \"{name}\" with value \"{value}\" must be a date in the format yyyy-MM-dd'T'HH:mm:ss'Z'"
            ),
            "400",
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Include {
    Yes,
    No,
    Only,
}

fn include(req: &Req, name: &str) -> Result<Include, Reply> {
    match req.param(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(Include::No),
        Some(v) if v == "yes" => Ok(Include::Yes),
        Some(v) if v == "no" => Ok(Include::No),
        Some(v) if v == "only" => Ok(Include::Only),
        Some(v) => Err(invalid_param(name, &v)),
    }
}

/// Whether an event of this class is returned, per apis.md 1.2 as observed: undated events are
/// excluded by default, `only` returns just that class, and `only` on both returns nothing.
fn wanted(class: DateClass, tba: Include, tbd: Include) -> bool {
    match class {
        DateClass::Dated => tba != Include::Only && tbd != Include::Only,
        DateClass::Tba => tba == Include::Yes || (tba == Include::Only && tbd != Include::Only),
        DateClass::Tbd => tbd == Include::Yes || (tbd == Include::Only && tba != Include::Only),
    }
}

fn csv(v: Option<&str>) -> Option<HashSet<String>> {
    v.map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

/// The relative `_links` of a search page: the query echoed without the key.
fn search_links(resource: &str, req: &Req, p: &Paging, total_pages: u64) -> Value {
    let kept: Vec<&str> = req
        .raw_query
        .split('&')
        .filter(|x| !x.is_empty() && *x != "apikey" && !x.starts_with("apikey="))
        .collect();
    let base: Vec<&str> = kept
        .iter()
        .copied()
        .filter(|x| !x.starts_with("page=") && !x.starts_with("size="))
        .collect();
    let href = |parts: &[&str]| {
        if parts.is_empty() {
            format!("{API}/{resource}")
        } else {
            format!("{API}/{resource}?{}", parts.join("&"))
        }
    };
    let page_href = |n: u64| {
        let page = format!("page={n}");
        let size = format!("size={}", p.size);
        let mut parts = base.clone();
        parts.push(&page);
        parts.push(&size);
        json!({"href": href(&parts)})
    };
    let mut links = Map::new();
    links.insert("self".into(), json!({"href": href(&kept)}));
    if total_pages > 0 {
        links.insert("first".into(), page_href(0));
        if p.page > 0 {
            links.insert("prev".into(), page_href((p.page - 1).min(total_pages - 1)));
        }
        if p.page + 1 < total_pages {
            links.insert("next".into(), page_href(p.page + 1));
        }
        links.insert("last".into(), page_href(total_pages - 1));
    }
    Value::Object(links)
}

/// A search page; with nothing on it there is no `_embedded` key at all (apis.md 1.6).
fn search_page(
    resource: &str,
    key: &str,
    req: &Req,
    p: &Paging,
    total: usize,
    items: Vec<Value>,
) -> Reply {
    let total = total as u64;
    let total_pages = total.div_ceil(p.size);
    let mut out = Map::new();
    if !items.is_empty() {
        out.insert("_embedded".into(), json!({ key: items }));
    }
    out.insert("_links".into(), search_links(resource, req, p, total_pages));
    out.insert(
        "page".into(),
        json!({"size": p.size, "totalElements": total, "totalPages": total_pages, "number": p.page}),
    );
    ok(Value::Object(out))
}

fn page_slice<T: Copy>(all: &[T], p: &Paging) -> Vec<T> {
    all.iter()
        .skip((p.page * p.size) as usize)
        .take(p.size as usize)
        .copied()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Events

fn search_events(data: &Data, req: &Req) -> Reply {
    let p = match paging(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mut window = (None, None);
    for (slot, name) in [
        (&mut window.0, "startDateTime"),
        (&mut window.1, "endDateTime"),
    ] {
        if let Some(v) = req.param(name) {
            match strict_datetime(name, v) {
                Ok(t) => *slot = Some(t),
                Err(r) => return r,
            }
        }
    }
    let (tba, tbd) = match (include(req, "includeTBA"), include(req, "includeTBD")) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let sort = req
        .param("sort")
        .unwrap_or("relevance,desc")
        .trim()
        .to_string();

    let candidates: Vec<usize> = match csv(req.param("attractionId")) {
        Some(ids) => {
            let mut seen = HashSet::new();
            // Sorted: a set's iteration order changes between runs, the answer must not.
            let mut order: Vec<&str> = ids.iter().map(String::as_str).collect();
            order.sort_unstable();
            order
                .into_iter()
                .flat_map(|id| data.events_by_attraction.get(id).into_iter().flatten())
                .copied()
                .filter(|i| seen.insert(*i))
                .collect()
        }
        None => (0..data.events.len()).collect(),
    };
    let ids = csv(req.param("id"));
    let venues = csv(req.param("venueId"));
    let keyword = req.param("keyword").map(|k| k.trim().to_lowercase());
    let country = req
        .param("countryCode")
        .map(|c| c.trim().to_ascii_uppercase());
    let mut hits: Vec<usize> = candidates
        .into_iter()
        .filter(|i| {
            let e = &data.events[*i];
            wanted(e.class, tba, tbd)
                && ids.as_ref().is_none_or(|s| s.contains(&e.id))
                && venues
                    .as_ref()
                    .is_none_or(|s| e.venue_id.as_ref().is_some_and(|v| s.contains(v)))
                && keyword
                    .as_ref()
                    .is_none_or(|k| e.name_lower.contains(k.as_str()))
                && country
                    .as_ref()
                    .is_none_or(|c| e.country_code.as_deref() == Some(c.as_str()))
                && (e.class != DateClass::Dated || in_window(e, window))
        })
        .collect();
    if let Err(r) = sort_events(data, &mut hits, &sort, p.page) {
        return r;
    }
    let items = page_slice(&hits, &p)
        .into_iter()
        .map(|i| event_json(data, &data.events[i]))
        .collect();
    search_page("events.json", "events", req, &p, hits.len(), items)
}

fn in_window(e: &EventMeta, (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>)) -> bool {
    if from.is_none() && to.is_none() {
        return true;
    }
    let Some(start) = e.start else { return false };
    from.is_none_or(|f| start >= f) && to.is_none_or(|t| start <= t)
}

/// Orders events per `sort`. `id,asc` is strict. Date orders break ties differently on every
/// page, as the real API's unstable ties do (apis.md 1.2: 171 of 200 events on a page shared a
/// timestamp), so a client paging by date may see an event twice or never.
fn sort_events(data: &Data, hits: &mut [usize], sort: &str, page: u64) -> Result<(), Reply> {
    let ev = |i: &usize| &data.events[*i];
    let tie = |i: &usize| fnv64(&format!("{}#{page}", ev(i).id));
    // Undated events sort after dated ones in date orders.
    let start = |i: &usize| (ev(i).start.is_none(), ev(i).start);
    match sort {
        "relevance,desc" | "relevance,asc" | "distance,asc" | "distance,date,asc" | "random" => {}
        "id,asc" => hits.sort_by(|a, b| ev(a).id.cmp(&ev(b).id)),
        "id,desc" => hits.sort_by(|a, b| ev(b).id.cmp(&ev(a).id)),
        "name,asc" => hits.sort_by(|a, b| ev(a).name_lower.cmp(&ev(b).name_lower)),
        "name,desc" => hits.sort_by(|a, b| ev(b).name_lower.cmp(&ev(a).name_lower)),
        "date,asc" => hits.sort_by_key(|i| (start(i), tie(i))),
        "date,desc" => {
            hits.sort_by_key(|i| (start(i), tie(i)));
            hits.reverse();
        }
        "name,date,asc" => hits.sort_by_key(|i| (ev(i).name_lower.clone(), start(i), tie(i))),
        "name,date,desc" => {
            hits.sort_by_key(|i| (ev(i).name_lower.clone(), start(i), tie(i)));
            hits.reverse();
        }
        "date,name,asc" => hits.sort_by_key(|i| (start(i), ev(i).name_lower.clone(), tie(i))),
        "date,name,desc" => {
            hits.sort_by_key(|i| (start(i), ev(i).name_lower.clone(), tie(i)));
            hits.reverse();
        }
        "onSaleStartDate,asc" => hits.sort_by_key(|i| (ev(i).sale_start.clone(), tie(i))),
        "venueName,asc" => hits.sort_by_key(|i| (ev(i).venue_name.to_lowercase(), tie(i))),
        "venueName,desc" => {
            hits.sort_by_key(|i| (ev(i).venue_name.to_lowercase(), tie(i)));
            hits.reverse();
        }
        other => return Err(invalid_param("sort", other)),
    }
    Ok(())
}

fn event_json(data: &Data, meta: &EventMeta) -> Value {
    if let Some(v) = data.fixture_event(meta) {
        return v.clone();
    }
    match data.catalog_event(meta) {
        Some(e) => catalog_event_json(data, meta, e),
        None => Value::Null,
    }
}

fn images_json(images: &[CatalogImage]) -> Value {
    let mut list: Vec<&CatalogImage> = images.iter().collect();
    // The app wants the widest image, so never make it the first one.
    let widest = list
        .iter()
        .enumerate()
        .max_by_key(|(_, i)| i.width)
        .map(|(n, _)| n);
    if widest == Some(0) && list.len() > 1 {
        list.rotate_left(1);
    }
    Value::Array(
        list.into_iter()
            .map(|i| {
                json!({
                    "ratio": i.ratio.clone().unwrap_or_else(|| "16_9".into()),
                    "url": i.url,
                    "width": i.width,
                    "height": i.height,
                    "fallback": false
                })
            })
            .collect(),
    )
}

fn genre_id(name: &str) -> &'static str {
    match name {
        "Rock" => "KnvZfZ7vAeA",
        "Pop" => "KnvZfZ7vAev",
        "Alternative" => "KnvZfZ7vAvv",
        "Jazz" => "KnvZfZ7vAvE",
        "Country" => "KnvZfZ7vAv6",
        "Hip-Hop/Rap" => "KnvZfZ7vAv1",
        "Electronic" => "KnvZfZ7vAvF",
        _ => "KnvZfZ7v7l1",
    }
}

fn classifications(genre: &str, with_type: bool) -> Value {
    let mut c = json!({
        "primary": true,
        "segment": {"id": MUSIC_SEGMENT.0, "name": MUSIC_SEGMENT.1},
        "genre": {"id": genre_id(genre), "name": genre},
        "subGenre": {"id": "KZazBEonSMnZfZ7v6F1", "name": if genre == "Undefined" { "Undefined" } else { "Other" }},
        "family": false
    });
    if with_type {
        c["type"] = json!({"id": "KZAyXgnZfZ7v7nI", "name": "Group"});
        c["subType"] = json!({"id": "KZFzBErXgnZfZ7v7lJ", "name": "Band"});
    }
    json!([c])
}

fn catalog_event_json(data: &Data, meta: &EventMeta, e: &CatalogEvent) -> Value {
    let catalog = &data.catalog;
    let venue = catalog.venue(e.venue);
    let headliner = e.attractions.first().and_then(|i| catalog.artist(*i));
    let utc = catalog.event_utc(e);
    let fmt_utc = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();

    let mut start = Map::new();
    if let Some(d) = e.local_date {
        start.insert("localDate".into(), json!(d.format("%Y-%m-%d").to_string()));
    }
    if let (Some(t), Some(u)) = (e.local_time, utc) {
        start.insert("localTime".into(), json!(t.format("%H:%M:%S").to_string()));
        start.insert("dateTime".into(), json!(fmt_utc(u)));
    }
    start.insert("dateTBD".into(), json!(meta.class == DateClass::Tbd));
    start.insert("dateTBA".into(), json!(meta.class == DateClass::Tba));
    start.insert("timeTBA".into(), json!(e.time_tba || e.date_tba));
    start.insert("noSpecificTime".into(), json!(false));

    let mut dates = Map::new();
    dates.insert("start".into(), Value::Object(start));
    if e.timezone_in_event
        && let Some(v) = venue
    {
        dates.insert("timezone".into(), json!(v.timezone));
    }
    dates.insert("status".into(), json!({"code": e.status.code()}));
    dates.insert("spanMultipleDays".into(), json!(false));
    // Postponed and rescheduled events carry the date they were first planned for.
    if matches!(e.status.code(), "postponed" | "rescheduled")
        && let (Some(d), Some(t), Some(u)) = (e.local_date, e.local_time, utc)
    {
        let back = Duration::days(21);
        dates.insert(
            "initialStartDate".into(),
            json!({
                "localDate": (d - back).format("%Y-%m-%d").to_string(),
                "localTime": t.format("%H:%M:%S").to_string(),
                "dateTime": fmt_utc(u - back)
            }),
        );
    }

    let mut public =
        json!({"startDateTime": e.public_sale_start, "startTBD": false, "startTBA": false});
    if let Some(u) = utc {
        public["endDateTime"] = json!(fmt_utc(u));
    }

    let attractions: Vec<&CatalogArtist> = e
        .attractions
        .iter()
        .filter_map(|i| catalog.artist(*i))
        .collect();
    let mut links = json!({"self": {"href": format!("{API}/events/{}?locale=en-us", e.id)}});
    if !attractions.is_empty() {
        links["attractions"] = Value::Array(
            attractions
                .iter()
                .map(|a| json!({"href": format!("{API}/attractions/{}?locale=en-us", a.ticketmaster_id)}))
                .collect(),
        );
    }
    let mut embedded = Map::new();
    if let Some(v) = venue {
        links["venues"] =
            json!([{"href": format!("{API}/venues/{}?locale=en-us", v.ticketmaster_id)}]);
        embedded.insert("venues".into(), json!([venue_json(v)]));
    }
    // No attractions: no key at all, as the real API does on 15 of 1,200 events.
    if !attractions.is_empty() {
        embedded.insert(
            "attractions".into(),
            Value::Array(
                attractions
                    .iter()
                    .map(|a| attraction_json(data, a))
                    .collect(),
            ),
        );
    }

    let mut out = Map::new();
    out.insert("name".into(), json!(e.name));
    out.insert("type".into(), json!("event"));
    out.insert("id".into(), json!(e.id));
    out.insert("test".into(), json!(false));
    out.insert("url".into(), json!(e.url));
    out.insert("locale".into(), json!("en-us"));
    out.insert("images".into(), images_json(&e.images));
    out.insert("sales".into(), json!({"public": public}));
    out.insert("dates".into(), Value::Object(dates));
    out.insert(
        "classifications".into(),
        classifications(
            headliner.map_or("Undefined", |a| a.tm_genre.as_str()),
            false,
        ),
    );
    // Frequently absent in the real data: only when the catalog has prices.
    if !e.price_ranges.is_empty() {
        out.insert(
            "priceRanges".into(),
            Value::Array(
                e.price_ranges
                    .iter()
                    .map(|p| json!({"type": p.kind, "currency": p.currency, "min": p.min, "max": p.max}))
                    .collect(),
            ),
        );
    }
    out.insert("_links".into(), links);
    out.insert("_embedded".into(), Value::Object(embedded));
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// Venues

fn venue_json(v: &CatalogVenue) -> Value {
    let mut out = Map::new();
    // A venue without a name exists in the real data; an empty catalog name stands for one.
    if !v.name.trim().is_empty() {
        out.insert("name".into(), json!(v.name));
    }
    out.insert("type".into(), json!("venue"));
    out.insert("id".into(), json!(v.ticketmaster_id));
    out.insert("test".into(), json!(false));
    out.insert("url".into(), json!(v.url));
    out.insert("locale".into(), json!("en-us"));
    if let Some(pc) = &v.postal_code {
        out.insert("postalCode".into(), json!(pc));
    }
    out.insert("timezone".into(), json!(v.timezone));
    // As the catalog has it, stray whitespace included.
    out.insert("city".into(), json!({"name": v.city}));
    if let Some(s) = &v.state {
        out.insert("state".into(), json!({"name": s.name, "stateCode": s.code}));
    }
    out.insert(
        "country".into(),
        json!({"name": v.country, "countryCode": v.country_code}),
    );
    let mut address = Map::new();
    if let Some(l1) = &v.address_line1 {
        address.insert("line1".into(), json!(l1));
    }
    if let Some(l2) = &v.address_line2 {
        address.insert("line2".into(), json!(l2));
    }
    if !address.is_empty() {
        out.insert("address".into(), Value::Object(address));
    }
    // Strings, not numbers, whatever the swagger says.
    if let Some(loc) = &v.location {
        out.insert(
            "location".into(),
            json!({"longitude": loc.longitude, "latitude": loc.latitude}),
        );
    }
    out.insert("dmas".into(), json!([{"id": 200 + (v.index % 300)}]));
    out.insert(
        "_links".into(),
        json!({"self": {"href": format!("{API}/venues/{}?locale=en-us", v.ticketmaster_id)}}),
    );
    Value::Object(out)
}

fn venue_by_id(data: &Data, id: &str) -> Option<Value> {
    if let Some(v) = data.fixture_venues.get(id) {
        return Some(v.clone());
    }
    let v = data.catalog.venue(*data.venue_by_tm_id.get(id)?)?;
    Some(venue_json(v))
}

fn search_venues(data: &Data, req: &Req) -> Reply {
    let p = match paging(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let keyword = req.param("keyword").map(|k| k.trim().to_lowercase());
    let matches = |name: &str| {
        keyword
            .as_ref()
            .is_none_or(|k| name.to_lowercase().contains(k.as_str()))
    };
    let mut all: Vec<Value> = data
        .catalog
        .venues()
        .iter()
        .filter(|v| matches(&v.name))
        .map(venue_json)
        .collect();
    let mut fixture: Vec<(&String, &Value)> = data
        .fixture_venues
        .iter()
        .filter(|(_, v)| matches(v.get("name").and_then(Value::as_str).unwrap_or("")))
        .collect();
    fixture.sort_by(|a, b| a.0.cmp(b.0));
    all.extend(fixture.into_iter().map(|(_, v)| v.clone()));
    let total = all.len();
    let items = all
        .into_iter()
        .skip((p.page * p.size) as usize)
        .take(p.size as usize)
        .collect();
    search_page("venues.json", "venues", req, &p, total, items)
}

// ---------------------------------------------------------------------------------------------
// Attractions

fn attraction_json(data: &Data, a: &CatalogArtist) -> Value {
    let mut links = Map::new();
    if a.tm_links_spotify
        && let Some(url) = a.spotify_url()
    {
        links.insert("spotify".into(), json!([{ "url": url }]));
    }
    // MusicBrainz items carry only the id (apis.md 1.7).
    if a.tm_links_musicbrainz
        && let Some(mbid) = &a.musicbrainz_id
    {
        links.insert("musicbrainz".into(), json!([{ "id": mbid }]));
    }
    if !links.is_empty() && fnv64(&a.ticketmaster_id).is_multiple_of(3) {
        links.insert(
            "homepage".into(),
            json!([{"url": format!("https://www.{}.example.com/", slug(&a.name))}]),
        );
    }
    let total = data.event_count(&a.ticketmaster_id);
    let mut out = Map::new();
    out.insert("name".into(), json!(a.name));
    out.insert("type".into(), json!("attraction"));
    out.insert("id".into(), json!(a.ticketmaster_id));
    out.insert("test".into(), json!(false));
    out.insert(
        "url".into(),
        json!(format!(
            "https://www.ticketmaster.com/{}-tickets/artist/{}",
            slug(&a.name),
            700_000 + fnv64(&a.ticketmaster_id) % 2_000_000
        )),
    );
    out.insert("locale".into(), json!("en-us"));
    if !links.is_empty() {
        out.insert("externalLinks".into(), Value::Object(links));
    }
    out.insert("images".into(), images_json(&a.images));
    out.insert("classifications".into(), classifications(&a.tm_genre, true));
    out.insert(
        "upcomingEvents".into(),
        json!({"_total": total, "ticketmaster": total, "_filtered": 0}),
    );
    out.insert(
        "_links".into(),
        json!({"self": {"href": format!("{API}/attractions/{}?locale=en-us", a.ticketmaster_id)}}),
    );
    Value::Object(out)
}

fn attraction_by_id(data: &Data, id: &str) -> Option<Value> {
    // Fixture ids first: they are chosen to look like catalog ids.
    if let Some(v) = data
        .fixtures
        .tm_attractions
        .iter()
        .find(|a| a.get("id").and_then(Value::as_str) == Some(id))
    {
        return Some(v.clone());
    }
    let a = data.catalog.artist_by_ticketmaster_id(id)?;
    Some(attraction_json(data, a))
}

#[derive(Clone, Copy)]
enum AttractionRef {
    Catalog(usize),
    Fixture(usize),
}

fn search_attractions(data: &Data, req: &Req) -> Reply {
    let p = match paging(req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let keyword = req.param("keyword").map(|k| k.trim().to_lowercase());
    let ids = csv(req.param("id"));
    let sort = req.param("sort").unwrap_or("relevance,desc").trim();
    let mut hits: Vec<(AttractionRef, String, String)> = Vec::new();
    let mut consider = |r: AttractionRef, id: &str, name: &str| {
        let lower = name.to_lowercase();
        if ids.as_ref().is_none_or(|s| s.contains(id))
            && keyword.as_ref().is_none_or(|k| lower.contains(k.as_str()))
        {
            hits.push((r, id.to_string(), lower));
        }
    };
    for a in data.catalog.artists() {
        consider(AttractionRef::Catalog(a.index), &a.ticketmaster_id, &a.name);
    }
    for (i, a) in data.fixtures.tm_attractions.iter().enumerate() {
        let id = a.get("id").and_then(Value::as_str).unwrap_or("");
        let name = a.get("name").and_then(Value::as_str).unwrap_or("");
        consider(AttractionRef::Fixture(i), id, name);
    }
    match sort {
        // Exact names first, then names starting with the keyword, then the rest.
        "relevance,desc" | "relevance,asc" => {
            if let Some(k) = &keyword {
                hits.sort_by_key(|(_, _, name)| {
                    if name == k {
                        0
                    } else if name.starts_with(k.as_str()) {
                        1
                    } else {
                        2
                    }
                });
            }
        }
        "name,asc" => hits.sort_by(|a, b| (&a.2, &a.1).cmp(&(&b.2, &b.1))),
        "name,desc" => hits.sort_by(|a, b| (&b.2, &b.1).cmp(&(&a.2, &a.1))),
        other => return invalid_param("sort", other),
    }
    let total = hits.len();
    let refs: Vec<AttractionRef> = hits.into_iter().map(|(r, _, _)| r).collect();
    let items = page_slice(&refs, &p)
        .into_iter()
        .filter_map(|r| match r {
            AttractionRef::Catalog(i) => data.catalog.artist(i).map(|a| attraction_json(data, a)),
            AttractionRef::Fixture(i) => data.fixtures.tm_attractions.get(i).cloned(),
        })
        .collect();
    search_page("attractions.json", "attractions", req, &p, total, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undated_classes_follow_the_observed_rules() {
        use DateClass::*;
        use Include::*;
        assert!(wanted(Dated, No, No) && !wanted(Tba, No, No) && !wanted(Tbd, No, No));
        assert!(wanted(Dated, Yes, No) && wanted(Tba, Yes, No) && !wanted(Tbd, Yes, No));
        assert!(!wanted(Dated, Only, No) && wanted(Tba, Only, No) && !wanted(Tbd, Only, No));
        assert!(!wanted(Dated, No, Only) && !wanted(Tba, No, Only) && wanted(Tbd, No, Only));
        for class in [Dated, Tba, Tbd] {
            assert!(!wanted(class, Only, Only), "both only returns nothing");
        }
    }

    #[test]
    fn datetimes_must_be_exact() {
        assert!(strict_datetime("s", "2026-10-06T15:06:52Z").is_ok());
        for bad in [
            "2026-10-06T15:06:52.000Z",
            "2026-10-06T15:06:52",
            "2026-10-06",
            "2026-10-06T15:06:52+00:00",
            "2026-13-06T15:06:52Z",
            "2026-1-06T15:06:52Z",
        ] {
            assert!(strict_datetime("s", bad).is_err(), "{bad}");
        }
    }
}
