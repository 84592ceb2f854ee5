//! Deterministic generator for `fixtures/media/` (filled in by the fixtures work).

use std::path::Path;

/// Generates the media fixtures, or checks the committed ones when `check` is set.
pub fn run(_root: &Path, _check: bool) -> Result<(), String> {
    Ok(())
}
