//! The `native-roots` feature: the OS root store, as rustls-native-certs loads it, honours
//! `SSL_CERT_FILE`. Pointed at the emulator's CA, the client trusts the emulator serving the
//! production host names (`graph.facebook.com`, `lookaside.fbsbx.com`, mapped to loopback).
//!
//! `SSL_CERT_FILE` is process-wide, so this file is its own test binary with a single test
//! (`[[test]] required-features = ["native-roots"]`); `cargo xtask test` runs it with
//! `-p wa-media-hyper --features aws-lc-rs,native-roots`.

use std::time::Duration;

use wa_media_emulator::{Emulator, EmulatorHandle};
use wa_media_hyper::{MediaApi, MediaClient, RequestBody, Transport, TransportErrorKind, Upload};
use wa_media_testkit::net::{collect, runtime, within};

const LIMIT: Duration = Duration::from_secs(60);

/// The production configuration (built-in roots on), changed only in address resolution.
fn client(emu: &EmulatorHandle) -> MediaClient {
    wa_media_hyper::builder()
        .token(emu.token())
        .phone_number_id("106540352242922")
        .map_transport(|t| {
            t.resolve("graph.facebook.com", emu.graph_addr())
                .resolve("lookaside.fbsbx.com", emu.lookaside_addr())
        })
        .build()
        .unwrap()
}

#[test]
fn ssl_cert_file_pointing_at_the_emulators_ca_is_trusted() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::builder().tls(true).start()).unwrap();
    assert_eq!(emu.graph_url(), "https://graph.facebook.com");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("emulator-ca.pem");
    std::fs::write(&ca_file, emu.ca_certificate_pem().unwrap()).unwrap();
    let bytes = b"%PDF-1.4\n% trusted through SSL_CERT_FILE\n".to_vec();

    // Before: the OS store (whatever SSL_CERT_FILE the machine has) and Mozilla's do not hold
    // the emulator's CA, so the handshake fails.
    let before = client(&emu);
    let err = rt
        .block_on(within("an untrusted handshake", LIMIT, async {
            before
                .transport()
                .send(
                    http::Request::get("https://graph.facebook.com/")
                        .body(RequestBody::empty())
                        .unwrap(),
                )
                .await
        }))
        .unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::Connect, "{err}");
    let mut causes = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = source {
        causes.push_str(&format!("{e:?} "));
        source = e.source();
    }
    assert!(causes.contains("UnknownIssuer"), "{causes}");

    // The only test in this binary and no client is being built: nothing reads the variable
    // while it changes. The root store is loaded when a client is built.
    std::env::set_var("SSL_CERT_FILE", &ca_file);
    std::env::remove_var("SSL_CERT_DIR");
    let after = client(&emu);
    rt.block_on(within("upload, retrieve and download", LIMIT, async {
        let id = after
            .upload(Upload::from_bytes(
                bytes.clone(),
                "application/pdf".parse().unwrap(),
            ))
            .await
            .unwrap();
        let info = after.retrieve(&id).await.unwrap();
        assert!(info
            .url
            .expose()
            .starts_with("https://lookaside.fbsbx.com/"));
        let got = collect(after.download(&info).await.unwrap()).await.unwrap();
        assert_eq!(got, bytes);
    }));
}
