//! The client's configuration: [`ClientConfig`], checked from the settings a
//! [`crate::ClientBuilder`] collects.

use http::HeaderValue;
use url::Url;
use wa_media_types::{ApiVersion, PhoneNumberId};

use crate::error::ConfigError;
use crate::retry::RetryPolicy;
use crate::timeouts::Timeouts;
use crate::token::{AccessToken, Tokens};
use crate::trust::{scheme_check, TrustedHosts};

/// The default Graph API base URL.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";

/// The default `User-Agent`: `wa-media/<version>` (the download host may refuse requests
/// without one).
pub const DEFAULT_USER_AGENT: &str = concat!("wa-media/", env!("CARGO_PKG_VERSION"));

/// A client's validated configuration: what [`crate::ClientBuilder`] checked and
/// [`crate::MediaClient::config`] shows.
///
/// Debug output shows the token as `AccessToken(***)` (or `TokenSource(..)`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Where the Bearer token comes from: a static token or a [`crate::TokenSource`].
    pub(crate) tokens: Tokens,
    /// The business phone number id (needed for uploads and sends; an upload's own
    /// [`crate::Upload::phone_number_id`] wins).
    pub phone_number_id: Option<PhoneNumberId>,
    /// The Graph API version of every path.
    pub api_version: ApiVersion,
    /// The Graph base URL (https, or http on loopback); its origin always receives the token.
    pub graph_url: Url,
    /// Download hosts that receive the token besides the Graph origin.
    pub trusted_hosts: TrustedHosts,
    /// How failures are retried.
    pub retry: RetryPolicy,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// The `User-Agent` core puts on every request (a transport sends the request as given).
    pub user_agent: HeaderValue,
    /// Whether retrieve and delete send the optional `phone_number_id` query parameter (the
    /// API then acts only if the media belongs to that number). Default false.
    pub scope_to_phone_number: bool,
    /// Whether uploads are validated locally before sending. Default true.
    pub validate_uploads: bool,
    /// A fixed multipart boundary (test hook: feature `test-util`).
    pub(crate) fixed_boundary: Option<String>,
}

impl ClientConfig {
    /// The static token, when the configuration has one (`None` with a [`crate::TokenSource`]).
    pub fn static_token(&self) -> Option<&AccessToken> {
        match &self.tokens {
            Tokens::Static(t) => Some(t),
            Tokens::Source(_) => None,
        }
    }
}

/// The settings as a [`crate::ClientBuilder`] collects them, unchecked; [`Settings::check`]
/// turns them into a [`ClientConfig`].
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) token: Option<Tokens>,
    pub(crate) phone_number_id: Option<Result<PhoneNumberId, String>>,
    pub(crate) api_version: ApiVersion,
    pub(crate) graph_url: String,
    pub(crate) trusted_hosts: TrustedHosts,
    pub(crate) trust_entries: Vec<String>,
    pub(crate) retry: RetryPolicy,
    pub(crate) timeouts: Timeouts,
    pub(crate) user_agent: String,
    pub(crate) scope_to_phone_number: bool,
    pub(crate) validate_uploads: bool,
    pub(crate) fixed_boundary: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token: None,
            phone_number_id: None,
            api_version: ApiVersion::DEFAULT,
            graph_url: DEFAULT_GRAPH_URL.to_owned(),
            trusted_hosts: TrustedHosts::default(),
            trust_entries: Vec::new(),
            retry: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            scope_to_phone_number: false,
            validate_uploads: true,
            fixed_boundary: None,
        }
    }
}

impl Settings {
    /// Checks everything and builds the configuration.
    pub(crate) fn check(self) -> Result<ClientConfig, ConfigError> {
        let tokens = self.token.ok_or(ConfigError::Token)?;
        if let Tokens::Static(token) = &tokens {
            if !token.is_well_formed() {
                return Err(ConfigError::Token);
            }
        }
        let phone_number_id = match self.phone_number_id {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(e)) => return Err(ConfigError::PhoneNumberId(e)),
        };
        let graph_url = parse_graph_url(&self.graph_url)?;
        let mut trusted_hosts = self.trusted_hosts;
        for e in &self.trust_entries {
            trusted_hosts.add(e)?;
        }
        let ua = if self.user_agent.trim().is_empty() {
            DEFAULT_USER_AGENT
        } else {
            self.user_agent.trim()
        };
        let user_agent = HeaderValue::from_str(ua).map_err(|_| ConfigError::UserAgent)?;
        Ok(ClientConfig {
            tokens,
            phone_number_id,
            api_version: self.api_version,
            graph_url,
            trusted_hosts,
            retry: self.retry,
            timeouts: self.timeouts,
            user_agent,
            scope_to_phone_number: self.scope_to_phone_number,
            validate_uploads: self.validate_uploads,
            fixed_boundary: self.fixed_boundary,
        })
    }
}

fn parse_graph_url(s: &str) -> Result<Url, ConfigError> {
    let shown = s
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect::<String>();
    let bad = |reason: &str| ConfigError::GraphUrl {
        url: shown.clone(),
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(s.trim()).map_err(|e| bad(&e.to_string()))?;
    if url.host().is_none() {
        return Err(bad("no host"));
    }
    if scheme_check(&url).is_err() {
        return Err(bad("https is required except on loopback hosts"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials in the URL are not allowed"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("no query or fragment allowed"));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_url_rules() {
        for ok in [
            "https://graph.facebook.com",
            "https://graph.facebook.com/",
            "http://127.0.0.1:8080",
            "http://localhost:1/prefix/",
        ] {
            assert!(parse_graph_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://graph.facebook.com",
            "graph.facebook.com",
            "https://u:p@graph.facebook.com",
            "https://graph.facebook.com/?a=b",
            "file:///x",
        ] {
            assert!(parse_graph_url(bad).is_err(), "{bad}");
        }
    }

    fn with_token(token: &str) -> Settings {
        Settings {
            token: Some(Tokens::Static(token.into())),
            ..Settings::default()
        }
    }

    #[test]
    fn token_is_required_and_checked() {
        assert_eq!(Settings::default().check().unwrap_err(), ConfigError::Token);
        assert_eq!(with_token("  ").check().unwrap_err(), ConfigError::Token);
        assert_eq!(with_token("a\nb").check().unwrap_err(), ConfigError::Token);
        let c = with_token("tok-SECRET-123").check().unwrap();
        assert!(!format!("{c:?}").contains("SECRET"));
        assert_eq!(c.user_agent, DEFAULT_USER_AGENT);
    }
}
