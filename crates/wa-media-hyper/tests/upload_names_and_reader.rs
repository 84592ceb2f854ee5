//! Upload details and the tokio reader, end to end against the emulator over real sockets:
//! unnamed uploads arrive as `file.<usual extension>`, a path whose extension contradicts its
//! contents never reaches the emulator, and a download read through `into_async_read` gives
//! the exact bytes — or, when its SHA-256 does not match, an `InvalidData` error that downcasts
//! to the core error, never an end of file.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use wa_media_emulator::{Emulator, EmulatorHandle, Endpoint, Fault};
use wa_media_hyper::{
    DownloadExt, Error, IntegrityError, MediaApi, MediaApiExt, MediaClient, MediaId, MediaKind,
    Upload,
};
use wa_media_testkit::client::emulator_builder;
use wa_media_testkit::net::within;

const LIMIT: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> PathBuf {
    wa_media_testkit::paths::fixtures("media").join(name)
}

fn client(emu: &EmulatorHandle) -> MediaClient {
    emulator_builder(emu).build().unwrap()
}

/// An emulator, a client for it, and the id of `audio.mp3` uploaded through it.
async fn emulator_with_audio() -> (EmulatorHandle, MediaClient, MediaId) {
    let emu = Emulator::builder().start().await.unwrap();
    let client = client(&emu);
    let id = client
        .upload(Upload::from_path(
            fixture("audio.mp3"),
            "audio/mpeg".parse().unwrap(),
        ))
        .await
        .unwrap();
    (emu, client, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnamed_uploads_reach_the_emulator_with_the_usual_extension() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = client(&emu);

    let voice = std::fs::read(fixture("voice.ogg")).unwrap();
    let upload =
        Upload::from_bytes(voice, "audio/ogg; codecs=opus".parse().unwrap()).kind(MediaKind::Voice);
    let id = within("upload", LIMIT, client.upload(upload))
        .await
        .unwrap();
    let stored = emu.media_info(&id).unwrap();
    assert_eq!(stored.filename.as_deref(), Some("file.ogg"));

    let jpeg = Bytes::from(std::fs::read(fixture("image.jpg")).unwrap());
    let len = jpeg.len() as u64;
    let stream = futures_util::stream::iter(
        jpeg.chunks(4096)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect::<Vec<std::io::Result<Bytes>>>(),
    );
    let upload = Upload::from_stream(stream, len, "image/jpeg".parse().unwrap());
    let id = within("upload", LIMIT, client.upload(upload))
        .await
        .unwrap();
    assert_eq!(
        emu.media_info(&id).unwrap().filename.as_deref(),
        Some("file.jpg")
    );

    // A path keeps its own name.
    let upload = Upload::from_path(fixture("document.pdf"), "application/pdf".parse().unwrap());
    let id = within("upload", LIMIT, client.upload(upload))
        .await
        .unwrap();
    assert_eq!(
        emu.media_info(&id).unwrap().filename.as_deref(),
        Some("document.pdf")
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_named_jpg_is_refused_and_never_reaches_the_emulator() {
    let emu = Emulator::builder().start().await.unwrap();
    let client = client(&emu);
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("x.jpg");
    std::fs::copy(fixture("image.png"), &fake).unwrap();
    emu.clear_request_log();
    let err = client
        .upload(Upload::from_path(&fake, "image/png".parse().unwrap()))
        .await
        .unwrap_err();
    let Error::Validation(v) = &err else {
        panic!("{err:?}")
    };
    let shown = v.to_string();
    assert!(
        shown.contains("\"x.jpg\" says image/jpeg") && shown.contains("look like image/png"),
        "{shown}"
    );
    assert!(
        emu.request_log().is_empty(),
        "nothing may reach the emulator"
    );
    assert!(emu.media().is_empty());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_copies_through_tokio_io_with_the_exact_bytes() {
    let (emu, client, id) = emulator_with_audio().await;
    let bytes = std::fs::read(fixture("audio.mp3")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("copy.mp3");

    let download = client.fetch(&id).await.unwrap();
    let mut reader = download.into_async_read();
    let mut file = tokio::fs::File::create(&dest).await.unwrap();
    let copied = within("copy", LIMIT, tokio::io::copy(&mut reader, &mut file))
        .await
        .unwrap();
    drop(file);
    assert_eq!(copied, bytes.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    assert_eq!(reader.get_ref().received(), bytes.len() as u64);
    // After the end, the end again.
    let mut buf = [0u8; 16];
    assert_eq!(reader.read(&mut buf).await.unwrap(), 0);

    // Small reads (an AsyncRead consumer with a tiny buffer) give the same bytes.
    let mut small = Vec::new();
    let mut reader = client.fetch(&id).await.unwrap().into_async_read();
    loop {
        let mut buf = [0u8; 7];
        let n = reader.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        small.extend_from_slice(&buf[..n]);
    }
    assert_eq!(small, bytes);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_download_fails_the_reader_with_invalid_data_and_never_ends_cleanly() {
    let (emu, client, id) = emulator_with_audio().await;

    emu.faults().push(Endpoint::Download, Fault::CorruptByte, 1);
    let mut reader = client.fetch(&id).await.unwrap().into_async_read();
    let mut sink = Vec::new();
    let err = within("copy", LIMIT, tokio::io::copy(&mut reader, &mut sink))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    let core = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .expect("the core error is inside");
    assert!(
        matches!(core, Error::Integrity(IntegrityError::Digest { .. })),
        "{core:?}"
    );
    // Reading on never reports the download complete.
    for _ in 0..3 {
        let mut buf = [0u8; 64];
        let again = reader.read(&mut buf).await.unwrap_err();
        assert_eq!(again.kind(), ErrorKind::InvalidData);
    }
    let mut rest = Vec::new();
    assert!(reader.read_to_end(&mut rest).await.is_err());

    // A body cut short is an error too, never a clean end of file.
    emu.faults()
        .push(Endpoint::Download, Fault::TruncatedBody, 1);
    let mut reader = client.fetch(&id).await.unwrap().into_async_read();
    let mut sink = Vec::new();
    let err = within("copy", LIMIT, tokio::io::copy(&mut reader, &mut sink))
        .await
        .unwrap_err();
    assert!(err.get_ref().is_some_and(|e| e.is::<Error>()), "{err:?}");
    assert!(reader.read(&mut [0u8; 8]).await.is_err());
    emu.shutdown().await;
}
