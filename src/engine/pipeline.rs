//! The per-artist pipeline (design.md): resolve ids, then the three sources fetched at the same
//! time, then each source's rows and status written in one transaction of its own, in order
//! (shows before setlists, which link to them). One source failing never stops the others.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::events::{EngineEvent, EventBus, PartProgress, RunCounts};
use crate::providers::error::ProviderError;
use crate::providers::setlistfm::SetlistFmClient;
use crate::providers::setlistfm::types::Setlist;
use crate::providers::spotify::SpotifyClient;
use crate::providers::spotify::types::Artist as SpotifyArtist;
use crate::providers::ticketmaster::TicketmasterClient;
use crate::providers::ticketmaster::mapping::AttractionInfo;
use crate::providers::ticketmaster::types::Event;
use crate::providers::{setlistfm, spotify, ticketmaster};
use crate::store::artist_sync::{self, SyncTarget};
use crate::store::sync_status::{PartStatus, Source};
use crate::store::upsert::{self, ShowRow, SongRow, VenueRow};
use crate::store::{DbFault, Store, StoreError, upsert_batch};

/// The three clients; a source without credentials holds the message that says so.
#[derive(Clone)]
pub struct Clients {
    pub ticketmaster: Result<Arc<TicketmasterClient>, String>,
    pub spotify: Result<Arc<SpotifyClient>, String>,
    pub setlistfm: Result<Arc<SetlistFmClient>, String>,
}

/// How far back and ahead a sync looks.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Ticketmaster events from now to now + this.
    pub events_horizon: chrono::Duration,
    /// setlist.fm setlists from today - this on.
    pub setlists_horizon: chrono::Duration,
    /// At most this many setlist.fm pages (20 setlists each) per artist: the day has 1,440 calls.
    pub setlist_max_pages: u32,
    /// Ask only for what earlier syncs did not store (Spotify albums' tracks, older setlists).
    /// Off: everything is fetched again (`sync --full`).
    pub incremental: bool,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            events_horizon: chrono::Duration::days(3 * 365),
            setlists_horizon: chrono::Duration::days(5 * 365),
            setlist_max_pages: 3,
            incremental: true,
        }
    }
}

/// An artist without events has its Ticketmaster id confirmed at most this often.
const TM_ID_RECHECK: chrono::Duration = chrono::Duration::days(7);

/// The Ticketmaster part's error for an attraction id Ticketmaster no longer knows.
fn stale_tm_id(tm_id: &str) -> String {
    format!(
        "Ticketmaster id {tm_id} is gone at Ticketmaster (HTTP 404 for the attraction, no events); \
         relink the artist: `syncdeck artist relink ARTIST --tm-id NEW_ID` \
         (`syncdeck artist add NAME` lists the candidates and their ids)"
    )
}

/// Why one source's part failed: the source, the step, the HTTP status, and whether another
/// attempt could help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartError {
    pub source: Source,
    pub step: &'static str,
    pub http_status: Option<u16>,
    pub message: String,
    pub retryable: bool,
    /// The database as a whole failed (full disk, I/O error, lost connection), not this part.
    pub fault: Option<DbFault>,
    /// The provider's daily quota is spent until then: the part waits for it, it has not failed.
    pub quota_reset: Option<DateTime<Utc>>,
}

impl PartError {
    fn provider(source: Source, step: &'static str, e: &ProviderError) -> PartError {
        let text = e.to_string();
        // The error's text starts with the provider's name; the summary names the source itself.
        let detail = text
            .split_once(": ")
            .map(|(_, rest)| rest.to_string())
            .unwrap_or(text);
        PartError {
            source,
            step,
            http_status: e.http_status(),
            message: detail,
            // A corrupt or cut-off body is most often a glitch on the way: worth another try.
            retryable: e.is_retryable() || matches!(e, ProviderError::BadResponse { .. }),
            fault: None,
            // Without a reset time (TM's 429 carries no headers) an hour, then a look again.
            quota_reset: match e {
                ProviderError::QuotaExhausted { resets_at, .. } => {
                    Some(resets_at.unwrap_or_else(|| Utc::now() + chrono::Duration::hours(1)))
                }
                _ => None,
            },
        }
    }

