//! Spotify (apis.md §2): the accounts host's client-credentials token endpoint (OAuth-style
//! errors, 400 for refused credentials), and the Web API behind a Bearer check, a per-app
//! rolling-window rate limit (429 + `Retry-After`), and the 2026 development-mode rules unless
//! the `extended` profile is chosen: top tracks and batch gets answer 403, `followers`,
//! `popularity` and friends are stripped, search and artist-album `limit` is capped at 10.
//! Paging objects carry absolute `next` URLs on `https://api.spotify.com`, as the real API does,
//! so a client that follows them leaves the fake (and finds out).

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Map, Value, json};

use super::Profile;
use super::data::Data;
use super::endpoints as ep;
use super::server::{Reply, Req, Shared, lock};
use super::util::{base64_decode, fnv64};
use crate::catalog::{CatalogAlbum, CatalogArtist, CatalogTrack};

const PUBLIC_API: &str = "https://api.spotify.com/v1";

/// `{"error":{"status":N,"message":"…"}}`, the Web API's envelope.
fn api_error(status: StatusCode, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"status": status.as_u16(), "message": message}}),
    )
}

/// The OAuth envelope of the accounts host: `error` is a string there.
fn oauth_error(error: &str, description: &str) -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        &json!({"error": error, "error_description": description}),
    )
}

/// The short-term limit's 429, also used for injected ones.
pub(crate) fn rate_limited(retry_after_secs: u64) -> Reply {
    api_error(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded")
        .with_header("retry-after", retry_after_secs.max(1).to_string())
}

fn unauthorized(message: &str) -> Reply {
    api_error(StatusCode::UNAUTHORIZED, message).with_header(
        "www-authenticate",
        format!(
            "Bearer realm=\"spotify\", error=\"invalid_token\", error_description=\"{message}\""
        ),
    )
}

fn forbidden() -> Reply {
    api_error(StatusCode::FORBIDDEN, "Forbidden")
}

fn invalid_id() -> Reply {
    api_error(StatusCode::BAD_REQUEST, "invalid id")
}

fn non_existing() -> Reply {
    api_error(StatusCode::NOT_FOUND, "non existing id")
}

fn invalid_limit() -> Reply {
    api_error(StatusCode::BAD_REQUEST, "Invalid limit")
}

pub(crate) fn accounts_endpoint(req: &Req) -> (&'static str, Option<String>) {
    let segments = req.segments();
    if segments == ["api", "token"] {
        (ep::SPOTIFY_TOKEN, None)
    } else {
        (ep::UNKNOWN, None)
    }
}

enum Route {
    Artist(String),
    Artists,
    ArtistAlbums(String),
    TopTracks(String),
    Album(String),
    AlbumTracks(String),
    Search,
    Unknown,
}

fn route(req: &Req) -> Route {
    let segments = req.segments();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["v1", "artists"] => Route::Artists,
        ["v1", "artists", id] => Route::Artist(id.to_string()),
        ["v1", "artists", id, "albums"] => Route::ArtistAlbums(id.to_string()),
        ["v1", "artists", id, "top-tracks"] => Route::TopTracks(id.to_string()),
        ["v1", "albums", id] => Route::Album(id.to_string()),
        ["v1", "albums", id, "tracks"] => Route::AlbumTracks(id.to_string()),
        ["v1", "search"] => Route::Search,
        _ => Route::Unknown,
    }
}

