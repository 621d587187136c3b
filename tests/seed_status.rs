//! Seeding from the demo catalog and reading it back, on SQLite and Postgres: the seeded rows
//! follow the data contract, seeding converges, awkward names survive byte for byte, the
//! artists list filters, sorts and pages correctly, the SQL reading of `sync_status` agrees
//! with the Rust one, and the real binary's `seed --demo` and `status` work end to end.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::{Command, Output};

use common::{PgDatabase, migrated_store, skip_pg, sqlite_url};
use syncdeck::catalog::{AWKWARD_ARTISTS, Catalog, DEMO_SEED};
use syncdeck::store::artists::{ArtistFilter, ArtistSummary, ListQuery, SortKey};
use syncdeck::store::seed::SeedReport;
use syncdeck::store::sync_status::{Overall, PartStatus, Source, SyncStatus, TOLERANT_SAMPLES};
use syncdeck::store::upsert::{self, SongRow};
use syncdeck::store::{Backend, Store};

/// Runs a scenario on a fresh migrated SQLite file and on a fresh Postgres database.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn sqlite() {
                let (_dir, url) = super::sqlite_url();
                let store = super::migrated_store(&url).await;
                super::$scenario(&store).await;
                store.close().await;
            }

            #[tokio::test]
            async fn postgres() {
                if super::skip_pg() {
                    return;
                }
                let db = super::PgDatabase::create(stringify!($scenario)).await;
                let store = super::migrated_store(&db.database_url()).await;
                super::$scenario(&store).await;
                store.close().await;
            }
        }
    )*};
}

on_both_backends!(
    seeding_writes_the_contract,
    seeding_twice_changes_nothing,
    awkward_names_round_trip,
    list_filters_sorts_and_pages,
    tolerant_reading_matches_the_sql_mirror,
    sort_by_songs_count,
    console_reads_agree_with_the_list,
);

/// The console's reads: every artist unordered, some by id, the count and newest update.
async fn console_reads_agree_with_the_list(store: &Store) {
    let catalog = Catalog::new(DEMO_SEED, 120);
    store
        .insert_catalog_artists(catalog.artists())
        .await
        .unwrap();
    let mut listed = store.all_artists().await.unwrap();
    let mut unordered = store.all_artists_unordered().await.unwrap();
    assert_eq!(unordered.len(), 120);
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    unordered.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, unordered, "same rows, same fields");

    let ids: Vec<String> = listed.iter().step_by(7).map(|a| a.id.clone()).collect();
    let mut unknown = ids.clone();
    unknown.push("00000000-0000-4000-8000-000000000000".into());
    let mut some = store.artist_summaries(&unknown).await.unwrap();
    some.sort_by(|a, b| a.id.cmp(&b.id));
    let want: Vec<ArtistSummary> = listed.iter().step_by(7).cloned().collect();
    assert_eq!(some, want, "by id, the unknown id left out");
    assert!(store.artist_summaries(&[]).await.unwrap().is_empty());

    assert_eq!(store.artist_count().await.unwrap(), 120);
    let newest = store.artists_newest_update().await.unwrap();
    assert!(newest.is_some(), "seeded rows carry updated_at");
}

async fn count(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    syncdeck::with_pool!(&store.db, p, _b => {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(p).await.expect("count")
    })
}

/// (ticketmaster_id, name, spotify_id, setlist_fm_mbid, sync_status as text, last_sync as text)
type RawRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn raw_rows(store: &Store) -> Vec<RawRow> {
    let q = syncdeck::sql!(
        "SELECT ticketmaster_id, name, spotify_id, setlist_fm_mbid, sync_status::text, last_sync::text \
         FROM artists ORDER BY ticketmaster_id"
    );
    syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query_as::<_, RawRow>(q.text(b)).fetch_all(p).await.expect("read artists")
    })
}

async fn ids_by_ticketmaster_id(store: &Store) -> HashMap<String, String> {
    store
        .all_artists()
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.ticketmaster_id, a.id))
        .collect()
}

async fn list(store: &Store, filter: ArtistFilter) -> Vec<ArtistSummary> {
    let q = ListQuery {
        filter,
        limit: 100_000,
        ..Default::default()
    };
    store.list_artists(&q).await.unwrap().rows
}

fn tm_set(rows: &[ArtistSummary]) -> BTreeSet<String> {
    rows.iter().map(|r| r.ticketmaster_id.clone()).collect()
}

