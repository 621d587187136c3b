//! `syncdeck status [--json]`: every artist with its per-source sync status.

use std::io::Write;

use chrono::Utc;
use clap::Args;
use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use super::GlobalArgs;
use crate::store::artists::ArtistSummary;
use crate::store::runs::RunRow;
use crate::store::sync_status::Overall;
use crate::store::time;
use crate::text::{pad, sanitize, truncate};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// An array of artist objects instead of lines.
    #[arg(long)]
    pub json: bool,
    /// Only the artists matching EXPR, in the console's filter language: `status:error`,
    /// `spotify:pending`, `never-synced`, `has-error`, `error:TEXT`, free text on the name
    /// (without case or accents), `!` negates, `|` separates alternatives.
    #[arg(long, value_name = "EXPR", value_parser = parse_filter)]
    pub filter: Option<crate::tui::filter::Query>,
}

fn parse_filter(s: &str) -> Result<crate::tui::filter::Query, String> {
    crate::tui::filter::Query::parse(s)
}

/// One element of the `--json` array: the artist's columns plus its derived overall status,
/// and, while its run waits for a quota reset, until when and why.
#[derive(Serialize)]
struct JsonEntry<'a> {
    #[serde(flatten)]
    artist: &'a ArtistSummary,
    overall: Overall,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiting: Option<Waiting>,
}

#[derive(Serialize)]
struct Waiting {
    until: Option<chrono::DateTime<Utc>>,
    reason: Option<String>,
}

/// The runs waiting for a quota reset, after the table.
fn render_waiting(waiting: &[RunRow]) -> String {
    let mut out = String::new();
    for r in waiting {
        out.push_str(&format!(
            "waiting   {}  until {}: {}\n",
            truncate(&sanitize(&r.artist_name), NAME_W),
            r.wait_until
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default(),
            truncate(
                &sanitize(r.wait_reason.as_deref().unwrap_or("")),
                ERROR_W * 2
            )
        ));
    }
    if !waiting.is_empty() {
        out.push_str(&format!(
            "{} artist{} wait for a daily quota reset; they sync then on their own\n",
            waiting.len(),
            if waiting.len() == 1 { "" } else { "s" }
        ));
    }
    out
}

pub async fn run(global: &GlobalArgs, args: StatusArgs) -> Result<i32> {
    let (_, store) =
        super::open_migrated(global, " (or `syncdeck seed --demo` for demo artists)").await?;
    let mut artists = store
        .all_artists()
        .await
        .wrap_err("cannot read the artists")?;
    let total = artists.len();
    if let Some(query) = &args.filter {
        artists.retain(|a| query.matches(a));
    }
    let waiting = store
        .waiting_runs(Utc::now())
        .await
        .wrap_err("cannot read the runs waiting for a quota reset")?;
    let out = if args.json {
        let entries: Vec<JsonEntry> = artists
            .iter()
            .map(|artist| JsonEntry {
                artist,
                overall: artist.overall(),
                waiting: waiting
                    .iter()
                    .find(|r| r.artist_id == artist.id)
                    .map(|r| Waiting {
                        until: r.wait_until,
                        reason: r.wait_reason.clone(),
                    }),
            })
            .collect();
        let mut json =
            serde_json::to_string_pretty(&entries).wrap_err("cannot encode the artists")?;
        json.push('\n');
        json
    } else {
        let mut text = render_text(&artists, &store.describe(), Utc::now());
        if args.filter.is_some() {
            text.push_str(&format!(
                "{} of {total} artists match the filter\n",
                artists.len()
            ));
        }
        text + &render_waiting(&waiting)
    };
    store.close().await;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(0),
        // `syncdeck status | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e).wrap_err("cannot write to stdout"),
    }
}

const NAME_W: usize = 32;
const TM_W: usize = 14;
const PART_W: usize = 12;
const SYNC_W: usize = 10;
const ERROR_W: usize = 60;

