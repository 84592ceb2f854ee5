//! The production client (core's MediaClient on HyperTransport) against the emulator over real
//! sockets: every fixture end to end, the production TLS path with only the emulator's CA and
//! address overrides, the fault matrix, and 50 concurrent fetches.

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use wa_media_core::{RequestBody, ResponseBody, Transport, TransportError, TransportErrorKind};
use wa_media_emulator::{Emulator, Endpoint, Fault, ManualClock, Origin};
use wa_media_hyper::{
    Error, HyperTransport, MediaApi, MediaApiExt, MediaClient, MediaId, MediaKind, MediaType,
    RetryPolicy, Timeouts, Upload,
};
use wa_media_testkit::client::emulator_builder;
use wa_media_testkit::net::{collect, within};

const PHONE: &str = "106540352242922";
/// How long one step may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(60);

fn fixtures() -> PathBuf {
    wa_media_testkit::paths::fixtures("media")
}

struct Sample {
    path: PathBuf,
    mime: MediaType,
    kind: MediaKind,
    size: u64,
    sha256: String,
    accept: bool,
}

fn samples() -> Vec<Sample> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(files.len() >= 10, "the manifest lists the media samples");
    files
        .iter()
        .map(|f| Sample {
            path: fixtures().join(f["file"].as_str().unwrap()),
            mime: f["mime"].as_str().unwrap().parse().unwrap(),
            kind: f["kind"].as_str().unwrap().parse().unwrap(),
            size: f["size"].as_u64().unwrap(),
            sha256: f["sha256"].as_str().unwrap().to_owned(),
            accept: f["accept"].as_bool().unwrap(),
        })
        .collect()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every accepted sample: upload from its file, retrieve, download, fetch_to_file, delete —
/// bytes and SHA-256 compared with the manifest at each step. Every refused sample fails
/// locally and never reaches the emulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_round_trips_with_bytes_and_sha256_compared() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = emulator_builder(&emu).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut accepted = 0;
    for s in samples() {
        let name = s.path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&s.path).unwrap();
        assert_eq!(hex_sha256(&bytes), s.sha256, "{name}: manifest digest");
        assert_eq!(bytes.len() as u64, s.size, "{name}: manifest size");
        let upload = Upload::from_path(&s.path, s.mime.clone()).kind(s.kind);

        if !s.accept {
            emu.clear_request_log();
            let err = client.upload(upload).await.unwrap_err();
            assert!(matches!(err, Error::Validation(_)), "{name}: {err}");
            assert!(emu.request_log().is_empty(), "{name} reached the emulator");
            continue;
        }
        accepted += 1;
        let id = within("upload", LIMIT, client.upload(upload))
            .await
            .unwrap_or_else(|e| panic!("{name}: upload: {e}"));

        let info = client.retrieve(&id).await.unwrap();
        assert_eq!(info.file_size, s.size, "{name}");
        assert_eq!(info.sha256.to_string(), s.sha256, "{name}");
        assert_eq!(
            info.mime_type,
            s.mime.to_string(),
            "{name}: MIME kept as sent"
        );

        let downloaded = collect(client.download(&info).await.unwrap())
            .await
            .unwrap();
        assert_eq!(downloaded, bytes, "{name}: download");

        let fetched = collect(client.fetch(&id).await.unwrap()).await.unwrap();
        assert_eq!(fetched, bytes, "{name}: fetch");

        let dest = dir.path().join(&name);
        let file = client.fetch_to_file(&id, &dest).await.unwrap();
        assert_eq!(
            std::fs::read(&dest).unwrap(),
            bytes,
            "{name}: fetch_to_file"
        );
        assert_eq!(file.sha256.to_string(), s.sha256);
        assert_eq!(file.file_size, s.size);

        client.delete(&id).await.unwrap();
        let gone = client.retrieve(&id).await.unwrap_err();
        assert!(
            matches!(gone, Error::Api(_)),
            "{name}: after delete: {gone}"
        );
    }
    assert!(accepted >= 10, "{accepted}");
    // Every request to the download host carried the token and a User-Agent.
    let log = emu.request_log();
    let downloads: Vec<_> = log
        .iter()
        .filter(|r| r.origin == Origin::Lookaside)
        .collect();
    assert!(!downloads.is_empty());
    assert!(downloads
        .iter()
        .all(|r| r.authorized && r.has_header("user-agent")));
}

