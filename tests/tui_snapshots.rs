//! Frames of the console on a `TestBackend`, compared with reviewed snapshots in
//! `tests/snapshots/`, plus cell-style checks the text snapshots cannot see (colors are not in
//! `TestBackend`'s Display).
//!
//! Every frame is a pure function of the App, the theme and `now`: fixed clock, fixed data,
//! fixed header. New snapshots are written with `INSTA_UPDATE=always` (or `cargo insta review`);
//! under `CI=true` a missing or different snapshot fails.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use common::tui_keys::{code, key};
use syncdeck::checks::{Check, CheckStatus, EnvReport};
use syncdeck::engine::events::{LogLevel, LogLine, PartProgress};
use syncdeck::engine::{EngineEvent, RunCounts};
use syncdeck::store::artists::{ArtistDetail, ArtistSummary};
use syncdeck::store::budgets::BudgetRow;
use syncdeck::store::runs::{AttemptRow, RunRow, RunStatus};
use syncdeck::store::sync_status::{PartStatus, Source, SyncStatus};
use syncdeck::tui::app::{Action, App, DetailData, HeaderInfo};
use syncdeck::tui::keys::KeyMap;
use syncdeck::tui::theme::{Theme, ThemeName};
use syncdeck::tui::view::{self, MIN_HEIGHT, MIN_WIDTH};

// ---------------------------------------------------------------------------------------------
// Fixed data

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

fn ago(minutes: i64) -> DateTime<Utc> {
    now() - chrono::Duration::minutes(minutes)
}

fn st(tm: PartStatus, sp: PartStatus, sf: PartStatus) -> SyncStatus {
    SyncStatus {
        ticketmaster: tm,
        spotify: sp,
        setlistfm: sf,
    }
}

#[allow(clippy::too_many_arguments)]
fn artist(
    id: &str,
    name: &str,
    s: SyncStatus,
    last_sync: Option<DateTime<Utc>>,
    error: Option<&str>,
    shows: i64,
    songs: i64,
) -> ArtistSummary {
    ArtistSummary {
        id: id.into(),
        name: name.into(),
        ticketmaster_id: format!("K8vZ9{id}"),
        spotify_id: Some(format!("7rDCv82Nza3vJx{id}")),
        setlist_fm_mbid: Some(format!("65f4f0c5-ef9e-490c-aee3-909e7ae6b2{id}")),
        sync_status: s,
        last_sync,
        last_ticketmaster_sync: last_sync,
        last_spotify_sync: last_sync,
        last_sync_error: error.map(str::to_string),
        upcoming_shows_count: shows,
        songs_count: songs,
    }
}

fn artists() -> Vec<ArtistSummary> {
    use PartStatus::*;
    vec![
        artist(
            "01",
            "Alpha Band",
            st(Success, Success, Success),
            Some(ago(5)),
            None,
            12,
            1_480,
        ),
        artist(
            "02",
            "Bravo Sound",
            st(Success, Error, Success),
            Some(ago(90)),
            Some("spotify: albums step: HTTP 403 Forbidden"),
            3,
            0,
        ),
        artist(
            "03",
            "Charlie Quartet",
            st(Pending, Pending, Pending),
            None,
            None,
            0,
            0,
        ),
        artist(
            "04",
            "Delta Drive",
            st(Success, Success, Error),
            Some(ago(60 * 26)),
            Some("setlist.fm: setlists step: temporary failure (HTTP 502): an HTML error page"),
            7,
            212,
        ),
        artist(
            "05",
            "Echo Lake",
            st(Syncing, Pending, Pending),
            Some(ago(60 * 24 * 9)),
            None,
            0,
            35,
        ),
        artist(
            "06",
            "Evil\u{1b}[31mRed\u{7}Band",
            st(Success, Success, Success),
            Some(ago(2)),
            None,
            2,
            13,
        ),
        artist(
            "07",
            "Mötley Crüe & O'Brien's \"Big\" Band",
            st(Pending, Pending, Pending),
            None,
            None,
            0,
            0,
        ),
        artist(
            "08",
            "Sigur Rós",
            st(Success, Success, Success),
            Some(ago(45)),
            None,
            1,
            98,
        ),
    ]
}