async fn seeding_writes_the_contract(store: &Store) {
    let catalog = Catalog::new(DEMO_SEED, 200);
    let report = store
        .insert_catalog_artists(catalog.artists())
        .await
        .unwrap();
    assert_eq!(
        report,
        SeedReport {
            requested: 200,
            inserted: 200,
            already_present: 0
        }
    );
    assert_eq!(count(store, "artists").await, 200);

    let by_tm: HashMap<&str, _> = catalog
        .artists()
        .iter()
        .map(|a| (a.ticketmaster_id.as_str(), a))
        .collect();
    let rows = raw_rows(store).await;
    assert_eq!(rows.len(), 200);
    for (tm, name, spotify, mbid, status, last_sync) in rows {
        let a = by_tm[tm.as_str()];
        assert_eq!(name, a.name);
        // The Spotify id only where the catalog says the row holds it; never the MBID.
        assert_eq!(
            spotify,
            a.spotify_id.clone().filter(|_| a.row_spotify_id),
            "{tm}"
        );
        assert_eq!(mbid, None, "the pipeline must discover the MBID");
        assert_eq!(last_sync, None);
        let status: serde_json::Value =
            serde_json::from_str(&status.expect("sync_status set")).unwrap();
        let object = status.as_object().expect("an object");
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["setlistfm", "spotify", "ticketmaster"],
            "exactly the three keys"
        );
        assert!(object.values().all(|v| v == "pending"), "{status}");
    }
    let rows_with_spotify = catalog
        .artists()
        .iter()
        .filter(|a| a.row_spotify_id)
        .count();
    assert!(
        rows_with_spotify > 40 && rows_with_spotify < 100,
        "{rows_with_spotify}"
    );
}

async fn seeding_twice_changes_nothing(store: &Store) {
    let catalog = Catalog::new(DEMO_SEED, 200);
    store
        .insert_catalog_artists(catalog.artists())
        .await
        .unwrap();
    let ids = ids_by_ticketmaster_id(store).await;
    // An operator's change must survive a re-seed.
    let touched = &ids[&catalog.artists()[20].ticketmaster_id];
    store
        .set_part_status(touched, Source::Spotify, PartStatus::Error)
        .await
        .unwrap();
    let before = raw_rows(store).await;

    let again = store
        .insert_catalog_artists(catalog.artists())
        .await
        .unwrap();
    assert_eq!(
        again,
        SeedReport {
            requested: 200,
            inserted: 0,
            already_present: 200
        }
    );
    assert_eq!(count(store, "artists").await, 200);
    assert_eq!(raw_rows(store).await, before);
    assert_eq!(ids_by_ticketmaster_id(store).await, ids, "no uuid changed");

    // A larger catalog adds only the new artists (the first 200 are identical by construction).
    let bigger = Catalog::new(DEMO_SEED, 250);
    let grown = store
        .insert_catalog_artists(bigger.artists())
        .await
        .unwrap();
    assert_eq!((grown.inserted, grown.already_present), (50, 200));
    assert_eq!(count(store, "artists").await, 250);
    let spotify = store.find_artists(touched).await.unwrap();
    assert_eq!(spotify[0].sync_status.spotify, PartStatus::Error);

    // Seeding 1,200 crosses the 500-row batches.
    let large = Catalog::new(DEMO_SEED, 1200);
    let r = store.insert_catalog_artists(large.artists()).await.unwrap();
    assert_eq!((r.inserted, r.already_present), (950, 250));
    assert_eq!(count(store, "artists").await, 1200);
}

