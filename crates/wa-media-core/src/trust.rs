//! Where the token may go: the Graph origin plus an allowlist of download hosts, over https
//! (plain http only on loopback).

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use crate::error::ConfigError;

/// The default download host: the only host the Cloud API's retrieve responses point at.
pub const DEFAULT_DOWNLOAD_HOST: &str = "lookaside.fbsbx.com";

#[derive(Clone, PartialEq, Eq)]
struct Entry {
    /// Lowercase host name or IP literal (IPv6 without brackets); for wildcards, the suffix
    /// without the leading `*.`.
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

/// The allowlist of download hosts that receive the Bearer token.
///
/// Entries are `host`, `host:port`, `[v6addr]:port` or `*.domain` (any subdomain of `domain`,
/// not `domain` itself). An entry without a port matches any port. Matching is on the exact,
/// lowercased host name — never a substring — and the scheme must be `https`, except for
/// loopback hosts (`127.0.0.0/8`, `::1`, `localhost`), where `http` is allowed so a local
/// emulator works. The Graph origin configured on the client is always trusted in addition.
///
/// ```
/// use wa_media_core::TrustedHosts;
/// let t = TrustedHosts::default();
/// assert!(t.allows_str("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"));
/// assert!(!t.allows_str("http://lookaside.fbsbx.com/x"));
/// assert!(!t.allows_str("https://lookaside.fbsbx.com.evil.example/x"));
/// let t = TrustedHosts::empty().with("127.0.0.1").unwrap();
/// assert!(t.allows_str("http://127.0.0.1:8080/media/1"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedHosts {
    entries: Vec<Entry>,
}

impl Default for TrustedHosts {
    /// Only `lookaside.fbsbx.com` (over https, any port).
    fn default() -> Self {
        Self {
            entries: vec![Entry {
                host: DEFAULT_DOWNLOAD_HOST.to_owned(),
                wildcard: false,
                port: None,
            }],
        }
    }
}

impl fmt::Debug for TrustedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| e.to_string()))
            .finish()
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

impl TrustedHosts {
    /// An allowlist with no download host: only the Graph origin gets the token.
    pub fn empty() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Adds an entry (`host`, `host:port`, `[::1]:port`, `*.domain`).
    pub fn add(&mut self, entry: &str) -> Result<(), ConfigError> {
        let e = parse_entry(entry)?;
        if !self.entries.contains(&e) {
            self.entries.push(e);
        }
        Ok(())
    }

    /// Adds an entry, builder style.
    pub fn with(mut self, entry: &str) -> Result<Self, ConfigError> {
        self.add(entry)?;
        Ok(self)
    }

    /// Whether the allowlist itself (not counting the Graph origin) admits `url`: host and
    /// port match an entry, and the scheme is https (or http on a loopback host).
    pub fn allows(&self, url: &Url) -> bool {
        if scheme_check(url).is_err() || !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        let Some(host) = host_key(url) else {
            return false;
        };
        let port = url.port_or_known_default();
        self.entries.iter().any(|e| {
            let host_ok = if e.wildcard {
                host.len() > e.host.len() + 1
                    && host.ends_with(&e.host)
                    && host.as_bytes()[host.len() - e.host.len() - 1] == b'.'
            } else {
                host == e.host
            };
            host_ok && e.port.is_none_or(|p| Some(p) == port)
        })
    }

    /// [`TrustedHosts::allows`] on a string; `false` when it is not a URL.
    pub fn allows_str(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| self.allows(&u))
    }

    /// The entries, formatted as they would be given to [`TrustedHosts::add`].
    pub fn entries(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.to_string()).collect()
    }
}

/// The host of `url` as compared against entries: lowercase, no trailing dot, IPv6 unbracketed.
pub(crate) fn host_key(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Domain(d) => Some(d.trim_end_matches('.').to_ascii_lowercase()),
        Host::Ipv4(a) => Some(a.to_string()),
        Host::Ipv6(a) => Some(a.to_string()),
    }
}

/// Whether `url`'s host is loopback: `localhost` (and `*.localhost`), 127.0.0.0/8 or ::1.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(Host::Ipv4(a)) => a.is_loopback(),
        Some(Host::Ipv6(a)) => {
            a.is_loopback()
                || a.to_ipv4_mapped()
                    .is_some_and(|v4| IpAddr::V4(v4).is_loopback())
        }
        None => false,
    }
}

/// Scheme rule: https anywhere, http only on loopback. The error names the scheme.
pub(crate) fn scheme_check(url: &Url) -> Result<(), &'static str> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("http"),
        _ => Err("other"),
    }
}

fn parse_entry(entry: &str) -> Result<Entry, ConfigError> {
    let bad = |why: &str| ConfigError::TrustedHost {
        entry: entry.chars().take(100).collect(),
        reason: why.to_owned(),
    };
    let s = entry.trim();
    if s.is_empty() {
        return Err(bad("empty entry"));
    }
    if s.contains("://") || s.contains('/') || s.contains('@') || s.contains('?') {
        return Err(bad("give a host or host:port, not a URL"));
    }
    let (wildcard, rest) = match s.strip_prefix("*.") {
        Some(r) => (true, r),
        None => (false, s),
    };
    if rest.contains('*') {
        return Err(bad("a wildcard is allowed only as a leading `*.`"));
    }
    // Let the URL parser normalise the host (IDNA, IP literals) and the port.
    let url = Url::parse(&format!("https://{rest}/")).map_err(|_| bad("not a host name"))?;
    let host = host_key(&url).ok_or_else(|| bad("not a host name"))?;
    if host.is_empty() {
        return Err(bad("not a host name"));
    }
    if wildcard && (host.parse::<IpAddr>().is_ok() || !host.contains('.')) {
        return Err(bad("a wildcard needs a domain with at least two labels"));
    }
    Ok(Entry {
        host,
        wildcard,
        port: url.port(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_exact_and_scheme_aware() {
        let t = TrustedHosts::default()
            .with("*.whatsapp.net")
            .unwrap()
            .with("localhost:9000")
            .unwrap()
            .with("[::1]")
            .unwrap();
        for ok in [
            "https://lookaside.fbsbx.com/a?b=c",
            "https://LOOKASIDE.fbsbx.com./a",
            "https://lookaside.fbsbx.com:8443/a",
            "https://mmg.whatsapp.net/x",
            "http://localhost:9000/x",
            "http://[::1]:1234/x",
        ] {
            assert!(t.allows_str(ok), "{ok}");
        }
        for bad in [
            "http://lookaside.fbsbx.com/a",
            "https://lookaside.fbsbx.com.evil.example/",
            "https://evil.example/?lookaside.fbsbx.com",
            "https://xlookaside.fbsbx.com/",
            "https://whatsapp.net/",
            "https://evilwhatsapp.net/",
            "http://localhost:9001/x",
            "ftp://lookaside.fbsbx.com/",
            "https://user@evil.example/",
            "https://user:pw@lookaside.fbsbx.com/",
            "not a url",
        ] {
            assert!(!t.allows_str(bad), "{bad}");
        }
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "",
            "https://x.com",
            "x.com/path",
            "*",
            "*.com",
            "a*.b.com",
            "u@x.com",
        ] {
            assert!(TrustedHosts::empty().with(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn loopback_detection() {
        for (u, want) in [
            ("http://127.0.0.1/", true),
            ("http://127.9.8.7/", true),
            ("http://[::1]/", true),
            ("http://localhost/", true),
            ("http://128.0.0.1/", false),
            ("http://localhost.evil.example/", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(u).unwrap()), want, "{u}");
        }
    }
}
