//! What a fetch is asked to do ([`FetchOptions`], [`Existing`]) and what it did
//! ([`FetchedFile`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use wa_media_types::{MediaUrl, MediaUrlResponse, Sha256Digest};

use crate::error::{Error, IntegrityError};
use crate::progress::Progress;
use crate::retry::RetryPolicy;
use crate::timer::{FuturesTimer, Timer};

/// Options for [`crate::MediaApiExt::fetch_with`], [`crate::MediaApiExt::fetch_with_info`] and
/// [`crate::MediaApiExt::fetch_to_file_with`].
///
/// ```
/// use wa_media_core::{Existing, FetchOptions};
/// use wa_media_types::Sha256Digest;
/// // The digest and size a webhook announced: checked against the retrieve answer before
/// // anything is downloaded, and against the bytes before the file is put in place.
/// let from_webhook = Sha256Digest::of(b"hello");
/// let options = FetchOptions::default()
///     .expect_sha256(from_webhook)
///     .expect_size(5)
///     .existing(Existing::KeepBoth);
/// # drop(options);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct FetchOptions {
    /// Receives `(bytes so far, total)` as the body arrives (restarts from 0 on a restart).
    pub progress: Option<Arc<dyn Progress>>,
    /// A SHA-256 the media must have besides the one the retrieve answer announces (a
    /// webhook's `sha256`, say). A retrieve answer that disagrees is refused before anything
    /// is downloaded, with [`crate::Error::Integrity`].
    pub expected_sha256: Option<Sha256Digest>,
    /// A size in bytes the media must have besides the announced `file_size`.
    pub expected_size: Option<u64>,
    /// What [`crate::MediaApiExt::fetch_to_file_with`] does when the destination exists.
    pub existing: Existing,
    /// How [`crate::MediaApiExt::fetch_to_file_with`] restarts a transfer that broke mid-body
    /// (connection reset, idle timeout), each time from a fresh URL. Default
    /// [`RetryPolicy::default`]; [`RetryPolicy::none`] never restarts.
    pub restart: RetryPolicy,
    /// The timer for the waits between restarts (default [`FuturesTimer`]).
    pub timer: Arc<dyn Timer>,
    /// A download URL to try before retrieving one: the `url` of a webhook's media object
    /// (Graph v24.0 and later). Used by [`crate::MediaApiExt::fetch_to_file_with`] on its
    /// first attempt, and only with [`FetchOptions::expected_sha256`] set (the webhook's
    /// `sha256`: what that download is verified against, with
    /// [`FetchOptions::expected_size`] when given). When it fails in any way but a local one
    /// (expired or refused, an untrusted host, a network failure, bytes that do not verify),
    /// the fetch goes on by id: retrieve, then download, as without it.
    pub url: Option<MediaUrl>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            progress: None,
            expected_sha256: None,
            expected_size: None,
            existing: Existing::default(),
            restart: RetryPolicy::default(),
            timer: Arc::new(FuturesTimer),
            url: None,
        }
    }
}

impl fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchOptions")
            .field("progress", &self.progress.is_some())
            .field("expected_sha256", &self.expected_sha256)
            .field("expected_size", &self.expected_size)
            .field("existing", &self.existing)
            .field("restart", &self.restart)
            .field("timer", &self.timer)
            .field("url", &self.url)
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

    /// How a transfer broken mid-body is restarted (see [`FetchOptions::restart`]).
    pub fn restart(mut self, policy: RetryPolicy) -> Self {
        self.restart = policy;
        self
    }

    /// The timer for the waits between restarts; pass your runtime's.
    pub fn timer(mut self, timer: impl Timer) -> Self {
        self.timer = Arc::new(timer);
        self
    }

    /// Tries `url` (a webhook's media `url`) before retrieving one (see [`FetchOptions::url`]).
    pub fn try_url(mut self, url: MediaUrl) -> Self {
        self.url = Some(url);
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

/// What [`crate::MediaApiExt::fetch_to_file_with`] does when something already exists at the
/// destination. Whatever the choice, a file is only ever put in place after it verified, and
/// something that is not a regular file (a device, FIFO, socket or directory) is never
/// replaced: the fetch fails with [`crate::Error::Io`] before downloading.
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

/// A verified file written by [`crate::MediaApiExt::fetch_to_file`].
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