/// The text table (also printed by `demo`): a header, one line per artist, a summary. Everything from the database is
/// sanitized, so a name with escape sequences cannot recolor or move the terminal.
pub(crate) fn render_text(
    artists: &[ArtistSummary],
    location: &str,
    now: chrono::DateTime<Utc>,
) -> String {
    let mut out = String::new();
    let header = [
        pad("NAME", NAME_W),
        pad("TM ID", TM_W),
        pad("OVERALL", PART_W),
        pad("TICKETMASTER", PART_W),
        pad("SPOTIFY", PART_W),
        pad("SETLIST.FM", PART_W),
        pad("LAST SYNC", SYNC_W),
        "LAST ERROR".to_string(),
    ];
    out.push_str(header.join(" ").trim_end());
    out.push('\n');
    let mut counts = [0usize; 4];
    for a in artists {
        let overall = a.overall();
        counts[overall_slot(overall)] += 1;
        let last_sync = a
            .last_sync
            .map(|t| time::relative(t, now))
            .unwrap_or_else(|| "never".into());
        // Newlines and tabs in a stored error become spaces; other control characters are shown.
        let error = a
            .last_sync_error
            .as_deref()
            .map(|e| {
                truncate(
                    &sanitize(&e.split_whitespace().collect::<Vec<_>>().join(" ")),
                    ERROR_W,
                )
            })
            .unwrap_or_default();
        let line = [
            pad(&sanitize(&a.name), NAME_W),
            pad(&sanitize(&a.ticketmaster_id), TM_W),
            pad(overall.as_str(), PART_W),
            pad(a.sync_status.ticketmaster.as_str(), PART_W),
            pad(a.sync_status.spotify.as_str(), PART_W),
            pad(a.sync_status.setlistfm.as_str(), PART_W),
            pad(&last_sync, SYNC_W),
            error,
        ];
        out.push_str(line.join(" ").trim_end());
        out.push('\n');
    }
    let [syncing, error, pending, success] = counts;
    out.push_str(&format!(
        "{} artists in {}: {syncing} syncing, {error} error, {pending} pending, {success} success\n",
        artists.len(),
        sanitize(location),
    ));
    if artists.is_empty() {
        out.push_str("no artists yet: `syncdeck seed --demo` adds demo artists\n");
    }
    out
}

fn overall_slot(o: Overall) -> usize {
    match o {
        Overall::Syncing => 0,
        Overall::Error => 1,
        Overall::Pending => 2,
        Overall::Success => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sync_status::{PartStatus, SyncStatus};

    fn artist(name: &str, status: SyncStatus, error: Option<&str>) -> ArtistSummary {
        ArtistSummary {
            id: "00000000-0000-0000-0000-000000000001".into(),
            name: name.into(),
            ticketmaster_id: "K8vZ917abcd".into(),
            spotify_id: None,
            setlist_fm_mbid: None,
            sync_status: status,
            last_sync: None,
            last_ticketmaster_sync: None,
            last_spotify_sync: None,
            last_sync_error: error.map(str::to_string),
            upcoming_shows_count: 0,
            songs_count: 0,
        }
    }

    #[test]
    fn text_is_sanitized_aligned_and_summarised() {
        let mut failed = SyncStatus::default();
        failed.set(
            crate::store::sync_status::Source::Spotify,
            PartStatus::Error,
        );
        let now = Utc::now();
        let mut synced = artist("Sigur Rós", SyncStatus::all(PartStatus::Success), None);
        synced.last_sync = Some(now - chrono::Duration::minutes(5));
        let rows = [
            artist(
                "Evil\u{1b}[31mRed\u{7}Band",
                failed,
                Some("spotify: albums\nHTTP 403"),
            ),
            synced,
            artist("坂本龍一", SyncStatus::default(), None),
        ];
        let text = render_text(&rows, "sqlite /tmp/x.db", now);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].starts_with("NAME"));
        assert!(lines[1].starts_with("Evil^[[31mRed^GBand"));
        assert!(lines[1].contains("error") && lines[1].contains("spotify: albums HTTP 403"));
        assert!(lines[1].contains("never"));
        assert!(lines[2].contains("5m ago"));
        // Columns line up whatever the width of the characters in the name.
        let col = |l: &str| crate::text::width(&l[..l.find("K8vZ917").unwrap()]);
        assert_eq!(col(lines[1]), col(lines[2]));
        assert_eq!(col(lines[2]), col(lines[3]));
        assert_eq!(
            lines[4],
            "3 artists in sqlite /tmp/x.db: 0 syncing, 1 error, 1 pending, 1 success"
        );
    }

    #[test]
    fn json_entries_carry_the_contract() {
        let a = artist("X", SyncStatus::default(), None);
        let v = serde_json::to_value(JsonEntry {
            artist: &a,
            overall: a.overall(),
            waiting: None,
        })
        .unwrap();
        assert_eq!(v["overall"], "pending");
        assert_eq!(v["last_sync"], serde_json::Value::Null);
        assert!(v.get("waiting").is_none(), "only while waiting");
        let keys: Vec<&String> = v["sync_status"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["setlistfm", "spotify", "ticketmaster"]);
        let until = chrono::DateTime::parse_from_rfc3339("2026-12-06T14:05:02Z")
            .unwrap()
            .with_timezone(&Utc);
        let v = serde_json::to_value(JsonEntry {
            artist: &a,
            overall: a.overall(),
            waiting: Some(Waiting {
                until: Some(until),
                reason: Some(
                    "Ticketmaster's daily quota is spent until 2026-12-06 14:05:00 UTC".into(),
                ),
            }),
        })
        .unwrap();
        assert_eq!(v["waiting"]["until"], "2026-12-06T14:05:02Z");
        assert!(
            v["waiting"]["reason"]
                .as_str()
                .unwrap()
                .contains("Ticketmaster")
        );
    }
}
