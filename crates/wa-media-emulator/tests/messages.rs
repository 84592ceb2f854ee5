//! The messages endpoint over real sockets: media messages by id and by link for every kind,
//! each refusal answered with Graph's envelope, the statuses delivered signed and in order to a
//! real receiver (`played` for voice notes, callback data echoed), the delivery faults (131026,
//! 131053), the throughput (130429) and pair (131056) limits, the request log and the list of
//! sent messages.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::receiver::{receiver, Receiver};
use common::*;
use http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use wa_media_emulator::{
    Emulator, EmulatorBuilder, EmulatorHandle, Endpoint, Fault, ManualClock, Origin, WebhookTarget,
};

const SECRET: &str = "status-secret";
const TO: &str = "15551234567";

fn builder_for(r: &Receiver) -> EmulatorBuilder {
    let mut target = WebhookTarget::new(r.url.clone(), SECRET);
    target.retry_delay = Duration::from_millis(10);
    Emulator::builder()
        .webhook_target(target)
        .status_delay(Duration::from_millis(2))
        .clock(Arc::new(ManualClock::starting_now()))
}

async fn with_receiver() -> (Receiver, EmulatorHandle) {
    let r = receiver(vec![]).await;
    let emu = builder_for(&r).start().await.expect("emulator starts");
    (r, emu)
}

fn message_request(
    emu: &EmulatorHandle,
    token: Option<&str>,
    phone: &str,
    body: impl Into<bytes::Bytes>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/{VERSION}/{phone}/messages", emu.graph_url()))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, UA);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, bearer(t));
    }
    b.body(full(body)).expect("request")
}

async fn send_message(c: &HttpClient, emu: &EmulatorHandle, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).expect("json");
    send(c, message_request(emu, Some(emu.token()), PHONE, bytes)).await
}

/// A media message body: `media` is the object under the `kind` key.
fn message(kind: &str, media: Value) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": TO,
        "type": kind,
        kind: media,
    })
}

