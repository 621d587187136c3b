//! Views only draw: everything they show comes from [`App`]; `now` is passed in so a frame is
//! a pure function of the state (snapshot tests depend on it).

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, LineGauge, Paragraph, Row, Table, TableState, Wrap};

use super::app::{App, Confirm, Focus, Mode, Overlay, Picker};
use super::keys::Command;
use super::theme::Theme;
use crate::checks::CheckStatus;
use crate::store::artists::ArtistSummary;
use crate::store::sync_status::{PartStatus, Source};
use crate::store::time::relative;
use crate::text::{percent, sanitize, thousands, truncate};

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// Draws one frame.
pub fn draw(frame: &mut Frame<'_>, app: &App, theme: &Theme, now: DateTime<Utc>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "the terminal is {}×{}; syncdeck needs at least {MIN_WIDTH}×{MIN_HEIGHT}. Enlarge it, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    // A line for the bulk gauge while this console's bulk work runs (and a little after).
    let gauge_rows = u16::from(app.batch.is_some());
    let [header, body, gauge, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(gauge_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, app, theme, header);
    if let Some(batch) = &app.batch {
        draw_batch(frame, batch, theme, gauge);
    }
    // The detail needs room for the statuses, the last error and the job history.
    let bottom_height = if app.show_detail {
        (body.height * 11 / 20).max(8)
    } else {
        (body.height * 2 / 5).max(6)
    };
    let [table_area, bottom] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(bottom_height)]).areas(body);
    draw_table(frame, app, theme, table_area, now);
    if app.show_detail {
        let [detail, log] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .areas(bottom);
        draw_detail(frame, app, theme, detail, now);
        draw_log(frame, app, theme, log);
    } else {
        draw_log(frame, app, theme, bottom);
    }
    draw_status(frame, app, theme, status);
    match app.overlay {
        Some(Overlay::Help) => draw_help(frame, app, theme, area),
        Some(Overlay::Env) => draw_env(frame, app, theme, area),
        Some(Overlay::Jobs) => draw_jobs(frame, app, theme, area, now),
        Some(Overlay::Plan) => draw_plan(frame, app, theme, area, now),
        None => {}
    }
    match &app.mode {
        Mode::Confirm(c) => draw_confirm(frame, c, theme, area),
        Mode::PickArtist(p) => draw_picker(frame, p, theme, area),
        _ => {}
    }
}

fn draw_picker(frame: &mut Frame<'_>, p: &Picker, theme: &Theme, area: Rect) {
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let title = format!(
        " Add artist · {} Ticketmaster results for \"{}\" · enter imports and syncs · esc cancels ",
        p.candidates.len(),
        truncate(&sanitize(&p.query), 30)
    );
    let rows: Vec<Row> = p
        .candidates
        .iter()
        .zip(&p.present)
        .map(|(c, here)| {
            let (mark, style) = if *here {
                ("here already", theme.dim)
            } else {
                ("", theme.base)
            };
            Row::new(vec![
                Cell::from(sanitize(&c.name)),
                Cell::from(sanitize(&c.describe())),
                Cell::from(sanitize(&c.ticketmaster_id)),
                Cell::from(mark),
            ])
            .style(style)
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Min(18),
            Constraint::Min(24),
            Constraint::Length(22),
            Constraint::Length(12),
        ],
    )
    .header(Row::new(["NAME", "WHAT", "TICKETMASTER ID", ""]).style(theme.title))
    .row_highlight_style(theme.selected)
    .highlight_symbol("▸ ")
    .block(Block::bordered().title(Span::styled(title, theme.title)));
    let mut state = TableState::default().with_selected(Some(p.selected));
    frame.render_stateful_widget(table, r, &mut state);
}

fn draw_header(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let line = header_line(&app.header, area.width as usize);
    frame.render_widget(Paragraph::new(line).style(theme.header), area);
}

/// One budget of the header: `TM 1,234/5,000 today`, compact `TM 1,234/5,000`; a throttle
/// stays in both.
fn budget_segment(b: &crate::store::budgets::BudgetRow, compact: bool) -> String {
    let name = match b.provider.as_str() {
        "setlist.fm" | "setlistfm" => "setlist.fm",
        "ticketmaster" => "TM",
        _ => "Spotify",
    };
    let today = if compact { "" } else { " today" };
    let mut text = match b.day_limit {
        Some(limit) => format!(
            "{name} {}/{}{today}",
            thousands(i64::from(b.day_used)),
            thousands(i64::from(limit))
        ),
        None => format!("{name} {}{today}", thousands(i64::from(b.day_used))),
    };
    if let Some(until) = b.throttled_until {
        // Compact: to the minute, rounded up (never earlier than the real end).
        let shown = if compact {
            (until + chrono::Duration::seconds(59))
                .format("%H:%M")
                .to_string()
        } else {
            until.format("%H:%M:%S").to_string()
        };
        text.push_str(&format!(" 429 until {shown}"));
    }
    text
}