pub(crate) fn api_endpoint(req: &Req) -> (&'static str, Option<String>) {
    match route(req) {
        Route::Artist(id) => (ep::SPOTIFY_ARTIST, Some(id)),
        Route::Artists => (ep::SPOTIFY_ARTISTS, req.param("ids").map(str::to_string)),
        Route::ArtistAlbums(id) => (ep::SPOTIFY_ARTIST_ALBUMS, Some(id)),
        Route::TopTracks(id) => (ep::SPOTIFY_TOP_TRACKS, Some(id)),
        Route::Album(id) => (ep::SPOTIFY_ALBUM, Some(id)),
        Route::AlbumTracks(id) => (ep::SPOTIFY_ALBUM_TRACKS, Some(id)),
        Route::Search => (ep::SPOTIFY_SEARCH, req.param("q").map(str::to_string)),
        Route::Unknown => (ep::UNKNOWN, None),
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts: POST /api/token

/// `Authorization: Basic base64(id:secret)`.
fn basic_credentials(req: &Req) -> Option<(String, String)> {
    let value = req.header("authorization")?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded)?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

pub(crate) fn handle_accounts(shared: &Shared, req: &Req) -> Reply {
    if req.segments() != ["api", "token"] {
        return Reply::text(
            StatusCode::NOT_FOUND,
            "text/html",
            "<html><body><h1>404 Not Found</h1></body></html>".into(),
        );
    }
    if req.method != Method::POST {
        return Reply::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "method_not_allowed", "error_description": "Only POST is allowed"}),
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        None | Some("") => {
            return oauth_error("unsupported_grant_type", "grant_type parameter is missing");
        }
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                "unsupported_grant_type",
                "grant_type must be client_credentials, authorization_code or refresh_token",
            );
        }
    }
    // OAuth also allows the credentials in the form body.
    let credentials = basic_credentials(req).or_else(|| {
        Some((
            field("client_id")?.to_string(),
            field("client_secret")?.to_string(),
        ))
    });
    let keys = &shared.config.keys;
    match credentials {
        Some((id, _)) if id != keys.spotify_client_id => {
            return oauth_error("invalid_client", "Invalid client");
        }
        Some((_, secret)) if secret != keys.spotify_client_secret => {
            return oauth_error("invalid_client", "Invalid client secret");
        }
        None => return oauth_error("invalid_client", "Invalid client"),
        Some(_) => {}
    }
    let token: String = {
        let mut rng = rand::rng();
        let tail: String = (0..96)
            .map(|_| char::from(rng.sample(Alphanumeric)))
            .collect();
        format!("BQ{tail}")
    };
    let ttl = shared.config.token_ttl;
    {
        let mut tokens = lock(&shared.tokens);
        let now = Instant::now();
        // Forget long-dead tokens so a long run does not grow the map without bound; an
        // expired one is still recognised for a while, so it answers "expired", not "invalid".
        tokens.retain(|_, issued| {
            now.saturating_duration_since(*issued)
                < ttl
                    .saturating_mul(4)
                    .saturating_add(Duration::from_secs(60))
        });
        tokens.insert(token.clone(), now);
    }
    Reply::json(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl.as_secs()}),
    )
}

// ---------------------------------------------------------------------------------------------
// Web API

fn authorize(shared: &Shared, req: &Req) -> Result<(), Reply> {
    let Some(value) = req.header("authorization").map(str::trim) else {
        return Err(unauthorized("No token provided"));
    };
    let token = match value.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
        _ => return Err(unauthorized("Invalid access token")),
    };
    let issued = lock(&shared.tokens).get(token).copied();
    match issued {
        None => Err(unauthorized("Invalid access token")),
        Some(at) if at.elapsed() >= shared.config.token_ttl => {
            Err(unauthorized("The access token expired"))
        }
        Some(_) => Ok(()),
    }
}

fn throttle(shared: &Shared) -> Result<(), Reply> {
    let mut limits = lock(&shared.spotify);
    let now = Instant::now();
    if let Some(window) = limits.window.as_mut()
        && let Err(wait) = window.try_hit(now)
    {
        return Err(rate_limited(wait.as_secs_f64().ceil() as u64));
    }
    if let Some(quota) = limits.quota.as_mut()
        && let Err(state) = quota.try_use(now)
    {
        // The July 2026 per-developer quota: `reason` tells it from a short-term limit.
        return Err(Reply::json(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}),
        )
        .with_header("retry-after", state.reset_in.as_secs().max(1).to_string()));
    }
    Ok(())
}

pub(crate) fn handle_api(shared: &Shared, req: &Req) -> Reply {
    let route = route(req);
    if let Route::Unknown = route {
        return api_error(StatusCode::NOT_FOUND, "Service not found");
    }
    if let Err(r) = authorize(shared, req) {
        return r;
    }
    if let Err(r) = throttle(shared) {
        return r;
    }
    if req.method != Method::GET {
        return api_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    }
    let api = Api {
        data: &shared.data,
        profile: shared.config.profile,
        req,
    };
    match route {
        Route::Artist(id) => api.artist(&id),
        Route::Artists => api.artists(),
        Route::ArtistAlbums(id) => api.artist_albums(&id),
        Route::TopTracks(id) => api.top_tracks(&id),
        Route::Album(id) => api.album(&id),
        Route::AlbumTracks(id) => api.album_tracks(&id),
        Route::Search => api.search(),
        Route::Unknown => api_error(StatusCode::NOT_FOUND, "Service not found"),
    }
}

