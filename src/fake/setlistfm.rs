//! setlist.fm 1.0 (apis.md §3): behind AWS API Gateway, which checks `x-api-key` (403
//! `{"message":"Forbidden"}`) and throttles (429 with `x-amzn-errortype` and no `Retry-After`);
//! behind it the API answers XML unless asked for JSON, 404 for an empty result (never an empty
//! 200), 30 artists or 20 setlists per page, newest setlist first, songs nested in
//! `"sets": {"set": [...]}`.

use std::time::Instant;

use axum::http::{Method, StatusCode};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::data::Data;
use super::endpoints as ep;
use super::server::{Reply, Req, Shared, lock};
use super::util::{fnv64, slug};
use super::xml;
use crate::catalog::{
    CatalogArtist, CatalogSetlist, CatalogSetlistSong, CatalogVenue, SetlistArtistRef,
};

const ARTISTS_PER_PAGE: usize = 30;
const SETLISTS_PER_PAGE: usize = 20;
const JSON_TYPE: &str = "application/json;charset=UTF-8";
const XML_TYPE: &str = "application/xml;charset=UTF-8";

enum Route {
    SearchArtists,
    Artist(String),
    ArtistSetlists(String),
    SearchSetlists,
    Setlist(String),
    Unknown,
}

fn route(req: &Req) -> Route {
    let segments = req.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["search", "artists"] => Route::SearchArtists,
        ["search", "setlists"] => Route::SearchSetlists,
        ["artist", mbid] => Route::Artist(mbid.to_string()),
        ["artist", mbid, "setlists"] => Route::ArtistSetlists(mbid.to_string()),
        ["setlist", id] => Route::Setlist(id.to_string()),
        _ => Route::Unknown,
    }
}

pub(crate) fn endpoint(req: &Req) -> (&'static str, Option<String>) {
    match route(req) {
        Route::SearchArtists => (
            ep::SETLISTFM_SEARCH_ARTISTS,
            req.param("artistName")
                .or_else(|| req.param("artistMbid"))
                .map(str::to_string),
        ),
        Route::Artist(m) => (ep::SETLISTFM_ARTIST, Some(m)),
        Route::ArtistSetlists(m) => (ep::SETLISTFM_ARTIST_SETLISTS, Some(m)),
        Route::SearchSetlists => (
            ep::SETLISTFM_SEARCH_SETLISTS,
            req.param("artistMbid")
                .or_else(|| req.param("artistName"))
                .map(str::to_string),
        ),
        Route::Setlist(id) => (ep::SETLISTFM_SETLIST, Some(id)),
        Route::Unknown => (ep::UNKNOWN, None),
    }
}

/// API Gateway's own answers are always JSON, whatever `Accept` says.
fn gateway(status: StatusCode, message: &str, error_type: &str) -> Reply {
    Reply::json_typed(status, &json!({ "message": message }), "application/json")
        .with_header("x-amzn-errortype", error_type)
}

/// The throttle's 429, also used for injected ones: no `Retry-After`, as observed.
pub(crate) fn throttled() -> Reply {
    gateway(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests",
        "TooManyRequestsException",
    )
}

/// How an answer is written: XML unless the client asked for JSON.
#[derive(Clone, Copy)]
struct Format {
    json: bool,
}

impl Format {
    fn of(req: &Req) -> Format {
        Format {
            json: req
                .header("accept")
                .is_some_and(|a| a.to_ascii_lowercase().contains("application/json")),
        }
    }

    fn ok(self, root: &str, value: &Value) -> Reply {
        if self.json {
            Reply::json_typed(StatusCode::OK, value, JSON_TYPE)
        } else {
            Reply::text(StatusCode::OK, XML_TYPE, xml::document(root, value))
        }
    }

    fn error(self, status: StatusCode, message: &str) -> Reply {
        let timestamp = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
        let reason = status.canonical_reason().unwrap_or("Error");
        if self.json {
            Reply::json_typed(
                status,
                &json!({"code": status.as_u16(), "status": reason, "message": message, "timestamp": timestamp}),
                JSON_TYPE,
            )
        } else {
            Reply::text(
                status,
                XML_TYPE,
                xml::error_document(status.as_u16(), reason, message, &timestamp),
            )
        }
    }