/// The header at `width` columns: the queue first (always shown), then the budgets, the
/// workers and the database. When it does not fit it drops, in order: the database, the
/// workers, the word "today", Spotify's count (it has no daily quota), the name; only then
/// is it cut, with `…`.
pub fn header_line(h: &super::app::HeaderInfo, width: usize) -> String {
    let queue = format!("{} queued · {} running", h.queued, h.running);
    let paused = h.paused.then(|| "QUEUE PAUSED (P resumes)".to_string());
    let workers = format!(
        "{} worker{} ({} slots)",
        h.workers,
        if h.workers == 1 { "" } else { "s" },
        h.slots
    );
    let database = sanitize(&h.database);
    let is_spotify = |b: &&crate::store::budgets::BudgetRow| b.provider == "spotify";
    // (drop the database, drop the workers, compact budgets, drop Spotify, drop the name)
    for step in 0..=5 {
        let mut parts = Vec::new();
        if step < 5 {
            parts.push(" syncdeck".to_string());
        }
        parts.extend(paused.clone());
        parts.push(queue.clone());
        for b in &h.budgets {
            if step >= 4 && is_spotify(&b) {
                continue;
            }
            parts.push(budget_segment(b, step >= 3));
        }
        if step < 2 {
            parts.push(workers.clone());
        }
        if step < 1 {
            parts.push(database.clone());
        }
        let mut line = parts.join(" · ");
        if step == 5 {
            line.insert(0, ' ');
        }
        if line.chars().count() <= width || step == 5 {
            return truncate(&line, width);
        }
    }
    String::new()
}

/// The bulk gauge: a bar, then `bulk 37/200 · 2 failed · 161 left · about 3 min to go`.
fn draw_batch(
    frame: &mut Frame<'_>,
    batch: &super::batch::BatchProgress,
    theme: &Theme,
    area: Rect,
) {
    let style = if batch.failed > 0 {
        theme.error
    } else {
        theme.success
    };
    let gauge = LineGauge::default()
        .ratio(batch.ratio().clamp(0.0, 1.0))
        .label(format!(" {} ", batch.label()))
        .filled_style(style)
        .unfilled_style(theme.dim);
    frame.render_widget(gauge, area);
}

/// The cell of one source: the word, or the live step while it syncs.
fn part_cell(app: &App, artist_id: &str, source: Source, status: PartStatus) -> String {
    if let Some(live) = app.live.get(artist_id) {
        if status == PartStatus::Syncing || live.running {
            if let Some(p) = live.progress.get(&source) {
                return match source {
                    Source::Ticketmaster => format!("page {}/{}", p.done, p.total.max(p.done)),
                    Source::Spotify => format!("albums {}/{}", p.done, p.total.max(p.done)),
                    Source::Setlistfm => format!("{} setlists", p.items),
                };
            }
            if status == PartStatus::Syncing {
                return "syncing".into();
            }
        }
        if !live.running && status != PartStatus::Syncing && live.retry.is_none() {
            // Queued, not started yet.
            return "queued".into();
        }
    }
    status.as_str().to_string()
}

