//! Retries: which failures are retried, how often, how long the waits are, and that
//! non-replayable uploads are never sent twice.

use std::time::Duration;

use wa_media_core::test_util::*;
use wa_media_core::{
    Error, MediaApi, RetryPolicy, Timeouts, TransportError, TransportErrorKind, Upload,
};

const RATE: &str = r#"{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","code":4,"fbtrace_id":"Ab"}}"#;
const AUTH: &str = r#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"fbtrace_id":"Ab"}}"#;
const BAD: &str =
    r#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}}"#;
const OK_DELETE: &str = r#"{"success":true}"#;

/// Answers `failure` for the first `fails` requests, then success.
fn flaky(fails: usize, failure: impl Fn() -> Reply + Send + Sync + 'static) -> Scripted {
    Scripted::new(move |r, n| {
        if n < fails {
            failure()
        } else if r.method == http::Method::POST {
            json(200, r#"{"id":"77"}"#)
        } else {
            json(200, OK_DELETE)
        }
    })
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let t = flaky(1, || with_header(json(429, RATE), "retry-after", "7"));
    let c = client_with(&t, RetryPolicy::default(), Timeouts::default());
    let start = tokio::time::Instant::now();
    c.delete(&media_id()).await.unwrap();
    assert_eq!(t.requests().len(), 2);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn absurd_retry_after_is_capped() {
    let t = flaky(1, || with_header(json(503, ""), "retry-after", "999999999"));
    let policy = RetryPolicy::default().with_max_retry_after(Duration::from_secs(5));
    let c = client_with(&t, policy, Timeouts::default());
    let start = tokio::time::Instant::now();
    c.delete(&media_id()).await.unwrap();
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
}

#[tokio::test]
async fn retryable_failures_are_retried_until_attempts_run_out() {
    type Case = (&'static str, fn() -> Reply);
    let cases: Vec<Case> = vec![
        ("429", || json(429, RATE)),
        ("500 html", || status(500, "<html>oops</html>")),
        ("502", || status(502, "")),
        ("503", || status(503, "")),
        ("transient code 2 with 400", || {
            json(
                400,
                r#"{"error":{"message":"(#2) Service temporarily unavailable","code":2}}"#,
            )
        }),
        ("connect refused", || {
            Reply::Error(TransportError::new(
                TransportErrorKind::Connect,
                "connection refused",
            ))
        }),
        ("reset", || {
            Reply::Error(TransportError::new(
                TransportErrorKind::Request,
                "connection reset",
            ))
        }),
    ];
    for (name, failure) in cases {
        // Fails more often than allowed: exactly max_attempts requests, then the error.
        let t = flaky(100, failure);
        let e = client_with(&t, fast_retry(4), Timeouts::default())
            .delete(&media_id())
            .await
            .unwrap_err();
        assert!(e.is_retryable(), "{name}: {e:?}");
        assert_no_secret(&e);
        assert_eq!(t.requests().len(), 4, "{name}");
        // Fails fewer times than allowed: succeeds.
        let t = flaky(2, failure);
        client_with(&t, fast_retry(4), Timeouts::default())
            .delete(&media_id())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.requests().len(), 3, "{name}");
    }
}

#[tokio::test]
async fn auth_and_invalid_request_errors_are_never_retried() {
    for (name, status_code, body) in [
        ("auth 401", 401, AUTH),
        ("auth 500", 500, AUTH),
        ("bad 400", 400, BAD),
    ] {
        let t = flaky(100, move || json(status_code, body));
        let e = client_with(&t, fast_retry(5), Timeouts::default())
            .delete(&media_id())
            .await
            .unwrap_err();
        assert!(!e.is_retryable(), "{name}");
        assert!(matches!(e, Error::Api(_)), "{name}: {e:?}");
        assert_eq!(t.requests().len(), 1, "{name}");
        assert_no_secret(&e);
    }
}

#[tokio::test]
async fn uploads_from_bytes_and_paths_are_replayed_with_the_same_body() {
    let t = flaky(2, || status(503, ""));
    let c = client_with(&t, fast_retry(3), Timeouts::default());
    c.upload(Upload::from_bytes(
        &b"hello"[..],
        "text/plain".parse().unwrap(),
    ))
    .await
    .unwrap();
    let reqs = t.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs.windows(2).all(|w| w[0].body == w[1].body));

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.txt");
    std::fs::write(&p, vec![b'a'; 2_000_000]).unwrap();
    let t = flaky(1, || status(500, ""));
    let c = client_with(&t, fast_retry(3), Timeouts::default());
    c.upload(Upload::from_path(&p, "text/plain".parse().unwrap()))
        .await
        .unwrap();
    let reqs = t.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].body, reqs[1].body);
    assert!(reqs[0].body.len() > 2_000_000);
}

