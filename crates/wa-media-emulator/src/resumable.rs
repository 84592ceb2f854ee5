//! Graph's Resumable Upload API, which gives the file handles of template examples:
//! `POST /{version}/{app_id}/uploads?file_name&file_length&file_type` opens a session
//! (`{"id": "upload:<SESSION>"}`), `POST /{version}/upload:<SESSION>` with a `file_offset` header
//! takes the bytes from that offset (`{"h": "<HANDLE>"}` once the file is whole), and
//! `GET /{version}/upload:<SESSION>` says how many bytes the session holds
//! (`{"id": …, "file_offset": N}`), where an interrupted upload resumes. Any numeric app id is
//! taken; the token may come as `Authorization: OAuth <token>` (Meta's guide) or `Bearer`.
//! What arrived before a broken connection is kept, as Graph keeps it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{header, Method, StatusCode};
use http_body::Body;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
use wa_media_types::template::RESUMABLE_UPLOAD_TYPES;

use crate::fault::Fault;
use crate::reply::{self, ApiError, Outcome};
use crate::state::Shared;
use crate::upload;

/// The largest file a session takes, in bytes (Graph's own limit is not documented; a
/// template example is at most 100 MB).
pub const MAX_RESUMABLE_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// An upload session as [`EmulatorHandle::upload_sessions`](crate::EmulatorHandle::upload_sessions)
/// shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadSessionInfo {
    /// `upload:<SESSION>`.
    pub id: String,
    /// The app id of the path that opened it.
    pub app_id: String,
    /// `file_name`.
    pub file_name: String,
    /// `file_type`.
    pub file_type: String,
    /// `file_length`.
    pub file_length: u64,
    /// The bytes the session holds (what `GET upload:<SESSION>` answers).
    pub file_offset: u64,
    /// Every body byte received for it, over all its POSTs (kept or not): the file's length
    /// when nothing was sent twice.
    pub bytes_received: u64,
    /// How many `POST upload:<SESSION>` it took (one refused for its `file_offset` not counted).
    pub posts: u32,
    /// The handle, once the file is whole.
    pub handle: Option<String>,
}

/// The sessions and the handles they gave.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<String, (UploadSessionInfo, bool)>,
    /// handle → file_type.
    handles: HashMap<String, String>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every session, in no particular order.
    pub(crate) fn list(&self) -> Vec<UploadSessionInfo> {
        self.lock()
            .sessions
            .values()
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The `file_type` of the file behind `handle`, when it is one this emulator gave.
    pub(crate) fn handle_type(&self, handle: &str) -> Option<String> {
        self.lock().handles.get(handle).cloned()
    }
}

/// Whether the path is one of the Resumable Upload API's (`/{v}/{app}/uploads`,
/// `/{v}/upload:<SESSION>`): those take the token as `OAuth` too.
pub(crate) fn is_resumable_path(segs: &[&str]) -> bool {
    matches!(segs, [_, _, "uploads"]) || matches!(segs, [_, s] if s.starts_with("upload:"))
}