    fn store(source: Source, step: &'static str, e: &StoreError) -> PartError {
        PartError {
            source,
            step,
            http_status: None,
            message: format!("database: {e}"),
            // A locked or unreachable database is worth another attempt; a schema problem is
            // not, but the retry budget bounds the cost of guessing wrong.
            retryable: true,
            fault: e.fault(),
            quota_reset: None,
        }
    }

    fn fatal(source: Source, step: &'static str, message: impl Into<String>) -> PartError {
        PartError {
            source,
            step,
            http_status: None,
            message: message.into(),
            retryable: false,
            fault: None,
            quota_reset: None,
        }
    }

    /// `spotify: albums step: HTTP 403: …`, as `last_sync_error` and the run history show it.
    pub fn summary(&self) -> String {
        let status = self
            .http_status
            .filter(|s| *s > 0 && !self.message.contains(&format!("HTTP {s}")))
            .map(|s| format!("HTTP {s}: "))
            .unwrap_or_default();
        let text = format!(
            "{}: {} step: {status}{}",
            self.source.label(),
            self.step,
            self.message
        );
        crate::text::truncate(&crate::text::sanitize(&text), 400)
    }
}

/// How one source's part ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PartOutcome {
    Succeeded(RunCounts),
    Failed(PartError),
    /// Done by an earlier attempt of the same run.
    AlreadyDone,
    /// Not tried to the end: the provider's daily quota is spent until the reset.
    Waiting(PartError),
}

/// The three parts' outcomes.
#[derive(Debug, Clone)]
pub struct PipelineOutcome {
    pub parts: Vec<(Source, PartOutcome)>,
}

