//! The success bodies of the media endpoints: upload, retrieve URL and delete.
//!
//! Unknown fields are ignored everywhere, so a new field from Meta never breaks a client.

use serde::{Deserialize, Serialize};

use crate::{MediaId, MediaUrl, Sha256Digest};

/// `POST /{version}/{phone_number_id}/media` answers `{"id": "…"}`.
///
/// ```
/// use wa_media_types::UploadResponse;
/// let r: UploadResponse = serde_json::from_str(r#"{"id":"1037543291543636"}"#).unwrap();
/// assert_eq!(r.id.as_str(), "1037543291543636");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    /// The new media id, usable in send-message requests for 30 days.
    pub id: MediaId,
}

/// `GET /{version}/{media_id}` answers where and what the media is.
///
/// The `url` lasts about five minutes and needs the same Bearer token; never cache it.
///
/// ```
/// use wa_media_types::MediaUrlResponse;
/// let r: MediaUrlResponse = serde_json::from_str(r#"{
///   "url": "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3",
///   "mime_type": "image/jpeg",
///   "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
///   "file_size": "303833",
///   "id": "1037543291543636",
///   "messaging_product": "whatsapp"
/// }"#).unwrap();
/// assert_eq!(r.file_size, 303_833);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaUrlResponse {
    /// The short-lived download URL on the download host (`lookaside.fbsbx.com`); its
    /// signature is hidden from `Debug` and `Display` ([`MediaUrl::expose`] gives it).
    pub url: MediaUrl,
    /// The stored MIME type, parameters included (`audio/ogg; codecs=opus`).
    pub mime_type: String,
    /// The SHA-256 of the stored bytes.
    pub sha256: Sha256Digest,
    /// The size in bytes; the API sends a number, some proxies a numeric string.
    #[serde(deserialize_with = "crate::serde_util::u64_from_number_or_string")]
    pub file_size: u64,
    /// The media id this describes.
    pub id: MediaId,
    /// Always `whatsapp` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
}

/// `DELETE /{version}/{media_id}` answers `{"success": true}`.
///
/// ```
/// use wa_media_types::DeleteResponse;
/// let r: DeleteResponse = serde_json::from_str(r#"{"success":true}"#).unwrap();
/// assert!(r.success);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteResponse {
    /// Whether the media was deleted.
    pub success: bool,
}

// Constructors: the structs are `#[non_exhaustive]` (Meta may add fields), so code outside
// this crate (emulators, tests) builds them with these.
impl UploadResponse {
    /// The answer for a new media id.
    pub fn new(id: MediaId) -> Self {
        Self { id }
    }
}

impl MediaUrlResponse {
    /// The answer describing media `id`, with `messaging_product` set to `whatsapp` as Graph
    /// sends it.
    pub fn new(
        url: MediaUrl,
        mime_type: impl Into<String>,
        sha256: Sha256Digest,
        file_size: u64,
        id: MediaId,
    ) -> Self {
        Self {
            url,
            mime_type: mime_type.into(),
            sha256,
            file_size,
            id,
            messaging_product: Some("whatsapp".to_owned()),
        }
    }
}

impl DeleteResponse {
    /// The answer to a delete.
    pub fn new(success: bool) -> Self {
        Self { success }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_size_accepts_number_and_string_and_refuses_garbage() {
        let base = |fs: &str| {
            format!(
                r#"{{"url":"https://x/","mime_type":"image/png","sha256":"{}","file_size":{fs},"id":"1"}}"#,
                "0".repeat(64)
            )
        };
        let a: MediaUrlResponse = serde_json::from_str(&base("12")).unwrap();
        let b: MediaUrlResponse = serde_json::from_str(&base("\"12\"")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.file_size, 12);
        for bad in ["-1", "\"-1\"", "\"12a\"", "\"\"", "1.5", "null"] {
            assert!(
                serde_json::from_str::<MediaUrlResponse>(&base(bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let r: UploadResponse = serde_json::from_str(r#"{"id":"5","extra":{"a":1}}"#).unwrap();
        assert_eq!(r.id.as_str(), "5");
    }
}
