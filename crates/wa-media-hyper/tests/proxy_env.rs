//! The one test that sets proxy variables in the real process environment: its own test binary
//! (so no other test can read them), one test function (so nothing in this binary races it).
//! Every other proxy test gives its variables through `proxy_env_with` (tests/proxy.rs).

use std::time::Duration;

use wa_media_emulator::Emulator;
use wa_media_hyper::{MediaApi, RetryPolicy, Upload, PROXY_VARIABLES};
use wa_media_testkit::net::within;
use wa_media_testkit::proxy::ConnectProxy;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_client_reads_the_process_environment_like_curl() {
    let emu = Emulator::builder().tls(true).start().await.unwrap();
    let proxy = ConnectProxy::builder()
        .map("graph.facebook.com:443", emu.graph_addr())
        .map("lookaside.fbsbx.com:443", emu.lookaside_addr())
        .start()
        .await;
    for name in PROXY_VARIABLES {
        std::env::remove_var(name);
    }
    // The lower-case name wins (curl's order); the upper-case one points nowhere (TEST-NET-1).
    std::env::set_var("https_proxy", proxy.url());
    std::env::set_var("HTTPS_PROXY", "http://192.0.2.1:9");
    let builder = || {
        wa_media_hyper::builder()
            .token(emu.token())
            .phone_number_id("106540352242922")
            .map_transport(|t| {
                t.built_in_roots(false)
                    .add_root_certificate_pem(emu.ca_certificate_pem().unwrap())
                    .connect_timeout(Duration::from_secs(3))
            })
            .retry_policy(RetryPolicy::none())
    };

    // No proxy setting on the builder: the environment's is used.
    let client = builder().build().unwrap();
    let id = within(
        "upload",
        LIMIT,
        client.upload(Upload::from_bytes(
            b"%PDF-1.4\n%%EOF\n".to_vec(),
            "application/pdf".parse().unwrap(),
        )),
    )
    .await
    .unwrap();
    within("retrieve", LIMIT, client.retrieve(&id))
        .await
        .unwrap();
    assert_eq!(
        proxy.connect_targets().first().map(String::as_str),
        Some("graph.facebook.com:443")
    );
    assert!(!proxy.log_text().contains(emu.token()));

    // http targets: `http_proxy` sends the loopback emulator's requests through the loopback
    // proxy (a tunnel); NO_PROXY from the environment sends them direct.
    let plain = Emulator::builder().start().await.unwrap();
    std::env::set_var("http_proxy", proxy.url());
    let plain_client = || {
        wa_media_hyper::builder()
            .token(plain.token())
            .phone_number_id("106540352242922")
            .graph_url(plain.graph_url())
            .retry_policy(RetryPolicy::none())
    };
    let id = within(
        "upload",
        LIMIT,
        plain_client().build().unwrap().upload(Upload::from_bytes(
            b"%PDF-1.4\n%%EOF\n".to_vec(),
            "application/pdf".parse().unwrap(),
        )),
    )
    .await
    .unwrap();
    let via_proxy = format!("127.0.0.1:{}", plain.graph_addr().port());
    assert_eq!(proxy.connect_targets().last(), Some(&via_proxy));
    let seen = proxy.log().len();

    std::env::set_var("NO_PROXY", "127.0.0.1");
    let direct = plain_client().build().unwrap();
    within("retrieve", LIMIT, direct.retrieve(&id))
        .await
        .unwrap();
    assert_eq!(proxy.log().len(), seen, "NO_PROXY: the proxy saw a request");
    std::env::remove_var("NO_PROXY");

    // `no_proxy()` ignores the environment altogether.
    let off = plain_client()
        .map_transport(|t| t.no_proxy())
        .build()
        .unwrap();
    within("retrieve", LIMIT, off.retrieve(&id)).await.unwrap();
    assert_eq!(
        proxy.log().len(),
        seen,
        "no_proxy(): the proxy saw a request"
    );
    assert!(!proxy.log_text().contains(plain.token()));
}
