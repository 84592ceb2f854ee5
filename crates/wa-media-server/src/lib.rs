#![doc = include_str!("../README.md")]
//!
//! # Overview
//!
//! A hyper server loop for any `tower_service::Service` that faces the internet: slow and
//! idle clients cannot exhaust it.
//!
//! - **Connection cap**: at most [`ServerConfig::max_connections`] at once; beyond it new
//!   connections wait in the kernel's backlog while existing ones keep being served.
//! - **Accept backoff**: when `accept` fails (out of file descriptors), the loop waits,
//!   doubling up to a second, and logs at most one warning a second.
//! - **Timeouts on HTTP/1 and HTTP/2 alike**: a connection that sends no complete request
//!   within [`ServerConfig::handshake_timeout`] (a silent h2c preface, a slowloris header) or
//!   stays idle for [`ServerConfig::idle_timeout`] between requests is closed; HTTP/1 headers
//!   must arrive within the idle timeout; HTTP/2 peers that stop answering pings are dropped.
//!   A request whose handler is running is never cut by these: the handler bounds its own
//!   body reading (the webhook service answers 408).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod activity;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::activity::{Activity, Handling, TrackedBody};

/// The first and the longest wait after a failed `accept`.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one "accept failed" warning per this interval.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(1);
/// How long a connection closed for idleness may take to finish.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Limits of the server loop.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Connections served at once. Default 1,024.
    pub max_connections: usize,
    /// Before the first request: the time to send one (h2c preface included). Default 10 s.
    pub handshake_timeout: Duration,
    /// Between requests, and for HTTP/1 headers to arrive. Default 30 s.
    pub idle_timeout: Duration,
    /// How long running requests may take to finish at shutdown. Default 10 s.
    pub shutdown_grace: Duration,
    /// Offer HTTP/2 (prior knowledge, or ALPN `h2` behind [`serve_with`]'s TLS step) besides
    /// HTTP/1.1. Default on.
    pub http2: bool,
    /// The most an HTTP/1 connection buffers while its body is read; `None` keeps hyper's
    /// default (about 400 KiB). Default `None`.
    pub http1_max_buf_size: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            http2: true,
            http1_max_buf_size: None,
        }
    }
}

impl ServerConfig {
    /// Sets the connection cap (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets the handshake and idle timeouts.
    pub fn timeouts(mut self, handshake: Duration, idle: Duration) -> Self {
        self.handshake_timeout = handshake;
        self.idle_timeout = idle;
        self
    }

    /// Sets the shutdown grace period.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Offers HTTP/2 besides HTTP/1.1 (`true`, the default) or HTTP/1.1 only.
    pub fn http2(mut self, on: bool) -> Self {
        self.http2 = on;
        self
    }

