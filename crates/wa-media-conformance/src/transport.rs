//! The [`Transport`] conformance suite: every rule that `wa_media_core::transport` states for
//! implementers, each a named check against a loopback server the suite starts itself on
//! 127.0.0.1 (plain HTTP/1.1 written byte by byte, so the server sees exactly what the transport
//! did).
//!
//! ```no_run
//! # async fn example(my_transport: impl wa_media_core::Transport) {
//! let report = wa_media_conformance::transport::run(&my_transport).await;
//! report.assert_conforms(); // panics naming every rule that failed, and why
//! # }
//! ```
//!
//! A check that fails names its [`Rule`]; [`broken`] holds wrappers that each break a rule, to
//! show the suite catches them. A transport that cannot be pointed at a loopback
//! server (the emulator's in-process transport, whose adapter lives in the workspace's test kit)
//! runs the checks that apply through its own peer, with the others reported as
//! [`Outcome::NotApplicable`] and the reason.

/// The Graph version in the paths the suite builds (the emulator's default).
const V: &str = wa_media_types::DEFAULT_API_VERSION;

use std::fmt;

pub use crate::suite::Outcome;
use crate::suite::{self, SuiteRule};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use wa_media_core::{RequestBody, Transport, TransportError, TransportErrorKind};

use crate::http1::{header, response};

/// How long a check waits for one step before it fails it (a transport that collects a body
/// waits forever for a server that holds the rest back).
pub const STEP: Duration = Duration::from_secs(10);

/// A token and a URL signature the suite sends; finding either in an error is a leak.
pub const CANARY_TOKEN: &str = "EAAGconformanceCANARYtoken0123456789";
/// The `hash=` query value of the suite's URLs.
pub const CANARY_SIGNATURE: &str = "SIGconformanceCANARYsignature987";

/// Half of a streamed body.
const HALF: usize = 64 * 1024;

/// One rule of the `Transport` documentation (wa-media-core `src/transport.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// "Send the request as given": method, target, headers and body arrive unchanged.
    SendsTheRequestAsGiven,
    /// "Never follow redirects (a 3xx is a normal response)".
    RedirectsAreReturnedNotFollowed,
    /// "A non-2xx status is a normal `Ok` response, not a `TransportError`".
    Non2xxIsOk,
    /// "Stream both bodies": `send` returns, and the first bytes of the body are readable,
    /// while the server still holds the rest back.
    ResponseBodyStreams,
    /// "Stream both bodies": the server receives the first part of the request body while the
    /// rest has not been produced yet.
    RequestBodyStreams,
    /// `Connect`: "No connection could be made (DNS, refused, TLS handshake)".
    RefusedConnectionIsConnect,
    /// `Request`: "Sending the request failed after connecting" (the server closed without an
    /// answer).
    NoAnswerIsRequest,
    /// `Decode`: "The response could not be decoded as HTTP".
    NotHttpIsDecode,
    /// `Interrupted`: "The connection broke while the response body was being received"
    /// (a body cut short by a close, and by a reset).
    BrokenBodyIsInterrupted,
    /// Dropping a response body before its end cancels the transfer: the server sees the
    /// connection closed (or reset) instead of a reader that stopped.
    DroppingTheBodyCancels,
    /// "Never put request headers (they hold the token) or full URLs into errors".
    ErrorsHoldNoSecrets,
}

impl Rule {
    /// Every rule, in the order the suite checks them.
    pub const ALL: [Rule; 11] = [
        Rule::SendsTheRequestAsGiven,
        Rule::RedirectsAreReturnedNotFollowed,
        Rule::Non2xxIsOk,
        Rule::ResponseBodyStreams,
        Rule::RequestBodyStreams,
        Rule::RefusedConnectionIsConnect,
        Rule::NoAnswerIsRequest,
        Rule::NotHttpIsDecode,
        Rule::BrokenBodyIsInterrupted,
        Rule::DroppingTheBodyCancels,
        Rule::ErrorsHoldNoSecrets,
    ];

