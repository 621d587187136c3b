//! `syncdeck fake`: the fake Ticketmaster, Spotify and setlist.fm APIs on loopback, until Ctrl-C
//! or SIGTERM. Prints the eight `NAME=value` lines a shell can export (and nothing else on
//! stdout), so `syncdeck fake > fake.env &` then `set -a; . fake.env` points everything at it.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDate;
use clap::{ArgMatches, Args, FromArgMatches};
use color_eyre::eyre::{Result, WrapErr};

use crate::catalog::DEMO_SEED;
use crate::fake::{self, FakeConfig, FakeKeys, FaultSpec, Profile, Rate};

/// The flags of `syncdeck fake`. They are many, so they live in a box: the `Command` enum stays
/// as small as its other variants (clippy's `large_enum_variant`).
#[derive(Debug)]
pub struct FakeArgs(Box<FakeOptions>);

impl FromArgMatches for FakeArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        FakeOptions::from_arg_matches(matches).map(|o| FakeArgs(Box::new(o)))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

impl Args for FakeArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        FakeOptions::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        FakeOptions::augment_args_for_update(cmd)
    }
}

#[derive(Debug, Args)]
pub struct FakeOptions {
    /// Loopback address to listen on; port 0 picks a free port (the printed URLs show it).
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "IP:PORT")]
    pub addr: SocketAddr,
    /// Demo catalog size (match `seed --demo --artists`).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub artists: usize,
    /// Catalog seed (decimal or 0x-hex); the default is the demo's.
    #[arg(long, value_parser = parse_seed, value_name = "S")]
    pub seed: Option<u64>,
    /// Events fall after and setlists before this date (YYYY-MM-DD); default today (UTC).
    #[arg(long, value_name = "DATE")]
    pub anchor: Option<NaiveDate>,
    /// Spotify app mode: dev-mode (top tracks 403, fields stripped, limit ≤ 10) or extended.
    #[arg(long, default_value = "dev-mode", value_parser = parse_profile, value_name = "PROFILE")]
    pub profile: Profile,
    /// Injected faults, e.g. `latency=0.05:200ms,429=0.05,5xx=0.05,malformed=0.03,truncated=0.02,drop=0.02,slow=0.02:2s,seed=7`
    /// (prefix a kind with `tm.`, `spotify.` or `setlistfm.` for one provider). Off by default.
    #[arg(long, value_parser = parse_faults, value_name = "SPEC")]
    pub faults: Option<FaultSpec>,
    #[arg(long, default_value = fake::DEFAULT_TICKETMASTER_API_KEY, value_name = "KEY")]
    pub tm_key: String,
    #[arg(long, default_value = fake::DEFAULT_SPOTIFY_CLIENT_ID, value_name = "ID")]
    pub spotify_client_id: String,
    #[arg(long, default_value = fake::DEFAULT_SPOTIFY_CLIENT_SECRET, value_name = "SECRET")]
    pub spotify_client_secret: String,
    #[arg(long, default_value = fake::DEFAULT_SETLISTFM_API_KEY, value_name = "KEY")]
    pub setlistfm_key: String,
    /// Lifetime of Spotify access tokens, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub token_ttl: u64,
    /// Ticketmaster's per-key rate (burst of N, then N per period), or `off`.
    #[arg(long, default_value = "5/s", value_parser = parse_rate, value_name = "N/s")]
    pub tm_rate: Limit,
    /// Ticketmaster calls per 24 h; 0 answers every call with the daily-quota error (to rehearse an exhausted key).
    #[arg(long, default_value_t = 5000, value_name = "N")]
    pub tm_daily: u64,
    /// Spotify's per-app rolling window, or `off`.
    #[arg(long, default_value = "600/30s", value_parser = parse_rate, value_name = "N/PERIOD")]
    pub spotify_rate: Limit,
    /// Spotify calls per 24 h before 429 QUOTA_EXCEEDED (default: unlimited).
    #[arg(long, value_name = "N")]
    pub spotify_daily: Option<u64>,
    /// setlist.fm's per-key rate, or `off`.
    #[arg(long, default_value = "2/s", value_parser = parse_rate, value_name = "N/s")]
    pub setlistfm_rate: Limit,
    /// Ticketmaster's and setlist.fm's rates as strict sliding windows (never more than N in
    /// any period) instead of token buckets with a burst: to check that a client's pacing
    /// leaves a margin for jitter (see the `jitter` fault).
    #[arg(long)]
    pub strict_windows: bool,
    /// setlist.fm calls per 24 h; 0 answers every call with 429 (to rehearse an exhausted key).
    #[arg(long, default_value_t = 1440, value_name = "N")]
    pub setlistfm_daily: u64,
    /// Length of a quota day in seconds (a real one is 86400; a few seconds rehearse resets).
    #[arg(long, default_value_t = 86_400, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub day_secs: u64,
    /// Serve only the generated catalog, without the trap fixtures.
    #[arg(long)]
    pub no_fixtures: bool,
    /// One line per request on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

