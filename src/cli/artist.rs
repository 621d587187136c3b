//! `syncdeck artist add NAME [--tm-id ID] [--sync] [--json]`: search Ticketmaster's
//! attractions and import the one named exactly NAME (case aside), or the one `--tm-id` picks.
//! None or several of that name: the candidates with their ids, exit 1. Already present:
//! nothing changes, exit 0. `--sync` then syncs the artist through the engine and waits.
//! The logic lives in `engine::artist_import`, shared with the console.

use std::io::Write;

use clap::{Args, Subcommand};
use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use super::GlobalArgs;
use super::sync::Bounded;
use crate::engine::artist_import::{Candidate, ImportOutcome, Pick, import_artist};
use crate::engine::clients::ClientSettings;
use crate::engine::{Clients, Engine, EngineSettings, RequestKind};
use crate::providers::spotify::mapping::normalize_name;
use crate::store::Store;
use crate::store::artist_import::Relink;
use crate::store::runs::{RunRow, RunStatus};
use crate::store::sync_status::SyncStatus;
use crate::text::{sanitize, truncate};

#[derive(Debug, Subcommand)]
pub enum ArtistCommand {
    /// Add an artist from Ticketmaster: the attraction named exactly NAME, or the one --tm-id picks.
    Add(AddArgs),
    /// Point an artist at another Ticketmaster attraction (its id is gone at Ticketmaster).
    Relink(RelinkArgs),
}

#[derive(Debug, Args)]
pub struct RelinkArgs {
    /// The artist: its id, its current Ticketmaster id or its exact name.
    #[arg(value_name = "ARTIST", value_parser = Bounded::Name)]
    pub artist: String,
    /// The Ticketmaster attraction id it should carry (checked at Ticketmaster first).
    #[arg(long, value_name = "ID", value_parser = Bounded::Id)]
    pub tm_id: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The artist's name as Ticketmaster lists it (matched exactly, case aside; at most 200 characters).
    #[arg(value_name = "NAME", required_unless_present = "tm_id", value_parser = Bounded::Name)]
    pub name: Option<String>,
    /// Import this Ticketmaster attraction id (one of the candidates listed for NAME).
    #[arg(long, value_name = "ID", value_parser = Bounded::Id)]
    pub tm_id: Option<String>,
    /// Then sync the artist now and wait for it; exit 0 only if the sync succeeded.
    #[arg(long)]
    pub sync: bool,
    /// One JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// The `--json` object: the import outcome, plus the sync's when `--sync` ran.
#[derive(Serialize)]
struct JsonResult<'a> {
    #[serde(flatten)]
    outcome: &'a ImportOutcome,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sync: Option<SyncResult>,
}

#[derive(Serialize)]
struct JsonError {
    outcome: &'static str,
    error: String,
}

/// How the `--sync` run ended.
#[derive(Serialize)]
struct SyncResult {
    run_id: String,
    status: RunStatus,
    error: Option<String>,
    attempts: i32,
    counts: serde_json::Value,
    duration_ms: Option<i64>,
    sync_status: Option<SyncStatus>,
}

/// Ids are this wide in the candidate list (Ticketmaster's are 11 to 22 characters).
const ID_W: usize = 22;
const NAME_W: usize = 60;

pub async fn run(global: &GlobalArgs, args: ArtistCommand) -> Result<i32> {
    match args {
        ArtistCommand::Add(args) => add(global, args).await,
        ArtistCommand::Relink(args) => relink(global, args).await,
    }
}

