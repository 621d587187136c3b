//! The console's pure state transitions: `App::update(action) -> effects`, one test per action
//! family, on a hand-built App (no terminal, no engine). A few tests also draw one frame on a
//! `TestBackend` to check what the operator reads (the "N of M" count, the log pane's position).

mod common;

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use common::tui_keys::{code, ctrl, key};
use syncdeck::checks::{Check, CheckStatus, EnvReport};
use syncdeck::engine::artist_import::Candidate;
use syncdeck::engine::events::{LogLevel, LogLine, PartProgress};
use syncdeck::engine::{EngineEvent, RequestKind, RunCounts};
use syncdeck::store::artists::{ArtistDetail, ArtistSummary};
use syncdeck::store::runs::RunRow;
use syncdeck::store::runs::RunStatus;
use syncdeck::store::sync_status::{PartStatus, Source, SyncStatus};
use syncdeck::tui::app::{
    Action, App, Confirm, DetailData, Effect, Focus, HeaderInfo, Mode, Overlay, Polled, SortColumn,
};
use syncdeck::tui::keys::KeyMap;
use syncdeck::tui::panes::Measured;
use syncdeck::tui::theme::{Theme, ThemeName};
use syncdeck::tui::view;

// ---------------------------------------------------------------------------------------------
// Fixtures

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

fn status(tm: PartStatus, sp: PartStatus, sf: PartStatus) -> SyncStatus {
    SyncStatus {
        ticketmaster: tm,
        spotify: sp,
        setlistfm: sf,
    }
}

fn artist(id: &str, name: &str, s: SyncStatus, error: Option<&str>) -> ArtistSummary {
    let synced = s.ticketmaster != PartStatus::Pending;
    ArtistSummary {
        id: id.into(),
        name: name.into(),
        ticketmaster_id: format!("K8{id}"),
        spotify_id: None,
        setlist_fm_mbid: None,
        sync_status: s,
        last_sync: synced.then(|| now() - chrono::Duration::minutes(90)),
        last_ticketmaster_sync: None,
        last_spotify_sync: None,
        last_sync_error: error.map(str::to_string),
        upcoming_shows_count: 3,
        songs_count: 40,
    }
}

/// Six artists of varied statuses, deliberately not in name order.
/// By name: Alpha(a1) Bravo(a2) Charlie(a3) Delta(a4) Echo(a5) Foxtrot(a6).
/// Failed (some part in error): Bravo, Delta.
fn artists() -> Vec<ArtistSummary> {
    use PartStatus::*;
    vec![
        artist(
            "a4",
            "Delta Drive",
            status(Success, Success, Error),
            Some("setlist.fm: setlists step: HTTP 502"),
        ),
        artist("a1", "Alpha Band", status(Success, Success, Success), None),
        artist(
            "a3",
            "Charlie Quartet",
            status(Pending, Pending, Pending),
            None,
        ),
        artist(
            "a2",
            "Bravo Sound",
            status(Success, Error, Success),
            Some("spotify: albums step: HTTP 403"),
        ),
        artist("a5", "Echo Lake", status(Syncing, Pending, Pending), None),
        artist("a6", "Foxtrot", status(Success, Success, Success), None),
    ]
}

fn app() -> App {
    let mut app = App::new(KeyMap::default());
    let effects = app.update(Action::ArtistsLoaded(artists()));
    assert!(effects.is_empty(), "{effects:?}");
    app
}

fn esc() -> Action {
    code(KeyCode::Esc)
}

fn enter() -> Action {
    code(KeyCode::Enter)
}

/// Types text one key at a time; returns every effect produced.
fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| app.update(key(c))).collect()
}

fn shown_names(app: &App) -> Vec<String> {
    app.table
        .view
        .iter()
        .map(|i| app.table.artists[*i].name.clone())
        .collect()
}

fn selected_id(app: &App) -> String {
    app.selected_artist().expect("a selection").id.clone()
}

fn select(app: &mut App, id: &str) {
    app.update(key('g'));
    while selected_id(app) != id {
        let before = app.table.selected;
        app.update(key('j'));
        assert_ne!(before, app.table.selected, "{id} is not shown");
    }
}

fn pair(id: &str, name: &str) -> (String, String) {
    (id.to_string(), name.to_string())
}

fn log_line(i: usize, level: LogLevel, artist: Option<&str>, message: &str) -> Action {
    Action::Engine(EngineEvent::Log(LogLine {
        at: now() + chrono::Duration::seconds(i as i64),
        level,
        target: "syncdeck::engine".into(),
        message: message.into(),
        artist_id: artist.map(str::to_string),
    }))
}

fn queued(artist_id: &str) -> Action {
    Action::Engine(EngineEvent::Queued {
        run_id: format!("run-{artist_id}"),
        artist_id: artist_id.into(),
        artist_name: artist_id.into(),
        joined: false,
        priority: 10,
    })
}

fn started(artist_id: &str) -> Action {
    Action::Engine(EngineEvent::Started {
        run_id: format!("run-{artist_id}"),
        artist_id: artist_id.into(),
        artist_name: artist_id.into(),
        attempt: 1,
        worker: "w1".into(),
    })
}

