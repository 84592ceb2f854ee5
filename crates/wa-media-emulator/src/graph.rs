//! The Graph origin's routes: upload (`POST /{version}/{phone}/media`), retrieve
//! (`GET /{version}/{id}`), delete (`DELETE /{version}/{id}`), the messages endpoint (in
//! `messages.rs`) and Graph's answers to every other path.

use bytes::Bytes;
use http::{header, Method, Response, StatusCode};
use http_body::Body;
use wa_media_types::{ApiVersion, MediaId, MediaUrlResponse};

use crate::body::EmuBody;
use crate::fault::{Endpoint, Fault};
use crate::messages;
use crate::reply::{self, ApiError, Outcome};
use crate::resumable;
use crate::state::Shared;
use crate::store::{MediaSource, StoredMedia};
use crate::templates;
use crate::token::{check_token, TokenCheck};
use crate::upload::{self, UploadFailure};

/// The path's segments; a trailing slash or a doubled one gives an empty segment (which no
/// Graph route has).
pub(crate) fn segments(path: &str) -> Vec<&str> {
    let p = path.strip_prefix('/').unwrap_or(path);
    if p.is_empty() {
        Vec::new()
    } else {
        p.split('/').collect()
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Answers a Graph request (the faults that replace the answer have been applied).
pub(crate) async fn graph<B>(
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
    let path = parts.uri.path();
    let segs = segments(path);
    let oauth = crate::resumable::is_resumable_path(&segs);
    let token = shared.accepted_token();
    let check = match check_token(&parts.headers, &token, oauth) {
        // Meta's guide also shows the Resumable Upload API with `access_token` in the query.
        TokenCheck::Missing if oauth => resumable::query_token(parts.uri.query(), &token),
        c => c,
    };
    match check {
        TokenCheck::Missing => return ApiError::invalid_token(true).into(),
        TokenCheck::Wrong => return ApiError::invalid_token(false).into(),
        TokenCheck::Ok => {}
    }
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
        (Some(Endpoint::ResumableUpload), [_, session]) => {
            let Some(body) = body.take() else {
                return ApiError::server_error(500).into();
            };
            resumable::post(shared, parts, session, fault, body).await
        }
        (_, [_, session]) if session.starts_with("upload:") => {
            if parts.method == Method::GET {
                resumable::status(shared, session)
            } else {
                ApiError::unknown_object(&parts.method, session).into()
            }
        }
        (_, [_, app, "uploads"]) if parts.method == Method::POST => {
            resumable::start(shared, app, query)
        }
        (_, [_, waba, "message_templates"]) => {
            templates::route(shared, &parts.method, waba, query, body).await
        }
        (Some(Endpoint::Upload), [_, phone, _]) => {
            let Some(body) = body.take() else {
                return ApiError::server_error(500).into();
            };
            let length = || {
                parts
                    .headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            };
            let reset_at = match fault {
                Some(Fault::ResetMidBody) => Some(length().map_or(32 * 1024, |n| (n / 2).max(1))),
                Some(Fault::ResetAt { percent }) => {
                    Some(length().map_or(32 * 1024, |n| (n * u64::from(*percent) / 100).max(1)))
                }
                _ => None,
            };
            upload(shared, parts, phone, body, reset_at).await
        }
        (Some(Endpoint::Messages), [_, phone, _]) => {
            messages::send(shared, phone, fault, body).await
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
    let Some(phone_number_id) = shared.config.business_phone(phone) else {
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
        expires_at: now.saturating_add(
            shared
                .config
                .upload_lifetime(received.ttl_minutes)
                .as_secs(),
        ),
        source: MediaSource::Upload,
        ttl_minutes: received.ttl_minutes,
    };
    let id = record.id.clone();
    let guard = received.spooled.guard;
    if let Err(e) = shared.store.commit(guard.path(), record) {
        tracing::error!(error = %e, "cannot store an upload");
        return ApiError::server_error(500).into();
    }
    guard.disarm();
    reply::json(StatusCode::OK, &wa_media_types::UploadResponse::new(id)).into()
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
            &MediaUrlResponse::new(
                shared.download_url(&m.id).into(),
                m.mime_type,
                m.sha256,
                m.file_size,
                m.id,
            ),
        ),
    }
}

fn delete(shared: &Shared, method: &Method, id: &str, query: Option<&str>) -> Response<EmuBody> {
    match lookup(shared, method, id, query) {
        Err(e) => e.into_response(),
        Ok(m) => {
            shared.store.delete(&m.id);
            reply::json(StatusCode::OK, &wa_media_types::DeleteResponse::new(true))
        }
    }
}
