//! Sending media messages over the scripted transport: the exact request bodies (snapshots),
//! every local refusal, the never-send-twice retry rules, `send_file`, and no token in errors.

use std::sync::Arc;
use std::time::Duration;

use wa_media_core::test_util::*;
use wa_media_core::{
    Error, MediaClient, MessagingApi, RetryPolicy, SendFileError, SendOptions, TimeoutKind,
    Timeouts, TransportError, TransportErrorKind,
};
use wa_media_types::{MediaKind, MediaRef, SendMedia, SendNote, SendValidationError, SentMessage};

const TO: &str = "15551234567";
const WAMID: &str = "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA";
const LINK: &str = "https://media.example.com/files/sample?v=2";
const MESSAGES_URL: &str = "https://graph.facebook.com/v27.0/106540352242922/messages";
const MEDIA_URL: &str = "https://graph.facebook.com/v27.0/106540352242922/media";

fn sent_json() -> String {
    serde_json::json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": TO, "wa_id": TO}],
        "messages": [{"id": WAMID, "message_status": "accepted"}],
    })
    .to_string()
}

fn graph_error(code: i64, message: &str) -> String {
    serde_json::json!({"error": {"message": message, "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": message},
        "fbtrace_id": "AbCdEf"}})
    .to_string()
}

fn is_send(r: &Recorded) -> bool {
    r.uri == MESSAGES_URL
}

fn is_upload(r: &Recorded) -> bool {
    r.uri == MEDIA_URL
}

