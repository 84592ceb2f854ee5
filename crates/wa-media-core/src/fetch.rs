//! Fetch by id ([`MediaApiExt`], provided for every [`MediaApi`]): a fresh URL right before
//! downloading, one refresh on an expired URL, and the atomic write to a file (see
//! [`crate::temp_file`]: temporary file, fsync, then rename or link; removed on failure or
//! drop), restarted under [`FetchOptions::restart`] when a transfer breaks mid-body.

use std::path::Path;

use futures_util::StreamExt;
use tracing::Instrument;
use wa_media_types::{MediaId, MediaUrlResponse};

use crate::api::MediaApi;
use crate::download::{Download, Expected};
use crate::error::Error;
use crate::fetch_options::{Existing, FetchOptions, FetchedFile};
use crate::retry;
use crate::temp_file::{check_destination, TempFile};

/// Fetch by id, provided for every [`MediaApi`].
#[async_trait::async_trait]
pub trait MediaApiExt: MediaApi {
    /// Retrieves a fresh URL and downloads it at once, verifying size and SHA-256 while
    /// streaming; if the download host refuses the URL as expired (401/403/404/410) it
    /// retrieves once more and retries. See [`Download`] for what a failed verification looks
    /// like mid-stream.
    async fn fetch(&self, id: &MediaId) -> Result<Download, Error> {
        self.fetch_with(id, FetchOptions::default()).await
    }

    /// [`MediaApiExt::fetch`] with options (progress, expected digest and size).
    async fn fetch_with(&self, id: &MediaId, options: FetchOptions) -> Result<Download, Error> {
        let (_, dl) = self.fetch_with_info(id, &options).await?;
        Ok(dl)
    }

    /// [`MediaApiExt::fetch_with`] that also returns the retrieve answer the download was
    /// made from, for a caller that writes the bytes somewhere of its own (an object store,
    /// say) and needs the MIME type, size and SHA-256 before the first chunk.
    ///
    /// The same steps as [`MediaApiExt::fetch_with`]: a fresh URL, the answer checked against
    /// [`FetchOptions::expected_sha256`] and [`FetchOptions::expected_size`] before anything
    /// is downloaded ([`crate::Error::Integrity`] when it disagrees), one more retrieve when
    /// the download host refuses the URL as expired, and a [`Download`] that verifies size and
    /// SHA-256 against the returned answer while streaming (progress from
    /// [`FetchOptions::progress`]). The returned answer's URL is the signed, short-lived one
    /// that was downloaded (its `Debug` and `Display` hide the signature).
    /// [`FetchOptions::existing`] and [`FetchOptions::restart`] do not apply: a transfer
    /// broken mid-body is the caller's to start again, with a new call.
    async fn fetch_with_info(
        &self,
        id: &MediaId,
        options: &FetchOptions,
    ) -> Result<(MediaUrlResponse, Download), Error> {
        fetch_download(self, id, options).await
    }

    /// Fetches into `path` atomically: the bytes go to a temporary file
    /// (`.NAME.XXXXXXXX.wa-part`) in the same directory, which is synced and put in place
    /// only after size and SHA-256 verified (against the retrieve answer and against
    /// [`FetchOptions::expected_sha256`] when given). On any failure the temporary file is
    /// removed and `path` is exactly as it was, including an existing file of that name. A
    /// transfer broken mid-body (connection reset, idle timeout) is restarted from a fresh
    /// URL under [`FetchOptions::restart`]. `path` is never replaced when it is not a regular
    /// file (a device, FIFO, socket or directory): that is refused before downloading.
    ///
    /// # Cancellation and crashes
    ///
    /// Dropping this future removes the temporary file: to stop a fetch cleanly, drop it (for
    /// example by racing it against a shutdown signal in `tokio::select!`), then let the
    /// process exit normally. A process that is killed or exits without unwinding (SIGKILL,
    /// power loss, a signal with no handler, `std::process::exit`) cannot run that cleanup and
    /// may leave a hidden `.NAME.XXXXXXXX.wa-part` file beside the destination; never a
    /// partial file at `path` itself. [`crate::clean_partial_files`] removes stale ones.
    async fn fetch_to_file(
        &self,
        id: &MediaId,
        path: impl AsRef<Path> + Send,
    ) -> Result<FetchedFile, Error> {
        self.fetch_to_file_with(id, path, FetchOptions::default())
            .await
    }

    /// [`MediaApiExt::fetch_to_file`] with options (progress, expected digest, what to do
    /// when the destination exists).
    async fn fetch_to_file_with(
        &self,
        id: &MediaId,
        path: impl AsRef<Path> + Send,
        options: FetchOptions,
    ) -> Result<FetchedFile, Error> {
        fetch_to_file(self, id, path.as_ref(), &options).await
    }
}

