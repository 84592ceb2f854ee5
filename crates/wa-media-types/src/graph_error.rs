//! The Graph error envelope and its classification into what a caller can do about it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `error` object of a Graph error body: `{"error": {message, type, code, …}}`.
///
/// Meta advises handling errors by `code` (and `error_data.details`), not by HTTP status or the
/// deprecated `error_subcode`; [`GraphError::class`] does that.
///
/// ```
/// use wa_media_types::{ErrorClass, GraphError};
/// let e = GraphError::from_body(br#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"fbtrace_id":"AbC"}}"#).unwrap();
/// assert_eq!(e.code, 190);
/// assert_eq!(e.class(), ErrorClass::Authentication);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphError {
    /// Human-readable message from the API.
    #[serde(default)]
    pub message: String,
    /// The exception type, e.g. `OAuthException`, `GraphMethodException`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// The error code that handling should be based on.
    pub code: i64,
    /// Deprecated finer code (e.g. 463 expired token, 33 missing object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    /// Title meant for an end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_title: Option<String>,
    /// Message meant for an end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_msg: Option<String>,
    /// WhatsApp-specific details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    /// Meta's trace id: quote it to Meta support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
    /// Whether Meta says retrying may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_transient: Option<bool>,
}

/// The `error_data` object of a WhatsApp Graph error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    /// Always `whatsapp` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// The detailed reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

/// What kind of failure a Graph error is, decided from its code: the basis for retries and
/// for messages that tell a person what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The token is invalid, expired or lacks permission (codes 0, 3, 10, 190, 200–299).
    /// Never retried: get a new token or permission.
    Authentication,
    /// Throttled (codes 4, 80007, 130429, 131056). Retried after a delay.
    RateLimited,
    /// Meta-side, temporary (codes 1, 2, 131000, or `is_transient: true`). Retried.
    Transient,
    /// The request or the media is wrong (codes 100, 131051, 131052, 131053). Not retried.
    InvalidRequest,
    /// Anything else (among them the messaging refusals 131026 undeliverable, 131047 outside
    /// the 24-hour window and 368 blocked for policy). Not retried.
    Other,
}

impl ErrorClass {
    /// Whether an error of this class may succeed when sent again.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::RateLimited | ErrorClass::Transient)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorClass::Authentication => "authentication or permission error",
            ErrorClass::RateLimited => "rate limited",
            ErrorClass::Transient => "transient server error",
            ErrorClass::InvalidRequest => "invalid request or media",
            ErrorClass::Other => "error",
        })
    }
}

impl GraphError {
    /// Parses a Graph error body. `None` when the body is not the envelope (HTML, empty,
    /// truncated JSON); use [`ErrorBody::parse`] to keep such bodies for diagnosis.
    pub fn from_body(body: &[u8]) -> Option<GraphError> {
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|e| e.error)
    }

    /// Classifies this error by its code (and `is_transient`).
    pub fn class(&self) -> ErrorClass {
        match self.code {
            0 | 3 | 10 | 190 | 200..=299 => ErrorClass::Authentication,
            4 | 17 | 32 | 613 | 80007 | 130429 | 131048 | 131056 => ErrorClass::RateLimited,
            1 | 2 | 131000 | 131016 => ErrorClass::Transient,
            _ if self.is_transient == Some(true) => ErrorClass::Transient,
            100 | 131008 | 131009 | 131051 | 131052 | 131053 | 131062 => ErrorClass::InvalidRequest,
            _ => ErrorClass::Other,
        }
    }

    /// A one-line hint of what to do, for the codes whose remedy is specific (the messaging
    /// codes above all); `None` for the others, where the class says enough.
    ///
    /// ```
    /// use wa_media_types::GraphError;
    /// let e = GraphError::from_body(br#"{"error":{"message":"Re-engagement message","code":131047}}"#).unwrap();
    /// assert!(e.hint().unwrap().contains("template"));
    /// ```
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self.code {
            131026 => "the message is undeliverable: the number may not be on WhatsApp, may not have accepted the latest terms, or may run an old app version — check the number; do not resend blindly",
            131047 => "more than 24 hours passed since the customer last wrote: only a template message can be sent outside the customer service window (wa-media send --template NAME --lang CODE, with the media as --header-file; send_template in the library)",
            131052 => "Meta could not download the media the customer sent (an inbound failure, reported in the webhook): ask the customer to send it again",
            131062 => "this message cannot be sent to a business-scoped user id (BSUID): address the customer by phone number (--to with digits) for this message type",
            131053 => "the media could not be processed: check its MIME type (voice notes must be audio/ogg; codecs=opus, WebP only as stickers) and size, then upload it again",
            131056 => "too many messages to this recipient in a short time (pair rate limit): wait before sending this recipient another message",
            130429 => "the phone number's throughput limit was reached: slow down and retry later",
            131009 => "a parameter value is invalid: check the message body (type, media id or link, recipient)",
            368 => "the account is temporarily blocked for policy violations: see the WhatsApp Manager account quality page; retrying will not help",
            _ => return None,
        })
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {}", self.message, self.code)?;
        if let Some(sub) = self.error_subcode {
            write!(f, ", subcode {sub}")?;
        }
        if let Some(t) = &self.fbtrace_id {
            write!(f, ", fbtrace_id {t}")?;
        }
        f.write_str(")")?;
        if let Some(details) = self.error_data.as_ref().and_then(|d| d.details.as_deref()) {
            write!(f, ": {details}")?;
        }
        Ok(())
    }
}

