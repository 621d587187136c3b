//! Hand-made trap payloads (`assets/fixtures/*.json`, compiled in so the binary needs no files),
//! served next to the generated catalog under fixed ids so client and engine tests can meet
//! every trap of research/apis.md §5 end to end:
//!
//! - Ticketmaster attraction [`TRAP_ATTRACTION_ID`]: TBA and TBD dates, a time-TBA date,
//!   `cancelled` and `canceled`, `postponed` with `initialStartDate`, a venue without a name, one
//!   without `location`, `address.line1`, `state` and `postalCode`, stray whitespace in city
//!   names, an event without `_embedded.attractions`, an event with two attractions (the trap
//!   artist as support of [`TRAP_DUPLICATE_ATTRACTION_ID`]), the same event listed twice (on two
//!   pages when `size` < 10), a matinee and an evening show on one date, the 1900 sale
//!   placeholder, `"Undefined"` genres, price ranges in two flavours, images widest-not-first,
//!   and a past event. [`TRAP_DUPLICATE_ATTRACTION_ID`] has the same name and no external links.
//! - Spotify artist [`TRAP_SPOTIFY_ARTIST_ID`]: no `followers`, `popularity` or images, `genres:
//!   []`; eleven albums and singles plus a compilation (two pages at the dev-mode limit) with `release_date` "1981" and
//!   "1981-08", an album without images, a compilation repeating a track id, `preview_url` null.
//!   [`TRAP_SPOTIFY_DUPLICATE_ARTIST_ID`] has exactly the same name, so a name search is
//!   ambiguous.
//! - setlist.fm artist [`TRAP_MBID`]: `"sets": {"set": []}`, missing `tour`, a venue without
//!   `city`, tape songs, covers, guests (`with`), segue `info`, encores, a numeric `stateCode`, and
//!   two setlists on one date at one venue. [`TRAP_DUPLICATE_MBID`] shares the name (with a
//!   different `disambiguation`).
//!
//! Dates in the files are written around the catalog's default anchor ([`fixture_base_date`]);
//! the fake moves them by whole days to its own anchor, so "upcoming" stays upcoming.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

pub const TRAP_ATTRACTION_ID: &str = "K8vZ917TRAP";
pub const TRAP_DUPLICATE_ATTRACTION_ID: &str = "K8vZ917TRP2";
pub const TRAP_ARTIST_NAME: &str = "Trap Fixture Band";
pub const TRAP_SPOTIFY_ARTIST_ID: &str = "0TRAPfixtureArtist0001";
pub const TRAP_SPOTIFY_DUPLICATE_ARTIST_ID: &str = "0TRAPfixtureArtist0002";
pub const TRAP_MBID: &str = "7a4a7a4a-0000-4000-8000-000000000001";
pub const TRAP_DUPLICATE_MBID: &str = "7a4a7a4a-0000-4000-8000-000000000002";

/// Attraction objects as `/discovery/v2/attractions/{id}.json` answers them.
pub const TM_ATTRACTIONS_JSON: &str = include_str!("../../assets/fixtures/tm_attractions.json");
/// `{"events": [{"trap": why, "listedUnder": [attraction ids], "event": {…}}]}`: each event
/// object is served as is (after the date shift) in searches for the listed attractions.
pub const TM_EVENTS_JSON: &str = include_str!("../../assets/fixtures/tm_events.json");
/// An empty search page exactly as Ticketmaster sends it: no `_embedded` at all.
pub const TM_EMPTY_PAGE_JSON: &str = include_str!("../../assets/fixtures/tm_events_empty.json");
/// `{"artists": [...], "albums": {artist id: [...]}, "tracks": {album id: [...]}}`.
pub const SPOTIFY_JSON: &str = include_str!("../../assets/fixtures/spotify.json");
/// `{"artists": [...], "setlists": {mbid: [... newest first]}}`.
pub const SETLISTFM_JSON: &str = include_str!("../../assets/fixtures/setlistfm.json");

/// The date the fixture files are written around (the catalog's default anchor).
pub fn fixture_base_date() -> NaiveDate {
    crate::catalog::default_anchor()
}

/// One Ticketmaster fixture event and the attractions whose searches list it.
#[derive(Debug, Clone)]
pub(crate) struct FixtureEvent {
    pub listed_under: Vec<String>,
    pub event: Value,
}

