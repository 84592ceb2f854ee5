//! Snapshots of the exact wire requests of each operation: method, URL, headers (token
//! redacted) and the full multipart body (fixed boundary through the test hook).

use futures_util::StreamExt;
use wa_media_core::test_util::*;
use wa_media_core::{MediaApi, MediaClient, Timeouts, Upload};

/// Renders a request; the Authorization header is checked to carry the token and then redacted.
fn render(r: &Recorded) -> String {
    let mut s = format!("{} {}\n", r.method, r.uri);
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| {
            let v = if k == http::header::AUTHORIZATION {
                assert_eq!(v.to_str().unwrap(), format!("Bearer {TOKEN}"));
                assert!(v.is_sensitive(), "the auth header must be marked sensitive");
                "Bearer [REDACTED]".to_owned()
            } else {
                v.to_str().unwrap().to_owned()
            };
            (k.as_str().to_owned(), v)
        })
        .collect();
    headers.sort();
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\n"));
    }
    s.push_str(&format!(
        "[announced body length: {:?}]\n\n",
        r.body_len_hint
    ));
    s.push_str(&render_bytes(&r.body));
    s
}

/// Bytes with CR and LF made visible and non-printable bytes as `\xNN`.
fn render_bytes(body: &[u8]) -> String {
    let mut s = String::new();
    for &b in body {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n\n"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

fn answering_all() -> Scripted {
    Scripted::new(|r, _| {
        if r.method == http::Method::POST {
            json(200, r#"{"id":"1037543291543636"}"#)
        } else if r.method == http::Method::DELETE {
            json(200, r#"{"success":true}"#)
        } else if r.is_download() {
            chunked(200, vec![bytes::Bytes::from_static(b"hello")], None, false)
        } else {
            json(200, retrieve_json(DL_URL, b"hello"))
        }
    })
}

#[tokio::test]
async fn upload_text_document_from_bytes() {
    let t = answering_all();
    let c = client(&t);
    let id = c
        .upload(
            Upload::from_bytes(&b"hello, world\n"[..], "text/plain".parse().unwrap())
                .filename("notes \"q1\".txt"),
        )
        .await
        .unwrap();
    assert_eq!(id.as_str(), MEDIA);
    let reqs = t.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].body_len_hint, Some(reqs[0].body.len() as u64));
    assert_eq!(
        reqs[0].headers["content-length"].to_str().unwrap(),
        reqs[0].body.len().to_string()
    );
    insta::assert_snapshot!(render(&reqs[0]));
}

#[tokio::test]
async fn upload_voice_note_from_path_keeps_codec_parameter() {
    let t = answering_all();
    let c = client(&t);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/media/voice.ogg");
    c.upload(
        Upload::from_path(&path, "audio/ogg; codecs=opus".parse().unwrap())
            .kind(wa_media_types::MediaKind::Voice),
    )
    .await
    .unwrap();
    let reqs = t.requests();
    let file = std::fs::read(&path).unwrap();
    // The file's bytes travel unchanged between the part header and the closing boundary.
    let body = &reqs[0].body;
    let pos = body
        .windows(file.len())
        .position(|w| w == &file[..])
        .expect("file bytes in body");
    assert_eq!(
        &body[pos + file.len()..],
        b"\r\n--wa-media-TESTBOUNDARY--\r\n"
    );
    insta::assert_snapshot!(render_bytes(&body[..pos]));
}

#[tokio::test]
async fn upload_with_a_media_ttl() {
    let t = answering_all();
    let c = client(&t);
    c.upload(
        Upload::from_bytes(&b"hello, world\n"[..], "text/plain".parse().unwrap())
            .filename("notes.txt")
            .ttl_minutes(120),
    )
    .await
    .unwrap();
    let reqs = t.requests();
    assert_eq!(reqs.len(), 1);
    let body = String::from_utf8_lossy(&reqs[0].body).into_owned();
    assert!(
        body.contains("name=\"type\"\r\n\r\ntext/plain\r\n--wa-media-TESTBOUNDARY\r\nContent-Disposition: form-data; name=\"ttl_minutes\"\r\n\r\n120\r\n"),
        "{body}"
    );
    // The announced length counts the extra field.
    assert_eq!(reqs[0].body_len_hint, Some(reqs[0].body.len() as u64));
    assert_eq!(
        reqs[0].headers["content-length"].to_str().unwrap(),
        reqs[0].body.len().to_string()
    );
    insta::assert_snapshot!(render(&reqs[0]));
}

#[tokio::test]
async fn retrieve() {
    let t = answering_all();
    let info = client(&t).retrieve(&media_id()).await.unwrap();
    assert_eq!(info.file_size, 5);
    insta::assert_snapshot!(render(&t.requests()[0]));
}

#[tokio::test]
async fn retrieve_scoped_to_phone_number() {
    let t = answering_all();
    let c = MediaClient::builder(t.clone())
        .token(TOKEN)
        .phone_number_id(PHONE)
        .scope_to_phone_number(true)
        .user_agent("my-app/2.0")
        .api_version("v21.0".parse().unwrap())
        .build()
        .unwrap();
    c.retrieve(&media_id()).await.unwrap();
    insta::assert_snapshot!(render(&t.requests()[0]));
}

#[tokio::test]
async fn delete() {
    let t = answering_all();
    client(&t).delete(&media_id()).await.unwrap();
    insta::assert_snapshot!(render(&t.requests()[0]));
}

#[tokio::test]
async fn download() {
    let t = answering_all();
    let c = client_with(&t, fast_retry(1), Timeouts::default());
    let mut dl = c.download(&media_info(DL_URL, b"hello")).await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = dl.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got, b"hello");
    insta::assert_snapshot!(render(&t.requests()[0]));
}

#[tokio::test]
async fn graph_url_with_path_prefix_and_loopback_http() {
    let t = answering_all();
    let c = MediaClient::builder(t.clone())
        .token(TOKEN)
        .graph_url("http://127.0.0.1:8080/graph/")
        .build()
        .unwrap();
    c.delete(&media_id()).await.unwrap();
    assert_eq!(
        t.requests()[0].uri,
        "http://127.0.0.1:8080/graph/v27.0/1037543291543636"
    );
}
