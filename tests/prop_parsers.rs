//! Property tests of every parser (issue #12 item 5): the Ticketmaster, Spotify and setlist.fm
//! payloads and their mappings to rows, the providers' error classifiers, the console's filter
//! language and the `.env` parser. Inputs are arbitrary bytes, arbitrary JSON, payloads shaped
//! like the APIs' with wrong or extreme values in any field, and mutations of the fake's trap
//! fixtures. Nothing may panic, and what maps must hold the rows' invariants: ids kept exactly
//! (trimmed, never cut), names non-blank and within bounds, one malformed item failing alone.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use syncdeck::config::{EnvSnapshot, Source as EnvSource, parse_dotenv_line};
use syncdeck::fake::fixtures;
use syncdeck::providers::http::{ErrorResponse, HttpResponse, default_classify, retry_after};
use syncdeck::providers::setlistfm::{self, mapping as sfm, types as sft};
use syncdeck::providers::spotify::{self, mapping as spm, types as spt};
use syncdeck::providers::ticketmaster::{self, mapping as tmm, types as tmt};
use syncdeck::providers::{Provider, ProviderError};
use syncdeck::store::artists::ArtistSummary;
use syncdeck::store::sync_status::{Overall, PartStatus, Source, SyncStatus};
use syncdeck::store::upsert::ShowStatus;
use syncdeck::text::{MAX_ID_CHARS, MAX_NAME_CHARS, is_hidden};
use syncdeck::tui::filter::Query;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        // PROPTEST_CASES runs more (or fewer) cases locally.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases),
        // No regression files in the tree; a failure prints its minimal input.
        failure_persistence: None,
        max_global_rejects: 1 << 20,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Words the parsers give meaning to, and Unicode that case mapping and terminals trip on.
const WORDS: &[&str] = &[
    "",
    " ",
    "cancelled",
    "canceled",
    " CANCELED ",
    "onsale",
    "standard",
    "Undefined",
    "Other",
    "2027-06-03",
    "2026-01-01",
    " 2027-06-03 ",
    "1981",
    "1981-08",
    "1981-08-07",
    "1981-13-01",
    "-5",
    "03-06-2025",
    "31-02-2025",
    "29-02-2024",
    "3-6-2025",
    "https://open.spotify.com/artist/6yeL5iw4hXNZtd8T7FOoFU?si=x",
    "https://open.spotify.com/artist/short",
    "https://img/a.jpg",
    "-118.287804",
    "34.003101",
    "1e309",
    "NaN",
    "QUOTA_EXCEEDED",
    "invalid_client",
    "K8vZ917uP07",
    "98e4313e-dfb0-4084-805c-3e42ef9301d0",
    "Metallica",
    "metallica",
    "Sigur Rós",
    "Guns N’ Roses",
    "Guns N' Roses",
    "ΟΔΥΣΣΕΑΣ",
    "İstanbul",
    "Straße",
    "\u{202e}evil",
    "\u{1b}[31mred",
    "a\nb",
    "<html><body>Bad Gateway</body></html>",
    "true",
    "1",
    "0",
];

/// JSON keys of the three APIs' payloads, so arbitrary JSON meets real fields.
const KEYS: &[&str] = &[
    "id",
    "name",
    "url",
    "images",
    "width",
    "height",
    "dates",
    "start",
    "localDate",
    "dateTBA",
    "dateTBD",
    "timezone",
    "status",
    "code",
    "priceRanges",
    "type",
    "min",
    "max",
    "_embedded",
    "events",
    "venues",
    "attractions",
    "page",
    "totalElements",
    "location",
    "latitude",
    "longitude",
    "city",
    "state",
    "country",
    "address",
    "line1",
    "postalCode",
    "classifications",
    "genre",
    "subGenre",
    "externalLinks",
    "spotify",
    "musicbrainz",
    "upcomingEvents",
    "_total",
    "info",
    "fault",
    "faultstring",
    "detail",
    "errorcode",
    "errors",
    "external_urls",
    "followers",
    "total",
    "genres",
    "popularity",
    "items",
    "next",
    "album",
    "albums",
    "artists",
    "tracks",
    "release_date",
    "duration_ms",
    "preview_url",
    "error",
    "message",
    "reason",
    "error_description",
    "mbid",
    "eventDate",
    "sets",
    "set",
    "song",
    "encore",
    "tape",
    "cover",
    "tour",
    "venue",
    "artist",
    "setlist",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_string)
}

/// Text of every kind: printable, anything, meaningful words padded with whitespace, long.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "\\PC{0,12}",
        2 => any::<String>(),
        3 => word(),
        1 => ("[ \t]{0,2}", word(), "[ \t\n]{0,2}").prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        1 => ("[a-zA-Z0-9 ]{1,3}", 50usize..260).prop_map(|(w, n)| w.repeat(n)),
    ]
    .boxed()
}

fn number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![0.0, -0.0, -1.0, 1e300, -1e300, 0.5, 4_294_967_296.0])
            .prop_map(|f| json!(f)),
        (0u64..3000).prop_map(Value::from),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON value, with keys mostly the APIs' own.
fn any_json() -> BoxedStrategy<Value> {
    let key = prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_string), 1 => text()];
    leaf()
        .prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A field as an API would send it (`good`), absent, null, or any other JSON instead.
fn field(good: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        8 => good.prop_map(Some),
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => any_json().prop_map(Some),
    ]
    .boxed()
}

/// An id: mostly one a provider would send, sometimes any text.
fn ident() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => "[A-Za-z0-9]{1,22}".prop_map(Value::String),
        1 => s(),
    ]
    .boxed()
}

fn s() -> BoxedStrategy<Value> {
    text().prop_map(Value::String).boxed()
}

fn b() -> BoxedStrategy<Value> {
    any::<bool>().prop_map(Value::Bool).boxed()
}

fn list(item: BoxedStrategy<Value>, max: usize) -> BoxedStrategy<Value> {
    prop::collection::vec(item, 0..=max)
        .prop_map(Value::Array)
        .boxed()
}

/// An object of the named fields, each generated by [`field`].
fn obj(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let (names, strategies): (Vec<_>, Vec<_>) =
        fields.into_iter().map(|(k, v)| (k, field(v))).unzip();
    strategies
        .prop_map(move |values| {
            let mut m = Map::new();
            for (k, v) in names.iter().zip(values) {
                if let Some(v) = v {
                    m.insert(k.to_string(), v);
                }
            }
            Value::Object(m)
        })
        .boxed()
}

fn image() -> BoxedStrategy<Value> {
    obj(vec![
        ("url", s()),
        ("width", number()),
        ("height", number()),
    ])
}

fn named() -> BoxedStrategy<Value> {
    obj(vec![("name", s())])
}

fn tm_venue() -> BoxedStrategy<Value> {
    let coordinate = prop_oneof![s(), number()].boxed();
    obj(vec![
        ("id", ident()),
        ("name", s()),
        ("url", s()),
        ("postalCode", s()),
        ("timezone", s()),
        ("city", named()),
        ("state", named()),
        ("country", named()),
        (
            "address",
            obj(vec![("line1", s()), ("line2", s()), ("line3", s())]),
        ),
        (
            "location",
            obj(vec![
                ("latitude", coordinate.clone()),
                ("longitude", coordinate),
            ]),
        ),
        ("images", list(image(), 3)),
    ])
}

fn tm_attraction() -> BoxedStrategy<Value> {
    let link = obj(vec![("url", s()), ("id", ident())]);
    obj(vec![
        ("id", ident()),
        ("name", s()),
        ("url", s()),
        ("images", list(image(), 3)),
        (
            "classifications",
            list(obj(vec![("genre", named()), ("subGenre", named())]), 3),
        ),
        (
            "externalLinks",
            obj(vec![
                ("spotify", list(link.clone(), 2)),
                ("musicbrainz", list(link, 2)),
            ]),
        ),
        ("upcomingEvents", obj(vec![("_total", number())])),
    ])
}

