//! [`StoreError`]: what can go wrong between the media API and an object store.

use std::fmt;

use wa_media_core::{Retry, Retryable};

/// A failure of [`crate::fetch_to_store`], [`crate::upload_from_store`] or a store
/// configuration. Whatever failed, no object was created by a failed
/// [`crate::fetch_to_store`] and its multipart upload was aborted (see
/// [`StoreError::AbortFailed`] for the one exception worth an alert).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Retrieving, downloading or verifying the media failed (an API error, a timeout, a body
    /// that did not verify, …); [`wa_media_core::Error::is_retryable`] says whether to try again.
    #[error(transparent)]
    Media(#[from] wa_media_core::Error),
    /// The object store refused or failed an operation. Its Display names the cause when it
    /// can be told from the store's answer — no such bucket (named), connection refused (the
    /// endpoint's host:port), access denied, invalid credentials, a timeout — and gives the
    /// store's own message otherwise. Never a credential: an endpoint's user info is dropped.
    #[error("object store: {operation} {location} failed: {}", describe(source))]
    Store {
        /// What was attempted (`create multipart upload`, `upload part`, `complete`, `head`, …).
        operation: &'static str,
        /// The object's path in the store.
        location: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// The operation failed (`cause`), and aborting its multipart upload failed as well: an
    /// incomplete upload may be left in the bucket until a lifecycle rule removes it (see
    /// docs/object-store.md). No object was created.
    #[error("{cause}; aborting the multipart upload of {location} failed as well ({}): an incomplete upload may remain until the bucket's lifecycle rule removes it", describe(abort))]
    AbortFailed {
        /// The object's path in the store.
        location: String,
        /// Why the upload was being aborted.
        #[source]
        cause: Box<StoreError>,
        /// Why the abort failed.
        abort: object_store::Error,
    },
    /// A store URL or option could not be used.
    #[error("object store configuration: {0}")]
    Config(String),
}

impl StoreError {
    pub(crate) fn store(
        operation: &'static str,
        location: &object_store::path::Path,
        source: object_store::Error,
    ) -> Self {
        StoreError::Store {
            operation,
            location: location.to_string(),
            source,
        }
    }

    /// Whether trying the same operation again may succeed ([`Retryable::retry`] is not
    /// [`Retry::Never`]).
    pub fn is_retryable(&self) -> bool {
        self.retry().may_succeed()
    }
}

/// The store's failures in the workspace's one retry vocabulary: a media error keeps its own
/// class; a store refusal that will not change by itself — access denied, invalid
/// credentials, an operation the store does not implement or support, an invalid path or
/// configuration — is [`Retry::Never`] (a webhook sink sends it to `failed/` at once, with the
/// cause); anything else (no such bucket yet, the store unreachable, a timeout, a 5xx) is
/// [`Retry::Later`].
impl Retryable for StoreError {
    fn retry(&self) -> Retry {
        match self {
            StoreError::Media(e) => e.retry(),
            StoreError::Store { source, .. } => {
                let refused = matches!(
                    source,
                    object_store::Error::NotImplemented { .. }
                        | object_store::Error::NotSupported { .. }
                        | object_store::Error::InvalidPath { .. }
                        | object_store::Error::PermissionDenied { .. }
                        | object_store::Error::Unauthenticated { .. }
                        | object_store::Error::UnknownConfigurationKey { .. }
                ) || matches!(
                    cause(source),
                    Some(Cause::AccessDenied(_) | Cause::InvalidCredentials(_))
                );
                if refused {
                    Retry::Never
                } else {
                    Retry::Later
                }
            }
            StoreError::AbortFailed { cause, .. } => cause.retry(),
            StoreError::Config(_) => Retry::Never,
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            StoreError::Media(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// What a store failure comes down to, told from the store's answer (its error code, status)
/// or the transport error beneath it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cause {
    /// S3's and GCS's `NoSuchBucket`, Azure's `ContainerNotFound`; the bucket when named.
    NoSuchBucket(Option<String>),
    /// Nothing listens at the endpoint (`host:port` when known).
    ConnectionRefused(Option<String>),
    /// The store refused the operation to the credentials (403, `AccessDenied`, …).
    AccessDenied(Option<String>),
    /// The credentials were refused (401, `InvalidAccessKeyId`, `SignatureDoesNotMatch`,
    /// `ExpiredToken`, Azure's `AuthenticationFailed`, …).
    InvalidCredentials(Option<String>),
    /// No answer in time (`host:port` when known, and what timed out).
    TimedOut(Option<String>, String),
}

/// Error codes (S3, GCS XML, Azure) saying the bucket or container does not exist.
const NO_SUCH_BUCKET: &[&str] = &["NoSuchBucket", "ContainerNotFound"];
/// Error codes saying the credentials themselves were refused.
const BAD_CREDENTIALS: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
    "AuthenticationFailed",
    "InvalidSecurity",
];
/// Error codes saying valid credentials lack a permission.
const NO_PERMISSION: &[&str] = &[
    "AccessDenied",
    "AllAccessDisabled",
    "AuthorizationFailure",
    "AuthorizationPermissionMismatch",
    "InsufficientAccountPermissions",
];

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = |c: &Option<String>| c.as_ref().map(|c| format!(" ({c})")).unwrap_or_default();
        match self {
            Cause::NoSuchBucket(Some(b)) => write!(
                f,
                "no such bucket {b:?}: create it, or correct the bucket in the store URL"
            ),
            Cause::NoSuchBucket(None) => f.write_str(
                "no such bucket: create it, or correct the bucket in the store URL",
            ),
            Cause::ConnectionRefused(at) => write!(
                f,
                "connection refused{}: nothing listens there; check the store's endpoint and that the store is running",
                at.as_ref().map(|a| format!(" by {a}")).unwrap_or_default()
            ),
            Cause::AccessDenied(c) => write!(
                f,
                "access denied{}: the store refused this operation to these credentials; check the bucket's policy and the credentials' permissions",
                code(c)
            ),
            Cause::InvalidCredentials(c) => write!(
                f,
                "invalid credentials{}: the store refused the access key, its secret or its session token; check the credentials in the environment (see docs/object-store.md)",
                code(c)
            ),
            Cause::TimedOut(at, what) => write!(
                f,
                "timed out{} ({what}): the store is slow or unreachable",
                at.as_ref().map(|a| format!(" talking to {a}")).unwrap_or_default()
            ),
        }
    }
}

/// The store error in a sentence: its cause when it can be told, else its own message.
fn describe(e: &object_store::Error) -> String {
    cause(e).map_or_else(|| e.to_string(), |c| c.to_string())
}

/// The cause of a store error, from its variant, the error code in the store's answer and the
/// I/O error at the bottom of its chain.
fn cause(e: &object_store::Error) -> Option<Cause> {
    let text = e.to_string();
    let code = element(&text, "Code");
    let is = |codes: &[&str]| code.as_deref().is_some_and(|c| codes.contains(&c));
    if is(NO_SUCH_BUCKET) {
        let bucket = element(&text, "BucketName").or_else(|| {
            // GCS and Azure name no bucket in the answer, but their URLs are path-style:
            // the bucket (container) is the path's first segment.
            request_uri(&text)
                .and_then(|u| u.split_once("://").map(|(_, rest)| rest.to_owned()))
                .and_then(|rest| rest.split(['/', '?']).nth(1).map(str::to_owned))
                .filter(|b| !b.is_empty())
                .map(|b| clean(&b))
        });
        return Some(Cause::NoSuchBucket(bucket));
    }
    if is(BAD_CREDENTIALS) {
        return Some(Cause::InvalidCredentials(code));
    }
    if is(NO_PERMISSION) {
        return Some(Cause::AccessDenied(code));
    }
    match e {
        object_store::Error::Unauthenticated { .. } => {
            return Some(Cause::InvalidCredentials(code))
        }
        object_store::Error::PermissionDenied { .. } => return Some(Cause::AccessDenied(code)),
        _ => {}
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return Some(Cause::ConnectionRefused(endpoint(&text)))
                }
                std::io::ErrorKind::TimedOut => {
                    return Some(Cause::TimedOut(endpoint(&text), clean(&io.to_string())))
                }
                _ => {}
            }
        }
        source = s.source();
    }
    None
}

