//! `wa-media --proxy URL` and `--no-proxy`, and the proxy variables, through the built binary:
//! testkit's CONNECT proxy on 127.0.0.1 in front of the emulator (plain http on loopback, so the
//! binary needs no CA). The proxy's log holds every request head it received; it must show
//! CONNECT requests only and never the token.

#[allow(dead_code)]
mod common;

use common::{code, json, stderr, Env, CANARY_TOKEN};
use wa_media_testkit::proxy::ConnectProxy;
use wa_media_types::Sha256Digest;

#[test]
fn info_and_download_go_through_the_proxy_and_no_proxy_bypasses_it() {
    let env = Env::start();
    let id = env.upload("document.pdf");
    let original = std::fs::read(common::fixture("document.pdf")).unwrap();
    let proxy = env.rt.block_on(ConnectProxy::start());
    let graph = format!("127.0.0.1:{}", env.emu().graph_addr().port());
    let lookaside = format!("127.0.0.1:{}", env.emu().lookaside_addr().port());

    // --proxy: info, then a verified download, both through the proxy.
    let out = env.run(&["--proxy", &proxy.url(), "--json", "info", &id]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["id"], id.as_str());
    assert_eq!(proxy.connect_targets(), std::slice::from_ref(&graph));

    let dest = env.dir.path().join("out.pdf");
    let out = env.run(&[
        "--proxy",
        &proxy.url(),
        "--json",
        "download",
        &id,
        "-o",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["sha256"], Sha256Digest::of(&original).to_hex());
    assert_eq!(std::fs::read(&dest).unwrap(), original);
    let targets = proxy.connect_targets();
    assert!(targets.contains(&lookaside), "{targets:?}");
    assert!(
        targets.iter().all(|t| *t == graph || *t == lookaside),
        "{targets:?}"
    );

    // The environment works too (HTTP_PROXY: the emulator is plain http on loopback) ...
    let seen = proxy.log().len();
    let out = env
        .cmd()
        .env("HTTP_PROXY", proxy.url())
        .args(["--json", "info", &id])
        .output()
        .unwrap();
    common::assert_no_leak(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(proxy.log().len(), seen + 1);

    // ... and --no-proxy, or NO_PROXY, bypass it.
    let seen = proxy.log().len();
    let out = env
        .cmd()
        .env("HTTP_PROXY", proxy.url())
        .args(["--no-proxy", "download", &id, "-o", dest.to_str().unwrap()])
        .output()
        .unwrap();
    common::assert_no_leak(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = env
        .cmd()
        .env("NO_PROXY", "127.0.0.1")
        .args(["--proxy", &proxy.url(), "info", &id])
        .output()
        .unwrap();
    common::assert_no_leak(&out);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(proxy.log().len(), seen, "the proxy was used");

    // The proxy saw CONNECT requests only, and never the token.
    let log = proxy.log();
    assert!(
        log.iter()
            .all(|r| r.method() == "CONNECT" && r.status == 200),
        "{log:?}"
    );
    assert!(!proxy.log_text().contains(CANARY_TOKEN));
}

#[test]
fn a_proxy_asking_for_credentials_is_a_network_error_saying_so() {
    let env = Env::start();
    let id = env.upload("document.pdf");
    let proxy = env.rt.block_on(
        ConnectProxy::builder()
            .require_credentials("alice", "s3cret")
            .start(),
    );

    let out = env.run(&["--proxy", &proxy.url(), "info", &id]);
    assert_eq!(code(&out), 6, "network exit code: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("407 Proxy Authentication Required"), "{err}");
    assert!(err.contains("credentials in the proxy URL"), "{err}");
    assert!(!proxy.log_text().contains(CANARY_TOKEN));

    // With the credentials in the URL, the same command works; they never show in output.
    let url = proxy.url_with_credentials("alice", "s3cret");
    let out = env.run(&["--proxy", &url, "--json", "info", &id]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("s3cret"));

    // An unusable proxy URL is a usage error naming it, without its password.
    let out = env.run(&["--proxy", "socks5://bob:pw123@127.0.0.1:1080", "info", &id]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("SOCKS") && !err.contains("pw123"), "{err}");
}
