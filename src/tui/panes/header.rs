//! The header: the queue (always), each provider's budget for today, the workers and the
//! database, cut to the terminal's width by dropping segments in a fixed order.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;

use crate::store::budgets::BudgetRow;
use crate::text::{sanitize, thousands, truncate};
use crate::tui::theme::Theme;

/// The header's facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeaderInfo {
    pub database: String,
    pub workers: usize,
    pub slots: usize,
    pub budgets: Vec<BudgetRow>,
    pub queued: i64,
    pub running: i64,
    /// The queue's pause switch (`syncdeck queue pause`, `P`): no worker starts a run.
    pub paused: bool,
    /// When these were read (the budgets' day is measured from it).
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn draw(frame: &mut Frame<'_>, h: &HeaderInfo, theme: &Theme, area: Rect) {
    let line = header_line(h, area.width as usize);
    frame.render_widget(Paragraph::new(line).style(theme.header), area);
}

/// One budget of the header: `TM 1,234/5,000 today`, compact `TM 1,234/5,000`; a throttle
/// stays in both.
fn budget_segment(b: &BudgetRow, compact: bool) -> String {
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
pub fn header_line(h: &HeaderInfo, width: usize) -> String {
    let queue = format!("{} queued · {} running", h.queued, h.running);
    let paused = h.paused.then(|| "QUEUE PAUSED (P resumes)".to_string());
    let workers = format!(
        "{} worker{} ({} slots)",
        h.workers,
        if h.workers == 1 { "" } else { "s" },
        h.slots
    );
    let database = sanitize(&h.database);
    let is_spotify = |b: &&BudgetRow| b.provider == "spotify";
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
