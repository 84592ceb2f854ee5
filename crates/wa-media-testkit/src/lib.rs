//! Test support shared by the wa-media crates' integration tests, written once instead of
//! copied into each test crate. Never published; a dev-dependency by path only.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fs;
