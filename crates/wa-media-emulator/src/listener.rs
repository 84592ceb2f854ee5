//! The two listeners (Graph and download origins): `wa_media_server`'s serve loop (connection
//! cap, accept backoff, handshake and idle timeouts on HTTP/1 and HTTP/2, graceful shutdown)
//! with the emulator's step between accept and HTTP: each TCP connection is counted, can be
//! made to end with a reset (the fault), and is wrapped in TLS in TLS mode.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::either::Either;
use wa_media_server::ServerConfig;

use crate::body::EmuBody;
use crate::reply::ConnectionReset;
use crate::request_log::Origin;
use crate::service;
use crate::state::Shared;

/// How long shutdown waits for open connections to finish their current exchange.
const GRACEFUL_TIMEOUT: Duration = Duration::from_secs(5);

/// hyper's default read buffer grows to ~400 KiB per connection while a body arrives faster
/// than it is spooled: 50 concurrent 10 MB uploads peaked 101 MiB above the idle emulator.
/// 128 KiB: 45 MiB for the same (tests/memory.rs) at the default's upload speed; 64 KiB gave
/// 27 MiB but uploads 20-30 % slower in `wa-media-bench --only upload`.
const HTTP1_MAX_BUF_SIZE: usize = 128 * 1024;

/// Counts an open connection for as long as it lives.
struct OpenConnection(Arc<Shared>);

impl OpenConnection {
    fn count(shared: Arc<Shared>) -> Self {
        shared.open_connections.fetch_add(1, Ordering::Relaxed);
        Self(shared)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP connection that can be made to end with a reset (RST) instead of a clean close, for
/// the "connection reset" fault.
struct ConnIo {
    tcp: TcpStream,
    reset: Arc<AtomicBool>,
    /// Counts the connection among the open ones for as long as it lives.
    _open: OpenConnection,
}

impl ConnIo {
    fn resetting(&self) -> bool {
        self.reset.load(Ordering::SeqCst)
    }
}

impl Drop for ConnIo {
    fn drop(&mut self) {
        if self.resetting() {
            // SO_LINGER 0: close() sends RST.
            let _ = self.tcp.set_zero_linger();
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.resetting() {
            // No FIN before the RST.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// One connection's requests: the emulator's handler, with the connection's reset switch.
#[derive(Clone)]
struct ConnService {
    shared: Arc<Shared>,
    origin: Origin,
    reset: Arc<AtomicBool>,
}

impl tower_service::Service<Request<Incoming>> for ConnService {
    type Response = Response<EmuBody>;
    type Error = ConnectionReset;
    type Future = Pin<Box<dyn Future<Output = Result<Response<EmuBody>, ConnectionReset>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        Box::pin(service::handle(
            self.shared.clone(),
            self.origin,
            req,
            Some(self.reset.clone()),
        ))
    }
}

/// The stream a connection speaks HTTP over: the TCP connection, or TLS over it.
type Stream = Either<ConnIo, Box<tokio_rustls::server::TlsStream<ConnIo>>>;

/// The emulator's step between accept and HTTP: count the connection, give it a reset
/// switch, and make the TLS handshake in TLS mode (`None` when it fails; the serve loop bounds
/// it with the handshake timeout).
async fn accept(
    tcp: TcpStream,
    origin: Origin,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Option<(Stream, ConnService)> {
    let reset = Arc::new(AtomicBool::new(false));
    let io = ConnIo {
        tcp,
        reset: reset.clone(),
        _open: OpenConnection::count(shared.clone()),
    };
    let stream = match tls {
        None => Either::Left(io),
        Some(acceptor) => match acceptor.accept(io).await {
            Ok(s) => Either::Right(Box::new(s)),
            Err(e) => {
                tracing::debug!(error = %e, "TLS handshake failed");
                return None;
            }
        },
    };
    let service = ConnService {
        shared,
        origin,
        reset,
    };
    Some((stream, service))
}

/// Serves `origin` on `listener` until `stop` turns true (or its sender is gone); open
/// connections then get [`GRACEFUL_TIMEOUT`] to finish their current exchange.
pub(crate) async fn serve(
    listener: TcpListener,
    origin: Origin,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let c = &shared.config;
    let config = ServerConfig::default()
        .max_connections(c.max_connections)
        .timeouts(c.handshake_timeout, c.idle_timeout)
        .shutdown_grace(GRACEFUL_TIMEOUT)
        .http2(c.http2)
        .http1_max_buf_size(HTTP1_MAX_BUF_SIZE);
    let on_accept = move |tcp| accept(tcp, origin, shared.clone(), tls.clone());
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    wa_media_server::serve_with(listener, on_accept, config, shutdown).await;
}
