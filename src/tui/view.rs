//! Views only draw: the screen's layout, each pane drawn by its component (see
//! [`super::panes`]), and the status line. `now` is passed in so a frame is a pure function
//! of the state (snapshot tests depend on it); what a frame measured comes back as
//! [`Measured`] for `update`.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, Focus, Mode, Overlay};
use super::keys::Command;
use super::panes::{self, Measured};
use super::theme::Theme;
use crate::store::sync_status::PartStatus;
use crate::text::{sanitize, truncate};

pub use super::panes::header::header_line;

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// Draws one frame; returns what it measured of the panes it drew.
pub fn draw(frame: &mut Frame<'_>, app: &App, theme: &Theme, now: DateTime<Utc>) -> Measured {
    let mut measured = Measured::default();
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "the terminal is {}×{}; syncdeck needs at least {MIN_WIDTH}×{MIN_HEIGHT}. Enlarge it, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return measured;
    }
    // A line for the bulk gauge while this console's bulk work runs (and a little after).
    let gauge_rows = u16::from(app.batch.is_some());
    let [header, figures, body, gauge, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(panes::figures::rows(area.height)),
        Constraint::Min(5),
        Constraint::Length(gauge_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    panes::header::draw(frame, &app.header, theme, header);
    panes::figures::draw(frame, &app.figures, theme, figures);
    if let Some(batch) = &app.batch {
        panes::batch::draw(frame, batch, theme, gauge);
    }
    // The detail needs room for the statuses, the last error and the job history.
    let bottom_height = if app.detail.open {
        (body.height * 11 / 20).max(8)
    } else {
        (body.height * 2 / 5).max(6)
    };
    let [table_area, bottom] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(bottom_height)]).areas(body);
    measured.table_rows = Some(panes::table::draw(
        frame,
        &app.table,
        &app.live,
        app.focus == Focus::Table,
        theme,
        table_area,
        now,
    ));
    let selected = app.table.selected_artist();
    let log_area = if app.detail.open {
        let [detail, log] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(bottom);
        measured.detail_max_scroll = Some(panes::detail::draw(
            frame,
            &app.detail,
            selected,
            app.focus == Focus::Detail,
            theme,
            detail,
            now,
        ));
        log
    } else {
        bottom
    };
    panes::log::draw(
        frame,
        &app.log,
        selected.map(|a| a.id.as_str()),
        app.focus == Focus::Log,
        theme,
        log_area,
    );
    draw_status(frame, app, theme, status);
    match app.overlay {
        Some(Overlay::Help) => {
            measured.help_max_scroll =
                Some(panes::help::draw(frame, &app.help, &app.keys, theme, area));
        }
        Some(Overlay::Env) => {
            measured.env_max_scroll =
                Some(panes::env::draw(frame, &app.env, &app.keys, theme, area));
        }
        Some(Overlay::Jobs) => {
            measured.jobs_rows = Some(panes::jobs::draw(
                frame, &app.jobs, &app.live, theme, area, now,
            ));
        }
        Some(Overlay::Plan) => panes::plan::draw(frame, &app.plan, theme, area, now),
        None => {}
    }
    match &app.mode {
        Mode::Confirm(c) => panes::confirm::draw(frame, c, theme, area),
        Mode::PickArtist(p) => panes::picker::draw(frame, p, theme, area),
        _ => {}
    }
    measured
}

fn hint(app: &App, cmd: Command, what: &str) -> String {
    format!("{} {what}", app.keys.label(cmd))
}

fn draw_status(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let text = match &app.mode {
        Mode::Filter => {
            let err = app
                .table
                .filter_error
                .as_deref()
                .map(|e| format!("  ✗ {}", sanitize(e)))
                .unwrap_or_default();
            format!(
                " filter: {}▏ {} of {}{err} · enter keep · esc back",
                sanitize(&app.table.filter_text),
                app.table.view.len(),
                app.table.artists.len()
            )
        }
        Mode::JobsFilter => format!(
            " jobs filter (state:failed error:TEXT or text): {}▏ {} of {} · enter keep · esc back",
            sanitize(&app.jobs.filter_text),
            app.jobs.shown.len(),
            app.jobs.rows.len()
        ),
        Mode::LogSearch => format!(
            " log search: {}▏ · enter keep · esc clear",
            sanitize(&app.log.search)
        ),
        Mode::AddArtist => format!(
            " add artist (Ticketmaster search): {}▏ · enter search · esc cancel",
            sanitize(&app.input)
        ),
        Mode::Confirm(_) => " y yes · n no".to_string(),
        Mode::PickArtist(_) => format!(
            " {} pick · enter import and sync · esc cancel",
            app.keys.label(Command::Up)
        ),
        Mode::Normal => {
            let hints = match app.overlay {
                Some(Overlay::Env) => vec![
                    hint(app, Command::RunChecks, "run live checks"),
                    "↑↓ scroll".into(),
                    "esc close".into(),
                ],
                Some(Overlay::Jobs) => vec![
                    "↑↓ select".into(),
                    hint(app, Command::Sync, "sync again"),
                    hint(app, Command::Cancel, "cancel the job"),
                    hint(app, Command::Detail, "open its artist"),
                    hint(app, Command::Filter, "filter"),
                    hint(app, Command::SortNext, "sort"),
                    hint(app, Command::RetryFailed, "retry shown failed"),
                    hint(app, Command::CancelAll, "cancel shown"),
                    "esc close".into(),
                ],
                Some(Overlay::Help) => vec!["↑↓ scroll".into(), "esc close".into()],
                Some(Overlay::Plan) => vec![
                    "refreshed every 5 s".into(),
                    "`syncdeck serve` runs it".into(),
                    "esc close".into(),
                ],
                None => vec![
                    hint(app, Command::Sync, "sync"),
                    hint(app, Command::SyncMany, "sync marked/shown"),
                    hint(app, Command::RetryFailed, "retry failed"),
                    hint(app, Command::Cancel, "cancel"),
                    hint(app, Command::Filter, "filter"),
                    hint(app, Command::Detail, "detail"),
                    hint(app, Command::Env, "env"),
                    hint(app, Command::Jobs, "jobs"),
                    hint(app, Command::Help, "help"),
                    hint(app, Command::Quit, "quit"),
                ],
            };
            let hints = format!(" {}", hints.join(" · "));
            match &app.notice {
                Some(n) => format!(" {} │{hints}", sanitize(n)),
                None => hints,
            }
        }
    };
    frame.render_widget(
        Paragraph::new(truncate(&text, area.width as usize)).style(theme.key),
        area,
    );
}

/// The style the table gives a status cell (for tests of the themes).
pub fn status_style(theme: &Theme, status: PartStatus) -> Style {
    theme.part(status)
}
