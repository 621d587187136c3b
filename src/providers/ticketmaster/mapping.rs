//! Ticketmaster payloads → the app's rows, per design.md's mapping fixes: venue keyed on its
//! Ticketmaster id; status codes into the app's four show statuses (`cancelled`/`canceled` both
//! cancel; a past date is completed); TBA/TBD keep the show with no date; prices from
//! `priceRanges`; venue timezone; lat/long parsed from strings; the widest image.

use chrono::NaiveDate;

use super::types::{Attraction, Event, Image, Venue};
use crate::rows::{ShowRow, ShowStatus, VenueRow};

/// What an attraction tells about an artist.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct AttractionInfo {
    pub ticketmaster_id: String,
    pub name: String,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub genres: Vec<String>,
    /// From `externalLinks.spotify[0].url` (`…/artist/<id>`).
    pub spotify_id: Option<String>,
    /// From `externalLinks.musicbrainz[0].id`.
    pub musicbrainz_id: Option<String>,
    pub upcoming_events: Option<u64>,
}

pub use crate::providers::mapping::MapError;
use crate::providers::mapping::{clean, clean_id, clean_name, clean_url, fits_url, require_id};
use crate::text::MAX_ID_CHARS;

/// The widest image's URL (not the first: TM lists about ten sizes in no order).
pub fn widest_image(images: &[Image]) -> Option<String> {
    images
        .iter()
        .filter(|i| {
            i.url
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty() && fits_url(u))
        })
        .max_by_key(|i| i.width.unwrap_or(0))
        .and_then(|i| i.url.clone())
}

/// The Spotify artist id in `https://open.spotify.com/artist/<id>` (query and slashes ignored).
pub fn spotify_id_from_url(url: &str) -> Option<String> {
    let rest = url.split("/artist/").nth(1)?;
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .take(MAX_ID_CHARS + 1)
        .collect();
    (10..=MAX_ID_CHARS).contains(&id.len()).then_some(id)
}

pub fn attraction_info(a: &Attraction) -> Result<AttractionInfo, MapError> {
    let id = require_id("attraction id", &a.id, "attraction without an id")?;
    let name =
        clean_name(&a.name).ok_or_else(|| MapError(format!("attraction {id} without a name")))?;
    let links = a.external_links.clone().unwrap_or_default();
    let mut genres: Vec<String> = Vec::new();
    for c in &a.classifications {
        for n in [&c.genre, &c.sub_genre].into_iter().flatten() {
            // "Undefined" and "Other" are placeholder names, not genres.
            let genre =
                clean_name(&n.name).filter(|g| !matches!(g.as_str(), "Undefined" | "Other"));
            if let Some(g) = genre.filter(|g| !genres.contains(g)) {
                genres.push(g);
            }
        }
    }
    Ok(AttractionInfo {
        ticketmaster_id: id,
        name,
        url: clean_url(&a.url),
        image_url: widest_image(&a.images),
        genres,
        spotify_id: links
            .spotify
            .iter()
            .find_map(|l| l.url.as_deref().and_then(spotify_id_from_url)),
        musicbrainz_id: links
            .musicbrainz
            .iter()
            .find_map(|l| clean_id("MusicBrainz id", &l.id).ok().flatten()),
        upcoming_events: a.upcoming_events.as_ref().and_then(|u| u.total),
    })
}

/// A venue row, or `None` when the venue has no id or no name (the show keeps no venue).
pub fn venue_row(v: &Venue) -> Option<VenueRow> {
    let ticketmaster_id = clean_id("venue id", &v.id).ok().flatten()?;
    let name = clean_name(&v.name)?;
    let address = v.address.as_ref().and_then(|a| {
        clean(&a.line1)
            .or_else(|| clean(&a.line2))
            .or_else(|| clean(&a.line3))
    });
    let loc = v.location.as_ref();
    Some(VenueRow {
        ticketmaster_id,
        name,
        city: v.city.as_ref().and_then(|c| clean_name(&c.name)),
        state: v.state.as_ref().and_then(|s| clean_name(&s.name)),
        country: v.country.as_ref().and_then(|c| clean_name(&c.name)),
        address,
        postal_code: clean_name(&v.postal_code),
        latitude: loc
            .and_then(|l| l.latitude.as_ref())
            .and_then(|c| c.value())
            .filter(|v| (-90.0..=90.0).contains(v)),
        longitude: loc
            .and_then(|l| l.longitude.as_ref())
            .and_then(|c| c.value())
            .filter(|v| (-180.0..=180.0).contains(v)),
        timezone: clean_name(&v.timezone),
        url: clean_url(&v.url),
        image_url: widest_image(&v.images),
    })
}

