//! A [`wa_media_core::Transport`] on [reqwest](https://docs.rs/reqwest) 0.13, for services that
//! already hold a `reqwest::Client`: its connection pool, proxies and TLS settings carry the
//! media requests too. Both bodies stream: a 100 MB upload is read from its source as reqwest
//! sends it, and a download is handed to the client's verification chunk by chunk.
//!
//! ```no_run
//! use wa_media_reqwest::ReqwestTransport;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Your own client, built without redirects (the Transport rules: a 3xx is returned).
//! let http = reqwest::Client::builder()
//!     .redirect(reqwest::redirect::Policy::none())
//!     .build()?;
//! let client = wa_media_core::MediaClient::builder(ReqwestTransport::from_client(http))
//!     .token(std::env::var("WHATSAPP_TOKEN")?)
//!     .phone_number_id("106540352242922")
//!     .build()?;
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! [`ReqwestTransport::new`] builds a client of its own: rustls with the `ring` provider and the
//! webpki roots (no native-tls, no aws-lc-rs build), HTTP/1.1 and HTTP/2, no redirects, no
//! proxy lookup.
//!
//! How reqwest's failures map onto [`TransportErrorKind`]: connecting failed → `Connect`
//! (`ConnectTimeout` when the connect timeout fired), a response head that is not HTTP →
//! `Decode`, any other failure before the response head → `Request` (the request MAY have been
//! sent), a failure while the response body arrives → `Interrupted`. Errors never hold the URL
//! (`reqwest::Error::without_url`) or a header. The crate passes the Transport conformance suite
//! (`wa-media-conformance`) with every rule applicable; its tests also run the emulator round
//! trip (upload, retrieve, download, delete) through it.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::error::Error as StdError;
use std::sync::Arc;

use http_body_util::BodyExt;
use wa_media_core::{RequestBody, ResponseBody, Transport, TransportError, TransportErrorKind};

pub use reqwest;

/// Carries wa-media's requests on a `reqwest::Client`. Cheap to clone (the client is a handle
/// to one pool).
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

/// Why [`ReqwestTransport::new`] could not build its client.
#[derive(Debug)]
pub struct BuildError(reqwest::Error);

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot build the reqwest client: {}", self.0)
    }
}

impl StdError for BuildError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

impl ReqwestTransport {
    /// A transport on a client of its own: rustls (ring, webpki roots), no redirects, no proxy.
    pub fn new() -> Result<Self, BuildError> {
        Self::from_builder(reqwest::Client::builder().no_proxy())
    }

    /// A transport on the client `builder` builds, with the settings the Transport rules need
    /// put on it: no redirects, and (unless the builder was given TLS settings of its own,
    /// which this cannot see: then call [`from_client`](Self::from_client)) rustls with ring
    /// and the webpki roots.
    pub fn from_builder(builder: reqwest::ClientBuilder) -> Result<Self, BuildError> {
        let client = builder
            .tls_backend_preconfigured(rustls_config())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(BuildError)?;
        Ok(Self { client })
    }

    /// A transport on your client, shared with the rest of your service. It must not follow
    /// redirects: build it with `.redirect(reqwest::redirect::Policy::none())`. (reqwest has no
    /// per-request redirect setting, so this cannot be checked; a client that follows them
    /// fails the conformance rule `redirects_are_returned_not_followed`, and the media client,
    /// which checks every download host before it sends the token, would see the final
    /// response of a chain it never approved.)
    pub fn from_client(client: reqwest::Client) -> Self {
        Self { client }
    }

    /// The client, to share it.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

/// rustls with the ring provider, the webpki roots, TLS 1.2 and 1.3, ALPN h2 and http/1.1.
fn rustls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

#[async_trait::async_trait]
impl Transport for ReqwestTransport {
    /// Sends the request as given (core has put every header on it). A body of known length
    /// gets a `Content-Length` when the request has none; others are sent chunked.
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let (mut parts, body) = request.into_parts();
        let body = match (body.as_bytes(), body.len()) {
            (Some(bytes), _) => reqwest::Body::from(bytes::Bytes::copy_from_slice(bytes)),
            (None, len) => {
                if let Some(len) = len {
                    parts
                        .headers
                        .entry(http::header::CONTENT_LENGTH)
                        .or_insert_with(|| http::HeaderValue::from(len));
                }
                reqwest::Body::wrap_stream(body.into_data_stream())
            }
        };
        let request = http::Request::from_parts(parts, body);
        let request = reqwest::Request::try_from(request)
            .map_err(|e| TransportError::new(TransportErrorKind::Request, e.without_url()))?;
        let response = self.client.execute(request).await.map_err(map_error)?;
        let response = http::Response::from(response);
        Ok(response.map(|body| {
            ResponseBody::new(body.map_err(|e| {
                let e = e.without_url();
                let kind = if is_parse_error(&e) {
                    TransportErrorKind::Decode
                } else {
                    TransportErrorKind::Interrupted
                };
                TransportError::new(kind, e)
            }))
        }))
    }
}

/// A failure before the response head arrived (see the crate docs for the mapping).
fn map_error(err: reqwest::Error) -> TransportError {
    let err = err.without_url();
    let kind = if err.is_connect() {
        if err.is_timeout() {
            TransportErrorKind::ConnectTimeout
        } else {
            TransportErrorKind::Connect
        }
    } else if is_parse_error(&err) {
        TransportErrorKind::Decode
    } else {
        TransportErrorKind::Request
    };
    TransportError::new(kind, err)
}

/// Whether hyper, under reqwest, found bytes that are not HTTP.
fn is_parse_error(err: &(dyn StdError + 'static)) -> bool {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            return h.is_parse() || h.is_parse_status();
        }
        cur = e.source();
    }
    false
}
