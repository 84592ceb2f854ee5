//! [`ClientBuilder`]: the one builder of a [`MediaClient`], whatever carries its requests.
//!
//! Every client setting (token, phone number id, Graph URL, trusted hosts, retries, timeouts,
//! …) is written here once. What the builder knows of the transport is one slot: a ready
//! [`Transport`], or a transport's own builder ([`BuildTransport`]) that [`ClientBuilder::build`]
//! builds, so a transport crate's settings stay on its own builder
//! (`wa_media_hyper::builder()` is this builder with the hyper transport's builder in the slot).

use std::sync::Arc;

use crate::config::Settings;
use crate::error::ConfigError;
use crate::retry::RetryPolicy;
use crate::timeouts::Timeouts;
use crate::timer::{default_timer, SharedTimer, Timer};
use crate::token::{AccessToken, TokenSource, Tokens};
use crate::transport::Transport;
use crate::trust::TrustedHosts;
use wa_media_types::{ApiVersion, PhoneNumberId};

use super::MediaClient;

/// What fills a [`ClientBuilder`]'s transport slot: something [`ClientBuilder::build`] can turn
/// into the client's transport.
///
/// Every [`Transport`] is one (it is used as it is, and the build fails only with a
/// [`ConfigError`]). A transport crate implements it for its own builder, so that its settings
/// and its build errors stay its own: `wa_media_hyper::HyperTransportBuilder` builds a
/// `HyperTransport`, and a client built with it fails with `wa_media_hyper::BuildError`.
pub trait BuildTransport {
    /// The error of [`ClientBuilder::build`]: the transport's own build error, which also
    /// carries the client configuration's [`ConfigError`].
    type Error: From<ConfigError>;

    /// Builds the transport (called once, by [`ClientBuilder::build`], after the client
    /// settings were checked).
    fn build_transport(self) -> Result<Arc<dyn Transport>, Self::Error>;
}

impl<T: Transport> BuildTransport for T {
    type Error = ConfigError;

    fn build_transport(self) -> Result<Arc<dyn Transport>, ConfigError> {
        Ok(Arc::new(self))
    }
}

/// Builds a [`MediaClient`]: the client settings, the [`Timer`] and the transport slot (`B`: a
/// [`Transport`], or a transport's builder; see [`BuildTransport`]). Every setting is checked
/// by [`ClientBuilder::build`].
///
/// Start from [`MediaClient::builder`] with your transport, or from `wa_media_hyper::builder()`
/// (this builder with the hyper transport's builder and tokio's timer already in place), and
/// change the transport's own settings with [`map_transport`](Self::map_transport).
///
/// Debug output shows the token as `AccessToken(***)` (or `TokenSource(..)`).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClientBuilder<B> {
    transport: B,
    timer: SharedTimer,
    settings: Settings,
}

impl<B> ClientBuilder<B> {
    /// A builder with every default around `transport` (what [`MediaClient::builder`] returns).
    pub fn new(transport: B) -> Self {
        Self {
            transport,
            timer: default_timer(),
            settings: Settings::default(),
        }
    }

    /// The access token (this or [`token_source`](Self::token_source) is required). Never
    /// printed: Debug shows `AccessToken(***)`.
    pub fn token(mut self, token: impl Into<AccessToken>) -> Self {
        self.settings.token = Some(Tokens::Static(token.into()));
        self
    }

    /// Where the token comes from when it rotates (replaces [`token`](Self::token)): asked at
    /// each operation, and once more after Graph rejects a token (code 190). See
    /// [`TokenSource`].
    pub fn token_source(mut self, source: impl TokenSource) -> Self {
        self.settings.token = Some(Tokens::Source(Arc::new(source)));
        self
    }

    /// The business phone number id (required for uploads and sends; an upload's own
    /// [`crate::Upload::phone_number_id`] wins). Checked by [`build`](Self::build).
    pub fn phone_number_id(mut self, id: impl AsRef<str>) -> Self {
        self.settings.phone_number_id =
            Some(PhoneNumberId::new(id.as_ref()).map_err(|e| e.to_string()));
        self
    }

