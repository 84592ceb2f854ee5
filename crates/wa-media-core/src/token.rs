//! The access token: a secret that prints as `AccessToken(***)` everywhere.

use std::fmt;
use std::sync::Arc;

/// A WhatsApp Cloud API access token (system-user or temporary token).
///
/// Debug and Display print `AccessToken(***)`, so the token can sit inside configs, errors and
/// log fields without leaking. Only [`AccessToken::expose_secret`] gives the string, and core
/// calls it in exactly one place: building the `Authorization` header for a trusted origin.
///
/// ```
/// use wa_media_core::AccessToken;
/// let t = AccessToken::new("EAAG-secret");
/// assert_eq!(format!("{t} {t:?}"), "AccessToken(***) AccessToken(***)");
/// assert_eq!(t.expose_secret(), "EAAG-secret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// Wraps a token. Leading and trailing whitespace (a common copy-paste accident) is removed;
    /// the client's builder refuses an empty token or one that cannot be an HTTP header value.
    pub fn new(token: impl Into<String>) -> Self {
        let s: String = token.into();
        Self(Arc::from(s.trim()))
    }

    /// The token itself. Never log or display what this returns.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the token is usable as a Bearer credential: non-empty visible ASCII only.
    pub fn is_well_formed(&self) -> bool {
        !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_graphic())
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

impl From<String> for AccessToken {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for AccessToken {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}
