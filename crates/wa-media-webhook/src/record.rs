//! [`SavedRecord`]: the one record of a saved media, written by every sink and printed by the
//! CLI: a line of `index.jsonl`, the object store's metadata object, a `serve` event, an
//! `inbound` result.
//!
//! # Schema (version 1)
//!
//! | field | type | |
//! | --- | --- | --- |
//! | `v` | number | the schema version: 1 |
//! | `media_id` | string | the WhatsApp media id |
//! | `message_id` | string | the message id (`wamid.…`) |
//! | `source` | string | `echo` (sent by the business from the WhatsApp Business app) or `history` (a past conversation); absent for a customer's message |
//! | `from` | string | the sender's phone number (WhatsApp id), when the notification had one |
//! | `user_id` | string | the sender's business-scoped user id (BSUID), when given (always, since April 2026) |
//! | `parent_user_id` | string | the sender's parent BSUID, where enabled |
//! | `username` | string | the sender's username, when they have one |
//! | `kind` | string | `image`, `video`, `audio`, `voice`, `document` or `sticker` |
//! | `mime_type` | string | the MIME type as sent |
//! | `file_size` | number | bytes, verified |
//! | `sha256` | string | the verified SHA-256, hex |
//! | `caption` | string | when one was typed |
//! | `filename` | string | a document's original name, as sent |
//! | `path` | string | where it is: a file path, or an object key in the store |
//! | `received_at` | number | when the notification arrived, seconds since the epoch |
//! | `saved_at` | number | when it was saved, seconds since the epoch |
//!
//! Fields without a value are left out. New fields may be added within a version; a field is
//! never renamed or given another meaning without a new `v`.

use serde::{Deserialize, Serialize};

use crate::entry::SpoolEntry;
use crate::sink::Saved;
use crate::time::now_secs;

/// The schema version written by this crate.
pub const RECORD_VERSION: u32 = 1;

/// The record of one saved media (see the module docs for the schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SavedRecord {
    /// The schema version ([`RECORD_VERSION`]).
    pub v: u32,
    /// The media id.
    pub media_id: String,
    /// The message id.
    pub message_id: String,
    /// `echo` or `history`; absent for a customer's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The sender's phone number (WhatsApp id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The sender's business-scoped user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The sender's parent BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<String>,
    /// The sender's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The media kind.
    pub kind: String,
    /// The MIME type as sent.
    pub mime_type: String,
    /// Its size in bytes, verified.
    pub file_size: u64,
    /// Its SHA-256, hex, verified.
    pub sha256: String,
    /// The caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// A document's original file name, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Where it is: a file path or an object key.
    pub path: String,
    /// When the notification arrived (seconds since the epoch).
    pub received_at: u64,
    /// When it was saved (seconds since the epoch).
    pub saved_at: u64,
}

impl SavedRecord {
    /// The record of `entry` saved as `saved`, now.
    pub fn new(entry: &SpoolEntry, saved: &Saved) -> Self {
        Self {
            v: RECORD_VERSION,
            media_id: entry.media_id.to_string(),
            message_id: entry.message_id.clone(),
            source: entry.source.clone(),
            from: entry.from.clone(),
            user_id: entry.user_id.as_ref().map(|u| u.to_string()),
            parent_user_id: entry.parent_user_id.as_ref().map(|u| u.to_string()),
            username: entry.username.clone(),
            kind: entry.kind.clone(),
            mime_type: entry.mime_type.clone(),
            file_size: saved.file_size,
            sha256: saved.sha256.to_hex(),
            caption: entry.caption.clone(),
            filename: entry.filename.clone(),
            path: saved.location.clone(),
            received_at: entry.received_at,
            saved_at: now_secs(),
        }
    }

    /// The record as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The record as a JSON object with an `"event"` field added (the CLI's event lines).
    pub fn to_event(&self, event: &str) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        out.insert("event".into(), event.into());
        if let serde_json::Value::Object(fields) = self.to_json() {
            out.extend(fields);
        }
        serde_json::Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_pinned() {
        let mut entry = SpoolEntry::for_test("1037543291543636");
        entry.from = Some("15551234567".into());
        entry.received_at = 1_796_000_000;
        let saved = Saved::new(
            "inbox/2026-12-08/wamid.1037543291543636.jpg",
            3,
            wa_media_types::Sha256Digest::of(b"abc"),
            false,
        );
        let mut r = SavedRecord::new(&entry, &saved);
        r.saved_at = 1_796_000_001;
        insta::assert_snapshot!(r.to_json().to_string(), @r#"{"file_size":3,"from":"15551234567","kind":"image","media_id":"1037543291543636","message_id":"wamid.1037543291543636","mime_type":"image/jpeg","path":"inbox/2026-12-08/wamid.1037543291543636.jpg","received_at":1796000000,"saved_at":1796000001,"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","v":1}"#);
        let back: SavedRecord = serde_json::from_value(r.to_json()).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.to_event("saved")["event"], "saved");
    }
}
