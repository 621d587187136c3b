//! Per-key API budgets shared through the database, on SQLite and Postgres: two `Store` handles
//! stand for two processes. Assertions are on the slot times handed out, not on wall-clock sleeps.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use common::{PgDatabase, migrated_store, skip_pg, sqlite_url};
use futures::future::BoxFuture;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use syncdeck::engine::budget_gate::DbGate;
use syncdeck::providers::gate::RequestGate;
use syncdeck::providers::http::{HttpSettings, ProviderHttp, Transport, TransportResult};
use syncdeck::providers::limiter::Rate;
use syncdeck::providers::{Provider, ProviderError};
use syncdeck::store::budgets::{
    self, BudgetKey, MAX_BOOK_AHEAD, SlotGrant, count_answer, set_throttled, snapshot_at, take_slot,
};
use syncdeck::store::{OpenMode, Store};

const SECRET: &str = "tmCANARYa1b2c3d4e5f6g7h8";

fn ms(n: i64) -> chrono::Duration {
    chrono::Duration::milliseconds(n)
}

/// Now, to the millisecond the store keeps.
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("a valid now")
}

fn key(name: &str, interval_ms: u64, day_limit: Option<u32>) -> BudgetKey {
    BudgetKey::for_secret(
        "ticketmaster",
        &format!("{SECRET}-{name}"),
        Duration::from_millis(interval_ms),
        day_limit,
    )
}

fn slot_of(g: SlotGrant) -> (DateTime<Utc>, u32) {
    match g {
        SlotGrant::At { slot, day_used, .. } => (slot, day_used),
        other => panic!("expected a slot, got {other:?}"),
    }
}

/// Two handles on one SQLite file, as two processes would have.
async fn sqlite_pair() -> (tempfile::TempDir, Store, Store) {
    let (dir, url) = sqlite_url();
    let a = migrated_store(&url).await;
    let b = Store::open(&url, OpenMode::Existing)
        .await
        .expect("second handle");
    (dir, a, b)
}

async fn pg_pair(tag: &str) -> (PgDatabase, Store, Store) {
    let db = PgDatabase::create(tag).await;
    let a = migrated_store(&db.database_url()).await;
    let b = Store::open(&db.database_url(), OpenMode::Existing)
        .await
        .expect("second handle");
    (db, a, b)
}

// ---------------------------------------------------------------------------------------------
// The cases, each on two handles.

async fn concurrent_takers_get_spaced_slots(a: Store, b: Store) {
    let k = key("spacing", 100, None);
    let mut tasks = Vec::new();
    for store in [a, b] {
        for _ in 0..4 {
            let (store, k) = (store.clone(), k.clone());
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..5 {
                    let g = take_slot(&store, &k, Utc::now()).await.expect("take_slot");
                    got.push(slot_of(g));
                }
                got
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("taker"));
    }
    assert_eq!(all.len(), 40);
    let mut used: Vec<u32> = all.iter().map(|(_, u)| *u).collect();
    used.sort_unstable();
    assert_eq!(
        used,
        (1..=40).collect::<Vec<_>>(),
        "every grant counted once"
    );
    let mut slots: Vec<DateTime<Utc>> = all.iter().map(|(s, _)| *s).collect();
    slots.sort_unstable();
    for w in slots.windows(2) {
        assert!(
            w[1] - w[0] >= ms(100),
            "slots {} and {} too close",
            w[0],
            w[1]
        );
    }
    let span = slots[39] - slots[0];
    assert!(span >= ms(3900), "40 slots at 10/s span {span}");
}

async fn daily_limit_exhausts_after_exactly_the_limit(a: Store, b: Store) {
    let k = key("daily", 1, Some(5));
    let start = t0();
    for i in 0..5 {
        let store = if i % 2 == 0 { &a } else { &b };
        let g = take_slot(store, &k, start + ms(i))
            .await
            .expect("take_slot");
        match g {
            SlotGrant::At {
                day_used,
                day_limit,
                ..
            } => assert_eq!((day_used, day_limit), (i as u32 + 1, Some(5))),
            other => panic!("grant {i}: {other:?}"),
        }
    }
    for store in [&a, &b] {
        let g = take_slot(store, &k, start + ms(10))
            .await
            .expect("take_slot");
        assert_eq!(
            g,
            SlotGrant::Exhausted {
                resets_at: start + chrono::Duration::hours(24),
                day_used: 5,
                day_limit: 5
            }
        );
    }
}

