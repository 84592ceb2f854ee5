//! Fetch by id: fresh URL per download, refresh once on an expired URL, incremental
//! verification, redirects refused, and fetch_to_file leaving nothing behind on failure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use wa_media_core::test_util::*;
use wa_media_core::{
    Error, FetchOptions, IntegrityError, MediaApi, MediaApiExt, Timeouts, TransportErrorKind,
};
use wa_media_types::Sha256Digest;

fn content(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Graph answers retrieve with `info`; the download host answers with `download(index)`.
fn site(info: String, download: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Scripted {
    let downloads = AtomicUsize::new(0);
    Scripted::new(move |r, _| {
        if r.is_download() {
            download(downloads.fetch_add(1, Ordering::SeqCst))
        } else {
            json(200, info.clone())
        }
    })
}

async fn collect(mut dl: wa_media_core::Download) -> Result<Vec<u8>, Error> {
    let mut v = Vec::new();
    while let Some(c) = dl.next().await {
        v.extend_from_slice(&c?);
    }
    Ok(v)
}

fn split(data: &[u8], size: usize) -> Vec<Bytes> {
    data.chunks(size.max(1))
        .map(Bytes::copy_from_slice)
        .collect()
}

#[tokio::test]
async fn fetch_verifies_and_reports_progress() {
    let data = content(100_000);
    let d2 = data.clone();
    let t = site(retrieve_json(DL_URL, &data), move |_| {
        chunked(200, split(&d2, 7000), None, false)
    });
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let dl = client(&t)
        .fetch_with(
            &media_id(),
            FetchOptions::default()
                .with_progress(move |done, total| s2.lock().unwrap().push((done, total))),
        )
        .await
        .unwrap();
    assert_eq!(dl.content_length(), Some(100_000));
    assert_eq!(dl.mime_type(), Some("image/jpeg"));
    assert!(dl.is_verifying());
    assert_eq!(collect(dl).await.unwrap(), data);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.last(), Some(&(100_000, Some(100_000))));
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    // One retrieve, then one download with the token.
    let reqs = t.requests();
    assert_eq!(reqs.len(), 2);
    assert!(!reqs[0].is_download() && reqs[1].is_download());
    assert!(reqs[1].has_token());
}

#[tokio::test]
async fn expired_url_is_refreshed_once_then_succeeds() {
    let data = content(1000);
    let d2 = data.clone();
    let t = site(retrieve_json(DL_URL, &data), move |n| {
        if n == 0 {
            status(410, "<html>expired</html>")
        } else {
            chunked(200, split(&d2, 300), None, false)
        }
    });
    let dl = client(&t).fetch(&media_id()).await.unwrap();
    assert_eq!(collect(dl).await.unwrap(), data);
    assert_eq!(
        t.count_where(|r| !r.is_download()),
        2,
        "a fresh URL per download"
    );
    assert_eq!(t.count_where(|r| r.is_download()), 2);
}

/// `fetch_with_info` (what wa-media-store builds on): the retrieve answer the download was
/// made from, after one refresh; an expected digest that disagrees downloads nothing.
#[tokio::test]
async fn fetch_with_info_returns_the_answer_it_downloaded_from() {
    let data = content(1000);
    let d2 = data.clone();
    let t = site(retrieve_json(DL_URL, &data), move |n| {
        if n == 0 {
            status(403, "expired")
        } else {
            chunked(200, split(&d2, 300), None, false)
        }
    });
    let (info, dl) = client(&t)
        .fetch_with_info(&media_id(), &FetchOptions::default().expect_size(1000))
        .await
        .unwrap();
    assert_eq!(info.id, media_id());
    assert_eq!(
        (info.file_size, info.sha256),
        (1000, Sha256Digest::of(&data))
    );
    assert_eq!(dl.mime_type(), Some(info.mime_type.as_str()));
    assert_eq!(collect(dl).await.unwrap(), data);
    assert_eq!(t.count_where(|r| !r.is_download()), 2);

    let t = site(retrieve_json(DL_URL, &data), |_| status(500, "unreached"));
    let other = Sha256Digest::of(b"another media");
    let e = client(&t)
        .fetch_with_info(&media_id(), &FetchOptions::default().expect_sha256(other))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Integrity(IntegrityError::Announced { expected, .. }) if *expected == other),
        "{e:?}"
    );
    assert_eq!(t.count_where(|r| r.is_download()), 0);
}

