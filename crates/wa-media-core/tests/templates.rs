//! Template messages and the Resumable Upload API over the scripted transport (issue 27): the
//! exact request of a template send, the never-send-twice rule applied to it (the same rule as
//! `send_media`'s), and a resumable upload that resumes from the server's offset with the
//! `OAuth` header, to the Graph host only.

use wa_media_core::test_util::*;
use wa_media_core::{Error, MessagingApi, TransportError, TransportErrorKind, Upload};
use wa_media_types::{MediaKind, SendTemplate};

const TO: &str = "15551234567";
const MESSAGES_URL: &str = "https://graph.facebook.com/v27.0/106540352242922/messages";

fn sent() -> Reply {
    json(
        200,
        r#"{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.T1"}]}"#,
    )
}

fn invoice() -> SendTemplate {
    SendTemplate::new(TO, "invoice_ready", "en_US")
        .unwrap()
        .header_id(MediaKind::Document, media_id())
        .header_filename("invoice.pdf")
        .body_text("INV-2031")
}

#[tokio::test(start_paused = true)]
async fn a_template_send_is_meta_s_shape_with_the_bearer_token() {
    let t = Scripted::new(|_, _| sent());
    let s = client(&t).send_template(&invoice()).await.unwrap();
    assert_eq!(s.wamid, "wamid.T1");
    let r = &t.requests()[0];
    assert_eq!(r.uri, MESSAGES_URL);
    assert_eq!(
        r.headers["authorization"].to_str().unwrap(),
        format!("Bearer {TOKEN}")
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
            "type": "template",
            "template": {"name": "invoice_ready", "language": {"code": "en_US"}, "components": [
                {"type": "header", "parameters": [{"type": "document",
                    "document": {"id": MEDIA, "filename": "invoice.pdf"}}]},
                {"type": "body", "parameters": [{"type": "text", "text": "INV-2031"}]},
            ]},
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_template_send_is_retried_only_when_it_provably_never_left() {
    // Refused to connect: never left, sent again.
    let t = Scripted::new(|_, i| {
        if i == 0 {
            Reply::Error(TransportError::from_kind(TransportErrorKind::Connect))
        } else {
            sent()
        }
    });
    client(&t).send_template(&invoice()).await.unwrap();
    assert_eq!(t.requests().len(), 2);
    // Broken after it went out, or a 5xx: may have been sent, never sent again.
    for reply in [
        || Reply::Error(TransportError::from_kind(TransportErrorKind::Interrupted)),
        || status(503, "unavailable"),
    ] {
        let t = Scripted::new(move |_, _| reply());
        let e = client(&t).send_template(&invoice()).await.unwrap_err();
        assert!(e.may_have_been_sent(), "{e}");
        assert_eq!(t.requests().len(), 1);
    }
    // Refused locally: nothing sent.
    let t = Scripted::new(|_, _| sent());
    let bad = invoice().body_text("two\nlines");
    let e = client(&t).send_template(&bad).await.unwrap_err();
    assert!(matches!(e, Error::InvalidMessage(_)), "{e}");
    assert!(t.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_resumable_upload_resumes_from_the_server_s_offset_with_oauth() {
    let mut file = b"%PDF-1.7\n".to_vec();
    file.extend((0..200_000u32).map(|i| (i % 253) as u8));
    let len = file.len();
    let kept = 120_000usize;
    let t = Scripted::new(move |r, _| {
        let path = r.uri.split('?').next().unwrap().to_owned();
        if path.ends_with("/1234567890/uploads") {
            json(200, r#"{"id":"upload:SESSION1"}"#)
        } else if r.method == http::Method::GET {
            json(
                200,
                format!(r#"{{"id":"upload:SESSION1","file_offset":{kept}}}"#),
            )
        } else if r.headers["file_offset"] == "0" {
            Reply::Error(TransportError::from_kind(TransportErrorKind::Interrupted))
        } else {
            json(200, r#"{"h":"4::HANDLE"}"#)
        }
    });
    let pdf = "application/pdf".parse().unwrap();
    let up = client(&t)
        .upload_resumable("1234567890", Upload::from_bytes(file.clone(), pdf))
        .await
        .unwrap();
    assert_eq!(up.handle, "4::HANDLE");
    assert_eq!(up.resumed_from, [kept as u64]);
    let reqs = t.requests();
    assert_eq!(reqs.len(), 4, "start, upload, status, upload");
    assert!(
        reqs[0].uri.contains(&format!(
            "uploads?file_name=upload.pdf&file_length={len}&file_type=application%2Fpdf"
        )) || reqs[0].uri.contains("file_type=application%2Fpdf")
    );
    for r in &reqs {
        assert_eq!(r.host(), "graph.facebook.com");
        assert_eq!(
            r.headers["authorization"].to_str().unwrap(),
            format!("OAuth {TOKEN}")
        );
    }
    assert!(reqs[1].uri.ends_with("/v27.0/upload:SESSION1"));
    assert_eq!(reqs[1].body, file);
    assert_eq!(reqs[3].headers["file_offset"], kept.to_string().as_str());
    assert_eq!(reqs[3].body, file[kept..]);
    assert_eq!(up.bytes_sent, (len + len - kept) as u64);
}

#[tokio::test(start_paused = true)]
async fn a_resumable_upload_refuses_other_types_and_ids_before_sending() {
    let t = Scripted::new(|_, _| json(200, r#"{"id":"upload:S"}"#));
    let txt = Upload::from_bytes(&b"hello"[..], "text/plain".parse().unwrap());
    let e = client(&t).upload_resumable("1", txt).await.unwrap_err();
    assert!(matches!(e, Error::InvalidMessage(_)), "{e}");
    let pdf = Upload::from_bytes(&b"%PDF-1.7\nx"[..], "application/pdf".parse().unwrap());
    let e = client(&t)
        .upload_resumable("my-app", pdf)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    assert!(t.requests().is_empty());
}
