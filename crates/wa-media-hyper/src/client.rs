//! The ready client: [`HyperClientBuilder`] configures core's protocol client and the hyper
//! transport in one place and builds a [`HyperMediaClient`] (`MediaClient<HyperTransport>`).

use std::net::SocketAddr;
use std::time::Duration;

use wa_media_core::{
    AccessToken, ClientConfig, ConfigBuilder, MediaClient, RetryPolicy, Timeouts, TrustedHosts,
};
use wa_media_types::ApiVersion;

use crate::error::BuildError;
use crate::transport::{HyperTransport, HyperTransportBuilder};

/// The production media client: core's [`MediaClient`] on [`HyperTransport`]. Implements
/// [`wa_media_core::MediaApi`] (upload, retrieve, download, delete) and, through
/// [`wa_media_core::MediaApiExt`], `fetch` and `fetch_to_file`. Clones share one connection
/// pool.
pub type HyperMediaClient = MediaClient<HyperTransport>;

/// A builder for a [`HyperMediaClient`] with production defaults: Graph at
/// `https://graph.facebook.com`, the token sent only there and to `lookaside.fbsbx.com`,
/// retries with backoff, core's default timeouts, built-in roots, HTTP/2 by ALPN.
///
/// Same as [`HyperMediaClient::builder`]`(transport)` from core, but the transport's settings
/// (roots, address overrides, HTTP versions) and the connect timeout are configured here too.
///
/// ```no_run
/// use wa_media_hyper::{MediaApiExt, MediaId};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = wa_media_hyper::builder()
///     .token(std::env::var("WA_TOKEN")?)
///     .phone_number_id("106540352242922")
///     .build()?;
/// let id: MediaId = "1037543291543636".parse()?;
/// let file = client.fetch_to_file(&id, "photo.jpg".as_ref()).await?;
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

    /// The access token (required). Never printed: Debug shows `AccessToken(***)`.
    pub fn token(mut self, token: impl Into<AccessToken>) -> Self {
        self.config = self.config.token(token);
        self
    }

    /// The business phone number id (required for uploads).
    pub fn phone_number_id(mut self, id: impl AsRef<str>) -> Self {
        self.config = self.config.phone_number_id(id);
        self
    }

    /// The Graph API version (default `v23.0`).
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.config = self.config.api_version(version);
        self
    }

    /// The Graph base URL (default `https://graph.facebook.com`; `http://` only on loopback,
    /// e.g. the emulator).
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.config = self.config.graph_url(url);
        self
    }

    /// Adds a download host that may receive the token (`host`, `host:port`, `*.domain`).
    pub fn trust_host(mut self, entry: impl Into<String>) -> Self {
        self.config = self.config.trust_host(entry);
        self
    }

    /// Replaces the download-host allowlist (default: `lookaside.fbsbx.com` over https).
    pub fn trusted_hosts(mut self, hosts: TrustedHosts) -> Self {
        self.config = self.config.trusted_hosts(hosts);
        self
    }

    /// How failures are retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.config = self.config.retry_policy(policy);
        self
    }

    /// All timeouts; `connect` is applied by the transport (TCP and TLS together), the others
    /// by core.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.config = self.config.timeouts(timeouts);
        self
    }

    /// Only the connect timeout (TCP connect and TLS handshake).
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        let t = self.config.current_timeouts().with_connect(timeout.into());
        self.config = self.config.timeouts(t);
        self
    }

    /// The `User-Agent` (default `wa-media/<version>`; one is always sent).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.config = self.config.user_agent(user_agent);
        self
    }

    /// Sends `phone_number_id` with retrieve and delete, so the API acts only on media of
    /// that number.
    pub fn scope_to_phone_number(mut self, yes: bool) -> Self {
        self.config = self.config.scope_to_phone_number(yes);
        self
    }

    /// Turns local pre-upload validation on (default) or off.
    pub fn validate_uploads(mut self, yes: bool) -> Self {
        self.config = self.config.validate_uploads(yes);
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

    /// Replaces the whole transport configuration (pool sizes, buffers, keepalive…). The
    /// connect timeout still comes from [`Self::timeouts`] / [`Self::connect_timeout`].
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
        let connect = self.config.current_timeouts().connect;
        let config: ClientConfig = self.config.build().map_err(BuildError::Config)?;
        let transport = match self.prebuilt {
            Some(t) => t,
            None => self.transport.connect_timeout(connect).build()?,
        };
        Ok(MediaClient::new(transport, config))
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
        let client = b.build().unwrap();
        assert!(!format!("{client:?}").contains("SECRET"));
        assert_eq!(
            client.config().timeouts.connect,
            Some(Duration::from_secs(3))
        );
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
