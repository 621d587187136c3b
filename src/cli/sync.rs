//! `syncdeck sync`: headless syncs through the engine. A progress bar on a terminal, one line
//! per finished artist otherwise, or one JSON object per finished artist and a summary. Exit
//! code 0 only if every requested artist synced. `--worker` serves the shared queue until
//! stopped (extra machines on one Postgres).

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::{ArgGroup, Args};
use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use super::{GlobalArgs, load_config, open_store};
use crate::engine::clients::ClientSettings;
use crate::engine::{Clients, Engine, EngineEvent, EngineSettings, Enqueued, RequestKind};
use crate::store::OpenMode;
use crate::store::artist_sync::Selection;
use crate::store::runs::{RunRow, RunStatus};
use crate::store::sync_status::SyncStatus;
use crate::text::{sanitize, truncate};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["artist", "all", "failed", "worker"])))]
pub struct SyncArgs {
    /// Artists to sync, by id, Ticketmaster id or exact name (repeatable; at most 200 characters).
    #[arg(long, value_name = "ID|NAME", num_args = 1.., value_parser = Bounded::Name)]
    pub artist: Vec<String>,
    /// Every artist.
    #[arg(long)]
    pub all: bool,
    /// Every artist with a failed part.
    #[arg(long)]
    pub failed: bool,
    /// Serve the shared queue until stopped (Ctrl-C or SIGTERM), for extra machines.
    #[arg(long)]
    pub worker: bool,
    /// Artists synced at the same time by this process.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// One JSON object per finished artist, then a summary object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tuning: TuningArgs,
}

/// Limits and timings an operator may need to change (upgraded keys, faster takeover).
#[derive(Debug, Args, Clone, Default)]
pub struct TuningArgs {
    /// Ticketmaster requests per second for this key, shared by every process using it [default: 5].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub tm_rate: Option<u32>,
    /// Ticketmaster requests per day for this key, at least 1 [default: 5000].
    #[arg(long, value_name = "N", value_parser = daily_limit)]
    pub tm_daily: Option<u64>,
    /// Spotify requests per second [default: 10].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub spotify_rate: Option<u32>,
    /// setlist.fm requests per second for this key [default: 1; upgraded keys get 16].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub setlistfm_rate: Option<u32>,
    /// setlist.fm requests per day for this key, at least 1 [default: 1440].
    #[arg(long, value_name = "N", value_parser = daily_limit)]
    pub setlistfm_daily: Option<u64>,
    /// Seconds between heartbeats; a process silent for three of them has its syncs taken over.
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub heartbeat: u64,
}

impl TuningArgs {
    pub fn client_settings(&self) -> ClientSettings {
        let mut s = ClientSettings::default();
        let per_second = |n: u32| crate::providers::limiter::Rate::per_second(n);
        if let Some(n) = self.tm_rate {
            s.ticketmaster.rate = per_second(n);
        }
        if let Some(n) = self.tm_daily {
            s.ticketmaster.daily_limit = Some(n);
        }
        if let Some(n) = self.spotify_rate {
            s.spotify.rate = per_second(n);
        }
        if let Some(n) = self.setlistfm_rate {
            s.setlistfm.rate = per_second(n);
        }
        if let Some(n) = self.setlistfm_daily {
            s.setlistfm.daily_limit = Some(n);
        }
        s
    }

    pub fn engine_settings(&self, concurrency: usize) -> EngineSettings {
        EngineSettings {
            concurrency,
            heartbeat: Duration::from_secs(self.heartbeat),
            ..EngineSettings::default()
        }
    }
}

/// A daily request limit: at least 1 (0 would refuse every request before it is sent).
fn daily_limit(s: &str) -> Result<u64, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| "not a number of requests; give a whole number, at least 1".to_string())?;
    if n == 0 {
        return Err(
            "the minimum is 1: with 0 no request would ever be sent and every artist \
                    would fail as rate-limited; leave the flag out for the key's documented limit"
                .into(),
        );
    }
    Ok(n)
}

/// An operator's name or id, checked at parse time by [`crate::text::check_name`] or
/// [`crate::text::check_id`]: a bad one ends the command with exit code 2, like any bad flag,
/// and the message shows only the start of it (a pasted 100 kB value is not echoed back).
#[derive(Debug, Clone, Copy)]
pub(super) enum Bounded {
    /// An artist's name or search, or an id where a name may be given too.
    Name,
    /// An id: letters, digits, `-`, `_` and `.`.
    Id,
}