impl PipelineOutcome {
    pub fn errors(&self) -> Vec<&PartError> {
        self.parts
            .iter()
            .filter_map(|(_, o)| match o {
                PartOutcome::Failed(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    pub fn counts(&self) -> RunCounts {
        let mut total = RunCounts::default();
        for (_, o) in &self.parts {
            if let PartOutcome::Succeeded(c) = o {
                total.add(c);
            }
        }
        total
    }

    /// When the run can go on if a part waits for a quota reset (the latest reset of the
    /// waiting parts), and why.
    pub fn waiting(&self) -> Option<(DateTime<Utc>, String)> {
        let waits: Vec<&PartError> = self
            .parts
            .iter()
            .filter_map(|(_, o)| match o {
                PartOutcome::Waiting(e) => Some(e),
                _ => None,
            })
            .collect();
        let until = waits.iter().filter_map(|e| e.quota_reset).max()?;
        let reason = waits
            .iter()
            .map(|e| {
                format!(
                    "{}'s daily quota is spent until {}",
                    e.source.name(),
                    e.quota_reset
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        Some((until, reason))
    }

    pub fn succeeded_sources(&self) -> Vec<Source> {
        self.parts
            .iter()
            .filter(|(_, o)| matches!(o, PartOutcome::Succeeded(_) | PartOutcome::AlreadyDone))
            .map(|(s, _)| *s)
            .collect()
    }
}

/// One run of the pipeline for one artist.
pub struct RunScope<'a> {
    pub store: &'a Store,
    pub clients: &'a Clients,
    pub settings: &'a PipelineSettings,
    pub bus: &'a EventBus,
    pub run_id: &'a str,
    pub artist: &'a SyncTarget,
}

const ALL_SOURCES: [Source; 3] = [Source::Ticketmaster, Source::Spotify, Source::Setlistfm];

impl RunScope<'_> {
    fn step(&self, source: Source, step: &str) {
        tracing::debug!(source = source.key(), "{}: {step}", self.artist.name);
        self.bus.send(EngineEvent::Step {
            run_id: self.run_id.to_string(),
            artist_id: self.artist.id.clone(),
            source,
            step: step.to_string(),
        });
    }

    fn progress(&self, source: Source, progress: PartProgress) {
        self.bus.send(EngineEvent::Progress {
            run_id: self.run_id.to_string(),
            artist_id: self.artist.id.clone(),
            source,
            progress,
        });
    }

    /// Runs the parts not in `done`. Errors of the database while recording a part's status
    /// are returned as `Err`: the caller re-queues the run rather than guess the state.
    pub async fn run(&self, done: &HashSet<Source>) -> Result<PipelineOutcome, StoreError> {
        let todo: Vec<Source> = ALL_SOURCES
            .into_iter()
            .filter(|s| !done.contains(s))
            .collect();
        for source in &todo {
            self.store
                .set_part_status(&self.artist.id, *source, PartStatus::Syncing)
                .await?;
        }
        let wants = |s: Source| todo.contains(&s);
        let links = if wants(Source::Spotify) || wants(Source::Setlistfm) {
            self.attraction_links().await
        } else {
            None
        };
        let (tm, sp, sf) = tokio::join!(
            async {
                match wants(Source::Ticketmaster) {
                    true => Some(self.fetch_ticketmaster().await),
                    false => None,
                }
            },
            async {
                match wants(Source::Spotify) {
                    true => Some(self.fetch_spotify(links.as_ref()).await),
                    false => None,
                }
            },
            async {
                match wants(Source::Setlistfm) {
                    true => Some(self.fetch_setlistfm(links.as_ref()).await),
                    false => None,
                }
            },
        );
        let mut parts = Vec::new();
        // Writes in order: setlists link to the shows and songs written just before.
        parts.push((
            Source::Ticketmaster,
            match tm {
                None => PartOutcome::AlreadyDone,
                Some(Ok(f)) => {
                    self.finish(Source::Ticketmaster, self.write_ticketmaster(f).await)?
                }
                Some(Err(e)) => self.finish(Source::Ticketmaster, Err(e))?,
            },
        ));
        parts.push((
            Source::Spotify,
            match sp {
                None => PartOutcome::AlreadyDone,
                Some(Ok(f)) => self.finish(Source::Spotify, self.write_spotify(f).await)?,
                Some(Err(e)) => self.finish(Source::Spotify, Err(e))?,
            },
        ));
        parts.push((
            Source::Setlistfm,
            match sf {
                None => PartOutcome::AlreadyDone,
                Some(Ok(f)) => self.finish(Source::Setlistfm, self.write_setlistfm(f).await)?,
                Some(Err(e)) => self.finish(Source::Setlistfm, Err(e))?,
            },
        ));
        for (source, outcome) in &parts {
            if let PartOutcome::Waiting(_) = outcome {
                // Back to what it was: `syncing` would say work is going on.
                self.store
                    .set_part_status(
                        &self.artist.id,
                        *source,
                        self.artist.sync_status.get(*source),
                    )
                    .await?;
            }
            if let PartOutcome::Failed(e) = outcome {
                // The part's rows were rolled back; only its status and the error are written.
                self.store
                    .set_part_result(
                        &self.artist.id,
                        *source,
                        PartStatus::Error,
                        Some(&e.summary()),
                    )
                    .await?;
            }
        }
        Ok(PipelineOutcome { parts })
    }

    fn finish(
        &self,
        source: Source,
        result: Result<RunCounts, PartError>,
    ) -> Result<PartOutcome, StoreError> {
        let (status, error, outcome) = match result {
            Ok(counts) => (PartStatus::Success, None, PartOutcome::Succeeded(counts)),
            // A spent quota is not the part's failure: it keeps the status it had and the run
            // waits for the reset.
            Err(e) if e.quota_reset.is_some() => {
                tracing::info!(
                    source = source.key(),
                    "{}: waits for the quota reset: {}",
                    self.artist.name,
                    e.summary()
                );
                (
                    self.artist.sync_status.get(source),
                    Some(format!("waiting: {}", e.summary())),
                    PartOutcome::Waiting(e),
                )
            }
            Err(e) => {
                tracing::warn!(
                    source = source.key(),
                    "{}: {}",
                    self.artist.name,
                    e.summary()
                );
                (PartStatus::Error, Some(e.summary()), PartOutcome::Failed(e))
            }
        };
        self.bus.send(EngineEvent::PartFinished {
            run_id: self.run_id.to_string(),
            artist_id: self.artist.id.clone(),
            source,
            status,
            error,
        });
        Ok(outcome)
    }

    /// The attraction's links to Spotify and MusicBrainz, when the row lacks an id. A failure
    /// here only means the name searches below are used instead.
    async fn attraction_links(&self) -> Option<AttractionInfo> {
        let a = self.artist;
        if a.spotify_id.is_some() && a.setlist_fm_mbid.is_some() {
            return None;
        }
        // Both parts succeeded before: the links were consulted then and what they held is
        // stored (an id still missing was not there). `sync --full` looks again.
        let settled = |s: Source| a.sync_status.get(s) == PartStatus::Success;
        if self.settings.incremental && settled(Source::Spotify) && settled(Source::Setlistfm) {
            return None;
        }
        let (Ok(tm), Some(tm_id)) = (&self.clients.ticketmaster, &a.ticketmaster_id) else {
            return None;
        };
        self.step(Source::Ticketmaster, "attraction links");
        match tm.attraction(tm_id).await {
            Ok(attraction) => match ticketmaster::mapping::attraction_info(&attraction) {
                Ok(info) => Some(info),
                Err(e) => {
                    tracing::warn!("{}: Ticketmaster attraction unreadable: {e}", a.name);
                    None
                }
            },
            Err(e) => {
                tracing::warn!("{}: Ticketmaster attraction lookup failed: {e}", a.name);
                None
            }
        }
    }

    async fn fetch_ticketmaster(&self) -> Result<TmFetched, PartError> {
        const S: Source = Source::Ticketmaster;
        let tm = self
            .clients
            .ticketmaster
            .as_ref()
            .map_err(|m| PartError::fatal(S, "configuration", m.clone()))?;
        let Some(tm_id) = &self.artist.ticketmaster_id else {
            return Err(PartError::fatal(
                S,
                "resolve",
                "the artist has no ticketmaster_id; set it (syncdeck artist add finds it)",
            ));
        };
        self.step(S, "events");
        let fetched = tm
            .attraction_events(tm_id, Utc::now(), self.settings.events_horizon, |p| {
                self.progress(
                    S,
                    PartProgress {
                        done: p.pages_done,
                        total: p.pages_estimated,
                        items: p.events_so_far,
                    },
                )
            })
            .await
            .map_err(|e| PartError::provider(S, "events", &e))?;
        let mut requests = fetched.requests;
        if fetched.events.is_empty() && !self.tm_id_recently_confirmed(tm_id).await {
            // No events at all may mean the id itself is gone (Ticketmaster merges and retires
            // attractions): one lookup tells, so a stale link does not pass for "no shows".
            self.step(S, "attraction");
            requests += 1;
            match tm.attraction(tm_id).await {
                Ok(_) => {
                    if let Err(e) = self.store.record_tm_id_check(&self.artist.id, tm_id).await {
                        tracing::warn!("{}: {e}", self.artist.name);
                    }
                }
                Err(ProviderError::NotFound { .. }) => {
                    return Err(PartError::fatal(S, "attraction", stale_tm_id(tm_id)));
                }
                Err(e) => return Err(PartError::provider(S, "attraction", &e)),
            }
        }
        for s in &fetched.skipped {
            tracing::warn!(source = S.key(), "{}: skipped {s}", self.artist.name);
        }
        Ok(TmFetched {
            events: fetched.events,
            skipped: fetched.skipped.len() as u64,
            requests,
        })
    }

    /// Whether Ticketmaster confirmed the id within [`TM_ID_RECHECK`] (incremental syncs only;
    /// a failed read means "no", which costs one lookup).
    async fn tm_id_recently_confirmed(&self, tm_id: &str) -> bool {
        let since = Utc::now() - TM_ID_RECHECK;
        self.settings.incremental
            && self
                .store
                .tm_id_checked_since(&self.artist.id, tm_id, since)
                .await
                .unwrap_or(false)
    }

    async fn write_ticketmaster(&self, f: TmFetched) -> Result<RunCounts, PartError> {
        const S: Source = Source::Ticketmaster;
        let today = Utc::now().date_naive();
        let mut counts = RunCounts {
            skipped: f.skipped,
            requests: f.requests,
            ..Default::default()
        };
        let mut venues: Vec<VenueRow> = Vec::new();
        let mut shows: Vec<ShowRow> = Vec::new();
        for e in &f.events {
            if let Some(v) =
                ticketmaster::mapping::event_venue(e).and_then(ticketmaster::mapping::venue_row)
            {
                venues.push(v);
            }
            match ticketmaster::mapping::show_row(e, today) {
                Ok(row) => shows.push(row),
                Err(err) => {
                    counts.skipped += 1;
                    tracing::warn!(
                        source = S.key(),
                        "{}: skipped an event: {err}",
                        self.artist.name
                    );
                }
            }
        }
        self.step(S, "writing venues and shows");
        let store_err = |step: &'static str| move |e: StoreError| PartError::store(S, step, &e);
        let mut tx = self.store.begin().await.map_err(store_err("write"))?;
        let venue_ids = upsert_batch::upsert_venues_batch(&mut tx, &venues)
            .await
            .map_err(store_err("venues"))?;
        let attraction_ids: Vec<String> = shows
            .iter()
            .flat_map(|s| s.attraction_ticketmaster_ids.iter().cloned())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let owners = upsert::artist_ids_by_ticketmaster_id(&mut tx, &attraction_ids)
            .await
            .map_err(store_err("shows"))?;
        let owned: Vec<(ShowRow, String)> = shows
            .into_iter()
            .map(|s| {
                let owner =
                    upsert::show_owner(&s.attraction_ticketmaster_ids, &owners, &self.artist.id);
                (s, owner)
            })
            .collect();
        let show_ids = upsert_batch::upsert_shows_batch(&mut tx, &owned)
            .await
            .map_err(store_err("shows"))?;
        artist_sync::set_upcoming_shows_count(&mut tx, &self.artist.id, f.events.len() as i64)
            .await
            .map_err(store_err("shows"))?;
        crate::store::artists::set_part_status_tx(&mut tx, &self.artist.id, S, PartStatus::Success)
            .await
            .map_err(store_err("status"))?;
        tx.commit().await.map_err(store_err("commit"))?;
        counts.venues = venue_ids.len() as u64;
        counts.shows = show_ids.len() as u64;
        Ok(counts)
    }

    async fn fetch_spotify(&self, links: Option<&AttractionInfo>) -> Result<SpFetched, PartError> {
        const S: Source = Source::Spotify;
        let sp = self
            .clients
            .spotify
            .as_ref()
            .map_err(|m| PartError::fatal(S, "configuration", m.clone()))?;
        let a = self.artist;
        self.step(S, "resolve");
        let (artist, discovered): (Option<SpotifyArtist>, bool) = match a
            .spotify_id
            .clone()
            .or_else(|| links.and_then(|l| l.spotify_id.clone()))
        {
            Some(id) => match sp.artist(&id).await {
                Ok(artist) => (Some(artist), a.spotify_id.is_none()),
                Err(ProviderError::NotFound { .. }) => {
                    return Err(PartError::fatal(
                        S,
                        "artist",
                        format!("Spotify has no artist {id} (HTTP 404); fix spotify_id"),
                    ));
                }
                Err(e) => return Err(PartError::provider(S, "artist", &e)),
            },
            None => match sp.find_artist_by_name(&a.name).await {
                Ok(Ok(found)) => (found, true),
                Ok(Err(ambiguous)) => {
                    return Err(PartError::fatal(S, "resolve", ambiguous.to_string()));
                }
                Err(e) => return Err(PartError::provider(S, "search", &e)),
            },
        };
        let Some(artist) = artist else {
            // Nothing on Spotify under this name: nothing to sync, and that is not a failure.
            tracing::info!(
                source = S.key(),
                "{}: no Spotify artist of that name; no songs to sync",
                a.name
            );
            return Ok(SpFetched::default());
        };
        let fields = spotify::mapping::artist_fields(&artist)
            .map_err(|e| PartError::fatal(S, "artist", e.to_string()))?;
        self.step(S, "albums");
        let known = if self.settings.incremental && !discovered {
            self.store
                .known_spotify_albums(&a.id)
                .await
                .map_err(|e| PartError::store(S, "albums", &e))?
        } else {
            HashSet::new()
        };
        let songs = sp
            .artist_songs(&fields.spotify_id, &known, |p| {
                self.progress(
                    S,
                    PartProgress {
                        done: p.albums_done,
                        total: p.albums_total,
                        items: p.tracks_so_far,
                    },
                )
            })
            .await
            .map_err(|e| PartError::provider(S, "albums", &e))?;
        let (rows, bad) = spotify::mapping::song_rows(&songs.tracks);
        for e in &bad {
            tracing::warn!(source = S.key(), "{}: skipped a track: {e}", a.name);
        }
        for s in &songs.skipped {
            tracing::warn!(source = S.key(), "{}: skipped {s}", a.name);
        }
        Ok(SpFetched {
            spotify_id_to_record: discovered.then(|| fields.spotify_id.clone()),
            fields: Some(fields),
            songs: rows,
            skipped: (bad.len() + songs.skipped.len()) as u64,
            requests: songs.requests + 1,
            albums: songs.fetched_albums,
        })
    }

    async fn write_spotify(&self, f: SpFetched) -> Result<RunCounts, PartError> {
        const S: Source = Source::Spotify;
        let store_err = |step: &'static str| move |e: StoreError| PartError::store(S, step, &e);
        self.step(S, "writing songs");
        let mut tx = self.store.begin().await.map_err(store_err("write"))?;
        if let Some(id) = &f.spotify_id_to_record {
            artist_sync::fill_artist_ids(&mut tx, &self.artist.id, Some(id), None)
                .await
                .map_err(store_err("artist"))?;
        }
        if let Some(fields) = &f.fields {
            artist_sync::apply_spotify_details(
                &mut tx,
                &self.artist.id,
                fields.image_url.as_deref(),
                fields.spotify_url.as_deref(),
                &fields.genres,
                fields.followers,
                fields.popularity,
            )
            .await
            .map_err(store_err("artist"))?;
        }
        let written = upsert::upsert_songs_batch(&mut tx, &self.artist.id, &f.songs)
            .await
            .map_err(store_err("songs"))?;
        crate::store::incremental::record_spotify_albums(&mut tx, &self.artist.id, &f.albums)
            .await
            .map_err(store_err("songs"))?;
        crate::store::artists::set_part_status_tx(&mut tx, &self.artist.id, S, PartStatus::Success)
            .await
            .map_err(store_err("status"))?;
        tx.commit().await.map_err(store_err("commit"))?;
        Ok(RunCounts {
            songs: written as u64,
            skipped: f.skipped,
            requests: f.requests,
            ..Default::default()
        })
    }

    async fn fetch_setlistfm(
        &self,
        links: Option<&AttractionInfo>,
    ) -> Result<SfFetched, PartError> {
        const S: Source = Source::Setlistfm;
        let sf = self
            .clients
            .setlistfm
            .as_ref()
            .map_err(|m| PartError::fatal(S, "configuration", m.clone()))?;
        let a = self.artist;
        self.step(S, "resolve");
        let (mbid, discovered) = match a
            .setlist_fm_mbid
            .clone()
            .or_else(|| links.and_then(|l| l.musicbrainz_id.clone()))
        {
            Some(id) => (Some(id), a.setlist_fm_mbid.is_none()),
            // The part succeeded before without an id: the name search found no such artist
            // then (an ambiguous one is an error), and a search per re-sync would spend the
            // scarcest quota on the same answer. `sync --full` searches again.
            None if self.settings.incremental && a.sync_status.get(S) == PartStatus::Success => {
                (None, false)
            }
            None => match sf.find_artist_by_name(&a.name).await {
                Ok(Ok(found)) => (found.and_then(|f| f.mbid), true),
                Ok(Err(ambiguous)) => {
                    return Err(PartError::fatal(S, "resolve", ambiguous.to_string()));
                }
                Err(e) => return Err(PartError::provider(S, "search", &e)),
            },
        };
        let Some(mbid) = mbid else {
            tracing::info!(
                source = S.key(),
                "{}: no setlist.fm artist of that name; no setlists to sync",
                a.name
            );
            return Ok(SfFetched::default());
        };
        self.step(S, "setlists");
        let horizon: NaiveDate = (Utc::now() - self.settings.setlists_horizon).date_naive();
        let known = if self.settings.incremental {
            self.store
                .known_setlists(&a.id)
                .await
                .map_err(|e| PartError::store(S, "setlists", &e))?
        } else {
            HashSet::new()
        };
        let got = sf
            .artist_setlists(&mbid, horizon, self.settings.setlist_max_pages, &known)
            .await
            .map_err(|e| PartError::provider(S, "setlists", &e))?;
        self.progress(
            S,
            PartProgress {
                done: got.requests,
                total: got.requests,
                items: got.setlists.len() as u64,
            },
        );
        for s in &got.skipped {
            tracing::warn!(source = S.key(), "{}: skipped {s}", a.name);
        }
        Ok(SfFetched {
            mbid_to_record: discovered.then(|| mbid.clone()),
            setlists: got.setlists,
            skipped: got.skipped.len() as u64,
            requests: got.requests,
        })
    }

    async fn write_setlistfm(&self, f: SfFetched) -> Result<RunCounts, PartError> {
        const S: Source = Source::Setlistfm;
        let store_err = |step: &'static str| move |e: StoreError| PartError::store(S, step, &e);
        let mut counts = RunCounts {
            skipped: f.skipped,
            requests: f.requests,
            ..Default::default()
        };
        self.step(S, "writing setlists");
        let mut tx = self.store.begin().await.map_err(store_err("write"))?;
        if let Some(mbid) = &f.mbid_to_record {
            artist_sync::fill_artist_ids(&mut tx, &self.artist.id, None, Some(mbid))
                .await
                .map_err(store_err("artist"))?;
        }
        let shows = artist_sync::shows_on_dates(&mut tx, &self.artist.id)
            .await
            .map_err(store_err("link"))?;
        let candidates: Vec<((String, Option<String>), NaiveDate)> = shows
            .into_iter()
            .map(|s| ((s.show_id, s.venue_id), s.date))
            .collect();
        let songs = artist_sync::song_ids_by_name(&mut tx, &self.artist.id)
            .await
            .map_err(store_err("link"))?;
        for raw in &f.setlists {
            let (mut row, song_rows) = match setlistfm::mapping::setlist_rows(raw) {
                Ok(r) => r,
                Err(e) => {
                    counts.skipped += 1;
                    tracing::warn!(
                        source = S.key(),
                        "{}: skipped a setlist: {e}",
                        self.artist.name
                    );
                    continue;
                }
            };
            if let Some(date) = row.date
                && let Some((show_id, venue_id)) =
                    setlistfm::mapping::link_setlist_to_show(date, &candidates)
            {
                row.show_id = Some(show_id);
                row.venue_id = venue_id;
            }
            let setlist_id = upsert::upsert_setlist(&mut tx, &self.artist.id, &row)
                .await
                .map_err(store_err("setlists"))?;
            for mut s in song_rows.iter().cloned() {
                s.song_id = songs.get(&s.name.to_lowercase()).cloned();
                upsert::upsert_setlist_song(&mut tx, &setlist_id, &self.artist.id, &s)
                    .await
                    .map_err(store_err("setlist songs"))?;
            }
            upsert::trim_setlist_songs(&mut tx, &setlist_id, song_rows.len() as i64)
                .await
                .map_err(store_err("setlist songs"))?;
            counts.setlists += 1;
            counts.setlist_songs += song_rows.len() as u64;
        }
        crate::store::artists::set_part_status_tx(&mut tx, &self.artist.id, S, PartStatus::Success)
            .await
            .map_err(store_err("status"))?;
        tx.commit().await.map_err(store_err("commit"))?;
        Ok(counts)
    }
}

struct TmFetched {
    events: Vec<Event>,
    skipped: u64,
    requests: u64,
}

#[derive(Default)]
struct SpFetched {
    spotify_id_to_record: Option<String>,
    fields: Option<spotify::mapping::ArtistSpotifyFields>,
    songs: Vec<SongRow>,
    /// Albums whose tracks were fetched, to record as stored with the songs.
    albums: Vec<(String, u64)>,
    skipped: u64,
    requests: u64,
}

#[derive(Default)]
struct SfFetched {
    mbid_to_record: Option<String>,
    setlists: Vec<Setlist>,
    skipped: u64,
    requests: u64,
}

/// Sources whose part is recorded as done in a run's progress JSON (`{"done": ["spotify"]}`).
pub fn done_sources(progress: Option<&serde_json::Value>) -> HashSet<Source> {
    progress
        .and_then(|p| p.get("done"))
        .and_then(|d| d.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().and_then(Source::parse))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_source_step_and_status_once() {
        let e = PartError {
            source: Source::Spotify,
            step: "albums",
            http_status: Some(403),
            message: "request refused (HTTP 403): Forbidden".into(),
            retryable: false,
            fault: None,
            quota_reset: None,
        };
        assert_eq!(
            e.summary(),
            "spotify: albums step: request refused (HTTP 403): Forbidden"
        );
        let e = PartError {
            http_status: Some(502),
            message: "temporary failure: bad gateway".into(),
            ..e
        };
        assert_eq!(
            e.summary(),
            "spotify: albums step: HTTP 502: temporary failure: bad gateway"
        );
    }

    #[test]
    fn provider_errors_lose_their_own_prefix() {
        let e = ProviderError::Transient {
            provider: crate::providers::error::Provider::Ticketmaster,
            status: Some(503),
            message: "no healthy upstream".into(),
        };
        let p = PartError::provider(Source::Ticketmaster, "events", &e);
        assert!(p.retryable);
        assert_eq!(
            p.summary(),
            "ticketmaster: events step: temporary failure (HTTP 503): no healthy upstream"
        );
    }

    #[test]
    fn done_sources_reads_the_progress_json() {
        let p = serde_json::json!({"done": ["spotify", "setlistfm", "nonsense"]});
        let d = done_sources(Some(&p));
        assert_eq!(d.len(), 2);
        assert!(d.contains(&Source::Spotify) && d.contains(&Source::Setlistfm));
        assert!(done_sources(None).is_empty());
    }
}
