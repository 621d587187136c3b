//! `artists.sync_status`: exactly `{"ticketmaster": S, "spotify": S, "setlistfm": S}` on write,
//! read tolerantly from whatever an existing database holds.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Backend;

/// One source's status, exactly the four values the app's frontend reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartStatus {
    Pending,
    Syncing,
    Success,
    Error,
}

impl PartStatus {
    pub const ALL: [PartStatus; 4] = [
        PartStatus::Pending,
        PartStatus::Syncing,
        PartStatus::Success,
        PartStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PartStatus::Pending => "pending",
            PartStatus::Syncing => "syncing",
            PartStatus::Success => "success",
            PartStatus::Error => "error",
        }
    }

    /// Maps any word an older writer used onto the four values; unknown words read as pending.
    pub fn from_word(word: &str) -> PartStatus {
        match word.trim().to_ascii_lowercase().as_str() {
            "syncing" | "in_progress" | "running" => PartStatus::Syncing,
            "success" | "complete" | "completed" => PartStatus::Success,
            "error" | "failed" => PartStatus::Error,
            _ => PartStatus::Pending,
        }
    }

    pub fn parse(word: &str) -> Option<PartStatus> {
        PartStatus::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

impl std::fmt::Display for PartStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three sources, with their key in `sync_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Ticketmaster,
    Spotify,
    Setlistfm,
}

impl Source {
    pub const ALL: [Source; 3] = [Source::Ticketmaster, Source::Spotify, Source::Setlistfm];

    /// The key in `sync_status`.
    pub fn key(self) -> &'static str {
        match self {
            Source::Ticketmaster => "ticketmaster",
            Source::Spotify => "spotify",
            Source::Setlistfm => "setlistfm",
        }
    }

    /// How operators write it: `ticketmaster`, `spotify`, `setlist.fm`.
    pub fn label(self) -> &'static str {
        match self {
            Source::Ticketmaster => "ticketmaster",
            Source::Spotify => "spotify",
            Source::Setlistfm => "setlist.fm",
        }
    }

    /// The provider's own name, for sentences: `Ticketmaster`, `Spotify`, `setlist.fm`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Ticketmaster => "Ticketmaster",
            Source::Spotify => "Spotify",
            Source::Setlistfm => "setlist.fm",
        }
    }

    pub fn parse(word: &str) -> Option<Source> {
        match word.trim().to_ascii_lowercase().as_str() {
            "ticketmaster" | "tm" => Some(Source::Ticketmaster),
            "spotify" | "sp" => Some(Source::Spotify),
            "setlistfm" | "setlist.fm" | "setlist_fm" | "sf" => Some(Source::Setlistfm),
            _ => None,
        }
    }
}

/// The per-source statuses of one artist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub ticketmaster: PartStatus,
    pub spotify: PartStatus,
    pub setlistfm: PartStatus,
}

impl Default for SyncStatus {
    fn default() -> Self {
        SyncStatus::all(PartStatus::Pending)
    }
}

/// The overall state of an artist, derived from its three parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Overall {
    Syncing,
    Error,
    Pending,
    Success,
}

impl Overall {
    pub fn as_str(self) -> &'static str {
        match self {
            Overall::Syncing => "syncing",
            Overall::Error => "error",
            Overall::Pending => "pending",
            Overall::Success => "success",
        }
    }
}

impl SyncStatus {
    pub fn all(s: PartStatus) -> Self {
        SyncStatus {
            ticketmaster: s,
            spotify: s,
            setlistfm: s,
        }
    }

    pub fn get(&self, source: Source) -> PartStatus {
        match source {
            Source::Ticketmaster => self.ticketmaster,
            Source::Spotify => self.spotify,
            Source::Setlistfm => self.setlistfm,
        }
    }

    pub fn set(&mut self, source: Source, status: PartStatus) {
        match source {
            Source::Ticketmaster => self.ticketmaster = status,
            Source::Spotify => self.spotify = status,
            Source::Setlistfm => self.setlistfm = status,
        }
    }

    pub fn parts(&self) -> [(Source, PartStatus); 3] {
        Source::ALL.map(|s| (s, self.get(s)))
    }

    /// Syncing beats error beats pending; success only when all three succeeded.
    pub fn overall(&self) -> Overall {
        let parts = [self.ticketmaster, self.spotify, self.setlistfm];
        if parts.contains(&PartStatus::Syncing) {
            Overall::Syncing
        } else if parts.contains(&PartStatus::Error) {
            Overall::Error
        } else if parts.iter().all(|p| *p == PartStatus::Success) {
            Overall::Success
        } else {
            Overall::Pending
        }
    }

    /// The canonical JSON written to the database: exactly the three keys.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "ticketmaster": self.ticketmaster.as_str(),
            "spotify": self.spotify.as_str(),
            "setlistfm": self.setlistfm.as_str(),
        })
        .to_string()
    }

    /// Reads what a database holds: `NULL`, `{}`, missing keys, the old progress object
    /// (`complete`, `step`, `progress`, `{status: "error"}`), a JSON string or plain text.
    /// Never fails; a part that cannot be read is `pending`. [`sql_part_expr`] mirrors this.
    pub fn from_db(raw: Option<&str>) -> SyncStatus {
        let Some(raw) = raw else {
            return SyncStatus::default();
        };
        let (object, whole): (Option<serde_json::Map<String, Value>>, Option<String>) =
            match serde_json::from_str::<Value>(raw) {
                Ok(Value::Object(map)) => {
                    let whole = map
                        .get("status")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    (Some(map), whole)
                }
                Ok(Value::String(s)) => (None, Some(s)),
                Ok(_) => (None, None),
                Err(_) => (None, Some(raw.trim().to_string())),
            };
        let part = |source: Source| -> PartStatus {
            let own = object
                .as_ref()
                .and_then(|m| m.get(source.key()))
                .and_then(Value::as_str);
            match (own, &whole) {
                (Some(word), _) => PartStatus::from_word(word),
                (None, Some(word)) => PartStatus::from_word(word),
                (None, None) => PartStatus::Pending,
            }
        };
        SyncStatus {
            ticketmaster: part(Source::Ticketmaster),
            spotify: part(Source::Spotify),
            setlistfm: part(Source::Setlistfm),
        }
    }
}

fn sql_word_map(expr: &str) -> String {
    format!(
        "(CASE lower(trim({expr})) WHEN 'syncing' THEN 'syncing' WHEN 'in_progress' THEN 'syncing' WHEN 'running' THEN 'syncing' \
         WHEN 'success' THEN 'success' WHEN 'complete' THEN 'success' WHEN 'completed' THEN 'success' \
         WHEN 'error' THEN 'error' WHEN 'failed' THEN 'error' ELSE 'pending' END)"
    )
}

/// An SQL expression giving one source's normalised status of `column` (a `sync_status` column),
/// exactly as [`SyncStatus::from_db`] reads it, so filters and sorts agree with what is shown.
pub fn sql_part_expr(backend: Backend, column: &str, source: Source) -> String {
    let key = source.key();
    let (own, whole) = match backend {
        Backend::Postgres => (
            format!(
                "(CASE WHEN jsonb_typeof({column}->'{key}') = 'string' THEN {column}->>'{key}' END)"
            ),
            format!(
                "(CASE WHEN jsonb_typeof({column}) = 'string' THEN {column} #>> '{{}}' \
                 WHEN jsonb_typeof({column}->'status') = 'string' THEN {column}->>'status' END)"
            ),
        ),
        Backend::Sqlite => (
            format!(
                "(CASE WHEN json_valid({column}) THEN (CASE WHEN json_type({column}, '$.{key}') = 'text' THEN json_extract({column}, '$.{key}') END) END)"
            ),
            format!(
                "(CASE WHEN {column} IS NULL THEN NULL WHEN NOT json_valid({column}) THEN trim({column}) \
                 WHEN json_type({column}) = 'text' THEN json_extract({column}, '$') \
                 WHEN json_type({column}, '$.status') = 'text' THEN json_extract({column}, '$.status') END)"
            ),
        ),
    };
    format!(
        "(CASE WHEN {own} IS NOT NULL THEN {} WHEN {whole} IS NOT NULL THEN {} ELSE 'pending' END)",
        sql_word_map(&own),
        sql_word_map(&whole)
    )
}

/// An SQL expression for the overall status (same rule as [`SyncStatus::overall`]).
pub fn sql_overall_expr(backend: Backend, column: &str) -> String {
    let [tm, sp, sf] = Source::ALL.map(|s| sql_part_expr(backend, column, s));
    format!(
        "(CASE WHEN 'syncing' IN ({tm}, {sp}, {sf}) THEN 'syncing' WHEN 'error' IN ({tm}, {sp}, {sf}) THEN 'error' \
         WHEN {tm} = 'success' AND {sp} = 'success' AND {sf} = 'success' THEN 'success' ELSE 'pending' END)"
    )
}

/// Values an existing database may hold in `sync_status`, with what each part must read as.
/// Shared by the unit tests and the SQL-mirror tests on both backends.
#[doc(hidden)]
pub const TOLERANT_SAMPLES: &[(Option<&str>, [PartStatus; 3])] = {
    use PartStatus::*;
    &[
        (None, [Pending, Pending, Pending]),
        (Some("{}"), [Pending, Pending, Pending]),
        (
            Some(r#"{"ticketmaster":"success"}"#),
            [Success, Pending, Pending],
        ),
        (
            Some(r#"{"ticketmaster":"syncing","spotify":"error","setlistfm":"success"}"#),
            [Syncing, Error, Success],
        ),
        (
            Some(
                r#"{"ticketmaster":"complete","spotify":"pending","step":"complete","progress":4,"total_steps":4}"#,
            ),
            [Success, Pending, Pending],
        ),
        (
            Some(r#"{"status":"error","error":"boom","timestamp":"2025-05-08"}"#),
            [Error, Error, Error],
        ),
        (Some(r#""syncing""#), [Syncing, Syncing, Syncing]),
        (Some("syncing"), [Syncing, Syncing, Syncing]),
        (Some("garbage"), [Pending, Pending, Pending]),
        (Some("[1,2]"), [Pending, Pending, Pending]),
        (
            Some(r#"{"ticketmaster":{"nested":true},"spotify":7}"#),
            [Pending, Pending, Pending],
        ),
        (
            Some(r#"{"ticketmaster":"WEIRD"}"#),
            [Pending, Pending, Pending],
        ),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_shape_an_old_database_holds() {
        for (raw, want) in TOLERANT_SAMPLES {
            let got = SyncStatus::from_db(*raw);
            assert_eq!(
                [got.ticketmaster, got.spotify, got.setlistfm],
                *want,
                "input {raw:?}"
            );
        }
    }

    #[test]
    fn writes_exactly_three_keys() {
        let mut s = SyncStatus::default();
        s.set(Source::Spotify, PartStatus::Error);
        let v: Value = serde_json::from_str(&s.to_json()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["setlistfm", "spotify", "ticketmaster"]);
        assert_eq!(v["spotify"], "error");
        assert_eq!(SyncStatus::from_db(Some(&s.to_json())), s);
    }

    #[test]
    fn overall_rules() {
        use PartStatus::*;
        let s = |a, b, c| SyncStatus {
            ticketmaster: a,
            spotify: b,
            setlistfm: c,
        };
        assert_eq!(s(Success, Success, Success).overall(), Overall::Success);
        assert_eq!(s(Success, Error, Syncing).overall(), Overall::Syncing);
        assert_eq!(s(Success, Error, Success).overall(), Overall::Error);
        assert_eq!(s(Success, Pending, Success).overall(), Overall::Pending);
    }
}
