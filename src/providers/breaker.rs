//! A per-provider circuit breaker. When a provider's host gives no answer at all (connection
//! refused, DNS failure, timeout) several times in a row, calling it again only costs every
//! run its full retry budget: the breaker opens, and for a cool-down every request fails at
//! once with the host named. After the cool-down one request goes through as a probe; an
//! answer of any kind (even an HTTP error: the host is there) closes the breaker, another
//! failure opens it for a further cool-down.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// When to open and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive requests without an answer that open the breaker.
    pub threshold: u32,
    /// How long it stays open before a probe is let through.
    pub cool_down: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// Why a request may not go out now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// `host:port` that did not answer.
    pub host: String,
    pub failures: u32,
    /// The last failure, in words.
    pub last_error: String,
    /// How long until a probe is let through.
    pub retry_in: Duration,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// A probe is out since this instant (only one at a time).
    probing_since: Option<Instant>,
    host: String,
    last_error: String,
}

#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Breaker {
        Breaker {
            settings,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counters inconsistent in a way
        // that matters (the worst is one extra probe), so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a request go out now? `probe_timeout` bounds how long one probe blocks others
    /// (a probe whose caller went away never reports back).
    pub fn admit(&self, now: Instant, probe_timeout: Duration) -> Result<(), Open> {
        let mut s = self.lock();
        let Some(until) = s.open_until else {
            return Ok(());
        };
        let probe_free = s
            .probing_since
            .is_none_or(|since| now.duration_since(since) >= probe_timeout);
        if now >= until && probe_free {
            s.probing_since = Some(now);
            return Ok(());
        }
        Err(Open {
            host: s.host.clone(),
            failures: s.failures,
            last_error: s.last_error.clone(),
            retry_in: until.saturating_duration_since(now),
        })
    }

    /// The host answered (with anything, an error status included): closed again.
    pub fn answered(&self) {
        let mut s = self.lock();
        s.failures = 0;
        s.open_until = None;
        s.probing_since = None;
    }

    /// No answer from `host`. Returns true when this failure opened the breaker.
    pub fn no_answer(&self, host: &str, error: &str, now: Instant) -> bool {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        s.host = host.to_string();
        s.last_error = error.to_string();
        s.probing_since = None;
        if s.failures >= self.settings.threshold {
            let was_closed = s.open_until.is_none_or(|until| now >= until);
            s.open_until = Some(now + self.settings.cool_down);
            return was_closed;
        }
        false
    }

    /// True while requests are refused (for status displays).
    pub fn is_open(&self, now: Instant) -> bool {
        self.lock().open_until.is_some_and(|until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROBE: Duration = Duration::from_secs(10);

    fn breaker() -> Breaker {
        Breaker::new(BreakerSettings {
            threshold: 3,
            cool_down: Duration::from_secs(30),
        })
    }

    #[test]
    fn opens_after_the_threshold_of_consecutive_failures_and_names_the_host() {
        let b = breaker();
        let t = Instant::now();
        assert!(!b.no_answer("h:9", "refused", t));
        assert!(!b.no_answer("h:9", "refused", t));
        assert!(
            b.admit(t, PROBE).is_ok(),
            "still closed below the threshold"
        );
        assert!(b.no_answer("h:9", "refused", t), "the third opens it");
        let open = b.admit(t + Duration::from_secs(1), PROBE).unwrap_err();
        assert_eq!(open.host, "h:9");
        assert_eq!(open.failures, 3);
        assert_eq!(open.last_error, "refused");
        assert_eq!(open.retry_in, Duration::from_secs(29));
    }

    #[test]
    fn an_answer_in_between_resets_the_count() {
        let b = breaker();
        let t = Instant::now();
        b.no_answer("h:9", "x", t);
        b.no_answer("h:9", "x", t);
        b.answered();
        assert!(!b.no_answer("h:9", "x", t));
        assert!(b.admit(t, PROBE).is_ok());
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_out_and_its_outcome_decides() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            b.no_answer("h:9", "x", t);
        }
        let later = t + Duration::from_secs(30);
        assert!(b.admit(later, PROBE).is_ok(), "the probe");
        assert!(b.admit(later, PROBE).is_err(), "one probe at a time");
        // The probe fails: open for another cool-down.
        assert!(b.no_answer("h:9", "x", later));
        assert!(b.admit(later + Duration::from_secs(29), PROBE).is_err());
        // The next probe succeeds: closed.
        let again = later + Duration::from_secs(30);
        assert!(b.admit(again, PROBE).is_ok());
        b.answered();
        assert!(b.admit(again, PROBE).is_ok());
        assert!(b.admit(again, PROBE).is_ok());
        assert!(!b.is_open(again));
    }

    #[test]
    fn a_probe_that_never_reports_back_frees_the_slot_after_its_timeout() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..3 {
            b.no_answer("h:9", "x", t);
        }
        let later = t + Duration::from_secs(30);
        assert!(b.admit(later, PROBE).is_ok());
        assert!(b.admit(later + Duration::from_secs(9), PROBE).is_err());
        assert!(b.admit(later + PROBE, PROBE).is_ok());
    }
}
