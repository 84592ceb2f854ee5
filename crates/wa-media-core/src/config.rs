//! The client's configuration and its builder, shared by every transport's client.

use http::HeaderValue;
use url::Url;
use wa_media_types::{ApiVersion, PhoneNumberId};

use crate::error::ConfigError;
use crate::retry::RetryPolicy;
use crate::timeouts::Timeouts;
use crate::token::{AccessToken, TokenSource, Tokens};
use crate::trust::{scheme_check, TrustedHosts};

/// The default Graph API base URL.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";

/// The default `User-Agent`: `wa-media/<version>` (the download host may refuse requests
/// without one).
pub const DEFAULT_USER_AGENT: &str = concat!("wa-media/", env!("CARGO_PKG_VERSION"));

/// A validated client configuration. Build it with [`ClientConfig::builder`] (or
/// [`crate::MediaClient::builder`], which wraps the same builder).
///
/// Debug output shows the token as `AccessToken(***)` (or `TokenSource(..)`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Where the Bearer token comes from: a static token or a [`TokenSource`].
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
    /// The `User-Agent` sent with every request.
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
    /// A builder with every default.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The static token, when the configuration has one (`None` with a [`TokenSource`]).
    pub fn static_token(&self) -> Option<&AccessToken> {
        match &self.tokens {
            Tokens::Static(t) => Some(t),
            Tokens::Source(_) => None,
        }
    }
}

/// Builds a [`ClientConfig`]; every setter is checked in [`ConfigBuilder::build`].
#[derive(Debug, Clone)]
pub struct ConfigBuilder {
    token: Option<Tokens>,
    phone_number_id: Option<Result<PhoneNumberId, String>>,
    api_version: ApiVersion,
    graph_url: String,
    trusted_hosts: TrustedHosts,
    trust_entries: Vec<String>,
    retry: RetryPolicy,
    timeouts: Timeouts,
    user_agent: String,
    scope_to_phone_number: bool,
    validate_uploads: bool,
    fixed_boundary: Option<String>,
}

impl Default for ConfigBuilder {
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

impl ConfigBuilder {
    /// The access token (this or [`token_source`](Self::token_source) is required).
    pub fn token(mut self, token: impl Into<AccessToken>) -> Self {
        self.token = Some(Tokens::Static(token.into()));
        self
    }

    /// Where the client gets its token, asked at each operation and once more after Graph
    /// rejects a token (code 190); replaces [`token`](Self::token). See [`TokenSource`].
    pub fn token_source(mut self, source: impl TokenSource) -> Self {
        self.token = Some(Tokens::Source(std::sync::Arc::new(source)));
        self
    }

    /// The business phone number id (required for uploads). Checked in `build`.
    pub fn phone_number_id(mut self, id: impl AsRef<str>) -> Self {
        self.phone_number_id = Some(PhoneNumberId::new(id.as_ref()).map_err(|e| e.to_string()));
        self
    }

    /// The Graph API version (default [`ApiVersion::DEFAULT`]).
    pub fn api_version(mut self, v: ApiVersion) -> Self {
        self.api_version = v;
        self
    }

    /// The Graph base URL (default `https://graph.facebook.com`); an emulator's
    /// `http://127.0.0.1:port` is accepted.
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.graph_url = url.into();
        self
    }

    /// Trusts one more download host (`host`, `host:port`, `*.domain`).
    pub fn trust_host(mut self, entry: impl Into<String>) -> Self {
        self.trust_entries.push(entry.into());
        self
    }

    /// Replaces the whole download-host allowlist (default: `lookaside.fbsbx.com`).
    pub fn trusted_hosts(mut self, hosts: TrustedHosts) -> Self {
        self.trusted_hosts = hosts;
        self
    }

    /// The retry policy.
    pub fn retry_policy(mut self, p: RetryPolicy) -> Self {
        self.retry = p;
        self
    }

    /// The timeouts.
    pub fn timeouts(mut self, t: Timeouts) -> Self {
        self.timeouts = t;
        self
    }

    /// The `User-Agent` (default `wa-media/<version>`); an empty value keeps the default.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Sends `phone_number_id` with retrieve and delete (see [`ClientConfig`]).
    pub fn scope_to_phone_number(mut self, yes: bool) -> Self {
        self.scope_to_phone_number = yes;
        self
    }

    /// Turns local pre-upload validation on (default) or off.
    pub fn validate_uploads(mut self, yes: bool) -> Self {
        self.validate_uploads = yes;
        self
    }

