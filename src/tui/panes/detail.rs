//! The detail pane: everything about the selected artist (statuses, the last error first,
//! ids, counts, links, the job history with each attempt), scrolling when focused.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::{Scroll, beyond, wrapped_rows};
use crate::store::artists::{ArtistDetail, ArtistSummary};
use crate::store::runs::{AttemptRow, RunRow, RunStatus};
use crate::store::sync_status::Source;
use crate::store::time::relative;
use crate::text::{sanitize, thousands, truncate};
use crate::tui::app::Effect;
use crate::tui::theme::Theme;

/// The detail pane's data for one artist.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailData {
    pub detail: ArtistDetail,
    pub runs: Vec<(RunRow, Vec<AttemptRow>)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetailPane {
    /// The pane is shown (`enter` toggles it).
    pub open: bool,
    /// What was read for the selected artist (`None` while it is read).
    pub data: Option<DetailData>,
    pub scroll: Scroll,
}

impl DetailPane {
    /// The selection moved: what was read is for another artist.
    pub fn forget(&mut self) {
        self.data = None;
        self.scroll.top();
    }

    /// Read the selected artist's detail, when the pane is shown.
    pub fn load(&self, selected: Option<&ArtistSummary>) -> Vec<Effect> {
        match (self.open, selected) {
            (true, Some(a)) => vec![Effect::LoadDetail {
                artist_id: a.id.clone(),
            }],
            _ => Vec::new(),
        }
    }

    /// A read arrived; kept only if it is still the selected artist's.
    pub fn loaded(&mut self, data: DetailData, selected: Option<&ArtistSummary>) {
        if selected.map(|a| &a.id) == Some(&data.detail.summary.id) {
            self.data = Some(data);
        }
    }
}

/// Draws the pane for the selected artist; returns how far it can scroll at this size.
pub fn draw(
    frame: &mut Frame<'_>,
    pane: &DetailPane,
    artist: Option<&ArtistSummary>,
    focused: bool,
    theme: &Theme,
    area: Rect,
    now: DateTime<Utc>,
) -> u16 {
    let Some(artist) = artist else {
        frame.render_widget(Block::bordered().title(" Detail "), area);
        return 0;
    };
    let lines = detail_lines(pane.data.as_ref(), artist, theme, now, area.width < 60);
    let inner = Block::bordered().inner(area);
    let max_scroll = beyond(wrapped_rows(&lines, inner.width), inner.height);
    let scroll = pane.scroll.position.min(max_scroll);
    let more = match (scroll > 0, scroll < max_scroll) {
        (_, true) => " · more below · ",
        (true, false) => " · top above · ",
        _ => " ",
    };
    let focus = if focused { "↑↓ scroll " } else { "" };
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
                .border_style(if focused { theme.title } else { theme.border }),
        )
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0));
    frame.render_widget(p, area);
    max_scroll
}

/// Everything the detail pane says of one artist, before wrapping.
fn detail_lines<'a>(
    detail: Option<&DetailData>,
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
    if let Some(d) = detail.filter(|d| d.detail.summary.id == artist.id) {
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
    if let Some(d) = detail.filter(|d| d.detail.summary.id == artist.id) {
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
                        RunStatus::Failed => theme.error,
                        RunStatus::Succeeded => theme.success,
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
