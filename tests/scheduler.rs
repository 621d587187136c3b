//! The keep-fresh scheduler on SQLite and Postgres: one process plans however many share the
//! database (the lease, its expiry and hand-over), it plans within its share of each daily
//! quota and most urgent first, it honours the queue's pause, periodic rules fire once per
//! occurrence, and ticking until nothing is due syncs a whole catalog.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use syncdeck::config::DatabaseUrl;
use syncdeck::engine::clients::ClientSettings;
use syncdeck::engine::scheduler::priority::Reason;
use syncdeck::engine::scheduler::{Rule, Scheduler, SchedulerSettings};
use syncdeck::engine::{Clients, Engine};
use syncdeck::fake::FakeServer;
use syncdeck::store::Store;
use syncdeck::store::runs::RunStatus;

use common::engine::{client_settings, config_for, engine_settings, fake_scaled, seed};

const SCALE: u32 = 20;

struct Process {
    engine: Engine,
    scheduler: Scheduler,
}

/// One syncdeck process on `url`: its own store (pool) and worker name.
async fn process(
    fake: &FakeServer,
    url: &DatabaseUrl,
    name: &str,
    clients: &ClientSettings,
    settings: SchedulerSettings,
) -> Process {
    let store: Store = common::migrated_store(url).await;
    let engine = Engine::new(
        store.clone(),
        Clients::from_config(&config_for(fake, url), &store, clients),
        syncdeck::engine::EngineSettings {
            worker_name: name.to_string(),
            ..engine_settings(4)
        },
    );
    let scheduler = Scheduler::new(engine.clone(), clients.clone(), settings);
    Process { engine, scheduler }
}

async fn scheduled_runs(store: &Store) -> i64 {
    common::scalar(
        store,
        "SELECT count(*) FROM syncdeck_runs WHERE trigger = 'scheduled'",
    )
    .await
}

async fn one_scheduler_plans_for_the_whole_database(url: DatabaseUrl) {
    let fake = fake_scaled(12, SCALE, None).await;
    let clients = client_settings(SCALE);
    let settings = SchedulerSettings {
        max_queued: 5,
        ..SchedulerSettings::default()
    };
    let a = process(&fake, &url, "a", &clients, settings.clone()).await;
    let b = process(&fake, &url, "b", &clients, settings.clone()).await;
    seed(a.engine.store(), &fake).await;
    let now = Utc::now();

    let first = a.scheduler.tick(now).await.expect("a ticks");
    assert!(first.leader, "the first to tick takes the lease");
    assert_eq!(first.due, 12, "all twelve were never synced");
    assert_eq!(first.enqueued.len(), 5, "topped up to max_queued");
    assert!(
        first
            .enqueued
            .iter()
            .all(|d| d.reason == Reason::NeverSynced)
    );
    let second = b.scheduler.tick(now).await.expect("b ticks");
    assert!(!second.leader && second.enqueued.is_empty(), "{second:?}");
    assert_eq!(scheduled_runs(a.engine.store()).await, 5);

    // The holder renews; the queue is full, so it plans nothing more.
    let again = a
        .scheduler
        .tick(now + chrono::Duration::seconds(30))
        .await
        .expect("a");
    assert!(again.leader && again.enqueued.is_empty(), "{again:?}");

    // A holder that stops renewing loses the lease once it runs out.
    let late = now
        + chrono::Duration::from_std(settings.lease_for).expect("lease")
        + chrono::Duration::seconds(31);
    let taken = b
        .scheduler
        .tick(late)
        .await
        .expect("b after the lease ran out");
    assert!(taken.leader, "{taken:?}");
    assert!(!a.scheduler.tick(late).await.expect("a").leader);

    // Giving it up hands it over at once.
    a.engine
        .store()
        .release_scheduler_lease("b")
        .await
        .expect("release");
    assert!(a.scheduler.tick(late).await.expect("a").leader);
    let lease = a.engine.store().scheduler_lease().await.expect("read");
    assert_eq!(lease.map(|l| l.holder).as_deref(), Some("a"));
    fake.shutdown().await;
}

