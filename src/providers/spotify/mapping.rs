//! Spotify payloads → the app's rows (design.md "Data contract"): artist fields with the widest
//! image; songs from the artist's albums and their tracks (top tracks are gone for new apps)
//! with `album_name`, `album_image_url`, `preview_url` and `duration_ms`; a track found on two
//! albums is kept once, with the first album. Also the strict name match used when no id is
//! known: exact after normalisation and unambiguous, or nothing.

use std::collections::HashSet;

use chrono::NaiveDate;

use super::types::{Artist, Image, SimplifiedAlbum, SimplifiedTrack, Track};
use crate::providers::error::Provider;
use crate::providers::mapping::{MapError, clean_id, clean_name, clean_url, fits_url, require_id};
use crate::rows::SongRow;
use crate::text::{MAX_NAME_CHARS, cut_chars};

/// What a Spotify artist sets on the app's `artists` row.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct ArtistSpotifyFields {
    pub spotify_id: String,
    pub name: String,
    pub image_url: Option<String>,
    pub spotify_url: Option<String>,
    pub genres: Vec<String>,
    /// Absent for development-mode apps since 2026: `None`, never 0.
    pub followers: Option<i64>,
    pub popularity: Option<i64>,
}

/// Several candidates match a name equally well: the caller reports it and picks none.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{provider}: {} artists are named exactly \"{name}\" ({}); set the id by hand", ids.len(), ids.join(", "))]
pub struct Ambiguous {
    pub provider: Provider,
    pub name: String,
    /// The provider ids of the equal matches.
    pub ids: Vec<String>,
}

/// The widest image's URL (Spotify lists widest first, but nothing promises it).
pub fn widest_image(images: &[Image]) -> Option<String> {
    images
        .iter()
        .filter(|i| {
            i.url
                .as_deref()
                .is_some_and(|u| !u.trim().is_empty() && fits_url(u))
        })
        .max_by_key(|i| (i.width.unwrap_or(0), i.height.unwrap_or(0)))
        .and_then(|i| i.url.clone())
}

