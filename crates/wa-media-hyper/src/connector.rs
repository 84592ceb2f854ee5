//! The connector stack under the pooled client: address overrides, TCP, TLS and the connect
//! timeout around both.
//!
//! ```text
//! TimeoutConnector            connect timeout over TCP connect (+ CONNECT) + TLS handshake
//!   └ HttpsConnector          hyper-rustls: TLS with SNI = the URI's host, ALPN h2/http1.1
//!       └ ProxyConnector      direct, or a CONNECT tunnel through a proxy (crate::proxy)
//!           └ OverrideConnector   rewrites the *target address* when the host is overridden
//!               └ HttpConnector   hyper-util: DNS, happy eyeballs, TCP_NODELAY, keepalive
//! ```
//!
//! The override sits below TLS on purpose: hyper-rustls takes the server name from the original
//! URI before calling the inner connector, and the pooled client writes the `Host` header from
//! the request URI, so only the socket address changes. (hyper-util's `HttpConnector` with a
//! custom DNS resolver cannot do this alone: it replaces the resolved port with the URI's port.)

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::error::{BuildError, ConnectTimedOut};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxConnecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// Hostname → socket address overrides, keyed by `host` (any port) or `host:port` (that port
/// only; it wins over a bare `host` entry).
#[derive(Debug, Clone, Default)]
pub(crate) struct ResolveOverrides {
    map: HashMap<(String, Option<u16>), SocketAddr>,
}

impl ResolveOverrides {
    /// Adds an override for `name` (`host` or `host:port`, case-insensitive; IPv6 literals in
    /// brackets).
    pub(crate) fn insert(&mut self, name: &str, addr: SocketAddr) -> Result<(), BuildError> {
        let key = parse_name(name).ok_or_else(|| BuildError::InvalidResolveOverride {
            name: name.to_owned(),
        })?;
        self.map.insert(key, addr);
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The address to connect to for `uri`, when overridden.
    pub(crate) fn lookup(&self, uri: &Uri) -> Option<SocketAddr> {
        let host = normalise_host(uri.host()?);
        let port = uri.port_u16().or_else(|| match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        if let Some(port) = port {
            if let Some(addr) = self.map.get(&(host.clone(), Some(port))) {
                return Some(*addr);
            }
        }
        self.map.get(&(host, None)).copied()
    }
}

fn normalise_host(host: &str) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Splits `host` / `host:port` / `[v6]` / `[v6]:port`.
fn parse_name(name: &str) -> Option<(String, Option<u16>)> {
    let name = name.trim();
    if name.is_empty() || name.contains('/') || name.contains(char::is_whitespace) {
        return None;
    }
    if let Some(rest) = name.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        return Some((normalise_host(host), port));
    }
    match name.rsplit_once(':') {
        // More than one colon without brackets: a bare IPv6 literal.
        Some((host, _)) if host.contains(':') => Some((normalise_host(name), None)),
        Some((host, port)) if !host.is_empty() => {
            Some((normalise_host(host), Some(port.parse().ok()?)))
        }
        Some(_) => None,
        None => Some((normalise_host(name), None)),
    }
}

/// Connects to the overridden address when the URI's host has one, otherwise passes the URI to
/// hyper-util's `HttpConnector` unchanged.
#[derive(Debug, Clone)]
pub(crate) struct OverrideConnector {
    inner: HttpConnector,
    overrides: Arc<ResolveOverrides>,
}

impl OverrideConnector {
    pub(crate) fn new(inner: HttpConnector, overrides: ResolveOverrides) -> Self {
        Self {
            inner,
            overrides: Arc::new(overrides),
        }
    }

    /// Whether `uri`'s host has an address override.
    pub(crate) fn is_overridden(&self, uri: &Uri) -> bool {
        self.overrides.lookup(uri).is_some()
    }
}

impl Service<Uri> for OverrideConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = BoxConnecting<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let target = match self.overrides.lookup(&dst) {
            // An IP literal skips DNS in HttpConnector; `http` keeps it from refusing the
            // scheme (TLS is layered above, from the original URI).
            Some(addr) => match Uri::builder()
                .scheme("http")
                .authority(addr.to_string())
                .path_and_query("/")
                .build()
            {
                Ok(uri) => uri,
                Err(e) => return Box::pin(async move { Err(e.into()) }),
            },
            None => dst,
        };
        let fut = self.inner.call(target);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// Bounds the whole connect (TCP and TLS handshake) by one timeout.
#[derive(Debug, Clone)]
pub(crate) struct TimeoutConnector<C> {
    inner: C,
    timeout: Option<Duration>,
}

impl<C> TimeoutConnector<C> {
    pub(crate) fn new(inner: C, timeout: Option<Duration>) -> Self {
        Self { inner, timeout }
    }
}

impl<C> Service<Uri> for TimeoutConnector<C>
where
    C: Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
    C::Response: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = BoxConnecting<C::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let fut = self.inner.call(dst);
        let timeout = self.timeout;
        Box::pin(async move {
            match timeout {
                Some(t) => match tokio::time::timeout(t, fut).await {
                    Ok(r) => r.map_err(Into::into),
                    Err(_) => Err(Box::new(ConnectTimedOut(t)) as BoxError),
                },
                None => fut.await.map_err(Into::into),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            parse_name("Graph.Facebook.com"),
            Some(("graph.facebook.com".into(), None))
        );
        assert_eq!(
            parse_name("a.test:8443"),
            Some(("a.test".into(), Some(8443)))
        );
        assert_eq!(parse_name("[::1]:80"), Some(("::1".into(), Some(80))));
        assert_eq!(parse_name("[::1]"), Some(("::1".into(), None)));
        assert_eq!(parse_name("::1"), Some(("::1".into(), None)));
        assert_eq!(parse_name("a.test:notaport"), None);
        assert_eq!(parse_name(""), None);
        assert_eq!(parse_name(":80"), None);
        assert_eq!(parse_name("https://a.test"), None);
    }

    #[test]
    fn port_specific_entry_wins_and_default_ports_apply() {
        let mut o = ResolveOverrides::default();
        o.insert("a.test", addr(1)).unwrap();
        o.insert("a.test:8443", addr(2)).unwrap();
        o.insert("b.test:443", addr(3)).unwrap();
        let l = |u: &str| o.lookup(&u.parse().unwrap());
        assert_eq!(l("https://a.test/x"), Some(addr(1)));
        assert_eq!(l("https://A.TEST:8443/x"), Some(addr(2)));
        assert_eq!(l("http://a.test:9/"), Some(addr(1)));
        assert_eq!(l("https://b.test/"), Some(addr(3)));
        assert_eq!(l("http://b.test/"), None);
        assert_eq!(l("https://c.test/"), None);
    }

    #[test]
    fn invalid_override_is_refused() {
        let mut o = ResolveOverrides::default();
        assert!(o.insert("a.test:99999", addr(1)).is_err());
        assert!(o.is_empty());
    }
}