/// Base-62, 22 characters.
fn valid_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

enum ArtistRef<'a> {
    Catalog(&'a CatalogArtist),
    Fixture(&'a Value),
}

struct Api<'a> {
    data: &'a Data,
    profile: Profile,
    req: &'a Req,
}

impl<'a> Api<'a> {
    fn extended(&self) -> bool {
        self.profile == Profile::Extended
    }

    fn market_given(&self) -> bool {
        self.req
            .param("market")
            .is_some_and(|m| !m.trim().is_empty())
    }

    fn find_artist(&self, id: &str) -> Option<ArtistRef<'a>> {
        if let Some(v) = self
            .data
            .fixtures
            .spotify_artists
            .iter()
            .find(|a| a.get("id").and_then(Value::as_str) == Some(id))
        {
            return Some(ArtistRef::Fixture(v));
        }
        let i = *self.data.artist_by_spotify_id.get(id)?;
        self.data.catalog.artist(i).map(ArtistRef::Catalog)
    }

    /// `limit` with the profile's cap (dev-mode: 10, as search and artist albums are in 2026).
    fn limit(&self, default: u64, cap: u64) -> Result<u64, Reply> {
        match self.req.param("limit") {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=cap).contains(&n) => Ok(n),
                _ => Err(invalid_limit()),
            },
        }
    }

    fn offset(&self, max: u64) -> Result<u64, Reply> {
        match self.req.param("offset") {
            None => Ok(0),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n <= max => Ok(n),
                _ => Err(api_error(StatusCode::BAD_REQUEST, "Invalid offset")),
            },
        }
    }

    fn capped_limit(&self) -> Result<u64, Reply> {
        if self.extended() {
            self.limit(20, 50)
        } else {
            self.limit(5, 10)
        }
    }

    // --- payloads -----------------------------------------------------------------------------

    fn simple_artist(a: &CatalogArtist) -> Value {
        let id = a.spotify_id.clone().unwrap_or_default();
        json!({
            "external_urls": {"spotify": format!("https://open.spotify.com/artist/{id}")},
            "href": format!("{PUBLIC_API}/artists/{id}"),
            "id": id,
            "name": a.name,
            "type": "artist",
            "uri": format!("spotify:artist:{id}")
        })
    }

    fn artist_json(&self, a: &CatalogArtist) -> Value {
        let mut v = Self::simple_artist(a);
        let id = a.spotify_id.clone().unwrap_or_default();
        // Widest first, as Spotify lists them; a few artists have none at all.
        let images: Vec<Value> = if fnv64(&id).is_multiple_of(12) {
            Vec::new()
        } else {
            [640u32, 320, 160]
                .iter()
                .map(|w| {
                    json!({
                        "height": w,
                        "url": format!("https://i.scdn.co/image/ab67616100{:016x}{w}", fnv64(&id)),
                        "width": w
                    })
                })
                .collect()
        };
        v["genres"] = json!(a.genres);
        v["images"] = Value::Array(images);
        if self.extended() {
            v["followers"] = json!({"href": null, "total": a.followers});
            v["popularity"] = json!(a.popularity);
        }
        v
    }

    fn artist_value(&self, a: &ArtistRef<'_>) -> Value {
        match a {
            ArtistRef::Catalog(a) => self.artist_json(a),
            ArtistRef::Fixture(v) => self.strip(v),
        }
    }

    /// Dev mode removes these fields whatever the source.
    fn strip(&self, v: &Value) -> Value {
        let mut v = v.clone();
        if !self.extended()
            && let Some(m) = v.as_object_mut()
        {
            for key in [
                "followers",
                "popularity",
                "available_markets",
                "album_group",
                "label",
            ] {
                m.remove(key);
            }
        }
        v
    }

    fn album_json(&self, artist: &CatalogArtist, album: &CatalogAlbum) -> Value {
        let mut v = json!({
            "album_type": album.album_type,
            "artists": [Self::simple_artist(artist)],
            "external_urls": {"spotify": format!("https://open.spotify.com/album/{}", album.id)},
            "href": format!("{PUBLIC_API}/albums/{}", album.id),
            "id": album.id,
            "images": album.images.iter().map(|i| json!({"height": i.height, "url": i.url, "width": i.width})).collect::<Vec<_>>(),
            "name": album.name,
            "release_date": album.release_date,
            "release_date_precision": album.release_date_precision,
            "total_tracks": album.total_tracks,
            "type": "album",
            "uri": format!("spotify:album:{}", album.id)
        });
        if self.extended() {
            v["album_group"] = json!(album.album_type);
            if !self.market_given() {
                v["available_markets"] = json!(["CA", "DE", "GB", "US"]);
            }
        }
        v
    }

    fn track_json(&self, artist: &CatalogArtist, t: &CatalogTrack) -> Value {
        let mut v = json!({
            "artists": [Self::simple_artist(artist)],
            "disc_number": t.disc_number,
            "duration_ms": t.duration_ms,
            "explicit": t.explicit,
            "external_urls": {"spotify": format!("https://open.spotify.com/track/{}", t.id)},
            "href": format!("{PUBLIC_API}/tracks/{}", t.id),
            "id": t.id,
            "is_local": false,
            "name": t.name,
            "preview_url": t.preview_url,
            "track_number": t.track_number,
            "type": "track",
            "uri": format!("spotify:track:{}", t.id)
        });
        if self.market_given() {
            v["is_playable"] = json!(true);
        } else if self.extended() {
            v["available_markets"] = json!(["CA", "DE", "GB", "US"]);
        }
        v
    }

    /// A paging object whose `href`/`next`/`previous` are absolute production URLs.
    fn paging(
        &self,
        path: &str,
        items: Vec<Value>,
        total: usize,
        offset: u64,
        limit: u64,
    ) -> Value {
        let url = |off: u64| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            q.append_pair("offset", &off.to_string());
            q.append_pair("limit", &limit.to_string());
            for (k, v) in &self.req.query {
                if k != "offset" && k != "limit" {
                    q.append_pair(k, v);
                }
            }
            format!("{PUBLIC_API}{path}?{}", q.finish())
        };
        let total = total as u64;
        let page: Vec<Value> = items
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        json!({
            "href": url(offset),
            "items": page,
            "limit": limit,
            "next": if offset.saturating_add(limit) < total { json!(url(offset + limit)) } else { Value::Null },
            "offset": offset,
            "previous": if offset > 0 { json!(url(offset.saturating_sub(limit))) } else { Value::Null },
            "total": total
        })
    }

    // --- endpoints ----------------------------------------------------------------------------

    fn artist(&self, id: &str) -> Reply {
        if !valid_id(id) {
            return invalid_id();
        }
        match self.find_artist(id) {
            Some(a) => Reply::json(StatusCode::OK, &self.artist_value(&a)),
            None => non_existing(),
        }
    }

    /// Several artists at once: removed for development-mode apps in 2026.
    fn artists(&self) -> Reply {
        if !self.extended() {
            return forbidden();
        }
        let ids: Vec<&str> = self
            .req
            .param("ids")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if ids.is_empty() {
            return api_error(StatusCode::BAD_REQUEST, "invalid id");
        }
        if ids.len() > 50 {
            return api_error(StatusCode::BAD_REQUEST, "Too many ids requested");
        }
        if !ids.iter().all(|id| valid_id(id)) {
            return invalid_id();
        }
        let artists: Vec<Value> = ids
            .iter()
            .map(|id| {
                self.find_artist(id)
                    .map_or(Value::Null, |a| self.artist_value(&a))
            })
            .collect();
        Reply::json(StatusCode::OK, &json!({ "artists": artists }))
    }

    fn artist_albums(&self, id: &str) -> Reply {
        if !valid_id(id) {
            return invalid_id();
        }
        let limit = match self.capped_limit() {
            Ok(l) => l,
            Err(r) => return r,
        };
        let offset = match self.offset(u64::MAX) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let groups: Vec<String> = match self.req.param("include_groups") {
            None => vec![
                "album".into(),
                "single".into(),
                "compilation".into(),
                "appears_on".into(),
            ],
            Some(g) => g
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect(),
        };
        if let Some(bad) = groups.iter().find(|g| {
            !matches!(
                g.as_str(),
                "album" | "single" | "compilation" | "appears_on"
            )
        }) {
            return api_error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid include_groups value: {bad}"),
            );
        }
        let wanted = |kind: &str| groups.iter().any(|g| g == kind);
        let items: Vec<Value> = match self.find_artist(id) {
            None => return non_existing(),
            Some(ArtistRef::Fixture(_)) => self
                .data
                .fixtures
                .spotify_albums
                .get(id)
                .into_iter()
                .flatten()
                .filter(|a| wanted(a.get("album_type").and_then(Value::as_str).unwrap_or("")))
                .map(|a| self.strip(a))
                .collect(),
            Some(ArtistRef::Catalog(a)) => self
                .data
                .albums
                .get(a.index)
                .into_iter()
                .flatten()
                .filter(|al| wanted(&al.album_type))
                .map(|al| self.album_json(a, al))
                .collect(),
        };
        let total = items.len();
        Reply::json(
            StatusCode::OK,
            &self.paging(
                &format!("/artists/{id}/albums"),
                items,
                total,
                offset,
                limit,
            ),
        )
    }

    /// The tracks of an album (fixture or catalog), with the album's artist; `None`: no album.
    fn album_track_values(&self, id: &str) -> Option<Vec<Value>> {
        if let Some(tracks) = self.data.fixtures.spotify_tracks.get(id) {
            return Some(tracks.iter().map(|t| self.strip(t)).collect());
        }
        let album = self.data.album(id)?;
        let artist = self.data.catalog.artist(album.artist)?;
        Some(
            self.data
                .catalog
                .tracks(album)
                .iter()
                .map(|t| self.track_json(artist, t))
                .collect(),
        )
    }

    fn album_tracks(&self, id: &str) -> Reply {
        if !valid_id(id) {
            return invalid_id();
        }
        // Album track lists still allow 50 in development mode.
        let limit = match self.limit(20, 50) {
            Ok(l) => l,
            Err(r) => return r,
        };
        let offset = match self.offset(u64::MAX) {
            Ok(o) => o,
            Err(r) => return r,
        };
        match self.album_track_values(id) {
            Some(items) => {
                let total = items.len();
                Reply::json(
                    StatusCode::OK,
                    &self.paging(&format!("/albums/{id}/tracks"), items, total, offset, limit),
                )
            }
            None => non_existing(),
        }
    }

    fn album(&self, id: &str) -> Reply {
        if !valid_id(id) {
            return invalid_id();
        }
        let fixture = self
            .data
            .fixtures
            .spotify_albums
            .values()
            .flatten()
            .find(|a| a.get("id").and_then(Value::as_str) == Some(id));
        let mut album = match (fixture, self.data.album(id)) {
            (Some(v), _) => self.strip(v),
            (None, Some(al)) => match self.data.catalog.artist(al.artist) {
                Some(artist) => {
                    let mut v = self.album_json(artist, al);
                    v["copyrights"] = json!([{"text": format!("℗ {} {}", &al.release_date[..4.min(al.release_date.len())], artist.name), "type": "P"}]);
                    v["external_ids"] =
                        json!({"upc": format!("{:012}", fnv64(&al.id) % 1_000_000_000_000)});
                    v["genres"] = json!([]);
                    if self.extended() {
                        v["label"] = json!(format!("{} Records", artist.name));
                        v["popularity"] = json!(fnv64(&al.id) % 101);
                    }
                    v
                }
                None => return non_existing(),
            },
            (None, None) => return non_existing(),
        };
        let tracks = self.album_track_values(id).unwrap_or_default();
        let total = tracks.len();
        album["tracks"] = self.paging(&format!("/albums/{id}/tracks"), tracks, total, 0, 50);
        Reply::json(StatusCode::OK, &album)
    }

    /// Removed for development-mode apps in 2026 (403); up to 10 full tracks otherwise.
    fn top_tracks(&self, id: &str) -> Reply {
        if !self.extended() {
            return forbidden();
        }
        if !valid_id(id) {
            return invalid_id();
        }
        if !self.market_given() {
            return api_error(StatusCode::BAD_REQUEST, "Missing market parameter");
        }
        let tracks: Vec<Value> = match self.find_artist(id) {
            None => return non_existing(),
            Some(ArtistRef::Fixture(_)) => self
                .data
                .fixtures
                .spotify_albums
                .get(id)
                .into_iter()
                .flatten()
                .filter_map(|al| {
                    let aid = al.get("id").and_then(Value::as_str)?;
                    let tracks = self.data.fixtures.spotify_tracks.get(aid)?;
                    Some(tracks.iter().map(move |t| {
                        let popularity = fnv64(t["id"].as_str().unwrap_or("")) % 101;
                        let mut t = t.clone();
                        t["album"] = al.clone();
                        t["popularity"] = json!(popularity);
                        t
                    }))
                })
                .flatten()
                .take(10)
                .collect(),
            Some(ArtistRef::Catalog(a)) => {
                let mut seen = std::collections::HashSet::new();
                self.data
                    .catalog
                    .albums_with_tracks(a.index)
                    .iter()
                    .flat_map(|(al, ts)| ts.iter().map(move |t| (al, t)))
                    .filter(|(_, t)| seen.insert(t.id.clone()))
                    .take(10)
                    .map(|(al, t)| {
                        let mut v = self.track_json(a, t);
                        let mut album = self.album_json(a, al);
                        if let Some(m) = album.as_object_mut() {
                            m.remove("album_group");
                        }
                        v["album"] = album;
                        v["external_ids"] = json!({"isrc": isrc(&t.id)});
                        v["popularity"] = json!(fnv64(&t.id) % 101);
                        v
                    })
                    .collect()
            }
        };
        Reply::json(StatusCode::OK, &json!({ "tracks": tracks }))
    }

    fn search(&self) -> Reply {
        let q = self.req.param("q").map(str::trim).unwrap_or("");
        if q.is_empty() {
            return api_error(StatusCode::BAD_REQUEST, "No search query");
        }
        let Some(types) = self.req.param("type") else {
            return api_error(StatusCode::BAD_REQUEST, "Missing parameter type");
        };
        let types: Vec<&str> = types.split(',').map(str::trim).collect();
        const KNOWN: [&str; 7] = [
            "album",
            "artist",
            "playlist",
            "track",
            "show",
            "episode",
            "audiobook",
        ];
        if let Some(bad) = types.iter().find(|t| !KNOWN.contains(t)) {
            return api_error(
                StatusCode::BAD_REQUEST,
                &format!("Bad search type field {bad}"),
            );
        }
        let limit = match self.capped_limit() {
            Ok(l) => l,
            Err(r) => return r,
        };
        let offset = match self.offset(1000) {
            Ok(o) => o,
            Err(r) => return r,
        };
        let needle = normalize_query(q);
        let mut out = Map::new();
        for t in types {
            let items = if t == "artist" {
                self.search_artists(&needle)
            } else {
                Vec::new()
            };
            let total = items.len();
            out.insert(
                format!("{t}s"),
                self.paging("/search", items, total, offset, limit),
            );
        }
        Reply::json(StatusCode::OK, &Value::Object(out))
    }

    /// Exact name matches first, then names containing the query; artists not on Spotify are
    /// never found.
    fn search_artists(&self, needle: &str) -> Vec<Value> {
        let mut exact = Vec::new();
        let mut partial = Vec::new();
        let mut consider = |name: &str, value: Value| {
            let n = name.trim().to_lowercase();
            if n == needle {
                exact.push(value);
            } else if n.contains(needle) {
                partial.push(value);
            }
        };
        for a in self.data.catalog.artists() {
            if a.spotify_id.is_none() {
                continue;
            }
            let lower = a.name.to_lowercase();
            // Only render the artists that match.
            if lower.contains(needle) {
                consider(&a.name, self.artist_json(a));
            }
        }
        for v in &self.data.fixtures.spotify_artists {
            let name = v.get("name").and_then(Value::as_str).unwrap_or("");
            consider(name, self.strip(v));
        }
        exact.extend(partial);
        exact
    }
}