/// A name reduced for comparison: case folded, typographic quotes and dashes made plain,
/// whitespace collapsed. Nothing else (no "&" → "and", no accents dropped): a looser match
/// would start guessing.
pub fn normalize_name(name: &str) -> String {
    let plain: String = name
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{02bc}' | '\u{00b4}' | '`' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            '\u{2010}'..='\u{2015}' => '-',
            c => c,
        })
        .collect();
    plain
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The one candidate whose name equals `name` after [`normalize_name`]; several different
/// ones are [`Ambiguous`]; none is `Ok(None)`. The same id listed twice counts once.
pub fn exact_match(name: &str, candidates: &[Artist]) -> Result<Option<Artist>, Ambiguous> {
    let wanted = normalize_name(name);
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut seen = HashSet::new();
    let matches: Vec<&Artist> = candidates
        .iter()
        .filter(|a| {
            a.name
                .as_deref()
                .is_some_and(|n| normalize_name(n) == wanted)
        })
        .filter(|a| valid_id(a).is_some_and(|id| seen.insert(id)))
        .collect();
    match matches.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).clone())),
        many => Err(Ambiguous {
            provider: Provider::Spotify,
            name: name.trim().to_string(),
            ids: many.iter().filter_map(|a| valid_id(a)).collect(),
        }),
    }
}

/// The candidate's id, when it is one (an over-long or malformed id never matches).
fn valid_id(a: &Artist) -> Option<String> {
    clean_id("Spotify artist id", &a.id).ok().flatten()
}

pub fn artist_fields(a: &Artist) -> Result<ArtistSpotifyFields, MapError> {
    let spotify_id = require_id("Spotify artist id", &a.id, "Spotify artist without an id")?;
    let name = clean_name(&a.name)
        .ok_or_else(|| MapError(format!("Spotify artist {spotify_id} without a name")))?;
    let mut genres: Vec<String> = Vec::new();
    for g in a.genres.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
        let g = cut_chars(g, MAX_NAME_CHARS);
        if !genres.contains(&g) {
            genres.push(g);
        }
    }
    Ok(ArtistSpotifyFields {
        spotify_url: a.external_urls.as_ref().and_then(|u| clean_url(&u.spotify)),
        image_url: widest_image(&a.images),
        genres,
        followers: a
            .followers
            .as_ref()
            .and_then(|f| f.total)
            .and_then(|t| i64::try_from(t).ok()),
        popularity: a.popularity.map(i64::from),
        spotify_id,
        name,
    })
}

/// An album's release date at its precision's first day: `"1981"` → 1981-01-01,
/// `"1981-08"` → 1981-08-01.
pub fn release_date(album: &SimplifiedAlbum) -> Option<NaiveDate> {
    let raw = album.release_date.as_deref()?.trim();
    let mut parts = raw.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u32 = match parts.next() {
        Some(m) => m.parse().ok()?,
        None => 1,
    };
    let day: u32 = match parts.next() {
        Some(d) => d.parse().ok()?,
        None => 1,
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A song row from an album and one of its tracks. Local files (no id) and nameless tracks fail.
pub fn song_row(album: &SimplifiedAlbum, track: &SimplifiedTrack) -> Result<SongRow, MapError> {
    let spotify_id = clean_id("Spotify track id", &track.id)?.ok_or_else(|| {
        MapError(format!(
            "a track without an id on album {}",
            clean_name(&album.name).unwrap_or_else(|| "(unnamed)".into())
        ))
    })?;
    let name = clean_name(&track.name)
        .ok_or_else(|| MapError(format!("track {spotify_id} without a name")))?;
    Ok(SongRow {
        spotify_id,
        name,
        duration_ms: track.duration_ms.filter(|d| *d >= 0),
        preview_url: clean_url(&track.preview_url),
        album_name: clean_name(&album.name),
        album_image_url: widest_image(&album.images),
        // Album track lists carry no popularity (and dev-mode tracks none at all).
        popularity: None,
    })
}

/// A song row from a full track (top tracks, extended-quota apps only).
pub fn song_row_from_track(track: &Track) -> Result<SongRow, MapError> {
    let album = track.album.clone().unwrap_or_default();
    let simple = SimplifiedTrack {
        id: track.id.clone(),
        name: track.name.clone(),
        duration_ms: track.duration_ms,
        preview_url: track.preview_url.clone(),
        ..SimplifiedTrack::default()
    };
    let mut row = song_row(&album, &simple)?;
    row.popularity = track.popularity.map(i64::from);
    Ok(row)
}

/// Song rows for an artist's (album, track) pairs, in order, each track id once: a track on an
/// album and again on a single keeps the first album seen. Items that cannot be mapped are
/// returned beside the rows.
pub fn song_rows(pairs: &[(SimplifiedAlbum, SimplifiedTrack)]) -> (Vec<SongRow>, Vec<MapError>) {
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (album, track) in pairs {
        match song_row(album, track) {
            Ok(row) => {
                if seen.insert(row.spotify_id.clone()) {
                    rows.push(row);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    (rows, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn artist(v: serde_json::Value) -> Artist {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn extended_and_dev_mode_artists() {
        let full = artist(json!({
            "external_urls": {"spotify": "https://open.spotify.com/artist/0TnOYISbd1XYRBk9myaseg"},
            "followers": {"href": null, "total": 2265279},
            "genres": ["dance pop", "pop", "pop"],
            "id": "0TnOYISbd1XYRBk9myaseg",
            "images": [
                {"height": 160, "url": "https://i.scdn.co/image/small", "width": 160},
                {"height": 1500, "url": "https://i.scdn.co/image/big", "width": 1000},
                {"height": 640, "url": "https://i.scdn.co/image/mid", "width": 640}
            ],
            "name": "Pitbull", "popularity": 97, "type": "artist", "uri": "spotify:artist:0TnOYISbd1XYRBk9myaseg"
        }));
        let f = artist_fields(&full).unwrap();
        assert_eq!(f.spotify_id, "0TnOYISbd1XYRBk9myaseg");
        assert_eq!(f.image_url.as_deref(), Some("https://i.scdn.co/image/big"));
        assert_eq!(
            f.spotify_url.as_deref(),
            Some("https://open.spotify.com/artist/0TnOYISbd1XYRBk9myaseg")
        );
        assert_eq!(f.genres, ["dance pop", "pop"]);
        assert_eq!((f.followers, f.popularity), (Some(2265279), Some(97)));

        // Development mode: no followers, no popularity, empty genres and images.
        let dev = artist(
            json!({"id": "08td7MxkoHQkXnWAYD8d6Q", "name": "Tania Bowra", "genres": [], "images": [], "type": "artist"}),
        );
        let f = artist_fields(&dev).unwrap();
        assert_eq!(
            (f.followers, f.popularity, f.image_url, f.genres.len()),
            (None, None, None, 0)
        );
        assert!(artist_fields(&artist(json!({"name": "no id"}))).is_err());
    }

    #[test]
    fn exact_names_only_and_never_a_guess() {
        let cands: Vec<Artist> = serde_json::from_value(json!([
            {"id": "A1", "name": "Guns N\u{2019} Roses"},
            {"id": "A2", "name": "Guns N' Roses Tribute"},
            {"id": "B1", "name": "Nirvana"},
            {"id": "B2", "name": "NIRVANA "},
            {"id": "C1", "name": "Tania  Bowra"},
            {"id": "C1", "name": "Tania Bowra"}
        ]))
        .unwrap();
        assert_eq!(
            exact_match("guns n' roses", &cands)
                .unwrap()
                .and_then(|a| a.id)
                .as_deref(),
            Some("A1")
        );
        let amb = exact_match("Nirvana", &cands).unwrap_err();
        assert_eq!(amb.ids, ["B1", "B2"]);
        assert!(amb.to_string().contains("2 artists"), "{amb}");
        // The same id twice is one artist.
        assert_eq!(
            exact_match("tania bowra", &cands)
                .unwrap()
                .and_then(|a| a.id)
                .as_deref(),
            Some("C1")
        );
        assert_eq!(exact_match("Guns", &cands), Ok(None));
        assert_eq!(exact_match("  ", &cands), Ok(None));
    }

    #[test]
    fn songs_from_albums_with_missing_fields_and_duplicates() {
        let albums: Vec<SimplifiedAlbum> = serde_json::from_value(json!([
            {"album_type": "album", "id": "7dqftJ3kas6D0VAdmt3k3V", "name": "Stories",
             "images": [{"height": 64, "url": "https://i.scdn.co/image/s64", "width": 64},
                        {"height": 640, "url": "https://i.scdn.co/image/s640", "width": 640}],
             "release_date": "2015-10-02", "release_date_precision": "day", "total_tracks": 2},
            {"album_type": "single", "id": "7Jx7doYIXITyR2LQB0Hvbc", "name": "SOS", "images": [],
             "release_date": "1981", "release_date_precision": "year"},
            {"album_type": "album", "id": "0sNOF9WDwhWunNAHPD3Baj", "name": "She's So Unusual",
             "release_date": "1983-10", "release_date_precision": "month"}
        ]))
        .unwrap();
        let tracks: Vec<SimplifiedTrack> = serde_json::from_value(json!([
            {"id": "3f9zqUnrnIq0LANhmnaF0V", "name": "Money Changes Everything", "duration_ms": 305560, "preview_url": null,
             "disc_number": 1, "track_number": 1, "explicit": false, "available_markets": []},
            {"id": "6fgjU6IfBOXHI3OKtndEeE", "name": "Waiting For Love", "duration_ms": 230613,
             "preview_url": "https://p.scdn.co/mp3-preview/abc"},
            {"id": null, "name": "a local file", "is_local": true}
        ]))
        .unwrap();
        assert_eq!(
            release_date(&albums[0]),
            NaiveDate::from_ymd_opt(2015, 10, 2)
        );
        assert_eq!(
            release_date(&albums[1]),
            NaiveDate::from_ymd_opt(1981, 1, 1)
        );
        assert_eq!(
            release_date(&albums[2]),
            NaiveDate::from_ymd_opt(1983, 10, 1)
        );

        let pairs = vec![
            (albums[0].clone(), tracks[0].clone()),
            (albums[0].clone(), tracks[1].clone()),
            // The same track again on a single: kept once, with the album seen first.
            (albums[1].clone(), tracks[1].clone()),
            (albums[2].clone(), tracks[2].clone()),
        ];
        let (rows, errors) = song_rows(&pairs);
        assert_eq!(rows.len(), 2);
        assert_eq!(errors.len(), 1, "the local file fails alone");
        assert_eq!(
            rows[0].album_image_url.as_deref(),
            Some("https://i.scdn.co/image/s640")
        );
        assert_eq!(
            (rows[0].duration_ms, rows[0].preview_url.as_deref()),
            (Some(305560), None)
        );
        assert_eq!(rows[1].album_name.as_deref(), Some("Stories"));
        assert_eq!(
            rows[1].preview_url.as_deref(),
            Some("https://p.scdn.co/mp3-preview/abc")
        );
        assert_eq!(rows[1].popularity, None);
    }

    #[test]
    fn a_top_track_carries_its_album() {
        let t: Track = serde_json::from_value(json!({
            "album": {"id": "34EYk8vvJHCUlNrpGxepea", "name": "Elvis 75 - Good Rockin' Tonight",
                      "images": [{"height": 640, "url": "https://i.scdn.co/image/e640", "width": 640}],
                      "release_date": "2009-12-22", "release_date_precision": "day"},
            "duration_ms": 260973, "id": "6fgjU6IfBOXHI3OKtndEeE", "name": "Suspicious Minds", "popularity": 73,
            "preview_url": "https://p.scdn.co/mp3-preview/3742"
        }))
        .unwrap();
        let row = song_row_from_track(&t).unwrap();
        assert_eq!(
            row.album_name.as_deref(),
            Some("Elvis 75 - Good Rockin' Tonight")
        );
        assert_eq!(
            row.album_image_url.as_deref(),
            Some("https://i.scdn.co/image/e640")
        );
        assert_eq!(row.popularity, Some(73));
    }
}
