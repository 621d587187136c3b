//! `syncdeck env check [--json]`.

use clap::Args;
use color_eyre::eyre::Result;

use super::GlobalArgs;
use crate::checks::{self, CheckStatus, EnvReport};
use crate::config::{Config, EnvSnapshot};
use crate::text::{pad, sanitize};

#[derive(Debug, Args)]
pub struct EnvCheckArgs {
    /// One JSON object: {"ok": bool, "checks": [{"name", "status", "detail", …}]}.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(global: &GlobalArgs, args: EnvCheckArgs) -> Result<i32> {
    let overrides = global.overrides();
    // A malformed .env is reported as a failed check, not a crash, so the rest still shows.
    let (snapshot, dotenv_error) = match EnvSnapshot::load(overrides.env_file.as_deref()) {
        Ok(s) => (s, None),
        Err(e) => (EnvSnapshot::process_env_only(), Some(e.to_string())),
    };
    let mut snapshot = snapshot;
    if let Some(url) = &overrides.database_url {
        snapshot.set("DATABASE_URL", url.clone(), crate::config::Source::Flag);
    }
    let config = Config::from_snapshot(snapshot.clone(), &overrides).ok();
    let probes = config
        .as_ref()
        .map(crate::checks::provider_probes::probes)
        .unwrap_or_default();
    let mut report = checks::env_report(config.as_ref(), &snapshot, &probes).await;
    if let Some(e) = dotenv_error {
        report
            .checks
            .insert(0, checks::Check::new(".env", CheckStatus::Invalid, e));
        report = EnvReport::new(report.checks);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(if report.ok { 0 } else { 1 })
}

fn print_table(report: &EnvReport) {
    println!(
        "{} {} {} {} DETAIL",
        pad("CHECK", 26),
        pad("STATUS", 12),
        pad("FROM", 5),
        pad("VALUE", 34)
    );
    for c in &report.checks {
        let from = c.source.map(|s| s.label()).unwrap_or("");
        let mut detail = sanitize(&c.detail);
        if let Some(ms) = c.latency_ms {
            detail = format!("{detail} ({ms} ms)");
        }
        if let Some(h) = &c.hint {
            detail = format!("{detail}; {}", sanitize(h));
        }
        println!(
            "{} {} {} {} {}",
            pad(&c.name, 26),
            pad(c.status.as_str(), 12),
            pad(from, 5),
            pad(&sanitize(c.preview.as_deref().unwrap_or("")), 34),
            detail.trim_start_matches("; ")
        );
    }
    println!(
        "{}",
        if report.ok {
            "all required checks passed"
        } else {
            "some required checks failed (see above)"
        }
    );
}