/// Answers uploads with the media id and sends with a wamid.
fn accepting() -> Scripted {
    Scripted::new(|r, _| {
        if is_upload(r) {
            json(200, format!(r#"{{"id":"{MEDIA}"}}"#))
        } else {
            json(200, sent_json())
        }
    })
}

/// Answers the first `n` sends with `first`, then accepts.
fn refusing_first(n: usize, first: impl Fn() -> Reply + Send + Sync + 'static) -> Scripted {
    Scripted::new(move |_, i| {
        if i < n {
            first()
        } else {
            json(200, sent_json())
        }
    })
}

fn image_by_id() -> SendMedia {
    SendMedia::by_id(TO, MediaKind::Image, media_id()).unwrap()
}

/// The request as the snapshot shows it: method, URL, the headers that matter, and the body
/// as pretty JSON. The token is checked here and never shown.
fn render(r: &Recorded) -> String {
    assert!(r.has_token(), "the send request carries the token");
    assert_eq!(r.host(), "graph.facebook.com");
    let h = |n: &str| {
        r.headers
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        r.body_len_hint,
        Some(r.body.len() as u64),
        "the body length is announced"
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    format!(
        "{} {}\ncontent-type: {}\naccept: {}\n\n{}",
        r.method,
        r.uri,
        h("content-type"),
        h("accept"),
        serde_json::to_string_pretty(&body).unwrap()
    )
}

fn with_options(msg: SendMedia) -> SendMedia {
    match msg.kind {
        MediaKind::Image | MediaKind::Video => msg.caption("Caption with ünïcödé & \"quotes\""),
        MediaKind::Document => msg.caption("Invoice 2031").filename("invoice-2031.pdf"),
        MediaKind::Audio => msg.voice(false),
        _ => msg,
    }
}

#[tokio::test]
async fn request_bodies_for_every_kind_by_id_and_by_link() {
    for kind in MediaKind::ALL {
        for by in ["id", "link"] {
            let t = accepting();
            let c = client(&t);
            let msg = match by {
                "id" => SendMedia::by_id(TO, kind, media_id()).unwrap(),
                _ => SendMedia::by_link(TO, kind, LINK).unwrap(),
            };
            let sent = c.send_media(&with_options(msg)).await.unwrap();
            assert_eq!(sent.wamid, WAMID);
            let reqs = t.requests();
            assert_eq!(reqs.len(), 1);
            insta::assert_snapshot!(format!("{kind}_by_{by}"), render(&reqs[0]));
        }
    }
}

#[tokio::test]
async fn request_body_of_a_reply_with_callback_data() {
    let t = accepting();
    let c = client(&t);
    let msg = SendMedia::by_id("+1 (555) 123-4567", MediaKind::Voice, media_id())
        .unwrap()
        .reply_to("wamid.PREVIOUS")
        .callback_data("order-2031");
    c.send_media(&msg).await.unwrap();
    insta::assert_snapshot!("voice_reply_with_callback_data", render(&t.requests()[0]));
}

#[tokio::test]
async fn the_answer_is_typed_and_unknown_fields_kept() {
    let t = Scripted::new(|_, _| {
        json(
            200,
            format!(
                r#"{{"messaging_product":"whatsapp","contacts":[{{"input":"{TO}","wa_id":"1555123456"}}],"messages":[{{"id":"{WAMID}","message_status":"held_for_quality_assessment"}}],"later":{{"x":1}}}}"#
            ),
        )
    });
    let sent = client(&t).send_media(&image_by_id()).await.unwrap();
    assert_eq!(sent.wamid, WAMID);
    assert_eq!(sent.wa_id.as_deref(), Some("1555123456"));
    assert_eq!(
        sent.message_status.as_deref(),
        Some("held_for_quality_assessment")
    );
    assert_eq!(sent.extra["later"]["x"], 1);
    assert_eq!(sent.extra["messaging_product"], "whatsapp");
}

#[tokio::test]
async fn messaging_api_is_object_safe() {
    let t = accepting();
    let api: Arc<dyn MessagingApi> = Arc::new(client(&t));
    let sent: SentMessage = api.send_media(&image_by_id()).await.unwrap();
    assert_eq!(sent.wamid, WAMID);
    // And through the Arc blanket impl.
    fn takes<A: MessagingApi>(_: &A) {}
    takes(&api);
}

// ---- Local refusals: one test each, nothing sent. ----

/// Sends `msg` and checks it was refused locally with `want`, no request made.
async fn refused(msg: SendMedia, want: impl Fn(&SendValidationError) -> bool) {
    let t = accepting();
    let e = client(&t).send_media(&msg).await.unwrap_err();
    match &e {
        Error::InvalidMessage(v) => assert!(want(v), "unexpected refusal: {v:?}"),
        other => panic!("expected a local refusal, got {other:?}"),
    }
    assert!(e.request_not_sent());
    assert!(!e.is_retryable());
    assert!(
        e.to_string()
            .starts_with("the message was refused before sending"),
        "{e}"
    );
    assert_eq!(t.requests().len(), 0, "nothing may be sent");
}

#[test]
fn recipient_too_short_is_refused() {
    let e = SendMedia::by_id("+1 555 12", MediaKind::Image, media_id()).unwrap_err();
    assert!(matches!(e, SendValidationError::Recipient { .. }), "{e}");
    assert!(e.to_string().contains("6 digits"), "{e}");
}

#[test]
fn recipient_too_long_is_refused() {
    let e = SendMedia::by_id("1234567890123456", MediaKind::Image, media_id()).unwrap_err();
    assert!(e.to_string().contains("16 digits"), "{e}");
}

#[test]
fn recipient_with_letters_is_refused() {
    let e = SendMedia::by_link("1-800-FLOWERS", MediaKind::Image, LINK).unwrap_err();
    assert!(matches!(e, SendValidationError::Recipient { .. }), "{e}");
}

#[tokio::test]
async fn recipient_changed_after_building_is_refused() {
    let mut msg = image_by_id();
    msg.to = "+15551234567".into();
    refused(msg, |v| matches!(v, SendValidationError::Recipient { .. })).await;
}

#[test]
fn plain_http_link_is_refused() {
    let e = SendMedia::by_link(TO, MediaKind::Image, "http://media.example.com/a.jpg").unwrap_err();
    assert!(matches!(e, SendValidationError::Link { .. }), "{e}");
    assert!(e.to_string().contains("https"), "{e}");
}

#[test]
fn link_without_host_is_refused() {
    let e = SendMedia::by_link(TO, MediaKind::Image, "https:///a.jpg").unwrap_err();
    assert!(e.to_string().contains("no host"), "{e}");
}

#[tokio::test]
async fn link_changed_after_building_is_refused() {
    let mut msg = image_by_id();
    msg.media = MediaRef::Link("ftp://media.example.com/a.jpg".into());
    refused(msg, |v| matches!(v, SendValidationError::Link { .. })).await;
}

#[tokio::test]
async fn caption_on_audio_is_refused() {
    let msg = SendMedia::by_id(TO, MediaKind::Audio, media_id())
        .unwrap()
        .caption("hi");
    refused(msg, |v| {
        *v == SendValidationError::CaptionNotAllowed {
            kind: MediaKind::Audio,
        }
    })
    .await;
}

#[tokio::test]
async fn caption_on_voice_is_refused() {
    let msg = SendMedia::by_id(TO, MediaKind::Voice, media_id())
        .unwrap()
        .caption("hi");
    refused(msg, |v| {
        matches!(v, SendValidationError::CaptionNotAllowed { .. })
    })
    .await;
}

#[tokio::test]
async fn caption_on_sticker_is_refused() {
    let msg = SendMedia::by_link(TO, MediaKind::Sticker, LINK)
        .unwrap()
        .caption("hi");
    refused(msg, |v| {
        matches!(v, SendValidationError::CaptionNotAllowed { .. })
    })
    .await;
}

#[tokio::test]
async fn caption_over_1024_characters_is_refused() {
    let msg = image_by_id().caption("ß".repeat(1025));
    refused(msg, |v| {
        *v == SendValidationError::CaptionTooLong { chars: 1025 }
    })
    .await;
}

#[tokio::test]
async fn filename_on_image_is_refused() {
    let msg = image_by_id().filename("photo.jpg");
    refused(msg, |v| {
        matches!(v, SendValidationError::FilenameNotAllowed { .. })
    })
    .await;
}

#[tokio::test]
async fn voice_on_video_is_refused() {
    let msg = SendMedia::by_id(TO, MediaKind::Video, media_id())
        .unwrap()
        .voice(true);
    refused(msg, |v| {
        matches!(v, SendValidationError::VoiceNotAllowed { .. })
    })
    .await;
}

#[tokio::test]
async fn empty_reply_to_is_refused() {
    let msg = image_by_id().reply_to("  ");
    refused(msg, |v| *v == SendValidationError::EmptyReplyTo).await;
}

#[tokio::test]
async fn voice_from_a_file_that_is_not_opus_is_refused_before_uploading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("note.mp3");
    std::fs::write(&path, mp3()).unwrap();
    let t = accepting();
    let e = client(&t)
        .send_file(&path, TO, SendOptions::default().voice(true))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SendFileError::Validation(SendValidationError::VoiceNotOpus { .. })
        ),
        "{e:?}"
    );
    let s = wa_media_testkit::errors::chain(&e);
    assert!(s.contains("Opus"), "{s}");
    assert_eq!(t.requests().len(), 0, "nothing uploaded, nothing sent");
}

