//! cargo-fuzz target `sniff_validate`: see wa_media_testkit::fuzz::sniff_validate
//! (crates/wa-media-testkit/src/fuzz/sniff_validate.rs).
#![no_main]

use wa_media_testkit::fuzz::sniff_validate as harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::run(data);
});
