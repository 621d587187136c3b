//! The y/n question over the screen: what it asks, its answer from a key, and its box.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::centered;
use crate::tui::theme::Theme;

/// A question waiting for y/n.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Sync these artists; `hidden` of them are hidden by the filter.
    Sync {
        artists: Vec<(String, String)>,
        hidden: usize,
        marked: bool,
        /// What it will cost (calls per provider against what is left today) and when it
        /// ends, as `sync --plan` says it.
        estimate: Vec<String>,
    },
    RetryFailed {
        count: usize,
    },
    CancelAll {
        active: usize,
    },
    /// Retry (`retry`) or cancel the jobs of the jobs view that match its filter.
    Jobs {
        action: super::jobs::JobsAction,
        artists: Vec<(String, String)>,
        filter: String,
    },
    Quit {
        running: usize,
    },
}

/// What a key does to the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Not an answer: the question stays.
    Ignored,
}

impl Confirm {
    pub fn question(&self) -> String {
        match self {
            Confirm::Sync {
                artists,
                hidden,
                marked,
                ..
            } => {
                let what = if *marked { "marked" } else { "shown" };
                let hidden = if *hidden > 0 {
                    format!(" ({hidden} of them hidden by the filter)")
                } else {
                    String::new()
                };
                format!("Sync {} {what} artists{hidden}?", artists.len())
            }
            Confirm::RetryFailed { count } => format!("Retry {count} failed artists?"),
            Confirm::CancelAll { active } => {
                format!("Cancel all {active} queued or running syncs?")
            }
            Confirm::Jobs {
                action,
                artists,
                filter,
            } => {
                let matching = if filter.is_empty() {
                    "listed".to_string()
                } else {
                    format!("matching \"{}\"", crate::text::sanitize(filter))
                };
                let n = artists.len();
                let s = if n == 1 { "" } else { "s" };
                match action {
                    super::jobs::JobsAction::Retry => {
                        format!("Sync again the {n} artist{s} of the failed jobs {matching}?")
                    }
                    super::jobs::JobsAction::Cancel => {
                        format!("Cancel the {n} queued or running job{s} {matching}?")
                    }
                }
            }
            Confirm::Quit { running } => format!(
                "{running} sync{} running here. Quit and put {} back in the queue (nothing is left syncing)?",
                if *running == 1 { " is" } else { "s are" },
                if *running == 1 { "it" } else { "them" }
            ),
        }
    }

    /// `y`/enter answer yes, `n`/esc no; other keys leave the question up.
    pub fn answer(key: &KeyEvent) -> Answer {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => Answer::Yes,
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Answer::No,
            _ => Answer::Ignored,
        }
    }
}

/// The question in a box sized to it, its estimate (if any) dimmed below.
pub fn draw(frame: &mut Frame<'_>, c: &Confirm, theme: &Theme, area: Rect) {
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
