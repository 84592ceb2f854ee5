//! The conformance suite every [`wa_media_core::Transport`] implementation runs: the rules of
//! the trait's documentation, each a named check ([`transport::Rule`]) against a loopback
//! server on 127.0.0.1, with a [`suite::Report`] of the outcomes.
//!
//! **Not a stable API**: the checks follow `wa-media-core`'s rules and may change in any
//! release; pin this crate to the version of `wa-media-core` you implement (README).
//!
//! ```no_run
//! # async fn example(my_transport: impl wa_media_core::Transport) {
//! let report = wa_media_conformance::transport::run(&my_transport).await;
//! report.assert_conforms(); // panics naming every rule that failed, and why
//! # }
//! ```
//!
//! [`suite`] is shared with the workspace's other suites (sinks and queues, in its unpublished
//! test kit); [`http1`], [`net`] and [`errors`] are the byte-level helpers the suite's servers
//! and leak checks use, shared with the workspace's own test servers.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod errors;
pub mod http1;
pub mod net;
pub mod suite;
pub mod transport;
