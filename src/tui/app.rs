//! The console's one state and its pure `update(action) -> effects`. No IO here: effects are
//! carried out by the event loop, whose results come back as actions.

use std::collections::{HashMap, HashSet, VecDeque};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use std::cmp::Ordering;

use super::batch::BatchProgress;
use super::filter::{Query, SearchKey};
use super::keys::{Command, KeyMap};
use crate::checks::EnvReport;
use crate::engine::artist_import::Candidate;
use crate::engine::events::{LogLevel, LogLine, PartProgress};
use crate::engine::scheduler::Forecast;
use crate::engine::{EngineEvent, RequestKind};
use crate::store::artists::{ArtistDetail, ArtistSummary};
use crate::store::budgets::BudgetRow;
use crate::store::runs::{AttemptRow, RunRow, RunStatus};
use crate::store::sync_status::{Overall, PartStatus, Source};

/// Columns the table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Name,
    Overall,
    Ticketmaster,
    Spotify,
    Setlistfm,
    LastSync,
    Shows,
    Songs,
    LastError,
}

impl SortColumn {
    pub const ALL: [SortColumn; 9] = [
        SortColumn::Name,
        SortColumn::Overall,
        SortColumn::Ticketmaster,
        SortColumn::Spotify,
        SortColumn::Setlistfm,
        SortColumn::LastSync,
        SortColumn::Shows,
        SortColumn::Songs,
        SortColumn::LastError,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SortColumn::Name => "name",
            SortColumn::Overall => "overall",
            SortColumn::Ticketmaster => "ticketmaster",
            SortColumn::Spotify => "spotify",
            SortColumn::Setlistfm => "setlist.fm",
            SortColumn::LastSync => "last sync",
            SortColumn::Shows => "shows",
            SortColumn::Songs => "songs",
            SortColumn::LastError => "last error",
        }
    }

    fn next(self) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        SortColumn::ALL[(i + 1) % SortColumn::ALL.len()]
    }
}

/// A question waiting for y/n.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Sync these artists; `hidden` of them are hidden by the filter.
    Sync {
        artists: Vec<(String, String)>,
        hidden: usize,
        marked: bool,
        /// What it will cost (calls per provider against what is left today) and when it
        /// ends, as `sync --plan` says it.
        estimate: Vec<String>,
    },
    RetryFailed {
        count: usize,
    },
    CancelAll {
        active: usize,
    },
    Quit {
        running: usize,
    },
}

impl Confirm {
    pub fn question(&self) -> String {
        match self {
            Confirm::Sync {
                artists,
                hidden,
                marked,
                ..
            } => {
                let what = if *marked { "marked" } else { "shown" };
                let hidden = if *hidden > 0 {
                    format!(" ({hidden} of them hidden by the filter)")
                } else {
                    String::new()
                };
                format!("Sync {} {what} artists{hidden}?", artists.len())
            }
            Confirm::RetryFailed { count } => format!("Retry {count} failed artists?"),
            Confirm::CancelAll { active } => {
                format!("Cancel all {active} queued or running syncs?")
            }
            Confirm::Quit { running } => format!(
                "{running} sync{} running here. Quit and put {} back in the queue (nothing is left syncing)?",
                if *running == 1 { " is" } else { "s are" },
                if *running == 1 { "it" } else { "them" }
            ),
        }
    }
}

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a filter; the text is live-applied.
    Filter,
    /// Typing a log search.
    LogSearch,
    Confirm(Confirm),
    /// Typing an artist name to add (Ticketmaster search).
    AddArtist,
    /// Picking one of Ticketmaster's search results to import.
    PickArtist(Picker),
}

/// Ticketmaster's answers to an add-artist search, one of them selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    pub query: String,
    pub candidates: Vec<Candidate>,
    /// Per candidate: an artist with its Ticketmaster id is here already.
    pub present: Vec<bool>,
    pub selected: usize,
}

/// How often (in 1 s ticks) the open plan view reads the forecast again.
const PLAN_EVERY_TICKS: u32 = 5;

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

/// The detail pane's data for one artist.
#[derive(Debug, Clone, PartialEq)]
pub struct DetailData {
    pub detail: ArtistDetail,
    pub runs: Vec<(RunRow, Vec<AttemptRow>)>,
}

/// The header's facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeaderInfo {
    pub database: String,
    pub workers: usize,
    pub slots: usize,
    pub budgets: Vec<BudgetRow>,
    pub queued: i64,
    pub running: i64,
    /// The queue's pause switch (`syncdeck queue pause`, `P`): no worker starts a run.
    pub paused: bool,
    /// When these were read (the budgets' day is measured from it).
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The live state of one artist's run, from engine events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    pub run_id: String,
    pub running: bool,
    pub step: Option<(Source, String)>,
    pub progress: HashMap<Source, PartProgress>,
    pub retry: Option<String>,
}

