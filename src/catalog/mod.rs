//! The demo catalog: one deterministic generator of artists, venues, events, albums, tracks and
//! setlists, shared by `seed --demo` and the fake provider server.
//!
//! Same `(seed, artists, anchor)` gives the same output on every run and machine. Every value is
//! derived by hashing `(seed, kind, index, field)` (see `rng`), so an artist's own data does not
//! depend on how many artists the catalog holds. Content beyond the artist list (events, albums,
//! tracks, setlists) is generated on demand from an artist index.
//!
//! This module must not import `store`, `providers` or `engine`: the fake may import only this.
//!
//! Traps built in on purpose (research/apis.md): the first [`AWKWARD_ARTISTS`] artists have
//! hostile names or missing links; events have TBA dates, both spellings of cancelled, price
//! ranges only sometimes, support acts (another catalog artist), and matinee + evening shows at
//! the same venue on one date; venues have stray whitespace in city names, missing address lines
//! and locations, and lat/long as strings; one artist has [`DEEP_PAGING_EVENTS`] events; albums
//! repeat tracks (same Spotify id) across albums; setlists have empty sets, tape songs, covers,
//! and same-date pairs.

mod rng;
mod words;

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::Serialize;

use rng::{Affine, Rng, base62_decode, base62_fixed, hash, hex_id, tag, unique_token};
use words::CITIES;

/// The seed `seed --demo` and the demo use.
pub const DEMO_SEED: u64 = 0x5eed_0dec_2026_0001;

/// How many hand-made awkward artists open every catalog (all present when `artists >= 8`).
pub const AWKWARD_ARTISTS: usize = 8;

/// The artist with [`DEEP_PAGING_EVENTS`] events (present when the catalog has more than 8).
pub const DEEP_PAGING_ARTIST: usize = 8;

/// Enough events to pass Ticketmaster's 1,000-result deep-paging cap more than twice.
pub const DEEP_PAGING_EVENTS: usize = 2_500;

/// Size of the shared venue pool (fixed, so venues do not depend on the artist count).
pub const VENUE_POOL: usize = 400;

/// Upper bound on the artist count: ids keep their realistic widths up to here.
pub const MAX_ARTISTS: usize = 1_000_000;

/// A support act is one of the headliner's this many predecessors, so which events an artist
/// appears in is decided by its neighbours, not by the size of the catalog.
const SUPPORT_WINDOW: usize = 4;

/// Ticketmaster's placeholder for an unknown public-sale start (research/apis.md 1.7).
pub const TM_UNKNOWN_SALE_START: &str = "1900-01-01T18:00:00Z";

/// The date events and setlists are placed around when no other anchor is given: upcoming
/// events fall after it, setlists before. The demo and the fake should anchor at today.
pub fn default_anchor() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or(NaiveDate::MIN)
}

// Kind tags keep each kind's hash streams and id spaces apart.
const K_ARTIST: u64 = tag("artist");
const K_NAME: u64 = tag("name");
const K_VENUE: u64 = tag("venue");
const K_EVENTS: u64 = tag("events");
const K_EVENT: u64 = tag("event");
const K_ALBUMS: u64 = tag("albums");
const K_ALBUM: u64 = tag("album");
const K_TRACK: u64 = tag("track");
const K_SETLISTS: u64 = tag("setlists");
const K_SETLIST: u64 = tag("setlist");
const K_SALT: u64 = tag("salt");

// Kinds of Spotify id, in the top bits of the encoded key (keys stay below 2^59).
const ID_ARTIST: u64 = 1;
const ID_ALBUM: u64 = 2;
const ID_TRACK: u64 = 3;

/// An image as Ticketmaster and Spotify list them (not necessarily widest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogImage {
    pub url: String,
    pub width: u32,
    pub height: u32,
    /// Ticketmaster's `ratio` (`16_9`, `3_2`, `4_3`); `None` on Spotify images.
    pub ratio: Option<String>,
}

/// How the pipeline can find an artist's Spotify id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpotifyResolution {
    /// `artists.spotify_id` is seeded.
    Row,
    /// Only the Ticketmaster attraction's `externalLinks.spotify`.
    TicketmasterLink,
    /// Only an exact-name Spotify search.
    NameSearch,
    /// Not on Spotify at all: the search finds nothing.
    None,
}

/// One artist of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogArtist {
    pub index: usize,
    pub name: String,
    /// `K8vZ917` + 4 base-62 characters (a permutation of the index: unique by construction).
    pub ticketmaster_id: String,
    /// 22 base-62 characters; `None`: not on Spotify, a search finds nothing.
    pub spotify_id: Option<String>,
    /// Uuid-formatted MusicBrainz id; `None`: setlist.fm knows no such artist.
    pub musicbrainz_id: Option<String>,
    /// The seed stores `spotify_id` in the artists row.
    pub row_spotify_id: bool,
    /// The Ticketmaster attraction's `externalLinks.spotify` carries the Spotify URL.
    pub tm_links_spotify: bool,
    /// The Ticketmaster attraction's `externalLinks.musicbrainz` carries the MBID.
    pub tm_links_musicbrainz: bool,
    /// Spotify genres (often empty).
    pub genres: Vec<String>,
    /// Ticketmaster classification genre name (`"Undefined"` is a real placeholder value).
    pub tm_genre: String,
    pub images: Vec<CatalogImage>,
    pub popularity: u8,
    pub followers: u64,
    /// Why a hand-made artist is awkward; `None` for generated ones.
    pub awkward: Option<String>,
}

