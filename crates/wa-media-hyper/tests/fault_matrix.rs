//! The fault matrix: one row per hostile or broken server behaviour, each run through
//! `fetch_to_file` of the production client (core's rules on the hyper transport) against
//! scripted raw-TCP servers on 127.0.0.1 — a Graph host, a trusted download host, and an
//! "other" host that must never be contacted.
//!
//! Every row asserts: the outcome (verified success or the right error kind), how many requests
//! the Graph host and the download host saw (retries and the one URL refresh), what is on disk
//! (the verified file, or nothing at all: no partial and no temporary file), that progress never
//! passed the announced size, that the token went only to the Graph host and the trusted
//! download host, and that neither the token nor the URL signature appears in the error's
//! Display or Debug. After all rows, every captured log line (trace level) is searched too.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use support::capture;
use tokio::net::TcpListener;
use wa_media_hyper::{
    Error, FetchOptions, IntegrityError, MediaApiExt, MediaId, RetryPolicy, TimeoutKind, Timeouts,
    TransportErrorKind,
};
use wa_media_testkit::errors::error_text;
use wa_media_testkit::hostile::{head, response, response_until_close, Act, Hostile, Seen};
use wa_media_types::ErrorClass;

/// A distinctive token: finding it anywhere but in an allowed `Authorization` header is a leak.
const TOKEN: &str = "EAAGfaultMATRIXcanary0123456789token";
/// The download URL's signature (`hash=`), as secret as the URL itself.
const SIG: &str = "SIGfaultMATRIXcanary987654321sig";
const ID: &str = "1037543291543636";
const SIZE: usize = 2000;

/// What a row's servers know: the addresses and the media.
struct Ctx {
    cdn: SocketAddr,
    other: SocketAddr,
    dead: SocketAddr,
    body: Vec<u8>,
    sha: String,
}

impl Ctx {
    fn media_url(&self) -> String {
        format!("http://{}/dl/{ID}/?ext=1&hash={SIG}", self.cdn)
    }

    fn retrieve_json(&self, url: &str, file_size: u64) -> Vec<u8> {
        serde_json::json!({
            "url": url,
            "mime_type": "image/jpeg",
            "sha256": self.sha,
            "file_size": file_size,
            "id": ID,
            "messaging_product": "whatsapp",
        })
        .to_string()
        .into_bytes()
    }

    fn retrieve_pointing_at(&self, url: &str) -> Act {
        json(200, &self.retrieve_json(url, SIZE as u64))
    }

    fn good_retrieve(&self) -> Act {
        self.retrieve_pointing_at(&self.media_url())
    }

    fn good_body(&self) -> Act {
        Act::Send(response(200, &[("Content-Type", "image/jpeg")], &self.body))
    }
}

fn json(status: u16, body: &[u8]) -> Act {
    Act::Send(response(
        status,
        &[("Content-Type", "application/json")],
        body,
    ))
}

fn graph_error(status: u16, code: u32) -> Act {
    let body = serde_json::json!({"error": {
        "message": format!("error {code}"), "type": "OAuthException", "code": code,
        "fbtrace_id": "AbCdEfFaultMatrix"
    }});
    json(status, body.to_string().as_bytes())
}

fn status_only(status: u16, extra: &[(&str, &str)]) -> Act {
    Act::Send(response(status, extra, b""))
}

/// The body with one byte flipped (same length, different digest).
fn corrupted(body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    b[SIZE / 2] ^= 0x5a;
    b
}

type Handler = fn(&Ctx, &Seen, usize) -> Act;

/// The expected outcome of a case.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Verified file at the destination.
    Ok,
    Api(u16, Option<ErrorClass>),
    UrlExpired(u16),
    Size,
    Digest,
    TooLarge,
    Timeout(TimeoutKind),
    Transport(TransportErrorKind),
    Redirect,
    Untrusted,
    Insecure,
    InvalidUrl,
    InvalidResponse,
}

