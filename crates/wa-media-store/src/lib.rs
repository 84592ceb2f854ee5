#![doc = include_str!("../README.md")]
//!
//! # What is here
//!
//! - [`fetch_to_store`]: retrieve a fresh URL, stream the download into a multipart upload
//!   while core's [`wa_media_core::Download`] verifies size and SHA-256, complete only after
//!   verification, abort on any failure and when the future is dropped. Content type and
//!   metadata (SHA-256, media id, message id) where the store keeps them; two parts in memory
//!   at most. [`PendingAborts`] counts the aborts dropped fetches spawned, so a process waits
//!   for them before it exits.
//! - [`upload_from_store`]: an [`wa_media_core::Upload`] streamed from an object, validated
//!   like a file (size from `head`, sniffing from a ranged read of the first bytes).
//! - With feature `sink`: `ObjectStoreSink`, a `wa-media-webhook` `Sink` writing
//!   `prefix/YYYY-MM-DD/<name>` and one JSON metadata object per media beside it.
//! - [`StoreUrl`] / [`open_store`]: `s3://bucket/prefix`, `gs://…`, `az://…`, `file:///dir`,
//!   `memory://` to a store and a prefix; the cloud stores speak HTTP through hyper and rustls
//!   with ring (no reqwest, no aws-lc-rs).
//!
//! Configuration, credentials, atomicity and a lifecycle rule for incomplete multipart
//! uploads: docs/object-store.md.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aborts;
#[cfg(feature = "__http")]
mod connector;
mod error;
mod fetch;
mod open;
#[cfg(feature = "sink")]
mod sink;
mod upload;

pub use aborts::PendingAborts;
#[cfg(feature = "__http")]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "aws", feature = "gcp", feature = "azure")))
)]
pub use connector::HyperConnector;
pub use error::StoreError;
pub use fetch::{
    fetch_to_store, StoreOptions, StoredObject, DEFAULT_PART_SIZE, META_MEDIA_ID, META_MESSAGE_ID,
    META_SHA256, MIN_PART_SIZE,
};
pub use open::{open_store, StoreUrl};
#[cfg(feature = "sink")]
#[cfg_attr(docsrs, doc(cfg(feature = "sink")))]
pub use sink::ObjectStoreSink;
pub use upload::upload_from_store;

/// The `object_store` crate this one is built on (its version is part of this crate's API).
pub use object_store;
