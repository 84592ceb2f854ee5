//! Fetch by id: a fresh URL right before downloading, one refresh on an expired URL, and the
//! atomic write to a file (temporary file, fsync, rename; removed on failure or drop).
//!
//! File writes use blocking `std::fs` calls of one chunk each inside the async task: core
//! depends on no runtime, and writing a chunk to the page cache takes microseconds. The one
//! slow call, the final `fsync`, happens once per file.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tracing::Instrument;
use wa_media_types::{MediaId, MediaUrlResponse, StreamingDigest};

use crate::api::{expected_of, FetchOptions, FetchedFile, MediaApi};
use crate::download::Download;
use crate::error::{Error, IntegrityError};
use crate::retry::RetryState;
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
    if file_size != info.file_size || sha256 != info.sha256 {
        // Only reachable with a Download that did not verify; `verify` makes that impossible,
        // but the file must never be kept unverified.
        return Err((
            IntegrityError::Digest {
                expected: info.sha256,
                actual: sha256,
            }
            .into(),
            false,
        ));
    }
    temp.persist(path).map_err(|e| (e, false))?;
    Ok(FetchedFile {
        path: path.to_owned(),
        mime_type: info.mime_type,
        file_size,
        sha256,
    })
}

/// A temporary file next to the destination; removed on drop unless persisted.
pub(crate) struct TempFile {
    file: Option<File>,
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// Creates `.<name>.<random>.wa-part` in the destination's directory.
    pub(crate) fn create(dest: &Path) -> Result<Self, Error> {
        let name = dest.file_name().ok_or_else(|| {
            Error::io(
                Some(dest.to_owned()),
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the destination has no file name",
                ),
            )
        })?;
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut last = None;
        for _ in 0..8 {
            let mut tmp_name = OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".{:08x}.wa-part", fastrand::u32(..)));
            let path = dir.join(tmp_name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(Self {
                        file: Some(file),
                        path,
                        armed: true,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(Error::io(Some(dir), e)),
            }
        }
        Err(Error::io(
            Some(dir),
            last.unwrap_or_else(|| io::Error::other("could not create a temporary file")),
        ))
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Error::io(Some(self.path.clone()), io::Error::other("file closed")))?;
        file.write_all(data)
            .map_err(|e| Error::io(Some(self.path.clone()), e))
    }

    /// Syncs, closes and renames into `dest`; the directory is synced too where supported.
    pub(crate) fn persist(mut self, dest: &Path) -> Result<(), Error> {
        if let Some(file) = self.file.take() {
            file.sync_all()
                .map_err(|e| Error::io(Some(self.path.clone()), e))?;
        }
        std::fs::rename(&self.path, dest).map_err(|e| Error::io(Some(dest.to_owned()), e))?;
        self.armed = false;
        #[cfg(unix)]
        if let Some(dir) = dest.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Best effort: makes the rename durable; failure does not undo a verified file.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Where the temporary file is (tests).
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.file.take();
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_file_is_removed_on_drop_and_kept_on_persist() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let mut t = TempFile::create(&dest).unwrap();
        t.write(b"abc").unwrap();
        let tmp = t.path().to_owned();
        assert!(tmp.exists());
        assert_eq!(tmp.parent(), Some(dir.path()));
        drop(t);
        assert!(!tmp.exists());
        assert!(!dest.exists());

        let mut t = TempFile::create(&dest).unwrap();
        t.write(b"abc").unwrap();
        t.persist(&dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