/// `artist:"Sigur Rós"` and `Sigur Rós` search the same name.
fn normalize_query(q: &str) -> String {
    let q = q.trim();
    let q = q
        .strip_prefix("artist:")
        .or_else(|| q.strip_prefix("ARTIST:"))
        .unwrap_or(q);
    q.trim().trim_matches('"').trim().to_lowercase()
}

/// A stable ISRC-shaped code for a track id.
fn isrc(track_id: &str) -> String {
    let h = fnv64(track_id);
    let letters: String = (0..3)
        .map(|i| char::from(b'A' + ((h >> (i * 5)) % 26) as u8))
        .collect();
    format!(
        "US{letters}{:02}{:05}",
        (h >> 20) % 100,
        (h >> 32) % 100_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_base62_characters() {
        assert!(valid_id("0TRAPfixtureArtist0001"));
        assert!(!valid_id("0TRAPfixtureArtist000"));
        assert!(!valid_id("0TRAPfixtureArtist000!"));
    }

    #[test]
    fn field_filters_are_stripped() {
        assert_eq!(normalize_query("artist:\"Sigur Rós\""), "sigur rós");
        assert_eq!(normalize_query("  Sigur Rós "), "sigur rós");
    }

    #[test]
    fn isrc_shape() {
        let code = isrc("abc");
        assert_eq!(code.len(), 12);
        assert!(code.starts_with("US"));
    }
}