    /// The check's name, as reported.
    pub fn name(self) -> &'static str {
        match self {
            Rule::SendsTheRequestAsGiven => "sends_the_request_as_given",
            Rule::RedirectsAreReturnedNotFollowed => "redirects_are_returned_not_followed",
            Rule::Non2xxIsOk => "non_2xx_is_ok",
            Rule::ResponseBodyStreams => "response_body_streams",
            Rule::RequestBodyStreams => "request_body_streams",
            Rule::RefusedConnectionIsConnect => "refused_connection_is_connect",
            Rule::NoAnswerIsRequest => "no_answer_is_request",
            Rule::NotHttpIsDecode => "not_http_is_decode",
            Rule::BrokenBodyIsInterrupted => "broken_body_is_interrupted",
            Rule::DroppingTheBodyCancels => "dropping_the_body_cancels",
            Rule::ErrorsHoldNoSecrets => "errors_hold_no_secrets",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl SuiteRule for Rule {
    const SUBJECT: &'static str = "the transport";
    const SOURCE: &'static str = "the Transport docs";
}

/// Every rule's outcome.
pub type Report = suite::Report<Rule>;

/// Runs every check against `transport`; each starts its own loopback server.
pub async fn run<T: Transport + ?Sized>(transport: &T) -> Report {
    let mut report = Report::default();
    for rule in Rule::ALL {
        let outcome = check(transport, rule).await;
        report.outcomes.push((rule, outcome));
    }
    report
}

/// Runs the check of one rule.
pub async fn check<T: Transport + ?Sized>(transport: &T, rule: Rule) -> Outcome {
    let result = match rule {
        Rule::SendsTheRequestAsGiven => sends_the_request_as_given(transport).await,
        Rule::RedirectsAreReturnedNotFollowed => redirects_are_returned(transport).await,
        Rule::Non2xxIsOk => non_2xx_is_ok(transport).await,
        Rule::ResponseBodyStreams => response_body_streams(transport).await,
        Rule::RequestBodyStreams => request_body_streams(transport).await,
        Rule::RefusedConnectionIsConnect => {
            expect_kind(transport, Failure::Refused, TransportErrorKind::Connect).await
        }
        Rule::NoAnswerIsRequest => {
            expect_kind(transport, Failure::NoAnswer, TransportErrorKind::Request).await
        }
        Rule::NotHttpIsDecode => {
            expect_kind(transport, Failure::NotHttp, TransportErrorKind::Decode).await
        }
        Rule::BrokenBodyIsInterrupted => broken_body_is_interrupted(transport).await,
        Rule::DroppingTheBodyCancels => dropping_the_body_cancels(transport).await,
        Rule::ErrorsHoldNoSecrets => errors_hold_no_secrets(transport).await,
    };
    result.into()
}

use crate::suite::{ensure, Check};

/// `fut`, or a failure saying `what` did not happen within [`STEP`]. Public for the suite's
/// adapters (the emulator's in-process transport); not part of the suite's API.
#[doc(hidden)]
pub async fn step<T>(what: &str, fut: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(STEP, fut)
        .await
        .map_err(|_| format!("{what} did not happen within {STEP:?}"))
}

// ---- the loopback server ----

/// What a connection handler gets: the stream, the request head and the bytes read after it.
type Handler = Arc<
    dyn Fn(TcpStream, String, Vec<u8>) -> futures_util::future::BoxFuture<'static, ()>
        + Send
        + Sync,
>;

/// A server on 127.0.0.1:0 handing each connection's first request to a handler; it records
/// every request head it read.
struct Loopback {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Loopback {
    async fn start<F, Fut>(handler: F) -> Loopback
    where
        F: Fn(TcpStream, String, Vec<u8>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |s, h, r| Box::pin(handler(s, h, r)));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let heads = Arc::new(Mutex::new(Vec::new()));
        let log = heads.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (handler, log) = (handler.clone(), log.clone());
                tokio::spawn(async move {
                    let Some((head, rest)) = crate::net::read_request_head(&mut stream).await
                    else {
                        return;
                    };
                    log.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(head.clone());
                    handler(stream, head, rest).await;
                });
            }
        });
        Loopback { addr, heads, task }
    }

    /// A server that answers every request with `bytes`, then closes.
    async fn answering(bytes: Vec<u8>) -> Loopback {
        let bytes = Arc::new(bytes);
        Loopback::start(move |mut s, _, _| {
            let bytes = bytes.clone();
            async move {
                let _ = s.write_all(&bytes).await;
                let _ = s.shutdown().await;
                let _ = tokio::time::timeout(STEP, crate::net::drain(&mut s)).await;
            }
        })
        .await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn targets(&self) -> Vec<String> {
        self.heads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|h| crate::http1::target(h).to_owned())
            .collect()
    }
}

