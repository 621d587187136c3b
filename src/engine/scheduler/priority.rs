//! Which artists are due, in what order, and how many of them today's budget share pays for.
//! Pure: the scheduler feeds it the store's freshness rows and the budgets.
//!
//! Order (operators' own requests are not here: they are queued at a higher priority and go
//! first anyway): never synced; shows in the next 7 days and not synced for a day; shows in the
//! next 30 days and not synced for 3 days; failed, once its backoff has passed; then the
//! stalest of those not synced for `stale_after`.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::engine::plan::{ProviderBudget, calls_per_artist};
use crate::store::scheduler::Freshness;
use crate::store::sync_status::{PartStatus, Source};

/// Why an artist is due, in priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    NeverSynced,
    ShowsThisWeek,
    ShowsThisMonth,
    FailedRetry,
    Stale,
}

impl Reason {
    pub fn describe(self) -> &'static str {
        match self {
            Reason::NeverSynced => "never synced",
            Reason::ShowsThisWeek => "shows in the next 7 days",
            Reason::ShowsThisMonth => "shows in the next 30 days",
            Reason::FailedRetry => "failed, backoff over",
            Reason::Stale => "stale",
        }
    }

    /// For a count on a narrow line: "3 shows ≤ 7 d".
    pub fn short(self) -> &'static str {
        match self {
            Reason::NeverSynced => "never synced",
            Reason::ShowsThisWeek => "shows ≤ 7 d",
            Reason::ShowsThisMonth => "shows ≤ 30 d",
            Reason::FailedRetry => "failed",
            Reason::Stale => "stale",
        }
    }
}

/// When an artist counts as due.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Policy {
    /// Re-sync any artist not synced for this long.
    pub stale_after: Duration,
    /// Re-sync an artist with shows in the next 7 days not synced for this long.
    pub week_fresh_for: Duration,
    /// Re-sync an artist with shows in the next 30 days not synced for this long.
    pub month_fresh_for: Duration,
    /// Wait after the first failure; each further one multiplies it by 4, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            stale_after: Duration::days(7),
            week_fresh_for: Duration::days(1),
            month_fresh_for: Duration::days(3),
            backoff_base: Duration::hours(1),
            backoff_max: Duration::days(2),
        }
    }
}

impl Policy {
    /// How long after its last failure an artist that failed `failures` times in a row waits.
    pub fn backoff(&self, failures: u32) -> Duration {
        let steps = failures.saturating_sub(1).min(10);
        let factor = 4i32.saturating_pow(steps);
        self.backoff_base
            .checked_mul(factor)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max)
    }
}

/// One due artist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Due {
    pub artist_id: String,
    pub name: String,
    pub reason: Reason,
    pub last_sync: Option<DateTime<Utc>>,
    pub next_show: Option<NaiveDate>,
    /// Estimated calls per provider (first sync of a part not yet in `success`, else a re-sync).
    #[serde(skip)]
    pub calls: [f64; 3],
}

fn reason(f: &Freshness, now: DateTime<Utc>, policy: &Policy) -> Option<Reason> {
    if f.active {
        return None;
    }
    let failed = Source::ALL
        .iter()
        .any(|s| f.sync_status.get(*s) == PartStatus::Error);
    if failed {
        // A failure the runs table does not know of (the old app's): one backoff from the
        // last sync.
        let failures = f.failures.max(1);
        let since = f.last_failure.or(f.last_sync);
        return match since {
            Some(t) if now < t + policy.backoff(failures) => None,
            _ => Some(Reason::FailedRetry),
        };
    }
    let Some(last) = f.last_sync else {
        return Some(Reason::NeverSynced);
    };
    let age = now - last;
    let days_to_show = f.next_show.map(|d| (d - now.date_naive()).num_days());
    match days_to_show {
        Some(d) if d <= 7 && age >= policy.week_fresh_for => Some(Reason::ShowsThisWeek),
        Some(d) if d <= 30 && age >= policy.month_fresh_for => Some(Reason::ShowsThisMonth),
        _ if age >= policy.stale_after => Some(Reason::Stale),
        _ => None,
    }
}

