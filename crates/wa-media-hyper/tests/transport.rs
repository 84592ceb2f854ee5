//! HyperTransport against tiny local hyper servers: streaming, pooling, overrides, TLS with a
//! custom CA, HTTP/2 by ALPN, cancellation, and the mapping of failures to error kinds.

mod support;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use support::{body_bytes, get, serve, text, Resp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wa_media_core::{RequestBody, Transport, TransportError, TransportErrorKind};
use wa_media_hyper::HyperTransport;
use wa_media_testkit::net::within;
use wa_media_testkit::tls::{acceptor, pki, LocalPki};

/// How long one step may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(20);

fn header(req: &support::Req, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or("").to_owned())
}

/// The transport sends the request as given: the `User-Agent` is core's to set (every request
/// of a `MediaClient` carries one: tests/emulator.rs), never added or replaced here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_agent_is_sent_as_given() {
    let server = serve(None, |req| async move {
        text(
            200,
            header(&req, "user-agent").unwrap_or_else(|| "(none)".to_owned()),
        )
    })
    .await;
    let t = HyperTransport::new().unwrap();
    let resp = within("get", LIMIT, t.send(get(&server.url("/a"))))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(body_bytes(resp.into_body()).await.unwrap(), "(none)");
    let req = http::Request::get(server.url("/b"))
        .header("user-agent", "mine/1")
        .body(RequestBody::empty())
        .unwrap();
    let resp = t.send(req).await.unwrap();
    assert_eq!(body_bytes(resp.into_body()).await.unwrap(), "mine/1");
}

/// Clones share one pool: sequential requests alternating between two clones end up on one
/// connection. (When exactly a finished HTTP/1 connection is back in the pool is up to hyper's
/// tasks, so the test looks for the first reuse instead of counting connections.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_share_one_connection_pool() {
    let server = serve(None, |_req| async move { text(200, "ok") }).await;
    let a = HyperTransport::new().unwrap();
    let b = a.clone();
    let shared_connection = within("a shared connection", LIMIT, async {
        for i in 0..200 {
            let (t, tag) = if i % 2 == 0 { (&a, "a") } else { (&b, "b") };
            let req = http::Request::get(server.url("/p"))
                .header("x-tag", tag)
                .body(RequestBody::empty())
                .unwrap();
            let resp = t.send(req).await.unwrap();
            assert_eq!(body_bytes(resp.into_body()).await.unwrap(), "ok");
            let seen = server.seen();
            let used_by = |c: usize, tag: &str| {
                seen.iter()
                    .any(|s| s.connection == c && s.tag.as_deref() == Some(tag))
            };
            if let Some(c) = (0..server.connections()).find(|&c| used_by(c, "a") && used_by(c, "b"))
            {
                return Some((c, i + 1));
            }
        }
        None
    })
    .await;
    // One connection carried requests of both clones: they share one pool. (Counting
    // connections against requests raced under load: hyper may finish a connect it started
    // while a pooled connection came back, so the count proves nothing more.)
    let (c, requests) = shared_connection.expect("no connection was ever reused across clones");
    assert!(c < server.connections() && requests >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_2xx_and_redirects_are_plain_responses() {
    let server = serve(None, |req| async move {
        if req.uri().path() == "/moved" {
            http::Response::builder()
                .status(302)
                .header("location", "/elsewhere")
                .body(support::full("moved"))
                .unwrap()
        } else {
            text(503, "busy")
        }
    })
    .await;
    let t = HyperTransport::new().unwrap();
    let resp = t.send(get(&server.url("/moved"))).await.unwrap();
    assert_eq!(resp.status(), 302, "redirects are returned, not followed");
    assert_eq!(resp.headers()["location"], "/elsewhere");
    let resp = t.send(get(&server.url("/x"))).await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(body_bytes(resp.into_body()).await.unwrap(), "busy");
}

/// The upload body is a stream the test feeds one chunk at a time, and the next chunk is only
/// produced after the server has reported receiving the previous one. A transport that
/// buffered the body before sending would deadlock here (and fail by timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_stream_as_produced_with_content_length() {
    const CHUNK: usize = 256 * 1024;
    const CHUNKS: usize = 8;
    let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let progress_tx = Arc::new(progress_tx);
    let server = serve(None, move |req| {
        let progress = progress_tx.clone();
        async move {
            let cl = header(&req, "content-length");
            let te = header(&req, "transfer-encoding");
            let mut body = req.into_body();
            let mut n = 0usize;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                if let Some(d) = frame.data_ref() {
                    n += d.len();
                    let _ = progress.send(n);
                }
            }
            text(200, format!("{n} {cl:?} {te:?}"))
        }
    })
    .await;

    let (chunk_tx, chunk_rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(1);
    let stream = futures_util::stream::unfold(chunk_rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    });
    let total = (CHUNK * CHUNKS) as u64;
    let req = http::Request::post(server.url("/upload"))
        .body(RequestBody::from_stream(stream, Some(total)))
        .unwrap();
    let t = HyperTransport::new().unwrap();
    let sending = tokio::spawn(async move { t.send(req).await });

    let mut received = 0;
    for i in 0..CHUNKS {
        chunk_tx
            .send(Ok(Bytes::from(vec![i as u8; CHUNK])))
            .await
            .unwrap();
        let want = (i + 1) * CHUNK;
        within("server receiving the chunk just produced", LIMIT, async {
            while received < want {
                received = progress_rx.recv().await.expect("server alive");
            }
        })
        .await;
    }
    drop(chunk_tx);
    let resp = within("response", LIMIT, sending).await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    let body = body_bytes(resp.into_body()).await.unwrap();
    assert_eq!(
        body,
        format!("{total} Some(\"{total}\") None"),
        "all bytes, sent with Content-Length (not chunked)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_override_changes_only_the_address() {
    let server = serve(None, |req| async move {
        text(200, header(&req, "host").unwrap_or_default())
    })
    .await;
    let t = HyperTransport::builder()
        // Any port of this host…
        .resolve("media.example.test", server.addr)
        // …and one port only of another (the URL's port differs from the server's: the
        // override must replace it, which hyper-util's resolver hook alone cannot do).
        .resolve("OTHER.example.test:8080", server.addr)
        .build()
        .unwrap();
    let resp = t.send(get("http://media.example.test/x")).await.unwrap();
    assert_eq!(
        body_bytes(resp.into_body()).await.unwrap(),
        "media.example.test"
    );
    let resp = t
        .send(get("http://media.example.test:1234/x"))
        .await
        .unwrap();
    assert_eq!(
        body_bytes(resp.into_body()).await.unwrap(),
        "media.example.test:1234"
    );
    let resp = t
        .send(get("http://other.example.test:8080/x"))
        .await
        .unwrap();
    assert_eq!(
        body_bytes(resp.into_body()).await.unwrap(),
        "other.example.test:8080"
    );
}

