//! Live figures under the header: per provider, today's quota as a gauge, requests per second
//! as a sparkline (every process on this database: the differences of the shared budget
//! counts), 429s and 5xx answers in the last minute (every process: the shared answer
//! counts); and artists done per minute (runs ended in any process). One line on small terminals, a panel of four
//! on tall ones.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Sparkline};

use super::header::HeaderInfo;
use crate::providers::error::Provider;
use crate::text::thousands;
use crate::tui::theme::Theme;

/// Request-rate samples kept (one per header reading: 1–2 s apart).
const RATE_SAMPLES: usize = 60;
/// Minutes of artists-done counts kept.
const DONE_MINUTES: usize = 30;
/// Ended runs remembered so that one seen twice (an event and a poll) counts once.
const SEEN_RUNS: usize = 20_000;
/// The gauges' symbols: thick and thin lines tell filled from unfilled without color too.
pub const FILLED: &str = "━";
pub const UNFILLED: &str = "─";
/// Terminals at least this tall get the four-line panel.
pub const PANEL_FROM_HEIGHT: u16 = 40;

/// The providers in the order they are shown (their budget rows carry `Provider::label`),
/// with the panel's label and the one-line label.
const PROVIDERS: [(Provider, &str, &str); 3] = [
    (Provider::Ticketmaster, "Ticketmaster", "TM"),
    (Provider::Spotify, "Spotify", "SP"),
    (Provider::Setlistfm, "setlist.fm", "SF"),
];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProviderFigures {
    /// Today's calls (every key of the provider) and the strictest daily limit, if any.
    pub used: u64,
    pub limit: Option<u64>,
    /// Requests per second between readings, newest last.
    pub rates: VecDeque<f64>,
    /// 429s and 5xx answers per reading, with the reading's time, for the last minute.
    errors: VecDeque<(DateTime<Utc>, u64, u64)>,
    /// 429s plus 5xx answers per reading, newest last (the panel's red sparkline).
    pub error_history: VecDeque<u64>,
    last_used: Option<u64>,
    /// The 429 and 5xx counts of the last reading (they only ever grow).
    last_answers: Option<(u64, u64)>,
}

impl ProviderFigures {
    /// The newest rate (none before two readings).
    pub fn rate(&self) -> Option<f64> {
        self.rates.back().copied()
    }

    /// 429s and 5xx answers in the minute before the last reading.
    pub fn errors_last_minute(&self) -> (u64, u64) {
        self.errors
            .iter()
            .fold((0, 0), |(t, s), (_, dt, ds)| (t + dt, s + ds))
    }

    fn used_share(&self) -> Option<f64> {
        self.limit
            .filter(|l| *l > 0)
            .map(|l| (self.used as f64 / l as f64).clamp(0.0, 1.0))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Per provider, in [`PROVIDERS`] order.
    pub providers: [ProviderFigures; 3],
    last_read: Option<DateTime<Utc>>,
    /// Artists done per minute, newest (the current minute) last.
    pub done: VecDeque<u64>,
    seconds_into_minute: u32,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
}

impl Figures {
    /// A header reading: today's counts, the rates since the last reading and the refused
    /// answers since then. Returns whether what is drawn changed.
    pub fn observe(&mut self, h: &HeaderInfo) -> bool {
        let Some(at) = h.read_at else {
            return false;
        };
        let elapsed = self
            .last_read
            .map(|t| (at - t).num_milliseconds() as f64 / 1000.0)
            .filter(|s| *s > 0.0);
        self.last_read = Some(at);
        let mut changed = false;
        for ((provider, _, _), f) in PROVIDERS.iter().zip(self.providers.iter_mut()) {
            let rows = h.budgets.iter().filter(|b| b.provider == provider.label());
            let (mut used, mut limit, mut answers) = (0u64, None::<u64>, (0u64, 0u64));
            for b in rows {
                used += u64::from(b.day_used);
                answers.0 += b.answers_429;
                answers.1 += b.answers_5xx;
                if let Some(l) = b.day_limit {
                    limit = Some(limit.map_or(u64::from(l), |x| x + u64::from(l)));
                }
            }
            changed |= (used, limit) != (f.used, f.limit);
            if let (Some(secs), Some(before)) = (elapsed, f.last_used) {
                // A new day (or window) starts the count again: all of today's are new.
                let new = used.checked_sub(before).unwrap_or(used);
                let rate = new as f64 / secs;
                changed |= rate > 0.0 || f.rates.iter().any(|r| *r > 0.0);
                f.rates.push_back(rate);
                if f.rates.len() > RATE_SAMPLES {
                    f.rates.pop_front();
                }
            }
            f.used = used;
            f.limit = limit;
            f.last_used = Some(used);
            if let Some(before) = f.last_answers {
                // Counts only grow; fewer means rows went away, not answers.
                let throttled = answers.0.saturating_sub(before.0);
                let server = answers.1.saturating_sub(before.1);
                f.errors.push_back((at, throttled, server));
                let n = throttled + server;
                changed |= n > 0 || f.error_history.iter().any(|e| *e > 0);
                f.error_history.push_back(n);
                if f.error_history.len() > RATE_SAMPLES {
                    f.error_history.pop_front();
                }
            }
            f.last_answers = Some(answers);
            let before = f.errors_last_minute();
            f.errors
                .retain(|(t, _, _)| at - *t < chrono::Duration::seconds(60));
            changed |= f.errors_last_minute() != before || before != (0, 0);
        }
        changed
    }

