//! The artist table: every artist, filtered and sorted, one selected, some marked. Changes
//! are incremental (one artist is put back in place by binary search); only the visible
//! slice is drawn.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use crate::store::artists::ArtistSummary;
use crate::store::sync_status::{Overall, PartStatus, Source, SyncStatus};
use crate::store::time::relative;
use crate::text::{sanitize, thousands, truncate};
use crate::tui::filter::{Query, SearchKey};
use crate::tui::live::Live;
use crate::tui::theme::Theme;

/// Columns the table sorts by: the store's sort keys (a page of `list_artists` sorts the same).
pub use crate::store::artists::SortKey as SortColumn;

/// The artists to sync for `S`: the marked ones (some perhaps hidden by the filter), else
/// every shown one.
pub struct SyncTargets {
    pub artists: Vec<(String, String)>,
    /// Marked artists the filter hides.
    pub hidden: usize,
    pub marked: bool,
}

#[derive(Debug, Clone)]
pub struct ArtistTable {
    pub artists: Vec<ArtistSummary>,
    /// Per artist (same index): its folded name and Ticketmaster id.
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
    /// While a filter is typed: the artist selected when it began, kept selected whenever
    /// it is shown.
    filter_anchor: Option<String>,
    filtering: bool,
    pub sort: SortColumn,
    pub descending: bool,
    /// Every artist has been read at least once.
    pub loaded: bool,
    /// Rows the last draw showed (a page).
    pub page_rows: Option<u16>,
}

impl Default for ArtistTable {
    fn default() -> ArtistTable {
        ArtistTable {
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
            filtering: false,
            sort: SortColumn::Name,
            descending: false,
            loaded: false,
            page_rows: None,
        }
    }
}

impl ArtistTable {
    pub fn selected_artist(&self) -> Option<&ArtistSummary> {
        self.view
            .get(self.selected)
            .and_then(|i| self.artists.get(*i))
    }

    pub fn selected_id(&self) -> Option<String> {
        self.selected_artist().map(|a| a.id.clone())
    }

