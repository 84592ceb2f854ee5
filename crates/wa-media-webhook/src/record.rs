//! [`SavedRecord`]: the one record of a saved media, written by every sink and printed by the
//! CLI: a line of `index.jsonl`, the object store's metadata object, a `serve` event, an
//! `inbound` result.
//!
//! # Schema (version 1)
//!
//! | field | type | |
//! | --- | --- | --- |
//! | `v` | number | the schema version: 1 |
//! | `status` | string | `saved`, or `failed`: a message Meta could not take (see below); absent on lines written before it existed, read as `saved` |
//! | `media_id` | string | the WhatsApp media id (absent on a `failed` record) |
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
//! | `saved_at` | number | when it was saved, seconds since the epoch (absent on a `failed` record) |
//! | `error` | object | on a `failed` record: Meta's error, `code` (number), `title`, `message`, `details` (`error_data.details`) |
//! | `unsupported_type` | string | on a `failed` record of an `unsupported` message: what it was (`poll_update`, `edit`, …) |
//!
//! A `failed` record is a message Meta could not take (`type: "unsupported"` with `errors[]`:
//! 131051 a type Cloud API does not support, 131060 a message currently unavailable, 131052
//! media Meta could not download from the user) or a change's value-level `errors[]`
//! (`message_id` then absent too): nothing was downloaded, so `file_size`, `sha256`, `path`
//! and `saved_at` are absent and `kind` is the message's `type` (`unsupported`).
//!
//! Fields without a value are left out. New fields may be added within a version; a field is
//! never renamed or given another meaning without a new `v`.

use serde::{Deserialize, Serialize};

use wa_media_types::webhook::{MetaFailure, StatusError};

use crate::entry::SpoolEntry;
use crate::sink::Saved;
use crate::time::now_secs;

/// The schema version written by this crate.
pub const RECORD_VERSION: u32 = 1;

/// What a record says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RecordStatus {
    /// The media was saved and verified (also what a line without `status` means).
    #[default]
    Saved,
    /// Meta could not take the message (or reports the change as failed): see
    /// [`SavedRecord::error`].
    Failed,
}

