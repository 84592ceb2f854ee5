//! The application-facing trait [`MediaApi`]: the four operations. Fetching by id
//! ([`crate::MediaApiExt`]) is built on it in `crate::fetch`.

use std::sync::Arc;

use wa_media_types::{MediaId, MediaUrl, MediaUrlResponse, PhoneNumberId, Sha256Digest};

use crate::download::Download;
use crate::error::Error;
use crate::upload::Upload;

/// The WhatsApp Cloud API media operations. Object-safe: `Arc<dyn MediaApi>` works.
///
/// [`crate::MediaClient`] implements it on any [`crate::Transport`]; the emulator and tests
/// may implement it directly. [`crate::MediaApiExt`] adds `fetch` and `fetch_to_file` to every
/// implementation. Runtime concerns (timers, restart policies) are not part of it: a restart
/// of `fetch_to_file` is a [`crate::FetchOptions`] setting.
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

    /// Downloads a media URL that came without a retrieve answer: the `url` on a webhook's
    /// media object (Graph v24.0 and later), which announces the `sha256` but no size. The
    /// same rules as [`MediaApi::download`] (the token only to a trusted host, checked before
    /// the request; a refusing download host gives [`Error::UrlExpired`]), and the stream
    /// verifies the SHA-256, and the size when `size` is given.
    ///
    /// The default answers [`Error::Config`] ([`crate::ConfigError::Unsupported`]): an
    /// implementation without it is fetched by id (retrieve, then download) instead.
    async fn download_url(
        &self,
        url: &MediaUrl,
        sha256: Sha256Digest,
        size: Option<u64>,
    ) -> Result<Download, Error> {
        let _ = (url, sha256, size);
        Err(crate::error::ConfigError::Unsupported("downloading a webhook's media url").into())
    }

    /// Deletes media.
    async fn delete(&self, id: &MediaId) -> Result<(), Error>;

    /// The same API acting for business phone number `phone_number_id` (sharing this one's
    /// connections), or `None` (the default) when the implementation has no per-number form;
    /// then use `self`. A multi-number service (the webhook crate's ingest) fetches each
    /// inbound media through the form for the number that received it.
    /// [`crate::MediaClient`] answers with
    /// [`with_phone_number_id`](crate::MediaClient::with_phone_number_id).
    fn for_phone_number(&self, phone_number_id: &PhoneNumberId) -> Option<Arc<dyn MediaApi>> {
        let _ = phone_number_id;
        None
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
    async fn download_url(
        &self,
        url: &MediaUrl,
        sha256: Sha256Digest,
        size: Option<u64>,
    ) -> Result<Download, Error> {
        (**self).download_url(url, sha256, size).await
    }
    async fn delete(&self, id: &MediaId) -> Result<(), Error> {
        (**self).delete(id).await
    }
    fn for_phone_number(&self, phone_number_id: &PhoneNumberId) -> Option<Arc<dyn MediaApi>> {
        (**self).for_phone_number(phone_number_id)
    }
}
