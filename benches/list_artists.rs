//! The artists list at scale: 100,000 seeded artists with varied statuses, on SQLite and (when
//! a server is reachable) Postgres. Measures the first page by name, a `spotify:error` page by
//! last sync, and a name-substring page, and prints how much slower the filtered page is.
//!
//! `cargo bench --bench list_artists`. Under `cargo test` (no `--bench`), criterion runs each
//! benchmark once and the data set shrinks to 2,000 artists, so the test run stays short.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use syncdeck::catalog::{Catalog, DEMO_SEED};
use syncdeck::store::artists::{ArtistFilter, ListQuery, SortKey};
use syncdeck::store::sync_status::{PartStatus, Source};
use syncdeck::store::time::to_db;
use syncdeck::store::{Backend, Store};

const BENCH_ARTISTS: usize = 100_000;
const TEST_ARTISTS: usize = 2_000;

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let artists = if benchmarking {
        BENCH_ARTISTS
    } else {
        TEST_ARTISTS
    };
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();

    let (_dir, url) = common::sqlite_url();
    let store = rt.block_on(prepare(&url, artists));
    run_backend(&mut c, &rt, &store, "sqlite");
    rt.block_on(store.close());

    let admin = common::pg_admin_url();
    if rt.block_on(pg_reachable(&admin)) {
        let db = rt.block_on(common::PgDatabase::create("bench"));
        let store = rt.block_on(prepare(&db.database_url(), artists));
        run_backend(&mut c, &rt, &store, "postgres");
        rt.block_on(store.close());
        drop(db);
    } else {
        println!(
            "postgres: skipped (no server at {}; set TEST_DATABASE_URL)",
            redact(&admin)
        );
    }
    c.final_summary();
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

async fn pg_reachable(admin: &str) -> bool {
    use sqlx::Connection;
    matches!(
        tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(admin)).await,
        Ok(Ok(_))
    )
}

/// Seeds the catalog and gives the artists a spread of statuses, sync times and errors.
async fn prepare(url: &syncdeck::config::DatabaseUrl, artists: usize) -> Store {
    let store = common::migrated_store(url).await;
    let started = Instant::now();
    let catalog = Catalog::new(DEMO_SEED, artists);
    let report = store
        .insert_catalog_artists(catalog.artists())
        .await
        .expect("seed");
    let seeded = started.elapsed();
    let now = chrono::Utc::now();
    let rows: Vec<(String, String, Option<String>, Option<String>)> = catalog
        .artists()
        .iter()
        .map(|a| {
            let mix = common::BenchStatus::of(a.index);
            let last_sync = mix
                .minutes_since_sync
                .map(|m| to_db(now - chrono::Duration::minutes(m)));
            (
                a.ticketmaster_id.clone(),
                mix.status.to_json(),
                last_sync,
                mix.error.map(str::to_string),
            )
        })
        .collect();
    // Fresh statistics first, or the planner takes the new table for tiny and the joins below
    // scan it whole for every batch.
    analyze(&store).await;
    for chunk in rows.chunks(500) {
        syncdeck::with_pool!(&store.db, p, b => {
            let cast = |pg: &'static str| if b == Backend::Postgres { pg } else { "" };
            let mut qb = sqlx::QueryBuilder::new(format!(
                "UPDATE artists SET sync_status = v.s{}, last_sync = v.ls{}, last_sync_error = v.err \
                 FROM (SELECT column1 AS tm, column2 AS s, column3 AS ls, column4 AS err FROM (",
                cast("::jsonb"),
                cast("::timestamptz"),
            ));
            qb.push_values(chunk, |mut row, (tm, s, ls, err)| {
                row.push_bind(tm.clone()).push_bind(s.clone()).push_bind(ls.clone()).push_bind(err.clone());
            });
            qb.push(") AS t) AS v WHERE artists.ticketmaster_id = v.tm");
            qb.build().execute(p).await.map(|_| ()).expect("set statuses");
        });
    }
    analyze(&store).await;
    println!(
        "{}: seeded {} artists in {:.1?}, statuses set in {:.1?}",
        store.backend().name(),
        report.inserted,
        seeded,
        started.elapsed() - seeded
    );
    store
}

async fn analyze(store: &Store) {
    syncdeck::with_pool!(&store.db, p, _b => {
        sqlx::query("ANALYZE").execute(p).await.map(|_| ()).expect("analyze")
    });
}

fn queries() -> [(&'static str, ListQuery); 3] {
    [
        ("first_page_by_name", ListQuery::default()),
        (
            "spotify_error_by_last_sync",
            ListQuery {
                filter: ArtistFilter {
                    parts: vec![(Source::Spotify, PartStatus::Error)],
                    ..Default::default()
                },
                sort: SortKey::LastSync,
                descending: true,
                ..Default::default()
            },
        ),
        (
            "name_contains",
            ListQuery {
                filter: ArtistFilter {
                    name_contains: Some("fox".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        ),
    ]
}

fn run_backend(c: &mut Criterion, rt: &tokio::runtime::Runtime, store: &Store, name: &str) {
    let mut group = c.benchmark_group(format!("list_artists/{name}"));
    // Flat sampling: a slow query is run sample_size times, not 55, which bounds the run time.
    group.sampling_mode(SamplingMode::Flat);
    for (label, q) in queries() {
        let page = rt.block_on(store.list_artists(&q)).expect("list");
        println!(
            "{name}/{label}: {} rows of {} matching, {} total",
            page.rows.len(),
            page.matching,
            page.total
        );
        group.bench_function(label, |b| {
            b.to_async(rt)
                .iter(|| async { store.list_artists(&q).await.expect("list") })
        });
    }
    group.finish();

    // The medians, measured here too so the ratio can be printed (criterion keeps its own).
    let [unfiltered, filtered, by_name] = queries().map(|(_, q)| median_time(rt, store, &q));
    println!(
        "{name}: filtered (spotify:error by last sync) page {:.1?} vs first page by name {:.1?}: {:.1}x; name substring {:.1?}: {:.1}x",
        filtered,
        unfiltered,
        filtered.as_secs_f64() / unfiltered.as_secs_f64().max(1e-9),
        by_name,
        by_name.as_secs_f64() / unfiltered.as_secs_f64().max(1e-9),
    );
}

fn median_time(rt: &tokio::runtime::Runtime, store: &Store, q: &ListQuery) -> Duration {
    let mut times: Vec<Duration> = (0..7)
        .map(|_| {
            let t = Instant::now();
            rt.block_on(store.list_artists(q)).expect("list");
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
