//! Test support (feature `test-util`): a scripted in-memory [`Transport`] that records every
//! request (body collected) and answers from a closure, reply builders, a tokio-clock
//! [`Timer`] (so `start_paused` tests are exact), log capture and fixture paths.
//!
//! Not a stable API: it serves this workspace's tests and may change in any release.
//!
//! ```
//! use wa_media_core::test_util::*;
//! use wa_media_core::MediaApi;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let t = Scripted::new(|_req, _n| json(200, r#"{"success":true}"#));
//! client(&t).delete(&media_id()).await.unwrap();
//! assert_eq!(t.requests()[0].method, http::Method::DELETE);
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;

use crate::{
    BoxFuture, MediaClient, RequestBody, ResponseBody, RetryPolicy, Timeouts, Timer, Transport,
    TransportError, TransportErrorKind,
};
use wa_media_types::{MediaUrlResponse, Sha256Digest};

/// A distinctive token: must never appear in an error, a Debug output or on an untrusted host.
pub const TOKEN: &str = "EAAtok-CANARY-9f3c2b7d";
/// The business phone number id of the test clients.
pub const PHONE: &str = "106540352242922";
/// The media id the helpers use.
pub const MEDIA: &str = "1037543291543636";
/// The Graph origin of the test clients.
pub const GRAPH: &str = "https://graph.facebook.com";

/// One request as the transport saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method.
    pub method: Method,
    /// The full URI.
    pub uri: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
    /// `Some(n)` when the RequestBody announced its length.
    pub body_len_hint: Option<u64>,
}

