//! [`HyperTransport`]: core's [`Transport`] on hyper-util's pooled client with hyper-rustls.
//!
//! It owns only what is specific to an HTTP library — DNS (and its overrides), connecting
//! within the connect timeout, TLS, HTTP/1.1 and HTTP/2, and the connection pool. Every
//! protocol rule (URLs, the token and where it may go, retries, request and idle timeouts,
//! digests) lives in `wa_media_core::MediaClient`.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::CertificateDer;
use wa_media_core::{BuildTransport, RequestBody, ResponseBody, Transport, TransportError};

use crate::connector::{OverrideConnector, ResolveOverrides, TimeoutConnector};
use crate::error::{map_body_error, map_client_error, BuildError};
use crate::proxy::{EnvVars, ProxyConnector, ProxySettings};
use crate::tls::{self, RootsConfig};

type Connector = TimeoutConnector<hyper_rustls::HttpsConnector<ProxyConnector>>;

/// Default connect timeout (TCP connect and TLS handshake together).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// hyper's smallest allowed HTTP/1 read buffer (it panics below it).
const MIN_HTTP1_BUF: usize = 8 * 1024;

/// Default time an unused pooled connection is kept open.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// core's [`Transport`] on hyper 1.x: one pooled client (HTTP/1.1 and HTTP/2 over TLS by ALPN)
/// shared by every request and every clone.
///
/// Cloning is cheap (one `Arc`); all clones share one connection pool. Responses stream: the
/// body yields frames as hyper reads them. Dropping a response body before its end makes hyper
/// close that connection instead of returning it to the pool, so cancellation never leaves a
/// half-read connection for the next request. Redirects are returned, never followed.
///
/// Needs a tokio runtime (multi-thread recommended: hyper reads the socket on its own task while
/// the caller hashes).
///
/// ```
/// # fn main() -> Result<(), wa_media_hyper::BuildError> {
/// use std::time::Duration;
/// let transport = wa_media_hyper::HyperTransport::builder()
///     .connect_timeout(Duration::from_secs(5))
///     // Point the real hostname at a local server; TLS still checks `graph.facebook.com`.
///     .resolve("graph.facebook.com", "127.0.0.1:8443".parse().unwrap())
///     .build()?;
/// let same_pool = transport.clone();
/// # drop(same_pool);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HyperTransport {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client<Connector, RequestBody>,
    summary: Summary,
}

#[derive(Debug, Clone)]
struct Summary {
    connect_timeout: Option<Duration>,
    http2: bool,
    overrides: usize,
    custom_roots: usize,
    built_in_roots: bool,
    proxy: String,
}

impl HyperTransport {
    /// A builder with production defaults: built-in roots (by feature), HTTP/2 enabled, 10 s
    /// connect timeout, no overrides.
    pub fn builder() -> HyperTransportBuilder {
        HyperTransportBuilder::default()
    }

    /// A transport with all defaults.
    ///
    /// # Errors
    /// [`BuildError::NoRootCertificates`] when the crate was built without any root-store
    /// feature.
    pub fn new() -> Result<Self, BuildError> {
        Self::builder().build()
    }
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner.summary;
        f.debug_struct("HyperTransport")
            .field("connect_timeout", &s.connect_timeout)
            .field("http2", &s.http2)
            .field("resolve_overrides", &s.overrides)
            .field("custom_roots", &s.custom_roots)
            .field("built_in_roots", &s.built_in_roots)
            .field("proxy", &s.proxy)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Transport for HyperTransport {
    /// Sends the request as given (core has put every header on it, the `User-Agent`
    /// included).
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let response = self
            .inner
            .client
            .request(request)
            .await
            .map_err(map_client_error)?;
        Ok(response.map(|body| ResponseBody::new(body.map_err(map_body_error))))
    }
}

