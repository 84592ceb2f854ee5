//! One spooled media: everything needed to fetch, verify and file it, and its retry state.

use serde::{Deserialize, Serialize};
use wa_media_types::webhook::{InboundMedia, MediaSource};
use wa_media_types::{Bsuid, Customer, MediaId, Sha256Digest};

/// A media waiting in the spool (one small JSON file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SpoolEntry {
    /// The media id (digits only, validated when read: also the entry's file name).
    pub media_id: MediaId,
    /// The message id (`wamid.…`).
    pub message_id: String,
    /// Where the media came from: `echo` (the business's own, from the WhatsApp Business
    /// app) or `history` (a past conversation); absent for a customer's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The sender's phone number (WhatsApp id), when the notification gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The sender's business-scoped user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Bsuid>,
    /// The sender's parent BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<Bsuid>,
    /// The sender's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The webhook's short-lived download URL, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `image`, `video`, `audio`, `voice`, `document` or `sticker`.
    pub kind: String,
    /// The MIME type as sent.
    pub mime_type: String,
    /// The webhook's SHA-256 (written as hex), the expected digest of the download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Digest>,
    /// The caption, when one was typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// A document's original file name (as sent; cleaned when used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The message's time, in seconds since the epoch, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<u64>,
    /// The business phone number id the message was sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// When the notification was received, in seconds since the epoch.
    pub received_at: u64,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// Not to be tried before this time (ms since the epoch); 0 = now.
    #[serde(default)]
    pub not_before_ms: u64,
    /// The last error, when an attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Why the entry was given up (only in `failed/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl SpoolEntry {
    /// The entry for one media of a notification received at `received_at` (seconds).
    pub fn from_inbound(m: &InboundMedia, received_at: u64, timestamp: Option<u64>) -> Self {
        Self {
            media_id: m.media_id.clone(),
            message_id: m.message_id.clone(),
            source: (m.source != MediaSource::Inbound).then(|| m.source.as_str().to_owned()),
            from: m.customer.as_ref().and_then(|c| c.phone.clone()),
            user_id: m.customer.as_ref().and_then(|c| c.user_id.clone()),
            parent_user_id: m.customer.as_ref().and_then(|c| c.parent_user_id.clone()),
            username: m.customer.as_ref().and_then(|c| c.username.clone()),
            url: m.url.clone(),
            kind: m.kind.as_str().to_owned(),
            mime_type: m.mime_type.clone(),
            sha256: m.sha256,
            caption: m.caption.clone(),
            filename: m.filename.clone(),
            timestamp,
            phone_number_id: m.phone_number_id.clone(),
            received_at,
            attempts: 0,
            not_before_ms: 0,
            last_error: None,
            failure: None,
        }
    }

    /// The entry for one media of a notification received now.
    pub fn received_now(m: &InboundMedia, timestamp: Option<u64>) -> Self {
        Self::from_inbound(m, crate::time::now_secs(), timestamp)
    }

    /// The sender, when the notification named one.
    pub fn customer(&self) -> Option<Customer> {
        Customer::new(
            self.from.clone(),
            self.user_id.clone(),
            self.parent_user_id.clone(),
            self.username.clone(),
        )
    }

    /// The expected digest, when the webhook gave one.
    pub fn expected_sha256(&self) -> Option<Sha256Digest> {
        self.sha256
    }

    #[cfg(test)]
    pub(crate) fn for_test(id: &str) -> Self {
        Self {
            media_id: id.parse().expect("a test id is digits"),
            message_id: format!("wamid.{id}"),
            source: None,
            from: None,
            user_id: None,
            parent_user_id: None,
            username: None,
            url: None,
            kind: "image".into(),
            mime_type: "image/jpeg".into(),
            sha256: None,
            caption: None,
            filename: None,
            timestamp: None,
            phone_number_id: None,
            received_at: 0,
            attempts: 0,
            not_before_ms: 0,
            last_error: None,
            failure: None,
        }
    }
}
