//! `syncdeck doctor [--fix [--yes]]`: what in the database would break a sync, with the SQL that
//! fixes it. Exit code 1 while any required finding remains, else 0.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use color_eyre::eyre::{Result, WrapErr};

use super::{GlobalArgs, load_config, open_store};
use crate::store::doctor::{self, DoctorReport, Finding, ProbeResult, Severity};
use crate::store::inspect::APP_TABLES;
use crate::store::{OpenMode, Store};
use crate::text::sanitize;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Apply the proposed fixes (shows the SQL and asks first).
    #[arg(long)]
    pub fix: bool,
    /// With --fix: do not ask.
    #[arg(long, requires = "fix")]
    pub yes: bool,
}

pub async fn run(global: &GlobalArgs, args: DoctorArgs) -> Result<i32> {
    let config = load_config(global)?;
    // Existing: doctor inspects; it never creates a database.
    let store = open_store(&config, OpenMode::Existing).await?;
    let code = run_on(&store, &args).await;
    store.close().await;
    code
}

async fn run_on(store: &Store, args: &DoctorArgs) -> Result<i32> {
    let report = diagnose(store).await?;
    print_report(&report);
    if !args.fix {
        return Ok(exit_code(&report));
    }

    let fixes = report.fixable();
    if fixes.is_empty() {
        if report.has_required() {
            println!(
                "\n--fix: none of the required findings has SQL that doctor can run; follow their notes above"
            );
        } else {
            println!("\n--fix: nothing to apply");
        }
        return Ok(exit_code(&report));
    }
    println!("\n--fix will run this SQL in one transaction (all or nothing):\n");
    for f in &fixes {
        println!("  -- {}", sanitize(&f.object));
        print_sql(&f.fix_sql, "  ");
    }
    let warnings_with_sql = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning && f.fix_sql.is_some())
        .count();
    if warnings_with_sql > 0 {
        println!(
            "\n({warnings_with_sql} warning(s) have suggested SQL too; --fix leaves them for you to review and run by hand.)"
        );
    }

    if !args.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "\nrefusing to apply fixes without confirmation: stdin is not a terminal. \
                 Re-run with `syncdeck doctor --fix --yes` to apply them, or run the SQL above yourself."
            );
            return Ok(exit_code(&report));
        }
        if !confirm(&format!("\napply these {} fixes? [y/N] ", fixes.len())).await? {
            println!("not applied; the database is unchanged");
            return Ok(exit_code(&report));
        }
    }

    doctor::apply_fixes(store, &fixes)
        .await
        .wrap_err("the fixes were not applied (the transaction was rolled back)")?;
    println!("\napplied {} fixes; checking again…\n", fixes.len());
    let after = diagnose(store).await?;
    print_report(&after);
    Ok(exit_code(&after))
}

async fn diagnose(store: &Store) -> Result<DoctorReport> {
    doctor::diagnose(store)
        .await
        .wrap_err("doctor could not finish its checks")
}

fn exit_code(report: &DoctorReport) -> i32 {
    if report.has_required() { 1 } else { 0 }
}

/// Asks on the terminal; anything but y/yes is no.
async fn confirm(question: &str) -> Result<bool> {
    print!("{question}");
    std::io::stdout()
        .flush()
        .wrap_err("writing to the terminal")?;
    // Reading stdin blocks: keep it off the async workers.
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await
    .wrap_err("reading the answer")?
    .wrap_err("reading the answer from stdin")?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn print_report(report: &DoctorReport) {
    let version = report
        .server_version
        .split(" on ")
        .next()
        .unwrap_or(&report.server_version);
    println!(
        "database: {} ({})",
        sanitize(&report.database),
        sanitize(version)
    );
    if report.needs_migrate() {
        println!(
            "syncdeck's own tables are missing: run `syncdeck migrate` first (the app's tables are checked below anyway)"
        );
    }
    println!();

    // App tables in their usual order, then anything else (syncdeck's own tables).
    let mut groups: Vec<String> = APP_TABLES.iter().map(|t| t.to_string()).collect();
    for f in &report.findings {
        if !groups.contains(&f.table) {
            groups.push(f.table.clone());
        }
    }
    for table in &groups {
        let findings: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| &f.table == table)
            .collect();
        if findings.is_empty() {
            println!("{table}: no problems found");
            continue;
        }
        println!(
            "{table}: {} problem{}",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        );
        for f in findings {
            print_finding(f);
        }
    }

    print_probes(report);

    let (required, warnings) = (
        report.count(Severity::Required),
        report.count(Severity::Warning),
    );
    println!();
    if required == 0 && warnings == 0 {
        println!("no problems found");
    } else {
        let fixable = report.fixable().len();
        println!(
            "{required} required, {warnings} warning{}{}",
            if warnings == 1 { "" } else { "s" },
            if fixable > 0 {
                format!(
                    "; `syncdeck doctor --fix` applies the SQL of {fixable} required finding{} after asking",
                    if fixable == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        );
    }
}

fn print_finding(f: &Finding) {
    println!("  [{}] {}", f.severity.as_str(), sanitize(&f.object));
    println!("    problem:  {}", sanitize(&f.problem));
    if let Some(e) = &f.db_error {
        println!("    database: {}", sanitize(e));
    }
    if !f.probes.is_empty() {
        println!("    hit by:   {}", sanitize(&f.probes.join(", ")));
    }
    if f.fix_sql.is_some() {
        println!(
            "    fix{}:",
            if f.severity == Severity::Warning {
                " (suggested; not applied by --fix)"
            } else {
                ""
            }
        );
        print_sql(&f.fix_sql, "      ");
    }
    if let Some(a) = &f.advice {
        println!(
            "    {}: {}",
            if f.fix_sql.is_some() { "note" } else { "to do" },
            sanitize(a)
        );
    }
}

fn print_sql(sql: &Option<String>, indent: &str) {
    for line in sql.as_deref().unwrap_or_default().lines() {
        println!("{indent}{}", sanitize(line));
    }
}

fn print_probes(report: &DoctorReport) {
    if report.probes.is_empty() {
        return;
    }
    let count =
        |want: fn(&ProbeResult) -> bool| report.probes.iter().filter(|p| want(&p.result)).count();
    let ok = count(|r| matches!(r, ProbeResult::Ok));
    let failed = count(|r| matches!(r, ProbeResult::Failed));
    let skipped = count(|r| matches!(r, ProbeResult::Skipped(_)));
    println!(
        "\nwrite probes (real writes in one transaction, rolled back): {ok} ok, {failed} failed, {skipped} skipped"
    );
    for p in &report.probes {
        if p.result == ProbeResult::Failed {
            println!("  failed:  {} ({})", p.name, p.table);
        }
    }
    // Skips share few reasons (a missing table, a probe row that could not be written): one
    // line per reason.
    let mut skipped: Vec<(&str, Vec<&str>)> = Vec::new();
    for p in &report.probes {
        if let ProbeResult::Skipped(why) = &p.result {
            match skipped.iter_mut().find(|(w, _)| w == why) {
                Some((_, names)) => names.push(&p.name),
                None => skipped.push((why, vec![&p.name])),
            }
        }
    }
    for (why, names) in skipped {
        println!("  skipped: {} ({})", names.join(", "), sanitize(why));
    }
}
