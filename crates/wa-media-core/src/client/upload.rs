//! Upload: open and validate the source, then one multipart request per attempt. The source
//! ([`crate::upload::OpenedSource`]) says whether it can be sent again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use tracing::field;
use wa_media_types::{MediaId, MediaKind};

use super::MediaClient;
use crate::deadline::Limits;
use crate::error::Error;
use crate::multipart::MultipartBody;
use crate::protocol;
use crate::retry::Failed;
use crate::transport::RequestBody;
use crate::upload::{ChunkStream, PreparedUpload, Upload};

impl MediaClient {
    pub(super) async fn upload_inner(&self, upload: Upload) -> Result<MediaId, Error> {
        let prepared = upload.prepare().await?;
        record_in_span(&prepared, None);
        // The name is checked too: a `.jpg` holding a PNG is refused, not sent.
        let validated = prepared.validate(self.config().validate_uploads)?;
        self.upload_prepared(prepared, validated.map(|v| v.kind))
            .await
    }

    /// Sends an upload whose source is open and which was validated (or not) by the caller:
    /// [`MediaApi::upload`](crate::MediaApi::upload) after its own validation, a planned send
    /// after the plan's. `kind` is what validation decided, for the span.
    pub(crate) async fn upload_prepared(
        &self,
        upload: PreparedUpload,
        kind: Option<MediaKind>,
    ) -> Result<MediaId, Error> {
        let cfg = self.config();
        record_in_span(&upload, kind);
        let PreparedUpload {
            source,
            mime,
            filename,
            progress,
            phone_number_id,
            ttl_minutes,
            ..
        } = upload;
        let len = source.len();

        // Each attempt borrows these (`async move` takes the references and the token).
        let (source, mime, filename, progress, phone_number_id) =
            (&source, &mime, &filename, &progress, &phone_number_id);
        let attempt = |token: crate::token::AccessToken| async move {
            // A source seen changing is never sent again.
            if let Some(e) = source.changed() {
                return Err(Failed::fatal(e));
            }
            let multipart = match &cfg.fixed_boundary {
                Some(b) => MultipartBody::with_boundary(b.clone(), mime, filename, len),
                None => MultipartBody::new(mime, filename, len),
            };
            let multipart = match ttl_minutes {
                Some(minutes) => multipart.ttl_minutes(minutes),
                None => multipart,
            };
            let file: ChunkStream = source.chunks()?;
            let file: ChunkStream = match &progress {
                Some(p) => {
                    let p = p.clone();
                    let mut done = 0u64;
                    Box::pin(file.map(move |r| {
                        if let Ok(c) = &r {
                            done += c.len() as u64;
                            p.on_progress(done, Some(len));
                        }
                        r
                    }))
                }
                None => file,
            };
            let sent = Arc::new(AtomicU64::new(0));
            let counter = sent.clone();
            let counted = multipart.stream(file).map(move |r| {
                if let Ok(c) = &r {
                    counter.fetch_add(c.len() as u64, Ordering::Relaxed);
                }
                r
            });
            let body = RequestBody::from_stream(counted, Some(multipart.len()));
            let req = protocol::build_upload_request(
                cfg,
                &token,
                phone_number_id.as_ref(),
                &multipart,
                body,
            )?;
            let limits = Limits::upload(&cfg.timeouts, len, sent, multipart.len());
            let resp = self.exchange(req, limits).await;
            resp.and_then(|r| protocol::parse_upload_response(&r))
                .map_err(|e| {
                    // A one-shot stream that went into a request body cannot be sent again,
                    // even when the request never left; one still in its slot can.
                    let resend = source.can_resend();
                    let retry = e.is_retryable() && resend;
                    Failed::retry_if(e, retry).resendable(resend)
                })
        };
        let id = self
            .retrying(attempt)
            .await
            // Whatever the transport made of the broken body, say what really happened.
            .map_err(|e| match source.changed() {
                Some(changed) if !matches!(e, Error::SourceChanged { .. }) => changed,
                _ => e,
            })?;
        tracing::Span::current().record("media_id", field::display(&id));
        Ok(id)
    }
}

/// Records the upload's size and MIME type (and the kind validation decided) in the current
/// span (`wa_media.upload`).
fn record_in_span(upload: &PreparedUpload, kind: Option<MediaKind>) {
    let span = tracing::Span::current();
    span.record("size", upload.source.len());
    span.record("mime", field::display(&upload.mime));
    if let Some(kind) = kind {
        span.record("kind", kind.as_str());
    }
}
