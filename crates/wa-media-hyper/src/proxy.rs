//! Proxies: which connections go through one, and the CONNECT tunnel under TLS.
//!
//! ```text
//! TimeoutConnector            connect timeout over proxy connect + CONNECT + TLS handshake
//!   └ HttpsConnector          TLS with SNI = the *target* host, end to end through the tunnel
//!       └ ProxyConnector      per target: direct, or hyper-util's `Tunnel` (HTTP CONNECT)
//!           └ OverrideConnector → HttpConnector   TCP to the target or to the proxy
//! ```
//!
//! The proxy sits below TLS, so an https request crosses the proxy only as TLS records: the
//! proxy sees `CONNECT host:443` (and `Proxy-Authorization`, when the proxy URL has
//! credentials), never a request header — the access token included. Plain-http requests are
//! tunnelled the same way (never sent to the proxy in absolute form), and only through a proxy on
//! this machine (see [`ProxyConnector`]).
//!
//! Which proxy: the builder's [`crate::HyperTransportBuilder::proxy`], else the environment,
//! read as curl reads it (the lower-case name first, then the upper-case one):
//! `https_proxy`/`HTTPS_PROXY` for https targets, `http_proxy`/`HTTP_PROXY` for http targets,
//! `all_proxy`/`ALL_PROXY` for both when the specific one is unset, `no_proxy`/`NO_PROXY` for
//! the exceptions (also applied to the builder's proxy, as curl applies it to `--proxy`). The
//! first variable that is set decides, even when empty (empty: no proxy). `HTTP_PROXY` in upper
//! case is ignored when `REQUEST_METHOD` is set (a CGI program, where a request's `Proxy:` header
//! arrives as `HTTP_PROXY`: "httpoxy").

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::connector::OverrideConnector;
use crate::error::{BuildError, ProxyError, ProxyErrorKind};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every environment variable the proxy settings are read from, in the order looked up: the
/// proxy variables in either case (lower case first, as curl reads them), and
/// `REQUEST_METHOD`, whose presence makes upper-case `HTTP_PROXY` ignored ("httpoxy"). A
/// program or test that wants no proxy from its environment removes these. A client built
/// with [`crate::HyperTransportBuilder::no_proxy`] or
/// [`crate::HyperTransportBuilder::proxy_env_with`] reads none of them from the process.
pub const PROXY_VARIABLES: [&str; 9] = [
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
];

/// The proxy variables as read from an environment (the process's or a caller's lookup).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct EnvVars {
    /// `(name, value)` of each variable that is set.
    set: Vec<(&'static str, String)>,
}

impl EnvVars {
    /// Reads the variables through `lookup` (a name → its value when set).
    pub(crate) fn read(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self {
            set: PROXY_VARIABLES
                .iter()
                .filter_map(|&name| lookup(name).map(|v| (name, v)))
                .collect(),
        }
    }

