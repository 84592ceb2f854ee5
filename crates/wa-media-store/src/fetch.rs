//! [`fetch_to_store`]: a media streamed from the API into an object store's multipart upload,
//! verified, completed only after verification, aborted otherwise.

use std::time::Instant;

use bytes::Bytes;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, MultipartUpload, ObjectStore, PutMultipartOptions,
    PutPayload, UploadPart,
};
use tracing::Instrument;
use wa_media_core::{restarting, Download, FetchOptions, MediaApi, MediaApiExt};
use wa_media_types::{MediaId, MediaUrlResponse, Sha256Digest};

use crate::aborts::{AbortToken, PendingAborts};
use crate::error::StoreError;

/// The smallest part size S3 accepts for every part but the last: 5 MiB.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The default part size: 8 MiB. At most two parts are in memory at once (one being
/// uploaded, one being filled), so a fetch holds about 16 MiB of media at most.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// The object metadata key holding the verified SHA-256 (hex), where the store keeps
/// metadata (S3: `x-amz-meta-sha256`).
pub const META_SHA256: &str = "sha256";
/// The object metadata key holding the media id.
pub const META_MEDIA_ID: &str = "media-id";
/// The object metadata key holding the message id, when given.
pub const META_MESSAGE_ID: &str = "message-id";

/// Options for [`fetch_to_store`].
///
/// ```
/// use wa_media_store::StoreOptions;
/// use wa_media_core::FetchOptions;
/// use wa_media_types::Sha256Digest;
/// let from_webhook = Sha256Digest::of(b"hello");
/// let options = StoreOptions::default()
///     .fetch(FetchOptions::default().expect_sha256(from_webhook).expect_size(5))
///     .message_id("wamid.HBgL");
/// # drop(options);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreOptions {
    /// How to fetch: the digest and size the media must have besides the retrieve answer's (a
    /// webhook's), progress, and the restart policy for a transfer broken mid-body.
    /// [`FetchOptions::existing`] does not apply: a store's object is replaced.
    pub fetch: FetchOptions,
    /// The message id, stored as metadata ([`META_MESSAGE_ID`]).
    pub message_id: Option<String>,
    /// The size of each part but the last (at least [`MIN_PART_SIZE`]).
    pub part_size: usize,
    /// Where the abort spawned by a dropped fetch is counted, so a shutdown can wait for it
    /// ([`StoreOptions::track_aborts`]). `None`: not counted.
    pub aborts: Option<PendingAborts>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            fetch: FetchOptions::default(),
            message_id: None,
            part_size: DEFAULT_PART_SIZE,
            aborts: None,
        }
    }
}

impl StoreOptions {
    /// Sets the fetch options (expected digest and size, progress, restarts).
    pub fn fetch(mut self, fetch: FetchOptions) -> Self {
        self.fetch = fetch;
        self
    }

    /// Sets the message id stored as metadata.
    pub fn message_id(mut self, id: impl Into<String>) -> Self {
        self.message_id = Some(id.into());
        self
    }

    /// Sets the part size (raised to [`MIN_PART_SIZE`] when smaller).
    pub fn part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(MIN_PART_SIZE);
        self
    }

    /// Counts the abort a dropped fetch spawns in `aborts` until it finished, so that the
    /// process can wait for it ([`PendingAborts::wait`]) before its runtime stops.
    pub fn track_aborts(mut self, aborts: &PendingAborts) -> Self {
        self.aborts = Some(aborts.clone());
        self
    }
}

/// An object written by [`fetch_to_store`]: complete and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredObject {
    /// Where it is.
    pub location: Path,
    /// The MIME type from the retrieve answer (the object's content type).
    pub mime_type: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// Its verified SHA-256.
    pub sha256: Sha256Digest,
    /// The store's entity tag, when it gives one.
    pub e_tag: Option<String>,
    /// The store's version, when versioning is on.
    pub version: Option<String>,
    /// Whether the content type and metadata were stored with the object (false for a store
    /// without attributes, such as `LocalFileSystem`).
    pub attributes_stored: bool,
}