/// Longest part of a non-envelope error body kept for diagnosis, in bytes.
pub const MAX_ERROR_SNIPPET: usize = 512;

/// An error response body: the Graph envelope when it is one, otherwise a short, lossy UTF-8
/// snippet of what came (an HTML page, an empty body, truncated JSON). Never panics.
///
/// ```
/// use wa_media_types::ErrorBody;
/// match ErrorBody::parse(b"<html>Sorry, this content isn't available</html>") {
///     ErrorBody::Unrecognized { snippet, .. } => assert!(snippet.starts_with("<html>")),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorBody {
    /// A proper Graph error.
    Graph(GraphError),
    /// Anything else.
    Unrecognized {
        /// At most [`MAX_ERROR_SNIPPET`] bytes of the body, lossily decoded.
        snippet: String,
        /// The body's full length in bytes.
        len: usize,
    },
}

impl ErrorBody {
    /// Parses an error body.
    pub fn parse(body: &[u8]) -> ErrorBody {
        match GraphError::from_body(body) {
            Some(e) => ErrorBody::Graph(e),
            None => {
                let cut = &body[..body.len().min(MAX_ERROR_SNIPPET)];
                ErrorBody::Unrecognized {
                    snippet: String::from_utf8_lossy(cut).into_owned(),
                    len: body.len(),
                }
            }
        }
    }

    /// The Graph error, when the body was one.
    pub fn graph(&self) -> Option<&GraphError> {
        match self {
            ErrorBody::Graph(e) => Some(e),
            ErrorBody::Unrecognized { .. } => None,
        }
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorBody::Graph(e) => e.fmt(f),
            ErrorBody::Unrecognized { len: 0, .. } => f.write_str("empty body"),
            ErrorBody::Unrecognized { snippet, len } => {
                let one_line: String = snippet
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .take(160)
                    .collect();
                write!(f, "non-Graph body of {len} bytes: {one_line:?}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: i64) -> GraphError {
        GraphError {
            message: String::new(),
            error_type: None,
            code: c,
            error_subcode: None,
            error_user_title: None,
            error_user_msg: None,
            error_data: None,
            fbtrace_id: None,
            is_transient: None,
        }
    }

    #[test]
    fn classification_follows_the_code_table() {
        for (c, want) in [
            (0, ErrorClass::Authentication),
            (10, ErrorClass::Authentication),
            (190, ErrorClass::Authentication),
            (200, ErrorClass::Authentication),
            (299, ErrorClass::Authentication),
            (4, ErrorClass::RateLimited),
            (80007, ErrorClass::RateLimited),
            (130429, ErrorClass::RateLimited),
            (131056, ErrorClass::RateLimited),
            (1, ErrorClass::Transient),
            (2, ErrorClass::Transient),
            (131000, ErrorClass::Transient),
            (100, ErrorClass::InvalidRequest),
            (131052, ErrorClass::InvalidRequest),
            (131053, ErrorClass::InvalidRequest),
            (131062, ErrorClass::InvalidRequest),
            (131009, ErrorClass::InvalidRequest),
            (131026, ErrorClass::Other),
            (131047, ErrorClass::Other),
            (368, ErrorClass::Other),
            (12345, ErrorClass::Other),
        ] {
            assert_eq!(code(c).class(), want, "code {c}");
        }
        let mut e = code(12345);
        e.is_transient = Some(true);
        assert_eq!(e.class(), ErrorClass::Transient);
    }

    #[test]
    fn messaging_codes_have_hints_and_only_rate_limits_retry() {
        for c in [
            131026, 131047, 131052, 131053, 131056, 130429, 131009, 131062, 368,
        ] {
            let hint = code(c).hint().unwrap_or_else(|| panic!("no hint for {c}"));
            assert!(!hint.contains('\n') && hint.len() > 20, "{c}: {hint}");
            assert_eq!(
                code(c).class().is_retryable(),
                matches!(c, 130429 | 131056),
                "code {c}"
            );
        }
        assert_eq!(code(12345).hint(), None);
    }

    #[test]
    fn non_envelope_bodies_never_panic() {
        for body in [
            &b""[..],
            b"{",
            b"{\"error\":1}",
            b"\xff\xfe",
            b"null",
            b"{\"error\":{\"code\":\"x\"}}",
        ] {
            assert!(matches!(
                ErrorBody::parse(body),
                ErrorBody::Unrecognized { .. }
            ));
        }
        let long = vec![b'a'; 10_000];
        match ErrorBody::parse(&long) {
            ErrorBody::Unrecognized { snippet, len } => {
                assert_eq!(snippet.len(), MAX_ERROR_SNIPPET);
                assert_eq!(len, 10_000);
            }
            ErrorBody::Graph(_) => panic!(),
        }
    }
}
