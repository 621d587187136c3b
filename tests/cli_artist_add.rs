//! `syncdeck artist add`: the real binary against the in-process fake and a migrated SQLite
//! file, plus the library's `import_artist` on Postgres.

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use syncdeck::catalog::{AWKWARD_ARTISTS, CatalogArtist, DEEP_PAGING_ARTIST};
use syncdeck::config::DatabaseUrl;
use syncdeck::engine::Clients;
use syncdeck::engine::artist_import::{ImportOutcome, Pick, import_artist, search_candidates};
use syncdeck::fake::FakeServer;
use syncdeck::store::Store;
use syncdeck::store::artist_import::NewArtist;
use syncdeck::store::artists::ArtistSummary;
use syncdeck::store::sync_status::{PartStatus, SyncStatus};

/// The two fixture attractions both named this (assets/fixtures/tm_attractions.json).
const TWIN_NAME: &str = "Trap Fixture Band";
const TWIN_LINKED: &str = "K8vZ917TRAP";
const TWIN_BARE: &str = "K8vZ917TRP2";

struct Setup {
    dir: tempfile::TempDir,
    url: DatabaseUrl,
    store: Store,
    fake: FakeServer,
}

async fn setup() -> Setup {
    let fake = common::engine::fake_scaled(40, 10, None).await;
    let (dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    Setup {
        dir,
        url,
        store,
        fake,
    }
}

impl Setup {
    fn database_url(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres { url } => url.clone(),
        }
    }

    /// Runs the binary with a clean environment: the fake's variables and DATABASE_URL only.
    async fn run(&self, args: &[&str]) -> Output {
        self.run_without(args, &[]).await
    }

    async fn run_without(&self, args: &[&str], drop: &[&str]) -> Output {
        let cwd: &Path = self.dir.path();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_syncdeck"));
        cmd.current_dir(cwd)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", cwd)
            .env("SYNCDECK_DATA_DIR", cwd.join("data"))
            .env("DATABASE_URL", self.database_url())
            .kill_on_drop(true);
        for (k, v) in self.fake.env() {
            if !drop.contains(&k) {
                cmd.env(k, v);
            }
        }
        let out = tokio::time::timeout(std::time::Duration::from_secs(180), cmd.output())
            .await
            .expect("syncdeck finishes within 3 minutes")
            .expect("syncdeck runs");
        let t = text(&out);
        assert!(!t.contains("panicked"), "panic: {t}");
        for (k, v) in self.fake.env() {
            if k.ends_with("_KEY") || k.ends_with("_SECRET") {
                assert!(!t.contains(&v), "{k} printed: {t}");
            }
        }
        out
    }

    async fn artists(&self) -> Vec<ArtistSummary> {
        self.store.all_artists().await.expect("read artists")
    }

    async fn artist(&self, tm_id: &str) -> Option<ArtistSummary> {
        self.artists()
            .await
            .into_iter()
            .find(|a| a.ticketmaster_id == tm_id)
    }

    /// A generated artist (not a hand-made awkward one, not the 2,500-event one) whose name no
    /// other attraction shares, matching `want`.
    fn catalog_artist(&self, want: impl Fn(&CatalogArtist) -> bool) -> CatalogArtist {
        let all = self.fake.catalog().artists();
        all.iter()
            .filter(|a| a.index >= AWKWARD_ARTISTS && a.index != DEEP_PAGING_ARTIST)
            .filter(|a| {
                all.iter()
                    .filter(|b| b.name.to_lowercase() == a.name.to_lowercase())
                    .count()
                    == 1
            })
            .find(|a| want(a))
            .cloned()
            .expect("the catalog has such an artist")
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// `--json` prints exactly one object on stdout.
fn json(o: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one JSON object expected: {}", text(o));
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn all_pending(a: &ArtistSummary) {
    assert_eq!(
        a.sync_status,
        SyncStatus::all(PartStatus::Pending),
        "{}",
        a.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_name_is_imported_with_the_attractions_links() {
    let s = setup().await;
    let want = s.catalog_artist(|a| {
        a.tm_links_spotify
            && a.tm_links_musicbrainz
            && a.spotify_id.is_some()
            && a.musicbrainz_id.is_some()
    });
    let out = s.run(&["artist", "add", &want.name]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("added") && t.contains(&want.ticketmaster_id),
        "{t}"
    );
    assert!(
        t.contains("from the Ticketmaster attraction's links"),
        "{t}"
    );
    let rows = s.artists().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let a = &rows[0];
    assert_eq!(a.name, want.name);
    assert_eq!(a.ticketmaster_id, want.ticketmaster_id);
    assert_eq!(a.spotify_id, want.spotify_id);
    assert_eq!(a.setlist_fm_mbid, want.musicbrainz_id);
    all_pending(a);
    assert!(t.contains(&a.id), "the new artist's id is printed: {t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_name_matches_whatever_its_case_and_searches_fill_missing_ids() {
    let s = setup().await;
    // Sigur Rós: no Spotify link on the attraction, found only by an exact-name search.
    let sigur = s
        .fake
        .catalog()
        .artists()
        .iter()
        .find(|a| a.name == "Sigur Rós")
        .cloned()
        .expect("Sigur Rós is in every catalog");
    assert!(!sigur.tm_links_spotify && sigur.spotify_id.is_some());
    let out = s.run(&["artist", "add", "SIGUR RÓS", "--json"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["outcome"], "imported", "{v}");
    assert_eq!(v["name"], "Sigur Rós");
    assert_eq!(v["ticketmaster_id"], sigur.ticketmaster_id.as_str());
    assert_eq!(v["spotify_id"], sigur.spotify_id.as_deref().unwrap_or(""));
    let notes = v["notes"].to_string();
    assert!(
        notes.contains("spotify: id found by an exact-name search"),
        "{v}"
    );
    let a = s.artist(&sigur.ticketmaster_id).await.expect("imported");
    assert_eq!(a.name, "Sigur Rós", "stored under Ticketmaster's spelling");
    assert_eq!(a.spotify_id, sigur.spotify_id);
    assert_eq!(a.setlist_fm_mbid, sigur.musicbrainz_id);
    all_pending(&a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_of_one_name_list_their_ids_and_tm_id_picks_one() {
    let s = setup().await;
    let out = s.run(&["artist", "add", TWIN_NAME]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains(TWIN_LINKED) && t.contains(TWIN_BARE), "{t}");
    assert!(t.contains("upcoming event"), "{t}");
    assert!(t.contains("--tm-id"), "says how to pick: {t}");
    assert!(s.artists().await.is_empty(), "nothing added");

    let out = s.run(&["artist", "add", TWIN_NAME, "--json"]).await;
    assert_eq!(code(&out), 1);
    let v = json(&out);
    assert_eq!(v["outcome"], "ambiguous");
    let ids: Vec<&str> = v["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .filter_map(|c| c["ticketmaster_id"].as_str())
        .collect();
    assert_eq!(ids, [TWIN_LINKED, TWIN_BARE]);

    let out = s
        .run(&["artist", "add", TWIN_NAME, "--tm-id", TWIN_LINKED])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let rows = s.artists().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].ticketmaster_id, TWIN_LINKED);
    assert_eq!(
        rows[0].spotify_id.as_deref(),
        Some("0TRAPfixtureArtist0001")
    );
    assert_eq!(
        rows[0].setlist_fm_mbid.as_deref(),
        Some("7a4a7a4a-0000-4000-8000-000000000001")
    );
    all_pending(&rows[0]);

    // The twin without links: Spotify and setlist.fm both know two of that name, so neither
    // id is guessed.
    let out = s.run(&["artist", "add", "--tm-id", TWIN_BARE]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("2 artists are named exactly"), "{t}");
    let bare = s.artist(TWIN_BARE).await.expect("imported");
    assert_eq!((bare.spotify_id, bare.setlist_fm_mbid), (None, None));

    let out = s.run(&["artist", "add", "--tm-id", "K8vZ917NOPE"]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("Ticketmaster has no attraction with id \"K8vZ917NOPE\""),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_exact_match_lists_close_ones_and_adds_nothing() {
    let s = setup().await;
    let out = s.run(&["artist", "add", "Nobody Plays Here Qzx"]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("no Ticketmaster attraction matches \"Nobody Plays Here Qzx\""),
        "{}",
        text(&out)
    );
    // A prefix is not the name: the attractions it finds are listed with their ids.
    let out = s.run(&["artist", "add", "Trap Fixture"]).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("named exactly \"Trap Fixture\""), "{t}");
    assert!(t.contains(TWIN_LINKED) && t.contains(TWIN_BARE), "{t}");
    let out = s.run(&["artist", "add", "Trap Fixture", "--json"]).await;
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["outcome"], "no_match");
    assert!(s.artists().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_twice_changes_nothing_and_says_so() {
    let s = setup().await;
    let want = s.catalog_artist(|a| a.spotify_id.is_some());
    let out = s.run(&["artist", "add", &want.name]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let before = s.artist(&want.ticketmaster_id).await.expect("imported");
    let out = s.run(&["artist", "add", &want.name.to_uppercase()]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("already present") && t.contains(&before.id),
        "{t}"
    );
    let out = s
        .run(&["artist", "add", "--tm-id", &want.ticketmaster_id, "--json"])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["outcome"], "already_present");
    assert_eq!(v["artist_id"], before.id.as_str());
    let rows = s.artists().await;
    assert_eq!(rows.len(), 1, "no second row: {rows:?}");
    assert_eq!(rows[0], before, "the row is unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spotify_id_held_by_another_artist_does_not_fail_the_import() {
    let s = setup().await;
    let want = s.catalog_artist(|a| a.tm_links_spotify && a.spotify_id.is_some());
    let spotify_id = want.spotify_id.clone().expect("spotify id");
    // An artist entered by hand earlier, under another Ticketmaster id, holds that Spotify id.
    s.store
        .insert_new_artist(&NewArtist {
            name: "Hand-entered namesake".into(),
            ticketmaster_id: "K8vZ917HAND".into(),
            spotify_id: Some(spotify_id.clone()),
            ..NewArtist::default()
        })
        .await
        .expect("insert the holder");
    let out = s.run(&["artist", "add", &want.name]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!(
            "id {spotify_id} already belongs to artist \"Hand-entered namesake\""
        )),
        "{t}"
    );
    let a = s.artist(&want.ticketmaster_id).await.expect("imported");
    assert_eq!(a.spotify_id, None);
    all_pending(&a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_ticketmaster_key_it_says_what_to_set() {
    let s = setup().await;
    let out = s
        .run_without(&["artist", "add", "Sigur Rós"], &["TICKETMASTER_API_KEY"])
        .await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("TICKETMASTER_API_KEY is not set"), "{t}");
    assert!(t.contains("nothing was added"), "{t}");
    let out = s
        .run_without(
            &["artist", "add", "Sigur Rós", "--json"],
            &["TICKETMASTER_API_KEY"],
        )
        .await;
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["outcome"], "error");
    // Spotify and setlist.fm missing only skip their lookups, with a note.
    let out = s
        .run_without(
            &["artist", "add", "Sigur Rós"],
            &["SPOTIFY_CLIENT_ID", "SETLISTFM_API_KEY"],
        )
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("spotify: not configured, search skipped (SPOTIFY_CLIENT_ID is not set"),
        "{t}"
    );
    assert!(s.artists().await.len() == 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_flag_syncs_the_new_artist() {
    let s = setup().await;
    let want = s.catalog_artist(|a| {
        a.tm_links_spotify
            && a.tm_links_musicbrainz
            && a.spotify_id.is_some()
            && a.musicbrainz_id.is_some()
    });
    let out = s
        .run(&["artist", "add", &want.name, "--sync", "--json"])
        .await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["outcome"], "imported", "{v}");
    assert_eq!(v["sync"]["status"], "succeeded", "{v}");
    for part in ["ticketmaster", "spotify", "setlistfm"] {
        assert_eq!(v["sync"]["sync_status"][part], "success", "{v}");
    }
    let a = s.artist(&want.ticketmaster_id).await.expect("imported");
    assert_eq!(a.sync_status, SyncStatus::all(PartStatus::Success), "{a:?}");
    assert!(
        a.last_sync.is_some() && a.last_sync_error.is_none(),
        "{a:?}"
    );

    // Present already: --sync still syncs it, in plain text this time.
    let out = s.run(&["artist", "add", &want.name, "--sync"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("already present"), "{t}");
    assert!(t.contains("sync succeeded"), "{t}");
    assert!(
        t.contains("ticketmaster success, spotify success, setlist.fm success"),
        "{t}"
    );
    assert_eq!(s.artists().await.len(), 1);
}

/// The library function the CLI and the console share, on Postgres.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_artist_on_postgres() {
    if common::skip_pg() {
        return;
    }
    let db = common::PgDatabase::create("artist_import").await;
    let url = db.database_url();
    let store = common::migrated_store(&url).await;
    let fake = common::engine::fake_scaled(40, 10, None).await;
    let config = common::engine::config_for(&fake, &url);
    let clients = Clients::from_config(&config, &store, &common::engine::client_settings(10));

    let candidates = search_candidates(&clients, "trap fixture")
        .await
        .expect("search");
    let ids: Vec<&str> = candidates
        .iter()
        .map(|c| c.ticketmaster_id.as_str())
        .collect();
    assert_eq!(ids, [TWIN_LINKED, TWIN_BARE]);
    assert!(candidates[0].has_spotify_link && !candidates[1].has_spotify_link);

    let sigur = fake
        .catalog()
        .artists()
        .iter()
        .find(|a| a.name == "Sigur Rós")
        .cloned()
        .expect("Sigur Rós");
    let first = import_artist(&store, &clients, Pick::ByName("sigur rós".into()))
        .await
        .expect("import");
    let ImportOutcome::Imported {
        artist_id,
        name,
        ticketmaster_id,
        spotify_id,
        setlist_fm_mbid,
        ..
    } = &first
    else {
        panic!("expected an import: {first:?}");
    };
    assert_eq!(name, "Sigur Rós");
    assert_eq!(ticketmaster_id, &sigur.ticketmaster_id);
    assert_eq!(spotify_id, &sigur.spotify_id);
    assert_eq!(setlist_fm_mbid, &sigur.musicbrainz_id);

    let again = import_artist(
        &store,
        &clients,
        Pick::ByTicketmasterId(sigur.ticketmaster_id.clone()),
    )
    .await
    .expect("import again");
    assert!(
        matches!(&again, ImportOutcome::AlreadyPresent { artist_id: id, .. } if id == artist_id),
        "{again:?}"
    );

    let twins = import_artist(&store, &clients, Pick::ByName(TWIN_NAME.into()))
        .await
        .expect("search");
    assert!(
        matches!(&twins, ImportOutcome::Ambiguous { candidates, .. } if candidates.len() == 2),
        "{twins:?}"
    );
    let none = import_artist(&store, &clients, Pick::ByName("Qzx Nobody".into()))
        .await
        .expect("search");
    assert!(
        matches!(&none, ImportOutcome::NoMatch { candidates, .. } if candidates.is_empty()),
        "{none:?}"
    );

    // A Spotify id another artist holds: imported without it, and said so (Postgres's
    // unique-key error must not surface).
    store
        .insert_new_artist(&NewArtist {
            name: "Holder".into(),
            ticketmaster_id: "K8vZ917HOLD".into(),
            spotify_id: Some("0TRAPfixtureArtist0001".into()),
            ..NewArtist::default()
        })
        .await
        .expect("insert the holder");
    let linked = import_artist(&store, &clients, Pick::ByTicketmasterId(TWIN_LINKED.into()))
        .await
        .expect("import");
    match &linked {
        ImportOutcome::Imported {
            spotify_id, notes, ..
        } => {
            assert_eq!(spotify_id, &None);
            assert!(
                notes
                    .iter()
                    .any(|n| n.contains("already belongs to artist \"Holder\"")),
                "{notes:?}"
            );
        }
        other => panic!("expected an import: {other:?}"),
    }

    let rows = store.all_artists().await.expect("artists");
    assert_eq!(rows.len(), 3, "{rows:?}");
    for a in &rows {
        assert_eq!(a.sync_status, SyncStatus::all(PartStatus::Pending), "{a:?}");
    }
    store.close().await;
}
