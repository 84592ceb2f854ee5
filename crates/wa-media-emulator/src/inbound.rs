//! Inbound simulation: media "sent by a customer", stored like the real API stores it, and the
//! webhook notification (with its `X-Hub-Signature-256`) the real API would deliver for it.

use bytes::Bytes;
use serde_json::{json, Value};
use wa_media_types::{sniff, MediaId, MediaKind, MediaType, PhoneNumberId, SNIFF_LEN};

use crate::bsuid::{is_bsuid, is_parent_bsuid, simulated_user_id};
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
    /// The customer's WhatsApp id (phone number), default `15551234567`. Also what the default
    /// [`user_id`](Self::user_id) is derived from, even when the phone is withheld.
    pub from: String,
    /// Whether the notification shows the customer's phone number (`contacts[].wa_id`,
    /// `messages[].from`); default `true`. `false` simulates a customer with a username whose
    /// number WhatsApp withholds: only the BSUID fields name the sender.
    pub phone: bool,
    /// The customer's business-scoped user id (`contacts[].user_id`,
    /// `messages[].from_user_id`); `None` (the default): [`simulated_user_id`] of
    /// [`from`](Self::from), the same BSUID for the same phone in every run.
    pub user_id: Option<String>,
    /// The customer's parent BSUID (`CC.ENT.…`: `contacts[].parent_user_id`,
    /// `messages[].from_parent_user_id`), when the business enabled parent BSUIDs; default none.
    pub parent_user_id: Option<String>,
    /// The customer's WhatsApp username (`contacts[].profile.username`); default none.
    pub username: Option<String>,
    /// The customer's profile name, default `Test Customer`.
    pub profile_name: String,
    /// The business phone number id that receives it (default: the configured one).
    pub phone_number_id: Option<PhoneNumberId>,
    /// Whether the media object carries a signed download `url` beside its `id`; `None` (the
    /// default): the emulator's setting
    /// ([`EmulatorConfig::inbound_media_urls`](crate::EmulatorConfig::inbound_media_urls)).
    pub media_url: Option<bool>,
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
            from: DEFAULT_INBOUND_FROM.to_owned(),
            phone: true,
            user_id: None,
            parent_user_id: None,
            username: None,
            profile_name: DEFAULT_PROFILE_NAME.to_owned(),
            phone_number_id: None,
            media_url: None,
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

    /// Whether the notification shows the sender's phone number (`wa_id`, `from`); `false`
    /// leaves both out, as for a username customer whose number is withheld.
    pub fn phone(mut self, shown: bool) -> Self {
        self.phone = shown;
        self
    }

    /// Sets the sender's BSUID (default: derived from [`from`](Self::from)); it must be a
    /// BSUID (`CC.` then 1–128 letters and digits), not a parent BSUID.
    pub fn user_id(mut self, bsuid: impl Into<String>) -> Self {
        self.user_id = Some(bsuid.into());
        self
    }

    /// Sets the sender's parent BSUID (`CC.ENT.…`).
    pub fn parent_user_id(mut self, bsuid: impl Into<String>) -> Self {
        self.parent_user_id = Some(bsuid.into());
        self
    }

    /// Sets the sender's username (`contacts[].profile.username`).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets the sender's profile name.
    pub fn profile_name(mut self, name: impl Into<String>) -> Self {
        self.profile_name = name.into();
        self
    }

    /// Sets the receiving business phone number id.
    pub fn phone_number_id(mut self, id: PhoneNumberId) -> Self {
        self.phone_number_id = Some(id);
        self
    }

    /// Whether the media object carries a signed download `url` (default: the emulator's
    /// setting, on unless turned off).
    pub fn media_url(mut self, on: bool) -> Self {
        self.media_url = Some(on);
        self
    }
}

/// The simulated customer's phone number when none is given.
pub(crate) const DEFAULT_INBOUND_FROM: &str = "15551234567";

/// The simulated customer's profile name when none is given.
pub(crate) const DEFAULT_PROFILE_NAME: &str = "Test Customer";

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
    pub(crate) phone: bool,
    pub(crate) user_id: Option<String>,
    pub(crate) parent_user_id: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) profile_name: String,
    pub(crate) phone_number_id: Option<PhoneNumberId>,
    pub(crate) media_url: Option<bool>,
}

impl InboundMeta {
    /// Checks the customer's identity fields; answers the sender's BSUID.
    fn check_identity(&self) -> Result<String, String> {
        let user_id = match &self.user_id {
            Some(u) if !is_bsuid(u) || is_parent_bsuid(u) => {
                return Err(format!(
                    "user_id {:?} is not a BSUID (two uppercase letters, '.', then 1 to 128 \
                     ASCII letters and digits; a parent BSUID belongs in parent_user_id)",
                    clip(u)
                ))
            }
            Some(u) => u.clone(),
            None => simulated_user_id(&self.from),
        };
        if let Some(p) = &self.parent_user_id {
            if !is_parent_bsuid(p) {
                return Err(format!(
                    "parent_user_id {:?} is not a parent BSUID (two uppercase letters, '.ENT.', \
                     then 1 to 128 ASCII letters and digits)",
                    clip(p)
                ));
            }
        }
        if self
            .username
            .as_deref()
            .is_some_and(|u| u.trim().is_empty())
        {
            return Err("username must not be empty".to_owned());
        }
        Ok(user_id)
    }
}

fn clip(s: &str) -> String {
    s.chars().take(160).collect()
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
        phone: message.phone,
        user_id: message.user_id,
        parent_user_id: message.parent_user_id,
        username: message.username,
        profile_name: message.profile_name,
        phone_number_id: message.phone_number_id,
        media_url: message.media_url,
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
    let user_id = meta.check_identity()?;
    // The customer wrote: the customer-service window opens (or stays open) for 24 hours.
    shared.templates.customer_wrote(&user_id, shared.now());
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
        expires_at: now.saturating_add(shared.config.inbound_lifetime().as_secs()),
        source: MediaSource::Inbound,
        ttl_minutes: None,
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
        // Since late 2025 Meta's media objects carry a short-lived download URL (the kind a
        // retrieve gives, with the same lifetime): a client can download without a retrieve.
        if meta.media_url.unwrap_or(shared.config.inbound_media_urls) {
            obj.insert("url".into(), json!(shared.download_url(&media_id)));
        }
    }
    let message_id = format!("wamid.HBgL{}", trace_id(40));
    let mut message = json!({
        "from_user_id": user_id,
        "id": message_id,
        "timestamp": now.to_string(),
        "type": type_name,
    });
    let mut profile = json!({ "name": meta.profile_name });
    let mut contact = json!({ "user_id": user_id });
    if let (Some(m), Some(c), Some(p)) = (
        message.as_object_mut(),
        contact.as_object_mut(),
        profile.as_object_mut(),
    ) {
        // `wa_id` and `from` are conditional since usernames (April 2026); `user_id` and
        // `from_user_id` are always there.
        if meta.phone {
            m.insert("from".into(), json!(meta.from));
            c.insert("wa_id".into(), json!(meta.from));
        }
        if let Some(parent) = &meta.parent_user_id {
            m.insert("from_parent_user_id".into(), json!(parent));
            c.insert("parent_user_id".into(), json!(parent));
        }
        if let Some(u) = &meta.username {
            p.insert("username".into(), json!(u));
        }
        m.insert(type_name.to_owned(), media);
    }
    if let Some(c) = contact.as_object_mut() {
        c.insert("profile".into(), profile);
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
                    "contacts": [contact],
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
