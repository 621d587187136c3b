//! The catalog plus the lookups the APIs need and the catalog does not offer (event, album,
//! venue and setlist by id, artist by Spotify id or MBID), built once at start from the
//! catalog's public API, with the fixtures merged in.
//!
//! Events are generated once and kept (searches filter them on every request, and each
//! attraction's list must be stable between pages). Album tracks and setlists are cheap and
//! bounded per artist, so they are generated on demand.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde_json::Value;

use super::fixtures::Fixtures;
use super::util::fnv64;
use super::{FakeConfig, FakeError};
use crate::catalog::{Catalog, CatalogAlbum, CatalogEvent, CatalogSetlist};

/// How Ticketmaster files an event's date (apis.md 1.2, 1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateClass {
    /// Has a date (perhaps without a time).
    Dated,
    /// `dateTBA`: only `includeTBA=yes|only` returns it.
    Tba,
    /// `dateTBD`: only `includeTBD=yes|only` returns it.
    Tbd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventSource {
    Catalog(usize),
    Fixture(usize),
}

/// What searches filter and sort on, for catalog and fixture events alike.
#[derive(Debug, Clone)]
pub(crate) struct EventMeta {
    pub id: String,
    pub name_lower: String,
    /// The start that `startDateTime`/`endDateTime` compare with: `dates.start.dateTime`, or
    /// local midnight in the venue's zone when only the date is known.
    pub start: Option<DateTime<Utc>>,
    /// Venue-local date and time, for the default (relevance) order.
    pub local_date: Option<NaiveDate>,
    pub local_time: Option<NaiveTime>,
    pub class: DateClass,
    /// Attraction ids whose searches list the event.
    pub attractions: Vec<String>,
    pub venue_id: Option<String>,
    pub venue_name: String,
    pub country_code: Option<String>,
    pub sale_start: String,
    pub source: EventSource,
}

pub(crate) struct Data {
    pub catalog: Catalog,
    pub fixtures: Fixtures,
    pub catalog_events: Vec<CatalogEvent>,
    /// Catalog events (artist by artist) then fixture events, in file order.
    pub events: Vec<EventMeta>,
    /// First occurrence of each id (a fixture lists one event twice on purpose).
    pub event_by_id: HashMap<String, usize>,
    /// Each attraction's events in relevance order (date, time, then id; undated last).
    pub events_by_attraction: HashMap<String, Vec<usize>>,
    pub venue_by_tm_id: HashMap<String, usize>,
    pub fixture_venues: HashMap<String, Value>,
    pub artist_by_spotify_id: HashMap<String, usize>,
    pub artist_by_mbid: HashMap<String, usize>,
    pub albums: Vec<Vec<CatalogAlbum>>,
    /// Album id → (artist, position).
    pub album_by_id: HashMap<String, (usize, usize)>,
    setlist_owner: OnceLock<HashMap<String, usize>>,
}

/// Local midnight of `date` in `zone`, in UTC (UTC itself when the zone is unknown).
fn local_midnight(date: NaiveDate, zone: Option<&str>) -> Option<DateTime<Utc>> {
    let local = date.and_time(NaiveTime::MIN);
    match zone.and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
        None => Some(Utc.from_utc_datetime(&local)),
    }
}

impl Data {
    pub(crate) fn build(config: &FakeConfig) -> Result<Data, FakeError> {
        let anchor = config.anchor.unwrap_or_else(|| Utc::now().date_naive());
        let catalog = Catalog::new(config.seed, config.artists).with_anchor(anchor);
        let fixtures = if config.fixtures {
            Fixtures::load(anchor).map_err(FakeError::Fixture)?
        } else {
            Fixtures::default()
        };
        let mut data = Data {
            fixture_venues: fixtures.tm_venues(),
            venue_by_tm_id: catalog
                .venues()
                .iter()
                .map(|v| (v.ticketmaster_id.clone(), v.index))
                .collect(),
            artist_by_spotify_id: catalog
                .artists()
                .iter()
                .filter_map(|a| Some((a.spotify_id.clone()?, a.index)))
                .collect(),
            artist_by_mbid: catalog
                .artists()
                .iter()
                .filter_map(|a| Some((a.musicbrainz_id.clone()?, a.index)))
                .collect(),
            albums: Vec::with_capacity(catalog.len()),
            album_by_id: HashMap::new(),
            catalog_events: Vec::new(),
            events: Vec::new(),
            event_by_id: HashMap::new(),
            events_by_attraction: HashMap::new(),
            setlist_owner: OnceLock::new(),
            fixtures,
            catalog,
        };
        data.index_catalog();
        data.index_fixtures();
        Ok(data)
    }

