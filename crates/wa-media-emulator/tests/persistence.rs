//! `data_dir`: media and the index survive a restart; a broken index is a clear error.

mod common;

use common::*;
use http::StatusCode;
use wa_media_emulator::{Emulator, EmulatorError};

#[tokio::test]
async fn media_survive_a_restart_with_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();
    let data = png(50_000);
    let (keep, drop_id) = {
        let emu = Emulator::builder()
            .data_dir(dir.path())
            .start()
            .await
            .unwrap();
        let keep = upload_ok(&c, &emu, "image/png", &data).await;
        let drop_id = upload_ok(&c, &emu, "image/png", &png(10)).await;
        emu.shutdown().await;
        (keep, drop_id)
    };
    assert!(dir.path().join("index.json").is_file());
    assert!(dir.path().join("media").join(&keep).is_file());

    let emu = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    assert_eq!(emu.data_dir(), dir.path());
    assert_eq!(emu.media().len(), 2);
    let url = url_of(&c, &emu, &keep).await;
    let d = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(&d.body[..], &data[..]);
    let r = delete(&c, &emu, &drop_id).await;
    assert_eq!(r.status, StatusCode::OK);
    drop(emu);

    // A media file that disappeared is dropped from the index on start.
    std::fs::remove_file(dir.path().join("media").join(&keep)).unwrap();
    let emu = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap();
    assert!(emu.media().is_empty());
    assert_eq!(
        retrieve(&c, &emu, &keep).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        retrieve(&c, &emu, &drop_id).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_temporary_data_dir_is_removed_after_shutdown() {
    let emu = start().await;
    let dir = emu.data_dir().to_owned();
    assert!(dir.is_dir());
    emu.shutdown().await;
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[tokio::test]
async fn a_broken_index_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.json"), b"{not json").unwrap();
    let err = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, EmulatorError::Index { .. }), "{err}");
    assert!(err.to_string().contains("index.json"));
}
