//! cargo-fuzz target `multipart`: see fuzz/harness/multipart.rs.
#![no_main]

#[path = "../harness/multipart.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::run(data);
});
