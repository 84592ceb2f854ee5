//! Results on stdout: plain lines for people, one JSON value per result with `--json`.

use std::io::Write;

use serde::Serialize;

use crate::failure::Failure;

/// Prints `value` as one line of JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string(value)
        .map_err(|e| Failure::other(format!("cannot encode JSON: {e}")))?;
    line(&text)
}

/// Prints one line on stdout (a closed pipe is not an error worth a panic).
pub fn line(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .and_then(|_| out.flush())
        .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
}

/// Prints an informational message on stderr unless quiet.
pub fn info(quiet: bool, text: &str) {
    if !quiet {
        eprintln!("{text}");
    }
}

/// Parses a media id given on the command line.
pub fn media_id(raw: &str) -> Result<wa_media_types::MediaId, Failure> {
    raw.trim()
        .parse()
        .map_err(|e| Failure::usage(format!("invalid media id: {e}")))
}
