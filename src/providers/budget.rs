//! What each provider has spent today and what is left, for the console's header.
//! Counted locally on every call; Ticketmaster's `Rate-Limit-Available`/`Rate-Limit-Reset`
//! headers correct the count where they are sent (200s only).

use std::sync::Mutex;

use chrono::{DateTime, Duration as ChronoDuration, Utc};

/// A snapshot for display.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BudgetSnapshot {
    pub calls: u64,
    pub daily_limit: Option<u64>,
    /// From the provider's headers when it sends them, else `limit - calls`.
    pub remaining: Option<u64>,
    pub resets_at: Option<DateTime<Utc>>,
    /// Set while a 429 or exhausted quota holds this provider back.
    pub throttled_until: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct Budget {
    daily_limit: Option<u64>,
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    calls: u64,
    window_started: Option<DateTime<Utc>>,
    remaining_from_headers: Option<u64>,
    resets_at: Option<DateTime<Utc>>,
    throttled_until: Option<DateTime<Utc>>,
}

impl Budget {
    pub fn new(daily_limit: Option<u64>) -> Budget {
        Budget {
            daily_limit,
            state: Mutex::new(BudgetState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        // A panic elsewhere while holding the lock leaves plain counters: still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one call. The daily window starts at the first call and lasts 24 h (TM's rule).
    pub fn count_call(&self, now: DateTime<Utc>) {
        let mut s = self.lock();
        let expired = s
            .window_started
            .is_some_and(|w| now - w >= ChronoDuration::hours(24));
        if s.window_started.is_none() || expired {
            s.window_started = Some(now);
            s.calls = 0;
            s.remaining_from_headers = None;
            s.resets_at = Some(now + ChronoDuration::hours(24));
        }
        s.calls += 1;
        if let Some(r) = s.remaining_from_headers.as_mut() {
            *r = r.saturating_sub(1);
        }
    }

    /// Records what the provider says is left (TM `Rate-Limit-Available`, `Rate-Limit-Reset` ms).
    pub fn observe_headers(&self, remaining: Option<u64>, resets_at: Option<DateTime<Utc>>) {
        let mut s = self.lock();
        if remaining.is_some() {
            s.remaining_from_headers = remaining;
        }
        if resets_at.is_some() {
            s.resets_at = resets_at;
        }
    }

    pub fn throttle_until(&self, until: Option<DateTime<Utc>>) {
        self.lock().throttled_until = until;
    }

    pub fn snapshot(&self) -> BudgetSnapshot {
        let s = self.lock();
        BudgetSnapshot {
            calls: s.calls,
            daily_limit: self.daily_limit,
            remaining: s
                .remaining_from_headers
                .or_else(|| self.daily_limit.map(|l| l.saturating_sub(s.calls))),
            resets_at: s.resets_at,
            throttled_until: s.throttled_until.filter(|t| *t > Utc::now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_locally_and_prefers_headers() {
        let b = Budget::new(Some(5000));
        let t0 = Utc::now();
        b.count_call(t0);
        b.count_call(t0);
        assert_eq!(b.snapshot().remaining, Some(4998));
        b.observe_headers(Some(4723), None);
        b.count_call(t0);
        assert_eq!(b.snapshot().remaining, Some(4722));
        // A new 24 h window starts fresh.
        b.count_call(t0 + ChronoDuration::hours(25));
        let s = b.snapshot();
        assert_eq!((s.calls, s.remaining), (1, Some(4999)));
    }
}
