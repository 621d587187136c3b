//! Adding an artist from Ticketmaster, shared by `syncdeck artist add` and the console's `a`:
//! search attractions by name ([`search_candidates`]), then import one ([`import_artist`]) by
//! its exact (case-insensitive, unambiguous) name or by its Ticketmaster id.
//!
//! The imported row gets its name and Ticketmaster id from the attraction, its Spotify id and
//! MusicBrainz id from the attraction's external links, else from an exact-name search on
//! Spotify or setlist.fm that accepts only one exact match (never a guess), and every part of
//! `sync_status` `pending`. Whatever could not be resolved is left empty and said in the
//! outcome's notes; the first sync tries again.

use std::collections::HashSet;

use serde::Serialize;

use super::pipeline::Clients;
use crate::providers::error::ProviderError;
use crate::providers::mapping::clean;
use crate::providers::spotify::mapping::normalize_name;
use crate::providers::ticketmaster::TicketmasterClient;
use crate::providers::ticketmaster::mapping::{AttractionInfo, attraction_info};
use crate::providers::ticketmaster::types::Attraction;
use crate::store::artist_import::{InsertArtist, NewArtist};
use crate::store::{Store, StoreError};

/// Attractions asked for in one search: enough that an exact name is not cut off by looser
/// matches ranked before it, few enough for one request.
pub const SEARCH_SIZE: u64 = 50;

/// Which attraction to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// The one search result named exactly this (case, spacing and typographic quotes aside).
    ByName(String),
    /// This Ticketmaster attraction id, whatever its name.
    ByTicketmasterId(String),
}

/// One Ticketmaster attraction, as a candidate to pick from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub ticketmaster_id: String,
    pub name: String,
    /// Classification segment (`Music`, `Sports`, …) of the primary classification.
    pub segment: Option<String>,
    /// Genre and sub-genre names, placeholders (`Undefined`, `Other`) left out.
    pub genres: Vec<String>,
    pub upcoming_events: Option<u64>,
    /// The attraction links a Spotify artist (so the import needs no Spotify search).
    pub has_spotify_link: bool,
    /// The attraction links a MusicBrainz id (so the import needs no setlist.fm search).
    pub has_musicbrainz_link: bool,
    /// The Ticketmaster page.
    pub url: Option<String>,
}

impl Candidate {
    /// `None` for an attraction without an id or a name (it cannot be imported).
    pub fn from_attraction(a: &Attraction) -> Option<Candidate> {
        let info = attraction_info(a).ok()?;
        let primary = a
            .classifications
            .iter()
            .find(|c| c.primary == Some(true))
            .or_else(|| a.classifications.first());
        let segment = primary
            .and_then(|c| c.segment.as_ref())
            .and_then(|s| clean(&s.name))
            .filter(|s| !matches!(s.as_str(), "Undefined" | "Other"));
        Some(Candidate::from_info(info, segment))
    }

    fn from_info(info: AttractionInfo, segment: Option<String>) -> Candidate {
        Candidate {
            has_spotify_link: info.spotify_id.is_some(),
            has_musicbrainz_link: info.musicbrainz_id.is_some(),
            ticketmaster_id: info.ticketmaster_id,
            name: info.name,
            segment,
            genres: info.genres,
            upcoming_events: info.upcoming_events,
            url: info.url,
        }
    }

    /// `Rock, 12 upcoming events, links Spotify and MusicBrainz`: what tells namesakes apart.
    pub fn describe(&self) -> String {
        let kind = self
            .genres
            .first()
            .or(self.segment.as_ref())
            .cloned()
            .unwrap_or_else(|| "no genre".into());
        let events = match self.upcoming_events {
            Some(1) => "1 upcoming event".to_string(),
            Some(n) => format!("{n} upcoming events"),
            None => "upcoming events unknown".to_string(),
        };
        let links = match (self.has_spotify_link, self.has_musicbrainz_link) {
            (true, true) => ", links Spotify and MusicBrainz",
            (true, false) => ", links Spotify",
            (false, true) => ", links MusicBrainz",
            (false, false) => "",
        };
        format!("{kind}, {events}{links}")
    }
}