fn header() -> HeaderInfo {
    HeaderInfo {
        database: "sqlite /srv/syncdeck/syncdeck.db".into(),
        workers: 2,
        slots: 16,
        budgets: vec![
            BudgetRow {
                key: "tm:demo".into(),
                provider: "ticketmaster".into(),
                day_used: 1_234,
                day_limit: Some(5_000),
                resets_at: Some(now() + chrono::Duration::hours(3)),
                throttled_until: None,
                answers_429: 0,
                answers_5xx: 0,
            },
            BudgetRow {
                key: "sp:demo".into(),
                provider: "spotify".into(),
                day_used: 310,
                day_limit: None,
                resets_at: None,
                throttled_until: None,
                answers_429: 0,
                answers_5xx: 1,
            },
            BudgetRow {
                key: "sf:demo".into(),
                provider: "setlist.fm".into(),
                day_used: 1_440,
                day_limit: Some(1_440),
                resets_at: Some(now() + chrono::Duration::hours(5)),
                throttled_until: Some(now() + chrono::Duration::seconds(42)),
                answers_429: 2,
                answers_5xx: 0,
            },
        ],
        queued: 1,
        running: 1,
        paused: false,
        read_at: Some(now()),
    }
}

fn log(secs: i64, level: LogLevel, artist: Option<&str>, message: &str) -> Action {
    Action::Engine(EngineEvent::Log(LogLine {
        at: now() - chrono::Duration::seconds(60 - secs),
        level,
        target: "syncdeck::engine".into(),
        message: message.into(),
        artist_id: artist.map(str::to_string),
    }))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(key(c));
    }
}

/// The main screen's state: artists, one run queued, one running with progress, a log, a
/// header, the third row selected, one artist marked.
/// A minute of header readings two seconds apart, ending with [`header`]: the budgets' counts
/// climb at varying rates and this process's clients saw two 429s (setlist.fm) and a 503
/// (Spotify); twelve runs ended over the last minutes. The figures draw all of it.
fn with_history(app: &mut App) {
    let end = header();
    for i in 0..30i64 {
        let back = 30 - i;
        let mut h = end.clone();
        h.read_at = Some(now() - chrono::Duration::seconds(2 * back));
        for b in &mut h.budgets {
            // Per provider a different rhythm, so the three sparklines differ: the calls made
            // in each two seconds after this reading, summed back from the final count.
            let calls = |k: i64| match b.provider.as_str() {
                "ticketmaster" => 2 + (k % 3) as u32,
                "spotify" => 4 + (k % 5) as u32,
                _ => 1 + u32::from(k % 4 == 0),
            };
            let since: u32 = (1..=back).map(calls).sum();
            b.day_used = b.day_used.saturating_sub(since);
        }
        // Answers counted so far by every process: a 503 for Spotify 10 s before the end, 429s
        // for setlist.fm 32 s and 4 s before it.
        let step = (30 - back) as u64;
        for b in &mut h.budgets {
            match b.provider.as_str() {
                "spotify" => b.answers_5xx = u64::from(step >= 25),
                "setlist.fm" => b.answers_429 = (step / 14).min(2),
                _ => {}
            }
        }
        app.update(Action::HeaderLoaded(h));
    }
    for minute in 0..5u64 {
        for run in 0..minute * 3 {
            app.update(Action::Engine(EngineEvent::Finished {
                run_id: format!("done-{minute}-{run}"),
                artist_id: format!("x{run}"),
                artist_name: "x".into(),
                status: RunStatus::Succeeded,
                counts: RunCounts::default(),
                error: None,
                duration: std::time::Duration::from_secs(2),
            }));
        }
        for _ in 0..60 {
            app.update(Action::Tick);
        }
    }
}

