//! cargo-fuzz target `webhook`: see fuzz/harness/webhook.rs.
#![no_main]

#[path = "../harness/webhook.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::run(data);
});
