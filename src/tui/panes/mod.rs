//! One component per pane. Each holds its own state, changes it only through its own methods
//! (pure: no IO, effects returned) and draws it with a `draw` that reads nothing else. A pane
//! that scrolls reports what it measured while drawing ([`Measured`]); the event loop hands
//! that back to `update`, so no state module lays text out a second time to bound a scroll.

pub mod batch;
pub mod confirm;
pub mod detail;
pub mod env;
pub mod figures;
pub mod header;
pub mod help;
pub mod jobs;
pub mod log;
pub mod picker;
pub mod plan;
pub mod table;

use ratatui::layout::Rect;

/// A scroll position and the furthest it can go, as the pane's last draw measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scroll {
    pub position: u16,
    /// Rows beyond the pane's height at the last draw (0: it all fits).
    pub max: u16,
}

impl Scroll {
    /// Moves by `delta` rows, within `0..=max`.
    pub fn by(&mut self, delta: i64) {
        self.position = (i64::from(self.position) + delta).clamp(0, i64::from(self.max)) as u16;
    }

    pub fn top(&mut self) {
        self.position = 0;
    }

    /// A draw measured a new bound; returns whether the position had to move within it.
    pub fn measured(&mut self, max: u16) -> bool {
        self.max = max;
        let before = self.position;
        self.position = self.position.min(max);
        before != self.position
    }
}

/// What one frame measured of the panes it drew (`None`: not drawn this frame).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measured {
    pub detail_max_scroll: Option<u16>,
    pub help_max_scroll: Option<u16>,
    pub env_max_scroll: Option<u16>,
    /// Rows of artists the table shows (a page for page up/down).
    pub table_rows: Option<u16>,
    /// Rows of jobs the jobs view shows.
    pub jobs_rows: Option<u16>,
}

/// How many rows these lines take, word-wrapped as the scrolling panes wrap them, at `width`.
pub fn wrapped_rows(lines: &[ratatui::text::Line<'_>], width: u16) -> usize {
    ratatui::widgets::Paragraph::new(lines.to_vec())
        .wrap(ratatui::widgets::Wrap { trim: false })
        .line_count(width.max(1))
}

/// Rows beyond `height`, as a scroll bound.
pub fn beyond(rows: usize, height: u16) -> u16 {
    rows.saturating_sub(usize::from(height))
        .min(usize::from(u16::MAX)) as u16
}

/// The widths a `Table` with these constraints (spacing 1, the default `Flex::Start`) gives
/// its columns inside `inner`, so a cell's text can end in `…` instead of being cut silently.
pub fn column_widths(
    inner: Rect,
    constraints: impl IntoIterator<Item = ratatui::layout::Constraint>,
) -> Vec<usize> {
    ratatui::layout::Layout::horizontal(constraints)
        .flex(ratatui::layout::Flex::Start)
        .spacing(1)
        .split(inner)
        .iter()
        .map(|c| usize::from(c.width))
        .collect()
}

/// Overlays take the whole screen between the header and the status bar (no fringe of the
/// table showing through at the sides).
pub fn overlay_area(area: Rect) -> Rect {
    Rect {
        x: area.x,
        y: area.y + 1,
        width: area.width,
        height: area.height.saturating_sub(2),
    }
}

/// A box of at most this size in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