fn main_app() -> App {
    let mut app = App::new(KeyMap::default());
    app.update(Action::ArtistsLoaded(artists()));
    with_history(&mut app);
    app.update(Action::HeaderLoaded(header()));
    // Charlie queued, Echo running.
    app.update(Action::Engine(EngineEvent::Queued {
        run_id: "run-03".into(),
        artist_id: "03".into(),
        artist_name: "Charlie Quartet".into(),
        joined: false,
        priority: 1,
    }));
    app.update(Action::Engine(EngineEvent::Started {
        run_id: "run-05".into(),
        artist_id: "05".into(),
        artist_name: "Echo Lake".into(),
        attempt: 1,
        worker: "host-a:4242".into(),
    }));
    app.update(Action::Engine(EngineEvent::Step {
        run_id: "run-05".into(),
        artist_id: "05".into(),
        source: Source::Ticketmaster,
        step: "events".into(),
    }));
    app.update(Action::Engine(EngineEvent::Progress {
        run_id: "run-05".into(),
        artist_id: "05".into(),
        source: Source::Ticketmaster,
        progress: PartProgress {
            done: 3,
            total: 8,
            items: 120,
        },
    }));
    let lines = [
        (
            1,
            LogLevel::Info,
            Some("01"),
            "sync of Alpha Band finished: 12 shows, 1480 songs",
        ),
        (
            5,
            LogLevel::Warn,
            Some("02"),
            "request failed: spotify: HTTP 403 Forbidden provider=spotify",
        ),
        (
            6,
            LogLevel::Error,
            Some("02"),
            "sync of Bravo Sound failed: spotify: albums step: HTTP 403 Forbidden",
        ),
        (
            20,
            LogLevel::Info,
            Some("05"),
            "sync of Echo Lake started (attempt 1)",
        ),
        (
            21,
            LogLevel::Debug,
            Some("05"),
            "GET /discovery/v2/events.json page=3",
        ),
        (
            30,
            LogLevel::Warn,
            Some("04"),
            "retrying: setlist.fm: temporary failure (HTTP 502): an HTML error page",
        ),
        (
            40,
            LogLevel::Info,
            Some("06"),
            "sync of Evil\u{1b}[31mRed\u{7}Band finished",
        ),
        (
            55,
            LogLevel::Info,
            None,
            "queued 1 artist (manual, priority 10)",
        ),
    ];
    for (s, level, artist, message) in lines {
        app.update(log(s, level, artist, message));
    }
    // Select Charlie (third row), mark Sigur Rós.
    app.update(key('j'));
    app.update(key('j'));
    app.table.marks.insert("08".into());
    app.notice = Some("queued Charlie Quartet".into());
    app
}

fn detail_data() -> DetailData {
    let summary = artists().into_iter().find(|a| a.id == "04").unwrap();
    let run = |id: &str, status: RunStatus, attempts: i32, minutes: i64, error: Option<&str>| {
        let requested = ago(minutes);
        RunRow {
            id: id.into(),
            artist_id: "04".into(),
            artist_name: "Delta Drive".into(),
            status,
            priority: 1,
            trigger: "bulk".into(),
            requested_at: Some(requested),
            started_at: Some(requested + chrono::Duration::seconds(2)),
            finished_at: Some(requested + chrono::Duration::milliseconds(14_300)),
            heartbeat_at: None,
            attempts,
            max_attempts: 3,
            worker: Some("host-a:4242".into()),
            task_id: None,
            cancel_requested: false,
            error: error.map(str::to_string),
            error_source: error.map(|_| "setlistfm".to_string()),
            error_step: error.map(|_| "setlists".to_string()),
            error_http_status: error.map(|_| 502),
            counts: serde_json::json!({}),
            progress: None,
            wait_until: None,
            wait_reason: None,
        }
    };
    let attempt = |n: i32, outcome: &str, error: Option<&str>, retry: Option<&str>| AttemptRow {
        attempt: n,
        worker: Some("host-a:4242".into()),
        started_at: Some(ago(60 * 26)),
        finished_at: Some(ago(60 * 26)),
        outcome: Some(outcome.into()),
        error: error.map(str::to_string),
        retry_reason: retry.map(str::to_string),
        retry_at: None,
    };
    let failure = "setlist.fm: setlists step: temporary failure (HTTP 502)";
    DetailData {
        detail: ArtistDetail {
            summary,
            image_url: None,
            url: Some("https://www.ticketmaster.com/delta-drive".into()),
            spotify_url: None,
            genres: vec!["dream pop".into(), "garage rock".into()],
            followers: Some(48_210),
            popularity: Some(61),
            created_at: Some(ago(60 * 24 * 30)),
            updated_at: Some(ago(60 * 26)),
            shows_count: 9,
            venues_count: 8,
            setlists_count: 31,
        },
        runs: vec![
            (
                run("run-b", RunStatus::Failed, 3, 60 * 26, Some(failure)),
                vec![
                    attempt(1, "retry", None, Some("HTTP 502 from setlist.fm")),
                    attempt(2, "retry", None, Some("HTTP 503 from setlist.fm")),
                    attempt(3, "failed", Some(failure), None),
                ],
            ),
            (
                run("run-a", RunStatus::Succeeded, 1, 60 * 24 * 3, None),
                vec![attempt(1, "succeeded", None, None)],
            ),
        ],
    }
}

fn detail_app() -> App {
    let mut app = main_app();
    app.update(key('g'));
    app.update(key('j'));
    app.update(key('j'));
    app.update(key('j')); // Delta Drive
    app.update(code(KeyCode::Enter));
    app.update(Action::DetailLoaded(detail_data()));
    app
}