/// Reads a request body announced by `head` (`Content-Length` or chunked), `rest` being what
/// was already read past the head.
async fn read_body(s: &mut TcpStream, head: &str, mut rest: Vec<u8>) -> io::Result<Vec<u8>> {
    let chunked = header(head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut buf = [0u8; 16 * 1024];
    if !chunked {
        let len: usize = header(head, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while rest.len() < len {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            rest.extend_from_slice(&buf[..n]);
        }
        rest.truncate(len);
        return Ok(rest);
    }
    // Chunked: decode as it arrives; ends at the zero-size chunk and its blank line.
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        // Need a full size line.
        let line_end = loop {
            if let Some(i) = rest[pos..].windows(2).position(|w| w == b"\r\n") {
                break pos + i;
            }
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            rest.extend_from_slice(&buf[..n]);
        };
        let line = String::from_utf8_lossy(&rest[pos..line_end]).into_owned();
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "chunk size"))?;
        let data_start = line_end + 2;
        // Data plus its CRLF (for the last chunk: the final CRLF, trailers not expected).
        while rest.len() < data_start + size + 2 {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            rest.extend_from_slice(&buf[..n]);
        }
        out.extend_from_slice(&rest[data_start..data_start + size]);
        pos = data_start + size + 2;
        if size == 0 {
            return Ok(out);
        }
    }
}

fn get(url: &str) -> http::Request<RequestBody> {
    http::Request::get(url)
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {CANARY_TOKEN}"),
        )
        .body(RequestBody::empty())
        .expect("a valid request")
}

/// The whole body. Public for the suite's adapters; not part of the suite's API.
#[doc(hidden)]
pub async fn read_all(body: wa_media_core::ResponseBody) -> Result<Bytes, TransportError> {
    Ok(body.collect().await?.to_bytes())
}

// ---- the checks ----

async fn sends_the_request_as_given<T: Transport + ?Sized>(t: &T) -> Check {
    let (tx, rx) = oneshot::channel::<(String, Vec<u8>)>();
    let tx = Arc::new(Mutex::new(Some(tx)));
    let server = Loopback::start(move |mut s, head, rest| {
        let tx = tx.clone();
        async move {
            let body = read_body(&mut s, &head, rest).await.unwrap_or_default();
            if let Some(tx) = tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = tx.send((head, body));
            }
            let _ = s.write_all(&response(200, &[], b"ok")).await;
            let _ = s.shutdown().await;
        }
    })
    .await;
    let target = format!("/{V}/media?x=1&hash={CANARY_SIGNATURE}");
    let body = b"the request body, as given".to_vec();
    let req = http::Request::post(server.url(&target))
        .header(
            http::header::AUTHORIZATION,
            format!("Bearer {CANARY_TOKEN}"),
        )
        .header(http::header::CONTENT_TYPE, "text/plain")
        .header("x-conformance", "kept")
        .body(RequestBody::from_bytes(body.clone()))
        .expect("a valid request");
    let resp = step("the response", t.send(req))
        .await?
        .map_err(|e| format!("send failed: {e}"))?;
    let got = step("the response body", read_all(resp.into_body()))
        .await?
        .map_err(|e| format!("reading the body failed: {e}"))?;
    ensure(got == b"ok"[..], || {
        format!("the body read was {got:?}, not \"ok\"")
    })?;
    let (head, received) = step("the server receiving the request", rx)
        .await?
        .map_err(|_| "the server received no request".to_owned())?;
    ensure(crate::http1::method(&head) == "POST", || {
        format!("the method arrived as {:?}", crate::http1::method(&head))
    })?;
    ensure(crate::http1::target(&head) == target, || {
        format!("the target arrived as {:?}", crate::http1::target(&head))
    })?;
    for (name, value) in [
        ("authorization", format!("Bearer {CANARY_TOKEN}")),
        ("content-type", "text/plain".to_owned()),
        ("x-conformance", "kept".to_owned()),
    ] {
        let got = header(&head, name);
        ensure(got.as_deref() == Some(value.as_str()), || {
            format!("header {name} arrived as {got:?}")
        })?;
    }
    ensure(received == body, || {
        format!(
            "the body arrived as {:?}",
            String::from_utf8_lossy(&received)
        )
    })
}