fn draw_table(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect, now: DateTime<Utc>) {
    let wide = area.width >= 120;
    let medium = area.width >= 96;
    let filter = if app.filter_text.is_empty() {
        String::new()
    } else {
        format!(" · filter: {}", sanitize(&app.filter_text))
    };
    let marks = if app.marks.is_empty() {
        String::new()
    } else {
        format!(" · {} marked", app.marks.len())
    };
    let sort = format!(
        " · by {}{}",
        app.sort.label(),
        if app.descending { " ↓" } else { "" }
    );
    let title = format!(
        " Artists {} of {}{filter}{marks}{sort} ",
        thousands(app.view.len() as i64),
        thousands(app.artists.len() as i64)
    );
    let focused = app.focus == Focus::Table;
    let block = Block::bordered()
        .title(Span::styled(title, theme.title))
        .border_style(if focused { theme.base } else { theme.border });
    let inner_height = area.height.saturating_sub(3) as usize;
    let offset = if app.selected >= inner_height {
        app.selected + 1 - inner_height
    } else {
        0
    };
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Min(16),
        Constraint::Length(8),
        Constraint::Length(13),
        Constraint::Length(13),
        Constraint::Length(13),
        Constraint::Length(9),
    ];
    let mut header = vec![
        "",
        "NAME",
        "OVERALL",
        "TICKETMASTER",
        "SPOTIFY",
        "SETLIST.FM",
        "LAST SYNC",
    ];
    if medium {
        widths.extend([Constraint::Length(6), Constraint::Length(6)]);
        header.extend(["SHOWS", "SONGS"]);
    }
    if wide {
        widths.push(Constraint::Min(20));
        header.push("LAST ERROR");
    }
    // The columns as the table will lay them out, so that a name or an error too long for its
    // column ends in `…` instead of being cut silently.
    let columns = Layout::horizontal(widths.clone())
        .flex(Flex::Start)
        .spacing(1)
        .split(block.inner(area));
    let fit = |text: String, column: usize| {
        let width = columns.get(column).map_or(0, |c| usize::from(c.width));
        truncate(&text, width)
    };
    // Only the visible slice is built: work grows with the screen, not the table.
    let rows: Vec<Row> = app
        .view
        .iter()
        .enumerate()
        .skip(offset)
        .take(inner_height)
        .map(|(pos, i)| {
            let a = &app.artists[*i];
            let marked = app.marks.contains(&a.id);
            let sel = pos == app.selected;
            let indicator = match (sel, marked) {
                (true, true) => "▸●",
                (true, false) => "▸ ",
                (false, true) => " ●",
                (false, false) => "  ",
            };
            let overall = a.overall();
            let mut cells = vec![
                Cell::from(indicator).style(if marked { theme.marked } else { theme.base }),
                Cell::from(fit(sanitize(&a.name), 1)),
                Cell::from(overall.as_str()).style(theme.overall(overall)),
            ];
            for source in [Source::Ticketmaster, Source::Spotify, Source::Setlistfm] {
                let status = a.sync_status.get(source);
                cells.push(
                    Cell::from(part_cell(app, &a.id, source, status)).style(theme.part(status)),
                );
            }
            cells.push(Cell::from(
                a.last_sync
                    .map(|t| relative(t, now))
                    .unwrap_or_else(|| "never".into()),
            ));
            if medium {
                cells.push(Cell::from(
                    Line::from(thousands(a.upcoming_shows_count)).right_aligned(),
                ));
                cells.push(Cell::from(
                    Line::from(thousands(a.songs_count)).right_aligned(),
                ));
            }
            if wide {
                let err = a
                    .last_sync_error
                    .as_deref()
                    .map(sanitize)
                    .unwrap_or_default();
                // Not the status style: in mono that is reverse video, a bar on every row.
                cells.push(Cell::from(fit(err, 9)).style(theme.error_text));
            }
            let row = Row::new(cells);
            if sel { row.style(theme.selected) } else { row }
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title))
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
    if app.view.is_empty() {
        let msg = if app.artists.is_empty() {
            "no artists yet: add one with a, or run `syncdeck seed --demo`"
        } else {
            "no artist matches the filter; esc clears it"
        };
        let inner = Rect {
            x: area.x + 2,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: 1,
        };
        frame.render_widget(Paragraph::new(msg).style(theme.dim), inner);
    }
}

/// The detail pane's size inside its border for a terminal of this size (mirrors `draw`'s
/// layout), so `update` can bound the detail's scroll.
pub fn detail_inner_size(width: u16, height: u16) -> (u16, u16) {
    let body = height.saturating_sub(2);
    let h = (body * 11 / 20).max(8);
    let w = (u32::from(width) * 55 / 100) as u16;
    (w.saturating_sub(2), h.saturating_sub(2))
}

/// How many rows these lines take, word-wrapped as the detail pane wraps them, at `width`.
pub fn wrapped_rows(lines: &[Line<'_>], width: u16) -> usize {
    Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .line_count(width.max(1))
}

/// The furthest the detail pane can scroll: its rows beyond the pane's height.
pub fn detail_max_scroll(app: &App, now: DateTime<Utc>) -> u16 {
    let (w, h) = detail_inner_size(app.width, app.height);
    let theme = Theme::new(super::theme::ThemeName::Mono);
    let rows = app
        .selected_artist()
        .map(|a| wrapped_rows(&detail_lines(app, a, &theme, now, w < 60), w))
        .unwrap_or(0);
    rows.saturating_sub(usize::from(h))
        .min(usize::from(u16::MAX)) as u16
}

fn draw_detail(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect, now: DateTime<Utc>) {
    let Some(artist) = app.selected_artist() else {
        frame.render_widget(Block::bordered().title(" Detail "), area);
        return;
    };
    let lines = detail_lines(app, artist, theme, now, area.width < 60);
    let inner = Block::bordered().inner(area);
    let max_scroll = wrapped_rows(&lines, inner.width).saturating_sub(usize::from(inner.height));
    let scroll = usize::from(app.detail_scroll).min(max_scroll) as u16;
    let more = match (scroll > 0, usize::from(scroll) < max_scroll) {
        (_, true) => " · more below · ",
        (true, false) => " · top above · ",
        _ => " ",
    };
    let focus = if app.focus == Focus::Detail {
        "↑↓ scroll "
    } else {
        ""
    };
    let title = format!(
        " {}{more}{focus}",
        truncate(
            &sanitize(&artist.name),
            (area.width as usize).saturating_sub(20).max(8)
        )
    );
    let p = Paragraph::new(lines)
        .block(
            Block::bordered()
                .title(Span::styled(title, theme.title))
                .border_style(if app.focus == Focus::Detail {
                    theme.title
                } else {
                    theme.border
                }),
        )
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0));
    frame.render_widget(p, area);
}