    fn not_found(self) -> Reply {
        self.error(StatusCode::NOT_FOUND, "not found")
    }
}

pub(crate) fn handle(shared: &Shared, req: &Req) -> Reply {
    let key = shared.config.keys.setlistfm_api_key.as_str();
    if req.header("x-api-key") != Some(key) {
        return gateway(StatusCode::FORBIDDEN, "Forbidden", "ForbiddenException");
    }
    {
        let mut g = lock(&shared.setlistfm);
        let now = Instant::now();
        if let Some(throttle) = g.throttle.as_mut()
            && !throttle.admit(now)
        {
            return throttled();
        }
        if g.quota.try_use(now).is_err() {
            // A usage plan's quota: API Gateway's wording for it.
            return gateway(
                StatusCode::TOO_MANY_REQUESTS,
                "Limit Exceeded",
                "LimitExceededException",
            );
        }
    }
    let format = Format::of(req);
    if req.method != Method::GET {
        return format.error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let page = match req.param("p").map(str::trim) {
        None => 1,
        Some(p) => match p.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return format.error(StatusCode::BAD_REQUEST, &format!("invalid page: {p}")),
        },
    };
    let api = Api {
        data: &shared.data,
        format,
        page,
    };
    match route(req) {
        Route::SearchArtists => api.search_artists(req),
        Route::Artist(mbid) => match api.artist(&mbid) {
            Some(a) => format.ok("artist", &a),
            None => format.error(StatusCode::NOT_FOUND, "unknown mbid"),
        },
        Route::ArtistSetlists(mbid) => api.artist_setlists(&mbid),
        Route::SearchSetlists => api.search_setlists(req),
        Route::Setlist(id) => api.setlist(&id),
        Route::Unknown => format.not_found(),
    }
}

struct Api<'a> {
    data: &'a Data,
    format: Format,
    page: usize,
}