#[tokio::test]
async fn expired_url_twice_is_a_clear_error_after_exactly_one_refresh() {
    for code in [401u16, 403, 404, 410] {
        let data = content(10);
        let t = site(retrieve_json(DL_URL, &data), move |_| status(code, "gone"));
        let e = client(&t).fetch(&media_id()).await.unwrap_err();
        assert!(
            matches!(&e, Error::UrlExpired { status } if status.as_u16() == code),
            "{e:?}"
        );
        assert!(!e.is_retryable());
        assert_no_secret(&e);
        assert_eq!(t.count_where(|r| !r.is_download()), 2, "{code}");
        assert_eq!(t.count_where(|r| r.is_download()), 2, "{code}");
    }
}

#[tokio::test]
async fn redirect_from_download_host_is_not_followed() {
    let data = content(10);
    let t = site(retrieve_json(DL_URL, &data), |_| {
        with_header(
            status(302, ""),
            "location",
            "https://evil.example/steal?sig=SIGNATURE-SECRET",
        )
    });
    let e = client(&t).fetch(&media_id()).await.unwrap_err();
    match &e {
        Error::Redirect { status, location } => {
            assert_eq!(status.as_u16(), 302);
            assert_eq!(location.as_deref(), Some("https://evil.example/steal"));
        }
        other => panic!("{other:?}"),
    }
    assert_no_secret(&e);
    assert_eq!(t.count_where(|r| r.host() == "evil.example"), 0);
    assert_eq!(t.count_where(|r| r.is_download()), 1);
}

