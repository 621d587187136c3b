//! Spotify Web API payloads as the client reads them: every field optional, unknown fields
//! ignored. Development-mode apps (2026) get no `followers`, `popularity`, `available_markets`
//! or `album_group`, `genres` and `images` are often `[]` and `preview_url` is mostly null,
//! so none of them may be required (apis.md 2.0, 2.2; §5 item 16).

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Image {
    pub url: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ExternalUrls {
    pub spotify: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Followers {
    pub total: Option<u64>,
}

/// A full artist (`GET /v1/artists/{id}`, search results).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Artist {
    pub id: Option<String>,
    pub name: Option<String>,
    pub external_urls: Option<ExternalUrls>,
    pub followers: Option<Followers>,
    pub genres: Vec<String>,
    pub images: Vec<Image>,
    pub popularity: Option<u32>,
    pub uri: Option<String>,
}

/// An artist as albums and tracks name it (no images, no genres).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SimplifiedArtist {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// An album in an artist's album list or inside a full track.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SimplifiedAlbum {
    pub id: Option<String>,
    pub name: Option<String>,
    pub album_type: Option<String>,
    pub artists: Vec<SimplifiedArtist>,
    pub images: Vec<Image>,
    /// `"1981"`, `"1981-08"` or `"1981-08-07"`, as `release_date_precision` says.
    pub release_date: Option<String>,
    pub release_date_precision: Option<String>,
    pub total_tracks: Option<u32>,
    pub external_urls: Option<ExternalUrls>,
}

/// A track of an album's track list: no album, no popularity.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SimplifiedTrack {
    /// Null for local files.
    pub id: Option<String>,
    pub name: Option<String>,
    pub artists: Vec<SimplifiedArtist>,
    pub duration_ms: Option<i64>,
    pub preview_url: Option<String>,
    pub disc_number: Option<u32>,
    pub track_number: Option<u32>,
    pub explicit: Option<bool>,
    pub is_local: Option<bool>,
    pub external_urls: Option<ExternalUrls>,
}

/// A full track (top tracks, `GET /v1/tracks/{id}`): a simplified track plus its album.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Track {
    pub id: Option<String>,
    pub name: Option<String>,
    pub album: Option<SimplifiedAlbum>,
    pub artists: Vec<SimplifiedArtist>,
    pub duration_ms: Option<i64>,
    pub preview_url: Option<String>,
    pub popularity: Option<u32>,
    pub is_local: Option<bool>,
}

/// A paging object. Items stay raw so one malformed item fails alone; `next` is read only to
/// know whether more exists (it is an absolute `api.spotify.com` URL, never followed).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Paging {
    pub items: Vec<serde_json::Value>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub total: Option<u64>,
    pub next: Option<String>,
}

/// `GET /v1/search?type=artist`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SearchAnswer {
    pub artists: Option<Paging>,
}

/// `GET /v1/artists/{id}/top-tracks`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TopTracks {
    pub tracks: Vec<serde_json::Value>,
}

/// The Web API's error envelope, `{"error":{"status":429,"message":"…","reason":"QUOTA_EXCEEDED"}}`,
/// and the accounts service's OAuth one, `{"error":"invalid_client","error_description":"…"}`:
/// `error` is an object in one and a string in the other.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub error: Option<ErrorField>,
    pub error_description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ErrorField {
    Api(ApiError),
    OAuth(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ApiError {
    pub status: Option<u16>,
    pub message: Option<String>,
    pub reason: Option<String>,
}

/// The token endpoint's answer: `expires_in` is in seconds.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct TokenAnswer {
    pub access_token: Option<String>,
    pub token_type: Option<String>,
    pub expires_in: Option<u64>,
}

// By hand, so a token can never reach a log line through `{:?}`.
impl std::fmt::Debug for TokenAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAnswer")
            .field("access_token", &self.access_token.as_ref().map(|_| "***"))
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}
