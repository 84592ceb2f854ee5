//! The two listeners (Graph and download origins) on hyper, with TCP_NODELAY, optional TLS,
//! keep-alive, HTTP/1.1 and HTTP/2, graceful shutdown, and the [`EmulatorHandle`] that controls
//! a running emulator.
//!
//! Every connection is bounded: at most `max_connections` per listener (beyond it new ones wait
//! in the backlog), a handshake timeout until the first request, and a watchdog that closes it
//! once it has been idle — no request being handled and no response making progress — for the
//! idle timeout, whatever the protocol (hyper's HTTP/2 server has no idle timeout of its own,
//! and hyper-util's protocol detection none either).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use wa_media_server::activity::{Activity, Handling, TrackedBody};
use wa_media_types::MediaId;

use crate::clock::{Clock, OffsetClock};
use crate::config::{EmulatorConfig, PRODUCTION_GRAPH_URL, PRODUCTION_LOOKASIDE_URL};
use crate::fault::Faults;
use crate::inbound::{InboundMessage, InboundMeta, SimulatedInbound};
use crate::request_log::{LoggedRequest, Origin, RequestLog};
use crate::service::{self, Shared};
use crate::signed_url::UrlSigner;
use crate::store::{Store, StoredMedia};
use crate::transport::InProcessTransport;
use crate::EmulatorError;

/// How long shutdown waits for open connections to finish their current exchange.
const GRACEFUL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection closed for idleness gets to say goodbye (HTTP/2 GOAWAY) before it is
/// dropped.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The first and the longest wait after a failed `accept` (out of file descriptors, say).
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// At most one "accept failed" warning per this interval (the others are counted).
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The longest accepted timeout setting (a week): far from `Instant` overflow.
const MAX_TIMEOUT_SETTING: Duration = Duration::from_secs(7 * 24 * 60 * 60);

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

fn public_url(configured: Option<&str>, tls: bool, production: &str, addr: SocketAddr) -> String {
    let url = match configured {
        Some(u) => u.to_owned(),
        None if tls => production.to_owned(),
        None => {
            let ip = match addr.ip() {
                IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                ip => ip,
            };
            format!("http://{}", SocketAddr::new(ip, addr.port()))
        }
    };
    url.trim_end_matches('/').to_owned()
}

fn check_url(what: &str, u: &str) -> Result<url::Url, EmulatorError> {
    let parsed =
        url::Url::parse(u).map_err(|e| EmulatorError::Config(format!("{what} {u:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(EmulatorError::Config(format!(
            "{what} {u:?} must be an http or https URL with a host"
        )));
    }
    Ok(parsed)
}

fn validate(config: &EmulatorConfig) -> Result<(), EmulatorError> {
    if config.max_connections == 0 {
        return Err(EmulatorError::Config(
            "max_connections must be at least 1".to_owned(),
        ));
    }
    for (what, t) in [
        ("idle_timeout", config.idle_timeout),
        ("handshake_timeout", config.handshake_timeout),
        ("body_timeout", config.body_timeout),
    ] {
        if t.is_zero() || t > MAX_TIMEOUT_SETTING {
            return Err(EmulatorError::Config(format!(
                "{what} must be between 1 ms and {} s, not {t:?}",
                MAX_TIMEOUT_SETTING.as_secs()
            )));
        }
    }
    if let Some(w) = &config.webhook {
        let u = check_url("webhook URL", &w.url)?;
        if u.scheme() != "http" {
            return Err(EmulatorError::Config(format!(
                "webhook URL {:?} must be http:// (deliveries go to a local receiver)",
                w.url
            )));
        }
        if w.app_secret.is_empty() || w.max_attempts == 0 || w.timeout.is_zero() {
            return Err(EmulatorError::Config(
                "the webhook needs an app secret, at least one attempt and a timeout".to_owned(),
            ));
        }
    }
    if config.status_delay > crate::config::MAX_STATUS_DELAY {
        return Err(EmulatorError::Config(format!(
            "status_delay must be at most {} s, not {:?}",
            crate::config::MAX_STATUS_DELAY.as_secs(),
            config.status_delay
        )));
    }
    if config.message_throughput == Some(0) {
        return Err(EmulatorError::Config(
            "message_throughput must be at least 1 message per second".to_owned(),
        ));
    }
    if let Some(p) = config.pair_rate_limit {
        if p.max == 0 || p.per.is_zero() || p.per > Duration::from_secs(24 * 60 * 60) {
            return Err(EmulatorError::Config(format!(
                "the pair rate limit needs at least 1 message per window of more than zero and \
                 at most a day, not {} per {:?}",
                p.max, p.per
            )));
        }
    }
    if config
        .admin_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        return Err(EmulatorError::Config(
            "the admin token must not be empty".to_owned(),
        ));
    }
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, EmulatorError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| EmulatorError::Bind { addr, source })
}

