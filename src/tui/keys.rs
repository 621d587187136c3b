//! Keys: every command has a default key, overridable in the config file's `[keys]` table
//! (`sync = "s"`, `quit = "ctrl-q"`). Help and the status bar read this map, so they always
//! show the keys in force. Conflicts are reported at start.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Sync,
    SyncMany,
    RetryFailed,
    Cancel,
    CancelAll,
    Mark,
    MarkAll,
    Back,
    Filter,
    Detail,
    Env,
    RunChecks,
    Jobs,
    Help,
    Quit,
    SortNext,
    SortReverse,
    FocusLog,
    LogLevel,
    Follow,
    OnlySelected,
    SearchLog,
    SaveLog,
    AddArtist,
    ToggleMouse,
    Reload,
    PauseQueue,
    Plan,
}

/// (command, config name, default keys, what it does)
const COMMANDS: &[(Command, &str, &[&str], &str)] = &[
    (Command::Up, "up", &["up", "k"], "move up"),
    (Command::Down, "down", &["down", "j"], "move down"),
    (Command::PageUp, "page_up", &["pageup"], "page up"),
    (Command::PageDown, "page_down", &["pagedown"], "page down"),
    (Command::Top, "top", &["home", "g"], "first row"),
    (Command::Bottom, "bottom", &["end", "G"], "last row"),
    (Command::Sync, "sync", &["s"], "sync the selected artist"),
    (
        Command::SyncMany,
        "sync_many",
        &["S"],
        "sync marked, or all shown",
    ),
    (
        Command::RetryFailed,
        "retry_failed",
        &["r"],
        "retry failed (jobs: the shown)",
    ),
    (
        Command::Cancel,
        "cancel",
        &["c"],
        "cancel the selected sync",
    ),
    (
        Command::CancelAll,
        "cancel_all",
        &["C"],
        "cancel all (jobs: the shown)",
    ),
    (Command::Mark, "mark", &["space"], "mark / unmark"),
    (
        Command::MarkAll,
        "mark_all",
        &["ctrl-a"],
        "mark every shown artist",
    ),
    (
        Command::Back,
        "back",
        &["esc"],
        "clear marks, detail, filter",
    ),
    (Command::Filter, "filter", &["/"], "filter (syntax below)"),
    (Command::Detail, "detail", &["enter"], "detail pane on/off"),
    (Command::Env, "env", &["e"], "environment and secrets"),
    (
        Command::RunChecks,
        "run_checks",
        &["R"],
        "env panel: run live checks",
    ),
    (Command::Jobs, "jobs", &["J"], "jobs view"),
    (
        Command::Plan,
        "plan",
        &["p"],
        "keep-fresh plan and freshness",
    ),
    (Command::Help, "help", &["?"], "this help"),
    (Command::Quit, "quit", &["q"], "quit (asks if syncs run)"),
    (Command::SortNext, "sort", &["o"], "sort by the next column"),
    (
        Command::SortReverse,
        "sort_reverse",
        &["O"],
        "reverse the sort",
    ),
    (
        Command::FocusLog,
        "focus_log",
        &["tab"],
        "arrows: table/log/detail",
    ),
    (Command::LogLevel, "log_level", &["L"], "log level"),
    (Command::Follow, "follow", &["F"], "log: follow the end"),
    (
        Command::OnlySelected,
        "log_selected",
        &["f"],
        "log: selected artist only",
    ),
    (Command::SearchLog, "log_search", &["n"], "search the log"),
    (
        Command::SaveLog,
        "log_save",
        &["w"],
        "log: save shown lines",
    ),
    (
        Command::AddArtist,
        "add_artist",
        &["a"],
        "add an artist (TM search)",
    ),
    (
        Command::Reload,
        "reload",
        &["ctrl-r"],
        "read every artist again",
    ),
    (
        Command::ToggleMouse,
        "mouse",
        &["M"],
        "mouse capture on/off",
    ),
    (
        Command::PauseQueue,
        "pause_queue",
        &["P"],
        "pause / resume every worker",
    ),
];

/// Parses `s`, `S`, `ctrl-a`, `enter`, `space`, `f5`.
pub fn parse_key(text: &str) -> Option<KeyEvent> {
    let (mods, name) = match text.strip_prefix("ctrl-") {
        Some(rest) => (KeyModifiers::CONTROL, rest),
        None => match text.strip_prefix("alt-") {
            Some(rest) => (KeyModifiers::ALT, rest),
            None => (KeyModifiers::NONE, text),
        },
    };
    let code = match name.to_ascii_lowercase().as_str() {
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pageup" => KeyCode::PageUp,
        "pagedown" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "space" => KeyCode::Char(' '),
        "backspace" => KeyCode::Backspace,
        f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok()?),
        _ => {
            let mut chars = name.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            KeyCode::Char(c)
        }
    };
    Some(KeyEvent::new(code, mods))
}