impl CatalogArtist {
    pub fn spotify_resolution(&self) -> SpotifyResolution {
        match (&self.spotify_id, self.row_spotify_id, self.tm_links_spotify) {
            (None, _, _) => SpotifyResolution::None,
            (Some(_), true, _) => SpotifyResolution::Row,
            (Some(_), false, true) => SpotifyResolution::TicketmasterLink,
            (Some(_), false, false) => SpotifyResolution::NameSearch,
        }
    }

    /// `https://open.spotify.com/artist/<id>`, as Ticketmaster's `externalLinks.spotify` holds it.
    pub fn spotify_url(&self) -> Option<String> {
        self.spotify_id
            .as_ref()
            .map(|id| format!("https://open.spotify.com/artist/{id}"))
    }
}

/// A state (only US venues have one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogState {
    pub name: String,
    pub code: String,
}

/// Latitude and longitude as Ticketmaster sends them: decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogLocation {
    pub latitude: String,
    pub longitude: String,
}

/// A venue of the shared pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogVenue {
    pub index: usize,
    /// Ticketmaster venue id, 10 to 12 characters.
    pub ticketmaster_id: String,
    /// setlist.fm's id for the same venue (hex, 7 or 8 digits): the sources never share ids.
    pub setlistfm_id: String,
    pub name: String,
    /// As Ticketmaster sends it: sometimes with stray leading or trailing whitespace.
    pub city: String,
    pub state: Option<CatalogState>,
    pub country: String,
    pub country_code: String,
    /// Sometimes missing, with only `address_line2` present.
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub postal_code: Option<String>,
    /// IANA zone.
    pub timezone: String,
    /// Missing on about 1% of venues.
    pub location: Option<CatalogLocation>,
    pub currency: String,
    pub url: String,
}

/// Ticketmaster's `dates.status.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    Onsale,
    Offsale,
    /// The spelling live data uses.
    Cancelled,
    /// The swagger's spelling; rarer, but both must mean cancelled.
    Canceled,
    Postponed,
    Rescheduled,
}

impl EventStatus {
    pub fn code(self) -> &'static str {
        match self {
            EventStatus::Onsale => "onsale",
            EventStatus::Offsale => "offsale",
            EventStatus::Cancelled => "cancelled",
            EventStatus::Canceled => "canceled",
            EventStatus::Postponed => "postponed",
            EventStatus::Rescheduled => "rescheduled",
        }
    }

    pub fn is_cancelled(self) -> bool {
        matches!(self, EventStatus::Cancelled | EventStatus::Canceled)
    }
}

/// `priceRanges[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceRange {
    /// `standard` or `standard including fees`.
    pub kind: String,
    pub currency: String,
    pub min: f64,
    pub max: f64,
}

/// One Ticketmaster event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogEvent {
    /// 13 to 21 characters `[A-Za-z0-9]`.
    pub id: String,
    pub name: String,
    /// Catalog artist indices in billing order: the headliner first, then a support act.
    pub attractions: Vec<usize>,
    /// Index into [`Catalog::venues`].
    pub venue: usize,
    /// Venue-local date; `None` when the date is TBA.
    pub local_date: Option<NaiveDate>,
    /// Venue-local time; `None` when the date or time is TBA.
    pub local_time: Option<NaiveTime>,
    pub date_tba: bool,
    pub time_tba: bool,
    /// Whether `dates.timezone` is sent (often it is not; the venue's zone is the fallback).
    pub timezone_in_event: bool,
    pub status: EventStatus,
    pub price_ranges: Vec<PriceRange>,
    /// The public URL; it does not contain the id (never parse ids out of it).
    pub url: String,
    pub images: Vec<CatalogImage>,
    /// `sales.public.startDateTime`, sometimes [`TM_UNKNOWN_SALE_START`].
    pub public_sale_start: String,
}

/// Spotify's `release_date_precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatePrecision {
    Year,
    Month,
    Day,
}

/// One Spotify album of an artist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogAlbum {
    pub artist: usize,
    /// Position among the artist's albums.
    pub index: usize,
    pub id: String,
    pub name: String,
    /// `album`, `single` or `compilation`.
    pub album_type: String,
    /// `1981`, `1981-08` or `1981-08-14`, per `release_date_precision`.
    pub release_date: String,
    pub release_date_precision: DatePrecision,
    pub images: Vec<CatalogImage>,
    pub total_tracks: usize,
}

/// One track as an album lists it. The same track (same id) can be listed on two albums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogTrack {
    pub id: String,
    pub name: String,
    pub duration_ms: u32,
    /// Mostly `None`, as Spotify sends it since late 2024.
    pub preview_url: Option<String>,
    pub track_number: u32,
    pub disc_number: u32,
    pub explicit: bool,
    /// The album this listing is on.
    pub album_id: String,
}

/// An artist reference inside a setlist song (`cover`, `with`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetlistArtistRef {
    pub name: String,
    pub mbid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogSetlistSong {
    pub name: String,
    /// Notes such as `acoustic` or a segue `->`.
    pub info: Option<String>,
    /// Played from a recording (intro/outro): not performed.
    pub tape: bool,
    pub cover: Option<SetlistArtistRef>,
    pub with: Option<SetlistArtistRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogSet {
    /// `Set 1:` and the like, often absent.
    pub name: Option<String>,
    /// `Some(1)`, `Some(2)` on encore sets.
    pub encore: Option<u32>,
    pub songs: Vec<CatalogSetlistSong>,
}

/// One past setlist on setlist.fm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogSetlist {
    /// Hex, 7 or 8 digits.
    pub id: String,
    pub version_id: String,
    pub artist: usize,
    pub event_date: NaiveDate,
    /// `dd-MM-yyyy`, exactly as setlist.fm sends `eventDate`.
    pub event_date_text: String,
    /// `yyyy-MM-ddTHH:mm:ss.SSS+0000`.
    pub last_updated: String,
    /// Index into [`Catalog::venues`] (setlist.fm uses [`CatalogVenue::setlistfm_id`]).
    pub venue: usize,
    pub tour: Option<String>,
    /// Empty is common (`"sets": {"set": []}`).
    pub sets: Vec<CatalogSet>,
    pub info: Option<String>,
    pub url: String,
}