impl Recorded {
    /// The URI's host.
    pub fn host(&self) -> String {
        url::Url::parse(&self.uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }
    /// Whether the `Authorization` header carries [`TOKEN`].
    pub fn has_token(&self) -> bool {
        self.headers
            .get_all(http::header::AUTHORIZATION)
            .iter()
            .any(|v| {
                v.as_bytes()
                    .windows(TOKEN.len())
                    .any(|w| w == TOKEN.as_bytes())
            })
    }
    /// Whether it went anywhere but [`GRAPH`].
    pub fn is_download(&self) -> bool {
        !self.uri.starts_with(GRAPH)
    }
}

/// What the script answers.
#[derive(Debug)]
pub enum Reply {
    /// This response.
    Response(Response<ResponseBody>),
    /// This transport error.
    Error(TransportError),
    /// Never answer (request timeout tests).
    Hang,
}

type Handler = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

/// The scripted transport. `handler(request, index)` gets the 0-based index of the request.
#[derive(Clone)]
pub struct Scripted {
    /// Every request so far.
    pub log: Arc<Mutex<Vec<Recorded>>>,
    handler: Arc<Handler>,
    count: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripted")
            .field("requests", &self.count.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl Scripted {
    /// A transport answering with `handler`.
    pub fn new(handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self {
            log: Arc::default(),
            handler: Arc::new(handler),
            count: Arc::default(),
        }
    }
    /// A copy of every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }
    /// How many requests so far match `f`.
    pub fn count_where(&self, f: impl Fn(&Recorded) -> bool) -> usize {
        self.log.lock().unwrap().iter().filter(|r| f(r)).count()
    }
}

#[async_trait::async_trait]
impl Transport for Scripted {
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<Response<ResponseBody>, TransportError> {
        let (parts, body) = request.into_parts();
        let body_len_hint = body.len();
        let body = body
            .collect()
            .await
            .map_err(|e| TransportError::new(TransportErrorKind::Request, e))?
            .to_bytes()
            .to_vec();
        let rec = Recorded {
            method: parts.method,
            uri: parts.uri.to_string(),
            headers: parts.headers,
            body,
            body_len_hint,
        };
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        self.log.lock().unwrap().push(rec.clone());
        match (self.handler)(&rec, n) {
            Reply::Response(r) => Ok(r),
            Reply::Error(e) => Err(e),
            Reply::Hang => std::future::pending().await,
        }
    }
}

/// A [`Timer`] on tokio's clock, so `start_paused` tests are exact.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A JSON answer.
pub fn json(status: u16, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(ResponseBody::from_bytes(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Reply::Response(r)
}

/// `reply` with one more header.
pub fn with_header(mut reply: Reply, name: &'static str, value: &str) -> Reply {
    if let Reply::Response(r) = &mut reply {
        r.headers_mut().insert(name, value.parse().unwrap());
    }
    reply
}

/// An answer of `status` with a plain body.
pub fn status(status: u16, body: &'static str) -> Reply {
    let mut r = Response::new(ResponseBody::from_bytes(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    Reply::Response(r)
}

/// A body of `chunks`, then optionally a transport error, then optionally hanging forever.
pub fn chunked(
    status_code: u16,
    chunks: Vec<Bytes>,
    then_error: Option<TransportErrorKind>,
    then_hang: bool,
) -> Reply {
    let items: Vec<Result<Frame<Bytes>, TransportError>> = chunks
        .into_iter()
        .map(|c| Ok(Frame::data(c)))
        .chain(then_error.map(|k| Err(TransportError::new(k, "connection reset by peer"))))
        .collect();
    let s = futures_util::stream::iter(items);
    let body = if then_hang {
        ResponseBody::new(http_body_util::StreamBody::new(
            s.chain(futures_util::stream::pending()),
        ))
    } else {
        ResponseBody::new(http_body_util::StreamBody::new(s))
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status_code).unwrap();
    Reply::Response(r)
}

/// A body that yields one byte every `every` (tokio clock), `n` bytes in total.
pub fn drip(n: usize, every: Duration) -> Reply {
    let s = futures_util::stream::unfold(0usize, move |i| async move {
        if i >= n {
            return None;
        }
        tokio::time::sleep(every).await;
        Some((
            Ok::<_, TransportError>(Frame::data(Bytes::from_static(b"x"))),
            i + 1,
        ))
    });
    Reply::Response(Response::new(ResponseBody::new(
        http_body_util::StreamBody::new(s),
    )))
}

/// The retrieve JSON for `content` at `url`.
pub fn retrieve_json(url: &str, content: &[u8]) -> String {
    retrieve_json_with(url, content.len() as u64, Sha256Digest::of(content))
}

/// The retrieve JSON announcing `size` and `sha` at `url`.
pub fn retrieve_json_with(url: &str, size: u64, sha: Sha256Digest) -> String {
    serde_json::json!({
        "url": url,
        "mime_type": "image/jpeg",
        "sha256": sha.to_hex(),
        "file_size": size,
        "id": MEDIA,
        "messaging_product": "whatsapp",
    })
    .to_string()
}

/// The retrieve answer for `content` at `url`.
pub fn media_info(url: &str, content: &[u8]) -> MediaUrlResponse {
    serde_json::from_str(&retrieve_json(url, content)).unwrap()
}

/// A signed download URL on the trusted download host (its signature is `SIGNATURE-SECRET`).
pub const DL_URL: &str =
    "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1037543291543636&ext=1749416383&hash=SIGNATURE-SECRET";

/// Fast retries: zero-ish delays so retry tests are quick even on a real clock.
pub fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(attempts)
        .with_delays(Duration::from_millis(1), Duration::from_millis(2))
}

/// A client on `t`: three fast attempts, default timeouts (see [`client_with`]).
pub fn client(t: &Scripted) -> MediaClient {
    client_with(t, fast_retry(3), Timeouts::default())
}

/// A client on `t` with [`TOKEN`], [`PHONE`], a fixed multipart boundary and [`TokioTimer`].
pub fn client_with(t: &Scripted, retry: RetryPolicy, timeouts: Timeouts) -> MediaClient {
    MediaClient::builder(t.clone())
        .token(TOKEN)
        .phone_number_id(PHONE)
        .retry_policy(retry)
        .timeouts(timeouts)
        .fixed_boundary("wa-media-TESTBOUNDARY")
        .timer(TokioTimer)
        .build()
        .unwrap()
}

/// [`MEDIA`] as a media id.
pub fn media_id() -> wa_media_types::MediaId {
    MEDIA.parse().unwrap()
}

/// Asserts the error's Display and Debug never contain the token or the URL signature.
pub fn assert_no_secret(e: &crate::Error) {
    let s = format!("{e} | {e:?}");
    assert!(!s.contains(TOKEN), "token leaked: {s}");
    assert!(!s.contains("SIGNATURE-SECRET"), "URL signature leaked: {s}");
}

/// Files in `dir` (to check nothing was left behind).
pub fn dir_entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `fixtures/{rel}` of this repository (core's manifest directory, two levels up): only
/// meaningful inside a checkout of the wa-media workspace.
pub fn fixtures(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel)
}

/// Captured log output: a `tracing` subscriber writing everything (TRACE and up, no colours)
/// into memory, installed for the current thread while the guard of [`LogCapture::install`]
/// lives.
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// A capture and the guard that keeps it the current thread's default subscriber.
    pub fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (capture, guard)
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
