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

/// An error's `Display` followed by each source's, joined by `": "`: the whole message a
/// user sees (the CLI prints the chain the same way), for asserting on what it says.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
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

    #[test]
    fn the_chain_joins_every_message() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("outer")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        assert_eq!(
            chain(&Outer(std::io::Error::other("inner"))),
            "outer: inner"
        );
    }
}
