//! Where each configuration variable comes from: the process environment wins over `.env`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// Where a setting's value came from, shown by `env check` and the env panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The process environment.
    Env,
    /// The `.env` file in the working directory (or `--env-file`).
    #[serde(rename = ".env")]
    DotEnv,
    /// A command-line flag.
    Flag,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Env => "env",
            Source::DotEnv => ".env",
            Source::Flag => "flag",
        }
    }
}

/// The raw variables syncdeck reads, each with its origin. Nothing is validated here.
#[derive(Debug, Clone, Default)]
pub struct EnvSnapshot {
    values: BTreeMap<String, (String, Source)>,
    /// The `.env` file that was read, if any.
    pub dotenv_path: Option<PathBuf>,
}

impl EnvSnapshot {
    /// Reads `.env` (from `env_file`, else `./.env` when present) and the process environment.
    /// A malformed `.env` line is an error naming the file and line, so nothing is silently ignored.
    pub fn load(env_file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut snapshot = EnvSnapshot::default();
        let path = match env_file {
            Some(p) => Some(p.to_path_buf()),
            None => {
                let p = PathBuf::from(".env");
                p.is_file().then_some(p)
            }
        };
        if let Some(path) = path {
            snapshot.read_dotenv(&path)?;
            snapshot.dotenv_path = Some(path);
        }
        snapshot.overlay_process_env();
        Ok(snapshot)
    }

    /// The process environment alone, for reporting when `.env` itself is unreadable.
    pub fn process_env_only() -> Self {
        let mut snapshot = EnvSnapshot::default();
        snapshot.overlay_process_env();
        snapshot
    }

    /// Real environment variables win over `.env`.
    fn overlay_process_env(&mut self) {
        for name in super::ALL_VARIABLES.iter().chain(super::EXTRA_VARIABLES) {
            if let Ok(value) = std::env::var(name) {
                self.values.insert(name.to_string(), (value, Source::Env));
            }
        }
    }

    /// A snapshot from explicit pairs (tests and the demo use this instead of the process env).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut snapshot = EnvSnapshot::default();
        for (k, v) in pairs {
            snapshot
                .values
                .insert(k.to_string(), (v.to_string(), Source::Env));
        }
        snapshot
    }

    fn read_dotenv(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::DotEnvUnreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        for (index, line) in text.lines().enumerate() {
            if let Some((key, value)) =
                parse_dotenv_line(line).map_err(|reason| ConfigError::DotEnvLine {
                    path: path.to_path_buf(),
                    line: index + 1,
                    reason,
                })?
            {
                self.values.insert(key, (value, Source::DotEnv));
            }
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<(&str, Source)> {
        self.values.get(name).map(|(v, s)| (v.as_str(), *s))
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>, source: Source) {
        self.values.insert(name.to_string(), (value.into(), source));
    }

    pub fn remove(&mut self, name: &str) {
        self.values.remove(name);
    }
}

/// One `.env` line: blank lines and `#` comments give `None`; `KEY=VALUE` (optionally `export `,
/// optionally quoted) gives the pair. The error text says what is wrong, never the value.
pub fn parse_dotenv_line(line: &str) -> Result<Option<(String, String)>, String> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let body = trimmed.strip_prefix("export ").unwrap_or(trimmed);
    let Some((key, value)) = body.split_once('=') else {
        return Err("expected KEY=VALUE but the line has no '='".to_string());
    };
    let key = key.trim();
    if key.is_empty() {
        return Err("the line has no variable name before '='".to_string());
    }
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || key.starts_with(|c: char| c.is_ascii_digit())
    {
        return Err(format!(
            "'{key}' is not a valid variable name (letters, digits and _ only)"
        ));
    }
    let value = value.trim();
    let value = match value.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let inner = &value[1..];
            match inner.find(q) {
                Some(end)
                    if inner[end + 1..].trim().is_empty()
                        || inner[end + 1..].trim_start().starts_with('#') =>
                {
                    inner[..end].to_string()
                }
                Some(_) => return Err("unexpected text after the closing quote".to_string()),
                None => return Err(format!("the value opens a {q} quote that is never closed")),
            }
        }
        _ => match value.find(" #") {
            Some(i) => value[..i].trim_end().to_string(),
            None => value.to_string(),
        },
    };
    Ok(Some((key.to_string(), value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_shapes() {
        assert_eq!(
            parse_dotenv_line("A=b").unwrap(),
            Some(("A".into(), "b".into()))
        );
        assert_eq!(
            parse_dotenv_line("export A = b ").unwrap(),
            Some(("A".into(), "b".into()))
        );
        assert_eq!(
            parse_dotenv_line("A=\"b c\"").unwrap(),
            Some(("A".into(), "b c".into()))
        );
        assert_eq!(
            parse_dotenv_line("A='b#c' # note").unwrap(),
            Some(("A".into(), "b#c".into()))
        );
        assert_eq!(
            parse_dotenv_line("A=b # note").unwrap(),
            Some(("A".into(), "b".into()))
        );
        assert_eq!(
            parse_dotenv_line("A=").unwrap(),
            Some(("A".into(), "".into()))
        );
        assert_eq!(parse_dotenv_line("  # comment").unwrap(), None);
        assert_eq!(parse_dotenv_line("").unwrap(), None);
    }

    #[test]
    fn rejects_malformed_lines_without_echoing_values() {
        let e = parse_dotenv_line("JUSTAVALUE").unwrap_err();
        assert!(e.contains("no '='"), "{e}");
        assert!(parse_dotenv_line("=x").is_err());
        assert!(parse_dotenv_line("BAD-NAME=x").is_err());
        let e = parse_dotenv_line("K=\"secretvalue").unwrap_err();
        assert!(!e.contains("secretvalue"), "{e}");
    }
}