impl Api<'_> {
    fn page_of(&self, kind: &str, key: &str, per_page: usize, items: Vec<Value>) -> Reply {
        let total = items.len();
        let start = (self.page - 1).saturating_mul(per_page);
        // No results, or a page past the end: 404, never an empty 200.
        if start >= total {
            return self.format.not_found();
        }
        let page: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();
        let value = json!({
            "type": kind,
            "itemsPerPage": per_page,
            "page": self.page,
            "total": total,
            key: page
        });
        self.format.ok(kind, &value)
    }

    fn artist(&self, mbid: &str) -> Option<Value> {
        if let Some(v) = self
            .data
            .fixtures
            .setlistfm_artists
            .iter()
            .find(|a| a.get("mbid").and_then(Value::as_str) == Some(mbid))
        {
            return Some(v.clone());
        }
        let i = *self.data.artist_by_mbid.get(mbid)?;
        self.data.catalog.artist(i).map(artist_json)
    }

    /// Every artist setlist.fm knows (those with an MBID) plus the fixtures: (sort name, value).
    fn all_artists(&self) -> Vec<(String, String, Value)> {
        let mut out: Vec<(String, String, Value)> = self
            .data
            .catalog
            .artists()
            .iter()
            .filter(|a| a.musicbrainz_id.is_some())
            .map(|a| {
                (
                    a.name.to_lowercase(),
                    sort_name(&a.name).to_lowercase(),
                    artist_json(a),
                )
            })
            .collect();
        for v in &self.data.fixtures.setlistfm_artists {
            let name = v.get("name").and_then(Value::as_str).unwrap_or("");
            let sort = v.get("sortName").and_then(Value::as_str).unwrap_or(name);
            out.push((name.to_lowercase(), sort.to_lowercase(), v.clone()));
        }
        out
    }

    fn search_artists(&self, req: &Req) -> Reply {
        let name = req.param("artistName").map(|n| n.trim().to_lowercase());
        let mbid = req.param("artistMbid").map(str::trim);
        if name.is_none() && mbid.is_none() {
            return self.format.error(
                StatusCode::BAD_REQUEST,
                "at least one search parameter is required",
            );
        }
        let mut hits: Vec<(String, String, Value)> = self
            .all_artists()
            .into_iter()
            .filter(|(n, _, v)| {
                name.as_ref().is_none_or(|q| n.contains(q.as_str()))
                    && mbid.is_none_or(|m| v.get("mbid").and_then(Value::as_str) == Some(m))
            })
            .collect();
        // The default order is by sort name, not relevance (apis.md 3.2).
        hits.sort_by(|a, b| a.1.cmp(&b.1));
        if req.param("sort") == Some("relevance")
            && let Some(q) = &name
        {
            hits.sort_by_key(|(n, _, _)| n != q);
        }
        let items = hits.into_iter().map(|(_, _, v)| v).collect();
        self.page_of("artists", "artist", ARTISTS_PER_PAGE, items)
    }

    /// An artist's setlists, newest first; `None` when setlist.fm does not know the MBID.
    fn setlists_of(&self, mbid: &str) -> Option<Vec<Value>> {
        if let Some(list) = self.data.fixtures.setlistfm_setlists.get(mbid) {
            return Some(list.clone());
        }
        if self
            .data
            .fixtures
            .setlistfm_artists
            .iter()
            .any(|a| a.get("mbid").and_then(Value::as_str) == Some(mbid))
        {
            return Some(Vec::new());
        }
        let i = *self.data.artist_by_mbid.get(mbid)?;
        Some(
            self.data
                .catalog
                .setlists(i)
                .iter()
                .map(|s| setlist_json(self.data, s))
                .collect(),
        )
    }

    fn artist_setlists(&self, mbid: &str) -> Reply {
        match self.setlists_of(mbid) {
            Some(items) => self.page_of("setlists", "setlist", SETLISTS_PER_PAGE, items),
            None => self.format.error(StatusCode::NOT_FOUND, "unknown mbid"),
        }
    }

    fn search_setlists(&self, req: &Req) -> Reply {
        let mut items: Vec<Value> = match (req.param("artistMbid"), req.param("artistName")) {
            (Some(mbid), _) => self.setlists_of(mbid.trim()).unwrap_or_default(),
            (None, Some(name)) => {
                let q = name.trim().to_lowercase();
                self.all_artists()
                    .into_iter()
                    .filter(|(n, _, _)| *n == q)
                    .filter_map(|(_, _, v)| {
                        v.get("mbid").and_then(Value::as_str).map(str::to_string)
                    })
                    .flat_map(|m| self.setlists_of(&m).unwrap_or_default())
                    .collect()
            }
            (None, None) => {
                return self.format.error(
                    StatusCode::BAD_REQUEST,
                    "at least one search parameter is required",
                );
            }
        };
        if let Some(date) = req.param("date") {
            items.retain(|s| s.get("eventDate").and_then(Value::as_str) == Some(date.trim()));
        }
        if let Some(year) = req.param("year") {
            let year = year.trim();
            items.retain(|s| {
                s.get("eventDate")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.ends_with(year))
            });
        }
        self.page_of("setlists", "setlist", SETLISTS_PER_PAGE, items)
    }

    fn setlist(&self, id: &str) -> Reply {
        let fixture = self
            .data
            .fixtures
            .setlistfm_setlists
            .values()
            .flatten()
            .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
            .cloned();
        match fixture.or_else(|| self.data.setlist(id).map(|s| setlist_json(self.data, &s))) {
            Some(v) => self.format.ok("setlist", &v),
            None => self.format.not_found(),
        }
    }
}

/// "The Black Keys" sorts as "Black Keys, The".
fn sort_name(name: &str) -> String {
    match name.strip_prefix("The ") {
        Some(rest) if !rest.is_empty() => format!("{rest}, The"),
        _ => name.to_string(),
    }
}

