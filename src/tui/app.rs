//! The console's one state and its pure `update(action) -> effects`. No IO here: effects are
//! carried out by the event loop, whose results come back as actions.

use std::collections::{HashMap, HashSet, VecDeque};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::filter::Query;
use super::keys::{Command, KeyMap};
use crate::checks::EnvReport;
use crate::engine::events::{LogLevel, LogLine, PartProgress};
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
}

/// A full-screen panel over the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    Help,
    Env,
    Jobs,
}

/// Which pane scrolls with the arrow keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Table,
    Log,
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
    RunEnvChecks,
    SaveLog {
        lines: Vec<String>,
    },
    AddArtist {
        name: String,
    },
    SetMouse(bool),
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
    EnvLoaded(EnvReport),
    HeaderLoaded(HeaderInfo),
    /// An effect finished with a message for the status line.
    Notice(String),
    /// An effect failed.
    Failed(String),
    ScrollLog(i32),
    /// The queued and running runs in the database (any process).
    ActiveRuns(Vec<RunRow>),
}

/// The console's state.
pub struct App {
    pub artists: Vec<ArtistSummary>,
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
}

impl App {
    pub fn new(keys: KeyMap) -> App {
        App {
            artists: Vec::new(),
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

    /// Rebuilds `view` from the filter and sort, keeping the selected artist selected.
    pub fn rebuild_view(&mut self) {
        let keep = self
            .filter_anchor
            .clone()
            .filter(|_| self.mode == Mode::Filter)
            .or_else(|| self.selected_artist().map(|a| a.id.clone()));
        let mut view: Vec<usize> = (0..self.artists.len())
            .filter(|i| self.filter.matches(&self.artists[*i]))
            .collect();
        let a = &self.artists;
        let rank = |p: PartStatus| match p {
            PartStatus::Error => 0,
            PartStatus::Syncing => 1,
            PartStatus::Pending => 2,
            PartStatus::Success => 3,
        };
        let overall_rank = |o: Overall| match o {
            Overall::Error => 0,
            Overall::Syncing => 1,
            Overall::Pending => 2,
            Overall::Success => 3,
        };
        match self.sort {
            SortColumn::Name => view.sort_by_cached_key(|i| a[*i].name.to_lowercase()),
            SortColumn::Overall => view.sort_by_key(|i| overall_rank(a[*i].overall())),
            SortColumn::Ticketmaster => {
                view.sort_by_key(|i| rank(a[*i].sync_status.get(Source::Ticketmaster)))
            }
            SortColumn::Spotify => {
                view.sort_by_key(|i| rank(a[*i].sync_status.get(Source::Spotify)))
            }
            SortColumn::Setlistfm => {
                view.sort_by_key(|i| rank(a[*i].sync_status.get(Source::Setlistfm)))
            }
            SortColumn::LastSync => view.sort_by_key(|i| a[*i].last_sync),
            SortColumn::Shows => view.sort_by_key(|i| a[*i].upcoming_shows_count),
            SortColumn::Songs => view.sort_by_key(|i| a[*i].songs_count),
            SortColumn::LastError => view.sort_by_key(|i| a[*i].last_sync_error.clone()),
        }
        if self.descending {
            view.reverse();
        }
        self.view = view;
        self.selected = keep
            .and_then(|id| self.index.get(&id).copied())
            .and_then(|i| self.view.iter().position(|v| *v == i))
            .unwrap_or(0)
            .min(self.view.len().saturating_sub(1));
    }

    fn set_artists(&mut self, artists: Vec<ArtistSummary>) {
        self.index = artists
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        self.artists = artists;
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
            // The jobs view follows the queue while it is open.
            Action::Tick if self.overlay == Some(Overlay::Jobs) => vec![Effect::LoadJobs],
            Action::Tick => Vec::new(),
            Action::ArtistsLoaded(list) => {
                self.set_artists(list);
                self.detail_effect()
            }
            Action::ArtistRefreshed(a) => {
                match self.index.get(&a.id) {
                    Some(i) => self.artists[*i] = a,
                    None => {
                        self.index.insert(a.id.clone(), self.artists.len());
                        self.artists.push(a);
                    }
                }
                self.rebuild_view();
                self.detail_effect()
            }
            Action::Engine(ev) => self.on_engine(ev),
            Action::DetailLoaded(d) => {
                if self.selected_artist().map(|a| &a.id) == Some(&d.detail.summary.id) {
                    self.detail = Some(d);
                }
                Vec::new()
            }
            Action::JobsLoaded(jobs) => {
                self.jobs = jobs;
                Vec::new()
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
            Action::ActiveRuns(runs) => {
                let active: HashSet<&str> = runs.iter().map(|r| r.artist_id.as_str()).collect();
                self.live.retain(|id, _| active.contains(id.as_str()));
                for r in runs {
                    let live = self.live.entry(r.artist_id.clone()).or_default();
                    live.run_id = r.id;
                    live.running |= r.status == RunStatus::Running;
                }
                Vec::new()
            }
        }
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
            EngineEvent::Finished { artist_id, .. } => {
                self.live.remove(&artist_id);
                vec![Effect::RefreshArtist { artist_id }]
            }
            EngineEvent::Requeued { artist_id, .. } => {
                if let Some(l) = self.live.get_mut(&artist_id) {
                    l.running = false;
                }
                vec![Effect::RefreshArtist { artist_id }]
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
            Mode::AddArtist => self.on_text_key(key, TextTarget::AddArtist),
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
                        self.notice =
                            Some(format!("searching Ticketmaster for \"{}\"…", name.trim()));
                        return vec![Effect::AddArtist {
                            name: name.trim().to_string(),
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
                Command::RunChecks if overlay == Overlay::Env => {
                    self.env_running = true;
                    return vec![Effect::RunEnvChecks];
                }
                Command::Cancel if overlay == Overlay::Jobs => return self.on_overlay_cancel(),
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
                    self.mode = Mode::Confirm(Confirm::Sync {
                        artists,
                        hidden,
                        marked,
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
                } else if !self.filter_text.is_empty() {
                    self.filter_text.clear();
                    self.filter_applied.clear();
                    self.filter = Query::default();
                    self.filter_error = None;
                    self.rebuild_view();
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
                self.detail_effect()
            }
            Command::Env => {
                self.overlay = Some(Overlay::Env);
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
            Command::Help => {
                self.overlay = Some(Overlay::Help);
                Vec::new()
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
                    Focus::Log => Focus::Table,
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

    fn on_overlay_cancel(&mut self) -> Vec<Effect> {
        Vec::new()
    }

    fn step(&mut self, delta: i64) -> Vec<Effect> {
        match self.focus {
            Focus::Table => {
                self.move_selection(delta);
                self.detail = None;
                self.detail_effect()
            }
            Focus::Log => {
                self.scroll_log(-(delta.clamp(-1000, 1000) as i32));
                Vec::new()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextTarget {
    Filter,
    LogSearch,
    AddArtist,
}
