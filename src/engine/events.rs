//! The one stream of typed engine events the TUI and the CLI both consume.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::store::runs::RunStatus;
use crate::store::sync_status::{PartStatus, Source};

/// Rows written by one run, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RunCounts {
    pub venues: u64,
    pub shows: u64,
    pub songs: u64,
    pub setlists: u64,
    pub setlist_songs: u64,
    /// Items the providers returned that could not be read (each named in the log).
    pub skipped: u64,
    pub requests: u64,
}

impl RunCounts {
    pub fn add(&mut self, other: &RunCounts) {
        self.venues += other.venues;
        self.shows += other.shows;
        self.songs += other.songs;
        self.setlists += other.setlists;
        self.setlist_songs += other.setlist_songs;
        self.skipped += other.skipped;
        self.requests += other.requests;
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// How far one source's part has come, for "page 3/8".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PartProgress {
    pub done: u64,
    pub total: u64,
    pub items: u64,
}

/// A log line from the engine's `tracing` events.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub level: LogLevel,
    pub target: String,
    pub message: String,
    /// The artist the line is about, when the line was logged inside a run.
    pub artist_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }
}

/// Everything the engine tells its front ends.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EngineEvent {
    Queued {
        run_id: String,
        artist_id: String,
        artist_name: String,
        /// The artist already had an active run, which this request joined.
        joined: bool,
        priority: i32,
    },
    Started {
        run_id: String,
        artist_id: String,
        artist_name: String,
        attempt: i32,
        worker: String,
    },
    Step {
        run_id: String,
        artist_id: String,
        source: Source,
        step: String,
    },
    Progress {
        run_id: String,
        artist_id: String,
        source: Source,
        progress: PartProgress,
    },
    Retrying {
        run_id: String,
        artist_id: String,
        source: Option<Source>,
        attempt: i32,
        reason: String,
        #[serde(serialize_with = "ser_duration_ms")]
        wait: Duration,
    },
    PartFinished {
        run_id: String,
        artist_id: String,
        source: Source,
        status: PartStatus,
        error: Option<String>,
    },
    Finished {
        run_id: String,
        artist_id: String,
        artist_name: String,
        status: RunStatus,
        error: Option<String>,
        counts: RunCounts,
        #[serde(serialize_with = "ser_duration_ms")]
        duration: Duration,
    },
    /// A run went back to the queue to wait for a provider's daily quota reset; it runs
    /// again (its remaining parts only) at `until`.
    Waiting {
        run_id: String,
        artist_id: String,
        artist_name: String,
        until: chrono::DateTime<chrono::Utc>,
        reason: String,
    },
    /// A run went back to the queue (its process stopped or died).
    Requeued {
        run_id: String,
        artist_id: String,
        reason: String,
    },
    /// The database failed as a whole (a full disk, an I/O error, a lost connection), or
    /// works again. `message` names the database and what to do.
    Database {
        usable: bool,
        message: String,
    },
    Log(LogLine),
}

fn ser_duration_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl EngineEvent {
    pub fn artist_id(&self) -> Option<&str> {
        match self {
            EngineEvent::Queued { artist_id, .. }
            | EngineEvent::Started { artist_id, .. }
            | EngineEvent::Step { artist_id, .. }
            | EngineEvent::Progress { artist_id, .. }
            | EngineEvent::Retrying { artist_id, .. }
            | EngineEvent::PartFinished { artist_id, .. }
            | EngineEvent::Finished { artist_id, .. }
            | EngineEvent::Requeued { artist_id, .. }
            | EngineEvent::Waiting { artist_id, .. } => Some(artist_id),
            EngineEvent::Log(l) => l.artist_id.as_deref(),
            EngineEvent::Database { .. } => None,
        }
    }
}

/// A broadcast bus: every subscriber sees every event from its subscription on. A slow
/// subscriber loses the oldest events (and is told how many), never blocks the engine.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<EngineEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(8192)
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> EventBus {
        let (tx, _) = broadcast::channel(capacity.max(16));
        EventBus { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.tx.subscribe()
    }

    /// Sends to whoever listens; no listener is fine.
    pub fn send(&self, event: EngineEvent) {
        let _ = self.tx.send(event);
    }
}
