//! What the console knows of runs in flight, per artist: from this process's engine events
//! and from the poll of every process's runs. The table, the jobs view and the quit question
//! read it.

use std::collections::HashMap;

use crate::engine::EngineEvent;
use crate::engine::events::PartProgress;
use crate::store::runs::{RunRow, RunStatus};
use crate::store::sync_status::Source;

/// The live state of one artist's run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    pub run_id: String,
    pub running: bool,
    pub step: Option<(Source, String)>,
    pub progress: HashMap<Source, PartProgress>,
    pub retry: Option<String>,
}

/// Live runs by artist id.
pub type LiveRuns = HashMap<String, Live>;

/// What a run read from the database does to the live state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveChange {
    /// It is active: show it (or that it now runs).
    Track,
    /// It ended elsewhere: stop showing it.
    End,
}

/// What a run read from the database changes, if anything.
pub fn change(live: &LiveRuns, r: &RunRow) -> Option<LiveChange> {
    match (live.get(&r.artist_id), r.status.is_active()) {
        (Some(l), true) if l.run_id == r.id && (l.running || r.status == RunStatus::Queued) => None,
        (_, true) => Some(LiveChange::Track),
        // Ended in another process (this one's own runs end by event).
        (Some(l), false) if l.run_id == r.id => Some(LiveChange::End),
        (_, false) => None,
    }
}

/// Applies a run read from the database.
pub fn apply(live: &mut LiveRuns, r: &RunRow) {
    match change(live, r) {
        Some(LiveChange::Track) => track(live, r),
        Some(LiveChange::End) => {
            live.remove(&r.artist_id);
        }
        None => {}
    }
}

/// Shows an active run (of any process) in its artist's row.
pub fn track(live: &mut LiveRuns, r: &RunRow) {
    let l = live.entry(r.artist_id.clone()).or_default();
    l.run_id.clone_from(&r.id);
    l.running |= r.status == RunStatus::Running;
}

/// Runs running here or elsewhere, as far as this console knows.
pub fn running(live: &LiveRuns) -> usize {
    live.values().filter(|l| l.running).count()
}

/// An engine event's effect on the live state; returns the artist whose row must be read
/// again, if any.
pub fn on_event(live: &mut LiveRuns, ev: &EngineEvent) -> Option<String> {
    match ev {
        EngineEvent::Queued {
            run_id, artist_id, ..
        } => {
            live.entry(artist_id.clone()).or_insert_with(|| Live {
                run_id: run_id.clone(),
                ..Live::default()
            });
            None
        }
        EngineEvent::Started {
            run_id, artist_id, ..
        } => {
            let l = live.entry(artist_id.clone()).or_default();
            l.run_id.clone_from(run_id);
            l.running = true;
            l.retry = None;
            Some(artist_id.clone())
        }
        EngineEvent::Step {
            artist_id,
            source,
            step,
            ..
        } => {
            let l = live.entry(artist_id.clone()).or_default();
            l.running = true;
            l.step = Some((*source, step.clone()));
            None
        }
        EngineEvent::Progress {
            artist_id,
            source,
            progress,
            ..
        } => {
            live.entry(artist_id.clone())
                .or_default()
                .progress
                .insert(*source, *progress);
            None
        }
        EngineEvent::Retrying {
            artist_id, reason, ..
        } => {
            let l = live.entry(artist_id.clone()).or_default();
            l.running = false;
            l.retry = Some(reason.clone());
            Some(artist_id.clone())
        }
        EngineEvent::PartFinished { artist_id, .. } => Some(artist_id.clone()),
        EngineEvent::Finished { artist_id, .. } => {
            live.remove(artist_id);
            Some(artist_id.clone())
        }
        EngineEvent::Waiting {
            artist_id,
            until,
            reason,
            ..
        } => {
            let l = live.entry(artist_id.clone()).or_default();
            l.running = false;
            l.step = None;
            l.retry = Some(format!(
                "waiting until {} for the quota reset: {reason}",
                until.with_timezone(&chrono::Local).format("%H:%M:%S")
            ));
            Some(artist_id.clone())
        }
        EngineEvent::Requeued { artist_id, .. } => {
            if let Some(l) = live.get_mut(artist_id) {
                l.running = false;
            }
            Some(artist_id.clone())
        }
        EngineEvent::Log(_) | EngineEvent::Database { .. } => None,
    }
}
