//! The ready client: [`HyperClientBuilder`] configures core's protocol client and the hyper
//! transport in one place and builds a [`HyperMediaClient`] (core's `MediaClient` on
//! [`HyperTransport`] with tokio's timer).

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::Duration;

use std::sync::Arc;

use wa_media_core::types::{MediaId, MediaUrlResponse, PhoneNumberId, SendMedia, SentMessage};
use wa_media_core::{
    AccessToken, ConfigBuilder, Download, Error, MediaApi, MediaClient, MessagingApi, Upload,
};

use crate::error::BuildError;
use crate::timer::TokioTimer;
use crate::transport::{HyperTransport, HyperTransportBuilder};

/// The production media client: core's [`MediaClient`] on [`HyperTransport`] with tokio's
/// timer. Implements [`MediaApi`] (upload, retrieve, download, delete) and
/// [`MessagingApi`]; through [`wa_media_core::MediaApiExt`], `fetch` and `fetch_to_file`; and
/// dereferences to the [`MediaClient`] for the rest (`config`, `send_file`,
/// `retrieve_with_body`). Clones share one connection pool.
///
/// ```
/// let client = wa_media_hyper::HyperMediaClient::builder()
///     .token("EAAG...")
///     .phone_number_id("106540352242922")
///     .build()
///     .unwrap();
/// assert!(!format!("{client:?}").contains("EAAG"));
/// ```
#[derive(Debug, Clone)]
pub struct HyperMediaClient {
    inner: MediaClient<HyperTransport>,
}

impl HyperMediaClient {
    /// A [`HyperClientBuilder`] with every default (same as [`builder`]).
    pub fn builder() -> HyperClientBuilder {
        HyperClientBuilder::default()
    }

    /// Core's client inside.
    pub fn into_inner(self) -> MediaClient<HyperTransport> {
        self.inner
    }

    /// A clone acting for another business phone number, sharing this client's connection
    /// pool and every other setting ([`MediaClient::with_phone_number_id`]): a provider serving
    /// many numbers builds one client and takes a clone per number or per call.
    pub fn with_phone_number_id(&self, phone_number_id: PhoneNumberId) -> Self {
        Self {
            inner: self.inner.with_phone_number_id(phone_number_id),
        }
    }

    /// A clone sending another (static) access token, sharing the connection pool
    /// ([`MediaClient::with_token`]).
    pub fn with_token(&self, token: impl Into<AccessToken>) -> Self {
        Self {
            inner: self.inner.with_token(token),
        }
    }
}

impl Deref for HyperMediaClient {
    type Target = MediaClient<HyperTransport>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl From<HyperMediaClient> for MediaClient<HyperTransport> {
    fn from(c: HyperMediaClient) -> Self {
        c.inner
    }
}

#[async_trait::async_trait]
impl MediaApi for HyperMediaClient {
    async fn upload(&self, upload: Upload) -> Result<MediaId, Error> {
        self.inner.upload(upload).await
    }
    async fn retrieve(&self, id: &MediaId) -> Result<MediaUrlResponse, Error> {
        self.inner.retrieve(id).await
    }
    async fn download(&self, media: &MediaUrlResponse) -> Result<Download, Error> {
        self.inner.download(media).await
    }
    async fn delete(&self, id: &MediaId) -> Result<(), Error> {
        self.inner.delete(id).await
    }
    fn for_phone_number(&self, phone_number_id: &PhoneNumberId) -> Option<Arc<dyn MediaApi>> {
        self.inner.for_phone_number(phone_number_id)
    }
}

#[async_trait::async_trait]
impl MessagingApi for HyperMediaClient {
    async fn send_media(&self, msg: &SendMedia) -> Result<SentMessage, Error> {
        self.inner.send_media(msg).await
    }
}

/// A builder for a [`HyperMediaClient`] with production defaults: Graph at
/// `https://graph.facebook.com`, the token sent only there and to `lookaside.fbsbx.com`,
/// retries with backoff, core's default timeouts, a 10 s connect timeout, built-in roots,
/// HTTP/2 by ALPN, tokio's timer.
///
/// Every setting of core's [`ConfigBuilder`] (token, phone number id, Graph URL, trusted
/// hosts, retry policy, timeouts, …) is here under the same name, next to the transport's
/// (roots, address overrides, HTTP versions, the connect timeout).
///
/// ```no_run
/// use wa_media_hyper::{MediaApiExt, MediaId};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = wa_media_hyper::builder()
///     .token(std::env::var("WA_TOKEN")?)
///     .phone_number_id("106540352242922")
///     .build()?;
/// let id: MediaId = "1037543291543636".parse()?;
/// let file = client.fetch_to_file(&id, "photo.jpg").await?;
/// println!("{} bytes, sha256 {}", file.file_size, file.sha256);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct HyperClientBuilder {
    config: ConfigBuilder,
    transport: HyperTransportBuilder,
    prebuilt: Option<HyperTransport>,
}

