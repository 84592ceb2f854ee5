//! Inbound simulation from Rust: webhook notifications as the real API delivers them.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use wa_media_emulator::{simulated_user_id, EmulatorHandle, InboundMessage};
use wa_media_types::{inbound_media, verify_signature, MediaKind, Notification, Sha256Digest};

const OPUS: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01";
const ANIMATED_WEBP: &[u8] = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0\0\0\0\0\0\0";

#[tokio::test]
async fn notifications_parse_sign_and_download() {
    let emu = start().await;
    let c = client();
    let voice = with_head(OPUS, 4000);
    let doc = fixture("document.pdf");
    let sticker = with_head(ANIMATED_WEBP, 2000);
    let cases = [
        (
            InboundMessage::new(voice.clone(), "audio/ogg; codecs=opus").voice(true),
            MediaKind::Voice,
            voice,
        ),
        (
            InboundMessage::new(doc.clone(), "application/pdf")
                .filename("Facture n°7.pdf")
                .caption("Voilà"),
            MediaKind::Document,
            doc,
        ),
        (
            InboundMessage::new(sticker.clone(), "image/webp").from("16505551234"),
            MediaKind::Sticker,
            sticker,
        ),
    ];
    for (msg, kind, data) in cases {
        let sim = emu.simulate_inbound(msg).await.expect("simulated");
        assert_eq!(sim.kind, kind);
        assert!(sim.body.is_ascii(), "non-ASCII escaped: {}", sim.body);
        let sig = sim.signature_header(b"app-secret");
        assert!(sig.starts_with("sha256="));
        verify_signature(b"app-secret", sim.body.as_bytes(), &sig).expect("verifies");
        assert!(verify_signature(b"other", sim.body.as_bytes(), &sig).is_err());

        let n = Notification::from_slice(sim.body.as_bytes()).unwrap();
        assert_eq!(sim.notification["object"], "whatsapp_business_account");
        assert_eq!(
            sim.notification["entry"][0]["changes"][0]["field"],
            "messages"
        );
        let media = inbound_media(&n);
        assert_eq!(media.len(), 1);
        let m = &media[0];
        assert_eq!(m.kind, kind);
        assert_eq!(m.media_id, sim.media_id);
        assert_eq!(m.message_id, sim.message_id);
        assert_eq!(m.sha256, Some(Sha256Digest::of(&data)));
        assert_eq!(m.phone_number_id.as_deref(), Some(PHONE));
        match kind {
            MediaKind::Voice => {
                assert!(m.voice);
                assert_eq!(m.mime_type, "audio/ogg; codecs=opus");
            }
            MediaKind::Document => {
                assert_eq!(m.filename.as_deref(), Some("Facture n°7.pdf"));
                assert_eq!(m.caption.as_deref(), Some("Voilà"));
            }
            MediaKind::Sticker => {
                assert!(m.animated);
                assert_eq!(
                    m.customer.as_ref().and_then(|c| c.phone.as_deref()),
                    Some("16505551234")
                );
            }
            _ => unreachable!(),
        }
        // Retrieve (for this phone number) and download like any media.
        let r = send(
            &c,
            graph_get(
                &emu,
                &format!("/{VERSION}/{}?phone_number_id={PHONE}", m.media_id),
                Some(emu.token()),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let url = r.json()["url"].as_str().unwrap().to_owned();
        let d = send(&c, download_req(&url, Some(emu.token()), true)).await;
        assert_eq!(&d.body[..], &data[..]);
    }

    // Ids received in webhooks live 7 days.
    let id = emu.media()[0].id.clone();
    emu.advance_clock(Duration::from_secs(7 * 24 * 3600))
        .unwrap();
    assert_eq!(
        retrieve(&c, &emu, id.as_str()).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn bad_inbound_input_is_an_error_not_a_panic() {
    let emu = start().await;
    assert!(emu
        .simulate_inbound(InboundMessage::new(Vec::new(), "image/png"))
        .await
        .is_err());
    assert!(emu
        .simulate_inbound(InboundMessage::new(png(10), "not a mime"))
        .await
        .is_err());
    assert!(emu.media().is_empty());
}

/// The first contact and the first message of a notification.
fn sender(n: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    let value = &n["entry"][0]["changes"][0]["value"];
    (value["contacts"][0].clone(), value["messages"][0].clone())
}

/// `POST /__emulator/inbound?{query}` with a small PNG as the body.
async fn inbound_over_http(c: &HttpClient, emu: &EmulatorHandle, query: &str) -> Reply {
    let req = http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("{}/__emulator/inbound?{query}", emu.graph_url()))
        .header(http::header::CONTENT_TYPE, "image/png")
        .body(full(png(64)))
        .unwrap();
    send(c, req).await
}

#[tokio::test]
async fn every_notification_names_the_sender_by_a_stable_bsuid() {
    let emu = start().await;
    let c = client();
    // The default customer, twice, and another phone: Meta has put `user_id` in every
    // messages webhook since April 2026 (pywa 4.5 fails with KeyError without it).
    let a = emu
        .simulate_inbound(InboundMessage::new(png(50), "image/png"))
        .await
        .unwrap();
    let b = emu
        .simulate_inbound(InboundMessage::new(png(60), "image/png").caption("again"))
        .await
        .unwrap();
    let other = emu
        .simulate_inbound(InboundMessage::new(png(70), "image/png").from("+1 650-555-1234"))
        .await
        .unwrap();
    let (ca, ma) = sender(&a.notification);
    let (cb, mb) = sender(&b.notification);
    let (co, mo) = sender(&other.notification);
    // Derived from the phone, pinned: the same in every run.
    assert_eq!(ca["user_id"], "US.13349043760375565723");
    assert_eq!(ca["user_id"], simulated_user_id("15551234567"));
    assert_eq!(ma["from_user_id"], ca["user_id"]);
    assert_eq!(cb["user_id"], ca["user_id"], "same phone, same BSUID");
    assert_eq!(mb["from_user_id"], ca["user_id"]);
    assert_eq!(co["user_id"], "US.13208247606736645996");
    assert_eq!(mo["from_user_id"], co["user_id"]);
    // The phone is still there by default; no parent BSUID unless given.
    assert_eq!(ca["wa_id"], "15551234567");
    assert_eq!(ma["from"], "15551234567");
    assert_eq!(ca["profile"]["name"], "Test Customer");
    for v in [&ca, &ma] {
        let o = v.as_object().unwrap();
        assert!(!o.contains_key("parent_user_id") && !o.contains_key("from_parent_user_id"));
    }
    assert!(ca["profile"].get("username").is_none());
    // A second emulator (a second run) derives the same BSUID.
    let emu2 = start().await;
    let again = emu2
        .simulate_inbound(InboundMessage::new(png(50), "image/png"))
        .await
        .unwrap();
    assert_eq!(sender(&again.notification).0["user_id"], ca["user_id"]);

    // A parent BSUID and an explicit BSUID, when the customer has them.
    let p = emu
        .simulate_inbound(
            InboundMessage::new(png(80), "image/png")
                .user_id("US.13491208655302741918")
                .parent_user_id("US.ENT.11815799212886844830"),
        )
        .await
        .unwrap();
    let (cp, mp) = sender(&p.notification);
    assert_eq!(cp["user_id"], "US.13491208655302741918");
    assert_eq!(mp["from_user_id"], "US.13491208655302741918");
    assert_eq!(cp["parent_user_id"], "US.ENT.11815799212886844830");
    assert_eq!(mp["from_parent_user_id"], "US.ENT.11815799212886844830");

    // Not BSUIDs: refused, nothing stored.
    let stored = emu.media().len();
    for bad in [
        InboundMessage::new(png(10), "image/png").user_id("13491208655302741918"),
        InboundMessage::new(png(10), "image/png").user_id("US.ENT.118"),
        InboundMessage::new(png(10), "image/png").user_id("US.12-34"),
        InboundMessage::new(png(10), "image/png").parent_user_id("US.118"),
    ] {
        assert!(emu.simulate_inbound(bad).await.is_err());
    }
    assert_eq!(emu.media().len(), stored);

    // Over HTTP too.
    let r = inbound_over_http(&c, &emu, "from=16505551234").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let (ch, mh) = sender(&r.json()["notification"]);
    assert_eq!(ch["user_id"], co["user_id"]);
    assert_eq!(mh["from_user_id"], co["user_id"]);
    assert_eq!(ch["wa_id"], "16505551234");
}

#[tokio::test]
async fn a_username_customer_without_a_phone_is_named_by_bsuid_only() {
    let emu = start().await;
    let c = client();
    let sim = emu
        .simulate_inbound(
            InboundMessage::new(png(50), "image/png")
                .username("pablomorales")
                .profile_name("Pablo M.")
                .phone(false),
        )
        .await
        .unwrap();
    let (contact, message) = sender(&sim.notification);
    assert!(contact.get("wa_id").is_none(), "{contact}");
    assert!(message.get("from").is_none(), "{message}");
    assert_eq!(contact["user_id"], simulated_user_id("15551234567"));
    assert_eq!(message["from_user_id"], contact["user_id"]);
    assert_eq!(contact["profile"]["username"], "pablomorales");
    assert_eq!(contact["profile"]["name"], "Pablo M.");
    assert_eq!(message["image"]["id"], sim.media_id.as_str());

    // Over HTTP: phone=false, username, user_id.
    let r = inbound_over_http(
        &c,
        &emu,
        "phone=false&username=pablomorales&user_id=US.13491208655302741918\
         &parent_user_id=US.ENT.11815799212886844830&app_secret=s",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let (contact, message) = sender(&v["notification"]);
    assert!(contact.get("wa_id").is_none() && message.get("from").is_none());
    assert_eq!(contact["user_id"], "US.13491208655302741918");
    assert_eq!(message["from_user_id"], "US.13491208655302741918");
    assert_eq!(contact["parent_user_id"], "US.ENT.11815799212886844830");
    assert_eq!(
        message["from_parent_user_id"],
        "US.ENT.11815799212886844830"
    );
    assert_eq!(contact["profile"]["username"], "pablomorales");
    // The body is what was signed, and it says the same.
    let body = v["body"].as_str().unwrap();
    verify_signature(b"s", body.as_bytes(), v["signature"].as_str().unwrap()).unwrap();
    assert!(
        !body.contains("wa_id") && !body.contains("\"from\""),
        "{body}"
    );

    for bad in [
        "user_id=13491208655302741918",
        "user_id=US.ENT.1",
        "parent_user_id=US.1",
        "phone=maybe",
    ] {
        let r = inbound_over_http(&c, &emu, bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text());
    }
    assert_eq!(emu.media().len(), 2, "nothing refused was stored");
}

/// The media object of a notification's first message.
fn media_object(n: &serde_json::Value) -> serde_json::Value {
    let (_, message) = sender(n);
    let ty = message["type"].as_str().unwrap().to_owned();
    message[ty.as_str()].clone()
}

#[tokio::test]
async fn media_urls_in_notifications_download_without_a_retrieve() {
    let clock = std::sync::Arc::new(wa_media_emulator::ManualClock::starting_now());
    let emu = wa_media_emulator::Emulator::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let c = client();
    let data = png(3000);
    let sim = emu
        .simulate_inbound(InboundMessage::new(data.clone(), "image/png"))
        .await
        .unwrap();
    let media = media_object(&sim.notification);
    assert_eq!(media["id"], sim.media_id.as_str());
    let url = media["url"].as_str().expect("a url in the media object");
    assert!(
        url.starts_with(&format!(
            "{}{}?",
            emu.lookaside_url(),
            wa_media_emulator::ATTACHMENTS_PATH
        )),
        "{url}"
    );
    // The same trust rules as a retrieved URL: the token is needed.
    let r = send(&c, download_req(url, None, true)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    emu.clear_request_log();
    let d = send(&c, download_req(url, Some(emu.token()), true)).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(&d.body[..], &data[..], "the right bytes");
    // One Download in the log, and no Retrieve: the URL saved the Graph call.
    let log = emu.request_log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].endpoint, Some(wa_media_emulator::Endpoint::Download));
    assert_eq!(log[0].status, 200);
    // It lives as long as a retrieved URL (url_ttl, 5 minutes by default).
    clock.advance(wa_media_emulator::DEFAULT_URL_TTL);
    let r = send(&c, download_req(url, Some(emu.token()), true)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("expired"), "{}", r.text());
}

#[tokio::test]
async fn media_urls_can_be_turned_off_as_for_older_webhook_versions() {
    let emu = wa_media_emulator::Emulator::builder()
        .inbound_media_urls(false)
        .start()
        .await
        .unwrap();
    let c = client();
    let off = emu
        .simulate_inbound(InboundMessage::new(png(50), "image/png"))
        .await
        .unwrap();
    let media = media_object(&off.notification);
    assert!(media.get("url").is_none(), "{media}");
    assert!(!off.body.contains("\"url\""), "{}", off.body);
    assert_eq!(media["id"], off.media_id.as_str());
    // A message may override the setting, either way.
    let on = emu
        .simulate_inbound(InboundMessage::new(png(50), "image/png").media_url(true))
        .await
        .unwrap();
    assert!(media_object(&on.notification)["url"].is_string());
    let r = inbound_over_http(&c, &emu, "media_url=true").await;
    assert!(media_object(&r.json()["notification"])["url"].is_string());
    // Over HTTP on an emulator with the default (on).
    let emu = start().await;
    let r = inbound_over_http(&c, &emu, "media_url=false").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(media_object(&r.json()["notification"]).get("url").is_none());
    let r = inbound_over_http(&c, &emu, "").await;
    assert!(media_object(&r.json()["notification"])["url"].is_string());
}
