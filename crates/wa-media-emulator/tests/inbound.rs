//! Inbound simulation from Rust: webhook notifications as the real API delivers them.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use wa_media_emulator::InboundMessage;
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
                assert_eq!(m.from.as_deref(), Some("16505551234"));
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
