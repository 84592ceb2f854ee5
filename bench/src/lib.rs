//! The workspace's documents that carry Rust examples, compiled and run as doctests so that they
//! cannot rot: `cargo test -p wa-media-bench --doc` (part of `cargo xtask test`).
//!
//! They sit here rather than in a published crate because they live outside every published
//! crate's directory: `include_str!` of them would break the crate built from its package (see
//! `cargo xtask package`). This crate is never published. The benchmark runner is the binary
//! (`src/main.rs`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// README.md's example.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExample;

/// docs/custom-transport.md.
#[cfg(doctest)]
#[doc = include_str!("../../docs/custom-transport.md")]
pub struct CustomTransportGuide;
