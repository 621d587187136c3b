//! The jobs view: every run the queue holds (running first, then waiting and queued, then
//! the ones that ended), filtered and sorted, one selected; acts on the selected job or on
//! every job the filter matches.

use std::cmp::Reverse;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table, TableState};

use super::overlay_area;
use crate::store::runs::{RunRow, RunStatus};
use crate::store::time::relative;
use crate::text::{sanitize, truncate};
use crate::tui::filter::fold;
use crate::tui::live::LiveRuns;
use crate::tui::theme::Theme;

/// The orders the jobs view lists in (`o` cycles, `O` reverses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSort {
    /// As the queue holds them: running, then queued (waiting included), then ended.
    Queue,
    /// Newest request first.
    Queued,
    /// Longest first.
    Took,
    Artist,
    State,
}

impl JobSort {
    pub fn label(self) -> &'static str {
        match self {
            JobSort::Queue => "queue order",
            JobSort::Queued => "newest",
            JobSort::Took => "longest",
            JobSort::Artist => "artist",
            JobSort::State => "state",
        }
    }

    fn next(self) -> JobSort {
        match self {
            JobSort::Queue => JobSort::Queued,
            JobSort::Queued => JobSort::Took,
            JobSort::Took => JobSort::Artist,
            JobSort::Artist => JobSort::State,
            JobSort::State => JobSort::Queue,
        }
    }
}

/// What can be done to every job the filter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobsAction {
    /// Sync the artists of the failed (or interrupted) ones again.
    Retry,
    /// Cancel the queued and running ones.
    Cancel,
}

#[derive(Debug, Clone)]
pub struct JobsPane {
    /// The runs as last read.
    pub rows: Vec<RunRow>,
    /// Indices into `rows`: filtered and sorted.
    pub shown: Vec<usize>,
    /// Position in `shown`.
    pub selected: usize,
    /// Terms that must all match: `state:failed`, `error:timeout`, or text in the artist's
    /// name, state or error (accents and case folded).
    pub filter_text: String,
    pub sort: JobSort,
    pub descending: bool,
    /// Rows the last draw showed (a page).
    pub page_rows: Option<u16>,
    /// When the rows were read: "waiting" is measured from it.
    pub read_at: Option<DateTime<Utc>>,
}

impl Default for JobsPane {
    fn default() -> JobsPane {
        JobsPane {
            rows: Vec::new(),
            shown: Vec::new(),
            selected: 0,
            filter_text: String::new(),
            sort: JobSort::Queue,
            descending: false,
            page_rows: None,
            read_at: None,
        }
    }
}

/// One term of the jobs filter.
enum Term {
    State(String),
    Error(String),
    Text(String),
}

fn terms(filter: &str) -> Vec<Term> {
    filter
        .split_whitespace()
        .map(|t| {
            let lower = t.to_lowercase();
            if let Some(s) = lower
                .strip_prefix("state:")
                .or_else(|| lower.strip_prefix("status:"))
            {
                Term::State(s.to_string())
            } else if let Some(e) = t.strip_prefix("error:") {
                Term::Error(fold(e))
            } else {
                Term::Text(fold(t))
            }
        })
        .collect()
}

/// The state the view shows: the run's status, or `waiting` for a queued run held until a
/// quota resets.
pub fn shown_state(j: &RunRow, now: DateTime<Utc>) -> &'static str {
    if j.waiting(now) {
        "waiting"
    } else {
        j.status.as_str()
    }
}

impl JobsPane {
    pub fn selected_job(&self) -> Option<&RunRow> {
        self.shown.get(self.selected).map(|i| &self.rows[*i])
    }

    /// The runs shown now.
    pub fn shown_jobs(&self) -> impl Iterator<Item = &RunRow> {
        self.shown.iter().map(|i| &self.rows[*i])
    }

    /// New rows from the database; the same job stays selected while the list moves.
    pub fn loaded(&mut self, rows: Vec<RunRow>, now: DateTime<Utc>) {
        let keep = self.selected_job().map(|j| j.id.clone());
        self.rows = rows;
        self.read_at = Some(now);
        self.rebuild(keep);
    }

    fn now(&self) -> DateTime<Utc> {
        self.read_at.unwrap_or(DateTime::UNIX_EPOCH)
    }

    fn matches(&self, j: &RunRow, terms: &[Term]) -> bool {
        let state = shown_state(j, self.now());
        let error = j
            .error
            .as_deref()
            .or(j.wait_reason.as_deref())
            .map(fold)
            .unwrap_or_default();
        terms.iter().all(|t| match t {
            Term::State(s) => state.starts_with(s.as_str()),
            Term::Error(e) => error.contains(e.as_str()),
            Term::Text(x) => {
                fold(&j.artist_name).contains(x.as_str())
                    || state.starts_with(x.as_str())
                    || error.contains(x.as_str())
            }
        })
    }

    fn rebuild(&mut self, keep: Option<String>) {
        let terms = terms(&self.filter_text);
        let now = self.now();
        let mut shown: Vec<usize> = (0..self.rows.len())
            .filter(|i| self.matches(&self.rows[*i], &terms))
            .collect();
        let rows = &self.rows;
        let took = |j: &RunRow| match (j.started_at, j.finished_at) {
            (Some(s), Some(f)) => (f - s).num_milliseconds(),
            (Some(s), None) if j.status == RunStatus::Running => (now - s).num_milliseconds(),
            _ => -1,
        };
        // Stable sorts: ties keep the queue's order.
        match self.sort {
            JobSort::Queue => {}
            JobSort::Queued => shown.sort_by_key(|i| Reverse(rows[*i].requested_at)),
            JobSort::Took => shown.sort_by_key(|i| Reverse(took(&rows[*i]))),
            JobSort::Artist => shown.sort_by_cached_key(|i| fold(&rows[*i].artist_name)),
            JobSort::State => shown.sort_by_key(|i| shown_state(&rows[*i], now)),
        }
        if self.descending {
            shown.reverse();
        }
        self.shown = shown;
        self.selected = keep
            .and_then(|id| self.shown.iter().position(|i| self.rows[*i].id == id))
            .unwrap_or(self.selected)
            .min(self.shown.len().saturating_sub(1));
    }

