//! The keep-fresh scheduler (`syncdeck serve`): every tick, the process holding the lease in
//! the database tops the queue up with the most urgent due artists that fit the scheduler's
//! share of each daily quota, and fires the config file's periodic rules. Other processes on
//! the same database only work the queue; when the holder stops (or stops renewing), one of
//! them takes over within the lease time.

pub mod priority;
pub mod settings;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::clients::ClientSettings;
use super::plan::{ProviderBudget, provider_budgets};
use super::{Engine, EngineError, RequestKind};
use crate::store::scheduler::Freshness;
use priority::{Due, Reason, due, fit, freshness_share};
pub use settings::{Rule, SchedulerSettings};

/// What one tick did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TickReport {
    /// This process holds the lease (only then does it enqueue).
    pub leader: bool,
    /// The queue is paused: nothing was planned.
    pub paused: bool,
    /// Due artists (not counting ones already queued or running).
    pub due: usize,
    /// Enqueued this tick, most urgent first, and their runs.
    pub enqueued: Vec<Due>,
    pub run_ids: Vec<String>,
    /// Rules that fired this tick, and how many runs each queued.
    pub rules_fired: Vec<(String, usize)>,
}

/// One provider's day as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderForecast {
    pub provider: &'static str,
    pub daily_limit: Option<u64>,
    pub used_today: u64,
    /// What the scheduler may still spend today (its share, less use and runs in flight).
    pub scheduler_left: Option<u64>,
    /// Calls the next batch is expected to spend.
    pub next_batch_calls: u64,
}

/// The plan as the console and `serve --plan` show it.
#[derive(Debug, Clone, Serialize)]
pub struct Forecast {
    pub at: DateTime<Utc>,
    pub artists: usize,
    /// Share synced within 1, 7 and 30 days.
    pub fresh_1d: f64,
    pub fresh_7d: f64,
    pub fresh_30d: f64,
    /// Due artists per reason.
    pub due_by_reason: Vec<(Reason, usize)>,
    /// Scheduled runs queued or running now, and at most.
    pub in_flight: usize,
    pub max_queued: usize,
    /// Percent of each daily quota the scheduler plans.
    pub budget_share: u8,
    /// What the next tick would enqueue, most urgent first.
    pub next: Vec<Due>,
    pub providers: Vec<ProviderForecast>,
    pub lease_holder: Option<String>,
    pub rules: Vec<RuleForecast>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleForecast {
    pub name: String,
    pub cron: String,
    pub next_at: Option<DateTime<Utc>>,
    pub last_fired_at: Option<DateTime<Utc>>,
}

pub struct Scheduler {
    engine: Engine,
    clients: ClientSettings,
    settings: SchedulerSettings,
}

/// The head of `due` the budgets and the room in the queue allow, with the inputs.
struct Batch {
    artists: Vec<Freshness>,
    due: Vec<Due>,
    budgets: Vec<ProviderBudget>,
    in_flight: usize,
    take: usize,
}

impl Scheduler {
    /// `clients`: the limits the engine's clients use (the budgets are read at them).
    pub fn new(engine: Engine, clients: ClientSettings, settings: SchedulerSettings) -> Scheduler {
        Scheduler {
            engine,
            clients,
            settings,
        }
    }

    pub fn settings(&self) -> &SchedulerSettings {
        &self.settings
    }

    fn holder(&self) -> &str {
        self.engine.worker_name()
    }

    async fn batch(&self, now: DateTime<Utc>) -> Result<Batch, EngineError> {
        let store = self.engine.store();
        let artists = store.freshness(now.date_naive()).await?;
        let due = due(&artists, now, &self.settings.policy);
        let rows = crate::store::budgets::snapshot(store).await?;
        let budgets = provider_budgets(&rows, &self.clients);
        let in_flight = usize::try_from(store.active_scheduled_runs().await?).unwrap_or(0);
        let room = self.settings.max_queued.saturating_sub(in_flight);
        let take = fit(&due, &budgets, self.settings.budget_share, in_flight, room);
        Ok(Batch {
            artists,
            due,
            budgets,
            in_flight,
            take,
        })
    }

