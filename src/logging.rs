//! Logs go to a file under the data dir, never to the terminal (the TUI owns it).

use std::path::Path;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps the background log writer alive; logs are flushed when it drops.
pub struct LogGuard(#[allow(dead_code)] Option<tracing_appender::non_blocking::WorkerGuard>);

/// Daily log files kept; older ones are deleted.
pub const LOG_FILES_KEPT: usize = 14;

/// Installs the file logger (`<data dir>/logs/syncdeck.log.DATE`, a file a day, the last
/// [`LOG_FILES_KEPT`] kept). The level comes from
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
    // A file a day, the last LOG_FILES_KEPT kept (older ones are deleted as days roll over).
    let appender = match tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("syncdeck.log")
        .max_log_files(LOG_FILES_KEPT)
        .build(log_dir)
    {
        Ok(a) => a,
        Err(e) => {
            return (
                LogGuard(None),
                Some(format!(
                    "logging is off: cannot open a log file in {}: {e}",
                    log_dir.display()
                )),
            );
        }
    };
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false)
        .with_target(true);
    // A second init (tests) is not an error worth reporting.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .with(TapLayer)
        .try_init();
    (LogGuard(Some(guard)), None)
}

/// A log record as the console's log pane shows it. The text is raw: whoever draws it
/// neutralises control characters.
#[derive(Debug, Clone)]
pub struct TapLine {
    pub at: chrono::DateTime<chrono::Utc>,
    pub level: tracing::Level,
    pub target: String,
    pub message: String,
    /// The `artist_id` field of the innermost enclosing span that has one.
    pub artist_id: Option<String>,
}

static TAP: std::sync::OnceLock<tokio::sync::broadcast::Sender<TapLine>> =
    std::sync::OnceLock::new();

fn tap_sender() -> &'static tokio::sync::broadcast::Sender<TapLine> {
    TAP.get_or_init(|| tokio::sync::broadcast::channel(4096).0)
}

/// Every log record that passes the filter from now on (the engine forwards them as events).
/// Records are only formatted while someone listens.
pub fn tap() -> tokio::sync::broadcast::Receiver<TapLine> {
    tap_sender().subscribe()
}

/// Installs only the tap (no file), for tests and embedders that log elsewhere.
pub fn init_tap_only() {
    let _ = tracing_subscriber::registry()
        .with(EnvFilter::new(
            "info,sqlx=warn,reqwest=warn,hyper=warn,h2=warn,rustls=warn",
        ))
        .with(TapLayer)
        .try_init();
}

struct TapLayer;

/// The `artist_id` recorded on a span.
struct SpanArtist(String);

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
    artist_id: Option<String>,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            "artist_id" => self.artist_id = Some(value.to_string()),
            name => {
                use std::fmt::Write;
                let _ = write!(self.rest, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "artist_id" => {
                self.artist_id = Some(format!("{value:?}").trim_matches('"').to_string())
            }
            name => {
                use std::fmt::Write;
                let _ = write!(self.rest, " {name}={value:?}");
            }
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for TapLayer
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(artist), Some(span)) = (fields.artist_id, ctx.span(id)) {
            span.extensions_mut().insert(SpanArtist(artist));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let tx = tap_sender();
        if tx.receiver_count() == 0 {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let artist_id = fields.artist_id.or_else(|| {
            ctx.event_scope(event)?
                .find_map(|span| span.extensions().get::<SpanArtist>().map(|a| a.0.clone()))
        });
        let meta = event.metadata();
        let _ = tx.send(TapLine {
            at: chrono::Utc::now(),
            level: *meta.level(),
            target: meta.target().to_string(),
            message: format!("{}{}", fields.message, fields.rest),
            artist_id,
        });
    }
}