    /// Test hook: a fixed multipart boundary, so snapshots of upload bodies are stable.
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn fixed_boundary(mut self, boundary: impl Into<String>) -> Self {
        self.fixed_boundary = Some(boundary.into());
        self
    }

    /// Checks everything and builds the configuration.
    pub fn build(self) -> Result<ClientConfig, ConfigError> {
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

/// Forwards every [`ConfigBuilder`] setter to the `ConfigBuilder` field `$field` of a client
/// builder, so [`crate::ClientBuilder`] and transport crates' builders (the hyper client's)
/// offer the same settings without writing each one out again.
#[doc(hidden)]
#[macro_export]
macro_rules! config_setters {
    ($field:ident) => {
        /// The access token (this or `token_source` is required). Never printed: Debug shows
        /// `AccessToken(***)`.
        pub fn token(mut self, token: impl ::core::convert::Into<$crate::AccessToken>) -> Self {
            self.$field = self.$field.token(token);
            self
        }
        /// Where the token comes from when it rotates (replaces `token`): asked at each
        /// operation, and once more after Graph rejects a token (code 190). See
        /// [`TokenSource`]($crate::TokenSource).
        pub fn token_source(mut self, source: impl $crate::TokenSource) -> Self {
            self.$field = self.$field.token_source(source);
            self
        }
        /// The business phone number id (required for uploads and sends).
        pub fn phone_number_id(mut self, id: impl ::core::convert::AsRef<str>) -> Self {
            self.$field = self.$field.phone_number_id(id);
            self
        }
        /// The Graph API version (default `v23.0`).
        pub fn api_version(mut self, version: $crate::types::ApiVersion) -> Self {
            self.$field = self.$field.api_version(version);
            self
        }
        /// The Graph base URL (default `https://graph.facebook.com`; `http://` only on
        /// loopback, e.g. the emulator).
        pub fn graph_url(mut self, url: impl ::core::convert::Into<::std::string::String>) -> Self {
            self.$field = self.$field.graph_url(url);
            self
        }
        /// Adds a download host that may receive the token (`host`, `host:port`, `*.domain`).
        pub fn trust_host(
            mut self,
            entry: impl ::core::convert::Into<::std::string::String>,
        ) -> Self {
            self.$field = self.$field.trust_host(entry);
            self
        }
        /// Replaces the download-host allowlist (default: `lookaside.fbsbx.com` over https).
        pub fn trusted_hosts(mut self, hosts: $crate::TrustedHosts) -> Self {
            self.$field = self.$field.trusted_hosts(hosts);
            self
        }
        /// How failures are retried.
        pub fn retry_policy(mut self, policy: $crate::RetryPolicy) -> Self {
            self.$field = self.$field.retry_policy(policy);
            self
        }
        /// The timeouts core applies (request, idle body, body deadline).
        pub fn timeouts(mut self, timeouts: $crate::Timeouts) -> Self {
            self.$field = self.$field.timeouts(timeouts);
            self
        }
        /// The `User-Agent` (default [`DEFAULT_USER_AGENT`]($crate::DEFAULT_USER_AGENT); one is
        /// always sent).
        pub fn user_agent(
            mut self,
            user_agent: impl ::core::convert::Into<::std::string::String>,
        ) -> Self {
            self.$field = self.$field.user_agent(user_agent);
            self
        }
        /// Sends `phone_number_id` with retrieve and delete, so the API acts only on media of
        /// that number.
        pub fn scope_to_phone_number(mut self, yes: bool) -> Self {
            self.$field = self.$field.scope_to_phone_number(yes);
            self
        }
        /// Turns local pre-upload validation on (default) or off.
        pub fn validate_uploads(mut self, yes: bool) -> Self {
            self.$field = self.$field.validate_uploads(yes);
            self
        }
    };
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

    #[test]
    fn token_is_required_and_checked() {
        assert_eq!(
            ClientConfig::builder().build().unwrap_err(),
            ConfigError::Token
        );
        assert_eq!(
            ClientConfig::builder().token("  ").build().unwrap_err(),
            ConfigError::Token
        );
        assert_eq!(
            ClientConfig::builder().token("a\nb").build().unwrap_err(),
            ConfigError::Token
        );
        let c = ClientConfig::builder()
            .token("tok-SECRET-123")
            .build()
            .unwrap();
        assert!(!format!("{c:?}").contains("SECRET"));
        assert_eq!(c.user_agent, DEFAULT_USER_AGENT);
    }
}
