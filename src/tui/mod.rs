//! The interactive console: one [`app::App`] state, a pure `update`, views that only draw, and
//! one loop that selects over terminal events, engine events, effect results and a tick, and
//! redraws only when something changed (at most about 60 frames a second, none while idle).

pub mod app;
pub mod filter;
pub mod keys;
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

/// What the console starts with.
pub struct TuiOptions {
    pub theme: Theme,
    pub keys: keys::KeyMap,
    /// Shown once in the status line (config problems, demo hints).
    pub notices: Vec<String>,
    pub config: Config,
    /// Mouse capture at start (the settings file's `mouse`).
    pub mouse: bool,
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
        tx: tx.clone(),
    };
    ctx.perform(Effect::LoadArtists);
    let mut dirty = true;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let mut last_full_refresh = Instant::now();
    let frame_budget = Duration::from_millis(16);
    loop {
        if dirty && last_draw.elapsed() >= frame_budget {
            app.running_here = engine.running_here();
            let mut out = std::io::stdout();
            let _ = crossterm::execute!(out, crossterm::terminal::BeginSynchronizedUpdate);
            terminal
                .draw(|f| view::draw(f, &app, &theme, Utc::now()))
                .wrap_err("cannot draw to the terminal")?;
            let _ = crossterm::execute!(out, crossterm::terminal::EndSynchronizedUpdate);
            let _ = out.flush();
            last_draw = Instant::now();
            dirty = false;
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
                Some(Err(e)) => return Err(e).wrap_err("cannot read the terminal"),
                None => Some(Action::Key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char('q'), crossterm::event::KeyModifiers::NONE))),
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
                ctx.load_header();
                for effect in app.update(Action::Tick) {
                    ctx.perform(effect);
                }
                if last_full_refresh.elapsed() >= Duration::from_secs(30) {
                    // Other processes change artists too; relative times move on.
                    last_full_refresh = Instant::now();
                    ctx.perform(Effect::LoadArtists);
                }
                None
            },
            _ = tokio::time::sleep(wait) => None,
        };
        let Some(action) = action else { continue };
        dirty |= !matches!(action, Action::Tick);
        if let Action::HeaderLoaded(h) = &action
            && *h == app.header
        {
            dirty = false;
            continue;
        }
        for effect in app.update(action) {
            if effect == Effect::Quit {
                app.notice = Some("stopping: running syncs go back to the queue…".into());
                let _ = terminal.draw(|f| view::draw(f, &app, &theme, Utc::now()));
                engine.shutdown().await;
                return Ok(0);
            }
            ctx.perform(effect);
        }
    }
}

struct EffectContext {
    engine: Engine,
    config: Config,
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
            }));
        });
    }

    fn perform(&self, effect: Effect) {
        let engine = self.engine.clone();
        let tx = self.tx.clone();
        match effect {
            Effect::Quit => {}
            Effect::LoadArtists => {
                tokio::spawn(async move {
                    let _ = match engine.store().all_artists().await {
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
                        Ok(q) => tx.send(Action::Notice(format!(
                            "queued {} failed artists again",
                            q.len()
                        ))),
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
                    let probes = crate::providers::probes::probes(&config);
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
            Effect::AddArtist { name } => {
                let config = self.config.clone();
                tokio::spawn(async move {
                    let store = engine.store().clone();
                    let clients = crate::engine::Clients::from_config(
                        &config,
                        &store,
                        &crate::engine::clients::ClientSettings::default(),
                    );
                    use crate::engine::artist_import::{ImportOutcome, Pick, import_artist};
                    let text = match import_artist(&store, &clients, Pick::ByName(name.clone()))
                        .await
                    {
                        Ok(ImportOutcome::Imported {
                            artist_id, name, ..
                        }) => {
                            let _ = engine
                                .enqueue(&[(artist_id, name.clone())], RequestKind::Manual)
                                .await;
                            format!("added {name}; syncing it")
                        }
                        Ok(ImportOutcome::AlreadyPresent { name, .. }) => {
                            format!("{name} is already here; nothing changed")
                        }
                        Ok(ImportOutcome::NoMatch { candidates, .. }) => format!(
                            "no attraction is named exactly \"{name}\"{}",
                            if candidates.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    "; close: {}",
                                    candidates
                                        .iter()
                                        .take(5)
                                        .map(|c| format!("{} ({})", c.name, c.ticketmaster_id))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            }
                        ),
                        Ok(ImportOutcome::Ambiguous { candidates, .. }) => format!(
                            "{} attractions are named \"{name}\": {}; add one with `syncdeck artist add \"{name}\" --tm-id ID`",
                            candidates.len(),
                            candidates
                                .iter()
                                .map(|c| c.ticketmaster_id.clone())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Err(e) => format!("cannot add \"{name}\": {e}"),
                    };
                    let _ = tx.send(Action::Notice(text));
                    let _ = tx.send(Action::Tick);
                    if let Ok(list) = store.all_artists().await {
                        let _ = tx.send(Action::ArtistsLoaded(list));
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
