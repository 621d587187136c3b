//! The environment panel: every check (variables, secrets redacted, live probes) with its
//! status, source, latency, detail and hint.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{Scroll, beyond, overlay_area, wrapped_rows};
use crate::checks::{CheckStatus, EnvReport};
use crate::text::sanitize;
use crate::tui::keys::{Command, KeyMap};
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Default)]
pub struct EnvPane {
    /// The last report (`None` until the first checks ran).
    pub report: Option<EnvReport>,
    /// Live checks are running.
    pub running: bool,
    pub scroll: Scroll,
}

impl EnvPane {
    /// Opening the panel: true when the checks must run (never run, not running).
    pub fn open(&mut self) -> bool {
        self.scroll.top();
        self.run_if_idle()
    }

    /// Starts the checks unless they are running; true when they must run.
    pub fn run_if_idle(&mut self) -> bool {
        if self.report.is_none() && !self.running {
            self.running = true;
            return true;
        }
        false
    }

    pub fn loaded(&mut self, report: EnvReport) {
        self.report = Some(report);
        self.running = false;
    }
}

/// The env panel as lines: per check a line of name, status, source, preview and latency,
/// then its detail and hint indented below (wrapped, so nothing is cut at 80 columns).
fn env_lines<'a>(env: &EnvPane, theme: &Theme) -> Vec<Line<'a>> {
    let Some(report) = &env.report else {
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

/// Draws the panel; returns how far it can scroll at this size.
pub fn draw(frame: &mut Frame<'_>, env: &EnvPane, keys: &KeyMap, theme: &Theme, area: Rect) -> u16 {
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let lines = env_lines(env, theme);
    let inner = Block::bordered().inner(r);
    let max_scroll = beyond(wrapped_rows(&lines, inner.width), inner.height);
    let scroll = env.scroll.position.min(max_scroll);
    let more = if scroll < max_scroll {
        "more below (↓) · "
    } else {
        ""
    };
    let title = if env.running {
        " Environment and secrets · live checks running… ".to_string()
    } else {
        format!(
            " Environment and secrets · {more}{} runs the live checks · esc closes ",
            keys.label(Command::RunChecks)
        )
    };
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0))
        .block(Block::bordered().title(Span::styled(title, theme.title)));
    frame.render_widget(p, r);
    max_scroll
}
