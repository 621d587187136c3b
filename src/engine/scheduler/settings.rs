//! The scheduler's part of the config file (`<config dir>/syncdeck/config.toml`, the console's
//! file too, or `serve --config FILE`):
//!
//! ```toml
//! [scheduler]
//! budget_share = 80        # percent of each daily quota the scheduler plans (default 80)
//! max_queued = 32          # scheduled runs queued or running at once (default 32)
//! tick_secs = 60           # how often it plans (default 60)
//! stale_after_days = 7     # re-sync any artist older than this (default 7)
//!
//! [[scheduler.rule]]
//! name = "failed, nightly"
//! cron = "0 3 * * *"       # min hour day month weekday (UTC); 6 fields add seconds first
//! select = "failed"        # all | failed
//! ```
//!
//! Rules enqueue their whole selection when they fire, at the scheduler's priority (below an
//! operator's work); a spent quota makes those runs wait, as for any bulk sync.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::priority::Policy;
use crate::store::artist_sync::Selection;

/// A periodic rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// As written in the file.
    pub cron: String,
    schedule: cron::Schedule,
    pub select: Selection,
}

impl Rule {
    pub fn new(name: &str, cron: &str, select: &str) -> Result<Rule, String> {
        let fields = cron.split_whitespace().count();
        // The usual five fields; the cron crate wants seconds first.
        let full = match fields {
            5 => format!("0 {cron}"),
            6 | 7 => cron.to_string(),
            _ => {
                return Err(format!(
                    "rule \"{name}\": `{cron}` is not a cron expression (5 fields: minute hour day month weekday, e.g. \"0 3 * * *\")"
                ));
            }
        };
        let schedule = cron::Schedule::from_str(&full)
            .map_err(|e| format!("rule \"{name}\": `{cron}`: {e}"))?;
        let select = match select {
            "all" => Selection::All,
            "failed" => Selection::Failed,
            other => {
                return Err(format!(
                    "rule \"{name}\": select = \"{other}\" is not known (all or failed)"
                ));
            }
        };
        Ok(Rule {
            name: name.to_string(),
            cron: cron.to_string(),
            schedule,
            select,
        })
    }

    /// The first occurrence after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&after).next()
    }

    /// Whether an occurrence falls in `(last, now]`.
    pub fn fires(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.next_after(last).is_some_and(|t| t <= now)
    }
}

/// Everything the scheduler is told.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Percent of each daily quota the scheduler plans (the rest: operators and the manual
    /// reserve).
    pub budget_share: u8,
    /// Scheduled runs queued or running at once: the scheduler tops the queue up to this.
    pub max_queued: usize,
    pub tick: Duration,
    /// How long a lease lasts without renewal: another process takes over after it.
    pub lease_for: Duration,
    pub policy: Policy,
    pub rules: Vec<Rule>,
}

impl Default for SchedulerSettings {
    fn default() -> SchedulerSettings {
        SchedulerSettings {
            budget_share: 80,
            max_queued: 32,
            tick: Duration::from_secs(60),
            lease_for: Duration::from_secs(180),
            policy: Policy::default(),
            rules: Vec::new(),
        }
    }
}

