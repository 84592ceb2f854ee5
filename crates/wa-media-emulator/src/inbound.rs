//! Inbound simulation: media "sent by a customer", stored like the real API stores it, and the
//! webhook notification (with its `X-Hub-Signature-256`) the real API would deliver for it.

use bytes::Bytes;
use serde_json::{json, Value};
use wa_media_types::{sniff, MediaId, MediaKind, MediaType, PhoneNumberId, SNIFF_LEN};

use crate::error::EmulatorError;
use crate::reply::trace_id;
use crate::state::Shared;
use crate::store::{MediaSource, StoredMedia};
use crate::upload::{self, Spooled};

/// The WhatsApp Business Account id used in simulated notifications.
pub const SIMULATED_WABA_ID: &str = "102290129340398";

/// The display phone number used in simulated notifications.
pub const SIMULATED_DISPLAY_PHONE_NUMBER: &str = "15550783881";

/// A media message a customer "sends". Build with [`InboundMessage::new`] and the setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InboundMessage {
    /// The file's bytes.
    pub bytes: Bytes,
    /// Its MIME type as WhatsApp would report it, parameters included.
    pub mime_type: String,
    /// A document's file name.
    pub filename: Option<String>,
    /// A caption (images, videos, documents).
    pub caption: Option<String>,
    /// A voice note (delivered as `audio` with `"voice": true`).
    pub voice: bool,
    /// The customer's WhatsApp id (phone number), default `15551234567`.
    pub from: String,
    /// The customer's profile name, default `Test Customer`.
    pub profile_name: String,
    /// The business phone number id that receives it (default: the configured one).
    pub phone_number_id: Option<PhoneNumberId>,
}

impl InboundMessage {
    /// A message carrying `bytes` of type `mime_type`.
    pub fn new(bytes: impl Into<Bytes>, mime_type: impl Into<String>) -> Self {
        Self {
            bytes: bytes.into(),
            mime_type: mime_type.into(),
            filename: None,
            caption: None,
            voice: false,
            from: "15551234567".to_owned(),
            profile_name: "Test Customer".to_owned(),
            phone_number_id: None,
        }
    }

    /// Sets the document file name.
    pub fn filename(mut self, name: impl Into<String>) -> Self {
        self.filename = Some(name.into());
        self
    }

    /// Sets the caption.
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    /// Marks the message as a voice note.
    pub fn voice(mut self, voice: bool) -> Self {
        self.voice = voice;
        self
    }

    /// Sets the sender's WhatsApp id.
    pub fn from(mut self, wa_id: impl Into<String>) -> Self {
        self.from = wa_id.into();
        self
    }

    /// Sets the receiving business phone number id.
    pub fn phone_number_id(mut self, id: PhoneNumberId) -> Self {
        self.phone_number_id = Some(id);
        self
    }
}

/// The result of a simulated inbound message: the stored media and the notification.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimulatedInbound {
    /// The new media id (lives 7 days by default, like ids received in webhooks).
    pub media_id: MediaId,
    /// The message id (`wamid.…`).
    pub message_id: String,
    /// The media kind (`Voice` for a voice note).
    pub kind: MediaKind,
    /// The notification exactly as the webhook POST body would carry it (compact JSON,
    /// non-ASCII escaped as `\uXXXX` like Meta's serializer).
    pub body: String,
    /// The same notification, parsed.
    pub notification: Value,
}

impl SimulatedInbound {
    /// The `X-Hub-Signature-256` header value (`sha256=<hex>`) for `app_secret`.
    pub fn signature_header(&self, app_secret: &[u8]) -> String {
        wa_media_types::signature_header(app_secret, self.body.as_bytes())
    }
}

/// Escapes every non-ASCII character of serialized JSON as `\uXXXX` (lowercase hex, UTF-16),
/// as Meta's serializer does (valid: non-ASCII only occurs inside JSON strings).
pub(crate) fn escape_non_ascii(json: String) -> String {
    wa_media_types::signature::escape_non_ascii(json.as_bytes())
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or(json)
}

/// Everything but the bytes of an inbound message (the bytes are already spooled).
pub(crate) struct InboundMeta {
    pub(crate) mime_type: MediaType,
    pub(crate) filename: Option<String>,
    pub(crate) caption: Option<String>,
    pub(crate) voice: bool,
    pub(crate) from: String,
    pub(crate) profile_name: String,
    pub(crate) phone_number_id: Option<PhoneNumberId>,
}

