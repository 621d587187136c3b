//! Rate limits and daily quotas, shaped like each provider's gateway: a token bucket for
//! Ticketmaster's Apigee SpikeArrest and setlist.fm's API Gateway throttle, a rolling window for
//! Spotify (apis.md 2.3: "computed over a rolling 30-second window"), and a daily quota whose
//! window starts at the first call, not at midnight (apis.md 1.3).

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::util::parse_duration;

/// `count` requests per `per`: `5/s`, `600/30s`, `100/m`, or a bare `5` (per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn per_second(count: u32) -> Rate {
        Rate {
            count,
            per: Duration::from_secs(1),
        }
    }

    pub const fn new(count: u32, per: Duration) -> Rate {
        Rate { count, per }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = self.per.as_secs_f64();
        if per == 1.0 {
            write!(f, "{}/s", self.count)
        } else if per.fract() == 0.0 {
            write!(f, "{}/{}s", self.count, per as u64)
        } else {
            write!(f, "{}/{}ms", self.count, self.per.as_millis())
        }
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        let s = s.trim();
        let (count, per) = match s.split_once('/') {
            Some((c, p)) => (c, p),
            None => (s, "s"),
        };
        let count: u32 = count.trim().parse().map_err(|_| {
            format!("`{s}`: a rate is N/s, N/m or N/<duration> (e.g. 5/s, 600/30s)")
        })?;
        let per = match per.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => parse_duration(other)?,
        };
        if count == 0 || per.is_zero() {
            return Err(format!(
                "`{s}`: a rate needs a count and a period above zero"
            ));
        }
        Ok(Rate { count, per })
    }
}

/// Refills continuously at `count/per`, holds at most `count` tokens: a burst of `count`, then
/// one request per `per/count`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(rate: Rate) -> TokenBucket {
        let capacity = f64::from(rate.count.max(1));
        TokenBucket {
            capacity,
            per_second: capacity / rate.per.as_secs_f64(),
            tokens: capacity,
            last: Instant::now(),
        }
    }

    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// At most `count` accepted requests in any span of `per`.
#[derive(Debug)]
pub(crate) struct RollingWindow {
    rate: Rate,
    hits: VecDeque<Instant>,
}

impl RollingWindow {
    pub(crate) fn new(rate: Rate) -> RollingWindow {
        RollingWindow {
            rate,
            hits: VecDeque::new(),
        }
    }

    /// `Err(wait)`: refused; the oldest hit leaves the window after `wait`. Refused requests
    /// are not counted, so a client that backs off as told gets through.
    pub(crate) fn try_hit(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(first) = self.hits.front() {
            if now.saturating_duration_since(*first) >= self.rate.per {
                self.hits.pop_front();
            } else {
                break;
            }
        }
        if self.hits.len() < self.rate.count as usize {
            self.hits.push_back(now);
            return Ok(());
        }
        let oldest = self.hits.front().copied().unwrap_or(now);
        Err((oldest + self.rate.per).saturating_duration_since(now))
    }
}

/// A gateway's per-key throttle: the real gateways' token bucket (a burst of `count`, then the
/// rate), or, in strict mode, a sliding window that refuses any `count + 1`-th request within
/// `per`: the strictest reading of a published rate, for checking that a client paces with a
/// margin (requests sent evenly arrive jittered).
#[derive(Debug)]
pub(crate) enum Throttle {
    Bucket(TokenBucket),
    Window(RollingWindow),
}

impl Throttle {
    pub(crate) fn new(rate: Rate, strict: bool) -> Throttle {
        if strict {
            Throttle::Window(RollingWindow::new(rate))
        } else {
            Throttle::Bucket(TokenBucket::new(rate))
        }
    }

    /// Whether one more request gets through now (a refused one is not counted).
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        match self {
            Throttle::Bucket(b) => b.try_take(now),
            Throttle::Window(w) => w.try_hit(now).is_ok(),
        }
    }
}

/// Where a daily quota stands after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QuotaState {
    pub limit: u64,
    pub remaining: u64,
    /// When the window ends, in epoch milliseconds (Ticketmaster's `Rate-Limit-Reset`).
    pub reset_epoch_ms: u64,
    pub reset_in: Duration,
}

/// A real quota day.
pub const DAY: Duration = Duration::from_secs(24 * 3600);

