//! Errors of this crate: building a transport, and hyper's failures mapped onto core's
//! [`TransportErrorKind`]s.
//!
//! hyper's own error types never appear in the public API; they reach users only as the
//! `source` of a [`TransportError`], wrapped in [`HyperError`], whose `Display` is the whole
//! cause chain on one line (hyper-util's top-level message alone, `client error (Connect)`,
//! tells a person nothing).

use std::error::Error as StdError;
use std::fmt;
use std::io;

use wa_media_core::{TransportError, TransportErrorKind};

/// Why a [`crate::HyperTransport`] (or a client from [`crate::builder`]) could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A custom root certificate could not be read.
    #[error("root certificate #{index} is not usable: {reason}")]
    InvalidCertificate {
        /// 0-based position among the custom roots: of the PEM document when it could not be
        /// read, of the certificate (PEM certificates first, then DER) when it was refused.
        index: usize,
        /// What was wrong with it.
        reason: String,
    },
    /// No root certificate would be trusted, so no https connection could ever succeed.
    #[error(
        "no trusted root certificates: enable the `webpki-roots` or `native-roots` feature, keep \
         the built-in roots on, or add a root certificate"
    )]
    NoRootCertificates,
    /// rustls refused the TLS configuration (a bug: the configuration is fixed). rustls' own
    /// error is the `source()`; its type is not part of this crate's API.
    #[error("rustls refused the TLS configuration; please report this as a wa-media-hyper bug")]
    Tls(#[source] Box<dyn StdError + Send + Sync>),
    /// The client configuration was refused by wa-media-core (token, phone number id, Graph
    /// URL, trusted hosts, user agent).
    #[error(transparent)]
    Config(#[from] wa_media_core::ConfigError),
    /// A resolve override was not a valid `host` or `host:port`.
    #[error("invalid resolve override {name:?}: expected `host` or `host:port`")]
    InvalidResolveOverride {
        /// The name as given.
        name: String,
    },
    /// A proxy URL (from the builder or an environment variable such as `HTTPS_PROXY`) that
    /// this transport cannot use: only `http://` proxies are supported (https targets still get
    /// end-to-end TLS through the CONNECT tunnel).
    #[error("invalid proxy {url:?} (from {from}): {reason} — or turn proxies off (`no_proxy()`, the CLI's --no-proxy)")]
    InvalidProxy {
        /// Where it came from: the environment variable's name, or `proxy setting`.
        from: &'static str,
        /// The URL without its credentials.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A failure inside hyper, hyper-util, hyper-rustls or the socket layer, as carried in the
/// `source` of a [`TransportError`] returned by [`crate::HyperTransport`].
///
/// Its `Display` is the whole chain of causes on one line, e.g. `client error (Connect): tcp
/// connect error: Connection refused (os error 111)`; it therefore reports no further
/// `source()` itself. It never holds a request URL, a header or the token (a proxy is named by
/// its `host:port`, without credentials).
pub struct HyperError {
    message: String,
    io_kind: Option<io::ErrorKind>,
    timeout: bool,
    proxy_auth: bool,
}

impl HyperError {
    fn from_chain(err: &(dyn StdError + 'static)) -> Self {
        let mut message = String::new();
        let mut io_kind = None;
        let mut timeout = false;
        let mut proxy_auth = false;
        let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
        while let Some(e) = cur {
            let text = e.to_string();
            // Some layers repeat their cause in their own message; print each text once.
            if !text.is_empty() && !message.contains(&text) {
                if !message.is_empty() {
                    message.push_str(": ");
                }
                message.push_str(&text);
            }
            if let Some(io) = e.downcast_ref::<io::Error>() {
                io_kind.get_or_insert(io.kind());
                timeout |= io.kind() == io::ErrorKind::TimedOut;
            }
            if e.downcast_ref::<ConnectTimedOut>().is_some() {
                timeout = true;
            }
            if let Some(h) = e.downcast_ref::<hyper::Error>() {
                timeout |= h.is_timeout();
            }
            if let Some(p) = e.downcast_ref::<ProxyError>() {
                proxy_auth |= p.is_auth_required();
            }
            cur = e.source();
        }
        Self {
            message,
            io_kind,
            timeout,
            proxy_auth,
        }
    }

    /// The kind of the innermost I/O error in the chain, when there was one (for example
    /// `ConnectionRefused` or `ConnectionReset`).
    pub fn io_error_kind(&self) -> Option<io::ErrorKind> {
        self.io_kind
    }

    /// Whether a timeout (the connect timeout, or an OS-level one) caused the failure.
    pub fn is_timeout(&self) -> bool {
        self.timeout
    }

    /// Whether the proxy answered `407 Proxy Authentication Required` to the CONNECT request:
    /// the proxy URL needs (other) credentials, `http://user:password@host:port`. Not worth
    /// retrying.
    pub fn is_proxy_auth_required(&self) -> bool {
        self.proxy_auth
    }
}

impl fmt::Debug for HyperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperError")
            .field("message", &self.message)
            .field("io_kind", &self.io_kind)
            .finish()
    }
}

impl fmt::Display for HyperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for HyperError {}

/// The marker error of the connect timeout (TCP connect and TLS handshake together).
#[derive(Debug)]
pub(crate) struct ConnectTimedOut(pub(crate) std::time::Duration);

impl fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connecting (TCP and TLS handshake) took longer than {:?}",
            self.0
        )
    }
}

