//! Timeouts fire as distinct errors: request (no response), idle (stalled body), body
//! deadline (slow drip), connect (reported by the transport). Tokio's paused clock makes the
//! waits exact and instant.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use wa_media_core::test_util::*;
use wa_media_core::{
    Error, FetchOptions, MediaApi, MediaApiExt, RetryPolicy, TimeoutKind, Timeouts, TransportError,
    TransportErrorKind,
};

fn timeouts() -> Timeouts {
    Timeouts::default()
        .with_request(Some(Duration::from_secs(5)))
        .with_idle(Some(Duration::from_secs(3)))
        .with_min_throughput(Some(100))
}

fn kind(e: &Error) -> Option<TimeoutKind> {
    match e {
        Error::Timeout { kind, .. } => Some(*kind),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn no_response_fires_the_request_timeout() {
    let t = Scripted::new(|_, _| Reply::Hang);
    let c = client_with(&t, RetryPolicy::none(), timeouts());
    let start = tokio::time::Instant::now();
    let e = c.retrieve(&media_id()).await.unwrap_err();
    assert_eq!(kind(&e), Some(TimeoutKind::Request), "{e:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(e.is_retryable());
    assert!(e.to_string().contains("request timeout"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn request_timeouts_are_retried() {
    let t = Scripted::new(|_, n| {
        if n == 0 {
            Reply::Hang
        } else {
            json(200, r#"{"success":true}"#)
        }
    });
    let c = client_with(&t, fast_retry(2), timeouts());
    c.delete(&media_id()).await.unwrap();
    assert_eq!(t.requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn stalled_body_fires_the_idle_timeout() {
    let data = vec![7u8; 1000];
    let t = Scripted::new(|_, _| chunked(200, vec![Bytes::from(vec![7u8; 100])], None, true));
    let c = client_with(&t, RetryPolicy::none(), timeouts());
    let mut dl = c.download(&media_info(DL_URL, &data)).await.unwrap();
    assert_eq!(dl.next().await.unwrap().unwrap().len(), 100);
    let start = tokio::time::Instant::now();
    let e = dl.next().await.unwrap().unwrap_err();
    assert_eq!(kind(&e), Some(TimeoutKind::Idle), "{e:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert!(dl.next().await.is_none(), "the stream ends after the error");
}

#[tokio::test(start_paused = true)]
async fn slow_drip_fires_the_body_deadline_not_the_idle_timeout() {
    // 1 byte per second never trips the 3 s idle timeout, but 1000 bytes at >= 100 B/s must
    // finish within 5 s + 10 s.
    let data = vec![b'x'; 1000];
    let t = Scripted::new(|_, _| drip(1000, Duration::from_secs(1)));
    let c = client_with(&t, RetryPolicy::none(), timeouts());
    let start = tokio::time::Instant::now();
    let dl = c.download(&media_info(DL_URL, &data)).await.unwrap();
    let mut dl = dl;
    let mut got = 0;
    let e = loop {
        match dl.next().await {
            Some(Ok(c)) => got += c.len(),
            Some(Err(e)) => break e,
            None => panic!("finished"),
        }
    };
    assert_eq!(kind(&e), Some(TimeoutKind::Body), "{e:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(15));
    assert!((14..=15).contains(&got), "{got}");
}

#[tokio::test(start_paused = true)]
async fn a_large_body_on_a_slow_but_moving_link_is_not_cut_off() {
    // 40 frames of 100 bytes every 2 s (50 B/s) against idle 3 s; deadline off.
    let data = vec![1u8; 4000];
    let t = Scripted::new(|_, _| {
        let s = futures_util::stream::unfold(0, |i| async move {
            if i == 40 {
                return None;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            Some((
                Ok::<_, TransportError>(http_body::Frame::data(Bytes::from(vec![1u8; 100]))),
                i + 1,
            ))
        });
        Reply::Response(http::Response::new(wa_media_core::ResponseBody::new(
            http_body_util::StreamBody::new(s),
        )))
    });
    let c = client_with(
        &t,
        RetryPolicy::none(),
        timeouts().with_min_throughput(None),
    );
    let dl = c.download(&media_info(DL_URL, &data)).await.unwrap();
    assert_eq!(dl.bytes(10_000).await.unwrap().len(), 4000);
}

#[tokio::test(start_paused = true)]
async fn fetch_to_file_restarts_after_idle_timeout_and_cleans_up_when_it_keeps_stalling() {
    let data = vec![5u8; 500];
    let d2 = data.clone();
    let t = Scripted::new(move |r, _| {
        if r.is_download() {
            chunked(200, vec![Bytes::from(d2[..200].to_vec())], None, true)
        } else {
            json(200, retrieve_json(DL_URL, &d2))
        }
    });
    let c = client_with(&t, fast_retry(3), timeouts());
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("x.bin");
    let restart = FetchOptions::default()
        .restart(fast_retry(3))
        .timer(TokioTimer);
    let e = c
        .fetch_to_file_with(&media_id(), &dest, restart)
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(TimeoutKind::Idle), "{e:?}");
    assert_eq!(
        t.count_where(|r| r.is_download()),
        3,
        "restarted up to max_attempts"
    );
    assert!(dir_entries(dir.path()).is_empty());
}

#[tokio::test]
async fn connect_timeout_from_the_transport_is_a_connect_timeout() {
    let t = Scripted::new(|_, _| {
        Reply::Error(TransportError::new(
            TransportErrorKind::ConnectTimeout,
            "connect timed out",
        ))
    });
    let e = client_with(&t, fast_retry(2), timeouts())
        .delete(&media_id())
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(TimeoutKind::Connect), "{e:?}");
    assert!(e.request_not_sent());
    assert_eq!(t.requests().len(), 2, "retried");
}

#[test]
fn body_deadline_scales_with_size() {
    let t = Timeouts::default()
        .with_request(Some(Duration::from_secs(30)))
        .with_min_throughput(Some(1024 * 1024));
    assert_eq!(t.body_deadline(0), Some(Duration::from_secs(30)));
    assert_eq!(
        t.body_deadline(100 * 1024 * 1024),
        Some(Duration::from_secs(130))
    );
    assert_eq!(t.with_min_throughput(None).body_deadline(10), None);
    assert_eq!(Timeouts::none().body_deadline(10), None);
}

/// Takes the first frame of the request body, then stops reading it and never answers.
struct StallsUpload;

#[async_trait::async_trait]
impl wa_media_core::Transport for StallsUpload {
    async fn send(
        &self,
        request: http::Request<wa_media_core::RequestBody>,
    ) -> Result<http::Response<wa_media_core::ResponseBody>, TransportError> {
        use http_body_util::BodyExt;
        let mut body = request.into_body();
        let _ = body.frame().await;
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn an_upload_body_the_server_stops_reading_fires_the_idle_timeout() {
    let c = wa_media_core::MediaClient::builder(StallsUpload)
        .timer(TokioTimer)
        .token(TOKEN)
        .phone_number_id(PHONE)
        .retry_policy(RetryPolicy::none())
        .timeouts(timeouts().with_min_throughput(None))
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let e = c
        .upload(wa_media_core::Upload::from_bytes(
            vec![b'a'; 3_000_000],
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(TimeoutKind::Idle), "{e:?}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited <= Duration::from_secs(6),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn no_answer_after_a_complete_upload_fires_the_request_timeout() {
    let t = Scripted::new(|_, _| Reply::Hang);
    let c = client_with(
        &t,
        RetryPolicy::none(),
        timeouts().with_min_throughput(None),
    );
    let start = tokio::time::Instant::now();
    let e = c
        .upload(wa_media_core::Upload::from_bytes(
            vec![b'a'; 1000],
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(TimeoutKind::Request), "{e:?}");
    let waited = start.elapsed();
    // request (5 s) after the body was seen complete at the first idle check (<= 3 s).
    assert!(
        waited >= Duration::from_secs(5) && waited <= Duration::from_secs(8),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_upload_deadline_scales_with_size() {
    let t = Scripted::new(|_, _| Reply::Hang);
    // Idle off: the request timeout after the body and the size-scaled deadline remain.
    let c = client_with(
        &t,
        RetryPolicy::none(),
        Timeouts::none()
            .with_request(Some(Duration::from_secs(5)))
            .with_min_throughput(Some(100)),
    );
    let start = tokio::time::Instant::now();
    let e = c
        .upload(wa_media_core::Upload::from_bytes(
            vec![b'a'; 1000],
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap_err();
    // The request timeout (5 s after the body) fires first; without it the deadline would.
    assert_eq!(kind(&e), Some(TimeoutKind::Request), "{e:?}");
    assert!(start.elapsed() <= Duration::from_secs(15));
    let c = client_with(
        &t,
        RetryPolicy::none(),
        Timeouts::none().with_min_throughput(Some(100)),
    );
    let start = tokio::time::Instant::now();
    let e = c
        .upload(wa_media_core::Upload::from_bytes(
            vec![b'a'; 1000],
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap_err();
    assert_eq!(kind(&e), Some(TimeoutKind::Body), "{e:?}");
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}
