//! Runs the worked example (examples/roundtrip.rs) against a started emulator.

#[path = "../examples/roundtrip.rs"]
mod roundtrip;

use sha2::{Digest, Sha256};
use wa_media_emulator::{Emulator, Endpoint};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roundtrip_example_runs() {
    let emu = Emulator::builder().start().await.unwrap();
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/media/voice.ogg"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let done = roundtrip::round_trip(
        &emu,
        bytes.clone(),
        "audio/ogg; codecs=opus".parse().unwrap(),
        dir.path(),
    )
    .await
    .unwrap();
    assert_eq!(done.downloaded, bytes);
    assert_eq!(std::fs::read(&done.fetched_file).unwrap(), bytes);
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(done.sha256, hex);
    assert_eq!(done.mime_type, "audio/ogg; codecs=opus");
    let endpoints: Vec<_> = emu
        .request_log()
        .iter()
        .filter(|r| r.status == 200)
        .filter_map(|r| r.endpoint)
        .collect();
    assert_eq!(
        endpoints,
        vec![
            Endpoint::Upload,
            Endpoint::Retrieve,
            Endpoint::Download,
            Endpoint::Retrieve,
            Endpoint::Download,
            Endpoint::Delete,
        ]
    );
    assert!(
        emu.media_info(&done.media_id.parse().unwrap()).is_none(),
        "deleted"
    );
}