/// `artist relink ARTIST --tm-id ID`: one artist, an attraction that exists at Ticketmaster
/// and that no other artist holds; then the Ticketmaster part is `pending` until the next sync.
async fn relink(global: &GlobalArgs, args: RelinkArgs) -> Result<i32> {
    let (config, store) = super::open_migrated(global, "").await?;
    let new_id = args.tm_id.trim();
    let found = store.find_artists(&args.artist).await?;
    let artist = match found.as_slice() {
        [one] => one.clone(),
        [] => color_eyre::eyre::bail!(
            "no artist is \"{}\" (by id, Ticketmaster id or exact name); `syncdeck status` lists them",
            sanitize(&args.artist)
        ),
        several => color_eyre::eyre::bail!(
            "\"{}\" names {} artists; give one of their ids: {}",
            sanitize(&args.artist),
            several.len(),
            several
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let clients = Clients::from_config(&config, &store, &ClientSettings::default());
    let tm = clients
        .ticketmaster
        .as_deref()
        .map_err(|e| color_eyre::eyre::eyre!("cannot check the id at Ticketmaster: {e}"))?;
    let attraction = match tm.attraction(new_id).await {
        Ok(a) => a,
        Err(crate::providers::error::ProviderError::NotFound { .. }) => color_eyre::eyre::bail!(
            "Ticketmaster has no attraction {new_id} either; find the current one with `syncdeck artist add \"{}\"` (it lists the candidates and their ids)",
            sanitize(&artist.name)
        ),
        Err(e) => {
            return Err(e).wrap_err(format!("cannot check attraction {new_id} at Ticketmaster"));
        }
    };
    let tm_name = attraction.name.clone().unwrap_or_default();
    match store.relink_ticketmaster_id(&artist.id, new_id).await? {
        Relink::Relinked {
            old_ticketmaster_id,
        } => {
            print_text(&format!(
                "relinked \"{}\" from Ticketmaster id {} to {new_id} (\"{}\"); run `syncdeck sync --artist {}` to fetch its events\n",
                truncate(&sanitize(&artist.name), NAME_W),
                old_ticketmaster_id.as_deref().unwrap_or("(none)"),
                truncate(&sanitize(&tm_name), NAME_W),
                artist.id
            ))?;
            store.close().await;
            Ok(0)
        }
        Relink::HeldBy(holder) => color_eyre::eyre::bail!(
            "Ticketmaster id {new_id} already belongs to artist \"{}\" ({}); nothing changed. \
             If both rows are the same artist, remove one in the app first",
            sanitize(&holder.name),
            holder.id
        ),
        Relink::NoSuchArtist => color_eyre::eyre::bail!(
            "artist {} was removed meanwhile; nothing changed",
            artist.id
        ),
    }
}

async fn add(global: &GlobalArgs, args: AddArgs) -> Result<i32> {
    match add_inner(global, &args).await {
        Ok(code) => Ok(code),
        // `--json` promises one object on stdout, failures included.
        Err(report) if args.json => {
            let mut error = report.to_string();
            for cause in report.chain().skip(1) {
                error.push_str(&format!(": {cause}"));
            }
            print_json(&JsonError {
                outcome: "error",
                error,
            })?;
            Ok(1)
        }
        Err(report) => Err(report),
    }
}

async fn add_inner(global: &GlobalArgs, args: &AddArgs) -> Result<i32> {
    let (config, store) = super::open_migrated(global, "").await?;
    let clients = Clients::from_config(&config, &store, &ClientSettings::default());
    let pick = match (&args.tm_id, &args.name) {
        (Some(id), _) => Pick::ByTicketmasterId(id.clone()),
        (None, Some(name)) => Pick::ByName(name.clone()),
        // clap requires one of the two.
        (None, None) => Pick::ByName(String::new()),
    };
    // Each error says what failed and what to do; nothing was written when one is returned.
    let outcome = import_artist(&store, &clients, pick).await?;
    let mut warnings = Vec::new();
    if let (Some(given), Some(id), Some((_, name))) = (&args.name, &args.tm_id, outcome.artist())
        && normalize_name(given) != normalize_name(name)
    {
        warnings.push(format!(
            "Ticketmaster attraction {} is named \"{name}\", not \"{}\"",
            id.trim(),
            given.trim()
        ));
    }
    let code = match &outcome {
        ImportOutcome::Imported { .. } | ImportOutcome::AlreadyPresent { .. } => 0,
        ImportOutcome::NoMatch { .. } | ImportOutcome::Ambiguous { .. } => 1,
    };
    if !args.json {
        for w in &warnings {
            eprintln!("warning: {}", sanitize(w));
        }
        print_text(&render_outcome(&outcome, &store.describe(), args))?;
    }
    let mut sync = None;
    let mut exit = code;
    if let (true, Some((artist_id, name))) = (args.sync, outcome.artist()) {
        if !args.json {
            eprintln!("syncing \"{}\"…", truncate(&sanitize(name), NAME_W));
        }
        let (result, sync_code) = sync_artist(&store, clients, artist_id, name).await?;
        if !args.json {
            print_text(&render_sync(&result))?;
        }
        sync = Some(result);
        exit = sync_code;
    }
    if args.json {
        print_json(&JsonResult {
            outcome: &outcome,
            warnings,
            sync,
        })?;
    }
    store.close().await;
    Ok(exit)
}

/// Queues a manual sync of the artist, waits for it (Ctrl-C stops waiting and puts the run
/// back in the queue), and returns how it ended with the exit code: 0 only on success.
async fn sync_artist(
    store: &Store,
    clients: Clients,
    artist_id: &str,
    name: &str,
) -> Result<(SyncResult, i32)> {
    let engine = Engine::new(store.clone(), clients, EngineSettings::default());
    engine
        .start()
        .await
        .wrap_err("the artist is in the database, but the sync engine could not start")?;
    let waited = async {
        let queued = engine
            .enqueue(
                &[(artist_id.to_string(), name.to_string())],
                RequestKind::Manual,
            )
            .await?;
        let ids: Vec<String> = queued.into_iter().map(|q| q.run_id).collect();
        engine.wait_for(&ids).await
    };
    let outcome = tokio::select! {
        r = waited => Ok(r),
        signal = crate::shutdown::stopped() => Err(signal),
    };
    engine.shutdown().await;
    let runs = match outcome {
        Ok(r) => r.wrap_err(
            "the artist is in the database, but its sync could not be queued or followed; \
             run `syncdeck sync --artist ID` to sync it",
        )?,
        Err(signal) => {
            eprintln!(
                "interrupted by {}: the sync goes back to the queue and runs on the next `syncdeck sync` or worker",
                signal.name()
            );
            return Ok((
                SyncResult {
                    run_id: String::new(),
                    status: RunStatus::Interrupted,
                    error: Some(format!("interrupted by {}", signal.name())),
                    attempts: 0,
                    counts: serde_json::Value::Null,
                    duration_ms: None,
                    sync_status: None,
                },
                signal.exit_code(),
            ));
        }
    };
    let Some(run) = runs.into_iter().next() else {
        color_eyre::eyre::bail!(
            "the sync of the artist ended without a run record; see `syncdeck status` for its parts"
        );
    };
    let sync_status = store
        .artist_detail(artist_id)
        .await
        .wrap_err("cannot read the artist's status after its sync")?
        .map(|d| d.summary.sync_status);
    let code = if run.status == RunStatus::Succeeded {
        0
    } else {
        1
    };
    Ok((sync_result(run, sync_status), code))
}

fn sync_result(run: RunRow, sync_status: Option<SyncStatus>) -> SyncResult {
    let duration_ms = match (run.started_at, run.finished_at) {
        (Some(s), Some(f)) => Some((f - s).num_milliseconds()),
        _ => None,
    };
    SyncResult {
        run_id: run.id,
        status: run.status,
        error: run.error,
        attempts: run.attempts,
        counts: run.counts,
        duration_ms,
        sync_status,
    }
}

/// One line per candidate: `K8vZ917TRAP  Trap Fixture Band (Rock, 12 upcoming events, …)`.
fn candidate_line(c: &Candidate) -> String {
    format!(
        "  {:<ID_W$} {} ({})",
        sanitize(&c.ticketmaster_id),
        truncate(&sanitize(&c.name), NAME_W),
        sanitize(&c.describe())
    )
}

fn render_outcome(outcome: &ImportOutcome, location: &str, args: &AddArgs) -> String {
    let mut out = String::new();
    match outcome {
        ImportOutcome::Imported {
            artist_id,
            name,
            ticketmaster_id,
            spotify_id,
            setlist_fm_mbid,
            notes,
        } => {
            out.push_str(&format!(
                "added \"{}\" (Ticketmaster {}) to {} as artist {}; every part pending\n",
                sanitize(name),
                sanitize(ticketmaster_id),
                sanitize(location),
                artist_id
            ));
            let id = |v: &Option<String>| v.as_deref().map(sanitize).unwrap_or_else(|| "-".into());
            out.push_str(&format!("  spotify id      {}\n", id(spotify_id)));
            out.push_str(&format!("  musicbrainz id  {}\n", id(setlist_fm_mbid)));
            for n in notes {
                out.push_str(&format!("  note: {}\n", sanitize(n)));
            }
            if !args.sync {
                out.push_str(&format!(
                    "sync it with `syncdeck sync --artist {}`\n",
                    sanitize(ticketmaster_id)
                ));
            }
        }
        ImportOutcome::AlreadyPresent {
            artist_id,
            name,
            ticketmaster_id,
        } => {
            out.push_str(&format!(
                "already present: \"{}\" (Ticketmaster {}) is artist {}; nothing changed\n",
                sanitize(name),
                sanitize(ticketmaster_id),
                artist_id
            ));
        }
        ImportOutcome::NoMatch { query, candidates } => {
            let query = sanitize(query);
            if candidates.is_empty() {
                out.push_str(&format!(
                    "no Ticketmaster attraction matches \"{query}\"; check the spelling, or give the attraction's id with --tm-id ID\n"
                ));
            } else {
                out.push_str(&format!(
                    "no Ticketmaster attraction is named exactly \"{query}\"; {} close {}:\n",
                    candidates.len(),
                    if candidates.len() == 1 {
                        "match"
                    } else {
                        "matches"
                    }
                ));
                for c in candidates {
                    out.push_str(&candidate_line(c));
                    out.push('\n');
                }
                out.push_str(&format!(
                    "nothing was added; pick one with `syncdeck artist add \"{query}\" --tm-id ID`, or check the spelling\n"
                ));
            }
        }
        ImportOutcome::Ambiguous { query, candidates } => {
            let query = sanitize(query);
            out.push_str(&format!(
                "{} Ticketmaster attractions are named exactly \"{query}\":\n",
                candidates.len()
            ));
            for c in candidates {
                out.push_str(&candidate_line(c));
                out.push('\n');
            }
            out.push_str(&format!(
                "nothing was added; pick one with `syncdeck artist add \"{query}\" --tm-id ID`\n"
            ));
        }
    }
    out
}

fn render_sync(r: &SyncResult) -> String {
    let secs = r
        .duration_ms
        .map(|ms| format!(" in {:.1} s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let count = |k: &str| r.counts.get(k).and_then(serde_json::Value::as_u64);
    let counts = match (count("shows"), count("songs"), count("setlists")) {
        (Some(shows), Some(songs), Some(setlists)) => {
            format!(": {shows} shows, {songs} songs, {setlists} setlists")
        }
        _ => String::new(),
    };
    let mut out = match r.status {
        RunStatus::Succeeded => format!("sync succeeded{secs}{counts}\n"),
        other => format!(
            "sync {}{secs} after {} {}: {}\n",
            other.as_str(),
            r.attempts,
            if r.attempts == 1 {
                "attempt"
            } else {
                "attempts"
            },
            truncate(
                &sanitize(r.error.as_deref().unwrap_or("no error recorded")),
                300
            )
        ),
    };
    if let Some(s) = &r.sync_status {
        out.push_str(&format!(
            "  ticketmaster {}, spotify {}, setlist.fm {}\n",
            s.ticketmaster.as_str(),
            s.spotify.as_str(),
            s.setlistfm.as_str()
        ));
    }
    if r.status != RunStatus::Succeeded && !r.run_id.is_empty() {
        out.push_str("  see `syncdeck status` for the artist's last error; `syncdeck sync --failed` retries\n");
    }
    out
}

fn print_text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // `… | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).wrap_err("cannot write to stdout"),
    }
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let mut line = serde_json::to_string(value).wrap_err("cannot encode the result")?;
    line.push('\n');
    print_text(&line)
}
