//! setlist.fm payloads → the app's rows: a setlist row (its venue-local date read strictly as
//! `dd-MM-yyyy`, the songs as a JSON array) and one row per performed song, numbered across
//! all sets; tape songs are listed in the JSON but were not performed, so they get no row and
//! no position. Linking to a show happens by local date, and only when exactly one show fits.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde_json::json;

use super::types::{Setlist, SfArtist};
use crate::providers::error::Provider;
use crate::providers::mapping::{MapError, clean, clean_id, clean_name, require_id};
use crate::providers::spotify::mapping::{Ambiguous, normalize_name};
use crate::rows::{SetlistRow, SetlistSongRow};

/// `eventDate`: exactly `dd-MM-yyyy`. A generic parser would read `03-06-2025` as March 6 or
/// fail on it; this reads June 3 or nothing.
pub fn parse_event_date(s: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = s.trim().split('-').collect();
    let [d, m, y] = parts.as_slice() else {
        return None;
    };
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    if !(digits(d, 2) && digits(m, 2) && digits(y, 4)) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// The setlist's date, when it has a readable one.
pub fn setlist_date(s: &Setlist) -> Option<NaiveDate> {
    s.event_date.as_deref().and_then(parse_event_date)
}

/// The setlist row (no show or venue yet: the engine links them) and its performed songs.
pub fn setlist_rows(s: &Setlist) -> Result<(SetlistRow, Vec<SetlistSongRow>), MapError> {
    let id = require_id("setlist id", &s.id, "setlist without an id")?;
    let date = setlist_date(s).ok_or_else(|| {
        MapError(format!(
            "setlist {id}: event date {:?} is not dd-MM-yyyy",
            s.event_date.as_deref().unwrap_or("")
        ))
    })?;
    let mut songs_json = Vec::new();
    let mut rows = Vec::new();
    for set in s.all_sets() {
        let is_encore = set.encore.is_some_and(|n| n > 0);
        for song in &set.song {
            let name = clean_name(&song.name);
            let tape = song.tape == Some(true);
            // A nameless entry is an unidentified song: listed, but no song row can hold it.
            let position = match (&name, tape) {
                (Some(name), false) => {
                    let position = rows.len() as i64 + 1;
                    rows.push(SetlistSongRow {
                        position,
                        name: name.clone(),
                        is_encore,
                        song_id: None,
                    });
                    Some(position)
                }
                _ => None,
            };
            songs_json.push(json!({
                "name": name.unwrap_or_default(),
                "position": position,
                "encore": is_encore,
                "info": clean(&song.info),
                "cover": song.cover.as_ref().and_then(|c| clean_name(&c.name)),
                "tape": tape,
            }));
        }
    }
    let row = SetlistRow {
        setlist_fm_id: id,
        date: Some(date),
        tour_name: s.tour.as_ref().and_then(|t| clean_name(&t.name)),
        show_id: None,
        venue_id: None,
        songs: serde_json::Value::Array(songs_json),
    };
    Ok((row, rows))
}

/// The show a setlist belongs to: the one candidate on the setlist's venue-local date. None
/// when no show or several (matinee and evening) are on that date: never a guess.
pub fn link_setlist_to_show<T: Clone + PartialEq>(
    setlist_date: NaiveDate,
    candidate_shows: &[(T, NaiveDate)],
) -> Option<T> {
    let mut on_date: Vec<&T> = Vec::new();
    for (id, date) in candidate_shows {
        if *date == setlist_date && !on_date.contains(&id) {
            on_date.push(id);
        }
    }
    match on_date.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

/// The one search result named exactly `name` (case and spacing aside); several of that name
/// (setlist.fm has many namesakes, told apart only by `disambiguation`) are [`Ambiguous`].
pub fn exact_artist(name: &str, candidates: &[SfArtist]) -> Result<Option<SfArtist>, Ambiguous> {
    let wanted = normalize_name(name);
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut seen = HashSet::new();
    let matches: Vec<&SfArtist> = candidates
        .iter()
        .filter(|a| {
            a.name
                .as_deref()
                .is_some_and(|n| normalize_name(n) == wanted)
        })
        .filter(|a| valid_mbid(a).is_some_and(|m| seen.insert(m.to_ascii_lowercase())))
        .collect();
    match matches.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).clone())),
        many => Err(Ambiguous {
            provider: Provider::Setlistfm,
            name: name.trim().to_string(),
            ids: many.iter().filter_map(|a| valid_mbid(a)).collect(),
        }),
    }
}

