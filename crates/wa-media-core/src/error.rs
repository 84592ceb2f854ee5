//! The one error type of wa-media, with variants a caller can act on.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use http::StatusCode;
use wa_media_types::{ErrorBody, ErrorClass, SendValidationError, Sha256Digest, ValidationError};

use crate::retry_class::Retry;
use crate::timeouts::TimeoutKind;
use crate::transport::{TransportError, TransportErrorKind};

/// Everything that can go wrong in a media operation.
///
/// Each variant's Display says what happened and what to do. No variant ever holds the access
/// token, request headers or a URL's query string (download URLs are shown without it).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Graph API (or the download host) answered with an error status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The upload was refused locally, before anything was sent; every problem is listed.
    #[error("the upload was refused before sending; fix the problems listed")]
    Validation(#[from] ValidationError),
    /// The downloaded bytes are not what the API announced.
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    /// A URL points at a host that is not trusted to receive the token; nothing was sent.
    #[error("refusing to send the access token to untrusted host {host:?}; if this host is a genuine Meta media host, add it with `trust_host`")]
    UntrustedHost {
        /// The host (no path or query).
        host: String,
    },
    /// A URL uses plain http (or another scheme) on a non-loopback host; nothing was sent.
    #[error("refusing to send the access token over {scheme}:// to {host:?}: https is required except on loopback hosts")]
    InsecureUrl {
        /// The URL's scheme.
        scheme: String,
        /// The URL's host.
        host: String,
    },
    /// A URL from the API could not be parsed.
    #[error("the API returned a media URL that is not a valid absolute URL ({reason})")]
    InvalidUrl {
        /// Why it is not a URL.
        reason: String,
    },
    /// The download host answered as for an expired or already-used URL (401/403/404/410).
    /// [`crate::MediaApiExt::fetch`] retrieves a fresh URL once before giving up with this.
    #[error("the download host refused the URL with HTTP {status} (expired, already used, or not permitted); fetch by id retrieves a fresh URL once — if this persists, the media may have expired (webhook media ids last 7 days) or the token may lack access")]
    UrlExpired {
        /// The status of the last refusal (401, 403, 404 or 410).
        status: StatusCode,
    },
    /// The server answered with a redirect; redirects are never followed with the token.
    #[error("the server answered HTTP {status} redirecting to {location:?}; redirects are not followed because the token would travel with them")]
    Redirect {
        /// The 3xx status.
        status: StatusCode,
        /// The `Location` target without its query string, when given.
        location: Option<String>,
    },
    /// A timeout fired.
    #[error("{kind} fired{}; the server or network is slow or stalled — retry later or raise the timeout", after.map(|d| format!(" after {d:?}")).unwrap_or_default())]
    Timeout {
        /// Which one.
        kind: TimeoutKind,
        /// Its configured duration, when known.
        after: Option<Duration>,
    },
    /// The HTTP transport failed (connection refused, reset, TLS, …).
    #[error("network error; check connectivity, DNS and proxy settings (safe requests were already retried)")]
    Transport(#[source] TransportError),
    /// Reading the upload source or writing the destination file failed (the cause through
    /// `source()`, as for every error: log the chain, not only the Display).
    #[error("I/O error{}", path.as_ref().map(|p| format!(" on {}", p.display())).unwrap_or_default())]
    Io {
        /// The file involved, when there is one.
        path: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The upload source changed while it was being sent (the file grew, shrank or was
    /// modified; a stream yielded a different length than announced). The upload was
    /// abandoned and is not retried: the bytes sent would not be the file that was validated.
    #[error("the upload source changed while it was being uploaded ({detail}); nothing was uploaded — upload it again once nothing is writing to it")]
    SourceChanged {
        /// The file, for a path source.
        path: Option<PathBuf>,
        /// What changed.
        detail: String,
    },
    /// A success response whose body is not what the API documents (invalid JSON, missing
    /// fields). Often a proxy or captive portal in the way.
    #[error("the {operation} response (HTTP {status}) could not be understood: {reason}; body starts {snippet:?} — is a proxy or captive portal in the way?")]
    InvalidResponse {
        /// `upload`, `retrieve`, `delete`, `download` or `send`.
        operation: &'static str,
        /// The HTTP status.
        status: StatusCode,
        /// What is wrong with it.
        reason: String,
        /// The start of the body (at most 200 characters).
        snippet: String,
    },
    /// The client was configured wrongly.
    #[error("invalid client configuration")]
    Config(#[from] ConfigError),
    /// A message was refused locally, before anything was sent.
    #[error("the message was refused before sending; nothing was sent")]
    InvalidMessage(#[from] SendValidationError),
    /// A message send failed after its request may have reached Graph (the connection broke
    /// or timed out after the body was sent, or Graph answered 5xx): the message may have
    /// been sent. Never retried automatically, because a duplicate message to a customer is
    /// worse than an error.
    #[error("the message may have been sent; check its status webhooks (or ask the recipient) before sending it again")]
    MaybeSent {
        /// What went wrong.
        source: Box<Error>,
    },
    /// The [`crate::TokenSource`] could not give a token; nothing was sent.
    #[error("the token source could not provide an access token; nothing was sent — check the source (its file, secret store or token service)")]
    TokenSource(#[source] crate::transport::BoxError),
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        if e.kind() == TransportErrorKind::ConnectTimeout {
            Error::Timeout {
                kind: TimeoutKind::Connect,
                after: None,
            }
        } else {
            Error::Transport(e)
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

/// An error's message followed by each of its causes (`source()`), `: `-separated, a cause
/// already in the text not repeated: how a log line or a failure reason shows an error whole
/// (errors show their cause through `source()`, not in their own message).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

impl crate::retry_class::Retryable for Error {
    /// The class of this error (the one classification; see [`Retry`]).
    fn retry(&self) -> Retry {
        match self {
            Error::Api(a) if a.is_retryable() => Retry::Later,
            Error::Api(_) => Retry::Never,
            Error::Timeout {
                kind: TimeoutKind::Idle,
                ..
            } => Retry::Restart,
            Error::Timeout { .. } => Retry::Later,
            Error::Transport(t) => match t.kind() {
                TransportErrorKind::Interrupted => Retry::Restart,
                _ => Retry::Later,
            },
            Error::Integrity(IntegrityError::Announced { .. }) => Retry::Never,
            Error::Integrity(_) | Error::UrlExpired { .. } => Retry::Later,
            Error::Io { source, .. } => Retry::of_io(source),
            _ => Retry::Never,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        Error::retry_after(self)
    }
}

impl Error {
    /// Whether sending the same request again may succeed: a failure of the request itself
    /// (the answer, the connection, a timeout) whose [`Retry`] class is `Later` or `Restart`
    /// — HTTP 429 and 5xx, rate-limit and transient Graph codes, connection errors and
    /// timeouts. Authentication, permission, validation, integrity, I/O and trust errors, and
    /// an answer that is not HTTP at all (it would come back the same at once: worth another
    /// try later, by the webhook workers, not within the call), are never retried within a
    /// call.
    pub fn is_retryable(&self) -> bool {
        use crate::retry_class::Retryable;
        let not_http = matches!(
            self,
            Error::Transport(t)
                if matches!(t.kind(), TransportErrorKind::Decode | TransportErrorKind::Unknown)
        );
        matches!(
            self,
            Error::Api(_) | Error::Timeout { .. } | Error::Transport(_)
        ) && !not_http
            && matches!(self.retry(), Retry::Later | Retry::Restart)
    }

    /// Whether the request certainly never reached the server (so even a non-replayable
    /// upload could be sent again).
    pub fn request_not_sent(&self) -> bool {
        match self {
            Error::Transport(t) => t.kind().request_not_sent(),
            Error::Timeout {
                kind: TimeoutKind::Connect,
                ..
            } => true,
            Error::UntrustedHost { .. }
            | Error::InsecureUrl { .. }
            | Error::InvalidUrl { .. }
            | Error::Validation(_)
            | Error::InvalidMessage(_)
            | Error::TokenSource(_)
            | Error::Config(_) => true,
            _ => false,
        }
    }

    /// Whether a message send failed in a way that may have delivered it
    /// ([`Error::MaybeSent`]): do not send it again before checking its statuses.
    pub fn may_have_been_sent(&self) -> bool {
        matches!(self, Error::MaybeSent { .. })
    }

    /// The Graph error class, when the API sent a Graph error envelope.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            Error::Api(a) => a.body.graph().map(|g| g.class()),
            Error::MaybeSent { source } => source.class(),
            _ => None,
        }
    }

    /// The HTTP status, for API errors, expired URLs and redirects.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(a) => Some(a.status),
            Error::MaybeSent { source } => source.status(),
            Error::UrlExpired { status }
            | Error::Redirect { status, .. }
            | Error::InvalidResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's requested wait, for 429/503 answers carrying `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api(a) => a.retry_after,
            _ => None,
        }
    }

    /// Whether Graph rejected the access token as invalid or expired (Graph code 190): the
    /// client then asks its [`crate::TokenSource`] once for a fresh token.
    pub(crate) fn is_token_rejected(&self) -> bool {
        match self {
            Error::Api(a) => a.body.graph().is_some_and(|g| g.code == 190),
            Error::MaybeSent { source } => source.is_token_rejected(),
            _ => false,
        }
    }

    pub(crate) fn io(path: Option<PathBuf>, source: io::Error) -> Self {
        Error::Io { path, source }
    }
}

/// An error status from the Graph API or the download host, with everything support needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// Which operation failed: `upload`, `retrieve`, `delete`, `download` or `send`.
    pub operation: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// The parsed Graph error, or a snippet of whatever else came.
    pub body: ErrorBody,
    /// The `x-fb-trace-id` header (or the body's `fbtrace_id`): quote it to Meta support.
    pub fbtrace_id: Option<String>,
    /// The `x-fb-debug` header.
    pub fb_debug: Option<String>,
    /// The `Retry-After` wait, when the server sent one.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self.body.graph().map(|g| g.class()) {
            Some(ErrorClass::Authentication | ErrorClass::InvalidRequest) => false,
            Some(c) if c.is_retryable() => true,
            _ => self.status == StatusCode::TOO_MANY_REQUESTS || self.status.is_server_error(),
        }
    }

    /// What the caller should do, in a few words (the code's own hint when it has one, see
    /// [`wa_media_types::GraphError::hint`]).
    pub fn advice(&self) -> &'static str {
        if let Some(h) = self.body.graph().and_then(|g| g.hint()) {
            return h;
        }
        match self.body.graph().map(|g| g.class()) {
            Some(ErrorClass::Authentication) => {
                "check that the access token is valid, not expired, and has the whatsapp_business_messaging permission"
            }
            Some(ErrorClass::RateLimited) => "slow down and retry later",
            Some(ErrorClass::Transient) => "a temporary Meta-side problem; retry later",
            Some(ErrorClass::InvalidRequest) => {
                "fix the request or the media (id, MIME type, size) before retrying"
            }
            _ if self.status == StatusCode::TOO_MANY_REQUESTS => "slow down and retry later",
            _ if self.status.is_server_error() => "a server-side problem; retry later",
            _ => "see the message above",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed with HTTP {}", self.operation, self.status)?;
        if let Some(c) = self.body.graph().map(|g| g.class()) {
            write!(f, " ({c})")?;
        }
        write!(f, ": {}", self.body)?;
        if let Some(t) = &self.fbtrace_id {
            let in_body = self
                .body
                .graph()
                .and_then(|g| g.fbtrace_id.as_deref())
                .is_some_and(|b| b == t);
            if !in_body {
                write!(f, " [fbtrace_id {t}]")?;
            }
        }
        if let Some(ra) = self.retry_after {
            write!(f, " [retry after {ra:?}]")?;
        }
        write!(f, " — {}", self.advice())
    }
}

/// The downloaded bytes differ from what the API announced. Nothing is written at the
/// destination; retrieving and downloading again usually fixes a transient corruption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// The body's SHA-256 is not the announced one.
    #[error("downloaded media is corrupt: SHA-256 is {actual}, the API announced {expected}; discard what was received and fetch again")]
    Digest {
        /// What the retrieve response announced.
        expected: Sha256Digest,
        /// What was received.
        actual: Sha256Digest,
    },
    /// The retrieve answer announces a SHA-256 other than the one the caller expected (from
    /// the webhook, say): nothing was downloaded.
    #[error("the API announces SHA-256 {announced} for this media, but {expected} was expected (from the webhook); nothing was downloaded — the media id or the notification is not the one you think")]
    Announced {
        /// What the caller expected.
        expected: Sha256Digest,
        /// What the retrieve answer announced.
        announced: Sha256Digest,
    },
    /// The body ended early, or the server announced a different length.
    #[error("downloaded media has {actual} bytes, the API announced {expected}; discard what was received and fetch again")]
    Size {
        /// The announced `file_size`.
        expected: u64,
        /// The bytes received (or the `Content-Length` sent).
        actual: u64,
    },
    /// The body grew past the announced size or the largest media allowed; the transfer was
    /// cut off at that point.
    #[error("download cut off: more than {limit} bytes arrived ({what}); the server sent more than the media can be")]
    TooLarge {
        /// The limit that was exceeded.
        limit: u64,
        /// Which limit: `announced file_size` or `largest media size`.
        what: &'static str,
    },
}

/// The client builder (or a trusted-host entry) was given something unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No access token was given, or it is empty or not a valid header value.
    #[error("an access token is required (non-empty, visible ASCII characters only)")]
    Token,
    /// Uploads need the business phone number id.
    #[error("a phone number id is required for uploads: {0}")]
    PhoneNumberId(String),
    /// The Graph base URL is not usable.
    #[error("graph URL {url:?} is not usable: {reason}")]
    GraphUrl {
        /// The URL given (query removed).
        url: String,
        /// Why.
        reason: String,
    },
    /// A trusted-host entry is not usable.
    #[error("trusted host entry {entry:?} is not usable: {reason}")]
    TrustedHost {
        /// The entry as given.
        entry: String,
        /// Why.
        reason: String,
    },
    /// The user agent is not a valid header value.
    #[error("the user agent is not a valid HTTP header value")]
    UserAgent,
    /// This [`crate::MediaApi`] implementation does not do the operation named (a
    /// [`crate::MediaApi::download_url`] left at its default).
    #[error("not supported by this MediaApi implementation: {0}")]
    Unsupported(&'static str),
    /// An app id or WhatsApp Business Account id that is not a Graph id (digits only).
    #[error("{what} {given:?} is not a Graph id: give the digits only")]
    GraphId {
        /// Which id (`app id`, `WhatsApp Business Account id`).
        what: &'static str,
        /// What was given (at most 40 characters).
        given: String,
    },
}

/// Shortest secret that is scrubbed from server-provided text (shorter strings would match
/// ordinary words; real tokens are ~200 characters).
const MIN_SCRUB_LEN: usize = 8;

/// `s` with `secret` scrubbed (for log fields made of server-provided text).
pub(crate) fn scrubbed(s: &str, secret: &str) -> String {
    let mut s = s.to_owned();
    scrub_str(&mut s, secret);
    s
}

/// Replaces every ASCII-case-insensitive occurrence of `secret` in `s` with `***`.
fn scrub_str(s: &mut String, secret: &str) {
    if secret.len() < MIN_SCRUB_LEN || s.len() < secret.len() {
        return;
    }
    let lower = s.to_ascii_lowercase();
    let needle = secret.to_ascii_lowercase();
    if !lower.contains(&needle) {
        return;
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(pos) = lower[i..].find(&needle) {
        out.push_str(&s[i..i + pos]);
        out.push_str("***");
        i += pos + needle.len();
    }
    out.push_str(&s[i..]);
    *s = out;
}

fn scrub_opt(s: &mut Option<String>, secret: &str) {
    if let Some(s) = s {
        scrub_str(s, secret);
    }
}

impl Error {
    /// Removes `secret` from every piece of server-provided text the error carries (a hostile
    /// or broken server may echo the Authorization header into a body or header).
    pub(crate) fn scrub(mut self, secret: &str) -> Self {
        match &mut self {
            Error::Api(a) => {
                match &mut a.body {
                    ErrorBody::Graph(g) => {
                        scrub_str(&mut g.message, secret);
                        scrub_opt(&mut g.error_type, secret);
                        scrub_opt(&mut g.error_user_title, secret);
                        scrub_opt(&mut g.error_user_msg, secret);
                        scrub_opt(&mut g.fbtrace_id, secret);
                        if let Some(d) = &mut g.error_data {
                            scrub_opt(&mut d.details, secret);
                            scrub_opt(&mut d.messaging_product, secret);
                        }
                    }
                    ErrorBody::Unrecognized { snippet, .. } => scrub_str(snippet, secret),
                    _ => {}
                }
                scrub_opt(&mut a.fbtrace_id, secret);
                scrub_opt(&mut a.fb_debug, secret);
            }
            Error::InvalidResponse {
                reason, snippet, ..
            } => {
                scrub_str(reason, secret);
                scrub_str(snippet, secret);
            }
            Error::Redirect { location, .. } => scrub_opt(location, secret),
            Error::UntrustedHost { host } | Error::InsecureUrl { host, .. } => {
                scrub_str(host, secret)
            }
            Error::InvalidUrl { reason } => scrub_str(reason, secret),
            Error::MaybeSent { source } => {
                let inner = std::mem::replace(source.as_mut(), Error::Config(ConfigError::Token));
                **source = inner.scrub(secret);
            }
            _ => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_thread_safe() {
        fn assert<T: Send + Sync + 'static>() {}
        fn assert_send<T: Send + 'static>() {}
        assert::<Error>();
        assert::<ApiError>();
        struct Dummy;
        #[async_trait::async_trait]
        impl crate::Transport for Dummy {
            async fn send(
                &self,
                _: http::Request<crate::RequestBody>,
            ) -> Result<http::Response<crate::ResponseBody>, TransportError> {
                Err(TransportError::from_kind(TransportErrorKind::Unknown))
            }
        }
        let _ = Dummy;
        assert::<crate::MediaClient>();
        assert_send::<crate::Download>();
        assert_send::<crate::Upload>();
    }

    /// Every message in the chain of `err`, outermost first.
    fn chain(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
        let mut out = vec![err.to_string()];
        let mut cur = err.source();
        while let Some(e) = cur {
            out.push(e.to_string());
            cur = e.source();
        }
        out
    }

    /// No message in a chain repeats a cause's message (each error shows its source either in
    /// its own message or through `source()`, never both).
    fn assert_no_repeats(err: &(dyn std::error::Error + 'static)) {
        let c = chain(err);
        for (i, outer) in c.iter().enumerate() {
            for inner in &c[i + 1..] {
                assert!(
                    !outer.contains(inner.as_str()),
                    "{outer:?} repeats {inner:?}"
                );
            }
        }
    }

    fn digest(b: u8) -> Sha256Digest {
        Sha256Digest::from_bytes([b; 32])
    }

    #[test]
    fn every_error_message_is_pinned() {
        let api = ApiError {
            operation: "retrieve",
            status: StatusCode::NOT_FOUND,
            body: ErrorBody::parse(b"<html>gone</html>"),
            fbtrace_id: Some("Atrace".into()),
            fb_debug: None,
            retry_after: Some(Duration::from_secs(3)),
        };
        let e = Error::from(api);
        insta::assert_snapshot!(e.to_string(), @r#"retrieve failed with HTTP 404 Not Found: non-Graph body of 17 bytes: "<html>gone</html>" [fbtrace_id Atrace] [retry after 3s] — see the message above"#);
        let e = Error::Validation(ValidationError {
            problems: Vec::new(),
        });
        insta::assert_snapshot!(e.to_string(), @"the upload was refused before sending; fix the problems listed");
        let e = Error::Integrity(IntegrityError::Size {
            expected: 10,
            actual: 9,
        });
        insta::assert_snapshot!(e.to_string(), @"downloaded media has 9 bytes, the API announced 10; discard what was received and fetch again");
        let e = Error::UntrustedHost {
            host: "evil.example".into(),
        };
        insta::assert_snapshot!(e.to_string(), @r#"refusing to send the access token to untrusted host "evil.example"; if this host is a genuine Meta media host, add it with `trust_host`"#);
        let e = Error::InsecureUrl {
            scheme: "http".into(),
            host: "cdn.example".into(),
        };
        insta::assert_snapshot!(e.to_string(), @r#"refusing to send the access token over http:// to "cdn.example": https is required except on loopback hosts"#);
        let e = Error::InvalidUrl {
            reason: "relative URL without a base".into(),
        };
        insta::assert_snapshot!(e.to_string(), @"the API returned a media URL that is not a valid absolute URL (relative URL without a base)");
        let e = Error::UrlExpired {
            status: StatusCode::GONE,
        };
        insta::assert_snapshot!(e.to_string(), @"the download host refused the URL with HTTP 410 Gone (expired, already used, or not permitted); fetch by id retrieves a fresh URL once — if this persists, the media may have expired (webhook media ids last 7 days) or the token may lack access");
        let e = Error::Redirect {
            status: StatusCode::FOUND,
            location: Some("https://elsewhere.example/x".into()),
        };
        insta::assert_snapshot!(e.to_string(), @r#"the server answered HTTP 302 Found redirecting to Some("https://elsewhere.example/x"); redirects are not followed because the token would travel with them"#);
        let e = Error::Timeout {
            kind: TimeoutKind::Connect,
            after: Some(Duration::from_secs(10)),
        };
        insta::assert_snapshot!(e.to_string(), @"connect timeout fired after 10s; the server or network is slow or stalled — retry later or raise the timeout");
        let e = Error::Transport(TransportError::new(
            TransportErrorKind::Connect,
            io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused"),
        ));
        insta::assert_snapshot!(e.to_string(), @"network error; check connectivity, DNS and proxy settings (safe requests were already retried)");
        assert_eq!(chain(&e), ["network error; check connectivity, DNS and proxy settings (safe requests were already retried)", "could not connect", "connection refused"]);
        let e = Error::io(
            Some("/tmp/x.jpg".into()),
            io::Error::new(io::ErrorKind::PermissionDenied, "permission denied"),
        );
        insta::assert_snapshot!(e.to_string(), @"I/O error on /tmp/x.jpg");
        assert_eq!(chain(&e), ["I/O error on /tmp/x.jpg", "permission denied"]);
        let e = Error::io(None, io::Error::other("disk full"));
        insta::assert_snapshot!(e.to_string(), @"I/O error");
        let e = Error::SourceChanged {
            path: None,
            detail: "the file grew".into(),
        };
        insta::assert_snapshot!(e.to_string(), @"the upload source changed while it was being uploaded (the file grew); nothing was uploaded — upload it again once nothing is writing to it");
        let e = Error::InvalidResponse {
            operation: "upload",
            status: StatusCode::OK,
            reason: "missing field `id`".into(),
            snippet: "{}".into(),
        };
        insta::assert_snapshot!(e.to_string(), @r#"the upload response (HTTP 200 OK) could not be understood: missing field `id`; body starts "{}" — is a proxy or captive portal in the way?"#);
        let e = Error::Config(ConfigError::Token);
        insta::assert_snapshot!(e.to_string(), @"invalid client configuration");
        assert_eq!(
            chain(&e)[1],
            "an access token is required (non-empty, visible ASCII characters only)"
        );
        let e = Error::InvalidMessage(SendValidationError::Link {
            link: "ftp://x".into(),
            reason: "not https",
        });
        insta::assert_snapshot!(e.to_string(), @"the message was refused before sending; nothing was sent");
        let e = Error::MaybeSent {
            source: Box::new(Error::Timeout {
                kind: TimeoutKind::Idle,
                after: None,
            }),
        };
        insta::assert_snapshot!(e.to_string(), @"the message may have been sent; check its status webhooks (or ask the recipient) before sending it again");
        assert_no_repeats(&e);
        let e = Error::TokenSource("the token file is missing".into());
        insta::assert_snapshot!(e.to_string(), @"the token source could not provide an access token; nothing was sent — check the source (its file, secret store or token service)");
        assert_eq!(chain(&e)[1], "the token file is missing");
        assert_no_repeats(&e);
    }

    #[test]
    fn every_integrity_and_config_message_is_pinned() {
        let e = IntegrityError::Digest {
            expected: digest(1),
            actual: digest(2),
        };
        insta::assert_snapshot!(e.to_string(), @"downloaded media is corrupt: SHA-256 is 0202020202020202020202020202020202020202020202020202020202020202, the API announced 0101010101010101010101010101010101010101010101010101010101010101; discard what was received and fetch again");
        let e = IntegrityError::Announced {
            expected: digest(1),
            announced: digest(2),
        };
        insta::assert_snapshot!(e.to_string(), @"the API announces SHA-256 0202020202020202020202020202020202020202020202020202020202020202 for this media, but 0101010101010101010101010101010101010101010101010101010101010101 was expected (from the webhook); nothing was downloaded — the media id or the notification is not the one you think");
        let e = IntegrityError::TooLarge {
            limit: 100,
            what: "announced file_size",
        };
        insta::assert_snapshot!(e.to_string(), @"download cut off: more than 100 bytes arrived (announced file_size); the server sent more than the media can be");
        let e = ConfigError::PhoneNumberId("not digits".into());
        insta::assert_snapshot!(e.to_string(), @"a phone number id is required for uploads: not digits");
        let e = ConfigError::GraphUrl {
            url: "ftp://x".into(),
            reason: "not http(s)".into(),
        };
        insta::assert_snapshot!(e.to_string(), @r#"graph URL "ftp://x" is not usable: not http(s)"#);
        let e = ConfigError::TrustedHost {
            entry: "*".into(),
            reason: "wildcards are not allowed".into(),
        };
        insta::assert_snapshot!(e.to_string(), @r#"trusted host entry "*" is not usable: wildcards are not allowed"#);
        insta::assert_snapshot!(ConfigError::UserAgent.to_string(), @"the user agent is not a valid HTTP header value");
    }

    #[test]
    fn chains_do_not_repeat_causes() {
        let transport = TransportError::new(
            TransportErrorKind::Interrupted,
            io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer"),
        );
        for e in [
            Error::from(transport),
            Error::Validation(ValidationError {
                problems: Vec::new(),
            }),
            Error::Integrity(IntegrityError::Size {
                expected: 1,
                actual: 2,
            }),
            Error::Config(ConfigError::UserAgent),
            Error::io(None, io::Error::other("disk full")),
        ] {
            assert_no_repeats(&e);
            assert!(
                chain(&e).len() >= 2 || matches!(e, Error::Integrity(_)),
                "{e}"
            );
        }
    }

    #[test]
    fn scrub_removes_the_secret_in_any_case() {
        let mut s = "a SeCrEt-TOKEN b secret-token c".to_owned();
        scrub_str(&mut s, "secret-token");
        assert_eq!(s, "a *** b *** c");
        let mut s = "short x".to_owned();
        scrub_str(&mut s, "x");
        assert_eq!(s, "short x", "too-short secrets are not scrubbed");
    }
}
