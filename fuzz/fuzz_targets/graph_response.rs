//! cargo-fuzz target `graph_response`: see wa_media_testkit::fuzz::graph_response
//! (crates/wa-media-testkit/src/fuzz/graph_response.rs).
#![no_main]

use wa_media_testkit::fuzz::graph_response as harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::run(data);
});
