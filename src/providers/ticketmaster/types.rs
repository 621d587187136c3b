//! Ticketmaster Discovery v2 payloads as the client reads them: every field optional, unknown
//! fields ignored, lat/long accepted as strings or numbers (apis.md 1.7).

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Image {
    pub url: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub ratio: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Named {
    pub name: Option<String>,
    #[serde(rename = "stateCode")]
    pub state_code: Option<String>,
    #[serde(rename = "countryCode")]
    pub country_code: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub line3: Option<String>,
}

/// A number that TM sends as a JSON string ("-118.287804"), sometimes as a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Coordinate {
    Text(String),
    Number(f64),
}

impl Coordinate {
    pub fn value(&self) -> Option<f64> {
        match self {
            Coordinate::Text(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
            Coordinate::Number(n) => Some(*n).filter(|v| v.is_finite()),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Location {
    pub latitude: Option<Coordinate>,
    pub longitude: Option<Coordinate>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Venue {
    pub id: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    #[serde(rename = "postalCode")]
    pub postal_code: Option<String>,
    pub timezone: Option<String>,
    pub city: Option<Named>,
    pub state: Option<Named>,
    pub country: Option<Named>,
    pub address: Option<Address>,
    pub location: Option<Location>,
    pub images: Vec<Image>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Link {
    pub url: Option<String>,
    pub id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ExternalLinks {
    pub spotify: Vec<Link>,
    pub musicbrainz: Vec<Link>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Classification {
    pub primary: Option<bool>,
    pub segment: Option<Named>,
    pub genre: Option<Named>,
    #[serde(rename = "subGenre")]
    pub sub_genre: Option<Named>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct UpcomingEvents {
    #[serde(rename = "_total")]
    pub total: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Attraction {
    pub id: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub images: Vec<Image>,
    pub classifications: Vec<Classification>,
    #[serde(rename = "externalLinks")]
    pub external_links: Option<ExternalLinks>,
    #[serde(rename = "upcomingEvents")]
    pub upcoming_events: Option<UpcomingEvents>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Start {
    #[serde(rename = "localDate")]
    pub local_date: Option<String>,
    #[serde(rename = "localTime")]
    pub local_time: Option<String>,
    #[serde(rename = "dateTime")]
    pub date_time: Option<String>,
    #[serde(rename = "dateTBA")]
    pub date_tba: Option<bool>,
    #[serde(rename = "dateTBD")]
    pub date_tbd: Option<bool>,
    #[serde(rename = "timeTBA")]
    pub time_tba: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Status {
    pub code: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Dates {
    pub start: Option<Start>,
    pub timezone: Option<String>,
    pub status: Option<Status>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PriceRange {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub currency: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventEmbedded {
    pub venues: Vec<Venue>,
    pub attractions: Vec<Attraction>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Event {
    pub id: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub info: Option<String>,
    pub images: Vec<Image>,
    pub dates: Option<Dates>,
    #[serde(rename = "priceRanges")]
    pub price_ranges: Vec<PriceRange>,
    #[serde(rename = "_embedded")]
    pub embedded: Option<EventEmbedded>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PageInfo {
    pub size: Option<u64>,
    #[serde(rename = "totalElements")]
    pub total_elements: Option<u64>,
    #[serde(rename = "totalPages")]
    pub total_pages: Option<u64>,
    pub number: Option<u64>,
}

/// Items of a search page are kept raw, so one malformed item fails alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SearchEmbedded {
    pub events: Vec<serde_json::Value>,
    pub attractions: Vec<serde_json::Value>,
}

/// A search answer; `_embedded` is absent when nothing matched.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SearchPage {
    #[serde(rename = "_embedded")]
    pub embedded: Option<SearchEmbedded>,
    pub page: Option<PageInfo>,
}

/// Both error envelopes: the gateway's `fault` and Discovery's `errors[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub fault: Option<Fault>,
    pub errors: Vec<DiscoveryError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Fault {
    pub faultstring: Option<String>,
    pub detail: Option<FaultDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FaultDetail {
    pub errorcode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DiscoveryError {
    pub code: Option<String>,
    pub detail: Option<String>,
}
