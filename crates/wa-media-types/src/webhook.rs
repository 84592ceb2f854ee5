//! Inbound webhook notifications: the whole envelope Meta POSTs, and the media references in it.
//!
//! Meta adds message types and fields over time. Every struct here keeps fields it does not
//! know in an `extra` map (so nothing is lost and nothing fails), and a message of an unknown
//! `type` is kept as it came: [`inbound_media`] simply skips it. What must be well formed is
//! the object of a known media type: a media id that could change a URL path, or a digest that
//! is neither hex nor base64, is an error naming the field, not something to pass on.
//!
//! ```
//! use wa_media_types::webhook::{inbound_media, Notification};
//! use wa_media_types::MediaKind;
//! let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{
//!   "field":"messages","value":{"messaging_product":"whatsapp",
//!   "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
//!   "messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"audio",
//!     "audio":{"id":"1003383421387256","mime_type":"audio/ogg; codecs=opus",
//!              "sha256":"r9lPCPbS8MvNkQb4FDTVS6dmmqU1sa62dQ0h8tfQ8Fw=","voice":true}}]}}]}]}"#;
//! let n = Notification::from_slice(body).unwrap();
//! let media = inbound_media(&n);
//! assert_eq!(media.len(), 1);
//! assert_eq!(media[0].kind, MediaKind::Voice);
//! assert_eq!(media[0].media_id.as_str(), "1003383421387256");
//! assert_eq!(media[0].phone_number_id.as_deref(), Some("106540352242922"));
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::status::{DeliveryStatus, Status, StatusError, StatusErrorData, MEDIA_ERROR_CODES};
use crate::{Bsuid, Customer, MediaId, MediaKind, Sha256Digest};

/// How long a media id received in a webhook stays retrievable: 7 days, as documented. Older
/// media cannot be fetched; the emulator's simulated inbound media expire after it by default.
pub const MEDIA_ID_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Fields this crate does not model, kept as they came.
pub type Extra = Map<String, Value>;

