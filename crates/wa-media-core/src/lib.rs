#![doc = include_str!("../README.md")]
//!
//! # Two levels
//!
//! 1. [`MediaApi`] — what applications depend on: upload, retrieve (the short-lived media
//!    URL), download (a verified stream of chunks) and delete. [`MediaApiExt`] adds, for every
//!    `MediaApi`, [`MediaApiExt::fetch`] (fresh URL, download, verify, refresh once when the
//!    URL expired) and [`MediaApiExt::fetch_to_file`] (atomic: nothing at the destination
//!    unless verified).
//!
//!    [`MessagingApi`] sits beside it: [`MessagingApi::send_media`] sends a media message by
//!    id or link, never twice; [`MediaClient::plan_send_file`] checks a file send once and
//!    [`MediaClient::send_planned`] uploads and sends it ([`MediaClient::send_file`]: both in
//!    one call).
//! 2. [`Transport`] — one method that sends an `http::Request` with a streaming body and
//!    returns an `http::Response` with a streaming body. [`MediaClient`] (one type, holding an
//!    `Arc<dyn Transport>`, built by [`ClientBuilder`]) implements `MediaApi` on any transport
//!    and enforces every protocol rule: URLs, the token only to trusted
//!    origins over https, multipart with an exact length, pre-upload validation, retries
//!    with backoff, timeouts, digest checks, error interpretation. The sans-I/O rules (building
//!    requests, interpreting responses, the multipart encoder) are core's own, public only
//!    with the `test-util` feature; a transport needs nothing but [`Transport`] and its body
//!    and error types.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
mod client;
mod config;
mod deadline;
mod download;
mod error;
mod fetch;
mod fetch_options;
// The sans-I/O rules: core's own. With feature `test-util` they are public for this
// workspace's tests, fuzzing and benches (not a stable API; a transport needs none of it).
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod multipart;
#[cfg(not(feature = "test-util"))]
mod multipart;
mod progress;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod protocol;
#[cfg(not(feature = "test-util"))]
mod protocol;
mod retry;
mod retry_class;
mod send;
mod temp_file;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod test_util;
mod timeouts;
mod timer;
mod token;
mod transport;
mod trust;
mod upload;

pub use api::MediaApi;
pub use client::{BuildTransport, ClientBuilder, MediaClient, ResumableUpload};
pub use config::{ClientConfig, DEFAULT_GRAPH_URL, DEFAULT_USER_AGENT};
pub use download::{Download, Expected};
pub use error::{error_chain, ApiError, ConfigError, Error, IntegrityError};
pub use fetch::MediaApiExt;
pub use fetch_options::{Existing, FetchOptions, FetchedFile};
pub use progress::Progress;
pub use retry::{parse_retry_after, restarting, Retry, RetryPolicy, Retryable};
pub use send::{MessagingApi, SendFileError, SendOptions, SendPlan};
pub use temp_file::clean_partial_files;
pub use timeouts::{TimeoutKind, Timeouts};
pub use timer::{FuturesTimer, Timer};
pub use token::{AccessToken, TokenSource};
pub use transport::{
    BoxError, BoxFuture, RequestBody, ResponseBody, Transport, TransportError, TransportErrorKind,
};
pub use trust::{is_loopback, TrustedHosts, DEFAULT_DOWNLOAD_HOST};
pub use upload::{ChunkStream, Upload, UploadSource, FILE_CHUNK};
