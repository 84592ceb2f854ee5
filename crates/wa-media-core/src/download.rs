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
    /// What the stream verifies against (set by [`Download::verify`] or
    /// [`Download::verify_sha256`]).
    expected: Option<Check>,
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
    pub fn verify(self, expected: Expected) -> Self {
        self.verify_against(Check {
            sha256: expected.sha256,
            size: Some(expected.size),
        })
    }

    /// Makes the stream check the SHA-256 `sha256`, and the size when `size` is known: for a
    /// URL whose size nobody announced (a webhook's media `url`: its `sha256` but no
    /// `file_size`). Without a size, a body beyond the largest media
    /// ([`wa_media_types::MAX_MEDIA_BYTES`]) ends with [`IntegrityError::TooLarge`]. The same
    /// check as [`Download::verify`], which is this with the size known.
    pub fn verify_sha256(self, sha256: Sha256Digest, size: Option<u64>) -> Self {
        self.verify_against(Check { sha256, size })
    }

    fn verify_against(mut self, check: Check) -> Self {
        if self.expected != Some(check) {
            self.inner = Box::pin(Verify {
                inner: self.inner,
                digest: StreamingDigest::new(),
                check,
                limit: check
                    .size
                    .unwrap_or(wa_media_types::MAX_MEDIA_BYTES)
                    .min(wa_media_types::MAX_MEDIA_BYTES),
                finished: false,
            });
            self.verifying = true;
            self.expected = Some(check);
            if let Some(size) = check.size {
                self.content_length = Some(size);
            }
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

/// An [`Error`] as an [`io::Error`](std::io::Error), so a download plugs into readers,
/// decoders and `copy` loops. The kind says what happened in I/O terms; the [`Error`] itself
/// is the io::Error's inner error, so a caller gets it back with
/// `e.get_ref().and_then(|e| e.downcast_ref::<wa_media_core::Error>())` (or
/// `e.into_inner()` and `downcast`).
///
/// | [`Error`] | [`io::ErrorKind`](std::io::ErrorKind) |
/// |---|---|
/// | [`Error::Integrity`] (size or SHA-256 not as announced) | `InvalidData` |
/// | [`Error::Timeout`] | `TimedOut` |
/// | [`Error::Io`] | the kind of the I/O error it holds |
/// | [`Error::Transport`]: connect, connect timeout, request, interrupted body, decode | `ConnectionRefused`, `TimedOut`, `ConnectionAborted`, `ConnectionReset`, `InvalidData` |
/// | [`Error::UrlExpired`], [`Error::Api`] with 404/410 | `NotFound` |
/// | [`Error::UrlExpired`], [`Error::Api`] with 401/403, [`Error::UntrustedHost`], [`Error::InsecureUrl`] | `PermissionDenied` |
/// | [`Error::InvalidResponse`], [`Error::InvalidUrl`], [`Error::SourceChanged`] | `InvalidData` |
/// | [`Error::Validation`], [`Error::InvalidMessage`], [`Error::Config`] | `InvalidInput` |
/// | [`Error::MaybeSent`] | the kind of the error it wraps |
/// | anything else | `Other` |
///
/// Never `Interrupted` (read loops retry that) and never a kind that reads as a clean end of
/// file.
///
/// ```
/// use wa_media_core::{Error, IntegrityError};
/// let e: std::io::Error = Error::from(IntegrityError::Size { expected: 10, actual: 4 }).into();
/// assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
/// let back = e.get_ref().and_then(|e| e.downcast_ref::<Error>());
/// assert!(matches!(back, Some(Error::Integrity(IntegrityError::Size { .. }))));
/// ```
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::new(io_kind(&e), e)
    }
}

