//! Proxies, over real sockets on loopback: the production client (only the emulator's CA added)
//! reaches `graph.facebook.com` and `lookaside.fbsbx.com` through testkit's CONNECT proxy, which
//! resolves those names to a TLS emulator as a real proxy would do DNS. What the proxy sees is
//! checked from its log: CONNECT requests only, `Proxy-Authorization` when configured, never the
//! access token (and its tunnels carried TLS, never the token in clear).
//!
//! The proxy variables are given through `proxy_env_with` (a lookup closure), never by changing
//! this process's environment, so these tests can run in parallel; tests/proxy_env.rs holds the
//! one test that reads the real environment, in its own binary.

use std::time::Duration;

use wa_media_emulator::{Emulator, EmulatorHandle};
use wa_media_hyper::{
    BuildError, ClientBuilder, Error, HyperError, HyperTransport, HyperTransportBuilder, MediaApi,
    MediaApiExt, MediaClient, MediaId, RetryPolicy, TransportErrorKind, Upload,
};
use wa_media_testkit::net::{collect, within};
use wa_media_testkit::proxy::{base64, ConnectProxy};

const PHONE: &str = "106540352242922";
/// How long one step may take before the test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(60);

fn png() -> Vec<u8> {
    std::fs::read(wa_media_testkit::paths::fixtures("media").join("image.png")).unwrap()
}

/// An environment for `proxy_env_with`: exactly these variables are set.
fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// A TLS emulator on the production host names, and a proxy that resolves those names to it.
async fn tls_emulator_behind(
    proxy: wa_media_testkit::proxy::ConnectProxyBuilder,
) -> (EmulatorHandle, ConnectProxy) {
    let emu = Emulator::builder().tls(true).start().await.unwrap();
    assert_eq!(emu.graph_url(), "https://graph.facebook.com");
    let proxy = proxy
        .map("graph.facebook.com:443", emu.graph_addr())
        .map("lookaside.fbsbx.com:443", emu.lookaside_addr())
        .start()
        .await;
    (emu, proxy)
}

/// The production configuration with only the emulator's CA: no address override, so every
/// connection has to go through the proxy (which does the name resolution).
fn production(emu: &EmulatorHandle) -> ClientBuilder<HyperTransportBuilder> {
    wa_media_hyper::builder()
        .token(emu.token())
        .phone_number_id(PHONE)
        .map_transport(|t| {
            t.built_in_roots(false)
                .add_root_certificate_pem(emu.ca_certificate_pem().unwrap())
        })
}

/// A plain-http emulator on 127.0.0.1 and a client configured for it.
async fn plain_emulator() -> (EmulatorHandle, ClientBuilder<HyperTransportBuilder>) {
    let emu = Emulator::builder().start().await.unwrap();
    let b = wa_media_hyper::builder()
        .token(emu.token())
        .phone_number_id(PHONE)
        .graph_url(emu.graph_url())
        .trust_host(format!("127.0.0.1:{}", emu.lookaside_addr().port()))
        .retry_policy(RetryPolicy::none());
    (emu, b)
}

