//! The help overlay: every key in two columns, scrolling when the terminal is too small.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{Scroll, beyond, overlay_area};
use crate::text::truncate;
use crate::tui::keys::KeyMap;
use crate::tui::theme::Theme;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelpPane {
    pub scroll: Scroll,
}

/// Draws the help; returns how far it can scroll at this size.
pub fn draw(
    frame: &mut Frame<'_>,
    help: &HelpPane,
    keys: &KeyMap,
    theme: &Theme,
    area: Rect,
) -> u16 {
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let entries = keys.help();
    // Two columns, so every key fits at 80×24; smaller terminals scroll. The frame and the
    // two footer lines take 4 rows.
    let half = entries.len().div_ceil(2);
    let visible = usize::from(r.height.saturating_sub(4));
    let max_scroll = beyond(half, r.height.saturating_sub(4));
    let scroll = help.scroll.position.min(max_scroll);
    let title = if half > visible {
        let first = usize::from(scroll) + 1;
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
        let column_scroll = scroll.min(beyond(lines.len(), col.height));
        frame.render_widget(Paragraph::new(lines).scroll((column_scroll, 0)), col);
    }
    frame.render_widget(
        Paragraph::new(
            "filter: status:error spotify:pending tm:success never-synced has-error error:TEXT a|b text !negate",
        )
        .wrap(Wrap { trim: true })
        .style(theme.dim),
        foot,
    );
    max_scroll
}
