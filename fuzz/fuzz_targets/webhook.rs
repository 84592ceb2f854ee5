//! cargo-fuzz target `webhook`: see wa_media_testkit::fuzz::webhook
//! (crates/wa-media-testkit/src/fuzz/webhook.rs).
#![no_main]

use wa_media_testkit::fuzz::webhook as harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::run(data);
});
