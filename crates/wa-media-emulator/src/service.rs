//! The emulator's request handling, shared by the socket servers and the in-process
//! transport: routing, the token check, the four media endpoints and the messages endpoint,
//! faults and the request log.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body::Body;
use wa_media_types::{ApiVersion, MediaId, MediaUrlResponse, PhoneNumberId};

use crate::body::{Damage, EmuBody};
use crate::clock::{unix_secs, Clock as _, OffsetClock};
use crate::config::{EmulatorConfig, UserAgentPolicy};
use crate::fault::{Endpoint, Fault, Faults};
use crate::reply::{self, ApiError};
use crate::request_log::{LoggedRequest, Origin, RequestLog};
use crate::signed_url::{UrlProblem, UrlSigner, ATTACHMENTS_PATH};
use crate::store::{MediaSource, Store, StoredMedia};
use crate::upload::{self, UploadFailure};

/// Everything the request handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) store: Store,
    pub(crate) faults: Faults,
    pub(crate) log: Arc<RequestLog>,
    /// Webhook deliveries of simulated inbound notifications, when configured.
    pub(crate) delivery: Option<crate::delivery::Delivery>,
    /// Sent messages and the send rate windows.
    pub(crate) outbox: Arc<crate::messages::Outbox>,
    pub(crate) clock: Arc<OffsetClock>,
    pub(crate) signer: UrlSigner,
    /// Public Graph base URL, without a trailing slash.
    pub(crate) graph_url: String,
    /// Public download base URL, without a trailing slash.
    pub(crate) lookaside_url: String,
    /// The address the Graph listener is bound to (what `Host` may name besides `localhost`
    /// and the public Graph host).
    pub(crate) graph_addr: std::net::SocketAddr,
    /// Connections open on both listeners (accepted and not yet closed).
    pub(crate) open_connections: std::sync::atomic::AtomicUsize,
}

impl Shared {
    pub(crate) fn now(&self) -> u64 {
        unix_secs(self.clock.now())
    }

    /// Moves the clock forward, within [`MAX_CLOCK_ADVANCE`](crate::MAX_CLOCK_ADVANCE) in total.
    pub(crate) fn advance_clock(
        &self,
        by: Duration,
    ) -> Result<std::time::SystemTime, crate::EmulatorError> {
        match self.clock.advance(by) {
            Ok(_) => Ok(self.clock.now()),
            Err(moved) => Err(crate::EmulatorError::ClockRange {
                requested_secs: by.as_secs(),
                moved_secs: moved.as_secs(),
                max_secs: crate::clock::MAX_CLOCK_ADVANCE.as_secs(),
            }),
        }
    }

    /// The signed download URL for `id`, valid for the configured URL lifetime from now.
    pub(crate) fn download_url(&self, id: &MediaId) -> String {
        let expires = self
            .now()
            .saturating_add(self.config.url_ttl.as_secs().max(1));
        format!(
            "{}{}?{}",
            self.lookaside_url,
            ATTACHMENTS_PATH,
            self.signer.query(id.as_str(), expires)
        )
    }
}

/// The connection must be reset without an answer (an injected fault).
#[derive(Debug)]
pub(crate) struct ConnectionReset;

impl fmt::Display for ConnectionReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection reset by an injected emulator fault")
    }
}

impl std::error::Error for ConnectionReset {}