/// The `access_token` query parameter (Meta's guide shows it on these endpoints) checked
/// against the accepted token.
pub(crate) fn query_token(query: Option<&str>, token: &str) -> crate::token::TokenCheck {
    use crate::token::TokenCheck;
    match query_param(query, "access_token") {
        None => TokenCheck::Missing,
        Some(t) if t.is_empty() => TokenCheck::Missing,
        Some(t) if t.as_bytes() == token.as_bytes() => TokenCheck::Ok,
        Some(_) => TokenCheck::Wrong,
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn dir(shared: &Shared) -> PathBuf {
    shared.store.root().join("resumable")
}

fn file_path(shared: &Shared, id: &str) -> PathBuf {
    let name: String = id
        .trim_start_matches("upload:")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    dir(shared).join(format!("{name}.part"))
}

/// `POST /{version}/{app_id}/uploads?file_name&file_length&file_type`.
pub(crate) fn start(shared: &Shared, app_id: &str, query: Option<&str>) -> Outcome {
    if app_id.is_empty() || !app_id.bytes().all(|b| b.is_ascii_digit()) {
        return ApiError::unknown_object(&Method::POST, app_id).into();
    }
    let Some(length) = query_param(query, "file_length") else {
        return ApiError::param("(#100) The parameter file_length is required.").into();
    };
    let Some(length) = length
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=MAX_RESUMABLE_FILE_BYTES).contains(n))
    else {
        return ApiError::param(format!(
            "(#100) Param file_length must be an integer from 1 to {MAX_RESUMABLE_FILE_BYTES}."
        ))
        .into();
    };
    let Some(file_type) = query_param(query, "file_type") else {
        return ApiError::param("(#100) The parameter file_type is required.").into();
    };
    let file_type = file_type.trim().to_ascii_lowercase();
    if !RESUMABLE_UPLOAD_TYPES.contains(&file_type.as_str()) {
        return ApiError::param(format!(
            "(#100) Param file_type must be one of {{{}}} - got \"{}\".",
            RESUMABLE_UPLOAD_TYPES.join(", "),
            file_type.chars().take(80).collect::<String>()
        ))
        .into();
    }
    let file_name = query_param(query, "file_name")
        .map(|n| n.chars().take(255).collect())
        .unwrap_or_else(|| "file".to_owned());
    let id = format!("upload:{}", reply::trace_id(40));
    if let Err(e) = std::fs::create_dir_all(dir(shared))
        .and_then(|_| std::fs::File::create(file_path(shared, &id)).map(drop))
    {
        tracing::error!(error = %e, "cannot create an upload session's file");
        return ApiError::server_error(500).into();
    }
    let info = UploadSessionInfo {
        id: id.clone(),
        app_id: app_id.to_owned(),
        file_name,
        file_type,
        file_length: length,
        file_offset: 0,
        bytes_received: 0,
        posts: 0,
        handle: None,
    };
    shared
        .resumable
        .lock()
        .sessions
        .insert(id.clone(), (info, false));
    reply::json(StatusCode::OK, &json!({ "id": id })).into()
}

/// `GET /{version}/upload:<SESSION>`.
pub(crate) fn status(shared: &Shared, id: &str) -> Outcome {
    match shared.resumable.lock().sessions.get(id) {
        None => ApiError::unknown_object(&Method::GET, id).into(),
        Some((s, _)) => reply::json(
            StatusCode::OK,
            &json!({ "id": s.id, "file_offset": s.file_offset }),
        )
        .into(),
    }
}

/// `POST /{version}/upload:<SESSION>` with `file_offset` and the bytes from there.
pub(crate) async fn post<B>(
    shared: &Shared,
    parts: &http::request::Parts,
    id: &str,
    fault: Option<&Fault>,
    body: B,
) -> Outcome
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let window = shared.config.body_timeout;
    let refuse = |e: ApiError, body: B| {
        if !body.is_end_stream() && !parts.headers.contains_key(header::EXPECT) {
            upload::discard_body(body, window);
        }
        Outcome::from(e)
    };
    let given = parts
        .headers
        .get("file_offset")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let Some(given) = given else {
        return refuse(
            ApiError::param("(#100) The header file_offset is required."),
            body,
        );
    };
    let Ok(given) = given.parse::<u64>() else {
        return refuse(
            ApiError::param("(#100) The header file_offset must be a non-negative integer."),
            body,
        );
    };
    // Checked and marked busy under the lock: one upload per session at a time.
    let (length, threshold) = {
        let mut inner = shared.resumable.lock();
        let Some((s, busy)) = inner.sessions.get_mut(id) else {
            drop(inner);
            return refuse(ApiError::unknown_object(&Method::POST, id), body);
        };
        if s.handle.is_some() {
            let h = s.handle.clone().unwrap_or_default();
            drop(inner);
            // The file is whole: the same handle again.
            return refuse_ok(h, body, parts, window);
        }
        if *busy {
            drop(inner);
            return refuse(
                ApiError::param(
                    "(#100) Another upload to this session is in progress; wait for it to end, \
                     then GET the session for its file_offset.",
                ),
                body,
            );
        }
        if given != s.file_offset {
            let expected = s.file_offset;
            drop(inner);
            return refuse(
                ApiError::param(format!(
                    "(#100) Invalid file offset: the session holds {expected} bytes, so the \
                     upload must resume with file_offset {expected}, not {given}. GET the \
                     session for its file_offset."
                )),
                body,
            );
        }
        *busy = true;
        s.posts += 1;
        let threshold = match fault {
            Some(Fault::ResetMidBody) => Some(s.file_length / 2),
            Some(Fault::ResetAt { percent }) => Some(s.file_length * u64::from(*percent) / 100),
            _ => None,
        }
        .filter(|t| *t > s.file_offset);
        (s.file_length, threshold)
    };
    let outcome = receive(shared, id, given, length, threshold, body).await;
    if let Some((_, busy)) = shared.resumable.lock().sessions.get_mut(id) {
        *busy = false;
    }
    outcome
}