/// Everything the detail pane says of one artist, before wrapping.
fn detail_lines<'a>(
    app: &App,
    artist: &ArtistSummary,
    theme: &Theme,
    now: DateTime<Utc>,
    narrow: bool,
) -> Vec<Line<'a>> {
    let mut lines: Vec<Line> = Vec::new();
    let stamp = |t: Option<DateTime<Utc>>| {
        t.map(|t| {
            if narrow {
                relative(t, now)
            } else {
                format!("{} ({})", t.format("%Y-%m-%d %H:%M"), relative(t, now))
            }
        })
        .unwrap_or_else(|| "never".into())
    };
    let parts = [
        (Source::Ticketmaster, artist.last_ticketmaster_sync),
        (Source::Spotify, artist.last_spotify_sync),
        (Source::Setlistfm, None),
    ];
    for (source, at) in parts {
        let status = artist.sync_status.get(source);
        let when = if source == Source::Setlistfm {
            String::new()
        } else {
            stamp(at)
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{:<13} ", source.label())),
            Span::styled(format!("{:<8}", status.as_str()), theme.part(status)),
            Span::raw(format!(" {when}")),
        ]));
    }
    // The error first: it is why the detail is opened.
    match artist.last_sync_error.as_deref() {
        Some(e) if !e.is_empty() => {
            lines.push(Line::from(Span::styled("last error", theme.error)));
            lines.push(Line::from(sanitize(e)));
        }
        _ => lines.push(Line::from(Span::styled("last error    none", theme.dim))),
    }
    lines.push(Line::from(format!(
        "last sync     {}",
        stamp(artist.last_sync)
    )));
    lines.push(Line::from(format!(
        "ticketmaster  {}",
        sanitize(&artist.ticketmaster_id)
    )));
    lines.push(Line::from(format!(
        "spotify id    {}",
        sanitize(artist.spotify_id.as_deref().unwrap_or("-"))
    )));
    lines.push(Line::from(format!(
        "musicbrainz   {}",
        sanitize(artist.setlist_fm_mbid.as_deref().unwrap_or("-"))
    )));
    lines.push(Line::from(format!(
        "upcoming      {} events listed by Ticketmaster (the table's SHOWS)",
        thousands(artist.upcoming_shows_count)
    )));
    if let Some(d) = app
        .detail
        .as_ref()
        .filter(|d| d.detail.summary.id == artist.id)
    {
        let x = &d.detail;
        lines.push(Line::from(format!(
            "stored        {} shows it headlines · {} venues · {} songs · {} setlists",
            thousands(x.shows_count),
            thousands(x.venues_count),
            thousands(x.summary.songs_count),
            thousands(x.setlists_count)
        )));
        if !x.genres.is_empty() {
            lines.push(Line::from(format!(
                "genres        {}",
                sanitize(&x.genres.join(", "))
            )));
        }
        let number = |n: Option<i64>| n.map(thousands).unwrap_or_else(|| "-".into());
        lines.push(Line::from(format!(
            "spotify       {} followers · popularity {}",
            number(x.followers),
            number(x.popularity)
        )));
        for (label, value) in [
            ("tm page", &x.url),
            ("spotify page", &x.spotify_url),
            ("image url", &x.image_url),
        ] {
            lines.push(Line::from(format!(
                "{label:<13} {}",
                value.as_deref().map(sanitize).unwrap_or_else(|| "-".into())
            )));
        }
        lines.push(Line::from(format!(
            "row           created {} · updated {} · id {}",
            stamp(x.created_at),
            stamp(x.updated_at),
            artist.id
        )));
    }
    if let Some(d) = app
        .detail
        .as_ref()
        .filter(|d| d.detail.summary.id == artist.id)
    {
        lines.push(Line::from(Span::styled("job history", theme.title)));
        if d.runs.is_empty() {
            lines.push(Line::from(Span::styled("  no syncs yet", theme.dim)));
        }
        for (run, attempts) in &d.runs {
            let dur = match (run.started_at, run.finished_at) {
                (Some(s), Some(f)) => {
                    format!(" · {:.1} s", (f - s).num_milliseconds() as f64 / 1000.0)
                }
                _ => String::new(),
            };
            let when = run
                .requested_at
                .map(|t| relative(t, now))
                .unwrap_or_default();
            lines.push(Line::from(vec![
                Span::raw(format!("  {when:<8} ")),
                Span::styled(
                    run.status.as_str().to_string(),
                    match run.status {
                        crate::store::runs::RunStatus::Failed => theme.error,
                        crate::store::runs::RunStatus::Succeeded => theme.success,
                        _ => theme.syncing,
                    },
                ),
                Span::raw(format!(
                    " · attempt {}/{}{dur} · {}",
                    run.attempts, run.max_attempts, run.trigger
                )),
            ]));
            for a in attempts {
                let mut text = format!(
                    "    #{} {}",
                    a.attempt,
                    a.outcome.as_deref().unwrap_or("running")
                );
                if let Some(reason) = &a.retry_reason {
                    text.push_str(&format!(" → retried: {}", sanitize(reason)));
                } else if let Some(e) = &a.error {
                    text.push_str(&format!(": {}", sanitize(e)));
                }
                lines.push(Line::from(Span::styled(text, theme.dim)));
            }
        }
    }
    lines
}