/// Sends and asserts Meta's success shape; returns the wamid.
async fn send_ok(c: &HttpClient, emu: &EmulatorHandle, body: &Value) -> String {
    let r = send_message(c, emu, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.text()
            .starts_with(r#"{"messaging_product":"whatsapp","contacts":[{"input":"#),
        "Meta's field order: {}",
        r.text()
    );
    let v = r.json();
    assert_eq!(v["messaging_product"], "whatsapp");
    assert_eq!(v["contacts"][0]["input"], body["to"]);
    assert_eq!(
        v["contacts"][0]["wa_id"].as_str().unwrap(),
        body["to"]
            .as_str()
            .unwrap()
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    );
    let wamid = v["messages"][0]["id"].as_str().expect("wamid").to_owned();
    assert!(wamid.starts_with("wamid.") && wamid.len() > 20, "{wamid}");
    wamid
}

/// Asserts a Graph refusal with `status` and `code` whose message or details contain `names`.
fn assert_refused(r: &Reply, status: StatusCode, code: i64, names: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let e = r.graph_error();
    assert_eq!(e["code"], code, "{e}");
    let text = format!("{} {}", e["message"], e["error_data"]["details"]);
    assert!(text.contains(names), "{names:?} not named in {text}");
}

/// The statuses of `wamid` the receiver got, in arrival order: (status, the status object).
fn statuses_of(r: &Receiver, wamid: &str) -> Vec<(String, Value)> {
    r.received()
        .iter()
        .map(|d| d.json())
        .filter_map(|v| {
            let s = v["entry"][0]["changes"][0]["value"]["statuses"][0].clone();
            (s["id"] == wamid).then(|| (s["status"].as_str().unwrap_or("").to_owned(), s))
        })
        .collect()
}

/// The `contacts` of each status notification of `wamid` (`Null` when absent), in order.
fn status_contacts(r: &Receiver, wamid: &str) -> Vec<Value> {
    r.received()
        .iter()
        .map(|d| d.json())
        .filter(|v| v["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] == wamid)
        .map(|v| v["entry"][0]["changes"][0]["value"]["contacts"].clone())
        .collect()
}

/// Waits (bounded) for `n` statuses of `wamid` at the receiver.
async fn until_statuses(r: &Receiver, wamid: &str, n: usize) -> Vec<(String, Value)> {
    for _ in 0..1000 {
        let s = statuses_of(r, wamid);
        if s.len() >= n {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("statuses of {wamid}: {:?}", statuses_of(r, wamid));
}

fn names(s: &[(String, Value)]) -> Vec<&str> {
    s.iter().map(|(n, _)| n.as_str()).collect()
}

#[tokio::test]
async fn every_kind_is_sent_by_id_and_by_link() {
    let emu = Emulator::builder().start().await.unwrap();
    let c = client();
    let cases: [(&str, &str, &str, Value); 5] = [
        (
            "image",
            "image/png",
            "image.png",
            json!({"caption": "a picture"}),
        ),
        (
            "video",
            "video/mp4",
            "video.mp4",
            json!({"caption": "a film"}),
        ),
        ("audio", "audio/mpeg", "audio.mp3", json!({})),
        (
            "document",
            "application/pdf",
            "document.pdf",
            json!({"caption": "the invoice", "filename": "invoice.pdf"}),
        ),
        ("sticker", "image/webp", "sticker.webp", json!({})),
    ];
    let mut expected = Vec::new();
    for (kind, mime, file, extra) in cases {
        let id = upload_ok(&c, &emu, mime, &fixture(file)).await;
        let mut by_id = extra.clone();
        by_id["id"] = json!(id);
        let w1 = send_ok(&c, &emu, &message(kind, by_id)).await;
        let mut by_link = extra.clone();
        by_link["link"] = json!(format!("https://example.com/media/{file}"));
        let w2 = send_ok(&c, &emu, &message(kind, by_link)).await;
        expected.push((w1, kind, Some(id), None, extra.clone()));
        expected.push((
            w2,
            kind,
            None,
            Some(format!("https://example.com/media/{file}")),
            extra,
        ));
    }
    let sent = emu.sent_messages();
    assert_eq!(sent.len(), expected.len());
    for (m, (wamid, kind, id, link, extra)) in sent.iter().zip(&expected) {
        assert_eq!(&m.wamid, wamid);
        assert_eq!(m.kind, *kind);
        assert_eq!(&m.media_id, id);
        assert_eq!(&m.link, link);
        assert_eq!(m.caption.as_deref(), extra["caption"].as_str());
        assert_eq!(m.filename.as_deref(), extra["filename"].as_str());
        assert_eq!(m.to, TO);
        assert_eq!(m.wa_id, TO);
        assert_eq!(m.phone_number_id, PHONE);
        assert!(!m.voice);
    }
    // `to` with a +, spaces and dashes: answered as sent, normalised in wa_id.
    let id = upload_ok(&c, &emu, "image/png", &fixture("image.png")).await;
    let mut body = message("image", json!({ "id": id }));
    body["to"] = json!("+1 555-123-4567");
    send_ok(&c, &emu, &body).await;
    // The type in any case; the media object under its lowercase name.
    body["type"] = json!("IMAGE");
    send_ok(&c, &emu, &body).await;
    assert_eq!(emu.sent_messages().last().unwrap().kind, "image");
    emu.shutdown().await;
}

#[tokio::test]
async fn refusals_answer_graph_errors_naming_the_field() {
    let emu = Emulator::builder()
        .phone_number_id(Some(PHONE.parse().unwrap()))
        .start()
        .await
        .unwrap();
    let c = client();
    let image = upload_ok(&c, &emu, "image/png", &fixture("image.png")).await;
    let good = message("image", json!({ "id": image }));
    let bytes = serde_json::to_vec(&good).unwrap();

    // The token and the phone number id.
    let r = send(&c, message_request(&emu, None, PHONE, bytes.clone())).await;
    assert_refused(&r, StatusCode::UNAUTHORIZED, 190, "access token");
    let r = send(
        &c,
        message_request(&emu, Some("wrong"), PHONE, bytes.clone()),
    )
    .await;
    assert_refused(&r, StatusCode::UNAUTHORIZED, 190, "access token");
    let r = send(
        &c,
        message_request(&emu, Some(emu.token()), "999999999", bytes),
    )
    .await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 100, "999999999");
    let r = send(
        &c,
        message_request(&emu, Some(emu.token()), PHONE, "{not json"),
    )
    .await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 100, "JSON");

    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    let cases: Vec<(Value, i64, &str)> = vec![
        (
            with(&|v| {
                v.as_object_mut().unwrap().remove("messaging_product");
            }),
            100,
            "messaging_product",
        ),
        (
            with(&|v| v["messaging_product"] = json!("sms")),
            100,
            "messaging_product",
        ),
        (
            with(&|v| v["recipient_type"] = json!("group")),
            100,
            "recipient_type",
        ),
        (
            with(&|v| {
                v.as_object_mut().unwrap().remove("to");
            }),
            100,
            "to",
        ),
        (with(&|v| v["to"] = json!("call me")), 131009, "to"),
        (with(&|v| v["to"] = json!("123")), 131009, "to"),
        (
            with(&|v| {
                v.as_object_mut().unwrap().remove("type");
            }),
            100,
            "type",
        ),
        (with(&|v| v["type"] = json!("hologram")), 100, "type"),
        (with(&|v| v["type"] = json!("video")), 100, "video"),
        (with(&|v| v["image"] = json!("not an object")), 100, "image"),
        (
            with(&|v| v["image"] = json!({})),
            100,
            "image['id'] or image['link']",
        ),
        (
            with(&|v| v["image"]["link"] = json!("https://example.com/a.png")),
            100,
            "image['link']",
        ),
        (
            message("image", json!({"link": "http://example.com/a.png"})),
            131009,
            "image['link']",
        ),
        (
            message("image", json!({"link": "not a url"})),
            131009,
            "image['link']",
        ),
        (
            with(&|v| v["image"]["caption"] = json!("x".repeat(1025))),
            131009,
            "image['caption']",
        ),
        (
            with(&|v| v["image"]["filename"] = json!("a.png")),
            100,
            "image['filename']",
        ),
        (
            with(&|v| v["image"]["voice"] = json!(true)),
            100,
            "image['voice']",
        ),
        (
            message(
                "audio",
                json!({"link": "https://example.com/a.mp3", "caption": "hi"}),
            ),
            100,
            "audio['caption']",
        ),
        (
            message(
                "sticker",
                json!({"link": "https://example.com/a.webp", "caption": "hi"}),
            ),
            100,
            "sticker['caption']",
        ),
        (
            message(
                "audio",
                json!({"link": "https://example.com/a.mp3", "voice": "yes"}),
            ),
            100,
            "audio['voice']",
        ),
        (
            with(&|v| v["context"] = json!({})),
            100,
            "context['message_id']",
        ),
        (
            with(&|v| v["biz_opaque_callback_data"] = json!("x".repeat(513))),
            131009,
            "biz_opaque_callback_data",
        ),
        // Unknown ids: never uploaded, not a media id at all.
        (
            message("image", json!({"id": "1234567890123456"})),
            100,
            "image['id']",
        ),
        (
            message("image", json!({"id": "../etc"})),
            100,
            "image['id']",
        ),
    ];
    for (body, code, field) in &cases {
        let r = send_message(&c, &emu, body).await;
        let status = StatusCode::BAD_REQUEST;
        assert_refused(&r, status, *code, field);
    }
    assert!(emu.sent_messages().is_empty(), "nothing refused was sent");

    // One log entry per request, endpoint Messages, the token never in it.
    let log: Vec<_> = emu
        .request_log()
        .into_iter()
        .filter(|l| l.endpoint == Some(Endpoint::Messages))
        .collect();
    assert_eq!(log.len(), cases.len() + 4);
    let printed = format!("{log:?}");
    assert!(!printed.contains(emu.token()) && !printed.contains("wrong"));
    emu.shutdown().await;
}

#[tokio::test]
async fn media_ids_must_be_unexpired_and_fit_the_type() {
    let emu = Emulator::builder().start().await.unwrap();
    let c = client();
    let image = upload_ok(&c, &emu, "image/png", &fixture("image.png")).await;
    let mp3 = upload_ok(&c, &emu, "audio/mpeg", &fixture("audio.mp3")).await;
    let sticker = upload_ok(&c, &emu, "image/webp", &fixture("sticker.webp")).await;

    // An image id sent as audio, a WebP sent as an image, an MP3 sent as a voice note: the
    // media upload error Graph gives for media that does not fit.
    for (kind, media, names) in [
        ("audio", json!({ "id": image }), "image/png"),
        ("image", json!({ "id": sticker }), "image/webp"),
        ("audio", json!({ "id": mp3, "voice": true }), "voice note"),
        ("sticker", json!({ "id": image }), "sticker"),
    ] {
        let r = send_message(&c, &emu, &message(kind, media)).await;
        assert_refused(&r, StatusCode::BAD_REQUEST, 131053, names);
    }
    // Any media can be sent as a document.
    send_ok(&c, &emu, &message("document", json!({ "id": image }))).await;

    // Uploaded ids live 30 days.
    emu.advance_clock(Duration::from_secs(30 * 24 * 60 * 60))
        .unwrap();
    let r = send_message(&c, &emu, &message("image", json!({ "id": image }))).await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 100, "image['id']");
    assert_eq!(emu.sent_messages().len(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn statuses_arrive_signed_and_in_order() {
    let (r, emu) = with_receiver().await;
    let c = client();
    let image = upload_ok(&c, &emu, "image/png", &fixture("image.png")).await;
    let mut body = message("image", json!({ "id": image, "caption": "café" }));
    body["biz_opaque_callback_data"] = json!("order-1043 ✓");
    body["context"] = json!({ "message_id": "wamid.earlier" });
    let wamid = send_ok(&c, &emu, &body).await;
    let statuses = until_statuses(&r, &wamid, 3).await;
    assert_eq!(names(&statuses), ["sent", "delivered", "read"]);
    for d in r.received() {
        assert!(
            std::str::from_utf8(&d.body).unwrap().is_ascii(),
            "escaped like Meta"
        );
        assert_eq!(d.content_type.as_deref(), Some("application/json"));
        let sig = d.signature.clone().expect("signed");
        wa_media_types::verify_signature(SECRET.as_bytes(), &d.body, &sig).unwrap();
        let v = d.json();
        assert_eq!(v["object"], "whatsapp_business_account");
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(v["entry"][0]["changes"][0]["field"], "messages");
        assert_eq!(value["metadata"]["phone_number_id"], PHONE);
    }
    let ts = emu
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    for (name, s) in &statuses {
        assert_eq!(s["recipient_id"], TO);
        assert_eq!(s["timestamp"], ts.as_str(), "the emulator clock");
        assert_eq!(s["biz_opaque_callback_data"], "order-1043 ✓");
        let billed = name != "read";
        assert_eq!(
            s["conversation"]["origin"]["type"].is_string(),
            billed,
            "{s}"
        );
        assert_eq!(s["pricing"]["category"].is_string(), billed, "{s}");
    }
    let sent = emu.sent_messages();
    assert_eq!(sent[0].reply_to.as_deref(), Some("wamid.earlier"));
    assert_eq!(sent[0].statuses, ["sent", "delivered", "read"]);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_voice_note_is_played() {
    let (r, emu) = with_receiver().await;
    let c = client();
    let voice = upload_ok(&c, &emu, "audio/ogg; codecs=opus", &fixture("voice.ogg")).await;
    let wamid = send_ok(
        &c,
        &emu,
        &message("audio", json!({ "id": voice, "voice": true })),
    )
    .await;
    let statuses = until_statuses(&r, &wamid, 4).await;
    assert_eq!(names(&statuses), ["sent", "delivered", "read", "played"]);
    assert!(statuses
        .iter()
        .all(|(_, s)| s.get("biz_opaque_callback_data").is_none()));
    // Plain audio is never played.
    let mp3 = upload_ok(&c, &emu, "audio/mpeg", &fixture("audio.mp3")).await;
    let wamid = send_ok(&c, &emu, &message("audio", json!({ "id": mp3 }))).await;
    until_statuses(&r, &wamid, 3).await;
    // Each status is recorded before it is delivered: once `read` is in, all are listed.
    let m = &emu.sent_messages()[1];
    assert_eq!(m.statuses, ["sent", "delivered", "read"]);
    assert!(!m.voice && emu.sent_messages()[0].voice);
    emu.shutdown().await;
}

#[tokio::test]
async fn delivery_faults_give_failed_statuses() {
    let (r, emu) = with_receiver().await;
    let c = client();
    emu.faults()
        .push(Endpoint::Messages, Fault::Undeliverable, 1);
    let mut body = message("image", json!({ "link": "https://example.com/a.png" }));
    body["biz_opaque_callback_data"] = json!("cb-1");
    let wamid = send_ok(&c, &emu, &body).await;
    let s = until_statuses(&r, &wamid, 1).await;
    assert_eq!(names(&s), ["failed"]);
    assert_eq!(s[0].1["errors"][0]["code"], 131026);
    assert_eq!(s[0].1["biz_opaque_callback_data"], "cb-1");

    // Over HTTP, with the details given.
    let a = admin_post(
        &c,
        &emu,
        "/__emulator/faults",
        json!({"endpoint": "messages", "fault": {"kind": "media_delivery_failed",
               "details": "Unsupported Audio mime type audio/opus."}}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let wamid = send_ok(
        &c,
        &emu,
        &message("audio", json!({ "link": "https://example.com/a.opus" })),
    )
    .await;
    let s = until_statuses(&r, &wamid, 1).await;
    assert_eq!(names(&s), ["failed"]);
    let e = &s[0].1["errors"][0];
    assert_eq!(e["code"], 131053);
    assert_eq!(e["title"], "Media upload error");
    assert_eq!(
        e["error_data"]["details"],
        "Unsupported Audio mime type audio/opus."
    );
    // The default details of a link.
    emu.faults().push(
        Endpoint::Messages,
        Fault::MediaDeliveryFailed { details: None },
        1,
    );
    let wamid = send_ok(
        &c,
        &emu,
        &message(
            "document",
            json!({ "link": "https://example.com/gone.pdf" }),
        ),
    )
    .await;
    let s = until_statuses(&r, &wamid, 1).await;
    let details = s[0].1["errors"][0]["error_data"]["details"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        details.contains("weblink failed with http code 404"),
        "{details}"
    );

    // The next message is delivered normally.
    let wamid = send_ok(
        &c,
        &emu,
        &message("image", json!({ "link": "https://example.com/b.png" })),
    )
    .await;
    assert_eq!(
        names(&until_statuses(&r, &wamid, 3).await),
        ["sent", "delivered", "read"]
    );
    let faults: Vec<_> = emu
        .request_log()
        .into_iter()
        .filter(|l| l.endpoint == Some(Endpoint::Messages))
        .map(|l| l.fault)
        .collect();
    assert_eq!(
        faults,
        [
            Some("undeliverable".to_owned()),
            Some("media_delivery_failed".to_owned()),
            Some("media_delivery_failed".to_owned()),
            None
        ]
    );
    // These faults apply to the messages endpoint only; the others apply to it too.
    for bad in [Endpoint::Upload, Endpoint::Download, Endpoint::Webhook] {
        assert!(emu.faults().try_push(bad, Fault::Undeliverable, 1).is_err());
        assert!(emu
            .faults()
            .try_push(bad, Fault::PairRateLimited, 1)
            .is_err());
    }
    assert!(emu
        .faults()
        .try_push(Endpoint::Messages, Fault::DeliverTimes { times: 2 }, 1)
        .is_err());
    assert!(emu
        .faults()
        .try_push(
            Endpoint::Messages,
            Fault::MediaDeliveryFailed {
                details: Some("x".repeat(1025))
            },
            1
        )
        .is_err());
    emu.shutdown().await;
}

#[tokio::test]
async fn graph_faults_apply_to_the_messages_endpoint() {
    let emu = Emulator::builder().start().await.unwrap();
    let c = client();
    let body = message("image", json!({ "link": "https://example.com/a.png" }));
    emu.faults().push(
        Endpoint::Messages,
        Fault::RateLimited {
            retry_after_secs: 3,
        },
        1,
    );
    emu.faults()
        .push(Endpoint::Messages, Fault::PairRateLimited, 1);
    emu.faults()
        .push(Endpoint::Messages, Fault::ServerError { status: 503 }, 1);
    let r = send_message(&c, &emu, &body).await;
    assert_refused(&r, StatusCode::TOO_MANY_REQUESTS, 130429, "throughput");
    assert_eq!(r.headers[header::RETRY_AFTER], "3");
    let r = send_message(&c, &emu, &body).await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 131056, "same phone number");
    let r = send_message(&c, &emu, &body).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), 2);
    assert!(emu.sent_messages().is_empty(), "nothing processed");

    // A reset mid-body: the message was accepted, the answer cut off.
    emu.faults()
        .push(Endpoint::Messages, Fault::ResetMidBody, 1);
    let req = message_request(
        &emu,
        Some(emu.token()),
        PHONE,
        serde_json::to_vec(&body).unwrap(),
    );
    let cut_off = match c.request(req).await {
        Err(_) => true,
        Ok(resp) => http_body_util::BodyExt::collect(resp.into_body())
            .await
            .is_err(),
    };
    assert!(cut_off, "the answer is cut off");
    assert_eq!(emu.sent_messages().len(), 1, "the message was sent once");
    let logged: Vec<_> = emu
        .request_log()
        .into_iter()
        .filter(|l| l.endpoint == Some(Endpoint::Messages))
        .map(|l| (l.origin, l.fault))
        .collect();
    assert_eq!(logged.len(), 4);
    assert!(logged.iter().all(|(o, _)| *o == Origin::Graph));
    assert_eq!(logged[3].1.as_deref(), Some("reset_mid_body"));
    emu.shutdown().await;
}

#[tokio::test]
async fn the_throughput_limit_answers_130429() {
    let clock = Arc::new(ManualClock::starting_now());
    let emu = Emulator::builder()
        .message_throughput(2)
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let c = client();
    let mut body = message("image", json!({ "link": "https://example.com/a.png" }));
    for to in ["15550000001", "15550000002"] {
        body["to"] = json!(to);
        send_ok(&c, &emu, &body).await;
    }
    body["to"] = json!("15550000003");
    let r = send_message(&c, &emu, &body).await;
    assert_refused(&r, StatusCode::TOO_MANY_REQUESTS, 130429, "throughput");
    assert_eq!(r.headers[header::RETRY_AFTER], "1");
    // Per phone number: another number is not limited.
    let bytes = serde_json::to_vec(&body).unwrap();
    let r = send(
        &c,
        message_request(&emu, Some(emu.token()), "106540352242999", bytes),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A second later there is room again.
    clock.advance(Duration::from_secs(1));
    send_ok(&c, &emu, &body).await;
    assert_eq!(emu.sent_messages().len(), 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_pair_rate_limit_answers_131056() {
    let clock = Arc::new(ManualClock::starting_now());
    let emu = Emulator::builder()
        .pair_rate_limit(1, Duration::from_secs(6))
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let c = client();
    let mut body = message("image", json!({ "link": "https://example.com/a.png" }));
    send_ok(&c, &emu, &body).await;
    // The same recipient, however `to` is written.
    body["to"] = json!("+1 555 123 4567");
    let r = send_message(&c, &emu, &body).await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 131056, "pair rate limit");
    // Another recipient is not limited.
    body["to"] = json!("15557654321");
    send_ok(&c, &emu, &body).await;
    clock.advance(Duration::from_secs(6));
    body["to"] = json!(TO);
    send_ok(&c, &emu, &body).await;
    assert_eq!(emu.sent_messages().len(), 3);
    // Invalid limits are refused at start.
    for b in [
        Emulator::builder().message_throughput(0),
        Emulator::builder().pair_rate_limit(0, Duration::from_secs(1)),
        Emulator::builder().pair_rate_limit(1, Duration::ZERO),
        Emulator::builder().status_delay(Duration::from_secs(61)),
    ] {
        assert!(b.start().await.is_err());
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn sent_messages_are_listed_over_http_and_the_log_has_one_entry_each() {
    let (r, emu) = with_receiver().await;
    let c = client();
    let doc = upload_ok(&c, &emu, "application/pdf", &fixture("document.pdf")).await;
    let mut body = message("document", json!({ "id": doc, "filename": "invoice.pdf" }));
    body["biz_opaque_callback_data"] = json!("cb");
    let wamid = send_ok(&c, &emu, &body).await;
    until_statuses(&r, &wamid, 3).await;
    let listed = send(&c, graph_get(&emu, "/__emulator/messages", None)).await;
    assert_eq!(listed.status, StatusCode::OK);
    let v = listed.json();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["wamid"], wamid.as_str());
    assert_eq!(v[0]["media_id"], doc.as_str());
    assert_eq!(v[0]["filename"], "invoice.pdf");
    assert_eq!(v[0]["biz_opaque_callback_data"], "cb");
    assert_eq!(v[0]["statuses"], json!(["sent", "delivered", "read"]));
    let messages: Vec<_> = emu
        .request_log()
        .into_iter()
        .filter(|l| l.endpoint == Some(Endpoint::Messages))
        .collect();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].method, "POST");
    assert_eq!(messages[0].path, format!("/{VERSION}/{PHONE}/messages"));
    assert!(messages[0].authorized && messages[0].has_header("authorization"));
    // The receiver records a delivery before it answers, the log after the answer: wait.
    let webhook = || {
        emu.request_log()
            .into_iter()
            .filter(|l| l.origin == Origin::Webhook)
            .count()
    };
    for _ in 0..500 {
        if webhook() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(webhook(), 3, "one delivery per status");
    let cleared = Request::builder()
        .method(Method::DELETE)
        .uri(format!("{}/__emulator/messages", emu.graph_url()))
        .body(full(bytes::Bytes::new()))
        .unwrap();
    assert_eq!(send(&c, cleared).await.status, StatusCode::OK);
    assert!(emu.sent_messages().is_empty());
    emu.shutdown().await;
}

const BSUID: &str = "US.13491208655302741918";
const PARENT: &str = "US.ENT.11815799212886844830";

/// A media message body addressed by `recipient` (no `to`).
fn to_bsuid(recipient: &str, kind: &str, media: Value) -> Value {
    let mut v = message(kind, media);
    v.as_object_mut().unwrap().remove("to");
    v["recipient"] = json!(recipient);
    v
}

/// Sends, asserts 200 and answers (the answer's `contacts[0]`, the wamid).
async fn send_ok_to(c: &HttpClient, emu: &EmulatorHandle, body: &Value) -> (Value, String) {
    let r = send_message(c, emu, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let wamid = v["messages"][0]["id"].as_str().expect("wamid").to_owned();
    assert!(wamid.starts_with("wamid."), "{wamid}");
    (v["contacts"][0].clone(), wamid)
}

#[tokio::test]
async fn a_message_to_a_bsuid_is_answered_listed_and_its_statuses_name_the_bsuid() {
    let (r, emu) = with_receiver().await;
    let c = client();
    let image = upload_ok(&c, &emu, "image/png", &fixture("image.png")).await;

    // To a BSUID: contacts[0] has input and user_id, no wa_id.
    let (contact, w1) =
        send_ok_to(&c, &emu, &to_bsuid(BSUID, "image", json!({ "id": image }))).await;
    assert_eq!(contact, json!({"input": BSUID, "user_id": BSUID}));

    // With both, `to` wins: a phone send, whose statuses also name the phone's BSUID.
    let mut both = message("image", json!({ "id": image }));
    both["recipient"] = json!(BSUID);
    let (contact, w2) = send_ok_to(&c, &emu, &both).await;
    assert_eq!(contact, json!({"input": TO, "wa_id": TO}));

    // To a parent BSUID: the user behind it (same country code, not a parent).
    let (contact, w3) =
        send_ok_to(&c, &emu, &to_bsuid(PARENT, "image", json!({ "id": image }))).await;
    assert_eq!(contact["input"], PARENT);
    let child = contact["user_id"].as_str().unwrap().to_owned();
    assert!(
        child.starts_with("US.") && !child.contains("ENT") && child.len() > 3,
        "{child}"
    );
    assert!(contact.get("wa_id").is_none());

    // The list records the recipient (and `to`).
    let sent = emu.sent_messages();
    assert_eq!(sent.len(), 3);
    assert_eq!(
        (
            sent[0].recipient.as_deref(),
            sent[0].to.as_str(),
            sent[0].user_id.as_str()
        ),
        (Some(BSUID), "", BSUID)
    );
    assert_eq!(sent[0].wa_id, "");
    assert_eq!(
        (
            sent[1].recipient.as_deref(),
            sent[1].to.as_str(),
            sent[1].wa_id.as_str()
        ),
        (Some(BSUID), TO, TO)
    );
    let phone_bsuid = wa_media_emulator::simulated_user_id(TO);
    assert_eq!(sent[1].user_id, phone_bsuid);
    assert_eq!(sent[2].recipient.as_deref(), Some(PARENT));
    let listed = send(&c, graph_get(&emu, "/__emulator/messages", None))
        .await
        .json();
    assert_eq!(listed[0]["recipient"], BSUID);
    assert_eq!(listed[0]["to"], Value::Null);
    assert_eq!(listed[0]["wa_id"], Value::Null);
    assert_eq!(listed[0]["user_id"], BSUID);
    assert_eq!(listed[1]["to"], TO);
    assert_eq!(listed[1]["recipient"], BSUID);

    // Statuses: recipient_user_id always; recipient_id only for the phone send.
    for (wamid, user_id, phone, parent) in [
        (&w1, BSUID, None, None),
        (&w2, phone_bsuid.as_str(), Some(TO), None),
        (&w3, child.as_str(), None, Some(PARENT)),
    ] {
        let statuses = until_statuses(&r, wamid, 3).await;
        assert_eq!(names(&statuses), ["sent", "delivered", "read"]);
        for (_, s) in &statuses {
            assert_eq!(s["recipient_user_id"], user_id, "{s}");
            assert_eq!(s["recipient_id"].as_str(), phone, "{s}");
            assert_eq!(s["recipient_parent_user_id"].as_str(), parent, "{s}");
        }
        // Every status but `failed` names the recipient in `contacts[]` too.
        for contacts in status_contacts(&r, wamid) {
            assert_eq!(contacts[0]["user_id"], user_id, "{contacts}");
            assert_eq!(contacts[0]["wa_id"].as_str(), phone, "{contacts}");
            assert_eq!(contacts[0]["parent_user_id"].as_str(), parent, "{contacts}");
        }
    }

    // Failed statuses: no recipient_user_id for a phone send (keep your own map), the BSUID
    // for a BSUID send.
    emu.faults()
        .push(Endpoint::Messages, Fault::Undeliverable, 2);
    let (_, w4) = send_ok_to(&c, &emu, &to_bsuid(BSUID, "image", json!({ "id": image }))).await;
    let (_, w5) = send_ok_to(&c, &emu, &message("image", json!({ "id": image }))).await;
    let s4 = until_statuses(&r, &w4, 1).await;
    let s5 = until_statuses(&r, &w5, 1).await;
    assert_eq!((names(&s4), names(&s5)), (vec!["failed"], vec!["failed"]));
    assert_eq!(s4[0].1["recipient_user_id"], BSUID);
    assert!(s4[0].1.get("recipient_id").is_none(), "{}", s4[0].1);
    assert_eq!(s5[0].1["recipient_id"], TO);
    assert!(s5[0].1.get("recipient_user_id").is_none(), "{}", s5[0].1);
    assert_eq!(status_contacts(&r, &w4), [Value::Null]);
    assert_eq!(status_contacts(&r, &w5), [Value::Null]);
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_recipients_and_auth_templates_to_a_bsuid_are_refused() {
    let emu = Emulator::builder().start().await.unwrap();
    let c = client();
    let image = upload_ok(&c, &emu, "image/png", &fixture("image.png")).await;
    let media = json!({ "id": image });
    // Not a BSUID: 400, code 100, naming `recipient` (also when `to` is given).
    let mut with_to = message("image", media.clone());
    with_to["recipient"] = json!("15551234567");
    for body in [
        to_bsuid("13491208655302741918", "image", media.clone()),
        to_bsuid("us.13491208655302741918", "image", media.clone()),
        to_bsuid("US.", "image", media.clone()),
        to_bsuid("US.ENT.", "image", media.clone()),
        to_bsuid("US.1349-1208", "image", media.clone()),
        to_bsuid(&format!("US.{}", "1".repeat(129)), "image", media.clone()),
        with_to,
    ] {
        let r = send_message(&c, &emu, &body).await;
        assert_refused(&r, StatusCode::BAD_REQUEST, 100, "recipient");
    }
    let mut numeric = to_bsuid(BSUID, "image", media.clone());
    numeric["recipient"] = json!(13491208655302741918u64);
    let r = send_message(&c, &emu, &numeric).await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 100, "recipient");
    // Neither `to` nor `recipient`.
    let mut neither = message("image", media.clone());
    neither.as_object_mut().unwrap().remove("to");
    let r = send_message(&c, &emu, &neither).await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 100, "to");

    // An authentication template (the emulator's stand-in: a name starting with `auth`) to a
    // BSUID or a parent BSUID: 131062.
    for (recipient, name) in [
        (BSUID, "auth_code"),
        (PARENT, "authentication_otp"),
        (BSUID, "AUTH_one_tap"),
    ] {
        let body = to_bsuid(
            recipient,
            "template",
            json!({"name": name, "language": {"code": "en_US"}}),
        );
        let r = send_message(&c, &emu, &body).await;
        assert_refused(
            &r,
            StatusCode::BAD_REQUEST,
            131062,
            "BSUID recipients are not supported for this message",
        );
    }
    // Other templates, and an auth template to a phone number, are checked as templates
    // (issue 27): without a language, code 100; an unknown one, 132001.
    let r = send_message(
        &c,
        &emu,
        &to_bsuid(BSUID, "template", json!({"name": "order_update"})),
    )
    .await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 100, "language");
    let r = send_message(&c, &emu, &message("template", json!({"name": "auth_code"}))).await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 100, "language");
    let r = send_message(
        &c,
        &emu,
        &message(
            "template",
            json!({"name": "auth_code", "language": {"code": "en_US"}}),
        ),
    )
    .await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 132001, "does not exist");
    assert!(emu.sent_messages().is_empty(), "nothing refused was sent");
    emu.shutdown().await;
}

#[tokio::test]
async fn the_pair_limit_counts_a_bsuid_and_its_phone_as_one_recipient() {
    let emu = Emulator::builder()
        .pair_rate_limit(1, Duration::from_secs(60))
        .clock(Arc::new(ManualClock::starting_now()))
        .start()
        .await
        .unwrap();
    let c = client();
    let media = json!({ "link": "https://example.com/a.png" });
    send_ok(&c, &emu, &message("image", media.clone())).await;
    let phone_bsuid = wa_media_emulator::simulated_user_id(TO);
    let r = send_message(&c, &emu, &to_bsuid(&phone_bsuid, "image", media.clone())).await;
    assert_refused(&r, StatusCode::BAD_REQUEST, 131056, "pair rate limit");
    send_ok_to(&c, &emu, &to_bsuid(BSUID, "image", media)).await;
    emu.shutdown().await;
}
