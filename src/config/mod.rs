//! Configuration: environment variables, `.env` and command-line flags folded into one [`Config`].
//!
//! Layer 1 of the design: nothing here does IO beyond reading `.env` and the environment.

mod env;
mod secret;

pub use env::{EnvSnapshot, Source, parse_dotenv_line};
pub use secret::{Secret, redact};

use std::path::PathBuf;
use url::Url;

/// Every variable of the design's configuration table, in the order they are shown.
pub const ALL_VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "TICKETMASTER_API_KEY",
    "SPOTIFY_CLIENT_ID",
    "SPOTIFY_CLIENT_SECRET",
    "SETLISTFM_API_KEY",
    "TICKETMASTER_BASE_URL",
    "SPOTIFY_API_BASE_URL",
    "SPOTIFY_ACCOUNTS_BASE_URL",
    "SETLISTFM_BASE_URL",
    "NO_COLOR",
];

/// Read too, but not shown as their own rows: the setlist.fm alias and syncdeck's own data dir.
pub const EXTRA_VARIABLES: &[&str] = &["SETLIST_FM_API_KEY", "SYNCDECK_DATA_DIR", "SYNCDECK_LOG"];

pub const DEFAULT_TICKETMASTER_BASE_URL: &str = "https://app.ticketmaster.com";
pub const DEFAULT_SPOTIFY_API_BASE_URL: &str = "https://api.spotify.com";
pub const DEFAULT_SPOTIFY_ACCOUNTS_BASE_URL: &str = "https://accounts.spotify.com";
pub const DEFAULT_SETLISTFM_BASE_URL: &str = "https://api.setlist.fm/rest/1.0";

/// What went wrong while reading configuration. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read {path}: {reason}; fix its permissions or pass another file with --env-file"
    )]
    DotEnvUnreadable { path: PathBuf, reason: String },
    #[error("{path} line {line}: {reason}; fix or remove that line (format: KEY=VALUE)")]
    DotEnvLine {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error(
        "cannot find a data directory for syncdeck (no HOME?); set SYNCDECK_DATA_DIR or pass --data-dir"
    )]
    NoDataDir,
}

/// Which database the store talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (created on `migrate`), or an in-memory database for tests.
    Sqlite { path: PathBuf, memory: bool },
    /// A Postgres server (a Supabase database or any other).
    Postgres { url: String },
}

impl DatabaseUrl {
    /// Parses `postgres://…`, `postgresql://…`, `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("it is empty; unset it to use the embedded SQLite default, or set postgres://… or sqlite://…".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let url = Url::parse(raw).map_err(|e| format!("not a valid postgres URL ({e}); expected postgres://user:password@host:5432/database"))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err("the postgres URL has no host; expected postgres://user:password@host:5432/database".into());
            }
            return Ok(DatabaseUrl::Postgres {
                url: raw.to_string(),
            });
        }
        if let Some(rest) = raw.strip_prefix("sqlite:") {
            if rest == ":memory:" || rest == "//:memory:" {
                return Ok(DatabaseUrl::Sqlite {
                    path: PathBuf::from(":memory:"),
                    memory: true,
                });
            }
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err("the sqlite URL has no file path; expected sqlite:///absolute/path.db or sqlite://relative.db".into());
            }
            return Ok(DatabaseUrl::Sqlite {
                path: PathBuf::from(path),
                memory: false,
            });
        }
        let scheme = raw
            .split("://")
            .next()
            .filter(|s| s.len() < raw.len())
            .unwrap_or("(none)");
        Err(format!(
            "unknown scheme '{scheme}'; syncdeck supports postgres://… (Supabase or any Postgres) and sqlite://PATH"
        ))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite { .. } => "sqlite",
            DatabaseUrl::Postgres { .. } => "postgres",
        }
    }

    /// Where the database is, with any password replaced: safe for logs and the header.
    pub fn display_location(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path, .. } => path.display().to_string(),
            DatabaseUrl::Postgres { url } => match Url::parse(url) {
                Ok(u) => {
                    let host = u.host_str().unwrap_or("?");
                    let port = u.port().unwrap_or(5432);
                    format!("{host}:{port}{}", u.path())
                }
                Err(_) => "postgres".into(),
            },
        }
    }
}