/// What [`import_artist`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ImportOutcome {
    /// A new artist row, every part `pending`.
    Imported {
        artist_id: String,
        name: String,
        ticketmaster_id: String,
        spotify_id: Option<String>,
        setlist_fm_mbid: Option<String>,
        /// Where each id came from, and why one is empty (a provider not configured, no or
        /// several exact matches, a failed search, a Spotify id another artist holds).
        notes: Vec<String>,
    },
    /// An artist with that Ticketmaster id was already there; nothing changed.
    AlreadyPresent {
        artist_id: String,
        name: String,
        ticketmaster_id: String,
    },
    /// No search result is named exactly like the query; `candidates` are the looser matches.
    NoMatch {
        query: String,
        candidates: Vec<Candidate>,
    },
    /// Several attractions are named exactly like the query; pick one by its id.
    Ambiguous {
        query: String,
        candidates: Vec<Candidate>,
    },
}

impl ImportOutcome {
    /// The artist row's `(id, name)` when there is one (imported or already present).
    pub fn artist(&self) -> Option<(&str, &str)> {
        match self {
            ImportOutcome::Imported {
                artist_id, name, ..
            }
            | ImportOutcome::AlreadyPresent {
                artist_id, name, ..
            } => Some((artist_id, name)),
            ImportOutcome::NoMatch { .. } | ImportOutcome::Ambiguous { .. } => None,
        }
    }
}

/// Why an import could not even decide. Each message says what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "no artist name or Ticketmaster id given; give the artist's name as Ticketmaster lists it"
    )]
    EmptyQuery,
    /// An over-long name or a malformed id (the message says which and what to do).
    #[error("{0}; nothing was added")]
    BadInput(String),
    #[error("adding an artist needs Ticketmaster, which is not configured: {0}; nothing was added")]
    TicketmasterNotConfigured(String),
    #[error(
        "searching Ticketmaster for \"{query}\" failed: {cause}; nothing was added, try again once that is fixed"
    )]
    Search { query: String, cause: ProviderError },
    #[error(
        "Ticketmaster has no attraction with id \"{id}\"; nothing was added; search by name (`syncdeck artist add NAME`) to see the ids"
    )]
    UnknownTicketmasterId { id: String },
    #[error(
        "reading Ticketmaster attraction {id} failed: {cause}; nothing was added, try again once that is fixed"
    )]
    Lookup { id: String, cause: ProviderError },
    #[error(
        "Ticketmaster attraction {id} cannot be imported ({reason}); nothing was added, pick another candidate"
    )]
    BadAttraction { id: String, reason: String },
    #[error("{0}; nothing was added")]
    Store(#[from] StoreError),
}

fn ticketmaster(clients: &Clients) -> Result<&TicketmasterClient, ImportError> {
    clients
        .ticketmaster
        .as_deref()
        .map_err(|e| ImportError::TicketmasterNotConfigured(e.clone()))
}

/// Attractions matching `name` with what each is, de-duplicated by id, in Ticketmaster's order.
pub async fn search_candidates(
    clients: &Clients,
    name: &str,
) -> Result<Vec<Candidate>, ImportError> {
    let query = name.trim();
    if query.is_empty() {
        return Err(ImportError::EmptyQuery);
    }
    crate::text::check_name("the artist name", query).map_err(ImportError::BadInput)?;
    let tm = ticketmaster(clients)?;
    Ok(search(tm, query)
        .await?
        .into_iter()
        .map(|(_, c)| c)
        .collect())
}

async fn search(
    tm: &TicketmasterClient,
    query: &str,
) -> Result<Vec<(Attraction, Candidate)>, ImportError> {
    let found = tm
        .search_attractions(query, SEARCH_SIZE)
        .await
        .map_err(|cause| ImportError::Search {
            query: query.to_string(),
            cause,
        })?;
    let mut seen = HashSet::new();
    Ok(found
        .into_iter()
        .filter_map(|a| Candidate::from_attraction(&a).map(|c| (a, c)))
        .filter(|(_, c)| seen.insert(c.ticketmaster_id.clone()))
        .collect())
}

