//! The interactive console: one [`app::App`] state, a pure `update`, views that only draw, and
//! one loop that selects over terminal events, engine events, effect results and a tick, and
//! redraws only when something changed (at most about 60 frames a second, none while idle).

pub mod app;
pub mod filter;
pub mod keys;
pub mod live;
pub mod panes;
pub mod reload;
pub mod settings;
pub mod theme;
pub mod view;

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::Utc;
use color_eyre::eyre::{Result, WrapErr};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures::StreamExt;
use tokio::sync::mpsc;

use app::{Action, App, DetailData, Effect, HeaderInfo};
use theme::Theme;

use crate::config::Config;
use crate::engine::{Engine, RequestKind};
use crate::store::artist_sync::Selection;

/// How often (in 1 s ticks) the console looks for other processes' work.
const POLL_EVERY_TICKS: u64 = 2;
/// How far each look reaches back before the previous one: covers clock skew between
/// machines and runs committed just after the previous look.
const POLL_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// Every artist is read again this often when any artist's `updated_at` moved, and every
/// `FULL_RELOAD_ANYWAY` regardless (see [`reload::ReloadPolicy`]).
const FULL_RELOAD_EVERY: Duration = Duration::from_secs(300);
const FULL_RELOAD_ANYWAY: Duration = Duration::from_secs(1800);
/// How often (in ticks) a poll also reads the newest artist `updated_at` (a full scan).
const NEWEST_UPDATE_EVERY_TICKS: u64 = 30;
/// How often (in ticks) a poll also counts the artists (added or removed elsewhere).
const COUNT_EVERY_TICKS: u64 = 10;

/// What the console starts with.
pub struct TuiOptions {
    pub theme: Theme,
    pub keys: keys::KeyMap,
    /// Shown once in the status line (config problems, demo hints).
    pub notices: Vec<String>,
    pub config: Config,
    /// Mouse capture at start (the settings file's `mouse`).
    pub mouse: bool,
    /// The limits the engine's clients use and the config file's `[scheduler]`: the plan
    /// view shows what a `syncdeck serve` with them would plan.
    pub clients: crate::engine::clients::ClientSettings,
    pub scheduler: crate::engine::scheduler::SchedulerSettings,
}

/// Restores the terminal whatever happens: normal exit, error, panic.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Set once the terminal is restored, so the guard's drop during a panic's unwinding does not
/// restore again (a second "leave the alternate screen" moves the cursor back above the
/// panic report).
static RESTORED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn restore_terminal() {
    if RESTORED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(
        out,
        crossterm::event::DisableMouseCapture,
        crossterm::event::DisableBracketedPaste,
        crossterm::terminal::EndSynchronizedUpdate
    );
    ratatui::restore();
    let _ = crossterm::execute!(out, crossterm::cursor::Show);
}

