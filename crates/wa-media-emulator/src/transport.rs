//! The in-process transport: core's [`Transport`] served by the emulator's handlers directly,
//! with no sockets — the same answers, faults and request log as over the network.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{header, Request, Response};
use http_body::{Body, Frame, SizeHint};
use wa_media_core::{RequestBody, ResponseBody, Transport, TransportError, TransportErrorKind};

use crate::body::EmuBody;
use crate::request_log::Origin;
use crate::service;
use crate::state::Shared;

type OriginKey = (String, String, Option<u16>);

fn key_of(url: &url::Url) -> Option<OriginKey> {
    Some((
        url.scheme().to_owned(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default(),
    ))
}

/// A [`Transport`] that hands each request straight to an emulator's request handler.
///
/// Requests are routed by origin: the emulator's Graph URL or its download URL (scheme, host
/// and port must match what [`EmulatorHandle::graph_url`](crate::EmulatorHandle::graph_url) /
/// [`lookaside_url`](crate::EmulatorHandle::lookaside_url) announce). Any other host fails
/// with a [`TransportErrorKind::Connect`] error, as an unreachable host would. A response body
/// that ends before its `Content-Length` (the truncated-body fault) or breaks (the reset
/// fault) yields a [`TransportErrorKind::Interrupted`] error. Cloning is cheap; the transport
/// keeps the emulator's storage alive but not its listeners.
#[derive(Clone)]
pub struct InProcessTransport {
    shared: Arc<Shared>,
    graph: Option<OriginKey>,
    lookaside: Option<OriginKey>,
}

impl fmt::Debug for InProcessTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessTransport")
            .field("graph_url", &self.shared.graph_url)
            .field("lookaside_url", &self.shared.lookaside_url)
            .finish()
    }
}

impl InProcessTransport {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let parse = |u: &str| url::Url::parse(u).ok().as_ref().and_then(key_of);
        Self {
            graph: parse(&shared.graph_url),
            lookaside: parse(&shared.lookaside_url),
            shared,
        }
    }

    fn origin_of(&self, uri: &http::Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let host = uri.host()?.to_ascii_lowercase();
        let port = uri.port_u16().or(match scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        });
        let key = Some((scheme, host, port));
        if key == self.graph {
            Some(Origin::Graph)
        } else if key == self.lookaside {
            Some(Origin::Lookaside)
        } else {
            None
        }
    }
}

/// The reason given for a host the in-process emulator does not serve.
#[derive(Debug)]
struct UnknownHost;

impl fmt::Display for UnknownHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the in-process emulator serves only its Graph and download origins")
    }
}

impl std::error::Error for UnknownHost {}

/// A body ended before its `Content-Length`.
#[derive(Debug)]
struct Truncated {
    missing: u64,
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the body ended {} bytes short of its Content-Length",
            self.missing
        )
    }
}

impl std::error::Error for Truncated {}

/// Turns an early end of the body into an error, as a socket client would see it.
struct Checked {
    inner: EmuBody,
    remaining: Option<u64>,
}

impl Body for Checked {
    type Data = Bytes;
    type Error = TransportError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, TransportError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(r), Some(d)) = (self.remaining.as_mut(), frame.data_ref()) {
                    *r = r.saturating_sub(d.len() as u64);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(TransportError::new(
                TransportErrorKind::Interrupted,
                e,
            )))),
            Poll::Ready(None) => match self.remaining {
                Some(missing) if missing > 0 => {
                    self.remaining = Some(0);
                    Poll::Ready(Some(Err(TransportError::new(
                        TransportErrorKind::Interrupted,
                        Truncated { missing },
                    ))))
                }
                _ => Poll::Ready(None),
            },
        }
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[async_trait::async_trait]
impl Transport for InProcessTransport {
    async fn send(
        &self,
        request: Request<RequestBody>,
    ) -> Result<Response<ResponseBody>, TransportError> {
        let Some(origin) = self.origin_of(request.uri()) else {
            return Err(TransportError::new(
                TransportErrorKind::Connect,
                UnknownHost,
            ));
        };
        match service::handle(self.shared.clone(), origin, request, None).await {
            Ok(resp) => {
                let (parts, body) = resp.into_parts();
                let remaining = parts
                    .headers
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok());
                let body = Checked {
                    inner: body,
                    remaining,
                };
                Ok(Response::from_parts(parts, ResponseBody::new(body)))
            }
            Err(reset) => Err(TransportError::new(TransportErrorKind::Request, reset)),
        }
    }
}