    fn index_catalog(&mut self) {
        for artist in 0..self.catalog.len() {
            for event in self.catalog.headlined_events(artist) {
                let venue = self.catalog.venue(event.venue);
                let start = match (event.local_date, event.local_time) {
                    (Some(_), Some(_)) => self.catalog.event_utc(&event),
                    (Some(d), None) => local_midnight(d, venue.map(|v| v.timezone.as_str())),
                    _ => None,
                };
                // The catalog only knows "date TBA"; Ticketmaster also has "date TBD", and a
                // client must ask for each separately. A stable quarter of them become TBD.
                let class = if !event.date_tba {
                    DateClass::Dated
                } else if fnv64(&event.id).is_multiple_of(4) {
                    DateClass::Tbd
                } else {
                    DateClass::Tba
                };
                let meta = EventMeta {
                    id: event.id.clone(),
                    name_lower: event.name.to_lowercase(),
                    start,
                    local_date: event.local_date,
                    local_time: event.local_time,
                    class,
                    attractions: event
                        .attractions
                        .iter()
                        .filter_map(|i| self.catalog.artist(*i))
                        .map(|a| a.ticketmaster_id.clone())
                        .collect(),
                    venue_id: venue.map(|v| v.ticketmaster_id.clone()),
                    venue_name: venue.map(|v| v.name.clone()).unwrap_or_default(),
                    country_code: venue.map(|v| v.country_code.clone()),
                    sale_start: event.public_sale_start.clone(),
                    source: EventSource::Catalog(self.catalog_events.len()),
                };
                self.push_event(meta);
                self.catalog_events.push(event);
            }
            let albums = self.catalog.albums(artist);
            for (k, album) in albums.iter().enumerate() {
                self.album_by_id.insert(album.id.clone(), (artist, k));
            }
            self.albums.push(albums);
        }
        // The same order as `Catalog::events`: by local date and time, undated last, then id.
        let events = &self.events;
        for list in self.events_by_attraction.values_mut() {
            list.sort_by(|a, b| {
                let (a, b) = (&events[*a], &events[*b]);
                (a.local_date.is_none(), a.local_date, a.local_time, &a.id).cmp(&(
                    b.local_date.is_none(),
                    b.local_date,
                    b.local_time,
                    &b.id,
                ))
            });
        }
    }

    /// Fixture events keep their file order: it is part of the trap (a duplicate placed to
    /// fall on another page).
    fn index_fixtures(&mut self) {
        for i in 0..self.fixtures.tm_events.len() {
            let fixture = &self.fixtures.tm_events[i];
            let e = &fixture.event;
            let text = |p: &str| e.pointer(p).and_then(Value::as_str).map(str::to_string);
            let flag = |p: &str| e.pointer(p).and_then(Value::as_bool).unwrap_or(false);
            let class = if flag("/dates/start/dateTBA") {
                DateClass::Tba
            } else if flag("/dates/start/dateTBD") {
                DateClass::Tbd
            } else {
                DateClass::Dated
            };
            let local_date = text("/dates/start/localDate")
                .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok());
            let local_time = text("/dates/start/localTime")
                .and_then(|t| NaiveTime::parse_from_str(&t, "%H:%M:%S").ok());
            let zone = text("/dates/timezone").or_else(|| text("/_embedded/venues/0/timezone"));
            let start = text("/dates/start/dateTime")
                .and_then(|t| NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%SZ").ok())
                .map(|t| Utc.from_utc_datetime(&t))
                .or_else(|| local_date.and_then(|d| local_midnight(d, zone.as_deref())));
            let meta = EventMeta {
                id: text("/id").unwrap_or_default(),
                name_lower: text("/name").unwrap_or_default().to_lowercase(),
                start,
                local_date: if class == DateClass::Dated {
                    local_date
                } else {
                    None
                },
                local_time,
                class,
                attractions: fixture.listed_under.clone(),
                venue_id: text("/_embedded/venues/0/id"),
                venue_name: text("/_embedded/venues/0/name").unwrap_or_default(),
                country_code: text("/_embedded/venues/0/country/countryCode"),
                sale_start: text("/sales/public/startDateTime").unwrap_or_default(),
                source: EventSource::Fixture(i),
            };
            self.push_event(meta);
        }
    }

    fn push_event(&mut self, meta: EventMeta) {
        let index = self.events.len();
        self.event_by_id.entry(meta.id.clone()).or_insert(index);
        for a in &meta.attractions {
            self.events_by_attraction
                .entry(a.clone())
                .or_default()
                .push(index);
        }
        self.events.push(meta);
    }

    /// Upcoming events listed under an attraction (its `upcomingEvents._total`).
    pub(crate) fn event_count(&self, attraction_id: &str) -> usize {
        self.events_by_attraction
            .get(attraction_id)
            .map_or(0, Vec::len)
    }

    pub(crate) fn catalog_event(&self, meta: &EventMeta) -> Option<&CatalogEvent> {
        match meta.source {
            EventSource::Catalog(i) => self.catalog_events.get(i),
            EventSource::Fixture(_) => None,
        }
    }

    pub(crate) fn fixture_event(&self, meta: &EventMeta) -> Option<&Value> {
        match meta.source {
            EventSource::Fixture(i) => self.fixtures.tm_events.get(i).map(|f| &f.event),
            EventSource::Catalog(_) => None,
        }
    }

    pub(crate) fn album(&self, id: &str) -> Option<&CatalogAlbum> {
        let (artist, k) = self.album_by_id.get(id)?;
        self.albums.get(*artist)?.get(*k)
    }

    /// The setlist with this id and its artist. The id index is built on the first lookup:
    /// it means generating every setlist, and most runs never ask for one by id.
    pub(crate) fn setlist(&self, id: &str) -> Option<CatalogSetlist> {
        let owners = self.setlist_owner.get_or_init(|| {
            let mut map = HashMap::new();
            for artist in 0..self.catalog.len() {
                for s in self.catalog.setlists(artist) {
                    map.entry(s.id).or_insert(artist);
                }
            }
            map
        });
        let artist = *owners.get(id)?;
        self.catalog
            .setlists(artist)
            .into_iter()
            .find(|s| s.id == id)
    }
}