    /// The process environment (a value that is not UTF-8 counts as unset).
    pub(crate) fn process() -> Self {
        Self::read(|name| std::env::var(name).ok())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.set
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first of `names` that is set, with its value (possibly empty).
    fn first(&self, names: &[&'static str]) -> Option<(&'static str, &str)> {
        names.iter().find_map(|&n| self.get(n).map(|v| (n, v)))
    }

    /// The proxy for https targets: `(variable, value)`.
    fn https(&self) -> Option<(&'static str, &str)> {
        self.first(&["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"])
    }

    /// The proxy for http targets: `(variable, value)`.
    fn http(&self) -> Option<(&'static str, &str)> {
        if self.get("REQUEST_METHOD").is_some() {
            self.first(&["http_proxy", "all_proxy", "ALL_PROXY"])
        } else {
            self.first(&["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"])
        }
    }

    /// The exceptions list (`no_proxy`, then `NO_PROXY`), empty when neither is set.
    fn no_proxy(&self) -> &str {
        self.first(&["no_proxy", "NO_PROXY"]).map_or("", |(_, v)| v)
    }
}

impl fmt::Debug for EnvVars {
    /// Names only: a proxy URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.set.iter().map(|(n, _)| n))
            .finish()
    }
}

/// The builder's proxy choice.
#[derive(Clone, Default)]
pub(crate) struct ProxySettings {
    /// The environment to read; `None`: the process environment, read by `build`.
    pub(crate) env: Option<EnvVars>,
    /// A proxy for every target, from `HyperTransportBuilder::proxy` (may hold credentials).
    pub(crate) explicit: Option<String>,
    /// `HyperTransportBuilder::no_proxy`: no proxy at all, whatever the rest says.
    pub(crate) disabled: bool,
}

impl fmt::Debug for ProxySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxySettings")
            .field("env", &self.env)
            .field("explicit", &self.explicit.as_deref().map(redact))
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// The proxies in effect, ready for the connector.
pub(crate) struct Routes {
    matcher: Matcher,
    /// For `Debug`: the proxy per target scheme, without credentials.
    https: Option<String>,
    http: Option<String>,
    no_proxy: bool,
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("https", &self.https)
            .field("http", &self.http)
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxySettings {
    /// Decides the proxies: `None` when no target would use one.
    ///
    /// # Errors
    /// [`BuildError::InvalidProxy`] for a proxy URL this transport cannot use (not `http://`,
    /// no host, unparseable), naming where it came from.
    pub(crate) fn resolve(&self) -> Result<Option<Routes>, BuildError> {
        if self.disabled {
            return Ok(None);
        }
        let env = match &self.env {
            Some(e) => e.clone(),
            None => EnvVars::process(),
        };
        let (https, http) = match &self.explicit {
            Some(url) => (
                Some(("proxy setting", url.as_str())),
                Some(("proxy setting", url.as_str())),
            ),
            None => (env.https(), env.http()),
        };
        let https = checked(https)?;
        let http = checked(http)?;
        if https.is_none() && http.is_none() {
            return Ok(None);
        }
        let no = env.no_proxy();
        // `*` alone disables the proxy for every host, as with curl (hyper-util's matcher
        // applies it to host names only, not to IP addresses).
        if no.split(',').any(|entry| entry.trim() == "*") {
            return Ok(None);
        }
        let matcher = Matcher::builder()
            .https(https.unwrap_or_default())
            .http(http.unwrap_or_default())
            .no(no)
            .build();
        Ok(Some(Routes {
            matcher,
            https: https.map(redact),
            http: http.map(redact),
            no_proxy: !no.trim().is_empty(),
        }))
    }
}

/// `Some(url)` for a usable proxy URL, `None` for an empty one (no proxy), an error otherwise.
fn checked<'a>(found: Option<(&'static str, &'a str)>) -> Result<Option<&'a str>, BuildError> {
    let Some((source, value)) = found else {
        return Ok(None);
    };
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let bad = |reason: &str| BuildError::InvalidProxy {
        from: source,
        url: redact(value),
        reason: reason.to_owned(),
    };
    let uri: Uri = value
        .parse()
        .map_err(|_| bad("not a URL; expected http://[user:password@]host:port"))?;
    match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        None | Some("http") => {}
        Some("https") => {
            return Err(bad(
                "TLS to the proxy (https://) is not supported; give the proxy as http:// (https \
                 targets still get end-to-end TLS through the tunnel)",
            ))
        }
        Some(s) if s.starts_with("socks") => {
            return Err(bad(
                "SOCKS proxies are not supported; give an HTTP proxy (http://)",
            ))
        }
        Some(_) => return Err(bad("unsupported scheme; expected http://")),
    }
    let host = uri.host().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() {
        return Err(bad("no host; expected http://[user:password@]host:port"));
    }
    Ok(Some(value))
}

/// A proxy URL without its credentials (for messages and `Debug`).
pub(crate) fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    let tail = if tail == "/" { "" } else { tail };
    match scheme {
        Some(s) => format!("{s}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// `host` is `localhost` (or a subdomain of it), in 127.0.0.0/8 or `::1`.
fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_loopback(),
        Ok(IpAddr::V6(a)) => {
            a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => {
            let h = host.trim_end_matches('.').to_ascii_lowercase();
            h == "localhost" || h.ends_with(".localhost")
        }
    }
}

/// Picks direct or tunnel for each target, then connects.
///
/// A target goes direct when: no proxy is configured for its scheme; `NO_PROXY` names it; it has
/// an address override ([`crate::HyperTransportBuilder::resolve`] is an explicit route); or it
/// is on loopback and the proxy is not (a loopback target through a remote proxy would reach the
/// *proxy's* machine, which the token-trust rule for loopback never meant — and plain http is
/// allowed only there). Everything else is tunnelled with HTTP CONNECT.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    direct: OverrideConnector,
    routes: Option<Arc<Routes>>,
}

impl fmt::Debug for ProxyConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConnector")
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl ProxyConnector {
    pub(crate) fn new(direct: OverrideConnector, routes: Option<Routes>) -> Self {
        Self {
            direct,
            routes: routes.map(Arc::new),
        }
    }

    fn route(&self, dst: &Uri) -> Option<(Uri, Option<http::HeaderValue>)> {
        let routes = self.routes.as_ref()?;
        if self.direct.is_overridden(dst) {
            return None;
        }
        let intercept = routes.matcher.intercept(dst)?;
        let proxy = intercept.uri();
        let target_host = dst.host()?;
        if is_loopback_host(target_host) && !proxy.host().is_some_and(is_loopback_host) {
            return None;
        }
        Some((proxy.clone(), intercept.basic_auth().cloned()))
    }
}

type TunnelError = <Tunnel<OverrideConnector> as Service<Uri>>::Error;

impl Service<Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.direct.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let Some((proxy, auth)) = self.route(&dst) else {
            return self.direct.call(dst);
        };
        // The CONNECT target always names its port (hyper-util assumes 443 without one).
        let port = dst.port_u16().unwrap_or(match dst.scheme_str() {
            Some("http") => 80,
            _ => 443,
        });
        let host = dst.host().unwrap_or_default().to_owned();
        let target = match Uri::builder()
            .scheme(dst.scheme_str().unwrap_or("https"))
            .authority(format!("{host}:{port}"))
            .path_and_query("/")
            .build()
        {
            Ok(t) => t,
            Err(e) => return Box::pin(async move { Err(e.into()) }),
        };
        let proxy_name = proxy
            .authority()
            .map_or_else(String::new, |a| a.to_string());
        let sent_credentials = auth.is_some();
        let mut tunnel = Tunnel::new(proxy, self.direct.clone());
        if let Some(auth) = auth {
            tunnel = tunnel.with_auth(auth);
        }
        tracing::debug!(proxy = %proxy_name, target = %format!("{host}:{port}"), "opening a CONNECT tunnel");
        let fut = tunnel.call(target);
        Box::pin(async move {
            fut.await
                .map_err(|e| Box::new(tunnel_error(e, proxy_name, sent_credentials)) as BoxError)
        })
    }
}

