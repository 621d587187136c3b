//! What one provider's client has sent and what came back, counted since the process
//! started: the console's figures (requests/s, 429s, 5xx) are differences of two readings.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts since the client was built; only ever grow.
#[derive(Debug, Default)]
pub struct Traffic {
    sent: AtomicU64,
    throttled: AtomicU64,
    server_errors: AtomicU64,
    no_answer: AtomicU64,
}

/// One reading of [`Traffic`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrafficCounts {
    /// Requests that left (answered or not).
    pub sent: u64,
    /// Answers 429.
    pub throttled: u64,
    /// Answers 500–599.
    pub server_errors: u64,
    /// No answer: refused connections, resets, timeouts.
    pub no_answer: u64,
}

impl TrafficCounts {
    /// What happened between an earlier reading and this one (a restarted counter counts
    /// from zero).
    pub fn since(&self, earlier: &TrafficCounts) -> TrafficCounts {
        let d = |now: u64, then: u64| now.checked_sub(then).unwrap_or(now);
        TrafficCounts {
            sent: d(self.sent, earlier.sent),
            throttled: d(self.throttled, earlier.throttled),
            server_errors: d(self.server_errors, earlier.server_errors),
            no_answer: d(self.no_answer, earlier.no_answer),
        }
    }
}

impl Traffic {
    /// A request left.
    pub fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Its answer's status.
    pub fn answered(&self, status: u16) {
        match status {
            429 => self.throttled.fetch_add(1, Ordering::Relaxed),
            500..=599 => self.server_errors.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    /// It got no answer.
    pub fn unanswered(&self) {
        self.no_answer.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counts(&self) -> TrafficCounts {
        TrafficCounts {
            sent: self.sent.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            no_answer: self.no_answer.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_kind_of_answer_and_differences_of_readings() {
        let t = Traffic::default();
        for status in [200, 429, 503, 500, 404] {
            t.sent();
            t.answered(status);
        }
        t.sent();
        t.unanswered();
        let first = t.counts();
        assert_eq!(
            first,
            TrafficCounts {
                sent: 6,
                throttled: 1,
                server_errors: 2,
                no_answer: 1
            }
        );
        t.sent();
        t.answered(429);
        let d = t.counts().since(&first);
        assert_eq!((d.sent, d.throttled, d.server_errors), (1, 1, 0));
        // A reading from a restarted process (counts below the earlier ones) counts from 0.
        assert_eq!(
            TrafficCounts::default().since(&first),
            TrafficCounts::default()
        );
    }
}