/// Configures a [`HyperTransport`]: roots, address overrides, timeouts, HTTP versions, pool,
/// proxies.
///
/// It is also what [`crate::builder`] puts in the client builder's transport slot
/// ([`BuildTransport`]): reach these settings there with
/// [`map_transport`](wa_media_core::ClientBuilder::map_transport).
#[derive(Debug, Clone)]
pub struct HyperTransportBuilder {
    roots: RootsConfig,
    overrides: ResolveOverrides,
    override_error: Option<String>,
    connect_timeout: Option<Duration>,
    http2: bool,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    http1_max_buf_size: Option<usize>,
    tcp_keepalive: Option<Duration>,
    proxy: ProxySettings,
}

impl Default for HyperTransportBuilder {
    fn default() -> Self {
        Self {
            roots: RootsConfig::default(),
            overrides: ResolveOverrides::default(),
            override_error: None,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            http2: true,
            pool_idle_timeout: Some(DEFAULT_POOL_IDLE_TIMEOUT),
            pool_max_idle_per_host: usize::MAX,
            http1_max_buf_size: None,
            tcp_keepalive: Some(Duration::from_secs(60)),
            proxy: ProxySettings::default(),
        }
    }
}

impl HyperTransportBuilder {
    /// Trusts the certificates in a PEM document (one or more `CERTIFICATE` blocks) as roots,
    /// in addition to the built-in roots unless [`Self::built_in_roots`] turns those off.
    /// Parsed by [`Self::build`], which reports a document without a certificate.
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.roots.pem.push(pem.as_ref().to_vec());
        self
    }

    /// Trusts one DER-encoded certificate as a root.
    pub fn add_root_certificate_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.roots.der.push(CertificateDer::from(der.into()));
        self
    }

    /// Whether to trust the root stores compiled in by feature (`webpki-roots`: Mozilla's,
    /// the default; `native-roots`: the operating system's). Default `true`. Turn it off to
    /// trust only the certificates added with [`Self::add_root_certificate_pem`] (e.g. the
    /// emulator's CA in a production-shaped test).
    pub fn built_in_roots(mut self, enabled: bool) -> Self {
        self.roots.built_in = enabled;
        self
    }

    /// Connects to `addr` instead of resolving `name`, keeping the original hostname for TLS
    /// (SNI and certificate check) and for the `Host` header — like curl's `--connect-to`.
    ///
    /// `name` is `host` (every port of that host) or `host:port` (only that port; wins over a
    /// bare `host` entry). An invalid name is reported by [`Self::build`].
    pub fn resolve(mut self, name: &str, addr: SocketAddr) -> Self {
        if self.overrides.insert(name, addr).is_err() && self.override_error.is_none() {
            self.override_error = Some(name.to_owned());
        }
        self
    }

    /// The connect timeout, covering TCP connect and the TLS handshake together (`None`: wait
    /// for the OS). Default 10 s. Exceeding it yields
    /// [`wa_media_core::TransportErrorKind::ConnectTimeout`].
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = timeout.into();
        self
    }

    /// Whether to offer HTTP/2 by ALPN on TLS connections (HTTP/1.1 is always offered; plain
    /// `http://` connections use HTTP/1.1). Default `true`.
    pub fn http2(mut self, enabled: bool) -> Self {
        self.http2 = enabled;
        self
    }

    /// How long an unused pooled connection is kept (`None`: until the server closes it).
    /// Default 60 s.
    pub fn pool_idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.pool_idle_timeout = timeout.into();
        self
    }

    /// The most idle connections kept per host. Default unbounded.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// hyper's HTTP/1 maximum read buffer in bytes (default hyper's, ~400 KiB, measured to be
    /// as fast as larger ones; never set it small — 16 KiB reads were 3.4× slower). Values
    /// below hyper's floor of 8 KiB are raised to it.
    pub fn http1_max_buf_size(mut self, bytes: usize) -> Self {
        self.http1_max_buf_size = Some(bytes.max(MIN_HTTP1_BUF));
        self
    }

    /// TCP keepalive probe interval for idle connections (`None`: off). Default 60 s.
    pub fn tcp_keepalive(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.tcp_keepalive = interval.into();
        self
    }

    /// Sends every request through the HTTP proxy at `url` (`http://[user:password@]host:port`;
    /// no scheme means `http://`), instead of the one the environment names. `NO_PROXY` /
    /// `no_proxy` still apply, as with curl's `--proxy`.
    ///
    /// https targets are tunnelled with `CONNECT host:443` and TLS runs end to end with the
    /// target (SNI and certificate check for the target's name), so the proxy never sees a
    /// request header — nor the access token. Credentials in the URL (percent-encoded) go to the
    /// proxy only, as `Proxy-Authorization: Basic` on the `CONNECT` request. Targets with an
    /// address override ([`Self::resolve`]) connect directly; loopback targets use the proxy
    /// only when it is on loopback too. Only `http://` proxies are supported; the URL is checked
    /// by [`Self::build`].
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy.explicit = Some(url.into());
        self.proxy.disabled = false;
        self
    }

    /// Never uses a proxy, whatever [`Self::proxy`] or the environment say.
    ///
    /// Without this, the transport honours the environment as curl does: `https_proxy` /
    /// `HTTPS_PROXY` for https targets, `http_proxy` / `HTTP_PROXY` for http targets,
    /// `all_proxy` / `ALL_PROXY` for both, `no_proxy` / `NO_PROXY` for exceptions (comma-
    /// separated host names, matching their subdomains too, IP addresses and CIDR blocks, or
    /// `*`); the lower-case name wins, and the first one set decides even when empty. They are
    /// read once, by [`Self::build`].
    pub fn no_proxy(mut self) -> Self {
        self.proxy.disabled = true;
        self
    }

    /// Reads the proxy variables (`HTTPS_PROXY`, `NO_PROXY`, … as listed at [`Self::no_proxy`])
    /// through `lookup` instead of the process environment: a configuration kept elsewhere, or
    /// a test that must not change its process's environment. Called once per variable, now.
    pub fn proxy_env_with(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        self.proxy.env = Some(EnvVars::read(lookup));
        self
    }

    /// Builds the transport. Needs no runtime; sending needs tokio.
    ///
    /// # Errors
    /// An invalid resolve override, an unusable proxy URL (from the builder or the
    /// environment), an unreadable root certificate, or no trusted root.
    pub fn build(self) -> Result<HyperTransport, BuildError> {
        if let Some(name) = self.override_error {
            return Err(BuildError::InvalidResolveOverride { name });
        }
        let routes = self.proxy.resolve()?;
        let tls_config = tls::client_config(&self.roots)?;

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(self.tcp_keepalive);
        // The connect timeout is applied around TCP and TLS together (TimeoutConnector); the
        // per-address timeout here only lets happy eyeballs move on from a dead address.
        http.set_connect_timeout(self.connect_timeout);

        let summary = Summary {
            connect_timeout: self.connect_timeout,
            http2: self.http2,
            overrides: self.overrides.len(),
            custom_roots: self.roots.pem.len() + self.roots.der.len(),
            built_in_roots: self.roots.built_in,
            proxy: routes
                .as_ref()
                .map_or_else(|| "none".to_owned(), |r| format!("{r:?}")),
        };
        let base = ProxyConnector::new(OverrideConnector::new(http, self.overrides), routes);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config)
            .https_or_http()
            .enable_http1();
        let https = if self.http2 {
            https.enable_http2().wrap_connector(base)
        } else {
            https.wrap_connector(base)
        };
        let connector = TimeoutConnector::new(https, self.connect_timeout);

        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host);
        if let Some(max) = self.http1_max_buf_size {
            builder.http1_max_buf_size(max);
        }
        let client = builder.build(connector);
        Ok(HyperTransport {
            inner: Arc::new(Inner { client, summary }),
        })
    }
}

/// A client builder with this in its transport slot builds a [`HyperTransport`] for the
/// client, and fails with this crate's [`BuildError`].
impl BuildTransport for HyperTransportBuilder {
    type Error = BuildError;

    fn build_transport(self) -> Result<Arc<dyn Transport>, BuildError> {
        Ok(Arc::new(self.build()?))
    }
}