fn filter_error_app() -> App {
    let mut app = main_app();
    app.notice = None;
    app.update(key('/'));
    type_text(&mut app, "status:error");
    for _ in 0.."error".len() {
        app.update(code(KeyCode::Backspace));
    }
    type_text(&mut app, "weird");
    assert!(app.table.filter_error.is_some());
    app
}

fn confirm_app() -> App {
    let mut app = main_app();
    // Alpha marked too, then filtered out: Sigur Rós and Alpha are marked, both hidden,
    // Bravo marked and shown.
    app.update(key('g'));
    app.update(key(' '));
    app.update(key('/'));
    type_text(&mut app, "status:error");
    app.update(code(KeyCode::Enter));
    app.update(key('g'));
    app.update(key(' '));
    app.update(key('S'));
    app
}

fn help_app() -> App {
    let mut app = main_app();
    app.update(key('?'));
    app
}

fn env_report() -> EnvReport {
    use syncdeck::config::Source as From;
    let var = |name: &str, preview: &str, status: CheckStatus, detail: &str| {
        let mut c = Check::new(name, status, detail);
        c.source = Some(From::Env);
        c.preview = Some(preview.into());
        c
    };
    let mut checks = vec![
        var(
            "DATABASE_URL",
            "sqlite:///srv/syncdeck/syncdeck.db",
            CheckStatus::Ok,
            "sqlite file",
        ),
        var(
            "TICKETMASTER_API_KEY",
            "sk_3f…(32 chars)",
            CheckStatus::Ok,
            "set",
        ),
        var("SPOTIFY_CLIENT_ID", "…(15 chars)", CheckStatus::Ok, "set"),
        var(
            "SPOTIFY_CLIENT_SECRET",
            "9c1e…(32 chars)",
            CheckStatus::Ok,
            "set",
        ),
    ];
    let mut sf = Check::new("SETLISTFM_API_KEY", CheckStatus::Missing, "not set");
    sf.preview = Some("(unset)".into());
    sf.hint = Some("set SETLISTFM_API_KEY in the environment or in .env".into());
    checks.push(sf);
    let mut alias = var(
        "SETLISTFM_BASE_URL",
        "https://api.setlist.fm/rest/1.0",
        CheckStatus::Ok,
        "default",
    );
    alias.source = Some(From::DotEnv);
    checks.push(alias);
    let mut db = Check::new(
        "database",
        CheckStatus::Ok,
        "sqlite /srv/syncdeck/syncdeck.db · 3.46.0 · app tables present",
    );
    db.latency_ms = Some(7);
    checks.push(db);
    let mut tm = Check::new(
        "ticketmaster",
        CheckStatus::RateLimited,
        "HTTP 429: spike arrest",
    );
    tm.latency_ms = Some(212);
    tm.required = false;
    checks.push(tm);
    let mut sp = Check::new(
        "spotify",
        CheckStatus::Invalid,
        "client credentials refused (HTTP 401)",
    );
    sp.latency_ms = Some(95);
    sp.hint = Some("check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET".into());
    checks.push(sp);
    let mut sf = Check::new(
        "setlistfm",
        CheckStatus::Skipped,
        "no key: SETLISTFM_API_KEY is missing",
    );
    sf.required = false;
    checks.push(sf);
    EnvReport::new(checks)
}

fn env_app() -> App {
    let mut app = main_app();
    app.update(key('e'));
    app.update(Action::EnvLoaded(env_report()));
    app
}