/// Stores `message` as media "sent by a customer" and builds its notification
/// ([`EmulatorHandle::simulate_inbound`](crate::EmulatorHandle::simulate_inbound)).
pub(crate) async fn simulate(
    shared: &Shared,
    message: InboundMessage,
) -> Result<SimulatedInbound, EmulatorError> {
    let mime =
        MediaType::parse(&message.mime_type).map_err(|e| EmulatorError::Inbound(e.to_string()))?;
    let body = http_body_util::Full::new(message.bytes);
    let spooled = upload::receive_raw::<http_body_util::Full<Bytes>>(
        &shared.store,
        mime.clone(),
        body,
        shared.config.body_timeout,
    )
    .await
    .map_err(|e| EmulatorError::Inbound(e.error.to_string()))?;
    let meta = InboundMeta {
        mime_type: mime,
        filename: message.filename,
        caption: message.caption,
        voice: message.voice,
        from: message.from,
        profile_name: message.profile_name,
        phone_number_id: message.phone_number_id,
    };
    create(shared, spooled, meta).map_err(EmulatorError::Inbound)
}

/// Stores a spooled inbound file and builds its notification.
pub(crate) fn create(
    shared: &Shared,
    spooled: Spooled,
    meta: InboundMeta,
) -> Result<SimulatedInbound, String> {
    if spooled.len == 0 {
        return Err("the file is empty".to_owned());
    }
    let kind = if meta.voice {
        MediaKind::Voice
    } else {
        MediaKind::infer(&meta.mime_type).unwrap_or(MediaKind::Document)
    };
    let head = &spooled.head[..spooled.head.len().min(SNIFF_LEN)];
    let animated = kind == MediaKind::Sticker && sniff(head).is_some_and(|s| s.animated);
    let phone = meta
        .phone_number_id
        .or_else(|| shared.config.phone_number_id.clone())
        .unwrap_or_else(|| shared.config.inbound_phone_number_id.clone());
    let now = shared.now();
    let record = StoredMedia {
        id: shared.store.new_id(),
        mime_type: meta.mime_type.to_string(),
        sha256: spooled.sha256,
        file_size: spooled.len,
        phone_number_id: phone.clone(),
        filename: meta.filename.clone(),
        created_at: now,
        expires_at: now.saturating_add(shared.config.inbound_media_ttl.as_secs()),
        source: MediaSource::Inbound,
    };
    let media_id = record.id.clone();
    let guard = spooled.guard;
    shared
        .store
        .commit(guard.path(), record)
        .map_err(|e| format!("cannot store the media: {e}"))?;
    guard.disarm();

    let type_name = match kind {
        MediaKind::Voice | MediaKind::Audio => "audio",
        other => other.as_str(),
    };
    let mut media = json!({
        "mime_type": meta.mime_type.to_string(),
        "sha256": spooled.sha256.to_base64(),
        "id": media_id.as_str(),
    });
    if let Some(obj) = media.as_object_mut() {
        match kind {
            MediaKind::Image | MediaKind::Video => {
                if let Some(c) = &meta.caption {
                    obj.insert("caption".into(), json!(c));
                }
            }
            MediaKind::Document => {
                if let Some(c) = &meta.caption {
                    obj.insert("caption".into(), json!(c));
                }
                if let Some(f) = &meta.filename {
                    obj.insert("filename".into(), json!(f));
                }
            }
            MediaKind::Audio | MediaKind::Voice => {
                obj.insert("voice".into(), json!(kind == MediaKind::Voice));
            }
            MediaKind::Sticker => {
                obj.insert("animated".into(), json!(animated));
            }
            // MediaKind is non_exhaustive: a kind added later carries only the common fields.
            _ => {}
        }
    }
    let message_id = format!("wamid.HBgL{}", trace_id(40));
    let mut message = json!({
        "from": meta.from,
        "id": message_id,
        "timestamp": now.to_string(),
        "type": type_name,
    });
    if let Some(obj) = message.as_object_mut() {
        obj.insert(type_name.to_owned(), media);
    }
    let notification = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": SIMULATED_WABA_ID,
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": SIMULATED_DISPLAY_PHONE_NUMBER,
                        "phone_number_id": phone.as_str(),
                    },
                    "contacts": [{
                        "profile": { "name": meta.profile_name },
                        "wa_id": meta.from,
                    }],
                    "messages": [message],
                },
                "field": "messages",
            }],
        }],
    });
    let body = escape_non_ascii(notification.to_string());
    if let Some(d) = &shared.delivery {
        d.deliver(body.clone());
    }
    Ok(SimulatedInbound {
        media_id,
        message_id,
        kind,
        body,
        notification,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_meta() {
        let escaped = escape_non_ascii(r#"{"a":"é😀"}"#.to_owned());
        assert_eq!(escaped, r#"{"a":"\u00e9\ud83d\ude00"}"#);
        let v: Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(v["a"], "é😀");
    }
}