/// The app's show status for a TM status code and the show's local date.
pub fn show_status(code: Option<&str>, date: Option<NaiveDate>, today: NaiveDate) -> ShowStatus {
    match code.map(|c| c.trim().to_ascii_lowercase()) {
        Some(c) if c == "cancelled" || c == "canceled" => ShowStatus::Cancelled,
        _ => match date {
            Some(d) if d < today => ShowStatus::Completed,
            _ => ShowStatus::Upcoming,
        },
    }
}

/// The event's venue (the first of `_embedded.venues`).
pub fn event_venue(e: &Event) -> Option<&Venue> {
    e.embedded.as_ref().and_then(|em| em.venues.first())
}

/// A show row. `today` is the venue-local today used to mark past shows completed.
pub fn show_row(e: &Event, today: NaiveDate) -> Result<ShowRow, MapError> {
    let id = require_id("event id", &e.id, "event without an id")?;
    let name = clean_name(&e.name).ok_or_else(|| MapError(format!("event {id} without a name")))?;
    let start = e.dates.as_ref().and_then(|d| d.start.as_ref());
    let tba = start.is_some_and(|s| s.date_tba == Some(true) || s.date_tbd == Some(true));
    let date = if tba {
        None
    } else {
        start
            .and_then(|s| s.local_date.as_deref())
            .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok())
    };
    let code = e
        .dates
        .as_ref()
        .and_then(|d| d.status.as_ref())
        .and_then(|s| s.code.as_deref());
    // Prefer the face-value ("standard") range; fall back to any.
    let standard: Vec<_> = e
        .price_ranges
        .iter()
        .filter(|p| p.kind.as_deref() == Some("standard"))
        .collect();
    let ranges: Vec<_> = if standard.is_empty() {
        e.price_ranges.iter().collect()
    } else {
        standard
    };
    let min_price = ranges
        .iter()
        .filter_map(|p| p.min)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .reduce(f64::min);
    let max_price = ranges
        .iter()
        .filter_map(|p| p.max)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .reduce(f64::max);
    let attractions = e
        .embedded
        .as_ref()
        .map(|em| {
            em.attractions
                .iter()
                .filter_map(|a| clean_id("attraction id", &a.id).ok().flatten())
                .collect()
        })
        .unwrap_or_default();
    Ok(ShowRow {
        ticketmaster_id: id,
        name,
        date,
        status: show_status(code, date, today),
        image_url: widest_image(&e.images),
        ticket_url: clean_url(&e.url),
        url: clean_url(&e.url),
        min_price,
        max_price,
        description: clean(&e.info),
        venue_ticketmaster_id: event_venue(e)
            .and_then(venue_row)
            .map(|v| v.ticketmaster_id),
        attraction_ticketmaster_ids: attractions,
    })
}

