//! Themes. Status is always a word; color is only a second signal, and the monochrome theme
//! (`NO_COLOR`) marks failures with bold and reverse instead.

use ratatui::style::{Color, Modifier, Style};

use crate::store::sync_status::{Overall, PartStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeName {
    Dark,
    Light,
    Mono,
}

impl ThemeName {
    pub fn parse(s: &str) -> Option<ThemeName> {
        match s.to_ascii_lowercase().as_str() {
            "dark" => Some(ThemeName::Dark),
            "light" => Some(ThemeName::Light),
            "mono" | "monochrome" | "none" => Some(ThemeName::Mono),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: ThemeName,
    pub base: Style,
    pub header: Style,
    pub border: Style,
    pub title: Style,
    pub selected: Style,
    pub marked: Style,
    pub success: Style,
    pub error: Style,
    /// An error's text (the table's LAST ERROR): colored, never reverse video.
    pub error_text: Style,
    pub syncing: Style,
    pub pending: Style,
    pub dim: Style,
    pub warn: Style,
    pub key: Style,
}

impl Theme {
    pub fn new(name: ThemeName) -> Theme {
        let plain = Style::new();
        match name {
            ThemeName::Dark => Theme {
                name,
                base: plain,
                header: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                border: Style::new().fg(Color::DarkGray),
                title: Style::new().add_modifier(Modifier::BOLD),
                selected: Style::new().add_modifier(Modifier::REVERSED),
                marked: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                success: Style::new().fg(Color::Green),
                error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                error_text: Style::new().fg(Color::Red),
                syncing: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                pending: Style::new().fg(Color::Gray),
                dim: Style::new().fg(Color::DarkGray),
                warn: Style::new().fg(Color::Yellow),
                key: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            },
            ThemeName::Light => Theme {
                name,
                base: plain,
                header: Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
                border: Style::new().fg(Color::Gray),
                title: Style::new().add_modifier(Modifier::BOLD),
                selected: Style::new().add_modifier(Modifier::REVERSED),
                marked: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
                success: Style::new().fg(Color::Green),
                error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                error_text: Style::new().fg(Color::Red),
                syncing: Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
                pending: Style::new().fg(Color::DarkGray),
                dim: Style::new().fg(Color::Gray),
                warn: Style::new().fg(Color::Magenta),
                key: Style::new().fg(Color::Blue).add_modifier(Modifier::BOLD),
            },
            ThemeName::Mono => Theme {
                name,
                base: plain,
                header: Style::new().add_modifier(Modifier::BOLD),
                border: plain,
                title: Style::new().add_modifier(Modifier::BOLD),
                selected: Style::new().add_modifier(Modifier::REVERSED),
                marked: Style::new().add_modifier(Modifier::BOLD),
                success: plain,
                error: Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
                error_text: Style::new().add_modifier(Modifier::ITALIC),
                syncing: Style::new().add_modifier(Modifier::BOLD),
                pending: plain,
                dim: plain,
                warn: Style::new().add_modifier(Modifier::BOLD),
                key: Style::new().add_modifier(Modifier::BOLD),
            },
        }
    }

    pub fn part(&self, p: PartStatus) -> Style {
        match p {
            PartStatus::Success => self.success,
            PartStatus::Error => self.error,
            PartStatus::Syncing => self.syncing,
            PartStatus::Pending => self.pending,
        }
    }

    pub fn overall(&self, o: Overall) -> Style {
        match o {
            Overall::Success => self.success,
            Overall::Error => self.error,
            Overall::Syncing => self.syncing,
            Overall::Pending => self.pending,
        }
    }
}