async fn a_throttle_from_one_handle_delays_the_other(a: Store, b: Store) {
    let k = key("throttle", 200, Some(5000));
    let start = t0();
    set_throttled(&a, &k, start + ms(10_000))
        .await
        .expect("set_throttled");
    // A shorter throttle heard later never cuts the longer one short.
    set_throttled(&a, &k, start + ms(2_000))
        .await
        .expect("set_throttled");
    let (slot, _) = slot_of(take_slot(&b, &k, start).await.expect("take_slot"));
    assert_eq!(slot, start + ms(10_000));
    let (next, _) = slot_of(take_slot(&a, &k, start).await.expect("take_slot"));
    assert_eq!(next, start + ms(10_200));
    // A throttle past the booking horizon books nothing and says until when.
    let far = start + chrono::Duration::from_std(MAX_BOOK_AHEAD).expect("horizon") + ms(5_000);
    set_throttled(&b, &k, far).await.expect("set_throttled");
    assert_eq!(
        take_slot(&a, &k, start).await.expect("take_slot"),
        SlotGrant::Throttled { until: far }
    );
    let row = &snapshot_at(&a, start).await.expect("snapshot")[0];
    assert_eq!((row.day_used, row.throttled_until), (2, Some(far)));
}

async fn the_day_rolls_over_after_24_hours(a: Store, b: Store) {
    let k = key("rollover", 1, Some(3));
    let start = t0();
    for i in 0..3 {
        slot_of(take_slot(&a, &k, start + ms(i)).await.expect("take_slot"));
    }
    let later = start + chrono::Duration::hours(23);
    assert!(matches!(
        take_slot(&b, &k, later).await.expect("take_slot"),
        SlotGrant::Exhausted { .. }
    ));
    let row = &snapshot_at(&b, later).await.expect("snapshot")[0];
    assert_eq!(
        (row.day_used, row.day_limit, row.resets_at),
        (3, Some(3), Some(start + chrono::Duration::hours(24)))
    );
    // Past the window, the console shows a fresh day before anyone has asked.
    let next_day = start + chrono::Duration::hours(24) + ms(1_000);
    let row = &snapshot_at(&b, next_day).await.expect("snapshot")[0];
    assert_eq!((row.day_used, row.resets_at), (0, None));
    let (slot, used) = slot_of(take_slot(&b, &k, next_day).await.expect("take_slot"));
    assert_eq!((slot, used), (next_day, 1));
    let row = &snapshot_at(&a, next_day).await.expect("snapshot")[0];
    assert_eq!(
        (row.day_used, row.resets_at),
        (1, Some(next_day + chrono::Duration::hours(24)))
    );
}

/// Two processes told different daily limits for one key (the console at the documented 5,000,
/// a `sync --tm-daily 4`): the row holds the strictest for the day, so the header shows one
/// figure instead of flipping, and the looser process stops there too; the next day starts
/// from the limit of whoever opens it.
async fn the_strictest_daily_limit_holds_for_the_day(a: Store, b: Store) {
    let loose = key("two-limits", 1, Some(5000));
    let strict = BudgetKey {
        day_limit: Some(4),
        ..loose.clone()
    };
    let start = t0();
    slot_of(take_slot(&a, &loose, start).await.expect("take_slot"));
    let row = &snapshot_at(&a, start).await.expect("snapshot")[0];
    assert_eq!(row.day_limit, Some(5000));
    slot_of(
        take_slot(&b, &strict, start + ms(1))
            .await
            .expect("take_slot"),
    );
    for i in 2..4 {
        let (_, used) = slot_of(
            take_slot(&a, &loose, start + ms(i))
                .await
                .expect("take_slot"),
        );
        assert_eq!(used, i as u32 + 1);
        let row = &snapshot_at(&b, start + ms(i)).await.expect("snapshot")[0];
        assert_eq!(
            row.day_limit,
            Some(4),
            "the loose process keeps the strict limit"
        );
    }
    assert!(
        matches!(
            take_slot(&a, &loose, start + ms(10))
                .await
                .expect("take_slot"),
            SlotGrant::Exhausted { day_limit: 4, .. }
        ),
        "the loose process stops at the strict limit"
    );
    let next_day = start + chrono::Duration::hours(24) + ms(5);
    slot_of(take_slot(&a, &loose, next_day).await.expect("take_slot"));
    let row = &snapshot_at(&b, next_day).await.expect("snapshot")[0];
    assert_eq!((row.day_used, row.day_limit), (1, Some(5000)));
}

