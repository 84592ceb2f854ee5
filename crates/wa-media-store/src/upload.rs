//! [`upload_from_store`]: an [`Upload`] streamed from an object.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use wa_media_core::Upload;
use wa_media_types::{MediaType, SNIFF_LEN};

use crate::error::StoreError;

/// An [`Upload`] of the object at `location`, streamed from the store and validated like a
/// file before a byte is sent to WhatsApp:
///
/// - the size comes from `head`;
/// - the first [`SNIFF_LEN`] bytes come from a ranged read, and are the upload stream's first
///   chunk, so core validates them (kind, MIME type, size limits, content sniffing) exactly as
///   it validates a file's first bytes; a refused object costs a `HEAD` and one small `GET`;
/// - the rest is read by a second ranged `GET` only when the body is sent, conditional on the
///   entity tag `head` saw: an object replaced meanwhile fails the upload instead of sending a
///   mix of two objects. A stream of another length than `head` announced fails it as well.
///
/// The filename sent is the last segment of `location` (change it with [`Upload::filename`]).
/// Like every stream upload, it is sent once: not retried after its bytes started to go out.
pub async fn upload_from_store(
    store: Arc<dyn ObjectStore>,
    location: &Path,
    mime: MediaType,
) -> Result<Upload, StoreError> {
    let meta = store
        .head(location)
        .await
        .map_err(|e| StoreError::store("head", location, e))?;
    let len = meta.size;
    let head_len = len.min(SNIFF_LEN as u64);
    let head: Bytes = if head_len == 0 {
        Bytes::new()
    } else {
        let opts = GetOptions {
            range: Some(GetRange::Bounded(0..head_len)),
            if_match: meta.e_tag.clone(),
            ..Default::default()
        };
        store
            .get_opts(location, opts)
            .await
            .map_err(|e| StoreError::store("ranged read", location, e))?
            .bytes()
            .await
            .map_err(|e| StoreError::store("ranged read", location, e))?
    };
    let rest = {
        let store = store.clone();
        let location = location.clone();
        let e_tag = meta.e_tag.clone();
        futures_util::stream::once(async move {
            if head_len >= len {
                return io::Result::Ok(futures_util::stream::empty().boxed());
            }
            let opts = GetOptions {
                range: Some(GetRange::Bounded(head_len..len)),
                if_match: e_tag,
                ..Default::default()
            };
            let got = store
                .get_opts(&location, opts)
                .await
                .map_err(io::Error::other)?;
            Ok(got.into_stream().map_err(io::Error::other).boxed())
        })
        .try_flatten()
    };
    let stream = futures_util::stream::iter([Ok(head)])
        .filter(|c: &io::Result<Bytes>| {
            futures_util::future::ready(!matches!(c, Ok(b) if b.is_empty()))
        })
        .chain(rest);
    let mut upload = Upload::from_stream(stream, len, mime);
    if let Some(name) = location.filename() {
        upload = upload.filename(name);
    }
    Ok(upload)
}
