//! The upload's `ttl_minutes` field (the media TTL on a "No Storage" number): taken as Graph
//! takes it (an integer from 60 to 43,200, else error 100 and nothing stored), recorded with
//! the media (`EmulatorHandle::media_info`, `GET /__emulator/media`, the index file across a
//! restart); an upload without it is recorded as before.

mod common;

use common::*;
use http::StatusCode;
use wa_media_emulator::Emulator;
use wa_media_types::MediaId;

/// A PNG upload's parts with a `ttl_minutes` field between `type` and `file`.
fn parts_with_ttl<'a>(data: &'a [u8], ttl: &'a str) -> [Part<'a>; 4] {
    let [product, ty, file] = png_parts(data);
    [product, ty, Part::Text("ttl_minutes", ttl), file]
}

#[tokio::test]
async fn an_upload_with_ttl_minutes_records_it_with_the_media() {
    let emu = start().await;
    let c = client();
    let data = png(2_000);
    for (ttl, expect) in [
        ("120", 120),
        ("60", 60),
        ("43200", 43_200),
        (" 1440 ", 1_440),
    ] {
        let r = send(
            &c,
            upload_request(&emu, Some(emu.token()), PHONE, &parts_with_ttl(&data, ttl)),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{ttl}: {}", r.text());
        let id = MediaId::new(r.json()["id"].as_str().unwrap()).unwrap();
        let media = emu.media_info(&id).unwrap();
        assert_eq!(media.ttl_minutes, Some(expect), "{ttl}");
        assert_eq!(media.file_size, 2_000);
    }
    // The field may come after the file too.
    let [product, ty, file] = png_parts(&data);
    let r = send(
        &c,
        upload_request(
            &emu,
            Some(emu.token()),
            PHONE,
            &[product, ty, file, Part::Text("ttl_minutes", "180")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = MediaId::new(r.json()["id"].as_str().unwrap()).unwrap();
    assert_eq!(emu.media_info(&id).unwrap().ttl_minutes, Some(180));

    // Without the field nothing changes: no TTL, and no key in the admin listing.
    let plain = upload_ok(&c, &emu, "image/png", &data).await;
    let plain = MediaId::new(plain).unwrap();
    assert_eq!(emu.media_info(&plain).unwrap().ttl_minutes, None);
    let listed = send(&c, graph_get(&emu, "/__emulator/media", None))
        .await
        .json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 6);
    let by_id = |id: &MediaId| {
        listed
            .iter()
            .find(|m| m["id"] == id.as_str())
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(&id)["ttl_minutes"], 180);
    assert!(by_id(&plain).get("ttl_minutes").is_none(), "{listed:?}");
}

#[tokio::test]
async fn a_ttl_minutes_that_is_no_integer_or_out_of_range_is_error_100() {
    let emu = start().await;
    let c = client();
    let data = png(2_000);
    for (ttl, says) in [
        ("30", "between 60 and 43200"),
        ("59", "between 60 and 43200"),
        ("43201", "between 60 and 43200"),
        ("0", "between 60 and 43200"),
        ("-120", "between 60 and 43200"),
        ("99999999999", "between 60 and 43200"),
        ("", "must be an integer"),
        ("2h", "must be an integer"),
        ("120.5", "must be an integer"),
    ] {
        let r = send(
            &c,
            upload_request(&emu, Some(emu.token()), PHONE, &parts_with_ttl(&data, ttl)),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{ttl:?}: {}", r.text());
        assert_eq!(r.code(), 100, "{ttl:?}: {}", r.text());
        let message = r.graph_error()["message"].as_str().unwrap().to_owned();
        assert!(
            message.starts_with("(#100) Param ttl_minutes") && message.contains(says),
            "{ttl:?}: {message}"
        );
    }
    assert!(emu.media().is_empty(), "nothing may be stored");
}

#[tokio::test]
async fn the_ttl_survives_a_restart_with_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let data = png(2_000);
    let emu = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    let r = send(
        &c,
        upload_request(
            &emu,
            Some(emu.token()),
            PHONE,
            &parts_with_ttl(&data, "720"),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = MediaId::new(r.json()["id"].as_str().unwrap()).unwrap();
    let plain = MediaId::new(upload_ok(&c, &emu, "image/png", &data).await).unwrap();
    emu.shutdown().await;
    let index = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
    assert_eq!(index.matches("\"ttl_minutes\"").count(), 1, "{index}");

    let emu = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    assert_eq!(emu.media_info(&id).unwrap().ttl_minutes, Some(720));
    assert_eq!(emu.media_info(&plain).unwrap().ttl_minutes, None);
    emu.shutdown().await;
}