fn matches(expect: Expect, result: &Result<(), &Error>) -> bool {
    let Err(e) = result else {
        return expect == Expect::Ok;
    };
    match (expect, e) {
        (Expect::Api(s, class), Error::Api(a)) => a.status.as_u16() == s && e.class() == class,
        (Expect::UrlExpired(s), Error::UrlExpired { status }) => status.as_u16() == s,
        (Expect::Size, Error::Integrity(IntegrityError::Size { .. })) => true,
        (Expect::Digest, Error::Integrity(IntegrityError::Digest { .. })) => true,
        (Expect::TooLarge, Error::Integrity(IntegrityError::TooLarge { .. })) => true,
        (Expect::Timeout(k), Error::Timeout { kind, .. }) => *kind == k,
        (Expect::Transport(k), Error::Transport(t)) => t.kind() == k,
        (Expect::Redirect, Error::Redirect { .. }) => true,
        (Expect::Untrusted, Error::UntrustedHost { .. }) => true,
        (Expect::Insecure, Error::InsecureUrl { .. }) => true,
        (Expect::InvalidUrl, Error::InvalidUrl { .. }) => true,
        (Expect::InvalidResponse, Error::InvalidResponse { .. }) => true,
        _ => false,
    }
}

struct Case {
    name: &'static str,
    graph: Handler,
    cdn: Handler,
    /// Point the client at a closed port instead of the Graph server.
    graph_refused: bool,
    expect: Expect,
    /// Requests the Graph host must see.
    retrieves: usize,
    /// Requests the download host must see.
    downloads: usize,
}

fn good_retrieve(c: &Ctx, _: &Seen, _: usize) -> Act {
    c.good_retrieve()
}

fn good_body(c: &Ctx, _: &Seen, _: usize) -> Act {
    c.good_body()
}

fn unused(_: &Ctx, _: &Seen, _: usize) -> Act {
    Act::Send(response(500, &[], b"this host should not have been asked"))
}

const fn row(
    name: &'static str,
    graph: Handler,
    cdn: Handler,
    expect: Expect,
    retrieves: usize,
    downloads: usize,
) -> Case {
    Case {
        name,
        graph,
        cdn,
        graph_refused: false,
        expect,
        retrieves,
        downloads,
    }
}

/// The download-host misbehaving, Graph answering normally.
const fn cdn_row(name: &'static str, cdn: Handler, expect: Expect, r: usize, d: usize) -> Case {
    row(name, good_retrieve, cdn, expect, r, d)
}

/// The Graph host misbehaving; the download host serves the media when asked.
const fn graph_row(name: &'static str, graph: Handler, expect: Expect, r: usize, d: usize) -> Case {
    row(name, graph, good_body, expect, r, d)
}

/// The retrieve response announcing `url` (built from the context).
const fn url_row(name: &'static str, graph: Handler, expect: Expect) -> Case {
    row(name, graph, unused, expect, 1, 0)
}

