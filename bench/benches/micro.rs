//! criterion micro-benchmarks of the hot pure functions.
fn main() {}