/// Imports the picked attraction, unless an artist with its Ticketmaster id exists. By name,
/// only a unique exact match is imported; none or several give the candidates back instead.
pub async fn import_artist(
    store: &Store,
    clients: &Clients,
    pick: Pick,
) -> Result<ImportOutcome, ImportError> {
    let attraction = match pick {
        Pick::ByName(name) => {
            let query = name.trim();
            if query.is_empty() {
                return Err(ImportError::EmptyQuery);
            }
            crate::text::check_name("the artist name", query).map_err(ImportError::BadInput)?;
            let found = search(ticketmaster(clients)?, query).await?;
            let wanted = normalize_name(query);
            let (exact, others): (Vec<_>, Vec<_>) = found
                .into_iter()
                .partition(|(_, c)| normalize_name(&c.name) == wanted);
            match <[_; 1]>::try_from(exact) {
                Ok([(a, _)]) => a,
                Err(exact) if exact.is_empty() => {
                    return Ok(ImportOutcome::NoMatch {
                        query: query.to_string(),
                        candidates: others.into_iter().map(|(_, c)| c).collect(),
                    });
                }
                Err(exact) => {
                    return Ok(ImportOutcome::Ambiguous {
                        query: query.to_string(),
                        candidates: exact.into_iter().map(|(_, c)| c).collect(),
                    });
                }
            }
        }
        Pick::ByTicketmasterId(id) => {
            let id = id.trim();
            if id.is_empty() {
                return Err(ImportError::EmptyQuery);
            }
            crate::text::check_id("the Ticketmaster id", id).map_err(ImportError::BadInput)?;
            // Present already: no need to ask Ticketmaster.
            if let Some(existing) = store.artist_by_ticketmaster_id(id).await? {
                return Ok(ImportOutcome::AlreadyPresent {
                    artist_id: existing.id,
                    name: existing.name,
                    ticketmaster_id: existing.ticketmaster_id,
                });
            }
            match ticketmaster(clients)?.attraction(id).await {
                Ok(a) => a,
                Err(ProviderError::NotFound { .. }) => {
                    return Err(ImportError::UnknownTicketmasterId { id: id.to_string() });
                }
                Err(cause) => {
                    return Err(ImportError::Lookup {
                        id: id.to_string(),
                        cause,
                    });
                }
            }
        }
    };
    let info = attraction_info(&attraction).map_err(|e| ImportError::BadAttraction {
        id: attraction.id.clone().unwrap_or_default(),
        reason: e.to_string(),
    })?;
    // Present already: nothing to look up, nothing to write.
    if let Some(existing) = store
        .artist_by_ticketmaster_id(&info.ticketmaster_id)
        .await?
    {
        return Ok(ImportOutcome::AlreadyPresent {
            artist_id: existing.id,
            name: existing.name,
            ticketmaster_id: existing.ticketmaster_id,
        });
    }
    let mut notes = Vec::new();
    let spotify_id = resolve_spotify_id(clients, &info, &mut notes).await;
    let setlist_fm_mbid = resolve_musicbrainz_id(clients, &info, &mut notes).await;
    let new = NewArtist {
        name: info.name.clone(),
        ticketmaster_id: info.ticketmaster_id.clone(),
        spotify_id,
        setlist_fm_mbid: setlist_fm_mbid.clone(),
        url: info.url.clone(),
        image_url: info.image_url.clone(),
        genres: info.genres.clone(),
    };
    match store.insert_new_artist(&new).await? {
        InsertArtist::Inserted {
            artist_id,
            spotify_id,
            spotify_id_held_by,
        } => {
            if let (Some(holder), Some(wanted)) = (spotify_id_held_by, &new.spotify_id) {
                notes.push(format!(
                    "spotify: id {wanted} already belongs to artist \"{}\" ({}); left empty, check which of the two it is",
                    holder.name, holder.id
                ));
            }
            Ok(ImportOutcome::Imported {
                artist_id,
                name: new.name,
                ticketmaster_id: new.ticketmaster_id,
                spotify_id,
                setlist_fm_mbid,
                notes,
            })
        }
        InsertArtist::AlreadyPresent(existing) => Ok(ImportOutcome::AlreadyPresent {
            artist_id: existing.id,
            name: existing.name,
            ticketmaster_id: existing.ticketmaster_id,
        }),
    }
}

/// From the attraction's links, else a Spotify search that accepts one exact match only.
async fn resolve_spotify_id(
    clients: &Clients,
    info: &AttractionInfo,
    notes: &mut Vec<String>,
) -> Option<String> {
    if let Some(id) = &info.spotify_id {
        notes.push("spotify: id from the Ticketmaster attraction's links".into());
        return Some(id.clone());
    }
    let sp = match &clients.spotify {
        Ok(sp) => sp,
        Err(why) => {
            notes.push(format!("spotify: not configured, search skipped ({why})"));
            return None;
        }
    };
    match sp.find_artist_by_name(&info.name).await {
        Ok(Ok(Some(artist))) => match clean(&artist.id) {
            Some(id) => {
                notes.push("spotify: id found by an exact-name search".into());
                Some(id)
            }
            None => {
                notes.push("spotify: the exact-name match has no id; left empty".into());
                None
            }
        },
        Ok(Ok(None)) => {
            notes.push(format!(
                "spotify: no artist named exactly \"{}\"; left empty",
                info.name
            ));
            None
        }
        Ok(Err(ambiguous)) => {
            notes.push(format!(
                "spotify: {} artists are named exactly \"{}\" ({}); left empty, set the right one by hand",
                ambiguous.ids.len(),
                info.name,
                ambiguous.ids.join(", ")
            ));
            None
        }
        Err(e) => {
            notes.push(format!(
                "spotify: the name search failed ({e}); left empty, the first sync searches again"
            ));
            None
        }
    }
}

