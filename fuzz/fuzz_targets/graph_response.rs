//! cargo-fuzz target `graph_response`: see fuzz/harness/graph_response.rs.
#![no_main]

#[path = "../harness/graph_response.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::run(data);
});
