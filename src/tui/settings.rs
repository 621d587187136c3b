//! The console's own settings file: `<config dir>/syncdeck/config.toml` (theme, mouse, keys).
//!
//! ```toml
//! theme = "light"          # dark (default), light, mono
//! mouse = false            # mouse capture at start (toggle with M)
//! [keys]
//! sync = "x"               # one key, or a list: ["x", "ctrl-s"]
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::keys::KeyMap;
use super::theme::{Theme, ThemeName};

/// What the file set, plus every problem found (shown at start, never fatal).
pub struct ConsoleSettings {
    pub theme: Theme,
    pub keys: KeyMap,
    pub mouse: bool,
    pub problems: Vec<String>,
    pub path: Option<PathBuf>,
}

pub fn default_path() -> Option<PathBuf> {
    crate::config::default_config_dir().map(|d| d.join("config.toml"))
}

/// Reads the file when present. `NO_COLOR` (or `--no-color`) forces the monochrome theme.
/// The file's top-level keys: the console's own, and the scheduler's section (read by
/// `syncdeck serve` and the plan view).
const KNOWN_KEYS: &[&str] = &["theme", "mouse", "keys", "scheduler"];

pub fn load(path: Option<&Path>, no_color: bool) -> ConsoleSettings {
    let mut problems = Vec::new();
    let mut theme = ThemeName::Dark;
    let mut mouse = false;
    let mut overrides: HashMap<String, Vec<String>> = HashMap::new();
    if let Some(p) = path
        && p.exists()
    {
        match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| t.parse::<toml::Table>().map_err(|e| e.to_string()))
        {
            Ok(table) => {
                // A misspelt key would otherwise do nothing, silently.
                for key in table.keys() {
                    if !KNOWN_KEYS.contains(&key.as_str()) {
                        problems.push(format!(
                            "{}: unknown setting `{key}` ignored (known: {})",
                            p.display(),
                            KNOWN_KEYS.join(", ")
                        ));
                    }
                }
                if let Some(v) = table.get("theme") {
                    match v.as_str().and_then(ThemeName::parse) {
                        Some(t) => theme = t,
                        None => problems.push(format!(
                            "{}: theme must be \"dark\", \"light\" or \"mono\"",
                            p.display()
                        )),
                    }
                }
                if let Some(v) = table.get("mouse") {
                    match v.as_bool() {
                        Some(b) => mouse = b,
                        None => {
                            problems.push(format!("{}: mouse must be true or false", p.display()))
                        }
                    }
                }
                if let Some(keys) = table.get("keys").and_then(|k| k.as_table()) {
                    for (name, v) in keys {
                        let list = match v {
                            toml::Value::String(s) => vec![s.clone()],
                            toml::Value::Array(a) => a
                                .iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect(),
                            _ => {
                                problems.push(format!(
                                    "{}: [keys] {name} must be a string or a list",
                                    p.display()
                                ));
                                continue;
                            }
                        };
                        overrides.insert(name.clone(), list);
                    }
                }
            }
            Err(e) => problems.push(format!(
                "{}: cannot read it ({e}); using the defaults",
                p.display()
            )),
        }
    }
    if no_color {
        theme = ThemeName::Mono;
    }
    let (keys, key_problems) = KeyMap::with_overrides(&overrides);
    problems.extend(key_problems);
    ConsoleSettings {
        theme: Theme::new(theme),
        keys,
        mouse,
        problems,
        path: path.map(Path::to_path_buf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_setting_is_named_and_the_scheduler_section_is_known() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "them = \"light\"\n[scheduler]\nbudget_share = 50\n").unwrap();
        let s = load(Some(&path), false);
        assert_eq!(s.problems.len(), 1, "{:?}", s.problems);
        assert!(
            s.problems[0].contains("unknown setting `them` ignored"),
            "{:?}",
            s.problems
        );
    }

    #[test]
    fn the_file_sets_theme_and_keys_and_reports_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "theme = \"light\"\n[keys]\nsync = \"x\"\nquit = [\"x\"]\n",
        )
        .unwrap();
        let s = load(Some(&path), false);
        assert_eq!(s.theme.name, ThemeName::Light);
        assert!(
            s.problems.iter().any(|p| p.contains("bound to both")),
            "{:?}",
            s.problems
        );
        let mono = load(Some(&path), true);
        assert_eq!(mono.theme.name, ThemeName::Mono);
        std::fs::write(&path, "theme = ").unwrap();
        assert!(load(Some(&path), false).problems[0].contains("cannot read it"));
    }
}