fn parse_seed(s: &str) -> Result<u64, String> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => s.replace('_', "").parse(),
    }
    .map_err(|_| format!("`{s}` is not a seed (a whole number, decimal or 0x-hex)"))
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
}

fn parse_faults(s: &str) -> Result<FaultSpec, String> {
    s.parse()
}

/// A rate limit, or none (`off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub Option<Rate>);

/// `off` (or `0`) turns a limit off.
fn parse_rate(s: &str) -> Result<Limit, String> {
    match s.trim() {
        "off" | "none" | "0" => Ok(Limit(None)),
        other => other.parse().map(|r| Limit(Some(r))),
    }
}

impl FakeOptions {
    fn config(self) -> FakeConfig {
        FakeConfig {
            addr: self.addr,
            artists: self.artists,
            seed: self.seed.unwrap_or(DEMO_SEED),
            anchor: self.anchor,
            profile: self.profile,
            faults: self.faults.unwrap_or_default(),
            keys: FakeKeys {
                ticketmaster_api_key: self.tm_key,
                spotify_client_id: self.spotify_client_id,
                spotify_client_secret: self.spotify_client_secret,
                setlistfm_api_key: self.setlistfm_key,
            },
            token_ttl: Duration::from_secs(self.token_ttl),
            tm_rate: self.tm_rate.0,
            tm_daily: self.tm_daily,
            spotify_rate: self.spotify_rate.0,
            spotify_daily: self.spotify_daily,
            setlistfm_rate: self.setlistfm_rate.0,
            setlistfm_daily: self.setlistfm_daily,
            strict_windows: self.strict_windows,
            quota_day: Duration::from_secs(self.day_secs),
            fixtures: !self.no_fixtures,
            log_requests: self.verbose,
        }
    }
}

pub async fn run(args: FakeArgs) -> Result<i32> {
    let config = args.0.config();
    let summary = format!(
        "{} artists, seed {:#x}, profile {}, faults {}",
        config.artists,
        config.seed,
        config.profile,
        if config.faults.is_none() { "off" } else { "on" }
    );
    let server = fake::start(config)
        .await
        .wrap_err("cannot start the fake providers")?;
    {
        let mut out = std::io::stdout().lock();
        for (name, value) in server.env() {
            writeln!(out, "{name}={value}").wrap_err("cannot write to stdout")?;
        }
        // A reader waiting for the last line must not wait for a buffer to fill.
        out.flush().wrap_err("cannot write to stdout")?;
    }
    eprintln!(
        "syncdeck fake: listening on http://{} ({summary}); Ctrl-C to stop",
        server.addr()
    );
    let signal = crate::shutdown::stopped().await;
    eprintln!("syncdeck fake: stopping on {}", signal.name());
    server.shutdown().await;
    Ok(signal.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_in_both_bases() {
        assert_eq!(parse_seed("42").unwrap(), 42);
        assert_eq!(parse_seed("0x2a").unwrap(), 42);
        assert_eq!(parse_seed("0x5eed_0dec_2026_0001").unwrap(), DEMO_SEED);
        assert!(parse_seed("forty-two").is_err());
    }

    #[test]
    fn rates_can_be_turned_off() {
        assert_eq!(parse_rate("off").unwrap(), Limit(None));
        assert_eq!(parse_rate("5/s").unwrap(), Limit(Some(Rate::per_second(5))));
        assert!(parse_rate("lots").is_err());
    }
}
