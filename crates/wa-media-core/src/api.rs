//! The application-facing traits: [`MediaApi`] (the four operations) and [`MediaApiExt`]
//! (fetch by id with verification, and atomic fetch to a file), provided for every `MediaApi`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wa_media_types::{MediaId, MediaUrlResponse, Sha256Digest};

use crate::download::{Download, Expected};
use crate::error::{Error, IntegrityError};
use crate::progress::Progress;
use crate::retry::RetryPolicy;
use crate::transport::BoxFuture;
use crate::upload::Upload;

/// The WhatsApp Cloud API media operations. Object-safe: `Arc<dyn MediaApi>` works.
///
/// [`crate::MediaClient`] implements it on any [`crate::Transport`]; the emulator and tests
/// may implement it directly. [`MediaApiExt`] adds `fetch` and `fetch_to_file` to every
/// implementation.
#[async_trait::async_trait]
pub trait MediaApi: Send + Sync {
    /// Uploads media and returns its new id (valid for 30 days).
    async fn upload(&self, upload: Upload) -> Result<MediaId, Error>;

    /// Retrieves a media's short-lived download URL (about 5 minutes), MIME type, size and
    /// SHA-256. Never cache the URL.
    async fn retrieve(&self, id: &MediaId) -> Result<MediaUrlResponse, Error>;

    /// Downloads the media described by a retrieve response, with the token, only from a
    /// trusted host. The stream verifies size and SHA-256 as it goes. A download host refusing
    /// the URL (401/403/404/410) gives [`Error::UrlExpired`]: retrieve again.
    async fn download(&self, media: &MediaUrlResponse) -> Result<Download, Error>;

    /// Deletes media.
    async fn delete(&self, id: &MediaId) -> Result<(), Error>;

    /// The retry policy [`MediaApiExt::fetch_to_file`] uses to restart a transfer that broke
    /// mid-body. Default: never restart.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::none()
    }

    /// Waits `duration` (backoff between restarts). Default: a runtime-independent timer.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(futures_timer::Delay::new(duration))
    }
}

#[async_trait::async_trait]
impl<A: MediaApi + ?Sized> MediaApi for Arc<A> {
    async fn upload(&self, upload: Upload) -> Result<MediaId, Error> {
        (**self).upload(upload).await
    }
    async fn retrieve(&self, id: &MediaId) -> Result<MediaUrlResponse, Error> {
        (**self).retrieve(id).await
    }
    async fn download(&self, media: &MediaUrlResponse) -> Result<Download, Error> {
        (**self).download(media).await
    }
    async fn delete(&self, id: &MediaId) -> Result<(), Error> {
        (**self).delete(id).await
    }
    fn retry_policy(&self) -> RetryPolicy {
        (**self).retry_policy()
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        (**self).sleep(duration)
    }
}

/// Options for [`MediaApiExt::fetch_with`] and [`MediaApiExt::fetch_to_file_with`].
///
/// ```
/// use wa_media_core::{Existing, FetchOptions};
/// use wa_media_core::types::Sha256Digest;
/// // The digest and size a webhook announced: checked against the retrieve answer before
/// // anything is downloaded, and against the bytes before the file is put in place.
/// let from_webhook = Sha256Digest::of(b"hello");
/// let options = FetchOptions::default()
///     .expect_sha256(from_webhook)
///     .expect_size(5)
///     .existing(Existing::KeepBoth);
/// # drop(options);
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct FetchOptions {
    /// Receives `(bytes so far, total)` as the body arrives (restarts from 0 on a restart).
    pub progress: Option<Arc<dyn Progress>>,
    /// A SHA-256 the media must have besides the one the retrieve answer announces (a
    /// webhook's `sha256`, say). A retrieve answer that disagrees is refused before anything
    /// is downloaded, with [`Error::Integrity`].
    pub expected_sha256: Option<Sha256Digest>,
    /// A size in bytes the media must have besides the announced `file_size`.
    pub expected_size: Option<u64>,
    /// What [`MediaApiExt::fetch_to_file_with`] does when the destination exists.
    pub existing: Existing,
}

impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchOptions")
            .field("progress", &self.progress.is_some())
            .field("expected_sha256", &self.expected_sha256)
            .field("expected_size", &self.expected_size)
            .field("existing", &self.existing)
            .finish()
    }
}

