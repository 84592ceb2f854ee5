//! Replays the committed fuzz corpora (fuzz/corpus/<target>/) as normal tests, through the very
//! harness functions the cargo-fuzz targets call (fuzz/harness/<target>.rs): webhook payloads,
//! Graph responses and errors, the sniffer and validator, and this emulator's multipart upload
//! parser. No input may panic; a few known inputs must also give their known answers, so the
//! harnesses are shown to reach the code they claim to.

#[path = "../../../fuzz/harness/graph_response.rs"]
mod graph_response;
#[path = "../../../fuzz/harness/multipart.rs"]
mod multipart;
#[path = "../../../fuzz/harness/sniff_validate.rs"]
mod sniff_validate;
#[path = "../../../fuzz/harness/webhook.rs"]
mod webhook;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Every input of a target's corpus, sorted by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
        .map(|e| e.unwrap().path())
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
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Runs every input; fails with the names of those that panicked.
fn replay(target: &str, run: impl Fn(&[u8])) {
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

fn input(target: &str, name: &str) -> Vec<u8> {
    std::fs::read(corpus_dir(target).join(name)).unwrap()
}

#[test]
fn webhook_corpus_never_panics() {
    replay("webhook", webhook::run);
    // The fixtures in the corpus are real notifications with media.
    let n = wa_media_types::Notification::from_slice(&input("webhook", "fixture-image")).unwrap();
    assert_eq!(wa_media_types::inbound_media(&n).len(), 1);
}

#[test]
fn graph_response_corpus_never_panics() {
    replay("graph_response", graph_response::run);
    let body = input("graph_response", "fixture-retrieve");
    assert!(serde_json::from_slice::<wa_media_types::MediaUrlResponse>(&body).is_ok());
}

#[test]
fn sniff_validate_corpus_never_panics() {
    replay("sniff_validate", sniff_validate::run);
    let png = input("sniff_validate", "fixture-image-png");
    assert_eq!(
        wa_media_types::sniff(&png[2..]).map(|s| s.mime),
        Some("image/png")
    );
}

#[test]
fn multipart_corpus_never_panics_nor_answers_5xx() {
    replay("multipart", |d| {
        multipart::run(d);
    });
    // The harness reaches the real upload handler: a valid body is stored, a broken one refused.
    assert_eq!(multipart::run(&input("multipart", "valid-png")), 200);
    assert_eq!(multipart::run(&input("multipart", "missing-file")), 400);
    assert_eq!(multipart::run(&input("multipart", "wrong-product")), 400);
    multipart::shutdown();
}