async fn redirects_are_returned<T: Transport + ?Sized>(t: &T) -> Check {
    for status in [301u16, 302, 303, 307, 308] {
        let server = Loopback::start(move |mut s, head, _| async move {
            let to = format!(
                "http://{}/elsewhere",
                header(&head, "host").unwrap_or_default()
            );
            let reply = if crate::http1::target(&head) == "/elsewhere" {
                response(200, &[], b"followed")
            } else {
                response(status, &[("Location", &to)], b"moved")
            };
            let _ = s.write_all(&reply).await;
            let _ = s.shutdown().await;
        })
        .await;
        let resp = step("the response", t.send(get(&server.url("/from"))))
            .await?
            .map_err(|e| format!("{status}: send failed: {e}"))?;
        let got = resp.status().as_u16();
        let location = resp.headers().get(http::header::LOCATION).cloned();
        let body = step("the response body", read_all(resp.into_body()))
            .await?
            .map_err(|e| format!("{status}: reading the body failed: {e}"))?;
        let targets = server.targets();
        ensure(targets == ["/from"], || {
            format!("a {status} made the transport request {targets:?}")
        })?;
        ensure(
            got == status && location.is_some() && body == b"moved"[..],
            || {
                format!(
                    "a {status} came back as {got} (Location {location:?}, body {:?})",
                    String::from_utf8_lossy(&body)
                )
            },
        )?;
    }
    Ok(())
}

async fn non_2xx_is_ok<T: Transport + ?Sized>(t: &T) -> Check {
    for status in [400u16, 401, 404, 410, 429, 500, 503] {
        let text = format!("status {status}");
        let server = Loopback::answering(response(status, &[], text.as_bytes())).await;
        let resp = step("the response", t.send(get(&server.url("/x"))))
            .await?
            .map_err(|e| {
                format!(
                    "a {status} answer became an error: {}",
                    crate::errors::chain(&e)
                )
            })?;
        let got = resp.status().as_u16();
        let body = step("the response body", read_all(resp.into_body()))
            .await?
            .map_err(|e| format!("reading the body of a {status} failed: {e}"))?;
        ensure(got == status && body == text.as_bytes(), || {
            format!("a {status} came back as {got} with {body:?}")
        })?;
    }
    Ok(())
}

async fn response_body_streams<T: Transport + ?Sized>(t: &T) -> Check {
    let (ack_tx, ack_rx) = oneshot::channel::<()>();
    let ack = Arc::new(Mutex::new(Some(ack_rx)));
    let server = Loopback::start(move |mut s, _, _| {
        let ack = ack.clone();
        async move {
            let Some(ack) = ack.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                return;
            };
            let head = crate::http1::head(200, &[], Some(2 * HALF as u64));
            if s.write_all(&head).await.is_err() || s.write_all(&[b'a'; HALF]).await.is_err() {
                return;
            }
            let _ = s.flush().await;
            // The rest only once the client has read the first half. The server never gives
            // up by itself (no timer of its own to race the client's): it waits for the ack,
            // or for the client to drop the connection (a collecting transport, cut off by
            // the client side's STEP, which then reports "collected").
            let acked = tokio::select! {
                r = ack => r.is_ok(),
                _ = crate::net::drain(&mut s) => false,
            };
            if acked {
                let _ = s.write_all(&[b'b'; HALF]).await;
            }
            let _ = s.shutdown().await;
            let _ = tokio::time::timeout(STEP, crate::net::drain(&mut s)).await;
        }
    })
    .await;
    let resp = tokio::time::timeout(STEP, t.send(get(&server.url("/stream"))))
        .await
        .map_err(|_| {
            "send did not return while the server held back the second half of the body: \
             the response body was collected"
                .to_owned()
        })?
        .map_err(|e| format!("send failed: {e}"))?;
    let mut body = resp.into_body();
    let mut got = Vec::new();
    while got.len() < HALF {
        let frame = tokio::time::timeout(STEP, body.frame())
            .await
            .map_err(|_| {
                format!(
                    "only {} of the {HALF} bytes the server sent arrived while it held back \
                     the rest: the body is not streamed",
                    got.len()
                )
            })?;
        match frame {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    got.extend_from_slice(d);
                }
            }
            Some(Err(e)) => return Err(format!("the body failed: {e}")),
            None => return Err(format!("the body ended after {} bytes", got.len())),
        }
    }
    let _ = ack_tx.send(());
    let rest = step("the rest of the body", read_all(body))
        .await?
        .map_err(|e| format!("the rest of the body failed: {e}"))?;
    got.extend_from_slice(&rest);
    let want: Vec<u8> = [[b'a'; HALF], [b'b'; HALF]].concat();
    ensure(got == want, || {
        format!(
            "the body arrived as {} bytes, not the {} sent",
            got.len(),
            want.len()
        )
    })
}

