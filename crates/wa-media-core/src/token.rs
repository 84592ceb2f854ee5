//! The access token: a secret that prints as `AccessToken(***)` everywhere, and the
//! [`TokenSource`] the client asks for it.

use std::fmt;
use std::sync::Arc;

use crate::error::{ConfigError, Error};
use crate::transport::BoxError;

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

/// Where the client gets its access token: asked for the current token at the start of every
/// operation, and asked once for a fresh one when Graph rejects a token (code 190).
///
/// A plain token (`.token("…")` on the builders, or an [`AccessToken`]) is the static source:
/// it never changes and has no fresh token to give, so a 190 is returned as it is. Implement
/// this trait when tokens rotate: a secret manager re-writing a file, a vault, a token service.
///
/// # The rules the client follows
/// - [`token`](Self::token) is called once per operation (upload, retrieve, download, delete,
///   send); the token is used for every retry of that operation.
/// - When Graph answers code 190 (the token is invalid or expired), the client calls
///   [`refresh`](Self::refresh) once with the rejected token and, if it gets one, sends the
///   request again at once — once: a second 190 is returned as the error. It never loops,
///   whatever the source returns. An upload from a one-shot stream that was already sent is not
///   sent again.
/// - The tokens are [`AccessToken`]s: never shown in Debug, logs or errors, and scrubbed from
///   any server text that echoes them.
/// - A source's error is [`crate::Error::TokenSource`]; nothing is sent.
///
/// # Example: a file re-written by a secret manager
///
/// The secret manager (a Kubernetes secret volume, Vault Agent, a cron job) replaces the file;
/// the client reads it for each operation, and again when Graph rejected what it sent.
///
/// ```
/// use std::path::PathBuf;
/// use wa_media_core::{AccessToken, BoxError, TokenSource};
///
/// /// The token in a file, re-read for every operation (a few hundred bytes: reading it is
/// /// cheap next to a network exchange).
/// struct TokenFile {
///     path: PathBuf,
/// }
///
/// #[async_trait::async_trait]
/// impl TokenSource for TokenFile {
///     async fn token(&self) -> Result<AccessToken, BoxError> {
///         let text = std::fs::read_to_string(&self.path)?;
///         Ok(AccessToken::new(text))
///     }
///     // `refresh` is not overridden: after a 190 the file is simply read again.
/// }
///
/// # fn main() -> Result<(), BoxError> {
/// let path = std::env::temp_dir().join(format!("wa-token-doc-{}", std::process::id()));
/// std::fs::write(&path, "EAAG-first\n")?;
/// let source = TokenFile { path: path.clone() };
/// # let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// # rt.block_on(async {
/// assert_eq!(source.token().await?.expose_secret(), "EAAG-first");
/// std::fs::write(&path, "EAAG-rotated\n")?; // the secret manager rotates it
/// let rejected = AccessToken::new("EAAG-first");
/// let fresh = source.refresh(&rejected).await?.expect("a fresh token");
/// assert_eq!(fresh.expose_secret(), "EAAG-rotated");
/// # Ok::<_, BoxError>(()) })?;
///
/// // Any client takes it in place of `.token(…)`.
/// let transport = |_req: http::Request<wa_media_core::RequestBody>| async {
///     Err::<http::Response<wa_media_core::ResponseBody>, _>(wa_media_core::TransportError::from_kind(
///         wa_media_core::TransportErrorKind::Connect,
///     ))
/// };
/// let client = wa_media_core::MediaClient::builder(transport)
///     .token_source(TokenFile { path: path.clone() })
///     .phone_number_id("106540352242922")
///     .build()?;
/// assert!(!format!("{client:?}").contains("EAAG"));
/// # std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync + 'static {
    /// The token to send now. Called at the start of every operation.
    async fn token(&self) -> Result<AccessToken, BoxError>;

    /// Graph rejected `rejected` (code 190): a fresh token, or `None` when this source has no
    /// other token to give (the 190 is then returned as it is). Called at most once per
    /// operation. The default asks [`token`](Self::token) again.
    async fn refresh(&self, rejected: &AccessToken) -> Result<Option<AccessToken>, BoxError> {
        let _ = rejected;
        self.token().await.map(Some)
    }
}

/// The static source: always this token, nothing fresher after a 190.
#[async_trait::async_trait]
impl TokenSource for AccessToken {
    async fn token(&self) -> Result<AccessToken, BoxError> {
        Ok(self.clone())
    }

    async fn refresh(&self, _rejected: &AccessToken) -> Result<Option<AccessToken>, BoxError> {
        Ok(None)
    }
}

#[async_trait::async_trait]
impl<S: TokenSource + ?Sized> TokenSource for Arc<S> {
    async fn token(&self) -> Result<AccessToken, BoxError> {
        (**self).token().await
    }

    async fn refresh(&self, rejected: &AccessToken) -> Result<Option<AccessToken>, BoxError> {
        (**self).refresh(rejected).await
    }
}

/// The client's token: a static one (checked when the client is built) or a [`TokenSource`].
/// Debug never shows a token.
#[derive(Clone)]
pub(crate) enum Tokens {
    Static(AccessToken),
    Source(Arc<dyn TokenSource>),
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tokens::Static(t) => fmt::Debug::fmt(t, f),
            Tokens::Source(_) => f.write_str("TokenSource(..)"),
        }
    }
}

impl Tokens {
    /// The token for an operation (checked to be usable as a Bearer credential).
    pub(crate) async fn current(&self) -> Result<AccessToken, Error> {
        match self {
            // Checked when built, but a `with_token` clone's is checked only here.
            Tokens::Static(t) => well_formed(t.clone()),
            Tokens::Source(s) => well_formed(s.token().await.map_err(Error::TokenSource)?),
        }
    }

    /// A fresh token after Graph rejected `rejected`; `None` when there is none to try.
    pub(crate) async fn refresh(
        &self,
        rejected: &AccessToken,
    ) -> Result<Option<AccessToken>, Error> {
        match self {
            Tokens::Static(_) => Ok(None),
            Tokens::Source(s) => match s.refresh(rejected).await.map_err(Error::TokenSource)? {
                Some(t) => well_formed(t).map(Some),
                None => Ok(None),
            },
        }
    }
}

fn well_formed(t: AccessToken) -> Result<AccessToken, Error> {
    if t.is_well_formed() {
        Ok(t)
    } else {
        Err(Error::Config(ConfigError::Token))
    }
}
