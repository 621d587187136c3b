//! When the console reads every artist again. Its own syncs and other processes' runs arrive
//! row by row (events, the 2 s poll); a full read is only a safety net for edits made outside
//! syncdeck (the app, SQL by hand): within `after_change` once the newest `updated_at` moved
//! since the last full read, and every `anyway` regardless (an edit that left `updated_at`
//! alone). Any full read, whatever asked for it, restarts both clocks.

use std::time::{Duration, Instant};

pub struct ReloadPolicy {
    after_change: Duration,
    anyway: Duration,
    last_load: Instant,
    /// The newest `updated_at` as of the last full read (`None` until a poll has read one).
    at_load: Option<Option<String>>,
    /// The newest `updated_at` the polls read last.
    seen: Option<Option<String>>,
}

impl ReloadPolicy {
    pub fn new(after_change: Duration, anyway: Duration, now: Instant) -> ReloadPolicy {
        ReloadPolicy {
            after_change,
            anyway,
            last_load: now,
            at_load: None,
            seen: None,
        }
    }

    /// A poll read the newest `updated_at`.
    pub fn observe(&mut self, newest: Option<String>) {
        // The first reading stands for what the start-up load saw.
        self.at_load.get_or_insert_with(|| newest.clone());
        self.seen = Some(newest);
    }

    /// Every artist was read (at start, on `ctrl-r`, after a count change, or by this policy).
    pub fn loaded(&mut self, now: Instant) {
        self.last_load = now;
        if self.seen.is_some() {
            self.at_load.clone_from(&self.seen);
        }
    }

    /// Whether a full read is due now.
    pub fn due(&self, now: Instant) -> bool {
        let since = now.saturating_duration_since(self.last_load);
        let moved = self.seen.is_some() && self.seen != self.at_load;
        (moved && since >= self.after_change) || since >= self.anyway
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn reloads_after_a_change_or_after_the_long_interval() {
        let t0 = Instant::now();
        let mut p = ReloadPolicy::new(5 * MIN, 30 * MIN, t0);
        p.observe(Some("2026-11-26T10:00:00Z".into()));
        assert!(!p.due(t0 + 10 * MIN), "nothing moved");
        assert!(p.due(t0 + 30 * MIN), "the long interval");

        p.observe(Some("2026-11-26T10:05:00Z".into()));
        assert!(
            !p.due(t0 + 4 * MIN),
            "moved, but not 5 minutes since the last read"
        );
        assert!(p.due(t0 + 5 * MIN));

        // Any full read restarts the clocks and takes the newest value as seen.
        p.loaded(t0 + 6 * MIN);
        assert!(!p.due(t0 + 12 * MIN));
        assert!(p.due(t0 + 36 * MIN));
    }

    #[test]
    fn no_reading_yet_means_only_the_long_interval() {
        let t0 = Instant::now();
        let mut p = ReloadPolicy::new(5 * MIN, 30 * MIN, t0);
        p.loaded(t0 + MIN);
        assert!(!p.due(t0 + 20 * MIN));
        assert!(p.due(t0 + 31 * MIN));
        // An empty table reads as `None`: a value like any other.
        p.observe(None);
        assert!(!p.due(t0 + 20 * MIN));
    }
}