impl FetchOptions {
    /// Options with a progress reporter.
    pub fn with_progress(mut self, progress: impl Progress + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// The media must have this SHA-256 (for example the `sha256` of the webhook that
    /// announced it), in addition to matching the retrieve answer.
    pub fn expect_sha256(mut self, sha256: Sha256Digest) -> Self {
        self.expected_sha256 = Some(sha256);
        self
    }

    /// The media must have this size in bytes, in addition to matching the retrieve answer.
    pub fn expect_size(mut self, size: u64) -> Self {
        self.expected_size = Some(size);
        self
    }

    /// What to do when the destination of `fetch_to_file` exists (default:
    /// [`Existing::Replace`]).
    pub fn existing(mut self, existing: Existing) -> Self {
        self.existing = existing;
        self
    }

    /// Refuses a retrieve answer that disagrees with the expected digest or size.
    pub(crate) fn check_announced(&self, info: &MediaUrlResponse) -> Result<(), Error> {
        if let Some(expected) = self.expected_sha256 {
            if expected != info.sha256 {
                return Err(IntegrityError::Announced {
                    expected,
                    announced: info.sha256,
                }
                .into());
            }
        }
        if let Some(expected) = self.expected_size {
            if expected != info.file_size {
                return Err(IntegrityError::Size {
                    expected,
                    actual: info.file_size,
                }
                .into());
            }
        }
        Ok(())
    }
}

/// What [`MediaApiExt::fetch_to_file_with`] does when something already exists at the
/// destination. Whatever the choice, a file is only ever put in place after it verified, and
/// something that is not a regular file (a device, FIFO, socket or directory) is never
/// replaced: the fetch fails with [`Error::Io`] before downloading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Existing {
    /// Replace an existing regular file atomically (rename over it). The default.
    #[default]
    Replace,
    /// Never replace anything. When the name holds the same media already (same size and
    /// SHA-256), nothing is written and [`FetchedFile::already_present`] is set. When it holds
    /// something else, the next free name `stem-1.ext`, `stem-2.ext`, … is claimed atomically
    /// (a hard link that fails if the name exists: no check-then-rename race), and
    /// [`FetchedFile::path`] says which name was used.
    KeepBoth,
}

/// A verified file written by [`MediaApiExt::fetch_to_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchedFile {
    /// Where it was written.
    pub path: PathBuf,
    /// The MIME type from the retrieve response (parameters kept).
    pub mime_type: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// Its verified SHA-256.
    pub sha256: Sha256Digest,
    /// Whether the same media (same size and SHA-256) was already at `path`, so nothing was
    /// written ([`Existing::KeepBoth`] only).
    pub already_present: bool,
}

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

    /// [`MediaApiExt::fetch`] with options (progress).
    async fn fetch_with(&self, id: &MediaId, options: FetchOptions) -> Result<Download, Error> {
        let (_, dl) = crate::fetch::fetch_download(self, id, &options).await?;
        Ok(dl)
    }

    /// Fetches into `path` atomically: the bytes go to a temporary file
    /// (`.NAME.XXXXXXXX.wa-part`) in the same directory, which is synced and put in place
    /// only after size and SHA-256 verified (against the retrieve answer and against
    /// [`FetchOptions::expected_sha256`] when given). On any failure the temporary file is
    /// removed and `path` is exactly as it was, including an existing file of that name. A
    /// transfer broken mid-body (connection reset, idle timeout) is restarted from a fresh
    /// URL under [`MediaApi::retry_policy`]. `path` is never replaced when it is not a regular
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
    async fn fetch_to_file(&self, id: &MediaId, path: &Path) -> Result<FetchedFile, Error> {
        self.fetch_to_file_with(id, path, FetchOptions::default())
            .await
    }

    /// [`MediaApiExt::fetch_to_file`] with options (progress, expected digest, what to do
    /// when the destination exists).
    async fn fetch_to_file_with(
        &self,
        id: &MediaId,
        path: &Path,
        options: FetchOptions,
    ) -> Result<FetchedFile, Error> {
        crate::fetch::fetch_to_file(self, id, path, &options).await
    }
}

impl<A: MediaApi + ?Sized> MediaApiExt for A {}

pub(crate) fn expected_of(info: &MediaUrlResponse) -> Expected {
    Expected {
        size: info.file_size,
        sha256: info.sha256,
    }
}
