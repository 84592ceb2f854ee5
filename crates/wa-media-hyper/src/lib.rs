#![doc = include_str!("../README.md")]
//!
//! # How it is built
//!
//! This crate adds no protocol. [`HyperTransport`] implements `wa_media_core`'s [`Transport`]
//! on hyper-util's pooled client; [`builder`] is core's [`ClientBuilder`] with the transport's
//! builder ([`HyperTransportBuilder`]) and tokio's timer ([`TokioTimer`]) in place, and builds
//! core's [`MediaClient`] — the one client type, whatever the transport. Every
//! rule of the media API — URLs, where the token may go, retries, timeouts, SHA-256
//! verification, atomic files — lives in `wa_media_core` and is shared with every other
//! transport (see docs/custom-transport.md to plug in your own HTTP stack).
//!
//! What the transport provides:
//! - one connection pool per transport, shared by every clone and every operation; HTTP/1.1
//!   and HTTP/2 (ALPN) over TLS, HTTP/1.1 over plain `http://` (loopback emulators);
//! - a connect timeout covering TCP connect and the TLS handshake;
//! - address overrides ([`HyperTransportBuilder::resolve`]): connect `graph.facebook.com` or
//!   `lookaside.fbsbx.com` to another address while TLS and `Host` keep the real name;
//! - HTTP proxies from `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (read as curl
//!   reads them) or [`HyperTransportBuilder::proxy`]: https through a `CONNECT` tunnel with TLS end
//!   to end, so the proxy never sees the token (docs/deploying.md, "Proxies");
//! - custom root certificates, with or without the built-in stores;
//! - streaming both ways (request bodies are sent as produced, with `Content-Length`;
//!   responses yield frames as they arrive); dropping a response body closes that HTTP/1
//!   connection (or resets the HTTP/2 stream) instead of returning it to the pool;
//! - every request sent as core built it (core sets the `User-Agent`); redirects returned,
//!   never followed.
//!
//! TLS uses rustls with the crypto provider chosen by feature: **`ring`** (default; why, with
//! the measurements: "Build-time and dependency choices" in docs/performance.md) or
//! **`aws-lc-rs`** (for applications that already link it; with both features on, aws-lc-rs is
//! used). The provider is passed explicitly, so rustls' process-wide default is never consulted
//! and linking both providers cannot make the build panic. Roots come from Mozilla's store
//! (feature `webpki-roots`, default) and/or the OS store (feature `native-roots`, which honours
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`), plus any PEM certificates given to the builder.
//!
//! hyper's HTTP/1 read buffer is left at its default (~400 KiB maximum): measured on this
//! project's machines, 1 MiB was within noise and 4–16 MiB gave nothing (docs/performance.md).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod connector;
mod error;
mod proxy;
mod reader;
mod timer;
mod tls;
mod transport;

pub use client::builder;
pub use error::{BuildError, HyperError};
pub use proxy::PROXY_VARIABLES;
pub use reader::{DownloadExt, DownloadReader};
pub use timer::TokioTimer;
pub use transport::{
    HyperTransport, HyperTransportBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_IDLE_TIMEOUT,
};

// One dependency is enough for users: re-exports of what a client's user names, each defined
// (and documented) in wa-media-core or wa-media-types, its one canonical path.
pub use wa_media_core::{
    clean_partial_files, AccessToken, ApiError, BoxError, BoxFuture, BuildTransport, ClientBuilder,
    ClientConfig, ConfigError, Download, Error, Existing, FetchOptions, FetchedFile,
    IntegrityError, MediaApi, MediaApiExt, MediaClient, MessagingApi, Progress, RequestBody,
    ResponseBody, RetryPolicy, SendFileError, SendOptions, SendPlan, TimeoutKind, Timeouts, Timer,
    TokenSource, Transport, TransportError, TransportErrorKind, TrustedHosts, Upload, UploadSource,
    DEFAULT_USER_AGENT,
};
pub use wa_media_types::{
    ApiVersion, MediaId, MediaKind, MediaRef, MediaType, MediaUrlResponse, PhoneNumberId,
    SendMedia, SendNote, SendValidationError, SentMessage, Sha256Digest, DEFAULT_API_VERSION,
};