/// The candidate's MusicBrainz id, when it is one (an over-long or malformed id never matches).
fn valid_mbid(a: &SfArtist) -> Option<String> {
    clean_id("MusicBrainz id", &a.mbid).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setlist(v: serde_json::Value) -> Setlist {
        serde_json::from_value(v).unwrap()
    }

    fn hollywood_bowl() -> Setlist {
        setlist(json!({
            "id": "235d0827", "versionId": "g2b4f60b6", "eventDate": "03-06-2025",
            "lastUpdated": "2025-06-04T05:24:44.041+0000",
            "artist": {"mbid": "e01646f2-2a04-450d-8bf2-0d993082e058", "name": "Phish", "sortName": "Phish", "disambiguation": ""},
            "venue": {"id": "33d62cf9", "name": "Hollywood Bowl",
                      "city": {"id": "5368361", "name": "Los Angeles", "state": "California", "stateCode": "CA",
                               "coords": {"lat": 34.052, "long": -118.244}, "country": {"code": "US", "name": "United States"}}},
            "tour": {"name": "Summer Tour 2025"},
            "sets": {"set": [
                {"name": "Set 1:", "song": [
                    {"name": "Intro", "tape": true},
                    {"name": "The Landlady"},
                    {"name": "Cavern", "info": ">"},
                    {"name": "Hey Stranger", "cover": {"mbid": "d942f71b", "name": "Trey Anastasio"}, "info": ">"}
                ]},
                {"name": "Set 2:", "song": [{"name": "You Enjoy Myself", "info": "->"}, {"name": ""}]},
                {"encore": 1, "song": [{"name": "Fuego"}, {"name": "Outro", "tape": true}]}
            ]},
            "url": "https://www.setlist.fm/setlist/phish/2025/hollywood-bowl-235d0827.html"
        }))
    }

    #[test]
    fn dates_are_read_strictly_as_day_month_year() {
        assert_eq!(
            parse_event_date("03-06-2025"),
            NaiveDate::from_ymd_opt(2025, 6, 3)
        );
        assert_eq!(
            parse_event_date(" 27-04-2025 "),
            NaiveDate::from_ymd_opt(2025, 4, 27)
        );
        for bad in [
            "2025-06-03",
            "3-6-2025",
            "31-02-2025",
            "03/06/2025",
            "",
            "03-06-25",
            "03-06-2025T00:00",
        ] {
            assert_eq!(parse_event_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn positions_span_all_sets_and_skip_tapes() {
        let (row, songs) = setlist_rows(&hollywood_bowl()).unwrap();
        assert_eq!(row.setlist_fm_id, "235d0827");
        assert_eq!(row.date, NaiveDate::from_ymd_opt(2025, 6, 3));
        assert_eq!(row.tour_name.as_deref(), Some("Summer Tour 2025"));
        assert_eq!(
            (row.show_id.as_deref(), row.venue_id.as_deref()),
            (None, None)
        );
        let names: Vec<(i64, &str, bool)> = songs
            .iter()
            .map(|s| (s.position, s.name.as_str(), s.is_encore))
            .collect();
        assert_eq!(
            names,
            [
                (1, "The Landlady", false),
                (2, "Cavern", false),
                (3, "Hey Stranger", false),
                (4, "You Enjoy Myself", false),
                (5, "Fuego", true)
            ]
        );
        let list = row.songs.as_array().unwrap();
        assert_eq!(
            list.len(),
            8,
            "tapes and the unidentified song stay in the JSON"
        );
        assert_eq!(
            list[0],
            json!({"name": "Intro", "position": null, "encore": false, "info": null, "cover": null, "tape": true})
        );
        assert_eq!(list[3]["cover"], "Trey Anastasio");
        assert_eq!(list[3]["info"], ">");
        assert_eq!(
            list[6],
            json!({"name": "Fuego", "position": 5, "encore": true, "info": null, "cover": null, "tape": false})
        );
    }

    #[test]
    fn tolerates_empty_sets_the_docs_shape_and_missing_parts() {
        let empty = setlist(
            json!({"id": "3b5d0820", "eventDate": "26-04-2025", "venue": {"id": "bd6c9f6", "name": "Somewhere, Town"}, "sets": {"set": []}}),
        );
        let (row, songs) = setlist_rows(&empty).unwrap();
        assert!(songs.is_empty());
        assert_eq!(row.songs, json!([]));
        assert_eq!(row.tour_name, None);

        let docs_shape = setlist(
            json!({"id": "63de4613", "eventDate": "23-08-1964", "set": [{"song": [{"name": "Yesterday", "tape": false}]}, {"encore": "1", "song": [{"name": "Twist and Shout"}]}]}),
        );
        let (_, songs) = setlist_rows(&docs_shape).unwrap();
        assert_eq!(songs.len(), 2);
        assert!(songs[1].is_encore);

        let no_sets = setlist(json!({"id": "x1", "eventDate": "01-01-2026", "sets": {}}));
        assert!(setlist_rows(&no_sets).unwrap().1.is_empty());
        assert!(setlist_rows(&setlist(json!({"id": "x2", "eventDate": "2026-01-01"}))).is_err());
        assert!(setlist_rows(&setlist(json!({"eventDate": "01-01-2026"}))).is_err());
    }

    #[test]
    fn links_only_when_exactly_one_show_is_on_the_local_date() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let shows = vec![
            ("s1".to_string(), d(2025, 6, 3)),
            ("s2".to_string(), d(2025, 6, 4)),
            ("s3".to_string(), d(2025, 6, 7)),
            ("s4".to_string(), d(2025, 6, 7)),
        ];
        assert_eq!(
            link_setlist_to_show(d(2025, 6, 3), &shows).as_deref(),
            Some("s1")
        );
        // Matinee and evening: two shows on one date, left unlinked.
        assert_eq!(link_setlist_to_show(d(2025, 6, 7), &shows), None);
        assert_eq!(link_setlist_to_show(d(2025, 6, 5), &shows), None);
        // The same show listed twice is still one show.
        let dup = vec![
            ("s1".to_string(), d(2025, 6, 3)),
            ("s1".to_string(), d(2025, 6, 3)),
        ];
        assert_eq!(
            link_setlist_to_show(d(2025, 6, 3), &dup).as_deref(),
            Some("s1")
        );
    }

    #[test]
    fn exact_artist_match_only_when_unambiguous() {
        let cands: Vec<SfArtist> = serde_json::from_value(json!([
            {"mbid": "e01646f2-2a04-450d-8bf2-0d993082e058", "name": "Phish", "disambiguation": ""},
            {"mbid": "d942f71b-09d3-406c-8f7d-c52eba3135c1", "name": "Trey Anastasio", "disambiguation": "US jam band Phish lead singer"},
            {"mbid": "m-1", "name": "Nirvana", "disambiguation": "90s US grunge band"},
            {"mbid": "m-2", "name": "Nirvana", "disambiguation": "60s UK band"}
        ]))
        .unwrap();
        let phish = exact_artist("phish", &cands).unwrap().unwrap();
        assert_eq!(
            phish.mbid.as_deref(),
            Some("e01646f2-2a04-450d-8bf2-0d993082e058")
        );
        assert_eq!(exact_artist("Phish Tribute", &cands), Ok(None));
        let amb = exact_artist("Nirvana", &cands).unwrap_err();
        assert_eq!((amb.provider, amb.ids.len()), (Provider::Setlistfm, 2));
    }
}
