//! Test support shared by the wa-media crates' integration tests, written once instead of
//! copied into each test crate. Never published; a dev-dependency by path only.
//!
//! What needs more than `std` is behind a feature, so a crate's tests build only what they use:
//! `net` ([`net`], [`hostile`]: servers and waits on tokio), `tls` ([`tls`]: a generated CA),
//! `conformance` ([`conformance`]: the `Transport` conformance suite, published as
//! `wa-media-conformance` and re-exported here with the emulator's adapter), `proxy` ([`proxy`]: a
//! CONNECT proxy), `moto` ([`moto`]: moto's S3 server for the object-store tests; `moto-s3`
//! adds `moto::s3_store`), `tmpfs` ([`tmpfs`]: a small tmpfs to fill and free), `sink-conformance`
//! ([`sink_conformance`]: the `Sink` conformance suite), `client` ([`client`]: wa-media-hyper's client on an emulator),
//! `queue-conformance` ([`queue_conformance`]: the `Queue` conformance suite), `postgres`
//! ([`postgres`]: a database of the test's own), `fuzz`, `fuzz-core` and `fuzz-emulator` ([`fuzz`]: the harnesses the fuzz targets and the
//! corpus replays share). Std only: [`ids`] (many distinct phone number ids) and [`process`]
//! (a test run in a child process, and its memory).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use wa_media_conformance::errors;
pub mod fs;
pub use wa_media_conformance::http1;
pub mod ids;
pub mod paths;
pub mod process;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "fuzz")]
pub mod fuzz;
#[cfg(feature = "net")]
pub mod hostile;
#[cfg(feature = "moto")]
pub mod moto;
#[cfg(feature = "net")]
pub mod net;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "proxy")]
pub mod proxy;
#[cfg(feature = "queue-conformance")]
pub mod queue_conformance;
#[cfg(feature = "receiver")]
pub mod receiver;
#[cfg(feature = "sink-conformance")]
pub mod sink_conformance;
/// What the conformance suites share (published in `wa-media-conformance`).
pub use wa_media_conformance::suite;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tmpfs")]
pub mod tmpfs;