#[derive(Deserialize, Default)]
struct File {
    #[serde(default)]
    scheduler: Option<Section>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Section {
    budget_share: Option<u8>,
    max_queued: Option<usize>,
    tick_secs: Option<u64>,
    stale_after_days: Option<i64>,
    #[serde(default)]
    rule: Vec<RuleSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSection {
    name: String,
    cron: String,
    select: String,
}

impl SchedulerSettings {
    /// The settings in `text` (a whole config file; only `[scheduler]` is read).
    pub fn parse(text: &str) -> Result<SchedulerSettings, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let section = file.scheduler.unwrap_or_default();
        let mut out = SchedulerSettings::default();
        if let Some(share) = section.budget_share {
            if share > 100 {
                return Err(format!(
                    "scheduler.budget_share = {share}: a percent, 0 to 100"
                ));
            }
            out.budget_share = share;
        }
        if let Some(n) = section.max_queued {
            if n == 0 {
                return Err(
                    "scheduler.max_queued = 0 would never queue anything; at least 1".into(),
                );
            }
            out.max_queued = n;
        }
        if let Some(secs) = section.tick_secs {
            if !(1..=3600).contains(&secs) {
                return Err(format!("scheduler.tick_secs = {secs}: between 1 and 3600"));
            }
            out.tick = Duration::from_secs(secs);
            // Three ticks without renewal, at least a minute: a slow tick keeps its lease.
            out.lease_for = Duration::from_secs((secs * 3).max(60));
        }
        if let Some(days) = section.stale_after_days {
            if !(1..=365).contains(&days) {
                return Err(format!(
                    "scheduler.stale_after_days = {days}: between 1 and 365"
                ));
            }
            out.policy.stale_after = chrono::Duration::days(days);
        }
        let mut names = std::collections::HashSet::new();
        for r in &section.rule {
            if !names.insert(r.name.as_str()) {
                return Err(format!(
                    "two rules are named \"{}\"; names must differ (each keeps its last firing)",
                    r.name
                ));
            }
            out.rules.push(Rule::new(&r.name, &r.cron, &r.select)?);
        }
        Ok(out)
    }

    /// The settings in the file at `path`; a missing file is the defaults when `required` is
    /// false (the default path), an error when true (a path the operator named).
    pub fn load(path: &Path, required: bool) -> Result<SchedulerSettings, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                SchedulerSettings::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                Ok(SchedulerSettings::default())
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn reads_the_scheduler_section_and_ignores_the_consoles() {
        let s = SchedulerSettings::parse(
            r#"
theme = "light"
[keys]
sync = "x"
[scheduler]
budget_share = 60
max_queued = 8
tick_secs = 30
stale_after_days = 3
[[scheduler.rule]]
name = "failed, nightly"
cron = "0 3 * * *"
select = "failed"
"#,
        )
        .unwrap();
        assert_eq!(s.budget_share, 60);
        assert_eq!(s.max_queued, 8);
        assert_eq!(s.tick, Duration::from_secs(30));
        assert_eq!(s.lease_for, Duration::from_secs(90));
        assert_eq!(s.policy.stale_after, chrono::Duration::days(3));
        assert_eq!(s.rules.len(), 1);
        assert_eq!(s.rules[0].select, Selection::Failed);
        let empty = SchedulerSettings::parse("").unwrap();
        assert_eq!(empty.budget_share, 80);
        assert!(empty.rules.is_empty());
    }

    #[test]
    fn refuses_what_it_cannot_honour_with_a_reason() {
        for (text, says) in [
            ("[scheduler]\nbudget_share = 120", "0 to 100"),
            ("[scheduler]\nmax_queued = 0", "at least 1"),
            ("[scheduler]\ntick_secs = 0", "between 1 and 3600"),
            ("[scheduler]\nshare = 5", "unknown field"),
            (
                "[[scheduler.rule]]\nname = \"x\"\ncron = \"every day\"\nselect = \"all\"",
                "not a cron expression",
            ),
            (
                "[[scheduler.rule]]\nname = \"x\"\ncron = \"0 3 * * *\"\nselect = \"some\"",
                "all or failed",
            ),
            (
                "[[scheduler.rule]]\nname = \"x\"\ncron = \"0 3 * * *\"\nselect = \"all\"\n[[scheduler.rule]]\nname = \"x\"\ncron = \"0 4 * * *\"\nselect = \"all\"",
                "two rules",
            ),
        ] {
            let e = SchedulerSettings::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn a_rule_fires_once_per_occurrence() {
        let r = Rule::new("nightly", "0 3 * * *", "all").unwrap();
        let last = at("2026-12-06T03:00:00Z");
        assert!(!r.fires(last, at("2026-12-07T02:59:59Z")));
        assert!(r.fires(last, at("2026-12-07T03:00:00Z")));
        assert!(
            r.fires(last, at("2026-12-09T12:00:00Z")),
            "missed ones fire once, late"
        );
        assert_eq!(r.next_after(last), Some(at("2026-12-07T03:00:00Z")));
        let every_second = Rule::new("s", "* * * * * *", "failed").unwrap();
        assert!(every_second.fires(last, last + chrono::Duration::seconds(1)));
    }
}
