//! What `fetch_to_file` does to the destination: an expected digest (a webhook's) checked
//! before anything is downloaded and before the rename; an existing file left exactly as it
//! was on any mismatch; non-regular files never replaced; names claimed without replacing
//! (`Existing::KeepBoth`); and an upload whose file changes mid-way reported as such.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use wa_media_core::test_util::*;
use wa_media_core::{
    Download, Error, Existing, FetchOptions, IntegrityError, MediaApi, MediaApiExt, RequestBody,
    ResponseBody, TransportError, Upload,
};
use wa_media_types::{MediaId, MediaUrlResponse, Sha256Digest};

fn content(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// Graph announces `data`'s digest and the download host serves `served`.
fn site(data: &[u8], served: Vec<u8>) -> Scripted {
    let info = retrieve_json(DL_URL, data);
    Scripted::new(move |r, _| {
        if r.is_download() {
            chunked(200, vec![Bytes::from(served.clone())], None, false)
        } else {
            json(200, info.clone())
        }
    })
}

#[tokio::test]
async fn a_webhook_digest_that_disagrees_with_the_retrieve_answer_downloads_nothing_and_keeps_the_file(
) {
    let good = content(5000, 1);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("photo.jpg");
    std::fs::write(&dest, b"the first, good file").unwrap();
    let t = site(&good, good.clone());
    let webhook_says = Sha256Digest::of(b"another media");
    let e = client(&t)
        .fetch_to_file_with(
            &media_id(),
            &dest,
            FetchOptions::default().expect_sha256(webhook_says),
        )
        .await
        .unwrap_err();
    match &e {
        Error::Integrity(IntegrityError::Announced {
            expected,
            announced,
        }) => {
            assert_eq!(*expected, webhook_says);
            assert_eq!(*announced, Sha256Digest::of(&good));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("nothing was downloaded"), "{e}");
    assert_eq!(
        t.count_where(|r| r.is_download()),
        0,
        "a byte was downloaded"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b"the first, good file");
    assert_eq!(dir_entries(dir.path()), vec!["photo.jpg"]);
}

#[tokio::test]
async fn an_expected_size_that_disagrees_downloads_nothing() {
    let good = content(5000, 2);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("a.bin");
    let t = site(&good, good.clone());
    let e = client(&t)
        .fetch_to_file_with(
            &media_id(),
            &dest,
            FetchOptions::default().expect_size(4999),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Integrity(IntegrityError::Size { .. })),
        "{e:?}"
    );
    assert_eq!(t.count_where(|r| r.is_download()), 0);
    assert!(dir_entries(dir.path()).is_empty());
}

#[tokio::test]
async fn a_matching_expected_digest_saves_the_file() {
    let good = content(70_000, 3);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("a.bin");
    std::fs::write(&dest, b"old").unwrap();
    let t = site(&good, good.clone());
    let f = client(&t)
        .fetch_to_file_with(
            &media_id(),
            &dest,
            FetchOptions::default()
                .expect_sha256(Sha256Digest::of(&good))
                .expect_size(good.len() as u64),
        )
        .await
        .unwrap();
    assert_eq!(f.sha256, Sha256Digest::of(&good));
    assert!(!f.already_present);
    assert_eq!(std::fs::read(&dest).unwrap(), good);
}

/// A `MediaApi` of someone else's making: its retrieve agrees with the webhook, but its
/// download serves other bytes, unverified. `fetch_to_file` is provided for every `MediaApi`,
/// so the rule must hold here too.
struct LyingApi {
    announced: Vec<u8>,
    served: Vec<u8>,
}

#[async_trait::async_trait]
impl MediaApi for LyingApi {
    async fn upload(&self, _: Upload) -> Result<MediaId, Error> {
        unreachable!("not used")
    }
    async fn retrieve(&self, id: &MediaId) -> Result<MediaUrlResponse, Error> {
        let mut info = media_info(DL_URL, &self.announced);
        info.id = id.clone();
        Ok(info)
    }
    async fn download(&self, _: &MediaUrlResponse) -> Result<Download, Error> {
        let served = Bytes::from(self.served.clone());
        let len = served.len() as u64;
        Ok(Download::from_stream(
            futures_util::stream::iter(vec![Ok(served)]),
            Some(len),
        ))
    }
    async fn delete(&self, _: &MediaId) -> Result<(), Error> {
        unreachable!("not used")
    }
}

#[tokio::test]
async fn any_media_api_serving_other_bytes_than_expected_leaves_the_destination_as_it_was() {
    let announced = content(3000, 4);
    let mut served = announced.clone();
    served[1500] ^= 0xff;
    let api = LyingApi {
        announced: announced.clone(),
        served,
    };
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("doc.pdf");
    std::fs::write(&dest, b"keep me").unwrap();
    for existing in [Existing::Replace, Existing::KeepBoth] {
        let e = api
            .fetch_to_file_with(
                &media_id(),
                &dest,
                FetchOptions::default()
                    .expect_sha256(Sha256Digest::of(&announced))
                    .existing(existing),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Integrity(IntegrityError::Digest { .. })),
            "{e:?}"
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"keep me");
        assert_eq!(dir_entries(dir.path()), vec!["doc.pdf"]);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_fifo_or_directory_at_the_destination_is_refused_before_downloading() {
    use std::os::unix::fs::FileTypeExt;
    let good = content(100, 5);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("inside"), b"x").unwrap();
    let t = site(&good, good.clone());
    for (dest, what) in [(&fifo, "a FIFO"), (&sub, "a directory")] {
        let e = client(&t)
            .fetch_to_file(&media_id(), dest)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        // The reason is the io::Error behind it (`source()`), not repeated in the message.
        let cause = std::error::Error::source(&e).unwrap().to_string();
        assert!(cause.contains(what), "{e:?}");
        assert!(cause.contains("refusing to replace"), "{e:?}");
    }
    assert_eq!(t.count_where(|r| r.is_download()), 0);
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(std::fs::read(sub.join("inside")).unwrap(), b"x");
    assert_eq!(dir_entries(dir.path()), vec!["pipe", "sub"]);
}

#[tokio::test]
async fn keep_both_claims_the_next_free_name_and_recognises_the_same_media() {
    let mine = content(2048, 6);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("invoice.pdf");
    std::fs::write(&dest, b"another customer's invoice").unwrap();
    let t = site(&mine, mine.clone());
    let keep = || FetchOptions::default().existing(Existing::KeepBoth);
    let first = client(&t)
        .fetch_to_file_with(&media_id(), &dest, keep())
        .await
        .unwrap();
    assert_eq!(first.path, dir.path().join("invoice-1.pdf"));
    assert!(!first.already_present);
    let again = client(&t)
        .fetch_to_file_with(&media_id(), &dest, keep())
        .await
        .unwrap();
    assert_eq!(again.path, first.path);
    assert!(again.already_present);
    assert_eq!(std::fs::read(&dest).unwrap(), b"another customer's invoice");
    assert_eq!(std::fs::read(&first.path).unwrap(), mine);
    assert_eq!(
        dir_entries(dir.path()),
        vec!["invoice-1.pdf", "invoice.pdf"]
    );
}

#[tokio::test]
async fn a_file_that_grows_during_the_upload_is_reported_as_changed_not_as_a_network_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = Arc::new(dir.path().join("notes.txt"));
    std::fs::write(&*path, vec![b'a'; 3 * 1024 * 1024]).unwrap();
    let p2 = path.clone();
    // A transport that appends to the file after reading the first body frame.
    let transport = move |req: http::Request<RequestBody>| {
        let p = p2.clone();
        async move {
            let mut body = req.into_body();
            let mut frames = 0;
            while let Some(frame) = body.frame().await {
                frame.map_err(|e| {
                    TransportError::new(wa_media_core::TransportErrorKind::Request, e)
                })?;
                frames += 1;
                if frames == 1 {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new().append(true).open(&*p).unwrap();
                    f.write_all(b"more notes").unwrap();
                }
            }
            Ok::<_, TransportError>(http::Response::new(ResponseBody::from_bytes(
                r#"{"id":"1234"}"#,
            )))
        }
    };
    let c = wa_media_core::MediaClient::builder(transport)
        .token(TOKEN)
        .phone_number_id(PHONE)
        .build()
        .unwrap();
    let e = c
        .upload(Upload::from_path(&*path, "text/plain".parse().unwrap()))
        .await
        .unwrap_err();
    match &e {
        Error::SourceChanged {
            path: Some(p),
            detail,
        } => {
            assert_eq!(p, &*path);
            assert!(detail.contains("grew"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_retryable());
    assert!(
        e.to_string()
            .contains("changed while it was being uploaded"),
        "{e}"
    );
}

#[test]
fn partial_files_are_found_only_in_the_directory_given() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join(".a.bin.00000000.wa-part"), b"x").unwrap();
    std::fs::write(dir.path().join(".a.bin.ffffffff.wa-part"), b"x").unwrap();
    let removed =
        wa_media_core::clean_partial_files(dir.path(), std::time::Duration::ZERO).unwrap();
    assert_eq!(removed, vec![dir.path().join(".a.bin.ffffffff.wa-part")]);
    assert!(Path::new(&sub.join(".a.bin.00000000.wa-part")).exists());
}
