//! The console's one state and its pure `update(action) -> effects`. No IO here: effects are
//! carried out by the event loop, whose results come back as actions. Each pane's state and
//! drawing live in [`super::panes`]; this module routes keys and events to them and holds
//! what spans panes (mode, overlay, focus, the status line's notice).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keys::{Command, KeyMap};
use super::live::{self, LiveRuns};
use super::panes::Measured;
use super::panes::batch::BatchProgress;
use super::panes::confirm::Answer;
use super::panes::detail::DetailPane;
use super::panes::env::EnvPane;
use super::panes::figures::Figures;
use super::panes::help::HelpPane;
use super::panes::jobs::{JobsAction, JobsPane};
use super::panes::picker::Picked;
use super::panes::plan::PlanPane;
use super::panes::table::ArtistTable;
use crate::checks::EnvReport;
use crate::engine::artist_import::Candidate;
use crate::engine::scheduler::Forecast;
use crate::engine::{EngineEvent, RequestKind};
use crate::store::artists::ArtistSummary;
use crate::store::runs::RunRow;
use crate::store::sync_status::{PartStatus, Source};

pub use super::live::Live;
pub use super::panes::confirm::Confirm;
pub use super::panes::detail::DetailData;
pub use super::panes::header::HeaderInfo;
pub use super::panes::log::LogPane;
pub use super::panes::picker::Picker;
pub use super::panes::table::SortColumn;

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a filter; the text is live-applied.
    Filter,
    /// Typing a log search.
    LogSearch,
    /// Typing the jobs view's filter; live-applied.
    JobsFilter,
    Confirm(Confirm),
    /// Typing an artist name to add (Ticketmaster search).
    AddArtist,
    /// Picking one of Ticketmaster's search results to import.
    PickArtist(Picker),
}

/// A full-screen panel over the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Env,
    Jobs,
    /// The keep-fresh scheduler's plan: freshness, what is due, the next batch, the quotas.
    Plan,
}

/// Which pane scrolls with the arrow keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Table,
    Log,
    /// The detail pane scrolls (when it is shown).
    Detail,
}

/// What the event loop must do; its result comes back as an [`Action`].
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Enqueue {
        artists: Vec<(String, String)>,
        kind: RequestKind,
    },
    RetryFailed,
    Cancel {
        artist_id: String,
    },
    /// Cancel the queued or running syncs of these artists (the jobs view's matching jobs).
    CancelMany {
        artist_ids: Vec<String>,
    },
    CancelAll,
    LoadArtists,
    RefreshArtist {
        artist_id: String,
    },
    LoadDetail {
        artist_id: String,
    },
    LoadJobs,
    /// The scheduler's forecast, for the plan view.
    LoadPlan,
    RunEnvChecks,
    SaveLog {
        lines: Vec<String>,
    },
    /// Search Ticketmaster for attractions to add.
    SearchArtists {
        query: String,
    },
    /// Import this attraction as a new artist, then sync it.
    ImportArtist {
        ticketmaster_id: String,
        name: String,
    },
    SetMouse(bool),
    /// Pause (`true`) or resume the shared queue for every process.
    SetPaused(bool),
    /// Stop the engine cleanly (runs go back to the queue), then exit.
    Quit,
}

/// Everything that can happen to the console.
#[derive(Debug, Clone)]
pub enum Action {
    Key(KeyEvent),
    Resize {
        width: u16,
        height: u16,
    },
    Tick,
    ArtistsLoaded(Vec<ArtistSummary>),
    ArtistRefreshed(ArtistSummary),
    Engine(EngineEvent),
    DetailLoaded(DetailData),
    JobsLoaded(Vec<RunRow>),
    PlanLoaded(Box<Forecast>),
    /// Runs of bulk work this console queued (`S`, `r`): the gauge follows them.
    BatchQueued(Vec<String>),
    EnvLoaded(EnvReport),
    HeaderLoaded(HeaderInfo),
    /// An effect finished with a message for the status line.
    Notice(String),
    /// An effect failed.
    Failed(String),
    ScrollLog(i32),
    /// The queued and running runs in the database (any process).
    ActiveRuns(Vec<RunRow>),
    /// What other processes changed since the last look (see [`Polled`]).
    Polled(Polled),
    /// Ticketmaster's answer to an add-artist search.
    CandidatesFound {
        query: String,
        candidates: Vec<Candidate>,
    },
    /// An artist was imported (select it once it is in the table).
    ArtistAdded(ArtistSummary),
    /// What the last frame measured (scroll bounds, rows per page).
    Drawn(Measured),
}

