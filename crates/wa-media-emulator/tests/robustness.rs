//! Hostile and concurrent input: mangled multipart bodies always get a Graph answer (never a
//! hang or a panic), and concurrent uploads and downloads lose or corrupt nothing.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use wa_media_core::{RequestBody, Transport};
use wa_media_types::Sha256Digest;

#[tokio::test]
async fn mangled_multipart_bodies_always_get_an_envelope() {
    let emu = start().await;
    let t = emu.in_process_transport();
    let (ct, good) = multipart(&png_parts(&png(3000)));
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut statuses = std::collections::BTreeMap::new();
    for case in 0..300 {
        let mut body = good.clone();
        match case % 4 {
            0 => body.truncate(rng.usize(..body.len())),
            1 => {
                for _ in 0..rng.usize(1..8) {
                    let i = rng.usize(..body.len());
                    body[i] = rng.u8(..);
                }
            }
            2 => {
                let i = rng.usize(..body.len());
                let junk: Vec<u8> = (0..rng.usize(1..64)).map(|_| rng.u8(..)).collect();
                body.splice(i..i, junk);
            }
            _ => body = (0..rng.usize(0..4000)).map(|_| rng.u8(..)).collect(),
        }
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/{VERSION}/{PHONE}/media", emu.graph_url()))
            .header(header::AUTHORIZATION, bearer(emu.token()))
            .header(header::CONTENT_TYPE, ct.as_str())
            .body(RequestBody::from_bytes(body))
            .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(10), async {
            let resp = t.send(req).await.expect("an answer");
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        })
        .await
        .unwrap_or_else(|_| panic!("case {case} hung"));
        let (status, body) = resp;
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        match status {
            StatusCode::OK => assert!(v["id"].is_string()),
            StatusCode::BAD_REQUEST => assert!(v["error"]["code"].is_i64(), "{v}"),
            other => panic!("case {case}: unexpected {other}: {v}"),
        }
        *statuses.entry(status.as_u16()).or_insert(0) += 1;
    }
    assert!(
        statuses.get(&400).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );
    let spool = std::fs::read_dir(emu.data_dir().join("spool"))
        .unwrap()
        .count();
    assert_eq!(spool, 0, "refused uploads leave no spool file");
}

#[tokio::test]
async fn concurrent_uploads_and_downloads_lose_nothing() {
    let emu = std::sync::Arc::new(start().await);
    let mut tasks = Vec::new();
    for i in 0..40usize {
        let emu = emu.clone();
        tasks.push(tokio::spawn(async move {
            let c = client();
            let data = png(1000 + i * 7919);
            let id = upload_ok(&c, &emu, "image/png", &data).await;
            let url = url_of(&c, &emu, &id).await;
            let d = send(&c, download_req(&url, Some(emu.token()), true)).await;
            assert_eq!(d.status, StatusCode::OK);
            assert_eq!(Sha256Digest::of(&d.body), Sha256Digest::of(&data));
            (id, Bytes::from(data))
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let (id, _) = t.await.unwrap();
        assert!(ids.insert(id), "ids are unique");
    }
    assert_eq!(emu.media().len(), 40);
}
