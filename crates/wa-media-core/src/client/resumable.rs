//! The Resumable Upload API (`POST /{app_id}/uploads`, `POST /upload:<SESSION>`,
//! `GET /upload:<SESSION>`): a file handle for a template's example header, streamed from the
//! source and resumed from the server's offset after an interruption instead of sent again
//! whole. Template creation (`POST /{waba_id}/message_templates`) sits beside it: the handle's
//! one use.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use tracing::{field, Instrument};
use wa_media_types::template::RESUMABLE_UPLOAD_TYPES;
use wa_media_types::{
    validate_named_upload, CreatedTemplate, MediaKind, SendValidationError, TemplateDefinition,
    UploadCandidate,
};

use super::MediaClient;
use crate::deadline::Limits;
use crate::error::Error;
use crate::protocol;
use crate::retry::{Failed, RetryState};
use crate::transport::RequestBody;
use crate::upload::{ChunkStream, OpenedSource, Upload};

/// What [`MediaClient::upload_resumable`] did: the handle, and how many bytes it took.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResumableUpload {
    /// The file handle (`example.header_handle` of a template).
    pub handle: String,
    /// The upload session (`upload:…`).
    pub session: String,
    /// The file's length in bytes.
    pub file_length: u64,
    /// Body bytes the transport took, over every attempt: the file's length when nothing
    /// broke; after an interruption, the file's length plus what the server had not kept.
    pub bytes_sent: u64,
    /// The offsets the upload resumed from after interruptions, in order (empty when the
    /// first attempt finished).
    pub resumed_from: Vec<u64>,
}

/// The media kind whose limits and content checks a resumable upload of `mime` gets.
fn kind_for(essence: &str) -> Option<MediaKind> {
    match essence {
        "application/pdf" => Some(MediaKind::Document),
        "image/jpeg" | "image/jpg" | "image/png" => Some(MediaKind::Image),
        "video/mp4" => Some(MediaKind::Video),
        _ => None,
    }
}