/// The error of a tunnel that could not be opened, naming the proxy (never its credentials).
fn tunnel_error(e: TunnelError, proxy: String, sent_credentials: bool) -> ProxyError {
    let (kind, source): (_, Option<BoxError>) = match e {
        TunnelError::ConnectFailed(inner) => (ProxyErrorKind::Connect, Some(inner)),
        TunnelError::ProxyAuthRequired => (ProxyErrorKind::AuthRequired, None),
        TunnelError::TunnelUnsuccessful | TunnelError::MissingHost => {
            (ProxyErrorKind::Refused, None)
        }
        TunnelError::Io(io) => (ProxyErrorKind::Broken, Some(Box::new(io))),
        TunnelError::ProxyHeadersTooLong | TunnelError::TunnelUnexpectedEof => {
            (ProxyErrorKind::Broken, None)
        }
    };
    ProxyError {
        proxy,
        kind,
        sent_credentials,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> EnvVars {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvVars::read(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    fn routes(vars: &[(&str, &str)]) -> Option<Routes> {
        ProxySettings {
            env: Some(env(vars)),
            ..ProxySettings::default()
        }
        .resolve()
        .unwrap()
    }

    fn proxy_for(r: &Option<Routes>, url: &str) -> Option<String> {
        let i = r.as_ref()?.matcher.intercept(&url.parse().unwrap())?;
        Some(i.uri().to_string())
    }

    const GRAPH: &str = "https://graph.facebook.com/v27.0/1";
    const PLAIN: &str = "http://example.test/x";

    #[test]
    fn nothing_set_means_no_proxy() {
        assert!(routes(&[]).is_none());
        assert!(routes(&[("NO_PROXY", "*")]).is_none());
    }

    #[test]
    fn lower_case_wins_over_upper_case_like_curl() {
        let r = routes(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
        ]);
        assert_eq!(proxy_for(&r, GRAPH).as_deref(), Some("http://lower:1/"));
        let r = routes(&[("HTTPS_PROXY", "http://upper:2")]);
        assert_eq!(proxy_for(&r, GRAPH).as_deref(), Some("http://upper:2/"));
        // https_proxy is for https targets only.
        assert_eq!(proxy_for(&r, PLAIN), None);
    }

    #[test]
    fn all_proxy_is_the_fallback_for_both_schemes() {
        let r = routes(&[("ALL_PROXY", "http://all:3"), ("http_proxy", "http://h:4")]);
        assert_eq!(proxy_for(&r, GRAPH).as_deref(), Some("http://all:3/"));
        assert_eq!(proxy_for(&r, PLAIN).as_deref(), Some("http://h:4/"));
        let r = routes(&[
            ("all_proxy", "http://lower:5"),
            ("ALL_PROXY", "http://upper:6"),
        ]);
        assert_eq!(proxy_for(&r, GRAPH).as_deref(), Some("http://lower:5/"));
    }

    #[test]
    fn an_empty_variable_decides_no_proxy_like_curl() {
        // The first variable set decides, even when empty: no fallback to ALL_PROXY.
        let r = routes(&[("https_proxy", ""), ("ALL_PROXY", "http://all:3")]);
        assert_eq!(proxy_for(&r, GRAPH), None);
        assert_eq!(proxy_for(&r, PLAIN).as_deref(), Some("http://all:3/"));
    }

    #[test]
    fn upper_case_http_proxy_is_ignored_in_cgi() {
        let r = routes(&[("HTTP_PROXY", "http://h:1"), ("REQUEST_METHOD", "GET")]);
        assert!(r.is_none());
        let r = routes(&[("http_proxy", "http://h:1"), ("REQUEST_METHOD", "GET")]);
        assert_eq!(proxy_for(&r, PLAIN).as_deref(), Some("http://h:1/"));
        let r = routes(&[("HTTP_PROXY", "http://h:1")]);
        assert_eq!(proxy_for(&r, PLAIN).as_deref(), Some("http://h:1/"));
    }

    #[test]
    fn no_proxy_names_domains_subdomains_and_addresses() {
        let all = [
            ("HTTPS_PROXY", "http://p:1"),
            ("no_proxy", "facebook.com, 10.0.0.0/8"),
            ("NO_PROXY", "ignored.test"),
        ];
        let r = routes(&all);
        assert_eq!(proxy_for(&r, GRAPH), None);
        assert_eq!(proxy_for(&r, "https://10.1.2.3/"), None);
        assert!(proxy_for(&r, "https://lookaside.fbsbx.com/").is_some());
        assert!(proxy_for(&r, "https://notfacebook.com/").is_some());
        assert!(proxy_for(&r, "https://ignored.test/").is_some());
        let r = routes(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "a.test, *")]);
        assert!(
            r.is_none(),
            "`*` turns the proxy off for every host, IP addresses included"
        );
    }

    #[test]
    fn the_builders_proxy_replaces_the_variables_but_keeps_no_proxy() {
        let s = ProxySettings {
            env: Some(env(&[
                ("HTTPS_PROXY", "http://env:1"),
                ("NO_PROXY", "lookaside.fbsbx.com"),
            ])),
            explicit: Some("http://u:secret@explicit:8080".into()),
            disabled: false,
        };
        let r = s.resolve().unwrap();
        assert_eq!(
            proxy_for(&r, GRAPH).as_deref(),
            Some("http://explicit:8080/")
        );
        assert_eq!(
            proxy_for(&r, PLAIN).as_deref(),
            Some("http://explicit:8080/")
        );
        assert_eq!(proxy_for(&r, "https://lookaside.fbsbx.com/"), None);
        let i = r
            .as_ref()
            .unwrap()
            .matcher
            .intercept(&GRAPH.parse().unwrap())
            .unwrap();
        // Basic base64("u:secret")
        assert_eq!(i.basic_auth().unwrap(), "Basic dTpzZWNyZXQ=");
        // Neither Debug shows the password.
        assert!(!format!("{s:?}").contains("secret"), "{s:?}");
        assert!(!format!("{r:?}").contains("secret"), "{r:?}");
        let off = ProxySettings {
            disabled: true,
            ..s
        };
        assert!(off.resolve().unwrap().is_none());
    }

    #[test]
    fn unusable_proxy_urls_are_build_errors_naming_their_variable() {
        let err = |vars: &[(&str, &str)]| {
            ProxySettings {
                env: Some(env(vars)),
                ..ProxySettings::default()
            }
            .resolve()
            .unwrap_err()
            .to_string()
        };
        let e = err(&[("HTTPS_PROXY", "socks5://u:pw@p:1080")]);
        assert!(e.contains("HTTPS_PROXY") && e.contains("SOCKS"), "{e}");
        assert!(!e.contains("pw"), "{e}");
        let e = err(&[("all_proxy", "https://p:443")]);
        assert!(e.contains("all_proxy") && e.contains("https://"), "{e}");
        let e = err(&[("http_proxy", "http://")]);
        assert!(e.contains("http_proxy"), "{e}");
        // Without a scheme, http:// is assumed (as curl does).
        assert!(routes(&[("HTTPS_PROXY", "proxy.test:3128")]).is_some());
    }

    #[test]
    fn redaction_keeps_host_and_drops_credentials() {
        assert_eq!(redact("http://u:p@h:1/"), "http://***@h:1");
        assert_eq!(redact("u:p@h:1"), "***@h:1");
        assert_eq!(redact("http://h:1"), "http://h:1");
        assert_eq!(redact("http://u:p@h:1/x?q"), "http://***@h:1/x?q");
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1",
            "127.9.9.9",
            "[::1]",
            "localhost",
            "a.localhost.",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "10.0.0.1",
            "graph.facebook.com",
            "[::2]",
            "localhost.example",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn the_407_message_tells_what_to_do() {
        let e = ProxyError {
            proxy: "127.0.0.1:3128".into(),
            kind: ProxyErrorKind::AuthRequired,
            sent_credentials: false,
            source: None,
        };
        insta::assert_snapshot!(e.to_string(), @"the proxy 127.0.0.1:3128 answered 407 Proxy Authentication Required: put its credentials in the proxy URL (http://user:password@host:port)");
        assert!(e.is_auth_required());
    }
}
