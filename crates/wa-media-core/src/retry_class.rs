//! The retry vocabulary: [`Retry`], what a failure means for another attempt, and
//! [`Retryable`], the trait every error type of the workspace implements. It depends on no
//! error type (core's `Error` implements it in `error.rs`), so the loops that act on it
//! (`retry.rs`) and the errors that answer it never import each other in a circle.

use std::time::Duration;

/// What a failure means for another attempt: the one retry vocabulary of the workspace.
///
/// Every error type of the crates answers it ([`Retryable`]): [`crate::Error`], the store's,
/// a webhook sink's. Each layer then acts on it with its own budget, never with a second
/// classification:
/// - a request inside one client call is sent again on [`Retry::Later`] (with
///   [`RetryPolicy`]);
/// - a transfer (`fetch_to_file`, `fetch_to_store`) starts again on [`Retry::Restart`]
///   ([`restarting`]);
/// - the webhook service's workers retry [`Retry::Later`] and [`Retry::Restart`] for
///   `max_attempts`, [`Retry::Resources`] without counting attempts, and move [`Retry::Never`]
///   to `failed/` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Retry {
    /// No attempt will succeed: refused (a 4xx that is not a rate limit, access denied,
    /// invalid credentials), invalid, untrusted, a digest that disagrees, a message that may
    /// have been sent already.
    Never,
    /// The transfer broke mid-body (a reset, an idle timeout): start it again from the
    /// beginning, with a fresh URL.
    Restart,
    /// May succeed later: a rate limit, a 5xx, a network failure, a timeout, a body that did
    /// not verify, an expired URL, a local I/O error other than a refusal.
    Later,
    /// This machine ran out of something (disk space, a quota): may succeed once it is freed.
    /// Not the media's fault.
    Resources,
}

impl Retry {
    /// The class of a local I/O error: out of space or quota is [`Retry::Resources`]; a
    /// refusal that will not change by itself (permission denied, invalid input or data, a
    /// read-only file system, a directory where a file was expected) is [`Retry::Never`];
    /// anything else [`Retry::Later`] — a file or directory not found included (another
    /// process may have moved it a moment ago).
    pub fn of_io(e: &std::io::Error) -> Retry {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::StorageFull | K::QuotaExceeded => Retry::Resources,
            K::PermissionDenied
            | K::InvalidInput
            | K::InvalidData
            | K::ReadOnlyFilesystem
            | K::IsADirectory
            | K::NotADirectory
            | K::InvalidFilename
            | K::Unsupported => Retry::Never,
            _ => Retry::Later,
        }
    }

    /// Whether another attempt may succeed at all (anything but [`Retry::Never`]).
    pub fn may_succeed(self) -> bool {
        self != Retry::Never
    }
}

/// An error that says what it means for another attempt (see [`Retry`]).
pub trait Retryable: std::error::Error {
    /// What another attempt may do.
    fn retry(&self) -> Retry;

    /// How long the other side asked to wait (`Retry-After`), when it did.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}