#[test]
fn an_invalid_override_fails_the_build() {
    let err = HyperTransport::builder()
        .resolve("host:notaport", "127.0.0.1:1".parse().unwrap())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("host:notaport"), "{err}");
}

#[test]
fn a_tiny_http1_buffer_is_raised_instead_of_panicking() {
    let t = HyperTransport::builder().http1_max_buf_size(1).build();
    assert!(t.is_ok());
}

#[test]
fn no_roots_and_bad_pem_fail_the_build() {
    let err = HyperTransport::builder()
        .built_in_roots(false)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, wa_media_hyper::BuildError::NoRootCertificates),
        "{err}"
    );
    let err = HyperTransport::builder()
        .add_root_certificate_pem("-----BEGIN NOTHING-----")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            wa_media_hyper::BuildError::InvalidCertificate { index: 0, .. }
        ),
        "{err}"
    );
}

async fn tls_server(alpn: &[&[u8]]) -> (support::Server, LocalPki) {
    let pki = pki(&["graph.example.test"]);
    let server = serve(Some(acceptor(&pki, alpn)), |req: support::Req| async move {
        // HTTP/2 carries the host as :authority (in the URI), HTTP/1.1 as Host.
        let host = req
            .uri()
            .authority()
            .map(|a| a.to_string())
            .or_else(|| header(&req, "host"))
            .unwrap_or_default();
        text(200, format!("{:?} {host}", req.version()))
    })
    .await;
    (server, pki)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_only_a_custom_ca_negotiates_http2_by_alpn() {
    let (server, pki) = tls_server(&[b"h2", b"http/1.1"]).await;
    let t = HyperTransport::builder()
        .built_in_roots(false)
        .add_root_certificate_pem(&pki.ca_pem)
        .resolve("graph.example.test", server.addr)
        .build()
        .unwrap();
    for _ in 0..3 {
        let resp = within(
            "h2 get",
            LIMIT,
            t.send(get("https://graph.example.test/v1/x")),
        )
        .await
        .unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_2);
        assert_eq!(
            body_bytes(resp.into_body()).await.unwrap(),
            "HTTP/2.0 graph.example.test"
        );
    }
    assert_eq!(server.connections(), 1, "one multiplexed h2 connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_http1_when_http2_is_off() {
    let (server, pki) = tls_server(&[b"h2", b"http/1.1"]).await;
    let t = HyperTransport::builder()
        .http2(false)
        .add_root_certificate_pem(&pki.ca_pem)
        .resolve("graph.example.test:443", server.addr)
        .build()
        .unwrap();
    let resp = t.send(get("https://graph.example.test/x")).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_11);
    assert_eq!(
        body_bytes(resp.into_body()).await.unwrap(),
        "HTTP/1.1 graph.example.test"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_ca_and_wrong_name_are_connect_errors() {
    let (server, pki) = tls_server(&[b"http/1.1"]).await;
    // Built-in roots only: the test CA is unknown.
    let t = HyperTransport::builder()
        .resolve("graph.example.test", server.addr)
        .build()
        .unwrap();
    let err = t
        .send(get("https://graph.example.test/x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Connect, "{err}");
    assert!(err.kind().request_not_sent());
    assert!(cause(&err).contains("UnknownIssuer"), "{err:?}");

    // Trusted CA, but the certificate is for another name: SNI and verification use the URL's
    // host, not the overridden address.
    let t = HyperTransport::builder()
        .add_root_certificate_pem(&pki.ca_pem)
        .resolve("lookaside.example.test", server.addr)
        .build()
        .unwrap();
    let err = t
        .send(get("https://lookaside.example.test/x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Connect, "{err}");
    assert!(cause(&err).contains("not valid for name"), "{err:?}");
}

/// A server that accepts TCP but never answers the TLS handshake: the connect timeout must
/// cover the handshake too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_covers_the_tls_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            sockets.push(s);
        }
    });
    let t = HyperTransport::builder()
        .connect_timeout(Duration::from_millis(200))
        .resolve("slow.example.test", addr)
        .build()
        .unwrap();
    let err = within("timeout", LIMIT, t.send(get("https://slow.example.test/")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::ConnectTimeout, "{err}");
    assert!(cause(&err).contains("200ms"), "{err:?}");
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_connect_and_not_sent() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let t = HyperTransport::new().unwrap();
    let err = t
        .send(get(&format!("http://{addr}/v27.0/1?access_token=SECRET")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Connect, "{err}");
    let src = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<wa_media_hyper::HyperError>())
        .expect("HyperError source");
    assert_eq!(src.io_error_kind(), Some(io::ErrorKind::ConnectionRefused));
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("SECRET") && !shown.contains("/v27.0"),
        "{shown}"
    );
}

/// A raw TCP server that answers every connection with `reply` after reading the request head.
async fn raw_server(reply: &'static [u8]) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(reply).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_after_connecting_map_to_request_decode_and_interrupted() {
    let t = HyperTransport::new().unwrap();

    let (addr, task) = raw_server(b"").await;
    let err = t.send(get(&format!("http://{addr}/"))).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Request, "{err}");
    assert!(!err.kind().request_not_sent());
    task.abort();

    let (addr, task) = raw_server(b"SSH-2.0-OpenSSH\r\n\r\n").await;
    let err = t.send(get(&format!("http://{addr}/"))).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Decode, "{err}");
    task.abort();

    let (addr, task) =
        raw_server(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly ten..").await;
    let resp = t.send(get(&format!("http://{addr}/"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    let err = body_bytes(resp.into_body()).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Interrupted, "{err}");
    task.abort();
}

fn big_body(chunks: usize) -> support::Body {
    let stream = futures_util::stream::iter(0..chunks)
        .map(|_| Ok::<_, io::Error>(hyper::body::Frame::data(Bytes::from(vec![7u8; 64 * 1024]))));
    BodyExt::boxed(http_body_util::StreamBody::new(stream))
}

/// Reads one frame of a large body, drops it, then sends more requests on the same client.
/// Returns the connection that served `/big`.
async fn drop_then_reuse(t: HyperTransport, base: String, server: &support::Server) -> usize {
    let resp = t.send(get(&format!("{base}/big"))).await.unwrap();
    let mut body = resp.into_body();
    let first = within("first frame", LIMIT, body.frame())
        .await
        .unwrap()
        .unwrap();
    assert!(first.data_ref().is_some_and(|d| !d.is_empty()));
    drop(body); // cancel mid-stream: 16 MiB are still on the way

    for _ in 0..3 {
        let resp = within("reuse", LIMIT, t.send(get(&format!("{base}/small"))))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(body_bytes(resp.into_body()).await.unwrap(), "small");
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 4, "{seen:?}");
    seen[0].connection
}

fn big_or_small(req: support::Req) -> Resp {
    if req.uri().path() == "/big" {
        http::Response::new(big_body(256))
    } else {
        text(200, "small")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_http1_body_mid_stream_discards_that_connection_only() {
    let server = serve(None, |req| async move { big_or_small(req) }).await;
    let t = HyperTransport::new().unwrap();
    let base = format!("http://{}", server.addr);
    let big = drop_then_reuse(t, base, &server).await;
    // The half-read connection was closed, not pooled: it served nothing after `/big`.
    assert_eq!(server.on_connection(big).len(), 1, "{:?}", server.seen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_http2_body_mid_stream_resets_only_that_stream() {
    let pki = pki(&["graph.example.test"]);
    let server = serve(Some(acceptor(&pki, &[b"h2"])), |req| async move {
        big_or_small(req)
    })
    .await;
    let t = HyperTransport::builder()
        .add_root_certificate_pem(&pki.ca_pem)
        .resolve("graph.example.test", server.addr)
        .build()
        .unwrap();
    let big = drop_then_reuse(t, "https://graph.example.test".into(), &server).await;
    assert_eq!(
        server.on_connection(big).len(),
        4,
        "the h2 connection stays usable after a stream reset: {:?}",
        server.seen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_the_pool() {
    let server = serve(None, |_req| async move { text(200, "ok") }).await;
    let t = HyperTransport::new().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let t = t.clone();
        let url = server.url("/c");
        tasks.push(tokio::spawn(async move {
            let resp = t.send(get(&url)).await.unwrap();
            body_bytes(resp.into_body()).await.unwrap()
        }));
    }
    for task in tasks {
        assert_eq!(within("concurrent", LIMIT, task).await.unwrap(), "ok");
    }
    assert_eq!(server.seen().len(), 20);
    assert!(server.connections() <= 20);
}

/// The hyper client's timer must be tokio's (paused time advances it instantly); the default
/// futures-timer thread would not see tokio's clock and the outer timeout would win.
#[tokio::test(start_paused = true)]
async fn sleep_uses_the_tokio_timer() {
    let client = wa_media_hyper::builder().token("t").build().unwrap();
    for timer in [client.timer(), &wa_media_hyper::TokioTimer] {
        let slept = tokio::time::timeout(
            Duration::from_secs(7200),
            timer.sleep(Duration::from_secs(3600)),
        )
        .await;
        assert!(slept.is_ok());
    }
}

/// Two media clients (different tokens) built on one transport share its pool: a connection
/// opened for one serves the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_built_on_one_transport_share_its_pool() {
    use wa_media_hyper::{MediaApi, MediaId};
    let server = serve(None, |_req| async move {
        http::Response::builder()
            .header("content-type", "application/json")
            .body(support::full(r#"{"success":true}"#))
            .unwrap()
    })
    .await;
    let shared = HyperTransport::new().unwrap();
    let client = |token: &str| {
        wa_media_hyper::builder()
            .token(token)
            .graph_url(server.url(""))
            .transport(shared.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (client("token-a"), client("token-b"));
    let id: MediaId = "1037543291543636".parse().unwrap();
    let reused = within("a shared connection", LIMIT, async {
        for i in 0..200 {
            let c = if i % 2 == 0 { &a } else { &b };
            c.delete(&id).await.unwrap();
            let seen = server.seen();
            let used_by = |conn: usize, token: &str| {
                seen.iter().any(|s| {
                    s.connection == conn && s.tag.as_deref() == Some(&format!("Bearer {token}"))
                })
            };
            if (0..server.connections()).any(|c| used_by(c, "token-a") && used_by(c, "token-b")) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(reused, "no connection served both clients");
    assert!(server
        .seen()
        .iter()
        .all(|s| s.path == "/v27.0/1037543291543636"));
}

/// The message of the error behind a transport error (its `source()`): a `TransportError`
/// says which step failed, its source says why.
fn cause(err: &TransportError) -> String {
    std::error::Error::source(err)
        .map(ToString::to_string)
        .unwrap_or_default()
}