/// Runs the console until the operator quits; running syncs go back to the queue.
pub async fn run(engine: Engine, options: TuiOptions) -> Result<i32> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        hook(info);
    }));
    let mut terminal = ratatui::try_init().wrap_err("cannot set up the terminal")?;
    RESTORED.store(false, std::sync::atomic::Ordering::SeqCst);
    let _guard = TerminalGuard;
    let mut app = App::new(options.keys.clone());
    app.clients = options.clients.clone();
    if let Ok(size) = terminal.size() {
        app.width = size.width;
        app.height = size.height;
    }
    if !options.notices.is_empty() {
        app.notice = Some(options.notices.join(" · "));
    }
    if options.mouse {
        app.mouse = true;
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
    }
    let theme = options.theme.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<Action>();
    let mut events = EventStream::new();
    let mut engine_events = engine.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let ctx = EffectContext {
        engine: engine.clone(),
        config: options.config.clone(),
        planner: std::sync::Arc::new(crate::engine::scheduler::Scheduler::new(
            engine.clone(),
            options.clients.clone(),
            options.scheduler.clone(),
        )),
        tx: tx.clone(),
    };
    ctx.perform(Effect::LoadArtists);
    let mut dirty = true;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let mut reload =
        reload::ReloadPolicy::new(FULL_RELOAD_EVERY, FULL_RELOAD_ANYWAY, Instant::now());
    let mut ticks: u64 = 0;
    let mut poll_since = Utc::now() - POLL_OVERLAP;
    let frame_budget = Duration::from_millis(16);
    let stop = crate::shutdown::stopped();
    tokio::pin!(stop);
    // Every way out of the loop (q, a signal, the terminal gone, an error) passes the engine's
    // shutdown below: running syncs go back to the queue, their artists' parts are restored.
    let outcome: Result<i32> = async { loop {
        if dirty && last_draw.elapsed() >= frame_budget {
            app.running_here = engine.running_here();
            let mut out = std::io::stdout();
            let _ = crossterm::execute!(out, crossterm::terminal::BeginSynchronizedUpdate);
            let mut measured = panes::Measured::default();
            if let Err(e) = terminal.draw(|f| measured = view::draw(f, &app, &theme, Utc::now())) {
                // Writing fails when the terminal is gone (closed window, dropped SSH).
                tracing::warn!("cannot draw to the terminal ({e}); stopping as on SIGHUP");
                crate::shutdown::request(crate::shutdown::StopSignal::Hangup);
                return Ok(crate::shutdown::StopSignal::Hangup.exit_code());
            }
            let _ = crossterm::execute!(out, crossterm::terminal::EndSynchronizedUpdate);
            let _ = out.flush();
            last_draw = Instant::now();
            // A pane that scrolled past its new end (the terminal shrank) is drawn again.
            dirty = app.measured(measured);
            // A test hook: proves the terminal is restored after a panic (tests/tui_pty.rs).
            if std::env::var_os("SYNCDECK_TEST_PANIC").is_some() {
                panic!("SYNCDECK_TEST_PANIC is set: panicking after the first frame, as asked");
            }
        }
        let wait = if dirty {
            frame_budget.saturating_sub(last_draw.elapsed())
        } else {
            Duration::from_secs(3600)
        };
        let action = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) if k.kind != KeyEventKind::Release => Some(Action::Key(k)),
                Some(Ok(Event::Resize(w, h))) => Some(Action::Resize { width: w, height: h }),
                Some(Ok(Event::Mouse(m))) => match m.kind {
                    crossterm::event::MouseEventKind::ScrollUp => Some(Action::ScrollLog(3)),
                    crossterm::event::MouseEventKind::ScrollDown => Some(Action::ScrollLog(-3)),
                    _ => None,
                },
                Some(Ok(_)) => None,
                Some(Err(e)) => {
                    tracing::warn!("cannot read the terminal ({e}); stopping as on SIGHUP");
                    crate::shutdown::request(crate::shutdown::StopSignal::Hangup);
                    return Ok(crate::shutdown::StopSignal::Hangup.exit_code());
                }
                None => {
                    tracing::warn!("the terminal closed; stopping as on SIGHUP");
                    crate::shutdown::request(crate::shutdown::StopSignal::Hangup);
                    return Ok(crate::shutdown::StopSignal::Hangup.exit_code());
                }
            },
            signal = &mut stop => {
                app.notice = Some(format!("{}: stopping, running syncs go back to the queue…", signal.name()));
                let _ = terminal.draw(|f| {
                    view::draw(f, &app, &theme, Utc::now());
                });
                return Ok(signal.exit_code());
            },
            ev = engine_events.recv() => match ev {
                Ok(ev) => Some(Action::Engine(ev)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    // Missed events: reload the list so nothing shown is stale.
                    ctx.perform(Effect::LoadArtists);
                    Some(Action::Notice(format!("{n} engine events were skipped while busy; list reloaded")))
                }
                Err(_) => None,
            },
            a = rx.recv() => a,
            _ = tick.tick() => {
                ticks += 1;
                // The header (workers, budgets, queue counts) every 2 s; every second while
                // syncs run here, when its counts move.
                if app.active_count() > 0 || ticks.is_multiple_of(2) {
                    ctx.load_header();
                }
                for effect in app.update(Action::Tick) {
                    ctx.perform(effect);
                }
                if ticks.is_multiple_of(POLL_EVERY_TICKS) {
                    // Other processes sync too: re-read only the artists their runs touched.
                    ctx.poll(
                        poll_since,
                        ticks.is_multiple_of(COUNT_EVERY_TICKS),
                        ticks.is_multiple_of(NEWEST_UPDATE_EVERY_TICKS),
                    );
                    poll_since = Utc::now() - POLL_OVERLAP;
                }
                if reload.due(Instant::now()) {
                    // Restarted here too, so a slow read is not asked for twice.
                    reload.loaded(Instant::now());
                    ctx.perform(Effect::LoadArtists);
                }
                // "last sync 4m ago" moves on even when nothing else does.
                dirty |= ticks.is_multiple_of(60);
                None
            },
            _ = tokio::time::sleep(wait) => None,
        };
        let Some(action) = action else { continue };
        if let Action::Polled(p) = &action {
            if let Some(newest) = &p.newest_update {
                reload.observe(newest.clone());
            }
            if app.poll_changes_nothing(p) {
                continue;
            }
        }
        if let Action::ArtistsLoaded(_) = &action {
            reload.loaded(Instant::now());
        }
        if let Action::HeaderLoaded(h) = action {
            // Read every second or two: drawn again only when something shown moved.
            dirty |= app.take_header(h);
            continue;
        }
        dirty |= !matches!(action, Action::Tick);
        for effect in app.update(action) {
            if effect == Effect::Quit {
                app.notice = Some("stopping: running syncs go back to the queue…".into());
                let _ = terminal.draw(|f| {
                    view::draw(f, &app, &theme, Utc::now());
                });
                return Ok(0);
            }
            ctx.perform(effect);
        }
    } }
    .await;
    engine.shutdown().await;
    outcome
}