async fn request_body_streams<T: Transport + ?Sized>(t: &T) -> Check {
    let (first_tx, first_rx) = oneshot::channel::<()>();
    let first_tx = Arc::new(Mutex::new(Some(first_tx)));
    let server = Loopback::start(move |mut s, head, mut rest| {
        let first_tx = first_tx.clone();
        async move {
            // Wait for part of the body (raw bytes: Content-Length or chunked framing alike).
            let mut buf = [0u8; 16 * 1024];
            while rest.len() < HALF / 2 {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => rest.extend_from_slice(&buf[..n]),
                }
            }
            if let Some(tx) = first_tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = tx.send(());
            }
            let Ok(body) = read_body(&mut s, &head, rest).await else {
                return;
            };
            let text = body.len().to_string();
            let _ = s.write_all(&response(200, &[], text.as_bytes())).await;
            let _ = s.shutdown().await;
        }
    })
    .await;
    let first_rx = Arc::new(tokio::sync::Mutex::new(Some(first_rx)));
    let stream = futures_util::stream::unfold(0u8, move |n| {
        let first_rx = first_rx.clone();
        async move {
            match n {
                0 => Some((Ok::<_, io::Error>(Bytes::from(vec![b'a'; HALF])), 1)),
                1 => {
                    // The second half only once the server has the first.
                    let rx = first_rx.lock().await.take()?;
                    rx.await.ok()?;
                    Some((Ok(Bytes::from(vec![b'b'; HALF])), 2))
                }
                _ => None,
            }
        }
    });
    let req = http::Request::post(server.url("/upload"))
        .body(RequestBody::from_stream(stream, Some(2 * HALF as u64)))
        .expect("a valid request");
    let resp = tokio::time::timeout(STEP, t.send(req))
        .await
        .map_err(|_| {
            "the server never received the first half of the request body while the second \
             was held back: the request body was collected before sending"
                .to_owned()
        })?
        .map_err(|e| format!("send failed: {e}"))?;
    let body = step("the response body", read_all(resp.into_body()))
        .await?
        .map_err(|e| format!("reading the body failed: {e}"))?;
    let want = (2 * HALF).to_string();
    ensure(body == want.as_bytes(), || {
        format!(
            "the server received {} body bytes, not {want}",
            String::from_utf8_lossy(&body)
        )
    })
}

/// A way to make a request fail.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// Nothing listens on the port.
    Refused,
    /// The server reads the request and closes without a byte.
    NoAnswer,
    /// The server answers something that is not HTTP.
    NotHttp,
    /// The body is cut short by a clean close.
    BodyClosed,
    /// The body is cut short by a reset.
    BodyReset,
}

impl Failure {
    const ALL: [Failure; 5] = [
        Failure::Refused,
        Failure::NoAnswer,
        Failure::NotHttp,
        Failure::BodyClosed,
        Failure::BodyReset,
    ];
}

/// Makes a request fail in the given way (with the canary token and signature in it) and
/// returns the error: from `send`, or from the body for the body failures.
async fn provoke<T: Transport + ?Sized>(t: &T, how: Failure) -> Result<TransportError, String> {
    let path = format!("/{V}/secret-path?hash={CANARY_SIGNATURE}");
    let cut = crate::http1::head(200, &[], Some(1000))
        .into_iter()
        .chain(b"only ten..".iter().copied())
        .collect::<Vec<u8>>();
    let (url, _server) = match how {
        Failure::Refused => {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = l.local_addr().expect("local address");
            drop(l);
            (format!("http://{addr}{path}"), None)
        }
        Failure::NoAnswer => {
            let s = Loopback::start(|mut s, _, _| async move {
                let _ = s.shutdown().await;
            })
            .await;
            (s.url(&path), Some(s))
        }
        Failure::NotHttp => {
            let s = Loopback::answering(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec()).await;
            (s.url(&path), Some(s))
        }
        Failure::BodyClosed => {
            let s = Loopback::answering(cut).await;
            (s.url(&path), Some(s))
        }
        Failure::BodyReset => {
            let cut = Arc::new(cut);
            let s = Loopback::start(move |mut s, _, _| {
                let cut = cut.clone();
                async move {
                    let _ = s.write_all(&cut).await;
                    let _ = s.flush().await;
                    // Let the head and the first bytes reach the client before the reset.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let _ = s.set_zero_linger();
                    drop(s);
                }
            })
            .await;
            (s.url(&path), Some(s))
        }
    };
    let sent = step("the failure", t.send(get(&url))).await?;
    match (how, sent) {
        (Failure::BodyClosed | Failure::BodyReset, Ok(resp)) => {
            match step("the broken body", read_all(resp.into_body())).await? {
                Ok(b) => Err(format!(
                    "{how:?}: the body read as {} bytes without an error",
                    b.len()
                )),
                Err(e) => Ok(e),
            }
        }
        (_, Ok(resp)) => Err(format!(
            "{how:?}: send returned a {} response",
            resp.status()
        )),
        (_, Err(e)) => Ok(e),
    }
}

