//! `MediaClient` on `ReqwestTransport` against the emulator over real sockets: a streamed
//! upload, retrieve, a verified download to a file and delete; and a download cut short by the
//! emulator's reset fault is retried to a verified file.

use std::time::Duration;

use bytes::Bytes;
use wa_media_core::{MediaApi, MediaApiExt, MediaClient, RetryPolicy, Upload};
use wa_media_emulator::{Emulator, Endpoint, Fault};
use wa_media_reqwest::ReqwestTransport;
use wa_media_types::Sha256Digest;

const PHONE: &str = "106540352242922";

fn client(emu: &wa_media_emulator::EmulatorHandle) -> MediaClient {
    MediaClient::builder(ReqwestTransport::new().unwrap())
        .token(emu.token())
        .phone_number_id(PHONE)
        .graph_url(emu.graph_url())
        .trust_host(format!("127.0.0.1:{}", emu.lookaside_addr().port()))
        .retry_policy(
            RetryPolicy::default()
                .with_delays(Duration::from_millis(10), Duration::from_millis(200)),
        )
        .build()
        .unwrap()
}

/// 3 MiB of text in 64 KiB chunks, as a one-shot stream (the request body streams).
fn document() -> (Vec<u8>, Upload) {
    let bytes: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| b"wa-media reqwest round trip\n"[(i % 27) as usize])
        .collect();
    let chunks: Vec<std::io::Result<Bytes>> = bytes
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let upload = Upload::from_stream(
        futures_util::stream::iter(chunks),
        bytes.len() as u64,
        "text/plain".parse().unwrap(),
    );
    (bytes, upload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_retrieve_download_delete_round_trip() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = client(&emu);
    let (bytes, upload) = document();
    let id = client.upload(upload).await.unwrap();

    let info = client.retrieve(&id).await.unwrap();
    assert_eq!(info.file_size, bytes.len() as u64);
    assert_eq!(info.sha256, Sha256Digest::of(&bytes));

    let dir = std::env::temp_dir().join(format!("wa-media-reqwest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dest = dir.join("doc.txt");
    let file = client.fetch_to_file(&id, &dest).await.unwrap();
    assert_eq!(file.file_size, bytes.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);

    client.delete(&id).await.unwrap();
    assert!(client.retrieve(&id).await.is_err(), "deleted");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_reset_midway_is_retried_to_a_verified_file() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = client(&emu);
    let (bytes, _) = document();
    let id = client
        .upload(Upload::from_bytes(
            bytes.clone(),
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap();
    emu.faults()
        .push(Endpoint::Download, Fault::ResetMidBody, 1);
    let dir = std::env::temp_dir().join(format!("wa-media-reqwest-reset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dest = dir.join("doc.bin");
    client.fetch_to_file(&id, &dest).await.unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    std::fs::remove_dir_all(&dir).unwrap();
}
