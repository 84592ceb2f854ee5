//! The real API's behaviour over real sockets: every endpoint's success and error paths,
//! tokens on both origins, limits at the boundary, URL and media expiry.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::{header, Method, StatusCode};
use tokio::io::AsyncWriteExt;
use wa_media_emulator::{Emulator, ManualClock, UserAgentPolicy, ATTACHMENTS_PATH, DEFAULT_TOKEN};
use wa_media_types::{PhoneNumberId, Sha256Digest};

#[tokio::test]
async fn every_accepted_fixture_round_trips() {
    let emu = start().await;
    let c = client();
    for (file, mime) in [
        ("image.png", "image/png"),
        ("image.jpg", "image/jpeg"),
        ("document.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
        ("audio.mp3", "audio/mpeg"),
        ("audio.aac", "audio/aac"),
        ("audio.amr", "audio/amr"),
        ("audio.m4a", "audio/mp4"),
        ("video.3gp", "video/3gpp"),
        ("sticker.webp", "image/webp"),
        ("sticker-animated.webp", "image/webp"),
        ("sticker-static-100k.webp", "image/webp"),
    ] {
        let data = fixture(file);
        let id = upload_ok(&c, &emu, mime, &data).await;

        let r = retrieve(&c, &emu, &id).await;
        assert_eq!(r.status, StatusCode::OK, "{file}: {}", r.text());
        assert_eq!(
            r.headers[header::CONTENT_TYPE],
            "application/json; charset=UTF-8"
        );
        assert!(r.headers.contains_key("x-fb-trace-id"));
        let v = r.json();
        // The fields come in the documented order.
        let text = r.text();
        let pos: Vec<usize> = [
            "url",
            "mime_type",
            "sha256",
            "file_size",
            "id",
            "messaging_product",
        ]
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).expect(k))
        .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(v.as_object().unwrap().len(), 6);
        let url = v["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!(
                "{}{ATTACHMENTS_PATH}?mid={id}&ext=",
                emu.lookaside_url()
            )),
            "{url}"
        );
        assert!(url.contains("&hash="), "{url}");
        assert_eq!(v["mime_type"], mime);
        assert_eq!(v["sha256"], Sha256Digest::of(&data).to_hex());
        assert_eq!(v["file_size"].as_u64(), Some(data.len() as u64), "a number");
        assert_eq!(v["id"], id.as_str());
        assert_eq!(v["messaging_product"], "whatsapp");

        let d = send(&c, download_req(url, Some(emu.token()), true)).await;
        assert_eq!(d.status, StatusCode::OK, "{file}");
        assert_eq!(d.headers[header::CONTENT_TYPE], mime);
        assert_eq!(
            d.headers[header::CONTENT_LENGTH],
            data.len().to_string().as_str()
        );
        assert_eq!(&d.body[..], &data[..], "{file}: bytes differ");

        let del = delete(&c, &emu, &id).await;
        assert_eq!(del.status, StatusCode::OK);
        assert_eq!(del.json(), serde_json::json!({"success": true}));

        let gone = retrieve(&c, &emu, &id).await;
        assert_eq!(gone.status, StatusCode::BAD_REQUEST);
        assert_eq!(gone.graph_error()["error_subcode"], 33);
        let gone_dl = send(&c, download_req(url, Some(emu.token()), true)).await;
        assert_eq!(gone_dl.status, StatusCode::NOT_FOUND);
        assert!(gone_dl.text().contains("<html"), "HTML page");
        let again = delete(&c, &emu, &id).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert_eq!(again.graph_error()["error_subcode"], 33);
    }
    assert!(emu.media().is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn tokens_are_required_on_both_origins() {
    let emu = start().await;
    assert_eq!(emu.token(), DEFAULT_TOKEN);
    let c = client();
    let png_data = png(1000);
    let parts = png_parts(&png_data);
    for (token, what) in [(None, "missing"), (Some("wrong-token"), "wrong")] {
        let r = send(&c, upload_request(&emu, token, PHONE, &parts)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
        let e = r.graph_error();
        assert_eq!(e["code"], 190, "{what}");
        assert_eq!(e["type"], "OAuthException");
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    }
    let id = upload_ok(&c, &emu, "image/png", &png(1000)).await;
    for token in [None, Some("wrong-token")] {
        let r = send(&c, graph_get(&emu, &format!("/{VERSION}/{id}"), token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.code(), 190);
        let r = send(
            &c,
            graph_req(&emu, Method::DELETE, &format!("/{VERSION}/{id}"), token),
        )
        .await;
        assert_eq!(r.code(), 190);
    }
    // A non-Bearer scheme is not a token.
    let mut basic = graph_get(&emu, &format!("/{VERSION}/{id}"), None);
    basic
        .headers_mut()
        .insert(header::AUTHORIZATION, "Basic d2E6bWVkaWE=".parse().unwrap());
    assert_eq!(send(&c, basic).await.status, StatusCode::UNAUTHORIZED);

    let url = url_of(&c, &emu, &id).await;
    for token in [None, Some("wrong-token")] {
        let r = send(&c, download_req(&url, token, true)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    let ok = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(ok.status, StatusCode::OK);

    // The request log saw the header on the requests that had it, and never its value.
    let log = emu.request_log();
    let downloads: Vec<_> = log
        .iter()
        .filter(|r| r.origin == wa_media_emulator::Origin::Lookaside)
        .collect();
    assert_eq!(downloads.len(), 3);
    assert!(!downloads[0].has_header("authorization") && !downloads[0].authorized);
    assert!(downloads[1].has_header("authorization") && !downloads[1].authorized);
    assert!(downloads[2].authorized && downloads[2].status == 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn custom_token_is_the_only_one_accepted() {
    let emu = Emulator::builder()
        .token("a-custom-token")
        .start()
        .await
        .unwrap();
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(500)).await;
    let r = send(
        &c,
        graph_get(&emu, &format!("/{VERSION}/{id}"), Some(DEFAULT_TOKEN)),
    )
    .await;
    assert_eq!(r.code(), 190);
    assert_eq!(retrieve(&c, &emu, &id).await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_ids_and_foreign_phone_numbers_are_missing_objects() {
    let emu = start().await;
    let c = client();
    for id in ["1234567890123456", "not-a-number", "0"] {
        let r = retrieve(&c, &emu, id).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let e = r.graph_error();
        assert_eq!(e["code"], 100);
        assert_eq!(e["error_subcode"], 33);
        assert_eq!(e["type"], "GraphMethodException");
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!(
                "Unsupported get request. Object with ID '{id}' does not exist"
            )),
            "{msg}"
        );
        assert!(r.headers.contains_key(header::WWW_AUTHENTICATE));
    }
    let id = upload_ok(&c, &emu, "image/png", &png(500)).await;
    let q = |p: &str| format!("/{VERSION}/{id}?phone_number_id={p}");
    let ok = send(&c, graph_get(&emu, &q(PHONE), Some(emu.token()))).await;
    assert_eq!(ok.status, StatusCode::OK);
    let other = send(
        &c,
        graph_get(&emu, &q("999999999999999"), Some(emu.token())),
    )
    .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    assert_eq!(other.graph_error()["error_subcode"], 33);
    let del = send(
        &c,
        graph_req(
            &emu,
            Method::DELETE,
            &q("999999999999999"),
            Some(emu.token()),
        ),
    )
    .await;
    assert_eq!(del.graph_error()["error_subcode"], 33);
    assert!(
        emu.media_info(&id.parse().unwrap()).is_some(),
        "not deleted"
    );

    // Upload to a phone number id that is not numeric.
    let r = send(
        &c,
        upload_request(
            &emu,
            Some(emu.token()),
            "my-phone",
            &[Part::Text("messaging_product", "whatsapp")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.graph_error()["error_subcode"], 33);
}

#[tokio::test]
async fn a_fixed_phone_number_id_refuses_others() {
    let emu = Emulator::builder()
        .phone_number_id(Some(PhoneNumberId::new("111222333444555").unwrap()))
        .start()
        .await
        .unwrap();
    let c = client();
    let png_data = png(300);
    let parts = png_parts(&png_data);
    let r = send(&c, upload_request(&emu, Some(emu.token()), PHONE, &parts)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.graph_error()["error_subcode"], 33);
    let r = send(
        &c,
        upload_request(&emu, Some(emu.token()), "111222333444555", &parts),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test]
async fn the_version_segment_is_validated() {
    let emu = start().await;
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(300)).await;
    for v in ["23.0", "v23", "V23.0", "vX.Y", "latest"] {
        let r = send(
            &c,
            graph_get(&emu, &format!("/{v}/{id}"), Some(emu.token())),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(r.code(), 2500, "{v}");
    }
    // Any vMAJOR.MINOR: older ones, the latest (v27.0, November 2026) and ones to come.
    for v in [
        "v19.0", "v23.0", "v25.0", "v26.0", "v27.0", "v99.9", VERSION,
    ] {
        let r = send(
            &c,
            graph_get(&emu, &format!("/{v}/{id}"), Some(emu.token())),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{v}");
    }
    let r = send(&c, graph_get(&emu, "/", Some(emu.token()))).await;
    assert_eq!(r.code(), 2500);
}

async fn upload_parts(
    c: &HttpClient,
    emu: &wa_media_emulator::EmulatorHandle,
    parts: &[Part<'_>],
) -> Reply {
    send(c, upload_request(emu, Some(emu.token()), PHONE, parts)).await
}

#[tokio::test]
async fn multipart_problems_get_code_100_envelopes() {
    let emu = start().await;
    let c = client();
    let data = png(400);
    let file = |ct: Option<&'static str>| Part::File {
        name: "file",
        filename: "a.png",
        content_type: ct,
        data: Box::leak(data.clone().into_boxed_slice()),
    };
    let cases: Vec<(Vec<Part<'_>>, &str)> = vec![
        (
            vec![Part::Text("type", "image/png"), file(Some("image/png"))],
            "(#100) The parameter messaging_product is required.",
        ),
        (
            vec![
                Part::Text("messaging_product", "telegram"),
                Part::Text("type", "image/png"),
                file(Some("image/png")),
            ],
            "(#100) Param messaging_product must be one of {WHATSAPP} - got \"telegram\".",
        ),
        (
            vec![
                Part::Text("messaging_product", "whatsapp"),
                file(Some("image/png")),
            ],
            "(#100) The parameter type is required.",
        ),
        (
            vec![
                Part::Text("messaging_product", "whatsapp"),
                Part::Text("type", "image/png"),
            ],
            "(#100) The parameter file is required.",
        ),
    ];
    for (parts, message) in cases {
        let r = upload_parts(&c, &emu, &parts).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{message}");
        let e = r.graph_error();
        assert_eq!(e["code"], 100);
        assert_eq!(e["type"], "OAuthException");
        assert_eq!(e["message"], message);
    }

    // The file part's Content-Type decides, as reported with this exact text.
    let r = upload_parts(
        &c,
        &emu,
        &[
            Part::Text("messaging_product", "whatsapp"),
            Part::Text("type", "image/png"),
            file(Some("application/octet-stream")),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let msg = r.graph_error()["message"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with("(#100) Param file must be a file with one of the following types: audio/aac, audio/mp4, audio/mpeg, audio/amr, audio/ogg, audio/opus, "),
        "{msg}"
    );
    assert!(
        msg.contains("image/jpeg, image/png, image/webp, video/mp4, video/3gpp."),
        "{msg}"
    );
    assert!(
        msg.ends_with("Received file of type 'application/octet-stream'."),
        "{msg}"
    );
    let r = upload_parts(
        &c,
        &emu,
        &[
            Part::Text("messaging_product", "whatsapp"),
            Part::Text("type", "image/png"),
            file(Some("audio/webm")),
        ],
    )
    .await;
    assert!(r.graph_error()["message"]
        .as_str()
        .unwrap()
        .ends_with("Received file of type 'audio/webm'."));

    // Contents that contradict the type, and an empty file: code 131053 with details.
    let r = upload(&c, &emu, "image/jpeg", &png(400)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let e = r.graph_error();
    assert_eq!(e["code"], 131053);
    assert!(
        e["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("look like image/png"),
        "{e}"
    );
    let r = upload(&c, &emu, "text/plain", b"").await;
    assert_eq!(r.code(), 131053);
    let r = upload(&c, &emu, "image/webp", &fixture("sticker.webp")).await;
    assert_eq!(r.status, StatusCode::OK, "a sticker is fine: {}", r.text());

    // Not multipart at all, and a broken multipart body.
    let mut req = graph_req(
        &emu,
        Method::POST,
        &format!("/{VERSION}/{PHONE}/media"),
        Some(emu.token()),
    );
    req.headers_mut()
        .insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    *req.body_mut() = full(&b"{\"messaging_product\":\"whatsapp\"}"[..]);
    let r = send(&c, req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), 100);
    let mut req = graph_req(
        &emu,
        Method::POST,
        &format!("/{VERSION}/{PHONE}/media"),
        Some(emu.token()),
    );
    req.headers_mut().insert(
        header::CONTENT_TYPE,
        format!("multipart/form-data; boundary={BOUNDARY}")
            .parse()
            .unwrap(),
    );
    *req.body_mut() = full(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\nContent-Type: image/png\r\n\r\n\u{89}PNG truncated"));
    let r = send(&c, req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), 100);
    assert!(emu.media().len() == 1, "only the sticker was stored");
    // Nothing half-written is left in the spool directory.
    let spool = std::fs::read_dir(emu.data_dir().join("spool"))
        .unwrap()
        .count();
    assert_eq!(spool, 0);
}

#[tokio::test]
async fn limits_hold_at_the_boundary() {
    let emu = start().await;
    let c = client();
    // Static sticker: 100 KB accepted, one byte more refused.
    let id = upload_ok(&c, &emu, "image/webp", &static_webp(102_400)).await;
    assert_eq!(
        emu.media_info(&id.parse().unwrap()).unwrap().file_size,
        102_400
    );
    let r = upload(&c, &emu, "image/webp", &static_webp(102_401)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let e = r.graph_error();
    assert_eq!(e["code"], 131053);
    let details = e["error_data"]["details"].as_str().unwrap();
    assert!(details.contains("102400"), "{details}");
    assert!(details.contains("static sticker"), "{details}");
    // The fixtures say the same.
    upload_ok(&c, &emu, "image/webp", &fixture("sticker-static-100k.webp")).await;
    let r = upload(
        &c,
        &emu,
        "image/webp",
        &fixture("sticker-static-over-limit.webp"),
    )
    .await;
    assert_eq!(r.code(), 131053);
    // An animated sticker may be larger.
    upload_ok(
        &c,
        &emu,
        "image/webp",
        &fixture("sticker-animated-150k.webp"),
    )
    .await;
    // Image: 5 MB.
    upload_ok(&c, &emu, "image/png", &png(5 * 1024 * 1024)).await;
    let r = upload(&c, &emu, "image/png", &png(5 * 1024 * 1024 + 1)).await;
    assert_eq!(r.code(), 131053);
    assert_eq!(emu.media().len(), 4);
}

#[tokio::test]
async fn an_oversized_upload_is_refused_before_its_body_ends() {
    let emu = start().await;
    let mut s = tokio::net::TcpStream::connect(emu.graph_addr())
        .await
        .unwrap();
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage/png\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n"
    );
    // The body promises 50 MB; only a little over the 5 MB image limit is ever sent.
    let promised = 50 * 1024 * 1024;
    let req = format!(
        "POST /{VERSION}/{PHONE}/media HTTP/1.1\r\nHost: {}\r\nUser-Agent: {UA}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {promised}\r\n\r\n",
        emu.graph_addr(),
        emu.token()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&png(5 * 1024 * 1024 + 64 * 1024))
        .await
        .unwrap();
    // The client now stalls; the answer must come anyway.
    let (_, head, body) = read_http1_response(&mut s, Duration::from_secs(30))
        .await
        .expect("answered without waiting for the rest of the body");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], 131053);
    assert!(emu.media().is_empty());
}

#[tokio::test]
async fn urls_expire_with_the_clock() {
    let clock = Arc::new(ManualClock::starting_now());
    let emu = Emulator::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let c = client();
    let data = png(2000);
    let id = upload_ok(&c, &emu, "image/png", &data).await;
    let url = url_of(&c, &emu, &id).await;
    clock.advance(Duration::from_secs(299));
    let r = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::OK);
    clock.advance(Duration::from_secs(1));
    let r = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("URL signature expired"), "{}", r.text());
    // A fresh URL works at once.
    let fresh = url_of(&c, &emu, &id).await;
    assert_ne!(fresh, url);
    let r = send(&c, download_req(&fresh, Some(emu.token()), true)).await;
    assert_eq!(&r.body[..], &data[..]);

    // A configured lifetime, and the handle's own clock advance.
    let emu = Emulator::builder()
        .url_ttl(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    let id = upload_ok(&c, &emu, "image/png", &data).await;
    let url = url_of(&c, &emu, &id).await;
    emu.advance_clock(Duration::from_secs(10)).unwrap();
    let r = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn tampered_urls_are_refused() {
    let emu = start().await;
    let c = client();
    let a = upload_ok(&c, &emu, "image/png", &png(700)).await;
    let b = upload_ok(&c, &emu, "image/png", &png(800)).await;
    let url = url_of(&c, &emu, &a).await;
    let other_mid = url.replace(&format!("mid={a}"), &format!("mid={b}"));
    let (prefix, hash) = url.rsplit_once("hash=").unwrap();
    let mut h: Vec<u8> = hash.bytes().collect();
    h[0] = if h[0] == b'A' { b'B' } else { b'A' };
    let bad_hash = format!("{prefix}hash={}", String::from_utf8(h).unwrap());
    let ext: u64 = url
        .split("ext=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let later = url.replace(&format!("ext={ext}"), &format!("ext={}", ext + 3600));
    let no_hash = prefix.trim_end_matches('&').to_owned();
    for u in [other_mid, bad_hash, later, no_hash] {
        let r = send(&c, download_req(&u, Some(emu.token()), true)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{u}");
        assert!(r.text().contains("URL signature mismatch"));
    }
    let wrong_path = url.replace(ATTACHMENTS_PATH, "/whatsapp_business/other/");
    let r = send(&c, download_req(&wrong_path, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn media_ids_expire_after_30_days() {
    let clock = Arc::new(ManualClock::starting_now());
    let emu = Emulator::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(900)).await;
    clock.advance(Duration::from_secs(30 * 24 * 3600 - 1));
    let url = url_of(&c, &emu, &id).await;
    clock.advance(Duration::from_secs(1));
    let r = retrieve(&c, &emu, &id).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.graph_error()["error_subcode"], 33);
    // The URL signature is still valid (1 s old), but the media is gone.
    let r = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(emu.media().is_empty(), "expired media is removed");
}

#[tokio::test]
async fn a_missing_user_agent_gets_html_as_reported() {
    let c = client();
    for (policy, status, html) in [
        (UserAgentPolicy::HtmlPage, StatusCode::OK, true),
        (UserAgentPolicy::Refuse, StatusCode::BAD_REQUEST, true),
        (UserAgentPolicy::Ignore, StatusCode::OK, false),
    ] {
        let emu = Emulator::builder()
            .user_agent_policy(policy)
            .start()
            .await
            .unwrap();
        let data = png(600);
        let id = upload_ok(&c, &emu, "image/png", &data).await;
        let url = url_of(&c, &emu, &id).await;
        let r = send(&c, download_req(&url, Some(emu.token()), false)).await;
        assert_eq!(r.status, status, "{policy:?}");
        if html {
            assert!(r.text().contains("content isn't available"), "{policy:?}");
            assert_ne!(&r.body[..], &data[..]);
        } else {
            assert_eq!(&r.body[..], &data[..]);
        }
    }
}

#[tokio::test]
async fn the_request_log_holds_names_never_secrets() {
    let emu = Emulator::builder()
        .token("SECRET-TOKEN-abc123")
        .start()
        .await
        .unwrap();
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(300)).await;
    let url = url_of(&c, &emu, &id).await;
    send(&c, download_req(&url, Some(emu.token()), true)).await;
    let hash = url.rsplit_once("hash=").unwrap().1.to_owned();
    let log = emu.request_log();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, format!("/{VERSION}/{PHONE}/media"));
    assert_eq!(log[0].endpoint, Some(wa_media_emulator::Endpoint::Upload));
    assert_eq!(log[2].path, ATTACHMENTS_PATH);
    assert!(log
        .iter()
        .all(|r| r.has_header("authorization") && r.authorized && r.status == 200));
    let over_http = send(&c, graph_get(&emu, "/__emulator/requests", None)).await;
    for text in [format!("{log:?}"), over_http.text()] {
        assert!(!text.contains("SECRET-TOKEN-abc123"), "{text}");
        assert!(!text.contains(&hash), "{text}");
        assert!(text.contains("authorization"));
    }
    // Nor is the token in the Debug forms of the handle, its config or the transport.
    for text in [
        format!("{emu:?}"),
        format!("{:?}", emu.config()),
        format!("{:?}", emu.in_process_transport()),
    ] {
        assert!(!text.contains("SECRET-TOKEN-abc123"), "{text}");
    }
    let v = over_http.json();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[1]["endpoint"], "retrieve");
}

#[tokio::test]
async fn keep_alive_serves_several_requests_on_one_connection() {
    let emu = start().await;
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(300)).await;
    let mut s = tokio::net::TcpStream::connect(emu.graph_addr())
        .await
        .unwrap();
    for _ in 0..3 {
        let req = format!(
            "GET /{VERSION}/{id} HTTP/1.1\r\nHost: x\r\nUser-Agent: {UA}\r\nAuthorization: Bearer {}\r\n\r\n",
            emu.token()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let (_, head, body) = read_http1_response(&mut s, Duration::from_secs(30))
            .await
            .expect("a response");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["id"], id.as_str());
    }
}

#[tokio::test]
async fn a_trailing_slash_or_empty_component_is_an_unknown_path() {
    let emu = start().await;
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(300)).await;
    for path in [
        format!("/{VERSION}/{id}/"),
        format!("/{VERSION}//{id}"),
        format!("/{VERSION}/{id}//"),
    ] {
        for method in [Method::GET, Method::DELETE] {
            let r = send(
                &c,
                graph_req(&emu, method.clone(), &path, Some(emu.token())),
            )
            .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method} {path}");
            assert_eq!(r.code(), 2500, "{method} {path}");
        }
    }
    // Nothing was deleted, and no fault was used up by those requests.
    emu.faults().push(
        wa_media_emulator::Endpoint::Retrieve,
        wa_media_emulator::Fault::ServerError { status: 503 },
        1,
    );
    let r = send(
        &c,
        graph_get(&emu, &format!("/{VERSION}/{id}/"), Some(emu.token())),
    )
    .await;
    assert_eq!(r.code(), 2500);
    assert_eq!(emu.faults().pending().len(), 1);
    emu.faults().clear();
    assert_eq!(retrieve(&c, &emu, &id).await.status, StatusCode::OK);
}

#[tokio::test]
async fn edges_of_an_existing_media_are_unknown_path_components() {
    let emu = start().await;
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(300)).await;
    for (method, path) in [
        (Method::GET, format!("/{VERSION}/{id}/media")),
        (Method::DELETE, format!("/{VERSION}/{id}/media")),
        (Method::GET, format!("/{VERSION}/{id}/media/extra")),
    ] {
        let r = send(
            &c,
            graph_req(&emu, method.clone(), &path, Some(emu.token())),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method} {path}");
        let e = r.graph_error();
        assert_eq!(e["code"], 2500, "{e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("Unknown path components: /media"),
            "{e}"
        );
    }
    // GET on a phone number's media edge: the object does not support that operation.
    let r = send(
        &c,
        graph_get(
            &emu,
            &format!("/{VERSION}/{PHONE}/media"),
            Some(emu.token()),
        ),
    )
    .await;
    assert_eq!(r.graph_error()["error_subcode"], 33);
    assert!(r.graph_error()["message"]
        .as_str()
        .unwrap()
        .contains("does not support this operation"));
    assert_eq!(retrieve(&c, &emu, &id).await.status, StatusCode::OK);
}

#[tokio::test]
async fn facebook_api_version_names_the_requested_version() {
    let emu = start().await;
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(300)).await;
    for v in ["v21.0", "v19.0", "v23.0", "v27.0", "v99.9", VERSION] {
        for path in [format!("/{v}/{id}"), format!("/{v}/1234567890123456")] {
            let r = send(&c, graph_get(&emu, &path, Some(emu.token()))).await;
            assert_eq!(r.headers["facebook-api-version"], v, "{path}");
        }
        let r = send(&c, graph_get(&emu, &format!("/{v}/{id}"), None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers["facebook-api-version"], v, "errors too");
    }
    let r = send(
        &c,
        graph_get(&emu, &format!("/latest/{id}"), Some(emu.token())),
    )
    .await;
    assert_eq!(
        r.headers["facebook-api-version"],
        wa_media_types::DEFAULT_API_VERSION,
        "no version: the default"
    );
}

#[tokio::test]
async fn every_endpoint_serves_the_latest_version_and_later_ones() {
    let emu = start().await;
    let c = client();
    let data = png(500);
    for v in ["v27.0", "v99.9"] {
        let (ct, body) = multipart(&[
            Part::Text("messaging_product", "whatsapp"),
            Part::Text("type", "image/png"),
            Part::File {
                name: "file",
                filename: "a.png",
                content_type: Some("image/png"),
                data: &data,
            },
        ]);
        let req = http::Request::builder()
            .method(Method::POST)
            .uri(format!("{}/{v}/{PHONE}/media", emu.graph_url()))
            .header(header::CONTENT_TYPE, ct)
            .header(header::AUTHORIZATION, bearer(emu.token()))
            .body(full(body))
            .unwrap();
        let up = send(&c, req).await;
        assert_eq!(up.status, StatusCode::OK, "{v}: {}", up.text());
        assert_eq!(up.headers["facebook-api-version"], v);
        let id = up.json()["id"].as_str().unwrap().to_owned();
        let got = send(
            &c,
            graph_get(&emu, &format!("/{v}/{id}"), Some(emu.token())),
        )
        .await;
        assert_eq!(got.status, StatusCode::OK, "{v}");
        assert_eq!(got.headers["facebook-api-version"], v);
        let url = got.json()["url"].as_str().unwrap().to_owned();
        let d = send(&c, download_req(&url, Some(emu.token()), true)).await;
        assert_eq!(&d.body[..], &data[..]);
        let msg = serde_json::json!({"messaging_product": "whatsapp", "to": "15551234567",
            "type": "image", "image": {"id": id}});
        let req = http::Request::builder()
            .method(Method::POST)
            .uri(format!("{}/{v}/{PHONE}/messages", emu.graph_url()))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, bearer(emu.token()))
            .body(full(serde_json::to_vec(&msg).unwrap()))
            .unwrap();
        let sent = send(&c, req).await;
        assert_eq!(sent.status, StatusCode::OK, "{v}: {}", sent.text());
        assert_eq!(sent.headers["facebook-api-version"], v);
        let del = send(
            &c,
            graph_req(
                &emu,
                Method::DELETE,
                &format!("/{v}/{id}"),
                Some(emu.token()),
            ),
        )
        .await;
        assert_eq!(del.status, StatusCode::OK, "{v}");
        assert_eq!(del.headers["facebook-api-version"], v);
    }
}

#[tokio::test]
async fn an_overlong_uri_gets_414_with_a_graph_envelope() {
    let emu = start().await;
    let c = client();
    let long = "a".repeat(20 * 1024);
    let r = send(
        &c,
        graph_get(
            &emu,
            &format!("/{VERSION}/1234567890123456?x={long}"),
            Some(emu.token()),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG);
    let e = r.graph_error();
    assert_eq!(e["code"], 100);
    assert!(e["message"].as_str().unwrap().contains("16384"), "{e}");
    assert_eq!(r.headers["facebook-api-version"], VERSION);
    let r = send(
        &c,
        download_req(
            &format!("{}{ATTACHMENTS_PATH}?mid=1&x={long}", emu.lookaside_url()),
            Some(emu.token()),
            true,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG);
    assert!(r.text().contains("<html"), "HTML on the download host");
    // Just under the limit: an ordinary answer.
    let path = format!("/{VERSION}/1234567890123456?x=");
    let fill = "b".repeat(16 * 1024 - path.len());
    let r = send(
        &c,
        graph_get(&emu, &format!("{path}{fill}"), Some(emu.token())),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.graph_error()["error_subcode"], 33);
}

#[tokio::test]
async fn a_file_part_whose_type_contradicts_the_type_field_is_refused() {
    let emu = start().await;
    let c = client();
    let jpeg = fixture("image.jpg");
    for (declared, part) in [
        ("image/png", "image/jpeg"),
        ("image/jpeg", "image/png"),
        ("video/mp4", "audio/mp4"),
        ("application/pdf", "text/plain"),
    ] {
        let r = upload_parts(
            &c,
            &emu,
            &[
                Part::Text("messaging_product", "whatsapp"),
                Part::Text("type", declared),
                Part::File {
                    name: "file",
                    filename: "x",
                    content_type: Some(part),
                    data: &jpeg,
                },
            ],
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{declared} vs {part}");
        let e = r.graph_error();
        assert_eq!(e["code"], 100, "{e}");
        assert_eq!(
            e["message"],
            format!(
                "(#100) Param file is of type '{part}', which does not match param type \
                 '{declared}'. Send the file with the Content-Type given in type."
            )
        );
    }
    // Parameters do not contradict, nor do the two spellings of 3GPP.
    let ogg = fixture("voice.ogg");
    let r = upload_parts(
        &c,
        &emu,
        &[
            Part::Text("messaging_product", "whatsapp"),
            Part::Text("type", "audio/ogg; codecs=opus"),
            Part::File {
                name: "file",
                filename: "v.ogg",
                content_type: Some("audio/ogg"),
                data: &ogg,
            },
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let video = fixture("video.3gp");
    let r = upload_parts(
        &c,
        &emu,
        &[
            Part::Text("messaging_product", "whatsapp"),
            Part::Text("type", "video/3gp"),
            Part::File {
                name: "file",
                filename: "v.3gp",
                content_type: Some("video/3gpp"),
                data: &video,
            },
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(emu.media().len(), 2);
}

/// Uploads are hashed and written in batches on the blocking pool: around the batch size and
/// well over it, the stored file is exactly the uploaded bytes, its recorded size and SHA-256
/// match, and nothing is left in the spool directory.
#[tokio::test]
async fn uploads_of_every_size_are_stored_exactly() {
    const BATCH: usize = 128 * 1024;
    let emu = start().await;
    let c = client();
    for len in [
        1,
        4096,
        BATCH - 1,
        BATCH,
        BATCH + 1,
        3 * BATCH,
        5 * 1024 * 1024 + 7,
    ] {
        let data = text(len);
        let id = upload_ok(&c, &emu, "text/plain", &data).await;
        let media = emu
            .media()
            .into_iter()
            .find(|m| m.id.as_str() == id)
            .expect("stored");
        assert_eq!(media.file_size, len as u64);
        assert_eq!(media.sha256, Sha256Digest::of(&data), "{len}");
        let stored = std::fs::read(emu.data_dir().join("media").join(&id)).unwrap();
        assert!(stored == data, "{len}: the stored bytes differ");
    }
    let spool = std::fs::read_dir(emu.data_dir().join("spool"))
        .unwrap()
        .count();
    assert_eq!(spool, 0);
}
