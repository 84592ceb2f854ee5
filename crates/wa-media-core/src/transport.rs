//! The HTTP seam: one small trait a team implements to carry wa-media over its own HTTP stack.
//!
//! A [`Transport`] owns what is specific to an HTTP library — DNS lookup, connecting (with its
//! connect timeout), TLS, connection reuse and pooling. Everything else — URLs, headers, the
//! token and where it may go, retries, timeouts on whole requests and idle bodies, digest
//! checks, error interpretation — belongs to [`crate::MediaClient`] and is written once.
//!
//! Rules for implementers:
//! - Send the request as given; never follow redirects (a 3xx is a normal response).
//! - A non-2xx status is a normal `Ok` response, not a [`TransportError`].
//! - Stream both bodies: never collect a [`RequestBody`] or a response into memory.
//! - Never put request headers (they hold the token) or full URLs into errors or logs.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Body, Frame, SizeHint};

/// A boxed error that can cross threads, used as the `source` of transport errors.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A boxed, `Send` future: what [`crate::Timer::sleep`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

type DynReqBody = Pin<Box<dyn Body<Data = Bytes, Error = io::Error> + Send + 'static>>;
type DynRespBody = Pin<Box<dyn Body<Data = Bytes, Error = TransportError> + Send + 'static>>;

/// The body of a request handed to a [`Transport`]: empty, in memory, or a stream of chunks
/// with an optional known length (reported by [`Body::size_hint`], so a transport can send a
/// `Content-Length`).
pub struct RequestBody {
    inner: ReqInner,
}

enum ReqInner {
    Full(Option<Bytes>),
    Stream { body: DynReqBody, len: Option<u64> },
}

impl RequestBody {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Self {
            inner: ReqInner::Full(None),
        }
    }

    /// A body from bytes already in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let b = bytes.into();
        Self {
            inner: ReqInner::Full(if b.is_empty() { None } else { Some(b) }),
        }
    }

    /// A streamed body from chunks; `len` is the exact total when known.
    pub fn from_stream<S>(stream: S, len: Option<u64>) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        let body = http_body_util::StreamBody::new(futures_util::StreamExt::map(stream, |r| {
            r.map(Frame::data)
        }));
        Self {
            inner: ReqInner::Stream {
                body: Box::pin(body),
                len,
            },
        }
    }

    /// A streamed body from any [`Body`]; `len` is the exact total when known.
    pub fn from_body<B>(body: B, len: Option<u64>) -> Self
    where
        B: Body<Data = Bytes, Error = io::Error> + Send + 'static,
    {
        Self {
            inner: ReqInner::Stream {
                body: Box::pin(body),
                len,
            },
        }
    }

    /// The exact length in bytes, when known.
    pub fn len(&self) -> Option<u64> {
        match &self.inner {
            ReqInner::Full(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            ReqInner::Stream { len, .. } => *len,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The bytes when the body is in memory (used by test transports and snapshots).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.inner {
            ReqInner::Full(b) => Some(b.as_deref().unwrap_or(&[])),
            ReqInner::Stream { .. } => None,
        }
    }
}

impl Default for RequestBody {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            ReqInner::Full(b) => write!(
                f,
                "RequestBody::Full({} bytes)",
                b.as_ref().map_or(0, |b| b.len())
            ),
            ReqInner::Stream { len, .. } => write!(f, "RequestBody::Stream(len: {len:?})"),
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().inner {
            ReqInner::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqInner::Stream { body, .. } => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            ReqInner::Full(b) => b.is_none(),
            ReqInner::Stream { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.len() {
            Some(n) => SizeHint::with_exact(n),
            None => match &self.inner {
                ReqInner::Stream { body, .. } => body.size_hint(),
                ReqInner::Full(_) => SizeHint::default(),
            },
        }
    }
}

/// The body of a response from a [`Transport`]: a stream of byte frames whose errors are
/// [`TransportError`]s.
pub struct ResponseBody {
    inner: DynRespBody,
}

impl ResponseBody {
    /// Wraps any body whose errors are already [`TransportError`]s.
    pub fn new<B>(body: B) -> Self
    where
        B: Body<Data = Bytes, Error = TransportError> + Send + 'static,
    {
        Self {
            inner: Box::pin(body),
        }
    }

    /// Wraps any body, classifying its errors as [`TransportErrorKind::Interrupted`]
    /// (the connection broke while the body was being received).
    pub fn from_body<B>(body: B) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Self::new(http_body_util::BodyExt::map_err(body, |e| {
            TransportError::new(TransportErrorKind::Interrupted, e)
        }))
    }

    /// A body from bytes in memory.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        Self::new(http_body_util::BodyExt::map_err(
            http_body_util::Full::new(bytes.into()),
            |never| match never {},
        ))
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::from_bytes(Bytes::new())
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("size_hint", &self.inner.size_hint())
            .finish()
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = TransportError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, TransportError>>> {
        self.inner.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What went wrong in a transport, as far as retry decisions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made (DNS, refused, TLS handshake). The request was not sent:
    /// always safe to retry.
    Connect,
    /// The connect timeout fired. The request was not sent.
    ConnectTimeout,
    /// Sending the request failed after connecting; it MAY have reached the server.
    Request,
    /// The connection broke while the response body was being received.
    Interrupted,
    /// The response could not be decoded as HTTP.
    Decode,
    /// Anything else.
    Unknown,
}

