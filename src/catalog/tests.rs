use std::collections::{HashMap, HashSet};

use super::*;

fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn all_headlined(c: &Catalog) -> Vec<CatalogEvent> {
    (0..c.len()).flat_map(|i| c.headlined_events(i)).collect()
}

/// FNV-1a over the JSON of a value: a fingerprint that must be the same on every machine.
fn fingerprint<T: Serialize>(v: &T) -> u64 {
    let json = serde_json::to_string(v).unwrap();
    json.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[test]
fn same_inputs_give_the_same_catalog() {
    let a = Catalog::new(DEMO_SEED, 300);
    let b = Catalog::new(DEMO_SEED, 300);
    assert_eq!(a, b);
    for i in [0, 4, 8, 9, 150, 299] {
        assert_eq!(a.events(i), b.events(i), "events of {i}");
        assert_eq!(
            a.albums_with_tracks(i),
            b.albums_with_tracks(i),
            "albums of {i}"
        );
        assert_eq!(a.setlists(i), b.setlists(i), "setlists of {i}");
    }
    assert_eq!(a.expected_counts(), b.expected_counts());

    let other = Catalog::new(DEMO_SEED + 1, 300);
    assert_ne!(
        a.artists()[100].ticketmaster_id,
        other.artists()[100].ticketmaster_id
    );
    assert_ne!(a.artists()[100].name, other.artists()[100].name);
}

#[test]
fn output_is_pinned_across_machines_and_versions() {
    // A change here means every seeded database and every fake payload changes too: update the
    // pinned values only when the generator was changed on purpose.
    let c = Catalog::new(DEMO_SEED, 40);
    let content: Vec<_> = (0..c.len())
        .filter(|i| *i != DEEP_PAGING_ARTIST)
        .map(|i| (c.events(i), c.albums_with_tracks(i), c.setlists(i)))
        .collect();
    let sample = (c.artists(), c.venues(), content, c.expected_counts());
    let got = fingerprint(&sample);
    assert_eq!(got, PINNED_FINGERPRINT, "catalog output changed: {got:#x}");
}

const PINNED_FINGERPRINT: u64 = 0x80b8_427e_370f_26a9;

#[test]
fn an_artist_does_not_depend_on_the_catalog_size() {
    let small = Catalog::new(DEMO_SEED, 10);
    let large = Catalog::new(DEMO_SEED, 1000);
    for i in [5, 9] {
        assert_eq!(small.artists()[i], large.artists()[i]);
        assert_eq!(small.headlined_events(i), large.headlined_events(i));
        assert_eq!(small.albums_with_tracks(i), large.albums_with_tracks(i));
        assert_eq!(small.setlists(i), large.setlists(i));
    }
    // Its support slots come from its next few neighbours, which both catalogs hold.
    assert_eq!(small.events(5), large.events(5));
    assert_eq!(small.venues(), large.venues());
}

#[test]
fn ids_and_names_are_unique_and_well_formed() {
    let c = Catalog::new(DEMO_SEED, 3000);
    let mut names = HashSet::new();
    let mut tm = HashSet::new();
    let mut spotify: HashMap<String, String> = HashMap::new();
    let mut mbids = HashSet::new();
    for a in c.artists() {
        assert!(
            names.insert(a.name.trim().to_lowercase()),
            "duplicate name {:?}",
            a.name
        );
        assert_eq!(a.ticketmaster_id.len(), 11, "{}", a.ticketmaster_id);
        assert!(a.ticketmaster_id.starts_with("K8vZ917") && is_base62(&a.ticketmaster_id));
        assert!(
            tm.insert(a.ticketmaster_id.clone()),
            "duplicate {}",
            a.ticketmaster_id
        );
        if let Some(id) = &a.spotify_id {
            assert!(id.len() == 22 && is_base62(id), "{id}");
            assert!(
                spotify
                    .insert(id.clone(), format!("artist {}", a.index))
                    .is_none()
            );
        }
        if let Some(m) = &a.musicbrainz_id {
            let parsed = uuid::Uuid::parse_str(m).unwrap();
            assert_eq!(&parsed.to_string(), m);
            assert!(mbids.insert(m.clone()), "duplicate mbid {m}");
        }
        assert_eq!(c.artist_by_ticketmaster_id(&a.ticketmaster_id), Some(a));
    }
    assert_eq!(c.artist_by_ticketmaster_id("K8vZ917zzzz"), None);
    assert_eq!(c.artist_by_ticketmaster_id("nonsense"), None);

    // Albums and tracks share the Spotify id space with artists. A track listed on two albums
    // keeps its id, so a repeated id must be the same track of the same artist.
    let mut tracks_by_id: HashMap<String, (usize, String, u32)> = HashMap::new();
    for i in (0..c.len()).step_by(7) {
        for (album, tracks) in c.albums_with_tracks(i) {
            assert!(album.id.len() == 22 && is_base62(&album.id));
            assert!(
                spotify
                    .insert(album.id.clone(), format!("album of {i}"))
                    .is_none()
            );
            for t in tracks {
                assert!(t.id.len() == 22 && is_base62(&t.id));
                let value = (i, t.name.clone(), t.duration_ms);
                match tracks_by_id.get(&t.id) {
                    Some(seen) => assert_eq!(seen, &value, "track {} reused inconsistently", t.id),
                    None => {
                        assert!(!spotify.contains_key(&t.id), "track id {} collides", t.id);
                        tracks_by_id.insert(t.id.clone(), value);
                    }
                }
            }
        }
    }

    let mut events = HashSet::new();
    for e in all_headlined(&c) {
        assert!(
            (13..=21).contains(&e.id.len()) && is_base62(&e.id),
            "event id {}",
            e.id
        );
        assert!(!e.url.contains(&e.id), "the URL must not carry the id");
        assert!(events.insert(e.id.clone()), "duplicate event {}", e.id);
    }

    let mut venues = HashSet::new();
    let mut sf_venues = HashSet::new();
    for v in c.venues() {
        assert!((10..=12).contains(&v.ticketmaster_id.len()) && is_base62(&v.ticketmaster_id));
        assert!(venues.insert(v.ticketmaster_id.clone()));
        assert!(sf_venues.insert(v.setlistfm_id.clone()));
    }

    let mut setlists = HashSet::new();
    for i in 0..c.len() {
        for s in c.setlists(i) {
            assert!((7..=8).contains(&s.id.len()), "setlist id {}", s.id);
            assert!(s.id.bytes().all(|b| b.is_ascii_hexdigit()));
            assert!(setlists.insert(s.id.clone()), "duplicate setlist {}", s.id);
        }
    }
}

#[test]
fn a_large_catalog_keeps_names_unique() {
    let c = Catalog::new(DEMO_SEED, 100_000);
    let names: HashSet<String> = c.artists().iter().map(|a| a.name.to_lowercase()).collect();
    assert_eq!(names.len(), 100_000);
    let tm: HashSet<&str> = c
        .artists()
        .iter()
        .map(|a| a.ticketmaster_id.as_str())
        .collect();
    assert_eq!(tm.len(), 100_000);
}

#[test]
fn the_awkward_artists_head_every_catalog() {
    for n in [8, 9, 200, 5000] {
        let c = Catalog::new(DEMO_SEED, n);
        let a = c.artists();
        assert_eq!(a[0].name, "Sigur Rós");
        assert_eq!(a[1].name, "坂本龍一");
        assert!(a[2].name.contains('ö') && a[2].name.contains('\'') && a[2].name.contains('"'));
        assert!(
            a[3].name.chars().count() >= 150,
            "{}",
            a[3].name.chars().count()
        );
        assert!(a[4].name.contains('\u{1b}') && a[4].name.contains('\u{7}'));
        assert!(
            a[5].name.chars().any(|ch| ch as u32 > 0xFFFF),
            "an emoji outside the BMP"
        );
        let unlisted = &a[6];
        assert_eq!(unlisted.spotify_id, None);
        assert!(!unlisted.row_spotify_id && !unlisted.tm_links_spotify);
        assert_eq!(unlisted.spotify_resolution(), SpotifyResolution::None);
        assert!(c.albums(6).is_empty());
        assert_eq!(a[7].musicbrainz_id, None);
        assert!(!a[7].tm_links_musicbrainz);
        assert!(c.setlists(7).is_empty());
        assert!(a[..AWKWARD_ARTISTS].iter().all(|x| x.awkward.is_some()));
        assert!(a[AWKWARD_ARTISTS..].iter().all(|x| x.awkward.is_none()));
    }
    let tiny = Catalog::new(DEMO_SEED, 3);
    assert_eq!(tiny.len(), 3);
    assert_eq!(tiny.artists()[2], Catalog::new(DEMO_SEED, 8).artists()[2]);
    assert!(Catalog::new(DEMO_SEED, 0).is_empty());
}

#[test]
fn the_spotify_and_musicbrainz_mix() {
    let c = Catalog::new(DEMO_SEED, 3000);
    let generated = &c.artists()[AWKWARD_ARTISTS..];
    let n = generated.len() as f64;
    let share = |r: SpotifyResolution| {
        generated
            .iter()
            .filter(|a| a.spotify_resolution() == r)
            .count() as f64
            / n
    };
    for r in [
        SpotifyResolution::Row,
        SpotifyResolution::TicketmasterLink,
        SpotifyResolution::NameSearch,
    ] {
        let s = share(r);
        assert!((0.27..0.40).contains(&s), "{r:?}: {s}");
    }
    // Row artists sometimes carry the link too; link-only ones always do; search-only never.
    for a in generated {
        match a.spotify_resolution() {
            SpotifyResolution::Row => assert!(a.row_spotify_id && a.spotify_id.is_some()),
            SpotifyResolution::TicketmasterLink => assert!(a.tm_links_spotify && !a.row_spotify_id),
            SpotifyResolution::NameSearch => assert!(!a.tm_links_spotify && !a.row_spotify_id),
            SpotifyResolution::None => assert!(!a.tm_links_spotify && !a.row_spotify_id),
        }
        assert!(!a.tm_links_musicbrainz || a.musicbrainz_id.is_some());
        assert_eq!(a.spotify_url().is_some(), a.spotify_id.is_some());
    }
    assert!(
        generated
            .iter()
            .any(|a| a.row_spotify_id && a.tm_links_spotify)
    );
    let with_mbid = generated
        .iter()
        .filter(|a| a.musicbrainz_id.is_some())
        .count() as f64
        / n;
    let linked = generated.iter().filter(|a| a.tm_links_musicbrainz).count() as f64 / n;
    assert!(with_mbid > 0.85 && with_mbid < 1.0, "{with_mbid}");
    assert!(linked > 0.6 && linked < with_mbid, "{linked}");
}

#[test]
fn events_carry_the_ticketmaster_traps() {
    let c = Catalog::new(DEMO_SEED, 1000);
    let all = all_headlined(&c);

    let deep = c.headlined_events(DEEP_PAGING_ARTIST);
    assert_eq!(deep.len(), DEEP_PAGING_EVENTS);
    assert!(
        deep.iter()
            .all(|e| e.local_date.is_some() && e.attractions == [DEEP_PAGING_ARTIST])
    );
    let (first, last) = (
        deep.iter().filter_map(|e| e.local_date).min().unwrap(),
        deep.iter().filter_map(|e| e.local_date).max().unwrap(),
    );
    assert!(
        (last - first).num_days() > 365,
        "deep paging needs date windows: {first}..{last}"
    );
    assert_eq!(c.events(DEEP_PAGING_ARTIST).len(), DEEP_PAGING_EVENTS);

    let mut by_status: HashMap<&str, usize> = HashMap::new();
    for e in &all {
        *by_status.entry(e.status.code()).or_default() += 1;
    }
    for code in [
        "onsale",
        "offsale",
        "cancelled",
        "canceled",
        "postponed",
        "rescheduled",
    ] {
        assert!(
            by_status.get(code).copied().unwrap_or(0) > 0,
            "no {code} event"
        );
    }
    let onsale = by_status["onsale"];
    assert!(by_status.values().all(|n| *n <= onsale), "{by_status:?}");

    let normal: Vec<&CatalogEvent> = all
        .iter()
        .filter(|e| e.attractions[0] != DEEP_PAGING_ARTIST)
        .collect();
    assert!(
        normal
            .iter()
            .any(|e| e.date_tba && e.local_date.is_none() && e.local_time.is_none())
    );
    assert!(
        normal
            .iter()
            .any(|e| e.time_tba && e.local_date.is_some() && e.local_time.is_none())
    );
    assert!(normal.iter().all(|e| e.date_tba == e.local_date.is_none()));
    assert!(normal.iter().any(|e| !e.price_ranges.is_empty()));
    assert!(normal.iter().any(|e| e.price_ranges.is_empty()));
    assert!(
        normal
            .iter()
            .any(|e| e.price_ranges.iter().any(|p| p.min == 0.0))
    );
    assert!(
        normal
            .iter()
            .all(|e| e.price_ranges.iter().all(|p| p.min <= p.max))
    );
    assert!(
        normal
            .iter()
            .any(|e| e.public_sale_start == TM_UNKNOWN_SALE_START)
    );
    assert!(normal.iter().any(|e| !e.timezone_in_event));
    assert!(
        all.iter()
            .all(|e| e.local_date.is_none_or(|d| d > c.anchor()))
    );
    // The widest image is not always listed first.
    assert!(all.iter().any(|e| {
        let widest = e.images.iter().map(|i| i.width).max().unwrap();
        e.images[0].width != widest
    }));

    // Support acts: an earlier neighbour, and the event is in the support act's list too.
    let supported: Vec<&CatalogEvent> = normal
        .iter()
        .copied()
        .filter(|e| e.attractions.len() == 2)
        .collect();
    assert!(supported.len() > 20, "{}", supported.len());
    for e in &supported {
        let (h, s) = (e.attractions[0], e.attractions[1]);
        assert!(s < h && h - s <= SUPPORT_WINDOW);
        assert!(
            c.events(s).iter().any(|x| x.id == e.id),
            "support act {s} misses {}",
            e.id
        );
        assert!(c.events(h).iter().any(|x| x.id == e.id));
    }

    // Matinee and evening: same headliner, venue and date, two ids.
    let mut slots: HashMap<(usize, usize, NaiveDate), Vec<&CatalogEvent>> = HashMap::new();
    for e in &normal {
        if let Some(d) = e.local_date {
            slots
                .entry((e.attractions[0], e.venue, d))
                .or_default()
                .push(e);
        }
    }
    assert!(
        slots
            .values()
            .any(|v| v.len() == 2 && v[0].local_time != v[1].local_time)
    );

    for i in [0, 9, 10, 500] {
        let ev = c.events(i);
        let keys: Vec<_> = ev
            .iter()
            .map(|e| (e.local_date.is_none(), e.local_date, e.local_time))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "events of {i} are in date order");
        assert!(ev.iter().all(|e| e.attractions.contains(&i)));
    }

    let timed = normal.iter().find(|e| e.local_time.is_some()).unwrap();
    let utc = c.event_utc(timed).unwrap();
    let tz: chrono_tz::Tz = c.venues()[timed.venue].timezone.parse().unwrap();
    assert_eq!(
        utc.with_timezone(&tz).naive_local(),
        timed
            .local_date
            .unwrap()
            .and_time(timed.local_time.unwrap())
    );
    let tba = normal.iter().find(|e| e.date_tba).unwrap();
    assert_eq!(c.event_utc(tba), None);
}

