//! Every body in fixtures/graph/ becomes the right result: success bodies parse, each Graph
//! error envelope becomes `Error::Api` of the class its code says (retried or not), and a
//! non-JSON page becomes the right error wherever it appears. Pinned cases cover bodies the
//! fixture directory may not have.

use std::path::PathBuf;

use bytes::Bytes;
use http::{Response, StatusCode};
use wa_media_core::protocol::{
    parse_delete_response, parse_error_response, parse_retrieve_response, parse_upload_response,
};
use wa_media_core::test_util::*;
use wa_media_core::{Error, MediaApi, MediaApiExt, Timeouts};
use wa_media_types::{ErrorBody, ErrorClass};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/graph");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn resp(status: u16, body: &[u8]) -> Response<Bytes> {
    let mut r = Response::new(Bytes::copy_from_slice(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r
}

/// The class each documented code must get (api-notes.md).
fn expected_class(code: i64) -> Option<ErrorClass> {
    Some(match code {
        0 | 3 | 10 | 190 | 200..=299 => ErrorClass::Authentication,
        4 | 80007 | 130429 | 131056 => ErrorClass::RateLimited,
        1 | 2 | 131000 => ErrorClass::Transient,
        100 | 131051 | 131052 | 131053 => ErrorClass::InvalidRequest,
        _ => return None,
    })
}

async fn check_error_fixture(name: &str, body: &[u8]) {
    let code: i64 = name
        .strip_prefix("error-")
        .and_then(|r| r.split('-').next())
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{name}: error fixtures are named error-<code>-<what>.json"));
    let want =
        expected_class(code).unwrap_or_else(|| panic!("{name}: add code {code} to expected_class"));

    // Sans-I/O: the body alone decides the class, whatever the status.
    for status in [400u16, 403, 500] {
        let e = parse_error_response("retrieve", &resp(status, body));
        match &e {
            Error::Api(a) => {
                let g = a
                    .body
                    .graph()
                    .unwrap_or_else(|| panic!("{name}: not parsed as Graph"));
                assert_eq!(g.code, code, "{name}");
                assert_eq!(e.class(), Some(want), "{name} with {status}");
                assert_eq!(
                    e.is_retryable(),
                    want.is_retryable(),
                    "{name} with {status}"
                );
                assert_eq!(a.fbtrace_id, g.fbtrace_id, "{name}");
                if let Some(t) = &g.fbtrace_id {
                    assert!(e.to_string().contains(t.as_str()), "{name}: {e}");
                }
            }
            other => panic!("{name}: {other:?}"),
        }
    }

    // Through the client: retried exactly when the class says so.
    let b = body.to_vec();
    let t = Scripted::new(move |_, _| json(400, b.clone()));
    let e = client_with(&t, fast_retry(3), Timeouts::default())
        .retrieve(&media_id())
        .await
        .unwrap_err();
    assert_eq!(e.class(), Some(want), "{name}");
    assert_eq!(
        t.requests().len(),
        if want.is_retryable() { 3 } else { 1 },
        "{name}"
    );
    assert_no_secret(&e);
}

async fn check_non_json_fixture(name: &str, body: &[u8]) {
    // From the Graph API with a 5xx: an API error keeping a snippet, retryable.
    let e = parse_error_response("retrieve", &resp(502, body));
    match &e {
        Error::Api(a) => {
            assert!(matches!(a.body, ErrorBody::Unrecognized { .. }), "{name}");
            assert!(e.is_retryable(), "{name}");
            assert!(e.to_string().contains("non-Graph body"), "{name}: {e}");
        }
        other => panic!("{name}: {other:?}"),
    }
    // With a 200 where JSON was expected: InvalidResponse.
    assert!(
        matches!(
            parse_retrieve_response(&resp(200, body)),
            Err(Error::InvalidResponse { .. })
        ),
        "{name}"
    );
    // From the download host with 404: an expired URL, refreshed once.
    let b = body.to_vec();
    let t = Scripted::new(move |r, _| {
        if r.is_download() {
            let mut r = Response::new(wa_media_core::ResponseBody::from_bytes(b.clone()));
            *r.status_mut() = StatusCode::NOT_FOUND;
            Reply::Response(r)
        } else {
            json(200, retrieve_json(DL_URL, b"media"))
        }
    });
    let e = client(&t).fetch(&media_id()).await.unwrap_err();
    assert!(matches!(e, Error::UrlExpired { .. }), "{name}: {e:?}");
    // From the download host with 200: caught by verification.
    let b = body.to_vec();
    let t = Scripted::new(move |r, _| {
        if r.is_download() {
            chunked(200, vec![Bytes::from(b.clone())], None, false)
        } else {
            json(200, retrieve_json(DL_URL, b"media"))
        }
    });
    let dl = client(&t).fetch(&media_id()).await.unwrap();
    assert!(
        matches!(dl.bytes(1 << 20).await, Err(Error::Integrity(_))),
        "{name}"
    );
}

#[tokio::test]
async fn every_graph_fixture_maps_to_the_right_result() {
    let files = fixtures();
    let mut seen_error = 0;
    for (name, body) in &files {
        if name.starts_with("error-") && name.ends_with(".json") {
            check_error_fixture(name, body).await;
            seen_error += 1;
        } else if name.ends_with(".html") || name.starts_with("not-json") {
            check_non_json_fixture(name, body).await;
        } else if name.starts_with("retrieve") {
            let r =
                parse_retrieve_response(&resp(200, body)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(r.file_size > 0, "{name}");
            assert!(
                r.url.expose().starts_with("https://lookaside.fbsbx.com/"),
                "{name}"
            );
        } else if name.starts_with("upload") {
            parse_upload_response(&resp(200, body)).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name.starts_with("delete") {
            parse_delete_response(&resp(200, body)).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else {
            panic!("fixtures/graph/{name}: no rule says what this body must become; add one here");
        }
    }
    if !files.is_empty() {
        assert!(seen_error > 0, "no error fixtures found");
    }
}

#[test]
fn pinned_bodies() {
    // A code outside the table marked transient is retried.
    let e = parse_error_response(
        "upload",
        &resp(
            400,
            br#"{"error":{"message":"x","code":12345,"is_transient":true}}"#,
        ),
    );
    assert_eq!(e.class(), Some(ErrorClass::Transient));
    assert!(e.is_retryable());
    // Expired token: never retried, message says what to do.
    let e = parse_error_response(
        "retrieve",
        &resp(401, br#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":463}}"#),
    );
    assert_eq!(e.class(), Some(ErrorClass::Authentication));
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("access token is valid"), "{e}");
    // Unknown code, 400: not retried.
    let e = parse_error_response(
        "retrieve",
        &resp(400, br#"{"error":{"message":"?","code":999}}"#),
    );
    assert_eq!(e.class(), Some(ErrorClass::Other));
    assert!(!e.is_retryable());
    // Empty 503: retried.
    let e = parse_error_response("retrieve", &resp(503, b""));
    assert!(e.is_retryable());
    assert!(e.to_string().contains("empty body"), "{e}");
    // Header trace id is kept.
    let mut r = resp(500, b"");
    r.headers_mut()
        .insert("x-fb-trace-id", "TRACE123".parse().unwrap());
    r.headers_mut()
        .insert("x-fb-debug", "DEBUG456".parse().unwrap());
    match parse_error_response("delete", &r) {
        Error::Api(a) => {
            assert_eq!(a.fbtrace_id.as_deref(), Some("TRACE123"));
            assert_eq!(a.fb_debug.as_deref(), Some("DEBUG456"));
        }
        other => panic!("{other:?}"),
    }
    // Success statuses with unusable bodies.
    for (status, body) in [
        (200u16, &b"{\"id\":"[..]),
        (200, b"{}"),
        (200, b"<html></html>"),
        (200, b"{\"id\":\"a/b\"}"),
    ] {
        assert!(
            matches!(
                parse_upload_response(&resp(status, body)),
                Err(Error::InvalidResponse { .. })
            ),
            "{body:?}"
        );
    }
    assert!(matches!(
        parse_retrieve_response(&resp(
            200,
            br#"{"url":"x","mime_type":"a/b","sha256":"00","file_size":1,"id":"1"}"#
        )),
        Err(Error::InvalidResponse { .. })
    ));
    assert!(matches!(
        parse_delete_response(&resp(200, br#"{"success":false}"#)),
        Err(Error::InvalidResponse { .. })
    ));
    // Redirects from the Graph API are errors, not followed.
    let mut r = resp(307, b"");
    r.headers_mut().insert(
        "location",
        "https://elsewhere.example/x?token=abc".parse().unwrap(),
    );
    match parse_retrieve_response(&r) {
        Err(Error::Redirect { status, location }) => {
            assert_eq!(status.as_u16(), 307);
            assert_eq!(location.as_deref(), Some("https://elsewhere.example/x"));
        }
        other => panic!("{other:?}"),
    }
}
