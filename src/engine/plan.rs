//! What a bulk sync will cost before it starts: calls per provider, what is left of each daily
//! quota, how many artists finish today and when the rest will, and the time at the configured
//! rates. Pure arithmetic over the selection's sync state and the budgets (`sync --plan`).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::Serialize;

use crate::engine::clients::ClientSettings;
use crate::store::budgets::BudgetRow;
use crate::store::sync_status::Source;

/// Calls an artist costs per provider: (first sync of that part, re-sync of an unchanged one).
/// Measured by `benches/calls_per_artist.rs` on the fake catalog (README, "Keeping a catalog
/// fresh"); rounded up.
pub fn calls_per_artist(source: Source) -> (f64, f64) {
    match source {
        Source::Ticketmaster => (2.3, 1.2),
        Source::Spotify => (5.3, 2.0),
        Source::Setlistfm => (1.15, 1.0),
    }
}

/// One provider's budget as the plan sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderBudget {
    pub source: Source,
    /// Calls a day (`None`: no daily quota, only a rate).
    pub daily_limit: Option<u64>,
    /// Used in the current window (0 when none is open).
    pub used_today: u64,
    /// When the current window ends (`None`: no window open, a full day is available).
    pub resets_at: Option<DateTime<Utc>>,
    /// Configured requests per second.
    pub per_second: f64,
}

/// Each provider's budget at `settings`' limits and rates, with what the busiest key in
/// `rows` (`syncdeck_api_budgets`) has used of its current day: the key a sync would run out
/// on first.
pub fn provider_budgets(rows: &[BudgetRow], settings: &ClientSettings) -> Vec<ProviderBudget> {
    [
        (Source::Ticketmaster, &settings.ticketmaster),
        (Source::Spotify, &settings.spotify),
        (Source::Setlistfm, &settings.setlistfm),
    ]
    .into_iter()
    .map(|(source, http)| {
        let row = rows
            .iter()
            .filter(|r| r.provider == source.label())
            .max_by_key(|r| r.day_used);
        ProviderBudget {
            source,
            daily_limit: http.daily_limit,
            used_today: row.map(|r| u64::from(r.day_used)).unwrap_or(0),
            resets_at: row.and_then(|r| r.resets_at),
            per_second: http.rate.sent_per_second(),
        }
    })
    .collect()
}

/// One provider's share of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderPlan {
    pub provider: &'static str,
    /// Parts of the selection that were never synced (or not successfully) at this provider.
    pub first_syncs: usize,
    pub re_syncs: usize,
    pub calls_needed: u64,
    pub daily_limit: Option<u64>,
    pub left_today: Option<u64>,
    pub resets_at: Option<DateTime<Utc>>,
    /// Artists whose calls fit in what is left today.
    pub artists_today: usize,
    /// Seconds its calls take at the configured rate.
    pub seconds_at_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub artists: usize,
    pub providers: Vec<ProviderPlan>,
    /// Artists that finish today: the provider with the least room decides.
    pub artists_today: usize,
    /// When the last artist should finish, if not today (the binding quota's resets).
    pub rest_done_by: Option<DateTime<Utc>>,
    /// Expected seconds for today's share at the configured rates (providers run side by side).
    pub expected_seconds_today: f64,
}

/// `42 s`, `12 min`, `3.5 h`.
pub fn human_seconds(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=89 => format!("{s} s"),
        90..=5399 => format!("{} min", s.div_ceil(60)),
        _ => format!("{:.1} h", s as f64 / 3600.0),
    }
}

impl Plan {
    /// How many finish today, how long that takes, and when the rest should be done.
    pub fn outcome(&self) -> String {
        let today = format!(
            "{} of {} finish today, in about {}",
            self.artists_today,
            self.artists,
            human_seconds(self.expected_seconds_today)
        );
        match self.rest_done_by {
            Some(t) => format!(
                "{today}; the rest wait for the quota resets and should be done by {}",
                t.format("%Y-%m-%d %H:%M UTC")
            ),
            None => today,
        }
    }