fn jobs() -> Vec<RunRow> {
    let row = |id: &str,
               artist: (&str, &str),
               status: RunStatus,
               attempts: i32,
               minutes: i64,
               worker: Option<&str>,
               error: Option<&str>| RunRow {
        id: id.into(),
        artist_id: artist.0.into(),
        artist_name: artist.1.into(),
        status,
        priority: 1,
        trigger: "bulk".into(),
        requested_at: Some(ago(minutes)),
        started_at: None,
        finished_at: None,
        heartbeat_at: None,
        attempts,
        max_attempts: 3,
        worker: worker.map(str::to_string),
        task_id: None,
        cancel_requested: false,
        error: error.map(str::to_string),
        error_source: None,
        error_step: None,
        error_http_status: None,
        counts: serde_json::json!({}),
        progress: None,
        wait_until: None,
        wait_reason: None,
    };
    vec![
        row(
            "r1",
            ("03", "Charlie Quartet"),
            RunStatus::Queued,
            0,
            1,
            None,
            None,
        ),
        row(
            "r2",
            ("05", "Echo Lake"),
            RunStatus::Running,
            1,
            3,
            Some("host-a:4242"),
            None,
        ),
        row(
            "r3",
            ("02", "Bravo Sound"),
            RunStatus::Failed,
            3,
            90,
            Some("host-a:4242"),
            Some("spotify: albums step: HTTP 403 Forbidden"),
        ),
        row(
            "r4",
            ("01", "Alpha Band"),
            RunStatus::Succeeded,
            1,
            5,
            Some("host-b:977"),
            None,
        ),
        row(
            "r5",
            ("06", "Evil\u{1b}[31mRed\u{7}Band"),
            RunStatus::Cancelled,
            1,
            60 * 30,
            Some("host-b:977"),
            Some("cancelled by the operator"),
        ),
    ]
}

fn plan_app() -> App {
    let mut app = main_app();
    app.update(key('p'));
    app.update(Action::PlanLoaded(Box::new(
        common::plan_fixture::forecast(now()),
    )));
    app
}

fn jobs_app() -> App {
    let mut app = main_app();
    app.update(key('J'));
    let mut runs = jobs();
    // The running one started 3 minutes ago; a failed one took 12.4 s.
    runs[1].started_at = Some(ago(3));
    runs[2].started_at = Some(ago(90));
    runs[2].finished_at = Some(ago(90) + chrono::Duration::milliseconds(12_400));
    // A queued run waiting for Ticketmaster's quota.
    let mut waiting = runs[0].clone();
    waiting.id = "r9".into();
    waiting.artist_id = "04".into();
    waiting.artist_name = "Delta Drive".into();
    waiting.wait_until = Some(now() + chrono::Duration::hours(2));
    waiting.wait_reason = Some("Ticketmaster's daily quota is spent".into());
    runs.insert(1, waiting);
    app.update(Action::JobsLoaded(runs));
    app
}

// ---------------------------------------------------------------------------------------------
// Drawing

fn render(app: &App, theme: ThemeName, width: u16, height: u16) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| {
        view::draw(f, app, &Theme::new(theme), now());
    })
    .unwrap();
    t.backend().clone()
}