/// A database URL with any password replaced by `***`.
pub fn redact_database_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => {
            // Query parameters such as `password=` are redacted too.
            let mut u = u;
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            if pairs
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("password"))
            {
                u.query_pairs_mut()
                    .clear()
                    .extend_pairs(pairs.iter().map(|(k, v)| {
                        if k.eq_ignore_ascii_case("password") {
                            (k.as_str(), "***")
                        } else {
                            (k.as_str(), v.as_str())
                        }
                    }));
            }
            u.to_string()
        }
        Err(_) => raw.to_string(),
    }
}

/// The static verdict on one variable, before any network or database check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Missing,
    Invalid,
}

/// One row of the environment table: name, whether set, where from, a safe preview, a verdict.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VariableReport {
    pub name: &'static str,
    pub set: bool,
    pub source: Option<Source>,
    /// Redacted for secrets, password-free for URLs, the default when unset.
    pub preview: String,
    pub verdict: Verdict,
    pub required: bool,
    pub detail: String,
}

/// Kinds of variable, deciding how they are validated and shown.
#[derive(Clone, Copy)]
enum Kind {
    Database,
    Secret,
    BaseUrl(&'static str),
    Flag,
}

fn kind_of(name: &str) -> Kind {
    match name {
        "DATABASE_URL" => Kind::Database,
        "TICKETMASTER_API_KEY"
        | "SPOTIFY_CLIENT_ID"
        | "SPOTIFY_CLIENT_SECRET"
        | "SETLISTFM_API_KEY" => Kind::Secret,
        "TICKETMASTER_BASE_URL" => Kind::BaseUrl(DEFAULT_TICKETMASTER_BASE_URL),
        "SPOTIFY_API_BASE_URL" => Kind::BaseUrl(DEFAULT_SPOTIFY_API_BASE_URL),
        "SPOTIFY_ACCOUNTS_BASE_URL" => Kind::BaseUrl(DEFAULT_SPOTIFY_ACCOUNTS_BASE_URL),
        "SETLISTFM_BASE_URL" => Kind::BaseUrl(DEFAULT_SETLISTFM_BASE_URL),
        _ => Kind::Flag,
    }
}

/// Checks a base URL: http or https, a host, no credentials. Returns the parsed URL.
pub fn validate_base_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim())
        .map_err(|e| format!("not a URL ({e}); expected e.g. https://host[:port][/path]"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme '{}' is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL carries credentials; put keys in their own variables".into());
    }
    Ok(url)
}

fn validate_secret(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("set but empty".into());
    }
    if value.chars().any(char::is_whitespace) {
        return Err("contains whitespace (a stray space or newline from copy-paste?)".into());
    }
    if value.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    Ok(())
}

/// The static report for every variable of [`ALL_VARIABLES`], with the setlist.fm alias applied.
pub fn report_variables(snapshot: &EnvSnapshot) -> Vec<VariableReport> {
    let resolved = resolve_alias(snapshot);
    ALL_VARIABLES
        .iter()
        .map(|&name| {
            let kind = kind_of(name);
            let value = resolved.snapshot.get(name);
            let (preview, verdict, detail) = match (kind, value) {
                (Kind::Database, None) => (
                    "(default) embedded SQLite in the data dir".to_string(),
                    Verdict::Ok,
                    String::new(),
                ),
                (Kind::Database, Some((v, _))) => match DatabaseUrl::parse(v) {
                    Ok(db) => (
                        redact_database_url(v),
                        Verdict::Ok,
                        format!("{} at {}", db.backend_name(), db.display_location()),
                    ),
                    Err(e) => (redact_database_url(v), Verdict::Invalid, e),
                },
                (Kind::Secret, None) => (
                    "(unset)".to_string(),
                    Verdict::Missing,
                    format!("set {name} in the environment or .env"),
                ),
                (Kind::Secret, Some((v, _))) => match validate_secret(v) {
                    Ok(()) => (redact(v), Verdict::Ok, String::new()),
                    Err(e) => (redact(v), Verdict::Invalid, e),
                },
                (Kind::BaseUrl(default), None) => {
                    (format!("(default) {default}"), Verdict::Ok, String::new())
                }
                (Kind::BaseUrl(_), Some((v, _))) => match validate_base_url(v) {
                    Ok(u) => (u.to_string(), Verdict::Ok, String::new()),
                    Err(e) => ("(not shown)".to_string(), Verdict::Invalid, e),
                },
                (Kind::Flag, None) => ("(unset)".to_string(), Verdict::Ok, "colors on".to_string()),
                (Kind::Flag, Some(_)) => (
                    "(set)".to_string(),
                    Verdict::Ok,
                    "monochrome theme".to_string(),
                ),
            };
            let mut detail = detail;
            if let (true, Some(note)) = (name == "SETLISTFM_API_KEY", &resolved.alias_note) {
                detail = if detail.is_empty() {
                    note.clone()
                } else {
                    format!("{detail}; {note}")
                };
            }
            VariableReport {
                name,
                set: value.is_some(),
                source: value.map(|(_, s)| s),
                preview,
                verdict,
                required: matches!(kind, Kind::Secret),
                detail,
            }
        })
        .collect()
}