async fn plans_within_its_share_and_honours_the_pause(url: DatabaseUrl) {
    let fake = fake_scaled(40, SCALE, None).await;
    // Ticketmaster: 40 calls a day; half of it for the scheduler: 20 calls, 2.3 per first
    // sync: 8 artists, whatever the room in the queue.
    let mut clients = client_settings(SCALE);
    clients.ticketmaster.daily_limit = Some(40);
    let settings = SchedulerSettings {
        budget_share: 50,
        max_queued: 100,
        ..SchedulerSettings::default()
    };
    let p = process(&fake, &url, "solo", &clients, settings).await;
    let store = p.engine.store().clone();
    seed(&store, &fake).await;

    store.set_queue_paused(true, "test").await.expect("pause");
    let paused = p.scheduler.tick(Utc::now()).await.expect("tick");
    assert!(
        paused.leader && paused.paused && paused.enqueued.is_empty(),
        "{paused:?}"
    );
    assert_eq!(scheduled_runs(&store).await, 0);

    store.set_queue_paused(false, "test").await.expect("resume");
    let forecast = p
        .scheduler
        .forecast(Utc::now(), 100)
        .await
        .expect("forecast");
    let tick = p.scheduler.tick(Utc::now()).await.expect("tick");
    assert_eq!(tick.enqueued.len(), 8, "{tick:?}");
    assert_eq!(
        forecast
            .next
            .iter()
            .map(|d| &d.artist_id)
            .collect::<Vec<_>>(),
        tick.enqueued
            .iter()
            .map(|d| &d.artist_id)
            .collect::<Vec<_>>(),
        "the forecast is what the tick then did"
    );
    let tm = forecast
        .providers
        .iter()
        .find(|p| p.provider == "ticketmaster")
        .expect("ticketmaster");
    assert_eq!(tm.scheduler_left, Some(20));
    assert!(tm.next_batch_calls <= 20, "{tm:?}");
    // Those eight count as in flight: nothing more fits today.
    let next = p.scheduler.tick(Utc::now()).await.expect("tick");
    assert!(next.enqueued.is_empty(), "{next:?}");
    assert_eq!(scheduled_runs(&store).await, 8);
    fake.shutdown().await;
}

async fn rules_fire_once_per_occurrence_across_processes(url: DatabaseUrl) {
    let fake = fake_scaled(6, SCALE, None).await;
    let clients = client_settings(SCALE);
    let settings = SchedulerSettings {
        // Nothing is planned by freshness: only the rule queues.
        budget_share: 0,
        rules: vec![Rule::new("every minute", "* * * * *", "all").expect("rule")],
        ..SchedulerSettings::default()
    };
    let a = process(&fake, &url, "a", &clients, settings.clone()).await;
    let b = process(&fake, &url, "b", &clients, settings).await;
    seed(a.engine.store(), &fake).await;
    let t0: DateTime<Utc> = "2026-12-07T10:00:30Z".parse().expect("time");

    let first = a.scheduler.tick(t0).await.expect("a");
    assert!(
        first.rules_fired.is_empty(),
        "a rule first seen starts counting, it does not fire"
    );
    let t1 = t0 + chrono::Duration::seconds(45);
    let fired = a.scheduler.tick(t1).await.expect("a");
    assert_eq!(fired.rules_fired, [("every minute".to_string(), 6)]);
    assert!(
        b.scheduler
            .tick(t1)
            .await
            .expect("b")
            .rules_fired
            .is_empty()
    );
    let same_minute = a
        .scheduler
        .tick(t1 + chrono::Duration::seconds(5))
        .await
        .expect("a");
    assert!(same_minute.rules_fired.is_empty(), "{same_minute:?}");
    assert_eq!(scheduled_runs(a.engine.store()).await, 6);
    let forecast = a.scheduler.forecast(t1, 5).await.expect("forecast");
    assert_eq!(
        forecast.rules[0].next_at,
        Some("2026-12-07T10:02:00Z".parse().expect("time"))
    );
    fake.shutdown().await;
}