#[tokio::test]
async fn stream_uploads_are_never_sent_twice() {
    for failure in [(|| status(503, "")) as fn() -> Reply, || {
        Reply::Error(TransportError::new(TransportErrorKind::Request, "reset"))
    }] {
        let t = flaky(1, failure);
        let c = client_with(&t, fast_retry(5), Timeouts::default());
        let chunks = vec![
            Ok(bytes::Bytes::from_static(b"hello ")),
            Ok(bytes::Bytes::from_static(b"world")),
        ];
        let e = c
            .upload(Upload::from_stream(
                futures_util::stream::iter(chunks),
                11,
                "text/plain".parse().unwrap(),
            ))
            .await
            .unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(t.requests().len(), 1);
        assert!(t.requests()[0]
            .body
            .ends_with(b"hello world\r\n--wa-media-TESTBOUNDARY--\r\n"));
    }
}

#[tokio::test]
async fn download_retries_server_errors_but_not_client_errors() {
    let data = b"payload".to_vec();
    let d2 = data.clone();
    let t = Scripted::new(move |r, n| {
        assert!(r.is_download());
        if n < 2 {
            status(502, "bad gateway")
        } else {
            chunked(200, vec![bytes::Bytes::from(d2.clone())], None, false)
        }
    });
    let c = client_with(&t, fast_retry(3), Timeouts::default());
    c.download(&media_info(DL_URL, &data)).await.unwrap();
    assert_eq!(t.requests().len(), 3);

    let t = Scripted::new(|_, _| status(400, "<html>bad</html>"));
    let e = client_with(&t, fast_retry(3), Timeouts::default())
        .download(&media_info(DL_URL, b"x"))
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(t.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn total_time_bounds_retries() {
    // Every answer asks for 10 s; only 25 s in total are allowed: 3 attempts, not 10.
    let t = flaky(100, || with_header(json(429, RATE), "retry-after", "10"));
    let policy = RetryPolicy::default()
        .with_max_attempts(10)
        .with_max_elapsed(Duration::from_secs(25));
    let c = client_with(&t, policy, Timeouts::default());
    let e = c.delete(&media_id()).await.unwrap_err();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(10)));
    assert_eq!(
        t.requests().len(),
        3,
        "waits of 10 s + 10 s fit in 25 s, a third does not"
    );
    // A single wait beyond the whole budget is not taken at all.
    let t = flaky(100, || with_header(json(429, RATE), "retry-after", "30"));
    let c = client_with(
        &t,
        RetryPolicy::default()
            .with_max_attempts(10)
            .with_max_elapsed(Duration::from_secs(25)),
        Timeouts::default(),
    );
    c.delete(&media_id()).await.unwrap_err();
    assert_eq!(
        t.requests().len(),
        1,
        "a wait beyond the total budget is not taken"
    );
}

/// A connection that could not be made never read the request body: a one-shot stream upload
/// is then still whole, and is sent on the next attempt (the stream is read once, in full).
#[tokio::test]
async fn a_stream_upload_is_retried_after_a_connect_error_that_left_it_unread() {
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let calls = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (c2, b2) = (calls.clone(), bodies.clone());
    let transport = move |req: http::Request<wa_media_core::RequestBody>| {
        let (calls, bodies) = (c2.clone(), b2.clone());
        async move {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(TransportError::new(TransportErrorKind::Connect, "refused"));
            }
            let body = req.into_body().collect().await.unwrap().to_bytes();
            bodies.lock().unwrap().push(body);
            Ok(http::Response::new(
                wa_media_core::ResponseBody::from_bytes(r#"{"id":"1037543291543636"}"#),
            ))
        }
    };
    let c = wa_media_core::MediaClient::builder(transport)
        .token(TOKEN)
        .phone_number_id(PHONE)
        .retry_policy(fast_retry(3))
        .fixed_boundary("wa-media-TESTBOUNDARY")
        .build()
        .unwrap();
    let chunks = vec![
        Ok(bytes::Bytes::from_static(b"hello ")),
        Ok(bytes::Bytes::from_static(b"world")),
    ];
    let id = c
        .upload(Upload::from_stream(
            futures_util::stream::iter(chunks),
            11,
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(id.as_str(), MEDIA);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let bodies = bodies.lock().unwrap();
    assert!(bodies[0].ends_with(b"hello world\r\n--wa-media-TESTBOUNDARY--\r\n"));
}