#[test]
fn a_large_voice_note_gets_a_note_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.ogg");
    let mut body = opus();
    body.resize(600 * 1024, 0);
    std::fs::write(&path, body).unwrap();
    let t = Scripted::new(|_req, _n| json(500, "{}"));
    let plan = client(&t)
        .plan_send_file(&path, TO, SendOptions::default().voice(true))
        .unwrap();
    let notes = plan.notes();
    assert!(
        matches!(notes, [SendNote::LargeVoiceNote { len }] if *len == 600 * 1024),
        "{notes:?}"
    );
    assert!(notes[0].to_string().contains("download icon"));
    assert!(plan.is_voice());
    assert_eq!(plan.len(), 600 * 1024);
    assert_eq!(t.requests().len(), 0, "a plan sends nothing");
}

// ---- Retries: never send twice. ----

#[tokio::test(start_paused = true)]
async fn throughput_limit_130429_is_backed_off_and_sent_once() {
    let t = refusing_first(1, || {
        with_header(
            json(400, graph_error(130429, "Rate limit hit")),
            "retry-after",
            "3",
        )
    });
    let c = client_with(&t, RetryPolicy::default(), Timeouts::default());
    let start = tokio::time::Instant::now();
    let sent = c.send_media(&image_by_id()).await.unwrap();
    assert_eq!(sent.wamid, WAMID);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
        "Retry-After honoured: {waited:?}"
    );
    assert_eq!(t.count_where(is_send), 2, "one refused, one accepted");
}

#[tokio::test(start_paused = true)]
async fn throughput_limit_without_retry_after_uses_backoff() {
    let t = refusing_first(2, || json(400, graph_error(130429, "Rate limit hit")));
    let c = client(&t);
    c.send_media(&image_by_id()).await.unwrap();
    assert_eq!(t.count_where(is_send), 3);
}

#[tokio::test(start_paused = true)]
async fn pair_rate_limit_131056_is_backed_off_and_sent_once() {
    let t = refusing_first(1, || {
        with_header(
            json(
                400,
                graph_error(
                    131056,
                    "(Business Account, Consumer Account) pair rate limit hit",
                ),
            ),
            "retry-after",
            "2",
        )
    });
    let c = client_with(&t, RetryPolicy::default(), Timeouts::default());
    let start = tokio::time::Instant::now();
    c.send_media(&image_by_id()).await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(t.count_where(is_send), 2);
}

