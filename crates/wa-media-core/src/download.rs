//! A download in progress: a stream of verified chunks with the announced length.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use wa_media_types::{MediaUrlResponse, Sha256Digest, StreamingDigest};

use crate::error::{Error, IntegrityError};
use crate::progress::Progress;

type BoxStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send + 'static>>;

/// What a download must turn out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// The announced `file_size`.
    pub size: u64,
    /// The announced SHA-256.
    pub sha256: Sha256Digest,
}

impl Expected {
    /// What a retrieve answer announces: its `file_size` and `sha256`.
    pub fn of(info: &MediaUrlResponse) -> Self {
        Self {
            size: info.file_size,
            sha256: info.sha256,
        }
    }
}

/// The body of a download: a [`Stream`] of `Result<Bytes, Error>` chunks as they arrive,
/// never a whole-file buffer.
///
/// When created by [`crate::MediaClient`] (or verified with [`Download::verify`]), the stream
/// checks size and SHA-256 incrementally: a body longer than announced (or than the largest
/// media) ends with [`IntegrityError::TooLarge`] as soon as it overflows, and a short body or
/// a wrong digest ends the stream with an [`Error::Integrity`] item instead of `None`. Chunks
/// before that point have already been yielded: a consumer that must not act on unverified
/// bytes writes them somewhere temporary first, as [`crate::MediaApiExt::fetch_to_file`] does.
pub struct Download {
    inner: BoxStream,
    content_length: Option<u64>,
    mime_type: Option<String>,
    verifying: bool,
    /// What the stream verifies against (set by [`Download::verify`]).
    expected: Option<Expected>,
    progress: Option<Arc<dyn Progress>>,
    done: u64,
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("content_length", &self.content_length)
            .field("mime_type", &self.mime_type)
            .field("verifying", &self.verifying)
            .field("received", &self.done)
            .finish()
    }
}

impl Download {
    /// A download from any stream (for [`crate::MediaApi`] implementations other than
    /// [`crate::MediaClient`]); not verifying until [`Download::verify`] is called.
    pub fn from_stream<S>(stream: S, content_length: Option<u64>) -> Self
    where
        S: Stream<Item = Result<Bytes, Error>> + Send + 'static,
    {
        Self {
            inner: Box::pin(stream),
            content_length,
            mime_type: None,
            verifying: false,
            expected: None,
            progress: None,
            done: 0,
        }
    }

    /// Makes the stream check size and digest against `expected`. A no-op when it already
    /// verifies against exactly `expected`; a download verifying against something else is
    /// checked against `expected` as well (both must hold).
    pub fn verify(mut self, expected: Expected) -> Self {
        if self.expected != Some(expected) {
            self.inner = Box::pin(Verify {
                inner: self.inner,
                digest: StreamingDigest::new(),
                expected,
                limit: expected.size.min(wa_media_types::MAX_MEDIA_BYTES),
                finished: false,
            });
            self.verifying = true;
            self.expected = Some(expected);
            self.content_length = Some(expected.size);
        }
        self
    }

    /// Reports each chunk to `progress` as `(bytes so far, announced length)`.
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Sets the MIME type reported by [`Download::mime_type`].
    pub fn with_mime_type(mut self, mime: impl Into<String>) -> Self {
        self.mime_type = Some(mime.into());
        self
    }

    /// The announced length in bytes, when known.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The MIME type from the retrieve response, when known.
    pub fn mime_type(&self) -> Option<&str> {
        self.mime_type.as_deref()
    }

    /// Whether the stream verifies size and digest.
    pub fn is_verifying(&self) -> bool {
        self.verifying
    }

    /// Bytes yielded so far.
    pub fn received(&self) -> u64 {
        self.done
    }

    /// Collects the whole body into memory (refused beyond `limit` bytes). Meant for small
    /// media; stream large files instead.
    pub async fn bytes(mut self, limit: u64) -> Result<Bytes, Error> {
        use futures_util::StreamExt;
        let mut out = bytes::BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if out.len() as u64 + chunk.len() as u64 > limit {
                return Err(IntegrityError::TooLarge {
                    limit,
                    what: "caller's in-memory limit",
                }
                .into());
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.freeze())
    }
}

impl Stream for Download {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = this.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &item {
            this.done += chunk.len() as u64;
            if let Some(p) = &this.progress {
                p.on_progress(this.done, this.content_length);
            }
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

/// Incremental size and digest verification.
struct Verify {
    inner: BoxStream,
    digest: StreamingDigest,
    expected: Expected,
    limit: u64,
    finished: bool,
}

impl Stream for Verify {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Err(e))) => {
                this.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(chunk))) => {
                if this.digest.len() + chunk.len() as u64 > this.limit {
                    this.finished = true;
                    let what = if this.limit == this.expected.size {
                        "announced file_size"
                    } else {
                        "largest media size"
                    };
                    return Poll::Ready(Some(Err(IntegrityError::TooLarge {
                        limit: this.limit,
                        what,
                    }
                    .into())));
                }
                this.digest.update(&chunk);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                this.finished = true;
                let got = this.digest.len();
                if got != this.expected.size {
                    return Poll::Ready(Some(Err(IntegrityError::Size {
                        expected: this.expected.size,
                        actual: got,
                    }
                    .into())));
                }
                let actual = std::mem::take(&mut this.digest).finish();
                if actual != this.expected.sha256 {
                    tracing::warn!(bytes = got, "download failed SHA-256 verification");
                    return Poll::Ready(Some(Err(IntegrityError::Digest {
                        expected: this.expected.sha256,
                        actual,
                    }
                    .into())));
                }
                tracing::debug!(bytes = got, "download verified (size and SHA-256)");
                Poll::Ready(None)
            }
        }
    }
}
