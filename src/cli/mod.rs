//! The command line: clap definitions and dispatch. Each command lives in its own file.

mod artist;
mod console;
mod demo;
mod doctor;
mod env_check;
mod fake;
mod migrate;
mod queue;
mod seed;
mod serve;
mod status;
mod sync;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr};

use crate::config::{Config, Overrides};
use crate::store::{OpenMode, Store};

#[derive(Debug, Parser)]
#[command(
    name = "syncdeck",
    version,
    about = "Operations console and sync engine for the concert/setlist catalog"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Database to use (overrides DATABASE_URL): postgres://… or sqlite://PATH.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Read this file instead of ./.env.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "PATH"
    )]
    pub env_file: Option<PathBuf>,
    /// Where the embedded database and logs live (default: the user's data dir; env SYNCDECK_DATA_DIR).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,
    /// Monochrome output (same as NO_COLOR=1).
    #[arg(long, global = true, help_heading = "Global options")]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fresh embedded SQLite with seeded demo artists (no keys needed).
    #[command(
        after_help = "Examples:\n  syncdeck demo                          the console on 200 demo artists and fake providers\n  syncdeck demo --artists 2000 --speed 50\n  syncdeck demo --headless               sync every demo artist, print the status table"
    )]
    Demo(demo::DemoArgs),
    /// Per-artist status: one line each, or --json.
    #[command(
        after_help = "Examples:\n  syncdeck status --filter 'status:error'\n  syncdeck status --filter 'error:403|error:timeout' --json\n  syncdeck status --filter 'sigur ros'      case and accents do not matter"
    )]
    Status(status::StatusArgs),
    /// Check the environment and secrets.
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Inspect the database for what would break a sync, with the SQL to fix it.
    Doctor(doctor::DoctorArgs),
    /// Create or update the schema: the app's tables (fresh database only), syncdeck's and the job queue's.
    Migrate,
    /// Insert demo artists from the deterministic catalog.
    Seed(seed::SeedArgs),
    /// Run the fake Ticketmaster, Spotify and setlist.fm APIs on loopback (prints NAME=value lines to export).
    Fake(fake::FakeArgs),
    /// Add artists from Ticketmaster (`artist add NAME [--tm-id ID] [--sync]`).
    Artist {
        #[command(subcommand)]
        command: artist::ArtistCommand,
    },
    /// Sync artists headlessly (--artist, --all, --failed), or serve the shared queue (--worker).
    #[command(
        after_help = "Examples:\n  syncdeck sync --artist 'Sigur Rós'\n  syncdeck sync --all --plan             the cost first: calls, quotas, when it ends\n  syncdeck sync --failed --json\n  syncdeck sync --all --tm-daily 4000 --manual-reserve 20\n  syncdeck sync --worker                 serve the shared queue until Ctrl-C"
    )]
    Sync(sync::SyncArgs),
    /// Work the shared queue and keep the catalog fresh: plan syncs within a share of each
    /// daily quota (`--plan` shows the plan and queues nothing).
    #[command(
        after_help = "Examples:\n  syncdeck serve                         worker + scheduler (config.toml's [scheduler])\n  syncdeck serve --plan                  what it would queue next, and why\n  syncdeck serve --config ops.toml --concurrency 8"
    )]
    Serve(serve::ServeArgs),
    /// Pause or resume the shared queue for every process (`queue pause|resume|status`).
    #[command(
        after_help = "Examples:\n  syncdeck queue pause                   no worker starts a run; running ones finish\n  syncdeck queue status --json\n  syncdeck queue resume"
    )]
    Queue {
        #[command(subcommand)]
        command: queue::QueueCommand,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Each variable (set, from where, redacted preview, verdict) and a live database check.
    Check(env_check::EnvCheckArgs),
}

impl GlobalArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            database_url: self.database_url.clone(),
            env_file: self.env_file.clone(),
            data_dir: self.data_dir.clone(),
            no_color: self.no_color,
        }
    }
}

/// Loads the configuration, failing with a message that says what to fix.
pub fn load_config(global: &GlobalArgs) -> Result<Config> {
    let config = Config::load(&global.overrides()).wrap_err("invalid configuration")?;
    for w in &config.warnings {
        eprintln!("warning: {w}");
    }
    Ok(config)
}

/// Opens the configured database; `Existing` never creates one.
pub async fn open_store(config: &Config, mode: OpenMode) -> Result<Store> {
    Store::open(&config.database, mode)
        .await
        .wrap_err("cannot open the database")
}

/// Loads the configuration and opens the existing database, which must be migrated; `hint`
/// follows "run `syncdeck migrate` first" in the error (another way out, or nothing).
pub async fn open_migrated(global: &GlobalArgs, hint: &str) -> Result<(Config, Store)> {
    let config = load_config(global)?;
    let store = open_store(&config, OpenMode::Existing).await?;
    store.require_migrated().await.wrap_err_with(|| {
        format!(
            "{} is not set up for syncdeck; run `syncdeck migrate` first{hint}",
            store.describe()
        )
    })?;
    Ok((config, store))
}

/// Runs the parsed command line; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    // Logs go to a file under the data dir, never to the terminal. A configuration that does
    // not load is reported by the command itself, so logging just stays off then.
    let _log_guard = Config::load(&cli.global.overrides()).ok().map(|c| {
        let (guard, warning) = crate::logging::init_file_logging(&c.log_dir());
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        tracing::info!(command = ?cli.command.as_ref().map(command_name), database = %c.database.display_location(), "syncdeck started");
        guard
    });
    // Commands that stop cleanly on INT/TERM/HUP wait for `shutdown::stopped()` themselves;
    // the others have nothing to put back and end at once.
    if !matches!(
        cli.command,
        None | Some(
            Command::Demo(_)
                | Command::Fake(_)
                | Command::Artist { .. }
                | Command::Sync(_)
                | Command::Serve(_)
        )
    ) {
        crate::shutdown::exit_at_once_on_signal();
    }
    match cli.command {
        None => console::run(&cli.global).await,
        Some(Command::Demo(args)) => demo::run(&cli.global, args).await,
        Some(Command::Status(args)) => status::run(&cli.global, args).await,
        Some(Command::Env {
            command: EnvCommand::Check(args),
        }) => env_check::run(&cli.global, args).await,
        Some(Command::Doctor(args)) => doctor::run(&cli.global, args).await,
        Some(Command::Migrate) => migrate::run(&cli.global).await,
        Some(Command::Seed(args)) => seed::run(&cli.global, args).await,
        Some(Command::Fake(args)) => fake::run(args).await,
        Some(Command::Artist { command }) => artist::run(&cli.global, command).await,
        Some(Command::Sync(args)) => sync::run(&cli.global, args).await,
        Some(Command::Serve(args)) => serve::run(&cli.global, args).await,
        Some(Command::Queue { command }) => queue::run(&cli.global, command).await,
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "syncdeck",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
    }
}

/// The subcommand's name, for the log (never its arguments, which may carry a URL).
fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Demo(_) => "demo",
        Command::Status(_) => "status",
        Command::Env { .. } => "env check",
        Command::Doctor(_) => "doctor",
        Command::Migrate => "migrate",
        Command::Seed(_) => "seed",
        Command::Fake(_) => "fake",
        Command::Artist {
            command: artist::ArtistCommand::Add(_),
        } => "artist add",
        Command::Artist {
            command: artist::ArtistCommand::Relink(_),
        } => "artist relink",
        Command::Sync(_) => "sync",
        Command::Serve(_) => "serve",
        Command::Queue { .. } => "queue",
        Command::Completions { .. } => "completions",
    }
}
