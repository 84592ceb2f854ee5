//! The download host's route: `GET /whatsapp_business/attachments/?mid=…&ext=…&hash=…`, with
//! the access token, a valid signature and (per [`UserAgentPolicy`]) a `User-Agent`; every
//! other path is the host's HTML "not found" page.

use http::{header, Method, Response, StatusCode};
use wa_media_types::MediaId;

use crate::body::{EmuBody, OpenedFile};
use crate::config::UserAgentPolicy;
use crate::reply;
use crate::signed_url::{is_attachments_path, UrlProblem};
use crate::state::Shared;
use crate::token::{check_token, TokenCheck};

/// Answers a download request (the faults that replace the answer have been applied).
pub(crate) async fn lookaside(shared: &Shared, parts: &http::request::Parts) -> Response<EmuBody> {
    let path = parts.uri.path();
    if !is_attachments_path(path) || parts.method != Method::GET {
        return reply::html(
            StatusCode::NOT_FOUND,
            "Not Found",
            "This page isn't available.",
        );
    }
    match check_token(&parts.headers, &shared.accepted_token(), false) {
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
    let path = shared.store.media_path(&media.id);
    let body = match EmuBody::open_file(path, media.file_size).await {
        Ok(OpenedFile::Whole(bytes)) => EmuBody::full_with_len(bytes, media.file_size),
        Ok(OpenedFile::Streaming(body)) => body,
        Err(_) => return not_found(),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, media.mime_type.as_str())
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
        .unwrap_or_else(|_| not_found())
}