fn artist_url(name: &str, mbid: &str) -> String {
    format!(
        "https://www.setlist.fm/setlists/{}-{:08x}.html",
        slug(name),
        fnv64(mbid) as u32
    )
}

fn artist_json(a: &CatalogArtist) -> Value {
    let mbid = a.musicbrainz_id.clone().unwrap_or_default();
    json!({
        "mbid": mbid,
        "name": a.name,
        "sortName": sort_name(&a.name),
        "disambiguation": "",
        "url": artist_url(&a.name, &mbid)
    })
}

fn ref_json(r: &SetlistArtistRef) -> Value {
    json!({
        "mbid": r.mbid,
        "name": r.name,
        "sortName": sort_name(&r.name),
        "disambiguation": "",
        "url": artist_url(&r.name, &r.mbid)
    })
}

fn venue_json(v: &CatalogVenue) -> Value {
    // setlist.fm trims what Ticketmaster leaves in, and its coordinates are numbers.
    let city_name = v.city.trim();
    let mut city = Map::new();
    city.insert(
        "id".into(),
        json!((1_000_000 + fnv64(city_name) % 9_000_000).to_string()),
    );
    city.insert("name".into(), json!(city_name));
    if let Some(s) = &v.state {
        city.insert("state".into(), json!(s.name));
        city.insert("stateCode".into(), json!(s.code));
    }
    if let Some(loc) = &v.location
        && let (Ok(lat), Ok(long)) = (loc.latitude.parse::<f64>(), loc.longitude.parse::<f64>())
    {
        city.insert("coords".into(), json!({"lat": lat, "long": long}));
    }
    city.insert(
        "country".into(),
        json!({"code": v.country_code, "name": v.country}),
    );
    json!({
        "id": v.setlistfm_id,
        "name": v.name,
        "city": city,
        "url": format!(
            "https://www.setlist.fm/venue/{}-{}-{}-{}.html",
            slug(&v.name),
            slug(city_name),
            v.country_code.to_lowercase(),
            v.setlistfm_id
        )
    })
}

fn song_json(s: &CatalogSetlistSong) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(s.name));
    if let Some(w) = &s.with {
        m.insert("with".into(), ref_json(w));
    }
    if let Some(c) = &s.cover {
        m.insert("cover".into(), ref_json(c));
    }
    if let Some(info) = &s.info {
        m.insert("info".into(), json!(info));
    }
    if s.tape {
        m.insert("tape".into(), json!(true));
    }
    Value::Object(m)
}

fn setlist_json(data: &Data, s: &CatalogSetlist) -> Value {
    let catalog = &data.catalog;
    let mut m = Map::new();
    m.insert("id".into(), json!(s.id));
    m.insert("versionId".into(), json!(s.version_id));
    m.insert("eventDate".into(), json!(s.event_date_text));
    m.insert("lastUpdated".into(), json!(s.last_updated));
    if let Some(a) = catalog.artist(s.artist) {
        m.insert("artist".into(), artist_json(a));
    }
    if let Some(v) = catalog.venue(s.venue) {
        m.insert("venue".into(), venue_json(v));
    }
    if let Some(t) = &s.tour {
        m.insert("tour".into(), json!({ "name": t }));
    }
    let sets: Vec<Value> = s
        .sets
        .iter()
        .map(|set| {
            let mut o = Map::new();
            if let Some(n) = &set.name {
                o.insert("name".into(), json!(n));
            }
            if let Some(e) = set.encore {
                o.insert("encore".into(), json!(e));
            }
            o.insert(
                "song".into(),
                Value::Array(set.songs.iter().map(song_json).collect()),
            );
            Value::Object(o)
        })
        .collect();
    m.insert("sets".into(), json!({ "set": sets }));
    if let Some(info) = &s.info {
        m.insert("info".into(), json!(info));
    }
    m.insert("url".into(), json!(s.url));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_names_move_the_article() {
        assert_eq!(sort_name("The Black Keys"), "Black Keys, The");
        assert_eq!(sort_name("Phish"), "Phish");
    }
}