/// The text of the first `<name>…</name>` element in `text` (an S3, GCS or Azure XML error).
fn element(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&format!("</{name}>"))?;
    let value = clean(&text[start..start + len]);
    (!value.is_empty()).then_some(value)
}

/// The request URI in object_store's "Error performing METHOD URI …" (absent when it redacted
/// it).
fn request_uri(text: &str) -> Option<&str> {
    let after = text.split_once("Error performing ")?.1;
    let uri = after.split_whitespace().nth(1)?;
    uri.contains("://").then_some(uri)
}

/// `host:port` of the request URI (the scheme's port when none is given); never its user info.
fn endpoint(text: &str) -> Option<String> {
    let (scheme, rest) = request_uri(text)?.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    if host_port.is_empty() {
        return None;
    }
    let has_port = match host_port.rsplit_once(':') {
        Some((_, p)) => !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    };
    Some(clean(&if has_port {
        host_port.to_owned()
    } else {
        let port = if scheme.eq_ignore_ascii_case("http") {
            80
        } else {
            443
        };
        format!("{host_port}:{port}")
    }))
}

/// At most 200 printable characters of a value taken from a store's answer.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(source: impl std::error::Error + Send + Sync + 'static) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(source),
        }
    }

    #[test]
    fn the_endpoint_never_carries_user_info() {
        let at = |uri: &str| endpoint(&format!("Error performing PUT {uri} in 1ms - HTTP error"));
        assert_eq!(
            at("http://user:secret@store.internal:9000/b/k").as_deref(),
            Some("store.internal:9000")
        );
        assert_eq!(
            at("https://b.s3.eu-west-1.amazonaws.com/k?uploads=").as_deref(),
            Some("b.s3.eu-west-1.amazonaws.com:443")
        );
        assert_eq!(at("http://[::1]/b/k").as_deref(), Some("[::1]:80"));
        assert_eq!(at("http://[::1]:9000/b/k").as_deref(), Some("[::1]:9000"));
        assert_eq!(at("REDACTED"), None);
        assert_eq!(endpoint("no request here"), None);
    }

    #[test]
    fn causes_from_codes_variants_and_io_errors() {
        let refused = generic(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        ));
        assert_eq!(cause(&refused), Some(Cause::ConnectionRefused(None)));
        // Azure names no container in its answer: the URL's first path segment is it.
        let azure = generic(std::io::Error::other(
            "Error performing PUT https://acct.blob.core.windows.net/inbox/k in 1ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?><Error><Code>ContainerNotFound</Code></Error>",
        ));
        assert_eq!(
            cause(&azure),
            Some(Cause::NoSuchBucket(Some("inbox".into())))
        );
        let denied = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: Box::new(std::io::Error::other("403 Forbidden")),
        };
        assert_eq!(cause(&denied), Some(Cause::AccessDenied(None)));
        let expired = generic(std::io::Error::other(
            "<Error><Code>ExpiredToken</Code></Error>",
        ));
        assert_eq!(
            cause(&expired),
            Some(Cause::InvalidCredentials(Some("ExpiredToken".into())))
        );
        // Anything else keeps the store's own message.
        let other = generic(std::io::Error::other("something else"));
        assert_eq!(cause(&other), None);
        assert_eq!(describe(&other), other.to_string());
    }
}
