//! Per-provider token buckets (governor), timed on tokio's clock so tests can pause time.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// governor's clock, read from `tokio::time` (which tests can pause and advance).
#[derive(Debug, Clone)]
pub struct TokioClock {
    start: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock {
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A rate: `count` requests per `period`, with a burst of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
    pub burst: u32,
}

impl Rate {
    pub fn per_second(n: u32) -> Rate {
        Rate {
            count: n.max(1),
            period: Duration::from_secs(1),
            burst: 1,
        }
    }

    /// Time between two requests at this rate.
    pub fn interval(&self) -> Duration {
        self.period / self.count.max(1)
    }
}

/// Waits until a request may go out at the configured rate.
pub struct Limiter {
    inner: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>,
    clock: TokioClock,
    pub rate: Rate,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("rate", &self.rate).finish()
    }
}

impl Limiter {
    pub fn new(rate: Rate) -> Limiter {
        let burst = NonZeroU32::new(rate.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(rate.interval().max(Duration::from_micros(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        let clock = TokioClock::default();
        Limiter {
            inner: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            rate,
        }
    }

    /// Resolves when one request may be sent.
    pub async fn until_ready(&self) {
        loop {
            match self.inner.check() {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait.max(Duration::from_micros(100))).await;
                }
            }
        }
    }
}

// governor needs `Duration: Reference`; make sure the impl we rely on exists.
const _: fn() = || {
    fn assert_reference<T: Reference>() {}
    assert_reference::<Duration>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_requests_at_the_rate() {
        let limiter = Limiter::new(Rate::per_second(5));
        let start = tokio::time::Instant::now();
        for _ in 0..11 {
            limiter.until_ready().await;
        }
        // The first goes at once, the next ten at 200 ms intervals.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(2000) && elapsed < Duration::from_millis(2100),
            "{elapsed:?}"
        );
    }
}