/// The cases, one named row each; a failure names its row.
const CASES: &[Case] = {
    use Expect::*;
    const T: TransportErrorKind = TransportErrorKind::Interrupted;
    &[
        cdn_row("baseline: verified success", good_body, Ok, 1, 1),
        // ── connections ─────────────────────────────────────────────────────────────────
        Case {
            graph_refused: true,
            ..graph_row(
                "graph: connection refused",
                unused,
                Transport(TransportErrorKind::Connect),
                0,
                0,
            )
        },
        url_row(
            "download: connection refused (trusted host, closed port)",
            |c, _, _| c.retrieve_pointing_at(&format!("http://{}/dl/1?hash={SIG}", c.dead)),
            Transport(TransportErrorKind::Connect),
        ),
        cdn_row(
            "download: reset before headers, every time",
            |_, _, _| Act::SendThenReset(vec![]),
            Transport(TransportErrorKind::Request),
            1,
            3,
        ),
        cdn_row(
            "download: reset before headers once, then served",
            |c, _, n| {
                if n == 0 {
                    Act::SendThenReset(vec![])
                } else {
                    c.good_body()
                }
            },
            Ok,
            1,
            2,
        ),
        graph_row(
            "graph: reset before headers once, then served",
            |c, _, n| {
                if n == 0 {
                    Act::SendThenReset(vec![])
                } else {
                    c.good_retrieve()
                }
            },
            Ok,
            2,
            1,
        ),
        cdn_row(
            "download: reset mid-body, every time (restarted from retrieve)",
            |c, _, _| {
                let mut b = head(200, &[], Some(SIZE as u64));
                b.extend_from_slice(&c.body[..SIZE / 2]);
                Act::SendThenReset(b)
            },
            Transport(T),
            3,
            3,
        ),
        cdn_row(
            "download: reset mid-body once, then served",
            |c, _, n| {
                if n == 0 {
                    let mut b = head(200, &[], Some(SIZE as u64));
                    b.extend_from_slice(&c.body[..SIZE / 2]);
                    Act::SendThenReset(b)
                } else {
                    c.good_body()
                }
            },
            Ok,
            2,
            2,
        ),
        cdn_row(
            "download: truncated body with Content-Length, every time",
            |c, _, _| {
                let mut b = head(200, &[], Some(SIZE as u64));
                b.extend_from_slice(&c.body[..SIZE / 2]);
                Act::Send(b)
            },
            Transport(T),
            3,
            3,
        ),
        cdn_row(
            "download: truncated body without Content-Length",
            |c, _, _| Act::Send(response_until_close(200, &[], &c.body[..SIZE / 2])),
            Size,
            1,
            1,
        ),
        cdn_row(
            "download: not HTTP at all",
            |_, _, _| Act::Send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec()),
            Transport(TransportErrorKind::Decode),
            1,
            1,
        ),
        cdn_row(
            "download: Content-Length is not a number",
            |c, _, _| {
                let mut b = b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n".to_vec();
                b.extend_from_slice(&c.body);
                Act::Send(b)
            },
            Transport(TransportErrorKind::Decode),
            1,
            1,
        ),
        // ── sizes and digests ───────────────────────────────────────────────────────────
        cdn_row(
            "download: body longer than file_size (Content-Length says so)",
            |c, _, _| {
                let mut b = c.body.clone();
                b.extend_from_slice(&[0u8; 100]);
                Act::Send(response(200, &[], &b))
            },
            Size,
            1,
            1,
        ),
        cdn_row(
            "download: body longer than file_size (no Content-Length)",
            |c, _, _| {
                let mut b = c.body.clone();
                b.extend_from_slice(&[0u8; 100]);
                Act::Send(response_until_close(200, &[], &b))
            },
            TooLarge,
            1,
            1,
        ),
        cdn_row(
            "download: endless body (no Content-Length)",
            |_, _, _| Act::Endless {
                head: head(200, &[("Content-Type", "image/jpeg")], None),
            },
            TooLarge,
            1,
            1,
        ),
        cdn_row(
            "download: endless body announced as 1 TB",
            |_, _, _| Act::Endless {
                head: head(200, &[], Some(1 << 40)),
            },
            TooLarge,
            1,
            1,
        ),
        cdn_row(
            "download: wrong digest (one byte flipped)",
            |c, _, _| Act::Send(response(200, &[], &corrupted(&c.body))),
            Digest,
            1,
            1,
        ),
        url_row_sized(
            "retrieve: file_size lies (smaller; body close-delimited, cut off)",
            |c, _, _| json(200, &c.retrieve_json(&c.media_url(), SIZE as u64 / 2)),
            TooLarge,
        ),
        row(
            "retrieve: file_size lies (smaller; Content-Length tells the truth)",
            |c, _, _| json(200, &c.retrieve_json(&c.media_url(), SIZE as u64 / 2)),
            good_body,
            Size,
            1,
            1,
        ),
        url_row_sized(
            "retrieve: file_size lies (larger; body close-delimited)",
            |c, _, _| json(200, &c.retrieve_json(&c.media_url(), SIZE as u64 * 2)),
            Size,
        ),
        cdn_row(
            "download: HTML error page with 200",
            |_, _, _| {
                Act::Send(response(
                    200,
                    &[("Content-Type", "text/html")],
                    b"<html><body>Sorry, this content isn't available right now</body></html>",
                ))
            },
            Size,
            1,
            1,
        ),
        cdn_row(
            "download: HTML error page with 200 (no Content-Length)",
            |_, _, _| {
                Act::Send(response_until_close(
                    200,
                    &[("Content-Type", "text/html")],
                    b"<html><body>Sorry</body></html>",
                ))
            },
            Size,
            1,
            1,
        ),
        // ── expired URLs: refresh once, then a clear error ──────────────────────────────
        cdn_row(
            "download: 401",
            |_, _, _| status_only(401, &[]),
            UrlExpired(401),
            2,
            2,
        ),
        cdn_row(
            "download: 403",
            |_, _, _| status_only(403, &[]),
            UrlExpired(403),
            2,
            2,
        ),
        cdn_row(
            "download: 404",
            |_, _, _| status_only(404, &[]),
            UrlExpired(404),
            2,
            2,
        ),
        cdn_row(
            "download: 410",
            |_, _, _| status_only(410, &[]),
            UrlExpired(410),
            2,
            2,
        ),
        cdn_row(
            "download: 403 once, then served (fresh URL)",
            |c, _, n| {
                if n == 0 {
                    status_only(403, &[])
                } else {
                    c.good_body()
                }
            },
            Ok,
            2,
            2,
        ),
        // ── rate limits and server errors ───────────────────────────────────────────────
        cdn_row(
            "download: 429 with Retry-After: 1, then served",
            |c, _, n| {
                if n == 0 {
                    status_only(429, &[("Retry-After", "1")])
                } else {
                    c.good_body()
                }
            },
            Ok,
            1,
            2,
        ),
        cdn_row(
            "download: 429 without Retry-After, then served",
            |c, _, n| {
                if n == 0 {
                    status_only(429, &[])
                } else {
                    c.good_body()
                }
            },
            Ok,
            1,
            2,
        ),
        cdn_row(
            "download: 429 with absurd Retry-After: 999999 (capped), every time",
            |_, _, _| status_only(429, &[("Retry-After", "999999")]),
            Api(429, None),
            1,
            3,
        ),
        cdn_row(
            "download: 429 with Retry-After in year 9999 (capped), every time",
            |_, _, _| status_only(429, &[("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")]),
            Api(429, None),
            1,
            3,
        ),
        cdn_row(
            "download: 500 twice, then served",
            |c, _, n| {
                if n < 2 {
                    status_only(500, &[])
                } else {
                    c.good_body()
                }
            },
            Ok,
            1,
            3,
        ),
        cdn_row(
            "download: 502 twice, then served",
            |c, _, n| {
                if n < 2 {
                    Act::Send(response(
                        502,
                        &[("Content-Type", "text/html")],
                        b"<h1>Bad gateway</h1>",
                    ))
                } else {
                    c.good_body()
                }
            },
            Ok,
            1,
            3,
        ),
        cdn_row(
            "download: 503 twice, then served",
            |c, _, n| {
                if n < 2 {
                    status_only(503, &[("Retry-After", "0")])
                } else {
                    c.good_body()
                }
            },
            Ok,
            1,
            3,
        ),
        cdn_row(
            "download: 503 every time",
            |_, _, _| status_only(503, &[]),
            Api(503, None),
            1,
            3,
        ),
        // ── Graph error envelopes ───────────────────────────────────────────────────────
        graph_row(
            "graph: 401 code 190 (authentication) not retried",
            |_, _, _| graph_error(401, 190),
            Api(401, Some(ErrorClass::Authentication)),
            1,
            0,
        ),
        graph_row(
            "graph: 403 code 10 (permission) not retried",
            |_, _, _| graph_error(403, 10),
            Api(403, Some(ErrorClass::Authentication)),
            1,
            0,
        ),
        graph_row(
            "graph: 400 code 100 (invalid request) not retried",
            |_, _, _| graph_error(400, 100),
            Api(400, Some(ErrorClass::InvalidRequest)),
            1,
            0,
        ),
        graph_row(
            "graph: 400 code 4 (rate limit) retried until attempts run out",
            |_, _, _| graph_error(400, 4),
            Api(400, Some(ErrorClass::RateLimited)),
            3,
            0,
        ),
        graph_row(
            "graph: 429 code 80007 (rate limit) once, then served",
            |c, _, n| {
                if n == 0 {
                    graph_error(429, 80007)
                } else {
                    c.good_retrieve()
                }
            },
            Ok,
            2,
            1,
        ),
        graph_row(
            "graph: 400 code 130429 (throughput) twice, then served",
            |c, _, n| {
                if n < 2 {
                    graph_error(400, 130429)
                } else {
                    c.good_retrieve()
                }
            },
            Ok,
            3,
            1,
        ),
        graph_row(
            "graph: 400 code 2 (transient) retried until attempts run out",
            |_, _, _| graph_error(400, 2),
            Api(400, Some(ErrorClass::Transient)),
            3,
            0,
        ),
        graph_row(
            "graph: 500 code 2 (transient) once, then served",
            |c, _, n| {
                if n == 0 {
                    graph_error(500, 2)
                } else {
                    c.good_retrieve()
                }
            },
            Ok,
            2,
            1,
        ),
        graph_row(
            "graph: HTML page with 502, every time",
            |_, _, _| {
                Act::Send(response(
                    502,
                    &[("Content-Type", "text/html")],
                    b"<html>502</html>",
                ))
            },
            Api(502, None),
            3,
            0,
        ),
        graph_row(
            "graph: invalid JSON with 200",
            |_, _, _| json(200, b"{\"url\": \"http://"),
            InvalidResponse,
            1,
            0,
        ),
        graph_row(
            "graph: JSON with missing fields (signed url present)",
            |c, _, _| {
                let body =
                    serde_json::json!({"url": c.media_url(), "mime_type": "image/jpeg", "id": ID});
                json(200, body.to_string().as_bytes())
            },
            InvalidResponse,
            1,
            0,
        ),
        graph_row(
            "graph: HTML page with 200",
            |_, _, _| {
                Act::Send(response(
                    200,
                    &[("Content-Type", "text/html")],
                    b"<html>captive portal</html>",
                ))
            },
            InvalidResponse,
            1,
            0,
        ),
        // ── a hostile server echoing the token back ────────────────────────────────────
        graph_row(
            "graph: 400 envelope whose message and trace id echo the token",
            |_, s, _| {
                let echo = s.authorization.clone().unwrap_or_default();
                let body = serde_json::json!({"error": {
                    "message": format!("bad token {echo}"), "type": echo, "code": 100,
                    "error_user_msg": echo, "fbtrace_id": echo,
                    "error_data": {"details": echo}
                }});
                Act::Send(response(
                    400,
                    &[
                        ("Content-Type", "application/json"),
                        ("x-fb-trace-id", &echo),
                        ("x-fb-debug", &echo),
                    ],
                    body.to_string().as_bytes(),
                ))
            },
            Api(400, Some(ErrorClass::InvalidRequest)),
            1,
            0,
        ),
        graph_row(
            "graph: 200 non-JSON body echoing the token",
            |_, s, _| {
                let echo = s.authorization.clone().unwrap_or_default();
                json(200, format!("<html>you sent {echo}</html>").as_bytes())
            },
            InvalidResponse,
            1,
            0,
        ),
        cdn_row(
            "download: 500 page echoing the token, every time",
            |_, s, _| {
                let echo = s.authorization.clone().unwrap_or_default();
                Act::Send(response(
                    500,
                    &[("x-fb-trace-id", &echo)],
                    format!("<pre>{echo}</pre>").as_bytes(),
                ))
            },
            Api(500, None),
            1,
            3,
        ),
        cdn_row(
            "download: redirect whose Location path carries the token",
            |c, s, _| {
                let echo = s
                    .authorization
                    .clone()
                    .unwrap_or_default()
                    .replace(' ', "/");
                let to = format!("http://{}/{echo}/x?hash={SIG}", c.other);
                status_only(302, &[("Location", &to)])
            },
            Redirect,
            1,
            1,
        ),
        // ── stalls ──────────────────────────────────────────────────────────────────────
        graph_row(
            "graph: headers then stall (request timeout), every time",
            |_, _, _| Act::SendThenStall(head(200, &[], Some(400))),
            Timeout(TimeoutKind::Request),
            3,
            0,
        ),
        cdn_row(
            "download: headers then stall (idle timeout), every time",
            |c, _, _| {
                let mut b = head(200, &[], Some(SIZE as u64));
                b.extend_from_slice(&c.body[..100]);
                Act::SendThenStall(b)
            },
            Timeout(TimeoutKind::Idle),
            3,
            3,
        ),
        cdn_row(
            "download: headers then stall once, then served",
            |c, _, n| {
                if n == 0 {
                    Act::SendThenStall(head(200, &[], Some(SIZE as u64)))
                } else {
                    c.good_body()
                }
            },
            Ok,
            2,
            2,
        ),
        cdn_row(
            "download: slow drip, one byte per 50 ms (body deadline)",
            |_, _, _| Act::Drip {
                head: head(200, &[], Some(SIZE as u64)),
                every: Duration::from_millis(50),
                max: SIZE as u64,
            },
            Timeout(TimeoutKind::Body),
            1,
            1,
        ),
        // ── redirects: never followed ───────────────────────────────────────────────────
        cdn_row(
            "download: 302 to another host",
            |c, _, _| {
                let to = format!("http://{}/steal?hash={SIG}", c.other);
                status_only(302, &[("Location", &to)])
            },
            Redirect,
            1,
            1,
        ),
        cdn_row(
            "download: 307 to another host",
            |c, _, _| {
                let to = format!("http://{}/steal?hash={SIG}", c.other);
                status_only(307, &[("Location", &to)])
            },
            Redirect,
            1,
            1,
        ),
        graph_row(
            "graph: 301 to another host",
            |c, _, _| {
                let to = format!("http://{}/v27.0/{ID}", c.other);
                status_only(301, &[("Location", &to)])
            },
            Redirect,
            1,
            0,
        ),
        // ── where the retrieve response points ──────────────────────────────────────────
        url_row(
            "retrieve: url on an untrusted host (loopback, other port)",
            |c, _, _| c.retrieve_pointing_at(&format!("http://{}/dl/1?hash={SIG}", c.other)),
            Untrusted,
        ),
        url_row(
            "retrieve: url is http:// on a non-loopback host",
            |c, _, _| c.retrieve_pointing_at(&format!("http://example.com/dl/1?hash={SIG}")),
            Insecure,
        ),
        url_row(
            "retrieve: url on a look-alike host",
            |c, _, _| {
                c.retrieve_pointing_at(&format!(
                    "https://lookaside.fbsbx.com.evil.example/dl/1?hash={SIG}"
                ))
            },
            Untrusted,
        ),
        url_row(
            "retrieve: url with credentials on the trusted host",
            |c, _, _| c.retrieve_pointing_at(&format!("http://user:pw@{}/dl/1?hash={SIG}", c.cdn)),
            Untrusted,
        ),
        url_row(
            "retrieve: url is file://",
            |c, _, _| c.retrieve_pointing_at("file:///etc/passwd"),
            Insecure,
        ),
        url_row(
            "retrieve: url is not a URL",
            |c, _, _| c.retrieve_pointing_at("not a url at all"),
            InvalidUrl,
        ),
        url_row(
            "retrieve: url is relative",
            |c, _, _| c.retrieve_pointing_at(&format!("/dl/1?hash={SIG}")),
            InvalidUrl,
        ),
    ]
};

