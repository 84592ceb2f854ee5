//! Where the workspace's shared test data lives.

use std::path::{Path, PathBuf};

/// The workspace's root directory (the one holding `fixtures/` and `fuzz/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `fixtures/{rel}` under the workspace root, e.g. `fixtures("media")`.
pub fn fixtures(rel: &str) -> PathBuf {
    workspace_root().join("fixtures").join(rel)
}

/// The bytes of `fixtures/{rel}`; panics naming the file when it cannot be read.
pub fn read_fixture(rel: &str) -> Vec<u8> {
    let p = fixtures(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `fuzz/corpus/{target}` under the workspace root.
pub fn fuzz_corpus(target: &str) -> PathBuf {
    workspace_root().join("fuzz/corpus").join(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixtures_are_found() {
        assert!(fixtures("media").join("manifest.json").is_file());
        assert!(fuzz_corpus("webhook").is_dir());
        assert!(!read_fixture("media/manifest.json").is_empty());
    }
}
