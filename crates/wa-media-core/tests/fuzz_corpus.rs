//! Replays the committed fuzz corpus of the `graph_response` target (fuzz/corpus/
//! graph_response: what the Graph host or the download host may answer, through this crate's
//! sans-I/O protocol) as a normal test, through the very harness function the cargo-fuzz target
//! calls (`wa_media_testkit::fuzz::graph_response`). No input may panic; a known input must also
//! give its known answer.

use wa_media_testkit::fuzz::{graph_response, input, replay};

#[test]
fn graph_response_corpus_never_panics() {
    replay("graph_response", graph_response::run);
    let body = input("graph_response", "fixture-retrieve");
    assert!(serde_json::from_slice::<wa_media_types::MediaUrlResponse>(&body).is_ok());
}
