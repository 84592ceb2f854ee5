//! The production WhatsApp Cloud API media client on hyper 1.x, hyper-rustls (ring) and tokio.
//!
//! This crate adds no protocol: it implements `wa_media_core`'s [`Transport`] on hyper-util's
//! pooled client ([`HyperTransport`]). Every rule of the media API — URLs, where the token may
//! go, retries, timeouts, SHA-256 verification, atomic file writes — lives in `wa_media_core`
//! and is shared with every other transport.
//!
//! TLS uses rustls with the **ring** crypto provider, chosen for the whole workspace: it builds
//! about twice as fast as aws-lc-rs, gives half the binary, runs at the same steady-state speed
//! and makes a new process's first handshake in ~1 ms (aws-lc-rs: 22–64 ms). Roots come from
//! Mozilla's store (feature `webpki-roots`, default) and/or the OS store (feature
//! `native-roots`), plus any PEM certificates given to the builder.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]

mod client;
mod connector;
mod error;
mod tls;
mod transport;

pub use client::{builder, HyperClientBuilder, HyperMediaClient};
pub use error::{BuildError, HyperError};
pub use transport::{
    HyperTransport, HyperTransportBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_IDLE_TIMEOUT,
    DEFAULT_USER_AGENT,
};

// One crate is enough for users: core's API, errors and configuration types, re-exported.
/// wa-media-core, for everything not re-exported above.
pub use wa_media_core;
pub use wa_media_core::types::{
    ApiVersion, MediaId, MediaKind, MediaType, MediaUrlResponse, PhoneNumberId, Sha256Digest,
};
pub use wa_media_core::{
    AccessToken, ApiError, ConfigError, Download, Error, FetchOptions, FetchedFile, IntegrityError,
    MediaApi, MediaApiExt, MediaClient, Progress, RequestBody, ResponseBody, RetryPolicy,
    TimeoutKind, Timeouts, Transport, TransportError, TransportErrorKind, TrustedHosts, Upload,
    UploadSource,
};

/// docs/custom-transport.md, compiled and run as doctests so its examples cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/custom-transport.md")]
pub struct CustomTransportGuide;