/// The parsed fixtures, dates moved to the anchor.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fixtures {
    pub tm_attractions: Vec<Value>,
    pub tm_events: Vec<FixtureEvent>,
    pub spotify_artists: Vec<Value>,
    pub spotify_albums: HashMap<String, Vec<Value>>,
    pub spotify_tracks: HashMap<String, Vec<Value>>,
    pub setlistfm_artists: Vec<Value>,
    pub setlistfm_setlists: HashMap<String, Vec<Value>>,
}

fn parse(name: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))
}

fn array(name: &str, v: Option<&Value>) -> Result<Vec<Value>, String> {
    v.and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| format!("{name}: expected an array"))
}

fn map_of_arrays(name: &str, v: Option<&Value>) -> Result<HashMap<String, Vec<Value>>, String> {
    let obj = v
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{name}: expected an object of arrays"))?;
    obj.iter()
        .map(|(k, v)| Ok((k.clone(), array(&format!("{name}.{k}"), Some(v))?)))
        .collect()
}

impl Fixtures {
    pub(crate) fn load(anchor: NaiveDate) -> Result<Fixtures, String> {
        let days = (anchor - fixture_base_date()).num_days();
        let attractions = parse("tm_attractions.json", TM_ATTRACTIONS_JSON)?;
        let mut events = parse("tm_events.json", TM_EVENTS_JSON)?;
        let spotify = parse("spotify.json", SPOTIFY_JSON)?;
        let mut setlistfm = parse("setlistfm.json", SETLISTFM_JSON)?;
        shift_dates(&mut events, days);
        shift_dates(&mut setlistfm, days);

        let mut tm_events = Vec::new();
        for (i, wrapper) in array("tm_events.json events", events.get("events"))?
            .into_iter()
            .enumerate()
        {
            let listed_under = wrapper
                .get("listedUnder")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let mut event = wrapper
                .get("event")
                .cloned()
                .filter(|e| e.get("id").and_then(Value::as_str).is_some())
                .ok_or_else(|| format!("tm_events.json: entry {i} has no event with an id"))?;
            fix_utc(&mut event);
            tm_events.push(FixtureEvent {
                listed_under,
                event,
            });
        }
        Ok(Fixtures {
            tm_attractions: array("tm_attractions.json", Some(&attractions))?,
            tm_events,
            spotify_artists: array("spotify.json artists", spotify.get("artists"))?,
            spotify_albums: map_of_arrays("spotify.json albums", spotify.get("albums"))?,
            spotify_tracks: map_of_arrays("spotify.json tracks", spotify.get("tracks"))?,
            setlistfm_artists: array("setlistfm.json artists", setlistfm.get("artists"))?,
            setlistfm_setlists: map_of_arrays(
                "setlistfm.json setlists",
                setlistfm.get("setlists"),
            )?,
        })
    }

    /// Every venue the fixture events embed, by id.
    pub(crate) fn tm_venues(&self) -> HashMap<String, Value> {
        let mut out = HashMap::new();
        for e in &self.tm_events {
            if let Some(v) = e.event.pointer("/_embedded/venues/0")
                && let Some(id) = v.get("id").and_then(Value::as_str)
            {
                out.entry(id.to_string()).or_insert_with(|| v.clone());
            }
        }
        out
    }
}

const TM_DATE: &str = "%Y-%m-%d";
const TM_DATETIME: &str = "%Y-%m-%dT%H:%M:%SZ";
const SF_DATE: &str = "%d-%m-%Y";
const SF_UPDATED: &str = "%Y-%m-%dT%H:%M:%S%.3f+0000";

/// Moves every date-valued field by `days`. The 1900 "unknown" placeholder stays as it is.
fn shift_dates(v: &mut Value, days: i64) {
    if days == 0 {
        return;
    }
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let format = match key.as_str() {
                    "localDate" => Some(TM_DATE),
                    "dateTime" | "startDateTime" | "endDateTime" => Some(TM_DATETIME),
                    "eventDate" => Some(SF_DATE),
                    "lastUpdated" => Some(SF_UPDATED),
                    _ => None,
                };
                match (format, value.as_str()) {
                    (Some(f), Some(s)) => {
                        if let Some(moved) = shift_one(s, f, days) {
                            *value = Value::String(moved);
                        }
                    }
                    _ => shift_dates(value, days),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| shift_dates(i, days)),
        _ => {}
    }
}

fn shift_one(s: &str, format: &str, days: i64) -> Option<String> {
    let delta = Duration::days(days);
    if format == TM_DATE || format == SF_DATE {
        let d = NaiveDate::parse_from_str(s, format).ok()?;
        if d.year() < 2000 {
            return None;
        }
        return Some((d + delta).format(format).to_string());
    }
    let t = NaiveDateTime::parse_from_str(s, format).ok()?;
    if t.year() < 2000 {
        return None;
    }
    Some((t + delta).format(format).to_string())
}

