//! Test servers on 127.0.0.1:0 (hyper, plain or TLS: the CA comes from
//! `wa_media_testkit::tls`) and the log capture; the raw-TCP hostile servers, waits and the
//! CA generation are in wa-media-testkit.
#![allow(dead_code)] // each test binary uses a different subset

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

pub mod capture;

pub type Body = BoxBody<Bytes, io::Error>;
pub type Req = http::Request<Incoming>;
pub type Resp = http::Response<Body>;

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

pub fn text(status: u16, b: impl Into<Bytes>) -> Resp {
    http::Response::builder()
        .status(status)
        .body(full(b))
        .unwrap()
}

/// One request as the server saw it: which connection (0-based, in accept order) and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub connection: usize,
    pub path: String,
    pub tag: Option<String>,
}

/// A running test server: its address, how many connections it accepted, what it served.
pub struct Server {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    /// Every request served so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    /// The requests one connection served.
    pub fn on_connection(&self, connection: usize) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.connection == connection)
            .collect()
    }
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves HTTP/1.1 and HTTP/2 (prior knowledge / ALPN) with `handler`, optionally over TLS.
pub async fn serve<F, Fut>(tls: Option<tokio_rustls::TlsAcceptor>, handler: F) -> Server
where
    F: Fn(Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let handler = Arc::new(handler);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let connection = count.fetch_add(1, Ordering::SeqCst);
            let _ = tcp.set_nodelay(true);
            let handler = handler.clone();
            let tls = tls.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Req| {
                    log.lock().unwrap().push(Seen {
                        connection,
                        path: req.uri().path().to_owned(),
                        // `x-tag`, else the Authorization header (test tokens only).
                        tag: ["x-tag", "authorization"]
                            .iter()
                            .find_map(|h| req.headers().get(*h))
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned),
                    });
                    let h = handler.clone();
                    async move { Ok::<_, Infallible>(h(req).await) }
                });
                let builder = auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
                    }
                }
            });
        }
    });
    Server {
        addr,
        connections,
        seen,
        task,
    }
}

/// Reads a whole response body (test helper: small bodies only).
pub async fn body_bytes(
    body: wa_media_core::ResponseBody,
) -> Result<Bytes, wa_media_core::TransportError> {
    Ok(body.collect().await?.to_bytes())
}

pub fn get(url: &str) -> http::Request<wa_media_core::RequestBody> {
    http::Request::get(url)
        .body(wa_media_core::RequestBody::empty())
        .unwrap()
}