async fn awkward_names_round_trip(store: &Store) {
    let catalog = Catalog::new(DEMO_SEED, 200);
    store
        .insert_catalog_artists(catalog.artists())
        .await
        .unwrap();
    let all = store.all_artists().await.unwrap();
    let by_tm: HashMap<&str, &ArtistSummary> = all
        .iter()
        .map(|a| (a.ticketmaster_id.as_str(), a))
        .collect();
    for a in &catalog.artists()[..AWKWARD_ARTISTS] {
        let row = by_tm[a.ticketmaster_id.as_str()];
        assert_eq!(row.name.as_bytes(), a.name.as_bytes(), "{:?}", a.awkward);
        // Exact-name lookup (what `sync --artist NAME` uses) finds exactly this artist.
        let found = store.find_artists(&a.name).await.unwrap();
        assert_eq!(found.len(), 1, "{:?}", a.name);
        assert_eq!(found[0].ticketmaster_id, a.ticketmaster_id);
        assert_eq!(found[0].name, a.name);
    }
    for (needle, tm_index) in [
        ("rós", 0),
        ("龍一", 1),
        ("o'brien's \"big\"", 2),
        ("upper wensleydale", 3),
        ("\u{1b}[31m", 4),
        ("🔥 emoji", 5),
        ("%", usize::MAX),
        ("_", usize::MAX),
    ] {
        let rows = list(
            store,
            ArtistFilter {
                name_contains: Some(needle.into()),
                ..Default::default()
            },
        )
        .await;
        if tm_index == usize::MAX {
            // LIKE wildcards are plain characters in a substring filter.
            assert!(
                rows.is_empty(),
                "{needle:?} matched {:?}",
                rows.iter().map(|r| &r.name).collect::<Vec<_>>()
            );
        } else {
            let want = &catalog.artists()[tm_index].ticketmaster_id;
            assert!(
                rows.iter().any(|r| &r.ticketmaster_id == want),
                "{needle:?}"
            );
        }
    }
}

/// What the scenario below sets for catalog artist `i`.
fn planned_status(i: usize) -> SyncStatus {
    let mut s = SyncStatus::default();
    if i % 4 == 1 {
        s = SyncStatus::all(PartStatus::Success);
    }
    if i.is_multiple_of(7) {
        s.ticketmaster = PartStatus::Success;
    }
    if i.is_multiple_of(5) {
        s.spotify = PartStatus::Error;
    }
    if i.is_multiple_of(11) {
        s.setlistfm = PartStatus::Syncing;
    }
    s
}

fn planned_error(i: usize) -> bool {
    i.is_multiple_of(13)
}

fn planned_synced(i: usize) -> bool {
    i.is_multiple_of(6) && !planned_error(i)
}

fn planned_songs(i: usize) -> usize {
    if i % 10 == 3 { i / 10 % 5 + 1 } else { 0 }
}