fn draw_log(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let selected = app.selected_artist().map(|a| a.id.clone());
    let visible: Vec<_> = app.log.visible(selected.as_deref()).collect();
    let height = area.height.saturating_sub(2) as usize;
    let end = visible
        .len()
        .saturating_sub(if app.log.follow { 0 } else { app.log.scroll });
    let start = end.saturating_sub(height);
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = visible[start..end]
        .iter()
        .map(|l| {
            let style = match l.level {
                crate::engine::events::LogLevel::Error => theme.error,
                crate::engine::events::LogLevel::Warn => theme.warn,
                crate::engine::events::LogLevel::Info => theme.base,
                _ => theme.dim,
            };
            let text = format!(
                "{} {:<5} {}",
                l.at.format("%H:%M:%S"),
                l.level.as_str(),
                sanitize(&l.message)
            );
            Line::from(Span::styled(truncate(&text, width), style))
        })
        .collect();
    let mut flags = vec![if app.log.follow {
        "follow".to_string()
    } else {
        format!("paused, {} newer", app.log.scroll)
    }];
    flags.push(format!("{}+", app.log.min_level.as_str().to_lowercase()));
    if app.log.only_selected {
        flags.push("selected artist only".into());
    }
    if !app.log.search.is_empty() {
        flags.push(format!("search: {}", sanitize(&app.log.search)));
    }
    let title = format!(" Log · {} ", flags.join(" · "));
    let focused = app.focus == Focus::Log;
    let block = Block::bordered()
        .title(Span::styled(title, theme.title))
        .border_style(if focused { theme.base } else { theme.border });
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn hint(app: &App, cmd: Command, what: &str) -> String {
    format!("{} {what}", app.keys.label(cmd))
}

fn draw_status(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let text = match &app.mode {
        Mode::Filter => {
            let err = app
                .filter_error
                .as_deref()
                .map(|e| format!("  ✗ {}", sanitize(e)))
                .unwrap_or_default();
            format!(
                " filter: {}▏ {} of {}{err} · enter keep · esc back",
                sanitize(&app.filter_text),
                app.view.len(),
                app.artists.len()
            )
        }
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
                    hint(app, Command::Cancel, "cancel the job"),
                    hint(app, Command::Detail, "open its artist"),
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

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_confirm(frame: &mut Frame<'_>, c: &Confirm, theme: &Theme, area: Rect) {
    let question = c.question();
    let estimate: &[String] = match c {
        Confirm::Sync { estimate, .. } => estimate,
        _ => &[],
    };
    let longest = std::iter::once(&question)
        .chain(estimate)
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    let width = (longest as u16 + 6).clamp(30, area.width.saturating_sub(4));
    // Each line wraps at the inner width: count the rows it takes.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = std::iter::once(&question)
        .chain(estimate)
        .map(|l| l.chars().count().div_ceil(inner).max(1))
        .sum();
    let r = centered(area, width, (rows as u16).saturating_add(4));
    frame.render_widget(Clear, r);
    let mut lines = vec![Line::from(question.clone())];
    lines.extend(
        estimate
            .iter()
            .map(|l| Line::from(Span::styled(l.clone(), theme.dim))),
    );
    lines.push(Line::from(Span::styled("y yes · n no", theme.key)));
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(Block::bordered().title(Span::styled(" Confirm ", theme.title)));
    frame.render_widget(p, r);
}

/// Overlays take the whole screen between the header and the status bar (no fringe of the
/// table showing through at the sides).
fn overlay_area(area: Rect) -> Rect {
    Rect {
        x: area.x,
        y: area.y + 1,
        width: area.width,
        height: area.height.saturating_sub(2),
    }
}

/// The help's rows (two columns of keys) and how many of them an overlay this tall shows
/// (its frame and the two footer lines take 4).
fn help_rows(app: &App, overlay_height: u16) -> (usize, usize) {
    let rows = app.keys.help().len().div_ceil(2);
    (rows, usize::from(overlay_height.saturating_sub(4)))
}

/// The furthest the help can scroll at the app's terminal size.
pub fn help_max_scroll(app: &App) -> u16 {
    let area = Rect::new(0, 0, app.width, app.height);
    let (rows, visible) = help_rows(app, overlay_area(area).height);
    rows.saturating_sub(visible).min(usize::from(u16::MAX)) as u16
}

fn draw_help(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let entries = app.keys.help();
    // Two columns, so every key fits at 80×24; smaller terminals scroll.
    let (half, visible) = help_rows(app, r.height);
    let title = if half > visible {
        let first = usize::from(app.help_scroll).min(half - visible) + 1;
        format!(
            " Help · rows {first}–{} of {half} · ↑↓ scroll · esc closes ",
            first + visible - 1
        )
    } else {
        " Help · esc closes ".to_string()
    };
    let block = Block::bordered().title(Span::styled(title, theme.title));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [left, right, foot] = {
        let [top, foot] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(inner);
        let [l, r] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
        [l, r, foot]
    };
    for (chunk, col) in entries.chunks(half.max(1)).zip([left, right]) {
        let key_width = chunk
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(4)
            .min(12);
        let lines: Vec<Line> = chunk
            .iter()
            .map(|(keys, what)| {
                Line::from(vec![
                    Span::styled(
                        format!("{:>key_width$} ", truncate(keys, key_width)),
                        theme.key,
                    ),
                    Span::raw(truncate(
                        what,
                        (col.width as usize).saturating_sub(key_width + 2),
                    )),
                ])
            })
            .collect();
        let max_scroll = lines.len().saturating_sub(usize::from(col.height));
        let scroll = usize::from(app.help_scroll).min(max_scroll) as u16;
        frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), col);
    }
    frame.render_widget(
        Paragraph::new(
            "filter: status:error spotify:pending tm:success never-synced has-error text !negate",
        )
        .wrap(Wrap { trim: true })
        .style(theme.dim),
        foot,
    );
}

/// The env panel as lines: per check a line of name, status, source, preview and latency,
/// then its detail and hint indented below (wrapped, so nothing is cut at 80 columns).
fn env_lines<'a>(app: &App, theme: &Theme) -> Vec<Line<'a>> {
    let Some(report) = &app.env else {
        return Vec::new();
    };
    let name_width = report
        .checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(8);
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "{:<name_width$} {:<12} {:<5} {:<24} LATENCY",
            "NAME", "STATUS", "FROM", "VALUE (redacted)"
        ),
        theme.title,
    ))];
    for c in &report.checks {
        let style = match c.status {
            CheckStatus::Ok => theme.success,
            CheckStatus::Skipped => theme.dim,
            _ if c.required => theme.error,
            _ => theme.warn,
        };
        let source = c.source.map(|s| s.label()).unwrap_or("");
        let latency = c
            .latency_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::raw(format!("{:<name_width$} ", c.name)),
            Span::styled(format!("{:<12}", c.status.as_str()), style),
            Span::raw(format!(
                " {source:<5} {:<24} {latency}",
                sanitize(c.preview.as_deref().unwrap_or(""))
            )),
        ]));
        let mut detail: Vec<String> = vec![sanitize(&c.detail)];
        detail.extend(c.hint.as_deref().map(sanitize));
        detail.retain(|d| !d.trim().is_empty());
        if !detail.is_empty() {
            lines.push(Line::from(Span::styled(
                format!("  {}", detail.join(" · ")),
                theme.dim,
            )));
        }
    }
    lines
}

