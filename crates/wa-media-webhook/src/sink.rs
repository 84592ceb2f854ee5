//! Where verified media end up: the [`Sink`] trait and its contract, [`SinkError`] (what a
//! failure means for another attempt, and its cause), [`Saved`], and [`filing_name`], the
//! layout every sink shares. [`crate::DirectorySink`] is the default sink.

use std::sync::Arc;
use std::time::Duration;

use wa_media_core::{MediaApi, Retry, Retryable};
use wa_media_types::filename::inbound_file_name;
use wa_media_types::Sha256Digest;

use crate::entry::SpoolEntry;
use crate::time::civil_date;

/// A media saved by a [`Sink`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Saved {
    /// Where it is (a path, an object key, …).
    pub location: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// Its verified SHA-256.
    pub sha256: Sha256Digest,
    /// The same media was already there: nothing new was written.
    pub already_present: bool,
}

impl Saved {
    /// A saved media, for [`Sink`] implementations outside this crate.
    pub fn new(
        location: impl Into<String>,
        file_size: u64,
        sha256: Sha256Digest,
        already_present: bool,
    ) -> Self {
        Self {
            location: location.into(),
            file_size,
            sha256,
            already_present,
        }
    }
}

/// Where a sink files `entry`: the UTC day (`YYYY-MM-DD`, of the message's timestamp, else of
/// its arrival) and the name (the document's cleaned filename, or the message id with the MIME
/// type's extension). A name taken by another media becomes
/// [`wa_media_types::filename::numbered`]'s `stem-1.ext`, `stem-2.ext`, … in every sink.
pub fn filing_name(entry: &SpoolEntry) -> (String, String) {
    let day = civil_date(entry.timestamp.unwrap_or(entry.received_at));
    let name = inbound_file_name(
        &entry.message_id,
        &entry.mime_type,
        entry.filename.as_deref(),
    );
    (day, name)
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a [`Sink`] could not save a media: what it means for another attempt (a [`Retry`]
/// class, the workspace's one retry vocabulary) and the cause. Its Display is the cause's, its
/// `source()` the cause's own source: log the chain ([`wa_media_core::error_chain`]).
///
/// [`crate::Ingest`] acts on the class: [`Retry::Never`] goes to `failed/` at once, with the
/// cause as the reason; [`Retry::Later`] and [`Retry::Restart`] are retried with backoff for
/// `max_attempts`; [`Retry::Resources`] (a full disk) is retried without counting attempts.
#[derive(Debug)]
pub struct SinkError {
    retry: Retry,
    retry_after: Option<Duration>,
    cause: BoxError,
}

impl SinkError {
    /// A failure of class `retry` caused by `cause`.
    pub fn new(retry: Retry, cause: impl Into<BoxError>) -> Self {
        Self {
            retry,
            retry_after: None,
            cause: cause.into(),
        }
    }

    /// A failure no attempt will fix (access denied, invalid credentials, an operation the
    /// storage does not support, a digest that disagrees): to `failed/` at once.
    pub fn permanent(cause: impl Into<BoxError>) -> Self {
        Self::new(Retry::Never, cause)
    }

    /// A failure that may pass (the storage unreachable, a timeout, a 5xx).
    pub fn later(cause: impl Into<BoxError>) -> Self {
        Self::new(Retry::Later, cause)
    }

    /// A failure that says its own class (a media error, a store error).
    pub fn of<E: Retryable + Send + Sync + 'static>(e: E) -> Self {
        Self {
            retry: e.retry(),
            retry_after: e.retry_after(),
            cause: Box::new(e),
        }
    }

    /// The cause.
    pub fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.cause.as_ref()
    }
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.cause.fmt(f)
    }
}

impl std::error::Error for SinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.source()
    }
}

impl Retryable for SinkError {
    fn retry(&self) -> Retry {
        self.retry
    }

    fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl From<wa_media_core::Error> for SinkError {
    fn from(e: wa_media_core::Error) -> Self {
        Self::of(e)
    }
}

/// Fetches one spooled media and stores it, verified. Implement it for your own storage; the
/// [`crate::Ingest`] workers call it, retry what may pass and record what never will.
///
/// # The contract
///
/// Each rule is checked by the sink conformance suite (`wa_media_testkit::sink_conformance`),
/// which every sink of the workspace runs; run it on yours.
///
/// 1. **Verified**: what is stored is the media whose digest the API announces, checked against
///    the webhook's digest when the entry has one ([`SpoolEntry::expected_sha256`]); a media
///    whose bytes do not match is never stored, and the failure is [`Retry::Never`] when the
///    digests disagree.
/// 2. **Whole or nothing**: a failed or cancelled save leaves nothing where media are found (a
///    partial file or object never appears under its name).
/// 3. **Idempotent**: the same entry saved again (a redelivery, a retry after a crash between
///    the save and the spool's record of it) is recognised ([`Saved::already_present`], the
///    same location), never stored twice, and recorded once.
/// 4. **Never replaces another media**: a name taken by a different media gets the next
///    [`wa_media_types::filename::numbered`] name.
/// 5. **Honest failures**: the [`SinkError`]'s class says what another attempt may do — a
///    refusal that will not change by itself (access denied, invalid credentials, not
///    implemented) is [`Retry::Never`]; a failure that may pass is not.
/// 6. **Cancel-safe**: [`Sink::save`] is called as a plain `async fn` on the runtime and its
///    future may be dropped at any await point (a shutdown's grace period ends); a sink doing
///    blocking work (file writes, fsyncs) moves it off the runtime itself (as
///    [`crate::DirectorySink`] does), and clean-up it starts in the background is awaited in
///    [`Sink::settle`].
/// 7. **One record per media**: a [`crate::SavedRecord`] per saved media, where the sink keeps
///    them (`index.jsonl`, a metadata object).
#[async_trait::async_trait]
pub trait Sink: Send + Sync + std::fmt::Debug + 'static {
    /// Fetches `entry` through `api` (with its expected digest) and stores it.
    async fn save(&self, api: Arc<dyn MediaApi>, entry: &SpoolEntry) -> Result<Saved, SinkError>;

    /// Waits, at most `within`, for the clean-up that saves cut off at shutdown started in the
    /// background when their futures were dropped (an object store sink's multipart aborts, a
    /// file sink's blocking tasks removing their temporary files); whether it all finished.
    /// [`crate::Ingest::shutdown`] calls it after cutting off the saves still running, so the
    /// process does not stop (and drop those tasks with its runtime) first. The default has
    /// nothing to wait for.
    async fn settle(&self, within: Duration) -> bool {
        let _ = within;
        true
    }

    /// Keeps a record that is not a saved media: a `failed` [`crate::SavedRecord`] of a
    /// message Meta could not take ([`crate::Ingest::record_failures`]), once per
    /// [`crate::SavedRecord::key`], durably before it returns (the service answers Meta only
    /// then). [`crate::DirectorySink`] appends it to `index.jsonl`. The default keeps nothing
    /// (a sink with no place for it): the failure is still logged and sent as an event.
    async fn record(&self, record: &crate::SavedRecord) -> Result<(), SinkError> {
        let _ = record;
        Ok(())
    }

    /// How a [`Saved::location`] of this sink is named to others (the forwarded notification's
    /// `wa_media` object): by default an object key, the location as it is. A sink of files
    /// answers [`Location::Path`] relative to its directory.
    fn locate(&self, location: &str) -> Location {
        Location::Key(location.to_owned())
    }
}

/// Where a saved media is, as a forwarded notification names it ([`Sink::locate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// A file path relative to the sink's directory (`wa_media.path`).
    Path(String),
    /// An object key (`wa_media.key`).
    Key(String),
}
