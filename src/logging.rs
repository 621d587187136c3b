//! Logs go to a file under the data dir, never to the terminal (the TUI owns it).

use std::path::Path;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the background log writer alive; logs are flushed when it drops.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Installs the file logger (`<data dir>/logs/syncdeck.log`, daily files). The level comes from
/// `SYNCDECK_LOG` (e.g. `debug`, `syncdeck=trace`), default `info`. If the directory cannot be
/// created, logging is off and a warning is returned for the caller to show.
pub fn init_file_logging(log_dir: &Path) -> (LogGuard, Option<String>) {
    let mut filter = EnvFilter::try_from_env("SYNCDECK_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // The HTTP stack logs request URLs at debug/trace, and a URL can carry an API key: keep it
    // at warn whatever level is asked for (syncdeck logs its own, redacted, URLs).
    for quiet in [
        "reqwest=warn",
        "hyper=warn",
        "hyper_util=warn",
        "h2=warn",
        "rustls=warn",
    ] {
        if let Ok(d) = quiet.parse() {
            filter = filter.add_directive(d);
        }
    }
    if let Err(e) = std::fs::create_dir_all(log_dir) {
        return (
            LogGuard(None),
            Some(format!(
                "logging is off: cannot create {}: {e}",
                log_dir.display()
            )),
        );
    }
    let appender = tracing_appender::rolling::daily(log_dir, "syncdeck.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(true);
    // A second init (tests) is not an error worth reporting.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
    (LogGuard(Some(guard)), None)
}