pub(crate) async fn start(
    config: EmulatorConfig,
    clock: Arc<dyn Clock>,
) -> Result<EmulatorHandle, EmulatorError> {
    validate(&config)?;
    let store = Store::open(config.data_dir.as_deref())?;
    let graph_listener = bind(config.graph_listen).await?;
    let lookaside_listener = bind(config.lookaside_listen).await?;
    let local = |l: &TcpListener, asked: SocketAddr| {
        l.local_addr().map_err(|source| EmulatorError::Bind {
            addr: asked,
            source,
        })
    };
    let graph_addr = local(&graph_listener, config.graph_listen)?;
    let lookaside_addr = local(&lookaside_listener, config.lookaside_listen)?;
    let graph_url = public_url(
        config.public_graph_url.as_deref(),
        config.tls,
        PRODUCTION_GRAPH_URL,
        graph_addr,
    );
    let lookaside_url = public_url(
        config.public_lookaside_url.as_deref(),
        config.tls,
        PRODUCTION_LOOKASIDE_URL,
        lookaside_addr,
    );
    let g = check_url("the public Graph URL", &graph_url)?;
    let l = check_url("the public download URL", &lookaside_url)?;

    let (tls, ca, ca_path) = if config.tls {
        let extra: Vec<String> = [g.host_str(), l.host_str()]
            .into_iter()
            .flatten()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
            .collect();
        let setup = crate::tls::generate(&extra, config.http2)?;
        let path = store.root().join("ca.pem");
        std::fs::write(&path, &setup.ca_pem).map_err(|source| EmulatorError::Storage {
            path: path.clone(),
            source,
        })?;
        (
            Some(tokio_rustls::TlsAcceptor::from(setup.server_config)),
            Some((setup.ca_pem, setup.ca_der)),
            Some(path),
        )
    } else {
        (None, None, None)
    };

    let faults = Faults::default();
    let log = Arc::new(RequestLog::default());
    let delivery = config
        .webhook
        .clone()
        .map(|t| crate::delivery::Delivery::new(t, faults.clone(), log.clone()));
    let shared = Arc::new(Shared {
        config,
        store,
        faults,
        log,
        delivery,
        outbox: Arc::default(),
        clock: Arc::new(OffsetClock::new(clock)),
        signer: UrlSigner::random(),
        graph_url,
        lookaside_url,
        graph_addr,
        open_connections: AtomicUsize::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(accept_loop(
            graph_listener,
            Origin::Graph,
            shared.clone(),
            tls.clone(),
            stop_rx.clone(),
        )),
        tokio::spawn(accept_loop(
            lookaside_listener,
            Origin::Lookaside,
            shared.clone(),
            tls,
            stop_rx,
        )),
    ];
    tracing::info!(
        graph = %shared.graph_url,
        lookaside = %shared.lookaside_url,
        %graph_addr,
        %lookaside_addr,
        "emulator started"
    );
    Ok(EmulatorHandle {
        shared,
        graph_addr,
        lookaside_addr,
        ca,
        ca_path,
        stop: stop_tx,
        tasks,
    })
}

async fn accept_loop(
    listener: TcpListener,
    origin: Origin,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(shared.config.max_connections));
    let mut conns = JoinSet::new();
    let mut permit: Option<OwnedSemaphorePermit> = None;
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut last_warning: Option<tokio::time::Instant> = None;
    let mut unlogged_failures: u64 = 0;
    loop {
        if permit.is_none() {
            // At the cap, nothing is accepted until a connection ends (its task then returns
            // its permit, and `join_next` wakes this loop): new clients wait in the backlog.
            permit = permits.clone().try_acquire_owned().ok();
        }
        let may_accept = permit.is_some() && retry_at.is_none();
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = tokio::time::sleep_until(retry_at.unwrap_or_else(tokio::time::Instant::now)),
                if retry_at.is_some() => retry_at = None,
            accepted = listener.accept(), if may_accept => {
                let tcp = match accepted {
                    Ok((tcp, _peer)) => {
                        backoff = ACCEPT_BACKOFF_MIN;
                        tcp
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: the pending connection stays
                        // in the backlog and the listener stays readable, so back off
                        // (doubling up to a second) and warn at most once a second.
                        unlogged_failures += 1;
                        let now = tokio::time::Instant::now();
                        if last_warning.is_none_or(|t| now - t >= ACCEPT_LOG_INTERVAL) {
                            tracing::warn!(
                                error = %e,
                                failures = unlogged_failures,
                                retry_in_ms = backoff.as_millis() as u64,
                                "accept failed; backing off"
                            );
                            last_warning = Some(now);
                            unlogged_failures = 0;
                        }
                        retry_at = Some(now + backoff);
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let Some(p) = permit.take() else { continue };
                conns.spawn(serve_connection(
                    tcp,
                    origin,
                    shared.clone(),
                    tls.clone(),
                    stop.clone(),
                    p,
                ));
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(GRACEFUL_TIMEOUT, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
}

async fn serve_connection(
    tcp: TcpStream,
    origin: Origin,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _open = OpenConnection::count(shared.clone());
    let activity = Arc::new(Activity::new());
    let reset = Arc::new(AtomicBool::new(false));
    let io = ConnIo {
        tcp,
        reset: reset.clone(),
    };
    match tls {
        None => serve_io(io, origin, shared, reset, stop, activity).await,
        Some(acceptor) => {
            let handshake = shared.config.handshake_timeout;
            match tokio::time::timeout(handshake, acceptor.accept(io)).await {
                Ok(Ok(stream)) => serve_io(stream, origin, shared, reset, stop, activity).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

async fn serve_io<I>(
    io: I,
    origin: Origin,
    shared: Arc<Shared>,
    reset: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
    activity: Arc<Activity>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let http2 = shared.config.http2;
    let idle = shared.config.idle_timeout;
    let handshake = shared.config.handshake_timeout;
    let svc_activity = activity.clone();
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let shared = shared.clone();
        let reset = reset.clone();
        let activity = svc_activity.clone();
        async move {
            let handling = Handling::begin(activity.clone());
            let resp = service::handle(shared, origin, req, Some(reset)).await;
            drop(handling);
            resp.map(|r| r.map(|inner| TrackedBody::new(inner, activity)))
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    // hyper's default read buffer grows to ~400 KiB per connection while a body arrives faster
    // than it is spooled: 50 concurrent 10 MB uploads peaked 101 MiB above the idle emulator.
    // 128 KiB: 45 MiB for the same (tests/memory.rs) at the default's upload speed; 64 KiB gave
    // 27 MiB but uploads 20-30 % slower in `wa-media-bench --only upload`.
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(idle)
        .max_buf_size(128 * 1024);
    // hyper's HTTP/2 keep-alive pings close connections to peers that stopped answering; the
    // watchdog below closes idle ones that still answer pings.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(idle)
        .keep_alive_timeout(idle);
    if !http2 {
        builder = builder.http1_only();
    }
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    loop {
        let check = activity
            .expires(idle, handshake)
            .unwrap_or_else(|| tokio::time::Instant::now() + idle);
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
                    .expires(idle, handshake)
                    .is_some_and(|t| t <= tokio::time::Instant::now());
                if expired {
                    tracing::debug!(
                        requests = activity.requests(),
                        "closing an idle connection"
                    );
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(IDLE_CLOSE_GRACE, conn.as_mut()).await;
                    return;
                }
            }
        }
    }
}

/// A running emulator. Dropping it stops both listeners (open connections finish their
/// current exchange); [`shutdown`](Self::shutdown) does the same and waits for it. A temporary
/// data directory is removed once everything using it has stopped.
#[derive(Debug)]
pub struct EmulatorHandle {
    shared: Arc<Shared>,
    graph_addr: SocketAddr,
    lookaside_addr: SocketAddr,
    ca: Option<(String, Vec<u8>)>,
    ca_path: Option<PathBuf>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// The Graph base URL to configure a client with (`http://127.0.0.1:PORT`, or
    /// `https://graph.facebook.com` in TLS mode), without a trailing slash.
    pub fn graph_url(&self) -> &str {
        &self.shared.graph_url
    }

    /// The download base URL that retrieve answers point at (`http://127.0.0.1:PORT`, or
    /// `https://lookaside.fbsbx.com` in TLS mode), without a trailing slash.
    pub fn lookaside_url(&self) -> &str {
        &self.shared.lookaside_url
    }

    /// The address the Graph origin listens on (map the Graph hostname here in TLS mode).
    pub fn graph_addr(&self) -> SocketAddr {
        self.graph_addr
    }

    /// The address the download origin listens on.
    pub fn lookaside_addr(&self) -> SocketAddr {
        self.lookaside_addr
    }

    /// How many connections are open on the two listeners right now (accepted, not yet
    /// closed). Each listener serves at most
    /// [`max_connections`](crate::EmulatorConfig::max_connections).
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections.load(Ordering::Relaxed)
    }

    /// The access token both origins accept.
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// The emulator's clock: the configured clock plus every [`advance_clock`](Self::advance_clock).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.shared.clock.clone()
    }

    /// The emulator's current time.
    pub fn now(&self) -> SystemTime {
        self.shared.clock.now()
    }

    /// Moves the emulator's time forward (works with any clock; also
    /// `POST /__emulator/clock/advance`) and returns the new time. Use it to expire URLs and
    /// media ids. The clock moves at most [`MAX_CLOCK_ADVANCE`](crate::MAX_CLOCK_ADVANCE) in
    /// total; beyond that it is an [`EmulatorError::ClockRange`] and the clock does not move.
    pub fn advance_clock(&self, by: Duration) -> Result<SystemTime, EmulatorError> {
        self.shared.advance_clock(by)
    }

    /// The local CA certificate (PEM) that signed the server certificate, in TLS mode.
    pub fn ca_certificate_pem(&self) -> Option<String> {
        self.ca.as_ref().map(|(pem, _)| pem.clone())
    }

    /// The same CA certificate in DER form (what `rustls::RootCertStore::add` takes).
    pub fn ca_certificate_der(&self) -> Option<Vec<u8>> {
        self.ca.as_ref().map(|(_, der)| der.clone())
    }

    /// Where the CA certificate was written (`<data dir>/ca.pem`), in TLS mode.
    pub fn ca_certificate_path(&self) -> Option<&Path> {
        self.ca_path.as_deref()
    }

    /// The fault controls.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every request received so far on the two origins (oldest first; `/__emulator/` calls
    /// excluded).
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.log.snapshot()
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        self.shared.log.clear();
    }

    /// The data directory (a temporary one unless configured).
    pub fn data_dir(&self) -> &Path {
        self.shared.store.root()
    }

    /// Every stored media (oldest first).
    pub fn media(&self) -> Vec<StoredMedia> {
        self.shared.store.list()
    }

    /// One stored media, if it exists and has not expired.
    pub fn media_info(&self, id: &MediaId) -> Option<StoredMedia> {
        self.shared.store.get(id, self.shared.now())
    }

    /// Where a stored media's bytes are on disk, if it exists and has not expired.
    pub fn media_path(&self, id: &MediaId) -> Option<PathBuf> {
        self.media_info(id)
            .map(|m| self.shared.store.media_path(&m.id))
    }

    /// A freshly signed download URL for a stored media, as retrieve would give it.
    pub fn download_url(&self, id: &MediaId) -> Option<String> {
        self.media_info(id).map(|m| self.shared.download_url(&m.id))
    }

    /// Creates media "sent by a customer" and returns the webhook notification the real API
    /// would deliver for it (see [`SimulatedInbound::signature_header`]).
    pub async fn simulate_inbound(
        &self,
        message: InboundMessage,
    ) -> Result<SimulatedInbound, EmulatorError> {
        simulate_inbound(&self.shared, message).await
    }

    /// Every message accepted by the messages endpoint so far (oldest first, at most
    /// [`SENT_MESSAGES_CAPACITY`](crate::SENT_MESSAGES_CAPACITY)), with the statuses emitted
    /// for each so far. Also `GET /__emulator/messages`.
    pub fn sent_messages(&self) -> Vec<crate::SentMessage> {
        self.shared.outbox.list()
    }

    /// A [`wa_media_core::Transport`] that calls this emulator directly, without sockets.
    pub fn in_process_transport(&self) -> InProcessTransport {
        InProcessTransport::new(self.shared.clone())
    }

    /// Stops both listeners and waits until they have stopped (open connections get up to
    /// five seconds to finish their current exchange).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

pub(crate) async fn simulate_inbound(
    shared: &Shared,
    message: InboundMessage,
) -> Result<SimulatedInbound, EmulatorError> {
    let mime = wa_media_types::MediaType::parse(&message.mime_type)
        .map_err(|e| EmulatorError::Inbound(e.to_string()))?;
    let body = http_body_util::Full::new(message.bytes);
    let spooled = crate::upload::receive_raw::<http_body_util::Full<Bytes>>(
        &shared.store,
        mime.clone(),
        body,
        shared.config.body_timeout,
    )
    .await
    .map_err(|e| EmulatorError::Inbound(e.error.to_string()))?;
    let meta = InboundMeta {
        mime_type: mime,
        filename: message.filename,
        caption: message.caption,
        voice: message.voice,
        from: message.from,
        profile_name: message.profile_name,
        phone_number_id: message.phone_number_id,
    };
    crate::inbound::create(shared, spooled, meta).map_err(EmulatorError::Inbound)
}
