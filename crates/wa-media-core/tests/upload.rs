//! Uploads: local validation against every fixtures/media sample (a refused file sends
//! nothing and lists every problem), streaming sources, progress, and the checks done before
//! sending.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use wa_media_core::test_util::*;
use wa_media_core::{ConfigError, Error, MediaApi, MediaClient, Timeouts, Upload};
use wa_media_types::MediaKind;

fn ok_upload() -> Scripted {
    Scripted::new(|_, _| json(200, r#"{"id":"555"}"#))
}

fn media_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/media")
}

#[tokio::test]
async fn every_media_sample_is_accepted_or_refused_as_the_manifest_says() {
    let manifest: serde_json::Value = match std::fs::read(media_dir().join("manifest.json")) {
        Ok(b) => serde_json::from_slice(&b).unwrap(),
        Err(_) => return, // fixtures not generated in this checkout
    };
    let files = manifest["files"].as_array().unwrap();
    assert!(!files.is_empty());
    for f in files {
        let name = f["file"].as_str().unwrap();
        let mime = f["mime"].as_str().unwrap().parse().unwrap();
        let kind: MediaKind = f["kind"].as_str().unwrap().parse().unwrap();
        let accept = f["accept"].as_bool().unwrap();
        let t = ok_upload();
        let r = client(&t)
            .upload(Upload::from_path(media_dir().join(name), mime).kind(kind))
            .await;
        if accept {
            assert_eq!(r.unwrap_or_else(|e| panic!("{name}: {e}")).as_str(), "555");
            let body = &t.requests()[0].body;
            let file = std::fs::read(media_dir().join(name)).unwrap();
            assert!(body.windows(file.len().max(1)).any(|w| w == &file[..]) || file.is_empty());
        } else {
            let e = r.expect_err(name);
            match &e {
                Error::Validation(v) => {
                    let want: Vec<&str> = f["problems"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p.as_str().unwrap())
                        .collect();
                    let got: Vec<String> = v
                        .problems
                        .iter()
                        .map(|p| {
                            format!("{p:?}")
                                .split([' ', '{', '('])
                                .next()
                                .unwrap()
                                .to_owned()
                        })
                        .collect();
                    assert_eq!(got, want, "{name}");
                    assert!(e.to_string().contains("refused before sending"), "{e}");
                }
                other => panic!("{name}: {other:?}"),
            }
            assert!(!e.is_retryable());
            assert!(t.requests().is_empty(), "{name}: nothing may be sent");
        }
    }
}

#[tokio::test]
async fn api_refused_types_fail_locally_with_every_problem() {
    for mime in ["application/octet-stream", "audio/opus", "audio/webm"] {
        let t = ok_upload();
        let e = client(&t)
            .upload(Upload::from_bytes(vec![0u8; 100], mime.parse().unwrap()))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Validation(_)), "{mime}: {e:?}");
        assert!(t.requests().is_empty());
    }
    // Two problems at once are both listed.
    let t = ok_upload();
    let e = client(&t)
        .upload(
            Upload::from_bytes(vec![0u8; 200_000], "image/webp".parse().unwrap())
                .kind(MediaKind::Image),
        )
        .await
        .unwrap_err();
    match e {
        Error::Validation(v) => assert!(v.problems.len() >= 2, "{v:?}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn validation_can_be_skipped_per_upload_or_per_client() {
    let t = ok_upload();
    client(&t)
        .upload(
            Upload::from_bytes(vec![0u8; 10], "application/octet-stream".parse().unwrap())
                .skip_validation(),
        )
        .await
        .unwrap();
    assert_eq!(t.requests().len(), 1);
    let t = ok_upload();
    MediaClient::builder(t.clone())
        .token(TOKEN)
        .phone_number_id(PHONE)
        .validate_uploads(false)
        .build()
        .unwrap()
        .upload(Upload::from_bytes(
            vec![0u8; 10],
            "audio/opus".parse().unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(t.requests().len(), 1);
}

#[tokio::test]
async fn stream_sources_are_validated_from_their_head_and_sent_intact() {
    let png = std::fs::read(media_dir().join("image.png")).unwrap_or_else(|_| {
        // Minimal PNG signature + IHDR start, enough for sniffing.
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
            .to_vec()
    });
    let chunks: Vec<std::io::Result<Bytes>> = png
        .chunks(7)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let t = ok_upload();
    let progress = Arc::new(AtomicU64::new(0));
    let p2 = progress.clone();
    client(&t)
        .upload(
            Upload::from_stream(
                futures_util::stream::iter(chunks),
                png.len() as u64,
                "image/png".parse().unwrap(),
            )
            .filename("pic.png")
            .progress(move |done, total| {
                assert_eq!(total, Some(png_len()));
                p2.store(done, Ordering::SeqCst)
            }),
        )
        .await
        .unwrap();
    fn png_len() -> u64 {
        std::fs::metadata(media_dir().join("image.png"))
            .map(|m| m.len())
            .unwrap_or(33)
    }
    assert_eq!(progress.load(Ordering::SeqCst), png.len() as u64);
    let r = &t.requests()[0];
    assert_eq!(r.body_len_hint, Some(r.body.len() as u64));
    assert!(r.body.windows(png.len()).any(|w| w == &png[..]));

    // A JPEG declared as PNG is refused from the peeked head.
    let jpg = std::fs::read(media_dir().join("image.jpg"))
        .unwrap_or_else(|_| b"\xff\xd8\xff\xe0\x00\x10JFIF\x00".to_vec());
    let t = ok_upload();
    let e = client(&t)
        .upload(Upload::from_stream(
            futures_util::stream::iter(vec![Ok(Bytes::from(jpg.clone()))]),
            jpg.len() as u64,
            "image/png".parse().unwrap(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Validation(_)), "{e:?}");
    assert!(t.requests().is_empty());
}

#[tokio::test]
async fn a_stream_of_the_wrong_length_fails_the_upload() {
    for (announced, want) in [
        (6u64, "ended after 5 of the announced 6"),
        (4, "more than the announced 4"),
    ] {
        let t = ok_upload();
        let e = client(&t)
            .upload(
                Upload::from_stream(
                    futures_util::stream::iter(vec![Ok(Bytes::from_static(b"hello"))]),
                    announced,
                    "text/plain".parse().unwrap(),
                )
                .skip_validation(),
            )
            .await
            .unwrap_err();
        // Whatever the transport made of the failing body, the error says the source changed.
        assert!(matches!(e, Error::SourceChanged { .. }), "{e:?}");
        let chain = format!("{e} / {:?}", e);
        assert!(chain.contains(want), "{chain}");
    }
}

#[tokio::test]
async fn file_sources_report_progress_and_stream_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.txt");
    std::fs::write(&p, vec![b'z'; 3 * 1024 * 1024 + 17]).unwrap();
    let t = ok_upload();
    let calls = Arc::new(AtomicU64::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let (c2, l2) = (calls.clone(), last.clone());
    client(&t)
        .upload(
            Upload::from_path(&p, "text/plain".parse().unwrap()).progress(move |done, _| {
                c2.fetch_add(1, Ordering::SeqCst);
                l2.store(done, Ordering::SeqCst);
            }),
        )
        .await
        .unwrap();
    assert_eq!(last.load(Ordering::SeqCst), 3 * 1024 * 1024 + 17);
    assert_eq!(calls.load(Ordering::SeqCst), 7, "512 KiB chunks");
    assert!(t.requests()[0]
        .body
        .ends_with(b"zzz\r\n--wa-media-TESTBOUNDARY--\r\n"));
}

#[tokio::test]
async fn missing_phone_number_id_or_file_fails_before_sending() {
    let t = ok_upload();
    let c = MediaClient::builder(t.clone())
        .token(TOKEN)
        .build()
        .unwrap();
    let e = c
        .upload(Upload::from_bytes(
            &b"hi"[..],
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Config(ConfigError::PhoneNumberId(_))),
        "{e:?}"
    );
    let e = client(&t)
        .upload(Upload::from_path(
            "/definitely/not/here.txt",
            "text/plain".parse().unwrap(),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Io { path: Some(_), .. }), "{e:?}");
    assert!(e.to_string().contains("/definitely/not/here.txt"));
    assert!(t.requests().is_empty());
}

#[test]
fn builder_refuses_bad_settings_without_echoing_the_token() {
    let t = ok_upload();
    let b = || MediaClient::builder(t.clone()).token(TOKEN);
    assert!(matches!(
        b().phone_number_id("+1555").build(),
        Err(ConfigError::PhoneNumberId(_))
    ));
    assert!(matches!(
        b().graph_url("http://graph.facebook.com").build(),
        Err(ConfigError::GraphUrl { .. })
    ));
    assert!(matches!(
        b().trust_host("https://x.example/").build(),
        Err(ConfigError::TrustedHost { .. })
    ));
    assert!(matches!(
        b().user_agent("bad\nua").build(),
        Err(ConfigError::UserAgent)
    ));
    let c = b().timeouts(Timeouts::none()).build().unwrap();
    let dbg = format!("{c:?}");
    assert!(
        !dbg.contains(TOKEN) && dbg.contains("AccessToken(***)"),
        "{dbg}"
    );
}

/// The `filename="…"` of the file part of a recorded multipart body.
fn sent_filename(t: &Scripted) -> String {
    let body = String::from_utf8_lossy(&t.requests()[0].body).into_owned();
    let start = body.find("; filename=\"").expect("a file part") + "; filename=\"".len();
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn unnamed_sources_are_sent_with_the_mime_types_usual_extension() {
    const OPUS: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01";
    const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0";
    // Bytes: a voice note is file.ogg, not an extensionless `file`.
    let t = ok_upload();
    client(&t)
        .upload(
            Upload::from_bytes(OPUS, "audio/ogg; codecs=opus".parse().unwrap())
                .kind(MediaKind::Voice),
        )
        .await
        .unwrap();
    assert_eq!(sent_filename(&t), "file.ogg");
    // A one-shot stream likewise.
    let t = ok_upload();
    let chunks = vec![Ok(Bytes::from_static(JPEG))];
    client(&t)
        .upload(Upload::from_stream(
            futures_util::stream::iter(chunks),
            JPEG.len() as u64,
            "image/jpeg".parse().unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(sent_filename(&t), "file.jpg");
    // A name given is sent as given; a type WhatsApp does not accept keeps plain `file`.
    let t = ok_upload();
    client(&t)
        .upload(Upload::from_bytes(JPEG, "image/jpeg".parse().unwrap()).filename("cat.jpeg"))
        .await
        .unwrap();
    assert_eq!(sent_filename(&t), "cat.jpeg");
    let t = ok_upload();
    client(&t)
        .upload(Upload::from_bytes(&b"GIF89a"[..], "image/gif".parse().unwrap()).skip_validation())
        .await
        .unwrap();
    assert_eq!(sent_filename(&t), "file");
}

#[tokio::test]
async fn a_path_whose_extension_contradicts_its_contents_is_refused_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("x.jpg");
    std::fs::write(
        &fake,
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0",
    )
    .unwrap();
    // Declared as what the contents are (as the CLI's sniffing does): the name is the problem.
    let t = ok_upload();
    let e = client(&t)
        .upload(Upload::from_path(&fake, "image/png".parse().unwrap()))
        .await
        .unwrap_err();
    match &e {
        Error::Validation(v) => assert_eq!(
            v.problems,
            vec![wa_media_types::Problem::ExtensionMismatch {
                file_name: "x.jpg".into(),
                implies: "image/jpeg",
                found: "image/png",
            }]
        ),
        other => panic!("{other:?}"),
    }
    assert!(t.requests().is_empty(), "nothing may be sent");
    // An explicit name that agrees with the contents fixes it; so does skipping validation.
    let t = ok_upload();
    client(&t)
        .upload(Upload::from_path(&fake, "image/png".parse().unwrap()).filename("x.png"))
        .await
        .unwrap();
    assert_eq!(sent_filename(&t), "x.png");
    // `.jpeg` for a JPEG, or an unknown extension, is no contradiction.
    let jpeg = dir.path().join("y.JPEG");
    std::fs::write(&jpeg, b"\xFF\xD8\xFF\xE0\0\x10JFIF\0").unwrap();
    let unknown = dir.path().join("z.img");
    std::fs::write(&unknown, b"\xFF\xD8\xFF\xE0\0\x10JFIF\0").unwrap();
    for path in [jpeg, unknown] {
        let t = ok_upload();
        client(&t)
            .upload(Upload::from_path(&path, "image/jpeg".parse().unwrap()))
            .await
            .unwrap();
        assert_eq!(t.requests().len(), 1);
    }
}

#[tokio::test]
async fn a_media_ttl_outside_one_hour_to_thirty_days_is_refused_before_sending() {
    let text = || Upload::from_bytes(&b"hello\n"[..], "text/plain".parse().unwrap());
    for minutes in [0, 30, 59, 43_201, u32::MAX] {
        let t = ok_upload();
        let e = client(&t)
            .upload(text().ttl_minutes(minutes))
            .await
            .unwrap_err();
        match &e {
            Error::Validation(v) => {
                assert_eq!(
                    v.problems,
                    vec![wa_media_types::Problem::TtlOutOfRange { minutes }]
                );
                assert!(v.to_string().contains("60 to 43200 minutes"), "{v}");
            }
            other => panic!("{minutes}: {other:?}"),
        }
        assert!(t.requests().is_empty(), "{minutes}: nothing may be sent");
    }
    // With a problem of the file too, both are listed (the file's first).
    let t = ok_upload();
    let e = client(&t)
        .upload(Upload::from_bytes(vec![0u8; 10], "audio/opus".parse().unwrap()).ttl_minutes(10))
        .await
        .unwrap_err();
    match e {
        Error::Validation(v) => {
            assert_eq!(v.problems[0], wa_media_types::Problem::OpusMimeType);
            assert_eq!(
                v.problems.last(),
                Some(&wa_media_types::Problem::TtlOutOfRange { minutes: 10 })
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(t.requests().is_empty());
    // The bounds are accepted; skipping validation leaves the range to the API.
    for minutes in [60, 43_200] {
        let t = ok_upload();
        client(&t)
            .upload(text().ttl_minutes(minutes))
            .await
            .unwrap();
        assert_eq!(t.requests().len(), 1);
    }
    let t = ok_upload();
    client(&t)
        .upload(text().ttl_minutes(30).skip_validation())
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&t.requests()[0].body).into_owned();
    assert!(
        body.contains("name=\"ttl_minutes\"\r\n\r\n30\r\n"),
        "{body}"
    );
}

#[tokio::test]
async fn send_file_refuses_an_out_of_range_media_ttl_before_uploading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello\n").unwrap();
    let t = ok_upload();
    let e = client(&t)
        .plan_send_file(
            &path,
            "15551234567",
            wa_media_core::SendOptions::default().ttl_minutes(30),
        )
        .unwrap_err();
    assert!(
        matches!(e, wa_media_core::SendFileError::Validation(_)),
        "{e:?}"
    );
    assert!(format!("{e:?}").contains("TtlOutOfRange"), "{e:?}");
    assert!(t.requests().is_empty());
}
