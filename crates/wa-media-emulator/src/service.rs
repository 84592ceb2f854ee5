//! The emulator's request handling, shared by the socket listeners and the in-process
//! transport: the admin endpoints first, then the endpoint's pending fault, the Graph or
//! download route, the damage a fault does to the answer's body, and the request log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::Body;
use wa_media_types::ApiVersion;

use crate::admin;
use crate::body::{Damage, EmuBody};
use crate::fault::{Endpoint, Fault};
use crate::graph::{graph, segments};
use crate::lookaside::lookaside;
use crate::reply::{self, ApiError, ConnectionReset, Outcome};
use crate::request_log::{LoggedRequest, Origin};
use crate::signed_url::is_attachments_path;
use crate::state::Shared;
use crate::token::{check_token, TokenCheck};
use crate::upload;

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
        return Ok(admin::handle(&shared, req).await);
    }
    let (parts, body) = req.into_parts();
    let target_len = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
    let headers: Vec<String> = parts
        .headers
        .keys()
        .map(|k| k.as_str().to_owned())
        .collect();
    let oauth = origin == Origin::Graph && crate::resumable::is_resumable_path(&segments(&path));
    let authorized = matches!(
        check_token(&parts.headers, &shared.accepted_token(), oauth),
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

/// Which media endpoint a request is, by origin, method and path shape.
fn classify(origin: Origin, method: &Method, path: &str) -> Option<Endpoint> {
    match origin {
        Origin::Lookaside => {
            (is_attachments_path(path) && *method == Method::GET).then_some(Endpoint::Download)
        }
        Origin::Graph | Origin::Webhook => {
            let segs = segments(path);
            if segs.iter().any(|s| s.is_empty()) {
                return None;
            }
            match (method, segs.as_slice()) {
                (&Method::POST, [_, s]) if s.starts_with("upload:") => {
                    Some(Endpoint::ResumableUpload)
                }
                // The Resumable Upload API's session status is not a media retrieve.
                (_, [_, s]) if s.starts_with("upload:") => None,
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