/// The event's timezone: its own, else its venue's (often missing on the event).
pub fn event_timezone(e: &Event) -> Option<String> {
    e.dates
        .as_ref()
        .and_then(|d| clean(&d.timezone))
        .or_else(|| event_venue(e).and_then(|v| clean(&v.timezone)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    #[test]
    fn maps_the_disney_hall_fixture_traps() {
        let e = event(serde_json::json!({
            "name": "Los Angeles Philharmonic", "id": "Z7r9jZ1Ad8xkd", "url": "https://www.ticketmaster.com/event/Z7r9jZ1Ad8xkd",
            "images": [
                {"url": "https://img/small.jpg", "width": 305, "height": 203},
                {"url": "https://img/wide.jpg", "width": 640, "height": 360}
            ],
            "dates": {"start": {"localDate": "2027-06-03", "localTime": "20:00:00", "dateTime": "2027-06-04T03:00:00Z"}, "status": {"code": "onsale"}},
            "_embedded": {
                "venues": [{"name": "Walt Disney Concert Hall", "id": "ZFr9jZ7vav", "postalCode": "90037", "timezone": "America/Los_Angeles",
                    "city": {"name": " Los Angeles "}, "state": {"name": "California", "stateCode": "CA"},
                    "country": {"name": "United States Of America", "countryCode": "US"}, "address": {"line2": "Los Angeles, CA"},
                    "location": {"longitude": "-118.287804", "latitude": "34.003101"}}],
                "attractions": [{"id": "K8vZ917uP07", "name": "Los Angeles Philharmonic"}, {"id": "K8vZ917SUPP", "name": "Support"}]
            }
        }));
        let s = show_row(&e, today()).unwrap();
        // The venue-local date, not the UTC date of dateTime (2027-06-04).
        assert_eq!(s.date, NaiveDate::from_ymd_opt(2027, 6, 3));
        assert_eq!(s.status, ShowStatus::Upcoming);
        assert_eq!(s.image_url.as_deref(), Some("https://img/wide.jpg"));
        assert_eq!((s.min_price, s.max_price), (None, None));
        assert_eq!(
            s.attraction_ticketmaster_ids,
            ["K8vZ917uP07", "K8vZ917SUPP"]
        );
        assert_eq!(s.venue_ticketmaster_id.as_deref(), Some("ZFr9jZ7vav"));
        let v = venue_row(event_venue(&e).unwrap()).unwrap();
        assert_eq!(v.city.as_deref(), Some("Los Angeles"));
        assert_eq!(v.address.as_deref(), Some("Los Angeles, CA"));
        assert_eq!(
            (v.latitude, v.longitude),
            (Some(34.003101), Some(-118.287804))
        );
        assert_eq!(v.timezone.as_deref(), Some("America/Los_Angeles"));
        assert_eq!(event_timezone(&e).as_deref(), Some("America/Los_Angeles"));
    }

    #[test]
    fn statuses_tba_and_prices() {
        let base = |code: &str, date: Option<&str>| {
            let mut start = serde_json::json!({"timeTBA": true});
            if let Some(d) = date {
                start["localDate"] = d.into();
            } else {
                start["dateTBA"] = true.into();
            }
            event(
                serde_json::json!({"id": "E1", "name": "x", "dates": {"start": start, "status": {"code": code}},
                "priceRanges": [{"type": "standard", "currency": "GBP", "min": 55.0, "max": 170.0},
                                {"type": "standard including fees", "currency": "GBP", "min": 63.5, "max": 186.6}]}),
            )
        };
        assert_eq!(
            show_row(&base("cancelled", Some("2027-01-01")), today())
                .unwrap()
                .status,
            ShowStatus::Cancelled
        );
        assert_eq!(
            show_row(&base("canceled", Some("2027-01-01")), today())
                .unwrap()
                .status,
            ShowStatus::Cancelled
        );
        assert_eq!(
            show_row(&base("onsale", Some("2026-01-01")), today())
                .unwrap()
                .status,
            ShowStatus::Completed
        );
        assert_eq!(
            show_row(&base("postponed", Some("2027-01-01")), today())
                .unwrap()
                .status,
            ShowStatus::Upcoming
        );
        let tba = show_row(&base("onsale", None), today()).unwrap();
        assert_eq!((tba.date, tba.status), (None, ShowStatus::Upcoming));
        assert_eq!((tba.min_price, tba.max_price), (Some(55.0), Some(170.0)));
    }

    #[test]
    fn venues_without_name_or_location_and_events_without_attractions() {
        let v: Venue = serde_json::from_value(
            serde_json::json!({"id": "KovZ1", "city": {"name": "Amsterdam"}}),
        )
        .unwrap();
        assert_eq!(venue_row(&v), None, "a venue without a name is skipped");
        let v: Venue = serde_json::from_value(serde_json::json!({"id": "KovZ2", "name": "Hall", "location": {"latitude": "x", "longitude": 4.9}})).unwrap();
        let row = venue_row(&v).unwrap();
        assert_eq!(
            (row.latitude, row.longitude, row.state),
            (None, Some(4.9), None)
        );
        let e = event(serde_json::json!({"id": "E2", "name": "no attractions"}));
        let s = show_row(&e, today()).unwrap();
        assert!(s.attraction_ticketmaster_ids.is_empty());
        assert_eq!(s.venue_ticketmaster_id, None);
        assert!(show_row(&event(serde_json::json!({"name": "no id"})), today()).is_err());
    }

    #[test]
    fn attraction_links_and_genres() {
        let a: Attraction = serde_json::from_value(serde_json::json!({
            "id": "K8vZ917uP07", "name": "Los Angeles Philharmonic",
            "images": [{"url": "https://img/a.jpg", "width": 100}, {"url": "https://img/b.jpg", "width": 1024}],
            "classifications": [{"genre": {"name": "Classical"}, "subGenre": {"name": "Undefined"}}],
            "externalLinks": {"spotify": [{"url": "https://open.spotify.com/artist/6yeL5iw4hXNZtd8T7FOoFU?si=x"}],
                              "musicbrainz": [{"id": "98e4313e-dfb0-4084-805c-3e42ef9301d0"}]},
            "upcomingEvents": {"_total": 96}
        }))
        .unwrap();
        let info = attraction_info(&a).unwrap();
        assert_eq!(info.spotify_id.as_deref(), Some("6yeL5iw4hXNZtd8T7FOoFU"));
        assert_eq!(
            info.musicbrainz_id.as_deref(),
            Some("98e4313e-dfb0-4084-805c-3e42ef9301d0")
        );
        assert_eq!(info.genres, ["Classical"]);
        assert_eq!(info.image_url.as_deref(), Some("https://img/b.jpg"));
        assert_eq!(info.upcoming_events, Some(96));
    }
}