impl clap::builder::TypedValueParser for Bounded {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let what = arg
            .map(|a| match a.get_long() {
                Some(long) => format!("--{long}"),
                None => a.get_id().as_str().to_uppercase(),
            })
            .unwrap_or_else(|| "the value".into());
        let fail = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("{message}\n"),
            )
            .with_cmd(cmd)
        };
        let Some(text) = value.to_str() else {
            return Err(fail(format!("{what} is not valid UTF-8; give it as text")));
        };
        match self {
            Bounded::Name => crate::text::check_name(&what, text),
            Bounded::Id => crate::text::check_id(&what, text),
        }
        .map(|()| text.to_string())
        .map_err(fail)
    }
}

/// One finished artist, as `--json` prints it.
#[derive(Serialize)]
struct ArtistResult {
    artist_id: String,
    artist: String,
    run_id: String,
    status: RunStatus,
    sync_status: Option<SyncStatus>,
    error: Option<String>,
    attempts: i32,
    counts: serde_json::Value,
    duration_ms: Option<i64>,
}

#[derive(Serialize)]
struct Summary {
    requested: usize,
    joined: usize,
    succeeded: usize,
    failed: usize,
    cancelled: usize,
    interrupted: usize,
    duration_ms: u128,
}

pub async fn run(global: &GlobalArgs, args: SyncArgs) -> Result<i32> {
    let config = load_config(global)?;
    let store = open_store(&config, OpenMode::Existing).await?;
    store.require_migrated().await.wrap_err_with(|| {
        format!(
            "{} is not set up for syncdeck; run `syncdeck migrate` first",
            store.describe()
        )
    })?;
    let clients = Clients::from_config(&config, &store, &args.tuning.client_settings());
    let settings = args.tuning.engine_settings(usize::from(args.concurrency));
    let engine = Engine::new(store.clone(), clients, settings);
    let events = engine.subscribe();
    engine
        .start()
        .await
        .wrap_err("cannot start the sync engine")?;
    let code = if args.worker {
        serve(&engine, events).await
    } else {
        sync_selected(&engine, &args).await
    };
    engine.shutdown().await;
    store.close().await;
    code
}