/// A row whose retrieve response lies about the size; the download host serves the real
/// body close-delimited, so only the client's own count can catch the lie.
const fn url_row_sized(name: &'static str, graph: Handler, expect: Expect) -> Case {
    row(
        name,
        graph,
        |c, _, _| Act::Send(response_until_close(200, &[], &c.body)),
        expect,
        1,
        1,
    )
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What one row produced, for the summary table and the final leak search.
struct Outcome {
    line: String,
    problems: Vec<String>,
    error_text: String,
}

async fn run_case(row: &Case) -> Outcome {
    let mut problems = Vec::new();
    let graph_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cdn_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let body: Vec<u8> = (0..SIZE as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let sha = hex(&Sha256::digest(&body));
    let ctx = Arc::new(Ctx {
        cdn: cdn_l.local_addr().unwrap(),
        other: other_l.local_addr().unwrap(),
        dead,
        body,
        sha,
    });
    let (gh, ch) = (row.graph, row.cdn);
    let c1 = ctx.clone();
    let graph = Hostile::serve(graph_l, Arc::new(move |s, n| gh(&c1, s, n)));
    let c2 = ctx.clone();
    let cdn = Hostile::serve(cdn_l, Arc::new(move |s, n| ch(&c2, s, n)));
    let other = Hostile::serve(
        other_l,
        Arc::new(|_, _| Act::Send(response(200, &[], b"stolen"))),
    );

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("media.jpg");
    let graph_url = if row.graph_refused {
        format!("http://{}", ctx.dead)
    } else {
        graph.url("")
    };
    let policy = RetryPolicy::default()
        .with_max_attempts(3)
        .with_delays(Duration::from_millis(1), Duration::from_millis(10))
        .with_max_retry_after(Duration::from_millis(50))
        .with_max_elapsed(Duration::from_secs(20));
    let client = wa_media_hyper::builder()
        .token(TOKEN)
        .phone_number_id("106540352242922")
        .graph_url(graph_url)
        .trust_host(ctx.cdn.to_string())
        .trust_host(ctx.dead.to_string())
        .retry_policy(policy.clone())
        .map_transport(|t| t.connect_timeout(Duration::from_secs(5)))
        .timeouts(
            Timeouts::default()
                .with_request(Some(Duration::from_secs(1)))
                .with_idle(Some(Duration::from_millis(500)))
                .with_min_throughput(Some(4000)),
        )
        .build()
        .unwrap();

    let progress = Arc::new(AtomicU64::new(0));
    let p = progress.clone();
    // A transfer broken mid-body restarts under the same policy as every other retry.
    let options = FetchOptions::default()
        .restart(policy)
        .timer(wa_media_hyper::TokioTimer)
        .with_progress(move |done: u64, _total: Option<u64>| {
            p.fetch_max(done, Ordering::SeqCst);
        });
    let id: MediaId = ID.parse().unwrap();
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        client.fetch_to_file_with(&id, &dest, options),
    )
    .await;
    let elapsed = started.elapsed();
    let result = match result {
        Ok(r) => r,
        Err(_) => {
            return Outcome {
                line: format!("{:<70} HUNG", row.name),
                problems: vec![format!("{}: did not finish within 30 s", row.name)],
                error_text: String::new(),
            }
        }
    };

    // Outcome.
    let shown = match &result {
        Ok(f) => format!("Ok({} bytes)", f.file_size),
        Err(e) => short(e),
    };
    if !matches(row.expect, &result.as_ref().map(|_| ())) {
        problems.push(format!(
            "{}: expected {:?}, got {:?}",
            row.name, row.expect, result
        ));
    }
    // Attempts the servers saw.
    let (r, d, o) = (graph.count(), cdn.count(), other.count());
    if (r, d) != (row.retrieves, row.downloads) {
        problems.push(format!(
            "{}: expected {} retrieve(s) and {} download(s), the servers saw {r} and {d}",
            row.name, row.retrieves, row.downloads
        ));
    }
    // The token only where it may go; the other host never contacted.
    if o != 0 {
        problems.push(format!(
            "{}: the other host received {o} request(s): {:?}",
            row.name,
            other.seen()
        ));
    }
    let bearer = format!("Bearer {TOKEN}");
    for s in graph.seen().iter().chain(cdn.seen().iter()) {
        if s.authorization.as_deref() != Some(bearer.as_str()) {
            problems.push(format!(
                "{}: a request without the expected token: {s:?}",
                row.name
            ));
        }
    }
    // Disk: the verified file, or nothing (no partial, no temporary file).
    let files = listing(dir.path());
    match &result {
        Ok(f) => {
            if files != ["media.jpg"] {
                problems.push(format!(
                    "{}: expected only media.jpg, found {files:?}",
                    row.name
                ));
            }
            if std::fs::read(&dest).unwrap() != ctx.body || f.sha256.to_hex() != ctx.sha {
                problems.push(format!("{}: the file is not the media", row.name));
            }
        }
        Err(_) => {
            if !files.is_empty() {
                problems.push(format!("{}: left {files:?} behind after failing", row.name));
            }
        }
    }
    // Progress (bytes accepted towards the file) never passes the announced size.
    let most = progress.load(Ordering::SeqCst);
    if most > SIZE as u64 * 2 {
        problems.push(format!("{}: progress reached {most} bytes", row.name));
    }
    // Endless bodies stop: the server's writes fail soon after the client gives up.
    if matches!(row.expect, Expect::TooLarge) {
        if !cdn.quiesce(Duration::from_secs(10)).await {
            problems.push(format!("{}: the download host is still sending", row.name));
        }
        let sent = cdn.body_bytes_sent();
        if sent > 64 << 20 {
            problems.push(format!("{}: the client accepted {sent} bytes", row.name));
        }
    }
    // Waits were capped (an absurd Retry-After is cut to max_retry_after): generous bound.
    if elapsed > Duration::from_secs(15) {
        problems.push(format!("{}: took {elapsed:?}", row.name));
    }
    let error_text = match &result {
        Ok(_) => String::new(),
        Err(e) => error_text(e),
    };
    for secret in [TOKEN, SIG] {
        if error_text.contains(secret) {
            problems.push(format!(
                "{}: the error shows a secret: {error_text}",
                row.name
            ));
        }
    }
    Outcome {
        line: format!(
            "{:<70} {:<40} graph {r} cdn {d} other {o} {:>5} ms",
            row.name,
            shown,
            elapsed.as_millis()
        ),
        problems,
        error_text,
    }
}

fn short(e: &Error) -> String {
    match e {
        Error::Api(a) => format!("Api({}, {:?})", a.status.as_u16(), e.class()),
        Error::Integrity(i) => format!("Integrity({i:?})").chars().take(40).collect(),
        Error::Timeout { kind, .. } => format!("Timeout({kind:?})"),
        Error::Transport(t) => format!("Transport({:?})", t.kind()),
        Error::UrlExpired { status } => format!("UrlExpired({})", status.as_u16()),
        other => format!("{other:?}").chars().take(40).collect(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix() {
    let logs = capture::install();
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "every case has its own name");
    // FAULT_MATRIX_CASE=<part of a name> runs only the matching cases (the log checks below
    // then need a case that retries).
    let only = std::env::var("FAULT_MATRIX_CASE").ok();
    let mut failing = Vec::new();
    let mut problems = Vec::new();
    let mut table = Vec::new();
    let mut errors = String::new();
    for case in CASES {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        let out = run_case(case).await;
        table.push(out.line);
        if !out.problems.is_empty() {
            failing.push(case.name);
        }
        problems.extend(out.problems);
        errors.push_str(&out.error_text);
    }
    println!("{}", table.join("\n"));
    assert!(
        problems.is_empty(),
        "{} failing case(s): {failing:#?}\n{} problem(s):\n{}",
        failing.len(),
        problems.len(),
        problems.join("\n")
    );

    // Every log line, at trace level, for every row.
    let logs = logs.lock().unwrap().clone();
    assert!(
        logs.contains("wa_media.fetch_to_file"),
        "the capture saw the library's spans"
    );
    assert!(logs.contains("retrying"), "the capture saw the retries");
    for secret in [TOKEN, SIG] {
        if let Some(i) = logs.find(secret) {
            let from = logs[..i].rfind('\n').map_or(0, |n| n + 1);
            let to = logs[i..].find('\n').map_or(logs.len(), |n| i + n);
            panic!("a secret appears in the logs: {}", &logs[from..to]);
        }
    }
    assert!(!errors.is_empty());
}
