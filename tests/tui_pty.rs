//! The real binary in a pseudo-terminal: `syncdeck demo` (the console over the in-process fake
//! providers), driven with keys, read back through a vt100 parser.
//!
//! No fixed sleeps: every step waits for what it needs on the parsed screen, polling every
//! 50 ms up to a deadline. The demo runs fast (`--speed 20`) on a small catalog (`--artists 30`)
//! in a temporary HOME / data directory and working directory (so no `.env` of the checkout is
//! read).

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, ExitStatus, PtySize, native_pty_system};

const STARTUP: Duration = Duration::from_secs(40);
const STEP: Duration = Duration::from_secs(30);

/// One console in a PTY.
struct Console {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte the console wrote, in order.
    raw: Arc<Mutex<Vec<u8>>>,
    /// Fires when the reader reaches the end of the output (the child and its PTY closed).
    eof: mpsc::Receiver<()>,
    cols: u16,
    _dir: tempfile::TempDir,
}

impl Console {
    fn start(args: &[&str], extra_env: &[(&str, &str)], rows: u16, cols: u16) -> Console {
        let dir = tempfile::tempdir().unwrap();
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_syncdeck"));
        cmd.args(args);
        cmd.cwd(dir.path());
        cmd.env_clear();
        cmd.env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd.env("HOME", dir.path());
        cmd.env("SYNCDECK_DATA_DIR", dir.path().join("data"));
        cmd.env("TERM", "xterm-256color");
        cmd.env("RUST_BACKTRACE", "0");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn syncdeck");
        // Without this, the reader never sees the end of the output.
        drop(pair.slave);

        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            NonZeroU16::new(rows).unwrap(),
            NonZeroU16::new(cols).unwrap(),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let (eof_tx, eof) = mpsc::channel();
        {
            let parser = parser.clone();
            let raw = raw.clone();
            let master = pair.master;
            std::thread::spawn(move || {
                let _master = master; // kept open while reading
                let mut buf = [0u8; 8192];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            raw.lock().unwrap().extend_from_slice(&buf[..n]);
                            parser.lock().unwrap().process(&buf[..n]);
                        }
                    }
                }
                let _ = eof_tx.send(());
            });
        }
        Console {
            child,
            writer,
            parser,
            raw,
            eof,
            cols,
            _dir: dir,
        }
    }

    fn contents(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn rows(&self, start: u16, width: u16) -> Vec<String> {
        self.parser
            .lock()
            .unwrap()
            .screen()
            .rows(start, width)
            .collect()
    }

    fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    /// Polls the parsed screen every 50 ms until `ok` holds; panics with the screen after
    /// `timeout` or when the console exits first.
    fn wait_until(&mut self, what: &str, timeout: Duration, ok: impl Fn(&Console) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if ok(self) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader a moment to take the last bytes, then look once more.
                let _ = self.eof.recv_timeout(Duration::from_secs(2));
                if ok(self) {
                    return;
                }
                panic!(
                    "the console exited ({status:?}) while waiting for {what}; screen:\n{}\nraw tail: {:?}",
                    self.contents(),
                    tail(&self.raw_text(), 2000)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; screen:\n{}",
                    self.contents()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&mut self, text: &str, timeout: Duration) {
        let t = text.to_string();
        self.wait_until(&format!("{text:?}"), timeout, move |c| {
            c.contents().contains(&t)
        });
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    /// Sends text one key at a time (each byte is one key press).
    fn type_text(&mut self, text: &str) {
        for b in text.bytes() {
            self.send(&[b]);
        }
    }

    /// Waits for the exit and for the end of the output; kills the child on timeout.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the console did not exit within {timeout:?}; screen:\n{}",
                    self.contents()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.eof
            .recv_timeout(Duration::from_secs(10))
            .expect("the output ends after the exit");
        status
    }

    /// `q`, answering `y` when the console asks because syncs are running; returns the status.
    fn quit(&mut self) -> ExitStatus {
        self.send(b"q");
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                let _ = self.eof.recv_timeout(Duration::from_secs(10));
                return s;
            }
            if self
                .contents()
                .contains("back in the queue (nothing is left syncing)?")
            {
                self.send(b"y");
                return self.wait_exit(STEP);
            }
            if Instant::now() > deadline {
                return self.wait_exit(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The table row of the selected artist (the one with the `▸` marker).
    fn selected_row(&self) -> Option<String> {
        self.rows(0, self.cols)
            .into_iter()
            .find(|r| r.starts_with("│▸"))
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(n)..].iter().collect()
}

/// The terminal is back to normal: checked on the parsed state and on the byte stream itself
/// (the last alternate-screen switch leaves it, the last cursor command shows it).
fn assert_terminal_restored(c: &Console) {
    {
        let parser = c.parser.lock().unwrap();
        let screen = parser.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "the cursor is still hidden");
        assert_eq!(
            screen.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse capture left on"
        );
    }
    let raw = c.raw.lock().unwrap();
    let last = |needle: &[u8]| raw.windows(needle.len()).rposition(|w| w == needle);
    let entered = last(b"\x1b[?1049h").expect("the console used the alternate screen");
    let left = last(b"\x1b[?1049l").expect("the alternate screen was never left");
    assert!(left > entered, "the stream ends on the alternate screen");
    let shown = last(b"\x1b[?25h").expect("the cursor was never shown again");
    if let Some(hidden) = last(b"\x1b[?25l") {
        assert!(shown > hidden, "the stream ends with the cursor hidden");
    }
    if let Some(on) = last(b"\x1b[?1000h") {
        let off = last(b"\x1b[?1000l").expect("mouse capture left on");
        assert!(off > on, "mouse capture left on");
    }
}

/// 30 artists all queued at start, at the real rate (`--speed 1`): syncs stay queued or
/// running for a while.
fn slow_demo_args(faults: &str) -> Vec<&str> {
    vec![
        "demo",
        "--speed",
        "1",
        "--artists",
        "30",
        "--warm-up",
        "30",
        "--faults",
        faults,
    ]
}

fn demo_args<'a>(faults: &'a str, warm_up: &'a str) -> Vec<&'a str> {
    vec![
        "demo",
        "--speed",
        "20",
        "--artists",
        "30",
        "--warm-up",
        warm_up,
        "--faults",
        faults,
    ]
}

#[test]
fn sync_one_artist_and_quit_cleanly() {
    let mut c = Console::start(&demo_args("none", "0"), &[], 30, 120);
    c.wait_for("Artists 30 of 30", STARTUP);
    c.wait_until("the first row pending", STEP, |c| {
        c.selected_row().is_some_and(|r| r.contains("pending"))
    });
    let first = c.selected_row().unwrap();
    // The name as drawn: what precedes the OVERALL column's "pending".
    let name = first
        .trim_start_matches(['│', '▸', ' '])
        .split_once(" pending")
        .unwrap()
        .0
        .trim_end()
        .to_string();
    assert!(!name.is_empty(), "{first}");

    c.send(b"s");
    // OVERALL is the first status column: success once all three parts succeeded.
    let overall = |row: &str, name: &str| -> Option<String> {
        let after_name = row.split_once(name)?.1;
        after_name.split_whitespace().next().map(str::to_string)
    };
    c.wait_until("the first row to read success", STEP, |c| {
        c.selected_row()
            .and_then(|r| overall(&r, &name))
            .is_some_and(|o| o == "success")
    });
    let row = c.selected_row().unwrap();
    assert!(
        row.split_whitespace().filter(|w| *w == "success").count() >= 4,
        "overall and the three parts: {row}"
    );
    // The other rows were not synced.
    let pending = c
        .rows(0, c.cols)
        .iter()
        .filter(|r| r.starts_with("│ ") && r.contains(" pending "))
        .count();
    assert!(pending >= 10, "other rows stay pending:\n{}", c.contents());

    let status = c.quit();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(status.exit_code(), 0);
    assert_terminal_restored(&c);
}

#[test]
fn a_failing_provider_shows_in_the_detail_and_no_key_is_ever_shown() {
    // Every setlist.fm call fails with a 5xx: the warm-up artists end failed after retries.
    let mut c = Console::start(&demo_args("setlistfm.5xx=1", "3"), &[], 40, 140);
    c.wait_for("Artists 30 of 30", STARTUP);
    // Wait for a final failure (logged as ERROR once the retries are spent).
    c.wait_for(" ERROR sync of ", Duration::from_secs(45));

    // Filter to the failed rows.
    c.send(b"/");
    c.type_text("status:error");
    c.send(b"\r");
    c.wait_until("a failed row under the filter", STEP, |c| {
        let s = c.contents();
        s.contains("filter: status:error")
            && !s.contains("Artists 0 of 30")
            && c.selected_row().is_some_and(|r| r.contains(" error "))
    });

    // The detail names the provider and the step that failed.
    c.send(b"\r");
    let half = c.cols / 2;
    // The detail box is the bottom-left box (the log moves to the right): the text from its
    // top border down; `None` while the bottom-left box is still the log.
    let detail_text = move |c: &Console| -> Option<String> {
        let rows = c.rows(0, half);
        let top = rows.iter().rposition(|r| r.starts_with('┌'))?;
        if rows[top].starts_with("┌ Log") {
            return None;
        }
        Some(
            rows[top..]
                .iter()
                .map(|r| r.trim_matches(|ch| ch == '│' || ch == ' '))
                .collect::<Vec<_>>()
                .join(" "),
        )
    };
    c.wait_until("the failure in the detail", STEP, move |c| {
        detail_text(c).is_some_and(|d| d.contains("setlist.fm: ") && d.contains("step:"))
    });
    let d = detail_text(&c).unwrap();
    assert!(d.contains("last error"), "{d}");
    let selected = c.selected_row().unwrap();
    let name = selected
        .trim_start_matches(['│', '▸', ' '])
        .split_once(" error")
        .unwrap()
        .0
        .trim_end()
        .to_string();
    assert!(
        c.rows(0, half)
            .iter()
            .any(|r| r.starts_with('┌') && r.contains(&name)),
        "the detail is titled with the selected artist {name:?}:\n{}",
        c.contents()
    );

    // The env panel: redacted previews only.
    c.send(b"e");
    c.wait_for("Environment and secrets", STEP);
    c.wait_until("the live checks to finish", STEP, |c| {
        let s = c.contents();
        s.contains("runs the live checks") && s.contains("TICKETMASTER_API_KEY")
    });
    let keys = syncdeck::fake::FakeKeys::default();
    let secrets = [
        keys.ticketmaster_api_key.as_str(),
        keys.spotify_client_id.as_str(),
        keys.spotify_client_secret.as_str(),
        keys.setlistfm_api_key.as_str(),
    ];
    let screen = c.contents();
    for s in secrets {
        assert!(!screen.contains(s), "{s} on screen:\n{screen}");
    }
    let preview = syncdeck::config::redact(&keys.ticketmaster_api_key);
    assert!(screen.contains(&preview), "no {preview} in:\n{screen}");

    c.send(b"\x1b");
    c.wait_until("the env panel to close", STEP, |c| {
        !c.contents().contains("Environment and secrets")
    });
    let status = c.quit();
    assert!(status.success(), "exit status {status:?}");
    assert_terminal_restored(&c);
    // Not on screen at the end, and never written at any time either.
    let raw = c.raw_text();
    for s in secrets {
        assert!(!raw.contains(s), "{s} was written to the terminal");
    }
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    let mut c = Console::start(&demo_args("none", "0"), &[], 24, 80);
    c.wait_for("Artists 30 of 30", STARTUP);
    // With mouse capture on, which `ratatui::restore()` alone would leave on.
    c.send(b"M");
    c.wait_for("mouse capture on", STEP);
    assert_ne!(
        c.parser.lock().unwrap().screen().mouse_protocol_mode(),
        vt100::MouseProtocolMode::None
    );
    c.send(b"\x03");
    let status = c.wait_exit(STEP);
    assert!(status.success(), "exit status {status:?}");
    assert_terminal_restored(&c);
}

/// SIGTERM and SIGHUP (the terminal's session dropped) while syncs run: the console stops
/// cleanly (the engine puts running syncs back), restores the terminal and exits 128 + n.
#[test]
fn sigterm_and_sighup_stop_the_console_cleanly() {
    for (signal, code) in [("TERM", 143), ("HUP", 129)] {
        // Slow answers at the real rate: the warm-up's syncs are still running at the signal.
        let mut c = Console::start(&slow_demo_args("latency=1.0:500ms"), &[], 30, 120);
        c.wait_for("Artists 30 of 30", STARTUP);
        // A row with a part syncing (the notice line also says "syncing").
        c.wait_until("a row syncing", STEP, |c| {
            c.rows(0, c.cols)
                .iter()
                .any(|r| r.starts_with('│') && r.contains(" syncing "))
        });
        let pid = c.child.process_id().expect("the console's pid").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let status = c.wait_exit(STEP);
        assert_eq!(status.exit_code(), code, "after SIG{signal}");
        assert_terminal_restored(&c);
    }
}

#[test]
fn a_too_small_terminal_says_so_and_q_still_quits() {
    let mut c = Console::start(&demo_args("none", "0"), &[], 10, 50);
    c.wait_for("the terminal is 50×10", STARTUP);
    assert!(c.contents().contains("syncdeck needs at least"));
    c.send(b"q");
    let status = c.wait_exit(STEP);
    assert!(status.success(), "exit status {status:?}");
    assert_terminal_restored(&c);
}

#[test]
fn c_cancels_an_artist_queued_before_the_console_opened() {
    // 30 queued at start on 8 slots at the real rate: the last row waits its turn for a while.
    let mut c = Console::start(&slow_demo_args("none"), &[], 30, 120);
    c.wait_for("Artists 30 of 30", STARTUP);
    c.send(b"G");
    c.send(b"c");
    c.wait_until("an answer to c", STEP, |c| {
        let s = c.contents();
        s.contains("cancel: ") || s.contains("has no queued or running sync")
    });
    assert!(
        !c.contents().contains("has no queued or running sync"),
        "{}",
        c.contents()
    );
    let status = c.quit();
    assert!(status.success());
}

/// Needs the test hook in src/tui/mod.rs: `SYNCDECK_TEST_PANIC` panics after the first frame.
#[test]
fn a_panic_restores_the_terminal() {
    let mut c = Console::start(
        &demo_args("none", "0"),
        &[("SYNCDECK_TEST_PANIC", "1")],
        30,
        120,
    );
    let status = c.wait_exit(STARTUP);
    assert!(!status.success(), "a panic exits non-zero");
    assert_terminal_restored(&c);
    assert_eq!(status.exit_code(), 101, "{status:?}");
    // color-eyre's report, on the normal screen, readable (not scrolled away by a backtrace).
    let screen = c.contents();
    assert!(
        screen.contains("panicked") && screen.contains("SYNCDECK_TEST_PANIC is set"),
        "the panic message is on the normal screen:\n{screen}"
    );
}

/// After the panic report, the cursor must sit below it, or the shell prompt (or anything printed
/// next) overwrites the report.
#[test]
fn after_a_panic_the_cursor_is_below_the_report() {
    let mut c = Console::start(
        &demo_args("none", "0"),
        &[("SYNCDECK_TEST_PANIC", "1")],
        30,
        120,
    );
    c.wait_exit(STARTUP);
    let parser = c.parser.lock().unwrap();
    let screen = parser.screen();
    let rows: Vec<String> = screen.rows(0, 120).collect();
    let report = rows
        .iter()
        .rposition(|r| r.contains("panicked") || r.contains("Location:"))
        .expect("the report is on screen");
    let (cursor_row, _) = screen.cursor_position();
    assert!(
        usize::from(cursor_row) > report,
        "the cursor (row {cursor_row}) is above the end of the report (row {report}):\n{}",
        screen.contents()
    );
}

#[test]
fn a_adds_an_artist_picked_from_ticketmaster_results() {
    // The fake's fixtures hold two attractions named "Trap Fixture Band": a name alone cannot
    // tell them apart, the picker can.
    let mut c = Console::start(&demo_args("none", "0"), &[], 30, 120);
    c.wait_for("Artists 30 of 30", STARTUP);
    c.send(b"a");
    c.wait_for("add artist (Ticketmaster search)", STEP);
    c.type_text("Trap Fixture Band");
    c.send(b"\r");
    c.wait_for("Ticketmaster results for \"Trap Fixture Band\"", STEP);
    c.wait_for("K8vZ917TRP2", STEP);
    // Select the namesake without links (whatever the search order) and import it.
    // The picker covers the table: the one line with the marker is its selected result.
    let picked = |c: &Console| {
        c.contents()
            .lines()
            .find(|l| l.contains('▸'))
            .map(str::to_string)
            .unwrap_or_default()
    };
    for _ in 0..20 {
        let before = picked(&c);
        if before.contains("K8vZ917TRP2") {
            break;
        }
        c.send(b"j");
        c.wait_until("the picker's selection to move", STEP, |c| {
            picked(c) != before
        });
    }
    assert!(
        picked(&c).contains("K8vZ917TRP2"),
        "picker:\n{}",
        c.contents()
    );
    c.send(b"\r");
    c.wait_for("added Trap Fixture Band; syncing it", STEP);
    c.wait_for("Artists 31 of 31", STEP);
    // It is selected, and its sync (queued at once) runs to the end.
    c.wait_until("the new artist's row to read success", STEP, |c| {
        c.selected_row()
            .is_some_and(|r| r.contains("Trap Fixture Band") && r.contains("success"))
    });
    let status = c.quit();
    assert!(status.success(), "exit status {status:?}");
    assert_terminal_restored(&c);
}