/// What the whole catalog implies for the database after every artist synced once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ExpectedCounts {
    pub artists: usize,
    /// Distinct venues referenced by events.
    pub venues: usize,
    /// Distinct events (shows).
    pub shows: usize,
    /// Distinct (Spotify track id, artist) pairs over every album of every artist.
    pub songs: usize,
    pub setlists: usize,
}

/// The catalog: the artist list and venue pool, plus on-demand content per artist.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    seed: u64,
    anchor: NaiveDate,
    artists: Vec<CatalogArtist>,
    venues: Vec<CatalogVenue>,
    tm_attraction_perm: Affine,
}

struct Awkward {
    name: &'static str,
    why: &'static str,
    spotify: SpotifyResolution,
    mbid: bool,
}

/// The hand-made artists at the head of every catalog.
const AWKWARD: [Awkward; AWKWARD_ARTISTS] = [
    Awkward {
        name: "Sigur Rós",
        why: "non-ASCII name, found only by an exact-name search",
        spotify: SpotifyResolution::NameSearch,
        mbid: true,
    },
    Awkward {
        name: "坂本龍一",
        why: "CJK name (double-width characters)",
        spotify: SpotifyResolution::TicketmasterLink,
        mbid: true,
    },
    Awkward {
        name: "Mötley Crüe & O'Brien's \"Big\" Band",
        why: "umlauts, an apostrophe, double quotes and an ampersand",
        spotify: SpotifyResolution::Row,
        mbid: true,
    },
    Awkward {
        name: "The Extraordinarily Long-Winded Philharmonic Society of Amateur Kazoo Players, Handbell Ringers, \
               Accordion Enthusiasts and Assorted Travelling Minstrels of Upper Wensleydale",
        why: "a name of more than 150 characters",
        spotify: SpotifyResolution::Row,
        mbid: true,
    },
    Awkward {
        name: "Evil\u{1b}[31mRed\u{7}Band",
        why: "control characters: an ANSI escape and a bell",
        spotify: SpotifyResolution::NameSearch,
        mbid: true,
    },
    Awkward {
        name: "🎸🔥 Emoji Riot 🔥🎸",
        why: "emoji (double-width, outside the BMP)",
        spotify: SpotifyResolution::TicketmasterLink,
        mbid: true,
    },
    Awkward {
        name: "The Unlisted",
        why: "no Spotify link at all: no id, no externalLinks, and a search finds nothing",
        spotify: SpotifyResolution::None,
        mbid: true,
    },
    Awkward {
        name: "Nameless Basement Tapes",
        why: "no MusicBrainz id: setlist.fm knows nothing of it",
        spotify: SpotifyResolution::Row,
        mbid: false,
    },
];

impl Catalog {
    /// A catalog of `artists` artists (at most [`MAX_ARTISTS`]), anchored at [`default_anchor`].
    pub fn new(seed: u64, artists: usize) -> Catalog {
        let n = artists.min(MAX_ARTISTS);
        let tm_attraction_perm = Affine::base62x4(seed, tag("tm-attraction"));
        let mut used = HashSet::with_capacity(n);
        let artists = (0..n)
            .map(|i| make_artist(seed, i, &tm_attraction_perm, &mut used))
            .collect();
        let venues = (0..VENUE_POOL).map(|v| make_venue(seed, v)).collect();
        Catalog {
            seed,
            anchor: default_anchor(),
            artists,
            venues,
            tm_attraction_perm,
        }
    }

