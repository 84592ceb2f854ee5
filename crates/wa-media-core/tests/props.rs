//! Properties: multipart output parses back with an independent parser (multer); any single
//! corrupted byte of a download is caught; an untrusted URL never receives the token; the
//! retry schedule stays within its bounds.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use proptest::prelude::*;
use wa_media_core::multipart::{escape_filename, MultipartBody};
use wa_media_core::test_util::*;
use wa_media_core::{Error, IntegrityError, MediaApi, MediaApiExt, RetryPolicy, Timeouts};
use wa_media_types::MediaType;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn mime() -> impl Strategy<Value = MediaType> {
    prop::sample::select(vec![
        "image/jpeg",
        "image/png",
        "audio/ogg; codecs=opus",
        "application/pdf",
        "text/plain; charset=utf-8",
        "video/3gpp",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ])
    .prop_map(|s| s.parse().unwrap())
}

fn filename() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 ._-]{1,40}",
        // The nasty ones: quotes, CR/LF, separators, boundary look-alikes.
        prop::collection::vec(
            prop::sample::select(vec![
                "\"", "\r", "\n", "/", "\\", ";", "=", "--", "a", "é", "\u{0}", "\u{7f}", " "
            ]),
            0..12
        )
        .prop_map(|v| v.concat()),
    ]
}

fn split_at_random(data: Vec<u8>, sizes: Vec<usize>) -> Vec<Bytes> {
    let data = Bytes::from(data);
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < data.len() {
        let n = sizes
            .get(k % sizes.len().max(1))
            .copied()
            .unwrap_or(4096)
            .max(1);
        let end = (i + n).min(data.len());
        out.push(data.slice(i..end));
        i = end;
        k += 1;
    }
    out
}