fn calls(f: &Freshness) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (i, source) in Source::ALL.iter().enumerate() {
        let (first, again) = calls_per_artist(*source);
        out[i] = if f.sync_status.get(*source) == PartStatus::Success {
            again
        } else {
            first
        };
    }
    out
}

/// The due artists, most urgent first (within a reason: the stalest, never-synced ones by
/// name).
pub fn due(artists: &[Freshness], now: DateTime<Utc>, policy: &Policy) -> Vec<Due> {
    let mut out: Vec<Due> = artists
        .iter()
        .filter_map(|f| {
            reason(f, now, policy).map(|reason| Due {
                artist_id: f.artist_id.clone(),
                name: f.name.clone(),
                reason,
                last_sync: f.last_sync,
                next_show: f.next_show,
                calls: calls(f),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        a.reason
            .cmp(&b.reason)
            .then(a.last_sync.cmp(&b.last_sync))
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// What the scheduler may still spend today per provider: `share` percent of the daily
/// limit, less what is used, less `in_flight` artists' worth (queued and running scheduled
/// runs, at a first sync's cost). `None`: no daily quota.
pub fn allowance(budget: &ProviderBudget, share: u8, in_flight: usize) -> Option<f64> {
    let limit = budget.daily_limit? as f64;
    let (first, _) = calls_per_artist(budget.source);
    let used = budget.used_today as f64 + in_flight as f64 * first;
    Some((limit * f64::from(share.min(100)) / 100.0 - used).max(0.0))
}

/// The head of `due` that fits every provider's allowance (in priority order: the first that
/// does not fit ends the batch, so a costly urgent artist is not overtaken by cheap stale ones)
/// and `room` more runs.
pub fn fit(
    due: &[Due],
    budgets: &[ProviderBudget],
    share: u8,
    in_flight: usize,
    room: usize,
) -> usize {
    let mut left: Vec<(usize, f64)> = budgets
        .iter()
        .filter_map(|b| {
            let i = Source::ALL.iter().position(|s| *s == b.source)?;
            allowance(b, share, in_flight).map(|a| (i, a))
        })
        .collect();
    let mut n = 0;
    for d in due.iter().take(room) {
        if left.iter().any(|(i, a)| d.calls[*i] > *a) {
            break;
        }
        for (i, a) in &mut left {
            *a -= d.calls[*i];
        }
        n += 1;
    }
    n
}

/// Share of `artists` synced within `days` of `now` (0 to 1; 1 for an empty catalog).
pub fn freshness_share(artists: &[Freshness], now: DateTime<Utc>, days: i64) -> f64 {
    if artists.is_empty() {
        return 1.0;
    }
    let fresh = artists
        .iter()
        .filter(|f| f.last_sync.is_some_and(|t| now - t <= Duration::days(days)))
        .count();
    fresh as f64 / artists.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sync_status::SyncStatus;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn artist(name: &str, synced_days_ago: Option<i64>) -> Freshness {
        Freshness {
            artist_id: format!("id-{name}"),
            name: name.to_string(),
            sync_status: if synced_days_ago.is_some() {
                SyncStatus::all(PartStatus::Success)
            } else {
                SyncStatus::default()
            },
            last_sync: synced_days_ago.map(|d| now() - Duration::days(d)),
            next_show: None,
            failures: 0,
            last_failure: None,
            active: false,
        }
    }

    fn names(due: &[Due]) -> Vec<(&str, Reason)> {
        due.iter().map(|d| (d.name.as_str(), d.reason)).collect()
    }

    #[test]
    fn orders_never_synced_then_shows_then_failed_then_stalest() {
        let mut week = artist("week", Some(2));
        week.next_show = Some(now().date_naive() + Duration::days(3));
        let mut month = artist("month", Some(4));
        month.next_show = Some(now().date_naive() + Duration::days(20));
        let mut failed = artist("failed", Some(1));
        failed.sync_status.set(Source::Spotify, PartStatus::Error);
        failed.failures = 1;
        failed.last_failure = Some(now() - Duration::hours(2));
        let mut busy = artist("busy", None);
        busy.active = true;
        let artists = vec![
            artist("stale-10", Some(10)),
            artist("fresh", Some(1)),
            month,
            artist("stale-30", Some(30)),
            failed,
            week,
            artist("new", None),
            busy,
        ];
        assert_eq!(
            names(&due(&artists, now(), &Policy::default())),
            [
                ("new", Reason::NeverSynced),
                ("week", Reason::ShowsThisWeek),
                ("month", Reason::ShowsThisMonth),
                ("failed", Reason::FailedRetry),
                ("stale-30", Reason::Stale),
                ("stale-10", Reason::Stale),
            ]
        );
    }

    #[test]
    fn a_show_soon_wants_a_fresher_sync_than_a_plain_artist() {
        let mut week = artist("week", Some(0));
        week.last_sync = Some(now() - Duration::hours(12));
        week.next_show = Some(now().date_naive() + Duration::days(2));
        let mut month = artist("month", Some(2));
        month.next_show = Some(now().date_naive() + Duration::days(25));
        assert!(due(&[week, month], now(), &Policy::default()).is_empty());
    }

    #[test]
    fn failures_back_off_four_times_longer_each_time_up_to_the_cap() {
        let p = Policy::default();
        assert_eq!(p.backoff(1), Duration::hours(1));
        assert_eq!(p.backoff(2), Duration::hours(4));
        assert_eq!(p.backoff(3), Duration::hours(16));
        assert_eq!(p.backoff(4), Duration::days(2));
        assert_eq!(p.backoff(u32::MAX), Duration::days(2));
        let mut failed = artist("failed", Some(1));
        failed.sync_status.set(Source::Setlistfm, PartStatus::Error);
        failed.failures = 3;
        failed.last_failure = Some(now() - Duration::hours(10));
        assert!(
            due(std::slice::from_ref(&failed), now(), &p).is_empty(),
            "16 h not over"
        );
        failed.last_failure = Some(now() - Duration::hours(17));
        assert_eq!(
            names(&due(&[failed], now(), &p)),
            [("failed", Reason::FailedRetry)]
        );
    }

    fn budget(source: Source, limit: Option<u64>, used: u64) -> ProviderBudget {
        ProviderBudget {
            source,
            daily_limit: limit,
            used_today: used,
            resets_at: None,
            per_second: 5.0,
        }
    }

    #[test]
    fn fits_the_head_of_the_queue_into_the_share_of_each_quota() {
        let artists: Vec<Freshness> = (0..100)
            .map(|i| artist(&format!("a{i:03}"), None))
            .collect();
        let d = due(&artists, now(), &Policy::default());
        // Ticketmaster: 1,000 a day, half for the scheduler, 100 used: 400 left, 2.3 a first
        // sync: 173 artists. setlist.fm: 200 a day, half, none used: 100 / 1.15 = 86.
        let budgets = [
            budget(Source::Ticketmaster, Some(1000), 100),
            budget(Source::Spotify, None, 0),
            budget(Source::Setlistfm, Some(200), 0),
        ];
        assert_eq!(fit(&d, &budgets, 50, 0, 1000), 86);
        assert_eq!(fit(&d, &budgets, 50, 0, 10), 10, "room caps it");
        // 80 artists already in flight: 100 - 80 × 1.15 = 8 left at setlist.fm: 6 more.
        assert_eq!(fit(&d, &budgets, 50, 80, 1000), 6);
        assert_eq!(
            fit(&d, &budgets, 0, 0, 1000),
            0,
            "a zero share plans nothing"
        );
        let no_quota = [budget(Source::Spotify, None, 0)];
        assert_eq!(fit(&d, &no_quota, 50, 0, 1000), 100);
    }

    #[test]
    fn freshness_is_the_share_synced_within_the_days() {
        let artists = vec![
            artist("a", Some(1)),
            artist("b", Some(10)),
            artist("c", None),
        ];
        assert!((freshness_share(&artists, now(), 7) - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(freshness_share(&[], now(), 7), 1.0);
    }
}