struct Resolved {
    snapshot: EnvSnapshot,
    alias_note: Option<String>,
}

/// Applies `SETLIST_FM_API_KEY` as an alias of `SETLISTFM_API_KEY`, with a note for the warning.
fn resolve_alias(snapshot: &EnvSnapshot) -> Resolved {
    let mut snapshot = snapshot.clone();
    let alias = snapshot
        .get("SETLIST_FM_API_KEY")
        .map(|(v, s)| (v.to_string(), s));
    let alias_note = match (alias, snapshot.get("SETLISTFM_API_KEY").is_some()) {
        (Some((value, source)), false) => {
            snapshot.set("SETLISTFM_API_KEY", value, source);
            Some(
                "read from the alias SETLIST_FM_API_KEY; rename it to SETLISTFM_API_KEY"
                    .to_string(),
            )
        }
        (Some(_), true) => {
            Some("SETLIST_FM_API_KEY is also set and ignored; remove it".to_string())
        }
        (None, _) => None,
    };
    Resolved {
        snapshot,
        alias_note,
    }
}

/// Command-line flags that override the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub database_url: Option<String>,
    pub env_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub no_color: bool,
}

/// The three provider keys (plus the Spotify client id), each optional until a sync needs it.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub ticketmaster_api_key: Option<Secret>,
    pub spotify_client_id: Option<Secret>,
    pub spotify_client_secret: Option<Secret>,
    pub setlistfm_api_key: Option<Secret>,
}

/// Base URLs of the three APIs; tests and the demo point them at the fake.
#[derive(Debug, Clone)]
pub struct BaseUrls {
    pub ticketmaster: Url,
    pub spotify_api: Url,
    pub spotify_accounts: Url,
    pub setlistfm: Url,
}

impl Default for BaseUrls {
    fn default() -> Self {
        let parse = |s: &str| Url::parse(s).expect("built-in default URL is valid");
        BaseUrls {
            ticketmaster: parse(DEFAULT_TICKETMASTER_BASE_URL),
            spotify_api: parse(DEFAULT_SPOTIFY_API_BASE_URL),
            spotify_accounts: parse(DEFAULT_SPOTIFY_ACCOUNTS_BASE_URL),
            setlistfm: parse(DEFAULT_SETLISTFM_BASE_URL),
        }
    }
}

/// Everything syncdeck runs with. Build it with [`Config::load`] (process env) or
/// [`Config::from_snapshot`] (tests, demo).
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseUrl,
    pub credentials: Credentials,
    pub base_urls: BaseUrls,
    pub no_color: bool,
    pub data_dir: PathBuf,
    /// Warnings to show once (alias in use, …). Never contain a secret.
    pub warnings: Vec<String>,
    /// The variables as read, for `env check` and the env panel.
    pub snapshot: EnvSnapshot,
}

impl Config {
    /// Reads `.env` and the environment, then applies flags.
    pub fn load(overrides: &Overrides) -> Result<Self, ConfigError> {
        let snapshot = EnvSnapshot::load(overrides.env_file.as_deref())?;
        Self::from_snapshot(snapshot, overrides)
    }

