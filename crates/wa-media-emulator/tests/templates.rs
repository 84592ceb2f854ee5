//! Templates and the Resumable Upload API over real sockets (issue 27): the token as `OAuth`
//! only where Graph's resumable endpoints take it, a wrong `file_offset` refused with the offset
//! to resume from, a template pending until the approval delay passed on the emulator's clock
//! (132001 before, sent after), seeded templates by spec, and the window for session messages.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::{header, Method, Request, StatusCode};
use serde_json::json;
use wa_media_emulator::{EmulatedTemplate, Emulator, EmulatorHandle, ManualClock};

fn req(
    emu: &EmulatorHandle,
    method: Method,
    path: &str,
    auth: &str,
    extra: &[(&str, &str)],
    body: impl Into<bytes::Bytes>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("{}/{VERSION}/{path}", emu.graph_url()))
        .header(header::USER_AGENT, UA)
        .header(header::AUTHORIZATION, auth);
    for (k, v) in extra {
        b = b.header(*k, *v);
    }
    b.body(full(body)).unwrap()
}

#[tokio::test]
async fn resumable_sessions_take_oauth_check_the_offset_and_keep_what_came() {
    let emu = start().await;
    let c = client();
    let oauth = format!("OAuth {}", emu.token());
    let data = with_head(b"%PDF-1.7\n", 1000);
    let open = |auth: &str| {
        req(
            &emu,
            Method::POST,
            "42/uploads?file_name=a.pdf&file_length=1000&file_type=application/pdf",
            auth,
            &[],
            "",
        )
    };
    let r = send(&c, open(&oauth)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("upload:"), "{id}");
    // OAuth is for these endpoints only: the media upload still wants Bearer.
    let r = send(
        &c,
        graph_req(&emu, Method::GET, "/v27.0/1037543291543636", None),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(
        &c,
        req(&emu, Method::GET, "1037543291543636", &oauth, &[], ""),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, 190));
    // A type the API does not take.
    let r = send(
        &c,
        req(
            &emu,
            Method::POST,
            "42/uploads?file_length=10&file_type=text/plain",
            &oauth,
            &[],
            "",
        ),
    )
    .await;
    assert_eq!(r.code(), 100, "{}", r.text());
    // The first 400 bytes, then a wrong offset, then the rest from the right one.
    let part = |offset: &str, bytes: &[u8]| {
        req(
            &emu,
            Method::POST,
            &id,
            &oauth,
            &[("file_offset", offset)],
            bytes.to_vec(),
        )
    };
    let r = send(&c, part("0", &data[..400])).await;
    assert_eq!(r.json()["file_offset"], 400, "{}", r.text());
    let r = send(&c, part("0", &data[400..])).await;
    assert_eq!(r.code(), 100);
    assert!(r.text().contains("file_offset 400"), "{}", r.text());
    let status = send(
        &c,
        req(&emu, Method::GET, &id, &bearer(emu.token()), &[], ""),
    )
    .await;
    assert_eq!(status.json(), json!({"id": id, "file_offset": 400}));
    let r = send(&c, part("400", &data[400..])).await;
    assert!(
        r.json()["h"].as_str().unwrap().starts_with("4::"),
        "{}",
        r.text()
    );
    let s = &emu.upload_sessions()[0];
    // The refused offset is not counted.
    assert_eq!((s.file_offset, s.bytes_received, s.posts), (1000, 1000, 2));
}

#[tokio::test]
async fn a_template_is_pending_until_the_approval_delay_passed_then_sendable() {
    let clock = Arc::new(ManualClock::starting_now());
    let emu = Emulator::builder()
        .clock(clock.clone())
        .template_approval_delay(Duration::from_secs(3600))
        .template("hello:en:NONE:0".parse::<EmulatedTemplate>().unwrap())
        .start()
        .await
        .unwrap();
    let c = client();
    let oauth = format!("OAuth {}", emu.token());
    let data = with_head(b"%PDF-1.7\n", 300);
    let r = send(
        &c,
        req(
            &emu,
            Method::POST,
            "7/uploads?file_length=300&file_type=application/pdf",
            &oauth,
            &[],
            "",
        ),
    )
    .await;
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = send(
        &c,
        req(
            &emu,
            Method::POST,
            &id,
            &oauth,
            &[("file_offset", "0")],
            data,
        ),
    )
    .await;
    let handle = r.json()["h"].as_str().unwrap().to_owned();
    let create = json!({
        "name": "ticket", "language": "en", "category": "utility",
        "components": [
            {"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": [handle]}},
            {"type": "BODY", "text": "Seat {{1}}", "example": {"body_text": [["12A"]]}},
        ],
    });
    let bearer = bearer(emu.token());
    let post = |body: &serde_json::Value| {
        req(
            &emu,
            Method::POST,
            "555/message_templates",
            &bearer,
            &[("content-type", "application/json")],
            body.to_string(),
        )
    };
    let r = send(&c, post(&create)).await;
    assert_eq!(r.json()["status"], "PENDING", "{}", r.text());
    // The same name and language again in that account.
    let r = send(&c, post(&create)).await;
    assert_eq!(r.code(), 100);
    let ticket = json!({
        "messaging_product": "whatsapp", "to": "15551234567", "type": "template",
        "template": {"name": "ticket", "language": {"code": "en"}, "components": [
            {"type": "header", "parameters": [{"type": "document",
                "document": {"link": "https://example.com/t.pdf"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": "12A"}]}]},
    });
    let message = |body: &serde_json::Value| {
        req(
            &emu,
            Method::POST,
            &format!("{PHONE}/messages"),
            &bearer,
            &[("content-type", "application/json")],
            body.to_string(),
        )
    };
    assert_eq!(send(&c, message(&ticket)).await.code(), 132001);
    clock.advance(Duration::from_secs(3601));
    let listed = send(
        &c,
        req(&emu, Method::GET, "555/message_templates", &bearer, &[], ""),
    )
    .await;
    assert_eq!(listed.json()["data"][0]["status"], "APPROVED");
    let r = send(&c, message(&ticket)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // The seeded template without a header, sent without one.
    let hello = json!({"messaging_product": "whatsapp", "to": "15551234567", "type": "template",
        "template": {"name": "hello", "language": {"code": "en"}}});
    let r = send(&c, message(&hello)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let sent = emu.sent_messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].link.as_deref(), Some("https://example.com/t.pdf"));
    assert!(sent[1].template.as_ref().unwrap().header.is_none());
}