#[test]
fn the_anchor_moves_dates_only() {
    let a = Catalog::new(DEMO_SEED, 50);
    let later = NaiveDate::from_ymd_opt(2030, 3, 1).unwrap();
    let b = Catalog::new(DEMO_SEED, 50).with_anchor(later);
    let shift = later - a.anchor();
    assert_eq!(a.artists(), b.artists());
    for i in 0..50 {
        let (ea, eb) = (a.headlined_events(i), b.headlined_events(i));
        assert_eq!(ea.len(), eb.len());
        for (x, y) in ea.iter().zip(&eb) {
            assert_eq!(x.id, y.id);
            assert_eq!(x.local_date.map(|d| d + shift), y.local_date);
        }
        let (sa, sb) = (a.setlists(i), b.setlists(i));
        assert_eq!(
            sa.iter().map(|s| &s.id).collect::<Vec<_>>(),
            sb.iter().map(|s| &s.id).collect::<Vec<_>>()
        );
    }
}

#[test]
fn venues_carry_the_ticketmaster_traps() {
    let c = Catalog::new(DEMO_SEED, 10);
    let v = c.venues();
    assert_eq!(v.len(), VENUE_POOL);
    assert!(
        v.iter().any(|x| x.city != x.city.trim()),
        "stray whitespace in a city"
    );
    assert!(v.iter().any(|x| x.location.is_none()));
    assert!(v.iter().filter(|x| x.location.is_none()).count() < VENUE_POOL / 20);
    assert!(
        v.iter()
            .any(|x| x.address_line1.is_none() && x.address_line2.is_some())
    );
    assert!(v.iter().any(|x| x.postal_code.is_none()));
    for x in v {
        assert_eq!(x.state.is_some(), x.country_code == "US", "{x:?}");
        x.timezone.parse::<chrono_tz::Tz>().unwrap();
        if let Some(loc) = &x.location {
            let lat: f64 = loc.latitude.parse().unwrap();
            let long: f64 = loc.longitude.parse().unwrap();
            assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&long));
        }
        assert!((7..=8).contains(&x.setlistfm_id.len()));
    }
}