/// A bounded ring of log lines with follow mode.
#[derive(Debug, Clone)]
pub struct LogPane {
    pub lines: VecDeque<LogLine>,
    pub capacity: usize,
    /// Stick to the newest line; turns off when scrolling up, on again at the end.
    pub follow: bool,
    /// Lines from the end when not following.
    pub scroll: usize,
    pub min_level: LogLevel,
    pub only_selected: bool,
    pub search: String,
    pub dropped: u64,
}

impl LogPane {
    pub fn new(capacity: usize) -> LogPane {
        LogPane {
            lines: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
            follow: true,
            scroll: 0,
            min_level: LogLevel::Info,
            only_selected: false,
            search: String::new(),
            dropped: 0,
        }
    }

    pub fn push(&mut self, line: LogLine) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }

    /// Whether a line passes the level, artist and search filters.
    pub fn passes(&self, l: &LogLine, artist: Option<&str>) -> bool {
        l.level >= self.min_level
            && (!self.only_selected || artist.is_some_and(|a| l.artist_id.as_deref() == Some(a)))
            && (self.search.is_empty()
                || l.message
                    .to_lowercase()
                    .contains(&self.search.to_lowercase()))
    }

    /// The lines that pass the level, artist and search filters.
    pub fn visible<'a>(
        &'a self,
        artist: Option<&'a str>,
    ) -> impl Iterator<Item = &'a LogLine> + 'a {
        self.lines.iter().filter(move |l| self.passes(l, artist))
    }
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

/// The console's state.
pub struct App {
    pub artists: Vec<ArtistSummary>,
    /// Per artist (same index): its lower-cased name and Ticketmaster id.
    search_keys: Vec<SearchKey>,
    index: HashMap<String, usize>,
    /// Indices into `artists`: filtered and sorted.
    pub view: Vec<usize>,
    pub selected: usize,
    pub marks: HashSet<String>,
    pub filter_text: String,
    pub filter: Query,
    pub filter_error: Option<String>,
    /// The last filter text that parsed (what applies while the typed text has an error).
    filter_applied: String,
    /// The artist selected when filter mode began: kept selected whenever it is shown.
    filter_anchor: Option<String>,
    pub sort: SortColumn,
    pub descending: bool,
    pub mode: Mode,
    pub overlay: Option<Overlay>,
    pub focus: Focus,
    pub show_detail: bool,
    pub detail: Option<DetailData>,
    pub live: HashMap<String, Live>,
    pub log: LogPane,
    pub header: HeaderInfo,
    pub jobs: Vec<RunRow>,
    /// The limits and rates the engine's clients use (bulk-sync estimates).
    pub clients: crate::engine::clients::ClientSettings,
    /// The bulk work this console queued, while it runs and a little after.
    pub batch: Option<BatchProgress>,
    /// The scheduler's last forecast (the plan view), and ticks since it was asked for.
    pub plan: Option<Forecast>,
    pub plan_ticks: u32,
    /// The selected row of the jobs view.
    pub jobs_selected: usize,
    /// Lines scrolled down in the detail pane and in the help.
    pub detail_scroll: u16,
    pub help_scroll: u16,
    pub env_scroll: u16,
    pub env: Option<EnvReport>,
    pub env_running: bool,
    pub notice: Option<String>,
    pub input: String,
    pub keys: KeyMap,
    pub mouse: bool,
    pub quitting: bool,
    pub width: u16,
    pub height: u16,
    /// Runs executing in this process (for the quit question).
    pub running_here: usize,
    /// Every artist has been read at least once.
    pub loaded: bool,
}

impl App {
    pub fn new(keys: KeyMap) -> App {
        App {
            artists: Vec::new(),
            search_keys: Vec::new(),
            index: HashMap::new(),
            view: Vec::new(),
            selected: 0,
            marks: HashSet::new(),
            filter_text: String::new(),
            filter: Query::default(),
            filter_error: None,
            filter_applied: String::new(),
            filter_anchor: None,
            sort: SortColumn::Name,
            descending: false,
            mode: Mode::Normal,
            overlay: None,
            focus: Focus::Table,
            show_detail: false,
            detail: None,
            live: HashMap::new(),
            log: LogPane::new(5000),
            header: HeaderInfo::default(),
            jobs: Vec::new(),
            clients: crate::engine::clients::ClientSettings::default(),
            plan: None,
            plan_ticks: 0,
            batch: None,
            jobs_selected: 0,
            detail_scroll: 0,
            help_scroll: 0,
            env_scroll: 0,
            env: None,
            env_running: false,
            notice: None,
            input: String::new(),
            keys,
            mouse: false,
            quitting: false,
            width: 80,
            height: 24,
            running_here: 0,
            loaded: false,
        }
    }

    pub fn selected_artist(&self) -> Option<&ArtistSummary> {
        self.view
            .get(self.selected)
            .and_then(|i| self.artists.get(*i))
    }

    pub fn active_count(&self) -> usize {
        self.live.len()
    }