impl MediaClient {
    /// Uploads a file through Graph's Resumable Upload API for app `app_id` and returns its
    /// handle (for a template's `example.header_handle`, see
    /// [`create_template`](Self::create_template)).
    ///
    /// 1. `POST /{version}/{app_id}/uploads?file_name&file_length&file_type` opens a session;
    /// 2. `POST /{version}/upload:<SESSION>` with `file_offset: 0` streams the file from its
    ///    source (never whole in memory) and answers `{"h": …}`;
    /// 3. when that breaks (any transport failure such as a connection reset, or a retryable
    ///    failure: a timeout, a 5xx) and the
    ///    client's [`crate::RetryPolicy`] allows another attempt, `GET
    ///    /{version}/upload:<SESSION>` asks how many bytes the server kept (`file_offset`) and
    ///    step 2 resumes from there: only what the server had not kept is sent again.
    ///
    /// Every request carries `Authorization: OAuth <token>` (the form Meta documents for this
    /// API) and goes to the Graph origin only ([`protocol::check_trusted`], as for every
    /// request). The file must be a PDF, JPEG, PNG or MP4 (what the API takes), checked with
    /// the upload's validation (contents, size; unless the client's `validate_uploads` or the
    /// upload's own is off): a refusal sends nothing. A one-shot stream source cannot resume.
    pub async fn upload_resumable(
        &self,
        app_id: &str,
        upload: Upload,
    ) -> Result<ResumableUpload, Error> {
        let span = tracing::info_span!(
            "wa_media.upload_resumable",
            size = field::Empty,
            mime = field::Empty,
            attempt = field::Empty,
            resumed = field::Empty,
        );
        let started = std::time::Instant::now();
        let r = self
            .upload_resumable_inner(app_id, upload)
            .instrument(span.clone())
            .await;
        span.in_scope(|| {
            tracing::info!(
                ok = r.is_ok(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "resumable upload finished"
            )
        });
        r
    }

    async fn upload_resumable_inner(
        &self,
        app_id: &str,
        upload: Upload,
    ) -> Result<ResumableUpload, Error> {
        let cfg = self.config();
        let prepared = upload.prepare().await?;
        let essence = prepared.mime.essence().to_ascii_lowercase();
        let span = tracing::Span::current();
        span.record("size", prepared.source.len());
        span.record("mime", essence.as_str());
        if !RESUMABLE_UPLOAD_TYPES.contains(&essence.as_str()) {
            return Err(SendValidationError::TemplateDefinition {
                reason: format!(
                    "the Resumable Upload API takes {} files, not {essence}",
                    RESUMABLE_UPLOAD_TYPES.join(", ")
                ),
            }
            .into());
        }
        if prepared.validate && cfg.validate_uploads {
            validate_named_upload(
                &UploadCandidate {
                    kind: kind_for(&essence),
                    mime: &prepared.mime,
                    len: prepared.source.len(),
                    head: prepared.source.head(),
                },
                &prepared.filename,
            )?;
        }
        let source = &prepared.source;
        let len = source.len();
        let (name, mime) = (&prepared.filename, essence.as_str());
        let session = self
            .retrying(|token| async move {
                let req =
                    protocol::build_resumable_start_request(cfg, &token, app_id, name, len, mime)?;
                let resp = self.exchange(req, Limits::request(&cfg.timeouts)).await;
                resp.and_then(|r| protocol::parse_resumable_start_response(&r))
                    .map_err(|e| {
                        let retry = e.is_retryable();
                        Failed::retry_if(e, retry)
                    })
            })
            .await?;
        let sent = Arc::new(AtomicU64::new(0));
        let mut state = RetryState::new(&cfg.retry);
        let mut offset = 0u64;
        let mut resumed_from = Vec::new();
        loop {
            let n = state.begin();
            span.record("attempt", n);
            let e = match self
                .send_from(&session, source, offset, &sent, &prepared)
                .await
            {
                Ok(handle) => {
                    return Ok(ResumableUpload {
                        handle,
                        session,
                        file_length: len,
                        bytes_sent: sent.load(Ordering::Relaxed),
                        resumed_from,
                    })
                }
                Err(e) => e,
            };
            // Resuming is asking the server what it holds: safe after any break of the
            // connection (whatever the transport made of it, `Unknown` included, e.g. a reset
            // while the body was being written), and after what the retry class says may pass.
            let broke = matches!(e, Error::Transport(_)) || e.is_retryable();
            if !(broke && source.can_resend()) || source.changed().is_some() {
                return Err(source.changed().unwrap_or(e));
            }
            let Some(delay) = state.next_delay(e.retry_after()) else {
                return Err(e);
            };
            tracing::warn!(error = %e, attempt = n, delay_ms = delay.as_millis() as u64, "the resumable upload broke; asking the server where to resume");
            self.timer().sleep(delay).await;
            let s = session.as_str();
            offset = self
                .retrying(|token| async move {
                    let req = protocol::build_resumable_status_request(cfg, &token, s)?;
                    let resp = self.exchange(req, Limits::request(&cfg.timeouts)).await;
                    resp.and_then(|r| protocol::parse_resumable_status_response(&r))
                        .map_err(|e| {
                            let retry = e.is_retryable();
                            Failed::retry_if(e, retry)
                        })
                })
                .await?;
            if offset > len {
                return Err(Error::InvalidResponse {
                    operation: "upload_resumable",
                    status: http::StatusCode::OK,
                    reason: format!("the server holds {offset} bytes of a {len}-byte file"),
                    snippet: String::new(),
                });
            }
            resumed_from.push(offset);
            span.record("resumed", offset);
            tracing::info!(offset, "resuming the upload from the server's offset");
        }
    }

    /// One `POST upload:<SESSION>` from `offset`: the file's remaining bytes, streamed. A
    /// token Graph rejects (190) is replaced once by the client's retry loop; no other failure
    /// is retried here (the caller resumes from the server's offset).
    async fn send_from(
        &self,
        session: &str,
        source: &OpenedSource,
        offset: u64,
        sent: &Arc<AtomicU64>,
        prepared: &crate::upload::PreparedUpload,
    ) -> Result<String, Error> {
        let cfg = self.config();
        let len = source.len();
        let remaining = len - offset;
        let progress = &prepared.progress;
        self.retrying(|token| async move {
            if let Some(e) = source.changed() {
                return Err(Failed::fatal(e));
            }
            let file: ChunkStream = source.chunks_from(offset)?;
            let this_attempt = Arc::new(AtomicU64::new(0));
            let (counter, total) = (this_attempt.clone(), sent.clone());
            let progress = progress.clone();
            let mut done = offset;
            let counted = file.map(move |r| {
                if let Ok(c) = &r {
                    let n = c.len() as u64;
                    counter.fetch_add(n, Ordering::Relaxed);
                    total.fetch_add(n, Ordering::Relaxed);
                    done += n;
                    if let Some(p) = &progress {
                        p.on_progress(done, Some(len));
                    }
                }
                r
            });
            let body = RequestBody::from_stream(counted, Some(remaining));
            let req = protocol::build_resumable_upload_request(
                cfg, &token, session, offset, body, remaining,
            )?;
            let limits = Limits::upload(&cfg.timeouts, remaining, this_attempt, remaining);
            let resp = self.exchange(req, limits).await;
            resp.and_then(|r| protocol::parse_resumable_upload_response(&r))
                .map_err(Failed::fatal)
        })
        .await
    }

    /// Creates a template with a media header under the WhatsApp Business Account `waba_id`
    /// (`POST /{version}/{waba_id}/message_templates`) after checking it
    /// ([`TemplateDefinition::validate`]: a refusal is [`Error::InvalidMessage`], nothing
    /// sent). Returns Graph's answer: the id and the status (`PENDING` until Meta reviews it,
    /// or `APPROVED`). Like a send, a creation that may have reached Graph is never repeated
    /// blindly (the same rule, [`crate::MessagingApi`]'s).
    pub async fn create_template(
        &self,
        waba_id: &str,
        template: &TemplateDefinition,
    ) -> Result<CreatedTemplate, Error> {
        template.validate()?;
        let cfg = self.config();
        let span = tracing::info_span!(
            "wa_media.create_template",
            template = template.name.as_str(),
            attempt = field::Empty
        );
        self.retrying(|token| async move {
            let req = protocol::build_create_template_request(cfg, &token, waba_id, template)?;
            let resp = self.exchange(req, Limits::request(&cfg.timeouts)).await;
            resp.and_then(|r| protocol::parse_create_template_response(&r))
                .map_err(crate::send::once_only)
        })
        .instrument(span)
        .await
    }
}