/// A webhook notification: the JSON body of one POST from Meta.
///
/// ```
/// use wa_media_types::webhook::Notification;
/// let n = Notification::from_slice(br#"{"object":"whatsapp_business_account","entry":[{"id":"1",
///   "changes":[{"field":"messages","value":{"statuses":[{"id":"wamid.A","status":"read"}]}}]}],
///   "added_later":true}"#).unwrap();
/// assert_eq!(n.entry[0].changes[0].value.statuses.len(), 1);
/// assert_eq!(n.extra["added_later"], true); // unknown fields are kept, never fatal
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Notification {
    /// `whatsapp_business_account` for WhatsApp notifications.
    #[serde(default)]
    pub object: String,
    /// One entry per WhatsApp Business Account with news.
    #[serde(default)]
    pub entry: Vec<Entry>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Notification {
    /// Parses a notification from the raw request body (verify its signature first with
    /// [`verify_signature`](crate::signature::verify_signature)).
    pub fn from_slice(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// One WhatsApp Business Account's part of a notification.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Entry {
    /// The WhatsApp Business Account id.
    #[serde(default)]
    pub id: String,
    /// What changed.
    #[serde(default)]
    pub changes: Vec<Change>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One change: for messages, `field` is `messages`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Change {
    /// The subscribed field this change is about (`messages`).
    #[serde(default)]
    pub field: String,
    /// The change itself.
    #[serde(default)]
    pub value: ChangeValue,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `value` of a `messages` change: inbound messages and/or delivery statuses.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChangeValue {
    /// Always `whatsapp` when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// The business number the messages were sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// The senders' profiles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// Inbound messages, media or not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// Delivery statuses of outbound messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<Status>,
    /// Messages the business sent from the WhatsApp Business app on a coexistence number
    /// (field `smb_message_echoes`): `from` is the business, `to`/`to_user_id` the customer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_echoes: Vec<Message>,
    /// Past conversations shared when a coexistence number is onboarded (field `history`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryChunk>,
    /// Errors Meta reports for the change itself, not for one message (value-level
    /// `errors[]`: "unable to process a request due to a system level problem" or an app or
    /// account level one; same shape as a status's errors). See [`meta_failures`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StatusError>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One chunk of a `history` notification: threads of past messages.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistoryChunk {
    /// The conversations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<HistoryThread>,
    /// Fields not modelled here (`metadata`: phase, chunk order, progress).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One past conversation with one customer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistoryThread {
    /// The customer's WhatsApp id (phone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its messages, sent and received.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where a media reference came from.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaSource {
    /// A customer sent it (`messages`).
    #[default]
    Inbound,
    /// The business sent it from the WhatsApp Business app (`smb_message_echoes`).
    Echo,
    /// A past conversation shared at onboarding (`history`).
    History,
}

impl MediaSource {
    /// `inbound`, `echo` or `history`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaSource::Inbound => "inbound",
            MediaSource::Echo => "echo",
            MediaSource::History => "history",
        }
    }
}

/// The business phone number a notification is about.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// The number as displayed (`15550783881`).
    #[serde(default)]
    pub display_phone_number: String,
    /// The phone number id, the one uploads and retrieves use.
    #[serde(default)]
    pub phone_number_id: String,
}

/// A sender's profile.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Contact {
    /// The sender's WhatsApp id (their phone number): conditional since April 2026.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The sender's business-scoped user id (always there since April 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The sender's parent BSUID, where the business enabled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<String>,
    /// The profile, with the sender's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A sender's public profile.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Profile {
    /// The sender's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The sender's username, when they adopted one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// One inbound message. Media messages have the object named by `type` (`image`, `video`,
/// `audio`, `document`, `sticker`); other types (text, reaction, location, types added later)
/// keep their object in `extra`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Message {
    /// The message id (`wamid.…`).
    #[serde(default)]
    pub id: String,
    /// The sender's WhatsApp id (phone): conditional since April 2026.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The sender's business-scoped user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user_id: Option<String>,
    /// The sender's parent BSUID, where enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_parent_user_id: Option<String>,
    /// An echo's customer (phone), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// An echo's customer BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_user_id: Option<String>,
    /// An echo's customer parent BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_parent_user_id: Option<String>,
    /// Unix time in seconds, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The message type: `image`, `text`, `reaction`, …
    #[serde(rename = "type", default)]
    pub message_type: String,
    /// The image, for `type: image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MediaObject>,
    /// The video, for `type: video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<MediaObject>,
    /// The audio file or voice note (`voice: true`), for `type: audio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<MediaObject>,
    /// The document, for `type: document`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<MediaObject>,
    /// The sticker, for `type: sticker`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticker: Option<MediaObject>,
    /// Why Meta could not take the message: on `type: "unsupported"` (code 131051 for a type
    /// Cloud API does not support, 131060 for a message currently unavailable), and on a
    /// message whose media Meta could not download from the user (131052). See
    /// [`meta_failures`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StatusError>,
    /// Fields not modelled here, including the object of non-media types.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Message {
    /// What an `unsupported` message was (`unsupported.type`: `poll_update`, `edit`,
    /// `group_invite`, …), when Meta says.
    pub fn unsupported_type(&self) -> Option<&str> {
        self.extra.get("unsupported")?.get("type")?.as_str()
    }

    /// The media this message carries, with its kind, when it is a media message: the object
    /// named by `type` must be present. A voice note (`audio` with `voice: true`) is
    /// [`MediaKind::Voice`].
    pub fn media(&self) -> Option<(MediaKind, &MediaObject)> {
        let (kind, obj) = match self.message_type.as_str() {
            "image" => (MediaKind::Image, self.image.as_ref()?),
            "video" => (MediaKind::Video, self.video.as_ref()?),
            "document" => (MediaKind::Document, self.document.as_ref()?),
            "sticker" => (MediaKind::Sticker, self.sticker.as_ref()?),
            "audio" => {
                let a = self.audio.as_ref()?;
                let kind = if a.voice {
                    MediaKind::Voice
                } else {
                    MediaKind::Audio
                };
                (kind, a)
            }
            _ => return None,
        };
        Some((kind, obj))
    }
}