#[tokio::test(start_paused = true)]
async fn http_429_is_retried() {
    let t = refusing_first(1, || status(429, "slow down"));
    client(&t).send_media(&image_by_id()).await.unwrap();
    assert_eq!(t.count_where(is_send), 2);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_that_persists_ends_in_the_graph_error() {
    let t = refusing_first(usize::MAX, || {
        json(400, graph_error(130429, "Rate limit hit"))
    });
    let e = client(&t).send_media(&image_by_id()).await.unwrap_err();
    assert_eq!(t.count_where(is_send), 3, "the policy's 3 attempts");
    assert!(!e.may_have_been_sent(), "Graph refused it: {e}");
    assert_eq!(e.class(), Some(wa_media_types::ErrorClass::RateLimited));
    assert!(e.to_string().contains("throughput"), "hint shown: {e}");
}

#[tokio::test(start_paused = true)]
async fn connect_error_is_retried() {
    let t = refusing_first(2, || {
        Reply::Error(TransportError::new(
            TransportErrorKind::Connect,
            "connection refused",
        ))
    });
    let sent = client(&t).send_media(&image_by_id()).await.unwrap();
    assert_eq!(sent.wamid, WAMID);
    assert_eq!(t.count_where(is_send), 3);
}

#[tokio::test(start_paused = true)]
async fn reset_after_the_body_was_sent_is_maybe_sent_and_not_retried() {
    let t = refusing_first(usize::MAX, || {
        Reply::Error(TransportError::new(
            TransportErrorKind::Request,
            "connection reset by peer",
        ))
    });
    let e = client(&t).send_media(&image_by_id()).await.unwrap_err();
    assert_eq!(
        t.requests().len(),
        1,
        "exactly one request: never sent twice"
    );
    match &e {
        Error::MaybeSent { source } => {
            assert!(matches!(**source, Error::Transport(_)), "{source:?}")
        }
        other => panic!("expected MaybeSent, got {other:?}"),
    }
    assert!(e.may_have_been_sent());
    assert!(!e.is_retryable());
    assert!(!e.request_not_sent());
    let s = e.to_string();
    assert!(s.contains("may have been sent"), "{s}");
    assert!(s.contains("check its status"), "{s}");
    assert_no_secret(&e);
}

#[tokio::test(start_paused = true)]
async fn response_cut_off_is_maybe_sent() {
    let t = refusing_first(usize::MAX, || {
        chunked(
            200,
            vec![bytes::Bytes::from_static(b"{\"messaging_product\":")],
            Some(TransportErrorKind::Interrupted),
            false,
        )
    });
    let e = client(&t).send_media(&image_by_id()).await.unwrap_err();
    assert!(e.may_have_been_sent(), "{e:?}");
    assert_eq!(t.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn timeout_waiting_for_the_answer_is_maybe_sent() {
    let t = refusing_first(usize::MAX, || Reply::Hang);
    let c = client_with(
        &t,
        fast_retry(3),
        Timeouts::default().with_request(Some(Duration::from_secs(5))),
    );
    let e = c.send_media(&image_by_id()).await.unwrap_err();
    match &e {
        Error::MaybeSent { source } => assert!(
            matches!(
                **source,
                Error::Timeout {
                    kind: TimeoutKind::Request,
                    ..
                }
            ),
            "{source:?}"
        ),
        other => panic!("expected MaybeSent, got {other:?}"),
    }
    assert_eq!(t.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn server_error_is_maybe_sent_and_not_retried() {
    for reply in [
        || status(500, ""),
        || status(503, "<html>Service Unavailable</html>"),
        || json(500, graph_error(131000, "Something went wrong")),
    ] {
        let t = refusing_first(usize::MAX, reply);
        let e = client(&t).send_media(&image_by_id()).await.unwrap_err();
        assert!(e.may_have_been_sent(), "{e:?}");
        assert!(e.status().unwrap().is_server_error());
        assert_eq!(t.requests().len(), 1, "5xx is never retried for a send");
    }
}

#[tokio::test(start_paused = true)]
async fn unreadable_success_answer_is_maybe_sent() {
    let t = refusing_first(usize::MAX, || status(200, "<html>proxy</html>"));
    let e = client(&t).send_media(&image_by_id()).await.unwrap_err();
    assert!(e.may_have_been_sent(), "{e:?}");
    assert_eq!(t.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn messaging_refusals_are_returned_with_their_hint() {
    for (code, hint) in [
        (131047, "template"),
        (131026, "undeliverable"),
        (131009, "parameter"),
        (368, "blocked"),
        (131053, "MIME type"),
    ] {
        let t = refusing_first(usize::MAX, move || json(400, graph_error(code, "refused")));
        let e = client(&t).send_media(&image_by_id()).await.unwrap_err();
        assert_eq!(t.requests().len(), 1, "code {code} is not retried");
        assert!(!e.may_have_been_sent(), "{code}: {e}");
        let s = e.to_string();
        assert!(s.contains("send failed with HTTP 400"), "{s}");
        assert!(s.contains(hint), "code {code}: {s}");
    }
}

#[tokio::test]
async fn sending_needs_the_phone_number_id() {
    let t = accepting();
    let c = MediaClient::builder(t.clone())
        .token(TOKEN)
        .build()
        .unwrap();
    let e = c.send_media(&image_by_id()).await.unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert_eq!(t.requests().len(), 0);
}

// ---- send_file ----

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    b.resize(2048, 0);
    b
}

fn opus() -> Vec<u8> {
    let mut b = b"OggS\0\x02\0\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    b.push(1); // one segment
    b.push(19); // of 19 bytes
    b.extend_from_slice(b"OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0");
    b.resize(4096, 0);
    b
}

fn mp3() -> Vec<u8> {
    let mut b = b"ID3\x04\0\0\0\0\0\0".to_vec();
    b.resize(4096, 0);
    b
}

#[tokio::test]
async fn send_file_uploads_then_sends_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, png()).unwrap();
    let t = accepting();
    let (id, sent) = client(&t)
        .send_file(
            &path,
            "+1 555 123 4567",
            SendOptions::default().caption("Hi"),
        )
        .await
        .unwrap();
    assert_eq!(id.as_str(), MEDIA);
    assert_eq!(sent.wamid, WAMID);
    let reqs = t.requests();
    assert_eq!(reqs.len(), 2);
    assert!(is_upload(&reqs[0]), "{}", reqs[0].uri);
    let upload = String::from_utf8_lossy(&reqs[0].body);
    assert!(upload.contains("Content-Type: image/png"), "MIME sniffed");
    assert!(is_send(&reqs[1]));
    let body: serde_json::Value = serde_json::from_slice(&reqs[1].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
            "type": "image", "image": {"id": MEDIA, "caption": "Hi"}
        })
    );
}

#[tokio::test]
async fn send_file_voice_note_and_document_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let voice = dir.path().join("note.ogg");
    std::fs::write(&voice, opus()).unwrap();
    let t = accepting();
    let c = client(&t);
    c.send_file(&voice, TO, SendOptions::default().voice(true))
        .await
        .unwrap();
    let reqs = t.requests();
    let upload = String::from_utf8_lossy(&reqs[0].body);
    assert!(
        upload.contains("audio/ogg; codecs=opus"),
        "codec kept: {upload:.400}"
    );
    let body: serde_json::Value = serde_json::from_slice(&reqs[1].body).unwrap();
    assert_eq!(body["type"], "audio");
    assert_eq!(
        body["audio"],
        serde_json::json!({"id": MEDIA, "voice": true})
    );

    let pdf = dir.path().join("Invoice 2031.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n").unwrap();
    c.send_file(&pdf, TO, SendOptions::default().reply_to("wamid.PREV"))
        .await
        .unwrap();
    let reqs = t.requests();
    let body: serde_json::Value = serde_json::from_slice(&reqs[3].body).unwrap();
    assert_eq!(body["type"], "document");
    assert_eq!(
        body["document"]["filename"], "Invoice 2031.pdf",
        "the file's name by default"
    );
    assert_eq!(body["context"]["message_id"], "wamid.PREV");
}

#[tokio::test(start_paused = true)]
async fn send_file_failing_after_the_upload_returns_the_media_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, png()).unwrap();
    let t = Scripted::new(|r, _| {
        if is_upload(r) {
            json(200, format!(r#"{{"id":"{MEDIA}"}}"#))
        } else {
            json(400, graph_error(131047, "Re-engagement message"))
        }
    });
    let e = client(&t)
        .send_file(&path, TO, SendOptions::default())
        .await
        .unwrap_err();
    match &e {
        SendFileError::Send { media_id, source } => {
            assert_eq!(media_id.as_str(), MEDIA);
            assert!(matches!(source, Error::Api(_)), "{source:?}");
        }
        other => panic!("expected SendFileError::Send, got {other:?}"),
    }
    assert_eq!(e.media_id().map(|m| m.as_str()), Some(MEDIA));
    let s = wa_media_testkit::errors::chain(&e);
    assert!(s.contains(MEDIA) && s.contains("uploaded"), "{s}");
    assert!(s.contains("instead of uploading again"), "{s}");
    assert!(s.contains("template"), "{s}");
    assert_eq!(t.count_where(is_upload), 1, "uploaded once");
    assert_eq!(t.count_where(is_send), 1, "sent once");
    assert_no_secret(e.error().unwrap());
}

#[tokio::test(start_paused = true)]
async fn send_file_that_may_have_been_sent_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, png()).unwrap();
    let t = Scripted::new(|r, _| {
        if is_upload(r) {
            json(200, format!(r#"{{"id":"{MEDIA}"}}"#))
        } else {
            Reply::Error(TransportError::new(
                TransportErrorKind::Request,
                "connection reset by peer",
            ))
        }
    });
    let e = client(&t)
        .send_file(&path, TO, SendOptions::default())
        .await
        .unwrap_err();
    assert!(e.error().unwrap().may_have_been_sent());
    assert!(
        e.to_string().contains("check the message's statuses"),
        "{e}"
    );
    assert_eq!(t.count_where(is_send), 1);
}

#[tokio::test(start_paused = true)]
async fn send_file_upload_failure_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, png()).unwrap();
    let t = Scripted::new(|_, _| json(400, graph_error(100, "Param file must be a file")));
    let e = client(&t)
        .send_file(&path, TO, SendOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, SendFileError::Upload(_)), "{e:?}");
    assert_eq!(e.media_id(), None);
    assert_eq!(t.count_where(is_send), 0);
}

