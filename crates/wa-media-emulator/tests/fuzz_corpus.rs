//! Replays the committed fuzz corpus of the `multipart` target (fuzz/corpus/multipart: this
//! emulator's multipart upload parser) as a normal test, through the very harness function the
//! cargo-fuzz target calls (`wa_media_testkit::fuzz::multipart`). No input may panic or be
//! answered 5xx; known inputs must also give their known answers, so the harness is shown to
//! reach the upload handler. (The other targets' corpora replay in the crates they exercise:
//! wa-media-types and wa-media-core.)

use wa_media_testkit::fuzz::{input, multipart, replay};

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
