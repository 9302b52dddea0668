//! The progress line of `goheap bench` on stderr, rewritten in place with
//! `\r` while the runs go on. Only drawn when stderr is a terminal, so logs
//! and pipes get the notes alone.

use std::io::Write;

pub struct Progress {
    enabled: bool,
    /// Characters of the line currently shown (to blank it out).
    shown: usize,
}

impl Progress {
    pub fn new() -> Progress {
        // SAFETY: isatty only inspects the file descriptor.
        let enabled = unsafe { libc::isatty(libc::STDERR_FILENO) } == 1;
        Progress { enabled, shown: 0 }
    }

    /// Replaces the progress line with `text`.
    pub fn show(&mut self, text: &str) {
        if !self.enabled {
            return;
        }
        let len = text.chars().count();
        let pad = " ".repeat(self.shown.saturating_sub(len));
        eprint!("\r{text}{pad}");
        let _ = std::io::stderr().flush();
        self.shown = len;
    }

    /// Removes the progress line.
    pub fn clear(&mut self) {
        if self.shown > 0 {
            eprint!("\r{}\r", " ".repeat(self.shown));
            self.shown = 0;
        }
    }

    /// Prints a line of its own above the progress line.
    pub fn note(&mut self, text: &str) {
        self.clear();
        eprintln!("{text}");
    }
}