impl TransportErrorKind {
    /// Whether the request certainly did not reach the server.
    pub fn request_not_sent(self) -> bool {
        matches!(
            self,
            TransportErrorKind::Connect | TransportErrorKind::ConnectTimeout
        )
    }
}

/// An error from a [`Transport`]: a kind for decisions and the library's error as `source`.
///
/// Transports must never put the token, request headers or full URLs into the source.
pub struct TransportError {
    kind: TransportErrorKind,
    source: Option<BoxError>,
}

impl TransportError {
    /// An error of `kind` caused by `source`.
    pub fn new(kind: TransportErrorKind, source: impl Into<BoxError>) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// An error of `kind` with no further cause.
    pub fn from_kind(kind: TransportErrorKind) -> Self {
        Self { kind, source: None }
    }

    /// What went wrong.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            TransportErrorKind::Connect => "could not connect",
            TransportErrorKind::ConnectTimeout => "connect timed out",
            TransportErrorKind::Request => "sending the request failed",
            TransportErrorKind::Interrupted => "the connection broke while receiving the response",
            TransportErrorKind::Decode => "the response was not valid HTTP",
            TransportErrorKind::Unknown => "transport error",
        })
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Carries one HTTP request and returns its response, streaming both bodies.
///
/// Its one method is [`Transport::send`]. Waiting (backoff, timeouts) is not the transport's
/// job: the client has a [`crate::Timer`] of its own ([`crate::ClientBuilder::timer`]).
///
/// Any `Fn(Request) -> Future` closure is a transport, which makes scripted tests short:
///
/// ```
/// use wa_media_core::{RequestBody, ResponseBody, Transport, TransportError};
/// let t = |req: http::Request<RequestBody>| async move {
///     assert_eq!(req.method(), http::Method::GET);
///     Ok::<_, TransportError>(http::Response::new(ResponseBody::from_bytes("{}")))
/// };
/// fn assert_transport<T: Transport>(_: &T) {}
/// assert_transport(&t);
/// ```
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and returns the response head with a streaming body. A non-2xx status
    /// is `Ok`; redirects are returned, not followed.
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError>;
}

#[async_trait::async_trait]
impl<F, Fut> Transport for F
where
    F: Fn(http::Request<RequestBody>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<ResponseBody>, TransportError>> + Send + 'static,
{
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        (self)(request).await
    }
}

#[async_trait::async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        (**self).send(request).await
    }
}
