//! Progress bars on stderr, shown only when stderr is a terminal and neither `--quiet` nor
//! `--json` was given.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Builds progress bars, or hidden ones when progress must not be drawn.
#[derive(Debug, Clone, Copy)]
pub struct Bars {
    enabled: bool,
}

impl Bars {
    /// Bars are drawn when stderr is a terminal and the user did not ask for quiet or JSON.
    pub fn new(quiet: bool, json: bool) -> Self {
        Self {
            enabled: !quiet && !json && std::io::stderr().is_terminal(),
        }
    }

    /// The same builder with drawing turned off (for work running concurrently, whose bars
    /// would overwrite each other).
    pub fn hidden(self) -> Self {
        Self { enabled: false }
    }

    /// A bar counting `total` items (media of a notification, say).
    pub fn items(&self, label: &str, total: u64) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{msg:>10} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label.to_string());
        bar
    }

    /// A byte-counting bar with `label`; `total` when the size is known.
    pub fn bytes(&self, label: &str, total: Option<u64>) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::no_length(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label.to_string());
        bar
    }
}
