//! The fuzz harnesses: one `run(input)` per cargo-fuzz target, shared by the targets in `fuzz/`
//! (which depend on this crate by path) and by the corpus replay tests, each in the crate whose
//! code the harness exercises. [`replay`] runs a committed corpus through a harness.
//!
//! `fuzz` gives [`webhook`] and [`sniff_validate`] (wa-media-types), `fuzz-core` adds
//! [`graph_response`] (wa-media-core's protocol), `fuzz-emulator` adds [`multipart`] (the
//! emulator's upload handler).

use std::panic::{catch_unwind, AssertUnwindSafe};

#[cfg(feature = "fuzz-core")]
pub mod graph_response;
#[cfg(feature = "fuzz-emulator")]
pub mod multipart;
pub mod sniff_validate;
pub mod webhook;

/// Every input of `fuzz/corpus/{target}`, sorted by name; asserts the corpus holds at least ten.
pub fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = crate::paths::fuzz_corpus(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "fuzz/corpus/{target} holds a corpus ({} files)",
        files.len()
    );
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (name, data)
        })
        .collect()
}

/// One named input of `fuzz/corpus/{target}`.
pub fn input(target: &str, name: &str) -> Vec<u8> {
    let p = crate::paths::fuzz_corpus(target).join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs every input of `fuzz/corpus/{target}` through `run`; fails with the names of those that
/// panicked.
pub fn replay(target: &str, run: impl Fn(&[u8])) {
    let mut panicked = Vec::new();
    for (name, data) in corpus(target) {
        if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            panicked.push(name);
        }
    }
    assert!(
        panicked.is_empty(),
        "fuzz/corpus/{target}: these inputs panicked: {panicked:?}"
    );
}
