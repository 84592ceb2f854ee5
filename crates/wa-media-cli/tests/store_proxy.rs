//! `wa-media serve --store s3://…` connects to the object store the way the media client
//! connects to Graph: through the proxy the environment names (issue 24; the store's HTTP
//! client is wa-media-hyper's transport). Through the built binary, with testkit's CONNECT
//! proxy on 127.0.0.1:
//!
//! - `HTTPS_PROXY` and an https endpoint: the S3 client's connection is a `CONNECT` to the
//!   endpoint through the proxy (which answers 502 to a name it does not know, so nothing leaves
//!   the machine), and only the store's: Graph, plain http on loopback, is not an https target.
//! - `HTTP_PROXY` and moto (plain http on loopback): a media is saved into the bucket, verified,
//!   with every connection — Graph, the download host and S3 — through the proxy. Skipped with a
//!   printed reason only when moto is not installed and not required (CI).

#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::running::wait_until;
use common::serve::{jpeg, serve_command, Serve};
use common::Env;
use wa_media_emulator::InboundMessage;
use wa_media_store::object_store::path::Path;
use wa_media_store::object_store::ObjectStoreExt;
use wa_media_testkit::moto::{s3_store, Moto};
use wa_media_testkit::proxy::ConnectProxy;
use wa_media_types::Sha256Digest;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn the_store_client_goes_through_https_proxy() {
    let env = Env::start();
    let dir = env.dir.path().join("state");
    let proxy = env.rt.block_on(ConnectProxy::start());
    let sim = env
        .rt
        .block_on(
            env.emu()
                .simulate_inbound(InboundMessage::new(jpeg(20_000, 7), "image/jpeg")),
        )
        .unwrap();
    let mut cmd = serve_command(
        &env,
        &dir,
        &[
            "--store",
            "s3://wa-media-inbound/inbound",
            "--store-endpoint",
            "https://s3.example.test",
        ],
    );
    cmd.env("HTTPS_PROXY", proxy.url())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn");
    let s = Serve::spawn(cmd);
    assert_eq!(s.deliver(&sim.body).status, 200);

    let target = "s3.example.test:443".to_owned();
    assert!(
        wait_until(WAIT, Duration::from_millis(20), || proxy
            .connect_targets()
            .contains(&target)),
        "the store never went through HTTPS_PROXY; the proxy saw: {}\nserve said: {}",
        proxy.log_text(),
        s.stderr()
    );
    // Only the store's connections: Graph and the download host are plain http (HTTPS_PROXY
    // does not apply to them), and every request the proxy saw was a CONNECT.
    let log = proxy.log();
    assert!(
        log.iter()
            .all(|r| r.method() == "CONNECT" && r.target() == target),
        "{}",
        proxy.log_text()
    );
}

#[test]
fn a_media_is_saved_into_s3_through_http_proxy() {
    let Some(moto) = Moto::start_or_skip("a_media_is_saved_into_s3_through_http_proxy") else {
        return;
    };
    const BUCKET: &str = "wa-media-proxied";
    moto.create_bucket(BUCKET);
    let env = Env::start();
    let dir = env.dir.path().join("state");
    let proxy = env.rt.block_on(ConnectProxy::start());
    let bytes = jpeg(50_000, 3);
    let sim = env
        .rt
        .block_on(
            env.emu()
                .simulate_inbound(InboundMessage::new(bytes.clone(), "image/jpeg")),
        )
        .unwrap();
    let mut cmd = serve_command(
        &env,
        &dir,
        &[
            "--store",
            &format!("s3://{BUCKET}/inbound"),
            "--store-endpoint",
            &moto.endpoint(),
        ],
    );
    cmd.env("HTTP_PROXY", proxy.url())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn");
    let mut s = Serve::spawn(cmd);
    assert_eq!(s.deliver(&sim.body).status, 200);
    let saved = s.wait_saved(sim.media_id.as_str());
    assert_eq!(saved["sha256"], Sha256Digest::of(&bytes).to_hex());

    // The object is in the bucket, byte for byte.
    let key = Path::parse(saved["path"].as_str().unwrap()).unwrap();
    let store = s3_store(&moto.endpoint(), BUCKET);
    let got = env
        .rt
        .block_on(async { store.get(&key).await.unwrap().bytes().await.unwrap() });
    assert!(
        got == bytes[..],
        "{key}: the object differs from what was sent"
    );

    // S3 went through the proxy, as Graph did.
    let moto_target = moto.endpoint().trim_start_matches("http://").to_owned();
    let graph_target = format!("127.0.0.1:{}", env.emu().graph_addr().port());
    let targets = proxy.connect_targets();
    assert!(
        targets.contains(&moto_target),
        "{targets:?} (moto {moto_target})"
    );
    assert!(
        targets.contains(&graph_target),
        "{targets:?} (graph {graph_target})"
    );
}