fn tm_event() -> BoxedStrategy<Value> {
    let start = obj(vec![("localDate", s()), ("dateTBA", b()), ("dateTBD", b())]);
    let dates = obj(vec![
        ("start", start),
        ("timezone", s()),
        ("status", obj(vec![("code", s())])),
    ]);
    let price = obj(vec![("type", s()), ("min", number()), ("max", number())]);
    obj(vec![
        ("id", ident()),
        ("name", s()),
        ("url", s()),
        ("info", s()),
        ("images", list(image(), 3)),
        ("dates", dates),
        ("priceRanges", list(price, 3)),
        (
            "_embedded",
            obj(vec![
                ("venues", list(tm_venue(), 2)),
                ("attractions", list(tm_attraction(), 3)),
            ]),
        ),
    ])
}

fn sp_image() -> BoxedStrategy<Value> {
    image()
}

/// Genres from a small pool (so repeats happen), one of them longer than a name may be.
fn genre() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => prop::sample::select(vec!["rock", " rock ", "Rock", "", "  ", "metal"])
            .prop_map(|g| json!(g)),
        2 => Just(json!("progressive ".repeat(30))),
        1 => s(),
    ]
    .boxed()
}

fn sp_artist() -> BoxedStrategy<Value> {
    obj(vec![
        ("id", ident()),
        ("name", s()),
        ("external_urls", obj(vec![("spotify", s())])),
        ("followers", obj(vec![("total", number())])),
        ("genres", list(genre(), 4)),
        ("images", list(sp_image(), 3)),
        ("popularity", number()),
    ])
}

fn sp_album() -> BoxedStrategy<Value> {
    obj(vec![
        ("id", ident()),
        ("name", s()),
        ("album_type", s()),
        ("images", list(sp_image(), 3)),
        ("release_date", s()),
        ("release_date_precision", s()),
    ])
}

fn sp_track() -> BoxedStrategy<Value> {
    // Ids from a small pool, so a track appears on two albums.
    let id = prop_oneof![
        2 => prop::sample::select(vec!["t1", "t2", " t1 ", "t3"]).prop_map(|i| json!(i)),
        1 => s(),
    ]
    .boxed();
    obj(vec![
        ("id", id),
        ("name", s()),
        ("duration_ms", number()),
        ("preview_url", s()),
        ("popularity", number()),
        ("album", sp_album()),
    ])
}

fn sf_artist() -> BoxedStrategy<Value> {
    let mbid = prop_oneof![
        2 => prop::sample::select(vec!["m1", "M1", "m2", " m1 "]).prop_map(|i| json!(i)),
        1 => s(),
    ]
    .boxed();
    let name = prop_oneof![
        2 => prop::sample::select(vec!["Metallica", "metallica ", "METALLICA", "Other"])
            .prop_map(|n| json!(n)),
        1 => s(),
    ]
    .boxed();
    obj(vec![
        ("mbid", mbid),
        ("name", name),
        ("disambiguation", s()),
    ])
}

fn sf_setlist() -> BoxedStrategy<Value> {
    let song = obj(vec![
        ("name", s()),
        ("info", s()),
        ("tape", b()),
        ("cover", named()),
    ]);
    let encore = prop_oneof![number(), s(), b()].boxed();
    let set = obj(vec![
        ("name", s()),
        ("encore", encore),
        ("song", list(song, 5)),
    ]);
    obj(vec![
        ("id", ident()),
        ("eventDate", s()),
        ("artist", sf_artist()),
        ("tour", named()),
        ("sets", obj(vec![("set", list(set.clone(), 3))])),
        ("set", list(set, 2)),
    ])
}

// ---------------------------------------------------------------------------------------------
// What a mapped row must hold
// ---------------------------------------------------------------------------------------------

fn trimmed(input: &Option<String>) -> Option<&str> {
    input.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An id a provider may hand in: not blank, at most `MAX_ID_CHARS`, no space and nothing
/// hidden (controls, bidi and zero-width characters).
fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && !id.chars().any(|c| c.is_whitespace() || is_hidden(c))
}

/// An id on a row: the provider's id, trimmed, never cut or changed.
fn check_id(out: &str, input: &Option<String>) -> Result<(), TestCaseError> {
    prop_assert_eq!(Some(out), trimmed(input), "the id is kept exactly");
    prop_assert!(id_ok(out), "a row's id is a usable key: {:?}", out);
    Ok(())
}

/// A name on a row: the provider's, trimmed; a name past `MAX_NAME_CHARS` is cut with `…`.
fn check_name(out: &str, input: Option<&str>) -> Result<(), TestCaseError> {
    let input = input.map(str::trim).unwrap_or_default();
    prop_assert!(!out.trim().is_empty(), "a name is never blank");
    prop_assert!(
        out.chars().count() <= MAX_NAME_CHARS,
        "name too long: {} chars",
        out.chars().count()
    );
    if input.chars().count() <= MAX_NAME_CHARS {
        prop_assert_eq!(out, input);
    } else {
        let kept = out.strip_suffix('…').unwrap_or("\u{0}");
        prop_assert!(
            input.starts_with(kept),
            "a cut name is the name's start: {:?}",
            out
        );
    }
    Ok(())
}

fn check_opt_name(out: &Option<String>, input: &Option<String>) -> Result<(), TestCaseError> {
    match (out, trimmed(input)) {
        (Some(o), Some(i)) => check_name(o, Some(i)),
        (None, None) => Ok(()),
        (o, i) => Err(TestCaseError::fail(format!("name {o:?} from {i:?}"))),
    }
}

/// An image or page URL on a row is never blank.
fn check_url(out: &Option<String>) -> Result<(), TestCaseError> {
    if let Some(u) = out {
        prop_assert!(!u.trim().is_empty(), "a URL on a row is not blank: {:?}", u);
    }
    Ok(())
}

fn check_tm_venue(v: &tmt::Venue) -> Result<(), TestCaseError> {
    let row = tmm::venue_row(v);
    let usable = trimmed(&v.id).is_some_and(id_ok) && trimmed(&v.name).is_some();
    prop_assert_eq!(
        row.is_some(),
        usable,
        "a venue maps exactly when it has an id and a name"
    );
    if let Some(r) = row {
        check_id(&r.ticketmaster_id, &v.id)?;
        check_name(&r.name, v.name.as_deref())?;
        if let Some(lat) = r.latitude {
            prop_assert!(lat.is_finite() && (-90.0..=90.0).contains(&lat));
        }
        if let Some(long) = r.longitude {
            prop_assert!(long.is_finite() && (-180.0..=180.0).contains(&long));
        }
        let texts = [
            &r.city,
            &r.state,
            &r.country,
            &r.address,
            &r.postal_code,
            &r.timezone,
        ];
        for t in texts.into_iter().flatten() {
            prop_assert!(!t.trim().is_empty());
        }
        check_url(&r.url)?;
        check_url(&r.image_url)?;
    }
    Ok(())
}

fn check_tm_attraction(a: &tmt::Attraction) -> Result<(), TestCaseError> {
    let info = tmm::attraction_info(a);
    let usable = trimmed(&a.id).is_some_and(id_ok) && trimmed(&a.name).is_some();
    prop_assert_eq!(
        info.is_ok(),
        usable,
        "an attraction maps exactly when it has an id and a name"
    );
    if let Ok(i) = info {
        check_id(&i.ticketmaster_id, &a.id)?;
        check_name(&i.name, a.name.as_deref())?;
        let unique: HashSet<&String> = i.genres.iter().collect();
        prop_assert_eq!(
            unique.len(),
            i.genres.len(),
            "genres once each: {:?}",
            i.genres
        );
        for g in &i.genres {
            prop_assert!(!g.trim().is_empty() && g != "Undefined" && g != "Other");
            prop_assert!(g.chars().count() <= MAX_NAME_CHARS);
        }
        if let Some(sp) = &i.spotify_id {
            prop_assert!(sp.len() >= 10 && sp.len() <= MAX_ID_CHARS);
            prop_assert!(sp.chars().all(|c| c.is_ascii_alphanumeric()));
        }
        if let Some(mb) = &i.musicbrainz_id {
            prop_assert!(id_ok(mb), "musicbrainz id {:?}", mb);
        }
        check_url(&i.url)?;
        check_url(&i.image_url)?;
    }
    Ok(())
}