    /// A second passed; every sixty a new minute starts.
    pub fn tick(&mut self) {
        self.current_minute();
        self.seconds_into_minute += 1;
        if self.seconds_into_minute >= 60 {
            self.seconds_into_minute = 0;
            self.done.push_back(0);
            if self.done.len() > DONE_MINUTES {
                self.done.pop_front();
            }
        }
    }

    /// A run ended (an event here or a poll of every process): counted once per run.
    pub fn run_ended(&mut self, run_id: &str) {
        if !self.seen.insert(run_id.to_string()) {
            return;
        }
        self.seen_order.push_back(run_id.to_string());
        if self.seen_order.len() > SEEN_RUNS
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        *self.current_minute() += 1;
    }

    /// The current minute's count (the first is opened on first use).
    fn current_minute(&mut self) -> &mut u64 {
        if self.done.is_empty() {
            self.done.push_back(0);
        }
        let last = self.done.len() - 1;
        &mut self.done[last]
    }

    /// Artists done in the last full minute (the current one while the first is running).
    pub fn done_per_minute(&self) -> u64 {
        let n = self.done.len();
        if n >= 2 {
            self.done[n - 2]
        } else {
            self.done.back().copied().unwrap_or(0)
        }
    }
}

/// Rows the figures take at this terminal height.
pub fn rows(height: u16) -> u16 {
    if height >= PANEL_FROM_HEIGHT { 4 } else { 1 }
}

fn rate_text(rate: Option<f64>) -> String {
    match rate {
        None => "–/s".to_string(),
        Some(r) if r >= 10.0 => format!("{r:.0}/s"),
        Some(r) => format!("{r:.1}/s"),
    }
}

/// Sparkline data: rates in tenths (the widget takes integers), the newest `width` of them.
fn spark_data(rates: &VecDeque<f64>, width: u16) -> Vec<u64> {
    let skip = rates.len().saturating_sub(usize::from(width));
    rates
        .iter()
        .skip(skip)
        .map(|r| (r * 10.0).round() as u64)
        .collect()
}

pub fn draw(frame: &mut Frame<'_>, f: &Figures, theme: &Theme, area: Rect) {
    if area.height >= 4 {
        draw_panel(frame, f, theme, area);
    } else {
        draw_line(frame, f, theme, area);
    }
}

/// Left to right along one line: hands out the next `width` columns while they fit.
struct Cursor {
    x: u16,
    end: u16,
    y: u16,
}

impl Cursor {
    fn fits(&self, width: u16) -> bool {
        self.x + width <= self.end
    }