/// Parses a multipart body with multer: (name, filename, content type, bytes) per part.
async fn parse_with_multer(
    boundary: &str,
    body: Vec<u8>,
) -> Vec<(String, Option<String>, Option<String>, Vec<u8>)> {
    // Feed it in odd-sized pieces so multer's own buffering is exercised.
    let pieces: Vec<Result<Bytes, std::io::Error>> = split_at_random(body, vec![1, 7, 300, 5000])
        .into_iter()
        .map(Ok)
        .collect();
    let mut mp = multer::Multipart::new(futures_util::stream::iter(pieces), boundary);
    let mut parts = Vec::new();
    while let Some(field) = mp.next_field().await.expect("multer parses the body") {
        let name = field.name().unwrap_or_default().to_owned();
        let file = field.file_name().map(str::to_owned);
        let ct = field.content_type().map(|m| m.to_string());
        let bytes = field.bytes().await.unwrap().to_vec();
        parts.push((name, file, ct, bytes));
    }
    parts
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn multipart_parses_back_to_the_same_fields_and_bytes(
        name in filename(),
        content in prop::collection::vec(any::<u8>(), 0..20_000),
        mime in mime(),
        sizes in prop::collection::vec(1usize..9000, 1..5),
    ) {
        let m = MultipartBody::new(&mime, &name, content.len() as u64);
        let chunks: Vec<std::io::Result<Bytes>> =
            split_at_random(content.clone(), sizes).into_iter().map(Ok).collect();
        let body: Vec<u8> = rt().block_on(async {
            let mut s = Box::pin(m.stream(futures_util::stream::iter(chunks)));
            let mut v = Vec::new();
            while let Some(c) = s.next().await {
                v.extend_from_slice(&c.unwrap());
            }
            v
        });
        prop_assert_eq!(body.len() as u64, m.len(), "Content-Length is exact");
        let parts = rt().block_on(parse_with_multer(m.boundary(), body));
        prop_assert_eq!(parts.len(), 3);
        prop_assert_eq!(&parts[0].0, "messaging_product");
        prop_assert_eq!(&parts[0].3, b"whatsapp");
        prop_assert_eq!(&parts[1].0, "type");
        prop_assert_eq!(String::from_utf8(parts[1].3.clone()).unwrap(), mime.to_string());
        prop_assert_eq!(&parts[2].0, "file");
        prop_assert_eq!(parts[2].1.clone(), Some(escape_filename(&name)));
        prop_assert_eq!(parts[2].2.clone().map(|s| s.replace(' ', "")), Some(mime.to_string().replace(' ', "")));
        prop_assert!(parts[2].3 == content, "file bytes differ");
    }

    #[test]
    fn any_single_corrupted_byte_is_caught(
        content in prop::collection::vec(any::<u8>(), 1..6000),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        chunk in 1usize..3000,
    ) {
        let mut bad = content.clone();
        let i = at.index(bad.len());
        bad[i] ^= flip;
        let info = retrieve_json(DL_URL, &content);
        let t = Scripted::new(move |r, _| {
            if r.is_download() {
                chunked(200, split_at_random(bad.clone(), vec![chunk]), None, false)
            } else {
                json(200, info.clone())
            }
        });
        let c = client_with(&t, RetryPolicy::none(), Timeouts::default());
        let (streamed, to_file, leftovers) = rt().block_on(async {
            let mut dl = c.fetch(&media_id()).await.unwrap();
            let mut res = Ok(());
            while let Some(x) = dl.next().await {
                if let Err(e) = x { res = Err(e); break; }
            }
            let dir = tempfile::tempdir().unwrap();
            let dest = dir.path().join("f");
            let r = c.fetch_to_file(&media_id(), &dest).await;
            (res, r, dir_entries(dir.path()))
        });
        prop_assert!(matches!(streamed, Err(Error::Integrity(IntegrityError::Digest { .. }))), "{:?}", streamed);
        prop_assert!(matches!(to_file, Err(Error::Integrity(IntegrityError::Digest { .. }))), "{:?}", to_file);
        prop_assert!(leftovers.is_empty(), "{:?}", leftovers);
    }

    #[test]
    fn an_untrusted_url_never_receives_the_token(
        scheme in prop::sample::select(vec!["https", "http", "ftp", "HTTPS"]),
        host in prop_oneof![
            "[a-z]{1,12}\\.[a-z]{2,6}",
            "[a-z]{1,8}".prop_map(|x| format!("lookaside.fbsbx.com.{x}.net")),
            "[a-z]{1,8}".prop_map(|x| format!("{x}lookaside.fbsbx.com")),
            "[a-z]{1,8}".prop_map(|x| format!("{x}.lookaside.fbsbx.com")),
            Just("lookaside-fbsbx.com".to_owned()),
            Just("graph.facebook.com.evil.net".to_owned()),
            Just("lookaside.fbsbx.com".to_owned()),
            Just("graph.facebook.com".to_owned()),
            Just("10.0.0.1".to_owned()),
            Just("[::2]".to_owned()),
        ],
        port in prop::option::of(1u16..),
        userinfo in prop::bool::weighted(0.1),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let user = if userinfo { "lookaside.fbsbx.com@" } else { "" };
        let url = format!("{scheme}://{user}{host}{port}/x/?hash=SIGNATURE-SECRET");
        let info = retrieve_json(&url, b"data");
        let t = Scripted::new(move |r, _| {
            if r.is_download() {
                chunked(200, vec![Bytes::from_static(b"data")], None, false)
            } else {
                json(200, info.clone())
            }
        });
        let c = client_with(&t, RetryPolicy::none(), Timeouts::default());
        let result = rt().block_on(async {
            match c.fetch(&media_id()).await {
                Ok(d) => d.bytes(100).await.map(|_| ()),
                Err(e) => Err(e),
            }
        });
        for r in t.requests() {
            if r.has_token() {
                let u = url::Url::parse(&r.uri).unwrap();
                prop_assert_eq!(u.scheme(), "https", "{}", r.uri);
                prop_assert!(
                    matches!(u.host_str(), Some("graph.facebook.com" | "lookaside.fbsbx.com")),
                    "token sent to {}", r.uri
                );
                prop_assert!(u.username().is_empty());
            }
        }
        if let Err(e) = &result {
            assert_no_secret(e);
        }
        let trusted = wa_media_core::TrustedHosts::default().allows_str(&url)
            || (url::Url::parse(&url).map(|u| u.scheme() == "https" && u.host_str() == Some("graph.facebook.com") && u.port_or_known_default() == Some(443) && u.username().is_empty()).unwrap_or(false));
        if !trusted {
            prop_assert!(result.is_err());
            prop_assert_eq!(t.count_where(|r| r.is_download()), 0);
        }
    }

    #[test]
    fn retry_schedule_stays_within_bounds(
        base_ms in 0u64..2000,
        max_ms in 0u64..20_000,
        cap_s in 0u64..120,
        retry in 1u32..64,
        unit in 0.0f64..1.0,
        retry_after_s in prop::option::of(0u64..10_000_000),
    ) {
        let p = RetryPolicy::default()
            .with_delays(Duration::from_millis(base_ms), Duration::from_millis(max_ms))
            .with_max_retry_after(Duration::from_secs(cap_s));
        let ceiling = p.backoff_ceiling(retry);
        prop_assert!(ceiling <= p.max_delay);
        prop_assert!(ceiling <= p.base_delay.saturating_mul(1u32 << (retry - 1).min(31)));
        prop_assert!(p.backoff_ceiling(retry + 1) >= ceiling, "ceilings never shrink");
        let d = p.delay(retry, retry_after_s.map(Duration::from_secs), unit);
        match retry_after_s {
            Some(ra) => prop_assert_eq!(d, Duration::from_secs(ra).min(p.max_retry_after)),
            None => prop_assert!(d <= ceiling),
        }
    }

    #[test]
    fn attempts_never_exceed_the_policy(attempts in 1u32..6, fails in 0usize..8) {
        let t = Scripted::new(move |_, n| {
            if n < fails { status(503, "") } else { json(200, r#"{"success":true}"#) }
        });
        let c = client_with(&t, fast_retry(attempts), Timeouts::default());
        let r = rt().block_on(c.delete(&media_id()));
        let sent = t.requests().len();
        prop_assert!(sent <= attempts as usize);
        prop_assert_eq!(r.is_ok(), fails < attempts as usize);
        prop_assert_eq!(sent, (fails + 1).min(attempts as usize));
    }
}

/// Pinned cases, so a broken harness cannot pass the generated tests vacuously.
#[test]
fn pinned_multipart_and_corruption_cases() {
    let mime: MediaType = "audio/ogg; codecs=opus".parse().unwrap();
    let m = MultipartBody::with_boundary("b0undary".into(), &mime, "a\"b.ogg", 3);
    let body = m.to_bytes(Bytes::from_static(b"abc"));
    let parts = rt().block_on(parse_with_multer("b0undary", body));
    assert_eq!(parts[2].1.as_deref(), Some("a%22b.ogg"));
    assert_eq!(parts[2].3, b"abc");

    // A correct body passes; the same harness with a flipped byte fails.
    let content = b"0123456789".to_vec();
    let info = retrieve_json(DL_URL, &content);
    let t = Scripted::new(move |r, _| {
        if r.is_download() {
            chunked(200, vec![Bytes::from_static(b"0123456789")], None, false)
        } else {
            json(200, info.clone())
        }
    });
    let c = client_with(&t, RetryPolicy::none(), Timeouts::default());
    let got = rt().block_on(async { c.fetch(&media_id()).await.unwrap().bytes(100).await });
    assert_eq!(got.unwrap(), content);
}