impl StdError for ConnectTimedOut {}

fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        cur = e.source();
    }
    None
}

/// Maps a failure of the pooled client (before a response head arrived) onto a kind:
/// - connecting failed (DNS, refused, TLS handshake) → `Connect`, or `ConnectTimeout` when the
///   connect timeout fired: the request was certainly not sent;
/// - the response head was not valid HTTP → `Decode`;
/// - anything after the connection was up → `Request` (the request MAY have been sent).
pub(crate) fn map_client_error(err: hyper_util::client::legacy::Error) -> TransportError {
    let detail = HyperError::from_chain(&err);
    let kind = if err.is_connect() {
        // Our connect timeout (TCP + TLS) or hyper-util's per-address TCP timeout (io
        // `TimedOut`), whichever fired first.
        if detail.is_timeout() {
            TransportErrorKind::ConnectTimeout
        } else {
            TransportErrorKind::Connect
        }
    } else if find::<hyper::Error>(&err).is_some_and(|h| h.is_parse() || h.is_parse_status()) {
        TransportErrorKind::Decode
    } else {
        TransportErrorKind::Request
    };
    TransportError::new(kind, detail)
}

/// Maps a failure while receiving a response body: invalid framing → `Decode`, everything else
/// (reset, early close, truncation) → `Interrupted`.
pub(crate) fn map_body_error(err: hyper::Error) -> TransportError {
    let kind = if err.is_parse() {
        TransportErrorKind::Decode
    } else {
        TransportErrorKind::Interrupted
    };
    TransportError::new(kind, HyperError::from_chain(&err))
}

type BoxError = Box<dyn StdError + Send + Sync>;

