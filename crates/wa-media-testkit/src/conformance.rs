//! The [`Transport`](wa_media_core::Transport) conformance suite, from its published home
//! (`wa_media_conformance::transport`, re-exported here whole), plus [`in_process`]: the suite
//! adapted to the emulator's in-process transport, which has no sockets.
//!
//! ```no_run
//! # async fn example(my_transport: impl wa_media_core::Transport) {
//! let report = wa_media_testkit::conformance::run(&my_transport).await;
//! report.assert_conforms(); // panics naming every rule that failed, and why
//! # }
//! ```

pub use wa_media_conformance::transport::*;

#[cfg(feature = "conformance-emulator")]
pub mod in_process;
