//! The add-artist picker: Ticketmaster's answers to a search, one selected, each marked when
//! the artist is here already.

use std::collections::HashSet;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Cell, Clear, Row, Table, TableState};

use super::overlay_area;
use crate::engine::artist_import::Candidate;
use crate::text::{sanitize, truncate};
use crate::tui::keys::{Command, KeyMap};
use crate::tui::theme::Theme;

/// Ticketmaster's answers to an add-artist search, one of them selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    pub query: String,
    pub candidates: Vec<Candidate>,
    /// Per candidate: an artist with its Ticketmaster id is here already.
    pub present: Vec<bool>,
    pub selected: usize,
}

/// What a key did in the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picked {
    /// Still picking (the selection may have moved).
    Picking,
    Cancelled,
    /// This candidate was chosen; `present` when it is here already.
    Chosen {
        candidate: Candidate,
        present: bool,
    },
}

impl Picker {
    /// The picker for `candidates`, knowing the Ticketmaster ids here already; it starts on
    /// the first exact name match, else the first result.
    pub fn new<'a>(
        query: String,
        candidates: Vec<Candidate>,
        ids_here: impl Iterator<Item = &'a str>,
    ) -> Picker {
        let wanted: HashSet<&str> = candidates
            .iter()
            .map(|c| c.ticketmaster_id.as_str())
            .collect();
        let here: HashSet<&str> = ids_here.filter(|id| wanted.contains(id)).collect();
        let present = candidates
            .iter()
            .map(|c| here.contains(c.ticketmaster_id.as_str()))
            .collect();
        let lower = query.trim().to_lowercase();
        let selected = candidates
            .iter()
            .position(|c| c.name.to_lowercase() == lower)
            .unwrap_or(0);
        Picker {
            query,
            candidates,
            present,
            selected,
        }
    }

    pub fn on_key(&mut self, key: &KeyEvent, keys: &KeyMap) -> Picked {
        let last = self.candidates.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc => return Picked::Cancelled,
            KeyCode::Enter => {
                return match self.candidates.get(self.selected) {
                    Some(c) => Picked::Chosen {
                        candidate: c.clone(),
                        present: self.present.get(self.selected) == Some(&true),
                    },
                    None => Picked::Cancelled,
                };
            }
            _ => match keys.command(key) {
                Some(Command::Up) => self.selected = self.selected.saturating_sub(1),
                Some(Command::Down) => self.selected = (self.selected + 1).min(last),
                Some(Command::Top) => self.selected = 0,
                Some(Command::Bottom) => self.selected = last,
                _ => {}
            },
        }
        Picked::Picking
    }
}

pub fn draw(frame: &mut Frame<'_>, p: &Picker, theme: &Theme, area: Rect) {
    let r = overlay_area(area);
    frame.render_widget(Clear, r);
    let title = format!(
        " Add artist · {} Ticketmaster results for \"{}\" · enter imports and syncs · esc cancels ",
        p.candidates.len(),
        truncate(&sanitize(&p.query), 30)
    );
    let rows: Vec<Row> = p
        .candidates
        .iter()
        .zip(&p.present)
        .map(|(c, here)| {
            let (mark, style) = if *here {
                ("here already", theme.dim)
            } else {
                ("", theme.base)
            };
            Row::new(vec![
                Cell::from(sanitize(&c.name)),
                Cell::from(sanitize(&c.describe())),
                Cell::from(sanitize(&c.ticketmaster_id)),
                Cell::from(mark),
            ])
            .style(style)
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Min(18),
            Constraint::Min(24),
            Constraint::Length(22),
            Constraint::Length(12),
        ],
    )
    .header(Row::new(["NAME", "WHAT", "TICKETMASTER ID", ""]).style(theme.title))
    .row_highlight_style(theme.selected)
    .highlight_symbol("▸ ")
    .block(Block::bordered().title(Span::styled(title, theme.title)));
    let mut state = TableState::default().with_selected(Some(p.selected));
    frame.render_stateful_widget(table, r, &mut state);
}