/// Starts a [`HyperClientBuilder`].
pub fn builder() -> HyperClientBuilder {
    HyperClientBuilder::default()
}

impl HyperClientBuilder {
    /// A builder with every default.
    pub fn new() -> Self {
        Self::default()
    }

    wa_media_core::config_setters!(config);

    /// The connect timeout (TCP connect and TLS handshake together; default
    /// [`crate::DEFAULT_CONNECT_TIMEOUT`]), applied by the transport.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.transport = self.transport.connect_timeout(timeout);
        self
    }

    /// Trusts the certificates of a PEM document as TLS roots (e.g. a staging CA, or the
    /// emulator's `ca_certificate_pem()`).
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.transport = self.transport.add_root_certificate_pem(pem);
        self
    }

    /// Trusts one DER certificate as a TLS root.
    pub fn add_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.transport = self.transport.add_root_certificate_der(der);
        self
    }

    /// Whether the built-in root stores (features `webpki-roots`, `native-roots`) are trusted.
    /// Default `true`; turn off to trust only the added certificates.
    pub fn built_in_roots(mut self, enabled: bool) -> Self {
        self.transport = self.transport.built_in_roots(enabled);
        self
    }

    /// Connects to `addr` for `name` (`host` or `host:port`) while TLS and `Host` keep the
    /// name: points `graph.facebook.com` and `lookaside.fbsbx.com` at a staging server or the
    /// emulator without touching DNS.
    pub fn resolve(mut self, name: &str, addr: SocketAddr) -> Self {
        self.transport = self.transport.resolve(name, addr);
        self
    }

    /// Whether HTTP/2 is offered by ALPN (default `true`).
    pub fn http2(mut self, enabled: bool) -> Self {
        self.transport = self.transport.http2(enabled);
        self
    }

    /// Sends every request through the HTTP proxy at `url` (`http://[user:password@]host:port`)
    /// instead of the one the environment names; `NO_PROXY` still applies. The token never
    /// reaches the proxy: see [`HyperTransportBuilder::proxy`].
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.transport = self.transport.proxy(url);
        self
    }

    /// Never uses a proxy. Without it, `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`
    /// are honoured as curl does (see [`HyperTransportBuilder::no_proxy`]).
    pub fn no_proxy(mut self) -> Self {
        self.transport = self.transport.no_proxy();
        self
    }

    /// Reads the proxy variables through `lookup` instead of the process environment (see
    /// [`HyperTransportBuilder::proxy_env_with`]).
    pub fn proxy_env_with(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        self.transport = self.transport.proxy_env_with(lookup);
        self
    }

    /// Replaces the whole transport configuration (pool sizes, buffers, keepalive…), the
    /// connect timeout included.
    pub fn transport_builder(mut self, transport: HyperTransportBuilder) -> Self {
        self.transport = transport;
        self
    }

    /// Uses an existing transport, sharing its connection pool (e.g. one pool for clients of
    /// several phone numbers). This builder's transport settings are then ignored.
    pub fn transport(mut self, transport: HyperTransport) -> Self {
        self.prebuilt = Some(transport);
        self
    }

    /// Checks the configuration and builds the client. Needs no runtime; using it needs tokio.
    ///
    /// # Errors
    /// [`BuildError::Config`] for a missing or malformed token, phone number id, Graph URL or
    /// trusted host; the transport's errors for roots and overrides.
    pub fn build(self) -> Result<HyperMediaClient, BuildError> {
        let config = self.config.build().map_err(BuildError::Config)?;
        let transport = match self.prebuilt {
            Some(t) => t,
            None => self.transport.build()?,
        };
        Ok(HyperMediaClient {
            inner: MediaClient::with_timer(transport, TokioTimer, config),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_token_is_a_config_error_and_debug_hides_the_token() {
        let err = builder()
            .phone_number_id("106540352242922")
            .build()
            .unwrap_err();
        assert!(matches!(err, BuildError::Config(_)), "{err}");

        let b = builder()
            .token("EAAG-SECRET-TOKEN")
            .connect_timeout(Duration::from_secs(3));
        assert!(!format!("{b:?}").contains("SECRET"));
        // The connect timeout is the transport's setting.
        assert!(
            format!("{b:?}").contains("connect_timeout: Some(3s)"),
            "{b:?}"
        );
        let client = b.build().unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
    }

    #[test]
    fn transport_errors_surface_from_the_client_builder() {
        let err = builder()
            .token("t")
            .built_in_roots(false)
            .build()
            .unwrap_err();
        assert!(matches!(err, BuildError::NoRootCertificates), "{err}");
    }
}
