//! Fault injection over real sockets: each fault does what it says, from Rust and over HTTP.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::{header, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use wa_media_emulator::{Endpoint, Fault};
use wa_media_types::Sha256Digest;

/// What a client saw of a response: status, promised length, bytes received, whether the body
/// ended in an error, and whether that error was a connection reset.
struct Partial {
    status: StatusCode,
    content_length: Option<u64>,
    body: Vec<u8>,
    error: Option<String>,
    reset: bool,
}

fn is_reset(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionReset {
                return true;
            }
        }
        cur = e.source();
    }
    false
}

async fn fetch_partial(c: &HttpClient, req: http::Request<Body>) -> Partial {
    let resp = c.request(req).await.expect("headers arrive");
    let status = resp.status();
    let content_length = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let mut body = resp.into_body();
    let mut got = Vec::new();
    let mut error = None;
    let mut reset = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(d) = f.into_data() {
                    got.extend_from_slice(&d);
                }
            }
            Err(e) => {
                reset = is_reset(&e);
                error = Some(format!("{e:?}"));
                break;
            }
        }
    }
    Partial {
        status,
        content_length,
        body: got,
        error,
        reset,
    }
}

const LEN: usize = 1024 * 1024;

#[tokio::test]
async fn rate_limited_and_server_errors_replace_the_answer() {
    let emu = start().await;
    let c = client();
    let data = png(LEN);
    let id = upload_ok(&c, &emu, "image/png", &data).await;

    emu.faults().push(
        Endpoint::Retrieve,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        2,
    );
    for _ in 0..2 {
        let r = retrieve(&c, &emu, &id).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers[header::RETRY_AFTER], "7");
        assert_eq!(r.code(), 4);
    }
    assert_eq!(retrieve(&c, &emu, &id).await.status, StatusCode::OK);

    emu.faults()
        .push(Endpoint::Upload, Fault::ServerError { status: 502 }, 1);
    let r = upload(&c, &emu, "image/png", &png(100)).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    let e = r.graph_error();
    assert_eq!(e["code"], 2);
    assert_eq!(e["is_transient"], true);
    assert_eq!(emu.media().len(), 1, "a faulted upload stores nothing");

    let url = url_of(&c, &emu, &id).await;
    emu.faults()
        .push(Endpoint::Download, Fault::ServerError { status: 503 }, 1);
    emu.faults().push(
        Endpoint::Download,
        Fault::RateLimited {
            retry_after_secs: 3,
        },
        1,
    );
    let r = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().contains("<html"));
    let r = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers[header::RETRY_AFTER], "3");
    let r = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(&r.body[..], &data[..]);
    assert!(emu.faults().pending().is_empty());

    let faulted: Vec<_> = emu
        .request_log()
        .into_iter()
        .filter_map(|r| r.fault)
        .collect();
    assert_eq!(
        faulted,
        [
            "rate_limited",
            "rate_limited",
            "server_error",
            "server_error",
            "rate_limited"
        ]
    );
}

