//! `env check` and the env panel: a static verdict on every variable, then live checks (the
//! database here; the three providers' probes, in [`provider_probes`], plug in through
//! [`LiveProbe`]).
//!
//! No secret value reaches a [`Check`]: rows carry only redacted previews.

pub mod provider_probes;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{self, Config, EnvSnapshot, Source, Verdict};
use crate::store::{OpenMode, Store, inspect};

/// The status words of the `env check --json` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Ok,
    Missing,
    Invalid,
    Unreachable,
    RateLimited,
    Error,
    Skipped,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Missing => "missing",
            CheckStatus::Invalid => "invalid",
            CheckStatus::Unreachable => "unreachable",
            CheckStatus::RateLimited => "rate-limited",
            CheckStatus::Error => "error",
            CheckStatus::Skipped => "skipped",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    /// A failing required check makes the whole report fail.
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    pub fn new(name: impl Into<String>, status: CheckStatus, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            status,
            detail: detail.into(),
            required: true,
            source: None,
            preview: None,
            latency_ms: None,
            hint: None,
        }
    }

    pub fn passed(&self) -> bool {
        match self.status {
            CheckStatus::Ok | CheckStatus::Skipped => true,
            CheckStatus::Missing => !self.required,
            _ => false,
        }
    }
}

/// The whole report: `ok` only when every required check passed.
#[derive(Debug, Clone, Serialize)]
pub struct EnvReport {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl EnvReport {
    pub fn new(checks: Vec<Check>) -> Self {
        EnvReport {
            ok: checks.iter().all(Check::passed),
            checks,
        }
    }
}

/// A live check of one provider; the providers layer implements it. Each probe runs with its
/// own timeout, concurrently with the others, so one slow provider never blocks the rest.
pub trait LiveProbe: Send + Sync {
    fn name(&self) -> &'static str;
    fn run(&self) -> Pin<Box<dyn Future<Output = Check> + Send + '_>>;
}

/// The static rows: one per variable of the design's table.
pub fn variable_checks(snapshot: &EnvSnapshot) -> Vec<Check> {
    config::report_variables(snapshot)
        .into_iter()
        .map(|r| {
            let status = match r.verdict {
                Verdict::Ok => CheckStatus::Ok,
                Verdict::Missing => CheckStatus::Missing,
                Verdict::Invalid => CheckStatus::Invalid,
            };
            let mut c = Check::new(r.name, status, r.detail);
            c.required = r.required || r.verdict == Verdict::Invalid;
            c.source = r.source;
            c.preview = Some(r.preview);
            if status != CheckStatus::Ok {
                c.hint = Some(match r.verdict {
                    Verdict::Missing => format!("set {} in the environment or in .env", r.name),
                    _ => format!("fix {} (see detail)", r.name),
                });
            }
            c
        })
        .collect()
}

/// Connects (never creating a database) and says which backend, which server version, and
/// whether the app's and syncdeck's tables are there.
pub async fn database_check(config: &Config) -> Check {
    let started = Instant::now();
    let opened = tokio::time::timeout(
        Duration::from_secs(10),
        Store::open(&config.database, OpenMode::Existing),
    )
    .await;
    let store = match opened {
        Err(_) => {
            let mut c = Check::new(
                "database",
                CheckStatus::Unreachable,
                format!(
                    "{}: no answer within 10 s",
                    config.database.display_location()
                ),
            );
            c.hint = Some("check the host, port and firewall in DATABASE_URL".into());
            return c;
        }
        Ok(Err(e)) => {
            let mut c = Check::new("database", CheckStatus::Unreachable, e.to_string());
            c.latency_ms = Some(started.elapsed().as_millis() as u64);
            c.hint = Some(
                "fix DATABASE_URL or start the database; `syncdeck migrate` creates a SQLite file"
                    .into(),
            );
            return c;
        }
        Ok(Ok(store)) => store,
    };
    let result = async {
        let version = inspect::server_version(&store).await?;
        let tables = inspect::present_tables(&store).await?;
        Ok::<_, crate::store::StoreError>((version, tables))
    }
    .await;
    let latency = started.elapsed().as_millis() as u64;
    store.close().await;
    let mut c = match result {
        Err(e) => Check::new("database", CheckStatus::Error, e.to_string()),
        Ok((version, tables)) => {
            let missing_app: Vec<&str> = inspect::APP_TABLES
                .iter()
                .copied()
                .filter(|t| !tables.contains(*t))
                .collect();
            let missing_own: Vec<&str> = inspect::SYNCDECK_TABLES
                .iter()
                .copied()
                .filter(|t| !tables.contains(*t))
                .collect();
            let apalis = match store.backend() {
                crate::store::Backend::Sqlite => tables.contains("Jobs"),
                crate::store::Backend::Postgres => tables.contains("apalis.jobs"),
            };
            let short_version: String = version
                .split(" on ")
                .next()
                .unwrap_or(&version)
                .chars()
                .take(40)
                .collect();
            let mut detail = format!("{} · {short_version}", store.describe());
            if missing_app.is_empty() && missing_own.is_empty() && apalis {
                detail.push_str(" · app tables, syncdeck_ tables and job queue present");
                Check::new("database", CheckStatus::Ok, detail)
            } else {
                let mut missing: Vec<String> = missing_app
                    .iter()
                    .chain(&missing_own)
                    .map(|s| s.to_string())
                    .collect();
                if !apalis {
                    missing.push("job queue (apalis)".into());
                }
                detail.push_str(&format!(" · missing: {}", missing.join(", ")));
                let mut c = Check::new("database", CheckStatus::Error, detail);
                c.hint = Some("run `syncdeck migrate`, then `syncdeck doctor`".into());
                c
            }
        }
    };
    c.latency_ms = Some(latency);
    c
}

/// Runs the probes concurrently, each under `timeout`; a probe that overruns reports unreachable.
pub async fn run_probes(probes: &[Box<dyn LiveProbe>], timeout: Duration) -> Vec<Check> {
    let runs = probes.iter().map(|p| async move {
        let started = Instant::now();
        match tokio::time::timeout(timeout, p.run()).await {
            Ok(mut c) => {
                c.latency_ms
                    .get_or_insert(started.elapsed().as_millis() as u64);
                c
            }
            Err(_) => {
                let mut c = Check::new(
                    p.name(),
                    CheckStatus::Unreachable,
                    format!("no answer within {} s", timeout.as_secs()),
                );
                c.latency_ms = Some(timeout.as_millis() as u64);
                c.hint = Some("check the base URL and the network".into());
                c
            }
        }
    });
    futures::future::join_all(runs).await
}

/// The full report: variables, database, then the provider probes (or `skipped` rows when a
/// provider has no probe or no complete key).
pub async fn env_report(
    config: Option<&Config>,
    snapshot: &EnvSnapshot,
    probes: &[Box<dyn LiveProbe>],
) -> EnvReport {
    let mut checks = variable_checks(snapshot);
    match config {
        Some(config) => checks.push(database_check(config).await),
        None => {
            let mut c = Check::new(
                "database",
                CheckStatus::Skipped,
                "not checked: the configuration above is invalid",
            );
            c.required = false;
            checks.push(c);
        }
    }
    let mut live = run_probes(probes, Duration::from_secs(10)).await;
    for name in ["ticketmaster", "spotify", "setlistfm"] {
        if !live.iter().any(|c| c.name == name) {
            let mut c = Check::new(
                name,
                CheckStatus::Skipped,
                "no live check for this provider",
            );
            c.required = false;
            live.push(c);
        }
    }
    checks.extend(live);
    EnvReport::new(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_failures_fail_the_report_and_skips_do_not() {
        let mut skipped = Check::new("x", CheckStatus::Skipped, "");
        skipped.required = false;
        assert!(EnvReport::new(vec![Check::new("a", CheckStatus::Ok, ""), skipped]).ok);
        assert!(!EnvReport::new(vec![Check::new("a", CheckStatus::Missing, "")]).ok);
        let mut optional = Check::new("a", CheckStatus::Missing, "");
        optional.required = false;
        assert!(EnvReport::new(vec![optional]).ok);
    }

    #[test]
    fn json_status_words_match_the_contract() {
        let words: Vec<String> = [
            CheckStatus::Ok,
            CheckStatus::Missing,
            CheckStatus::Invalid,
            CheckStatus::Unreachable,
            CheckStatus::Error,
            CheckStatus::Skipped,
        ]
        .iter()
        .map(|s| {
            serde_json::to_value(s)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
        assert_eq!(
            words,
            [
                "ok",
                "missing",
                "invalid",
                "unreachable",
                "error",
                "skipped"
            ]
        );
        assert_eq!(
            serde_json::to_value(CheckStatus::RateLimited).unwrap(),
            "rate-limited"
        );
    }

    struct Slow;
    impl LiveProbe for Slow {
        fn name(&self) -> &'static str {
            "ticketmaster"
        }
        fn run(&self) -> Pin<Box<dyn Future<Output = Check> + Send + '_>> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Check::new("ticketmaster", CheckStatus::Ok, "")
            })
        }
    }
    struct Fast;
    impl LiveProbe for Fast {
        fn name(&self) -> &'static str {
            "spotify"
        }
        fn run(&self) -> Pin<Box<dyn Future<Output = Check> + Send + '_>> {
            Box::pin(async { Check::new("spotify", CheckStatus::Ok, "token issued") })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_probe_times_out_without_blocking_the_others() {
        let probes: Vec<Box<dyn LiveProbe>> = vec![Box::new(Slow), Box::new(Fast)];
        let out = run_probes(&probes, Duration::from_secs(10)).await;
        assert_eq!(out[0].status, CheckStatus::Unreachable);
        assert_eq!(out[1].status, CheckStatus::Ok);
    }
}
