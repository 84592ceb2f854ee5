//! The limits of the server loop, over real sockets on 127.0.0.1 with a trivial service: the
//! connection cap (the next connection waits until one closes, while the open ones keep being
//! served), idle connections closed on HTTP/1 and HTTP/2, silent connections closed after the
//! handshake timeout (raw TCP, a partial HTTP/1 head, an h2c preface), and a running handler
//! never cut by those timeouts.
//!
//! Every wait is bounded. The one negative check ("not served yet") reads with a short
//! timeout: a broken cap answers in microseconds, a working one never does.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Semaphore};
use wa_media_server::{serve, ServerConfig};

/// Bound of every wait for something the server should do.
const SOON: Duration = Duration::from_secs(10);
/// Timeouts that never fire during a test.
const LONG: Duration = Duration::from_secs(120);

const H2C_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: with the preface, a complete HTTP/2 client handshake.
const EMPTY_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

/// Answers `hello` to every request; `GET /slow` first reports that it started (a permit of
/// `started`), then waits for a permit of `gate`.
#[derive(Clone)]
struct Hello {
    hits: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    started: Arc<Semaphore>,
}

impl Hello {
    fn new() -> Self {
        Self {
            hits: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new(Semaphore::new(0)),
            started: Arc::new(Semaphore::new(0)),
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl tower_service::Service<http::Request<hyper::body::Incoming>> for Hello {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            if req.uri().path() == "/slow" {
                this.started.add_permits(1);
                this.gate.acquire().await.unwrap().forget();
            }
            this.hits.fetch_add(1, Ordering::SeqCst);
            Ok(http::Response::new(Full::new(Bytes::from_static(b"hello"))))
        })
    }
}

/// A server running `service` with `config` on 127.0.0.1:0 until dropped.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(service: Hello, config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, service, config, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        self.task.abort();
    }
}

fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()
}

/// Reads one HTTP/1.1 response (the body by `Content-Length`) within `within`: its status and
/// body, or `None` when none came in time (or the connection closed first).
async fn read_response(s: &mut TcpStream, within: Duration) -> Option<(u16, Vec<u8>)> {
    tokio::time::timeout(within, async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = buf[end..].to_vec();
        while body.len() < len {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Some((status, body))
    })
    .await
    .ok()
    .flatten()
}

/// Whether the server closes (or resets) the connection within `within`; what it sends before
/// is read and dropped.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// An HTTP/2 (prior knowledge) client connection: the request sender and the connection task,
/// which ends when the server closes the connection.
async fn h2_client(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    (sender, tokio::spawn(conn))
}