async fn slots_are_never_booked_past_the_horizon(a: Store, b: Store) {
    let k = key("horizon", 10_000, None);
    let start = t0();
    // 0 s, 10 s, …, 60 s: the last is exactly at the horizon.
    for i in 0..7 {
        let store = if i % 2 == 0 { &a } else { &b };
        let (slot, _) = slot_of(take_slot(store, &k, start).await.expect("take_slot"));
        assert_eq!(slot, start + ms(10_000 * i));
    }
    assert_eq!(
        take_slot(&a, &k, start).await.expect("take_slot"),
        SlotGrant::TooFar {
            retry_at: start + ms(10_000)
        }
    );
    // Nothing was booked by the refusal: 7 used, and the next slot is still 70 s out.
    assert_eq!(
        snapshot_at(&b, start).await.expect("snapshot")[0].day_used,
        7
    );
    let (slot, _) = slot_of(
        take_slot(&b, &k, start + ms(10_000))
            .await
            .expect("take_slot"),
    );
    assert_eq!(slot, start + ms(70_000));
}

async fn the_stored_key_never_contains_the_secret(a: Store, _b: Store) {
    let k = BudgetKey::for_secret("setlist.fm", SECRET, Duration::from_secs(1), Some(1440));
    assert!(!k.key.contains(SECRET));
    slot_of(take_slot(&a, &k, t0()).await.expect("take_slot"));
    set_throttled(&a, &k, t0() + ms(1_000))
        .await
        .expect("set_throttled");
    let q = syncdeck::sql!(
        "SELECT budget_key || '|' || provider || '|' || day_started_at::text || '|' || day_used::text \
           || '|' || day_limit::text || '|' || next_slot_at::text || '|' || COALESCE(throttled_until::text, '') \
           || '|' || updated_at::text FROM syncdeck_api_budgets"
    );
    let rows: Vec<String> = syncdeck::with_pool!(&a.db, p, b => {
        sqlx::query_scalar::<_, String>(q.text(b)).fetch_all(p).await.expect("read rows")
    });
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].starts_with(&format!("{}|setlist.fm|", k.key)),
        "{}",
        rows[0]
    );
    for part in [SECRET, &SECRET[..12], &SECRET[SECRET.len() - 12..]] {
        assert!(
            !rows[0].contains(part),
            "the row holds the secret: {}",
            rows[0]
        );
    }
    let snap = budgets::snapshot(&a).await.expect("snapshot");
    assert_eq!(snap[0].key, k.key);
    assert_eq!(snap[0].key.len(), "setlist.fm:".len() + 8);
}

/// 429s and 5xx answers counted by two processes add up in one row; other statuses count
/// nothing; a key no request has booked yet gets its row.
async fn refused_answers_are_counted_for_every_process(a: Store, b: Store) {
    let k = key("tm", 200, Some(5000));
    for (store, status) in [
        (&a, 429),
        (&b, 429),
        (&a, 503),
        (&b, 500),
        (&a, 404),
        (&b, 200),
    ] {
        count_answer(store, &k, status).await.expect("count_answer");
    }
    let row = &snapshot_at(&b, t0()).await.expect("snapshot")[0];
    assert_eq!((row.answers_429, row.answers_5xx), (2, 2));
    assert_eq!(row.day_used, 0, "answers are not requests");
    // Requests booked afterwards leave the counts alone.
    take_slot(&a, &k, t0()).await.expect("take_slot");
    let row = &snapshot_at(&a, t0()).await.expect("snapshot")[0];
    assert_eq!((row.answers_429, row.answers_5xx, row.day_used), (2, 2, 1));
}

// ---------------------------------------------------------------------------------------------
// One test per case and backend.

