//! `syncdeck sync`: headless syncs through the engine. A progress bar on a terminal, one line
//! per finished artist otherwise, or one JSON object per finished artist and a summary. Exit
//! code 0 only if every requested artist synced. `--worker` serves the shared queue until
//! stopped (extra machines on one Postgres). A database that becomes unusable (a full disk,
//! an I/O error, a connection lost for longer than three heartbeats) ends either with a
//! message naming the database and what to do, and exit code 3.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::{ArgGroup, Args};
use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use super::GlobalArgs;
use crate::engine::clients::ClientSettings;
use crate::engine::{
    Clients, DatabaseUnusable, Engine, EngineError, EngineEvent, EngineSettings, Enqueued,
    RequestKind,
};
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
    /// Queue nothing: say what the selection would cost (calls per provider, what is left of
    /// each daily quota, how many artists finish today and when the rest will, the time at
    /// the configured rates).
    #[arg(long, conflicts_with = "worker")]
    pub plan: bool,
    #[command(flatten)]
    pub tuning: TuningArgs,
}

/// Limits and timings an operator may need to change (upgraded keys, faster takeover).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Limits and timing")]
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
    /// Percent of each daily quota that bulk syncs leave to manual ones (0 to 90) [default: 10].
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=90))]
    pub manual_reserve: Option<u8>,
    /// Milliseconds added to each rate's period when spacing requests, so that arrivals the
    /// network jitters by less than this never exceed a provider's strict limit [default: 50].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=5000))]
    pub pacing_margin: Option<u64>,
    /// Fetch everything again instead of only what earlier syncs did not store (every album's
    /// tracks, setlists back to the horizon, the attraction's links): more calls, for repairs.
    #[arg(long)]
    pub full: bool,
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
        if let Some(p) = self.manual_reserve {
            for http in [&mut s.ticketmaster, &mut s.spotify, &mut s.setlistfm] {
                http.manual_reserve_percent = p;
            }
        }
        if let Some(ms) = self.pacing_margin {
            for http in [&mut s.ticketmaster, &mut s.spotify, &mut s.setlistfm] {
                http.rate.margin = Duration::from_millis(ms);
            }
        }
        s
    }

    pub fn engine_settings(&self, concurrency: usize) -> EngineSettings {
        let mut settings = EngineSettings {
            concurrency,
            heartbeat: Duration::from_secs(self.heartbeat),
            ..EngineSettings::default()
        };
        settings.pipeline.incremental = !self.full;
        settings
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

/// The exit code when the database became unusable during the command: a full disk, an I/O
/// error, or a lost connection that did not come back (see README, "Exit codes").
pub const EXIT_DATABASE_UNUSABLE: i32 = 3;

/// Says why the database cannot be used and what to do, and gives the exit code.
pub(super) fn database_failed(u: &DatabaseUnusable, worker: bool) -> i32 {
    eprintln!("error: {u}");
    eprintln!(
        "syncs cut short go back to the queue (or are repaired by the next syncdeck to start); \
         once the database works, {}",
        if worker {
            "start the worker again"
        } else {
            "run the same `syncdeck sync` again"
        }
    );
    EXIT_DATABASE_UNUSABLE
}

/// A database failure as exit code 3; any other error as it is.
fn or_database_failed(engine: &Engine, e: EngineError, worker: bool) -> Result<i32> {
    match engine.unusable_because(&e) {
        Some(u) => Ok(database_failed(&u, worker)),
        None => Err(e.into()),
    }
}

/// One finished artist, as `--json` prints it (`"type": "artist"`).
#[derive(Serialize)]
struct ArtistResult {
    #[serde(rename = "type")]
    kind: &'static str,
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

/// The last line of `--json` (`"type": "summary"`).
#[derive(Serialize)]
struct Summary {
    #[serde(rename = "type")]
    kind: &'static str,
    requested: usize,
    joined: usize,
    succeeded: usize,
    failed: usize,
    cancelled: usize,
    interrupted: usize,
    duration_ms: u128,
}

pub async fn run(global: &GlobalArgs, args: SyncArgs) -> Result<i32> {
    let (config, store) = super::open_migrated(global, "").await?;
    if args.plan {
        return plan_selected(&store, &args).await;
    }
    let clients = Clients::from_config(&config, &store, &args.tuning.client_settings());
    let settings = args.tuning.engine_settings(usize::from(args.concurrency));
    let engine = Engine::new(store.clone(), clients, settings);
    let events = engine.subscribe();
    if let Err(e) = engine.start().await {
        if let Some(u) = engine.unusable_because(&e) {
            return Ok(database_failed(&u, args.worker));
        }
        return Err(e).wrap_err("cannot start the sync engine");
    }
    let code = if args.worker {
        serve(&engine, events).await
    } else {
        sync_selected(&engine, &args).await
    };
    stop_engine(&engine, &store).await;
    code
}

/// Stops the engine (running syncs back to the queue) and closes the database.
pub(super) async fn stop_engine(engine: &Engine, store: &crate::store::Store) {
    let stopping = Instant::now();
    engine.shutdown().await;
    tracing::info!("sync engine stopped in {:?}", stopping.elapsed());
    // Closing waits for the pool's connections; a failing database must not hold the exit.
    if tokio::time::timeout(Duration::from_secs(5), store.close())
        .await
        .is_err()
    {
        tracing::warn!("the database connections did not close within 5 s; exiting anyway");
    }
}

pub(super) async fn serve(
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
    let unusable = engine.database_unusable();
    tokio::pin!(unusable);
    let signal = loop {
        tokio::select! {
            signal = &mut stop => break Some(signal),
            u = &mut unusable => {
                eprintln!("stopping: the database is unusable");
                return Ok(database_failed(&u, true));
            }
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
    let queued = async {
        Ok::<Vec<Enqueued>, EngineError>(if args.all {
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
        })
    };
    let queued = match queued.await {
        Ok(q) => q,
        Err(e) => return or_database_failed(engine, e, false),
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
    let mut waits_told: HashSet<(String, Option<chrono::DateTime<chrono::Utc>>)> = HashSet::new();
    let stop = crate::shutdown::stopped();
    tokio::pin!(stop);
    let unusable = engine.database_unusable();
    tokio::pin!(unusable);
    let mut interrupted = None;
    let mut db_failed = None;
    while !pending.is_empty() {
        tokio::select! {
            signal = &mut stop => { interrupted = Some(signal); break; }
            u = &mut unusable => { db_failed = Some(u); break; }
            _ = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        let rows = match engine.store().runs(&pending).await {
            Ok(rows) => rows,
            // A failing database: the engine's health decides when to give up on it.
            Err(e) if e.fault().is_some() => {
                engine.note_store_error(&e);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let present: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let vanished: Vec<String> = pending
            .iter()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        // A run waiting for a quota reset is said once per wait (it is not finished).
        let now = chrono::Utc::now();
        for row in rows.iter().filter(|r| r.waiting(now)) {
            if waits_told.insert((row.id.clone(), row.wait_until)) {
                report_wait(row, args.json, bar.as_ref())?;
            }
        }
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
        // Runs a signal left unfinished went back to the queue: they count as interrupted.
        let unfinished = if interrupted.is_some() {
            queued_runs(&queued).saturating_sub(finished.len())
        } else {
            0
        };
        print_json(&Summary {
            requested: queued.len(),
            interrupted: summary.interrupted + unfinished,
            ..summary
        })?;
    } else if db_failed.is_some() {
        eprintln!(
            "{} of {} artists finished before the database failed",
            finished.len(),
            queued.len()
        );
    } else {
        eprintln!(
            "{} succeeded, {} failed, {} cancelled in {:.1} s",
            summary.succeeded,
            summary.failed,
            summary.cancelled,
            summary.duration_ms as f64 / 1000.0
        );
    }
    if let Some(u) = db_failed {
        return Ok(database_failed(&u, false));
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
        kind: "summary",
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

/// `sync … --plan`: the selection's cost against the budgets, printed; nothing is queued.
async fn plan_selected(store: &crate::store::Store, args: &SyncArgs) -> Result<i32> {
    use crate::engine::plan::{plan, provider_budgets};
    use crate::store::sync_status::{PartStatus, Source};
    // The same selection a sync would queue (`--all`, `--failed`), or the named artists.
    let ids: HashSet<String> = if args.all || args.failed {
        let which = if args.all {
            Selection::All
        } else {
            Selection::Failed
        };
        store
            .artist_refs(which)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    } else {
        let mut ids = HashSet::new();
        for key in &args.artist {
            let found = store.find_artists(key).await?;
            if found.is_empty() {
                color_eyre::eyre::bail!(
                    "no artist is \"{}\" (by id, Ticketmaster id or exact name); `syncdeck status` lists them",
                    sanitize(key)
                );
            }
            ids.extend(found.into_iter().map(|a| a.id));
        }
        ids
    };
    let selected: Vec<_> = store
        .all_artists()
        .await?
        .into_iter()
        .filter(|a| ids.contains(&a.id))
        .collect();
    let settings = args.tuning.client_settings();
    let rows = crate::store::budgets::snapshot(store).await?;
    let now = chrono::Utc::now();
    let budgets = provider_budgets(&rows, &settings);
    let firsts = |source: Source| {
        selected
            .iter()
            .filter(|a| a.sync_status.get(source) != PartStatus::Success)
            .count()
    };
    let p = plan(selected.len(), firsts, &budgets, now);
    if args.json {
        print_json(&p)?;
        return Ok(0);
    }
    let mut out = format!(
        "plan for {} artist{} (nothing queued):\n",
        p.artists,
        if p.artists == 1 { "" } else { "s" }
    );
    out.push_str(&format!(
        "{:<13} {:>7} {:>9} {:>11} {:>12} {:>14}  {}\n",
        "provider", "first", "re-sync", "calls", "left today", "artists today", "at the rate"
    ));
    for pp in &p.providers {
        out.push_str(&format!(
            "{:<13} {:>7} {:>9} {:>11} {:>12} {:>14}  {}\n",
            pp.provider,
            pp.first_syncs,
            pp.re_syncs,
            pp.calls_needed,
            pp.left_today
                .map(|l| l.to_string())
                .unwrap_or_else(|| "no quota".into()),
            pp.artists_today,
            crate::engine::plan::human_seconds(pp.seconds_at_rate)
        ));
    }
    out.push_str(&p.outcome());
    out.push('\n');
    print!("{out}");
    Ok(0)
}

/// A run that waits for a quota reset: `{"type": "waiting", …}` with `--json`, else a line
/// on stderr (stdout keeps one line per finished artist).
fn report_wait(row: &RunRow, json: bool, bar: Option<&indicatif::ProgressBar>) -> Result<()> {
    let until = row.wait_until.map(|t| t.to_rfc3339());
    let reason = row.wait_reason.clone().unwrap_or_default();
    if json {
        return print_json(&serde_json::json!({
            "type": "waiting",
            "artist_id": row.artist_id,
            "artist": row.artist_name,
            "run_id": row.id,
            "until": until,
            "reason": reason,
        }));
    }
    let line = format!(
        "waiting   {}  until {}: {}",
        truncate(&sanitize(&row.artist_name), 60),
        row.wait_until
            .map(|t| t.format("%H:%M:%S UTC").to_string())
            .unwrap_or_default(),
        truncate(&sanitize(&reason), 200)
    );
    match bar {
        Some(b) => b.println(line),
        None => eprintln!("{line}"),
    }
    Ok(())
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
        let target = match engine.store().sync_target(&row.artist_id).await {
            Ok(t) => t,
            Err(e) if e.fault().is_some() => {
                engine.note_store_error(&e);
                None
            }
            Err(e) => return Err(e.into()),
        };
        return print_json(&ArtistResult {
            kind: "artist",
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
