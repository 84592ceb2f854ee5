//! [`MediaUrl`]: a media download URL whose signature is never shown by accident.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The short-lived download URL of a retrieve answer ([`crate::MediaUrlResponse::url`]).
///
/// Its query string is a signed capability (`…?mid=…&ext=…&hash=…`): together with the token it
/// downloads the media. So `Debug` and `Display` show only scheme, host, port and path, with
/// `?…` where the query was; [`MediaUrl::expose`] gives the whole URL, for the one place that
/// sends the request. Serialised (serde) it is the whole URL, as the API sent it.
///
/// ```
/// use wa_media_types::MediaUrl;
/// let url = MediaUrl::new("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&hash=SECRET");
/// assert_eq!(url.to_string(), "https://lookaside.fbsbx.com/whatsapp_business/attachments/?…");
/// assert!(!format!("{url:?}").contains("SECRET"));
/// assert!(url.expose().ends_with("hash=SECRET"));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaUrl(String);

impl MediaUrl {
    /// Wraps a URL as the API sent it (not checked here; the client parses it before use).
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The whole URL, signature included. **Secret-bearing**: never log or display it; pass
    /// it only to the request that downloads the media.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The whole URL as a `String`. **Secret-bearing**, like [`MediaUrl::expose`].
    pub fn into_exposed(self) -> String {
        self.0
    }

    /// The URL without query, fragment or credentials (`scheme://host[:port]/path`), and
    /// whether a query or fragment was cut.
    fn shown(&self) -> (&str, &str, bool) {
        let s = self.0.trim();
        let end = s.find(['?', '#']).unwrap_or(s.len());
        let (base, cut) = (&s[..end], end < s.len());
        // Credentials (`user:pass@`) in the authority are dropped too.
        if let Some(scheme_end) = base.find("://") {
            let rest = &base[scheme_end + 3..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            if let Some(at) = rest[..authority_end].rfind('@') {
                return (&base[..scheme_end + 3], &rest[at + 1..], cut);
            }
        }
        (base, "", cut)
    }
}

impl fmt::Display for MediaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b, cut) = self.shown();
        f.write_str(a)?;
        f.write_str(b)?;
        if cut {
            f.write_str("?…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for MediaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaUrl(\"{self}\")")
    }
}

impl From<String> for MediaUrl {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for MediaUrl {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scheme_host_and_path_are_shown() {
        for (url, shown) in [
            ("https://h/p?hash=S", "https://h/p?…"),
            ("https://h/p#S", "https://h/p?…"),
            ("https://h:8443/p", "https://h:8443/p"),
            ("https://u:S@h/p?x=S", "https://h/p?…"),
            ("not a url ? S", "not a url ?…"),
        ] {
            let u = MediaUrl::new(url);
            assert_eq!(u.to_string(), shown, "{url}");
            assert!(!format!("{u:?}").contains('S'), "{u:?}");
            assert_eq!(u.expose(), url);
        }
        let json = serde_json::to_string(&MediaUrl::new("https://h/p?hash=S")).unwrap();
        assert_eq!(json, r#""https://h/p?hash=S""#);
    }
}
