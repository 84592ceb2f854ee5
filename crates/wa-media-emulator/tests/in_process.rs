//! The in-process transport: the emulator behind core's Transport seam with no sockets, both
//! raw and under core's MediaClient.

mod common;

use bytes::Bytes;
use common::*;
use http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use wa_media_core::{
    MediaApi, MediaApiExt, MediaClient, RequestBody, Transport, TransportErrorKind, Upload,
};
use wa_media_emulator::{EmulatorHandle, Endpoint, Fault, InProcessTransport};
use wa_media_types::{MediaId, Sha256Digest};

async fn call(
    t: &InProcessTransport,
    req: Request<RequestBody>,
) -> Result<(StatusCode, Bytes), TransportErrorKind> {
    let resp = t.send(req).await.map_err(|e| e.kind())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.kind())?
        .to_bytes();
    Ok((status, body))
}

fn req(method: Method, url: &str, token: &str, body: RequestBody) -> Request<RequestBody> {
    Request::builder()
        .method(method)
        .uri(url)
        .header(header::AUTHORIZATION, bearer(token))
        .header(header::USER_AGENT, UA)
        .body(body)
        .unwrap()
}

/// A multipart upload of `body` (its `Content-Type` is `ct`) to the emulator's Graph host.
fn upload_req(emu: &EmulatorHandle, token: &str, ct: &str, body: Vec<u8>) -> Request<RequestBody> {
    let mut up = req(
        Method::POST,
        &format!("{}/{VERSION}/{PHONE}/media", emu.graph_url()),
        token,
        RequestBody::from_bytes(body),
    );
    up.headers_mut()
        .insert(header::CONTENT_TYPE, ct.parse().unwrap());
    up
}

#[tokio::test]
async fn raw_round_trip_and_failures() {
    let emu = start().await;
    let t = emu.in_process_transport();
    let token = emu.token().to_owned();
    let data = png(300_000);
    let (ct, body) = multipart(&[
        Part::Text("messaging_product", "whatsapp"),
        Part::Text("type", "image/png"),
        Part::File {
            name: "file",
            filename: "p.png",
            content_type: Some("image/png"),
            data: &data,
        },
    ]);
    let up = upload_req(&emu, &token, &ct, body);
    let (status, body) = call(&t, up).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let get = |url: String| req(Method::GET, &url, &token, RequestBody::empty());
    let (status, body) = call(&t, get(format!("{}/{VERSION}/{id}", emu.graph_url())))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let info: wa_media_types::MediaUrlResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(info.sha256, Sha256Digest::of(&data));
    let (status, bytes) = call(&t, get(info.url.expose().to_owned())).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&bytes[..], &data[..]);

    // A host the emulator does not serve cannot be reached.
    let err = call(&t, get("https://example.com/x".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(err, TransportErrorKind::Connect);

    // A truncated body and a reset body break as they would on a socket.
    for fault in [Fault::TruncatedBody, Fault::ResetMidBody] {
        emu.faults().push(Endpoint::Download, fault, 1);
        let err = call(&t, get(info.url.expose().to_owned()))
            .await
            .unwrap_err();
        assert_eq!(err, TransportErrorKind::Interrupted);
    }
    // An upload reset gets no answer at all.
    emu.faults().push(Endpoint::Upload, Fault::ResetMidBody, 1);
    let (ct, body) = multipart(&[Part::File {
        name: "file",
        filename: "p.png",
        content_type: Some("image/png"),
        data: &data,
    }]);
    let up = upload_req(&emu, &token, &ct, body);
    assert_eq!(call(&t, up).await.unwrap_err(), TransportErrorKind::Request);

    let (status, _) = call(
        &t,
        req(
            Method::DELETE,
            &format!("{}/{VERSION}/{id}", emu.graph_url()),
            &token,
            RequestBody::empty(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(status, StatusCode::OK);
    // The in-process requests are in the same log as socket requests.
    assert!(emu.request_log().len() >= 6);
}

#[tokio::test]
async fn core_media_client_round_trip() {
    let emu = start().await;
    let lookaside = url::Url::parse(emu.lookaside_url()).unwrap();
    let client = MediaClient::builder(emu.in_process_transport())
        .token(emu.token().to_owned())
        .phone_number_id(PHONE)
        .graph_url(emu.graph_url())
        .trust_host(format!(
            "{}:{}",
            lookaside.host_str().unwrap(),
            lookaside.port().unwrap()
        ))
        .build()
        .expect("client builds");
    for (file, mime) in [
        ("image.png", "image/png"),
        ("document.pdf", "application/pdf"),
        ("sticker.webp", "image/webp"),
    ] {
        let data = fixture(file);
        let id: MediaId = client
            .upload(Upload::from_bytes(data.clone(), mime.parse().unwrap()))
            .await
            .expect("upload");
        let info = client.retrieve(&id).await.expect("retrieve");
        assert_eq!(info.file_size, data.len() as u64);
        let bytes = client
            .fetch(&id)
            .await
            .expect("fetch")
            .bytes(10 * 1024 * 1024)
            .await
            .expect("verified bytes");
        assert_eq!(&bytes[..], &data[..], "{file}");
        client.delete(&id).await.expect("delete");
        assert!(client.retrieve(&id).await.is_err());
    }
    // The token reached both origins.
    let log = emu.request_log();
    assert!(log.iter().all(|r| r.authorized), "{log:?}");
    assert!(log
        .iter()
        .any(|r| r.origin == wa_media_emulator::Origin::Lookaside));
}

#[tokio::test]
async fn production_configuration_in_process() {
    // TLS mode announces the production URLs; the in-process transport serves them without
    // sockets, so a client with the default Graph URL and download allowlist just works.
    let emu = wa_media_emulator::Emulator::builder()
        .tls(true)
        .start()
        .await
        .unwrap();
    let client = MediaClient::builder(emu.in_process_transport())
        .token(emu.token().to_owned())
        .phone_number_id(PHONE)
        .build()
        .expect("client builds with production defaults");
    let data = fixture("image.jpg");
    let id = client
        .upload(Upload::from_bytes(
            data.clone(),
            "image/jpeg".parse().unwrap(),
        ))
        .await
        .expect("upload");
    let info = client.retrieve(&id).await.unwrap();
    assert!(info
        .url
        .expose()
        .starts_with("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid="));
    let bytes = client
        .fetch(&id)
        .await
        .unwrap()
        .bytes(1 << 20)
        .await
        .unwrap();
    assert_eq!(&bytes[..], &data[..]);
}