/// Upload, retrieve, download (verified), fetch to a file, delete: every endpoint once.
async fn round_trip(client: &MediaClient) -> MediaId {
    let bytes = png();
    let id = within(
        "upload",
        LIMIT,
        client.upload(Upload::from_bytes(
            bytes.clone(),
            "image/png".parse().unwrap(),
        )),
    )
    .await
    .unwrap();
    let info = within("retrieve", LIMIT, client.retrieve(&id))
        .await
        .unwrap();
    let download = within("download", LIMIT, client.download(&info))
        .await
        .unwrap();
    assert_eq!(collect(download).await.unwrap(), bytes);
    let dir = tempfile::tempdir().unwrap();
    let file = within(
        "fetch_to_file",
        LIMIT,
        client.fetch_to_file(&id, dir.path().join("x.png")),
    )
    .await
    .unwrap();
    assert_eq!(file.file_size, bytes.len() as u64);
    within("delete", LIMIT, client.delete(&id)).await.unwrap();
    id
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_hostnames_through_the_proxy_with_tls_end_to_end() {
    for http2 in [true, false] {
        let (emu, proxy) = tls_emulator_behind(ConnectProxy::builder()).await;
        let transport = HyperTransport::builder()
            .built_in_roots(false)
            .add_root_certificate_pem(emu.ca_certificate_pem().unwrap())
            .http2(http2)
            .proxy_env_with(env(&[("HTTPS_PROXY", &proxy.url())]))
            .build()
            .unwrap();
        let client = production(&emu)
            .transport(transport.clone())
            .build()
            .unwrap();
        round_trip(&client).await;

        // Only CONNECT requests, to the real host names on 443, each answered 200.
        let log = proxy.log();
        assert!(!log.is_empty());
        for r in &log {
            assert_eq!(r.method(), "CONNECT", "{r:?}");
            assert_eq!(r.status, 200, "{r:?}");
            assert_eq!(r.header("proxy-authorization"), None, "{r:?}");
        }
        let mut targets = proxy.connect_targets();
        targets.sort();
        targets.dedup();
        assert_eq!(
            targets,
            ["graph.facebook.com:443", "lookaside.fbsbx.com:443"]
        );

        // The token reached the emulator on every request — and the proxy never: not in any
        // head it received, not in clear anywhere in what crossed its tunnels (TLS records).
        assert!(emu.request_log().iter().all(|r| r.authorized));
        assert!(!proxy.log_text().contains(emu.token()));
        let tunneled = proxy.tunneled();
        assert!(
            tunneled.len() > png().len(),
            "the upload crossed the tunnel"
        );
        assert!(
            !contains(&tunneled, emu.token()),
            "the token crossed in clear"
        );
        assert!(
            !contains(&tunneled, "Bearer"),
            "a request header crossed in clear"
        );
        // TLS to the target: the first bytes through the tunnel are a TLS handshake record.
        assert_eq!(tunneled[0], 0x16, "not a TLS handshake");
        // The transport says which proxy it uses, without credentials.
        let debug = format!("{transport:?}");
        assert!(debug.contains(&proxy.url()), "{debug}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_reach_the_proxy_only_as_proxy_authorization() {
    let (emu, proxy) =
        tls_emulator_behind(ConnectProxy::builder().require_credentials("alice", "s3cret")).await;
    let url = proxy.url_with_credentials("alice", "s3cret");
    let builder = production(&emu).map_transport(|t| t.proxy(url.clone()));
    assert!(!format!("{builder:?}").contains("s3cret"), "{builder:?}");
    let client = production(&emu)
        // The builder's proxy wins over the environment's.
        .map_transport(|t| {
            t.proxy(url)
                .proxy_env_with(env(&[("HTTPS_PROXY", "http://192.0.2.1:9")]))
        })
        .build()
        .unwrap();
    assert!(!format!("{client:?}").contains("s3cret"));
    round_trip(&client).await;

    let want = format!("Basic {}", base64(b"alice:s3cret"));
    let log = proxy.log();
    assert!(!log.is_empty());
    for r in &log {
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.header("proxy-authorization").as_deref(),
            Some(want.as_str())
        );
    }
    assert!(!proxy.log_text().contains(emu.token()));
    // The target never saw the proxy's credentials.
    for r in emu.request_log() {
        assert!(
            !r.headers.iter().any(|h| h == "proxy-authorization"),
            "{r:?}"
        );
        assert!(r.authorized, "{r:?}");
    }
}

fn hyper_error(err: &Error) -> &HyperError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(h) = e.downcast_ref::<HyperError>() {
            return h;
        }
        cur = e.source();
    }
    panic!("no HyperError in {err:?}");
}