/// The furthest the env panel can scroll at the app's terminal size.
pub fn env_max_scroll(app: &App) -> u16 {
    let theme = Theme::new(super::theme::ThemeName::Mono);
    let rows = wrapped_rows(&env_lines(app, &theme), app.width.saturating_sub(2));
    let visible = usize::from(app.height.saturating_sub(4));
    rows.saturating_sub(visible).min(usize::from(u16::MAX)) as u16
}

fn draw_env(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let lines = env_lines(app, theme);
    let inner = Block::bordered().inner(r);
    let max_scroll = wrapped_rows(&lines, inner.width).saturating_sub(usize::from(inner.height));
    let scroll = usize::from(app.env_scroll).min(max_scroll) as u16;
    let more = if usize::from(scroll) < max_scroll {
        "more below (↓) · "
    } else {
        ""
    };
    let title = if app.env_running {
        " Environment and secrets · live checks running… ".to_string()
    } else {
        format!(
            " Environment and secrets · {more}{} runs the live checks · esc closes ",
            app.keys.label(Command::RunChecks)
        )
    };
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0))
        .block(Block::bordered().title(Span::styled(title, theme.title)));
    frame.render_widget(p, r);
}

fn draw_jobs(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect, now: DateTime<Utc>) {
    use crate::store::runs::RunStatus;
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let waiting = |j: &crate::store::runs::RunRow| j.waiting(now);
    let count = |s: RunStatus| {
        app.jobs
            .iter()
            .filter(|j| j.status == s && !waiting(j))
            .count()
    };
    let wide = r.width >= 110;
    let waits = app.jobs.iter().filter(|j| waiting(j)).count();
    // Running and queued always; the other states when there are any (the title fits 80
    // columns; the status line says how to close).
    let mut counts = vec![
        format!("{} running", count(RunStatus::Running)),
        format!("{} queued", count(RunStatus::Queued)),
    ];
    for (n, what) in [
        (waits, "waiting"),
        (count(RunStatus::Failed), "failed"),
        (count(RunStatus::Cancelled), "cancelled"),
        (count(RunStatus::Interrupted), "interrupted"),
        (count(RunStatus::Succeeded), "done"),
    ] {
        if n > 0 {
            counts.push(format!("{n} {what}"));
        }
    }
    let title = format!(" Jobs · {} ", counts.join(" · "));
    let rows: Vec<Row> = app
        .jobs
        .iter()
        .map(|j| {
            let style = match j.status {
                RunStatus::Failed => theme.error,
                RunStatus::Succeeded => theme.success,
                RunStatus::Running => theme.syncing,
                _ => theme.base,
            };
            let progress = match app.live.get(&j.artist_id) {
                Some(l) if j.status == RunStatus::Running => l
                    .step
                    .as_ref()
                    .map(|(s, step)| format!("{} {step}", s.label()))
                    .unwrap_or_default(),
                _ if waiting(j) => format!(
                    "until {}: {}",
                    j.wait_until
                        .map(|t| t.format("%H:%M").to_string())
                        .unwrap_or_default(),
                    sanitize(j.wait_reason.as_deref().unwrap_or_default())
                ),
                _ => j.error.as_deref().map(sanitize).unwrap_or_default(),
            };
            // Started to finished, or to now while it runs.
            let took = match (j.started_at, j.finished_at) {
                (Some(s), Some(f)) => human_duration(f - s),
                (Some(s), None) if j.status == RunStatus::Running => human_duration(now - s),
                _ => String::new(),
            };
            let state = if waiting(j) {
                "waiting"
            } else {
                j.status.as_str()
            };
            let mut cells = vec![
                Cell::from(state).style(style),
                Cell::from(sanitize(&j.artist_name)),
                Cell::from(format!("{}/{}", j.attempts, j.max_attempts)),
                Cell::from(j.requested_at.map(|t| relative(t, now)).unwrap_or_default()),
                Cell::from(Line::from(took).right_aligned()),
            ];
            if wide {
                cells.push(Cell::from(sanitize(
                    j.worker.as_deref().unwrap_or_default(),
                )));
            }
            cells.push(Cell::from(progress));
            Row::new(cells)
        })
        .collect();
    // Below 110 columns the worker gives way to the artist and the error.
    let (artist, progress) = if wide { (28, 20) } else { (20, 16) };
    let columns: Vec<(&str, Constraint)> = [
        ("STATUS", Constraint::Length(11)),
        ("ARTIST", Constraint::Length(artist)),
        ("TRIES", Constraint::Length(5)),
        ("QUEUED", Constraint::Length(8)),
        ("TOOK", Constraint::Length(7)),
        ("WORKER", Constraint::Length(18)),
        ("PROGRESS / ERROR", Constraint::Min(progress)),
    ]
    .into_iter()
    .filter(|(name, _)| wide || *name != "WORKER")
    .collect();
    let table = Table::new(rows, columns.iter().map(|(_, c)| *c))
        .header(Row::new(columns.iter().map(|(name, _)| *name)).style(theme.title))
        .row_highlight_style(theme.selected)
        .highlight_symbol("▸ ")
        .block(Block::bordered().title(Span::styled(title, theme.title)));
    let mut state =
        TableState::default().with_selected((!app.jobs.is_empty()).then_some(app.jobs_selected));
    frame.render_stateful_widget(table, r, &mut state);
}

