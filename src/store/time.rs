//! Timestamps as the store writes and reads them: RFC 3339 UTC with milliseconds on the way in
//! (Postgres casts the text to `timestamptz`), and either that or Postgres's `::text` form on the
//! way out.

use chrono::{DateTime, NaiveDate, Utc};

/// `2026-11-26T04:51:15.123Z`: sorts as text in SQLite and casts cleanly in Postgres.
pub fn to_db(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn now_db() -> String {
    to_db(Utc::now())
}

/// Parses what either backend gives back as text: `2026-11-26T04:51:15.123Z` (SQLite) or
/// `2026-11-26 04:51:15.123456+00` (Postgres `timestamptz::text`). `None` for anything else.
pub fn from_db(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%#z"] {
        if let Ok(d) = DateTime::parse_from_str(t, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    // A `date` column, or a bare date stored by someone else: midnight UTC.
    NaiveDate::parse_from_str(t.get(..10).unwrap_or(t), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// A `date` column's value (or the date part of a timestamp) as `YYYY-MM-DD`.
pub fn date_from_db(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim().get(..10)?, "%Y-%m-%d").ok()
}

/// `3m ago`, `2h ago`, `5d ago`: for tables and status lines.
pub fn relative(ts: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - ts).num_seconds();
    if secs < 0 {
        return "just now".into();
    }
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_postgres_text() {
        let ts = DateTime::parse_from_rfc3339("2026-11-26T04:51:15.123Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(from_db(&to_db(ts)), Some(ts));
        assert_eq!(from_db("2026-11-26 04:51:15.123+00"), Some(ts));
        assert_eq!(from_db("2026-11-26 05:51:15.123+01"), Some(ts));
        assert_eq!(
            from_db("2026-11-26 04:51:15+00").unwrap().timestamp(),
            ts.timestamp()
        );
        assert_eq!(
            from_db("2026-11-26").unwrap().to_rfc3339(),
            "2026-11-26T00:00:00+00:00"
        );
        assert_eq!(from_db("garbage"), None);
        assert_eq!(
            date_from_db("2026-11-26"),
            NaiveDate::from_ymd_opt(2026, 11, 26)
        );
    }

    #[test]
    fn relative_times() {
        let now = Utc::now();
        assert_eq!(relative(now - chrono::Duration::seconds(5), now), "5s ago");
        assert_eq!(relative(now - chrono::Duration::minutes(2), now), "2m ago");
        assert_eq!(relative(now - chrono::Duration::hours(3), now), "3h ago");
        assert_eq!(relative(now - chrono::Duration::days(4), now), "4d ago");
    }
}