async fn list_filters_sorts_and_pages(store: &Store) {
    let n = 200;
    let catalog = Catalog::new(DEMO_SEED, n);
    store
        .insert_catalog_artists(catalog.artists())
        .await
        .unwrap();
    let ids = ids_by_ticketmaster_id(store).await;
    let id_of = |i: usize| ids[&catalog.artists()[i].ticketmaster_id].clone();
    for i in 0..n {
        let id = id_of(i);
        for (source, status) in planned_status(i).parts() {
            if status != PartStatus::Pending {
                assert!(store.set_part_status(&id, source, status).await.unwrap());
            }
        }
        if planned_error(i) {
            store
                .finish_artist_sync(&id, Some("spotify: albums step: HTTP 403"), false, None)
                .await
                .unwrap();
        } else if planned_synced(i) {
            store
                .finish_artist_sync(&id, None, true, Some(i as i64))
                .await
                .unwrap();
        }
        let songs = planned_songs(i);
        if songs > 0 {
            let rows: Vec<SongRow> = (0..songs)
                .map(|k| SongRow {
                    spotify_id: format!("sp{i}x{k}"),
                    name: format!("Song {k}"),
                    ..Default::default()
                })
                .collect();
            let mut tx = store.begin().await.unwrap();
            upsert::upsert_songs_batch(&mut tx, &id, &rows)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    }
    let tm = |i: usize| catalog.artists()[i].ticketmaster_id.clone();
    let expect = |pred: &dyn Fn(usize) -> bool| -> BTreeSet<String> {
        (0..n).filter(|i| pred(*i)).map(tm).collect()
    };

    // Every row reads back what was written.
    let all = list(store, ArtistFilter::default()).await;
    assert_eq!(all.len(), n);
    let index_of: HashMap<String, usize> = (0..n).map(|i| (tm(i), i)).collect();
    for row in &all {
        let i = index_of[&row.ticketmaster_id];
        assert_eq!(row.sync_status, planned_status(i), "artist {i}");
        assert_eq!(
            row.last_sync_error.is_some(),
            planned_error(i),
            "artist {i}"
        );
        assert_eq!(row.last_sync.is_some(), planned_synced(i), "artist {i}");
        assert_eq!(row.songs_count, planned_songs(i) as i64, "artist {i}");
        let shows = if planned_synced(i) { i as i64 } else { 0 };
        assert_eq!(row.upcoming_shows_count, shows);
    }

    // Filters, each against the same predicate evaluated in Rust.
    let lowered: Vec<String> = catalog
        .artists()
        .iter()
        .map(|a| a.name.to_ascii_lowercase())
        .collect();
    let name_has = |needle: &str, i: usize| lowered[i].contains(&needle.to_ascii_lowercase());
    for needle in ["the", "ORCHESTRA", "s & t", "zzzz-nothing"] {
        let got = list(
            store,
            ArtistFilter {
                name_contains: Some(needle.into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            tm_set(&got),
            expect(&|i| name_has(needle, i)),
            "name contains {needle:?}"
        );
    }
    for source in Source::ALL {
        for status in PartStatus::ALL {
            let got = list(
                store,
                ArtistFilter {
                    parts: vec![(source, status)],
                    ..Default::default()
                },
            )
            .await;
            assert_eq!(
                tm_set(&got),
                expect(&|i| planned_status(i).get(source) == status),
                "{source:?} = {status:?}"
            );
        }
    }
    let both = list(
        store,
        ArtistFilter {
            parts: vec![
                (Source::Ticketmaster, PartStatus::Success),
                (Source::Spotify, PartStatus::Error),
            ],
            ..Default::default()
        },
    )
    .await;
    let want = expect(&|i| {
        planned_status(i).ticketmaster == PartStatus::Success
            && planned_status(i).spotify == PartStatus::Error
    });
    assert!(!want.is_empty());
    assert_eq!(tm_set(&both), want);
    for overall in [
        Overall::Syncing,
        Overall::Error,
        Overall::Pending,
        Overall::Success,
    ] {
        let got = list(
            store,
            ArtistFilter {
                overall: Some(overall),
                ..Default::default()
            },
        )
        .await;
        let want = expect(&|i| planned_status(i).overall() == overall);
        assert!(!want.is_empty(), "the plan covers {overall:?}");
        assert_eq!(tm_set(&got), want, "overall {overall:?}");
    }
    for has in [true, false] {
        let got = list(
            store,
            ArtistFilter {
                has_error: Some(has),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            tm_set(&got),
            expect(&|i| planned_error(i) == has),
            "has_error {has}"
        );
        let got = list(
            store,
            ArtistFilter {
                never_synced: Some(has),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            tm_set(&got),
            expect(&|i| planned_synced(i) != has),
            "never_synced {has}"
        );
    }
    let combined = ArtistFilter {
        name_contains: Some("the".into()),
        overall: Some(Overall::Error),
        never_synced: Some(true),
        ..Default::default()
    };
    let want = expect(&|i| {
        name_has("the", i) && planned_status(i).overall() == Overall::Error && !planned_synced(i)
    });
    assert!(!want.is_empty());
    assert_eq!(tm_set(&list(store, combined.clone()).await), want);

    // Sorts and pages: for every key and direction, pages of 17 never overlap, cover every
    // match, agree with one unpaged read, and are ordered by the key with a name tie-break.
    for filter in [ArtistFilter::default(), combined] {
        let expected_set = tm_set(&list(store, filter.clone()).await);
        for sort in SortKey::ALL {
            // Sorting by songs on Postgres has its own scenario (sort_by_songs_count), so a
            // failure there does not hide the checks of the other keys.
            if sort == SortKey::Songs && store.backend() == Backend::Postgres {
                continue;
            }
            let mut groups_by_direction = Vec::new();
            for descending in [false, true] {
                let query = |offset: i64, limit: i64| ListQuery {
                    filter: filter.clone(),
                    sort,
                    descending,
                    offset,
                    limit,
                };
                let whole = store.list_artists(&query(0, 100_000)).await.unwrap();
                assert_eq!(whole.total, n as i64);
                assert_eq!(whole.matching as usize, expected_set.len());
                let mut paged = Vec::new();
                let mut offset = 0;
                loop {
                    let page = store.list_artists(&query(offset, 17)).await.unwrap();
                    assert_eq!(
                        page.matching, whole.matching,
                        "matching is the filter's, not the page's"
                    );
                    assert!(page.rows.len() <= 17);
                    if page.rows.is_empty() {
                        break;
                    }
                    offset += page.rows.len() as i64;
                    paged.extend(page.rows);
                }
                let paged_ids: Vec<&String> = paged.iter().map(|r| &r.id).collect();
                let whole_ids: Vec<&String> = whole.rows.iter().map(|r| &r.id).collect();
                assert_eq!(
                    paged_ids, whole_ids,
                    "{sort:?} desc={descending}: pages match one read"
                );
                assert_eq!(
                    paged_ids.iter().collect::<HashSet<_>>().len(),
                    paged.len(),
                    "no overlap"
                );
                assert_eq!(tm_set(&paged), expected_set);
                groups_by_direction.push(check_order(
                    store.backend(),
                    sort,
                    descending,
                    &whole.rows,
                ));
            }
            // Descending reverses the order of the groups (the name tie-break stays ascending).
            if let [asc, desc] = &groups_by_direction[..] {
                let mut reversed = asc.clone();
                reversed.reverse();
                assert_eq!(desc, &reversed, "{sort:?}");
            }
        }
    }
}

/// Checks that `rows` are ordered by `sort` (nulls last either way) with ties broken by name,
/// and returns the sequence of distinct key values (its groups).
fn check_order(
    backend: Backend,
    sort: SortKey,
    descending: bool,
    rows: &[ArtistSummary],
) -> Vec<String> {
    #[derive(PartialEq, Debug)]
    enum Key {
        Text(String),
        Number(i64),
        Null,
    }
    let key = |r: &ArtistSummary| -> Key {
        match sort {
            SortKey::Name => Key::Text(r.name.to_ascii_lowercase()),
            // Status sorts follow the enums' order, so the database agrees with Rust's Ord.
            SortKey::Overall => Key::Number(r.overall() as i64),
            SortKey::Ticketmaster => Key::Number(r.sync_status.ticketmaster as i64),
            SortKey::Spotify => Key::Number(r.sync_status.spotify as i64),
            SortKey::Setlistfm => Key::Number(r.sync_status.setlistfm as i64),
            SortKey::LastSync => r
                .last_sync
                .map_or(Key::Null, |t| Key::Number(t.timestamp_micros())),
            SortKey::Shows => Key::Number(r.upcoming_shows_count),
            SortKey::Songs => Key::Number(r.songs_count),
            SortKey::LastError => Key::Text(r.last_sync_error.clone().unwrap_or_default()),
        }
    };
    let mut groups: Vec<String> = Vec::new();
    for pair in rows.windows(2) {
        let (a, b) = (key(&pair[0]), key(&pair[1]));
        if a == b {
            // Ties by name: byte order of the lowered name on SQLite; Postgres compares with
            // the database's collation, so only its grouping is checked there.
            if backend == Backend::Sqlite && sort != SortKey::Name {
                assert!(
                    pair[0].name.to_ascii_lowercase() <= pair[1].name.to_ascii_lowercase(),
                    "{sort:?}: tie not broken by name: {:?} then {:?}",
                    pair[0].name,
                    pair[1].name
                );
            }
            continue;
        }
        match (&a, &b) {
            (Key::Null, _) => panic!("{sort:?}: a null key before a non-null one"),
            (_, Key::Null) => {}
            (Key::Number(x), Key::Number(y)) => {
                assert!(
                    if descending { x > y } else { x < y },
                    "{sort:?} desc={descending}: {x} then {y}"
                )
            }
            (Key::Text(x), Key::Text(y)) => {
                if backend == Backend::Sqlite || sort != SortKey::Name {
                    assert!(
                        if descending { x > y } else { x < y },
                        "{sort:?} desc={descending}: {x:?} then {y:?}"
                    )
                }
            }
            _ => unreachable!(),
        }
    }
    // The group sequence (contiguous, each value once).
    for r in rows {
        let k = format!("{:?}", key(r));
        if groups.last() != Some(&k) {
            assert!(!groups.contains(&k), "{sort:?}: group {k} is split");
            groups.push(k);
        }
    }
    // Postgres orders names by its collation, which this check does not model.
    if sort == SortKey::Name && backend == Backend::Postgres {
        return Vec::new();
    }
    // Nulls stay last whatever the direction, so they are not part of the reversal.
    groups.retain(|g| g != "Null");
    groups
}

async fn sort_by_songs_count(store: &Store) {
    let catalog = Catalog::new(DEMO_SEED, 30);
    store
        .insert_catalog_artists(catalog.artists())
        .await
        .unwrap();
    let ids = ids_by_ticketmaster_id(store).await;
    for (i, a) in catalog.artists().iter().enumerate() {
        let songs: Vec<SongRow> = (0..i % 4)
            .map(|k| SongRow {
                spotify_id: format!("sp{i}x{k}"),
                name: format!("Song {k}"),
                ..Default::default()
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        upsert::upsert_songs_batch(&mut tx, &ids[&a.ticketmaster_id], &songs)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    for descending in [false, true] {
        let q = ListQuery {
            sort: SortKey::Songs,
            descending,
            offset: 5,
            limit: 10,
            ..Default::default()
        };
        let page = store
            .list_artists(&q)
            .await
            .unwrap_or_else(|e| panic!("sorting by songs on {}: {e}", store.backend().name()));
        let counts: Vec<i64> = page.rows.iter().map(|r| r.songs_count).collect();
        let mut sorted = counts.clone();
        sorted.sort();
        if descending {
            sorted.reverse();
        }
        assert_eq!(counts, sorted);
        assert_eq!(page.rows.len(), 10);
    }
}

async fn tolerant_reading_matches_the_sql_mirror(store: &Store) {
    let catalog = Catalog::new(DEMO_SEED, TOLERANT_SAMPLES.len());
    store
        .insert_catalog_artists(catalog.artists())
        .await
        .unwrap();
    let write =
        syncdeck::sql!("UPDATE artists SET sync_status = $1::jsonb WHERE ticketmaster_id = $2");
    let mut expected: HashMap<String, SyncStatus> = HashMap::new();
    let mut written = 0;
    for (i, (raw, parts)) in TOLERANT_SAMPLES.iter().enumerate() {
        let tm = catalog.artists()[i].ticketmaster_id.clone();
        let valid_json = raw.is_none_or(|r| serde_json::from_str::<serde_json::Value>(r).is_ok());
        if store.backend() == Backend::Postgres && !valid_json {
            // A jsonb column cannot hold it; the row keeps its seeded all-pending object.
            expected.insert(tm, SyncStatus::default());
            continue;
        }
        syncdeck::with_pool!(&store.db, p, b => {
            sqlx::query(write.text(b)).bind(*raw).bind(&tm).execute(p).await.map(|_| ()).expect("write raw sync_status")
        });
        written += 1;
        let [ticketmaster, spotify, setlistfm] = *parts;
        let want = SyncStatus {
            ticketmaster,
            spotify,
            setlistfm,
        };
        assert_eq!(
            SyncStatus::from_db(*raw),
            want,
            "the Rust reading of {raw:?}"
        );
        expected.insert(tm, want);
    }
    let min_written = if store.backend() == Backend::Postgres {
        10
    } else {
        TOLERANT_SAMPLES.len()
    };
    assert!(written >= min_written, "{written}");

    // The Rust reading of each row.
    let all = list(store, ArtistFilter::default()).await;
    assert_eq!(all.len(), TOLERANT_SAMPLES.len());
    for row in &all {
        assert_eq!(
            row.sync_status, expected[&row.ticketmaster_id],
            "{}",
            row.ticketmaster_id
        );
    }
    // The SQL reading: filtering in the database selects exactly the rows the Rust reading says.
    for source in Source::ALL {
        for status in PartStatus::ALL {
            let got = list(
                store,
                ArtistFilter {
                    parts: vec![(source, status)],
                    ..Default::default()
                },
            )
            .await;
            let want: BTreeSet<String> = expected
                .iter()
                .filter(|(_, s)| s.get(source) == status)
                .map(|(tm, _)| tm.clone())
                .collect();
            assert_eq!(tm_set(&got), want, "{source:?} = {status:?}");
        }
    }
    for overall in [
        Overall::Syncing,
        Overall::Error,
        Overall::Pending,
        Overall::Success,
    ] {
        let got = list(
            store,
            ArtistFilter {
                overall: Some(overall),
                ..Default::default()
            },
        )
        .await;
        let want: BTreeSet<String> = expected
            .iter()
            .filter(|(_, s)| s.overall() == overall)
            .map(|(tm, _)| tm.clone())
            .collect();
        assert_eq!(tm_set(&got), want, "overall {overall:?}");
    }
    // And sorting by a part groups rows by the same reading.
    for (sort, source) in [
        (SortKey::Ticketmaster, Source::Ticketmaster),
        (SortKey::Spotify, Source::Spotify),
        (SortKey::Setlistfm, Source::Setlistfm),
    ] {
        let rows = store
            .list_artists(&ListQuery {
                sort,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .rows;
        let words: Vec<PartStatus> = rows.iter().map(|r| r.sync_status.get(source)).collect();
        let mut sorted = words.clone();
        // The enum's order (pending, syncing, success, error), as the database ranks it.
        sorted.sort();
        assert_eq!(words, sorted, "{sort:?} sorts by the tolerant reading");
    }
}

// ---- the real binary ----

/// Runs the binary with a clean environment: only PATH, HOME and the data dir, plus `env`.
fn syncdeck(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let env_file = dir.join("empty.env");
    std::fs::write(&env_file, "").unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_syncdeck"));
    cmd.current_dir(dir)
        .arg("--env-file")
        .arg(&env_file)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("SYNCDECK_DATA_DIR", dir.join("data"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run syncdeck")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn all_output(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Checks `status --json` output against the data contract and the catalog.
fn check_status_json(text: &str, catalog: &Catalog) {
    let v: serde_json::Value = serde_json::from_str(text).expect("status --json is JSON");
    let entries = v.as_array().expect("an array");
    assert_eq!(entries.len(), catalog.len());
    let names: HashSet<&str> = catalog.artists().iter().map(|a| a.name.as_str()).collect();
    let mut seen = HashSet::new();
    for e in entries {
        let id = e["id"].as_str().expect("id");
        uuid::Uuid::parse_str(id).expect("id is a uuid");
        let name = e["name"].as_str().expect("name");
        assert!(names.contains(name), "raw name {name:?}");
        assert!(
            seen.insert(
                e["ticketmaster_id"]
                    .as_str()
                    .expect("ticketmaster_id")
                    .to_string()
            )
        );
        assert!(e["spotify_id"].is_null() || e["spotify_id"].is_string());
        let status = e["sync_status"].as_object().expect("sync_status object");
        let keys: Vec<&str> = status.keys().map(String::as_str).collect();
        assert_eq!(keys, ["setlistfm", "spotify", "ticketmaster"]);
        assert!(status.values().all(|s| s == "pending"));
        assert_eq!(e["overall"], "pending");
        assert!(e["last_sync"].is_null());
        assert!(e.get("last_sync_error").is_some_and(|x| x.is_null()));
        assert_eq!(e["upcoming_shows_count"], 0);
        assert_eq!(e["songs_count"], 0);
    }
    // The awkward names come back byte-exact through JSON.
    for a in &catalog.artists()[..AWKWARD_ARTISTS] {
        assert!(
            entries.iter().any(|e| e["name"] == a.name.as_str()),
            "{:?}",
            a.name
        );
    }
}

#[test]
fn binary_seeds_then_reports_status_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested").join("demo.db");
    let url = format!("sqlite://{}", db.display());
    let env = [("DATABASE_URL", url.as_str())];
    let catalog = Catalog::new(DEMO_SEED, 200);

    let seed = syncdeck(dir.path(), &env, &["seed", "--demo"]);
    assert!(seed.status.success(), "{}", all_output(&seed));
    let text = stdout(&seed);
    assert!(
        text.contains(&format!(
            "seeded 200 demo artists into sqlite {} (0 already present)",
            db.display()
        )),
        "{text}"
    );
    let again = syncdeck(dir.path(), &env, &["seed", "--demo"]);
    assert!(again.status.success(), "{}", all_output(&again));
    assert!(
        stdout(&again).contains("seeded 0 demo artists")
            && stdout(&again).contains("(200 already present)")
    );

    let json = syncdeck(dir.path(), &env, &["status", "--json"]);
    assert_eq!(json.status.code(), Some(0), "{}", all_output(&json));
    check_status_json(&stdout(&json), &catalog);

    let plain = syncdeck(dir.path(), &env, &["status"]);
    assert_eq!(plain.status.code(), Some(0), "{}", all_output(&plain));
    let text = stdout(&plain);
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "control characters reached the terminal"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 202, "header, 200 artists, summary");
    assert!(lines[0].starts_with("NAME"));
    assert!(text.contains("Evil^[[31mRed^GBand"));
    assert!(lines.iter().filter(|l| l.contains("never")).count() >= 200);
    assert_eq!(
        lines[201],
        format!(
            "200 artists in sqlite {}: 0 syncing, 0 error, 200 pending, 0 success",
            db.display()
        )
    );

    // The console's filter language, accents and case folded, `|` for alternatives.
    let evil = syncdeck(dir.path(), &env, &["status", "--filter", "EVIL|motley"]);
    assert_eq!(evil.status.code(), Some(0), "{}", all_output(&evil));
    let text = stdout(&evil);
    assert!(text.contains("Evil^[[31mRed^GBand"), "{text}");
    assert!(text.contains("Mötley Crüe"), "{text}");
    assert!(
        text.ends_with("2 of 200 artists match the filter\n"),
        "{text}"
    );
    // `~`: a fuzzy name, the letters in order.
    let fuzzy = syncdeck(dir.path(), &env, &["status", "--filter", "~mtlycr"]);
    assert_eq!(fuzzy.status.code(), Some(0), "{}", all_output(&fuzzy));
    let text = stdout(&fuzzy);
    assert!(text.contains("Mötley Crüe"), "{text}");
    assert!(
        text.ends_with("1 of 200 artists match the filter\n"),
        "{text}"
    );
    let json = syncdeck(
        dir.path(),
        &env,
        &["status", "--json", "--filter", "!never-synced"],
    );
    assert_eq!(stdout(&json).trim(), "[]");
    let bad = syncdeck(dir.path(), &env, &["status", "--filter", "status:bogus"]);
    assert_eq!(bad.status.code(), Some(2), "{}", all_output(&bad));
    assert!(
        all_output(&bad).contains("status is one of"),
        "{}",
        all_output(&bad)
    );
}

#[test]
fn binary_seed_works_on_a_fresh_default_database() {
    let dir = tempfile::tempdir().unwrap();
    let seed = syncdeck(dir.path(), &[], &["seed", "--demo", "--artists", "12"]);
    assert!(seed.status.success(), "{}", all_output(&seed));
    assert!(
        stdout(&seed).contains("seeded 12 demo artists"),
        "{}",
        stdout(&seed)
    );
    assert!(dir.path().join("data").join("syncdeck.db").exists());
    let json = syncdeck(dir.path(), &[], &["status", "--json"]);
    assert!(json.status.success(), "{}", all_output(&json));
    check_status_json(&stdout(&json), &Catalog::new(DEMO_SEED, 12));
}

#[test]
fn binary_refuses_bad_seed_and_status_requests_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let no_demo = syncdeck(dir.path(), &[], &["seed"]);
    assert!(!no_demo.status.success());
    assert!(
        all_output(&no_demo).contains("seed --demo"),
        "{}",
        all_output(&no_demo)
    );
    let zero = syncdeck(dir.path(), &[], &["seed", "--demo", "--artists", "0"]);
    assert!(!zero.status.success());
    assert!(
        all_output(&zero).contains("--artists"),
        "{}",
        all_output(&zero)
    );

    // status never creates a database, and says what to run.
    let missing = syncdeck(dir.path(), &[], &["status"]);
    assert!(!missing.status.success());
    assert!(
        all_output(&missing).contains("migrate"),
        "{}",
        all_output(&missing)
    );
    assert!(!dir.path().join("data").join("syncdeck.db").exists());

    // An existing file without the tables.
    let empty = dir.path().join("empty.db");
    let url = format!("sqlite://{}", empty.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(
            &syncdeck::config::DatabaseUrl::Sqlite {
                path: empty.clone(),
                memory: false,
            },
            syncdeck::store::OpenMode::Create,
        )
        .await
        .unwrap();
        store.close().await;
    });
    let unmigrated = syncdeck(
        dir.path(),
        &[("DATABASE_URL", url.as_str())],
        &["status", "--json"],
    );
    assert!(!unmigrated.status.success());
    let text = all_output(&unmigrated);
    assert!(
        text.contains("syncdeck migrate") && !text.contains("panicked"),
        "{text}"
    );
    assert!(unmigrated.stdout.is_empty(), "no partial JSON on failure");
}

#[test]
fn binary_seeds_then_reports_status_on_postgres() {
    if skip_pg() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(PgDatabase::create("binary_status"));
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];
    let seed = syncdeck(dir.path(), &env, &["seed", "--demo", "--artists", "50"]);
    assert!(seed.status.success(), "{}", all_output(&seed));
    assert!(
        stdout(&seed).contains("seeded 50 demo artists into postgres"),
        "{}",
        stdout(&seed)
    );
    let json = syncdeck(dir.path(), &env, &["status", "--json"]);
    assert!(json.status.success(), "{}", all_output(&json));
    check_status_json(&stdout(&json), &Catalog::new(DEMO_SEED, 50));
    drop(db);
}