/// The media object of a media message.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaObject {
    /// The media id: retrieve its URL with it (valid for 7 days after the webhook).
    pub id: MediaId,
    /// The MIME type, parameters included (`audio/ogg; codecs=opus`).
    #[serde(default)]
    pub mime_type: String,
    /// The SHA-256 of the file (base64 in webhooks; hex accepted), when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Digest>,
    /// A short-lived download URL, in newer webhooks: the same kind retrieve gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The caption typed with an image, video or document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The original file name of a document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Whether an audio message is a voice note recorded in WhatsApp.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub voice: bool,
    /// Whether a sticker is animated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub animated: bool,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One media reference received in a webhook: what to retrieve and how to check it.
///
/// ```
/// use wa_media_types::webhook::{inbound_media, Notification};
/// use wa_media_types::{MediaKind, Sha256Digest};
/// let n = Notification::from_slice(br#"{"entry":[{"changes":[{"value":{"messages":[{
///   "id":"wamid.B","type":"document","document":{"id":"1214735546697282",
///   "mime_type":"application/pdf","filename":"invoice.pdf",
///   "sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}}]}}]}]}"#).unwrap();
/// let doc = &inbound_media(&n)[0];
/// assert_eq!(doc.kind, MediaKind::Document);
/// assert_eq!(doc.filename.as_deref(), Some("invoice.pdf"));
/// // After downloading, compare the bytes' digest with the one announced.
/// assert_eq!(doc.sha256, Some(Sha256Digest::of(b"hello")));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMedia {
    /// The message id (`wamid.…`).
    pub message_id: String,
    /// Where it came from: a customer's message, an echo of the business's own, history.
    pub source: MediaSource,
    /// The customer of the conversation (for an inbound message its sender: the message's
    /// ids first, then its contact's; for an echo its recipient; for history the thread's),
    /// when the notification says.
    pub customer: Option<Customer>,
    /// What the media is; `audio` with `voice: true` is [`MediaKind::Voice`].
    pub kind: MediaKind,
    /// The id to retrieve the media URL with (valid for 7 days).
    pub media_id: MediaId,
    /// The MIME type as sent, parameters included.
    pub mime_type: String,
    /// The SHA-256 to verify the download against, when sent.
    pub sha256: Option<Sha256Digest>,
    /// The webhook's download URL, when it gave one.
    pub url: Option<String>,
    /// The caption, when one was typed.
    pub caption: Option<String>,
    /// A document's original file name.
    pub filename: Option<String>,
    /// Whether this is a voice note (an `audio` message with `voice: true`; then `kind` is
    /// [`MediaKind::Voice`]).
    pub voice: bool,
    /// Whether this is an animated sticker (`false` for every other kind).
    pub animated: bool,
    /// The business phone number id the message was sent to (pass it to retrieve so the
    /// request is processed only for media of that number).
    pub phone_number_id: Option<String>,
}

impl InboundMedia {
    /// A media reference with no optional part (no sender, digest, caption, file name or phone
    /// number id; not a voice note, not animated); set the public fields for the rest.
    pub fn new(
        message_id: impl Into<String>,
        kind: MediaKind,
        media_id: MediaId,
        mime_type: impl Into<String>,
    ) -> Self {
        Self {
            message_id: message_id.into(),
            source: MediaSource::Inbound,
            customer: None,
            kind,
            media_id,
            mime_type: mime_type.into(),
            sha256: None,
            url: None,
            caption: None,
            filename: None,
            voice: false,
            animated: false,
            phone_number_id: None,
        }
    }
}