fn text(buf: &Buffer) -> Vec<String> {
    let a = buf.area;
    (0..a.height)
        .map(|y| (0..a.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

/// No control character reaches the screen (the name and log line with ESC and BEL).
fn assert_no_control_chars(buf: &Buffer) {
    for line in text(buf) {
        assert!(
            !line.chars().any(|c| c.is_control()),
            "control character drawn: {line:?}"
        );
    }
}

macro_rules! snapshot_both_sizes {
    ($name:literal, $app:expr) => {{
        let app = $app;
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            let backend = render(&app, ThemeName::Dark, w, h);
            assert_no_control_chars(backend.buffer());
            insta::assert_snapshot!(format!("{}_{}x{}", $name, w, h), backend);
        }
    }};
}

// ---------------------------------------------------------------------------------------------
// Snapshots

#[test]
fn main_screen() {
    snapshot_both_sizes!("main", main_app());
}

#[test]
fn main_screen_with_detail() {
    snapshot_both_sizes!("detail", detail_app());
}

#[test]
fn filter_mode_with_an_error() {
    snapshot_both_sizes!("filter_error", filter_error_app());
}

#[test]
fn confirm_dialog() {
    let app = confirm_app();
    let backend = render(&app, ThemeName::Dark, 80, 24);
    let screen = text(backend.buffer()).join("\n");
    assert!(
        screen.contains("(2 of them hidden by the filter)"),
        "{screen}"
    );
    // setlist.fm's day is spent in the header's budgets: the estimate says nobody finishes
    // today and when they will.
    let wide = text(render(&app, ThemeName::Dark, 160, 48).buffer()).join("\n");
    for says in [
        "calls: Ticketmaster 4 (3,766 left today) · Spotify 10 · setlist.fm 3 (0 left today)",
        "0 of 3 finish today",
        "should be done by 2026-11-26 17:00 UTC",
    ] {
        assert!(wide.contains(says), "{says}: {wide}");
    }
    snapshot_both_sizes!("confirm", app);
}

#[test]
fn help_overlay() {
    snapshot_both_sizes!("help", help_app());
}

#[test]
fn env_overlay() {
    let app = env_app();
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let screen = text(render(&app, ThemeName::Dark, w, h).buffer()).join("\n");
        assert!(screen.contains("Environment and secrets"), "{screen}");
    }
    let wide = text(render(&app, ThemeName::Dark, 160, 48).buffer()).join("\n");
    assert!(wide.contains("sk_3f…(32 chars)"), "{wide}");
    snapshot_both_sizes!("env", app);
}

#[test]
fn env_overlay_while_checks_run() {
    let mut app = main_app();
    app.update(key('e'));
    assert!(app.env.running);
    let backend = render(&app, ThemeName::Dark, 80, 24);
    insta::assert_snapshot!("env_running_80x24", backend);
}

#[test]
fn jobs_overlay() {
    let app = jobs_app();
    let wide = text(render(&app, ThemeName::Dark, 160, 48).buffer()).join("\n");
    for says in [
        "1 running · 1 queued · 1 waiting · 1 failed · 1 cancelled",
        "until 14:00: Ticketmaster's daily quota is spent",
        "12.4 s",
        "3m 00s",
    ] {
        assert!(wide.contains(says), "{says}: {wide}");
    }
    snapshot_both_sizes!("jobs", app);
}

#[test]
fn the_header_drops_segments_in_order_to_fit() {
    let h = header();
    let wide = view::header_line(&h, 200);
    assert_eq!(
        wide,
        " syncdeck · 1 queued · 1 running · TM 1,234/5,000 today · Spotify 310 today · setlist.fm 1,440/1,440 today 429 until 12:00:42 · 2 workers (16 slots) · sqlite /srv/syncdeck/syncdeck.db"
    );
    // 160: the database goes first.
    assert_eq!(
        view::header_line(&h, 160),
        " syncdeck · 1 queued · 1 running · TM 1,234/5,000 today · Spotify 310 today · setlist.fm 1,440/1,440 today 429 until 12:00:42 · 2 workers (16 slots)"
    );
    // 80: the queue, Ticketmaster and setlist.fm with its throttle stay whole.
    let narrow = view::header_line(&h, 80);
    assert_eq!(
        narrow,
        " 1 queued · 1 running · TM 1,234/5,000 · setlist.fm 1,440/1,440 429 until 12:01"
    );
    assert!(narrow.chars().count() <= 80);
    // Narrower still: cut, with an ellipsis.
    let cut = view::header_line(&h, 40);
    assert_eq!(cut.chars().count(), 40);
    assert!(cut.ends_with('…'), "{cut}");
    let paused = HeaderInfo {
        paused: true,
        ..header()
    };
    assert!(view::header_line(&paused, 80).starts_with(" QUEUE PAUSED (P resumes) · 1 queued"));
}

#[test]
fn bulk_gauge() {
    let mut app = main_app();
    app.update(Action::BatchQueued(
        (0..200).map(|i| format!("run-{i}")).collect(),
    ));
    for _ in 0..60 {
        app.update(Action::Tick);
    }
    for i in 0..40 {
        app.update(Action::Engine(EngineEvent::Finished {
            run_id: format!("run-{i}"),
            artist_id: format!("x{i}"),
            artist_name: "x".into(),
            status: if i % 10 == 0 {
                RunStatus::Failed
            } else {
                RunStatus::Succeeded
            },
            error: None,
            counts: Default::default(),
            duration: std::time::Duration::from_secs(1),
        }));
    }
    let screen = text(render(&app, ThemeName::Dark, 80, 24).buffer()).join("\n");
    assert!(
        screen.contains("bulk 40/200 · 4 failed · 160 left · about 4 min to go"),
        "{screen}"
    );
    snapshot_both_sizes!("bulk_gauge", app);
}

#[test]
fn plan_overlay() {
    let app = plan_app();
    let wide = text(render(&app, ThemeName::Dark, 160, 48).buffer()).join("\n");
    for says in [
        "1,200 artists · synced within 1 day 25 % · 7 days 80 % · 30 days 97 %",
        "12 never synced · 3 shows ≤ 7 d · 2 failed · 220 stale",
        "ops-1:4242 plans",
        "Kestrel Road",
        "2,756",
        "rule \"failed, nightly\"",
    ] {
        assert!(wide.contains(says), "{says}: {wide}");
    }
    let mut reading = main_app();
    reading.update(key('p'));
    let screen = text(render(&reading, ThemeName::Dark, 80, 24).buffer()).join("\n");
    assert!(screen.contains("reading the plan"), "{screen}");
    snapshot_both_sizes!("plan", app);
}

#[test]
fn too_small_terminal() {
    let app = main_app();
    for (w, h) in [(MIN_WIDTH - 1, 24), (80, MIN_HEIGHT - 1), (20, 5), (1, 1)] {
        let backend = render(&app, ThemeName::Dark, w, h);
        if w >= 59 {
            let screen = text(backend.buffer()).join("");
            assert!(
                screen.contains(&format!("the terminal is {w}×{h}")),
                "{screen}"
            );
        }
        insta::assert_snapshot!(format!("too_small_{w}x{h}"), backend);
    }
    // Exactly the minimum draws the console.
    let backend = render(&app, ThemeName::Dark, MIN_WIDTH, MIN_HEIGHT);
    let screen = text(backend.buffer()).join("\n");
    assert!(screen.contains("Artists 8 of 8"), "{screen}");
    insta::assert_snapshot!(format!("main_{MIN_WIDTH}x{MIN_HEIGHT}"), backend);
}

#[test]
fn every_screen_draws_at_every_size_without_panicking() {
    let apps = [
        main_app(),
        detail_app(),
        filter_error_app(),
        confirm_app(),
        help_app(),
        env_app(),
        jobs_app(),
        plan_app(),
    ];
    for app in &apps {
        for w in [1u16, 20, 59, 60, 61, 79, 95, 96, 119, 120, 200] {
            for h in [1u16, 5, 14, 15, 16, 24, 60] {
                for theme in [ThemeName::Dark, ThemeName::Light, ThemeName::Mono] {
                    render(app, theme, w, h);
                }
            }
        }
    }
}

#[test]
fn main_screen_with_styles_in_color_and_without() {
    // The Display form has no styles, so these frames are compared in Debug form, which lists
    // every style change. Monochrome (NO_COLOR): no colors at all, failures bold + reversed.
    for (theme, name) in [(ThemeName::Mono, "mono"), (ThemeName::Dark, "dark_styles")] {
        for (w, h) in [(80u16, 24u16), (160, 48)] {
            let backend = render(&main_app(), theme, w, h);
            let debug = format!("{:?}", backend.buffer());
            if theme == ThemeName::Mono {
                for line in debug.lines().filter(|l| l.contains("fg:")) {
                    assert!(
                        line.contains("fg: Reset, bg: Reset"),
                        "a color in the mono theme: {line}"
                    );
                }
            }
            insta::assert_snapshot!(format!("main_{name}_{w}x{h}"), debug);
        }
    }
}

#[test]
fn the_figures_show_quotas_rates_errors_and_artists_per_minute() {
    let app = main_app();
    // 80×24: one line under the header.
    let small = text(render(&app, ThemeName::Dark, 80, 24).buffer());
    let line = &small[1];
    for says in ["TM ", "SP ", "SF ", "5xx×1", "429×2", "1.5/s", "12/min"] {
        assert!(line.contains(says), "{says} in {line:?}");
    }
    // 160×48: a line per provider and one for artists per minute.
    let tall = text(render(&app, ThemeName::Dark, 160, 48).buffer()).join("\n");
    for says in [
        "1,234/5,000 today",
        "310 today · no daily quota",
        "1,440/1,440 today",
        "429 0 · 5xx 1 last min",
        "429 2 · 5xx 0 last min",
        "12 artists/min · 30 in 6 min",
    ] {
        assert!(tall.contains(says), "{says}:\n{tall}");
    }
}

// ---------------------------------------------------------------------------------------------
// Cell styles

/// The (x, y) of `word` on the row that holds `row_text`, from column `from` on.
fn find(buf: &Buffer, row_text: &str, word: &str, from: usize) -> (u16, u16) {
    let rows = text(buf);
    let y = rows
        .iter()
        .position(|r| r.contains(row_text))
        .unwrap_or_else(|| panic!("no row with {row_text:?}:\n{}", rows.join("\n")));
    // Columns are cells, not bytes.
    let cells: Vec<&str> = (0..buf.area.width)
        .map(|x| buf[(x, y as u16)].symbol())
        .collect();
    let n = word.chars().count();
    let x = (from..cells.len().saturating_sub(n))
        .find(|x| cells[*x..*x + n].concat() == word)
        .unwrap_or_else(|| panic!("no {word:?} in {:?}", rows[y]));
    (x as u16, y as u16)
}

fn assert_failed_cell_is_bold_red(theme: ThemeName) {
    let app = main_app();
    assert_ne!(
        app.selected_artist().unwrap().id,
        "04",
        "the failed row must not be the selected one"
    );
    let backend = render(&app, theme, 160, 48);
    let buf = backend.buffer();
    // OVERALL and SETLIST.FM of Delta Drive both read "error".
    let (x, y) = find(buf, "Delta Drive", "error", 0);
    let (x2, _) = find(buf, "Delta Drive", "error", x as usize + 5);
    for x in [x, x2] {
        for dx in 0..5 {
            let cell = &buf[(x + dx, y)];
            assert_eq!(cell.fg, Color::Red, "{theme:?} at ({}, {y})", x + dx);
            assert!(cell.modifier.contains(Modifier::BOLD), "{theme:?}");
            assert!(!cell.modifier.contains(Modifier::REVERSED), "{theme:?}");
            assert_eq!(cell.style().fg, Some(Color::Red));
        }
    }
    // A success cell on the same row is neither red nor bold.
    let (sx, _) = find(buf, "Delta Drive", "success", 0);
    let cell = &buf[(sx, y)];
    assert_ne!(cell.fg, Color::Red);
    assert!(!cell.modifier.contains(Modifier::BOLD));
    // The same style as the theme's function says.
    assert_eq!(
        view::status_style(&Theme::new(theme), PartStatus::Error).fg,
        Some(Color::Red)
    );
}

#[test]
fn failed_status_is_bold_red_in_dark() {
    assert_failed_cell_is_bold_red(ThemeName::Dark);
}

#[test]
fn failed_status_is_bold_red_in_light() {
    assert_failed_cell_is_bold_red(ThemeName::Light);
}

#[test]
fn failed_status_is_bold_reversed_without_color_in_mono() {
    let app = main_app();
    let backend = render(&app, ThemeName::Mono, 160, 48);
    let buf = backend.buffer();
    let (x, y) = find(buf, "Delta Drive", "error", 0);
    for dx in 0..5 {
        let cell = &buf[(x + dx, y)];
        assert_eq!(cell.fg, Color::Reset, "no color in mono");
        assert_eq!(cell.bg, Color::Reset, "no color in mono");
        assert!(cell.modifier.contains(Modifier::BOLD));
        assert!(cell.modifier.contains(Modifier::REVERSED));
    }
    // Success on the same (unselected) row is not marked.
    let (sx, _) = find(buf, "Delta Drive", "success", 0);
    assert!(!buf[(sx, y)].modifier.contains(Modifier::REVERSED));
    // Nor is the LAST ERROR text: reverse video there made a bar on every failed row, so the
    // status word no longer stood out.
    let (ex, _) = find(buf, "Delta Drive", "setlist.fm: setlists", 0);
    for dx in 0..20 {
        assert!(
            !buf[(ex + dx, y)].modifier.contains(Modifier::REVERSED),
            "x {}",
            ex + dx
        );
    }
    // Nothing anywhere on screen has a color.
    for cell in buf.content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset));
    }
}