async fn expect_kind<T: Transport + ?Sized>(
    t: &T,
    how: Failure,
    kind: TransportErrorKind,
) -> Check {
    let e = provoke(t, how).await?;
    ensure(e.kind() == kind, || {
        format!(
            "{how:?} gave an error of kind {:?}, not {kind:?}: {e}",
            e.kind()
        )
    })?;
    ensure(
        kind.request_not_sent() == e.kind().request_not_sent(),
        || format!("{how:?}: request_not_sent() is wrong for {:?}", e.kind()),
    )
}

async fn broken_body_is_interrupted<T: Transport + ?Sized>(t: &T) -> Check {
    for how in [Failure::BodyClosed, Failure::BodyReset] {
        let e = provoke(t, how).await?;
        ensure(e.kind() == TransportErrorKind::Interrupted, || {
            format!(
                "{how:?} gave an error of kind {:?}, not Interrupted: {e}",
                e.kind()
            )
        })?;
    }
    Ok(())
}

async fn errors_hold_no_secrets<T: Transport + ?Sized>(t: &T) -> Check {
    for how in Failure::ALL {
        let e = provoke(t, how).await?;
        let text = crate::errors::error_text(&e);
        for secret in [CANARY_TOKEN, CANARY_SIGNATURE] {
            ensure(!text.contains(secret), || {
                format!("the error of {how:?} shows a secret from the request: {text}")
            })?;
        }
    }
    Ok(())
}

async fn dropping_the_body_cancels<T: Transport + ?Sized>(t: &T) -> Check {
    let (verdict_tx, verdict_rx) = oneshot::channel::<Result<(), String>>();
    let verdict_tx = Arc::new(Mutex::new(Some(verdict_tx)));
    let server = Loopback::start(move |mut s, _, _| {
        let verdict_tx = verdict_tx.clone();
        async move {
            let Some(tx) = verdict_tx.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                return;
            };
            const TOTAL: u64 = 1 << 30;
            let chunk = vec![b'x'; 16 * 1024];
            let head = crate::http1::head(200, &[], Some(TOTAL));
            let write_all = async {
                s.write_all(&head).await?;
                let mut sent = 0u64;
                while sent < TOTAL {
                    s.write_all(&chunk).await?;
                    sent += chunk.len() as u64;
                }
                Ok::<u64, io::Error>(sent)
            };
            let verdict = match tokio::time::timeout(STEP, write_all).await {
                Ok(Err(_)) => Ok(()),
                Ok(Ok(sent)) => Err(format!(
                    "the whole {sent}-byte body was taken after the client dropped it"
                )),
                Err(_) => Err(format!(
                    "the connection was still open {STEP:?} after the body was dropped"
                )),
            };
            let _ = tx.send(verdict);
        }
    })
    .await;
    let resp = step("the response", t.send(get(&server.url("/endless"))))
        .await?
        .map_err(|e| format!("send failed: {e}"))?;
    let mut body = resp.into_body();
    match step("the first frame", body.frame()).await? {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(format!("the first frame failed: {e}")),
        None => return Err("the body was empty".to_owned()),
    }
    drop(body);
    tokio::time::timeout(STEP + Duration::from_secs(5), verdict_rx)
        .await
        .map_err(|_| "the server gave no verdict".to_owned())?
        .map_err(|_| "the server gave no verdict".to_owned())?
}

pub mod broken;
