//! Both crypto providers linked (`ring` from the defaults plus `--features aws-lc-rs`) and no
//! process-wide default installed: rustls' own `ClientConfig::builder()` would panic here, yet
//! the client builds and talks TLS, because it passes its provider explicitly.
//!
//! Run by `cargo xtask test` with `-p wa-media-hyper --features aws-lc-rs,native-roots` (the
//! `[[test]]` entry requires `ring` and `aws-lc-rs`).

use std::time::Duration;

use wa_media_emulator::Emulator;
use wa_media_hyper::{MediaApi, Upload};
use wa_media_testkit::net::{collect, within};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn rustls_alone_has_no_default_provider_with_both_linked() {
    // The hazard this crate avoids: with two providers linked and none installed, rustls
    // cannot pick one and panics.
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
    let outcome = std::panic::catch_unwind(rustls::ClientConfig::builder);
    assert!(
        outcome.is_err(),
        "rustls picked a default provider by itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_builds_and_connects_without_a_default_provider() {
    let emu = Emulator::builder().tls(true).start().await.unwrap();
    let client = wa_media_hyper::builder()
        .token(emu.token())
        .phone_number_id("106540352242922")
        .map_transport(|t| {
            t.built_in_roots(false)
                .add_root_certificate_pem(emu.ca_certificate_pem().unwrap())
                .resolve("graph.facebook.com", emu.graph_addr())
                .resolve("lookaside.fbsbx.com", emu.lookaside_addr())
        })
        .build()
        .unwrap();
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "building the client installed a process-wide default"
    );

    let bytes = b"%PDF-1.4\n% both providers linked\n".to_vec();
    within("upload, retrieve and download over TLS", LIMIT, async {
        let id = client
            .upload(Upload::from_bytes(
                bytes.clone(),
                "application/pdf".parse().unwrap(),
            ))
            .await
            .unwrap();
        let info = client.retrieve(&id).await.unwrap();
        let got = collect(client.download(&info).await.unwrap())
            .await
            .unwrap();
        assert_eq!(got, bytes);
    })
    .await;
    assert!(rustls::crypto::CryptoProvider::get_default().is_none());
}