/// Maps one event as the engine does and checks the show row; returns a summary of what it
/// mapped to (for "one malformed item fails alone").
fn check_tm_event(raw: &Value, today: NaiveDate) -> Result<String, TestCaseError> {
    let e: tmt::Event = match serde_json::from_value(raw.clone()) {
        Ok(e) => e,
        Err(_) => return Ok("unreadable".into()),
    };
    let row = tmm::show_row(&e, today);
    let usable = trimmed(&e.id).is_some_and(id_ok) && trimmed(&e.name).is_some();
    prop_assert_eq!(
        row.is_ok(),
        usable,
        "an event maps exactly when it has an id and a name"
    );
    if let Ok(s) = &row {
        check_id(&s.ticketmaster_id, &e.id)?;
        check_name(&s.name, e.name.as_deref())?;
        for p in [s.min_price, s.max_price].into_iter().flatten() {
            prop_assert!(p.is_finite() && p >= 0.0, "price {}", p);
        }
        let start = e.dates.as_ref().and_then(|d| d.start.as_ref());
        let tba = start.is_some_and(|s| s.date_tba == Some(true) || s.date_tbd == Some(true));
        if tba {
            prop_assert_eq!(s.date, None, "TBA/TBD shows keep no date");
        }
        if let Some(d) = s.date {
            let raw = start
                .and_then(|s| s.local_date.as_deref())
                .unwrap_or_default();
            prop_assert_eq!(d.format("%Y-%m-%d").to_string(), raw.trim());
        }
        let code = e
            .dates
            .as_ref()
            .and_then(|d| d.status.as_ref())
            .and_then(|s| s.code.as_deref())
            .map(|c| c.trim().to_ascii_lowercase());
        let cancelled = matches!(code.as_deref(), Some("cancelled" | "canceled"));
        let expected = if cancelled {
            ShowStatus::Cancelled
        } else if s.date.is_some_and(|d| d < today) {
            ShowStatus::Completed
        } else {
            ShowStatus::Upcoming
        };
        prop_assert_eq!(s.status, expected);
        prop_assert_eq!(
            &s.venue_ticketmaster_id,
            &tmm::event_venue(&e)
                .and_then(tmm::venue_row)
                .map(|v| v.ticketmaster_id)
        );
        for a in &s.attraction_ticketmaster_ids {
            prop_assert!(id_ok(a), "attraction id {:?}", a);
        }
        check_url(&s.image_url)?;
        check_url(&s.url)?;
        check_url(&s.ticket_url)?;
    }
    if let Some(v) = tmm::event_venue(&e) {
        check_tm_venue(v)?;
    }
    for a in e.embedded.iter().flat_map(|em| &em.attractions) {
        check_tm_attraction(a)?;
    }
    if let Some(tz) = tmm::event_timezone(&e) {
        prop_assert!(!tz.trim().is_empty());
    }
    Ok(format!("{row:?}"))
}

fn check_sp_artist(a: &spt::Artist) -> Result<(), TestCaseError> {
    let f = spm::artist_fields(a);
    let usable = trimmed(&a.id).is_some_and(id_ok) && trimmed(&a.name).is_some();
    prop_assert_eq!(
        f.is_ok(),
        usable,
        "an artist maps exactly when it has an id and a name"
    );
    if let Ok(f) = f {
        check_id(&f.spotify_id, &a.id)?;
        check_name(&f.name, a.name.as_deref())?;
        let unique: HashSet<&String> = f.genres.iter().collect();
        prop_assert_eq!(
            unique.len(),
            f.genres.len(),
            "genres once each: {:?}",
            f.genres
        );
        for g in &f.genres {
            prop_assert!(!g.trim().is_empty() && g.chars().count() <= MAX_NAME_CHARS);
        }
        prop_assert!(f.followers.is_none_or(|n| n >= 0));
        prop_assert_eq!(f.popularity, a.popularity.map(i64::from));
        check_url(&f.spotify_url)?;
        check_url(&f.image_url)?;
    }
    Ok(())
}

fn check_song_row(
    album: &spt::SimplifiedAlbum,
    track: &spt::SimplifiedTrack,
) -> Result<(), TestCaseError> {
    let row = spm::song_row(album, track);
    let usable = trimmed(&track.id).is_some_and(id_ok) && trimmed(&track.name).is_some();
    prop_assert_eq!(
        row.is_ok(),
        usable,
        "a track maps exactly when it has an id and a name"
    );
    if let Ok(r) = row {
        check_id(&r.spotify_id, &track.id)?;
        check_name(&r.name, track.name.as_deref())?;
        check_opt_name(&r.album_name, &album.name)?;
        prop_assert!(r.duration_ms.is_none_or(|d| d >= 0));
        prop_assert_eq!(r.popularity, None, "album track lists carry no popularity");
        check_url(&r.preview_url)?;
        check_url(&r.album_image_url)?;
    }
    Ok(())
}

/// `song_rows`: each mappable track id once, with its first album; the rest reported.
fn check_song_rows(
    pairs: &[(spt::SimplifiedAlbum, spt::SimplifiedTrack)],
) -> Result<(), TestCaseError> {
    let (rows, errors) = spm::song_rows(pairs);
    let mut first: BTreeMap<String, syncdeck::store::upsert::SongRow> = BTreeMap::new();
    let mut failing = 0;
    for (album, track) in pairs {
        match spm::song_row(album, track) {
            Ok(r) => {
                first.entry(r.spotify_id.clone()).or_insert(r);
            }
            Err(_) => failing += 1,
        }
    }
    prop_assert_eq!(errors.len(), failing, "every unmappable track is reported");
    prop_assert_eq!(rows.len(), first.len(), "each track id once");
    for r in &rows {
        prop_assert_eq!(Some(r), first.get(&r.spotify_id), "the first album wins");
    }
    Ok(())
}

fn check_setlist(raw: &Value) -> Result<String, TestCaseError> {
    let s: sft::Setlist = match serde_json::from_value(raw.clone()) {
        Ok(s) => s,
        Err(_) => return Ok("unreadable".into()),
    };
    let mapped = sfm::setlist_rows(&s);
    let usable = trimmed(&s.id).is_some_and(id_ok) && sfm::setlist_date(&s).is_some();
    prop_assert_eq!(
        mapped.is_ok(),
        usable,
        "a setlist maps exactly when it has an id and a date"
    );
    if let Ok((row, songs)) = &mapped {
        check_id(&row.setlist_fm_id, &s.id)?;
        prop_assert_eq!(row.date, sfm::setlist_date(&s));
        let all: Vec<&sft::Song> = s.all_sets().iter().flat_map(|set| &set.song).collect();
        prop_assert_eq!(
            row.songs.as_array().map(Vec::len),
            Some(all.len()),
            "every song listed"
        );
        let performed = all
            .iter()
            .filter(|song| trimmed(&song.name).is_some() && song.tape != Some(true))
            .count();
        prop_assert_eq!(songs.len(), performed, "a row for each performed song");
        for (k, song) in songs.iter().enumerate() {
            prop_assert_eq!(
                song.position,
                k as i64 + 1,
                "positions run 1, 2, 3 across sets"
            );
            prop_assert!(
                !song.name.trim().is_empty() && song.name.chars().count() <= MAX_NAME_CHARS
            );
        }
        if let Some(t) = &row.tour_name {
            prop_assert!(!t.trim().is_empty());
        }
    }
    Ok(format!("{mapped:?}"))
}

// ---------------------------------------------------------------------------------------------
// Fixtures and their mutations
// ---------------------------------------------------------------------------------------------