    fn take(&mut self, width: u16) -> Rect {
        let r = Rect::new(self.x, self.y, width.min(self.end - self.x), 1);
        self.x += r.width;
        r
    }
}

fn columns(text: &str) -> u16 {
    text.chars().count() as u16
}

/// How much of each provider the one-line figures show; the first that fits is drawn.
#[derive(Clone, Copy)]
struct LineLevel {
    /// Columns of the quota gauge (0: none; the header holds the counts too).
    gauge: u16,
    spark: u16,
    /// 429s and 5xx apart (`429×2 5xx×6`) or summed (`!8`).
    errors_apart: bool,
}

const LINE_LEVELS: [LineLevel; 4] = [
    LineLevel {
        gauge: 5,
        spark: 5,
        errors_apart: true,
    },
    LineLevel {
        gauge: 0,
        spark: 5,
        errors_apart: true,
    },
    LineLevel {
        gauge: 0,
        spark: 4,
        errors_apart: false,
    },
    LineLevel {
        gauge: 0,
        spark: 0,
        errors_apart: false,
    },
];

/// One provider's part of the line at a level.
struct LinePart<'a> {
    label: String,
    rates: &'a VecDeque<f64>,
    gauge: Option<f64>,
    gauge_width: u16,
    spark: u16,
    rate: String,
    errors: String,
}

