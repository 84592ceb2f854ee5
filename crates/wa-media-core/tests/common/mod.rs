//! A scripted in-memory transport for core's tests: records every request (body collected)
//! and answers from a closure; sleeps on tokio's clock so `start_paused` tests are exact.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;
use wa_media_core::{
    BoxFuture, MediaClient, RequestBody, ResponseBody, RetryPolicy, Timeouts, Transport,
    TransportError, TransportErrorKind,
};
use wa_media_types::{MediaUrlResponse, Sha256Digest};

/// A distinctive token: must never appear in an error, a Debug output or on an untrusted host.
pub const TOKEN: &str = "EAAtok-CANARY-9f3c2b7d";
pub const PHONE: &str = "106540352242922";
pub const MEDIA: &str = "1037543291543636";
pub const GRAPH: &str = "https://graph.facebook.com";

/// One request as the transport saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// `Some(n)` when the RequestBody announced its length.
    pub body_len_hint: Option<u64>,
}

impl Recorded {
    pub fn host(&self) -> String {
        url::Url::parse(&self.uri)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }
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
    pub fn is_download(&self) -> bool {
        !self.uri.starts_with(GRAPH)
    }
}

/// What the script answers.
pub enum Reply {
    Response(Response<ResponseBody>),
    Error(TransportError),
    /// Never answer (request timeout tests).
    Hang,
}

type Handler = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

/// The scripted transport. `handler(request, index)` gets the 0-based index of the request.
#[derive(Clone)]
pub struct Scripted {
    pub log: Arc<Mutex<Vec<Recorded>>>,
    handler: Arc<Handler>,
    count: Arc<AtomicUsize>,
}

impl Scripted {
    pub fn new(handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Self {
        Self {
            log: Arc::default(),
            handler: Arc::new(handler),
            count: Arc::default(),
        }
    }
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }
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

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

pub fn json(status: u16, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(ResponseBody::from_bytes(body.into()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Reply::Response(r)
}

pub fn with_header(mut reply: Reply, name: &'static str, value: &str) -> Reply {
    if let Reply::Response(r) = &mut reply {
        r.headers_mut().insert(name, value.parse().unwrap());
    }
    reply
}

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

pub fn media_info(url: &str, content: &[u8]) -> MediaUrlResponse {
    serde_json::from_str(&retrieve_json(url, content)).unwrap()
}

pub const DL_URL: &str =
    "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1037543291543636&ext=1749416383&hash=SIGNATURE-SECRET";

/// Fast retries: zero-ish delays so retry tests are quick even on a real clock.
pub fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(attempts)
        .with_delays(Duration::from_millis(1), Duration::from_millis(2))
}

pub fn client(t: &Scripted) -> MediaClient<Scripted> {
    client_with(t, fast_retry(3), Timeouts::default())
}

pub fn client_with(t: &Scripted, retry: RetryPolicy, timeouts: Timeouts) -> MediaClient<Scripted> {
    MediaClient::builder(t.clone())
        .token(TOKEN)
        .phone_number_id(PHONE)
        .retry_policy(retry)
        .timeouts(timeouts)
        .fixed_boundary("wa-media-TESTBOUNDARY")
        .build()
        .unwrap()
}

pub fn media_id() -> wa_media_types::MediaId {
    MEDIA.parse().unwrap()
}

/// Asserts the error's Display and Debug never contain the token or the URL signature.
pub fn assert_no_secret(e: &wa_media_core::Error) {
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