async fn serve(
    engine: &Engine,
    mut events: tokio::sync::broadcast::Receiver<EngineEvent>,
) -> Result<i32> {
    eprintln!(
        "syncdeck worker {} serving {} with {} slots; Ctrl-C stops it (running syncs go back to the queue)",
        engine.worker_name(),
        engine.store().describe(),
        engine.settings().concurrency
    );
    let stop = crate::shutdown::stopped();
    tokio::pin!(stop);
    let signal = loop {
        tokio::select! {
            signal = &mut stop => break Some(signal),
            ev = events.recv() => match ev {
                Ok(EngineEvent::Finished { artist_name, status, error, duration, .. }) => {
                    println!("{}", finished_line(&artist_name, status, error.as_deref(), duration.as_millis() as i64));
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break None,
            }
        }
    };
    eprintln!(
        "stopping{}: running syncs go back to the queue",
        signal
            .map(|s| format!(" on {}", s.name()))
            .unwrap_or_default()
    );
    Ok(signal.map_or(0, crate::shutdown::StopSignal::exit_code))
}

fn finished_line(name: &str, status: RunStatus, error: Option<&str>, ms: i64) -> String {
    let name = truncate(&sanitize(name), 40);
    let secs = ms as f64 / 1000.0;
    match status {
        RunStatus::Succeeded => format!("ok        {name}  ({secs:.1} s)"),
        other => format!(
            "{:<9} {name}  {}",
            other.as_str().to_uppercase(),
            truncate(&sanitize(error.unwrap_or("")), 200)
        ),
    }
}

async fn sync_selected(engine: &Engine, args: &SyncArgs) -> Result<i32> {
    let started = Instant::now();
    let queued: Vec<Enqueued> = if args.all {
        engine
            .enqueue_selection(Selection::All, RequestKind::Bulk)
            .await?
    } else if args.failed {
        engine
            .enqueue_selection(Selection::Failed, RequestKind::RetryFailed)
            .await?
    } else {
        let artists = engine.resolve_artists(&args.artist).await?;
        let kind = if artists.len() == 1 {
            RequestKind::Manual
        } else {
            RequestKind::Bulk
        };
        engine.enqueue(&artists, kind).await?
    };
    let joined = queued.iter().filter(|q| q.joined).count();
    if queued.is_empty() {
        if args.json {
            print_json(&summary(&[], 0, started))?;
        } else {
            eprintln!("nothing to sync");
        }
        return Ok(0);
    }
    let terminal = std::io::stderr().is_terminal() && !args.json;
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new(queued.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} artists · {elapsed_precise} · eta {eta} · {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    if !args.json {
        let msg = format!(
            "queued {} artists ({} joined a sync already queued or running)",
            queued.len() - joined,
            joined
        );
        match &bar {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }
    let mut pending: Vec<String> = queued.iter().map(|q| q.run_id.clone()).collect();
    pending.sort();
    pending.dedup();
    let mut finished: Vec<RunRow> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let stop = crate::shutdown::stopped();
    tokio::pin!(stop);
    let mut interrupted = None;
    while !pending.is_empty() {
        tokio::select! {
            signal = &mut stop => { interrupted = Some(signal); break; }
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        let rows = engine.store().runs(&pending).await?;
        let present: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let vanished: Vec<String> = pending
            .iter()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        for row in rows.iter().filter(|r| !r.status.is_active()) {
            if !seen.insert(row.id.clone()) {
                continue;
            }
            report(engine, row, args.json, bar.as_ref()).await?;
            finished.push(row.clone());
        }
        pending.retain(|id| !seen.contains(id) && !vanished.contains(id));
        if let Some(b) = &bar {
            b.set_position(finished.len() as u64);
            b.set_message(format!("{} running here", engine.running_here()));
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let summary = summary(&finished, joined, started);
    if let Some(signal) = interrupted {
        eprintln!(
            "interrupted by {}: {} of {} artists finished; the rest go back to the queue and run on the next `syncdeck sync` or worker",
            signal.name(),
            finished.len(),
            queued.len()
        );
    }
    if args.json {
        print_json(&Summary {
            requested: queued.len(),
            ..summary
        })?;
    } else {
        eprintln!(
            "{} succeeded, {} failed, {} cancelled in {:.1} s",
            summary.succeeded,
            summary.failed,
            summary.cancelled,
            summary.duration_ms as f64 / 1000.0
        );
    }
    let all_ok = interrupted.is_none()
        && finished.len() == queued_runs(&queued)
        && summary.succeeded == finished.len();
    Ok(if let Some(signal) = interrupted {
        signal.exit_code()
    } else if all_ok {
        0
    } else {
        1
    })
}

fn queued_runs(queued: &[Enqueued]) -> usize {
    queued
        .iter()
        .map(|q| q.run_id.as_str())
        .collect::<HashSet<_>>()
        .len()
}

fn summary(finished: &[RunRow], joined: usize, started: Instant) -> Summary {
    let mut by: HashMap<RunStatus, usize> = HashMap::new();
    for r in finished {
        *by.entry(r.status).or_default() += 1;
    }
    let get = |s: RunStatus| by.get(&s).copied().unwrap_or(0);
    Summary {
        requested: finished.len(),
        joined,
        succeeded: get(RunStatus::Succeeded),
        failed: get(RunStatus::Failed),
        cancelled: get(RunStatus::Cancelled),
        interrupted: get(RunStatus::Interrupted),
        duration_ms: started.elapsed().as_millis(),
    }
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let line = serde_json::to_string(value).wrap_err("cannot encode the result")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").wrap_err("cannot write to stdout")?;
    out.flush().wrap_err("cannot write to stdout")
}

async fn report(
    engine: &Engine,
    row: &RunRow,
    json: bool,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<()> {
    let duration_ms = match (row.started_at, row.finished_at) {
        (Some(s), Some(f)) => Some((f - s).num_milliseconds()),
        _ => None,
    };
    if json {
        let target = engine.store().sync_target(&row.artist_id).await?;
        return print_json(&ArtistResult {
            artist_id: row.artist_id.clone(),
            artist: row.artist_name.clone(),
            run_id: row.id.clone(),
            status: row.status,
            sync_status: target.map(|t| t.sync_status),
            error: row.error.clone(),
            attempts: row.attempts,
            counts: row.counts.clone(),
            duration_ms,
        });
    }
    let line = finished_line(
        &row.artist_name,
        row.status,
        row.error.as_deref(),
        duration_ms.unwrap_or(0),
    );
    match bar {
        Some(b) => b.println(line),
        None => println!("{line}"),
    }
    Ok(())
}
