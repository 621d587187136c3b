//! Show writes at scale: 100,000 shows at ~5,000 venues for one owner artist, written in one
//! transaction either by `upsert_shows_batch` (multi-row statements) or by `upsert_show` (one
//! statement per row), on SQLite and (when a server is reachable) Postgres. Each form gets its
//! own fresh database, so both insert the same rows into the same empty table. Prints rows per
//! second and the batch/per-row ratio per backend.
//!
//! `cargo bench --bench db_writes`. Under `cargo test` (no `--bench`) the data set shrinks to
//! 500 shows at 25 venues, so the test run stays short. One timed run each: a full run takes
//! seconds, so repeated sampling would only multiply the wait.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use syncdeck::config::DatabaseUrl;
use syncdeck::store::upsert::{self, ShowRow, ShowStatus, VenueRow};
use syncdeck::store::upsert_batch::{upsert_shows_batch, upsert_venues_batch};
use syncdeck::store::{Store, Tx};

const BENCH_SHOWS: usize = 100_000;
const BENCH_VENUES: usize = 5_000;
const TEST_SHOWS: usize = 500;
const TEST_VENUES: usize = 25;

#[derive(Clone, Copy)]
enum Form {
    Batch,
    PerRow,
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let (shows, venues) = if benchmarking {
        (BENCH_SHOWS, BENCH_VENUES)
    } else {
        (TEST_SHOWS, TEST_VENUES)
    };
    let data = Data::new(shows, venues);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");

    let (_dir_batch, batch_url) = common::sqlite_url();
    let (_dir_row, row_url) = common::sqlite_url();
    let batch = rt.block_on(run(&batch_url, &data, Form::Batch));
    let per_row = rt.block_on(run(&row_url, &data, Form::PerRow));
    report("sqlite", &data, batch, per_row);

    let admin = common::pg_admin_url();
    if rt.block_on(pg_reachable(&admin)) {
        let batch_db = rt.block_on(common::PgDatabase::create("benchbatch"));
        let row_db = rt.block_on(common::PgDatabase::create("benchrow"));
        let batch = rt.block_on(run(&batch_db.database_url(), &data, Form::Batch));
        let per_row = rt.block_on(run(&row_db.database_url(), &data, Form::PerRow));
        report("postgres", &data, batch, per_row);
    } else {
        println!(
            "postgres: skipped (no server at {}; set TEST_DATABASE_URL)",
            redact(&admin)
        );
    }
}

/// The rows to write, built once so both forms write exactly the same input.
struct Data {
    venues: Vec<VenueRow>,
    shows: Vec<ShowRow>,
}

impl Data {
    fn new(shows: usize, venues: usize) -> Data {
        let first_day = NaiveDate::from_ymd_opt(2027, 1, 1).expect("a valid date");
        let venues: Vec<VenueRow> = (0..venues)
            .map(|i| VenueRow {
                ticketmaster_id: format!("KovBENCH{i:06}"),
                name: format!("Bench Hall {i}"),
                city: Some("Los Angeles".into()),
                country: Some("United States Of America".into()),
                latitude: Some(34.0 + i as f64 / 10_000.0),
                longitude: Some(-118.2),
                timezone: Some("America/Los_Angeles".into()),
                ..Default::default()
            })
            .collect();
        let shows = (0..shows)
            .map(|i| ShowRow {
                ticketmaster_id: format!("vvBENCH{i:07}"),
                name: format!("Bench Show {i}"),
                // Every 20th show is TBA.
                date: (i % 20 != 0).then(|| first_day + chrono::Duration::days((i % 730) as i64)),
                status: ShowStatus::Upcoming,
                image_url: Some(format!("https://img/{i}.jpg")),
                ticket_url: Some(format!("https://tm/e/{i}")),
                url: Some(format!("https://tm/e/{i}")),
                min_price: Some(25.0 + (i % 50) as f64),
                max_price: Some(150.0),
                description: None,
                venue_ticketmaster_id: Some(venues[i % venues.len()].ticketmaster_id.clone()),
                attraction_ticketmaster_ids: vec!["K8vZ917BENCH".into()],
            })
            .collect();
        Data { venues, shows }
    }
}

/// Prepares a fresh database (owner artist, venues) and times writing every show in one
/// transaction, commit included.
async fn run(url: &DatabaseUrl, data: &Data, form: Form) -> Duration {
    let store = common::migrated_store(url).await;
    let owner = uuid::Uuid::new_v4().to_string();
    let q = syncdeck::sql!(
        "INSERT INTO artists (id, name, ticketmaster_id) VALUES ($1::uuid, 'Bench Artist', 'K8vZ917BENCH')"
    );
    syncdeck::with_pool!(&store.db, p, b => {
        sqlx::query(q.text(b)).bind(&owner).execute(p).await.map(|_| ())
    })
    .expect("insert the owner artist");
    let mut tx = store.begin().await.expect("begin");
    let venue_ids = upsert_venues_batch(&mut tx, &data.venues)
        .await
        .expect("venues");
    assert_eq!(venue_ids.len(), data.venues.len());
    tx.commit().await.expect("commit venues");
    analyze(&store).await;

    let started = Instant::now();
    let mut tx = store.begin().await.expect("begin");
    match form {
        Form::Batch => {
            let rows: Vec<(ShowRow, String)> = data
                .shows
                .iter()
                .map(|s| (s.clone(), owner.clone()))
                .collect();
            let ids = upsert_shows_batch(&mut tx, &rows)
                .await
                .expect("shows batch");
            assert_eq!(ids.len(), data.shows.len());
        }
        Form::PerRow => write_per_row(&mut tx, &data.shows, &owner).await,
    }
    tx.commit().await.expect("commit shows");
    let elapsed = started.elapsed();

    let linked: i64 = syncdeck::with_pool!(&store.db, p, _b => {
        sqlx::query_scalar("SELECT count(*) FROM shows WHERE venue_id IS NOT NULL").fetch_one(p).await
    })
    .expect("count shows");
    assert_eq!(
        linked as usize,
        data.shows.len(),
        "every show written and linked"
    );
    store.close().await;
    elapsed
}

async fn write_per_row(tx: &mut Tx, shows: &[ShowRow], owner: &str) {
    for s in shows {
        upsert::upsert_show(tx, s, owner).await.expect("show");
    }
}

async fn analyze(store: &Store) {
    syncdeck::with_pool!(&store.db, p, _b => {
        sqlx::query("ANALYZE").execute(p).await.map(|_| ()).expect("analyze")
    });
}

fn report(backend: &str, data: &Data, batch: Duration, per_row: Duration) {
    let rate = |d: Duration| data.shows.len() as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "{backend}: {} shows at {} venues in one transaction: batch {:.2?}, per-row {:.2?}",
        thousands(data.shows.len() as f64),
        thousands(data.venues.len() as f64),
        batch,
        per_row
    );
    println!(
        "{backend}: batch {} rows/s, per-row {} rows/s, ratio {:.1}",
        thousands(rate(batch)),
        thousands(rate(per_row)),
        rate(batch) / rate(per_row)
    );
}

/// `85,000`: a rate rounded to whole rows, with thousands separators.
fn thousands(n: f64) -> String {
    syncdeck::text::thousands(n.max(0.0).round() as i64)
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