    /// Validates a snapshot into a config. Fails on the first invalid variable, with what to do.
    pub fn from_snapshot(
        mut snapshot: EnvSnapshot,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        if let Some(url) = &overrides.database_url {
            snapshot.set("DATABASE_URL", url.clone(), Source::Flag);
        }
        if let Some(dir) = &overrides.data_dir {
            snapshot.set("SYNCDECK_DATA_DIR", dir.display().to_string(), Source::Flag);
        }
        let resolved = resolve_alias(&snapshot);
        let mut warnings = Vec::new();
        if let Some(note) = resolved.alias_note {
            warnings.push(format!("SETLISTFM_API_KEY: {note}"));
        }
        let env = &resolved.snapshot;

        let data_dir = match env.get("SYNCDECK_DATA_DIR") {
            Some((dir, _)) if !dir.is_empty() => PathBuf::from(dir),
            _ => default_data_dir().ok_or(ConfigError::NoDataDir)?,
        };
        let database = match env.get("DATABASE_URL") {
            Some((raw, _)) => DatabaseUrl::parse(raw).map_err(|reason| ConfigError::Invalid {
                name: "DATABASE_URL",
                reason,
            })?,
            None => DatabaseUrl::Sqlite {
                path: data_dir.join("syncdeck.db"),
                memory: false,
            },
        };
        let secret = |name: &'static str| -> Result<Option<Secret>, ConfigError> {
            match env.get(name) {
                None => Ok(None),
                Some((v, _)) => validate_secret(v)
                    .map(|()| Some(Secret::new(v)))
                    .map_err(|reason| ConfigError::Invalid { name, reason }),
            }
        };
        let credentials = Credentials {
            ticketmaster_api_key: secret("TICKETMASTER_API_KEY")?,
            spotify_client_id: secret("SPOTIFY_CLIENT_ID")?,
            spotify_client_secret: secret("SPOTIFY_CLIENT_SECRET")?,
            setlistfm_api_key: secret("SETLISTFM_API_KEY")?,
        };
        let base = |name: &'static str, default: &str| -> Result<Url, ConfigError> {
            let raw = env.get(name).map(|(v, _)| v).unwrap_or(default);
            validate_base_url(raw).map_err(|reason| ConfigError::Invalid { name, reason })
        };
        let base_urls = BaseUrls {
            ticketmaster: base("TICKETMASTER_BASE_URL", DEFAULT_TICKETMASTER_BASE_URL)?,
            spotify_api: base("SPOTIFY_API_BASE_URL", DEFAULT_SPOTIFY_API_BASE_URL)?,
            spotify_accounts: base(
                "SPOTIFY_ACCOUNTS_BASE_URL",
                DEFAULT_SPOTIFY_ACCOUNTS_BASE_URL,
            )?,
            setlistfm: base("SETLISTFM_BASE_URL", DEFAULT_SETLISTFM_BASE_URL)?,
        };
        // NO_COLOR: any non-empty value turns colors off (no-color.org).
        let no_color =
            overrides.no_color || env.get("NO_COLOR").is_some_and(|(v, _)| !v.is_empty());
        Ok(Config {
            database,
            credentials,
            base_urls,
            no_color,
            data_dir,
            warnings,
            snapshot,
        })
    }

    /// Where log files go.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

/// `~/.local/share/syncdeck` on Linux (the platform's data dir elsewhere).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "syncdeck").map(|d| d.data_dir().to_path_buf())
}