    /// The artist to keep selected across a change of the view: while typing a filter, the
    /// one selected when filtering began; otherwise the one selected now.
    fn selection_to_keep(&self) -> Option<String> {
        self.filter_anchor
            .clone()
            .filter(|_| self.mode == Mode::Filter)
            .or_else(|| self.selected_artist().map(|a| a.id.clone()))
    }

    fn restore_selection(&mut self, keep: Option<String>) {
        self.selected = keep
            .and_then(|id| self.index.get(&id).copied())
            .and_then(|i| self.view.iter().position(|v| *v == i))
            .unwrap_or(self.selected)
            .min(self.view.len().saturating_sub(1));
    }

    /// The table's order: the sort column, then the name, then the row (a total order, so one
    /// changed artist can be put back in place by binary search).
    fn row_order(&self, x: usize, y: usize) -> Ordering {
        let (a, b) = (&self.artists[x], &self.artists[y]);
        let primary = match self.sort {
            SortColumn::Name => Ordering::Equal,
            SortColumn::Overall => overall_rank(a.overall()).cmp(&overall_rank(b.overall())),
            SortColumn::Ticketmaster => part_order(a, b, Source::Ticketmaster),
            SortColumn::Spotify => part_order(a, b, Source::Spotify),
            SortColumn::Setlistfm => part_order(a, b, Source::Setlistfm),
            SortColumn::LastSync => a.last_sync.cmp(&b.last_sync),
            SortColumn::Shows => a.upcoming_shows_count.cmp(&b.upcoming_shows_count),
            SortColumn::Songs => a.songs_count.cmp(&b.songs_count),
            SortColumn::LastError => a.last_sync_error.cmp(&b.last_sync_error),
        };
        let order = primary
            .then_with(|| self.search_keys[x].name.cmp(&self.search_keys[y].name))
            .then(x.cmp(&y));
        if self.descending {
            order.reverse()
        } else {
            order
        }
    }

    fn shown(&self, i: usize) -> bool {
        self.filter
            .matches_row(&self.artists[i], &self.search_keys[i])
    }

    /// Rebuilds `view` from the filter and sort, keeping the selected artist selected.
    pub fn rebuild_view(&mut self) {
        let keep = self.selection_to_keep();
        let mut view: Vec<usize> = (0..self.artists.len()).filter(|i| self.shown(*i)).collect();
        view.sort_unstable_by(|x, y| self.row_order(*x, *y));
        self.view = view;
        self.selected = 0;
        self.restore_selection(keep);
    }

    /// Puts one new or changed artist in place: O(log n) to find its row, a move of the
    /// indices after it, no sort and no filter pass over the others.
    fn upsert_artist(&mut self, artist: ArtistSummary) {
        let keep = self.selection_to_keep();
        let key = SearchKey::of(&artist);
        let i = match self.index.get(&artist.id) {
            Some(i) => {
                let i = *i;
                if let Some(at) = self.view.iter().position(|v| *v == i) {
                    self.view.remove(at);
                }
                self.artists[i] = artist;
                self.search_keys[i] = key;
                i
            }
            None => {
                let i = self.artists.len();
                self.index.insert(artist.id.clone(), i);
                self.artists.push(artist);
                self.search_keys.push(key);
                i
            }
        };
        if self.shown(i) {
            let at = self
                .view
                .partition_point(|v| self.row_order(*v, i) == Ordering::Less);
            self.view.insert(at, i);
        }
        self.restore_selection(keep);
    }

    fn set_artists(&mut self, artists: Vec<ArtistSummary>) {
        self.index = artists
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        self.search_keys = artists.iter().map(SearchKey::of).collect();
        self.artists = artists;
        self.loaded = true;
        self.marks.retain(|id| self.index.contains_key(id));
        self.rebuild_view();
    }

    fn move_selection(&mut self, delta: i64) {
        if self.view.is_empty() {
            self.selected = 0;
            return;
        }
        let last = self.view.len() as i64 - 1;
        self.selected = (self.selected as i64 + delta).clamp(0, last) as usize;
    }

    fn page(&self) -> i64 {
        i64::from(self.height.saturating_sub(10).max(1))
    }

