//! The rows the provider mappers produce and the store upserts: the app's catalog in plain
//! types, below both layers, so neither has to import the other to hand one over.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The app's four show statuses (its `shows_status_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShowStatus {
    #[serde(rename = "upcoming")]
    Upcoming,
    #[serde(rename = "in-progress")]
    InProgress,
    #[serde(rename = "completed")]
    Completed,
    #[serde(rename = "cancelled")]
    Cancelled,
}

impl ShowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShowStatus::Upcoming => "upcoming",
            ShowStatus::InProgress => "in-progress",
            ShowStatus::Completed => "completed",
            ShowStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VenueRow {
    pub ticketmaster_id: String,
    pub name: String,
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub timezone: Option<String>,
    pub url: Option<String>,
    pub image_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShowRow {
    pub ticketmaster_id: String,
    pub name: String,
    /// Venue-local date; `None` for TBA/TBD.
    pub date: Option<NaiveDate>,
    pub status: ShowStatus,
    pub image_url: Option<String>,
    pub ticket_url: Option<String>,
    pub url: Option<String>,
    pub min_price: Option<f64>,
    pub max_price: Option<f64>,
    pub description: Option<String>,
    /// The venue this show is at, by its Ticketmaster id (upserted first).
    pub venue_ticketmaster_id: Option<String>,
    /// The event's attractions in billing order (headliner first).
    pub attraction_ticketmaster_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SongRow {
    pub spotify_id: String,
    pub name: String,
    pub duration_ms: Option<i64>,
    pub preview_url: Option<String>,
    pub album_name: Option<String>,
    pub album_image_url: Option<String>,
    pub popularity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetlistRow {
    pub setlist_fm_id: String,
    pub date: Option<NaiveDate>,
    pub tour_name: Option<String>,
    /// The show it was linked to, when exactly one show of the artist matches the local date.
    pub show_id: Option<String>,
    pub venue_id: Option<String>,
    /// The songs as a JSON array (the app's `setlists.songs`).
    pub songs: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetlistSongRow {
    pub position: i64,
    pub name: String,
    pub is_encore: bool,
    /// The artist's song of that name when there is one.
    pub song_id: Option<String>,
}