/// Retrieves a fresh URL for `id` and streams the media into `location` of `store` through a
/// multipart upload, verifying size and SHA-256 as it goes (against the retrieve answer and
/// against [`FetchOptions::expected_sha256`] / [`FetchOptions::expected_size`], such as a
/// webhook's, which are checked before anything is downloaded).
///
/// # Atomicity
///
/// The upload is **completed only after the whole body verified**, so the object appears
/// whole or not at all (an existing object at `location` is replaced only then). On any
/// failure the multipart upload is aborted before this returns; when the future is dropped
/// first (a timeout, a shutdown), a guard spawns the abort on the current tokio runtime. A task
/// still running when its runtime shuts down is dropped: a process that stops should wait for
/// those aborts first, counted in [`StoreOptions::track_aborts`]'s [`PendingAborts`] (`wa-media
/// serve` does). Only a process killed outright, or one that does not wait, leaves an
/// incomplete upload behind: a lifecycle rule removes those (docs/object-store.md).
///
/// # Memory
///
/// Parts of [`StoreOptions::part_size`] (≥ 5 MiB, S3's minimum for all but the last part):
/// one part is uploaded while the next is being filled, never more than two at once.
///
/// # Metadata
///
/// The content type is the retrieve answer's MIME type; the SHA-256 (hex), the media id and
/// the message id (when given) are stored as metadata ([`META_SHA256`], [`META_MEDIA_ID`],
/// [`META_MESSAGE_ID`]). A store that keeps no attributes (`LocalFileSystem`) stores the
/// bytes alone ([`StoredObject::attributes_stored`] is false).
///
/// A transfer broken mid-body (connection reset, idle timeout) starts again, with a new
/// multipart upload from a fresh URL, under [`FetchOptions::restart`].
pub async fn fetch_to_store<A: MediaApi + ?Sized>(
    api: &A,
    id: &MediaId,
    store: &dyn ObjectStore,
    location: &Path,
    options: StoreOptions,
) -> Result<StoredObject, StoreError> {
    let span = tracing::info_span!("wa_media.fetch_to_store", media_id = %id, %location, attempt = tracing::field::Empty);
    async {
        let started = Instant::now();
        // A transfer broken mid-body starts again, with a new multipart upload from a fresh
        // URL (the one restart loop, wa-media-core's `restarting`).
        let result = restarting(&options.fetch.restart, &*options.fetch.timer, |_| {
            fetch_once(api, id, store, location, &options)
        })
        .await;
        match &result {
            Ok(stored) => tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                size = stored.file_size,
                "media stored"
            ),
            Err(e) => tracing::warn!(error = %e, "fetch to store failed"),
        }
        result
    }
    .instrument(span)
    .await
}

/// The attributes stored with the object.
fn attributes(info: &MediaUrlResponse, id: &MediaId, message_id: Option<&str>) -> Attributes {
    let mut a = Attributes::new();
    a.insert(
        Attribute::ContentType,
        AttributeValue::from(info.mime_type.clone()),
    );
    a.insert(
        Attribute::Metadata(META_SHA256.into()),
        AttributeValue::from(info.sha256.to_hex()),
    );
    a.insert(
        Attribute::Metadata(META_MEDIA_ID.into()),
        AttributeValue::from(id.to_string()),
    );
    if let Some(m) = message_id {
        a.insert(
            Attribute::Metadata(META_MESSAGE_ID.into()),
            AttributeValue::from(m.to_owned()),
        );
    }
    a
}

/// One attempt: one multipart upload, completed or aborted.
async fn fetch_once<A: MediaApi + ?Sized>(
    api: &A,
    id: &MediaId,
    store: &dyn ObjectStore,
    location: &Path,
    options: &StoreOptions,
) -> Result<StoredObject, StoreError> {
    // Core's fetch: the retrieve answer checked against the caller's expectations before
    // anything is downloaded, one refresh on an expired URL, the download verifying.
    let (info, mut dl) = api.fetch_with_info(id, &options.fetch).await?;
    let attrs = attributes(&info, id, options.message_id.as_deref());
    let (upload, attributes_stored) = create_upload(store, location, attrs).await?;
    let mut guard = AbortGuard::new(upload, location.clone(), options.aborts.clone());
    match stream_parts(&mut guard, &mut dl, options.part_size).await {
        Ok(file_size) => {
            // Verified: the stream ended with `None`, not an integrity error.
            let result = match guard.upload_mut().complete().await {
                Ok(r) => r,
                Err(e) => {
                    let cause = StoreError::store("complete multipart upload", location, e);
                    return Err(guard.abort(cause).await);
                }
            };
            guard.disarm();
            Ok(StoredObject {
                location: location.clone(),
                mime_type: info.mime_type,
                file_size,
                sha256: info.sha256,
                e_tag: result.e_tag,
                version: result.version,
                attributes_stored,
            })
        }
        Err(cause) => Err(guard.abort(cause).await),
    }
}

/// Creates the multipart upload, with the attributes when the store keeps them.
async fn create_upload(
    store: &dyn ObjectStore,
    location: &Path,
    attrs: Attributes,
) -> Result<(Box<dyn MultipartUpload>, bool), StoreError> {
    let opts = PutMultipartOptions {
        attributes: attrs,
        ..Default::default()
    };
    match store.put_multipart_opts(location, opts).await {
        Ok(u) => Ok((u, true)),
        Err(object_store::Error::NotImplemented { .. }) => {
            tracing::debug!(store = %store, "the store keeps no attributes; storing the bytes alone");
            let u = store
                .put_multipart_opts(location, PutMultipartOptions::default())
                .await
                .map_err(|e| StoreError::store("create multipart upload", location, e))?;
            Ok((u, false))
        }
        Err(e) => Err(StoreError::store("create multipart upload", location, e)),
    }
}