#[tokio::test]
async fn damaged_download_bodies() {
    let emu = start().await;
    let c = client();
    let data = png(LEN);
    let id = upload_ok(&c, &emu, "image/png", &data).await;

    // Truncated: Content-Length promises everything, half arrives, then a clean close.
    emu.faults()
        .push(Endpoint::Download, Fault::TruncatedBody, 1);
    let url = url_of(&c, &emu, &id).await;
    let p = fetch_partial(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.content_length, Some(LEN as u64));
    assert_eq!(p.body.len(), LEN / 2, "exactly half");
    assert_eq!(&p.body[..], &data[..LEN / 2]);
    assert!(p.error.is_some(), "the client notices the short body");
    assert!(!p.reset, "a clean close, not a reset: {:?}", p.error);

    // Reset: some bytes, then a TCP reset.
    emu.faults()
        .push(Endpoint::Download, Fault::ResetMidBody, 1);
    let p = fetch_partial(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.len() < LEN);
    assert!(p.reset, "connection reset expected: {:?}", p.error);

    // Corrupted: every byte arrives, one is flipped.
    emu.faults().push(Endpoint::Download, Fault::CorruptByte, 1);
    let p = fetch_partial(&c, download_req(&url, Some(emu.token()), true)).await;
    assert!(p.error.is_none());
    assert_eq!(p.body.len(), LEN);
    assert_ne!(Sha256Digest::of(&p.body), Sha256Digest::of(&data));
    let diff: Vec<usize> = (0..LEN).filter(|&i| p.body[i] != data[i]).collect();
    assert_eq!(diff, [LEN / 2]);

    // Afterwards, normal service on a fresh connection pool.
    let c2 = client();
    let r = send(&c2, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(&r.body[..], &data[..]);
}

#[tokio::test]
async fn damaged_graph_answers_and_an_upload_reset() {
    let emu = start().await;
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(5000)).await;

    emu.faults()
        .push(Endpoint::Retrieve, Fault::TruncatedBody, 1);
    let p = fetch_partial(
        &c,
        graph_get(&emu, &format!("/{VERSION}/{id}"), Some(emu.token())),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.error.is_some());
    assert!(serde_json::from_slice::<serde_json::Value>(&p.body).is_err());

    emu.faults().push(Endpoint::Delete, Fault::CorruptByte, 1);
    let p = fetch_partial(
        &c,
        graph_req(
            &emu,
            http::Method::DELETE,
            &format!("/{VERSION}/{id}"),
            Some(emu.token()),
        ),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
    assert_ne!(&p.body[..], br#"{"success":true}"#);
    assert!(emu.media().is_empty(), "the delete itself happened");

    // An upload reset mid-body: no answer at all, nothing stored.
    emu.faults().push(Endpoint::Upload, Fault::ResetMidBody, 1);
    let req = upload_request(&emu, Some(emu.token()), PHONE, &png_parts(&png(LEN)));
    let err = client().request(req).await.expect_err("no answer");
    assert!(!format!("{err:?}").is_empty());
    assert!(emu.media().is_empty());
    let last = emu.request_log().pop().unwrap();
    assert_eq!(
        (last.status, last.fault.as_deref()),
        (0, Some("reset_mid_body"))
    );
    // The next upload works.
    upload_ok(&c, &emu, "image/png", &png(100)).await;
}

#[tokio::test]
async fn a_delay_holds_the_answer_back() {
    let emu = start().await;
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(100)).await;
    emu.faults()
        .push(Endpoint::Retrieve, Fault::Delay { millis: 400 }, 1);
    let t = Instant::now();
    let r = retrieve(&c, &emu, &id).await;
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!(r.status, StatusCode::OK);
    // A timeout shorter than the delay fires.
    emu.faults()
        .push(Endpoint::Retrieve, Fault::Delay { millis: 5_000 }, 1);
    let slow = tokio::time::timeout(Duration::from_millis(200), retrieve(&c, &emu, &id)).await;
    assert!(slow.is_err());
}

#[tokio::test]
async fn faults_clock_and_inbound_over_http() {
    let emu = start().await;
    let c = client();
    let data = png(3000);
    let id = upload_ok(&c, &emu, "image/png", &data).await;

    let r = admin_post(
        &c,
        &emu,
        "/__emulator/faults",
        json!({"endpoint": "download", "fault": {"kind": "server_error", "status": 500}, "count": 2}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let pending = send(&c, graph_get(&emu, "/__emulator/faults", None))
        .await
        .json();
    assert_eq!(pending[0]["remaining"], 2);
    assert_eq!(pending[0]["fault"]["kind"], "server_error");
    let url = url_of(&c, &emu, &id).await;
    let r = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    let cleared = send(
        &c,
        graph_req(&emu, http::Method::DELETE, "/__emulator/faults", None),
    )
    .await;
    assert_eq!(cleared.status, StatusCode::OK);
    assert!(emu.faults().pending().is_empty());
    let bad = admin_post(
        &c,
        &emu,
        "/__emulator/faults",
        json!({"endpoint": "nowhere"}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Clock advance over HTTP expires the URL.
    let r = admin_post(
        &c,
        &emu,
        "/__emulator/clock/advance",
        json!({"seconds": 301}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Inbound simulation over HTTP: the body is the file, the query the message.
    let req = http::Request::builder()
        .method(http::Method::POST)
        .uri(format!(
            "{}/__emulator/inbound?app_secret=s3cret&caption=Caf%C3%A9%20menu",
            emu.graph_url()
        ))
        .header(header::CONTENT_TYPE, "image/png")
        .body(full(Bytes::from(data.clone())))
        .unwrap();
    let r = send(&c, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let body = v["body"].as_str().unwrap();
    assert!(
        body.contains(r"Caf\u00e9 menu"),
        "escaped like Meta: {body}"
    );
    wa_media_types::verify_signature(b"s3cret", body.as_bytes(), v["signature"].as_str().unwrap())
        .expect("signature verifies");
    let n = wa_media_types::webhook::Notification::from_slice(body.as_bytes()).unwrap();
    let media = wa_media_types::webhook::inbound_media(&n);
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].media_id.as_str(), v["media_id"].as_str().unwrap());
    assert_eq!(media[0].caption.as_deref(), Some("Café menu"));
    assert_eq!(media[0].sha256, Some(Sha256Digest::of(&data)));
    let url = url_of(&c, &emu, media[0].media_id.as_str()).await;
    let d = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(&d.body[..], &data[..]);

    let listed = send(&c, graph_get(&emu, "/__emulator/media", None))
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[1]["source"], "inbound");
    let unknown = send(&c, graph_get(&emu, "/__emulator/nothing", None)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// Downloads are read whole when the media fits one 512 KiB read and streamed chunk by chunk
/// (read ahead, buffers reused) when it does not: every size arrives byte-identical with its
/// digest, and every body fault damages it exactly as on the other path.
#[tokio::test]
async fn downloads_of_every_size_are_exact_and_faults_still_fire() {
    const CHUNK: usize = 512 * 1024;
    let emu = start().await;
    let c = client();
    for len in [
        1,
        1000,
        CHUNK - 1,
        CHUNK,
        CHUNK + 1,
        2 * CHUNK,
        3 * CHUNK + 12_345,
    ] {
        let data = text(len);
        let id = upload_ok(&c, &emu, "text/plain", &data).await;
        let retrieved = retrieve(&c, &emu, &id).await.json();
        assert_eq!(
            retrieved["sha256"].as_str().unwrap(),
            Sha256Digest::of(&data).to_hex(),
            "{len}"
        );
        let url = url_of(&c, &emu, &id).await;
        // Twice: the second time the buffers of a fresh stream are allocated again.
        for _ in 0..2 {
            let p = fetch_partial(&c, download_req(&url, Some(emu.token()), true)).await;
            assert!(p.error.is_none(), "{len}: {:?}", p.error);
            assert_eq!(p.content_length, Some(len as u64));
            assert_eq!(Sha256Digest::of(&p.body), Sha256Digest::of(&data), "{len}");
        }

        emu.faults()
            .push(Endpoint::Download, Fault::TruncatedBody, 1);
        let p = fetch_partial(&c, download_req(&url, Some(emu.token()), true)).await;
        assert_eq!(p.content_length, Some(len as u64), "{len}");
        assert_eq!(&p.body[..], &data[..len / 2], "{len}");
        assert!(p.error.is_some() && !p.reset, "{len}: {:?}", p.error);

        emu.faults().push(Endpoint::Download, Fault::CorruptByte, 1);
        let p = fetch_partial(&c, download_req(&url, Some(emu.token()), true)).await;
        assert!(p.error.is_none(), "{len}: {:?}", p.error);
        let diff: Vec<usize> = (0..len).filter(|&i| p.body[i] != data[i]).collect();
        assert_eq!(diff, [len / 2], "{len}");

        emu.faults()
            .push(Endpoint::Download, Fault::ResetMidBody, 1);
        let c2 = client();
        let p = fetch_partial(&c2, download_req(&url, Some(emu.token()), true)).await;
        assert!(p.body.len() <= len / 2, "{len}");
        assert!(p.reset, "{len}: connection reset expected: {:?}", p.error);
    }
}

/// A media file that became shorter on disk than recorded is sent short under the recorded
/// `Content-Length` (the client notices), whether it is read whole or streamed.
#[tokio::test]
async fn a_media_file_shortened_on_disk_ends_the_body_short() {
    let emu = start().await;
    let c = client();
    for (len, keep) in [(100_000, 50_000), (3 * 512 * 1024, 700_000)] {
        let data = text(len);
        let id = upload_ok(&c, &emu, "text/plain", &data).await;
        let path = emu.data_dir().join("media").join(&id);
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(keep as u64).unwrap();
        drop(f);
        let url = url_of(&c, &emu, &id).await;
        let c2 = client();
        let p = fetch_partial(&c2, download_req(&url, Some(emu.token()), true)).await;
        assert_eq!(p.status, StatusCode::OK);
        assert_eq!(p.content_length, Some(len as u64));
        assert!(p.body.len() <= keep, "{len}");
        assert_eq!(&p.body[..], &data[..p.body.len()]);
        assert!(
            p.error.is_some(),
            "{len}: the client notices the short body"
        );
    }
}