/// Meta's error on a `failed` record: the `errors[]` entry of the notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordError {
    /// The Graph error code (131051, 131052, 131060, …).
    pub code: i64,
    /// Its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `error_data.details`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl RecordError {
    /// The record form of one of Meta's webhook errors.
    pub fn of(e: &StatusError) -> Self {
        Self {
            code: e.code,
            title: e.title.clone(),
            message: e.message.clone(),
            details: e.details().map(str::to_owned),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The record of one saved media, or of a message Meta could not take (see the module docs
/// for the schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SavedRecord {
    /// The schema version ([`RECORD_VERSION`]).
    pub v: u32,
    /// Saved, or failed (Meta could not take the message); `saved` when the line has none.
    #[serde(default)]
    pub status: RecordStatus,
    /// The media id (empty on a `failed` record).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_id: String,
    /// The message id (empty for value-level errors).
    #[serde(default, skip_serializing_if = "String::is_empty")]
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
    /// The media kind (on a `failed` record, the message's `type`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The MIME type as sent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mime_type: String,
    /// Its size in bytes, verified (0 and left out on a `failed` record).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub file_size: u64,
    /// Its SHA-256, hex, verified.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// The caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// A document's original file name, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Where it is: a file path or an object key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// When the notification arrived (seconds since the epoch).
    pub received_at: u64,
    /// When it was saved (seconds since the epoch; 0 and left out on a `failed` record).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub saved_at: u64,
    /// Meta's error, on a `failed` record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RecordError>,
    /// What an `unsupported` message was (`unsupported.type`), on a `failed` record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported_type: Option<String>,
}

impl SavedRecord {
    /// The record of `entry` saved as `saved`, now.
    pub fn new(entry: &SpoolEntry, saved: &Saved) -> Self {
        Self {
            v: RECORD_VERSION,
            status: RecordStatus::Saved,
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
            error: None,
            unsupported_type: None,
        }
    }

    /// The `failed` record of a message Meta could not take (or of a change's value-level
    /// errors), received at `received_at`: Meta's first error, the sender, the message's type.
    pub fn failed(f: &MetaFailure, received_at: u64) -> Self {
        let customer = f.customer.as_ref();
        Self {
            v: RECORD_VERSION,
            status: RecordStatus::Failed,
            media_id: String::new(),
            message_id: f.message_id.clone().unwrap_or_default(),
            source: None,
            from: customer.and_then(|c| c.phone.clone()),
            user_id: customer.and_then(|c| c.user_id.as_ref().map(|u| u.to_string())),
            parent_user_id: customer.and_then(|c| c.parent_user_id.as_ref().map(|u| u.to_string())),
            username: customer.and_then(|c| c.username.clone()),
            kind: f.message_type.clone().unwrap_or_default(),
            mime_type: String::new(),
            file_size: 0,
            sha256: String::new(),
            caption: None,
            filename: None,
            path: String::new(),
            received_at,
            saved_at: 0,
            error: f.errors.first().map(RecordError::of),
            unsupported_type: f.unsupported_type.clone(),
        }
    }

    /// The key a sink records this under once: the media id of a saved media; the message id
    /// of a failed message; for value-level errors (no message), `errors:` and a digest of the
    /// errors and the number, so Meta's redelivery of the same notification is recorded once.
    pub fn key(&self) -> String {
        if !self.media_id.is_empty() {
            return self.media_id.clone();
        }
        if !self.message_id.is_empty() {
            return self.message_id.clone();
        }
        let body = serde_json::to_string(&self.error).unwrap_or_default();
        let digest = wa_media_types::Sha256Digest::of(body.as_bytes()).to_hex();
        format!("errors:{}", &digest[..32])
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
        insta::assert_snapshot!(r.to_json().to_string(), @r#"{"file_size":3,"from":"15551234567","kind":"image","media_id":"1037543291543636","message_id":"wamid.1037543291543636","mime_type":"image/jpeg","path":"inbox/2026-12-08/wamid.1037543291543636.jpg","received_at":1796000000,"saved_at":1796000001,"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","status":"saved","v":1}"#);
        let back: SavedRecord = serde_json::from_value(r.to_json()).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.to_event("saved")["event"], "saved");
    }

    #[test]
    fn a_line_written_before_status_reads_as_saved() {
        let old = r#"{"file_size":3,"kind":"image","media_id":"1","message_id":"wamid.1","mime_type":"image/jpeg","path":"p","received_at":1,"saved_at":2,"sha256":"ab","v":1}"#;
        let r: SavedRecord = serde_json::from_str(old).unwrap();
        assert_eq!(r.status, RecordStatus::Saved);
        assert_eq!(r.error, None);
        assert_eq!(r.key(), "1");
    }

    #[test]
    fn a_failed_record_has_metas_error_and_no_media_fields() {
        let n = wa_media_types::webhook::Notification::from_slice(
            br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
            "messages":[{"from":"16505551234","id":"wamid.X","timestamp":"1739321024","type":"unsupported",
            "errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown",
            "error_data":{"details":"Message type is currently not supported."}}],
            "unsupported":{"type":"poll_update"}}]}}]}]}"#,
        )
        .unwrap();
        let f = &wa_media_types::webhook::meta_failures(&n)[0];
        let r = SavedRecord::failed(f, 1_796_000_000);
        insta::assert_snapshot!(r.to_json().to_string(), @r#"{"error":{"code":131051,"details":"Message type is currently not supported.","message":"Message type unknown","title":"Message type unknown"},"from":"16505551234","kind":"unsupported","message_id":"wamid.X","received_at":1796000000,"status":"failed","unsupported_type":"poll_update","v":1}"#);
        let back: SavedRecord = serde_json::from_value(r.to_json()).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.key(), "wamid.X");
    }
}