fn chain(err: &Error) -> String {
    let mut out = err.to_string();
    let mut cur = std::error::Error::source(err);
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_407_is_a_clear_error_naming_proxy_authentication() {
    let (emu, proxy) =
        tls_emulator_behind(ConnectProxy::builder().require_credentials("alice", "s3cret")).await;
    let id: MediaId = "1037543291543636".parse().unwrap();

    // No credentials, then wrong ones: each says what to do.
    for (url, advice) in [
        (proxy.url(), "put its credentials in the proxy URL"),
        (
            proxy.url_with_credentials("alice", "wrong-pw"),
            "refused the credentials in the proxy URL",
        ),
    ] {
        let client = production(&emu)
            .map_transport(|t| t.proxy(url))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let err = within("retrieve", LIMIT, client.retrieve(&id))
            .await
            .unwrap_err();
        let Error::Transport(t) = &err else {
            panic!("not a transport error: {err:?}");
        };
        // Nothing reached Graph: the request was certainly not sent.
        assert_eq!(t.kind(), TransportErrorKind::Connect);
        assert!(err.request_not_sent());
        assert!(hyper_error(&err).is_proxy_auth_required());
        let text = chain(&err);
        assert!(text.contains("407 Proxy Authentication Required"), "{text}");
        assert!(text.contains(advice), "{text}");
        assert!(text.contains(&proxy.addr().to_string()), "{text}");
        assert!(
            !text.contains("wrong-pw") && !text.contains(emu.token()),
            "{text}"
        );
    }
    assert!(emu.request_log().is_empty(), "Graph was reached");
    let statuses: Vec<u16> = proxy.log().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [407, 407]);
    assert!(!proxy.log_text().contains(emu.token()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_bypasses_the_proxy() {
    let (emu, b) = plain_emulator().await;
    let proxy = ConnectProxy::start().await;

    // The control: with HTTP_PROXY alone, the loopback proxy tunnels to the loopback emulator
    // (CONNECT, never a request in absolute form: the proxy never parses a request header).
    let client = b
        .clone()
        .map_transport(|t| t.proxy_env_with(env(&[("HTTP_PROXY", &proxy.url())])))
        .build()
        .unwrap();
    round_trip(&client).await;
    let targets = proxy.connect_targets();
    assert!(!targets.is_empty());
    assert!(proxy
        .log()
        .iter()
        .all(|r| r.method() == "CONNECT" && r.status == 200));
    assert!(!proxy.log_text().contains(emu.token()));
    let seen = proxy.log().len();

    // NO_PROXY (lower or upper case; an address, a host name or `*`) sends them direct.
    for no_proxy in [
        ("NO_PROXY", "127.0.0.1"),
        ("no_proxy", "localhost, 127.0.0.0/8"),
        ("NO_PROXY", "*"),
    ] {
        let client = b
            .clone()
            .map_transport(|t| t.proxy_env_with(env(&[("http_proxy", &proxy.url()), no_proxy])))
            .build()
            .unwrap();
        round_trip(&client).await;
        assert_eq!(
            proxy.log().len(),
            seen,
            "{no_proxy:?}: the proxy saw a request"
        );
    }
    // So does `no_proxy()`, and NO_PROXY applies to the builder's proxy too.
    let client = b
        .clone()
        .map_transport(|t| {
            t.proxy_env_with(env(&[("ALL_PROXY", &proxy.url())]))
                .no_proxy()
        })
        .build()
        .unwrap();
    round_trip(&client).await;
    let client = b
        .clone()
        .map_transport(|t| {
            t.proxy(proxy.url())
                .proxy_env_with(env(&[("NO_PROXY", "127.0.0.1")]))
        })
        .build()
        .unwrap();
    round_trip(&client).await;
    assert_eq!(proxy.log().len(), seen, "the proxy saw a request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_targets_never_go_through_a_remote_proxy() {
    // 192.0.2.1 (TEST-NET-1) answers nothing: had the client used it, the connect would fail.
    let (_emu, b) = plain_emulator().await;
    let client = b
        .map_transport(|t| {
            t.connect_timeout(Duration::from_secs(3))
                .proxy_env_with(env(&[("ALL_PROXY", "http://192.0.2.1:9")]))
        })
        .build()
        .unwrap();
    round_trip(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_overrides_connect_directly() {
    let (emu, proxy) = tls_emulator_behind(ConnectProxy::builder()).await;
    let client = production(&emu)
        .map_transport(|t| {
            t.resolve("graph.facebook.com", emu.graph_addr())
                .resolve("lookaside.fbsbx.com", emu.lookaside_addr())
                .proxy(proxy.url())
        })
        .build()
        .unwrap();
    round_trip(&client).await;
    assert!(proxy.log().is_empty(), "{:?}", proxy.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_trust_applies_to_the_target_never_to_the_proxy() {
    // A proxy on loopback does not make a plain-http or unlisted target trusted: those URLs are
    // refused before anything is sent, so the proxy sees nothing.
    let (emu, proxy) = tls_emulator_behind(ConnectProxy::builder()).await;
    let client = production(&emu)
        .map_transport(|t| t.proxy(proxy.url()))
        .build()
        .unwrap();
    let id = within(
        "upload",
        LIMIT,
        client.upload(Upload::from_bytes(png(), "image/png".parse().unwrap())),
    )
    .await
    .unwrap();
    let info = within("retrieve", LIMIT, client.retrieve(&id))
        .await
        .unwrap();
    let seen = proxy.log().len();
    let query = info
        .url
        .expose()
        .split_once('?')
        .map_or("", |(_, q)| q)
        .to_owned();
    for url in [
        format!("http://lookaside.fbsbx.com/whatsapp_business/attachments/?{query}"),
        format!("https://evil.example.test/whatsapp_business/attachments/?{query}"),
        format!("http://{}/?{query}", proxy.addr()),
    ] {
        let mut forged = info.clone();
        forged.url = url.clone().into();
        let err = within("download", LIMIT, client.download(&forged))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::UntrustedHost { .. } | Error::InsecureUrl { .. }),
            "{url}: {err}"
        );
    }
    assert_eq!(
        proxy.log().len(),
        seen,
        "the proxy was asked for an untrusted target"
    );
    assert!(!proxy.log_text().contains(emu.token()));
}

#[test]
fn unusable_proxy_urls_are_refused_when_building() {
    for (url, says) in [
        ("socks5://u:pw@127.0.0.1:1080", "SOCKS"),
        ("https://127.0.0.1:8443", "https://"),
        ("http://", "not a URL"),
    ] {
        let err = wa_media_hyper::builder()
            .token("t")
            .map_transport(|t| t.proxy(url))
            .build()
            .unwrap_err();
        assert!(
            matches!(err, BuildError::InvalidProxy { .. }),
            "{url}: {err}"
        );
        let text = err.to_string();
        assert!(text.contains(says) && !text.contains("pw"), "{text}");
    }
    // From the environment, the error names the variable.
    let err = wa_media_hyper::builder()
        .token("t")
        .map_transport(|t| t.proxy_env_with(env(&[("all_proxy", "socks5h://127.0.0.1:1080")])))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("all_proxy"), "{err}");
    // ... unless proxies are off.
    wa_media_hyper::builder()
        .token("t")
        .map_transport(|t| {
            t.proxy_env_with(env(&[("all_proxy", "socks5h://127.0.0.1:1080")]))
                .no_proxy()
        })
        .build()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_never_answers_is_bounded_by_the_connect_timeout() {
    // Accepts the connection, reads the CONNECT, answers nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let emu = Emulator::builder().tls(true).start().await.unwrap();
    let client = production(&emu)
        .map_transport(|t| {
            t.proxy(format!("http://{addr}"))
                .connect_timeout(Duration::from_millis(300))
        })
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let id: MediaId = "1037543291543636".parse().unwrap();
    let err = within("retrieve", LIMIT, client.retrieve(&id))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                kind: wa_media_hyper::TimeoutKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.request_not_sent());
    holder.abort();
}
