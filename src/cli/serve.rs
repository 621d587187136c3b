//! `syncdeck serve`: a worker on the shared queue plus the keep-fresh scheduler (only the
//! process holding the scheduler's lease plans; see engine/scheduler). `--plan` prints what the
//! scheduler sees and would queue next, and queues nothing.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio_util::sync::CancellationToken;

use super::GlobalArgs;
use super::sync::{TuningArgs, database_failed, serve, stop_engine};
use crate::engine::scheduler::{Forecast, Scheduler, SchedulerSettings};
use crate::engine::{Clients, Engine};
use crate::text::{percent, sanitize, truncate};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file with the `[scheduler]` section [default: the console's config.toml in
    /// the user's config directory, if present].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Artists synced at the same time by this process.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Print the plan (freshness, what is due and why, the next batch, each quota's forecast)
    /// and queue nothing.
    #[arg(long)]
    pub plan: bool,
    /// With --plan: one JSON object.
    #[arg(long, requires = "plan")]
    pub json: bool,
    #[command(flatten)]
    pub tuning: TuningArgs,
}

/// The console's config file, whose `[scheduler]` section `serve` reads by default.
fn default_config_file() -> Option<PathBuf> {
    crate::config::default_config_dir().map(|d| d.join("config.toml"))
}

fn scheduler_settings(args: &ServeArgs) -> Result<SchedulerSettings> {
    let (path, required) = match &args.config {
        Some(p) => (p.clone(), true),
        None => match default_config_file() {
            Some(path) => (path, false),
            None => return Ok(SchedulerSettings::default()),
        },
    };
    SchedulerSettings::load(&path, required).map_err(|e| {
        eyre!("{e}\nfix the [scheduler] section (README, \"Keeping a catalog fresh\") or pass another --config")
    })
}

/// The default config file's `[scheduler]`, for the console's plan view: a problem is noted
/// (shown in the status line) and the defaults are used.
pub fn default_scheduler_settings(problems: &mut Vec<String>) -> SchedulerSettings {
    let Some(path) = default_config_file() else {
        return SchedulerSettings::default();
    };
    SchedulerSettings::load(&path, false).unwrap_or_else(|e| {
        problems.push(format!("[scheduler] ignored: {e}"));
        SchedulerSettings::default()
    })
}

pub async fn run(global: &GlobalArgs, args: ServeArgs) -> Result<i32> {
    let settings = scheduler_settings(&args)?;
    let (config, store) = super::open_migrated(global, "").await?;
    let client_settings = args.tuning.client_settings();
    let clients = Clients::from_config(&config, &store, &client_settings);
    let engine = Engine::new(
        store.clone(),
        clients,
        args.tuning.engine_settings(usize::from(args.concurrency)),
    );
    let scheduler = Scheduler::new(engine.clone(), client_settings, settings);
    if args.plan {
        let forecast = scheduler
            .forecast(chrono::Utc::now(), 10)
            .await
            .wrap_err("cannot read the scheduler's plan")?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string(&forecast).wrap_err("cannot encode the plan")?
            );
        } else {
            print!("{}", describe(&forecast, &scheduler));
        }
        return Ok(0);
    }
    let events = engine.subscribe();
    if let Err(e) = engine.start().await {
        if let Some(u) = engine.unusable_because(&e) {
            return Ok(database_failed(&u, true));
        }
        return Err(e).wrap_err("cannot start the sync engine");
    }
    let s = scheduler.settings();
    eprintln!(
        "scheduler: {} % of each daily quota, up to {} scheduled runs at once, planning every {} s, {} rule(s)",
        s.budget_share,
        s.max_queued,
        s.tick.as_secs(),
        s.rules.len()
    );
    let stop = CancellationToken::new();
    let planning = tokio::spawn({
        let stop = stop.clone();
        async move { scheduler.run(stop).await }
    });
    let code = serve(&engine, events).await;
    stop.cancel();
    if tokio::time::timeout(Duration::from_secs(10), planning)
        .await
        .is_err()
    {
        tracing::warn!("the scheduler did not stop within 10 s");
    }
    stop_engine(&engine, &store).await;
    code
}

/// The plan, for a terminal.
fn describe(f: &Forecast, scheduler: &Scheduler) -> String {
    let s = scheduler.settings();
    let mut out = String::new();
    out.push_str(&format!(
        "{} artists; synced within 1 day {}, 7 days {}, 30 days {}\n",
        f.artists,
        percent(f.fresh_1d),
        percent(f.fresh_7d),
        percent(f.fresh_30d)
    ));
    let due: Vec<String> = f
        .due_by_reason
        .iter()
        .map(|(r, n)| format!("{n} {}", r.describe()))
        .collect();
    out.push_str(&format!(
        "due: {}\n",
        if due.is_empty() {
            "none".to_string()
        } else {
            due.join(", ")
        }
    ));
    out.push_str(&format!(
        "scheduled runs queued or running: {} of {}; the scheduler plans {} % of each daily quota; lease: {}\n",
        f.in_flight,
        s.max_queued,
        s.budget_share,
        f.lease_holder.as_deref().unwrap_or("nobody")
    ));
    out.push_str(&format!(
        "{:<14}{:>10}{:>12}{:>18}{:>14}\n",
        "provider", "limit", "used today", "scheduler left", "next batch"
    ));
    for p in &f.providers {
        let or_none = |v: Option<u64>| v.map_or("no quota".to_string(), |n| n.to_string());
        out.push_str(&format!(
            "{:<14}{:>10}{:>12}{:>18}{:>14}\n",
            p.provider,
            or_none(p.daily_limit),
            p.used_today,
            or_none(p.scheduler_left),
            p.next_batch_calls
        ));
    }
    if f.next.is_empty() {
        out.push_str(
            "next batch: nothing (nothing due, the queue is full, or the share is spent)\n",
        );
    } else {
        out.push_str("next batch:\n");
        for d in &f.next {
            out.push_str(&format!(
                "  {:<40} {}\n",
                truncate(&sanitize(&d.name), 40),
                d.reason.describe()
            ));
        }
    }
    for r in &f.rules {
        out.push_str(&format!(
            "rule \"{}\" ({}): next {}\n",
            sanitize(&r.name),
            r.cron,
            r.next_at.map_or("never".to_string(), |t| t
                .format("%Y-%m-%d %H:%M UTC")
                .to_string())
        ));
    }
    out
}