    /// Bounds the buffer of an HTTP/1 connection (hyper's `max_buf_size`; at least 8 KiB).
    pub fn http1_max_buf_size(mut self, bytes: usize) -> Self {
        self.http1_max_buf_size = Some(bytes.max(8 * 1024));
        self
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then lets running requests
/// finish within [`ServerConfig::shutdown_grace`] and returns.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let accept = move |tcp: TcpStream| std::future::ready(Some((tcp, service.clone())));
    serve_with(listener, accept, config, shutdown).await;
}

/// Like [`serve`], with a step of the caller's between `accept` and HTTP: `accept` gets each
/// new TCP connection and gives back the stream to speak HTTP over (a TLS stream, a wrapper
/// that can reset the connection) and the service for that connection's requests, or `None`
/// to drop it (a failed TLS handshake).
///
/// `accept` runs in the connection's own task, within [`ServerConfig::handshake_timeout`]:
/// a slow handshake holds one connection slot, never the loop. The connection cap, the
/// backoff, the timeouts and the shutdown are [`serve`]'s.
pub async fn serve_with<A, F, I, S, B>(
    listener: TcpListener,
    accept: A,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) where
    A: Fn(TcpStream) -> F + Send + Sync + 'static,
    F: Future<Output = Option<(I, S)>> + Send + 'static,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let config = Arc::new(config);
    let accept = Arc::new(accept);
    let (stop_tx, stop) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut conns = JoinSet::new();
    let mut permit: Option<OwnedSemaphorePermit> = None;
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut last_warning: Option<tokio::time::Instant> = None;
    let mut unlogged: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        if permit.is_none() {
            // At the cap nothing is accepted until a connection ends: new clients wait.
            permit = permits.clone().try_acquire_owned().ok();
        }
        let may_accept = permit.is_some() && retry_at.is_none();
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = tokio::time::sleep_until(retry_at.unwrap_or_else(tokio::time::Instant::now)),
                if retry_at.is_some() => retry_at = None,
            accepted = listener.accept(), if may_accept => {
                let tcp = match accepted {
                    Ok((tcp, _)) => {
                        backoff = ACCEPT_BACKOFF_MIN;
                        tcp
                    }
                    Err(e) => {
                        unlogged += 1;
                        let now = tokio::time::Instant::now();
                        if last_warning.is_none_or(|t| now - t >= ACCEPT_LOG_INTERVAL) {
                            tracing::warn!(error = %e, failures = unlogged, retry_in_ms = backoff.as_millis() as u64, "accept failed; backing off");
                            last_warning = Some(now);
                            unlogged = 0;
                        }
                        retry_at = Some(now + backoff);
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let Some(p) = permit.take() else { continue };
                conns.spawn(connection(tcp, accept.clone(), config.clone(), stop.clone(), p));
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(config.shutdown_grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

async fn connection<A, F, I, S, B>(
    tcp: TcpStream,
    accept: Arc<A>,
    config: Arc<ServerConfig>,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) where
    A: Fn(TcpStream) -> F + Send + Sync + 'static,
    F: Future<Output = Option<(I, S)>> + Send + 'static,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // The handshake phase starts now: the caller's step (a TLS handshake) counts in it.
    let activity = Arc::new(Activity::new());
    let (io, service) = match tokio::time::timeout(config.handshake_timeout, accept(tcp)).await {
        Ok(Some(accepted)) => accepted,
        Ok(None) => return,
        Err(_) => {
            tracing::debug!("connection setup (TLS handshake) timed out");
            return;
        }
    };
    let a2 = activity.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let handling = Handling::begin(a2.clone());
        let activity = a2.clone();
        let mut service = service.clone();
        async move {
            let resp = service.call(req).await;
            drop(handling);
            Ok::<_, S::Error>(resp?.map(|inner| TrackedBody::new(inner, activity)))
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(config.idle_timeout);
    if let Some(max) = config.http1_max_buf_size {
        builder.http1().max_buf_size(max);
    }
    // hyper's HTTP/2 keep-alive pings close connections to peers that stopped answering; the
    // watchdog below closes idle ones that still answer pings.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.idle_timeout)
        .keep_alive_timeout(config.idle_timeout);
    if !config.http2 {
        builder = builder.http1_only();
    }
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    loop {
        // Looked at again at least every min(handshake, idle): a connection's deadline can move
        // earlier (its first request ends the handshake phase and starts a shorter idle one).
        let recheck =
            tokio::time::Instant::now() + config.handshake_timeout.min(config.idle_timeout);
        let check = activity
            .expires(config.idle_timeout, config.handshake_timeout)
            .map_or(recheck, |t| t.min(recheck));
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.as_mut().await;
                return;
            }
            _ = tokio::time::sleep_until(check) => {
                let expired = activity
                    .expires(config.idle_timeout, config.handshake_timeout)
                    .is_some_and(|t| t <= tokio::time::Instant::now());
                if expired {
                    tracing::debug!(requests = activity.requests(), "closing an idle connection");
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(IDLE_CLOSE_GRACE, conn.as_mut()).await;
                    return;
                }
            }
        }
    }
}