/// The answer for a session already whole.
fn refuse_ok<B>(
    handle: String,
    body: B,
    parts: &http::request::Parts,
    window: std::time::Duration,
) -> Outcome
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if !body.is_end_stream() && !parts.headers.contains_key(header::EXPECT) {
        upload::discard_body(body, window);
    }
    reply::json(StatusCode::OK, &json!({ "h": handle })).into()
}

/// Writes the body into the session's file from `offset`, counting what it keeps; resets the
/// connection when the kept bytes reach `threshold` (an injected fault).
async fn receive<B>(
    shared: &Shared,
    id: &str,
    offset: u64,
    length: u64,
    threshold: Option<u64>,
    body: B,
) -> Outcome
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = file_path(shared, id);
    let file = async {
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .await?;
        f.seek(std::io::SeekFrom::Start(offset)).await?;
        Ok::<_, std::io::Error>(f)
    }
    .await;
    let mut file = match file {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "cannot open an upload session's file");
            upload::discard_body(body, shared.config.body_timeout);
            return ApiError::server_error(500).into();
        }
    };
    let mut stream = std::pin::pin!(upload::body_stream(body, shared.config.body_timeout));
    let mut at = offset;
    let update = |at: u64, received: u64| {
        if let Some((s, _)) = shared.resumable.lock().sessions.get_mut(id) {
            s.file_offset = at;
            s.bytes_received += received;
        }
    };
    while let Some(chunk) = stream.next().await {
        let mut chunk = match chunk {
            Ok(c) => c,
            Err(e) if upload::is_body_timeout(&e) => {
                let _ = file.flush().await;
                return ApiError::body_timeout().into();
            }
            // The connection broke: what was written stays, as Graph keeps it.
            Err(_) => {
                let _ = file.flush().await;
                return Outcome::Reset;
            }
        };
        if at + chunk.len() as u64 > length {
            let _ = file.flush().await;
            update(at, chunk.len() as u64);
            return ApiError::param(format!(
                "(#100) The upload is longer than the session's file_length of {length} bytes."
            ))
            .into();
        }
        let reset = threshold.filter(|t| at + chunk.len() as u64 >= *t);
        if let Some(t) = reset {
            chunk.truncate((t - at) as usize);
        }
        if let Err(e) = file.write_all(&chunk).await {
            tracing::error!(error = %e, "cannot write an upload session's file");
            return ApiError::server_error(500).into();
        }
        at += chunk.len() as u64;
        update(at, chunk.len() as u64);
        if reset.is_some() {
            let _ = file.flush().await;
            return Outcome::Reset;
        }
    }
    if let Err(e) = file.flush().await {
        tracing::error!(error = %e, "cannot write an upload session's file");
        return ApiError::server_error(500).into();
    }
    if at < length {
        // A part of the file: the session holds it, the rest may follow from `at`.
        return reply::json(StatusCode::OK, &json!({ "id": id, "file_offset": at })).into();
    }
    let handle = format!("4::{}", reply::trace_id(48));
    let mut inner = shared.resumable.lock();
    let file_type = match inner.sessions.get_mut(id) {
        Some((s, _)) => {
            s.handle = Some(handle.clone());
            s.file_type.clone()
        }
        None => String::new(),
    };
    inner.handles.insert(handle.clone(), file_type);
    drop(inner);
    reply::json(StatusCode::OK, &json!({ "h": handle })).into()
}