/// The production configuration, changed only in its root store and address resolution:
/// `https://graph.facebook.com` and `https://lookaside.fbsbx.com` served by the emulator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_tls_path_with_only_the_emulators_ca_over_http2() {
    production_tls_path(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_tls_path_with_only_the_emulators_ca_over_http1() {
    production_tls_path(false).await;
}

async fn production_tls_path(http2: bool) {
    let emu = Emulator::builder().tls(true).start().await.unwrap();
    assert_eq!(emu.graph_url(), "https://graph.facebook.com");
    // A third server, also mapped to real-looking names, that must never see the token.
    let third = support::serve(None, |req: support::Req| async move {
        support::text(200, format!("{:?}", req.headers().get("authorization")))
    })
    .await;

    let client = wa_media_hyper::builder()
        .token(emu.token())
        .phone_number_id(PHONE)
        .map_transport(|t| {
            t.built_in_roots(false)
                .add_root_certificate_pem(emu.ca_certificate_pem().unwrap())
                .resolve("graph.facebook.com", emu.graph_addr())
                .resolve("lookaside.fbsbx.com", emu.lookaside_addr())
                .resolve("evil.example.test", third.addr)
                .http2(http2)
        })
        .build()
        .unwrap();

    // The HTTP version ALPN settled on, seen through the same transport configuration.
    let probe = client
        .transport()
        .send(
            http::Request::get("https://lookaside.fbsbx.com/")
                .body(RequestBody::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let want = if http2 {
        http::Version::HTTP_2
    } else {
        http::Version::HTTP_11
    };
    assert_eq!(probe.version(), want);
    drop(probe);
    emu.clear_request_log();

    let bytes = std::fs::read(fixtures().join("image.png")).unwrap();
    let id = client
        .upload(Upload::from_bytes(
            bytes.clone(),
            "image/png".parse().unwrap(),
        ))
        .await
        .unwrap();
    let info = client.retrieve(&id).await.unwrap();
    assert!(
        info.url
            .expose()
            .starts_with("https://lookaside.fbsbx.com/"),
        "download URL on the real download host name"
    );
    assert_eq!(
        collect(client.download(&info).await.unwrap())
            .await
            .unwrap(),
        bytes
    );
    let dir = tempfile::tempdir().unwrap();
    client
        .fetch_to_file(&id, dir.path().join("x.png"))
        .await
        .unwrap();
    client.delete(&id).await.unwrap();

    // The token reached both hosts, on every request.
    let log = emu.request_log();
    for origin in [Origin::Graph, Origin::Lookaside] {
        let reqs: Vec<_> = log.iter().filter(|r| r.origin == origin).collect();
        assert!(!reqs.is_empty(), "{origin:?} saw no request");
        assert!(reqs.iter().all(|r| r.authorized), "{origin:?}: {reqs:?}");
    }

    // URLs on hosts outside the allowlist are refused before anything is sent — whether the
    // host is reachable over https (mapped) or plain http on loopback.
    let query = info
        .url
        .expose()
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("");
    for url in [
        format!("https://evil.example.test/whatsapp_business/attachments/?{query}"),
        format!(
            "http://{}/whatsapp_business/attachments/?{query}",
            third.addr
        ),
        format!("https://lookaside.fbsbx.com.evil.example.test/?{query}"),
    ] {
        let mut forged = info.clone();
        forged.url = url.clone().into();
        let err = client.download(&forged).await.unwrap_err();
        assert!(matches!(err, Error::UntrustedHost { .. }), "{url}: {err}");
        assert!(!err.to_string().contains(emu.token()));
    }
    assert!(third.seen().is_empty(), "the untrusted host was contacted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_and_succeed() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = emulator_builder(&emu).build().unwrap();
    let bytes = std::fs::read(fixtures().join("document.pdf")).unwrap();
    let pdf: MediaType = "application/pdf".parse().unwrap();

    emu.faults()
        .push(Endpoint::Upload, Fault::ServerError { status: 503 }, 2);
    let id = within(
        "upload",
        LIMIT,
        client.upload(Upload::from_bytes(bytes.clone(), pdf.clone())),
    )
    .await
    .unwrap();

    emu.faults().push(
        Endpoint::Retrieve,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    emu.faults()
        .push(Endpoint::Download, Fault::ServerError { status: 500 }, 1);
    let started = std::time::Instant::now();
    let got = collect(within("fetch", LIMIT, client.fetch(&id)).await.unwrap())
        .await
        .unwrap();
    assert_eq!(got, bytes);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was honoured"
    );

    let statuses = |ep: Endpoint| -> Vec<u16> {
        emu.request_log()
            .iter()
            .filter(|r| r.endpoint == Some(ep))
            .map(|r| r.status)
            .collect()
    };
    assert_eq!(statuses(Endpoint::Upload), vec![503, 503, 200]);
    assert_eq!(statuses(Endpoint::Retrieve), vec![429, 200]);
    assert_eq!(statuses(Endpoint::Download), vec![500, 200]);
    assert!(emu.faults().pending().is_empty());
}

/// A connection reset mid-body, or a body cut short, on the download: `fetch_to_file`
/// restarts from a fresh URL and succeeds; a bare `download` surfaces it as an interrupted
/// transfer (retryable), never as silently short data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_and_truncated_bodies_are_retried_or_surfaced() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = emulator_builder(&emu).build().unwrap();
    let bytes: Vec<u8> = std::fs::read(fixtures().join("sticker-static-100k.webp")).unwrap();
    let id = client
        .upload(
            Upload::from_bytes(bytes.clone(), "image/webp".parse().unwrap())
                .kind(MediaKind::Sticker),
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    for fault in [Fault::ResetMidBody, Fault::TruncatedBody] {
        let what = fault.kind();
        // One fault: the restart gets the whole file.
        emu.faults().push(Endpoint::Download, fault.clone(), 1);
        let dest = dir.path().join(format!("{what}.webp"));
        let file = within(what, LIMIT, client.fetch_to_file(&id, &dest))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(std::fs::read(&dest).unwrap(), bytes, "{what}");
        assert_eq!(file.file_size, bytes.len() as u64);

        // A bare download hit by the fault: a clear, retryable error before the end.
        emu.faults().push(Endpoint::Download, fault.clone(), 1);
        let info = client.retrieve(&id).await.unwrap();
        let result = match client.download(&info).await {
            Ok(dl) => collect(dl).await,
            Err(e) => Err(e),
        };
        let err = result.expect_err(what);
        assert!(err.is_retryable(), "{what}: {err}");
        let shown = err.to_string();
        assert!(
            !shown.contains(emu.token()) && !shown.contains("hash="),
            "{shown}"
        );
    }
    // Nothing but the two verified files in the directory: no temporary leftovers.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_byte_fails_verification_and_leaves_no_file() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = emulator_builder(&emu)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let bytes = std::fs::read(fixtures().join("audio.mp3")).unwrap();
    let id = client
        .upload(Upload::from_bytes(bytes, "audio/mpeg".parse().unwrap()))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("audio.mp3");
    emu.faults().push(Endpoint::Download, Fault::CorruptByte, 1);
    let err = client.fetch_to_file(&id, &dest).await.unwrap_err();
    assert!(matches!(err, Error::Integrity(_)), "{err}");
    assert!(!dest.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no temporary file left behind"
    );

    emu.faults().push(Endpoint::Download, Fault::CorruptByte, 1);
    let err = collect(client.fetch(&id).await.unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::Integrity(_)), "{err}");
}

/// Wraps the hyper transport and moves the emulator's clock past the URL lifetime just before
/// the first download request: that URL is then expired when it arrives.
struct ExpireFirstDownload {
    inner: HyperTransport,
    clock: Arc<ManualClock>,
    done: AtomicBool,
}

#[async_trait::async_trait]
impl Transport for ExpireFirstDownload {
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        if request.uri().path().starts_with("/whatsapp_business/")
            && !self.done.swap(true, Ordering::SeqCst)
        {
            self.clock.advance(Duration::from_secs(301));
        }
        self.inner.send(request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_url_is_refreshed_once_and_a_tampered_one_fails_clearly() {
    let clock = Arc::new(ManualClock::starting_now());
    let emu = Emulator::builder()
        .clock(clock.clone())
        .url_ttl(Duration::from_secs(300))
        .start()
        .await
        .unwrap();
    let transport = ExpireFirstDownload {
        inner: HyperTransport::new().unwrap(),
        clock,
        done: AtomicBool::new(false),
    };
    let client = MediaClient::builder(transport)
        .timer(wa_media_hyper::TokioTimer)
        .token(emu.token())
        .phone_number_id(PHONE)
        .graph_url(emu.graph_url())
        .trust_host(format!("127.0.0.1:{}", emu.lookaside_addr().port()))
        .build()
        .unwrap();
    let bytes = std::fs::read(fixtures().join("video.mp4")).unwrap();
    let id = client
        .upload(Upload::from_bytes(
            bytes.clone(),
            "video/mp4".parse().unwrap(),
        ))
        .await
        .unwrap();
    emu.clear_request_log();
    let got = collect(client.fetch(&id).await.unwrap()).await.unwrap();
    assert_eq!(got, bytes);
    let log = emu.request_log();
    let seq: Vec<_> = log
        .iter()
        .map(|r| (r.endpoint.unwrap_or(Endpoint::Delete), r.status))
        .collect();
    assert_eq!(
        seq,
        vec![
            (Endpoint::Retrieve, 200),
            (Endpoint::Download, 403),
            (Endpoint::Retrieve, 200),
            (Endpoint::Download, 200),
        ],
        "one refresh after the expired URL"
    );

    // A URL whose signature was tampered with is refused by the download host: a clear
    // error, not bytes.
    let mut info = client.retrieve(&id).await.unwrap();
    let (base, query) = info.url.expose().split_once('?').unwrap();
    let tampered: String = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some(("hash", v)) => format!("hash={}", v.chars().rev().collect::<String>()),
            _ => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    assert_ne!(
        tampered, query,
        "the URL has a hash parameter to tamper with"
    );
    info.url = format!("{base}?{tampered}").into();
    let err = client.download(&info).await.unwrap_err();
    assert!(
        matches!(err, Error::UrlExpired { .. } | Error::Api(_)),
        "{err}"
    );
    assert!(err.to_string().contains("403"), "{err}");
    assert!(
        !err.to_string().contains(&tampered),
        "no signed query in errors"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_refused_connections_are_distinct_errors() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = emulator_builder(&emu)
        .retry_policy(RetryPolicy::none())
        .timeouts(Timeouts::default().with_request(Some(Duration::from_millis(300))))
        .build()
        .unwrap();
    let id = client
        .upload(Upload::from_bytes(
            &b"hello"[..],
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap();
    emu.faults()
        .push(Endpoint::Retrieve, Fault::Delay { millis: 3_000 }, 1);
    let err = within("timeout", LIMIT, client.retrieve(&id))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = wa_media_hyper::builder()
        .token("t")
        .graph_url(format!("http://{closed}"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.retrieve(&id).await.unwrap_err();
    match &err {
        Error::Transport(t) => assert_eq!(t.kind(), TransportErrorKind::Connect, "{err}"),
        other => panic!("expected a transport error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_fetches_over_one_client_all_verify() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = emulator_builder(&emu).build().unwrap();
    let mut media = Vec::new();
    for i in 0..50u32 {
        // Different sizes and contents: 1 KiB to ~200 KiB of text.
        let line = format!("media {i}: the quick brown fox jumps over the lazy dog\n");
        let body = line.repeat(1 + (i as usize * 97) % 3500).into_bytes();
        let id = client
            .upload(Upload::from_bytes(
                body.clone(),
                "text/plain".parse().unwrap(),
            ))
            .await
            .unwrap();
        media.push((id, body));
    }
    let tasks: Vec<_> = media
        .into_iter()
        .map(|(id, body): (MediaId, Vec<u8>)| {
            let client = client.clone();
            tokio::spawn(async move {
                let got = collect(client.fetch(&id).await?).await?;
                Ok::<_, Error>(got == body)
            })
        })
        .collect();
    let mut verified = 0;
    for t in tasks {
        assert!(within("fetch", LIMIT, t).await.unwrap().unwrap());
        verified += 1;
    }
    assert_eq!(verified, 50);
    let downloads = emu
        .request_log()
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::Download) && r.status == 200)
        .count();
    assert_eq!(downloads, 50);
}

/// A response body that yields its first frame and then stalls forever (until dropped).
struct StallAfterFirstFrame {
    inner: ResponseBody,
    yielded: bool,
}

impl http_body::Body for StallAfterFirstFrame {
    type Data = bytes::Bytes;
    type Error = TransportError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, TransportError>>> {
        if self.yielded {
            return std::task::Poll::Pending;
        }
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if polled.is_ready() {
            self.yielded = true;
        }
        polled
    }
}

/// HyperTransport whose first download body stalls after one frame (armed by clearing
/// `done`, which the test keeps a handle to).
struct StallFirstDownload {
    inner: HyperTransport,
    done: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Transport for StallFirstDownload {
    async fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let stall = request.uri().path().starts_with("/whatsapp_business/")
            && !self.done.swap(true, Ordering::SeqCst);
        let response = self.inner.send(request).await?;
        Ok(if stall {
            response.map(|inner| {
                ResponseBody::new(StallAfterFirstFrame {
                    inner,
                    yielded: false,
                })
            })
        } else {
            response
        })
    }
}

/// Dropping a download stream mid-body, or a `fetch_to_file` future mid-transfer, leaves the
/// client's pool usable and no file (temporary or final) behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_mid_body_keeps_the_pool_usable_and_leaves_no_file() {
    let emu = Emulator::builder().start().await.unwrap();
    let done = Arc::new(AtomicBool::new(true)); // not yet: part 2 arms it
    let client = MediaClient::builder(StallFirstDownload {
        inner: HyperTransport::new().unwrap(),
        done: done.clone(),
    })
    .timer(wa_media_hyper::TokioTimer)
    .token(emu.token())
    .phone_number_id(PHONE)
    .graph_url(emu.graph_url())
    .trust_host(format!("127.0.0.1:{}", emu.lookaside_addr().port()))
    .build()
    .unwrap();
    let big = b"0123456789abcdef\n".repeat(1 << 20); // 17 MiB of text
    let id = client
        .upload(Upload::from_bytes(
            big.clone(),
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap();

    // 1. Read one chunk of a download, drop the stream; the next fetches verify.
    let mut dl = client.fetch(&id).await.unwrap();
    let first = dl.next().await.unwrap().unwrap();
    assert!(!first.is_empty() && (first.len() as u64) < big.len() as u64);
    drop(dl);
    for _ in 0..2 {
        assert_eq!(
            collect(client.fetch(&id).await.unwrap()).await.unwrap(),
            big
        );
    }

    // 2. Drop a fetch_to_file future once bytes have been written: nothing stays on disk.
    done.store(false, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("big.txt");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let files_at_cancel = Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let (seen, watched) = (files_at_cancel.clone(), dir.path().to_owned());
    let options = wa_media_hyper::FetchOptions::default().with_progress(move |done: u64, _| {
        if done > 0 {
            if let Some(tx) = tx.lock().unwrap().take() {
                let n = std::fs::read_dir(&watched).map_or(0, |d| d.count());
                seen.store(n, Ordering::SeqCst);
                let _ = tx.send(());
            }
        }
    });
    tokio::select! {
        r = client.fetch_to_file_with(&id, &dest, options) => panic!("finished despite the stall: {r:?}"),
        _ = rx => {}
    }
    assert_eq!(
        files_at_cancel.load(Ordering::SeqCst),
        1,
        "a temporary file existed when the fetch was cancelled"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the half-written temporary file was removed"
    );
    let file = client.fetch_to_file(&id, &dest).await.unwrap();
    assert_eq!(file.file_size, big.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), big);
}
