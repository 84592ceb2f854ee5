//! Answers as the real hosts give them: Graph JSON with its headers, the Graph error envelope
//! with the right status and code, and the download host's HTML error pages.

use http::{header, HeaderValue, Method, Response, StatusCode};
use serde::Serialize;
use wa_media_types::{ErrorData, GraphError};

use crate::body::EmuBody;

/// What a route produced.
pub(crate) enum Outcome {
    Reply(Response<EmuBody>),
    /// Reset the connection without an answer (an injected fault, or a body that broke).
    Reset,
}

impl From<Response<EmuBody>> for Outcome {
    fn from(r: Response<EmuBody>) -> Self {
        Outcome::Reply(r)
    }
}

impl From<ApiError> for Outcome {
    fn from(e: ApiError) -> Self {
        Outcome::Reply(e.into_response())
    }
}

/// The connection must be reset without an answer (an injected fault).
#[derive(Debug)]
pub(crate) struct ConnectionReset;

impl std::fmt::Display for ConnectionReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by an injected emulator fault")
    }
}

impl std::error::Error for ConnectionReset {}

/// The `facebook-api-version` answered when the request names no valid version (Graph answers
/// with the version that served the request: the requested one when there is one).
pub(crate) const DEFAULT_API_VERSION: &str = wa_media_types::DEFAULT_API_VERSION;

/// The longest request target (path and query) the Graph origin takes; longer ones get a 414
/// with a Graph envelope.
pub(crate) const MAX_GRAPH_URI_LEN: usize = 16 * 1024;

const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// A random trace id in the style of Meta's (`AbCdEfGhIjK`).
pub(crate) fn trace_id(len: usize) -> String {
    (0..len)
        .map(|_| ID_CHARS[fastrand::usize(..ID_CHARS.len())] as char)
        .collect()
}

/// Graph's response head. `trace` is the error body's `fbtrace_id`, so the header and the
/// envelope name the same trace as Graph's do; success answers get a fresh one.
fn graph_builder(status: StatusCode, len: u64, trace: Option<&str>) -> http::response::Builder {
    let trace = trace.map_or_else(|| trace_id(11), str::to_owned);
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=UTF-8")
        .header(header::CONTENT_LENGTH, len)
        .header("x-fb-trace-id", trace)
        .header("x-fb-request-id", trace_id(23))
        .header("x-fb-debug", trace_id(88))
        .header("facebook-api-version", DEFAULT_API_VERSION)
        .header(
            header::CACHE_CONTROL,
            "private, no-cache, no-store, must-revalidate",
        )
}

fn finish(builder: http::response::Builder, body: EmuBody) -> Response<EmuBody> {
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(EmuBody::empty()))
}

/// A Graph success answer.
pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response<EmuBody> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    finish(
        graph_builder(status, bytes.len() as u64, None),
        EmuBody::full(bytes),
    )
}