/// Streams the verified download into parts: each full part is uploaded while the next one
/// fills; the last (possibly short) part is uploaded once the stream ended verified. Returns
/// the size. The caller completes or aborts.
async fn stream_parts(
    guard: &mut AbortGuard,
    dl: &mut Download,
    part_size: usize,
) -> Result<u64, StoreError> {
    let location = guard.location.clone();
    let part_err = |e| StoreError::store("upload part", &location, e);
    let mut filling: Vec<Bytes> = Vec::new();
    let mut filled = 0usize;
    let mut total = 0u64;
    let mut parts = 0u32;
    loop {
        // Poll the part being uploaded while the next one fills.
        let item = match guard.in_flight.as_mut() {
            Some(part) => match select(dl.next(), part).await {
                Either::Left((item, _)) => item,
                Either::Right((done, _)) => {
                    guard.in_flight = None;
                    done.map_err(part_err)?;
                    continue;
                }
            },
            None => dl.next().await,
        };
        match item {
            Some(Ok(chunk)) => {
                filled += chunk.len();
                total += chunk.len() as u64;
                filling.push(chunk);
                if filled >= part_size {
                    // At most two parts in memory: wait for the previous one first.
                    guard.finish_in_flight().await.map_err(part_err)?;
                    let payload: PutPayload = std::mem::take(&mut filling).into_iter().collect();
                    filled = 0;
                    parts += 1;
                    let part = guard.upload_mut().put_part(payload);
                    guard.in_flight = Some(part);
                }
            }
            Some(Err(e)) => return Err(StoreError::Media(e)),
            // The stream ended without an integrity error: size and SHA-256 verified.
            None => break,
        }
    }
    guard.finish_in_flight().await.map_err(part_err)?;
    if filled > 0 || parts == 0 {
        let payload: PutPayload = filling.into_iter().collect();
        let part = guard.upload_mut().put_part(payload);
        guard.in_flight = Some(part);
        guard.finish_in_flight().await.map_err(part_err)?;
    }
    Ok(total)
}

/// Owns a multipart upload until it is completed: aborts it on failure, and on drop (the
/// future was cancelled) spawns the abort on the current tokio runtime, counted in `aborts`
/// until it finished.
struct AbortGuard {
    upload: Option<Box<dyn MultipartUpload>>,
    /// The part being uploaded: dropped (its request cancelled) before any abort.
    in_flight: Option<UploadPart>,
    location: Path,
    aborts: Option<PendingAborts>,
}

impl AbortGuard {
    fn new(
        upload: Box<dyn MultipartUpload>,
        location: Path,
        aborts: Option<PendingAborts>,
    ) -> Self {
        Self {
            upload: Some(upload),
            in_flight: None,
            location,
            aborts,
        }
    }

    /// Waits for the part being uploaded, if any.
    async fn finish_in_flight(&mut self) -> object_store::Result<()> {
        match self.in_flight.take() {
            Some(part) => part.await,
            None => Ok(()),
        }
    }

    fn upload_mut(&mut self) -> &mut Box<dyn MultipartUpload> {
        self.upload
            .as_mut()
            .expect("the upload is held until completed or aborted")
    }

    /// Completed: nothing to abort.
    fn disarm(&mut self) {
        self.upload = None;
    }

    /// Aborts now; returns the error to report (`cause`, or [`StoreError::AbortFailed`]).
    async fn abort(mut self, cause: StoreError) -> StoreError {
        self.in_flight = None;
        let Some(mut upload) = self.upload.take() else {
            return cause;
        };
        match upload.abort().await {
            Ok(()) => {
                tracing::debug!(location = %self.location, "multipart upload aborted");
                cause
            }
            Err(abort) => StoreError::AbortFailed {
                location: self.location.to_string(),
                cause: Box::new(cause),
                abort,
            },
        }
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        self.in_flight = None;
        let Some(mut upload) = self.upload.take() else {
            return;
        };
        let location = self.location.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                tracing::info!(%location, "fetch cancelled; aborting its multipart upload");
                // Counted from now until the abort ended (or its task was dropped).
                let counted: Option<AbortToken> = self.aborts.as_ref().map(PendingAborts::start);
                rt.spawn(async move {
                    let _counted = counted;
                    if let Err(e) = upload.abort().await {
                        tracing::warn!(%location, error = %e, "aborting a cancelled multipart upload failed; a lifecycle rule will remove it");
                    }
                });
            }
            Err(_) => tracing::warn!(
                %location,
                "fetch cancelled outside a tokio runtime: its multipart upload could not be aborted; a lifecycle rule will remove it"
            ),
        }
    }
}
