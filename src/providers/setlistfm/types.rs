//! setlist.fm 1.0 payloads as the client reads them: every field optional, unknown fields
//! ignored, sets accepted both as the live API nests them (`"sets": {"set": [...]}`) and as
//! the docs show them (a top-level `"set": [...]`) (apis.md 3.3, §5 item 17).

use serde::{Deserialize, Deserializer};

/// An artist (search results, a setlist's artist, a song's `cover`/`with`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SfArtist {
    pub mbid: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "sortName")]
    pub sort_name: Option<String>,
    /// Often `""`; what tells two artists of one name apart.
    pub disambiguation: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Country {
    pub code: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Coords {
    pub lat: Option<f64>,
    pub long: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct City {
    /// A GeoNames id, sent as a string.
    pub id: Option<String>,
    pub name: Option<String>,
    pub state: Option<String>,
    /// USPS code in the US, numeric ("02") elsewhere.
    #[serde(rename = "stateCode")]
    pub state_code: Option<String>,
    pub coords: Option<Coords>,
    pub country: Option<Country>,
}

/// A venue; `city` may be absent (the city is then inside `name`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SfVenue {
    pub id: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub city: Option<City>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Tour {
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Song {
    pub name: Option<String>,
    /// Notes: segue markers (`">"`, `"->"`), "acoustic", …
    pub info: Option<String>,
    /// Played from a recording (intro/outro tape): not performed.
    pub tape: Option<bool>,
    pub cover: Option<SfArtist>,
    pub with: Option<SfArtist>,
}

/// One set: `name` ("Set 1:") or none, `encore` 1, 2, … for encores.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Set {
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_u32")]
    pub encore: Option<u32>,
    pub song: Vec<Song>,
}

/// The live API's wrapper around the sets.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Sets {
    pub set: Vec<Set>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Setlist {
    pub id: Option<String>,
    #[serde(rename = "versionId")]
    pub version_id: Option<String>,
    /// `dd-MM-yyyy`, the venue-local calendar date, no time and no zone.
    #[serde(rename = "eventDate")]
    pub event_date: Option<String>,
    /// `yyyy-MM-dd'T'HH:mm:ss.SSS+0000`, UTC.
    #[serde(rename = "lastUpdated")]
    pub last_updated: Option<String>,
    pub artist: Option<SfArtist>,
    pub venue: Option<SfVenue>,
    pub tour: Option<Tour>,
    pub sets: Option<Sets>,
    /// The docs' shape, without the `sets` wrapper.
    pub set: Vec<Set>,
    pub info: Option<String>,
    pub url: Option<String>,
}

impl Setlist {
    /// The sets, from whichever of the two shapes the answer used.
    pub fn all_sets(&self) -> &[Set] {
        match &self.sets {
            Some(s) if !s.set.is_empty() => &s.set,
            _ => &self.set,
        }
    }
}

/// `GET /search/artists`. Items stay raw so one malformed item fails alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ArtistsPage {
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: Option<u64>,
    pub page: Option<u64>,
    pub total: Option<u64>,
    pub artist: Vec<serde_json::Value>,
}

/// `GET /artist/{mbid}/setlists`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SetlistsPage {
    #[serde(rename = "itemsPerPage")]
    pub items_per_page: Option<u64>,
    pub page: Option<u64>,
    pub total: Option<u64>,
    pub setlist: Vec<serde_json::Value>,
}

/// `{"code":404,"status":"Not Found","message":"not found","timestamp":"…"}`, or API Gateway's
/// `{"message":"Forbidden"}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub code: Option<u16>,
    pub status: Option<String>,
    pub message: Option<String>,
}

/// An encore number as a number, a numeric string or a boolean (`true` = 1); anything else is
/// no encore rather than an unreadable setlist.
fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        Some(serde_json::Value::Bool(b)) => Some(u32::from(b)),
        _ => None,
    })
}