/// A Graph error: the envelope plus the status and headers Graph sends with it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) error: Box<GraphError>,
    pub(crate) www_authenticate: bool,
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: i64, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error: Box::new(GraphError {
                message: message.into(),
                error_type: Some(kind.to_owned()),
                code,
                error_subcode: None,
                error_user_title: None,
                error_user_msg: None,
                error_data: None,
                fbtrace_id: Some(trace_id(11)),
                is_transient: None,
            }),
            www_authenticate: false,
            retry_after: None,
        }
    }

    /// 401, code 190: no token, or not the emulator's token.
    pub(crate) fn invalid_token(missing: bool) -> Self {
        let message = if missing {
            "An access token is required to request this resource."
        } else {
            "Invalid OAuth access token - Cannot parse access token"
        };
        let mut e = Self::new(StatusCode::UNAUTHORIZED, 190, "OAuthException", message);
        e.www_authenticate = true;
        e
    }

    /// 400, code 100, subcode 33: an unknown, deleted or expired object (or one that belongs to
    /// another phone number), exactly like any missing Graph object.
    pub(crate) fn unknown_object(method: &Method, id: &str) -> Self {
        let verb = method.as_str().to_ascii_lowercase();
        let id: String = id.chars().take(128).collect();
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            100,
            "GraphMethodException",
            format!(
                "Unsupported {verb} request. Object with ID '{id}' does not exist, cannot be \
                 loaded due to missing permissions, or does not support this operation. Please \
                 read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        );
        e.error.error_subcode = Some(33);
        e.www_authenticate = true;
        e
    }

    /// 400, code 100: an invalid or missing parameter.
    pub(crate) fn param(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 100, "OAuthException", message)
    }

    /// 400, code 131053: the media itself was refused (size, type, contents).
    pub(crate) fn upload_refused(details: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            131053,
            "OAuthException",
            "(#131053) Media upload error",
        );
        e.error.error_user_title = Some("Media upload error".to_owned());
        e.error.error_user_msg = Some("The media could not be uploaded.".to_owned());
        e.error.error_data = Some(ErrorData {
            messaging_product: Some("whatsapp".to_owned()),
            details: Some(details.into()),
        });
        e
    }

    /// 400, code 2500: a path that is no Graph object or edge (a malformed version, say).
    pub(crate) fn unknown_path(path: &str) -> Self {
        let path: String = path.chars().take(200).collect();
        Self::new(
            StatusCode::BAD_REQUEST,
            2500,
            "OAuthException",
            format!("Unknown path components: {path}"),
        )
    }

    /// 400, code 2500: an edge the object does not have (`GET /{media id}/media`). The object
    /// exists; the path component does not.
    pub(crate) fn unknown_edge(edge: &str) -> Self {
        let edge: String = edge.chars().take(200).collect();
        Self::new(
            StatusCode::BAD_REQUEST,
            2500,
            "OAuthException",
            format!("Unknown path components: /{edge}"),
        )
    }

    /// 414, code 100: a request target over [`MAX_GRAPH_URI_LEN`].
    pub(crate) fn uri_too_long(len: usize) -> Self {
        Self::new(
            StatusCode::URI_TOO_LONG,
            100,
            "OAuthException",
            format!(
                "(#100) The request URI is {len} bytes long; the limit is {MAX_GRAPH_URI_LEN}. \
                 Send long parameters in the body."
            ),
        )
    }

    /// 408, code 2 (transient): the request body made too little progress within the body
    /// timeout; nothing was stored.
    pub(crate) fn body_timeout() -> Self {
        let mut e = Self::new(
            StatusCode::REQUEST_TIMEOUT,
            2,
            "OAuthException",
            "(#2) The request body was not received in time. Please retry your request.",
        );
        e.error.is_transient = Some(true);
        e
    }

    /// 429 with `Retry-After`, code 4 (application request limit).
    pub(crate) fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            4,
            "OAuthException",
            "(#4) Application request limit reached",
        );
        e.error.is_transient = Some(true);
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// 429 with `Retry-After`, code 130429: the phone number's Cloud API message throughput
    /// was reached (the messages endpoint's answer to a rate limit).
    pub(crate) fn throughput(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            130429,
            "OAuthException",
            "(#130429) Rate limit hit",
        );
        e.error.error_data = Some(ErrorData {
            messaging_product: Some("whatsapp".to_owned()),
            details: Some(
                "Cloud API message throughput has been reached. Try again later or reduce the \
                 frequency of the messages sent from this phone number."
                    .to_owned(),
            ),
        });
        e.error.is_transient = Some(true);
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// 400, code 131056: too many messages from this phone number to one recipient.
    pub(crate) fn pair_rate_limited() -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            131056,
            "OAuthException",
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        );
        e.error.error_data = Some(ErrorData {
            messaging_product: Some("whatsapp".to_owned()),
            details: Some(
                "Message failed to send because there were too many messages sent from this \
                 phone number to the same phone number in a short period of time."
                    .to_owned(),
            ),
        });
        e
    }

    /// 400, code 131062: the message cannot be sent to a BSUID (Meta: one-tap, zero-tap and
    /// copy-code authentication templates).
    pub(crate) fn bsuid_unsupported() -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            131062,
            "OAuthException",
            "(#131062) BSUID recipients are not supported for this message",
        );
        e.error.error_data = Some(ErrorData {
            messaging_product: Some("whatsapp".to_owned()),
            details: Some(
                "Authentication templates cannot be sent to a business-scoped user id: send \
                 them to the customer's phone number (to)."
                    .to_owned(),
            ),
        });
        e
    }

    /// 400, code 131009: a parameter with a value Graph does not take; `details` names it.
    pub(crate) fn param_value(details: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            131009,
            "OAuthException",
            "(#131009) Parameter value is not valid",
        );
        e.error.error_data = Some(ErrorData {
            messaging_product: Some("whatsapp".to_owned()),
            details: Some(details.into()),
        });
        e
    }

    /// 400 with a messaging `code` (131047, 132000, …): `(#code) title`, and `details` in
    /// `error_data`, as Graph words its messaging refusals.
    pub(crate) fn messaging(code: i64, title: &str, details: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            code,
            "OAuthException",
            format!("(#{code}) {title}"),
        );
        e.error.error_data = Some(ErrorData {
            messaging_product: Some("whatsapp".to_owned()),
            details: Some(details.into()),
        });
        e
    }

    /// A 5xx with a transient envelope (code 2).
    pub(crate) fn server_error(status: u16) -> Self {
        let status = StatusCode::from_u16(status)
            .ok()
            .filter(|s| s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut e = Self::new(
            status,
            2,
            "OAuthException",
            "An unexpected error has occurred. Please retry your request later.",
        );
        e.error.is_transient = Some(true);
        e
    }

    pub(crate) fn into_response(self) -> Response<EmuBody> {
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: &'a GraphError,
        }
        let bytes =
            serde_json::to_vec(&Envelope { error: &self.error }).unwrap_or_else(|_| b"{}".to_vec());
        let mut b = graph_builder(
            self.status,
            bytes.len() as u64,
            self.error.fbtrace_id.as_deref(),
        );
        if self.www_authenticate {
            let msg: String = self
                .error
                .message
                .chars()
                .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"')
                .take(200)
                .collect();
            let kind = if self.error.code == 190 {
                "invalid_token"
            } else {
                "invalid_request"
            };
            if let Ok(v) =
                HeaderValue::from_str(&format!("OAuth \"Facebook Platform\" \"{kind}\" \"{msg}\""))
            {
                b = b.header(header::WWW_AUTHENTICATE, v);
            }
        }
        if let Some(secs) = self.retry_after {
            b = b.header(header::RETRY_AFTER, secs);
        }
        finish(b, EmuBody::full(bytes))
    }
}

/// An HTML page from the download host, like the real "content isn't available" pages.
pub(crate) fn html(status: StatusCode, title: &str, detail: &str) -> Response<EmuBody> {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         </head><body><h1>Sorry, this content isn't available right now</h1><p>{detail}</p>\
         </body></html>"
    );
    finish(
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html; charset=\"utf-8\"")
            .header(header::CONTENT_LENGTH, page.len())
            .header(header::CACHE_CONTROL, "no-store"),
        EmuBody::full(page),
    )
}
