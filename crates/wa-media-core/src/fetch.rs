//! Fetch by id: a fresh URL right before downloading, one refresh on an expired URL, and the
//! atomic write to a file (see [`crate::temp_file`]: temporary file, fsync, then rename or
//! link; removed on failure or drop).

use std::path::Path;

use futures_util::StreamExt;
use tracing::Instrument;
use wa_media_types::{MediaId, MediaUrlResponse, StreamingDigest};

use crate::api::{expected_of, Existing, FetchOptions, FetchedFile, MediaApi};
use crate::download::Download;
use crate::error::{Error, IntegrityError};
use crate::retry::RetryState;
use crate::temp_file::{check_destination, TempFile};
use crate::timeouts::TimeoutKind;
use crate::transport::TransportErrorKind;

/// Retrieve + download with one refresh on an expired URL; the download verifies.
pub(crate) async fn fetch_download<A: MediaApi + ?Sized>(
    api: &A,
    id: &MediaId,
    options: &FetchOptions,
) -> Result<(MediaUrlResponse, Download), Error> {
    let mut refreshed = false;
    loop {
        let info = api.retrieve(id).await?;
        // A retrieve answer that disagrees with what the caller expects (the webhook's digest)
        // is refused before a byte is downloaded.
        options.check_announced(&info)?;
        match api.download(&info).await {
            Ok(dl) => {
                let mut dl = dl
                    .verify(expected_of(&info))
                    .with_mime_type(info.mime_type.clone());
                if let Some(p) = &options.progress {
                    dl = dl.with_progress(p.clone());
                }
                return Ok((info, dl));
            }
            Err(Error::UrlExpired { status }) if !refreshed => {
                tracing::info!(%status, "download URL refused as expired; retrieving a fresh one");
                refreshed = true;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether an error broke a transfer mid-body in a way a fresh attempt may fix.
fn restartable(e: &Error) -> bool {
    match e {
        Error::Transport(t) => t.kind() == TransportErrorKind::Interrupted,
        Error::Timeout { kind, .. } => *kind == TimeoutKind::Idle,
        _ => false,
    }
}

pub(crate) async fn fetch_to_file<A: MediaApi + ?Sized>(
    api: &A,
    id: &MediaId,
    path: &Path,
    options: &FetchOptions,
) -> Result<FetchedFile, Error> {
    let span = tracing::info_span!("wa_media.fetch_to_file", media_id = %id, attempt = tracing::field::Empty, bytes = tracing::field::Empty);
    async {
        let started = std::time::Instant::now();
        let policy = api.retry_policy();
        let mut state = RetryState::new(&policy);
        loop {
            let attempt = state.begin();
            tracing::Span::current().record("attempt", attempt);
            match fetch_once(api, id, path, options).await {
                Ok(f) => {
                    tracing::Span::current().record("bytes", f.file_size);
                    tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, size = f.file_size, "media saved");
                    return Ok(f);
                }
                Err((e, true)) if restartable(&e) => match state.next_delay(None) {
                    Some(d) => {
                        tracing::warn!(error = %e, delay_ms = d.as_millis() as u64, "transfer broke mid-body; restarting with a fresh URL");
                        api.sleep(d).await;
                    }
                    None => return Err(e),
                },
                Err((e, _)) => return Err(e),
            }
        }
    }
    .instrument(span)
    .await
}

/// One attempt. The flag says whether the error happened mid-body.
async fn fetch_once<A: MediaApi + ?Sized>(
    api: &A,
    id: &MediaId,
    path: &Path,
    options: &FetchOptions,
) -> Result<FetchedFile, (Error, bool)> {
    // Refused before anything is downloaded (and checked again right before the rename).
    check_destination(path).map_err(|e| (e, false))?;
    let mut temp = TempFile::create(path).map_err(|e| (e, false))?;
    let (info, mut dl) = fetch_download(api, id, options)
        .await
        .map_err(|e| (e, false))?;
    // The stream checks size and SHA-256 as it goes and ends with an error on any mismatch.
    // When it verifies against exactly what `info` announced, hashing the same bytes a second
    // time here only halved download throughput (docs/performance.md); the bytes written are
    // still counted independently. A download verified against anything else (a custom
    // `MediaApi`) gets a second, independent digest.
    let verified = dl.verified_against() == Some(expected_of(&info));
    let mut written = StreamingDigest::new();
    let mut file_size = 0u64;
    while let Some(chunk) = dl.next().await {
        let chunk = chunk.map_err(|e| (e, true))?;
        temp.write(&chunk).map_err(|e| (e, false))?;
        file_size += chunk.len() as u64;
        if !verified {
            written.update(&chunk);
        }
    }
    let sha256 = if verified {
        info.sha256
    } else {
        written.finish()
    };
    // Only reachable with a Download that did not verify, or an expectation the retrieve
    // answer was not checked against; the file must never be put in place unverified.
    check_final(&info, options, file_size, sha256).map_err(|e| (e, false))?;
    let placed = match options.existing {
        Existing::KeepBoth => temp
            .persist_new(path, file_size, sha256)
            .map_err(|e| (e, false))?,
        _ => {
            temp.persist(path).map_err(|e| (e, false))?;
            crate::temp_file::Placed {
                path: path.to_owned(),
                already_present: false,
            }
        }
    };
    Ok(FetchedFile {
        path: placed.path,
        mime_type: info.mime_type,
        file_size,
        sha256,
        already_present: placed.already_present,
    })
}

/// The bytes written agree with the retrieve answer and with the caller's expectations.
fn check_final(
    info: &MediaUrlResponse,
    options: &FetchOptions,
    file_size: u64,
    sha256: wa_media_types::Sha256Digest,
) -> Result<(), Error> {
    let want_size = options.expected_size.unwrap_or(info.file_size);
    if file_size != info.file_size || file_size != want_size {
        return Err(IntegrityError::Size {
            expected: want_size,
            actual: file_size,
        }
        .into());
    }
    let want_sha = options.expected_sha256.unwrap_or(info.sha256);
    for expected in [info.sha256, want_sha] {
        if sha256 != expected {
            return Err(IntegrityError::Digest {
                expected,
                actual: sha256,
            }
            .into());
        }
    }
    Ok(())
}
