//! `wa-media-bench`: the benchmark runner started by `cargo xtask bench`.
fn main() {}