/// Provider clients for adding an artist: the configured keys, the shared budgets.
fn add_artist_clients(config: &Config, engine: &Engine) -> crate::engine::Clients {
    crate::engine::Clients::from_config(
        config,
        engine.store(),
        &crate::engine::clients::ClientSettings::default(),
    )
}

struct EffectContext {
    engine: Engine,
    config: Config,
    planner: std::sync::Arc<crate::engine::scheduler::Scheduler>,
    tx: mpsc::UnboundedSender<Action>,
}

impl EffectContext {
    fn send(&self, a: Action) {
        let _ = self.tx.send(a);
    }

    fn load_header(&self) {
        let engine = self.engine.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let store = engine.store();
            let cutoff = Utc::now()
                - chrono::Duration::from_std(engine.settings().orphan_after()).unwrap_or_default();
            let workers = store.live_workers(cutoff).await.unwrap_or_default();
            let budgets = crate::store::budgets::snapshot(store)
                .await
                .unwrap_or_default();
            let counts = store.run_counts().await.unwrap_or_default();
            let paused = store.queue_paused().await.ok().flatten().is_some();
            let count = |s| {
                counts
                    .iter()
                    .find(|(x, _)| *x == s)
                    .map(|(_, n)| *n)
                    .unwrap_or(0)
            };
            let _ = tx.send(Action::HeaderLoaded(HeaderInfo {
                database: store.describe(),
                workers: workers.len(),
                slots: workers.iter().map(|(_, c)| *c as usize).sum(),
                budgets,
                queued: count(crate::store::runs::RunStatus::Queued),
                running: count(crate::store::runs::RunStatus::Running),
                paused,
                read_at: Some(Utc::now()),
            }));
        });
    }

    /// Reads the runs active or finished since `since` and their artists (see [`app::Polled`]).
    fn poll(&self, since: chrono::DateTime<Utc>, count: bool, read_newest_update: bool) {
        let engine = self.engine.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let store = engine.store();
            let polled = async {
                let runs = store.runs_active_or_finished_since(since).await?;
                let mut ids: Vec<String> = runs.iter().map(|r| r.artist_id.clone()).collect();
                ids.sort();
                ids.dedup();
                let artists = store.artist_summaries(&ids).await?;
                let total = if count {
                    Some(store.artist_count().await?)
                } else {
                    None
                };
                let newest_update = if read_newest_update {
                    Some(store.artists_newest_update().await?)
                } else {
                    None
                };
                Ok::<_, crate::store::StoreError>(app::Polled {
                    runs,
                    artists,
                    total,
                    newest_update,
                })
            };
            let _ = tx.send(match polled.await {
                Ok(p) => Action::Polled(p),
                Err(e) => Action::Failed(format!(
                    "cannot follow the runs of other processes (the list may be stale): {e}"
                )),
            });
        });
    }

    fn perform(&self, effect: Effect) {
        let engine = self.engine.clone();
        let tx = self.tx.clone();
        match effect {
            Effect::Quit => {}
            Effect::LoadArtists => {
                tokio::spawn(async move {
                    let _ = match engine.store().all_artists_unordered().await {
                        Ok(list) => tx.send(Action::ArtistsLoaded(list)),
                        Err(e) => tx.send(Action::Failed(format!("cannot load the artists: {e}"))),
                    };
                    // Runs queued before the console opened, or by other processes.
                    let store = engine.store();
                    if let Ok(ids) = store.active_run_ids().await
                        && let Ok(runs) = store.runs(&ids).await
                    {
                        let _ = tx.send(Action::ActiveRuns(runs));
                    }
                });
            }
            Effect::RefreshArtist { artist_id } => {
                tokio::spawn(async move {
                    if let Ok(Some(d)) = engine.store().artist_detail(&artist_id).await {
                        let _ = tx.send(Action::ArtistRefreshed(d.summary));
                    }
                });
            }
            Effect::LoadDetail { artist_id } => {
                tokio::spawn(async move {
                    let store = engine.store();
                    let Ok(Some(detail)) = store.artist_detail(&artist_id).await else {
                        return;
                    };
                    let mut runs = Vec::new();
                    for run in store.artist_runs(&artist_id, 5).await.unwrap_or_default() {
                        let attempts = store.run_attempts(&run.id).await.unwrap_or_default();
                        runs.push((run, attempts));
                    }
                    let _ = tx.send(Action::DetailLoaded(DetailData { detail, runs }));
                });
            }
            Effect::LoadPlan => {
                let planner = self.planner.clone();
                tokio::spawn(async move {
                    let _ = match planner.forecast(Utc::now(), 50).await {
                        Ok(f) => tx.send(Action::PlanLoaded(Box::new(f))),
                        Err(e) => tx.send(Action::Failed(format!(
                            "cannot read the keep-fresh plan: {e}"
                        ))),
                    };
                });
            }
            Effect::LoadJobs => {
                tokio::spawn(async move {
                    match engine.store().recent_runs(500).await {
                        Ok(jobs) => tx.send(Action::JobsLoaded(jobs)),
                        Err(e) => tx.send(Action::Failed(format!("cannot load the jobs: {e}"))),
                    }
                });
            }
            Effect::Enqueue { artists, kind } => {
                tokio::spawn(async move {
                    match engine.enqueue(&artists, kind).await {
                        Ok(q) => {
                            let joined = q.iter().filter(|e| e.joined).count();
                            let text = if joined > 0 {
                                format!(
                                    "queued {} ({joined} joined a sync already queued or running)",
                                    q.len()
                                )
                            } else {
                                format!("queued {}", q.len())
                            };
                            // Bulk work gets a gauge; a single manual sync shows in its row.
                            if kind != RequestKind::Manual {
                                let _ = tx.send(Action::BatchQueued(
                                    q.into_iter().map(|e| e.run_id).collect(),
                                ));
                            }
                            tx.send(Action::Notice(text))
                        }
                        Err(e) => tx.send(Action::Failed(format!("cannot queue: {e}"))),
                    }
                });
            }
            Effect::RetryFailed => {
                tokio::spawn(async move {
                    match engine
                        .enqueue_selection(Selection::Failed, RequestKind::RetryFailed)
                        .await
                    {
                        Ok(q) => {
                            let text = format!("queued {} failed artists again", q.len());
                            let _ = tx.send(Action::BatchQueued(
                                q.into_iter().map(|e| e.run_id).collect(),
                            ));
                            tx.send(Action::Notice(text))
                        }
                        Err(e) => tx.send(Action::Failed(format!("cannot queue: {e}"))),
                    }
                });
            }
            Effect::Cancel { artist_id } => {
                tokio::spawn(async move {
                    match engine.cancel_artist(&artist_id).await {
                        Ok(o) => tx.send(Action::Notice(format!(
                            "cancel: {}",
                            match o {
                                crate::store::runs::CancelOutcome::CancelledQueued =>
                                    "the queued sync was cancelled",
                                crate::store::runs::CancelOutcome::Flagged =>
                                    "the running sync stops at its next step",
                                crate::store::runs::CancelOutcome::NotActive => "nothing to cancel",
                            }
                        ))),
                        Err(e) => tx.send(Action::Failed(format!("cannot cancel: {e}"))),
                    }
                });
            }
            Effect::SetPaused(pause) => {
                tokio::spawn(async move {
                    let by = crate::engine::operator("console");
                    match engine.set_paused(pause, &by).await {
                        Ok(()) => tx.send(Action::Notice(if pause {
                            "the queue is paused: no worker starts a sync until you press P again"
                                .into()
                        } else {
                            "the queue is resumed".into()
                        })),
                        Err(e) => tx.send(Action::Failed(format!(
                            "cannot {} the queue: {e}",
                            if pause { "pause" } else { "resume" }
                        ))),
                    }
                });
            }
            Effect::CancelMany { artist_ids } => {
                tokio::spawn(async move {
                    use crate::store::runs::CancelOutcome;
                    let (mut cancelled, mut flagged, mut failed) = (0, 0, Vec::new());
                    for id in &artist_ids {
                        match engine.cancel_artist(id).await {
                            Ok(CancelOutcome::CancelledQueued) => cancelled += 1,
                            Ok(CancelOutcome::Flagged) => flagged += 1,
                            Ok(CancelOutcome::NotActive) => {}
                            Err(e) => failed.push(e.to_string()),
                        }
                    }
                    let text = format!(
                        "cancel: {cancelled} queued syncs cancelled, {flagged} running ones stop at their next step"
                    );
                    match failed.first() {
                        None => tx.send(Action::Notice(text)),
                        Some(e) => tx.send(Action::Failed(format!(
                            "{text}; {} could not be cancelled: {e}",
                            failed.len()
                        ))),
                    }
                });
            }
            Effect::CancelAll => {
                tokio::spawn(async move {
                    match engine.cancel_all().await {
                        Ok(n) => tx.send(Action::Notice(format!("cancelling {n} syncs"))),
                        Err(e) => tx.send(Action::Failed(format!("cannot cancel: {e}"))),
                    }
                });
            }
            Effect::RunEnvChecks => {
                let config = self.config.clone();
                tokio::spawn(async move {
                    let probes = crate::checks::provider_probes::probes(&config);
                    let report =
                        crate::checks::env_report(Some(&config), &config.snapshot, &probes).await;
                    let _ = tx.send(Action::EnvLoaded(report));
                });
            }
            Effect::SaveLog { lines } => {
                let dir = self.config.data_dir.join("logs");
                tokio::spawn(async move {
                    let path = dir.join(format!(
                        "syncdeck-console-{}.log",
                        Utc::now().format("%Y%m%d-%H%M%S")
                    ));
                    let result = std::fs::create_dir_all(&dir)
                        .and_then(|_| std::fs::write(&path, lines.join("\n") + "\n"));
                    let _ = match result {
                        Ok(()) => tx.send(Action::Notice(format!(
                            "saved {} log lines to {}",
                            lines.len(),
                            path.display()
                        ))),
                        Err(e) => tx.send(Action::Failed(format!(
                            "cannot save the log to {}: {e}",
                            path.display()
                        ))),
                    };
                });
            }
            Effect::SearchArtists { query } => {
                let config = self.config.clone();
                tokio::spawn(async move {
                    let clients = add_artist_clients(&config, &engine);
                    let _ = match crate::engine::artist_import::search_candidates(&clients, &query)
                        .await
                    {
                        Ok(candidates) => tx.send(Action::CandidatesFound { query, candidates }),
                        Err(e) => tx.send(Action::Failed(format!(
                            "cannot search Ticketmaster for \"{query}\": {e}"
                        ))),
                    };
                });
            }
            Effect::ImportArtist {
                ticketmaster_id,
                name,
            } => {
                let config = self.config.clone();
                tokio::spawn(async move {
                    use crate::engine::artist_import::{ImportOutcome, Pick, import_artist};
                    let clients = add_artist_clients(&config, &engine);
                    let store = engine.store().clone();
                    let pick = Pick::ByTicketmasterId(ticketmaster_id.clone());
                    let (artist_id, text) = match import_artist(&store, &clients, pick).await {
                        Ok(ImportOutcome::Imported {
                            artist_id, name, ..
                        }) => {
                            let queued = engine
                                .enqueue(&[(artist_id.clone(), name.clone())], RequestKind::Manual)
                                .await;
                            let text = match queued {
                                Ok(_) => format!("added {name}; syncing it"),
                                Err(e) => format!("added {name}, but cannot queue its sync: {e}"),
                            };
                            (Some(artist_id), text)
                        }
                        Ok(ImportOutcome::AlreadyPresent {
                            artist_id, name, ..
                        }) => (
                            Some(artist_id),
                            format!("{name} is here already; nothing changed"),
                        ),
                        Ok(other) => (
                            None,
                            format!("cannot add {name} ({ticketmaster_id}): unexpected {other:?}"),
                        ),
                        Err(e) => (None, format!("cannot add {name} ({ticketmaster_id}): {e}")),
                    };
                    let _ = tx.send(match artist_id {
                        Some(_) => Action::Notice(text),
                        None => Action::Failed(text),
                    });
                    if let Some(id) = artist_id
                        && let Ok(mut found) = store.artist_summaries(&[id]).await
                        && let Some(a) = found.pop()
                    {
                        let _ = tx.send(Action::ArtistAdded(a));
                    }
                });
            }
            Effect::SetMouse(on) => {
                let mut out = std::io::stdout();
                let _ = if on {
                    crossterm::execute!(out, crossterm::event::EnableMouseCapture)
                } else {
                    crossterm::execute!(out, crossterm::event::DisableMouseCapture)
                };
                self.send(Action::Notice(format!(
                    "mouse capture {}",
                    if on {
                        "on (scroll the log)"
                    } else {
                        "off (select text freely)"
                    }
                )));
            }
        }
    }
}