#[tokio::test]
async fn html_page_with_200_fails_verification() {
    let data = content(5000);
    let t = site(retrieve_json(DL_URL, &data), |_| {
        chunked(
            200,
            vec![Bytes::from_static(
                b"<html>Sorry, this content isn't available</html>",
            )],
            None,
            false,
        )
    });
    let e = collect(client(&t).fetch(&media_id()).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Integrity(IntegrityError::Size {
                expected: 5000,
                actual: 48
            })
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn wrong_digest_names_both_values() {
    let data = content(64);
    let wrong = Sha256Digest::of(b"something else");
    let d2 = data.clone();
    let t = site(retrieve_json_with(DL_URL, 64, wrong), move |_| {
        chunked(200, vec![Bytes::from(d2.clone())], None, false)
    });
    let e = collect(client(&t).fetch(&media_id()).await.unwrap())
        .await
        .unwrap_err();
    match &e {
        Error::Integrity(IntegrityError::Digest { expected, actual }) => {
            assert_eq!(*expected, wrong);
            assert_eq!(*actual, Sha256Digest::of(&data));
            let msg = e.to_string();
            assert!(
                msg.contains(&wrong.to_hex()) && msg.contains(&actual.to_hex()),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn endless_body_is_cut_off_at_the_announced_size() {
    let data = content(1000);
    let polled = Arc::new(AtomicUsize::new(0));
    let p2 = polled.clone();
    let t = site(retrieve_json(DL_URL, &data), move |_| {
        let p3 = p2.clone();
        // An endless body of 100-byte frames.
        let s = futures_util::stream::repeat_with(move || {
            p3.fetch_add(100, Ordering::SeqCst);
            Ok::<_, wa_media_core::TransportError>(http_body::Frame::data(Bytes::from(vec![
                0u8;
                100
            ])))
        });
        Reply::Response(http::Response::new(wa_media_core::ResponseBody::new(
            http_body_util::StreamBody::new(s),
        )))
    });
    let e = collect(client(&t).fetch(&media_id()).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Integrity(IntegrityError::TooLarge { limit: 1000, .. })
        ),
        "{e:?}"
    );
    assert_eq!(
        polled.load(Ordering::SeqCst),
        1100,
        "stops at the first overflowing frame"
    );
}

#[tokio::test]
async fn content_length_disagreeing_with_file_size_fails_before_the_body() {
    let data = content(100);
    let t = site(retrieve_json(DL_URL, &data), |_| {
        with_header(chunked(200, vec![], None, true), "content-length", "5000")
    });
    let e = client(&t).fetch(&media_id()).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Integrity(IntegrityError::Size {
                expected: 100,
                actual: 5000
            })
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn retrieve_url_that_is_not_a_url_is_invalid_response() {
    let t = site(retrieve_json("not a url", b"x"), |_| status(200, "x"));
    let e = client(&t).fetch(&media_id()).await.unwrap_err();
    assert!(matches!(e, Error::InvalidUrl { .. }), "{e:?}");
    assert_eq!(t.count_where(|r| r.is_download()), 0);
}

#[tokio::test]
async fn insecure_and_untrusted_urls_never_get_a_request() {
    for (url, want_insecure) in [
        ("http://lookaside.fbsbx.com/x?hash=SIGNATURE-SECRET", true),
        ("https://evil.example/x?hash=SIGNATURE-SECRET", false),
        ("https://lookaside.fbsbx.com.evil.example/x", false),
        ("ftp://lookaside.fbsbx.com/x", true),
    ] {
        let t = site(retrieve_json(url, b"x"), |_| status(200, "x"));
        let e = client(&t).fetch(&media_id()).await.unwrap_err();
        if want_insecure {
            assert!(matches!(e, Error::InsecureUrl { .. }), "{url}: {e:?}");
        } else {
            assert!(matches!(e, Error::UntrustedHost { .. }), "{url}: {e:?}");
        }
        assert!(!e.is_retryable());
        assert_no_secret(&e);
        assert_eq!(t.count_where(|r| r.is_download()), 0, "{url}");
    }
}

#[tokio::test]
async fn fetch_to_file_writes_atomically_and_reports_the_digest() {
    let data = content(300_000);
    let d2 = data.clone();
    let t = site(retrieve_json(DL_URL, &data), move |_| {
        chunked(200, split(&d2, 65_536), None, false)
    });
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("photo.jpg");
    let f = client(&t).fetch_to_file(&media_id(), &dest).await.unwrap();
    assert_eq!(f.path, dest);
    assert_eq!(f.file_size, 300_000);
    assert_eq!(f.sha256, Sha256Digest::of(&data));
    assert_eq!(f.mime_type, "image/jpeg");
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert_eq!(dir_entries(dir.path()), vec!["photo.jpg"]);
}

#[tokio::test]
async fn fetch_to_file_leaves_nothing_on_any_failure() {
    let data = content(50_000);
    type Case = Box<dyn Fn(&[u8]) -> Box<dyn Fn(usize) -> Reply + Send + Sync> + Send + Sync>;
    let cases: Vec<(&str, Case)> = vec![
        (
            "corrupted byte",
            Box::new(|d: &[u8]| {
                let mut bad = d.to_vec();
                bad[12_345] ^= 0x40;
                Box::new(move |_| chunked(200, split(&bad, 4096), None, false))
            }),
        ),
        (
            "truncated",
            Box::new(|d: &[u8]| {
                let short = d[..20_000].to_vec();
                Box::new(move |_| chunked(200, split(&short, 4096), None, false))
            }),
        ),
        (
            "too long",
            Box::new(|d: &[u8]| {
                let mut long = d.to_vec();
                long.extend_from_slice(b"extra");
                Box::new(move |_| chunked(200, split(&long, 4096), None, false))
            }),
        ),
        (
            "reset mid-body every time",
            Box::new(|d: &[u8]| {
                let half = d[..25_000].to_vec();
                Box::new(move |_| {
                    chunked(
                        200,
                        split(&half, 4096),
                        Some(TransportErrorKind::Interrupted),
                        false,
                    )
                })
            }),
        ),
        (
            "expired twice",
            Box::new(|_: &[u8]| Box::new(|_| status(403, "no"))),
        ),
        (
            "server error",
            Box::new(|_: &[u8]| Box::new(|_| status(500, "oops"))),
        ),
    ];
    for (name, case) in cases {
        let reply = case(&data);
        let t = site(retrieve_json(DL_URL, &data), reply);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let e = client(&t)
            .fetch_to_file(&media_id(), &dest)
            .await
            .unwrap_err();
        assert_no_secret(&e);
        assert!(!dest.exists(), "{name}: destination exists");
        assert!(
            dir_entries(dir.path()).is_empty(),
            "{name}: left {:?}",
            dir_entries(dir.path())
        );
    }
}

#[tokio::test]
async fn fetch_to_file_does_not_replace_an_existing_file_on_failure() {
    let t = site(
        retrieve_json_with(DL_URL, 1000, Sha256Digest::of(b"x")),
        move |_| chunked(200, vec![Bytes::from(vec![1u8; 1000])], None, false),
    );
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("keep.bin");
    std::fs::write(&dest, b"previous").unwrap();
    let e = client(&t)
        .fetch_to_file(&media_id(), &dest)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Integrity(IntegrityError::Digest { .. })),
        "{e:?}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"previous");
    assert_eq!(dir_entries(dir.path()), vec!["keep.bin"]);
}

#[tokio::test]
async fn fetch_to_file_restarts_after_a_mid_body_reset() {
    let data = content(40_000);
    let d2 = data.clone();
    let t = site(retrieve_json(DL_URL, &data), move |n| {
        if n == 0 {
            chunked(
                200,
                split(&d2[..10_000], 4096),
                Some(TransportErrorKind::Interrupted),
                false,
            )
        } else {
            chunked(200, split(&d2, 4096), None, false)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.bin");
    let f = client(&t).fetch_to_file(&media_id(), &dest).await.unwrap();
    assert_eq!(f.file_size, 40_000);
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert_eq!(dir_entries(dir.path()), vec!["out.bin"]);
    // The restart used a fresh URL.
    assert_eq!(t.count_where(|r| !r.is_download()), 2);
}

#[tokio::test]
async fn dropping_fetch_to_file_mid_body_removes_the_temporary_file() {
    let data = content(40_000);
    let d2 = data.clone();
    let t = site(retrieve_json(DL_URL, &data), move |_| {
        chunked(200, split(&d2[..10_000], 4096), None, true)
    });
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out.bin");
    let c = client_with(&t, fast_retry(1), Timeouts::none());
    let id = media_id();
    let fut = c.fetch_to_file(&id, &dest);
    let mut fut = Box::pin(fut);
    // Drive it until the temporary file exists and holds the first bytes, then drop it.
    let mut saw_partial = false;
    for _ in 0..1000 {
        tokio::select! {
            biased;
            r = &mut fut => panic!("finished: {r:?}"),
            _ = tokio::task::yield_now() => {}
        }
        let entries = dir_entries(dir.path());
        if entries.len() == 1 {
            let p = dir.path().join(&entries[0]);
            if std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0) == 10_000 {
                assert!(entries[0].starts_with(".out.bin.") && entries[0].ends_with(".wa-part"));
                saw_partial = true;
                break;
            }
        }
    }
    assert!(saw_partial, "the body never reached the temporary file");
    drop(fut);
    assert!(
        dir_entries(dir.path()).is_empty(),
        "{:?}",
        dir_entries(dir.path())
    );
}

#[tokio::test]
async fn download_uses_the_given_url_and_stream_verification_catches_a_short_body() {
    let data = content(100);
    let d2 = data.clone();
    let t = site(String::new(), move |_| {
        chunked(200, vec![Bytes::from(d2[..99].to_vec())], None, false)
    });
    let dl = client(&t)
        .download(&media_info(DL_URL, &data))
        .await
        .unwrap();
    let e = collect(dl).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Integrity(IntegrityError::Size {
                expected: 100,
                actual: 99
            })
        ),
        "{e:?}"
    );
    assert_eq!(t.count_where(|r| !r.is_download()), 0);
}

#[tokio::test]
async fn media_api_is_object_safe_and_fetch_works_through_dyn() {
    let data = content(2000);
    let d2 = data.clone();
    let t = site(retrieve_json(DL_URL, &data), move |_| {
        chunked(200, split(&d2, 500), None, false)
    });
    let api: Arc<dyn MediaApi> = Arc::new(client(&t));
    let dl = api.fetch(&media_id()).await.unwrap();
    assert_eq!(collect(dl).await.unwrap(), data);
    let dir = tempfile::tempdir().unwrap();
    let f = api
        .fetch_to_file(&media_id(), dir.path().join("x"))
        .await
        .unwrap();
    assert_eq!(f.sha256, Sha256Digest::of(&data));
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&api);
}

/// A MediaApi that is not MediaClient and returns an unverified Download: fetch still
/// verifies, because MediaApiExt wraps every Download in verification.
struct Unverified(Vec<u8>, Vec<u8>);

#[async_trait::async_trait]
impl MediaApi for Unverified {
    async fn upload(&self, _: wa_media_core::Upload) -> Result<wa_media_types::MediaId, Error> {
        unimplemented!()
    }
    async fn retrieve(
        &self,
        _: &wa_media_types::MediaId,
    ) -> Result<wa_media_types::MediaUrlResponse, Error> {
        Ok(media_info(DL_URL, &self.0))
    }
    async fn download(
        &self,
        _: &wa_media_types::MediaUrlResponse,
    ) -> Result<wa_media_core::Download, Error> {
        let body = Bytes::from(self.1.clone());
        Ok(wa_media_core::Download::from_stream(
            futures_util::stream::iter(vec![Ok(body)]),
            None,
        ))
    }
    async fn delete(&self, _: &wa_media_types::MediaId) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::test]
async fn fetch_verifies_downloads_of_any_media_api() {
    let good = content(100);
    let mut bad = good.clone();
    bad[50] ^= 1;
    let api = Unverified(good.clone(), bad);
    let e = collect(api.fetch(&media_id()).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Integrity(IntegrityError::Digest { .. })),
        "{e:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    assert!(api
        .fetch_to_file(&media_id(), dir.path().join("x"))
        .await
        .is_err());
    assert!(dir_entries(dir.path()).is_empty());
    let api = Unverified(good.clone(), good.clone());
    assert_eq!(
        collect(api.fetch(&media_id()).await.unwrap())
            .await
            .unwrap(),
        good
    );
}