/// The scheduler and the workers together: tick, let the batch run, tick again, until nothing
/// is due: every artist synced, no batch above `max_queued`, and afterwards nothing due.
async fn ticking_until_nothing_is_due_syncs_the_catalog(url: DatabaseUrl) {
    let fake = fake_scaled(10, SCALE, None).await;
    let clients = client_settings(SCALE);
    let settings = SchedulerSettings {
        max_queued: 4,
        ..SchedulerSettings::default()
    };
    let p = process(&fake, &url, "solo", &clients, settings).await;
    let store = p.engine.store().clone();
    seed(&store, &fake).await;
    p.engine.start().await.expect("engine starts");
    let mut ticks = 0;
    loop {
        let tick = p.scheduler.tick(Utc::now()).await.expect("tick");
        assert!(tick.enqueued.len() <= 4, "{tick:?}");
        if tick.due == 0 {
            break;
        }
        ticks += 1;
        assert!(ticks < 20, "still {} due after 20 ticks", tick.due);
        assert_eq!(tick.run_ids.len(), tick.enqueued.len());
        let runs = tokio::time::timeout(Duration::from_secs(120), p.engine.wait_for(&tick.run_ids))
            .await
            .expect("the batch ends")
            .expect("runs");
        assert!(
            runs.iter().all(|r| r.status == RunStatus::Succeeded),
            "{runs:?}"
        );
    }
    assert!(
        ticks >= 3,
        "10 artists, 4 at a time: at least 3 batches ({ticks})"
    );
    common::engine::assert_every_part_succeeded(&store).await;
    let forecast = p
        .scheduler
        .forecast(Utc::now(), 10)
        .await
        .expect("forecast");
    assert_eq!(forecast.fresh_1d, 1.0);
    assert!(forecast.next.is_empty());
    p.engine.shutdown().await;

    // Freshness as the database tells it: an artist with a show in 3 days synced 2 days ago
    // is due for its show; one whose only run failed counts one failure.
    let today = Utc::now().date_naive();
    let artists = store.freshness(today).await.expect("freshness");
    let with_shows = artists
        .iter()
        .find(|f| f.next_show.is_some())
        .expect("the fake's catalog has upcoming shows");
    let other = artists
        .iter()
        .find(|f| f.artist_id != with_shows.artist_id)
        .expect("another artist");
    let (x, y) = (&with_shows.artist_id, &other.artist_id);
    let show_day = today + chrono::Duration::days(3);
    let synced = (Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M:%S%.3fZ");
    common::execute(
        &store,
        &format!("UPDATE shows SET date = '{show_day}' WHERE artist_id = '{x}'"),
    )
    .await;
    common::execute(
        &store,
        &format!("UPDATE artists SET last_sync = '{synced}' WHERE id = '{x}'"),
    )
    .await;
    common::execute(
        &store,
        &format!("UPDATE syncdeck_runs SET status = 'failed' WHERE artist_id = '{y}'"),
    )
    .await;
    let artists = store.freshness(today).await.expect("freshness");
    let x_now = artists.iter().find(|f| &f.artist_id == x).expect("x");
    assert_eq!(x_now.next_show, Some(show_day));
    let y_now = artists.iter().find(|f| &f.artist_id == y).expect("y");
    assert_eq!(
        (y_now.failures, y_now.last_failure.is_some()),
        (1, true),
        "{y_now:?}"
    );
    assert!(artists.iter().all(|f| !f.active));
    let due = syncdeck::engine::scheduler::priority::due(
        &artists,
        Utc::now(),
        &syncdeck::engine::scheduler::priority::Policy::default(),
    );
    assert_eq!(
        due.iter()
            .map(|d| (&d.artist_id, d.reason))
            .collect::<Vec<_>>(),
        [(x, Reason::ShowsThisWeek)]
    );
    fake.shutdown().await;
}

crate::on_sqlite_and_postgres!(
    one_scheduler_plans_for_the_whole_database,
    sqlite_one_scheduler_plans_for_the_whole_database,
    postgres_one_scheduler_plans_for_the_whole_database
);
crate::on_sqlite_and_postgres!(
    plans_within_its_share_and_honours_the_pause,
    sqlite_plans_within_its_share_and_honours_the_pause,
    postgres_plans_within_its_share_and_honours_the_pause
);
crate::on_sqlite_and_postgres!(
    rules_fire_once_per_occurrence_across_processes,
    sqlite_rules_fire_once_per_occurrence_across_processes,
    postgres_rules_fire_once_per_occurrence_across_processes
);
crate::on_sqlite_and_postgres!(
    ticking_until_nothing_is_due_syncs_the_catalog,
    sqlite_ticking_until_nothing_is_due_syncs_the_catalog,
    postgres_ticking_until_nothing_is_due_syncs_the_catalog
);

/// `syncdeck serve` as an operator runs it: a config file with a one-second tick, the whole
/// catalog synced by the scheduler alone, `serve --plan --json` then shows it all fresh, and
/// SIGTERM stops it with 143 and gives the lease up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_syncs_a_catalog_by_itself_and_stops_cleanly() {
    let fake = fake_scaled(8, SCALE, None).await;
    let (dir, url) = common::sqlite_url();
    let store = common::migrated_store(&url).await;
    seed(&store, &fake).await;
    let config = dir.path().join("syncdeck.toml");
    std::fs::write(
        &config,
        "[scheduler]\ntick_secs = 1\nmax_queued = 3\n[[scheduler.rule]]\nname = \"nightly\"\ncron = \"0 3 * * *\"\nselect = \"failed\"\n",
    )
    .expect("write the config");
    let db = common::url_text(&url);
    let mut serve = common::engine::syncdeck_command(&fake, &db, dir.path());
    serve
        .args(["serve", "--config"])
        .arg(&config)
        .args(common::engine::PACED_AT_SCALE_10)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = serve.spawn().expect("start serve");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let synced = common::scalar(
            &store,
            "SELECT count(*) FROM artists WHERE last_sync IS NOT NULL",
        )
        .await;
        if synced == 8 {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve ended early with {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{synced} of 8 synced after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    common::engine::assert_every_part_succeeded(&store).await;
    assert_eq!(
        scheduled_runs(&store).await,
        8,
        "one scheduled run per artist"
    );

    let plan = common::engine::syncdeck_command(&fake, &db, dir.path())
        .args(["serve", "--plan", "--json", "--config"])
        .arg(&config)
        .output()
        .expect("serve --plan");
    assert!(
        plan.status.success(),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("one JSON object");
    assert_eq!(plan["artists"], 8);
    assert_eq!(plan["fresh_1d"], 1.0);
    assert_eq!(plan["next"].as_array().map(Vec::len), Some(0));
    assert!(plan["lease_holder"].is_string(), "{plan}");
    assert_eq!(plan["rules"][0]["name"], "nightly");

    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("serve ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("scheduler: 80 % of each daily quota"),
        "{stderr}"
    );
    assert_eq!(
        store.scheduler_lease().await.expect("lease"),
        None,
        "given up on stop"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[scheduler]\nbudget_share = 150\n").expect("write");
    let refused = common::engine::syncdeck_command(&fake, &db, dir.path())
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .expect("serve with a bad config");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(
        said.contains("budget_share = 150: a percent, 0 to 100"),
        "{said}"
    );
    fake.shutdown().await;
}