/// The keep-fresh plan: freshness, what is due and why, each quota's day, the next batch.
fn draw_plan(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect, now: DateTime<Utc>) {
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let Some(f) = &app.plan else {
        let p = Paragraph::new(" reading the plan…")
            .block(Block::bordered().title(Span::styled(" Keep-fresh plan ", theme.title)));
        frame.render_widget(p, r);
        return;
    };
    let title = format!(
        " Keep-fresh plan · scheduler: {} · esc closes ",
        f.lease_holder
            .as_deref()
            .map(|h| format!("{} plans", sanitize(h)))
            .unwrap_or_else(|| "none running".to_string())
    );
    let block = Block::bordered().title(Span::styled(title, theme.title));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let due = if f.due_by_reason.is_empty() {
        "nothing".to_string()
    } else {
        f.due_by_reason
            .iter()
            .map(|(reason, n)| format!("{} {}", thousands(*n as i64), reason.short()))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let mut head = vec![
        Line::from(format!(
            " {} artists · synced within 1 day {} · 7 days {} · 30 days {}",
            thousands(f.artists as i64),
            percent(f.fresh_1d),
            percent(f.fresh_7d),
            percent(f.fresh_30d)
        )),
        Line::from(format!(" due: {due}")),
        Line::from(format!(
            " scheduled: {} of {} queued or running · plans {} % of each daily quota",
            f.in_flight, f.max_queued, f.budget_share
        )),
    ];
    for rule in &f.rules {
        head.push(Line::from(format!(
            " rule \"{}\" ({}): next {}",
            sanitize(&rule.name),
            sanitize(&rule.cron),
            rule.next_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "never".to_string())
        )));
    }
    let quota_rows = f.providers.len() as u16 + 2;
    let [top, quotas, next] = Layout::vertical([
        Constraint::Length(head.len() as u16 + 1),
        Constraint::Length(quota_rows),
        Constraint::Min(3),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(head).style(theme.base), top);
    let or_none = |v: Option<u64>| v.map_or("no quota".to_string(), |n| thousands(n as i64));
    let rows = f.providers.iter().map(|p| {
        Row::new(vec![
            Cell::from(p.provider),
            Cell::from(or_none(p.daily_limit)),
            Cell::from(thousands(p.used_today as i64)),
            Cell::from(or_none(p.scheduler_left)),
            Cell::from(thousands(p.next_batch_calls as i64)),
        ])
    });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(10),
        Constraint::Length(12),
        Constraint::Length(16),
        Constraint::Length(12),
    ];
    let quotas_table = Table::new(rows, widths).header(
        Row::new([
            "PROVIDER",
            "LIMIT",
            "USED TODAY",
            "SCHEDULER LEFT",
            "NEXT BATCH",
        ])
        .style(theme.title),
    );
    frame.render_widget(quotas_table, quotas);
    let rows: Vec<Row> = f
        .next
        .iter()
        .map(|d| {
            Row::new(vec![
                Cell::from(sanitize(&d.name)),
                Cell::from(d.reason.describe()),
                Cell::from(
                    d.last_sync
                        .map(|t| relative(t, now))
                        .unwrap_or_else(|| "never".into()),
                ),
                Cell::from(d.next_show.map(|s| s.to_string()).unwrap_or_default()),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let next_table = Table::new(
        rows,
        [
            Constraint::Max(40),
            Constraint::Length(26),
            Constraint::Length(11),
            Constraint::Length(11),
        ],
    )
    .header(Row::new(["NEXT BATCH", "WHY", "LAST SYNC", "NEXT SHOW"]).style(theme.title));
    if empty {
        let p = Paragraph::new(
            " next batch: nothing (nothing is due, the queue holds enough, or today's share is spent)",
        );
        frame.render_widget(p, next);
    } else {
        frame.render_widget(next_table, next);
    }
}

/// `850 ms`, `12.3 s`, `4m 05s`, `2h 10m`.
fn human_duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m {:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h {:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// The style the table gives a status cell (for tests of the themes).
pub fn status_style(theme: &Theme, status: PartStatus) -> Style {
    theme.part(status)
}