/// `~/.config/syncdeck` on Linux: keymap and theme overrides live here.
pub fn default_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "syncdeck").map(|d| d.config_dir().to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(pairs: &[(&str, &str)]) -> EnvSnapshot {
        let mut s = EnvSnapshot::from_pairs(pairs.iter().copied());
        s.set("SYNCDECK_DATA_DIR", "/tmp/syncdeck-test", Source::Env);
        s
    }

    #[test]
    fn database_url_schemes() {
        assert!(matches!(
            DatabaseUrl::parse("postgres://u:p@h:5432/d"),
            Ok(DatabaseUrl::Postgres { .. })
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgresql://h/d"),
            Ok(DatabaseUrl::Postgres { .. })
        ));
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/a.db").unwrap(),
            DatabaseUrl::Sqlite {
                path: "/tmp/a.db".into(),
                memory: false
            }
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://a.db?mode=rwc").unwrap(),
            DatabaseUrl::Sqlite {
                path: "a.db".into(),
                memory: false
            }
        );
        assert!(matches!(
            DatabaseUrl::parse("sqlite::memory:"),
            Ok(DatabaseUrl::Sqlite { memory: true, .. })
        ));
        let e = DatabaseUrl::parse("mysql://nope").unwrap_err();
        assert!(e.contains("unknown scheme 'mysql'"), "{e}");
        assert!(
            DatabaseUrl::parse("nonsense")
                .unwrap_err()
                .contains("unknown scheme")
        );
        assert!(DatabaseUrl::parse("").is_err());
    }

    #[test]
    fn database_passwords_are_redacted() {
        let shown = redact_database_url("postgres://app:hunter2secret@db.example:5432/app");
        assert!(!shown.contains("hunter2secret"), "{shown}");
        assert!(shown.contains("***"));
        let shown =
            redact_database_url("postgres://db.example/app?password=hunter2secret&sslmode=require");
        assert!(!shown.contains("hunter2secret"), "{shown}");
        assert_eq!(
            DatabaseUrl::parse("postgres://a:pw@db.example:6543/app")
                .unwrap()
                .display_location(),
            "db.example:6543/app"
        );
    }

    #[test]
    fn environment_wins_over_dotenv_and_flags_win_over_both() {
        let mut s = EnvSnapshot::default();
        s.set("SYNCDECK_DATA_DIR", "/tmp/x", Source::Env);
        s.set("TICKETMASTER_API_KEY", "from-dotenv-value", Source::DotEnv);
        // Environment read after .env replaces it, as EnvSnapshot::load does.
        s.set("TICKETMASTER_API_KEY", "from-env-value", Source::Env);
        s.set("DATABASE_URL", "sqlite:///tmp/env.db", Source::Env);
        let overrides = Overrides {
            database_url: Some("sqlite:///tmp/flag.db".into()),
            ..Default::default()
        };
        let c = Config::from_snapshot(s, &overrides).unwrap();
        assert_eq!(
            c.credentials.ticketmaster_api_key.unwrap().expose(),
            "from-env-value"
        );
        assert_eq!(
            c.database,
            DatabaseUrl::Sqlite {
                path: "/tmp/flag.db".into(),
                memory: false
            }
        );
    }

    #[test]
    fn setlistfm_alias_is_accepted_with_a_warning() {
        let c = Config::from_snapshot(
            snapshot(&[("SETLIST_FM_API_KEY", "aliasvalue123")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            c.credentials.setlistfm_api_key.unwrap().expose(),
            "aliasvalue123"
        );
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("SETLIST_FM_API_KEY"));
        assert!(!c.warnings[0].contains("aliasvalue123"));
        let both = snapshot(&[
            ("SETLIST_FM_API_KEY", "alias"),
            ("SETLISTFM_API_KEY", "primary"),
        ]);
        let c = Config::from_snapshot(both, &Overrides::default()).unwrap();
        assert_eq!(c.credentials.setlistfm_api_key.unwrap().expose(), "primary");
        assert!(c.warnings[0].contains("ignored"));
    }

    #[test]
    fn base_urls_are_validated_with_a_clear_message() {
        let e = Config::from_snapshot(
            snapshot(&[("TICKETMASTER_BASE_URL", "ftp://x")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("TICKETMASTER_BASE_URL")
                && e.to_string().contains("http or https"),
            "{e}"
        );
        let e = Config::from_snapshot(
            snapshot(&[("SPOTIFY_API_BASE_URL", "not a url")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("SPOTIFY_API_BASE_URL"), "{e}");
        let c = Config::from_snapshot(
            snapshot(&[("SETLISTFM_BASE_URL", "http://127.0.0.1:9/rest/1.0")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            c.base_urls.setlistfm.as_str(),
            "http://127.0.0.1:9/rest/1.0"
        );
        assert_eq!(
            c.base_urls.ticketmaster.as_str(),
            "https://app.ticketmaster.com/"
        );
    }

    #[test]
    fn report_marks_missing_invalid_and_ok_without_values() {
        let canary = "spCANARYz9y8x7w6v5u4t3s2";
        let s = snapshot(&[
            ("SPOTIFY_CLIENT_SECRET", canary),
            ("TICKETMASTER_API_KEY", ""),
            ("DATABASE_URL", "mysql://x"),
        ]);
        let rows = report_variables(&s);
        let row = |n: &str| rows.iter().find(|r| r.name == n).unwrap();
        assert_eq!(row("SPOTIFY_CLIENT_SECRET").verdict, Verdict::Ok);
        assert_eq!(row("TICKETMASTER_API_KEY").verdict, Verdict::Invalid);
        assert_eq!(row("SETLISTFM_API_KEY").verdict, Verdict::Missing);
        assert_eq!(row("DATABASE_URL").verdict, Verdict::Invalid);
        assert_eq!(row("TICKETMASTER_BASE_URL").verdict, Verdict::Ok);
        let all = serde_json::to_string(&rows).unwrap() + &format!("{rows:?}");
        assert!(!all.contains(canary));
    }

    #[test]
    fn empty_no_color_keeps_colors() {
        let c =
            Config::from_snapshot(snapshot(&[("NO_COLOR", "")]), &Overrides::default()).unwrap();
        assert!(!c.no_color);
        let c =
            Config::from_snapshot(snapshot(&[("NO_COLOR", "1")]), &Overrides::default()).unwrap();
        assert!(c.no_color);
    }
}