/// The [`std::io::ErrorKind`] an [`Error`] becomes (see the `From` impl's table).
fn io_kind(e: &Error) -> std::io::ErrorKind {
    use crate::transport::TransportErrorKind as T;
    use std::io::ErrorKind as K;
    let by_status = |status: http::StatusCode| match status.as_u16() {
        401 | 403 => K::PermissionDenied,
        404 | 410 => K::NotFound,
        _ => K::Other,
    };
    match e {
        Error::Integrity(_)
        | Error::InvalidResponse { .. }
        | Error::InvalidUrl { .. }
        | Error::SourceChanged { .. } => K::InvalidData,
        Error::Timeout { .. } => K::TimedOut,
        Error::Io { source, .. } => match source.kind() {
            // A body whose read was interrupted is not to be retried by a read loop.
            K::Interrupted => K::Other,
            kind => kind,
        },
        Error::Transport(t) => match t.kind() {
            T::Connect => K::ConnectionRefused,
            T::ConnectTimeout => K::TimedOut,
            T::Request => K::ConnectionAborted,
            T::Interrupted => K::ConnectionReset,
            T::Decode => K::InvalidData,
            _ => K::Other,
        },
        Error::UrlExpired { status } => by_status(*status),
        Error::Api(a) => by_status(a.status),
        Error::UntrustedHost { .. } | Error::InsecureUrl { .. } => K::PermissionDenied,
        Error::Validation(_) | Error::InvalidMessage(_) | Error::Config(_) => K::InvalidInput,
        Error::MaybeSent { source } => io_kind(source),
        _ => K::Other,
    }
}

/// What a verifying stream checks: the digest always, the size when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Check {
    sha256: Sha256Digest,
    size: Option<u64>,
}

/// Incremental size and digest verification: the one check every download goes through.
struct Verify {
    inner: BoxStream,
    digest: StreamingDigest,
    check: Check,
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
                    let what = if Some(this.limit) == this.check.size {
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
                if let Some(size) = this.check.size.filter(|s| *s != got) {
                    return Poll::Ready(Some(Err(IntegrityError::Size {
                        expected: size,
                        actual: got,
                    }
                    .into())));
                }
                let actual = std::mem::take(&mut this.digest).finish();
                if actual != this.check.sha256 {
                    tracing::warn!(bytes = got, "download failed SHA-256 verification");
                    return Poll::Ready(Some(Err(IntegrityError::Digest {
                        expected: this.check.sha256,
                        actual,
                    }
                    .into())));
                }
                tracing::debug!(
                    bytes = got,
                    size_known = this.check.size.is_some(),
                    "download verified (size and SHA-256)"
                );
                Poll::Ready(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use super::*;
    use crate::timeouts::TimeoutKind;
    use crate::transport::{TransportError, TransportErrorKind};

    fn kind_and_back(e: Error) -> (ErrorKind, String) {
        let shown = e.to_string();
        let io: std::io::Error = e.into();
        let back = io
            .get_ref()
            .and_then(|e| e.downcast_ref::<Error>())
            .expect("the core error is the io::Error's inner error");
        assert_eq!(back.to_string(), shown);
        (io.kind(), shown)
    }

    #[test]
    fn errors_become_io_errors_of_a_fitting_kind() {
        let integrity = Error::from(IntegrityError::Size {
            expected: 10,
            actual: 4,
        });
        assert_eq!(kind_and_back(integrity).0, ErrorKind::InvalidData);
        let timeout = Error::Timeout {
            kind: TimeoutKind::Idle,
            after: None,
        };
        assert_eq!(kind_and_back(timeout).0, ErrorKind::TimedOut);
        let io = Error::io(None, std::io::Error::from(ErrorKind::PermissionDenied));
        assert_eq!(kind_and_back(io).0, ErrorKind::PermissionDenied);
        let interrupted = Error::io(None, std::io::Error::from(ErrorKind::Interrupted));
        assert_eq!(kind_and_back(interrupted).0, ErrorKind::Other);
        let reset = Error::Transport(TransportError::new(
            TransportErrorKind::Interrupted,
            "connection reset",
        ));
        assert_eq!(kind_and_back(reset).0, ErrorKind::ConnectionReset);
        let expired = Error::UrlExpired {
            status: http::StatusCode::GONE,
        };
        assert_eq!(kind_and_back(expired).0, ErrorKind::NotFound);
        let untrusted = Error::UntrustedHost {
            host: "example.com".into(),
        };
        assert_eq!(kind_and_back(untrusted).0, ErrorKind::PermissionDenied);
        let maybe = Error::MaybeSent {
            source: Box::new(Error::Timeout {
                kind: TimeoutKind::Request,
                after: None,
            }),
        };
        assert_eq!(kind_and_back(maybe).0, ErrorKind::TimedOut);
    }
}