    /// Calls per provider with what is left of each quota, on one line.
    pub fn calls_line(&self) -> String {
        self.providers
            .iter()
            .map(|p| match p.left_today {
                Some(left) => format!(
                    "{} {} ({} left today)",
                    p.provider,
                    crate::text::thousands(p.calls_needed as i64),
                    crate::text::thousands(left as i64)
                ),
                None => format!(
                    "{} {}",
                    p.provider,
                    crate::text::thousands(p.calls_needed as i64)
                ),
            })
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// The plan for `artists` artists of which `first[p]` need a first sync at provider `p`.
pub fn plan(
    artists: usize,
    first: impl Fn(Source) -> usize,
    budgets: &[ProviderBudget],
    now: DateTime<Utc>,
) -> Plan {
    let mut providers = Vec::new();
    let mut artists_today = artists;
    let mut rest_done_by: Option<DateTime<Utc>> = None;
    let mut rates: Vec<(f64, f64)> = Vec::new();
    for b in budgets {
        let firsts = first(b.source).min(artists);
        let re = artists - firsts;
        let (first_cost, re_cost) = calls_per_artist(b.source);
        let needed = firsts as f64 * first_cost + re as f64 * re_cost;
        let per_artist = if artists == 0 {
            0.0
        } else {
            needed / artists as f64
        };
        let window_open = b.resets_at.is_some_and(|r| r > now);
        let left = b.daily_limit.map(|l| {
            if window_open {
                l.saturating_sub(b.used_today)
            } else {
                l
            }
        });
        let fit_today = match left {
            Some(l) if per_artist > 0.0 => ((l as f64 / per_artist).floor() as usize).min(artists),
            _ => artists,
        };
        if fit_today < artists
            && let (Some(limit), true) = (b.daily_limit, per_artist > 0.0)
        {
            let per_day = ((limit as f64 / per_artist).floor() as usize).max(1);
            let rest = artists - fit_today;
            let days = rest.div_ceil(per_day) as i64;
            let first_reset = b
                .resets_at
                .filter(|_| window_open)
                .unwrap_or(now + ChronoDuration::hours(24));
            let done = first_reset + ChronoDuration::hours(24) * (days - 1) as i32;
            rest_done_by = Some(rest_done_by.map_or(done, |d| d.max(done)));
        }
        artists_today = artists_today.min(fit_today);
        let seconds = if b.per_second > 0.0 {
            needed / b.per_second
        } else {
            0.0
        };
        rates.push((per_artist, b.per_second));
        providers.push(ProviderPlan {
            provider: b.source.name(),
            first_syncs: firsts,
            re_syncs: re,
            calls_needed: needed.ceil() as u64,
            daily_limit: b.daily_limit,
            left_today: left,
            resets_at: b.resets_at.filter(|_| window_open),
            artists_today: fit_today,
            seconds_at_rate: seconds,
        });
    }
    // Today's artists at each provider's rate; the providers run side by side.
    let expected = rates
        .iter()
        .filter(|(_, per_second)| *per_second > 0.0)
        .map(|(per_artist, per_second)| artists_today as f64 * per_artist / per_second)
        .fold(0.0, f64::max);
    Plan {
        artists,
        providers,
        artists_today,
        rest_done_by,
        expected_seconds_today: expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(source: Source, limit: Option<u64>, used: u64, per_second: f64) -> ProviderBudget {
        ProviderBudget {
            source,
            daily_limit: limit,
            used_today: used,
            resets_at: None,
            per_second,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_catalog_that_fits_finishes_today_at_the_slowest_rate() {
        let now = at("2026-12-06T10:00:00Z");
        let budgets = [
            budget(Source::Ticketmaster, Some(5000), 0, 4.0),
            budget(Source::Spotify, None, 0, 10.0),
            budget(Source::Setlistfm, Some(1440), 0, 1.0),
        ];
        // 100 artists synced before: re-syncs everywhere.
        let p = plan(100, |_| 0, &budgets, now);
        assert_eq!(p.artists_today, 100);
        assert_eq!(p.rest_done_by, None);
        assert_eq!(p.providers[0].calls_needed, 120);
        assert_eq!(p.providers[2].calls_needed, 100);
        // setlist.fm at 1/s is the slowest: 100 s.
        assert!((p.expected_seconds_today - 100.0).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn a_spent_quota_puts_the_rest_on_later_days() {
        let now = at("2026-12-06T10:00:00Z");
        let reset = at("2026-12-06T18:00:00Z");
        let budgets = [
            ProviderBudget {
                resets_at: Some(reset),
                ..budget(Source::Ticketmaster, Some(5000), 4900, 4.0)
            },
            budget(Source::Setlistfm, Some(1440), 0, 1.0),
        ];
        // 3,000 never-synced artists: TM has 100 calls left today (43 first syncs at 2.3).
        let p = plan(3000, |_| 3000, &budgets, now);
        let tm = &p.providers[0];
        assert_eq!(tm.left_today, Some(100));
        assert_eq!(tm.artists_today, 43);
        assert_eq!(p.artists_today, 43);
        // setlist.fm: 1,440 / 1.15 = 1,252 a day; TM: 5,000 / 2.3 = 2,173 a day. setlist.fm's
        // window is not open: a full day today, so 1,748 left = 2 more days after today.
        let sf = &p.providers[1];
        assert_eq!(sf.artists_today, 1252);
        assert_eq!(p.rest_done_by, Some(now + ChronoDuration::hours(48)));
        // Today's 43 artists at setlist.fm's 1/s (1.15 calls each) take the longest.
        assert!(
            (p.expected_seconds_today - 43.0 * 1.15).abs() < 1e-6,
            "{p:?}"
        );
    }

    #[test]
    fn nothing_selected_costs_nothing() {
        let p = plan(
            0,
            |_| 0,
            &[budget(Source::Ticketmaster, Some(5000), 0, 4.0)],
            at("2026-12-06T10:00:00Z"),
        );
        assert_eq!((p.artists_today, p.providers[0].calls_needed), (0, 0));
        assert_eq!(p.rest_done_by, None);
    }
}
