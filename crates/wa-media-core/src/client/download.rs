//! Download: one GET of the media URL per attempt (trust checked before each), the head
//! interpreted, and the body handed out as a verifying, timed stream.

use std::time::Instant;

use http::Response;
use wa_media_types::{MediaUrlResponse, MAX_MEDIA_BYTES};

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
        let cfg = self.config();
        let expected = Expected::of(media);
        if expected.size > MAX_MEDIA_BYTES {
            return Err(IntegrityError::TooLarge {
                limit: MAX_MEDIA_BYTES,
                what: "largest media size (announced file_size)",
            }
            .into());
        }
        self.retrying(|token| async move {
            // Trust is checked here, before anything is sent, on every attempt.
            let req = protocol::build_download_request(cfg, &token, media.url.expose())?;
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
                    if let Some(cl) = protocol::content_length(&parts.headers) {
                        if cl != expected.size {
                            return Err(Failed::fatal(size_mismatch(expected.size, cl)));
                        }
                    }
                    let timed = TimedBody::new(
                        body,
                        self.timer.clone(),
                        cfg.timeouts.idle,
                        cfg.timeouts.body_deadline(expected.size),
                    );
                    return Ok(Download::from_stream(timed, Some(expected.size))
                        .verify(expected)
                        .with_mime_type(media.mime_type.clone()));
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