/// Draws one frame and returns its rows as text.
fn screen(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
    t.draw(|f| {
        view::draw(f, app, &Theme::new(ThemeName::Dark), now());
    })
    .unwrap();
    let buf = t.backend().buffer().clone();
    (0..height)
        .map(|y| (0..width).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect()
}

/// Draws a frame at the app's size and hands what it measured back, as the event loop does.
fn draw_and_measure(app: &mut App) -> Measured {
    let mut t = Terminal::new(TestBackend::new(app.width, app.height)).unwrap();
    let mut m = Measured::default();
    t.draw(|f| m = view::draw(f, app, &Theme::new(ThemeName::Dark), now()))
        .unwrap();
    app.update(Action::Drawn(m));
    m
}

/// The log lines on screen (rows holding a log timestamp and level).
fn log_rows(app: &App) -> Vec<String> {
    screen(app, 100, 30)
        .into_iter()
        .filter(|r| r.contains(" INFO ") || r.contains(" WARN ") || r.contains(" ERROR "))
        .map(|r| r.trim_matches(|c| c == '│' || c == ' ').to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Selection and single sync

#[test]
fn loaded_artists_are_shown_by_name() {
    let app = app();
    assert_eq!(
        shown_names(&app),
        [
            "Alpha Band",
            "Bravo Sound",
            "Charlie Quartet",
            "Delta Drive",
            "Echo Lake",
            "Foxtrot"
        ]
    );
    assert_eq!(app.table.selected, 0);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn s_enqueues_a_manual_sync_of_the_selected_artist() {
    let mut app = app();
    assert_eq!(
        app.update(key('s')),
        [Effect::Enqueue {
            artists: vec![pair("a1", "Alpha Band")],
            kind: RequestKind::Manual,
        }]
    );
    app.update(key('j'));
    app.update(key('j'));
    assert_eq!(
        app.update(key('s')),
        [Effect::Enqueue {
            artists: vec![pair("a3", "Charlie Quartet")],
            kind: RequestKind::Manual,
        }]
    );
    assert!(app.notice.as_deref().unwrap().contains("Charlie Quartet"));
}

#[test]
fn movement_clamps_at_both_ends() {
    let mut app = app();
    app.update(key('k'));
    assert_eq!(app.table.selected, 0);
    app.update(key('G'));
    assert_eq!(selected_id(&app), "a6");
    app.update(key('j'));
    assert_eq!(selected_id(&app), "a6");
    app.update(code(KeyCode::Home));
    assert_eq!(selected_id(&app), "a1");
    app.update(code(KeyCode::PageDown));
    assert_eq!(selected_id(&app), "a6", "a page is more than six rows");
}

// ---------------------------------------------------------------------------------------------
// Filter

#[test]
fn filter_mode_applies_the_query_live_and_shows_n_of_m() {
    let mut app = app();
    assert!(app.update(key('/')).is_empty());
    assert_eq!(app.mode, Mode::Filter);
    // Typing keys that are commands in normal mode only edits the text.
    assert!(type_text(&mut app, "status:error").is_empty());
    assert_eq!(app.table.filter_text, "status:error");
    assert_eq!(app.table.filter_error, None);
    assert_eq!(shown_names(&app), ["Bravo Sound", "Delta Drive"]);
    let status_line = screen(&app, 100, 30).pop().unwrap();
    assert!(
        status_line.contains("filter: status:error"),
        "{status_line}"
    );
    assert!(status_line.contains("2 of 6"), "{status_line}");
    let rows = screen(&app, 100, 30);
    assert!(
        rows.iter().any(|r| r.contains("Artists 2 of 6")),
        "the table's title: {rows:#?}"
    );
}

#[test]
fn a_bad_term_sets_the_error_and_keeps_the_last_good_filter() {
    let mut app = app();
    app.update(key('/'));
    type_text(&mut app, "status:error");
    assert_eq!(app.table.view.len(), 2);
    for _ in 0.."error".len() {
        app.update(code(KeyCode::Backspace));
    }
    assert_eq!(app.table.filter_text, "status:");
    let err = app
        .table
        .filter_error
        .clone()
        .expect("an error for `status:`");
    assert!(err.contains("status is one of"), "{err}");
    assert_eq!(
        shown_names(&app),
        ["Bravo Sound", "Delta Drive"],
        "the last good filter still applies"
    );
    type_text(&mut app, "weird");
    assert!(
        app.table
            .filter_error
            .as_deref()
            .unwrap()
            .contains("status:weird")
    );
    assert_eq!(app.table.view.len(), 2);
    let status_line = screen(&app, 140, 30).pop().unwrap();
    assert!(status_line.contains("✗"), "{status_line}");
    assert!(status_line.contains("status is one of"), "{status_line}");

    // Unknown field.
    let mut app = self::app();
    app.update(key('/'));
    type_text(&mut app, "colour:red");
    assert!(
        app.table
            .filter_error
            .as_deref()
            .unwrap()
            .contains("unknown field `colour`")
    );
    // Fixing the text clears the error.
    for _ in 0.."colour:red".len() {
        app.update(code(KeyCode::Backspace));
    }
    assert_eq!(app.table.filter_error, None);
    assert_eq!(app.table.view.len(), 6);
}

#[test]
fn esc_leaves_filter_mode_keeping_the_filter_and_enter_too() {
    let mut app = app();
    app.update(key('/'));
    type_text(&mut app, "status:error");
    assert!(app.update(esc()).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.table.filter_text, "status:error");
    assert_eq!(app.table.view.len(), 2);
    // `/` again continues editing the same text.
    app.update(key('/'));
    type_text(&mut app, " bravo");
    assert!(app.update(enter()).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(shown_names(&app), ["Bravo Sound"]);
}

#[test]
fn leaving_filter_mode_with_an_error_shows_the_filter_that_applies() {
    let mut app = app();
    app.update(key('/'));
    type_text(&mut app, "status:error");
    for _ in 0.."error".len() {
        app.update(code(KeyCode::Backspace));
    }
    type_text(&mut app, "weird");
    app.update(enter());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(
        syncdeck::tui::filter::Query::parse(&app.table.filter_text).ok(),
        Some(app.table.filter.clone()),
        "the text shown ({:?}) is not the filter applied",
        app.table.filter_text
    );
}

#[test]
fn esc_in_normal_mode_clears_marks_then_detail_then_filter() {
    let mut app = app();
    app.update(key('/'));
    type_text(&mut app, "!status:syncing");
    app.update(enter());
    assert_eq!(app.table.view.len(), 5);
    app.update(key(' '));
    app.update(enter()); // detail
    assert!(app.detail.open);
    assert_eq!(app.table.marks.len(), 1);

    assert!(app.update(esc()).is_empty());
    assert!(app.table.marks.is_empty(), "marks go first");
    assert!(app.detail.open);
    assert_eq!(app.table.filter_text, "!status:syncing");

    app.update(esc());
    assert!(!app.detail.open, "then the detail");
    assert_eq!(app.table.filter_text, "!status:syncing");

    app.update(esc());
    assert_eq!(app.table.filter_text, "", "then the filter");
    assert_eq!(app.table.view.len(), 6);
    assert_eq!(app.table.filter_error, None);

    // Nothing left to clear: esc is harmless.
    assert!(app.update(esc()).is_empty());
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn filtering_keeps_the_selected_artist_when_it_stays_shown() {
    let mut app = app();
    select(&mut app, "a4");
    app.update(key('/'));
    // Every prefix of "drive" still shows Delta Drive.
    type_text(&mut app, "drive");
    assert_eq!(shown_names(&app), ["Delta Drive"]);
    assert_eq!(selected_id(&app), "a4");
    app.update(esc());
    app.update(esc());
    assert_eq!(app.table.view.len(), 6);
    assert_eq!(selected_id(&app), "a4", "clearing the filter keeps it too");
}

#[test]
fn typing_a_filter_keeps_the_selection_when_the_final_filter_shows_it() {
    let mut app = app();
    select(&mut app, "a4");
    app.update(key('/'));
    type_text(&mut app, "status:error");
    assert_eq!(shown_names(&app), ["Bravo Sound", "Delta Drive"]);
    assert_eq!(selected_id(&app), "a4");
}

// ---------------------------------------------------------------------------------------------
// Marks and bulk sync

#[test]
fn space_marks_and_moves_down_and_toggles() {
    let mut app = app();
    app.update(key(' '));
    assert!(app.table.marks.contains("a1"));
    assert_eq!(selected_id(&app), "a2");
    app.update(key(' '));
    assert_eq!(app.table.marks.len(), 2);
    app.update(key('g'));
    app.update(key(' '));
    assert!(!app.table.marks.contains("a1"), "space again unmarks");
    assert_eq!(app.table.marks.len(), 1);
}

#[test]
fn ctrl_a_marks_every_shown_artist_only() {
    let mut app = app();
    app.update(key('/'));
    type_text(&mut app, "status:error");
    app.update(enter());
    assert!(app.update(ctrl('a')).is_empty());
    let mut marks: Vec<_> = app.table.marks.iter().cloned().collect();
    marks.sort();
    assert_eq!(marks, ["a2", "a4"]);
}

#[test]
fn shift_s_with_marks_confirms_them_counting_the_hidden_ones() {
    let mut app = app();
    // Mark Alpha, filter to the failed ones and mark Bravo: Alpha is marked but hidden.
    app.update(key(' ')); // a1
    app.update(key('/'));
    type_text(&mut app, "status:error");
    app.update(enter());
    select(&mut app, "a2");
    app.update(key(' '));
    assert_eq!(app.table.marks.len(), 2);

    assert!(app.update(key('S')).is_empty());
    let Mode::Confirm(c) = app.mode.clone() else {
        panic!("expected a question, got {:?}", app.mode)
    };
    let Confirm::Sync {
        artists,
        hidden,
        marked,
        estimate,
    } = &c
    else {
        panic!("{c:?}")
    };
    assert_eq!(
        (artists, *hidden, *marked),
        (
            &vec![pair("a1", "Alpha Band"), pair("a2", "Bravo Sound")],
            1,
            true
        )
    );
    // Both have a failed part, none was synced at setlist.fm in full: the estimate says what
    // the two cost and that they finish today.
    assert_eq!(estimate.len(), 2, "{estimate:?}");
    assert!(
        estimate[0].starts_with("calls: Ticketmaster "),
        "{estimate:?}"
    );
    assert!(estimate[0].contains("(5,000 left today)"), "{estimate:?}");
    assert!(
        estimate[1].starts_with("2 of 2 finish today, in about "),
        "{estimate:?}"
    );
    let q = c.question();
    assert!(q.contains("Sync 2 marked artists"), "{q}");
    assert!(q.contains("(1 of them hidden by the filter)"), "{q}");
    // While asking, other keys do nothing.
    assert!(app.update(key('s')).is_empty());
    assert!(app.update(key('q')).is_empty());
    assert!(matches!(app.mode, Mode::Confirm(_)));

    assert_eq!(
        app.update(key('y')),
        [Effect::Enqueue {
            artists: vec![pair("a1", "Alpha Band"), pair("a2", "Bravo Sound")],
            kind: RequestKind::Bulk,
        }]
    );
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn n_answers_no_and_changes_nothing() {
    let mut app = app();
    app.update(key(' '));
    app.update(key('S'));
    assert!(matches!(app.mode, Mode::Confirm(Confirm::Sync { .. })));
    assert!(app.update(key('n')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.table.marks.len(), 1, "marks stay");
    // Esc answers no too.
    app.update(key('S'));
    assert!(app.update(esc()).is_empty());
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn shift_s_without_marks_confirms_all_shown() {
    let mut app = app();
    app.update(key('/'));
    type_text(&mut app, "!status:success");
    app.update(enter());
    app.update(key('S'));
    let Mode::Confirm(c) = app.mode.clone() else {
        panic!("{:?}", app.mode)
    };
    let shown = vec![
        pair("a2", "Bravo Sound"),
        pair("a3", "Charlie Quartet"),
        pair("a4", "Delta Drive"),
        pair("a5", "Echo Lake"),
    ];
    assert!(
        matches!(&c, Confirm::Sync { artists, hidden: 0, marked: false, .. } if *artists == shown),
        "{c:?}"
    );
    assert_eq!(c.question(), "Sync 4 shown artists?");
    assert_eq!(
        app.update(key('y')),
        [Effect::Enqueue {
            artists: shown,
            kind: RequestKind::Bulk
        }]
    );
}

#[test]
fn shift_s_with_nothing_shown_only_says_so() {
    let mut app = app();
    app.update(key('/'));
    type_text(&mut app, "nobody-has-this-name");
    app.update(enter());
    assert!(app.table.view.is_empty());
    assert!(app.update(key('S')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.notice.as_deref().unwrap().contains("nothing to sync"));
    // `s` with no selection does nothing either.
    assert!(app.update(key('s')).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Retry, cancel, cancel all

#[test]
fn p_pauses_and_resumes_the_queue_and_the_header_says_so() {
    let mut app = app();
    assert!(!app.header.paused);
    assert_eq!(app.update(key('P')), [Effect::SetPaused(true)]);
    assert!(app.header.paused);
    assert!(
        app.notice
            .as_deref()
            .is_some_and(|n| n.contains("pausing the queue"))
    );
    assert_eq!(app.update(key('P')), [Effect::SetPaused(false)]);
    assert!(!app.header.paused);
    assert!(
        app.notice
            .as_deref()
            .is_some_and(|n| n.contains("resuming"))
    );
}

#[test]
fn r_confirms_retrying_the_failed_artists() {
    let mut app = app();
    assert!(app.update(key('r')).is_empty());
    assert_eq!(app.mode, Mode::Confirm(Confirm::RetryFailed { count: 2 }));
    assert_eq!(
        Confirm::RetryFailed { count: 2 }.question(),
        "Retry 2 failed artists?"
    );
    assert_eq!(app.update(key('y')), [Effect::RetryFailed]);
    assert_eq!(app.mode, Mode::Normal);

    // The count covers hidden artists too (retry is over the whole catalog).
    app.update(key('/'));
    type_text(&mut app, "status:success");
    app.update(enter());
    app.update(key('r'));
    assert_eq!(app.mode, Mode::Confirm(Confirm::RetryFailed { count: 2 }));
    assert!(app.update(key('n')).is_empty());
}

#[test]
fn r_without_failures_only_says_so() {
    let mut app = App::new(KeyMap::default());
    use PartStatus::*;
    app.update(Action::ArtistsLoaded(vec![artist(
        "a1",
        "Alpha Band",
        status(Success, Success, Success),
        None,
    )]));
    assert!(app.update(key('r')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.notice.as_deref(), Some("no failed artists to retry"));
}

#[test]
fn c_cancels_a_live_run_and_explains_when_there_is_none() {
    let mut app = app();
    assert!(app.update(queued("a1")).is_empty());
    assert_eq!(app.live["a1"].run_id, "run-a1");
    assert!(!app.live["a1"].running);
    assert_eq!(
        app.update(key('c')),
        [Effect::Cancel {
            artist_id: "a1".into()
        }]
    );
    // With no run known here, the engine is still asked: another process may have queued it
    // (the engine answers "nothing to cancel" when there is none).
    app.update(key('j'));
    let selected = app.selected_artist().unwrap().id.clone();
    assert_eq!(
        app.update(key('c')),
        [Effect::Cancel {
            artist_id: selected
        }]
    );
}

#[test]
fn shift_c_confirms_cancelling_everything() {
    let mut app = app();
    assert!(app.update(key('C')).is_empty());
    assert_eq!(app.mode, Mode::Normal, "nothing active: no question");
    assert_eq!(app.notice.as_deref(), Some("nothing is queued or running"));

    app.update(queued("a1"));
    app.update(queued("a3"));
    app.update(key('C'));
    assert_eq!(app.mode, Mode::Confirm(Confirm::CancelAll { active: 2 }));
    assert_eq!(app.update(key('y')), [Effect::CancelAll]);
    assert_eq!(app.mode, Mode::Normal);
    app.update(key('C'));
    assert!(app.update(key('n')).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Quit

#[test]
fn q_quits_at_once_when_nothing_runs() {
    let mut app = app();
    app.update(queued("a1")); // queued, not running: nothing is lost by quitting
    assert_eq!(app.update(key('q')), [Effect::Quit]);
    assert!(app.quitting);
}

#[test]
fn q_asks_while_a_run_is_running_here() {
    let mut app = app();
    assert_eq!(
        app.update(started("a1")),
        [Effect::RefreshArtist {
            artist_id: "a1".into()
        }]
    );
    assert!(app.update(key('q')).is_empty());
    assert_eq!(app.mode, Mode::Confirm(Confirm::Quit { running: 1 }));
    assert!(!app.quitting);
    assert!(app.update(key('n')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(!app.quitting);

    app.update(key('q'));
    assert_eq!(app.update(key('y')), [Effect::Quit]);
    assert!(app.quitting);
}

#[test]
fn q_counts_the_engine_runs_of_this_process() {
    let mut app = app();
    app.running_here = 3;
    app.update(key('q'));
    assert_eq!(app.mode, Mode::Confirm(Confirm::Quit { running: 3 }));
    let q = Confirm::Quit { running: 3 }.question();
    assert!(q.contains("3 syncs are running here"), "{q}");
}

#[test]
fn ctrl_c_behaves_like_q_in_every_mode() {
    let mut app = app();
    assert_eq!(app.update(ctrl('c')), [Effect::Quit]);

    let mut app = self::app();
    app.update(started("a2"));
    assert!(app.update(ctrl('c')).is_empty());
    assert_eq!(app.mode, Mode::Confirm(Confirm::Quit { running: 1 }));
    assert_eq!(app.update(key('y')), [Effect::Quit]);

    // While typing a filter, ctrl-c still quits (q would be typed).
    let mut app = self::app();
    app.update(key('/'));
    assert!(type_text(&mut app, "q").is_empty());
    assert_eq!(app.table.filter_text, "q");
    assert_eq!(app.update(ctrl('c')), [Effect::Quit]);

    // In an overlay too.
    let mut app = self::app();
    app.update(key('?'));
    assert_eq!(app.update(ctrl('c')), [Effect::Quit]);
}

// ---------------------------------------------------------------------------------------------
// Log pane

fn app_with_log(lines: usize) -> App {
    let mut app = app();
    for i in 0..lines {
        assert!(
            app.update(log_line(i, LogLevel::Info, None, &format!("line {i:02}")))
                .is_empty()
        );
    }
    app
}

#[test]
fn log_follows_the_end_by_default() {
    let mut app = app_with_log(30);
    assert!(app.log.follow);
    let rows = log_rows(&app);
    assert!(rows.last().unwrap().ends_with("line 29"), "{rows:?}");
    app.update(log_line(30, LogLevel::Info, None, "line 30"));
    let rows = log_rows(&app);
    assert!(rows.last().unwrap().ends_with("line 30"), "{rows:?}");
}

#[test]
fn scrolling_up_pauses_the_log_and_keeps_its_position() {
    let mut app = app_with_log(30);
    assert!(app.update(Action::ScrollLog(5)).is_empty());
    assert!(!app.log.follow);
    assert_eq!(app.log.scroll, 5);
    let before = log_rows(&app);
    assert!(before.last().unwrap().ends_with("line 24"), "{before:?}");
    for i in 30..40 {
        app.update(log_line(i, LogLevel::Info, None, &format!("line {i:02}")));
    }
    assert!(!app.log.follow);
    assert_eq!(app.log.scroll, 15);
    assert_eq!(
        log_rows(&app),
        before,
        "new lines do not move what is shown"
    );
    let title = screen(&app, 100, 30)
        .into_iter()
        .find(|r| r.contains(" Log "))
        .unwrap();
    assert!(title.contains("paused, 15 newer"), "{title}");

    // Scrolling back down to the end follows again.
    app.update(Action::ScrollLog(-10));
    assert!(!app.log.follow);
    assert_eq!(app.log.scroll, 5);
    app.update(Action::ScrollLog(-5));
    assert!(app.log.follow);
    assert_eq!(app.log.scroll, 0);
    assert!(log_rows(&app).last().unwrap().ends_with("line 39"));
}

#[test]
fn a_paused_log_does_not_drift_when_hidden_lines_arrive() {
    let mut app = app_with_log(30);
    app.update(Action::ScrollLog(5));
    let before = log_rows(&app);
    // Debug lines are below the pane's info+ level: they are not shown, and must not move it.
    for i in 30..35 {
        app.update(log_line(i, LogLevel::Debug, None, &format!("debug {i}")));
    }
    assert_eq!(log_rows(&app), before);
}

#[test]
fn scrolling_is_bounded_by_the_lines_held() {
    let mut app = app_with_log(10);
    app.update(Action::ScrollLog(1000));
    assert_eq!(app.log.scroll, 9);
    let mut empty = self::app();
    empty.update(Action::ScrollLog(3));
    assert_eq!(empty.log.scroll, 0);
}

#[test]
fn shift_f_follows_again() {
    let mut app = app_with_log(30);
    app.update(Action::ScrollLog(7));
    assert!(!app.log.follow);
    assert!(app.update(key('F')).is_empty());
    assert!(app.log.follow);
    assert_eq!(app.log.scroll, 0);
}

#[test]
fn arrows_scroll_the_log_when_it_has_the_focus() {
    let mut app = app_with_log(30);
    app.update(code(KeyCode::Tab));
    app.update(key('k'));
    app.update(key('k'));
    assert!(!app.log.follow);
    assert_eq!(app.log.scroll, 2);
    assert_eq!(app.table.selected, 0, "the table does not move");
    app.update(key('j'));
    app.update(key('j'));
    assert!(app.log.follow);
    app.update(code(KeyCode::Tab));
    app.update(key('j'));
    assert_eq!(app.table.selected, 1);
}

#[test]
fn shift_l_cycles_the_log_level() {
    let mut app = app();
    assert_eq!(app.log.min_level, LogLevel::Info);
    let mut seen = Vec::new();
    for _ in 0..4 {
        assert!(app.update(key('L')).is_empty());
        seen.push(app.log.min_level);
    }
    assert_eq!(
        seen,
        [
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Debug,
            LogLevel::Info
        ]
    );
}

#[test]
fn f_toggles_only_the_selected_artists_lines() {
    let mut app = app();
    app.update(log_line(0, LogLevel::Info, Some("a1"), "alpha line"));
    app.update(log_line(1, LogLevel::Info, Some("a2"), "bravo line"));
    app.update(log_line(2, LogLevel::Info, None, "engine line"));
    assert_eq!(log_rows(&app).len(), 3);
    assert!(app.update(key('f')).is_empty());
    assert!(app.log.only_selected);
    let rows = log_rows(&app);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].ends_with("alpha line"));
    app.update(key('j'));
    assert!(log_rows(&app)[0].ends_with("bravo line"));
    app.update(key('f'));
    assert!(!app.log.only_selected);
    assert_eq!(log_rows(&app).len(), 3);
}

#[test]
fn w_saves_the_visible_lines_sanitized() {
    let mut app = app();
    app.update(log_line(0, LogLevel::Info, Some("a1"), "plain info"));
    app.update(log_line(
        1,
        LogLevel::Warn,
        Some("a1"),
        "name \x1b[31mRed\x07 arrived",
    ));
    app.update(log_line(2, LogLevel::Debug, None, "hidden debug"));
    app.update(log_line(3, LogLevel::Error, Some("a2"), "bravo failed"));

    let effects = app.update(key('w'));
    let [Effect::SaveLog { lines }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(lines.len(), 3, "debug is below the level: {lines:?}");
    assert_eq!(
        lines[0],
        "2026-11-26T12:00:00.000Z INFO  syncdeck::engine plain info"
    );
    assert!(
        lines[1].contains("name ^[[31mRed^G arrived"),
        "{}",
        lines[1]
    );
    for l in lines {
        assert!(!l.chars().any(|c| c.is_control()), "control char in {l:?}");
    }

    // Only what is shown: warn+ and the selected artist only.
    app.update(key('L'));
    app.update(key('f'));
    let effects = app.update(key('w'));
    let [Effect::SaveLog { lines }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(" WARN  "), "{}", lines[0]);
}

#[test]
fn log_search_filters_the_lines_and_esc_clears_it() {
    let mut app = app();
    app.update(log_line(0, LogLevel::Info, None, "spotify token refreshed"));
    app.update(log_line(1, LogLevel::Info, None, "setlist.fm page 2"));
    app.update(key('n'));
    assert_eq!(app.mode, Mode::LogSearch);
    type_text(&mut app, "SPOTIFY");
    let rows = log_rows(&app);
    assert_eq!(rows.len(), 1, "{rows:?}");
    app.update(enter());
    assert_eq!(app.log.search, "SPOTIFY");
    app.update(key('n'));
    app.update(esc());
    assert_eq!(app.log.search, "");
    assert_eq!(log_rows(&app).len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Sort

#[test]
fn sorting_keeps_the_selected_artist_selected() {
    let mut app = app();
    select(&mut app, "a4");
    assert!(app.update(key('o')).is_empty());
    assert_eq!(app.table.sort, SortColumn::Overall);
    assert_eq!(selected_id(&app), "a4");
    assert_eq!(app.notice.as_deref(), Some("sorted by overall"));
    // Errors first, then syncing, pending, success.
    let first: Vec<_> = app
        .table
        .view
        .iter()
        .map(|i| app.table.artists[*i].overall())
        .collect();
    let mut sorted = first.clone();
    sorted.sort_by_key(|o| match o {
        syncdeck::store::sync_status::Overall::Error => 0,
        syncdeck::store::sync_status::Overall::Syncing => 1,
        syncdeck::store::sync_status::Overall::Pending => 2,
        syncdeck::store::sync_status::Overall::Success => 3,
    });
    assert_eq!(first, sorted);

    assert!(app.update(key('O')).is_empty());
    assert!(app.table.descending);
    assert_eq!(selected_id(&app), "a4");

    // Around the whole cycle, back to name order, the selection stays.
    for _ in 0..SortColumn::ALL.len() - 1 {
        app.update(key('o'));
        assert_eq!(selected_id(&app), "a4", "sorted by {:?}", app.table.sort);
    }
    assert_eq!(app.table.sort, SortColumn::Name);
    app.update(key('O'));
    assert_eq!(shown_names(&app)[0], "Alpha Band");
    assert_eq!(selected_id(&app), "a4");
}

// ---------------------------------------------------------------------------------------------
// Engine events

#[test]
fn engine_events_update_the_live_state() {
    let mut app = app();
    let refresh = |id: &str| {
        vec![Effect::RefreshArtist {
            artist_id: id.into(),
        }]
    };
    assert!(app.update(queued("a3")).is_empty());
    assert!(!app.live["a3"].running);

    assert_eq!(app.update(started("a3")), refresh("a3"));
    assert!(app.live["a3"].running);
    assert_eq!(app.live["a3"].run_id, "run-a3");

    let effects = app.update(Action::Engine(EngineEvent::Step {
        run_id: "run-a3".into(),
        artist_id: "a3".into(),
        source: Source::Ticketmaster,
        step: "events".into(),
    }));
    assert!(effects.is_empty());
    assert_eq!(
        app.live["a3"].step,
        Some((Source::Ticketmaster, "events".to_string()))
    );

    let p = PartProgress {
        done: 2,
        total: 5,
        items: 40,
    };
    let effects = app.update(Action::Engine(EngineEvent::Progress {
        run_id: "run-a3".into(),
        artist_id: "a3".into(),
        source: Source::Ticketmaster,
        progress: p,
    }));
    assert!(effects.is_empty());
    assert_eq!(app.live["a3"].progress[&Source::Ticketmaster], p);
    // The table shows it in place of the word.
    let row = screen(&app, 100, 30)
        .into_iter()
        .find(|r| r.contains("Charlie Quartet"))
        .unwrap();
    assert!(row.contains("page 2/5"), "{row}");

    let effects = app.update(Action::Engine(EngineEvent::Retrying {
        run_id: "run-a3".into(),
        artist_id: "a3".into(),
        source: Some(Source::Ticketmaster),
        attempt: 1,
        reason: "HTTP 503".into(),
        wait: std::time::Duration::from_secs(2),
    }));
    assert_eq!(effects, refresh("a3"));
    assert!(!app.live["a3"].running);
    assert_eq!(app.live["a3"].retry.as_deref(), Some("HTTP 503"));

    let effects = app.update(Action::Engine(EngineEvent::PartFinished {
        run_id: "run-a3".into(),
        artist_id: "a3".into(),
        source: Source::Ticketmaster,
        status: PartStatus::Success,
        error: None,
    }));
    assert_eq!(effects, refresh("a3"));

    let effects = app.update(Action::Engine(EngineEvent::Finished {
        run_id: "run-a3".into(),
        artist_id: "a3".into(),
        artist_name: "Charlie Quartet".into(),
        status: RunStatus::Succeeded,
        error: None,
        counts: RunCounts::default(),
        duration: std::time::Duration::from_secs(3),
    }));
    assert_eq!(effects, refresh("a3"));
    assert!(!app.live.contains_key("a3"));
}

#[test]
fn requeued_runs_stop_counting_as_running() {
    let mut app = app();
    app.update(started("a1"));
    app.update(Action::Engine(EngineEvent::Requeued {
        run_id: "run-a1".into(),
        artist_id: "a1".into(),
        reason: "worker stopped".into(),
    }));
    assert!(!app.live["a1"].running);
    assert_eq!(app.update(key('q')), [Effect::Quit]);
}

#[test]
fn refreshed_artists_replace_their_row_and_keep_the_selection() {
    let mut app = app();
    select(&mut app, "a3");
    let mut a3 = artists().into_iter().find(|a| a.id == "a3").unwrap();
    a3.sync_status = SyncStatus::all(PartStatus::Error);
    a3.last_sync_error = Some("boom".into());
    assert!(app.update(Action::ArtistRefreshed(a3)).is_empty());
    assert_eq!(selected_id(&app), "a3");
    assert_eq!(app.table.artists.len(), 6);
    assert_eq!(
        app.selected_artist().unwrap().sync_status,
        SyncStatus::all(PartStatus::Error)
    );
    // An artist added elsewhere appears.
    let new = artist("a7", "Aardvark", SyncStatus::default(), None);
    app.update(Action::ArtistRefreshed(new));
    assert_eq!(app.table.artists.len(), 7);
    assert_eq!(shown_names(&app)[0], "Aardvark");
    assert_eq!(selected_id(&app), "a3");
}

#[test]
fn reloading_drops_marks_of_artists_that_are_gone() {
    let mut app = app();
    app.update(ctrl('a'));
    assert_eq!(app.table.marks.len(), 6);
    let fewer: Vec<_> = artists().into_iter().filter(|a| a.id != "a2").collect();
    app.update(Action::ArtistsLoaded(fewer));
    assert_eq!(app.table.marks.len(), 5);
    assert!(!app.table.marks.contains("a2"));
}

// ---------------------------------------------------------------------------------------------
// Detail, env, jobs, help

fn detail_of(id: &str) -> DetailData {
    let summary = artists().into_iter().find(|a| a.id == id).unwrap();
    DetailData {
        detail: ArtistDetail {
            summary,
            image_url: None,
            url: None,
            spotify_url: None,
            genres: vec!["indie".into()],
            followers: None,
            popularity: None,
            created_at: None,
            updated_at: None,
            shows_count: 5,
            venues_count: 4,
            setlists_count: 7,
        },
        runs: Vec::new(),
    }
}

#[test]
fn enter_toggles_the_detail_and_loads_it() {
    let mut app = app();
    assert_eq!(
        app.update(enter()),
        [Effect::LoadDetail {
            artist_id: "a1".into()
        }]
    );
    assert!(app.detail.open);
    assert!(app.update(Action::DetailLoaded(detail_of("a1"))).is_empty());
    assert_eq!(app.detail.data.as_ref().unwrap().detail.summary.id, "a1");

    // A late answer for another artist is ignored.
    app.update(Action::DetailLoaded(detail_of("a2")));
    assert_eq!(app.detail.data.as_ref().unwrap().detail.summary.id, "a1");

    // Moving asks for the new artist's detail and forgets the old one.
    assert_eq!(
        app.update(key('j')),
        [Effect::LoadDetail {
            artist_id: "a2".into()
        }]
    );
    assert!(app.detail.data.is_none());

    assert!(app.update(enter()).is_empty());
    assert!(!app.detail.open);
    assert!(app.detail.data.is_none());
    // Without the pane, moving loads nothing.
    assert!(app.update(key('j')).is_empty());
}

#[test]
fn a_filter_that_moves_the_selection_reloads_the_open_detail() {
    let mut app = app();
    app.update(enter());
    app.update(Action::DetailLoaded(detail_of("a1")));
    app.update(key('/'));
    let effects = type_text(&mut app, "bravo");
    assert_eq!(selected_id(&app), "a2");
    assert!(
        effects.contains(&Effect::LoadDetail {
            artist_id: "a2".into()
        }),
        "{effects:?}"
    );
}

#[test]
fn a_refresh_reloads_the_open_detail() {
    let mut app = app();
    app.update(enter());
    let a1 = artists().into_iter().find(|a| a.id == "a1").unwrap();
    assert_eq!(
        app.update(Action::ArtistRefreshed(a1)),
        [Effect::LoadDetail {
            artist_id: "a1".into()
        }]
    );
}

fn env_report() -> EnvReport {
    EnvReport::new(vec![Check::new("database", CheckStatus::Ok, "sqlite")])
}

#[test]
fn e_opens_the_env_panel_and_runs_the_checks_once() {
    let mut app = app();
    assert_eq!(app.update(key('e')), [Effect::RunEnvChecks]);
    assert_eq!(app.overlay, Some(Overlay::Env));
    assert!(app.env.running);
    assert!(app.update(Action::EnvLoaded(env_report())).is_empty());
    assert!(!app.env.running);

    // Close and open again: the report is kept, nothing runs.
    assert!(app.update(esc()).is_empty());
    assert_eq!(app.overlay, None);
    assert!(app.update(key('e')).is_empty());
    assert_eq!(app.overlay, Some(Overlay::Env));

    // R runs them again, on demand.
    assert_eq!(app.update(key('R')), [Effect::RunEnvChecks]);
    assert!(app.env.running);
    app.update(Action::Failed("probe crashed".into()));
    assert!(!app.env.running);
    assert_eq!(app.notice.as_deref(), Some("error: probe crashed"));

    // In the overlay, table keys do nothing and esc closes.
    assert!(app.update(key('s')).is_empty());
    assert!(app.update(key('j')).is_empty());
    assert_eq!(app.table.selected, 0);
    assert!(app.update(esc()).is_empty());
    assert_eq!(app.overlay, None);
    // Outside the overlay R does nothing.
    assert!(app.update(key('R')).is_empty());
}

#[test]
fn reopening_the_env_panel_while_checks_run_does_not_run_them_again() {
    let mut app = app();
    assert_eq!(app.update(key('e')), [Effect::RunEnvChecks]);
    app.update(esc());
    assert!(app.update(key('e')).is_empty());
}

#[test]
fn overlays_close_with_esc_q_or_their_own_key() {
    let mut app = app();
    app.update(key('?'));
    assert_eq!(app.overlay, Some(Overlay::Help));
    assert!(
        app.update(key('q')).is_empty(),
        "q closes help, does not quit"
    );
    assert_eq!(app.overlay, None);
    app.update(key('?'));
    app.update(key('?'));
    assert_eq!(app.overlay, None);

    assert_eq!(app.update(key('J')), [Effect::LoadJobs]);
    assert_eq!(app.overlay, Some(Overlay::Jobs));
    app.update(Action::JobsLoaded(Vec::new()));
    app.update(key('J'));
    assert_eq!(app.overlay, None);

    app.update(key('e'));
    app.update(key('e'));
    assert_eq!(app.overlay, None);
}

#[test]
fn other_modes_add_artist_mouse_notice() {
    let mut app = app();
    app.update(key('a'));
    assert_eq!(app.mode, Mode::AddArtist);
    type_text(&mut app, "  Metallica ");
    assert_eq!(
        app.update(enter()),
        [Effect::SearchArtists {
            query: "Metallica".into()
        }]
    );
    assert_eq!(app.mode, Mode::Normal);
    app.update(key('a'));
    assert!(
        app.update(enter()).is_empty(),
        "an empty name searches nothing"
    );
    app.update(key('a'));
    type_text(&mut app, "x");
    app.update(esc());
    assert_eq!(app.input, "");

    assert_eq!(app.update(key('M')), [Effect::SetMouse(true)]);
    assert_eq!(app.update(key('M')), [Effect::SetMouse(false)]);

    app.update(Action::Notice("saved".into()));
    assert_eq!(app.notice.as_deref(), Some("saved"));
    app.update(Action::Resize {
        width: 120,
        height: 40,
    });
    assert_eq!((app.width, app.height), (120, 40));
    assert!(app.update(Action::Tick).is_empty());
}

#[test]
fn the_open_jobs_view_reloads_on_every_tick() {
    let mut app = app();
    assert!(
        app.update(Action::Tick).is_empty(),
        "no reload while closed"
    );
    let shift = |c: char| {
        Action::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::SHIFT,
        ))
    };
    assert_eq!(app.update(shift('J')), [Effect::LoadJobs]);
    assert_eq!(app.update(Action::Tick), [Effect::LoadJobs]);
}

#[test]
fn the_plan_view_loads_on_open_then_every_five_ticks_and_closes() {
    let mut app = app();
    assert_eq!(app.update(key('p')), [Effect::LoadPlan]);
    assert_eq!(app.overlay, Some(Overlay::Plan));
    for _ in 0..4 {
        assert!(app.update(Action::Tick).is_empty());
    }
    assert_eq!(app.update(Action::Tick), [Effect::LoadPlan]);
    let forecast = common::plan_fixture::forecast(Utc::now());
    app.update(Action::PlanLoaded(Box::new(forecast.clone())));
    assert_eq!(app.plan.forecast.as_ref().map(|f| f.artists), Some(1200));
    // Keys of the main screen do nothing under it; esc closes it, and it stops reloading.
    assert!(app.update(key('s')).is_empty());
    app.update(code(KeyCode::Esc));
    assert_eq!(app.overlay, None);
    for _ in 0..6 {
        assert!(app.update(Action::Tick).is_empty());
    }
    app.update(key('p'));
    assert_eq!(app.overlay, Some(Overlay::Plan));
    app.update(key('p'));
    assert_eq!(app.overlay, None, "its own key closes it");
}

// ---------------------------------------------------------------------------------------------
// Incremental updates, the periodic poll, the add-artist picker, the jobs view, scrolling

fn run_row(id: &str, artist_id: &str, status: RunStatus) -> RunRow {
    RunRow {
        id: id.into(),
        artist_id: artist_id.into(),
        artist_name: format!("artist {artist_id}"),
        status,
        priority: 10,
        trigger: "manual".into(),
        requested_at: Some(now()),
        started_at: None,
        finished_at: None,
        heartbeat_at: None,
        attempts: 1,
        max_attempts: 3,
        worker: Some("other-host".into()),
        task_id: None,
        cancel_requested: false,
        error: None,
        error_source: None,
        error_step: None,
        error_http_status: None,
        counts: serde_json::json!({}),
        progress: None,
        wait_until: None,
        wait_reason: None,
    }
}

/// The order a full rebuild gives, as names.
fn rebuilt_names(app: &mut App) -> Vec<String> {
    app.table.rebuild_view();
    shown_names(app)
}

#[test]
fn one_refreshed_artist_lands_where_a_full_rebuild_would_put_it() {
    use PartStatus::*;
    // Every sort column, both directions, with and without a filter: the incremental
    // placement must agree with a full sort.
    let changes = [
        artist(
            "a1",
            "Alpha Band",
            status(Error, Success, Success),
            Some("ticketmaster: events step: HTTP 500"),
        ),
        artist("a6", "Aardvark", status(Success, Success, Success), None),
        artist(
            "a3",
            "Charlie Quartet",
            status(Success, Success, Success),
            None,
        ),
        artist("a9", "Golf Club", status(Pending, Pending, Pending), None),
        artist("a4", "Delta Drive", status(Success, Success, Success), None),
    ];
    for filter in ["", "status:error", "!a"] {
        for sorts in 0..9 {
            for descending in [false, true] {
                let mut app = app();
                for _ in 0..sorts {
                    app.update(key('o'));
                }
                if descending {
                    app.update(key('O'));
                }
                if !filter.is_empty() {
                    app.update(key('/'));
                    type_text(&mut app, filter);
                    app.update(enter());
                }
                for change in changes.clone() {
                    app.update(Action::ArtistRefreshed(change));
                    let incremental = shown_names(&app);
                    assert_eq!(
                        incremental,
                        rebuilt_names(&mut app),
                        "sort {:?} desc {descending} filter {filter:?}",
                        app.table.sort
                    );
                }
            }
        }
    }
}

#[test]
fn a_refresh_keeps_the_selected_artist_selected() {
    let mut app = app();
    app.update(key('j'));
    app.update(key('j'));
    assert_eq!(selected_id(&app), "a3", "Charlie");
    // Alpha is renamed to sort after Charlie: rows move, the selection stays on Charlie.
    app.update(Action::ArtistRefreshed(artist(
        "a1",
        "Zulu",
        status(
            PartStatus::Success,
            PartStatus::Success,
            PartStatus::Success,
        ),
        None,
    )));
    assert_eq!(selected_id(&app), "a3");
    assert_eq!(shown_names(&app).last().map(String::as_str), Some("Zulu"));
}

#[test]
fn the_poll_follows_other_processes() {
    use PartStatus::*;
    let mut app = app();
    // Another process runs Charlie (a3) and has finished Bravo (a2) successfully.
    let mut running = run_row("r3", "a3", RunStatus::Running);
    running.started_at = Some(now());
    let mut done = run_row("r2", "a2", RunStatus::Succeeded);
    done.finished_at = Some(now());
    app.update(Action::ActiveRuns(vec![run_row(
        "r2",
        "a2",
        RunStatus::Running,
    )]));
    assert!(app.live.contains_key("a2"));
    let poll = Polled {
        runs: vec![running, done],
        artists: vec![
            artist(
                "a3",
                "Charlie Quartet",
                status(Syncing, Pending, Pending),
                None,
            ),
            artist("a2", "Bravo Sound", status(Success, Success, Success), None),
        ],
        total: Some(6),
        newest_update: None,
    };
    assert!(!app.poll_changes_nothing(&poll));
    let effects = app.update(Action::Polled(poll.clone()));
    assert!(effects.is_empty(), "{effects:?}");
    assert!(
        app.live.get("a3").is_some_and(|l| l.running),
        "a3 shows as running"
    );
    assert!(!app.live.contains_key("a2"), "a2's run ended elsewhere");
    let bravo = &app.table.artists[app.table.view[1]];
    assert_eq!(bravo.name, "Bravo Sound");
    assert_eq!(
        bravo.overall(),
        syncdeck::store::sync_status::Overall::Success
    );
    assert!(
        app.poll_changes_nothing(&poll),
        "the same poll again changes nothing (no redraw)"
    );

    // An artist added elsewhere: the count differs, everything is read again.
    let more = Polled {
        runs: Vec::new(),
        artists: Vec::new(),
        total: Some(7),
        newest_update: None,
    };
    assert!(!app.poll_changes_nothing(&more));
    assert_eq!(app.update(Action::Polled(more)), [Effect::LoadArtists]);

    // A run of this process queued after the poll was taken is not dropped by it.
    app.update(Action::Engine(EngineEvent::Queued {
        run_id: "r9".into(),
        artist_id: "a6".into(),
        artist_name: "Foxtrot".into(),
        joined: false,
        priority: 10,
    }));
    app.update(Action::Polled(Polled {
        runs: Vec::new(),
        artists: Vec::new(),
        total: Some(6),
        newest_update: None,
    }));
    assert!(app.live.contains_key("a6"));
}

#[test]
fn a_poll_before_the_first_load_does_not_ask_for_another_load() {
    let mut app = App::new(KeyMap::default());
    let poll = Polled {
        runs: Vec::new(),
        artists: Vec::new(),
        total: Some(100_000),
        newest_update: None,
    };
    assert!(app.poll_changes_nothing(&poll));
    assert!(app.update(Action::Polled(poll)).is_empty());
}

#[test]
fn reload_key_reads_every_artist_again() {
    let mut app = app();
    assert_eq!(app.update(ctrl('r')), [Effect::LoadArtists]);
}

fn candidate(id: &str, name: &str) -> Candidate {
    Candidate {
        ticketmaster_id: id.into(),
        name: name.into(),
        segment: Some("Music".into()),
        genres: vec!["Rock".into()],
        upcoming_events: Some(4),
        has_spotify_link: true,
        has_musicbrainz_link: false,
        url: None,
    }
}

#[test]
fn add_artist_searches_then_picks_one_result() {
    let mut app = app();
    app.update(key('a'));
    type_text(&mut app, "foxtrot");
    assert_eq!(
        app.update(enter()),
        [Effect::SearchArtists {
            query: "foxtrot".into()
        }]
    );
    // Three namesakes; one (K8a6) is here already. The exact name match is preselected.
    app.update(Action::CandidatesFound {
        query: "foxtrot".into(),
        candidates: vec![
            candidate("K8x1", "Foxtrot Tribute"),
            candidate("K8a6", "Foxtrot"),
            candidate("K8x2", "Foxtrot"),
        ],
    });
    let Mode::PickArtist(p) = &app.mode else {
        panic!("picker expected, got {:?}", app.mode)
    };
    assert_eq!(p.selected, 1);
    assert_eq!(p.present, [false, true, false]);

    // Enter on the one already here selects it in the table, imports nothing.
    let effects = app.update(enter());
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::ImportArtist { .. })),
        "{effects:?}"
    );
    assert_eq!(selected_id(&app), "a6");
    assert!(app.notice.as_deref().unwrap_or("").contains("here already"));

    // Again, moving down to the namesake: that one is imported.
    app.update(Action::CandidatesFound {
        query: "foxtrot".into(),
        candidates: vec![candidate("K8a6", "Foxtrot"), candidate("K8x2", "Foxtrot")],
    });
    app.update(key('j'));
    app.update(key('j'));
    assert_eq!(
        app.update(enter()),
        [Effect::ImportArtist {
            ticketmaster_id: "K8x2".into(),
            name: "Foxtrot".into()
        }]
    );
    assert_eq!(app.mode, Mode::Normal);

    // The imported artist arrives and is selected, even if the filter hid it.
    app.update(key('/'));
    type_text(&mut app, "status:error");
    app.update(enter());
    let mut new = artist(
        "a7",
        "Foxtrot",
        status(
            PartStatus::Pending,
            PartStatus::Pending,
            PartStatus::Pending,
        ),
        None,
    );
    new.ticketmaster_id = "K8x2".into();
    app.update(Action::ArtistAdded(new));
    assert_eq!(selected_id(&app), "a7");
    assert_eq!(
        app.table.filter_text, "",
        "the filter that hid it is cleared"
    );

    // No results: a notice, no picker. Esc in the picker adds nothing.
    app.update(Action::CandidatesFound {
        query: "zzz".into(),
        candidates: Vec::new(),
    });
    assert_eq!(app.mode, Mode::Normal);
    assert!(
        app.notice
            .as_deref()
            .unwrap_or("")
            .contains("no attraction")
    );
    app.update(Action::CandidatesFound {
        query: "foxtrot".into(),
        candidates: vec![candidate("K8x3", "Foxtrot")],
    });
    assert!(app.update(esc()).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.notice.as_deref(), Some("nothing added"));
}

#[test]
fn jobs_view_selects_cancels_and_opens_a_job() {
    let mut app = app();
    app.update(key('J'));
    app.update(Action::JobsLoaded(vec![
        run_row("r4", "a4", RunStatus::Running),
        run_row("r2", "a2", RunStatus::Failed),
    ]));
    assert_eq!(
        app.update(key('c')),
        [Effect::Cancel {
            artist_id: "a4".into()
        }]
    );
    app.update(key('j'));
    assert_eq!(app.jobs.selected, 1);
    assert!(
        app.update(key('c')).is_empty(),
        "an ended job cannot be cancelled"
    );
    assert!(
        app.notice
            .as_deref()
            .unwrap_or("")
            .contains("nothing to cancel")
    );
    // The list reloads in a new order: the same job stays selected.
    app.update(Action::JobsLoaded(vec![
        run_row("r5", "a5", RunStatus::Queued),
        run_row("r4", "a4", RunStatus::Running),
        run_row("r2", "a2", RunStatus::Failed),
    ]));
    assert_eq!(app.jobs.selected, 2);
    assert_eq!(
        app.update(enter()),
        [Effect::LoadDetail {
            artist_id: "a2".into()
        }]
    );
    assert_eq!(app.overlay, None);
    assert!(app.detail.open);
    assert_eq!(selected_id(&app), "a2");
}

#[test]
fn tab_cycles_to_the_detail_which_scrolls_within_its_length() {
    let mut app = app();
    app.update(Action::Resize {
        width: 80,
        height: 24,
    });
    // Delta has an error: give it a long one so the detail overflows.
    let mut long = artists().remove(0);
    long.last_sync_error = Some("setlist.fm: setlists step: HTTP 502: bad gateway ".repeat(12));
    app.update(Action::ArtistRefreshed(long));
    app.update(key('G'));
    assert_eq!(selected_id(&app), "a6");
    app.update(key('k'));
    app.update(key('k'));
    assert_eq!(selected_id(&app), "a4");
    app.update(enter());
    app.update(code(KeyCode::Tab));
    assert_eq!(app.focus, Focus::Log);
    app.update(code(KeyCode::Tab));
    assert_eq!(app.focus, Focus::Detail);
    let max = draw_and_measure(&mut app)
        .detail_max_scroll
        .expect("the detail is drawn");
    assert!(max > 0, "the long error overflows the pane");
    for _ in 0..200 {
        app.update(key('j'));
    }
    assert_eq!(
        app.detail.scroll.position, max,
        "the scroll stops at the end"
    );
    assert!(
        screen(&app, 80, 24).iter().any(|r| r.contains("top above")),
        "scrolled to the end, the title says so"
    );
    assert_eq!(
        selected_id(&app),
        "a4",
        "scrolling the detail does not move the table"
    );
    app.update(key('k'));
    assert_eq!(app.detail.scroll.position, max - 1);
    app.update(key('g'));
    assert_eq!(app.detail.scroll.position, 0);
    // Closing the detail gives the keys back to the table.
    app.update(enter());
    assert_eq!(app.focus, Focus::Table);
}

#[test]
fn help_scrolls_only_when_it_does_not_fit() {
    let mut app = app();
    app.update(key('?'));
    assert_eq!(draw_and_measure(&mut app).help_max_scroll, Some(0));
    app.update(key('j'));
    assert_eq!(app.help.scroll.position, 0, "at 80×24 help fits");
    app.update(Action::Resize {
        width: 60,
        height: 15,
    });
    draw_and_measure(&mut app);
    for _ in 0..50 {
        app.update(key('j'));
    }
    let rows = app.keys.help().len().div_ceil(2) as u16;
    assert_eq!(app.help.scroll.position, rows - (15 - 6));
    app.update(key('g'));
    assert_eq!(app.help.scroll.position, 0);
}

#[test]
fn a_failing_database_shows_on_the_status_line_until_it_works_again() {
    let mut app = app();
    let effects = app.update(Action::Engine(EngineEvent::Database {
        usable: false,
        message: "the database sqlite /data/s.db is unusable: the disk is full".into(),
    }));
    assert!(effects.is_empty());
    assert_eq!(
        app.notice.as_deref(),
        Some("error: the database sqlite /data/s.db is unusable: the disk is full")
    );
    app.update(Action::Engine(EngineEvent::Database {
        usable: true,
        message: "the database works again".into(),
    }));
    assert_eq!(app.notice.as_deref(), Some("the database works again"));
}

#[test]
fn the_bulk_gauge_follows_this_consoles_batch_whichever_worker_runs_it() {
    let mut app = app();
    assert!(app.batch.is_none());
    app.update(Action::BatchQueued(vec![
        "r1".into(),
        "r2".into(),
        "r3".into(),
    ]));
    let b = app.batch.as_ref().expect("a batch");
    assert_eq!((b.total(), b.done(), b.left()), (3, 0, 3));
    for _ in 0..6 {
        app.update(Action::Tick);
    }
    // One ends here (an engine event), one in another process (the poll sees it).
    app.update(Action::Engine(EngineEvent::Finished {
        run_id: "r1".into(),
        artist_id: "a1".into(),
        artist_name: "Alpha Band".into(),
        status: RunStatus::Succeeded,
        error: None,
        counts: RunCounts::default(),
        duration: std::time::Duration::from_secs(3),
    }));
    app.update(Action::Polled(Polled {
        runs: vec![
            run_row("r2", "a2", RunStatus::Failed),
            run_row("unrelated", "a4", RunStatus::Failed),
        ],
        artists: Vec::new(),
        total: None,
        newest_update: None,
    }));
    let b = app.batch.as_ref().expect("a batch");
    assert_eq!((b.done(), b.failed, b.left()), (2, 1, 1));
    assert_eq!(b.label(), "bulk 2/3 · 1 failed · 1 left · about 3 s to go");
    app.update(Action::Engine(EngineEvent::Finished {
        run_id: "r3".into(),
        artist_id: "a3".into(),
        artist_name: "Charlie Quartet".into(),
        status: RunStatus::Succeeded,
        error: None,
        counts: RunCounts::default(),
        duration: std::time::Duration::from_secs(3),
    }));
    assert!(app.batch.as_ref().is_some_and(|b| b.finished()));
    // It stays a while after it ended, then goes.
    for _ in 0..30 {
        app.update(Action::Tick);
    }
    assert!(app.batch.is_none());
}

// ---------------------------------------------------------------------------------------------
// The jobs view: filter, sort, act on what matches

/// A jobs view holding runs of every kind, with errors and durations.
fn jobs_app() -> App {
    let mut app = app();
    app.update(key('J'));
    let mut failed_timeout = run_row("r1", "a1", RunStatus::Failed);
    failed_timeout.error = Some("setlist.fm: setlists step: no answer within 15 s".into());
    failed_timeout.artist_name = "Sigur Rós".into();
    failed_timeout.started_at = Some(now() - chrono::Duration::seconds(40));
    failed_timeout.finished_at = Some(now() - chrono::Duration::seconds(10));
    let mut failed_auth = run_row("r2", "a2", RunStatus::Failed);
    failed_auth.error = Some("ticketmaster: the key was refused (HTTP 401)".into());
    failed_auth.started_at = Some(now() - chrono::Duration::seconds(20));
    failed_auth.finished_at = Some(now() - chrono::Duration::seconds(19));
    let interrupted = run_row("r3", "a3", RunStatus::Interrupted);
    let running = run_row("r4", "a4", RunStatus::Running);
    let queued = run_row("r5", "a5", RunStatus::Queued);
    let done = run_row("r6", "a6", RunStatus::Succeeded);
    app.update(Action::JobsLoaded(vec![
        running,
        queued,
        failed_timeout,
        failed_auth,
        interrupted,
        done,
    ]));
    app
}

fn shown_jobs(app: &App) -> Vec<String> {
    app.jobs.shown_jobs().map(|j| j.id.clone()).collect()
}

#[test]
fn the_jobs_filter_matches_state_error_text_and_folded_names_live() {
    let mut app = jobs_app();
    assert_eq!(shown_jobs(&app).len(), 6);
    app.update(key('/'));
    assert_eq!(app.mode, Mode::JobsFilter);
    type_text(&mut app, "state:failed");
    assert_eq!(shown_jobs(&app), ["r1", "r2"], "applied while typing");
    type_text(&mut app, " error:timeout");
    assert_eq!(
        shown_jobs(&app),
        Vec::<String>::new(),
        "every term must hold"
    );
    for _ in 0.." error:timeout".len() {
        app.update(code(KeyCode::Backspace));
    }
    type_text(&mut app, " answer");
    assert_eq!(shown_jobs(&app), ["r1"], "free text finds the error");
    app.update(enter());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(
        app.overlay,
        Some(Overlay::Jobs),
        "enter keeps the view open"
    );
    // Accents and case folded: "sigur ros" finds "Sigur Rós".
    app.update(key('/'));
    for _ in 0..app.jobs.filter_text.len() {
        app.update(code(KeyCode::Backspace));
    }
    type_text(&mut app, "sigur ros");
    assert_eq!(shown_jobs(&app), ["r1"]);
    app.update(enter());
    // Esc clears the filter first, then closes the view.
    app.update(code(KeyCode::Esc));
    assert_eq!(shown_jobs(&app).len(), 6);
    assert_eq!(app.overlay, Some(Overlay::Jobs));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.overlay, None);
}

#[test]
fn the_jobs_view_sorts_by_each_order_and_keeps_the_selection() {
    let mut app = jobs_app();
    app.update(key('j'));
    app.update(key('j'));
    let selected = app.jobs.selected_job().unwrap().id.clone();
    assert_eq!(selected, "r1");
    app.update(key('o'));
    assert_eq!(app.jobs.sort.label(), "newest");
    assert_eq!(
        app.jobs.selected_job().unwrap().id,
        selected,
        "the same job stays selected"
    );
    app.update(key('o'));
    assert_eq!(app.jobs.sort.label(), "longest");
    assert_eq!(
        &shown_jobs(&app)[..2],
        ["r1", "r2"],
        "30 s before 1 s; the rest took nothing"
    );
    app.update(key('o'));
    assert_eq!(app.jobs.sort.label(), "artist");
    assert_eq!(
        shown_jobs(&app).first().map(String::as_str),
        Some("r2"),
        "artist a2 < Sigur Rós"
    );
    app.update(key('O'));
    assert_eq!(
        shown_jobs(&app).first().map(String::as_str),
        Some("r1"),
        "reversed"
    );
    app.update(key('o'));
    assert_eq!(app.jobs.sort.label(), "state");
    app.update(key('O'));
    app.update(key('o'));
    assert_eq!(app.jobs.sort.label(), "queue order");
    assert_eq!(shown_jobs(&app), ["r4", "r5", "r1", "r2", "r3", "r6"]);
    // The title names the order when it is not the queue's.
    app.update(key('o'));
    let rows = screen(&app, 120, 30);
    assert!(rows.iter().any(|r| r.contains("by newest")), "{rows:#?}");
}

#[test]
fn retry_and_cancel_act_on_every_job_the_filter_matches_after_asking() {
    let mut app = jobs_app();
    // r: the failed and interrupted jobs shown, their artists once each.
    assert!(app.update(key('r')).is_empty());
    let Mode::Confirm(c) = app.mode.clone() else {
        panic!("asks first: {:?}", app.mode)
    };
    assert_eq!(
        c.question(),
        "Sync again the 3 artists of the failed jobs listed?"
    );
    assert_eq!(
        app.update(key('y')),
        [Effect::Enqueue {
            artists: vec![
                ("a1".into(), "Sigur Rós".into()),
                ("a2".into(), "artist a2".into()),
                ("a3".into(), "artist a3".into()),
            ],
            kind: RequestKind::RetryFailed,
        }]
    );
    // Narrowed by the filter: only what matches.
    app.update(key('/'));
    type_text(&mut app, "error:401");
    app.update(enter());
    app.update(key('r'));
    let Mode::Confirm(c) = app.mode.clone() else {
        panic!("asks first")
    };
    assert_eq!(
        c.question(),
        "Sync again the 1 artist of the failed jobs matching \"error:401\"?"
    );
    assert!(app.update(key('n')).is_empty(), "no: nothing happens");
    // C: the queued and running ones shown.
    app.update(code(KeyCode::Esc));
    app.update(key('C'));
    let Mode::Confirm(c) = app.mode.clone() else {
        panic!("asks first")
    };
    assert_eq!(c.question(), "Cancel the 2 queued or running jobs listed?");
    assert_eq!(
        app.update(enter()),
        [Effect::CancelMany {
            artist_ids: vec!["a4".into(), "a5".into()]
        }]
    );
    // Nothing to act on: said, not asked.
    app.update(key('/'));
    type_text(&mut app, "state:succeeded");
    app.update(enter());
    assert!(app.update(key('C')).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(
        app.notice.as_deref(),
        Some("no queued or running job is shown")
    );
}

#[test]
fn a_waiting_job_is_found_by_its_state_and_its_reason() {
    let mut app = app();
    app.update(Action::HeaderLoaded(HeaderInfo {
        read_at: Some(now()),
        ..HeaderInfo::default()
    }));
    app.update(key('J'));
    let mut waiting = run_row("r7", "a1", RunStatus::Queued);
    waiting.wait_until = Some(now() + chrono::Duration::hours(2));
    waiting.wait_reason = Some("ticketmaster daily quota spent".into());
    app.update(Action::JobsLoaded(vec![
        run_row("r8", "a2", RunStatus::Queued),
        waiting,
    ]));
    app.update(key('/'));
    type_text(&mut app, "state:waiting");
    assert_eq!(shown_jobs(&app), ["r7"]);
    for _ in 0.."state:waiting".len() {
        app.update(code(KeyCode::Backspace));
    }
    type_text(&mut app, "quota");
    assert_eq!(shown_jobs(&app), ["r7"]);
}

// ---------------------------------------------------------------------------------------------
// Scroll bounds come from the frame that drew the pane

#[test]
fn a_pane_scrolled_past_its_end_is_pulled_back_when_the_terminal_grows() {
    let mut app = app();
    app.update(key('e'));
    app.update(Action::EnvLoaded(syncdeck::checks::EnvReport {
        ok: false,
        checks: (0..30)
            .map(|i| syncdeck::checks::Check {
                name: format!("CHECK_{i}"),
                required: false,
                status: syncdeck::checks::CheckStatus::Missing,
                source: None,
                preview: None,
                latency_ms: None,
                detail: "not set".into(),
                hint: None,
            })
            .collect(),
    }));
    let max = draw_and_measure(&mut app).env_max_scroll.unwrap();
    assert!(max > 0, "30 checks overflow 80×24");
    app.update(key('G'));
    assert_eq!(app.env.scroll.position, max);
    // Taller: the same text needs less scrolling; the frame's measure pulls the position in.
    app.update(Action::Resize {
        width: 80,
        height: 60,
    });
    let moved = draw_and_measure(&mut app).env_max_scroll.unwrap();
    assert!(moved < max);
    assert_eq!(app.env.scroll.position, moved);
    // Before any frame nothing scrolls: the bound is unknown, not guessed.
    let mut fresh = self::app();
    fresh.update(key('?'));
    fresh.update(key('j'));
    assert_eq!(fresh.help.scroll.position, 0);
}

#[test]
fn page_down_moves_by_the_rows_the_table_showed() {
    let mut app = app();
    let rows = draw_and_measure(&mut app).table_rows.unwrap();
    assert_eq!(app.table.page_rows, Some(rows));
    app.update(Action::Resize {
        width: 80,
        height: 15,
    });
    let small = draw_and_measure(&mut app).table_rows.unwrap();
    assert!(small < rows, "{small} rows at 80×15, {rows} at 80×24");
    app.update(code(KeyCode::PageDown));
    assert_eq!(app.table.selected, usize::from(small).min(5));
}

// ---------------------------------------------------------------------------------------------
// Figures

fn budget(provider: &str, used: u32, limit: Option<u32>) -> syncdeck::store::budgets::BudgetRow {
    syncdeck::store::budgets::BudgetRow {
        key: format!("{provider}:k"),
        provider: provider.into(),
        day_used: used,
        day_limit: limit,
        resets_at: None,
        throttled_until: None,
        answers_429: 0,
        answers_5xx: 0,
    }
}

/// A budget row with its 429 and 5xx counts so far.
fn answered(
    provider: &str,
    used: u32,
    limit: Option<u32>,
    (answers_429, answers_5xx): (u64, u64),
) -> syncdeck::store::budgets::BudgetRow {
    syncdeck::store::budgets::BudgetRow {
        answers_429,
        answers_5xx,
        ..budget(provider, used, limit)
    }
}

fn reading(secs: i64, tm_used: u32, sf_throttled: u64) -> Action {
    Action::HeaderLoaded(HeaderInfo {
        budgets: vec![
            budget("ticketmaster", tm_used, Some(5000)),
            answered("setlist.fm", 100, Some(1440), (sf_throttled, 0)),
        ],
        read_at: Some(now() + chrono::Duration::seconds(secs)),
        ..HeaderInfo::default()
    })
}

#[test]
fn figures_turn_readings_into_rates_and_a_minute_of_errors() {
    let mut app = app();
    app.update(reading(0, 1000, 0));
    assert_eq!(
        app.figures.providers[0].rate(),
        None,
        "one reading is no rate"
    );
    app.update(reading(2, 1010, 1));
    assert_eq!(
        app.figures.providers[0].rate(),
        Some(5.0),
        "10 calls in 2 s"
    );
    assert_eq!(app.figures.providers[0].used, 1010);
    assert_eq!(app.figures.providers[0].limit, Some(5000));
    assert_eq!(app.figures.providers[2].errors_last_minute(), (1, 0));
    // A new day: the count restarts; the new day's calls are the rate, not a negative one.
    app.update(reading(4, 6, 1));
    assert_eq!(app.figures.providers[0].rate(), Some(3.0));
    // A minute later the 429 has left the window.
    app.update(reading(70, 6, 1));
    assert_eq!(app.figures.providers[2].errors_last_minute(), (0, 0));
    assert_eq!(app.figures.providers[0].rate(), Some(0.0));
}

#[test]
fn a_header_reading_that_changes_nothing_drawn_asks_for_no_frame() {
    let mut app = app();
    assert!(app.take_header(HeaderInfo {
        queued: 3,
        read_at: Some(now()),
        ..HeaderInfo::default()
    }));
    // The same figures a second later (no budgets, so no calls and no answers): nothing to draw.
    assert!(!app.take_header(HeaderInfo {
        queued: 3,
        read_at: Some(now() + chrono::Duration::seconds(1)),
        ..HeaderInfo::default()
    }));
    // Calls made: the rate moves, a frame is due.
    app.take_header(HeaderInfo {
        queued: 3,
        budgets: vec![budget("spotify", 10, None)],
        read_at: Some(now() + chrono::Duration::seconds(2)),
        ..HeaderInfo::default()
    });
    assert!(app.take_header(HeaderInfo {
        queued: 3,
        budgets: vec![budget("spotify", 20, None)],
        read_at: Some(now() + chrono::Duration::seconds(3)),
        ..HeaderInfo::default()
    }));
}

#[test]
fn artists_per_minute_count_each_ended_run_once() {
    let mut app = app();
    let finished = |run: &str| {
        Action::Engine(EngineEvent::Finished {
            run_id: run.into(),
            artist_id: "a1".into(),
            artist_name: "Alpha".into(),
            status: RunStatus::Succeeded,
            error: None,
            counts: RunCounts::default(),
            duration: std::time::Duration::from_secs(1),
        })
    };
    app.update(finished("r1"));
    app.update(finished("r2"));
    // The poll sees r2 (ended here) and r3 (ended in another process).
    app.update(Action::Polled(Polled {
        runs: vec![
            run_row("r2", "a1", RunStatus::Succeeded),
            run_row("r3", "a2", RunStatus::Failed),
        ],
        artists: Vec::new(),
        total: None,
        newest_update: None,
    }));
    assert_eq!(app.figures.done_per_minute(), 3, "within the first minute");
    for _ in 0..60 {
        app.update(Action::Tick);
    }
    app.update(finished("r4"));
    assert_eq!(app.figures.done_per_minute(), 3, "the last full minute");
    assert_eq!(app.figures.done.iter().sum::<u64>(), 4);
}

#[test]
fn the_one_line_figures_keep_every_provider_by_dropping_detail_first() {
    let reading = |secs: i64, n: u64| {
        Action::HeaderLoaded(HeaderInfo {
            budgets: vec![
                answered("ticketmaster", 100 + n as u32, Some(5000), (n * 2, n)),
                answered("spotify", 200 + n as u32, None, (n * 2, n)),
                answered("setlist.fm", 50 + n as u32, Some(1440), (n * 3, n * 40)),
            ],
            read_at: Some(now() + chrono::Duration::seconds(secs)),
            ..HeaderInfo::default()
        })
    };
    let mut app = app();
    app.update(reading(0, 0));
    app.update(reading(2, 1));
    // 120 columns: gauges, sparklines, 429s and 5xx apart.
    let wide = screen(&app, 120, 30)[1].clone();
    for says in ["TM ────", "SF ────", "429×3 5xx×40", "/min"] {
        assert!(wide.contains(says), "{says} in {wide:?}");
    }
    // 80 columns: no gauges, shorter sparklines, errors summed; every provider still there.
    let narrow = screen(&app, 80, 24)[1].clone();
    for says in ["TM ", "SP ", "SF ", "!43", "/min"] {
        assert!(narrow.contains(says), "{says} in {narrow:?}");
    }
    assert!(!narrow.contains('─'), "no gauges: {narrow:?}");
}

#[test]
fn s_in_the_jobs_view_syncs_the_selected_jobs_artist_again_unless_it_is_active() {
    let mut app = jobs_app();
    // Running first: nothing to queue.
    assert!(app.update(key('s')).is_empty());
    assert!(
        app.notice
            .as_deref()
            .is_some_and(|n| n.contains("still running")),
        "{:?}",
        app.notice
    );
    app.update(key('j'));
    app.update(key('j'));
    assert_eq!(
        app.update(key('s')),
        [Effect::Enqueue {
            artists: vec![("a1".into(), "Sigur Rós".into())],
            kind: RequestKind::Manual,
        }]
    );
    assert_eq!(app.overlay, Some(Overlay::Jobs), "the view stays open");
}
