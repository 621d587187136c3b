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

tokio::task_local! {
    /// Set by the engine around a bulk run's pipeline (`true`) or a manual one's (`false`).
    pub static BULK_WORK: bool;
}

/// Whether the calling task does bulk work (outside a run: no).
pub fn is_bulk_work() -> bool {
    BULK_WORK.try_with(|b| *b).unwrap_or(false)
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
    /// The key's daily limit as the provider states it (TM's `Rate-Limit`).
    limit_from_headers: Option<u64>,
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
        // The provider's own reset time (TM's `Rate-Limit-Reset`) ends the window too.
        let expired = s
            .window_started
            .is_some_and(|w| now - w >= ChronoDuration::hours(24))
            || s.resets_at.is_some_and(|r| r <= now);
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

    /// Counts one call unless the day's quota is spent ([`Budget::spent_until`]); then the
    /// reset time. One lock for both, so concurrent callers cannot all take the last call.
    /// `keep` calls stay untouched (the share reserved for manual syncs, when bulk work asks).
    pub fn try_count_call(&self, now: DateTime<Utc>, keep: u64) -> Result<(), DateTime<Utc>> {
        if let Some(until) = self.spent_until(now, keep) {
            return Err(until);
        }
        self.count_call(now);
        Ok(())
    }

    /// Records what the provider says is left (TM `Rate-Limit-Available`, `Rate-Limit-Reset` ms).
    /// Answers arrive out of order: within one window the lowest count is kept (an answer to
    /// an earlier request says more is left than the calls sent since leave); a new reset
    /// time means a new window, whose count is taken as it is.
    pub fn observe_headers(&self, remaining: Option<u64>, resets_at: Option<DateTime<Utc>>) {
        self.observe_limit_headers(None, remaining, resets_at);
    }

    /// [`Budget::observe_headers`] with the key's daily limit as the provider states it.
    pub fn observe_limit_headers(
        &self,
        limit: Option<u64>,
        remaining: Option<u64>,
        resets_at: Option<DateTime<Utc>>,
    ) {
        let mut s = self.lock();
        if limit.is_some() {
            s.limit_from_headers = limit;
        }
        let new_window = resets_at.is_some() && resets_at != s.resets_at;
        if let Some(r) = remaining {
            s.remaining_from_headers = match s.remaining_from_headers {
                Some(known) if !new_window => Some(known.min(r)),
                _ => Some(r),
            };
        }
        if resets_at.is_some() {
            s.resets_at = resets_at;
        }
    }

    /// Until when the day's quota is spent, if it is: by the provider's own count (TM's
    /// `Rate-Limit-Available` at 0) or, without one, by the local count at the daily limit;
    /// only while the reset is still ahead. A request now would be refused: don't send it.
    /// `keep`: calls that must stay left (0: the quota is spent at 0).
    pub fn spent_until(&self, now: DateTime<Utc>, keep: u64) -> Option<DateTime<Utc>> {
        let s = self.lock();
        let reset = s.resets_at.filter(|r| *r > now)?;
        self.left(&s)
            .is_some_and(|left| left <= keep)
            .then_some(reset)
    }

    /// Calls left today: the provider's count when it sends one, else the local estimate.
    fn left(&self, s: &BudgetState) -> Option<u64> {
        s.remaining_from_headers
            .or_else(|| self.daily_limit.map(|l| l.saturating_sub(s.calls)))
    }

    /// `percent` of the daily quota, in calls (0 without a quota): of the limit the provider
    /// states when it does (the key's real one), else of the configured one.
    pub fn share(&self, percent: u8) -> u64 {
        let stated = self.lock().limit_from_headers;
        stated
            .or(self.daily_limit)
            .map(|l| l * u64::from(percent.min(100)) / 100)
            .unwrap_or(0)
    }

    pub fn throttle_until(&self, until: Option<DateTime<Utc>>) {
        self.lock().throttled_until = until;
    }

    pub fn snapshot(&self) -> BudgetSnapshot {
        let s = self.lock();
        BudgetSnapshot {
            calls: s.calls,
            daily_limit: self.daily_limit,
            remaining: self.left(&s),
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
        // A late answer to an earlier request does not raise the count within the window.
        b.observe_headers(Some(4730), None);
        assert_eq!(b.snapshot().remaining, Some(4722));
        // Spent by the provider's count: no request until its reset, then a fresh window.
        let reset = t0 + ChronoDuration::minutes(5);
        b.observe_headers(Some(0), Some(reset));
        assert_eq!(b.spent_until(t0, 0), Some(reset));
        assert_eq!(b.spent_until(reset, 0), None, "the reset has come");
        b.count_call(reset + ChronoDuration::seconds(1));
        assert_eq!(b.snapshot().calls, 1, "a new window");
        assert_eq!(b.spent_until(reset + ChronoDuration::seconds(1), 0), None);
        // A new 24 h window starts fresh.
        b.count_call(t0 + ChronoDuration::hours(25));
        let s = b.snapshot();
        assert_eq!((s.calls, s.remaining), (1, Some(4999)));
        // By the local count alone, at the limit.
        let small = Budget::new(Some(2));
        small.count_call(t0);
        assert_eq!(small.spent_until(t0, 0), None);
        small.count_call(t0);
        assert_eq!(
            small.spent_until(t0, 0),
            Some(t0 + ChronoDuration::hours(24))
        );
        // Bulk work keeps the manual share: with 10 of 100 reserved it stops at 10 left.
        let reserved = Budget::new(Some(100));
        assert_eq!(reserved.share(10), 10);
        for _ in 0..89 {
            reserved.try_count_call(t0, 10).expect("under the reserve");
        }
        assert!(
            reserved.try_count_call(t0, 10).is_ok(),
            "the 90th call leaves 10"
        );
        assert!(
            reserved.try_count_call(t0, 10).is_err(),
            "bulk stops at the reserve"
        );
        assert!(
            reserved.try_count_call(t0, 0).is_ok(),
            "a manual sync goes on"
        );
        // The provider's stated limit wins over the configured one for the share.
        reserved.observe_limit_headers(Some(40), None, None);
        assert_eq!(reserved.share(10), 4);
    }
}