/// `limit` calls per day (24 hours, or shorter to rehearse resets), the window starting at its
/// first call.
#[derive(Debug)]
pub(crate) struct DailyQuota {
    limit: u64,
    used: u64,
    day: Duration,
    window: Option<(Instant, SystemTime)>,
}

impl DailyQuota {
    pub(crate) fn with_day(limit: u64, day: Duration) -> DailyQuota {
        DailyQuota {
            limit,
            used: 0,
            day,
            window: None,
        }
    }

    /// Counts one call; `Err` when the quota was already spent (the call is not counted).
    pub(crate) fn try_use(&mut self, now: Instant) -> Result<QuotaState, QuotaState> {
        let expired = self
            .window
            .is_none_or(|(start, _)| now.saturating_duration_since(start) >= self.day);
        if expired {
            self.window = Some((now, SystemTime::now()));
            self.used = 0;
        }
        let allowed = self.used < self.limit;
        if allowed {
            self.used += 1;
        }
        let state = self.state(now);
        if allowed { Ok(state) } else { Err(state) }
    }

    fn state(&self, now: Instant) -> QuotaState {
        let (start, wall) = self.window.unwrap_or((now, SystemTime::now()));
        let reset_at = wall + self.day;
        QuotaState {
            limit: self.limit,
            remaining: self.limit.saturating_sub(self.used),
            reset_epoch_ms: reset_at
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            reset_in: self
                .day
                .saturating_sub(now.saturating_duration_since(start)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!("5/s".parse::<Rate>().unwrap(), Rate::per_second(5));
        assert_eq!("5".parse::<Rate>().unwrap(), Rate::per_second(5));
        assert_eq!(
            "600/30s".parse::<Rate>().unwrap(),
            Rate::new(600, Duration::from_secs(30))
        );
        assert_eq!(
            "100/m".parse::<Rate>().unwrap(),
            Rate::new(100, Duration::from_secs(60))
        );
        assert!("0/s".parse::<Rate>().is_err());
        assert!("fast".parse::<Rate>().is_err());
        assert_eq!(
            Rate::new(600, Duration::from_secs(30)).to_string(),
            "600/30s"
        );
        assert_eq!(Rate::per_second(2).to_string(), "2/s");
    }

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let mut b = TokenBucket::new(Rate::per_second(5));
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(b.try_take(t0));
        }
        assert!(!b.try_take(t0));
        assert!(b.try_take(t0 + Duration::from_millis(210)));
        assert!(!b.try_take(t0 + Duration::from_millis(220)));
    }

    #[test]
    fn window_says_when_to_come_back() {
        let mut w = RollingWindow::new(Rate::new(2, Duration::from_secs(30)));
        let t0 = Instant::now();
        assert!(w.try_hit(t0).is_ok());
        assert!(w.try_hit(t0 + Duration::from_secs(10)).is_ok());
        let wait = w.try_hit(t0 + Duration::from_secs(12)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(18));
        assert!(w.try_hit(t0 + Duration::from_secs(30)).is_ok());
    }

    #[test]
    fn a_strict_throttle_refuses_what_a_bucket_lets_through() {
        let rate = Rate::per_second(5);
        let t0 = Instant::now();
        // Five requests 200 ms apart, then a sixth 990 ms after the first: the bucket has
        // refilled by then, a strict window still holds all five.
        let times: Vec<Instant> = (0..5)
            .map(|i| t0 + Duration::from_millis(200 * i))
            .chain([t0 + Duration::from_millis(990)])
            .collect();
        let mut bucket = Throttle::new(rate, false);
        let mut strict = Throttle::new(rate, true);
        assert!(times.iter().all(|t| bucket.admit(*t)));
        let admitted: Vec<bool> = times.iter().map(|t| strict.admit(*t)).collect();
        assert_eq!(admitted, [true, true, true, true, true, false]);
        assert!(
            strict.admit(t0 + Duration::from_millis(1000)),
            "the first hit has left the window"
        );
    }

    #[test]
    fn quota_counts_down_and_resets_after_a_day() {
        let mut q = DailyQuota::with_day(2, DAY);
        let t0 = Instant::now();
        assert_eq!(q.try_use(t0).unwrap().remaining, 1);
        assert_eq!(q.try_use(t0).unwrap().remaining, 0);
        assert!(q.try_use(t0).is_err());
        assert!(q.try_use(t0 + DAY).is_ok());
    }
}
