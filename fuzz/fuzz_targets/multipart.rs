//! cargo-fuzz target `multipart`: see wa_media_testkit::fuzz::multipart
//! (crates/wa-media-testkit/src/fuzz/multipart.rs).
#![no_main]

use wa_media_testkit::fuzz::multipart as harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::run(data);
});