static TM_EVENTS: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(fixtures::TM_EVENTS_JSON).expect("TM events fixture"));
static TM_ATTRACTIONS: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(fixtures::TM_ATTRACTIONS_JSON).expect("TM attractions fixture")
});
static SPOTIFY: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(fixtures::SPOTIFY_JSON).expect("Spotify fixture"));
static SETLISTFM: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(fixtures::SETLISTFM_JSON).expect("setlist.fm fixture"));

fn today() -> NaiveDate {
    fixtures::fixture_base_date()
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Replace(Value),
    Blank,
    Pad,
    Lengthen,
    Duplicate,
}

fn mutation() -> impl Strategy<Value = (prop::sample::Index, Mutation)> {
    let m = prop_oneof![
        3 => Just(Mutation::Remove),
        4 => any_json().prop_map(Mutation::Replace),
        2 => Just(Mutation::Blank),
        1 => Just(Mutation::Pad),
        1 => Just(Mutation::Lengthen),
        1 => Just(Mutation::Duplicate),
    ];
    (any::<prop::sample::Index>(), m)
}

/// Statuses the classifiers treat apart, and any other.
fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        2 => prop::sample::select(vec![400u16, 401, 403, 404, 408, 429, 500, 502, 503]),
        1 => 100u16..600,
    ]
}

/// Every node's JSON pointer.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                pointers(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Applies the mutations; returns the pointers they touched.
fn mutate(root: &mut Value, mutations: &[(prop::sample::Index, Mutation)]) -> Vec<String> {
    let mut touched = Vec::new();
    for (index, m) in mutations {
        let mut all = Vec::new();
        pointers(root, String::new(), &mut all);
        let at = all[index.index(all.len())].clone();
        touched.push(at.clone());
        let parent_at = at.rsplit_once('/').map(|(p, _)| p.to_string());
        match m {
            Mutation::Remove | Mutation::Duplicate => {
                let Some(parent_at) = parent_at else {
                    *root = Value::Null;
                    continue;
                };
                let last = at
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .replace("~1", "/")
                    .replace("~0", "~");
                match root.pointer_mut(&parent_at) {
                    Some(Value::Object(o)) => {
                        if matches!(m, Mutation::Remove) {
                            o.remove(&last);
                        }
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(i) = last.parse::<usize>() {
                            if matches!(m, Mutation::Remove) {
                                a.remove(i);
                            } else {
                                let copy = a[i].clone();
                                a.insert(i, copy);
                            }
                        }
                    }
                    _ => {}
                }
                // Indices after it moved: the whole parent counts as touched.
                touched.push(parent_at);
            }
            Mutation::Replace(v) => {
                if let Some(node) = root.pointer_mut(&at) {
                    *node = v.clone();
                }
            }
            Mutation::Blank | Mutation::Pad | Mutation::Lengthen => {
                if let Some(Value::String(s)) = root.pointer_mut(&at) {
                    *s = match m {
                        Mutation::Blank => " \t ".into(),
                        Mutation::Pad => format!("  {s}\n"),
                        _ => s.repeat(300 / s.len().max(1) + 1),
                    };
                }
            }
        }
    }
    touched
}

/// Whether item `index` of the array at `array` (or the array itself) was touched.
fn item_touched(touched: &[String], array: &str, index: usize) -> bool {
    let item = format!("{array}/{index}");
    touched.iter().any(|t| {
        array.starts_with(t.as_str())
            && (t.len() == array.len() || array.as_bytes()[t.len()] == b'/')
            || *t == item
            || t.starts_with(&format!("{item}/"))
    })
}

// ---------------------------------------------------------------------------------------------
// Properties: payloads
// ---------------------------------------------------------------------------------------------

/// The unchanged fixtures map completely, with their ids kept.
#[test]
fn the_trap_fixtures_map_with_their_invariants() {
    let run = || -> Result<(), TestCaseError> {
        let events = TM_EVENTS["events"].as_array().expect("events");
        let mut mapped = 0;
        for item in events {
            let summary = check_tm_event(&item["event"], today())?;
            prop_assert!(
                summary.starts_with("Ok("),
                "a fixture event maps: {}",
                summary
            );
            mapped += 1;
        }
        prop_assert!(mapped >= 10);
        for a in TM_ATTRACTIONS.as_array().expect("attractions") {
            let a: tmt::Attraction = serde_json::from_value(a.clone()).expect("attraction");
            check_tm_attraction(&a)?;
            prop_assert!(tmm::attraction_info(&a).is_ok());
        }
        for a in SPOTIFY["artists"].as_array().expect("artists") {
            let a: spt::Artist = serde_json::from_value(a.clone()).expect("artist");
            check_sp_artist(&a)?;
        }
        let pairs = spotify_pairs(&SPOTIFY);
        prop_assert!(pairs.len() >= 10);
        check_song_rows(&pairs)?;
        prop_assert!(spm::song_rows(&pairs).0.len() >= 10);
        let mut setlists = 0;
        for list in SETLISTFM["setlists"]
            .as_object()
            .expect("setlists")
            .values()
        {
            for s in list.as_array().expect("a list") {
                prop_assert!(
                    check_setlist(s)?.starts_with("Ok("),
                    "a fixture setlist maps"
                );
                setlists += 1;
            }
        }
        prop_assert!(setlists >= 5);
        Ok(())
    };
    run().unwrap();
}