/// After a shift, `dates.start.dateTime` (and `initialStartDate.dateTime`) is recomputed from
/// the local date and time in the event's zone, since a shift across a DST change would
/// otherwise leave UTC an hour off the local time.
fn fix_utc(event: &mut Value) {
    let zone = event
        .pointer("/dates/timezone")
        .or_else(|| event.pointer("/_embedded/venues/0/timezone"))
        .and_then(Value::as_str)
        .and_then(|z| z.parse::<chrono_tz::Tz>().ok());
    let Some(zone) = zone else { return };
    for pointer in ["/dates/start", "/dates/initialStartDate"] {
        let Some(start) = event.pointer_mut(pointer).and_then(Value::as_object_mut) else {
            continue;
        };
        let local = match (
            start.get("localDate").and_then(Value::as_str),
            start.get("localTime").and_then(Value::as_str),
        ) {
            (Some(d), Some(t)) => {
                NaiveDateTime::parse_from_str(&format!("{d}T{t}"), "%Y-%m-%dT%H:%M:%S").ok()
            }
            _ => None,
        };
        let utc: Option<DateTime<Utc>> = local.and_then(|l| {
            zone.from_local_datetime(&l)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        });
        if let (Some(utc), true) = (utc, start.contains_key("dateTime")) {
            start.insert(
                "dateTime".into(),
                Value::String(utc.format(TM_DATETIME).to_string()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_parse_and_keep_their_traps() {
        let f = Fixtures::load(fixture_base_date()).unwrap();
        assert!(f.tm_attractions.len() >= 2);
        assert!(f.tm_events.len() >= 12);
        let ids: Vec<&str> = f
            .tm_events
            .iter()
            .filter_map(|e| e.event.get("id").and_then(Value::as_str))
            .collect();
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert!(
            unique.len() < ids.len(),
            "a duplicate event is one of the traps"
        );
        let statuses: Vec<&str> = f
            .tm_events
            .iter()
            .filter_map(|e| {
                e.event
                    .pointer("/dates/status/code")
                    .and_then(Value::as_str)
            })
            .collect();
        assert!(statuses.contains(&"cancelled") && statuses.contains(&"canceled"));
        assert!(
            f.tm_events
                .iter()
                .any(|e| e.event.pointer("/_embedded/attractions").is_none())
        );
        assert!(f.tm_events.iter().any(|e| {
            e.event
                .pointer("/_embedded/attractions")
                .and_then(Value::as_array)
                .is_some_and(|a| a.len() == 2)
        }));
        assert!(f.tm_venues().values().any(|v| v.get("name").is_none()));
        assert!(
            f.spotify_artists
                .iter()
                .all(|a| a.get("followers").is_none())
        );
        assert!(
            f.setlistfm_setlists[TRAP_MBID]
                .iter()
                .any(|s| s.get("tour").is_none())
        );
        let empty: Value = serde_json::from_str(TM_EMPTY_PAGE_JSON).unwrap();
        assert!(empty.get("_embedded").is_none());
    }

    #[test]
    fn dates_move_with_the_anchor() {
        let base = Fixtures::load(fixture_base_date()).unwrap();
        let later = Fixtures::load(fixture_base_date() + Duration::days(40)).unwrap();
        let date = |f: &Fixtures| {
            f.tm_events[0]
                .event
                .pointer("/dates/start/localDate")
                .and_then(Value::as_str)
                .map(|s| NaiveDate::parse_from_str(s, TM_DATE).unwrap())
                .unwrap()
        };
        assert_eq!(date(&later) - date(&base), Duration::days(40));
        let placeholder = |f: &Fixtures| {
            f.tm_events
                .iter()
                .filter_map(|e| e.event.pointer("/sales/public/startDateTime"))
                .filter_map(Value::as_str)
                .any(|s| s.starts_with("1900-"))
        };
        assert!(placeholder(&base) && placeholder(&later));
        assert_eq!(
            shift_one("27-04-2025", SF_DATE, 3).as_deref(),
            Some("30-04-2025")
        );
        assert_eq!(
            shift_one("2025-04-28T05:24:44.041+0000", SF_UPDATED, -1).as_deref(),
            Some("2025-04-27T05:24:44.041+0000")
        );
    }
}