/// Every media reference in a notification, in payload order: customers' messages, then the
/// business's echoes (`smb_message_echoes`), then history threads. Non-media and unknown
/// message types are skipped; so are statuses.
pub fn inbound_media(notification: &Notification) -> Vec<InboundMedia> {
    let mut out = Vec::new();
    for change in notification.entry.iter().flat_map(|e| &e.changes) {
        let value = &change.value;
        let phone_number_id = value
            .metadata
            .as_ref()
            .map(|m| m.phone_number_id.clone())
            .filter(|p| !p.is_empty());
        let mut push = |message: &Message, source: MediaSource, customer: Option<Customer>| {
            let Some((kind, media)) = message.media() else {
                return;
            };
            out.push(InboundMedia {
                message_id: message.id.clone(),
                source,
                customer,
                kind,
                media_id: media.id.clone(),
                mime_type: media.mime_type.clone(),
                sha256: media.sha256,
                url: media.url.clone(),
                caption: media.caption.clone(),
                filename: media.filename.clone(),
                voice: kind == MediaKind::Voice,
                animated: kind == MediaKind::Sticker && media.animated,
                phone_number_id: phone_number_id.clone(),
            });
        };
        for message in &value.messages {
            push(
                message,
                MediaSource::Inbound,
                sender(message, &value.contacts),
            );
        }
        for echo in &value.message_echoes {
            let bsuid = |s: &Option<String>| s.as_deref().and_then(|s| Bsuid::new(s).ok());
            let customer = Customer::new(
                echo.to.clone(),
                bsuid(&echo.to_user_id),
                bsuid(&echo.to_parent_user_id),
                None,
            );
            push(echo, MediaSource::Echo, customer);
        }
        for thread in value.history.iter().flat_map(|h| &h.threads) {
            for message in &thread.messages {
                let customer = Customer::new(thread.id.clone(), None, None, None)
                    .or_else(|| sender(message, &value.contacts));
                push(message, MediaSource::History, customer);
            }
        }
    }
    out
}

/// A message Meta could not take, or a change it reports as failed: what the
/// `messages` webhook carries as `errors[]` (see [`meta_failures`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct MetaFailure {
    /// The message's id, for a message's errors; `None` for value-level `errors[]`.
    pub message_id: Option<String>,
    /// The message's `type` (`unsupported`, or a media type whose media Meta could not take).
    pub message_type: Option<String>,
    /// What an `unsupported` message was (`unsupported.type`), when given.
    pub unsupported_type: Option<String>,
    /// The sender, when the notification names one.
    pub customer: Option<Customer>,
    /// The message's time (seconds since the epoch), when given.
    pub timestamp: Option<u64>,
    /// The business phone number id the message was sent to.
    pub phone_number_id: Option<String>,
    /// Meta's errors, as sent (`code`, `title`, `message`, `error_data.details`).
    pub errors: Vec<StatusError>,
}

/// Every failure Meta reports in a notification, in payload order: each customer message with
/// `errors[]` or of `type: "unsupported"` (Meta could not take it: code 131051 for a type
/// Cloud API does not support, 131060 for a message currently unavailable, 131052 for media
/// Meta could not download from the user), then each change's value-level `errors[]` (one
/// failure per change, `message_id: None`).
///
/// ```
/// use wa_media_types::webhook::{meta_failures, Notification};
/// let n = Notification::from_slice(br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
///   "messages":[{"from":"16505551234","id":"wamid.X","timestamp":"1739321024","type":"unsupported",
///     "errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown",
///       "error_data":{"details":"Message type is currently not supported."}}],
///     "unsupported":{"type":"poll_update"}}]}}]}]}"#).unwrap();
/// let f = &meta_failures(&n)[0];
/// assert_eq!(f.message_id.as_deref(), Some("wamid.X"));
/// assert_eq!(f.unsupported_type.as_deref(), Some("poll_update"));
/// assert_eq!(f.errors[0].code, 131051);
/// assert_eq!(f.errors[0].details(), Some("Message type is currently not supported."));
/// ```
pub fn meta_failures(notification: &Notification) -> Vec<MetaFailure> {
    let mut out = Vec::new();
    for change in notification.entry.iter().flat_map(|e| &e.changes) {
        let value = &change.value;
        let phone_number_id = value
            .metadata
            .as_ref()
            .map(|m| m.phone_number_id.clone())
            .filter(|p| !p.is_empty());
        for message in &value.messages {
            if message.errors.is_empty() && message.message_type != "unsupported" {
                continue;
            }
            out.push(MetaFailure {
                message_id: Some(message.id.clone()).filter(|i| !i.is_empty()),
                message_type: Some(message.message_type.clone()).filter(|t| !t.is_empty()),
                unsupported_type: message.unsupported_type().map(str::to_owned),
                customer: sender(message, &value.contacts),
                timestamp: message.timestamp.as_deref().and_then(|t| t.parse().ok()),
                phone_number_id: phone_number_id.clone(),
                errors: message.errors.clone(),
            });
        }
        if !value.errors.is_empty() {
            out.push(MetaFailure {
                message_id: None,
                message_type: None,
                unsupported_type: None,
                customer: None,
                timestamp: None,
                phone_number_id: phone_number_id.clone(),
                errors: value.errors.clone(),
            });
        }
    }
    out
}