#[tokio::test]
async fn send_file_of_unknown_content_asks_for_a_mime_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob.bin");
    std::fs::write(&path, [0u8, 1, 2, 3, 0xff, 0xfe]).unwrap();
    let t = accepting();
    let e = client(&t)
        .send_file(&path, TO, SendOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SendFileError::Validation(SendValidationError::UnknownFileType)
        ),
        "{e:?}"
    );
    assert_eq!(t.requests().len(), 0);
}

#[tokio::test]
async fn send_file_checks_the_media_against_the_kind_before_uploading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, png()).unwrap();
    let t = accepting();
    let e = client(&t)
        .send_file(&path, TO, SendOptions::default().kind(MediaKind::Video))
        .await
        .unwrap_err();
    assert!(
        matches!(e, SendFileError::Validation(SendValidationError::Media(_))),
        "{e:?}"
    );
    assert_eq!(t.requests().len(), 0);
}

// ---- Secrets ----

#[tokio::test(start_paused = true)]
async fn the_token_never_appears_in_send_errors() {
    let echo = format!(
        r#"{{"error":{{"message":"bad token Bearer {TOKEN}","code":131009,"error_data":{{"details":"{TOKEN}"}},"fbtrace_id":"{TOKEN}"}}}}"#
    );
    for status_code in [400u16, 500, 429] {
        let body = echo.clone();
        let t = Scripted::new(move |_, _| {
            with_header(json(status_code, body.clone()), "x-fb-debug", TOKEN)
        });
        let e = client(&t).send_media(&image_by_id()).await.unwrap_err();
        assert_no_secret(&e);
        if status_code == 500 {
            assert!(e.may_have_been_sent());
        }
    }
    // And a 2xx answer that cannot be read, echoing the token.
    let t = Scripted::new(|_, _| json(200, format!("<html>{TOKEN}</html>")));
    let e = client(&t).send_media(&image_by_id()).await.unwrap_err();
    assert!(e.may_have_been_sent());
    assert_no_secret(&e);
    // send_file's errors too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.png");
    std::fs::write(&path, png()).unwrap();
    let body = echo.clone();
    let t = Scripted::new(move |r, _| {
        if is_upload(r) {
            json(200, format!(r#"{{"id":"{MEDIA}"}}"#))
        } else {
            json(400, body.clone())
        }
    });
    let e = client(&t)
        .send_file(&path, TO, SendOptions::default())
        .await
        .unwrap_err();
    let s = format!("{e} | {e:?}");
    assert!(!s.contains(TOKEN), "{s}");
}
