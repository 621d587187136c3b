//! The progress of the bulk work this console queued (`S`, `r`): done, failed, left and an
//! ETA, followed by run id through the engine's events and the poll of other processes' runs,
//! so it moves whichever worker runs the syncs. Its own state and pure updates; the view draws
//! it as a gauge above the status line.

use std::collections::HashSet;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::LineGauge;

use crate::store::runs::RunStatus;
use crate::tui::theme::Theme;

/// How many ticks (seconds) a finished batch stays on screen.
const SHOWN_AFTER_DONE: u32 = 15;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchProgress {
    /// Runs not finished yet.
    pending: HashSet<String>,
    /// Every run of the batch (a run queued twice counts once).
    all: HashSet<String>,
    pub succeeded: usize,
    pub failed: usize,
    /// Cancelled or interrupted.
    pub other: usize,
    /// Seconds (ticks) since it started, while it runs.
    pub elapsed: u32,
    /// Ticks since it ended.
    since_done: u32,
}

impl BatchProgress {
    pub fn total(&self) -> usize {
        self.all.len()
    }

    pub fn done(&self) -> usize {
        self.succeeded + self.failed + self.other
    }

    pub fn left(&self) -> usize {
        self.pending.len()
    }

    pub fn finished(&self) -> bool {
        self.pending.is_empty()
    }

    /// Adds runs just queued (a second `S` while one runs joins the same gauge).
    pub fn queue(&mut self, run_ids: impl IntoIterator<Item = String>) {
        if self.finished() {
            *self = BatchProgress::default();
        }
        for id in run_ids {
            if self.all.insert(id.clone()) {
                self.pending.insert(id);
            }
        }
    }

    /// A run ended (an engine event or a poll; each counts once).
    pub fn ended(&mut self, run_id: &str, status: RunStatus) {
        if !self.pending.remove(run_id) {
            return;
        }
        match status {
            RunStatus::Succeeded => self.succeeded += 1,
            RunStatus::Failed => self.failed += 1,
            _ => self.other += 1,
        }
    }

    /// One second passed; `false` once a finished batch has been shown long enough.
    pub fn tick(&mut self) -> bool {
        if self.finished() {
            self.since_done += 1;
            self.since_done < SHOWN_AFTER_DONE
        } else {
            self.elapsed += 1;
            true
        }
    }

    /// Share done, 0 to 1.
    pub fn ratio(&self) -> f64 {
        if self.total() == 0 {
            1.0
        } else {
            self.done() as f64 / self.total() as f64
        }
    }

    /// Seconds left at the pace so far (`None` before the first run ends).
    pub fn eta_secs(&self) -> Option<u64> {
        let done = self.done();
        if done == 0 || self.finished() {
            return None;
        }
        let per_run = f64::from(self.elapsed.max(1)) / done as f64;
        Some((per_run * self.left() as f64).ceil() as u64)
    }

    /// `bulk 37/200 · 2 failed · 161 left · about 3 min left`.
    pub fn label(&self) -> String {
        let mut out = format!("bulk {}/{}", self.done(), self.total());
        if self.failed > 0 {
            out.push_str(&format!(" · {} failed", self.failed));
        }
        if self.other > 0 {
            out.push_str(&format!(" · {} cancelled", self.other));
        }
        if self.finished() {
            out.push_str(&format!(
                " · done in {}",
                crate::engine::plan::human_seconds(f64::from(self.elapsed))
            ));
        } else {
            out.push_str(&format!(" · {} left", self.left()));
            match self.eta_secs() {
                Some(s) => out.push_str(&format!(
                    " · about {} to go",
                    crate::engine::plan::human_seconds(s as f64)
                )),
                None => out.push_str(" · timing the first ones"),
            }
        }
        out
    }
}

/// The bulk gauge: a bar, then `bulk 37/200 · 2 failed · 161 left · about 3 min to go`.
pub fn draw(frame: &mut Frame<'_>, batch: &BatchProgress, theme: &Theme, area: Rect) {
    let style = if batch.failed > 0 {
        theme.error
    } else {
        theme.success
    };
    let gauge = LineGauge::default()
        .ratio(batch.ratio().clamp(0.0, 1.0))
        .label(format!(" {} ", batch.label()))
        .filled_style(style)
        .unfilled_style(theme.dim)
        .filled_symbol(super::figures::FILLED)
        .unfilled_symbol(super::figures::UNFILLED);
    frame.render_widget(gauge, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("r{i}")).collect()
    }

    #[test]
    fn counts_each_run_once_and_estimates_from_the_pace() {
        let mut b = BatchProgress::default();
        b.queue(ids(0..10));
        b.queue(ids(5..12));
        assert_eq!((b.total(), b.left()), (12, 12));
        assert_eq!(b.eta_secs(), None);
        for _ in 0..4 {
            assert!(b.tick());
        }
        b.ended("r0", RunStatus::Succeeded);
        b.ended("r0", RunStatus::Succeeded);
        b.ended("r1", RunStatus::Failed);
        b.ended("elsewhere", RunStatus::Failed);
        assert_eq!((b.done(), b.failed, b.left()), (2, 1, 10));
        // 4 s for 2 runs: 2 s each, 10 left.
        assert_eq!(b.eta_secs(), Some(20));
        assert_eq!(
            b.label(),
            "bulk 2/12 · 1 failed · 10 left · about 20 s to go"
        );
        assert!((b.ratio() - 2.0 / 12.0).abs() < 1e-9);
    }

    #[test]
    fn a_finished_batch_stays_a_while_then_goes_and_a_new_one_starts_afresh() {
        let mut b = BatchProgress::default();
        b.queue(ids(0..2));
        b.tick();
        b.ended("r0", RunStatus::Succeeded);
        b.ended("r1", RunStatus::Cancelled);
        assert!(b.finished());
        assert_eq!(b.label(), "bulk 2/2 · 1 cancelled · done in 1 s");
        for _ in 0..SHOWN_AFTER_DONE - 1 {
            assert!(b.tick());
        }
        assert!(!b.tick(), "gone after a while");
        b.queue(ids(7..8));
        assert_eq!((b.total(), b.done()), (1, 0));
    }
}