/// The console's periodic look at the database: the runs active now or finished lately (in
/// any process), their artists as they are now, and how many artists exist.
#[derive(Debug, Clone, PartialEq)]
pub struct Polled {
    pub runs: Vec<RunRow>,
    pub artists: Vec<ArtistSummary>,
    /// How many artists exist, when this poll counted them (`Some`; every 10 s: a count
    /// walks a whole index).
    pub total: Option<i64>,
    /// The newest `updated_at` of any artist, when this poll read it (`Some`; every 30 s):
    /// the loop reloads everything when it moved.
    pub newest_update: Option<Option<String>>,
}

/// The console's state: one component per pane, and what spans them.
pub struct App {
    pub table: ArtistTable,
    pub detail: DetailPane,
    pub log: LogPane,
    pub jobs: JobsPane,
    pub env: EnvPane,
    pub help: HelpPane,
    pub plan: PlanPane,
    pub header: HeaderInfo,
    /// Requests per second, 429s and 5xx, quota gauges, artists per minute.
    pub figures: Figures,
    /// The bulk work this console queued, while it runs and a little after.
    pub batch: Option<BatchProgress>,
    /// Runs in flight, by artist (any process).
    pub live: LiveRuns,
    /// The limits and rates the engine's clients use (bulk-sync estimates).
    pub clients: crate::engine::clients::ClientSettings,
    pub mode: Mode,
    pub overlay: Option<Overlay>,
    pub focus: Focus,
    pub notice: Option<String>,
    /// The add-artist name being typed.
    pub input: String,
    pub keys: KeyMap,
    pub mouse: bool,
    pub quitting: bool,
    pub width: u16,
    pub height: u16,
    /// Runs executing in this process (for the quit question).
    pub running_here: usize,
}

impl App {
    pub fn new(keys: KeyMap) -> App {
        App {
            table: ArtistTable::default(),
            detail: DetailPane::default(),
            log: LogPane::new(5000),
            jobs: JobsPane::default(),
            env: EnvPane::default(),
            help: HelpPane::default(),
            plan: PlanPane::default(),
            header: HeaderInfo::default(),
            figures: Figures::default(),
            batch: None,
            live: LiveRuns::new(),
            clients: crate::engine::clients::ClientSettings::default(),
            mode: Mode::Normal,
            overlay: None,
            focus: Focus::Table,
            notice: None,
            input: String::new(),
            keys,
            mouse: false,
            quitting: false,
            width: 80,
            height: 24,
            running_here: 0,
        }
    }

    pub fn selected_artist(&self) -> Option<&ArtistSummary> {
        self.table.selected_artist()
    }

    pub fn active_count(&self) -> usize {
        self.live.len()
    }

    /// Rows of a page: what the last frame showed of the table, or (before the first
    /// frame) what a terminal of this height shows.
    fn page(&self) -> i64 {
        i64::from(
            self.table
                .page_rows
                .unwrap_or_else(|| self.height.saturating_sub(10))
                .max(1),
        )
    }

    fn detail_effect(&self) -> Vec<Effect> {
        self.detail.load(self.table.selected_artist())
    }

