//! Progress of `goheap bench` on stderr: an indicatif bar counting the runs,
//! with the current run as its message, drawn only when stderr is a
//! terminal; notes go above it (and alone to logs and pipes).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new() -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {wide_msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Progress { bar }
    }

    /// Starts counting `total` steps.
    pub fn start(&self, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(0);
    }

    /// Shows what is going on now.
    pub fn show(&self, text: &str) {
        self.bar.set_message(text.to_owned());
        self.bar.tick();
    }

    /// One step done.
    pub fn step(&self) {
        self.bar.inc(1);
    }

    /// Prints a line of its own above the bar (on stderr, terminal or not).
    pub fn note(&self, text: &str) {
        self.bar.suspend(|| eprintln!("{text}"));
    }

    /// Removes the bar.
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}