impl<'a> LinePart<'a> {
    fn new(label: &str, p: &'a ProviderFigures, level: LineLevel) -> LinePart<'a> {
        let errors = match (p.errors_last_minute(), level.errors_apart) {
            ((0, 0), _) => String::new(),
            ((t, s), false) => format!("!{} ", t + s),
            ((t, 0), true) => format!("429×{t} "),
            ((0, s), true) => format!("5xx×{s} "),
            ((t, s), true) => format!("429×{t} 5xx×{s} "),
        };
        let gauge = p.used_share().filter(|_| level.gauge > 0);
        LinePart {
            label: format!("{label} "),
            rates: &p.rates,
            gauge_width: if gauge.is_some() { level.gauge } else { 0 },
            gauge,
            spark: level.spark,
            rate: format!(" {} ", rate_text(p.rate())),
            errors,
        }
    }

    /// Its columns, with the `│ ` after it.
    fn width(&self) -> u16 {
        columns(&self.label)
            + self.gauge_width
            + self.spark
            + columns(&self.rate)
            + columns(&self.errors)
            + 2
    }
}

/// One line: per provider a short gauge of the quota, a sparkline and the rate, 429/5xx when
/// there were any; then artists per minute. When that does not fit it drops, in order, the
/// gauges (the header has the counts), a column of each sparkline and the split of the errors,
/// then the sparklines; past that a provider that does not fit is left out whole.
fn draw_line(frame: &mut Frame<'_>, f: &Figures, theme: &Theme, area: Rect) {
    let done = format!("{}/min", thousands(f.done_per_minute() as i64));
    let parts_at = |level: LineLevel| -> Vec<LinePart> {
        PROVIDERS
            .iter()
            .zip(&f.providers)
            .map(|((_, _, label), p)| LinePart::new(label, p, level))
            .collect()
    };
    let room = area.width.saturating_sub(1);
    let parts = LINE_LEVELS
        .iter()
        .map(|l| parts_at(*l))
        .find(|parts| parts.iter().map(LinePart::width).sum::<u16>() + columns(&done) <= room)
        .unwrap_or_else(|| parts_at(LINE_LEVELS[LINE_LEVELS.len() - 1]));
    let mut at = Cursor {
        x: area.x + 1,
        end: area.x + area.width,
        y: area.y,
    };
    for part in &parts {
        if !at.fits(part.width()) {
            break;
        }
        frame.render_widget(
            Span::styled(part.label.clone(), theme.title),
            at.take(columns(&part.label)),
        );
        if let Some(share) = part.gauge {
            // The gauge's last column is a space before the sparkline.
            let cells = usize::from(part.gauge_width - 1);
            let filled = ((share * cells as f64).round() as usize).min(cells);
            let bar = Line::from(vec![
                Span::styled(FILLED.repeat(filled), quota_style(share, theme)),
                Span::styled(UNFILLED.repeat(cells - filled), theme.dim),
            ]);
            frame.render_widget(bar, at.take(part.gauge_width));
        }
        if part.spark > 0 {
            let r = at.take(part.spark);
            frame.render_widget(
                Sparkline::default()
                    .data(spark_data(part.rates, r.width))
                    .style(theme.syncing),
                r,
            );
        }
        frame.render_widget(
            Span::styled(part.rate.clone(), theme.base),
            at.take(columns(&part.rate)),
        );
        if !part.errors.is_empty() {
            frame.render_widget(
                Span::styled(part.errors.clone(), theme.error),
                at.take(columns(&part.errors)),
            );
        }
        frame.render_widget(Span::styled("│ ", theme.dim), at.take(2));
    }
    if at.fits(columns(&done)) {
        frame.render_widget(
            Span::styled(done.clone(), theme.base),
            at.take(columns(&done)),
        );
    }
}

/// Green, yellow from 70 % of the day's quota, red from 90 %.
fn quota_style(share: f64, theme: &Theme) -> ratatui::style::Style {
    if share >= 0.9 {
        theme.error
    } else if share >= 0.7 {
        theme.warn
    } else {
        theme.success
    }
}

fn quota_gauge<'a>(share: f64, theme: &Theme) -> LineGauge<'a> {
    LineGauge::default()
        .ratio(share)
        .filled_style(quota_style(share, theme))
        .unfilled_style(theme.dim)
        .filled_symbol(FILLED)
        .unfilled_symbol(UNFILLED)
}

/// Four lines: a line per provider (quota gauge with its counts, a minute of request rates,
/// 429s and 5xx), then artists done per minute over half an hour.
fn draw_panel(frame: &mut Frame<'_>, f: &Figures, theme: &Theme, area: Rect) {
    let lines = Layout::vertical([Constraint::Length(1); 4]).split(area);
    for (((_, label, _), p), line) in PROVIDERS.iter().zip(&f.providers).zip(lines.iter()) {
        let [name, gauge, spark, rate, error_spark, errors] = Layout::horizontal([
            Constraint::Length(13),
            Constraint::Percentage(25),
            Constraint::Fill(1),
            Constraint::Length(7),
            // A minute of readings (one every 2 s).
            Constraint::Length(30),
            Constraint::Length(28),
        ])
        .spacing(1)
        .areas(*line);
        frame.render_widget(Span::styled(format!(" {label}"), theme.title), name);
        match (p.used_share(), p.limit) {
            (Some(share), Some(limit)) => frame.render_widget(
                quota_gauge(share, theme).label(format!(
                    "{}/{} today {} ",
                    thousands(p.used as i64),
                    thousands(limit as i64),
                    crate::text::percent(share)
                )),
                gauge,
            ),
            _ => frame.render_widget(
                Span::styled(
                    format!("{} today · no daily quota", thousands(p.used as i64)),
                    theme.dim,
                ),
                gauge,
            ),
        }
        frame.render_widget(
            Sparkline::default()
                .data(spark_data(&p.rates, spark.width))
                .style(theme.syncing),
            spark,
        );
        frame.render_widget(Span::styled(rate_text(p.rate()), theme.base), rate);
        let skip = p
            .error_history
            .len()
            .saturating_sub(usize::from(error_spark.width));
        let history: Vec<u64> = p.error_history.iter().skip(skip).copied().collect();
        frame.render_widget(
            Sparkline::default().data(history).style(theme.error),
            error_spark,
        );
        let (throttled, server) = p.errors_last_minute();
        let style = if throttled + server > 0 {
            theme.error
        } else {
            theme.dim
        };
        frame.render_widget(
            Span::styled(format!("429 {throttled} · 5xx {server} last min"), style),
            errors,
        );
    }
    let [name, spark, rate] = Layout::horizontal([
        Constraint::Length(13),
        Constraint::Fill(1),
        Constraint::Length(38),
    ])
    .spacing(1)
    .areas(lines[3]);
    frame.render_widget(Span::styled(" done", theme.title), name);
    let skip = f.done.len().saturating_sub(usize::from(spark.width));
    let data: Vec<u64> = f.done.iter().skip(skip).copied().collect();
    frame.render_widget(Sparkline::default().data(data).style(theme.success), spark);
    frame.render_widget(
        Line::from(format!(
            "{} artists/min · {} in {} min",
            thousands(f.done_per_minute() as i64),
            thousands(f.done.iter().sum::<u64>() as i64),
            f.done.len()
        )),
        rate,
    );
}