    /// The pure state transition.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Key(key) => self.on_key(key),
            Action::Resize { width, height } => {
                self.width = width;
                self.height = height;
                Vec::new()
            }
            Action::Tick => {
                self.tick_batch();
                self.figures.tick();
                match self.overlay {
                    // The jobs view follows the queue while it is open.
                    Some(Overlay::Jobs) => vec![Effect::LoadJobs],
                    Some(Overlay::Plan) if self.plan.tick() => vec![Effect::LoadPlan],
                    _ => Vec::new(),
                }
            }
            Action::ArtistsLoaded(list) => {
                self.table.set_artists(list);
                self.detail_effect()
            }
            Action::ArtistRefreshed(a) => {
                self.table.upsert(a);
                self.detail_effect()
            }
            Action::Engine(ev) => self.on_engine(ev),
            Action::DetailLoaded(d) => {
                self.detail.loaded(d, self.table.selected_artist());
                Vec::new()
            }
            Action::BatchQueued(run_ids) => {
                self.batch
                    .get_or_insert_with(BatchProgress::default)
                    .queue(run_ids);
                Vec::new()
            }
            Action::PlanLoaded(forecast) => {
                self.plan.forecast = Some(*forecast);
                Vec::new()
            }
            Action::JobsLoaded(jobs) => {
                // "Waiting" is judged as of the header's last reading (a pure update).
                let now = self.header.read_at.unwrap_or(chrono::DateTime::UNIX_EPOCH);
                self.jobs.loaded(jobs, now);
                Vec::new()
            }
            Action::CandidatesFound { query, candidates } => self.on_candidates(query, candidates),
            Action::ArtistAdded(a) => {
                let id = a.id.clone();
                self.table.upsert(a);
                self.select_artist(&id);
                self.detail_effect()
            }
            Action::EnvLoaded(report) => {
                self.env.loaded(report);
                Vec::new()
            }
            Action::HeaderLoaded(h) => {
                self.take_header(h);
                Vec::new()
            }
            Action::Notice(text) => {
                self.notice = Some(text);
                Vec::new()
            }
            Action::Failed(text) => {
                self.notice = Some(format!("error: {text}"));
                self.env.running = false;
                Vec::new()
            }
            Action::ScrollLog(delta) => {
                self.log.scroll_by(delta);
                Vec::new()
            }
            Action::Polled(p) => self.on_polled(p),
            Action::ActiveRuns(runs) => {
                let active: std::collections::HashSet<&str> =
                    runs.iter().map(|r| r.artist_id.as_str()).collect();
                self.live.retain(|id, _| active.contains(id.as_str()));
                for r in &runs {
                    live::track(&mut self.live, r);
                }
                Vec::new()
            }
            Action::Drawn(m) => {
                self.measured(m);
                Vec::new()
            }
        }
    }

    /// A header reading; returns whether anything drawn changed (its time is not drawn; the
    /// figures say whether what they make of it moved).
    pub fn take_header(&mut self, h: HeaderInfo) -> bool {
        let figures = self.figures.observe(&h);
        // Every field but the reading's time; spelt out so a new field is not forgotten here.
        let HeaderInfo {
            database,
            workers,
            slots,
            budgets,
            queued,
            running,
            paused,
            read_at: _,
        } = &self.header;
        let changed = (database, workers, slots, budgets, queued, running, paused)
            != (
                &h.database,
                &h.workers,
                &h.slots,
                &h.budgets,
                &h.queued,
                &h.running,
                &h.paused,
            );
        self.header = h;
        figures || changed
    }

    /// Takes what a frame measured; returns whether a scroll position had to move (the
    /// terminal shrank), so the loop draws again.
    pub fn measured(&mut self, m: Measured) -> bool {
        let mut moved = false;
        if let Some(max) = m.detail_max_scroll {
            moved |= self.detail.scroll.measured(max);
        }
        if let Some(max) = m.help_max_scroll {
            moved |= self.help.scroll.measured(max);
        }
        if let Some(max) = m.env_max_scroll {
            moved |= self.env.scroll.measured(max);
        }
        if m.table_rows.is_some() {
            self.table.page_rows = m.table_rows;
        }
        if m.jobs_rows.is_some() {
            self.jobs.page_rows = m.jobs_rows;
        }
        moved
    }

    /// Whether a poll would change nothing shown (the loop then skips the redraw). Built from
    /// the same three questions `on_polled` acts on.
    pub fn poll_changes_nothing(&self, p: &Polled) -> bool {
        !self.table.count_moved(p.total)
            && p.artists.iter().all(|a| self.table.is_current(a))
            && p.runs.iter().all(|r| live::change(&self.live, r).is_none())
    }

    fn on_polled(&mut self, p: Polled) -> Vec<Effect> {
        // Other processes' workers may run this console's batch.
        for r in p.runs.iter().filter(|r| !r.status.is_active()) {
            self.run_ended(&r.id, r.status);
        }
        for r in &p.runs {
            live::apply(&mut self.live, r);
        }
        let selected = self.table.selected_id();
        let mut selected_changed = false;
        for a in p.artists {
            if !self.table.is_current(&a) {
                selected_changed |= selected.as_deref() == Some(a.id.as_str());
                self.table.upsert(a);
            }
        }
        let mut effects = Vec::new();
        if self.table.count_moved(p.total) {
            // Artists were added or removed elsewhere: read them all again.
            effects.push(Effect::LoadArtists);
        }
        if selected_changed {
            effects.extend(self.detail_effect());
        }
        effects
    }

    fn on_engine(&mut self, ev: EngineEvent) -> Vec<Effect> {
        match &ev {
            EngineEvent::Log(line) => {
                let selected = self.table.selected_id();
                self.log.receive(line.clone(), selected.as_deref());
                return Vec::new();
            }
            // A failing database (full disk, lost connection) on the status line, as an error.
            EngineEvent::Database { usable, message } => {
                self.notice = Some(if *usable {
                    message.clone()
                } else {
                    format!("error: {message}")
                });
                return Vec::new();
            }
            EngineEvent::Finished { run_id, status, .. } => self.run_ended(run_id, *status),
            _ => {}
        }
        match live::on_event(&mut self.live, &ev) {
            Some(artist_id) => vec![Effect::RefreshArtist { artist_id }],
            None => Vec::new(),
        }
    }

    /// A run ended, here (an event) or in any process (a poll): the bulk gauge and the
    /// artists-per-minute figure count it, each once.
    fn run_ended(&mut self, run_id: &str, status: crate::store::runs::RunStatus) {
        if let Some(b) = &mut self.batch {
            b.ended(run_id, status);
        }
        self.figures.run_ended(run_id);
    }

    fn on_candidates(&mut self, query: String, candidates: Vec<Candidate>) -> Vec<Effect> {
        if candidates.is_empty() {
            self.notice = Some(format!(
                "Ticketmaster has no attraction matching \"{}\"; check the spelling",
                crate::text::sanitize(&query)
            ));
            return Vec::new();
        }
        let ids_here = self
            .table
            .artists
            .iter()
            .map(|a| a.ticketmaster_id.as_str());
        let picker = Picker::new(query, candidates, ids_here);
        self.notice = None;
        self.mode = Mode::PickArtist(picker);
        Vec::new()
    }

    /// Selects this artist, clearing the filter if it hides it.
    fn select_artist(&mut self, id: &str) {
        if self.table.select(id) {
            self.detail.forget();
        }
    }

    fn on_pick_key(&mut self, key: KeyEvent, mut picker: Picker) -> Vec<Effect> {
        match picker.on_key(&key, &self.keys) {
            Picked::Picking => {
                self.mode = Mode::PickArtist(picker);
                Vec::new()
            }
            Picked::Cancelled => {
                self.mode = Mode::Normal;
                self.notice = Some("nothing added".into());
                Vec::new()
            }
            Picked::Chosen { candidate, present } => {
                self.mode = Mode::Normal;
                let name = crate::text::sanitize(&candidate.name);
                if present {
                    let existing = self
                        .table
                        .artists
                        .iter()
                        .find(|a| a.ticketmaster_id == candidate.ticketmaster_id)
                        .map(|a| a.id.clone());
                    self.notice = Some(format!("{name} is here already; selected it"));
                    if let Some(id) = existing {
                        self.select_artist(&id);
                    }
                    return self.detail_effect();
                }
                self.notice = Some(format!("adding {name}…"));
                vec![Effect::ImportArtist {
                    ticketmaster_id: candidate.ticketmaster_id,
                    name: candidate.name,
                }]
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return self.ask_quit();
        }
        match self.mode.clone() {
            Mode::Filter => self.on_text_key(key, TextTarget::Filter),
            Mode::LogSearch => self.on_text_key(key, TextTarget::LogSearch),
            Mode::JobsFilter => self.on_text_key(key, TextTarget::JobsFilter),
            Mode::AddArtist => self.on_text_key(key, TextTarget::AddArtist),
            Mode::PickArtist(p) => self.on_pick_key(key, p),
            Mode::Confirm(c) => self.on_confirm_key(key, c),
            Mode::Normal => match self.keys.command(&key) {
                Some(cmd) => self.on_command(cmd),
                None => Vec::new(),
            },
        }
    }

    fn ask_quit(&mut self) -> Vec<Effect> {
        let running = self.running_here.max(live::running(&self.live));
        if running > 0 {
            self.mode = Mode::Confirm(Confirm::Quit { running });
            Vec::new()
        } else {
            self.quitting = true;
            vec![Effect::Quit]
        }
    }

    fn on_confirm_key(&mut self, key: KeyEvent, confirm: Confirm) -> Vec<Effect> {
        match Confirm::answer(&key) {
            Answer::Ignored => Vec::new(),
            Answer::No => {
                self.mode = Mode::Normal;
                self.notice = Some("cancelled; nothing was changed".into());
                Vec::new()
            }
            Answer::Yes => {
                self.mode = Mode::Normal;
                match confirm {
                    Confirm::Sync { artists, .. } => {
                        self.notice = Some(format!("queued {} artists", artists.len()));
                        vec![Effect::Enqueue {
                            artists,
                            kind: RequestKind::Bulk,
                        }]
                    }
                    Confirm::RetryFailed { .. } => vec![Effect::RetryFailed],
                    Confirm::CancelAll { .. } => vec![Effect::CancelAll],
                    Confirm::Jobs {
                        action: JobsAction::Retry,
                        artists,
                        ..
                    } => {
                        self.notice = Some(format!("queued {} artists again", artists.len()));
                        vec![Effect::Enqueue {
                            artists,
                            kind: RequestKind::RetryFailed,
                        }]
                    }
                    Confirm::Jobs {
                        action: JobsAction::Cancel,
                        artists,
                        ..
                    } => vec![Effect::CancelMany {
                        artist_ids: artists.into_iter().map(|(id, _)| id).collect(),
                    }],
                    Confirm::Quit { .. } => {
                        self.quitting = true;
                        vec![Effect::Quit]
                    }
                }
            }
        }
    }

    fn on_text_key(&mut self, key: KeyEvent, target: TextTarget) -> Vec<Effect> {
        let text = match target {
            TextTarget::Filter => &mut self.table.filter_text,
            TextTarget::LogSearch => &mut self.log.search,
            TextTarget::JobsFilter => &mut self.jobs.filter_text,
            TextTarget::AddArtist => &mut self.input,
        };
        match key.code {
            KeyCode::Esc => {
                if matches!(target, TextTarget::LogSearch | TextTarget::AddArtist) {
                    text.clear();
                }
                self.mode = Mode::Normal;
            }
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                if target == TextTarget::AddArtist {
                    let name = std::mem::take(&mut self.input);
                    if !name.trim().is_empty() {
                        self.notice = Some(format!(
                            "searching Ticketmaster for \"{}\"…",
                            crate::text::sanitize(name.trim())
                        ));
                        return vec![Effect::SearchArtists {
                            query: name.trim().to_string(),
                        }];
                    }
                }
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
            _ => {}
        }
        match target {
            TextTarget::Filter => {
                let before = self.table.selected_id();
                self.table.filter_edited();
                if self.mode != Mode::Filter {
                    self.table.end_filter();
                }
                if self.table.selected_id() != before {
                    self.detail.forget();
                    return self.detail_effect();
                }
            }
            TextTarget::JobsFilter => self.jobs.filter_edited(),
            TextTarget::LogSearch | TextTarget::AddArtist => {}
        }
        Vec::new()
    }

    /// Commands while an overlay is open: its own, its close keys, and moving within it.
    fn on_overlay_command(&mut self, overlay: Overlay, cmd: Command) -> Vec<Effect> {
        let closes = match overlay {
            Overlay::Help => Command::Help,
            Overlay::Env => Command::Env,
            Overlay::Jobs => Command::Jobs,
            Overlay::Plan => Command::Plan,
        };
        if cmd == closes || cmd == Command::Quit {
            self.overlay = None;
            return Vec::new();
        }
        match (overlay, cmd) {
            // Esc in the jobs view clears its filter first.
            (Overlay::Jobs, Command::Back) if !self.jobs.filter_text.is_empty() => {
                self.jobs.clear_filter();
            }
            (_, Command::Back) => self.overlay = None,
            (Overlay::Env, Command::RunChecks) => {
                self.env.running = true;
                return vec![Effect::RunEnvChecks];
            }
            (Overlay::Jobs, cmd) => return self.on_jobs_command(cmd),
            (
                _,
                Command::Up
                | Command::Down
                | Command::PageUp
                | Command::PageDown
                | Command::Top
                | Command::Bottom,
            ) => {
                let delta = self.scroll_delta(cmd, self.overlay_page());
                match overlay {
                    Overlay::Help => self.help.scroll.by(delta),
                    Overlay::Env => self.env.scroll.by(delta),
                    // One screen: nothing scrolls.
                    Overlay::Plan | Overlay::Jobs => {}
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// The jobs view's commands: select, filter, sort, act on the selected job or on every
    /// job the filter matches.
    fn on_jobs_command(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::Up
            | Command::Down
            | Command::PageUp
            | Command::PageDown
            | Command::Top
            | Command::Bottom => {
                let page = self.jobs.page_rows.map_or(self.page(), i64::from);
                let delta = self.scroll_delta(cmd, page);
                self.jobs.move_selection(delta);
                Vec::new()
            }
            Command::Cancel => self.cancel_selected_job(),
            Command::Sync => self.sync_selected_job(),
            Command::Detail => self.open_selected_job(),
            Command::Filter => {
                self.mode = Mode::JobsFilter;
                Vec::new()
            }
            Command::SortNext => {
                self.jobs.sort_next();
                self.notice = Some(format!("jobs sorted by {}", self.jobs.sort.label()));
                Vec::new()
            }
            Command::SortReverse => {
                self.jobs.sort_reverse();
                Vec::new()
            }
            Command::RetryFailed => self.ask_jobs(JobsAction::Retry),
            Command::CancelAll => self.ask_jobs(JobsAction::Cancel),
            _ => Vec::new(),
        }
    }

    /// Asks before acting on every job shown (the filter's matches).
    fn ask_jobs(&mut self, action: JobsAction) -> Vec<Effect> {
        let artists = self.jobs.targets(action);
        if artists.is_empty() {
            self.notice = Some(
                match action {
                    JobsAction::Retry => "no failed or interrupted job is shown",
                    JobsAction::Cancel => "no queued or running job is shown",
                }
                .into(),
            );
            return Vec::new();
        }
        self.mode = Mode::Confirm(Confirm::Jobs {
            action,
            artists,
            filter: self.jobs.filter_text.clone(),
        });
        Vec::new()
    }

    fn overlay_page(&self) -> i64 {
        i64::from(self.height.saturating_sub(4).max(1))
    }

    /// Rows a movement command moves by (top and bottom: as far as it goes).
    fn scroll_delta(&self, cmd: Command, page: i64) -> i64 {
        match cmd {
            Command::Up => -1,
            Command::Down => 1,
            Command::PageUp => -page,
            Command::PageDown => page,
            Command::Top => i64::MIN / 2,
            _ => i64::MAX / 2,
        }
    }

    fn on_command(&mut self, cmd: Command) -> Vec<Effect> {
        if let Some(overlay) = self.overlay {
            return self.on_overlay_command(overlay, cmd);
        }
        match cmd {
            Command::FocusLog
            | Command::LogLevel
            | Command::Follow
            | Command::OnlySelected
            | Command::SearchLog
            | Command::SaveLog => self.on_log_command(cmd),
            Command::Detail
            | Command::Env
            | Command::Jobs
            | Command::Plan
            | Command::Help
            | Command::Reload
            | Command::PauseQueue
            | Command::Quit
            | Command::AddArtist
            | Command::ToggleMouse => self.on_console_command(cmd),
            _ => self.on_table_command(cmd),
        }
    }

    /// The artist table's commands: move, sync, retry, cancel, mark, filter, sort.
    fn on_table_command(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::Up
            | Command::Down
            | Command::PageUp
            | Command::PageDown
            | Command::Top
            | Command::Bottom => {
                let delta = self.scroll_delta(cmd, self.page());
                self.step(delta)
            }
            Command::Sync => match self.table.selected_artist() {
                Some(a) => {
                    let target = (a.id.clone(), a.name.clone());
                    self.notice = Some(format!("queued {}", crate::text::sanitize(&a.name)));
                    vec![Effect::Enqueue {
                        artists: vec![target],
                        kind: RequestKind::Manual,
                    }]
                }
                None => Vec::new(),
            },
            Command::SyncMany => {
                let t = self.table.sync_targets();
                if t.artists.is_empty() {
                    self.notice = Some("nothing to sync: no artist is shown".into());
                } else {
                    let estimate = self.estimate(&t.artists);
                    self.mode = Mode::Confirm(Confirm::Sync {
                        artists: t.artists,
                        hidden: t.hidden,
                        marked: t.marked,
                        estimate,
                    });
                }
                Vec::new()
            }
            Command::RetryFailed => {
                let count = self.table.failed_count();
                if count == 0 {
                    self.notice = Some("no failed artists to retry".into());
                } else {
                    self.mode = Mode::Confirm(Confirm::RetryFailed { count });
                }
                Vec::new()
            }
            // Always asked of the engine: the run may have been queued by another process.
            Command::Cancel => match self.table.selected_artist() {
                Some(a) => vec![Effect::Cancel {
                    artist_id: a.id.clone(),
                }],
                None => Vec::new(),
            },
            Command::CancelAll => {
                let active = self
                    .active_count()
                    .max(self.header.queued as usize + self.header.running as usize);
                if active == 0 {
                    self.notice = Some("nothing is queued or running".into());
                } else {
                    self.mode = Mode::Confirm(Confirm::CancelAll { active });
                }
                Vec::new()
            }
            Command::Mark => {
                self.table.toggle_mark();
                self.detail_effect()
            }
            Command::MarkAll => {
                self.table.mark_all_shown();
                Vec::new()
            }
            Command::Back => {
                if !self.table.marks.is_empty() {
                    self.table.marks.clear();
                } else if self.detail.open {
                    self.detail.open = false;
                    if self.focus == Focus::Detail {
                        self.focus = Focus::Table;
                    }
                } else if !self.table.filter_text.is_empty() {
                    self.table.clear_filter();
                }
                Vec::new()
            }
            Command::Filter => {
                self.table.begin_filter();
                self.mode = Mode::Filter;
                Vec::new()
            }
            Command::SortNext => {
                self.table.sort_next();
                self.notice = Some(format!("sorted by {}", self.table.sort.label()));
                Vec::new()
            }
            Command::SortReverse => {
                self.table.sort_reverse();
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The log pane's commands.
    fn on_log_command(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::FocusLog => {
                self.focus = match self.focus {
                    Focus::Table => Focus::Log,
                    Focus::Log if self.detail.open => Focus::Detail,
                    Focus::Log | Focus::Detail => Focus::Table,
                };
                Vec::new()
            }
            Command::LogLevel => {
                self.log.cycle_level();
                Vec::new()
            }
            Command::Follow => {
                self.log.follow_again();
                Vec::new()
            }
            Command::OnlySelected => {
                self.log.only_selected = !self.log.only_selected;
                Vec::new()
            }
            Command::SearchLog => {
                self.mode = Mode::LogSearch;
                Vec::new()
            }
            Command::SaveLog => {
                let artist = self.table.selected_id();
                vec![Effect::SaveLog {
                    lines: self.log.saved_lines(artist.as_deref()),
                }]
            }
            _ => Vec::new(),
        }
    }

    /// Commands of the console as a whole: panes and overlays, the queue's switch, quitting.
    fn on_console_command(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::Detail => {
                self.detail.open = !self.detail.open;
                self.detail.forget();
                if !self.detail.open && self.focus == Focus::Detail {
                    self.focus = Focus::Table;
                }
                self.detail_effect()
            }
            Command::Env => {
                self.overlay = Some(Overlay::Env);
                if self.env.open() {
                    return vec![Effect::RunEnvChecks];
                }
                Vec::new()
            }
            Command::Jobs => {
                self.overlay = Some(Overlay::Jobs);
                vec![Effect::LoadJobs]
            }
            Command::Plan => {
                self.overlay = Some(Overlay::Plan);
                self.plan.open();
                vec![Effect::LoadPlan]
            }
            Command::Help => {
                self.overlay = Some(Overlay::Help);
                self.help.scroll.top();
                Vec::new()
            }
            Command::Reload => {
                self.notice = Some("reading every artist again…".into());
                vec![Effect::LoadArtists]
            }
            Command::PauseQueue => {
                let pause = !self.header.paused;
                self.header.paused = pause;
                self.notice = Some(if pause {
                    "pausing the queue: no worker starts a sync until resumed (running ones finish)"
                        .into()
                } else {
                    "resuming the queue".into()
                });
                vec![Effect::SetPaused(pause)]
            }
            Command::Quit => self.ask_quit(),
            Command::AddArtist => {
                self.mode = Mode::AddArtist;
                self.input.clear();
                Vec::new()
            }
            Command::ToggleMouse => {
                self.mouse = !self.mouse;
                vec![Effect::SetMouse(self.mouse)]
            }
            _ => Vec::new(),
        }
    }

    /// A second for the batch gauge; a batch shown long enough after it ended goes.
    fn tick_batch(&mut self) {
        if let Some(b) = &mut self.batch
            && !b.tick()
        {
            self.batch = None;
        }
    }

    /// The cost of syncing `artists` at the engine's limits against today's budgets (the
    /// header's), as two lines: calls per provider, then who finishes today and when the rest.
    fn estimate(&self, artists: &[(String, String)]) -> Vec<String> {
        let statuses = self
            .table
            .statuses(artists.iter().map(|(id, _)| id.as_str()));
        let firsts = |source: Source| {
            statuses
                .iter()
                .filter(|s| s.get(source) != PartStatus::Success)
                .count()
        };
        let budgets = crate::engine::plan::provider_budgets(&self.header.budgets, &self.clients);
        // As of the budgets' reading; before the first one, the budgets are empty anyway.
        let now = self.header.read_at.unwrap_or_else(chrono::Utc::now);
        let plan = crate::engine::plan::plan(artists.len(), firsts, &budgets, now);
        vec![format!("calls: {}", plan.calls_line()), plan.outcome()]
    }

    /// `s` in the jobs view: syncs the selected job's artist again (manual priority), unless
    /// its job is still queued or running.
    fn sync_selected_job(&mut self) -> Vec<Effect> {
        let Some(j) = self.jobs.selected_job() else {
            return Vec::new();
        };
        let name = crate::text::sanitize(&j.artist_name);
        if j.status.is_active() {
            self.notice = Some(format!(
                "{name}'s job is still {}; nothing to queue",
                j.status.as_str()
            ));
            return Vec::new();
        }
        self.notice = Some(format!("queued {name}"));
        vec![Effect::Enqueue {
            artists: vec![(j.artist_id.clone(), j.artist_name.clone())],
            kind: RequestKind::Manual,
        }]
    }

    /// `c` in the jobs view: cancels the selected job if it is queued or running.
    fn cancel_selected_job(&mut self) -> Vec<Effect> {
        match self.jobs.selected_job() {
            Some(j) if j.status.is_active() => vec![Effect::Cancel {
                artist_id: j.artist_id.clone(),
            }],
            Some(j) => {
                self.notice = Some(format!(
                    "{}'s job has ended ({}); nothing to cancel",
                    crate::text::sanitize(&j.artist_name),
                    j.status.as_str()
                ));
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// `enter` in the jobs view: closes it and opens the job's artist in the detail pane.
    fn open_selected_job(&mut self) -> Vec<Effect> {
        let Some(id) = self.jobs.selected_job().map(|j| j.artist_id.clone()) else {
            return Vec::new();
        };
        if !self.table.contains(&id) {
            self.notice = Some("that job's artist is no longer in the table".into());
            return Vec::new();
        }
        self.overlay = None;
        self.select_artist(&id);
        self.detail.open = true;
        self.detail.forget();
        self.detail_effect()
    }

    fn step(&mut self, delta: i64) -> Vec<Effect> {
        match self.focus {
            Focus::Table => {
                self.table.move_selection(delta);
                self.detail.forget();
                self.detail_effect()
            }
            Focus::Log => {
                self.log.scroll_by(-(delta.clamp(-1000, 1000) as i32));
                Vec::new()
            }
            Focus::Detail => {
                self.detail.scroll.by(delta);
                Vec::new()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextTarget {
    Filter,
    LogSearch,
    JobsFilter,
    AddArtist,
}