macro_rules! on_both_backends {
    ($case:ident, $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $sqlite() {
            let (_dir, a, b) = sqlite_pair().await;
            $case(a, b).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $postgres() {
            if skip_pg() {
                return;
            }
            let (_db, a, b) = pg_pair(stringify!($case)).await;
            $case(a.clone(), b.clone()).await;
            a.close().await;
            b.close().await;
        }
    };
}

on_both_backends!(
    concurrent_takers_get_spaced_slots,
    sqlite_concurrent_takers_get_spaced_slots,
    postgres_concurrent_takers_get_spaced_slots
);
on_both_backends!(
    daily_limit_exhausts_after_exactly_the_limit,
    sqlite_daily_limit_exhausts_after_exactly_the_limit,
    postgres_daily_limit_exhausts_after_exactly_the_limit
);
on_both_backends!(
    a_throttle_from_one_handle_delays_the_other,
    sqlite_a_throttle_from_one_handle_delays_the_other,
    postgres_a_throttle_from_one_handle_delays_the_other
);
on_both_backends!(
    the_day_rolls_over_after_24_hours,
    sqlite_the_day_rolls_over_after_24_hours,
    postgres_the_day_rolls_over_after_24_hours
);
on_both_backends!(
    the_strictest_daily_limit_holds_for_the_day,
    sqlite_the_strictest_daily_limit_holds_for_the_day,
    postgres_the_strictest_daily_limit_holds_for_the_day
);
on_both_backends!(
    slots_are_never_booked_past_the_horizon,
    sqlite_slots_are_never_booked_past_the_horizon,
    postgres_slots_are_never_booked_past_the_horizon
);
on_both_backends!(
    refused_answers_are_counted_for_every_process,
    sqlite_refused_answers_are_counted_for_every_process,
    postgres_refused_answers_are_counted_for_every_process
);
on_both_backends!(
    the_stored_key_never_contains_the_secret,
    sqlite_the_stored_key_never_contains_the_secret,
    postgres_the_stored_key_never_contains_the_secret
);

// ---------------------------------------------------------------------------------------------
// DbGate: the gate ProviderHttp awaits, on the real clock (its slots are wall-clock times).

fn settings(interval_ms: u64, daily_limit: Option<u64>) -> HttpSettings {
    HttpSettings {
        rate: Rate {
            count: 1,
            period: Duration::from_millis(interval_ms),
            burst: 1,
            margin: Duration::ZERO,
        },
        daily_limit,
        ..HttpSettings::for_provider(Provider::Ticketmaster)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn db_gates_of_two_processes_pace_together_and_stop_at_the_quota() {
    let (_dir, a, b) = sqlite_pair().await;
    let s = settings(50, Some(8));
    let ga = Arc::new(DbGate::for_provider(a, Provider::Ticketmaster, SECRET, &s));
    let gb = Arc::new(DbGate::for_provider(b, Provider::Ticketmaster, SECRET, &s));
    assert_eq!(ga.key(), gb.key(), "one key, one shared row");
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for g in [ga.clone(), gb.clone()] {
        for _ in 0..2 {
            let g = g.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..2 {
                    g.acquire().await.expect("acquire");
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("acquirer");
    }
    // Eight requests 50 ms apart: the last goes out 350 ms after the first at the earliest.
    assert!(
        started.elapsed() >= Duration::from_millis(340),
        "{:?}",
        started.elapsed()
    );
    match gb.acquire().await {
        Err(ProviderError::QuotaExhausted {
            provider: Provider::Ticketmaster,
            resets_at: Some(_),
        }) => {}
        other => panic!("expected the quota to be exhausted, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_db_gate_counts_429_and_5xx_answers_for_the_other_processes() {
    let (_dir, a, b) = sqlite_pair().await;
    let s = settings(10, None);
    let ga = DbGate::for_provider(a, Provider::Setlistfm, SECRET, &s);
    for status in [429, 502, 200, 404] {
        ga.answered(status);
    }
    // Recorded in the background: poll the other handle until it sees both.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rows = snapshot_at(&b, t0()).await.expect("snapshot");
        if rows.first().map(|r| (r.answers_429, r.answers_5xx)) == Some((1, 1)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the answers never reached the table: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_db_gate_shares_a_429_with_the_other_processes() {
    let (_dir, a, b) = sqlite_pair().await;
    let s = settings(10, None);
    let ga = DbGate::for_provider(a, Provider::Ticketmaster, SECRET, &s);
    let until = t0() + ms(5_000);
    ga.throttled(until);
    // Recorded in the background: poll the other handle until it sees it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let rows = snapshot_at(&b, t0()).await.expect("snapshot");
        if rows.first().and_then(|r| r.throttled_until) == Some(until) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the throttle never reached the table: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (slot, _) = slot_of(take_slot(&b, ga.key(), t0()).await.expect("take_slot"));
    assert_eq!(slot, until);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_db_gate_lets_requests_go_when_the_database_fails() {
    let (_dir, a, _b) = sqlite_pair().await;
    let gate = DbGate::for_provider(
        a.clone(),
        Provider::Setlistfm,
        SECRET,
        &settings(1000, Some(1440)),
    );
    a.close().await;
    let started = tokio::time::Instant::now();
    for _ in 0..3 {
        gate.acquire()
            .await
            .expect("a closed database never stops a request");
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------------
// ProviderHttp with a gate: acquired once per attempt, told of each 429. A scripted transport
// answers in memory on tokio's paused clock.

#[derive(Default)]
struct CountingGate {
    acquired: AtomicUsize,
    throttles: Mutex<Vec<DateTime<Utc>>>,
    /// Transport calls seen when each acquire ran, so the order is checked too.
    sent_at_acquire: Mutex<Vec<usize>>,
    transport: Mutex<Option<Arc<Script>>>,
    refuse: bool,
}

impl RequestGate for CountingGate {
    fn acquire(&self) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            self.acquired.fetch_add(1, Ordering::SeqCst);
            let sent = self
                .transport
                .lock()
                .unwrap()
                .as_ref()
                .map_or(0, |s| s.sent.load(Ordering::SeqCst));
            self.sent_at_acquire.lock().unwrap().push(sent);
            if self.refuse {
                return Err(ProviderError::QuotaExhausted {
                    provider: Provider::Ticketmaster,
                    resets_at: None,
                });
            }
            Ok(())
        })
    }

    fn throttled(&self, until: DateTime<Utc>) {
        self.throttles.lock().unwrap().push(until);
    }
}

/// A status and its headers.
type Answer = (u16, Vec<(&'static str, &'static str)>);

struct Script {
    answers: Mutex<VecDeque<Answer>>,
    sent: AtomicUsize,
}

impl Transport for Script {
    fn execute<'a>(
        &'a self,
        _client: &'a reqwest::Client,
        _request: reqwest::Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = TransportResult> + Send + 'a>> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        let (status, headers) = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("the script has no more answers");
        Box::pin(async move {
            let mut h = HeaderMap::new();
            for (k, v) in headers {
                h.insert(k, v.parse().unwrap());
            }
            Ok((StatusCode::from_u16(status).unwrap(), h, Bytes::from("{}")))
        })
    }
}

fn scripted_http(answers: Vec<Answer>, gate: &Arc<CountingGate>) -> (ProviderHttp, Arc<Script>) {
    let script = Arc::new(Script {
        answers: Mutex::new(answers.into()),
        sent: AtomicUsize::new(0),
    });
    *gate.transport.lock().unwrap() = Some(script.clone());
    let http = ProviderHttp::new(
        Provider::Ticketmaster,
        HttpSettings {
            rate: Rate::per_second(1000),
            ..HttpSettings::for_provider(Provider::Ticketmaster)
        },
        vec![SECRET.into()],
    )
    .unwrap()
    .with_transport(script.clone())
    .with_gate(gate.clone());
    (http, script)
}

async fn get(http: &ProviderHttp) -> Result<(), ProviderError> {
    http.send(
        |c| c.get(format!("http://fake.invalid/x?apikey={SECRET}")),
        |r| syncdeck::providers::http::default_classify(Provider::Ticketmaster, r),
        true,
    )
    .await
    .map(|_| ())
}

#[tokio::test(start_paused = true)]
async fn provider_http_acquires_the_gate_once_per_attempt_and_reports_429s() {
    let gate = Arc::new(CountingGate::default());
    let (http, script) = scripted_http(
        vec![
            (429, vec![("retry-after", "3")]),
            (503, vec![]),
            (200, vec![]),
        ],
        &gate,
    );
    let before = Utc::now();
    get(&http).await.expect("the third attempt succeeds");
    assert_eq!(script.sent.load(Ordering::SeqCst), 3);
    assert_eq!(gate.acquired.load(Ordering::SeqCst), 3);
    // Each acquire came right before its own attempt: none sent yet, one, two.
    assert_eq!(*gate.sent_at_acquire.lock().unwrap(), vec![0, 1, 2]);
    let throttles = gate.throttles.lock().unwrap().clone();
    assert_eq!(throttles.len(), 1, "only the 429 is a throttle");
    assert!(throttles[0] >= before + ms(3_000), "{throttles:?}");
}

#[tokio::test(start_paused = true)]
async fn a_gate_refusal_ends_the_request_unsent() {
    let gate = Arc::new(CountingGate {
        refuse: true,
        ..Default::default()
    });
    let (http, script) = scripted_http(vec![], &gate);
    let err = get(&http).await.expect_err("refused by the gate");
    assert!(
        matches!(err, ProviderError::QuotaExhausted { .. }),
        "{err:?}"
    );
    assert_eq!(script.sent.load(Ordering::SeqCst), 0);
    assert_eq!(gate.acquired.load(Ordering::SeqCst), 1);
}
