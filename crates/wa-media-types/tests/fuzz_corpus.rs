//! Replays the committed fuzz corpora of the targets that exercise this crate (fuzz/corpus/
//! webhook, fuzz/corpus/sniff_validate) as normal tests, through the very harness functions the
//! cargo-fuzz targets call (`wa_media_testkit::fuzz`). No input may panic; a few known inputs
//! must also give their known answers, so the harnesses are shown to reach the code they claim
//! to.

use wa_media_testkit::fuzz::{input, replay, sniff_validate, webhook};

#[test]
fn webhook_corpus_never_panics() {
    replay("webhook", webhook::run);
    // The fixtures in the corpus are real notifications with media.
    let n = wa_media_types::Notification::from_slice(&input("webhook", "fixture-image")).unwrap();
    assert_eq!(wa_media_types::inbound_media(&n).len(), 1);
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