    pub fn get(&self, id: &str) -> Option<&ArtistSummary> {
        self.index.get(id).map(|i| &self.artists[*i])
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// The artist to keep selected across a change of the view: while typing a filter, the
    /// one selected when filtering began; otherwise the one selected now.
    fn selection_to_keep(&self) -> Option<String> {
        self.filter_anchor
            .clone()
            .filter(|_| self.filtering)
            .or_else(|| self.selected_id())
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
    pub fn upsert(&mut self, artist: ArtistSummary) {
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

    /// Every artist, read again.
    pub fn set_artists(&mut self, artists: Vec<ArtistSummary>) {
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

    pub fn move_selection(&mut self, delta: i64) {
        if self.view.is_empty() {
            self.selected = 0;
            return;
        }
        let last = self.view.len() as i64 - 1;
        self.selected = (self.selected as i64 + delta).clamp(0, last) as usize;
    }

    /// The table holds this artist exactly as it is.
    pub fn is_current(&self, a: &ArtistSummary) -> bool {
        self.index
            .get(&a.id)
            .is_some_and(|i| self.artists[*i] == *a)
    }

    /// A polled count of artists that differs from the table (not before the first load:
    /// that load is on its way).
    pub fn count_moved(&self, total: Option<i64>) -> bool {
        self.loaded && total.is_some_and(|t| t != self.artists.len() as i64)
    }

    /// Shows every artist again.
    pub fn clear_filter(&mut self) {
        self.filter_text.clear();
        self.filter_applied.clear();
        self.filter = Query::default();
        self.filter_error = None;
        self.rebuild_view();
    }

    /// Selects this artist, clearing the filter if it hides it; false if it is not here.
    pub fn select(&mut self, id: &str) -> bool {
        let Some(i) = self.index.get(id).copied() else {
            return false;
        };
        if !self.view.contains(&i) {
            self.clear_filter();
        }
        match self.view.iter().position(|v| *v == i) {
            Some(at) => {
                self.selected = at;
                true
            }
            None => false,
        }
    }

    /// Typing a filter begins: the selected artist stays selected whenever it is shown.
    pub fn begin_filter(&mut self) {
        self.filter_anchor = self.selected_id();
        self.filtering = true;
    }

    /// The typed filter changed: applied at once when it parses, else its error is shown
    /// and the last good one stays.
    pub fn filter_edited(&mut self) {
        match Query::parse(&self.filter_text) {
            Ok(q) => {
                self.filter = q;
                self.filter_error = None;
                self.filter_applied = self.filter_text.clone();
                self.rebuild_view();
            }
            Err(e) => self.filter_error = Some(e),
        }
    }

    /// Typing ends: the title shows the filter that applies, never a broken one.
    pub fn end_filter(&mut self) {
        self.filter_text = self.filter_applied.clone();
        self.filter_error = None;
        self.filter_anchor = None;
        self.filtering = false;
    }

    pub fn sort_next(&mut self) {
        self.sort = self.sort.next();
        self.rebuild_view();
    }

    pub fn sort_reverse(&mut self) {
        self.descending = !self.descending;
        self.rebuild_view();
    }

    /// Marks or unmarks the selected artist and moves down; false when nothing is selected.
    pub fn toggle_mark(&mut self) -> bool {
        let Some(id) = self.selected_id() else {
            return false;
        };
        if !self.marks.remove(&id) {
            self.marks.insert(id);
        }
        self.move_selection(1);
        true
    }

    pub fn mark_all_shown(&mut self) {
        for i in &self.view {
            self.marks.insert(self.artists[*i].id.clone());
        }
    }

    /// What `S` syncs: the marked artists, else every shown one.
    pub fn sync_targets(&self) -> SyncTargets {
        let pair = |i: &usize| (self.artists[*i].id.clone(), self.artists[*i].name.clone());
        if self.marks.is_empty() {
            return SyncTargets {
                artists: self.view.iter().map(pair).collect(),
                hidden: 0,
                marked: false,
            };
        }
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
        let mut artists: Vec<(String, String)> = self
            .marks
            .iter()
            .filter_map(|id| self.index.get(id))
            .map(pair)
            .collect();
        artists.sort();
        SyncTargets {
            artists,
            hidden,
            marked: true,
        }
    }

    /// Artists with a part in `error`.
    pub fn failed_count(&self) -> usize {
        self.artists
            .iter()
            .filter(|a| {
                a.sync_status
                    .parts()
                    .iter()
                    .any(|(_, p)| *p == PartStatus::Error)
            })
            .count()
    }

    /// The statuses of these artists (those here).
    pub fn statuses<'a>(&'a self, ids: impl Iterator<Item = &'a str>) -> Vec<&'a SyncStatus> {
        ids.filter_map(|id| self.index.get(id))
            .map(|i| &self.artists[*i].sync_status)
            .collect()
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

/// The cell of one source: the word, or the live step while it syncs.
fn part_cell(live: Option<&Live>, source: Source, status: PartStatus) -> String {
    if let Some(live) = live {
        if status == PartStatus::Syncing || live.running {
            if let Some(p) = live.progress.get(&source) {
                return match source {
                    Source::Ticketmaster => format!("page {}/{}", p.done, p.total.max(p.done)),
                    Source::Spotify => format!("albums {}/{}", p.done, p.total.max(p.done)),
                    Source::Setlistfm => format!("{} setlists", p.items),
                };
            }
            if status == PartStatus::Syncing {
                return "syncing".into();
            }
        }
        if !live.running && status != PartStatus::Syncing && live.retry.is_none() {
            // Queued, not started yet.
            return "queued".into();
        }
    }
    status.as_str().to_string()
}

/// Draws the visible rows; returns how many rows of artists fit (a page).
pub fn draw(
    frame: &mut Frame<'_>,
    table: &ArtistTable,
    live: &HashMap<String, Live>,
    focused: bool,
    theme: &Theme,
    area: Rect,
    now: DateTime<Utc>,
) -> u16 {
    let wide = area.width >= 120;
    let medium = area.width >= 96;
    let filter = if table.filter_text.is_empty() {
        String::new()
    } else {
        format!(" · filter: {}", sanitize(&table.filter_text))
    };
    let marks = if table.marks.is_empty() {
        String::new()
    } else {
        format!(" · {} marked", table.marks.len())
    };
    let sort = format!(
        " · by {}{}",
        table.sort.label(),
        if table.descending { " ↓" } else { "" }
    );
    let title = format!(
        " Artists {} of {}{filter}{marks}{sort} ",
        thousands(table.view.len() as i64),
        thousands(table.artists.len() as i64)
    );
    let block = Block::bordered()
        .title(Span::styled(title, theme.title))
        .border_style(if focused { theme.base } else { theme.border });
    let inner_height = area.height.saturating_sub(3) as usize;
    let offset = if table.selected >= inner_height {
        table.selected + 1 - inner_height
    } else {
        0
    };
    let mut widths = vec![
        Constraint::Length(2),
        Constraint::Min(16),
        Constraint::Length(8),
        Constraint::Length(13),
        Constraint::Length(13),
        Constraint::Length(13),
        Constraint::Length(9),
    ];
    let mut header = vec![
        "",
        "NAME",
        "OVERALL",
        "TICKETMASTER",
        "SPOTIFY",
        "SETLIST.FM",
        "LAST SYNC",
    ];
    if medium {
        widths.extend([Constraint::Length(6), Constraint::Length(6)]);
        header.extend(["SHOWS", "SONGS"]);
    }
    if wide {
        widths.push(Constraint::Min(20));
        header.push("LAST ERROR");
    }
    // The columns as the table will lay them out, so that a name or an error too long for its
    // column ends in `…` instead of being cut silently.
    let columns = super::column_widths(block.inner(area), widths.clone());
    let fit =
        |text: String, column: usize| truncate(&text, columns.get(column).copied().unwrap_or(0));
    // Only the visible slice is built: work grows with the screen, not the table.
    let rows: Vec<Row> = table
        .view
        .iter()
        .enumerate()
        .skip(offset)
        .take(inner_height)
        .map(|(pos, i)| {
            let a = &table.artists[*i];
            let marked = table.marks.contains(&a.id);
            let sel = pos == table.selected;
            let indicator = match (sel, marked) {
                (true, true) => "▸●",
                (true, false) => "▸ ",
                (false, true) => " ●",
                (false, false) => "  ",
            };
            let overall = a.overall();
            let mut cells = vec![
                Cell::from(indicator).style(if marked { theme.marked } else { theme.base }),
                Cell::from(fit(sanitize(&a.name), 1)),
                Cell::from(overall.as_str()).style(theme.overall(overall)),
            ];
            for source in [Source::Ticketmaster, Source::Spotify, Source::Setlistfm] {
                let status = a.sync_status.get(source);
                cells.push(
                    Cell::from(part_cell(live.get(&a.id), source, status))
                        .style(theme.part(status)),
                );
            }
            cells.push(Cell::from(
                a.last_sync
                    .map(|t| relative(t, now))
                    .unwrap_or_else(|| "never".into()),
            ));
            if medium {
                cells.push(Cell::from(
                    Line::from(thousands(a.upcoming_shows_count)).right_aligned(),
                ));
                cells.push(Cell::from(
                    Line::from(thousands(a.songs_count)).right_aligned(),
                ));
            }
            if wide {
                let err = a
                    .last_sync_error
                    .as_deref()
                    .map(sanitize)
                    .unwrap_or_default();
                // Not the status style: in mono that is reverse video, a bar on every row.
                cells.push(Cell::from(fit(err, 9)).style(theme.error_text));
            }
            let row = Row::new(cells);
            if sel { row.style(theme.selected) } else { row }
        })
        .collect();
    let widget = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title))
        .block(block)
        .column_spacing(1);
    frame.render_widget(widget, area);
    if table.view.is_empty() {
        let msg = if table.artists.is_empty() {
            "no artists yet: add one with a, or run `syncdeck seed --demo`"
        } else {
            "no artist matches the filter; esc clears it"
        };
        let inner = Rect {
            x: area.x + 2,
            y: area.y + 2,
            width: area.width.saturating_sub(4),
            height: 1,
        };
        frame.render_widget(Paragraph::new(msg).style(theme.dim), inner);
    }
    inner_height.min(usize::from(u16::MAX)) as u16
}