#[test]
fn albums_and_tracks() {
    let c = Catalog::new(DEMO_SEED, 1000);
    let mut reused = 0;
    let mut previews = 0;
    let mut listings = 0;
    let mut precisions = HashSet::new();
    for i in 0..c.len() {
        let albums = c.albums_with_tracks(i);
        assert!(albums.len() <= 6);
        if c.artists()[i].spotify_id.is_none() {
            assert!(albums.is_empty());
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (album, tracks) in &albums {
            assert_eq!(tracks, &c.tracks(album));
            assert_eq!(tracks.len(), album.total_tracks);
            assert!((1..=14).contains(&tracks.len()));
            assert_eq!(
                tracks.iter().map(|t| t.track_number).collect::<Vec<_>>(),
                (1..=tracks.len() as u32).collect::<Vec<_>>()
            );
            let digits = album.release_date.len();
            let want = match album.release_date_precision {
                DatePrecision::Year => 4,
                DatePrecision::Month => 7,
                DatePrecision::Day => 10,
            };
            assert_eq!(digits, want, "{}", album.release_date);
            precisions.insert(album.release_date_precision);
            let ids: HashSet<&String> = tracks.iter().map(|t| &t.id).collect();
            assert_eq!(ids.len(), tracks.len(), "no track twice on one album");
            for t in tracks {
                listings += 1;
                previews += t.preview_url.is_some() as usize;
                assert_eq!(t.album_id, album.id);
                let n = seen.entry(t.id.clone()).or_default();
                *n += 1;
                if *n == 2 {
                    reused += 1;
                }
            }
        }
    }
    assert!(reused > 10, "tracks listed on two albums: {reused}");
    assert!(
        previews > 0 && previews * 5 < listings,
        "{previews} of {listings}"
    );
    assert_eq!(precisions.len(), 3);
}

#[test]
fn setlists_carry_the_setlistfm_traps() {
    let c = Catalog::new(DEMO_SEED, 600);
    let mut all = Vec::new();
    let mut same_date_pairs = 0;
    for i in 0..c.len() {
        let list = c.setlists(i);
        if c.artists()[i].musicbrainz_id.is_none() {
            assert!(list.is_empty());
        }
        let dates: Vec<NaiveDate> = list.iter().map(|s| s.event_date).collect();
        let mut sorted = dates.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(dates, sorted, "newest first");
        same_date_pairs += list
            .windows(2)
            .filter(|w| w[0].event_date == w[1].event_date && w[0].venue == w[1].venue)
            .count();
        all.extend(list);
    }
    assert!(same_date_pairs > 0);
    for s in &all {
        assert!(s.event_date < c.anchor());
        assert_eq!(
            NaiveDate::parse_from_str(&s.event_date_text, "%d-%m-%Y").unwrap(),
            s.event_date
        );
        assert_eq!(s.event_date_text.len(), 10);
        assert!(
            s.last_updated.ends_with("+0000") && s.last_updated.len() == 28,
            "{}",
            s.last_updated
        );
        assert!(s.venue < VENUE_POOL);
    }
    let songs = || all.iter().flat_map(|s| &s.sets).flat_map(|set| &set.songs);
    assert!(all.iter().any(|s| s.sets.is_empty()));
    assert!(all.iter().any(|s| s.tour.is_none()) && all.iter().any(|s| s.tour.is_some()));
    assert!(
        all.iter()
            .flat_map(|s| &s.sets)
            .any(|set| set.encore == Some(2))
    );
    assert!(
        all.iter()
            .flat_map(|s| &s.sets)
            .any(|set| set.name.is_some())
    );
    assert!(songs().any(|x| x.tape));
    assert!(songs().any(|x| x.cover.is_some()));
    assert!(songs().any(|x| x.with.is_some()));
    // Most performed songs are the artist's own tracks, so setlist songs can link to songs.
    let i = (AWKWARD_ARTISTS..c.len())
        .find(|i| c.albums(*i).len() >= 2 && c.setlists(*i).len() >= 3)
        .unwrap();
    let names: HashSet<String> = c
        .albums_with_tracks(i)
        .into_iter()
        .flat_map(|(_, t)| t)
        .map(|t| t.name)
        .collect();
    let played: Vec<String> = c
        .setlists(i)
        .into_iter()
        .flat_map(|s| s.sets)
        .flat_map(|s| s.songs)
        .filter(|s| !s.tape)
        .map(|s| s.name)
        .collect();
    let known = played.iter().filter(|n| names.contains(*n)).count();
    assert!(known * 2 > played.len(), "{known} of {}", played.len());
}

#[test]
fn expected_counts_match_the_content() {
    let c = Catalog::new(DEMO_SEED, 200);
    let counts = c.expected_counts();
    assert_eq!(counts.artists, 200);
    let events = all_headlined(&c);
    assert_eq!(counts.shows, events.len());
    assert!(counts.shows > DEEP_PAGING_EVENTS && counts.shows < DEEP_PAGING_EVENTS + 200 * 30);
    let distinct: HashSet<&String> = events.iter().map(|e| &e.id).collect();
    assert_eq!(distinct.len(), counts.shows);
    assert!(counts.venues > 100 && counts.venues <= VENUE_POOL);
    let listings: usize = (0..200)
        .map(|i| {
            c.albums_with_tracks(i)
                .iter()
                .map(|(_, t)| t.len())
                .sum::<usize>()
        })
        .sum();
    assert!(
        counts.songs > 0 && counts.songs < listings,
        "dedup: {} of {listings}",
        counts.songs
    );
    let setlists: usize = (0..200).map(|i| c.setlists(i).len()).sum();
    assert_eq!(counts.setlists, setlists);
    assert!(counts.setlists > 200);

    let small = Catalog::new(DEMO_SEED, 8).expected_counts();
    assert!(
        small.shows < DEEP_PAGING_EVENTS,
        "no deep-paging artist below 9 artists"
    );
}

#[test]
fn a_thousand_artists_generate_quickly() {
    // Not timed (machines differ); it runs all generators over the catalog once, so a
    // pathological slowdown shows up as a slow test.
    let c = Catalog::new(DEMO_SEED, 1000);
    let counts = c.expected_counts();
    assert!(counts.shows > 0 && counts.songs > 0 && counts.setlists > 0);
    let events: usize = (0..c.len()).map(|i| c.events(i).len()).sum();
    assert!(events >= counts.shows);
}