/// The (album, track) pairs of every artist, the way the client walks albums then tracks.
fn spotify_pairs(root: &Value) -> Vec<(spt::SimplifiedAlbum, spt::SimplifiedTrack)> {
    let mut pairs = Vec::new();
    let albums = root.get("albums").and_then(Value::as_object);
    let tracks = root.get("tracks").and_then(Value::as_object);
    for list in albums.into_iter().flat_map(|m| m.values()) {
        for raw in list.as_array().into_iter().flatten() {
            let Ok(album) = serde_json::from_value::<spt::SimplifiedAlbum>(raw.clone()) else {
                continue;
            };
            let its = album
                .id
                .as_deref()
                .and_then(|id| tracks.and_then(|t| t.get(id)))
                .and_then(Value::as_array);
            for t in its.into_iter().flatten() {
                if let Ok(track) = serde_json::from_value::<spt::SimplifiedTrack>(t.clone()) {
                    pairs.push((album.clone(), track));
                }
            }
        }
    }
    pairs
}

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes as any payload: parsed or a `BadResponse` naming the provider, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic_a_payload_parser(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            any_json().prop_map(|v| v.to_string().into_bytes()),
            // Valid JSON cut anywhere.
            (any_json(), any::<prop::sample::Index>()).prop_map(|(v, i)| {
                let t = v.to_string().into_bytes();
                let n = i.index(t.len() + 1);
                t[..n].to_vec()
            }),
        ]
    ) {
        let r = HttpResponse {
            status: reqwest::StatusCode::OK,
            headers: reqwest::header::HeaderMap::new(),
            body: bytes::Bytes::from(bytes.clone()),
        };
        fn bad(e: ProviderError, p: Provider, len: usize) -> Result<(), TestCaseError> {
            match e {
                ProviderError::BadResponse { provider, what } => {
                    prop_assert_eq!(provider, p);
                    let counted = what.contains(&format!("{len} bytes"));
                prop_assert!(counted, "{}", what);
                }
                other => prop_assert!(false, "not a BadResponse: {:?}", other),
            }
            Ok(())
        }
        let (tm, sp, sf) = (Provider::Ticketmaster, Provider::Spotify, Provider::Setlistfm);
        let n = bytes.len();
        if let Err(e) = r.json::<tmt::SearchPage>(tm, "events page") { bad(e, tm, n)?; }
        if let Err(e) = r.json::<tmt::Attraction>(tm, "attraction") { bad(e, tm, n)?; }
        if let Err(e) = r.json::<tmt::Venue>(tm, "venue") { bad(e, tm, n)?; }
        if let Ok(page) = r.json::<tmt::SearchPage>(tm, "events page") {
            for raw in page.embedded.map(|e| e.events).unwrap_or_default() {
                check_tm_event(&raw, today())?;
            }
        }
        if let Err(e) = r.json::<spt::Artist>(sp, "artist") { bad(e, sp, n)?; }
        if let Err(e) = r.json::<spt::Paging>(sp, "albums") { bad(e, sp, n)?; }
        if let Err(e) = r.json::<spt::SearchAnswer>(sp, "search") { bad(e, sp, n)?; }
        if let Err(e) = r.json::<spt::TopTracks>(sp, "top tracks") { bad(e, sp, n)?; }
        if let Err(e) = r.json::<sft::ArtistsPage>(sf, "artist search") { bad(e, sf, n)?; }
        if let Err(e) = r.json::<sft::SetlistsPage>(sf, "setlists") { bad(e, sf, n)?; }
        if let Ok(page) = r.json::<sft::SetlistsPage>(sf, "setlists") {
            for raw in page.setlist {
                check_setlist(&raw)?;
            }
        }
    }

    /// Any JSON as any payload type, then through every mapping: no panic, invariants hold.
    #[test]
    fn arbitrary_json_maps_to_rows_that_hold_their_invariants(v in any_json()) {
        check_tm_event(&v, today())?;
        if let Ok(a) = serde_json::from_value::<tmt::Attraction>(v.clone()) { check_tm_attraction(&a)?; }
        if let Ok(venue) = serde_json::from_value::<tmt::Venue>(v.clone()) { check_tm_venue(&venue)?; }
        if let Ok(a) = serde_json::from_value::<spt::Artist>(v.clone()) { check_sp_artist(&a)?; }
        if let Ok(t) = serde_json::from_value::<spt::Track>(v.clone())
            && let Ok(r) = spm::song_row_from_track(&t)
        {
            prop_assert_eq!(r.popularity, t.popularity.map(i64::from));
        }
        if let Ok(album) = serde_json::from_value::<spt::SimplifiedAlbum>(v.clone()) {
            if let Ok(track) = serde_json::from_value::<spt::SimplifiedTrack>(v.clone()) {
                check_song_row(&album, &track)?;
            }
            let _ = spm::release_date(&album);
        }
        check_setlist(&v)?;
    }

    /// Ticketmaster events shaped like the API's, any field wrong or extreme.
    #[test]
    fn ticketmaster_events_map_or_fail_alone(
        events in prop::collection::vec(tm_event(), 1..5),
        other in tm_event(),
    ) {
        // A page as the client reads it: items kept raw, each mapped alone.
        let read = |events: &[Value]| -> Result<Vec<String>, TestCaseError> {
            let page = json!({"_embedded": {"events": events}, "page": {"totalElements": events.len()}});
            let r = HttpResponse {
                status: reqwest::StatusCode::OK,
                headers: reqwest::header::HeaderMap::new(),
                body: bytes::Bytes::from(page.to_string()),
            };
            let parsed: tmt::SearchPage = r.json(Provider::Ticketmaster, "events page")
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let raw = parsed.embedded.map(|e| e.events).unwrap_or_default();
            prop_assert_eq!(raw.len(), events.len(), "items stay raw: none lost to its neighbours");
            raw.iter().map(|e| check_tm_event(e, today())).collect()
        };
        let before = read(&events)?;
        // Replacing one event changes nothing about the others.
        let mut changed = events.clone();
        changed[0] = other;
        let after = read(&changed)?;
        prop_assert_eq!(&after[1..], &before[1..]);
    }

    /// Spotify artists, albums and tracks shaped like the API's.
    #[test]
    fn spotify_payloads_map_to_rows_that_hold_their_invariants(
        artist in sp_artist(),
        albums in prop::collection::vec((sp_album(), prop::collection::vec(sp_track(), 0..4)), 0..4),
    ) {
        if let Ok(a) = serde_json::from_value::<spt::Artist>(artist) {
            check_sp_artist(&a)?;
        }
        let mut pairs = Vec::new();
        for (album, tracks) in albums {
            let Ok(album) = serde_json::from_value::<spt::SimplifiedAlbum>(album) else { continue };
            for t in tracks {
                if let Ok(full) = serde_json::from_value::<spt::Track>(t.clone())
                    && let Ok(r) = spm::song_row_from_track(&full) {
                    prop_assert_eq!(r.popularity, full.popularity.map(i64::from));
                    check_id(&r.spotify_id, &full.id)?;
                }
                if let Ok(track) = serde_json::from_value::<spt::SimplifiedTrack>(t) {
                    check_song_row(&album, &track)?;
                    pairs.push((album.clone(), track));
                }
            }
        }
        check_song_rows(&pairs)?;
    }

    /// setlist.fm setlists shaped like the API's; an encore of any JSON never fails the set.
    #[test]
    fn setlists_map_to_rows_that_hold_their_invariants(setlist in sf_setlist(), encore in any_json()) {
        check_setlist(&setlist)?;
        let set = json!({"encore": encore, "song": [{"name": "One"}]});
        let parsed = serde_json::from_value::<sft::Set>(set);
        prop_assert!(parsed.is_ok(), "an unreadable encore is no encore: {:?}", parsed);
    }

    /// The trap fixtures, mutated anywhere: no panic, invariants hold, and items the mutations
    /// did not touch map exactly as before.
    #[test]
    fn mutated_fixtures_fail_only_where_they_were_mutated(
        mutations in prop::collection::vec(mutation(), 1..4),
        which in 0usize..4,
    ) {
        match which {
            0 => {
                let base: Vec<String> = TM_EVENTS["events"].as_array().unwrap().iter()
                    .map(|e| check_tm_event(&e["event"], today())).collect::<Result<_, _>>()?;
                let mut root = TM_EVENTS.clone();
                let touched = mutate(&mut root, &mutations);
                for (i, item) in root.get("events").and_then(Value::as_array).into_iter().flatten().enumerate() {
                    let now = check_tm_event(item.get("event").unwrap_or(&Value::Null), today())?;
                    if !item_touched(&touched, "/events", i) {
                        prop_assert_eq!(&now, &base[i], "event {} was not mutated", i);
                    }
                }
            }
            1 => {
                let mut root = TM_ATTRACTIONS.clone();
                mutate(&mut root, &mutations);
                for a in root.as_array().into_iter().flatten() {
                    if let Ok(a) = serde_json::from_value::<tmt::Attraction>(a.clone()) {
                        check_tm_attraction(&a)?;
                    }
                }
            }
            2 => {
                let mut root = SPOTIFY.clone();
                mutate(&mut root, &mutations);
                for a in root.get("artists").and_then(Value::as_array).into_iter().flatten() {
                    if let Ok(a) = serde_json::from_value::<spt::Artist>(a.clone()) {
                        check_sp_artist(&a)?;
                    }
                }
                let pairs = spotify_pairs(&root);
                for (album, track) in &pairs {
                    check_song_row(album, track)?;
                }
                check_song_rows(&pairs)?;
            }
            _ => {
                let mbid = fixtures::TRAP_MBID;
                let array = format!("/setlists/{mbid}");
                let base: Vec<String> = SETLISTFM["setlists"][mbid].as_array().unwrap().iter()
                    .map(check_setlist).collect::<Result<_, _>>()?;
                let mut root = SETLISTFM.clone();
                let touched = mutate(&mut root, &mutations);
                let lists = root.get("setlists").and_then(Value::as_object);
                for (m, list) in lists.into_iter().flatten() {
                    for (i, s) in list.as_array().into_iter().flatten().enumerate() {
                        let now = check_setlist(s)?;
                        if m == mbid && !item_touched(&touched, &array, i) {
                            prop_assert_eq!(&now, &base[i], "setlist {} was not mutated", i);
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: the mappings' small parsers
// ---------------------------------------------------------------------------------------------

/// A calendar date in the years the APIs use, and a little outside.
fn date() -> impl Strategy<Value = NaiveDate> {
    (1000i32..=9999, 1u32..=12, 1u32..=31)
        .prop_filter_map("a real date", |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
}

fn sp_candidates() -> impl Strategy<Value = Vec<spt::Artist>> {
    let name = prop_oneof![
        3 => prop::sample::select(vec!["Metallica", " metallica", "METALLICA ", "Guns N’ Roses", "Guns N' Roses", "Other"])
            .prop_map(str::to_string),
        1 => text(),
    ];
    let id = prop_oneof![
        3 => prop::sample::select(vec!["a1", "a2", " a1 ", "", "a 3"]).prop_map(str::to_string),
        1 => text(),
    ];
    prop::collection::vec((id, name), 0..5).prop_map(|v| {
        v.into_iter()
            .map(|(id, name)| spt::Artist {
                id: Some(id),
                name: Some(name),
                ..Default::default()
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// `eventDate` reads exactly `dd-MM-yyyy` and nothing else.
    #[test]
    fn setlist_dates_read_only_dd_mm_yyyy(raw in prop_oneof![text(), "[0-9 -]{0,12}"], d in date()) {
        if let Some(parsed) = sfm::parse_event_date(&raw) {
            prop_assert_eq!(parsed.format("%d-%m-%Y").to_string(), raw.trim());
        }
        prop_assert_eq!(sfm::parse_event_date(&d.format("%d-%m-%Y").to_string()), Some(d));
        prop_assert_eq!(sfm::parse_event_date(&d.format("%Y-%m-%d").to_string()), None);
    }

    /// A release date at its precision's first day; never a wrong year.
    #[test]
    fn release_dates_keep_their_precision(raw in prop_oneof![text(), "[0-9-]{0,12}"], d in date(), precision in 0usize..3) {
        let album = |r: &str| spt::SimplifiedAlbum { release_date: Some(r.to_string()), ..Default::default() };
        if let Some(parsed) = spm::release_date(&album(&raw)) {
            let year: i32 = raw.trim().split('-').next().unwrap_or_default().parse().unwrap_or(i32::MIN);
            prop_assert_eq!(parsed.year(), year);
        }
        let (text, expected) = match precision {
            0 => (d.format("%Y").to_string(), NaiveDate::from_ymd_opt(d.year(), 1, 1)),
            1 => (d.format("%Y-%m").to_string(), NaiveDate::from_ymd_opt(d.year(), d.month(), 1)),
            _ => (d.format("%Y-%m-%d").to_string(), Some(d)),
        };
        prop_assert_eq!(spm::release_date(&album(&text)), expected);
    }

    /// A Spotify id out of an artist URL is alphanumeric, 10 to `MAX_ID_CHARS` long, and there.
    #[test]
    fn spotify_ids_from_urls_are_real_ids(url in prop_oneof![
        text(),
        ("\\PC{0,8}", "[A-Za-z0-9]{0,80}", "\\PC{0,8}").prop_map(|(a, id, c)| format!("{a}/artist/{id}{c}")),
    ]) {
        if let Some(id) = tmm::spotify_id_from_url(&url) {
            prop_assert!((10..=MAX_ID_CHARS).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric()));
            let there = url.contains(&format!("/artist/{id}"));
            prop_assert!(there, "{:?} is in {:?}", id, url);
        }
    }

    /// Coordinates as strings or numbers: finite or nothing.
    #[test]
    fn coordinates_are_finite_or_nothing(raw in prop_oneof![text(), any::<f64>().prop_map(|f| f.to_string())], n in any::<f64>()) {
        prop_assert!(tmt::Coordinate::Text(raw).value().is_none_or(f64::is_finite));
        prop_assert!(tmt::Coordinate::Number(n).value().is_none_or(f64::is_finite));
    }

    /// The widest image with a usable URL wins, whatever the order.
    #[test]
    fn the_widest_image_wins(images in prop::collection::vec((prop::option::of(text()), prop::option::of(any::<u32>())), 0..6)) {
        let tm: Vec<tmt::Image> = images.iter().map(|(url, width)| tmt::Image { url: url.clone(), width: *width, ..Default::default() }).collect();
        let sp: Vec<spt::Image> = images.iter().map(|(url, width)| spt::Image { url: url.clone(), width: *width, height: None }).collect();
        for (picked, widths) in [
            (tmm::widest_image(&tm), tm.iter().map(|i| (i.url.clone(), i.width)).collect::<Vec<_>>()),
            (spm::widest_image(&sp), sp.iter().map(|i| (i.url.clone(), i.width)).collect::<Vec<_>>()),
        ] {
            check_url(&picked)?;
            let usable: Vec<&(Option<String>, Option<u32>)> = widths.iter()
                .filter(|(u, _)| u.as_deref().is_some_and(|u| !u.trim().is_empty() && u.chars().count() <= 2048))
                .collect();
            prop_assert_eq!(picked.is_some(), !usable.is_empty(), "an image is picked when one is usable");
            if let Some(url) = &picked {
                let widest = usable.iter().map(|(_, w)| w.unwrap_or(0)).max().unwrap_or(0);
                let is_widest = usable.iter().any(|(u, w)| u.as_ref() == Some(url) && w.unwrap_or(0) == widest);
                prop_assert!(is_widest, "{:?} is the widest usable image", url);
            }
        }
    }

    /// Name matching: normalisation is idempotent; a match is exact and unambiguous.
    #[test]
    fn name_matches_are_exact_and_unambiguous(name in prop_oneof![text(), Just("metallica".to_string())], candidates in sp_candidates()) {
        let n = spm::normalize_name(&name);
        prop_assert_eq!(spm::normalize_name(&n), n.clone(), "normalising twice changes nothing");
        prop_assert!(!n.contains("  ") && n.trim() == n);
        let matching: Vec<&spt::Artist> = candidates.iter()
            .filter(|a| !n.is_empty() && spm::normalize_name(a.name.as_deref().unwrap_or_default()) == n)
            .filter(|a| trimmed(&a.id).is_some_and(id_ok))
            .collect();
        let ids: HashSet<&str> = matching.iter().filter_map(|a| trimmed(&a.id)).collect();
        match spm::exact_match(&name, &candidates) {
            Ok(None) => prop_assert!(ids.is_empty()),
            Ok(Some(a)) => {
                prop_assert_eq!(ids.len(), 1);
                prop_assert_eq!(spm::normalize_name(a.name.as_deref().unwrap_or_default()), n);
            }
            Err(amb) => {
                prop_assert!(amb.ids.len() >= 2 && ids.len() >= 2);
                let distinct: HashSet<&String> = amb.ids.iter().collect();
                prop_assert_eq!(distinct.len(), amb.ids.len(), "each candidate once");
            }
        }
        let sf: Vec<sft::SfArtist> = candidates.iter()
            .map(|a| sft::SfArtist { mbid: a.id.clone(), name: a.name.clone(), ..Default::default() })
            .collect();
        let mbids: HashSet<String> = matching.iter().filter_map(|a| trimmed(&a.id)).map(str::to_ascii_lowercase).collect();
        match sfm::exact_artist(&name, &sf) {
            Ok(None) => prop_assert!(mbids.is_empty()),
            Ok(Some(_)) => prop_assert_eq!(mbids.len(), 1),
            Err(amb) => prop_assert!(amb.ids.len() >= 2 && mbids.len() >= 2),
        }
    }

    /// A setlist links to a show only when exactly one show is on its date.
    #[test]
    fn setlists_link_only_to_the_one_show_on_their_date(
        shows in prop::collection::vec((0u8..4, 0u32..3), 0..6),
        day in 0u32..3,
    ) {
        let base = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        let candidates: Vec<(u8, NaiveDate)> = shows.iter().map(|(id, d)| (*id, base + chrono::Days::new(u64::from(*d)))).collect();
        let date = base + chrono::Days::new(u64::from(day));
        let on_date: HashSet<u8> = candidates.iter().filter(|(_, d)| *d == date).map(|(id, _)| *id).collect();
        let linked = sfm::link_setlist_to_show(date, &candidates);
        prop_assert_eq!(linked, (on_date.len() == 1).then(|| *on_date.iter().next().unwrap()));
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: error classifiers
// ---------------------------------------------------------------------------------------------

fn error_body() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => text(),
        1 => any_json().prop_map(|v| v.to_string()),
        1 => (text(), text()).prop_map(|(f, c)| json!({"fault": {"faultstring": f, "detail": {"errorcode": c}}}).to_string()),
        1 => (text(), text()).prop_map(|(c, d)| json!({"errors": [{"code": c, "detail": d}]}).to_string()),
        1 => (any::<u16>(), text(), prop_oneof![word(), Just("QUOTA_EXCEEDED".to_string())])
            .prop_map(|(s, m, r)| json!({"error": {"status": s, "message": m, "reason": r}}).to_string()),
        1 => (prop_oneof![Just("invalid_client".to_string()), text()], text())
            .prop_map(|(e, d)| json!({"error": e, "error_description": d}).to_string()),
        1 => (any::<u16>(), text()).prop_map(|(c, m)| json!({"code": c, "message": m}).to_string()),
    ]
}

fn retry_header() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "[0-9]{1,20}",
        text(),
        Just("Wed, 21 Oct 2099 07:28:00 GMT".to_string()),
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_string()),
    ])
}

type Classify = fn(&ErrorResponse<'_>) -> ProviderError;

/// One line of visible text: what a terminal, a log line or `last_sync_error` can take as is.
fn one_visible_line(message: &str) -> bool {
    !message.chars().any(|c| c.is_control() || matches!(c as u32, 0x200e | 0x200f | 0x202a..=0x202e | 0x2066..=0x2069 | 0x2028 | 0x2029))
}

proptest! {
    #![proptest_config(config(512))]

    /// Every provider's classifier reads any refusal without a panic, names its provider, keeps
    /// the status, and says what went wrong in one visible line.
    #[test]
    fn error_classifiers_read_any_refusal(
        status in status(),
        body in error_body(),
        header in retry_header(),
    ) {
        let status = reqwest::StatusCode::from_u16(status).unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(h) = header.as_deref().and_then(|h| reqwest::header::HeaderValue::from_str(h).ok()) {
            headers.insert(reqwest::header::RETRY_AFTER, h);
        }
        let r = ErrorResponse { status, headers: &headers, body: &body };
        let code = status.as_u16();
        let classifiers: [(Provider, Classify); 4] = [
            (Provider::Ticketmaster, ticketmaster::classify),
            (Provider::Spotify, spotify::classify),
            (Provider::Spotify, spotify::classify_top_tracks),
            (Provider::Setlistfm, setlistfm::classify),
        ];
        let mut all: Vec<(Provider, ProviderError)> = classifiers.iter().map(|(p, f)| (*p, f(&r))).collect();
        all.push((Provider::Spotify, spotify::token::classify_token(&r)));
        for p in [Provider::Ticketmaster, Provider::Spotify, Provider::Setlistfm] {
            all.push((p, default_classify(p, &r)));
        }
        for (provider, e) in all {
            prop_assert_eq!(e.provider(), provider);
            prop_assert!(e.http_status().is_none_or(|s| s == code), "{:?} for HTTP {}", e, code);
            if code == 401 {
                prop_assert!(matches!(e, ProviderError::Auth { .. }), "401 is refused credentials: {:?}", e);
            }
            if (500..600).contains(&code) {
                prop_assert!(e.is_retryable() || matches!(e, ProviderError::Auth { .. }), "5xx: {:?}", e);
            }
            let shown = e.to_string();
            prop_assert!(one_visible_line(&shown), "{:?} shows as {:?}", provider, shown);
            prop_assert!(shown.chars().count() <= 600, "a short message: {} chars", shown.chars().count());
        }
    }

    /// `Retry-After` as seconds or an HTTP date; anything else is no wait.
    #[test]
    fn retry_after_reads_seconds_dates_or_nothing(value in prop_oneof!["[0-9]{1,20}", text()]) {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Ok(h) = reqwest::header::HeaderValue::from_str(&value) {
            headers.insert(reqwest::header::RETRY_AFTER, h);
            let wait = retry_after(&headers);
            if let Ok(secs) = value.trim().parse::<u64>() {
                prop_assert_eq!(wait, Some(std::time::Duration::from_secs(secs)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: the console's filter language
// ---------------------------------------------------------------------------------------------

fn part() -> impl Strategy<Value = PartStatus> {
    prop::sample::select(PartStatus::ALL.to_vec())
}

fn artist() -> impl Strategy<Value = ArtistSummary> {
    let name = prop_oneof![3 => word(), 3 => text(), 1 => "[A-Za-zΑ-Ωα-ωİıßſ ]{1,12}"];
    (
        name,
        "K8[A-Za-z0-9]{0,8}",
        prop::array::uniform3(part()),
        any::<bool>(),
        prop::option::of(prop_oneof![Just(String::new()), text()]),
    )
        .prop_map(|(name, tm, parts, synced, error)| {
            let mut status = SyncStatus::default();
            for (i, s) in Source::ALL.into_iter().enumerate() {
                status.set(s, parts[i]);
            }
            ArtistSummary {
                id: "id".into(),
                name,
                ticketmaster_id: tm,
                spotify_id: None,
                setlist_fm_mbid: None,
                sync_status: status,
                last_sync: synced.then(chrono::Utc::now),
                last_ticketmaster_sync: None,
                last_spotify_sync: None,
                last_sync_error: error,
                upcoming_shows_count: 0,
                songs_count: 0,
            }
        })
}

/// One term of the language (no whitespace, not negated), valid or not.
fn term() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "status",
        "tm",
        "ticketmaster",
        "sp",
        "spotify",
        "sf",
        "setlistfm",
        "setlist.fm",
        "setlist",
        "name",
        "colour",
        "STATUS",
    ]);
    let value = prop::sample::select(vec![
        "success", "ok", "error", "failed", "syncing", "pending", "weird", "ERROR", "",
    ]);
    prop_oneof![
        2 => (field, value).prop_map(|(f, v)| format!("{f}:{v}")),
        1 => prop::sample::select(vec!["never-synced", "never", "has-error", "has:error", "NEVER"])
            .prop_map(str::to_string),
        2 => "[^\\s!]\\S{0,8}",
    ]
}

fn overall_of(word: &str) -> Option<Overall> {
    match word {
        "success" | "ok" => Some(Overall::Success),
        "error" | "failed" => Some(Overall::Error),
        "syncing" => Some(Overall::Syncing),
        "pending" => Some(Overall::Pending),
        _ => None,
    }
}

/// A word the filter skips: only `|` separators (empty alternatives), after one `!`.
fn holds_nothing(word: &str) -> bool {
    word.strip_prefix('!')
        .unwrap_or(word)
        .chars()
        .all(|c| c == '|')
}

proptest! {
    #![proptest_config(config(512))]

    /// Any text parses or says which term is wrong; never a panic.
    #[test]
    fn any_filter_text_parses_or_names_the_bad_term(text in prop_oneof![text(), "\\PC{0,30}"], a in artist()) {
        match Query::parse(&text) {
            Ok(q) => {
                let _ = q.matches(&a);
                prop_assert_eq!(q.is_empty(), text.split_whitespace().all(holds_nothing));
            }
            Err(e) => prop_assert!(e.contains('`') && !e.is_empty(), "{}", e),
        }
    }

    /// Terms are independent of spacing and ASCII case, hold all together, and `!` negates.
    #[test]
    fn terms_combine_negate_and_ignore_case_and_spacing(
        terms in prop::collection::vec(term(), 0..4),
        gaps in prop::collection::vec("[ \t\n]{1,3}", 4),
        a in artist(),
    ) {
        let plain = terms.join(" ");
        let spaced: String = terms.iter().zip(&gaps).map(|(t, g)| format!("{g}{t}")).collect();
        let parsed = Query::parse(&plain);
        // The same query, or an error for both (an error quotes the term as typed).
        for (other, what) in [(Query::parse(&spaced), "spacing"), (Query::parse(&plain.to_ascii_uppercase()), "ASCII case")] {
            match (&parsed, &other) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{} changes nothing", what),
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "{} changes whether {:?} parses", what, plain),
            }
        }
        let singles: Vec<Result<Query, String>> = terms.iter().map(|t| Query::parse(t)).collect();
        match parsed {
            Ok(q) => {
                let each: Vec<bool> = singles.iter().map(|s| s.as_ref().map(|s| s.matches(&a))).collect::<Result<_, _>>()
                    .map_err(|e| TestCaseError::fail(format!("a term of a valid query fails alone: {e}")))?;
                prop_assert_eq!(q.matches(&a), each.iter().all(|m| *m), "every term must hold");
                for (t, m) in terms.iter().zip(&each).filter(|(t, _)| !holds_nothing(t)) {
                    let negated = Query::parse(&format!("!{t}")).map_err(TestCaseError::fail)?;
                    prop_assert_eq!(negated.matches(&a), !m, "!{} negates {}", t, t);
                }
            }
            Err(_) => prop_assert!(singles.iter().any(Result::is_err), "an error comes from one term"),
        }
    }

    /// Each kind of term tests what it says.
    #[test]
    fn terms_test_what_they_say(a in artist(), source in 0usize..3, p in part(), o in prop::sample::select(vec!["success", "ok", "error", "failed", "syncing", "pending"])) {
        let key = ["tm", "spotify", "setlistfm"][source];
        let q = Query::parse(&format!("{key}:{}", p.as_str())).unwrap();
        prop_assert_eq!(q.matches(&a), a.sync_status.get(Source::ALL[source]) == p);
        let q = Query::parse(&format!("status:{o}")).unwrap();
        prop_assert_eq!(q.matches(&a), Some(a.overall()) == overall_of(o));
        prop_assert_eq!(Query::parse("never-synced").unwrap().matches(&a), a.last_sync.is_none());
        prop_assert_eq!(
            Query::parse("has-error").unwrap().matches(&a),
            a.last_sync_error.as_deref().is_some_and(|e| !e.is_empty())
        );
        prop_assert!(Query::parse("").unwrap().matches(&a));
    }

    /// Free text finds an artist by any piece of its name or Ticketmaster id, in any case.
    #[test]
    fn free_text_finds_any_piece_of_a_name_in_any_case(
        a in artist(),
        start in any::<prop::sample::Index>(),
        len in 1usize..6,
        case in 0u8..3,
        on_id in any::<bool>(),
    ) {
        let source = if on_id { &a.ticketmaster_id } else { &a.name };
        let chars: Vec<char> = source.chars().collect();
        prop_assume!(!chars.is_empty());
        let from = start.index(chars.len());
        let piece: String = chars[from..(from + len).min(chars.len())].iter().collect();
        // A piece the language reads as something else is not free text.
        // (`!` negates, `~` asks for a fuzzy name: `name:~x` is the literal.)
        prop_assume!(
            !piece.chars().any(char::is_whitespace)
                && !piece.starts_with('!')
                && !piece.starts_with('~')
                && !piece.contains(':')
        );
        let lower = piece.to_lowercase();
        prop_assume!(!["never-synced", "never", "has-error"].contains(&lower.as_str()));
        let typed = match case {
            0 => piece.clone(),
            1 => piece.to_lowercase(),
            _ => piece.to_uppercase(),
        };
        // Only a true case variant: `ſ` upper-cases to `S`, which is another letter's.
        prop_assume!(typed.to_lowercase() == lower);
        prop_assume!(!typed.chars().any(char::is_whitespace) && !typed.contains(':'));
        let q = Query::parse(&typed).map_err(TestCaseError::fail)?;
        prop_assert!(q.matches(&a), "{:?} finds {:?} (searched as {:?})", piece, source, typed);
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: the `.env` parser
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Quote {
    None,
    Double,
    Single,
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    value: String,
    quote: Quote,
    export: bool,
    before_eq: String,
    after_eq: String,
    comment: bool,
}

impl Entry {
    fn line(&self) -> String {
        let (q, tail) = match self.quote {
            Quote::None => ("", if self.comment { " # a note" } else { "" }),
            Quote::Double => ("\"", if self.comment { "  # a \"note\"" } else { " " }),
            Quote::Single => ("'", if self.comment { " #note" } else { "" }),
        };
        format!(
            "{}{}{}={}{q}{}{q}{tail}",
            if self.export { "export " } else { "" },
            self.key,
            self.before_eq,
            self.after_eq,
            self.value,
        )
    }
}

/// A `.env` entry and its value as the file means it.
fn entry() -> impl Strategy<Value = Entry> {
    let value = prop_oneof![3 => "\\PC{0,16}", 1 => word(), 1 => "[a-z =#'\"]{0,10}"];
    (
        "PT_[A-Z0-9_]{1,6}",
        value,
        0..3u8,
        any::<bool>(),
        "[ \t]{0,2}",
        "[ \t]{0,2}",
        any::<bool>(),
    )
        .prop_filter_map(
            "a value this quoting can hold",
            |(key, value, q, export, before_eq, after_eq, comment)| {
                if value.contains(['\n', '\r']) {
                    return None;
                }
                let quote = match q {
                    0 => {
                        // Unquoted: trimmed, no ` #` (a comment), not starting with a quote.
                        let unreadable = value.trim() != value
                            || value.contains(" #")
                            || value.starts_with(['"', '\''])
                            || (value.is_empty() && comment);
                        if unreadable {
                            return None;
                        }
                        Quote::None
                    }
                    1 if !value.contains('"') => Quote::Double,
                    2 if !value.contains('\'') => Quote::Single,
                    _ => return None,
                };
                Some(Entry {
                    key,
                    value,
                    quote,
                    export,
                    before_eq,
                    after_eq,
                    comment,
                })
            },
        )
}

proptest! {
    #![proptest_config(config(512))]

    /// Any line: a pair with a valid name, nothing, or an error; never a panic.
    #[test]
    fn any_dotenv_line_parses_or_fails_cleanly(line in prop_oneof![text(), "\\PC{0,30}", "[A-Za-z_ =\"'#]{0,20}"]) {
        match parse_dotenv_line(&line) {
            Ok(Some((key, _))) => {
                prop_assert!(!key.is_empty() && !key.starts_with(|c: char| c.is_ascii_digit()));
                prop_assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            }
            Ok(None) => prop_assert!(line.trim().is_empty() || line.trim().starts_with('#')),
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }

    /// An error about a malformed line never repeats its value (it may be a key).
    #[test]
    fn dotenv_errors_never_echo_the_value(
        key in "[a-z0-9_ .-]{0,8}",
        quote in prop::sample::select(vec!["", "\"", "'"]),
        secret in "Q[A-Z0-9]{11,24}",
        tail in "[a-z0-9 #\"']{0,6}",
    ) {
        let line = format!("{key}={quote}{secret}{tail}");
        if let Err(e) = parse_dotenv_line(&line) {
            prop_assert!(!e.contains(&secret), "{:?} echoes the value", e);
        }
    }

    /// A generated file (quoting, `export`, comments, blank lines, repeats) reads back as the
    /// map it means: the last value of each name, from `.env`.
    #[test]
    fn a_generated_dotenv_file_round_trips(
        entries in prop::collection::vec(entry(), 0..8),
        noise in prop::collection::vec(prop::sample::select(vec!["", "   ", "# a comment", "  # KEY=not", "\t"]), 8),
    ) {
        let mut text = String::new();
        let mut expected: BTreeMap<String, String> = BTreeMap::new();
        for (e, n) in entries.iter().zip(&noise) {
            text.push_str(n);
            text.push('\n');
            text.push_str(&e.line());
            text.push('\n');
            expected.insert(e.key.clone(), e.value.clone());
        }
        for e in &entries {
            let parsed = parse_dotenv_line(&e.line()).map_err(TestCaseError::fail)?;
            prop_assert_eq!(parsed, Some((e.key.clone(), e.value.clone())), "line {:?}", e.line());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, &text).unwrap();
        let snapshot = EnvSnapshot::load(Some(&path)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (k, v) in &expected {
            prop_assert_eq!(snapshot.get(k), Some((v.as_str(), EnvSource::DotEnv)), "{} in\n{}", k, text);
        }
    }
}