/// Why a tunnel through the proxy could not be opened. Names the proxy (never its
/// credentials); carried in the `source` chain of the transport error.
#[derive(Debug)]
pub(crate) struct ProxyError {
    pub(crate) proxy: String,
    pub(crate) kind: ProxyErrorKind,
    pub(crate) sent_credentials: bool,
    pub(crate) source: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProxyErrorKind {
    /// TCP to the proxy failed.
    Connect,
    /// 407.
    AuthRequired,
    /// Another status than 200.
    Refused,
    /// The proxy closed, broke or garbled the connection during CONNECT.
    Broken,
}

impl ProxyError {
    /// The proxy answered 407 Proxy Authentication Required.
    pub(crate) fn is_auth_required(&self) -> bool {
        self.kind == ProxyErrorKind::AuthRequired
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.proxy;
        match self.kind {
            ProxyErrorKind::Connect => write!(f, "could not connect to the proxy {p}"),
            ProxyErrorKind::AuthRequired if self.sent_credentials => write!(
                f,
                "the proxy {p} answered 407 Proxy Authentication Required: it refused the \
                 credentials in the proxy URL; check the user and password"
            ),
            ProxyErrorKind::AuthRequired => write!(
                f,
                "the proxy {p} answered 407 Proxy Authentication Required: put its credentials \
                 in the proxy URL (http://user:password@host:port)"
            ),
            ProxyErrorKind::Refused => write!(
                f,
                "the proxy {p} refused to open a tunnel (CONNECT was not answered 200)"
            ),
            ProxyErrorKind::Broken => write!(
                f,
                "the proxy {p} closed or broke the connection while opening a tunnel"
            ),
        }
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("tcp connect error")
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chain_is_flattened_and_io_kind_found() {
        let e = Outer(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        let h = HyperError::from_chain(&e);
        assert_eq!(h.to_string(), "tcp connect error: refused");
        assert_eq!(h.io_error_kind(), Some(io::ErrorKind::ConnectionRefused));
        assert!(!h.is_timeout());
        assert!(h.source().is_none());
    }

    #[test]
    fn every_build_error_message_is_pinned() {
        let e = BuildError::InvalidCertificate {
            index: 1,
            reason: "no `-----BEGIN CERTIFICATE-----` block found".into(),
        };
        insta::assert_snapshot!(e.to_string(), @"root certificate #1 is not usable: no `-----BEGIN CERTIFICATE-----` block found");
        insta::assert_snapshot!(BuildError::NoRootCertificates.to_string(), @"no trusted root certificates: enable the `webpki-roots` or `native-roots` feature, keep the built-in roots on, or add a root certificate");
        let e = BuildError::Tls(Box::new(rustls::Error::General(
            "no protocol versions".into(),
        )));
        insta::assert_snapshot!(e.to_string(), @"rustls refused the TLS configuration; please report this as a wa-media-hyper bug");
        // rustls' error is reachable, once, through source().
        let src = e.source().expect("rustls' error as the source");
        assert!(src.downcast_ref::<rustls::Error>().is_some());
        assert!(!e.to_string().contains(&src.to_string()));
        let e = BuildError::Config(wa_media_core::ConfigError::Token);
        insta::assert_snapshot!(e.to_string(), @"an access token is required (non-empty, visible ASCII characters only)");
        let e = BuildError::InvalidResolveOverride {
            name: "host:notaport".into(),
        };
        insta::assert_snapshot!(e.to_string(), @r#"invalid resolve override "host:notaport": expected `host` or `host:port`"#);
        let e = BuildError::InvalidProxy {
            from: "HTTPS_PROXY",
            url: "socks5://***@proxy.test:1080".into(),
            reason: "SOCKS proxies are not supported; give an HTTP proxy (http://)".into(),
        };
        insta::assert_snapshot!(e.to_string(), @r#"invalid proxy "socks5://***@proxy.test:1080" (from HTTPS_PROXY): SOCKS proxies are not supported; give an HTTP proxy (http://) — or turn proxies off (`no_proxy()`, the CLI's --no-proxy)"#);
        let e = ConnectTimedOut(std::time::Duration::from_millis(250));
        insta::assert_snapshot!(e.to_string(), @"connecting (TCP and TLS handshake) took longer than 250ms");
    }

    #[test]
    fn connect_timeout_marker_is_a_timeout() {
        let e = ConnectTimedOut(std::time::Duration::from_millis(5));
        let h = HyperError::from_chain(&e);
        assert!(h.is_timeout());
        assert!(h.to_string().contains("5ms"), "{h}");
    }
}
