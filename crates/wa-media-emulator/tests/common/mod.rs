//! Test helpers: a plain hyper-util client, multipart bodies and sample media.
#![allow(dead_code)]

pub mod receiver;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use wa_media_emulator::{Emulator, EmulatorHandle};

pub type Body = BoxBody<Bytes, std::io::Error>;
pub type HttpClient = Client<HttpConnector, Body>;

pub const UA: &str = "wa-media-emulator-tests/1";
pub const VERSION: &str = wa_media_types::DEFAULT_API_VERSION;
pub const PHONE: &str = "106540352242922";

pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub async fn start() -> EmulatorHandle {
    Emulator::builder().start().await.expect("emulator starts")
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(400)])
            )
        })
    }

    /// The Graph error envelope's `error` object (asserting the envelope shape).
    pub fn graph_error(&self) -> serde_json::Value {
        let v = self.json();
        let e = v["error"].clone();
        assert!(e["message"].is_string(), "no message in {v}");
        assert!(e["type"].is_string(), "no type in {v}");
        assert!(e["code"].is_i64(), "no code in {v}");
        assert!(e["fbtrace_id"].is_string(), "no fbtrace_id in {v}");
        e
    }

    pub fn code(&self) -> i64 {
        self.graph_error()["code"].as_i64().unwrap_or(-1)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn send(c: &HttpClient, req: Request<Body>) -> Reply {
    let resp = c.request(req).await.expect("request answered");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body read").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub enum Part<'a> {
    Text(&'a str, &'a str),
    File {
        name: &'a str,
        filename: &'a str,
        content_type: Option<&'a str>,
        data: &'a [u8],
    },
}

pub const BOUNDARY: &str = "----wa-media-test-boundary-7MA4YWxkTrZu0gW";

pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match p {
            Part::Text(name, value) => {
                out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File {
                name,
                filename,
                content_type,
                data,
            } => {
                out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                    )
                    .as_bytes(),
                );
                if let Some(ct) = content_type {
                    out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), out)
}

pub fn upload_request(
    emu: &EmulatorHandle,
    token: Option<&str>,
    phone: &str,
    parts: &[Part<'_>],
) -> Request<Body> {
    let (ct, body) = multipart(parts);
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/{VERSION}/{phone}/media", emu.graph_url()))
        .header(header::CONTENT_TYPE, ct)
        .header(header::USER_AGENT, UA);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, bearer(t));
    }
    b.body(full(body)).expect("request")
}

/// Uploads `data` as `mime` with the standard fields; returns the reply.
pub async fn upload(c: &HttpClient, emu: &EmulatorHandle, mime: &str, data: &[u8]) -> Reply {
    let req = upload_request(
        emu,
        Some(emu.token()),
        PHONE,
        &[
            Part::Text("messaging_product", "whatsapp"),
            Part::Text("type", mime),
            Part::File {
                name: "file",
                filename: "upload.bin",
                content_type: Some(mime),
                data,
            },
        ],
    );
    send(c, req).await
}

/// Uploads and returns the new id, asserting success.
pub async fn upload_ok(c: &HttpClient, emu: &EmulatorHandle, mime: &str, data: &[u8]) -> String {
    let r = upload(c, emu, mime, data).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = r.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(id.len(), 16, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    id
}

pub fn graph_get(emu: &EmulatorHandle, path_and_query: &str, token: Option<&str>) -> Request<Body> {
    graph_req(emu, Method::GET, path_and_query, token)
}

pub fn graph_req(
    emu: &EmulatorHandle,
    method: Method,
    path_and_query: &str,
    token: Option<&str>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("{}{path_and_query}", emu.graph_url()))
        .header(header::USER_AGENT, UA);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, bearer(t));
    }
    b.body(full(Bytes::new())).expect("request")
}

pub async fn retrieve(c: &HttpClient, emu: &EmulatorHandle, id: &str) -> Reply {
    send(
        c,
        graph_get(emu, &format!("/{VERSION}/{id}"), Some(emu.token())),
    )
    .await
}

/// Deletes `id` with the emulator's token; returns the reply.
pub async fn delete(c: &HttpClient, emu: &EmulatorHandle, id: &str) -> Reply {
    send(
        c,
        graph_req(
            emu,
            Method::DELETE,
            &format!("/{VERSION}/{id}"),
            Some(emu.token()),
        ),
    )
    .await
}

pub fn download_req(url: &str, token: Option<&str>, ua: bool) -> Request<Body> {
    let mut b = Request::builder().method(Method::GET).uri(url);
    if ua {
        b = b.header(header::USER_AGENT, UA);
    }
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, bearer(t));
    }
    b.body(full(Bytes::new())).expect("request")
}

/// Retrieves a fresh URL for `id` and returns it.
pub async fn url_of(c: &HttpClient, emu: &EmulatorHandle, id: &str) -> String {
    let r = retrieve(c, emu, id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["url"].as_str().expect("url").to_owned()
}

pub async fn admin_post(
    c: &HttpClient,
    emu: &EmulatorHandle,
    path: &str,
    json: serde_json::Value,
) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{}{path}", emu.graph_url()))
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(serde_json::to_vec(&json).expect("json")))
        .expect("request");
    send(c, req).await
}

// ---- sample media ----

pub const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// A buffer of `len` bytes starting with `head` and filled with a pattern.
pub fn with_head(head: &[u8], len: usize) -> Vec<u8> {
    let mut v = head.to_vec();
    v.resize(len.max(head.len()), 0);
    for (i, b) in v.iter_mut().enumerate().skip(head.len()) {
        *b = (i % 251) as u8;
    }
    v.truncate(len);
    v
}

pub fn png(len: usize) -> Vec<u8> {
    with_head(PNG_HEAD, len)
}

/// A static WebP (VP8L) of exactly `len` bytes.
pub fn static_webp(len: usize) -> Vec<u8> {
    with_head(b"RIFF\0\0\0\0WEBPVP8L\x0a\0\0\0\x2f", len)
}

/// Plain ASCII text of `len` bytes.
pub fn text(len: usize) -> Vec<u8> {
    let line = b"The quick brown fox jumps over the lazy dog 0123456789.\n";
    line.iter().copied().cycle().take(len).collect()
}

/// The bytes of `fixtures/media/{name}`.
pub fn fixture(name: &str) -> Vec<u8> {
    wa_media_testkit::paths::read_fixture(&format!("media/{name}"))
}

/// The three parts of a PNG upload with the standard fields: `a.png` holding `data`.
pub fn png_parts(data: &[u8]) -> [Part<'_>; 3] {
    [
        Part::Text("messaging_product", "whatsapp"),
        Part::Text("type", "image/png"),
        Part::File {
            name: "file",
            filename: "a.png",
            content_type: Some("image/png"),
            data,
        },
    ]
}

// ---- raw sockets, child processes, memory (hostile-client and memory tests) ----

/// The HTTP/2 connection preface followed by an empty SETTINGS frame: what an h2c
/// (prior-knowledge) client sends first.
pub const H2C_PREFACE_AND_SETTINGS: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

// Raw-socket reads shared with the other crates' tests.
#[allow(unused_imports)] // each test file uses a subset
pub use wa_media_testkit::net::{closed_by_peer_within, read_http1_response};

/// Asserts that a memory figure grew from `from` to `to` KiB by less than `limit` KiB.
pub fn assert_grew_less_than(what: &str, from: u64, to: u64, limit: u64) {
    let grew = to.saturating_sub(from);
    assert!(
        grew < limit,
        "{what}: grew by {grew} KiB (limit {limit} KiB)"
    );
}
