//! A keep-fresh forecast for the console's plan view tests (update and snapshots).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use syncdeck::engine::scheduler::priority::{Due, Reason};
use syncdeck::engine::scheduler::{Forecast, ProviderForecast, RuleForecast};

fn due(
    name: &str,
    reason: Reason,
    last_sync: Option<DateTime<Utc>>,
    show: Option<NaiveDate>,
) -> Due {
    Due {
        artist_id: format!("id-{name}"),
        name: name.to_string(),
        reason,
        last_sync,
        next_show: show,
        calls: [2.3, 5.3, 1.15],
    }
}

/// 1,200 artists, some due for each reason, Ticketmaster and setlist.fm partly spent today.
pub fn forecast(now: DateTime<Utc>) -> Forecast {
    let day = |d: i64| now - chrono::Duration::days(d);
    let show = |d: i64| Some(now.date_naive() + chrono::Duration::days(d));
    Forecast {
        at: now,
        artists: 1200,
        fresh_1d: 0.25,
        fresh_7d: 0.8,
        fresh_30d: 0.97,
        due_by_reason: vec![
            (Reason::NeverSynced, 12),
            (Reason::ShowsThisWeek, 3),
            (Reason::FailedRetry, 2),
            (Reason::Stale, 220),
        ],
        in_flight: 4,
        max_queued: 32,
        budget_share: 80,
        next: vec![
            due("Ada Ashby", Reason::NeverSynced, None, None),
            due("Kestrel Road", Reason::ShowsThisWeek, Some(day(2)), show(3)),
            due("The Static Wolves", Reason::FailedRetry, Some(day(1)), None),
            due(
                "Old Town Brass Band",
                Reason::Stale,
                Some(day(12)),
                show(40),
            ),
        ],
        providers: vec![
            ProviderForecast {
                provider: "ticketmaster",
                daily_limit: Some(5000),
                used_today: 1234,
                scheduler_left: Some(2756),
                next_batch_calls: 10,
            },
            ProviderForecast {
                provider: "spotify",
                daily_limit: None,
                used_today: 4410,
                scheduler_left: None,
                next_batch_calls: 14,
            },
            ProviderForecast {
                provider: "setlist.fm",
                daily_limit: Some(1440),
                used_today: 700,
                scheduler_left: Some(452),
                next_batch_calls: 5,
            },
        ],
        lease_holder: Some("ops-1:4242".to_string()),
        rules: vec![RuleForecast {
            name: "failed, nightly".to_string(),
            cron: "0 3 * * *".to_string(),
            next_at: Some(Utc.with_ymd_and_hms(2026, 12, 8, 3, 0, 0).unwrap()),
            last_fired_at: None,
        }],
    }
}