/// Every message of a notification with its time: customers' messages, echoes and history.
pub fn all_messages(notification: &Notification) -> impl Iterator<Item = &Message> {
    notification
        .entry
        .iter()
        .flat_map(|e| &e.changes)
        .flat_map(|c| {
            c.value
                .messages
                .iter()
                .chain(&c.value.message_echoes)
                .chain(
                    c.value
                        .history
                        .iter()
                        .flat_map(|h| &h.threads)
                        .flat_map(|t| &t.messages),
                )
        })
}

/// The sender of `message`: its own ids first (`from`, `from_user_id`,
/// `from_parent_user_id`: system messages have no contacts), then the matching contact's (by
/// phone or BSUID, or the only contact) for what is missing and the username. An invalid BSUID
/// is left out.
pub fn sender(message: &Message, contacts: &[Contact]) -> Option<Customer> {
    let mut phone = message.from.clone().filter(|p| !p.is_empty());
    let mut user_id = message.from_user_id.clone();
    let mut parent = message.from_parent_user_id.clone();
    let contact = contacts
        .iter()
        .find(|c| {
            (phone.is_some() && c.wa_id == phone) || (user_id.is_some() && c.user_id == user_id)
        })
        .or(match contacts {
            [only] => Some(only),
            _ => None,
        });
    let mut username = None;
    if let Some(c) = contact {
        phone = phone.or_else(|| c.wa_id.clone());
        user_id = user_id.or_else(|| c.user_id.clone());
        parent = parent.or_else(|| c.parent_user_id.clone());
        username = c.profile.as_ref().and_then(|p| p.username.clone());
    }
    let bsuid = |s: Option<String>| s.and_then(|s| Bsuid::new(&s).ok());
    Customer::new(phone, bsuid(user_id), bsuid(parent), username)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_and_fields_are_kept_not_fatal() {
        let n = Notification::from_slice(
            br#"{"object":"x","new_top":1,"entry":[{"changes":[{"value":{"messages":[
            {"id":"m1","type":"hologram","hologram":{"id":"1"}},
            {"id":"m2","type":"image","image":{"id":"55","mime_type":"image/jpeg","future":true}},
            {"id":"m3","type":"image"}]}}]}]}"#,
        )
        .unwrap();
        assert_eq!(n.extra["new_top"], 1);
        let msgs = &n.entry[0].changes[0].value.messages;
        assert_eq!(msgs[0].extra["hologram"]["id"], "1");
        assert_eq!(msgs[1].image.as_ref().unwrap().extra["future"], true);
        let media = inbound_media(&n);
        assert_eq!(media.len(), 1);
        assert_eq!(media[0].message_id, "m2");
        assert_eq!(media[0].sha256, None);
        assert_eq!(media[0].phone_number_id, None);
    }
}