/// What a route produced.
pub(crate) enum Outcome {
    Reply(Response<EmuBody>),
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

enum TokenCheck {
    Missing,
    Wrong,
    Ok,
}

fn check_token(headers: &HeaderMap, token: &str) -> TokenCheck {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return TokenCheck::Missing;
    };
    let Ok(value) = value.to_str() else {
        return TokenCheck::Wrong;
    };
    let value = value.trim();
    let given = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => return TokenCheck::Wrong,
    };
    if given.is_empty() {
        TokenCheck::Missing
    } else if given.as_bytes() == token.as_bytes() {
        TokenCheck::Ok
    } else {
        TokenCheck::Wrong
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Handles one request on `origin`. `reset` is the connection's reset switch (absent in
/// process): setting it makes the server close the connection with a TCP RST.
pub(crate) async fn handle<B>(
    shared: Arc<Shared>,
    origin: Origin,
    req: Request<B>,
    reset: Option<Arc<AtomicBool>>,
) -> Result<Response<EmuBody>, ConnectionReset>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = req.uri().path().to_owned();
    if origin == Origin::Graph && (path == "/__emulator" || path.starts_with("/__emulator/")) {
        return Ok(crate::admin::handle(&shared, req).await);
    }
    let (parts, body) = req.into_parts();
    let target_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
    let headers: Vec<String> = parts
        .headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect();
    let authorized = matches!(
        check_token(&parts.headers, &shared.config.token),
        TokenCheck::Ok
    );
    let too_long = target_len > reply::MAX_GRAPH_URI_LEN;
    let endpoint = classify(origin, &parts.method, &path).filter(|_| !too_long);
    let fault = endpoint.and_then(|e| shared.faults.take(e));
    let expects_continue = parts
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));

    let mut body = Some(body);
    let mut outcome = if too_long {
        match origin {
            Origin::Graph | Origin::Webhook => ApiError::uri_too_long(target_len).into(),
            Origin::Lookaside => reply::html(
                StatusCode::URI_TOO_LONG,
                "Request-URI Too Long",
                "The requested URL is too long.",
            )
            .into(),
        }
    } else {
        route(
            &shared,
            origin,
            endpoint,
            fault.as_ref(),
            &parts,
            &mut body,
            &reset,
        )
        .await
    };
    if let Some(b) = body {
        // An answer given before reading the body. Without `Expect: 100-continue` the client
        // sends the body anyway: read it away so it can read the answer (see upload.rs).
        if !expects_continue && !b.is_end_stream() {
            upload::discard_body(b, shared.config.body_timeout);
        }
    }
    if let (Origin::Graph, Outcome::Reply(r)) = (origin, &mut outcome) {
        // Graph names the version that served the request: the requested one.
        let requested = segments(&path)
            .first()
            .and_then(|v| v.parse::<ApiVersion>().ok());
        if let Some(v) = requested {
            if let Ok(value) = http::HeaderValue::from_str(&v.to_string()) {
                r.headers_mut().insert("facebook-api-version", value);
            }
        }
    }
    let status = match &outcome {
        Outcome::Reply(r) => r.status().as_u16(),
        Outcome::Reset => 0,
    };
    shared.log.push(LoggedRequest {
        origin,
        method: parts.method.as_str().to_owned(),
        path,
        endpoint,
        headers,
        authorized,
        status,
        fault: fault.as_ref().map(|f| f.kind().to_owned()),
    });
    match outcome {
        Outcome::Reply(r) => Ok(r),
        Outcome::Reset => {
            if let Some(r) = &reset {
                r.store(true, Ordering::SeqCst);
            }
            Err(ConnectionReset)
        }
    }
}

/// The path's segments; a trailing slash or a doubled one gives an empty segment (which no
/// Graph route has).
fn segments(path: &str) -> Vec<&str> {
    let p = path.strip_prefix('/').unwrap_or(path);
    if p.is_empty() {
        Vec::new()
    } else {
        p.split('/').collect()
    }
}

/// Which media endpoint a request is, by origin, method and path shape.
fn classify(origin: Origin, method: &Method, path: &str) -> Option<Endpoint> {
    match origin {
        Origin::Lookaside => {
            let p = path.strip_suffix('/').unwrap_or(path);
            (p == ATTACHMENTS_PATH.trim_end_matches('/') && *method == Method::GET)
                .then_some(Endpoint::Download)
        }
        Origin::Graph | Origin::Webhook => {
            let segs = segments(path);
            if segs.iter().any(|s| s.is_empty()) {
                return None;
            }
            match (method, segs.as_slice()) {
                (&Method::POST, [_, _, "media"]) => Some(Endpoint::Upload),
                (&Method::POST, [_, _, "messages"]) => Some(Endpoint::Messages),
                (&Method::GET, [_, _]) => Some(Endpoint::Retrieve),
                (&Method::DELETE, [_, _]) => Some(Endpoint::Delete),
                _ => None,
            }
        }
    }
}