    /// One pass at `now`: take or renew the lease; if held and the queue runs, fire the due
    /// rules and enqueue the next batch.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, EngineError> {
        let store = self.engine.store();
        let until = now + chrono::Duration::from_std(self.settings.lease_for).unwrap_or_default();
        let mut report = TickReport {
            leader: store
                .hold_scheduler_lease(self.holder(), now, until)
                .await?,
            ..TickReport::default()
        };
        if !report.leader {
            return Ok(report);
        }
        if store.queue_paused().await?.is_some() {
            report.paused = true;
            return Ok(report);
        }
        for rule in &self.settings.rules {
            match store.rule_last_fired(&rule.name).await? {
                // First seen: start counting from now rather than firing at once.
                None => store.set_rule_fired(&rule.name, now).await?,
                Some(last) if rule.fires(last, now) => {
                    store.set_rule_fired(&rule.name, now).await?;
                    let queued = self
                        .engine
                        .enqueue_selection(rule.select, RequestKind::Scheduled)
                        .await?;
                    tracing::info!(rule = %rule.name, runs = queued.len(), "schedule rule fired");
                    report.rules_fired.push((rule.name.clone(), queued.len()));
                }
                Some(_) => {}
            }
        }
        let batch = self.batch(now).await?;
        report.due = batch.due.len();
        let chosen: Vec<Due> = batch.due.into_iter().take(batch.take).collect();
        if !chosen.is_empty() {
            let refs: Vec<(String, String)> = chosen
                .iter()
                .map(|d| (d.artist_id.clone(), d.name.clone()))
                .collect();
            let queued = self.engine.enqueue(&refs, RequestKind::Scheduled).await?;
            report.run_ids = queued.into_iter().map(|q| q.run_id).collect();
            tracing::info!(
                runs = chosen.len(),
                due = report.due,
                "scheduler queued the most urgent due artists"
            );
        }
        report.enqueued = chosen;
        Ok(report)
    }

    /// What the next tick would do, without the lease and without enqueueing.
    pub async fn forecast(&self, now: DateTime<Utc>, show: usize) -> Result<Forecast, EngineError> {
        let store = self.engine.store();
        let batch = self.batch(now).await?;
        let next: Vec<Due> = batch.due.iter().take(batch.take).cloned().collect();
        let mut due_by_reason: Vec<(Reason, usize)> = Vec::new();
        for d in &batch.due {
            match due_by_reason.iter_mut().find(|(r, _)| *r == d.reason) {
                Some((_, n)) => *n += 1,
                None => due_by_reason.push((d.reason, 1)),
            }
        }
        let providers = batch
            .budgets
            .iter()
            .enumerate()
            .map(|(i, b)| ProviderForecast {
                provider: b.source.label(),
                daily_limit: b.daily_limit,
                used_today: b.used_today,
                scheduler_left: priority::allowance(b, self.settings.budget_share, batch.in_flight)
                    .map(|a| a as u64),
                next_batch_calls: next.iter().map(|d| d.calls[i]).sum::<f64>().ceil() as u64,
            })
            .collect();
        let mut rules = Vec::new();
        for rule in &self.settings.rules {
            let last = store.rule_last_fired(&rule.name).await?;
            rules.push(RuleForecast {
                name: rule.name.clone(),
                cron: rule.cron.clone(),
                next_at: rule.next_after(last.unwrap_or(now).max(now)),
                last_fired_at: last,
            });
        }
        Ok(Forecast {
            at: now,
            artists: batch.artists.len(),
            fresh_1d: freshness_share(&batch.artists, now, 1),
            fresh_7d: freshness_share(&batch.artists, now, 7),
            fresh_30d: freshness_share(&batch.artists, now, 30),
            due_by_reason,
            in_flight: batch.in_flight,
            max_queued: self.settings.max_queued,
            budget_share: self.settings.budget_share,
            next: next.into_iter().take(show).collect(),
            providers,
            lease_holder: store.scheduler_lease().await?.map(|l| l.holder),
            rules,
        })
    }

    /// Ticks until `stop`, then gives the lease up. A failing tick is logged and retried on the
    /// next one (the database may be back by then).
    pub async fn run(&self, stop: CancellationToken) {
        let mut was_leader = false;
        loop {
            match self.tick(Utc::now()).await {
                Ok(report) => {
                    if report.leader != was_leader {
                        if report.leader {
                            tracing::info!(holder = %self.holder(), "this process now schedules");
                        } else {
                            tracing::info!(
                                "another process holds the scheduler's lease; only working the queue"
                            );
                        }
                        was_leader = report.leader;
                    }
                }
                Err(e) => tracing::warn!("scheduler tick failed, trying again next tick: {e}"),
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(self.settings.tick) => {}
            }
        }
        let released = tokio::time::timeout(
            Duration::from_secs(5),
            self.engine.store().release_scheduler_lease(self.holder()),
        )
        .await;
        if !matches!(released, Ok(Ok(()))) {
            tracing::warn!(
                "could not give the scheduler's lease up; another process takes over when it runs out"
            );
        }
    }
}
