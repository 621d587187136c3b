//! Per-provider pacing, timed on tokio's clock so tests can pause time: a GCRA (governor)
//! spaces requests evenly, and a sliding window over the times requests actually leave keeps
//! any `count + 1` of them at least `period + margin` apart, however late a wait in between
//! (the shared budget's database round trip, a busy runtime) let one of them go.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Mutex;
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

/// The default [`Rate::margin`]: covers the arrival jitter of a loaded machine on one network
/// (tens of milliseconds) for 5 % of Ticketmaster's and setlist.fm's pace.
pub const DEFAULT_PACING_MARGIN: Duration = Duration::from_millis(50);

/// A rate: `count` requests per `period`, with a burst of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: u32,
    pub period: Duration,
    pub burst: u32,
    /// Added to `period` when spacing requests. A gateway counts arrivals, and requests sent
    /// evenly arrive jittered (timers, scheduling, the network): `count` requests spread over
    /// `period + margin` never put `count + 1` arrivals inside one `period` of a strict
    /// sliding window while the jitter stays under `margin`.
    pub margin: Duration,
}

impl Rate {
    pub fn per_second(n: u32) -> Rate {
        Rate {
            count: n.max(1),
            period: Duration::from_secs(1),
            burst: 1,
            margin: DEFAULT_PACING_MARGIN,
        }
    }

    /// Time between two requests sent at this rate, the margin included.
    pub fn interval(&self) -> Duration {
        (self.period + self.margin) / self.count.max(1)
    }

    /// Requests per second actually sent (the margin included).
    pub fn sent_per_second(&self) -> f64 {
        1.0 / self.interval().as_secs_f64().max(1e-9)
    }
}

/// Waits until a request may go out at the configured rate.
pub struct Limiter {
    inner: RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>,
    clock: TokioClock,
    /// When the last `rate.count` requests left (oldest first).
    sent: Mutex<VecDeque<tokio::time::Instant>>,
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
            sent: Mutex::new(VecDeque::new()),
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

    /// Resolves when a request may leave now without `count + 1` requests within
    /// `period + margin`, and records it as sent. Call it right before the request goes out,
    /// after every other wait.
    pub async fn until_window_open(&self) {
        let span = self.rate.period + self.rate.margin;
        let count = self.rate.count.max(1) as usize;
        loop {
            let now = tokio::time::Instant::now();
            let wait = {
                // Only instants are kept under the lock: a panic elsewhere leaves it usable.
                let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
                while sent.len() >= count {
                    match sent.front() {
                        Some(first) if now.saturating_duration_since(*first) >= span => {
                            sent.pop_front();
                        }
                        _ => break,
                    }
                }
                if sent.len() < count {
                    sent.push_back(now);
                    return;
                }
                sent.front()
                    .map(|first| (*first + span).saturating_duration_since(now))
                    .unwrap_or_default()
            };
            tokio::time::sleep(wait.max(Duration::from_micros(100))).await;
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
    async fn paces_requests_at_the_rate_plus_the_margin() {
        let limiter = Limiter::new(Rate::per_second(5));
        let start = tokio::time::Instant::now();
        for _ in 0..11 {
            limiter.until_ready().await;
        }
        // The first goes at once, the next ten at (1 s + 50 ms) / 5 = 210 ms intervals.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(2100) && elapsed < Duration::from_millis(2200),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_request_holds_back_the_ones_a_window_after_it() {
        let rate = Rate::per_second(5);
        let limiter = Limiter::new(rate);
        let start = tokio::time::Instant::now();
        let mut left = Vec::new();
        for i in 0..12 {
            limiter.until_ready().await;
            if i == 1 {
                // Its shared-budget slot came 150 ms late (or the runtime was busy).
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            limiter.until_window_open().await;
            left.push(start.elapsed());
        }
        for six in left.windows(6) {
            assert!(six[5] - six[0] >= rate.period + rate.margin, "{left:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn six_requests_never_share_a_second_while_jitter_stays_under_the_margin() {
        let rate = Rate::per_second(5);
        let limiter = Limiter::new(rate);
        let start = tokio::time::Instant::now();
        let mut sent = Vec::new();
        for _ in 0..30 {
            limiter.until_ready().await;
            sent.push(start.elapsed());
        }
        // Any six consecutive sends span period + margin: the first may arrive up to
        // `margin` late and the sixth on time, and the six still do not fit in one second.
        for six in sent.windows(6) {
            assert!(six[5] - six[0] >= rate.period + rate.margin, "{six:?}");
        }
        assert!((rate.sent_per_second() - 1.0 / 0.21).abs() < 1e-9);
    }
}