async fn route<B>(
    shared: &Shared,
    origin: Origin,
    endpoint: Option<Endpoint>,
    fault: Option<&Fault>,
    parts: &http::request::Parts,
    body: &mut Option<B>,
    reset: &Option<Arc<AtomicBool>>,
) -> Outcome
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Faults that replace the answer or hold it back.
    match fault {
        Some(Fault::Delay { millis }) => tokio::time::sleep(Duration::from_millis(*millis)).await,
        Some(Fault::RateLimited { retry_after_secs }) if endpoint == Some(Endpoint::Messages) => {
            return ApiError::throughput(*retry_after_secs).into();
        }
        Some(Fault::PairRateLimited) => return ApiError::pair_rate_limited().into(),
        Some(Fault::RateLimited { retry_after_secs }) => {
            return match origin {
                Origin::Graph | Origin::Webhook => ApiError::rate_limited(*retry_after_secs).into(),
                Origin::Lookaside => {
                    let mut r = reply::html(
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too Many Requests",
                        "You have been temporarily rate limited.",
                    );
                    if let Ok(v) = http::HeaderValue::from_str(&retry_after_secs.to_string()) {
                        r.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    r.into()
                }
            }
        }
        Some(Fault::ServerError { status }) => {
            return match origin {
                Origin::Graph | Origin::Webhook => ApiError::server_error(*status).into(),
                Origin::Lookaside => {
                    let s = StatusCode::from_u16(*status)
                        .ok()
                        .filter(|s| s.is_server_error())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    reply::html(s, "Error", "Something went wrong. Please try again later.").into()
                }
            }
        }
        _ => {}
    }

    let outcome = match origin {
        Origin::Graph | Origin::Webhook => graph(shared, endpoint, fault, parts, body).await,
        Origin::Lookaside => lookaside(shared, parts).await.into(),
    };

    // Faults that damage the answer's body.
    let damage = match fault {
        Some(Fault::ResetMidBody) => Some(Damage::Reset),
        Some(Fault::TruncatedBody) => Some(Damage::Truncate),
        Some(Fault::CorruptByte) => Some(Damage::Corrupt),
        _ => None,
    };
    match (outcome, damage) {
        (Outcome::Reply(r), Some(d)) => Outcome::Reply(r.map(|b| b.damaged(d, reset.clone()))),
        (o, _) => o,
    }
}

async fn graph<B>(
    shared: &Shared,
    endpoint: Option<Endpoint>,
    fault: Option<&Fault>,
    parts: &http::request::Parts,
    body: &mut Option<B>,
) -> Outcome
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match check_token(&parts.headers, &shared.config.token) {
        TokenCheck::Missing => return ApiError::invalid_token(true).into(),
        TokenCheck::Wrong => return ApiError::invalid_token(false).into(),
        TokenCheck::Ok => {}
    }
    let path = parts.uri.path();
    let segs = segments(path);
    let Some(version) = segs.first() else {
        return ApiError::unknown_path(path).into();
    };
    // No Graph path has an empty component: a trailing slash (`/v21.0/{id}/`) or `//` is a
    // path Graph does not know.
    if version.parse::<ApiVersion>().is_err() || segs.iter().any(|s| s.is_empty()) {
        return ApiError::unknown_path(path).into();
    }
    let query = parts.uri.query();
    match (endpoint, segs.as_slice()) {
        (Some(Endpoint::Upload), [_, phone, _]) => {
            let Some(body) = body.take() else {
                return ApiError::server_error(500).into();
            };
            let reset_at = matches!(fault, Some(Fault::ResetMidBody)).then(|| {
                parts
                    .headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                    .map_or(32 * 1024, |n| (n / 2).max(1))
            });
            upload(shared, parts, phone, body, reset_at).await
        }
        (Some(Endpoint::Messages), [_, phone, _]) => {
            crate::messages::send(shared, phone, fault, body).await
        }
        (Some(Endpoint::Retrieve), [_, id]) => retrieve(shared, &parts.method, id, query).into(),
        (Some(Endpoint::Delete), [_, id]) => delete(shared, &parts.method, id, query).into(),
        (_, [_, id, rest @ ..]) if !rest.is_empty() && is_stored_media(shared, id) => {
            // An existing media has no edges (`GET /{media id}/media`): the object exists, the
            // path component does not.
            ApiError::unknown_edge(&rest.join("/")).into()
        }
        (_, [_, id]) | (_, [_, id, ..]) => ApiError::unknown_object(&parts.method, id).into(),
        _ => ApiError::unknown_path(path).into(),
    }
}

async fn upload<B>(
    shared: &Shared,
    parts: &http::request::Parts,
    phone: &str,
    body: B,
    reset_at: Option<u64>,
) -> Outcome
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let phone_ok = PhoneNumberId::new(phone).ok().filter(|p| {
        shared
            .config
            .phone_number_id
            .as_ref()
            .is_none_or(|fixed| fixed == p)
    });
    let Some(phone_number_id) = phone_ok else {
        if !body.is_end_stream() && !parts.headers.contains_key(header::EXPECT) {
            upload::discard_body(body, shared.config.body_timeout);
        }
        return ApiError::unknown_object(&Method::POST, phone).into();
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let received = match upload::receive_multipart(
        &shared.store,
        content_type,
        body,
        reset_at,
        shared.config.body_timeout,
    )
    .await
    {
        Ok(r) => r,
        Err(UploadFailure::Api(e)) => return e.into(),
        Err(UploadFailure::Reset) => return Outcome::Reset,
    };
    let now = shared.now();
    let record = StoredMedia {
        id: shared.store.new_id(),
        mime_type: received.mime_type.to_string(),
        sha256: received.spooled.sha256,
        file_size: received.spooled.len,
        phone_number_id,
        filename: received.filename,
        created_at: now,
        expires_at: now.saturating_add(shared.config.media_ttl.as_secs()),
        source: MediaSource::Upload,
    };
    let id = record.id.clone();
    let guard = received.spooled.guard;
    if let Err(e) = shared.store.commit(guard.path(), record) {
        tracing::error!(error = %e, "cannot store an upload");
        return ApiError::server_error(500).into();
    }
    guard.disarm();
    reply::json(StatusCode::OK, &wa_media_types::UploadResponse { id }).into()
}