impl<A: MediaApi + ?Sized> MediaApiExt for A {}

/// Retrieve + download with one refresh on an expired URL; the download verifies.
async fn fetch_download<A: MediaApi + ?Sized>(
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
                // Verifies against the retrieve answer, whatever the download verified before.
                let mut dl = dl
                    .verify(Expected::of(&info))
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

async fn fetch_to_file<A: MediaApi + ?Sized>(
    api: &A,
    id: &MediaId,
    path: &Path,
    options: &FetchOptions,
) -> Result<FetchedFile, Error> {
    let span = tracing::info_span!("wa_media.fetch_to_file", media_id = %id, attempt = tracing::field::Empty, bytes = tracing::field::Empty);
    async {
        let started = std::time::Instant::now();
        // A transfer broken mid-body starts again (the one restart loop, core's retry.rs).
        let mut first = true;
        let f = retry::restarting(&options.restart, &*options.timer, |_| {
            // A restart takes a fresh URL: the webhook's is tried on the first attempt only.
            let try_url = std::mem::take(&mut first);
            fetch_once(api, id, path, options, try_url)
        })
        .await?;
        tracing::Span::current().record("bytes", f.file_size);
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            size = f.file_size,
            "media saved"
        );
        Ok(f)
    }
    .instrument(span)
    .await
}

/// One attempt: from the webhook's URL first when `try_url` and the options have one (see
/// [`FetchOptions::url`]), else (or when that fails) by id.
async fn fetch_once<A: MediaApi + ?Sized>(
    api: &A,
    id: &MediaId,
    path: &Path,
    options: &FetchOptions,
    try_url: bool,
) -> Result<FetchedFile, Error> {
    // Refused before anything is downloaded (and checked again right before the rename).
    check_destination(path)?;
    // The temporary file exists from before the first request (a refused destination costs no
    // request); each source writes into a fresh one.
    let temp = TempFile::create(path)?;
    let temp = match (try_url, &options.url, options.expected_sha256) {
        (true, Some(url), Some(sha256)) => {
            let from_url = async {
                let dl = api.download_url(url, sha256, options.expected_size).await?;
                let mime = dl
                    .mime_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                write_verified(temp, path, dl, sha256, mime, options).await
            };
            match from_url.await {
                Ok(f) => {
                    tracing::info!(media_id = %id, "downloaded from the webhook's media url");
                    return Ok(f);
                }
                // Only a local failure (the destination, the disk) is the fetch's own; anything
                // the URL did goes on by id.
                Err(e @ Error::Io { .. }) => return Err(e),
                Err(e) => {
                    tracing::info!(media_id = %id, url = %url, error = %crate::error_chain(&e), "the webhook's media url failed; retrieving the media by id");
                }
            }
            // The first temporary file went with the failed attempt.
            TempFile::create(path)?
        }
        _ => temp,
    };
    let (info, dl) = fetch_download(api, id, options).await?;
    // Verified against the retrieve answer, which agreed with the caller's expectations.
    write_verified(temp, path, dl, info.sha256, info.mime_type, options).await
}

/// Writes a verifying download to a temporary file beside `path` and puts it in place once
/// the stream ended verified (the stream checks size and SHA-256 and ends with an error on any
/// mismatch: here the bytes are only written and counted).
async fn write_verified(
    mut temp: TempFile,
    path: &Path,
    mut dl: Download,
    sha256: wa_media_types::Sha256Digest,
    mime_type: String,
    options: &FetchOptions,
) -> Result<FetchedFile, Error> {
    if let Some(p) = &options.progress {
        dl = dl.with_progress(p.clone());
    }
    // Large files are written on a thread of their own while this task hashes the next chunk.
    if dl.content_length().unwrap_or(0) >= crate::temp_file::THREADED_WRITE_MIN {
        temp.write_on_thread();
    }
    let mut file_size = 0u64;
    while let Some(chunk) = dl.next().await {
        let chunk = chunk?;
        file_size += chunk.len() as u64;
        temp.write_bytes(chunk)?;
    }
    let placed = match options.existing {
        Existing::KeepBoth => temp.persist_new(path, file_size, sha256)?,
        _ => {
            temp.persist(path)?;
            crate::temp_file::Placed {
                path: path.to_owned(),
                already_present: false,
            }
        }
    };
    Ok(FetchedFile {
        path: placed.path,
        mime_type,
        file_size,
        sha256,
        already_present: placed.already_present,
    })
}
