//! Spotify Web API client (client credentials): artist by id, exact-name artist search, an
//! artist's albums and their tracks (the way to an artist's songs now that top tracks answer
//! 403 for development-mode apps), and top tracks where they still work. Paging is built from
//! `offset`/`total` with the 2026 development-mode `limit` caps; the absolute `next` URLs are
//! never followed, so a fake or proxy base URL keeps working (apis.md 2.2, §5 item 10).

pub mod mapping;
pub mod token;
pub mod types;

use std::collections::HashSet;

use chrono::Utc;
use url::Url;

use super::error::{Provider, ProviderError};
use super::http::{
    ErrorResponse, HttpResponse, HttpSettings, ProviderHttp, RetryHook, default_classify,
    first_line, retry_after,
};
use crate::config::Secret;
use token::{AccessToken, TokenCache};
use types::{
    Artist, ErrorBody, ErrorField, Paging, SearchAnswer, SimplifiedAlbum, SimplifiedTrack,
    TopTracks, Track,
};

pub use mapping::{Ambiguous, exact_match};

const P: Provider = Provider::Spotify;
/// Most results a search or an artist-album page may ask for in development mode (a larger
/// `limit` is refused with 400 "Invalid limit").
pub const SEARCH_LIMIT: u64 = 10;
pub const ALBUMS_LIMIT: u64 = 10;
/// Album track lists still allow 50.
pub const TRACKS_LIMIT: u64 = 50;
/// The market that makes album lists free of per-market duplicates.
pub const MARKET: &str = "US";
/// Album types fetched for songs: the artist's own releases, not compilations or guest spots.
/// The artist's own releases; `appears_on` lists other artists' records.
pub const INCLUDE_GROUPS: &str = "album,single,compilation";
/// A bound on pages of one listing, so a server that keeps saying "more" cannot loop us
/// (100 album pages = 1,000 releases; 40 track pages = 2,000 tracks on one album).
const MAX_ALBUM_PAGES: u64 = 100;
const MAX_TRACK_PAGES: u64 = 40;

/// Progress of [`SpotifyClient::artist_songs`], for the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SongsProgress {
    pub albums_done: u64,
    pub albums_total: u64,
    pub tracks_so_far: u64,
}

/// Every (album, track) pair of an artist's albums and singles, in album order; `skipped`
/// holds items (or vanished albums) that could not be read.
#[derive(Debug, Default)]
pub struct ArtistSongs {
    pub tracks: Vec<(SimplifiedAlbum, SimplifiedTrack)>,
    pub albums: u64,
    /// Albums whose tracks were fetched now, with their track counts (the known ones are not).
    pub fetched_albums: Vec<(String, u64)>,
    pub skipped: Vec<String>,
    pub requests: u64,
}

pub struct SpotifyClient {
    http: ProviderHttp,
    api_base: Url,
    token: TokenCache,
}

impl std::fmt::Debug for SpotifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpotifyClient")
            .field("api_base", &self.api_base.as_str())
            .field("token", &self.token)
            .finish()
    }
}

/// The message and `reason` of a Web API error body (or the OAuth description).
fn error_detail(body: &str) -> (Option<String>, Option<String>) {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    match parsed.error {
        Some(ErrorField::Api(e)) => (e.message.filter(|m| !m.trim().is_empty()), e.reason),
        Some(ErrorField::OAuth(code)) => (
            Some(format!(
                "{code}: {}",
                parsed.error_description.unwrap_or_default()
            )),
            None,
        ),
        None => (None, None),
    }
}

/// The Web API's refusals (apis.md 2.3, §5 items 2, 7).
pub fn classify(r: &ErrorResponse<'_>) -> ProviderError {
    let (message, reason) = error_detail(r.body);
    let status = r.status.as_u16();
    let message = message
        .map(|m| crate::text::truncate(&crate::text::sanitize(m.trim()), 200))
        .unwrap_or_else(|| first_line(r.body));
    match status {
        // The day's (per developer account) quota: stop the Spotify part; retrying only extends it.
        429 if reason
            .as_deref()
            .is_some_and(|x| x.eq_ignore_ascii_case("QUOTA_EXCEEDED")) =>
        {
            ProviderError::QuotaExhausted {
                provider: P,
                resets_at: retry_after(r.headers)
                    .and_then(|d| chrono::Duration::from_std(d).ok())
                    // A wait past the calendar's end (a huge `Retry-After`) is no known reset.
                    .and_then(|d| Utc::now().checked_add_signed(d)),
            }
        }
        429 => ProviderError::RateLimited {
            provider: P,
            retry_after: retry_after(r.headers),
        },
        // 403 on the endpoints this client uses means the app itself is blocked (the owner's
        // Premium lapsed): every call will fail alike until someone acts.
        401 | 403 => ProviderError::Auth {
            provider: P,
            status,
            message,
        },
        // "invalid id", "Invalid limit": a bug or bad input, not worth repeating.
        400 => ProviderError::Rejected {
            provider: P,
            status,
            message,
        },
        404 => ProviderError::NotFound {
            provider: P,
            what: message,
        },
        _ => default_classify(P, r),
    }
}

