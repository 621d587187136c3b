//! Key presses as the console's `update` receives them (tests of the TUI).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use syncdeck::tui::app::Action;

/// A key as crossterm delivers it: upper-case letters come with SHIFT.
pub fn key(c: char) -> Action {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    Action::Key(KeyEvent::new(KeyCode::Char(c), mods))
}

pub fn code(k: KeyCode) -> Action {
    Action::Key(KeyEvent::new(k, KeyModifiers::NONE))
}

pub fn ctrl(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}
