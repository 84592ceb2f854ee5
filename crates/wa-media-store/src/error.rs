//! [`StoreError`]: what can go wrong between the media API and an object store.

/// A failure of [`crate::fetch_to_store`], [`crate::upload_from_store`] or a store
/// configuration. Whatever failed, no object was created by a failed
/// [`crate::fetch_to_store`] and its multipart upload was aborted (see
/// [`StoreError::AbortFailed`] for the one exception worth an alert).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Retrieving, downloading or verifying the media failed (an API error, a timeout, a body
    /// that did not verify, …); [`wa_media_core::Error::is_retryable`] says whether to try again.
    #[error(transparent)]
    Media(#[from] wa_media_core::Error),
    /// The object store refused or failed an operation.
    #[error("object store: {operation} {location} failed: {source}")]
    Store {
        /// What was attempted (`create multipart upload`, `upload part`, `complete`, `head`, …).
        operation: &'static str,
        /// The object's path in the store.
        location: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// The operation failed (`cause`), and aborting its multipart upload failed as well: an
    /// incomplete upload may be left in the bucket until a lifecycle rule removes it (see
    /// docs/object-store.md). No object was created.
    #[error("{cause}; aborting the multipart upload of {location} failed as well ({abort}): an incomplete upload may remain until the bucket's lifecycle rule removes it")]
    AbortFailed {
        /// The object's path in the store.
        location: String,
        /// Why the upload was being aborted.
        #[source]
        cause: Box<StoreError>,
        /// Why the abort failed.
        abort: object_store::Error,
    },
    /// A store URL or option could not be used.
    #[error("object store configuration: {0}")]
    Config(String),
}

impl StoreError {
    pub(crate) fn store(
        operation: &'static str,
        location: &object_store::path::Path,
        source: object_store::Error,
    ) -> Self {
        StoreError::Store {
            operation,
            location: location.to_string(),
            source,
        }
    }

    /// Whether trying the same operation again may succeed: a retryable media error, or a
    /// store failure other than a refusal (not found, precondition, not implemented, bad path).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Media(e) => e.is_retryable(),
            StoreError::Store { source, .. } => !matches!(
                source,
                object_store::Error::NotImplemented { .. }
                    | object_store::Error::NotSupported { .. }
                    | object_store::Error::InvalidPath { .. }
                    | object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
                    | object_store::Error::UnknownConfigurationKey { .. }
            ),
            StoreError::AbortFailed { cause, .. } => cause.is_retryable(),
            StoreError::Config(_) => false,
        }
    }
}

/// A media error stays what it was (so a webhook's `Ingest` classifies it as it would for a
/// file); a store failure becomes [`wa_media_core::Error::Io`], which `Ingest` retries.
impl From<StoreError> for wa_media_core::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Media(m) => m,
            StoreError::AbortFailed {
                cause,
                abort,
                location,
            } if matches!(*cause, StoreError::Media(_)) => {
                tracing::warn!(%location, error = %abort, "aborting a multipart upload failed");
                wa_media_core::Error::from(*cause)
            }
            other => wa_media_core::Error::Io {
                path: None,
                source: std::io::Error::other(other),
            },
        }
    }
}
