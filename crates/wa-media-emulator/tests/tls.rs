//! TLS mode: certificates for the production hostnames from a generated CA; a client that only
//! trusts that CA and maps the hostnames to the listeners works, over HTTP/1.1 and HTTP/2.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use wa_media_emulator::{Emulator, PRODUCTION_GRAPH_URL, PRODUCTION_LOOKASIDE_URL};

fn tls_config(ca_der: Option<Vec<u8>>, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(der) = ca_der {
        roots.add(CertificateDer::from(der)).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

async fn tls_connect(
    addr: SocketAddr,
    host: &'static str,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from(host).unwrap(), tcp)
        .await
}

/// One request over a fresh HTTP/1.1 TLS connection to `host` (resolved to `addr`).
async fn https1(
    addr: SocketAddr,
    host: &'static str,
    ca: &[u8],
    req: Request<Full<Bytes>>,
) -> (StatusCode, Bytes) {
    let tls = tls_connect(addr, host, tls_config(Some(ca.to_vec()), &[b"http/1.1"]))
        .await
        .expect("handshake with the generated CA");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status();
    (status, resp.into_body().collect().await.unwrap().to_bytes())
}

fn request(method: Method, host: &str, path: &str, token: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host)
        .header(header::USER_AGENT, UA)
        .header(header::AUTHORIZATION, bearer(token))
}

#[tokio::test]
async fn production_hostnames_over_tls() {
    let emu = Emulator::builder().tls(true).start().await.unwrap();
    assert_eq!(emu.graph_url(), PRODUCTION_GRAPH_URL);
    assert_eq!(emu.lookaside_url(), PRODUCTION_LOOKASIDE_URL);
    let ca = emu.ca_certificate_der().expect("a CA in TLS mode");
    let pem = emu.ca_certificate_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(
        std::fs::read_to_string(emu.ca_certificate_path().unwrap()).unwrap(),
        pem
    );
    let token = emu.token().to_owned();

    let data = png(20_000);
    let (ct, body) = multipart(&png_parts(&data));
    let req = request(
        Method::POST,
        "graph.facebook.com",
        &format!("/{VERSION}/{PHONE}/media"),
        &token,
    )
    .header(header::CONTENT_TYPE, ct)
    .body(Full::new(Bytes::from(body)))
    .unwrap();
    let (status, body) = https1(emu.graph_addr(), "graph.facebook.com", &ca, req).await;
    assert_eq!(status, StatusCode::OK);
    let id = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let req = request(
        Method::GET,
        "graph.facebook.com",
        &format!("/{VERSION}/{id}"),
        &token,
    )
    .body(Full::new(Bytes::new()))
    .unwrap();
    let (status, body) = https1(emu.graph_addr(), "graph.facebook.com", &ca, req).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let url = v["url"].as_str().unwrap();
    let path = url
        .strip_prefix("https://lookaside.fbsbx.com")
        .unwrap_or_else(|| panic!("{url}"));

    let req = request(Method::GET, "lookaside.fbsbx.com", path, &token)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, bytes) = https1(emu.lookaside_addr(), "lookaside.fbsbx.com", &ca, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&bytes[..], &data[..]);

    // HTTP/2 by ALPN on the same listener.
    let tls = tls_connect(
        emu.graph_addr(),
        "graph.facebook.com",
        tls_config(Some(ca.clone()), &[b"h2"]),
    )
    .await
    .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri(format!("https://graph.facebook.com/{VERSION}/{id}"))
        .header(header::USER_AGENT, UA)
        .header(header::AUTHORIZATION, bearer(&token))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // The certificate covers localhost and 127.0.0.1 too.
    for name in ["localhost", "127.0.0.1"] {
        tls_connect(emu.graph_addr(), name, tls_config(Some(ca.clone()), &[]))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // A client that does not trust the CA, or asks for another name, fails the handshake.
    assert!(tls_connect(
        emu.graph_addr(),
        "graph.facebook.com",
        tls_config(None, &[])
    )
    .await
    .is_err());
    assert!(
        tls_connect(emu.graph_addr(), "example.com", tls_config(Some(ca), &[]))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn public_urls_can_be_configured_in_tls_mode() {
    let emu = Emulator::builder()
        .tls(true)
        .public_graph_url("https://localhost:1/")
        .public_lookaside_url("https://media.localhost")
        .start()
        .await
        .unwrap();
    assert_eq!(emu.graph_url(), "https://localhost:1");
    assert_eq!(emu.lookaside_url(), "https://media.localhost");
    let ca = emu.ca_certificate_der().unwrap();
    // The extra public host is in the certificate.
    tls_connect(
        emu.lookaside_addr(),
        "media.localhost",
        tls_config(Some(ca), &[]),
    )
    .await
    .expect("handshake for the configured host");
    assert!(Emulator::builder()
        .public_graph_url("not a url")
        .start()
        .await
        .is_err());
}