    fn detail_effect(&self) -> Vec<Effect> {
        match (self.show_detail, self.selected_artist()) {
            (true, Some(a)) => vec![Effect::LoadDetail {
                artist_id: a.id.clone(),
            }],
            _ => Vec::new(),
        }
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
                match self.overlay {
                    // The jobs view follows the queue while it is open.
                    Some(Overlay::Jobs) => vec![Effect::LoadJobs],
                    // The plan reads every artist's freshness: every few seconds will do.
                    Some(Overlay::Plan) => {
                        self.plan_ticks += 1;
                        if self.plan_ticks >= PLAN_EVERY_TICKS {
                            self.plan_ticks = 0;
                            vec![Effect::LoadPlan]
                        } else {
                            Vec::new()
                        }
                    }
                    _ => Vec::new(),
                }
            }
            Action::ArtistsLoaded(list) => {
                self.set_artists(list);
                self.detail_effect()
            }
            Action::ArtistRefreshed(a) => {
                self.upsert_artist(a);
                self.detail_effect()
            }
            Action::Engine(ev) => self.on_engine(ev),
            Action::DetailLoaded(d) => {
                if self.selected_artist().map(|a| &a.id) == Some(&d.detail.summary.id) {
                    self.detail = Some(d);
                }
                Vec::new()
            }
            Action::BatchQueued(run_ids) => {
                self.batch
                    .get_or_insert_with(BatchProgress::default)
                    .queue(run_ids);
                Vec::new()
            }
            Action::PlanLoaded(forecast) => {
                self.plan = Some(*forecast);
                Vec::new()
            }
            Action::JobsLoaded(jobs) => {
                // Keep the same job selected while the list moves.
                let selected = self.jobs.get(self.jobs_selected).map(|j| j.id.clone());
                self.jobs = jobs;
                self.jobs_selected = selected
                    .and_then(|id| self.jobs.iter().position(|j| j.id == id))
                    .unwrap_or(self.jobs_selected)
                    .min(self.jobs.len().saturating_sub(1));
                Vec::new()
            }
            Action::CandidatesFound { query, candidates } => {
                if candidates.is_empty() {
                    self.notice = Some(format!(
                        "Ticketmaster has no attraction matching \"{}\"; check the spelling",
                        crate::text::sanitize(&query)
                    ));
                    return Vec::new();
                }
                let wanted: HashSet<&str> = candidates
                    .iter()
                    .map(|c| c.ticketmaster_id.as_str())
                    .collect();
                let here: HashSet<&str> = self
                    .artists
                    .iter()
                    .map(|a| a.ticketmaster_id.as_str())
                    .filter(|id| wanted.contains(id))
                    .collect();
                let present = candidates
                    .iter()
                    .map(|c| here.contains(c.ticketmaster_id.as_str()))
                    .collect();
                // Start on the first exact name match, else the first result.
                let lower = query.trim().to_lowercase();
                let selected = candidates
                    .iter()
                    .position(|c| c.name.to_lowercase() == lower)
                    .unwrap_or(0);
                self.notice = None;
                self.mode = Mode::PickArtist(Picker {
                    query,
                    candidates,
                    present,
                    selected,
                });
                Vec::new()
            }
            Action::ArtistAdded(a) => {
                let id = a.id.clone();
                self.upsert_artist(a);
                self.select_artist(&id);
                self.detail_effect()
            }
            Action::EnvLoaded(report) => {
                self.env = Some(report);
                self.env_running = false;
                Vec::new()
            }
            Action::HeaderLoaded(h) => {
                self.header = h;
                Vec::new()
            }
            Action::Notice(text) => {
                self.notice = Some(text);
                Vec::new()
            }
            Action::Failed(text) => {
                self.notice = Some(format!("error: {text}"));
                self.env_running = false;
                Vec::new()
            }
            Action::ScrollLog(delta) => {
                self.scroll_log(delta);
                Vec::new()
            }
            Action::Polled(p) => self.on_polled(p),
            Action::ActiveRuns(runs) => {
                let active: HashSet<&str> = runs.iter().map(|r| r.artist_id.as_str()).collect();
                self.live.retain(|id, _| active.contains(id.as_str()));
                for r in &runs {
                    self.track_run(r);
                }
                Vec::new()
            }
        }
    }

    /// Whether a poll would change nothing shown (the loop then skips the redraw). Built from
    /// the same three questions `on_polled` acts on.
    pub fn poll_changes_nothing(&self, p: &Polled) -> bool {
        !self.count_moved(p.total)
            && p.artists.iter().all(|a| self.is_current(a))
            && p.runs.iter().all(|r| self.live_change(r).is_none())
    }

    /// A polled count of artists that differs from the table (not before the first load:
    /// that load is on its way).
    fn count_moved(&self, total: Option<i64>) -> bool {
        self.loaded && total.is_some_and(|t| t != self.artists.len() as i64)
    }

    /// The table holds this artist exactly as it is.
    fn is_current(&self, a: &ArtistSummary) -> bool {
        self.index
            .get(&a.id)
            .is_some_and(|i| self.artists[*i] == *a)
    }

    /// What a run read from the database changes in `live`, if anything.
    fn live_change(&self, r: &RunRow) -> Option<LiveChange> {
        match (self.live.get(&r.artist_id), r.status.is_active()) {
            (Some(l), true) if l.run_id == r.id && (l.running || r.status == RunStatus::Queued) => {
                None
            }
            (_, true) => Some(LiveChange::Track),
            // Ended in another process (this one's own runs end by event).
            (Some(l), false) if l.run_id == r.id => Some(LiveChange::End),
            (_, false) => None,
        }
    }

    /// Shows an active run (of any process) in its artist's row.
    fn track_run(&mut self, r: &RunRow) {
        let live = self.live.entry(r.artist_id.clone()).or_default();
        live.run_id.clone_from(&r.id);
        live.running |= r.status == RunStatus::Running;
    }

    fn on_polled(&mut self, p: Polled) -> Vec<Effect> {
        // Other processes' workers may run this console's batch.
        if let Some(b) = &mut self.batch {
            for r in p.runs.iter().filter(|r| !r.status.is_active()) {
                b.ended(&r.id, r.status);
            }
        }
        for r in &p.runs {
            match self.live_change(r) {
                Some(LiveChange::Track) => self.track_run(r),
                Some(LiveChange::End) => {
                    self.live.remove(&r.artist_id);
                }
                None => {}
            }
        }
        let selected = self.selected_artist().map(|a| a.id.clone());
        let mut selected_changed = false;
        for a in p.artists {
            if !self.is_current(&a) {
                selected_changed |= selected.as_deref() == Some(a.id.as_str());
                self.upsert_artist(a);
            }
        }
        let mut effects = Vec::new();
        if self.count_moved(p.total) {
            // Artists were added or removed elsewhere: read them all again.
            effects.push(Effect::LoadArtists);
        }
        if selected_changed {
            effects.extend(self.detail_effect());
        }
        effects
    }

    fn scroll_log(&mut self, delta: i32) {
        let max = self.log.lines.len().saturating_sub(1);
        if delta > 0 {
            // Up: older lines; following stops.
            self.log.scroll = (self.log.scroll + delta as usize).min(max);
            self.log.follow = false;
        } else {
            self.log.scroll = self
                .log
                .scroll
                .saturating_sub(delta.unsigned_abs() as usize);
            if self.log.scroll == 0 {
                self.log.follow = true;
            }
        }
    }

    fn on_engine(&mut self, ev: EngineEvent) -> Vec<Effect> {
        match ev {
            EngineEvent::Log(line) => {
                let selected = self.selected_artist().map(|a| a.id.clone());
                let shown = self.log.passes(&line, selected.as_deref());
                self.log.push(line);
                if !self.log.follow && shown {
                    // Keep the same lines in view while new ones arrive below; hidden lines
                    // do not move it.
                    let visible = self.log.visible(selected.as_deref()).count();
                    self.log.scroll = (self.log.scroll + 1).min(visible.saturating_sub(1));
                }
                Vec::new()
            }
            EngineEvent::Queued {
                run_id, artist_id, ..
            } => {
                self.live.entry(artist_id).or_insert_with(|| Live {
                    run_id,
                    ..Live::default()
                });
                Vec::new()
            }
            EngineEvent::Started {
                run_id, artist_id, ..
            } => {
                let live = self.live.entry(artist_id.clone()).or_default();
                live.run_id = run_id;
                live.running = true;
                live.retry = None;
                vec![Effect::RefreshArtist { artist_id }]
            }
            EngineEvent::Step {
                artist_id,
                source,
                step,
                ..
            } => {
                let live = self.live.entry(artist_id).or_default();
                live.running = true;
                live.step = Some((source, step));
                Vec::new()
            }
            EngineEvent::Progress {
                artist_id,
                source,
                progress,
                ..
            } => {
                self.live
                    .entry(artist_id)
                    .or_default()
                    .progress
                    .insert(source, progress);
                Vec::new()
            }
            EngineEvent::Retrying {
                artist_id, reason, ..
            } => {
                let live = self.live.entry(artist_id.clone()).or_default();
                live.running = false;
                live.retry = Some(reason);
                vec![Effect::RefreshArtist { artist_id }]
            }
            EngineEvent::PartFinished { artist_id, .. } => {
                vec![Effect::RefreshArtist { artist_id }]
            }
            EngineEvent::Finished {
                artist_id,
                run_id,
                status,
                ..
            } => {
                if let Some(b) = &mut self.batch {
                    b.ended(&run_id, status);
                }
                self.live.remove(&artist_id);
                vec![Effect::RefreshArtist { artist_id }]
            }
            EngineEvent::Waiting {
                artist_id,
                until,
                reason,
                ..
            } => {
                let live = self.live.entry(artist_id.clone()).or_default();
                live.running = false;
                live.step = None;
                live.retry = Some(format!(
                    "waiting until {} for the quota reset: {reason}",
                    until.with_timezone(&chrono::Local).format("%H:%M:%S")
                ));
                vec![Effect::RefreshArtist { artist_id }]
            }
            EngineEvent::Requeued { artist_id, .. } => {
                if let Some(l) = self.live.get_mut(&artist_id) {
                    l.running = false;
                }
                vec![Effect::RefreshArtist { artist_id }]
            }
            // A failing database (full disk, lost connection) on the status line, as an error.
            EngineEvent::Database { usable, message } => {
                self.notice = Some(if usable {
                    message
                } else {
                    format!("error: {message}")
                });
                Vec::new()
            }
        }
    }

    /// Shows every artist again.
    fn clear_filter(&mut self) {
        self.filter_text.clear();
        self.filter_applied.clear();
        self.filter = Query::default();
        self.filter_error = None;
        self.rebuild_view();
    }

    /// Selects this artist, clearing the filter if it hides it.
    fn select_artist(&mut self, id: &str) {
        let Some(i) = self.index.get(id).copied() else {
            return;
        };
        if !self.view.contains(&i) {
            self.clear_filter();
        }
        if let Some(at) = self.view.iter().position(|v| *v == i) {
            self.selected = at;
            self.detail = None;
        }
    }

    fn on_pick_key(&mut self, key: KeyEvent, mut picker: Picker) -> Vec<Effect> {
        let last = picker.candidates.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc => {
                self.mode = Mode::Normal;
                self.notice = Some("nothing added".into());
                return Vec::new();
            }
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                let Some(c) = picker.candidates.get(picker.selected) else {
                    return Vec::new();
                };
                if picker.present.get(picker.selected) == Some(&true) {
                    let existing = self
                        .artists
                        .iter()
                        .find(|a| a.ticketmaster_id == c.ticketmaster_id)
                        .map(|a| a.id.clone());
                    self.notice = Some(format!(
                        "{} is here already; selected it",
                        crate::text::sanitize(&c.name)
                    ));
                    if let Some(id) = existing {
                        self.select_artist(&id);
                    }
                    return self.detail_effect();
                }
                self.notice = Some(format!("adding {}…", crate::text::sanitize(&c.name)));
                return vec![Effect::ImportArtist {
                    ticketmaster_id: c.ticketmaster_id.clone(),
                    name: c.name.clone(),
                }];
            }
            _ => match self.keys.command(&key) {
                Some(Command::Up) => picker.selected = picker.selected.saturating_sub(1),
                Some(Command::Down) => picker.selected = (picker.selected + 1).min(last),
                Some(Command::Top) => picker.selected = 0,
                Some(Command::Bottom) => picker.selected = last,
                _ => {}
            },
        }
        self.mode = Mode::PickArtist(picker);
        Vec::new()
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return self.ask_quit();
        }
        match self.mode.clone() {
            Mode::Filter => self.on_text_key(key, TextTarget::Filter),
            Mode::LogSearch => self.on_text_key(key, TextTarget::LogSearch),
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
        if self.running_here > 0 || self.live.values().any(|l| l.running) {
            let running = self
                .running_here
                .max(self.live.values().filter(|l| l.running).count());
            self.mode = Mode::Confirm(Confirm::Quit { running });
            Vec::new()
        } else {
            self.quitting = true;
            vec![Effect::Quit]
        }
    }

    fn on_confirm_key(&mut self, key: KeyEvent, confirm: Confirm) -> Vec<Effect> {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
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
                    Confirm::Quit { .. } => {
                        self.quitting = true;
                        vec![Effect::Quit]
                    }
                }
            }
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                self.mode = Mode::Normal;
                self.notice = Some("cancelled; nothing was changed".into());
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn on_text_key(&mut self, key: KeyEvent, target: TextTarget) -> Vec<Effect> {
        let text = match target {
            TextTarget::Filter => &mut self.filter_text,
            TextTarget::LogSearch => &mut self.log.search,
            TextTarget::AddArtist => &mut self.input,
        };
        match key.code {
            KeyCode::Esc => {
                if target != TextTarget::Filter {
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
        if target == TextTarget::Filter {
            let before = self.selected_artist().map(|a| a.id.clone());
            match Query::parse(&self.filter_text) {
                Ok(q) => {
                    self.filter = q;
                    self.filter_error = None;
                    self.filter_applied = self.filter_text.clone();
                    self.rebuild_view();
                }
                Err(e) => self.filter_error = Some(e),
            }
            if self.mode != Mode::Filter {
                // Leaving: the title shows the filter that applies, never a broken one.
                self.filter_text = self.filter_applied.clone();
                self.filter_error = None;
                self.filter_anchor = None;
            }
            if self.selected_artist().map(|a| a.id.clone()) != before {
                self.detail = None;
                return self.detail_effect();
            }
        }
        Vec::new()
    }

    fn on_command(&mut self, cmd: Command) -> Vec<Effect> {
        if let Some(overlay) = self.overlay {
            // Overlays take Esc/q/their own key to close, and a few of their own commands.
            match cmd {
                Command::Back | Command::Quit | Command::Help if overlay == Overlay::Help => {
                    self.overlay = None;
                }
                Command::Back | Command::Quit | Command::Env if overlay == Overlay::Env => {
                    self.overlay = None;
                }
                Command::Back | Command::Quit | Command::Jobs if overlay == Overlay::Jobs => {
                    self.overlay = None;
                }
                Command::Back | Command::Quit | Command::Plan if overlay == Overlay::Plan => {
                    self.overlay = None;
                }
                Command::RunChecks if overlay == Overlay::Env => {
                    self.env_running = true;
                    return vec![Effect::RunEnvChecks];
                }
                Command::Cancel if overlay == Overlay::Jobs => return self.cancel_selected_job(),
                Command::Detail if overlay == Overlay::Jobs => return self.open_selected_job(),
                Command::Up
                | Command::Down
                | Command::PageUp
                | Command::PageDown
                | Command::Top
                | Command::Bottom => self.scroll_overlay(overlay, cmd),
                _ => {}
            }
            return Vec::new();
        }
        match cmd {
            Command::Up => self.step(-1),
            Command::Down => self.step(1),
            Command::PageUp => self.step(-self.page()),
            Command::PageDown => self.step(self.page()),
            Command::Top => self.step(i64::MIN / 2),
            Command::Bottom => self.step(i64::MAX / 2),
            Command::Sync => match self.selected_artist() {
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
                let (artists, hidden, marked) = if self.marks.is_empty() {
                    let shown: Vec<(String, String)> = self
                        .view
                        .iter()
                        .map(|i| (self.artists[*i].id.clone(), self.artists[*i].name.clone()))
                        .collect();
                    (shown, 0, false)
                } else {
                    let shown: HashSet<&str> = self
                        .view
                        .iter()
                        .map(|i| self.artists[*i].id.as_str())
                        .collect();
                    let hidden = self
                        .marks
                        .iter()
                        .filter(|m| !shown.contains(m.as_str()))
                        .count();
                    let mut marked: Vec<(String, String)> = self
                        .marks
                        .iter()
                        .filter_map(|id| self.index.get(id))
                        .map(|i| (self.artists[*i].id.clone(), self.artists[*i].name.clone()))
                        .collect();
                    marked.sort();
                    (marked, hidden, true)
                };
                if artists.is_empty() {
                    self.notice = Some("nothing to sync: no artist is shown".into());
                } else {
                    let estimate = self.estimate(&artists);
                    self.mode = Mode::Confirm(Confirm::Sync {
                        artists,
                        hidden,
                        marked,
                        estimate,
                    });
                }
                Vec::new()
            }
            Command::RetryFailed => {
                let count = self
                    .artists
                    .iter()
                    .filter(|a| {
                        a.sync_status
                            .parts()
                            .iter()
                            .any(|(_, p)| *p == PartStatus::Error)
                    })
                    .count();
                if count == 0 {
                    self.notice = Some("no failed artists to retry".into());
                } else {
                    self.mode = Mode::Confirm(Confirm::RetryFailed { count });
                }
                Vec::new()
            }
            // Always asked of the engine: the run may have been queued by another process.
            Command::Cancel => match self.selected_artist() {
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
                if let Some(a) = self.selected_artist() {
                    let id = a.id.clone();
                    if !self.marks.remove(&id) {
                        self.marks.insert(id);
                    }
                    self.move_selection(1);
                }
                self.detail_effect()
            }
            Command::MarkAll => {
                for i in &self.view {
                    self.marks.insert(self.artists[*i].id.clone());
                }
                Vec::new()
            }
            Command::Back => {
                if !self.marks.is_empty() {
                    self.marks.clear();
                } else if self.show_detail {
                    self.show_detail = false;
                    if self.focus == Focus::Detail {
                        self.focus = Focus::Table;
                    }
                } else if !self.filter_text.is_empty() {
                    self.clear_filter();
                }
                Vec::new()
            }
            Command::Filter => {
                self.filter_anchor = self.selected_artist().map(|a| a.id.clone());
                self.mode = Mode::Filter;
                Vec::new()
            }
            Command::Detail => {
                self.show_detail = !self.show_detail;
                self.detail = None;
                self.detail_scroll = 0;
                if !self.show_detail && self.focus == Focus::Detail {
                    self.focus = Focus::Table;
                }
                self.detail_effect()
            }
            Command::Env => {
                self.overlay = Some(Overlay::Env);
                self.env_scroll = 0;
                if self.env.is_none() && !self.env_running {
                    self.env_running = true;
                    return vec![Effect::RunEnvChecks];
                }
                Vec::new()
            }
            Command::RunChecks => Vec::new(),
            Command::Jobs => {
                self.overlay = Some(Overlay::Jobs);
                vec![Effect::LoadJobs]
            }
            Command::Plan => {
                self.overlay = Some(Overlay::Plan);
                self.plan_ticks = 0;
                vec![Effect::LoadPlan]
            }
            Command::Help => {
                self.overlay = Some(Overlay::Help);
                self.help_scroll = 0;
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
            Command::SortNext => {
                self.sort = self.sort.next();
                self.rebuild_view();
                self.notice = Some(format!("sorted by {}", self.sort.label()));
                Vec::new()
            }
            Command::SortReverse => {
                self.descending = !self.descending;
                self.rebuild_view();
                Vec::new()
            }
            Command::FocusLog => {
                self.focus = match self.focus {
                    Focus::Table => Focus::Log,
                    Focus::Log if self.show_detail => Focus::Detail,
                    Focus::Log | Focus::Detail => Focus::Table,
                };
                Vec::new()
            }
            Command::LogLevel => {
                self.log.min_level = match self.log.min_level {
                    LogLevel::Trace | LogLevel::Debug => LogLevel::Info,
                    LogLevel::Info => LogLevel::Warn,
                    LogLevel::Warn => LogLevel::Error,
                    LogLevel::Error => LogLevel::Debug,
                };
                Vec::new()
            }
            Command::Follow => {
                self.log.follow = true;
                self.log.scroll = 0;
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
                let artist = self.selected_artist().map(|a| a.id.clone());
                let lines = self
                    .log
                    .visible(artist.as_deref())
                    .map(|l| {
                        format!(
                            "{} {:5} {} {}",
                            l.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                            l.level.as_str(),
                            l.target,
                            crate::text::sanitize(&l.message)
                        )
                    })
                    .collect();
                vec![Effect::SaveLog { lines }]
            }
            Command::AddArtist => {
                self.mode = Mode::AddArtist;
                self.input.clear();
                Vec::new()
            }
            Command::ToggleMouse => {
                self.mouse = !self.mouse;
                vec![Effect::SetMouse(self.mouse)]
            }
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
        let statuses: Vec<&crate::store::sync_status::SyncStatus> = artists
            .iter()
            .filter_map(|(id, _)| self.index.get(id))
            .map(|i| &self.artists[*i].sync_status)
            .collect();
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

    /// Moves the jobs selection or scrolls the help.
    fn scroll_overlay(&mut self, overlay: Overlay, cmd: Command) {
        let delta: i64 = match cmd {
            Command::Up => -1,
            Command::Down => 1,
            Command::PageUp => -self.page(),
            Command::PageDown => self.page(),
            Command::Top => i64::MIN / 2,
            _ => i64::MAX / 2,
        };
        match overlay {
            Overlay::Jobs => {
                let last = self.jobs.len().saturating_sub(1) as i64;
                self.jobs_selected = (self.jobs_selected as i64 + delta).clamp(0, last) as usize;
            }
            Overlay::Help => {
                self.help_scroll =
                    scrolled(self.help_scroll, delta, super::view::help_max_scroll(self));
            }
            Overlay::Env => {
                self.env_scroll =
                    scrolled(self.env_scroll, delta, super::view::env_max_scroll(self));
            }
            // One screen: nothing scrolls.
            Overlay::Plan => {}
        }
    }

    /// `c` in the jobs view: cancels the selected job if it is queued or running.
    fn cancel_selected_job(&mut self) -> Vec<Effect> {
        match self.jobs.get(self.jobs_selected) {
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
        let Some(id) = self
            .jobs
            .get(self.jobs_selected)
            .map(|j| j.artist_id.clone())
        else {
            return Vec::new();
        };
        if !self.index.contains_key(&id) {
            self.notice = Some("that job's artist is no longer in the table".into());
            return Vec::new();
        }
        self.overlay = None;
        self.select_artist(&id);
        self.show_detail = true;
        self.detail = None;
        self.detail_scroll = 0;
        self.detail_effect()
    }

    fn step(&mut self, delta: i64) -> Vec<Effect> {
        match self.focus {
            Focus::Table => {
                self.move_selection(delta);
                self.detail = None;
                self.detail_scroll = 0;
                self.detail_effect()
            }
            Focus::Log => {
                self.scroll_log(-(delta.clamp(-1000, 1000) as i32));
                Vec::new()
            }
            Focus::Detail => {
                // Relative times ("4m ago") barely change the length: any instant will do.
                self.detail_scroll = scrolled(
                    self.detail_scroll,
                    delta,
                    super::view::detail_max_scroll(self, chrono::DateTime::UNIX_EPOCH),
                );
                Vec::new()
            }
        }
    }
}

fn part_rank(p: PartStatus) -> u8 {
    match p {
        PartStatus::Error => 0,
        PartStatus::Syncing => 1,
        PartStatus::Pending => 2,
        PartStatus::Success => 3,
    }
}

fn overall_rank(o: Overall) -> u8 {
    match o {
        Overall::Error => 0,
        Overall::Syncing => 1,
        Overall::Pending => 2,
        Overall::Success => 3,
    }
}

fn part_order(a: &ArtistSummary, b: &ArtistSummary, source: Source) -> Ordering {
    part_rank(a.sync_status.get(source)).cmp(&part_rank(b.sync_status.get(source)))
}

/// A scroll position moved by `delta` lines, kept within `0..=max`.
fn scrolled(position: u16, delta: i64, max: u16) -> u16 {
    (i64::from(position) + delta).clamp(0, i64::from(max)) as u16
}

/// What a run read from the database does to the live state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiveChange {
    /// It is active: show it (or that it now runs).
    Track,
    /// It ended elsewhere: stop showing it.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextTarget {
    Filter,
    LogSearch,
    AddArtist,
}
