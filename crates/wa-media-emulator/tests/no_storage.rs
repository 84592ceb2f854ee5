//! A "No Storage" number (`EmulatorBuilder::no_storage`, `wa-media emulator --no-storage`):
//! inbound media live 1 hour, uploads 1 hour unless their `ttl_minutes` says otherwise; after
//! that a retrieve answers as for any expired media (Meta documents no error specific to No
//! Storage). Without the option nothing changes.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use wa_media_emulator::{Emulator, EmulatorHandle, InboundMessage};

/// Retrieves `id`: its status and body.
async fn retrieve(c: &HttpClient, emu: &EmulatorHandle, id: &str) -> Reply {
    send(
        c,
        graph_get(emu, &format!("/v27.0/{id}"), Some(emu.token())),
    )
    .await
}

async fn upload_with_ttl(c: &HttpClient, emu: &EmulatorHandle, ttl: &str) -> String {
    let data = png(1_000);
    let [product, ty, file] = png_parts(&data);
    let r = send(
        c,
        upload_request(
            emu,
            Some(emu.token()),
            PHONE,
            &[product, ty, Part::Text("ttl_minutes", ttl), file],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn media_live_one_hour_unless_the_upload_asks_for_longer() {
    let emu = Emulator::builder().no_storage(true).start().await.unwrap();
    let c = client();
    let inbound = emu
        .simulate_inbound(InboundMessage::new(png(500), "image/png"))
        .await
        .unwrap()
        .media_id
        .to_string();
    let plain = upload_ok(&c, &emu, "image/png", &png(800)).await;
    let two_hours = upload_with_ttl(&c, &emu, "120").await;
    for id in [&inbound, &plain, &two_hours] {
        assert_eq!(retrieve(&c, &emu, id).await.status, StatusCode::OK, "{id}");
    }
    // 59 minutes: all there.
    emu.advance_clock(Duration::from_secs(59 * 60)).unwrap();
    for id in [&inbound, &plain, &two_hours] {
        assert_eq!(retrieve(&c, &emu, id).await.status, StatusCode::OK, "{id}");
    }
    // Past the hour: the inbound media and the upload without a TTL are gone, with the
    // emulator's error for an expired media; the 2-hour upload stays.
    emu.advance_clock(Duration::from_secs(2 * 60)).unwrap();
    let expired_error = |r: &Reply| r.json()["error"]["code"].clone();
    let gone_inbound = retrieve(&c, &emu, &inbound).await;
    let gone_upload = retrieve(&c, &emu, &plain).await;
    assert_ne!(
        gone_inbound.status,
        StatusCode::OK,
        "{}",
        gone_inbound.text()
    );
    assert_eq!(gone_inbound.status, gone_upload.status);
    assert_eq!(expired_error(&gone_inbound), expired_error(&gone_upload));
    assert_eq!(expired_error(&gone_inbound), 100, "{}", gone_inbound.text());
    assert_eq!(retrieve(&c, &emu, &two_hours).await.status, StatusCode::OK);
    emu.advance_clock(Duration::from_secs(60 * 60)).unwrap();
    let r = retrieve(&c, &emu, &two_hours).await;
    assert_eq!(r.status, gone_upload.status, "{}", r.text());
}

#[tokio::test]
async fn without_the_option_media_keep_their_usual_lifetimes() {
    let emu = start().await;
    let c = client();
    let inbound = emu
        .simulate_inbound(InboundMessage::new(png(500), "image/png"))
        .await
        .unwrap()
        .media_id
        .to_string();
    let plain = upload_ok(&c, &emu, "image/png", &png(800)).await;
    let with_ttl = upload_with_ttl(&c, &emu, "60").await;
    emu.advance_clock(Duration::from_secs(6 * 24 * 60 * 60))
        .unwrap();
    for id in [&inbound, &plain, &with_ttl] {
        assert_eq!(retrieve(&c, &emu, id).await.status, StatusCode::OK, "{id}");
    }
}
