//! Stop signals: SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped SSH session) all mean
//! "stop cleanly": running syncs go back to the queue, their artists' parts are restored, the
//! terminal is restored. One listener is installed at start-up, before any work begins, so a
//! signal that arrives early is not lost and SIGHUP never kills the process mid-write.
//!
//! Exit codes follow the shell's convention, 128 + the signal's number: 130 for SIGINT, 143
//! for SIGTERM, 129 for SIGHUP, reached only after the clean stop.

use std::sync::OnceLock;

use tokio::sync::watch;

/// Why the process is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT: Ctrl-C outside the console (inside it, Ctrl-C is a key).
    Interrupt,
    /// SIGTERM: `kill`, systemd, a container runtime.
    Terminate,
    /// SIGHUP, or the console's terminal went away.
    Hangup,
}

impl StopSignal {
    /// 128 + the signal's number, as a shell reports a process killed by it.
    pub fn exit_code(self) -> i32 {
        match self {
            StopSignal::Hangup => 129,
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }
}

static STOP: OnceLock<watch::Sender<Option<StopSignal>>> = OnceLock::new();

/// Set by commands with nothing to put back (`status`, `migrate`, …): a signal then ends the
/// process at once, as the default action would, even while the command blocks on a prompt.
static EXIT_AT_ONCE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// For a command that has no clean stop of its own: a stop signal exits at once with its code
/// (an open database transaction is rolled back by the database when the connection drops).
pub fn exit_at_once_on_signal() {
    EXIT_AT_ONCE.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn sender() -> &'static watch::Sender<Option<StopSignal>> {
    STOP.get_or_init(|| watch::channel(None).0)
}

/// Starts listening for the stop signals (once; later calls do nothing). Needs a tokio
/// runtime. Until this runs, the signals keep their default action (the process dies).
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.set(()).is_err() {
        return;
    }
    let tx = sender().clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        for (kind, stop) in [
            (SignalKind::interrupt(), StopSignal::Interrupt),
            (SignalKind::terminate(), StopSignal::Terminate),
            (SignalKind::hangup(), StopSignal::Hangup),
        ] {
            match signal(kind) {
                Ok(mut stream) => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while stream.recv().await.is_some() {
                            notify(&tx, stop);
                        }
                    });
                }
                Err(e) => tracing::warn!(
                    "cannot listen for {}: {e}; that signal stops syncdeck without a clean shutdown",
                    stop.name()
                ),
            }
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            notify(&tx, StopSignal::Interrupt);
        }
    });
}

/// Records a stop from inside the process (the console's terminal closed), as if signalled.
pub fn request(stop: StopSignal) {
    notify(sender(), stop);
}

fn notify(tx: &watch::Sender<Option<StopSignal>>, stop: StopSignal) {
    if EXIT_AT_ONCE.load(std::sync::atomic::Ordering::SeqCst) {
        eprintln!("syncdeck: stopped by {}", stop.name());
        std::process::exit(stop.exit_code());
    }
    // The first reason wins: the exit code says what started the stop.
    tx.send_if_modified(|current| {
        if current.is_none() {
            *current = Some(stop);
            true
        } else {
            false
        }
    });
    tracing::info!("{} received: stopping cleanly", stop.name());
}

/// The stop asked for so far, if any.
pub fn requested() -> Option<StopSignal> {
    *sender().borrow()
}

/// Waits until a stop is asked for (returns at once if one already was).
pub async fn stopped() -> StopSignal {
    let mut rx = sender().subscribe();
    match rx.wait_for(Option::is_some).await {
        Ok(stop) => stop.unwrap_or(StopSignal::Interrupt),
        // The sender lives in a static and is never dropped.
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal_number() {
        assert_eq!(StopSignal::Hangup.exit_code(), 128 + 1);
        assert_eq!(StopSignal::Interrupt.exit_code(), 128 + 2);
        assert_eq!(StopSignal::Terminate.exit_code(), 128 + 15);
    }

    #[tokio::test]
    async fn the_first_stop_wins_and_later_waiters_see_it_at_once() {
        request(StopSignal::Hangup);
        request(StopSignal::Terminate);
        assert_eq!(requested(), Some(StopSignal::Hangup));
        let got = tokio::time::timeout(std::time::Duration::from_secs(1), stopped()).await;
        assert_eq!(got.ok(), Some(StopSignal::Hangup));
    }
}