    /// The typed filter changed.
    pub fn filter_edited(&mut self) {
        let keep = self.selected_job().map(|j| j.id.clone());
        self.rebuild(keep);
    }

    pub fn clear_filter(&mut self) {
        self.filter_text.clear();
        self.filter_edited();
    }

    pub fn sort_next(&mut self) {
        self.sort = self.sort.next();
        self.filter_edited();
    }

    pub fn sort_reverse(&mut self) {
        self.descending = !self.descending;
        self.filter_edited();
    }

    pub fn move_selection(&mut self, delta: i64) {
        let last = self.shown.len().saturating_sub(1) as i64;
        self.selected = (self.selected as i64 + delta).clamp(0, last) as usize;
    }

    /// The artists `action` would act on among the shown jobs (each once, in the order
    /// shown): the failed or interrupted ones to retry, the queued or running ones to cancel.
    pub fn targets(&self, action: JobsAction) -> Vec<(String, String)> {
        let mut seen = std::collections::HashSet::new();
        self.shown_jobs()
            .filter(|j| match action {
                JobsAction::Retry => {
                    matches!(j.status, RunStatus::Failed | RunStatus::Interrupted)
                }
                JobsAction::Cancel => j.status.is_active(),
            })
            .filter(|j| seen.insert(j.artist_id.clone()))
            .map(|j| (j.artist_id.clone(), j.artist_name.clone()))
            .collect()
    }
}

/// Draws the shown jobs; returns how many rows fit (a page).
pub fn draw(
    frame: &mut Frame<'_>,
    jobs: &JobsPane,
    live: &LiveRuns,
    theme: &Theme,
    area: Rect,
    now: DateTime<Utc>,
) -> u16 {
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let waiting = |j: &RunRow| j.waiting(now);
    let count = |s: RunStatus| {
        jobs.rows
            .iter()
            .filter(|j| j.status == s && !waiting(j))
            .count()
    };
    let wide = r.width >= 110;
    let waits = jobs.rows.iter().filter(|j| waiting(j)).count();
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
    // What is listed of them: the filter and the sort, when set.
    let mut shown = Vec::new();
    if !jobs.filter_text.is_empty() {
        shown.push(format!(
            "{} shown · filter: {}",
            jobs.shown.len(),
            truncate(&sanitize(&jobs.filter_text), 24)
        ));
    }
    if jobs.sort != JobSort::Queue || jobs.descending {
        shown.push(format!(
            "by {}{}",
            jobs.sort.label(),
            if jobs.descending { " ↑" } else { "" }
        ));
    }
    let title = format!(
        " Jobs · {} ",
        counts
            .into_iter()
            .chain(shown)
            .collect::<Vec<_>>()
            .join(" · ")
    );
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
    // The columns as the table lays them out (after the selection mark), so that a name or an
    // error too long for its column ends in `…`.
    let inner = Block::bordered().inner(r);
    let widths = super::column_widths(
        Rect {
            x: inner.x + 2,
            width: inner.width.saturating_sub(2),
            ..inner
        },
        columns.iter().map(|(_, c)| *c),
    );
    let fit = |text: String, name: &str| {
        let width = columns
            .iter()
            .position(|(n, _)| *n == name)
            .and_then(|i| widths.get(i).copied());
        truncate(&text, width.unwrap_or(0))
    };
    let rows: Vec<Row> = jobs
        .shown_jobs()
        .map(|j| {
            let style = match j.status {
                RunStatus::Failed => theme.error,
                RunStatus::Succeeded => theme.success,
                RunStatus::Running => theme.syncing,
                _ => theme.base,
            };
            let progress = match live.get(&j.artist_id) {
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
            let state = shown_state(j, now);
            let mut cells = vec![
                Cell::from(state).style(style),
                Cell::from(fit(sanitize(&j.artist_name), "ARTIST")),
                Cell::from(format!("{}/{}", j.attempts, j.max_attempts)),
                Cell::from(j.requested_at.map(|t| relative(t, now)).unwrap_or_default()),
                Cell::from(Line::from(took).right_aligned()),
            ];
            if wide {
                cells.push(Cell::from(sanitize(
                    j.worker.as_deref().unwrap_or_default(),
                )));
            }
            cells.push(Cell::from(fit(progress, "PROGRESS / ERROR")));
            Row::new(cells)
        })
        .collect();
    let table = Table::new(rows, columns.iter().map(|(_, c)| *c))
        .header(Row::new(columns.iter().map(|(name, _)| *name)).style(theme.title))
        .row_highlight_style(theme.selected)
        .highlight_symbol("▸ ")
        .block(Block::bordered().title(Span::styled(title, theme.title)));
    let mut state =
        TableState::default().with_selected((!jobs.shown.is_empty()).then_some(jobs.selected));
    frame.render_stateful_widget(table, r, &mut state);
    if jobs.shown.is_empty() && !jobs.rows.is_empty() {
        let inner = Rect {
            x: r.x + 2,
            y: r.y + 2,
            width: r.width.saturating_sub(4),
            height: 1,
        };
        let msg = "no job matches the filter; esc clears it";
        frame.render_widget(Paragraph::new(msg).style(theme.dim), inner);
    }
    // The frame and the column header take three rows.
    r.height.saturating_sub(3)
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