    /// The same catalog with events after and setlists before `anchor` (e.g. today, so the
    /// demo's shows are upcoming). Only dates move; every id, name and count stays.
    pub fn with_anchor(mut self, anchor: NaiveDate) -> Catalog {
        self.anchor = anchor;
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn anchor(&self) -> NaiveDate {
        self.anchor
    }

    pub fn artists(&self) -> &[CatalogArtist] {
        &self.artists
    }

    pub fn artist(&self, index: usize) -> Option<&CatalogArtist> {
        self.artists.get(index)
    }

    pub fn len(&self) -> usize {
        self.artists.len()
    }

    pub fn is_empty(&self) -> bool {
        self.artists.is_empty()
    }

    /// Looks an artist up by Ticketmaster attraction id (decoded, no scan).
    pub fn artist_by_ticketmaster_id(&self, id: &str) -> Option<&CatalogArtist> {
        let code = id.strip_prefix(TM_ATTRACTION_PREFIX)?;
        if code.len() != 4 {
            return None;
        }
        let index = self.tm_attraction_perm.invert(base62_decode(code)?) as usize;
        self.artists.get(index).filter(|a| a.ticketmaster_id == id)
    }

    /// The shared venue pool; events and setlists refer to it by index.
    pub fn venues(&self) -> &[CatalogVenue] {
        &self.venues
    }

    pub fn venue(&self, index: usize) -> Option<&CatalogVenue> {
        self.venues.get(index)
    }

    /// Every event the artist's Ticketmaster attraction has: those it headlines and those it
    /// supports, ordered by local date and time (TBA dates last), then id.
    pub fn events(&self, artist: usize) -> Vec<CatalogEvent> {
        if artist >= self.artists.len() {
            return Vec::new();
        }
        let mut out = self.headlined_events(artist);
        let last = (artist + SUPPORT_WINDOW).min(self.artists.len() - 1);
        for headliner in artist + 1..=last {
            if headliner == DEEP_PAGING_ARTIST {
                continue; // its events never carry a support act
            }
            out.extend(
                self.headlined_events(headliner)
                    .into_iter()
                    .filter(|e| e.attractions.get(1) == Some(&artist)),
            );
        }
        out.sort_by(|a, b| {
            (a.local_date.is_none(), a.local_date, a.local_time, &a.id).cmp(&(
                b.local_date.is_none(),
                b.local_date,
                b.local_time,
                &b.id,
            ))
        });
        out
    }

    /// The events the artist headlines (first attraction). Every event of the catalog is the
    /// headlined event of exactly one artist.
    pub fn headlined_events(&self, artist: usize) -> Vec<CatalogEvent> {
        let Some(a) = self.artists.get(artist) else {
            return Vec::new();
        };
        let deep = artist == DEEP_PAGING_ARTIST;
        let count = if deep {
            DEEP_PAGING_EVENTS
        } else {
            let mut r = Rng::new(self.seed, &[K_EVENTS, artist as u64]);
            if r.chance(150) {
                0
            } else {
                r.range(1, 12) as usize
            }
        };
        let mut out = Vec::with_capacity(count + 2);
        for k in 0..count {
            let mut r = Rng::new(self.seed, &[K_EVENT, artist as u64, k as u64]);
            let venue = r.below(VENUE_POOL as u64) as usize;
            let offset = if deep {
                1 + r.below(1000)
            } else {
                1 + r.below(540)
            };
            let date_tba = !deep && r.chance(40);
            let time_tba = !date_tba && !deep && r.chance(60);
            let local_date = (!date_tba).then(|| self.anchor + Duration::days(offset as i64));
            let local_time = (!date_tba && !time_tba).then(|| {
                let (h, m) = *r.pick(&[
                    (19, 0),
                    (19, 30),
                    (20, 0),
                    (20, 0),
                    (20, 30),
                    (21, 0),
                    (18, 0),
                ]);
                NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
            });
            let status = match r.weighted(&[760, 70, 50, 20, 50, 50]) {
                0 => EventStatus::Onsale,
                1 => EventStatus::Offsale,
                2 => EventStatus::Cancelled,
                3 => EventStatus::Canceled,
                4 => EventStatus::Postponed,
                _ => EventStatus::Rescheduled,
            };
            let support = if !deep && artist > 0 && r.chance(150) {
                let back = 1 + r.below(artist.min(SUPPORT_WINDOW) as u64) as usize;
                Some(artist - back).filter(|j| *j != DEEP_PAGING_ARTIST)
            } else {
                None
            };
            let mut attractions = vec![artist];
            attractions.extend(support);
            let name = match support.and_then(|j| self.artists.get(j)) {
                Some(s) => format!("{} with {}", a.name, s.name),
                None if r.chance(200) => format!("{}: {}", a.name, tour_name(&mut r)),
                None => a.name.clone(),
            };
            let venue_currency = self.venues[venue].currency.clone();
            let price_ranges = if r.chance(400) {
                let min_cents = if r.chance(60) {
                    0
                } else {
                    r.range(15, 120) * 100 + 50 * r.below(2)
                };
                let max_cents = min_cents + r.range(10, 300) * 100;
                vec![PriceRange {
                    kind: if r.chance(700) {
                        "standard".into()
                    } else {
                        "standard including fees".into()
                    },
                    currency: venue_currency,
                    min: min_cents as f64 / 100.0,
                    max: max_cents as f64 / 100.0,
                }]
            } else {
                Vec::new()
            };
            let public_sale_start = if r.chance(180) {
                TM_UNKNOWN_SALE_START.to_string()
            } else {
                let d = self.anchor - Duration::days(r.range(1, 120) as i64);
                format!("{}T{:02}:00:00Z", d, r.range(14, 18))
            };
            let event = CatalogEvent {
                id: event_id(self.seed, artist, k, false, &mut r),
                name,
                attractions,
                venue,
                local_date,
                local_time,
                date_tba,
                time_tba,
                timezone_in_event: r.chance(800),
                status,
                price_ranges,
                url: format!(
                    "https://www.ticketmaster.com/event/{}",
                    hex_token(&mut r, 16)
                ),
                images: event_images(&mut r, &a.ticketmaster_id),
                public_sale_start,
            };
            // Matinee and evening at the same venue on one date: two events, one artist.
            let twin = !deep && local_time.is_some() && r.chance(50);
            if twin {
                let mut matinee = event.clone();
                matinee.id = event_id(self.seed, artist, k, true, &mut r);
                matinee.name = format!("{} (Matinee)", event.name);
                matinee.local_time = NaiveTime::from_hms_opt(14, 0, 0);
                matinee.url = format!(
                    "https://www.ticketmaster.com/event/{}",
                    hex_token(&mut r, 16)
                );
                out.push(matinee);
            }
            out.push(event);
        }
        out
    }

    /// The event's start in UTC (`dates.start.dateTime`), from its local date, time and the
    /// venue's zone; `None` when the date or time is TBA.
    pub fn event_utc(&self, event: &CatalogEvent) -> Option<DateTime<Utc>> {
        let tz: chrono_tz::Tz = self.venues.get(event.venue)?.timezone.parse().ok()?;
        let local = event.local_date?.and_time(event.local_time?);
        tz.from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The artist's Spotify albums (none when the artist is not on Spotify).
    pub fn albums(&self, artist: usize) -> Vec<CatalogAlbum> {
        let Some(a) = self.artists.get(artist) else {
            return Vec::new();
        };
        if a.spotify_id.is_none() {
            return Vec::new();
        }
        let mut r = Rng::new(self.seed, &[K_ALBUMS, artist as u64]);
        let count = if r.chance(80) {
            0
        } else {
            r.range(1, 6) as usize
        };
        (0..count).map(|k| self.album(artist, k)).collect()
    }

    /// Album `k` of an artist, independent of how many albums it has.
    fn album(&self, artist: usize, k: usize) -> CatalogAlbum {
        let mut r = Rng::new(self.seed, &[K_ALBUM, artist as u64, k as u64]);
        let kind = if k == 0 {
            r.weighted(&[75, 25, 0])
        } else {
            r.weighted(&[55, 25, 20])
        };
        let (album_type, total_tracks) = match kind {
            0 => ("album", r.range(6, 14)),
            1 => ("single", r.range(1, 3)),
            _ => ("compilation", r.range(8, 14)),
        };
        let year = r.range(1985, 2026) as i32;
        let month = r.range(1, 12) as u32;
        let day = r.range(1, 28) as u32;
        let (release_date, release_date_precision) = match r.weighted(&[75, 10, 15]) {
            0 => (format!("{year}-{month:02}-{day:02}"), DatePrecision::Day),
            1 => (format!("{year}-{month:02}"), DatePrecision::Month),
            _ => (format!("{year}"), DatePrecision::Year),
        };
        let id = spotify_id(
            self.seed,
            ID_ALBUM,
            ((artist as u64) << 8) | k as u64,
            &mut r,
        );
        let name = match album_type {
            "compilation" => format!("{} (Greatest Hits)", song_name(&mut r)),
            _ => song_name(&mut r),
        };
        let images = spotify_images(&mut r, "album", &id);
        CatalogAlbum {
            artist,
            index: k,
            id,
            name,
            album_type: album_type.into(),
            release_date,
            release_date_precision,
            images,
            total_tracks: total_tracks as usize,
        }
    }

    /// The tracks of an album. Later albums (compilations above all) repeat tracks of earlier
    /// ones with the same Spotify id, so songs must be deduplicated per artist.
    pub fn tracks(&self, album: &CatalogAlbum) -> Vec<CatalogTrack> {
        self.track_lists(album.artist, album.index + 1)
            .pop()
            .unwrap_or_default()
    }

    /// Every album of the artist with its tracks (cheaper than [`Catalog::tracks`] per album).
    pub fn albums_with_tracks(&self, artist: usize) -> Vec<(CatalogAlbum, Vec<CatalogTrack>)> {
        let albums = self.albums(artist);
        let lists = self.track_lists(artist, albums.len());
        albums.into_iter().zip(lists).collect()
    }

    /// Track lists of albums `0..count`, built in order because later albums reuse earlier tracks.
    fn track_lists(&self, artist: usize, count: usize) -> Vec<Vec<CatalogTrack>> {
        let mut lists: Vec<Vec<CatalogTrack>> = Vec::with_capacity(count);
        for k in 0..count {
            let album = self.album(artist, k);
            let mut r = Rng::new(self.seed, &[K_TRACK, artist as u64, k as u64]);
            let reuse_chance = if album.album_type == "compilation" {
                600
            } else {
                80
            };
            let mut out: Vec<CatalogTrack> = Vec::with_capacity(album.total_tracks);
            for t in 0..album.total_tracks {
                let reused = if k > 0 && r.chance(reuse_chance) {
                    let earlier = &lists[r.below(k as u64) as usize];
                    let pick = r.below(earlier.len() as u64) as usize;
                    earlier
                        .get(pick)
                        .filter(|p| out.iter().all(|o| o.id != p.id))
                        .cloned()
                } else {
                    None
                };
                let number = t as u32 + 1;
                let track = match reused {
                    Some(p) => CatalogTrack {
                        track_number: number,
                        disc_number: 1,
                        album_id: album.id.clone(),
                        ..p
                    },
                    None => {
                        let key = ((artist as u64) << 16) | ((k as u64) << 8) | t as u64;
                        let id = spotify_id(self.seed, ID_TRACK, key, &mut r);
                        let preview_url = r.chance(100).then(|| {
                            format!("https://p.scdn.co/mp3-preview/{}", hex_token(&mut r, 40))
                        });
                        CatalogTrack {
                            id,
                            name: song_name(&mut r),
                            duration_ms: r.range(90_000, 420_000) as u32,
                            preview_url,
                            track_number: number,
                            disc_number: 1,
                            explicit: r.chance(150),
                            album_id: album.id.clone(),
                        }
                    }
                };
                out.push(track);
            }
            lists.push(out);
        }
        lists
    }

    /// The artist's past setlists on setlist.fm, newest first (none without a MusicBrainz id).
    pub fn setlists(&self, artist: usize) -> Vec<CatalogSetlist> {
        let Some(a) = self.artists.get(artist) else {
            return Vec::new();
        };
        if a.musicbrainz_id.is_none() {
            return Vec::new();
        }
        let song_pool: Vec<String> = {
            let mut seen = HashSet::new();
            self.albums_with_tracks(artist)
                .into_iter()
                .flat_map(|(_, tracks)| tracks)
                .filter(|t| seen.insert(t.name.clone()))
                .map(|t| t.name)
                .collect()
        };
        let mut r = Rng::new(self.seed, &[K_SETLISTS, artist as u64]);
        let count = if r.chance(100) {
            0
        } else {
            r.range(1, 15) as usize
        };
        let salt = hash(self.seed, &[K_SALT, K_SETLIST]) as u32;
        let mut out = Vec::new();
        for s in 0..count {
            let mut r = Rng::new(self.seed, &[K_SETLIST, artist as u64, s as u64]);
            let date = self.anchor - Duration::days(r.range(3, 1500) as i64);
            let venue = r.below(VENUE_POOL as u64) as usize;
            let tour = r.chance(750).then(|| tour_name(&mut r));
            // Two sets on one date at one venue: a setlist there cannot be told apart.
            let twins = if r.chance(60) { 2 } else { 1 };
            for twin in 0..twins {
                let key = (artist as u32).wrapping_mul(64) + (s as u32) * 2 + twin;
                let id = hex_id(salt, key);
                let sets = self.setlist_sets(artist, &mut r, &song_pool);
                let last_updated = {
                    let d = date + Duration::days(r.range(1, 30) as i64);
                    format!(
                        "{}T{:02}:{:02}:{:02}.{:03}+0000",
                        d,
                        r.below(24),
                        r.below(60),
                        r.below(60),
                        r.below(1000)
                    )
                };
                let v = &self.venues[venue];
                out.push(CatalogSetlist {
                    url: format!(
                        "https://www.setlist.fm/setlist/{}/{}/{}-{}.html",
                        slug(&a.name),
                        date.year(),
                        slug(&v.name),
                        id
                    ),
                    version_id: format!("g{}", hex_token(&mut r, 7)),
                    id,
                    artist,
                    event_date: date,
                    event_date_text: date.format("%d-%m-%Y").to_string(),
                    last_updated,
                    venue,
                    tour: tour.clone(),
                    sets,
                    info: r
                        .chance(80)
                        .then(|| "Show started late due to weather.".to_string()),
                });
            }
        }
        out.sort_by(|a, b| {
            b.event_date
                .cmp(&a.event_date)
                .then_with(|| a.id.cmp(&b.id))
        });
        out
    }

    fn setlist_sets(&self, artist: usize, r: &mut Rng, pool: &[String]) -> Vec<CatalogSet> {
        if r.chance(150) {
            return Vec::new();
        }
        // Mostly the artist's own tracks (so setlist songs can link to songs), rarely twice.
        let mut played: HashSet<String> = HashSet::new();
        let mut song = |r: &mut Rng| -> String {
            if !pool.is_empty() && r.chance(850) {
                for _ in 0..4 {
                    let name = r.pick(pool);
                    if played.insert(name.clone()) {
                        return name.clone();
                    }
                }
            }
            song_name(r)
        };
        let cover_of = |r: &mut Rng| -> Option<SetlistArtistRef> {
            // An earlier artist, so covers do not depend on the catalog's size.
            let j = artist.checked_sub(1 + r.below(artist.min(50) as u64) as usize)?;
            let other = self.artists.get(j)?;
            Some(SetlistArtistRef {
                name: other.name.clone(),
                mbid: other.musicbrainz_id.clone()?,
            })
        };
        let mut sets = Vec::new();
        let main_sets = if r.chance(200) { 2 } else { 1 };
        let named = r.chance(400);
        for m in 0..main_sets {
            let mut songs = Vec::new();
            if m == 0 && r.chance(200) {
                songs.push(CatalogSetlistSong {
                    name: "Intro".into(),
                    info: None,
                    tape: true,
                    cover: None,
                    with: None,
                });
            }
            for _ in 0..r.range(5, 18) {
                let cover = if r.chance(80) { cover_of(r) } else { None };
                let with = if r.chance(30) { cover_of(r) } else { None };
                let info = match r.below(40) {
                    0 => Some("acoustic".to_string()),
                    1 => Some("->".to_string()),
                    _ => None,
                };
                // A cover is someone else's song, so never one of the artist's own tracks.
                let name = if cover.is_some() {
                    song_name(r)
                } else {
                    song(r)
                };
                songs.push(CatalogSetlistSong {
                    name,
                    info,
                    tape: false,
                    cover,
                    with,
                });
            }
            sets.push(CatalogSet {
                name: (named || main_sets > 1).then(|| format!("Set {}:", m + 1)),
                encore: None,
                songs,
            });
        }
        for e in 0..r.weighted(&[30, 55, 15]) {
            let mut songs: Vec<CatalogSetlistSong> = (0..r.range(1, 4))
                .map(|_| CatalogSetlistSong {
                    name: song(r),
                    info: None,
                    tape: false,
                    cover: None,
                    with: None,
                })
                .collect();
            if r.chance(100) {
                songs.push(CatalogSetlistSong {
                    name: "Outro".into(),
                    info: None,
                    tape: true,
                    cover: None,
                    with: None,
                });
            }
            sets.push(CatalogSet {
                name: None,
                encore: Some(e as u32 + 1),
                songs,
            });
        }
        sets
    }

    /// Counts the whole catalog implies for the database once every artist synced (all events,
    /// songs and setlists, no horizon applied).
    pub fn expected_counts(&self) -> ExpectedCounts {
        let mut venues = HashSet::new();
        let mut counts = ExpectedCounts {
            artists: self.artists.len(),
            ..Default::default()
        };
        for i in 0..self.artists.len() {
            let events = self.headlined_events(i);
            counts.shows += events.len();
            venues.extend(events.iter().map(|e| e.venue));
            let mut songs = HashSet::new();
            for (_, tracks) in self.albums_with_tracks(i) {
                songs.extend(tracks.into_iter().map(|t| t.id));
            }
            counts.songs += songs.len();
            counts.setlists += self.setlists(i).len();
        }
        counts.venues = venues.len();
        counts
    }
}

const TM_ATTRACTION_PREFIX: &str = "K8vZ917";

fn make_artist(
    seed: u64,
    index: usize,
    tm_perm: &Affine,
    used_names: &mut HashSet<String>,
) -> CatalogArtist {
    let i = index as u64;
    let mut r = Rng::new(seed, &[K_ARTIST, i]);
    let awkward = AWKWARD.get(index);
    let resolution = match awkward {
        Some(a) => a.spotify,
        None => match r.weighted(&[330, 330, 320, 20]) {
            0 => SpotifyResolution::Row,
            1 => SpotifyResolution::TicketmasterLink,
            2 => SpotifyResolution::NameSearch,
            _ => SpotifyResolution::None,
        },
    };
    let has_mbid = match awkward {
        Some(a) => a.mbid,
        None => r.chance(930),
    };
    let name = match awkward {
        Some(a) => a.name.to_string(),
        None => unique_name(seed, index, used_names),
    };
    used_names.insert(name_key(&name));

    let spotify_id =
        (resolution != SpotifyResolution::None).then(|| spotify_id(seed, ID_ARTIST, i, &mut r));
    let musicbrainz_id = has_mbid.then(|| mbid(seed, index, &mut r));
    let tm_links_spotify = match resolution {
        SpotifyResolution::Row => r.chance(500),
        SpotifyResolution::TicketmasterLink => true,
        SpotifyResolution::NameSearch | SpotifyResolution::None => false,
    };
    let tm_links_musicbrainz = has_mbid && (awkward.is_some() || r.chance(850));
    let genres = {
        let n = r.weighted(&[35, 35, 20, 10]);
        let mut g: Vec<String> = Vec::new();
        for _ in 0..n {
            let pick = r.pick(words::GENRES).to_string();
            if !g.contains(&pick) {
                g.push(pick);
            }
        }
        g
    };
    let tm_genre = r
        .pick(&[
            "Rock",
            "Pop",
            "Alternative",
            "Jazz",
            "Country",
            "Hip-Hop/Rap",
            "Electronic",
            "Undefined",
        ])
        .to_string();
    let ticketmaster_id = format!(
        "{TM_ATTRACTION_PREFIX}{}",
        base62_fixed(tm_perm.apply(i), 4)
    );
    let images = event_images(&mut r, &ticketmaster_id);
    CatalogArtist {
        index,
        name,
        ticketmaster_id,
        spotify_id,
        musicbrainz_id,
        row_spotify_id: resolution == SpotifyResolution::Row,
        tm_links_spotify,
        tm_links_musicbrainz,
        genres,
        tm_genre,
        images,
        popularity: r.below(101) as u8,
        followers: r.below(5_000_000),
        awkward: awkward.map(|a| a.why.to_string()),
    }
}

/// Names are unique case-insensitively, as an exact-name search compares them.
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A generated name, unique against all earlier artists (so it never depends on later ones):
/// a few fresh draws, then a roman numeral, then the index as a last resort.
fn unique_name(seed: u64, index: usize, used: &HashSet<String>) -> String {
    let mut r = Rng::new(seed, &[K_NAME, index as u64]);
    let mut first = None;
    for _ in 0..3 {
        let candidate = band_name(&mut r);
        if !used.contains(&name_key(&candidate)) {
            return candidate;
        }
        first.get_or_insert(candidate);
    }
    let base = first.unwrap_or_default();
    for numeral in words::ROMAN {
        let candidate = format!("{base} {numeral}");
        if !used.contains(&name_key(&candidate)) {
            return candidate;
        }
    }
    // '#' never occurs in a drawn name, and indices are distinct.
    format!("{base} #{index}")
}

fn band_name(r: &mut Rng) -> String {
    use words::*;
    match r.weighted(&[26, 14, 18, 16, 10, 10, 6]) {
        0 => format!("The {} {}", r.pick(ADJECTIVES), r.pick(PLURAL_NOUNS)),
        1 => format!("{} {}", r.pick(PLACES), r.pick(ENSEMBLES)),
        2 => format!("{} {}", r.pick(FIRST_NAMES), r.pick(LAST_NAMES)),
        3 => format!("{} {}", r.pick(ADJECTIVES), r.pick(NOUNS)),
        4 => format!(
            "{} {} & the {}",
            r.pick(FIRST_NAMES),
            r.pick(LAST_NAMES),
            r.pick(PLURAL_NOUNS)
        ),
        5 => format!("{} {}", r.pick(NOUNS), r.pick(PLURAL_NOUNS)),
        _ => format!("{} of {}", r.pick(PLURAL_NOUNS), r.pick(PLACES)),
    }
}

fn song_name(r: &mut Rng) -> String {
    use words::*;
    let pattern = *r.pick(SONG_PATTERNS);
    let a = *r.pick(ADJECTIVES);
    let n = *r.pick(SONG_WORDS);
    let n2 = *r.pick(SONG_WORDS);
    pattern
        .replace("{a}", a)
        .replace("{n2}", n2)
        .replace("{n}", n)
}

fn tour_name(r: &mut Rng) -> String {
    format!(
        "{} {} {}",
        r.pick(words::ADJECTIVES),
        r.pick(words::NOUNS),
        r.pick(words::TOUR_WORDS)
    )
}

/// 22 base-62 characters: 11 that encode `(kind, key)` bijectively, then 11 drawn ones.
fn spotify_id(seed: u64, kind: u64, key: u64, r: &mut Rng) -> String {
    let salt = hash(seed, &[K_SALT, tag("spotify")]);
    // The kind sits in the top bits so albums, tracks and artists never share a key.
    let kind_bits = kind << 59;
    format!("{}{}", unique_token(salt, kind_bits ^ key), r.base62(11))
}

/// 13 to 21 characters: 11 that encode `(artist, k, matinee)` bijectively, then 2 to 10 drawn.
fn event_id(seed: u64, artist: usize, k: usize, matinee: bool, r: &mut Rng) -> String {
    let salt = hash(seed, &[K_SALT, K_EVENT]);
    let key = ((artist as u64) << 21) | ((k as u64) << 1) | matinee as u64;
    let extra = r.range(2, 10) as usize;
    format!("{}{}", unique_token(salt, key), r.base62(extra))
}

/// A uuid-formatted MBID whose first 4 bytes are a permutation of the index (unique), the rest drawn.
fn mbid(seed: u64, index: usize, r: &mut Rng) -> String {
    let salt = hash(seed, &[K_SALT, tag("mbid")]) as u32;
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&rng::mix32(index as u32 ^ salt).to_be_bytes());
    bytes[4..12].copy_from_slice(&r.next_u64().to_be_bytes());
    bytes[12..].copy_from_slice(&(r.next_u64() as u32).to_be_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn hex_token(r: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|_| b"0123456789abcdef"[r.below(16) as usize] as char)
        .collect()
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(60).collect()
}

/// Ticketmaster-style images: several sizes and ratios, in an order where the widest is not
/// always first (the app wants the widest).
fn event_images(r: &mut Rng, owner: &str) -> Vec<CatalogImage> {
    const SIZES: [(u32, u32, &str); 6] = [
        (2048, 1152, "16_9"),
        (1024, 683, "3_2"),
        (640, 360, "16_9"),
        (305, 225, "4_3"),
        (205, 115, "16_9"),
        (100, 56, "16_9"),
    ];
    let n = r.range(2, 6) as usize;
    let start = r.below((SIZES.len() - n + 1) as u64) as usize;
    let mut images: Vec<CatalogImage> = SIZES[start..start + n]
        .iter()
        .map(|(w, h, ratio)| CatalogImage {
            url: format!(
                "https://s1.ticketm.net/dam/a/{}/{owner}_{ratio}_{w}x{h}.jpg",
                hex_token(r, 3)
            ),
            width: *w,
            height: *h,
            ratio: Some((*ratio).to_string()),
        })
        .collect();
    let rot = r.below(n as u64) as usize;
    images.rotate_left(rot);
    images
}

/// Spotify images: 640, 300, 64 (Spotify lists the widest first).
fn spotify_images(r: &mut Rng, kind: &str, id: &str) -> Vec<CatalogImage> {
    [640u32, 300, 64]
        .iter()
        .map(|w| CatalogImage {
            url: format!("https://i.scdn.co/image/{kind}/{id}/{}{w}", hex_token(r, 8)),
            width: *w,
            height: *w,
            ratio: None,
        })
        .collect()
}

fn make_venue(seed: u64, v: usize) -> CatalogVenue {
    let mut r = Rng::new(seed, &[K_VENUE, v as u64]);
    let city = r.pick(CITIES);
    let name = match r.below(3) {
        0 => format!(
            "The {} {}",
            r.pick(words::ADJECTIVES),
            r.pick(words::VENUE_KINDS)
        ),
        1 => format!("{} {}", r.pick(words::PLACES), r.pick(words::VENUE_KINDS)),
        _ => format!(
            "{} {}",
            r.pick(words::LAST_NAMES),
            r.pick(words::VENUE_KINDS)
        ),
    };
    let city_name = match r.below(100) {
        0..=3 => format!("{} ", city.name),
        4..=5 => format!(" {}", city.name),
        _ => city.name.to_string(),
    };
    let street = format!("{} {}", r.range(1, 2400), r.pick(words::STREETS));
    let (address_line1, address_line2) = if r.chance(60) {
        (None, Some(street))
    } else if r.chance(100) {
        (Some(street), Some(format!("Suite {}", r.range(100, 900))))
    } else {
        (Some(street), None)
    };
    let postal_code = r.chance(950).then(|| {
        city.postal
            .chars()
            .map(|c| match c {
                '#' => char::from(b'0' + r.below(10) as u8),
                'A' => char::from(b'A' + r.below(26) as u8),
                other => other,
            })
            .collect()
    });
    // Micro-degrees as integers, so the strings are identical on every machine.
    let location = (!r.chance(12)).then(|| {
        let lat = (city.lat * 1e6).round() as i64 + r.below(80_000) as i64 - 40_000;
        let long = (city.long * 1e6).round() as i64 + r.below(80_000) as i64 - 40_000;
        CatalogLocation {
            latitude: micro_degrees(lat),
            longitude: micro_degrees(long),
        }
    });
    let perm = Affine::base62x4(seed, tag("tm-venue"));
    let prefix = *r.pick(&["KovZpZ", "KovZ91", "Z698xZ", "ZFr9jZ"]);
    let extra = r.below(3) as usize;
    let ticketmaster_id = format!(
        "{prefix}{}{}",
        base62_fixed(perm.apply(v as u64 % perm.modulus()), 4),
        r.base62(extra)
    );
    let setlistfm_id = hex_id(hash(seed, &[K_SALT, K_VENUE]) as u32, v as u32);
    CatalogVenue {
        index: v,
        url: format!(
            "https://www.ticketmaster.com/venue/{}",
            r.range(10_000, 999_999)
        ),
        ticketmaster_id,
        setlistfm_id,
        name,
        city: city_name,
        state: city.state.map(|(name, code)| CatalogState {
            name: name.into(),
            code: code.into(),
        }),
        country: city.country.into(),
        country_code: city.country_code.into(),
        address_line1,
        address_line2,
        postal_code,
        timezone: city.timezone.into(),
        location,
        currency: city.currency.into(),
    }
}

fn micro_degrees(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:06}", a / 1_000_000, a % 1_000_000)
}

#[cfg(test)]
mod tests;