fn is_stored_media(shared: &Shared, id: &str) -> bool {
    MediaId::new(id)
        .ok()
        .is_some_and(|id| shared.store.get(&id, shared.now()).is_some())
}

/// The media `id` if it exists, is unexpired and belongs to the `phone_number_id` query
/// parameter when one is given.
fn lookup(
    shared: &Shared,
    method: &Method,
    id: &str,
    query: Option<&str>,
) -> Result<StoredMedia, ApiError> {
    let unknown = || ApiError::unknown_object(method, id);
    let media_id = MediaId::new(id).map_err(|_| unknown())?;
    let media = shared
        .store
        .get(&media_id, shared.now())
        .ok_or_else(unknown)?;
    if let Some(p) = query_param(query, "phone_number_id") {
        if p != media.phone_number_id.as_str() {
            return Err(unknown());
        }
    }
    Ok(media)
}

fn retrieve(shared: &Shared, method: &Method, id: &str, query: Option<&str>) -> Response<EmuBody> {
    match lookup(shared, method, id, query) {
        Err(e) => e.into_response(),
        Ok(m) => reply::json(
            StatusCode::OK,
            &MediaUrlResponse {
                url: shared.download_url(&m.id),
                mime_type: m.mime_type,
                sha256: m.sha256,
                file_size: m.file_size,
                id: m.id,
                messaging_product: Some("whatsapp".to_owned()),
            },
        ),
    }
}

fn delete(shared: &Shared, method: &Method, id: &str, query: Option<&str>) -> Response<EmuBody> {
    match lookup(shared, method, id, query) {
        Err(e) => e.into_response(),
        Ok(m) => {
            shared.store.delete(&m.id);
            reply::json(
                StatusCode::OK,
                &wa_media_types::DeleteResponse { success: true },
            )
        }
    }
}

async fn lookaside(shared: &Shared, parts: &http::request::Parts) -> Response<EmuBody> {
    let path = parts.uri.path();
    if path.strip_suffix('/').unwrap_or(path) != ATTACHMENTS_PATH.trim_end_matches('/')
        || parts.method != Method::GET
    {
        return reply::html(
            StatusCode::NOT_FOUND,
            "Not Found",
            "This page isn't available.",
        );
    }
    match check_token(&parts.headers, &shared.config.token) {
        TokenCheck::Ok => {}
        TokenCheck::Missing | TokenCheck::Wrong => {
            return reply::html(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "This content requires the access token of the business that received it.",
            )
        }
    }
    let mid = match shared.signer.verify(parts.uri.query(), shared.now()) {
        Ok(mid) => mid,
        Err(UrlProblem::Mismatch) => {
            return reply::html(StatusCode::FORBIDDEN, "Forbidden", "URL signature mismatch")
        }
        Err(UrlProblem::Expired) => {
            return reply::html(StatusCode::FORBIDDEN, "Forbidden", "URL signature expired")
        }
    };
    if !parts.headers.contains_key(header::USER_AGENT) {
        match shared.config.user_agent_policy {
            UserAgentPolicy::HtmlPage => {
                return reply::html(
                    StatusCode::OK,
                    "Content not available",
                    "The link you followed may be broken, or the page may have been removed.",
                )
            }
            UserAgentPolicy::Refuse => {
                return reply::html(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    "A User-Agent header is required.",
                )
            }
            UserAgentPolicy::Ignore => {}
        }
    }
    let not_found = || {
        reply::html(
            StatusCode::NOT_FOUND,
            "Not Found",
            "This content isn't available.",
        )
    };
    let Some(media) = MediaId::new(mid)
        .ok()
        .and_then(|id| shared.store.get(&id, shared.now()))
    else {
        return not_found();
    };
    let file = match tokio::fs::File::open(shared.store.media_path(&media.id)).await {
        Ok(f) => f,
        Err(_) => return not_found(),
    };
    let body = EmuBody::file(file, media.file_size);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, media.mime_type.as_str())
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
        .unwrap_or_else(|_| not_found())
}