#[test]
fn the_selected_row_is_reversed_across_its_width() {
    let app = main_app();
    for theme in [ThemeName::Dark, ThemeName::Light, ThemeName::Mono] {
        let backend = render(&app, theme, 80, 24);
        let buf = backend.buffer();
        let (_, y) = find(buf, "Charlie Quartet", "Charlie", 0);
        // Inside the borders, every cell of the row.
        for x in 1..79 {
            assert!(
                buf[(x, y)].modifier.contains(Modifier::REVERSED),
                "{theme:?} ({x}, {y}) not reversed"
            );
        }
    }
}

#[test]
fn a_queued_artist_reads_queued_in_full() {
    let backend = render(&main_app(), ThemeName::Dark, 160, 48);
    let row = text(backend.buffer())
        .into_iter()
        .find(|r| r.contains("Charlie Quartet"))
        .unwrap();
    assert!(row.contains(" queued "), "{row}");
}

#[test]
fn help_shows_every_command_at_80x24() {
    let backend = render(&help_app(), ThemeName::Dark, 80, 24);
    let screen = text(backend.buffer()).join("\n");
    for what in ["mouse capture on/off", "add an artist (TM search)"] {
        assert!(screen.contains(what), "{what} missing:\n{screen}");
    }
}

#[test]
fn the_detail_shows_the_last_error_at_80x24() {
    let backend = render(&detail_app(), ThemeName::Dark, 80, 24);
    let screen = text(backend.buffer()).join("\n");
    assert!(screen.contains("setlists step"), "{screen}");
}
