//! cargo-fuzz target `sniff_validate`: see fuzz/harness/sniff_validate.rs.
#![no_main]

#[path = "../harness/sniff_validate.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::run(data);
});