/// How a key is shown in help and hints.
pub fn key_label(key: &KeyEvent) -> String {
    let base = match key.code {
        KeyCode::Char(' ') => "space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::PageUp => "pgup".into(),
        KeyCode::PageDown => "pgdn".into(),
        KeyCode::Home => "home".into(),
        KeyCode::End => "end".into(),
        KeyCode::Enter => "enter".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Tab => "tab".into(),
        KeyCode::F(n) => format!("f{n}"),
        other => format!("{other:?}").to_lowercase(),
    };
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        format!("ctrl-{base}")
    } else if key.modifiers.contains(KeyModifiers::ALT) {
        format!("alt-{base}")
    } else {
        base
    }
}

/// Normalises what the terminal sends: shifted letters arrive with SHIFT set and an upper-case
/// char, which the map stores without the modifier.
fn normalise(key: &KeyEvent) -> KeyEvent {
    let mut mods = key.modifiers;
    if let KeyCode::Char(_) = key.code {
        mods.remove(KeyModifiers::SHIFT);
    }
    KeyEvent::new(key.code, mods & (KeyModifiers::CONTROL | KeyModifiers::ALT))
}

#[derive(Debug, Clone)]
pub struct KeyMap {
    by_key: HashMap<(KeyCode, KeyModifiers), Command>,
    keys_of: HashMap<Command, Vec<KeyEvent>>,
}

impl Default for KeyMap {
    fn default() -> Self {
        KeyMap::with_overrides(&HashMap::new()).0
    }
}

impl KeyMap {
    /// The defaults with `overrides` (config name → key list) applied; returns the problems
    /// (unknown names, unreadable keys, one key bound to two commands).
    pub fn with_overrides(overrides: &HashMap<String, Vec<String>>) -> (KeyMap, Vec<String>) {
        let mut problems = Vec::new();
        for name in overrides.keys() {
            if !COMMANDS.iter().any(|(_, n, _, _)| n == name) {
                problems.push(format!("[keys] {name}: no such command"));
            }
        }
        let mut by_key = HashMap::new();
        let mut keys_of: HashMap<Command, Vec<KeyEvent>> = HashMap::new();
        for (cmd, name, defaults, _) in COMMANDS {
            let texts: Vec<String> = match overrides.get(*name) {
                Some(list) => list.clone(),
                None => defaults.iter().map(|s| s.to_string()).collect(),
            };
            for text in texts {
                let Some(key) = parse_key(&text) else {
                    problems.push(format!("[keys] {name}: cannot read the key \"{text}\""));
                    continue;
                };
                let k = normalise(&key);
                if let Some(other) = by_key.insert((k.code, k.modifiers), *cmd)
                    && other != *cmd
                {
                    {
                        problems.push(format!(
                            "[keys] \"{text}\" is bound to both {} and {name}; {name} wins",
                            name_of(other)
                        ));
                        if let Some(list) = keys_of.get_mut(&other) {
                            list.retain(|x| (x.code, x.modifiers) != (k.code, k.modifiers));
                        }
                    }
                }
                keys_of.entry(*cmd).or_default().push(k);
            }
        }
        (KeyMap { by_key, keys_of }, problems)
    }

    pub fn command(&self, key: &KeyEvent) -> Option<Command> {
        let k = normalise(key);
        self.by_key.get(&(k.code, k.modifiers)).copied()
    }

    /// The first key of a command, as shown in hints (`?` when unbound).
    pub fn label(&self, cmd: Command) -> String {
        self.keys_of
            .get(&cmd)
            .and_then(|k| k.first())
            .map(key_label)
            .unwrap_or_else(|| "?".into())
    }

    /// Every command with its keys and description, for the help overlay.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        COMMANDS
            .iter()
            .map(|(cmd, _, _, what)| {
                let keys = self
                    .keys_of
                    .get(cmd)
                    .map(|ks| ks.iter().map(key_label).collect::<Vec<_>>().join(" "))
                    .unwrap_or_else(|| "(unbound)".into());
                (keys, *what)
            })
            .collect()
    }
}

fn name_of(cmd: Command) -> &'static str {
    COMMANDS
        .iter()
        .find(|(c, _, _, _)| *c == cmd)
        .map(|(_, n, _, _)| *n)
        .unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_and_shifted_letters_match() {
        let m = KeyMap::default();
        assert_eq!(
            m.command(&KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE)),
            Some(Command::Sync)
        );
        assert_eq!(
            m.command(&KeyEvent::new(KeyCode::Char('S'), KeyModifiers::SHIFT)),
            Some(Command::SyncMany)
        );
        assert_eq!(
            m.command(&KeyEvent::new(KeyCode::Char('a'), KeyModifiers::CONTROL)),
            Some(Command::MarkAll)
        );
        assert_eq!(m.label(Command::Mark), "space");
    }

    #[test]
    fn overrides_apply_and_conflicts_are_reported() {
        let mut o = HashMap::new();
        o.insert("sync".to_string(), vec!["x".to_string()]);
        o.insert("quit".to_string(), vec!["x".to_string()]);
        o.insert("nonsense".to_string(), vec!["z".to_string()]);
        let (m, problems) = KeyMap::with_overrides(&o);
        assert_eq!(
            m.command(&KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE)),
            None
        );
        assert!(
            problems.iter().any(|p| p.contains("bound to both")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("nonsense")),
            "{problems:?}"
        );
        assert!(
            m.help()
                .iter()
                .any(|(k, what)| k == "x" && what.contains("quit"))
        );
    }
}