    /// The Graph API version of every path (default [`ApiVersion::DEFAULT`], that is
    /// [`wa_media_types::DEFAULT_API_VERSION`]).
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.settings.api_version = version;
        self
    }

    /// The Graph base URL (default [`crate::DEFAULT_GRAPH_URL`]; `http://` only on loopback,
    /// e.g. the emulator's `http://127.0.0.1:port`). Its origin always receives the token.
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.settings.graph_url = url.into();
        self
    }

    /// Adds a download host that may receive the token (`host`, `host:port`, `*.domain`).
    pub fn trust_host(mut self, entry: impl Into<String>) -> Self {
        self.settings.trust_entries.push(entry.into());
        self
    }

    /// Replaces the download-host allowlist (default: `lookaside.fbsbx.com` over https).
    pub fn trusted_hosts(mut self, hosts: TrustedHosts) -> Self {
        self.settings.trusted_hosts = hosts;
        self
    }

    /// How failures are retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// The timeouts core applies (request, idle body, body deadline). The connect timeout is
    /// the transport's.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.settings.timeouts = timeouts;
        self
    }

    /// The `User-Agent` (default [`crate::DEFAULT_USER_AGENT`]; an empty value keeps the
    /// default). Core puts it on every request; the transport sends it as given.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.settings.user_agent = user_agent.into();
        self
    }

    /// Sends `phone_number_id` with retrieve and delete, so the API acts only on media of that
    /// number (see [`crate::ClientConfig::scope_to_phone_number`]).
    pub fn scope_to_phone_number(mut self, yes: bool) -> Self {
        self.settings.scope_to_phone_number = yes;
        self
    }

    /// Turns local pre-upload validation on (default) or off.
    pub fn validate_uploads(mut self, yes: bool) -> Self {
        self.settings.validate_uploads = yes;
        self
    }

    /// Test hook: a fixed multipart boundary, so snapshots of upload bodies are stable.
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn fixed_boundary(mut self, boundary: impl Into<String>) -> Self {
        self.settings.fixed_boundary = Some(boundary.into());
        self
    }

    /// The timer for backoff and timeouts (default [`crate::FuturesTimer`]); pass your
    /// runtime's timer (`wa_media_hyper::builder()` starts with tokio's).
    pub fn timer(mut self, timer: impl Timer) -> Self {
        self.timer = Arc::new(timer);
        self
    }

    /// Replaces what is in the transport slot: another transport (e.g. a clone of an existing
    /// one, to share its connection pool), or another transport builder.
    pub fn transport<T>(self, transport: T) -> ClientBuilder<T> {
        ClientBuilder {
            transport,
            timer: self.timer,
            settings: self.settings,
        }
    }

    /// Changes what is in the transport slot: the way to reach a transport builder's own
    /// settings.
    ///
    /// ```
    /// # use wa_media_core::{MediaClient, RequestBody, ResponseBody, TransportError};
    /// # #[derive(Debug, Default)]
    /// # struct MyTransportBuilder { pool: usize }
    /// # impl MyTransportBuilder { fn pool(self, pool: usize) -> Self { Self { pool } } }
    /// let builder = MediaClient::builder(MyTransportBuilder::default())
    ///     .token("EAAG...")
    ///     .map_transport(|t| t.pool(4));
    /// # let _ = builder;
    /// ```
    pub fn map_transport(mut self, configure: impl FnOnce(B) -> B) -> Self {
        self.transport = configure(self.transport);
        self
    }
}

impl<B: BuildTransport> ClientBuilder<B> {
    /// Checks the settings, builds the transport ([`BuildTransport`]) and returns the client.
    ///
    /// # Errors
    /// The transport builder's error type: [`ConfigError`] for a ready transport; the
    /// transport's build error (e.g. `wa_media_hyper::BuildError`) otherwise, carrying any
    /// [`ConfigError`]. The settings are checked first.
    pub fn build(self) -> Result<MediaClient, B::Error> {
        let config = self.settings.check()?;
        let transport = self.transport.build_transport()?;
        Ok(MediaClient::from_parts(transport, self.timer, config))
    }
}
