//! The log pane: a bounded ring of the engine's log lines, filtered by level, artist and
//! search, following the newest or scrolled back.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::engine::events::{LogLevel, LogLine};
use crate::text::{sanitize, truncate};
use crate::tui::theme::Theme;

/// A bounded ring of log lines with follow mode.
#[derive(Debug, Clone)]
pub struct LogPane {
    pub lines: VecDeque<LogLine>,
    pub capacity: usize,
    /// Stick to the newest line; turns off when scrolling up, on again at the end.
    pub follow: bool,
    /// Lines from the end when not following.
    pub scroll: usize,
    pub min_level: LogLevel,
    pub only_selected: bool,
    pub search: String,
    pub dropped: u64,
}

impl LogPane {
    pub fn new(capacity: usize) -> LogPane {
        LogPane {
            lines: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            follow: true,
            scroll: 0,
            min_level: LogLevel::Info,
            only_selected: false,
            search: String::new(),
            dropped: 0,
        }
    }

    pub fn push(&mut self, line: LogLine) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }

    /// Whether a line passes the level, artist and search filters.
    pub fn passes(&self, l: &LogLine, artist: Option<&str>) -> bool {
        l.level >= self.min_level
            && (!self.only_selected || artist.is_some_and(|a| l.artist_id.as_deref() == Some(a)))
            && (self.search.is_empty()
                || l.message
                    .to_lowercase()
                    .contains(&self.search.to_lowercase()))
    }

    /// The lines that pass the level, artist and search filters.
    pub fn visible<'a>(
        &'a self,
        artist: Option<&'a str>,
    ) -> impl Iterator<Item = &'a LogLine> + 'a {
        self.lines.iter().filter(move |l| self.passes(l, artist))
    }

    /// Scrolls `delta` lines up (positive: older lines, following stops) or down (following
    /// again at the end).
    pub fn scroll_by(&mut self, delta: i32) {
        let max = self.lines.len().saturating_sub(1);
        if delta > 0 {
            self.scroll = (self.scroll + delta as usize).min(max);
            self.follow = false;
        } else {
            self.scroll = self.scroll.saturating_sub(delta.unsigned_abs() as usize);
            if self.scroll == 0 {
                self.follow = true;
            }
        }
    }

    /// A new line from the engine; while scrolled up, the same lines stay in view (hidden
    /// lines do not move it).
    pub fn receive(&mut self, line: LogLine, selected: Option<&str>) {
        let shown = self.passes(&line, selected);
        self.push(line);
        if !self.follow && shown {
            let visible = self.visible(selected).count();
            self.scroll = (self.scroll + 1).min(visible.saturating_sub(1));
        }
    }

    /// The next level: info → warn → error → debug → info.
    pub fn cycle_level(&mut self) {
        self.min_level = match self.min_level {
            LogLevel::Trace | LogLevel::Debug => LogLevel::Info,
            LogLevel::Info => LogLevel::Warn,
            LogLevel::Warn => LogLevel::Error,
            LogLevel::Error => LogLevel::Debug,
        };
    }

    pub fn follow_again(&mut self) {
        self.follow = true;
        self.scroll = 0;
    }

    /// The shown lines as a file would hold them (secrets never reach the log; controls are
    /// neutralised).
    pub fn saved_lines(&self, selected: Option<&str>) -> Vec<String> {
        self.visible(selected)
            .map(|l| {
                format!(
                    "{} {:5} {} {}",
                    l.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    l.level.as_str(),
                    l.target,
                    sanitize(&l.message)
                )
            })
            .collect()
    }
}

pub fn draw(
    frame: &mut Frame<'_>,
    log: &LogPane,
    selected: Option<&str>,
    focused: bool,
    theme: &Theme,
    area: Rect,
) {
    let visible: Vec<_> = log.visible(selected).collect();
    let height = area.height.saturating_sub(2) as usize;
    let end = visible
        .len()
        .saturating_sub(if log.follow { 0 } else { log.scroll });
    let start = end.saturating_sub(height);
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = visible[start..end]
        .iter()
        .map(|l| {
            let style = match l.level {
                LogLevel::Error => theme.error,
                LogLevel::Warn => theme.warn,
                LogLevel::Info => theme.base,
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
    let mut flags = vec![if log.follow {
        "follow".to_string()
    } else {
        format!("paused, {} newer", log.scroll)
    }];
    flags.push(format!("{}+", log.min_level.as_str().to_lowercase()));
    if log.only_selected {
        flags.push("selected artist only".into());
    }
    if !log.search.is_empty() {
        flags.push(format!("search: {}", sanitize(&log.search)));
    }
    let title = format!(" Log · {} ", flags.join(" · "));
    let block = Block::bordered()
        .title(Span::styled(title, theme.title))
        .border_style(if focused { theme.base } else { theme.border });
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
