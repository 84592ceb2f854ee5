//! Download: one GET of the media URL per attempt (trust checked before each), the head
//! interpreted, and the body handed out as a verifying, timed stream.

use std::time::Instant;

use http::Response;
use wa_media_types::{MediaUrl, MediaUrlResponse, Sha256Digest, MAX_MEDIA_BYTES};

use super::{read_limited, MediaClient};
use crate::deadline::{timed, TimedBody};
use crate::download::{Download, Expected};
use crate::error::{Error, IntegrityError};
use crate::protocol::{self, DownloadHead, MAX_JSON_BODY};
use crate::retry::Failed;
use crate::timeouts::TimeoutKind;
use crate::transport::Transport;

impl MediaClient {
    pub(super) async fn download_inner(&self, media: &MediaUrlResponse) -> Result<Download, Error> {
        let expected = Expected::of(media);
        self.download_checked(
            &media.url,
            expected.sha256,
            Some(expected.size),
            Some(&media.mime_type),
        )
        .await
    }

    /// The one download: GET `url` (trust checked before each attempt, the token only to a
    /// trusted host), the head interpreted, and the body handed out verifying the SHA-256 and,
    /// when known, the size (a retrieve answer's `file_size`; a webhook's `url` has none).
    pub(super) async fn download_checked(
        &self,
        url: &MediaUrl,
        sha256: Sha256Digest,
        size: Option<u64>,
        mime_type: Option<&str>,
    ) -> Result<Download, Error> {
        let cfg = self.config();
        if size.is_some_and(|s| s > MAX_MEDIA_BYTES) {
            return Err(IntegrityError::TooLarge {
                limit: MAX_MEDIA_BYTES,
                what: "largest media size (announced file_size)",
            }
            .into());
        }
        self.retrying(|token| async move {
            // Trust is checked here, before anything is sent, on every attempt.
            let req = protocol::build_download_request(cfg, &token, url.expose())?;
            let started = Instant::now();
            let resp = timed(
                self.timer(),
                cfg.timeouts.request,
                TimeoutKind::Request,
                async { Ok(self.transport().send(req).await?) },
            )
            .await
            .map_err(retryable)?;
            let (parts, body) = resp.into_parts();
            tracing::debug!(
                status = parts.status.as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "download response head"
            );
            let err = match protocol::classify_download_head(parts.status, &parts.headers) {
                DownloadHead::Body => {
                    // The one size check of the head: the body is checked as it streams.
                    let cl = protocol::content_length(&parts.headers);
                    match (size, cl) {
                        (Some(size), Some(cl)) if cl != size => {
                            return Err(Failed::fatal(size_mismatch(size, cl)));
                        }
                        (None, Some(cl)) if cl > MAX_MEDIA_BYTES => {
                            return Err(Failed::fatal(size_mismatch(MAX_MEDIA_BYTES, cl)));
                        }
                        _ => {}
                    }
                    // Without an announced size, the Content-Length (or the largest media)
                    // sets the body's deadline; the stream still checks the digest.
                    let len = size.or(cl);
                    let timed = TimedBody::new(
                        body,
                        self.timer.clone(),
                        cfg.timeouts.idle,
                        cfg.timeouts.body_deadline(len.unwrap_or(MAX_MEDIA_BYTES)),
                    );
                    let mime = mime_type
                        .map(str::to_owned)
                        .or_else(|| content_type(&parts.headers));
                    let mut dl = Download::from_stream(timed, len).verify_sha256(sha256, size);
                    if let Some(mime) = mime {
                        dl = dl.with_mime_type(mime);
                    }
                    return Ok(dl);
                }
                DownloadHead::Expired(status) => Error::UrlExpired { status },
                DownloadHead::Redirect(e) => e,
                DownloadHead::Error(_) => {
                    let body = timed(
                        self.timer(),
                        cfg.timeouts.request,
                        TimeoutKind::Request,
                        read_limited(body, MAX_JSON_BODY),
                    )
                    .await;
                    match body {
                        Ok(b) => protocol::parse_error_response(
                            "download",
                            &Response::from_parts(parts, b),
                        ),
                        Err(e) => e,
                    }
                }
            };
            Err(retryable(err))
        })
        .await
    }
}

/// The response's `Content-Type`, as sent (for a download whose MIME type nobody announced).
fn content_type(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect())
}

/// A failure retried when it is retryable.
fn retryable(e: Error) -> Failed {
    let retry = e.is_retryable();
    Failed::retry_if(e, retry)
}

/// A `Content-Length` other than the announced size: beyond the largest media it is refused
/// as too large, otherwise as the wrong size.
fn size_mismatch(expected: u64, announced: u64) -> Error {
    if announced > MAX_MEDIA_BYTES {
        IntegrityError::TooLarge {
            limit: MAX_MEDIA_BYTES,
            what: "largest media size",
        }
        .into()
    } else {
        IntegrityError::Size {
            expected,
            actual: announced,
        }
        .into()
    }
}