/// From the attraction's links, else a setlist.fm search that accepts one exact match only.
async fn resolve_musicbrainz_id(
    clients: &Clients,
    info: &AttractionInfo,
    notes: &mut Vec<String>,
) -> Option<String> {
    if let Some(id) = &info.musicbrainz_id {
        notes.push("setlist.fm: MusicBrainz id from the Ticketmaster attraction's links".into());
        return Some(id.clone());
    }
    let sf = match &clients.setlistfm {
        Ok(sf) => sf,
        Err(why) => {
            notes.push(format!(
                "setlist.fm: not configured, search skipped ({why})"
            ));
            return None;
        }
    };
    match sf.find_artist_by_name(&info.name).await {
        Ok(Ok(Some(artist))) => match clean(&artist.mbid) {
            Some(mbid) => {
                notes.push("setlist.fm: MusicBrainz id found by an exact-name search".into());
                Some(mbid)
            }
            None => {
                notes.push(
                    "setlist.fm: the exact-name match has no MusicBrainz id; left empty".into(),
                );
                None
            }
        },
        Ok(Ok(None)) => {
            notes.push(format!(
                "setlist.fm: no artist named exactly \"{}\"; MusicBrainz id left empty",
                info.name
            ));
            None
        }
        Ok(Err(ambiguous)) => {
            notes.push(format!(
                "setlist.fm: {} artists are named exactly \"{}\" ({}); MusicBrainz id left empty, set the right one by hand",
                ambiguous.ids.len(),
                info.name,
                ambiguous.ids.join(", ")
            ));
            None
        }
        Err(e) => {
            notes.push(format!(
                "setlist.fm: the name search failed ({e}); MusicBrainz id left empty, the first sync searches again"
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attraction(v: serde_json::Value) -> Attraction {
        serde_json::from_value(v).expect("attraction json")
    }

    #[test]
    fn candidates_say_what_tells_namesakes_apart() {
        let a = attraction(serde_json::json!({
            "id": "K8vZ917TRAP", "name": "Trap Fixture Band",
            "classifications": [{"primary": true, "segment": {"name": "Music"},
                                 "genre": {"name": "Rock"}, "subGenre": {"name": "Alternative Rock"}}],
            "externalLinks": {"spotify": [{"url": "https://open.spotify.com/artist/0TRAPfixtureArtist0001"}],
                              "musicbrainz": [{"id": "7a4a7a4a-0000-4000-8000-000000000001"}]},
            "upcomingEvents": {"_total": 12}
        }));
        let c = Candidate::from_attraction(&a).expect("candidate");
        assert_eq!(c.segment.as_deref(), Some("Music"));
        assert_eq!(
            c.describe(),
            "Rock, 12 upcoming events, links Spotify and MusicBrainz"
        );
        let bare = attraction(serde_json::json!({
            "id": "K8vZ917TRP2", "name": "Trap Fixture Band",
            "classifications": [{"segment": {"name": "Music"}, "genre": {"name": "Undefined"}}],
            "upcomingEvents": {"_total": 1}
        }));
        let c = Candidate::from_attraction(&bare).expect("candidate");
        assert_eq!(c.describe(), "Music, 1 upcoming event");
        assert!(
            Candidate::from_attraction(&attraction(serde_json::json!({"name": "no id"}))).is_none()
        );
    }

    #[test]
    fn outcomes_serialize_with_a_tag() {
        let v = serde_json::to_value(ImportOutcome::AlreadyPresent {
            artist_id: "a".into(),
            name: "n".into(),
            ticketmaster_id: "t".into(),
        })
        .expect("json");
        assert_eq!(v["outcome"], "already_present");
        assert_eq!(v["ticketmaster_id"], "t");
    }
}