fn h2_get(addr: SocketAddr, path: &str) -> http::Request<Empty<Bytes>> {
    http::Request::get(format!("http://{addr}{path}"))
        .body(Empty::new())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_beyond_the_cap_waits_until_one_closes_while_open_ones_are_served() {
    let svc = Hello::new();
    let server = Server::start(
        svc.clone(),
        ServerConfig::default()
            .max_connections(2)
            .timeouts(LONG, LONG),
    )
    .await;
    let addr = server.addr;
    // Two keep-alive connections take both slots (each answered, so each was accepted).
    let mut a = TcpStream::connect(addr).await.unwrap();
    let mut b = TcpStream::connect(addr).await.unwrap();
    for s in [&mut a, &mut b] {
        s.write_all(&get(addr, "/")).await.unwrap();
        assert_eq!(read_response(s, SOON).await.unwrap().0, 200);
    }
    // A third connects (the kernel's backlog holds it) but is not served...
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(&get(addr, "/third")).await.unwrap();
    assert!(
        read_response(&mut third, Duration::from_millis(300))
            .await
            .is_none(),
        "served beyond the cap of 2"
    );
    // ...while the open connections keep being served.
    for s in [&mut a, &mut b] {
        s.write_all(&get(addr, "/")).await.unwrap();
        assert_eq!(read_response(s, SOON).await.unwrap().0, 200);
    }
    assert_eq!(svc.hits(), 4, "the third request reached the service");
    // One closes: the third is accepted and answered.
    drop(b);
    let (status, body) = read_response(&mut third, SOON)
        .await
        .expect("served once a slot was free");
    assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    assert_eq!(svc.hits(), 5);
    // The cap holds again: `a` and `third` take both slots, a fourth waits.
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    fourth.write_all(&get(addr, "/fourth")).await.unwrap();
    assert!(read_response(&mut fourth, Duration::from_millis(300))
        .await
        .is_none());
    drop(a);
    assert_eq!(read_response(&mut fourth, SOON).await.unwrap().0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_idle_timeout_on_http1_and_http2() {
    let svc = Hello::new();
    // Only the idle timeout is short: a connection is closed after a served request.
    let server = Server::start(
        svc.clone(),
        ServerConfig::default().timeouts(LONG, Duration::from_millis(300)),
    )
    .await;
    let addr = server.addr;
    let mut h1 = TcpStream::connect(addr).await.unwrap();
    h1.write_all(&get(addr, "/")).await.unwrap();
    assert_eq!(read_response(&mut h1, SOON).await.unwrap().0, 200);
    assert!(
        closed_within(&mut h1, SOON).await,
        "an idle HTTP/1 keep-alive connection stayed open"
    );

    // HTTP/2, a client that answers the server's pings but sends no request.
    let (mut sender, conn) = h2_client(addr).await;
    let resp = sender.send_request(h2_get(addr, "/")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
    tokio::time::timeout(SOON, conn)
        .await
        .expect("an idle HTTP/2 connection stayed open")
        .unwrap()
        .ok();
    assert_eq!(svc.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_after_the_handshake_timeout_on_http1_and_h2c() {
    let svc = Hello::new();
    // Only the handshake timeout is short.
    let server = Server::start(
        svc.clone(),
        ServerConfig::default().timeouts(Duration::from_millis(300), LONG),
    )
    .await;
    let addr = server.addr;
    let openings: [(&str, Vec<u8>); 5] = [
        ("nothing", Vec::new()),
        (
            "a partial HTTP/1 head",
            format!("GET / HTTP/1.1\r\nHost: {addr}\r\nX-Slow: aaa").into_bytes(),
        ),
        (
            "an HTTP/1 request line only",
            b"GET / HTTP/1.1\r\n".to_vec(),
        ),
        ("the h2c preface", H2C_PREFACE.to_vec()),
        (
            "the h2c preface and SETTINGS",
            [H2C_PREFACE, EMPTY_SETTINGS].concat(),
        ),
    ];
    let mut conns = Vec::new();
    for (name, bytes) in &openings {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(bytes).await.unwrap();
        conns.push((*name, s));
    }
    for (name, s) in &mut conns {
        assert!(closed_within(s, SOON).await, "{name}: still open");
    }
    assert_eq!(svc.hits(), 0);
    // A client that does send a request in time is served.
    let mut ok = TcpStream::connect(addr).await.unwrap();
    ok.write_all(&get(addr, "/")).await.unwrap();
    assert_eq!(read_response(&mut ok, SOON).await.unwrap().0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_slow_handler_is_not_cut_by_the_timeouts_on_http1_and_http2() {
    let svc = Hello::new();
    let timeout = Duration::from_millis(200);
    let server = Server::start(
        svc.clone(),
        ServerConfig::default().timeouts(timeout, timeout),
    )
    .await;
    let addr = server.addr;
    // One request on HTTP/1 and one on HTTP/2 (whose client answers the server's pings).
    let mut h1 = TcpStream::connect(addr).await.unwrap();
    h1.write_all(&get(addr, "/slow")).await.unwrap();
    let (mut sender, conn) = h2_client(addr).await;
    let h2 = tokio::spawn(async move { sender.send_request(h2_get(addr, "/slow")).await });
    tokio::time::timeout(SOON, svc.started.acquire_many(2))
        .await
        .expect("the handlers never started")
        .unwrap()
        .forget();
    // The handlers run for many times the timeouts, and longer than the second a connection
    // closed for idleness is given to finish.
    tokio::time::sleep(timeout * 10).await;
    assert!(!conn.is_finished(), "the HTTP/2 connection was closed");
    svc.gate.add_permits(2);
    let (status, body) = read_response(&mut h1, SOON)
        .await
        .expect("the HTTP/1 connection was cut while its handler ran");
    assert_eq!((status, body.as_slice()), (200, &b"hello"[..]));
    let resp = tokio::time::timeout(SOON, h2)
        .await
        .expect("no HTTP/2 answer")
        .unwrap()
        .expect("the HTTP/2 request was cut while its handler ran");
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"hello");
    assert_eq!(svc.hits(), 2);
}