/// Top tracks: a 403 that is not about the app being blocked means the endpoint is removed for
/// this app (development mode, 2026): a capability to do without, not a failure.
pub fn classify_top_tracks(r: &ErrorResponse<'_>) -> ProviderError {
    match classify(r) {
        ProviderError::Auth {
            status: 403,
            message,
            ..
        } => {
            let m = message.to_ascii_lowercase();
            if m.contains("premium") || m.contains("blocked") {
                ProviderError::Auth {
                    provider: P,
                    status: 403,
                    message,
                }
            } else {
                ProviderError::Unavailable {
                    provider: P,
                    capability: "top tracks".into(),
                    status: 403,
                }
            }
        }
        other => other,
    }
}

/// Paging's next offset, or `None` when the listing is complete.
fn next_offset(page: &Paging, offset: u64) -> Option<u64> {
    let got = page.items.len() as u64;
    if got == 0 {
        return None;
    }
    let next = offset + got;
    let more = match page.total {
        Some(total) => next < total,
        // No total: trust `next` only as a yes/no.
        None => page.next.is_some(),
    };
    more.then_some(next)
}

impl SpotifyClient {
    pub fn new(
        api_base: Url,
        accounts_base: Url,
        client_id: Secret,
        client_secret: Secret,
        settings: HttpSettings,
    ) -> Result<Self, ProviderError> {
        for base in [&api_base, &accounts_base] {
            if base.cannot_be_a_base() {
                return Err(ProviderError::Rejected {
                    provider: P,
                    status: 0,
                    message: format!(
                        "base URL {} cannot take a path",
                        super::redact::redact_url(base)
                    ),
                });
            }
        }
        let http = ProviderHttp::new(
            P,
            settings,
            vec![
                client_id.expose().to_string(),
                client_secret.expose().to_string(),
            ],
        )?;
        let token = TokenCache::new(&accounts_base, client_id, client_secret);
        Ok(SpotifyClient {
            http,
            api_base,
            token,
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

    pub fn token_cache(&self) -> &TokenCache {
        &self.token
    }

    /// Obtains a token (or reuses the cached one): the credentials check of `env check`.
    pub async fn check_credentials(&self) -> Result<(), ProviderError> {
        self.token.get(&self.http).await.map(|_| ())
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut u = self.api_base.clone();
        // `new` refused bases that cannot take a path, so this always applies.
        if let Ok(mut path) = u.path_segments_mut() {
            path.pop_if_empty().push("v1").extend(segments);
        }
        u
    }

    /// One GET with a bearer token. A 401 (the token expired mid-run, or was revoked) drops
    /// the token and repeats the request once with a fresh one; a second 401 is final.
    async fn get(
        &self,
        url: Url,
        query: &[(&str, String)],
        classify: fn(&ErrorResponse<'_>) -> ProviderError,
    ) -> Result<HttpResponse, ProviderError> {
        let mut renewed = false;
        loop {
            let token: AccessToken = self.token.get(&self.http).await?;
            let result = self
                .http
                .send(
                    |c| {
                        c.get(url.clone())
                            .query(query)
                            .bearer_auth(token.bearer())
                            .header(reqwest::header::ACCEPT, "application/json")
                    },
                    classify,
                    true,
                )
                .await;
            match result {
                Err(ProviderError::Auth { status: 401, .. }) if !renewed => {
                    tracing::info!(provider = %P, "access token refused (401); renewing it once");
                    self.token.invalidate(&token).await;
                    renewed = true;
                }
                other => return other,
            }
        }
    }

    pub async fn artist(&self, id: &str) -> Result<Artist, ProviderError> {
        self.get(self.url(&["artists", id]), &[], classify)
            .await?
            .json(P, &format!("artist {id}"))
    }

    /// Artists matching `name` (up to the development-mode cap of 10). Use [`exact_match`] on
    /// the result; a search hit is never taken on its own.
    pub async fn search_artists(&self, name: &str) -> Result<Vec<Artist>, ProviderError> {
        let query = [
            ("q", name.trim().to_string()),
            ("type", "artist".into()),
            ("limit", SEARCH_LIMIT.to_string()),
        ];
        let answer: SearchAnswer = self
            .get(self.url(&["search"]), &query, classify)
            .await?
            .json(P, "artist search")?;
        Ok(answer
            .artists
            .map(|p| {
                p.items
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The artist named exactly `name`, if exactly one is: search plus [`exact_match`].
    pub async fn find_artist_by_name(
        &self,
        name: &str,
    ) -> Result<Result<Option<Artist>, Ambiguous>, ProviderError> {
        let candidates = self.search_artists(name).await?;
        Ok(exact_match(name, &candidates))
    }

    /// One page of an artist's albums and singles.
    pub async fn artist_albums_page(
        &self,
        artist_id: &str,
        offset: u64,
    ) -> Result<Paging, ProviderError> {
        let query = [
            ("include_groups", INCLUDE_GROUPS.to_string()),
            ("market", MARKET.to_string()),
            ("limit", ALBUMS_LIMIT.to_string()),
            ("offset", offset.to_string()),
        ];
        self.get(
            self.url(&["artists", artist_id, "albums"]),
            &query,
            classify,
        )
        .await?
        .json(P, &format!("albums of {artist_id}"))
    }

    /// One page of an album's tracks.
    pub async fn album_tracks_page(
        &self,
        album_id: &str,
        offset: u64,
    ) -> Result<Paging, ProviderError> {
        let query = [
            ("limit", TRACKS_LIMIT.to_string()),
            ("offset", offset.to_string()),
            ("market", MARKET.to_string()),
        ];
        self.get(self.url(&["albums", album_id, "tracks"]), &query, classify)
            .await?
            .json(P, &format!("tracks of album {album_id}"))
    }

    /// The artist's top tracks. Development-mode apps get [`ProviderError::Unavailable`]
    /// (403): fall back to [`SpotifyClient::artist_songs`].
    pub async fn top_tracks(&self, artist_id: &str) -> Result<Vec<Track>, ProviderError> {
        let query = [("market", MARKET.to_string())];
        let answer: TopTracks = self
            .get(
                self.url(&["artists", artist_id, "top-tracks"]),
                &query,
                classify_top_tracks,
            )
            .await?
            .json(P, "top tracks")?;
        Ok(answer
            .tracks
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect())
    }

    /// Every album and single of the artist (each album id once).
    async fn all_albums(
        &self,
        artist_id: &str,
        out: &mut ArtistSongs,
    ) -> Result<Vec<SimplifiedAlbum>, ProviderError> {
        let mut albums = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0;
        for _ in 0..MAX_ALBUM_PAGES {
            let page = self.artist_albums_page(artist_id, offset).await?;
            out.requests += 1;
            for raw in &page.items {
                match serde_json::from_value::<SimplifiedAlbum>(raw.clone()) {
                    Ok(a) => match a.id.clone().filter(|id| !id.is_empty()) {
                        Some(id) => {
                            if seen.insert(id) {
                                albums.push(a);
                            }
                        }
                        None => out.skipped.push("an album without an id".into()),
                    },
                    Err(e) => out.skipped.push(format!("an unreadable album: {e}")),
                }
            }
            match next_offset(&page, offset) {
                Some(next) => offset = next,
                None => return Ok(albums),
            }
        }
        out.skipped
            .push(format!("albums past the first {} pages", MAX_ALBUM_PAGES));
        Ok(albums)
    }

    /// Every track of one album.
    async fn all_tracks(
        &self,
        album_id: &str,
        out: &mut ArtistSongs,
    ) -> Result<Vec<SimplifiedTrack>, ProviderError> {
        let mut tracks = Vec::new();
        let mut offset = 0;
        for _ in 0..MAX_TRACK_PAGES {
            let page = self.album_tracks_page(album_id, offset).await?;
            out.requests += 1;
            for raw in &page.items {
                match serde_json::from_value::<SimplifiedTrack>(raw.clone()) {
                    Ok(t) => tracks.push(t),
                    Err(e) => out
                        .skipped
                        .push(format!("an unreadable track on album {album_id}: {e}")),
                }
            }
            match next_offset(&page, offset) {
                Some(next) => offset = next,
                None => return Ok(tracks),
            }
        }
        out.skipped.push(format!(
            "tracks of album {album_id} past the first {} pages",
            MAX_TRACK_PAGES
        ));
        Ok(tracks)
    }

    /// All albums of the artist, then all tracks of each album not in `known` (albums whose
    /// tracks an earlier sync stored: an album's tracks do not change), as (album, track)
    /// pairs. An album that vanished between the two calls (404) is skipped with a note; any
    /// other failure ends the fetch. Map with [`mapping::song_rows`], which keeps each track once.
    pub async fn artist_songs(
        &self,
        artist_id: &str,
        known: &HashSet<String>,
        mut progress: impl FnMut(SongsProgress),
    ) -> Result<ArtistSongs, ProviderError> {
        let mut out = ArtistSongs::default();
        let albums: Vec<SimplifiedAlbum> = self
            .all_albums(artist_id, &mut out)
            .await?
            .into_iter()
            .filter(|a| a.id.as_ref().is_none_or(|id| !known.contains(id)))
            .collect();
        out.albums = albums.len() as u64;
        progress(SongsProgress {
            albums_done: 0,
            albums_total: out.albums,
            tracks_so_far: 0,
        });
        for (i, album) in albums.into_iter().enumerate() {
            let id = album.id.clone().unwrap_or_default();
            match self.all_tracks(&id, &mut out).await {
                Ok(tracks) => {
                    out.fetched_albums.push((id.clone(), tracks.len() as u64));
                    out.tracks
                        .extend(tracks.into_iter().map(|t| (album.clone(), t)));
                }
                Err(ProviderError::NotFound { .. }) => {
                    out.skipped.push(format!("album {id} no longer exists"))
                }
                Err(e) => return Err(e),
            }
            progress(SongsProgress {
                albums_done: i as u64 + 1,
                albums_total: out.albums,
                tracks_so_far: out.tracks.len() as u64,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn err_with(status: u16, body: &str, headers: &HeaderMap) -> ProviderError {
        classify(&ErrorResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body,
        })
    }

    fn err(status: u16, body: &str) -> ProviderError {
        err_with(status, body, &HeaderMap::new())
    }

    #[test]
    fn classifies_the_documented_errors() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("7"));
        let e = err_with(
            429,
            r#"{"error":{"status":429,"message":"API rate limit exceeded"}}"#,
            &h,
        );
        assert_eq!(
            e,
            ProviderError::RateLimited {
                provider: P,
                retry_after: Some(std::time::Duration::from_secs(7))
            }
        );
        let e = err_with(
            429,
            r#"{"error":{"status":429,"message":"Too many requests","reason":"QUOTA_EXCEEDED"}}"#,
            &h,
        );
        assert!(
            matches!(
                e,
                ProviderError::QuotaExhausted {
                    resets_at: Some(_),
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(!e.is_retryable());
        let e = err(
            401,
            r#"{"error":{"status":401,"message":"The access token expired"}}"#,
        );
        assert!(
            matches!(&e, ProviderError::Auth { status: 401, message, .. } if message == "The access token expired"),
            "{e:?}"
        );
        assert!(matches!(
            err(400, r#"{"error":{"status":400,"message":"Invalid limit"}}"#),
            ProviderError::Rejected { status: 400, .. }
        ));
        assert!(matches!(
            err(400, r#"{"error":{"status":400,"message":"invalid id"}}"#),
            ProviderError::Rejected { .. }
        ));
        assert!(matches!(
            err(
                404,
                r#"{"error":{"status":404,"message":"non existing id"}}"#
            ),
            ProviderError::NotFound { .. }
        ));
        assert!(matches!(
            err(503, "<html><body>envoy overloaded</body></html>"),
            ProviderError::Transient {
                status: Some(503),
                ..
            }
        ));
        let blocked = r#"{"error":{"status":403,"message":"Your application is blocked from accessing the Web API since you do not have a Spotify Premium subscription."}}"#;
        assert!(matches!(
            err(403, blocked),
            ProviderError::Auth { status: 403, .. }
        ));
    }

    #[test]
    fn top_tracks_403_is_a_missing_capability_unless_the_app_is_blocked() {
        let r = |body: &'static str| {
            let h = HeaderMap::new();
            classify_top_tracks(&ErrorResponse {
                status: StatusCode::FORBIDDEN,
                headers: &h,
                body,
            })
        };
        assert!(matches!(
            r(r#"{"error":{"status":403,"message":"Forbidden"}}"#),
            ProviderError::Unavailable { status: 403, .. }
        ));
        assert!(matches!(
            r(r#"{"error":{"status":403,"message":"... Spotify Premium subscription"}}"#),
            ProviderError::Auth { .. }
        ));
    }

    #[test]
    fn paging_uses_offset_and_total_not_next() {
        let page = |n: usize, total: Option<u64>, next: Option<&str>| Paging {
            items: vec![serde_json::json!({}); n],
            total,
            next: next.map(str::to_string),
            ..Paging::default()
        };
        assert_eq!(next_offset(&page(10, Some(382), None), 0), Some(10));
        assert_eq!(
            next_offset(
                &page(2, Some(12), Some("https://api.spotify.com/v1/x?offset=12")),
                10
            ),
            None
        );
        assert_eq!(
            next_offset(&page(0, Some(100), None), 10),
            None,
            "an empty page ends the listing"
        );
        assert_eq!(
            next_offset(&page(10, None, Some("https://api.spotify.com/v1/x")), 0),
            Some(10)
        );
        assert_eq!(next_offset(&page(10, None, None), 0), None);
    }
}
