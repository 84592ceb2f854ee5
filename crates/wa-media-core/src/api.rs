//! The application-facing traits: [`MediaApi`] (the four operations) and [`MediaApiExt`]
//! (fetch by id with verification, and atomic fetch to a file), provided for every `MediaApi`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wa_media_types::{MediaId, MediaUrlResponse, Sha256Digest};

use crate::download::{Download, Expected};
use crate::error::Error;
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
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct FetchOptions {
    /// Receives `(bytes so far, total)` as the body arrives (restarts from 0 on a restart).
    pub progress: Option<Arc<dyn Progress>>,
}

impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchOptions")
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl FetchOptions {
    /// Options with a progress reporter.
    pub fn with_progress(mut self, progress: impl Progress + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }
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

    /// Fetches into `path` atomically: the bytes go to a temporary file in the same directory,
    /// which is synced and renamed into place only after size and SHA-256 verified. On any
    /// failure — and if this future is dropped — the temporary file is removed and `path` is
    /// untouched. A transfer broken mid-body (connection reset, idle timeout) is restarted
    /// from a fresh URL under [`MediaApi::retry_policy`].
    async fn fetch_to_file(&self, id: &MediaId, path: &Path) -> Result<FetchedFile, Error> {
        self.fetch_to_file_with(id, path, FetchOptions::default())
            .await
    }

    /// [`MediaApiExt::fetch_to_file`] with options (progress).
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
