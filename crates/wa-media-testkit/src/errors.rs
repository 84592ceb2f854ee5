//! Looking at errors the way a leak check must: every layer.

use std::fmt::Write as _;

/// An error's `Display` and `Debug`, and the `Display` and `Debug` of every source in its
/// chain, one per line: the text to search for a token or a URL signature.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = format!("{e}\n{e:?}\n");
    let mut source = e.source();
    while let Some(s) = source {
        let _ = writeln!(out, "{s}\n{s:?}");
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_is_shown() {
        let inner = std::io::Error::other("inner secret");
        let outer = std::io::Error::other(inner);
        assert!(error_text(&outer).matches("inner secret").count() >= 2);
    }
}
