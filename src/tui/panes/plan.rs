//! The keep-fresh plan view: freshness, what is due and why, each quota's day, the next
//! batch, the rules; read again every few seconds while open.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Table};

use super::overlay_area;
use crate::engine::scheduler::Forecast;
use crate::store::time::relative;
use crate::text::{percent, sanitize, thousands};
use crate::tui::theme::Theme;

/// How often (in 1 s ticks) the open plan view reads the forecast again.
const PLAN_EVERY_TICKS: u32 = 5;

#[derive(Debug, Clone, Default)]
pub struct PlanPane {
    /// The scheduler's last forecast.
    pub forecast: Option<Forecast>,
    /// Ticks since it was asked for.
    ticks: u32,
}

impl PlanPane {
    /// Opening the view: the forecast is asked for at once.
    pub fn open(&mut self) {
        self.ticks = 0;
    }

    /// A second while open: true when the forecast is due again (it reads every artist's
    /// freshness: every few seconds will do).
    pub fn tick(&mut self) -> bool {
        self.ticks += 1;
        if self.ticks >= PLAN_EVERY_TICKS {
            self.ticks = 0;
            return true;
        }
        false
    }
}

/// The keep-fresh plan: freshness, what is due and why, each quota's day, the next batch.
pub fn draw(frame: &mut Frame<'_>, plan: &PlanPane, theme: &Theme, area: Rect, now: DateTime<Utc>) {
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let Some(f) = &plan.forecast else {
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
