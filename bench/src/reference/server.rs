//! The minimal server of the reference pipelines: bare hyper (HTTP/1.1), plain or over
//! tokio-rustls (ring), answering from memory only.
//!
//! - `GET /<version>/<media id>`: the Graph retrieve answer (`url`, `mime_type`, `sha256` hex,
//!   `file_size`, `id`, `messaging_product`), prepared once;
//! - `GET /dl/<media id>?hash=…`: the prepared bytes, as zero-copy `Bytes` slices of [`CHUNK`];
//! - `POST /<version>/<phone id>/media`: the body read and dropped (its bytes counted), answered
//!   `{"id":"…"}` as Graph does.
//!
//! Every request must carry the token (`Authorization: Bearer …`). No emulator code is involved.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

/// The size of the slices the download body is sent in.
pub const CHUNK: usize = 512 * 1024;

/// The media id the server knows.
pub const MEDIA_ID: &str = "1010101010101010";

/// The id every upload is answered with.
pub const UPLOADED_ID: &str = "2020202020202020";

/// A response body sent from memory: slices of one `Bytes`, no copy.
#[derive(Debug)]
pub struct Prepared {
    data: Bytes,
}

impl Prepared {
    fn new(data: Bytes) -> Self {
        Self { data }
    }
}

impl Body for Prepared {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        let n = CHUNK.min(self.data.len());
        Poll::Ready(Some(Ok(Frame::data(self.data.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

/// What every connection shares.
struct Shared {
    bearer: HeaderValue,
    payload: Bytes,
    retrieve_json: Bytes,
    upload_json: Bytes,
    uploaded: AtomicU64,
}

/// A running minimal server; stopped when dropped.
pub struct MinimalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The Graph base URL a client is given (`http://127.0.0.1:<port>` or the production one).
    pub graph_url: String,
    /// The payload's length.
    pub size: u64,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MinimalServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinimalServer")
            .field("addr", &self.addr)
            .field("graph_url", &self.graph_url)
            .finish_non_exhaustive()
    }
}

impl Drop for MinimalServer {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which aborts every connection.
        self.task.abort();
    }
}

impl MinimalServer {
    /// Binds 127.0.0.1 on `rt`, prepares the answers for `payload` and starts accepting.
    /// `tls`: the acceptor for [`Mode::Tls`].
    pub fn start(
        rt: &tokio::runtime::Runtime,
        token: &str,
        payload: Bytes,
        tls: Option<TlsAcceptor>,
    ) -> Result<Self, String> {
        Self::start_announcing(rt, token, payload, tls, None)
    }

    /// [`MinimalServer::start`], with the retrieve answer's `sha256` and `file_size` replaced
    /// by `announced` when given (to check that a client refuses what does not match).
    pub(super) fn start_announcing(
        rt: &tokio::runtime::Runtime,
        token: &str,
        payload: Bytes,
        tls: Option<TlsAcceptor>,
        announced: Option<(String, u64)>,
    ) -> Result<Self, String> {
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| format!("minimal server: bind: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("minimal server: address: {e}"))?;
        // Plain HTTP: one origin for the Graph API and the download. TLS: the production names,
        // both resolved to this address by the client.
        let (graph_url, download_base) = match tls {
            None => (format!("http://{addr}"), format!("http://{addr}")),
            Some(_) => (
                "https://graph.facebook.com".to_owned(),
                "https://lookaside.fbsbx.com".to_owned(),
            ),
        };
        let size = payload.len() as u64;
        let (sha256_hex, announced_size) =
            announced.unwrap_or_else(|| (hex(&Sha256::digest(&payload)), size));
        let retrieve_json = serde_json::json!({
            "url": format!("{download_base}/dl/{MEDIA_ID}?hash=reference"),
            "mime_type": "text/plain",
            "sha256": sha256_hex,
            "file_size": announced_size,
            "id": MEDIA_ID,
            "messaging_product": "whatsapp",
        })
        .to_string();
        let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| format!("minimal server: token: {e}"))?;
        let shared = Arc::new(Shared {
            bearer,
            payload,
            retrieve_json: Bytes::from(retrieve_json),
            upload_json: Bytes::from(format!("{{\"id\":\"{UPLOADED_ID}\"}}")),
            uploaded: AtomicU64::new(0),
        });
        let task = rt.spawn(accept_loop(listener, tls, Arc::clone(&shared)));
        Ok(Self {
            addr,
            graph_url,
            size,
            shared,
            task,
        })
    }

    /// The body bytes received by uploads since the last call (and resets the count).
    pub fn take_uploaded(&self) -> u64 {
        self.shared.uploaded.swap(0, Ordering::SeqCst)
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                // E.g. out of file descriptors: try again shortly rather than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        connections.spawn(serve(stream, tls.clone(), Arc::clone(&shared)));
        while connections.try_join_next().is_some() {}
    }
}

async fn serve(stream: TcpStream, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let svc = service_fn(move |req| handle(Arc::clone(&shared), req));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.writev(true);
    match tls {
        None => {
            let _ = http.serve_connection(TokioIo::new(stream), svc).await;
        }
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(stream).await {
                let _ = http.serve_connection(TokioIo::new(stream), svc).await;
            }
        }
    }
}

/// What a request asks for.
enum Route {
    Retrieve,
    Download,
    Upload,
    NotFound,
}

fn route(method: &Method, path: &str) -> Route {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["dl", id]) if *id == MEDIA_ID => Route::Download,
        (&Method::GET, [version, id]) if version.starts_with('v') && *id == MEDIA_ID => {
            Route::Retrieve
        }
        (&Method::POST, [version, _phone, "media"]) if version.starts_with('v') => Route::Upload,
        _ => Route::NotFound,
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Prepared> {
    let mut r = Response::new(Prepared::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn graph_error(status: StatusCode, message: &str) -> Response<Prepared> {
    let body =
        serde_json::json!({"error": {"message": message, "type": "OAuthException", "code": 100}});
    reply(status, "application/json", Bytes::from(body.to_string()))
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Prepared>, Infallible> {
    if req.headers().get(AUTHORIZATION) != Some(&shared.bearer) {
        return Ok(graph_error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong token",
        ));
    }
    Ok(match route(req.method(), req.uri().path()) {
        Route::Retrieve => reply(
            StatusCode::OK,
            "application/json",
            shared.retrieve_json.clone(),
        ),
        Route::Download => reply(StatusCode::OK, "text/plain", shared.payload.clone()),
        Route::Upload => {
            let mut body = req.into_body();
            let mut got = 0u64;
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => got += f.data_ref().map_or(0, |d| d.len() as u64),
                    Err(_) => {
                        return Ok(graph_error(StatusCode::BAD_REQUEST, "body cut short"));
                    }
                }
            }
            shared.uploaded.fetch_add(got, Ordering::SeqCst);
            reply(
                StatusCode::OK,
                "application/json",
                shared.upload_json.clone(),
            )
        }
        Route::NotFound => graph_error(StatusCode::NOT_FOUND, "no such path"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert!(matches!(
            route(&Method::GET, &format!("/v27.0/{MEDIA_ID}")),
            Route::Retrieve
        ));
        assert!(matches!(
            route(&Method::GET, &format!("/dl/{MEDIA_ID}")),
            Route::Download
        ));
        assert!(matches!(
            route(&Method::POST, "/v27.0/106540352242922/media"),
            Route::Upload
        ));
        assert!(matches!(route(&Method::GET, "/v27.0/1"), Route::NotFound));
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
