//! Outbound media messages: [`SendMedia`] (what `POST /{version}/{phone_number_id}/messages`
//! sends, checked locally before anything leaves), [`SentMessage`] (Graph's answer) and the
//! local refusals ([`SendValidationError`]) and warnings ([`SendNote`]).
//!
//! ```
//! use wa_media_types::{MediaId, MediaKind, SendMedia};
//! let id: MediaId = "1037543291543636".parse().unwrap();
//! let msg = SendMedia::by_id("+1 (555) 123-4567", MediaKind::Image, id)
//!     .unwrap()
//!     .caption("Your receipt");
//! assert_eq!(msg.to, "15551234567");
//! assert!(msg.validate().unwrap().is_empty());
//! let body = msg.to_json();
//! assert_eq!(body["type"], "image");
//! assert_eq!(body["image"]["id"], "1037543291543636");
//! assert_eq!(body["image"]["caption"], "Your receipt");
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::sniff::sniff;
use crate::{MediaId, MediaKind, ValidationError, KB};

/// Fewest digits of a recipient phone number (country code included).
pub const MIN_RECIPIENT_DIGITS: usize = 7;
/// Most digits of a recipient phone number (E.164 allows 15).
pub const MAX_RECIPIENT_DIGITS: usize = 15;
/// Longest caption, in characters.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Longest `biz_opaque_callback_data`, in characters.
pub const MAX_CALLBACK_DATA_CHARS: usize = 512;
/// Longest media `link`, in bytes: Graph refuses a longer one (error 131009).
pub const MAX_LINK_BYTES: usize = 2048;
/// A voice note larger than this is shown with a download icon instead of a play button.
pub const VOICE_NOTE_PLAYABLE_BYTES: u64 = 512 * KB;

/// Which media a message carries: an uploaded media id (the reliable path) or a public https
/// link that Meta fetches itself (rate limited per hosting network, so it fails
/// intermittently).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaRef {
    /// A media id from an upload (valid 30 days).
    Id(MediaId),
    /// An https URL Meta downloads the media from.
    Link(String),
}

/// A media message to one WhatsApp user.
///
/// Build it with [`SendMedia::by_id`] or [`SendMedia::by_link`] (which check the recipient and
/// the link), add options with the builder methods, and send it with a client's
/// `send_media`, which runs [`SendMedia::validate`] before anything is sent.
/// [`MediaKind::Voice`] is sent as `audio` with `voice: true`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendMedia {
    /// The recipient: a phone number normalised to digits (country code first), sent as `to`;
    /// or a BSUID / parent BSUID (`US.1349…`), sent as `recipient`. See
    /// [`SendMedia::recipient`].
    pub to: String,
    /// The kind of message.
    pub kind: MediaKind,
    /// The media, by id or by link.
    pub media: MediaRef,
    /// A caption (image, video and document only; at most 1,024 characters).
    pub caption: Option<String>,
    /// The file name shown to the recipient (documents only).
    pub filename: Option<String>,
    /// Whether an audio message is a voice note (`audio/ogg; codecs=opus` only). Always true
    /// in effect for [`MediaKind::Voice`].
    pub voice: bool,
    /// The `wamid` of the message this one replies to (`context.message_id`).
    pub reply_to: Option<String>,
    /// Opaque data echoed back in this message's status webhooks.
    pub biz_opaque_callback_data: Option<String>,
}

/// Why a message was refused locally; nothing was sent. Each `Display` says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendValidationError {
    /// The recipient is not a phone number of 7–15 digits.
    #[error("recipient {input:?} is not a phone number: {reason}; give the number in international format with the country code, for example 15551234567 (+, spaces, dashes and parentheses are ignored)")]
    Recipient {
        /// What was given (at most 40 characters).
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The link is not an https URL with a host.
    #[error("media link {link:?} is not usable: {reason}; Meta fetches links itself and needs a public https:// URL (or upload the file and send it by id)")]
    Link {
        /// The link (at most 200 characters, query removed).
        link: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The link is longer than [`MAX_LINK_BYTES`].
    #[error("the media link is {bytes} bytes long; Graph refuses links over 2048 bytes (error 131009): shorten it, or upload the file and send it by id")]
    LinkTooLong {
        /// Its length in bytes.
        bytes: usize,
    },
    /// A caption on a kind that has none.
    #[error("a caption is not allowed on {kind} messages; captions go only on image, video and document messages")]
    CaptionNotAllowed {
        /// The message's kind.
        kind: MediaKind,
    },
    /// The caption is too long.
    #[error("the caption is {chars} characters long; at most 1024 are allowed")]
    CaptionTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// A file name on a kind that has none.
    #[error("a filename is only allowed on document messages, not on {kind}")]
    FilenameNotAllowed {
        /// The message's kind.
        kind: MediaKind,
    },
    /// An empty file name.
    #[error("the filename is empty; leave it out or give a name such as invoice.pdf")]
    EmptyFilename,
    /// `voice` on a kind other than audio.
    #[error("voice is only allowed on audio messages, not on {kind}")]
    VoiceNotAllowed {
        /// The message's kind.
        kind: MediaKind,
    },
    /// A voice note from a file that is not Opus in Ogg.
    #[error("a voice note must be Opus in an Ogg container (audio/ogg; codecs=opus), but the file is {}; convert it (for example `ffmpeg -i in -c:a libopus out.ogg`) or send it as plain audio", detected.as_deref().unwrap_or("of an unknown type"))]
    VoiceNotOpus {
        /// What the file's first bytes say it is.
        detected: Option<String>,
    },
    /// An empty `reply_to`.
    #[error("reply_to is empty; give the wamid of the message to reply to")]
    EmptyReplyTo,
    /// The callback data is too long.
    #[error("biz_opaque_callback_data is {chars} characters long; at most 512 are allowed")]
    CallbackDataTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// The file to send is empty (checked before its type is guessed: an empty file has no
    /// contents to guess from).
    #[error("the file is empty (0 bytes): there is nothing to send")]
    EmptyFile,
    /// The type of a file to send could not be told from its contents.
    #[error("cannot tell the type of the file from its contents; give its MIME type (for example application/pdf)")]
    UnknownFileType,
    /// The file's MIME type fits no message kind.
    #[error("no message kind takes {mime} files; give the kind explicitly or convert the file")]
    NoKindFor {
        /// The MIME type.
        mime: String,
    },
    /// The file would be refused by the upload.
    #[error(transparent)]
    Media(#[from] ValidationError),
    /// A template name Graph would refuse.
    #[error("template name {name:?} is not valid: a name holds 1 to 512 lowercase letters, digits and underscores (as in WhatsApp Manager)")]
    TemplateName {
        /// The name (at most 40 characters).
        name: String,
    },
    /// A template language code Graph would refuse.
    #[error("language code {code:?} is not valid: give a code such as en, en_US or pt_BR")]
    TemplateLanguage {
        /// The code (at most 20 characters).
        code: String,
    },
    /// A template header that is not an image, a video or a document.
    #[error("a template's media header is an image, a video or a document, not {kind}")]
    HeaderKind {
        /// The kind given.
        kind: MediaKind,
    },
    /// The header file's contents are not a type the header's kind takes.
    #[error("the header file is {}, which a {kind} header does not take ({} are); give the right --header-kind or another file", detected.as_deref().unwrap_or("of an unknown type"), kind.mime_types().join(", "))]
    HeaderFileMismatch {
        /// The header's kind.
        kind: MediaKind,
        /// What the file's first bytes say it is.
        detected: Option<String>,
    },
    /// A template text parameter Graph would refuse.
    #[error("the {which} is not valid: {reason}")]
    TemplateParam {
        /// Which parameter (`body parameter 2`, `body parameter first_name`).
        which: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Positional and named body parameters in one message.
    #[error("a template's body parameters are all positional or all named, not both")]
    MixedTemplateParams,
    /// A template definition Graph would refuse.
    #[error("the template cannot be created: {reason}")]
    TemplateDefinition {
        /// What is wrong.
        reason: String,
    },
}

/// Something worth telling the sender that does not stop the message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendNote {
    /// A voice note over 512 KB: WhatsApp shows a download icon instead of a play button.
    LargeVoiceNote {
        /// The file's size in bytes.
        len: u64,
    },
}

impl fmt::Display for SendNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendNote::LargeVoiceNote { len } => write!(
                f,
                "the voice note is {len} bytes, over 512 KB: WhatsApp will show a download icon instead of a play button"
            ),
        }
    }
}

/// Normalises a recipient: a phone number with `+`, spaces, dashes, dots and parentheses
/// removed (7–15 digits left), or a business-scoped user id (BSUID, parent BSUID) checked as it
/// is.
///
/// ```
/// use wa_media_types::message::normalize_recipient;
/// assert_eq!(normalize_recipient("+44 (20) 7946-0958").unwrap(), "442079460958");
/// assert_eq!(normalize_recipient("US.13491208655302741918").unwrap(), "US.13491208655302741918");
/// assert!(normalize_recipient("US.ENT.").is_err());
/// assert!(normalize_recipient("12345").is_err());
/// assert!(normalize_recipient("1555CALLNOW").is_err());
/// ```
pub fn normalize_recipient(input: &str) -> Result<String, SendValidationError> {
    let refuse = |reason: String| SendValidationError::Recipient {
        input: input.chars().take(40).collect(),
        reason,
    };
    if crate::Bsuid::looks_like(input) {
        return crate::Bsuid::new(input.trim())
            .map(|b| b.to_string())
            .map_err(|_| refuse("it is not a BSUID: a two-letter country code, a dot, then up to 128 letters and digits (ENT. after the dot for a parent BSUID)".to_owned()));
    }
    let mut digits = String::with_capacity(input.len());
    for c in input.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' | ' ' | '-' | '(' | ')' | '.' | '\u{a0}' => {}
            other => return Err(refuse(format!("it contains {other:?}"))),
        }
    }
    let n = digits.len();
    if n < MIN_RECIPIENT_DIGITS {
        return Err(refuse(format!(
            "it has {n} digits, at least {MIN_RECIPIENT_DIGITS} are needed"
        )));
    }
    if n > MAX_RECIPIENT_DIGITS {
        return Err(refuse(format!(
            "it has {n} digits, at most {MAX_RECIPIENT_DIGITS} are allowed"
        )));
    }
    Ok(digits)
}

/// Checks that a media link is an https URL with a host (and a valid port, when it has one)
/// of at most [`MAX_LINK_BYTES`] bytes: what Graph takes (it refuses the rest with 131009).
pub(crate) fn check_link(link: &str) -> Result<(), SendValidationError> {
    let refuse = |reason: &'static str| SendValidationError::Link {
        link: link
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect(),
        reason,
    };
    if link.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse("it contains whitespace or control characters"));
    }
    let Some((scheme, rest)) = link.split_once("://") else {
        return Err(refuse("it is not an absolute URL"));
    };
    if !scheme.eq_ignore_ascii_case("https") {
        return Err(refuse("only https:// links are allowed"));
    }
    // As URL parsers read an https URL: a backslash ends the authority like a slash.
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err(refuse("its IPv6 address has no closing ]"));
        };
        if !addr.contains(':')
            || !addr
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(refuse("its IPv6 address is not valid"));
        }
        let port = match after {
            "" => None,
            after => match after.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(refuse("it has characters after its IPv6 address")),
            },
        };
        (addr, port)
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(refuse("it has no host"));
    }
    if host.contains(['<', '>', '^', '|', '[', ']']) {
        return Err(refuse(
            "its host contains a character no host name can hold",
        ));
    }
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        if !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return Err(refuse("its port is not a number from 0 to 65535"));
        }
    }
    if link.len() > MAX_LINK_BYTES {
        return Err(SendValidationError::LinkTooLong { bytes: link.len() });
    }
    Ok(())
}

impl SendMedia {
    /// Whom the message goes to: a BSUID when [`SendMedia::to`] is one, else the phone number.
    pub fn recipient(&self) -> crate::Recipient {
        match crate::Bsuid::new(&self.to) {
            Ok(b) => crate::Recipient::User(b),
            Err(_) => crate::Recipient::Phone(self.to.clone()),
        }
    }

    fn new(to: &str, kind: MediaKind, media: MediaRef) -> Result<Self, SendValidationError> {
        Ok(Self {
            to: normalize_recipient(to)?,
            kind,
            media,
            caption: None,
            filename: None,
            voice: false,
            reply_to: None,
            biz_opaque_callback_data: None,
        })
    }

    /// A message with uploaded media. `to` is normalised and checked.
    pub fn by_id(to: &str, kind: MediaKind, id: MediaId) -> Result<Self, SendValidationError> {
        Self::new(to, kind, MediaRef::Id(id))
    }

    /// A message with media Meta fetches from `link` (https only). `to` is normalised and
    /// checked.
    pub fn by_link(to: &str, kind: MediaKind, link: &str) -> Result<Self, SendValidationError> {
        check_link(link)?;
        Self::new(to, kind, MediaRef::Link(link.to_owned()))
    }

    /// Adds a caption (image, video, document).
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }

    /// Sets the file name shown to the recipient (documents).
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// Marks an audio message as a voice note.
    pub fn voice(mut self, voice: bool) -> Self {
        self.voice = voice;
        self
    }

    /// Replies to the message with this `wamid`.
    pub fn reply_to(mut self, wamid: impl Into<String>) -> Self {
        self.reply_to = Some(wamid.into());
        self
    }

    /// Sets `biz_opaque_callback_data`, echoed back in the status webhooks.
    pub fn callback_data(mut self, data: impl Into<String>) -> Self {
        self.biz_opaque_callback_data = Some(data.into());
        self
    }

    /// Whether the message is a voice note (kind voice, or audio with `voice`).
    pub fn is_voice(&self) -> bool {
        self.kind == MediaKind::Voice || (self.kind == MediaKind::Audio && self.voice)
    }

    /// The message `type` Graph expects: the kind's name, `audio` for voice notes.
    pub fn wire_type(&self) -> &'static str {
        match self.kind {
            MediaKind::Voice => "audio",
            k => k.as_str(),
        }
    }

    /// Checks everything that can be checked without the file. Returns notes (non-fatal) or
    /// the first refusal.
    pub fn validate(&self) -> Result<Vec<SendNote>, SendValidationError> {
        let to = normalize_recipient(&self.to)?;
        if to != self.to {
            return Err(SendValidationError::Recipient {
                input: self.to.chars().take(40).collect(),
                reason: "it is not normalised to digits (build the message with by_id or by_link)"
                    .to_owned(),
            });
        }
        if let MediaRef::Link(link) = &self.media {
            check_link(link)?;
        }
        let kind = self.kind;
        if let Some(c) = &self.caption {
            if !matches!(
                kind,
                MediaKind::Image | MediaKind::Video | MediaKind::Document
            ) {
                return Err(SendValidationError::CaptionNotAllowed { kind });
            }
            let chars = c.chars().count();
            if chars > MAX_CAPTION_CHARS {
                return Err(SendValidationError::CaptionTooLong { chars });
            }
        }
        if let Some(f) = &self.filename {
            if kind != MediaKind::Document {
                return Err(SendValidationError::FilenameNotAllowed { kind });
            }
            if f.trim().is_empty() {
                return Err(SendValidationError::EmptyFilename);
            }
        }
        if self.voice && !matches!(kind, MediaKind::Audio | MediaKind::Voice) {
            return Err(SendValidationError::VoiceNotAllowed { kind });
        }
        if let Some(r) = &self.reply_to {
            if r.trim().is_empty() {
                return Err(SendValidationError::EmptyReplyTo);
            }
        }
        if let Some(d) = &self.biz_opaque_callback_data {
            let chars = d.chars().count();
            if chars > MAX_CALLBACK_DATA_CHARS {
                return Err(SendValidationError::CallbackDataTooLong { chars });
            }
        }
        Ok(Vec::new())
    }

    /// [`SendMedia::validate`] plus the checks that need the file: a voice note must be Opus
    /// in Ogg (judged from `head`, the file's first bytes), and one over 512 KB gets a note.
    ///
    /// ```
    /// use wa_media_types::{MediaId, MediaKind, SendMedia, SendValidationError};
    /// let msg = SendMedia::by_id("15551234567", MediaKind::Voice, "1".parse().unwrap()).unwrap();
    /// let mp3 = b"ID3\x04\0\0\0\0\0\0";
    /// assert!(matches!(msg.validate_with_file(10, mp3), Err(SendValidationError::VoiceNotOpus { .. })));
    /// ```
    pub fn validate_with_file(
        &self,
        len: u64,
        head: &[u8],
    ) -> Result<Vec<SendNote>, SendValidationError> {
        let mut notes = self.validate()?;
        if self.is_voice() {
            let sniffed = sniff(head);
            if sniffed.map(|s| s.mime) != Some("audio/ogg; codecs=opus") {
                return Err(SendValidationError::VoiceNotOpus {
                    detected: sniffed.map(|s| s.mime.to_owned()),
                });
            }
            if len > VOICE_NOTE_PLAYABLE_BYTES {
                notes.push(SendNote::LargeVoiceNote { len });
            }
        }
        Ok(notes)
    }

    /// The JSON body of `POST /{version}/{phone_number_id}/messages`.
    pub fn to_json(&self) -> Value {
        let wire = self.wire_type();
        let mut media = Map::new();
        match &self.media {
            MediaRef::Id(id) => media.insert("id".into(), json!(id.as_str())),
            MediaRef::Link(l) => media.insert("link".into(), json!(l)),
        };
        if let Some(c) = &self.caption {
            if matches!(
                self.kind,
                MediaKind::Image | MediaKind::Video | MediaKind::Document
            ) {
                media.insert("caption".into(), json!(c));
            }
        }
        if let Some(f) = &self.filename {
            if self.kind == MediaKind::Document {
                media.insert("filename".into(), json!(f));
            }
        }
        if self.is_voice() {
            media.insert("voice".into(), json!(true));
        }
        let mut body = Map::new();
        body.insert("messaging_product".into(), json!("whatsapp"));
        body.insert("recipient_type".into(), json!("individual"));
        // A phone number goes in `to`, a BSUID in `recipient` (Cloud API, since 2026).
        match self.recipient() {
            crate::Recipient::User(u) => body.insert("recipient".into(), json!(u.as_str())),
            _ => body.insert("to".into(), json!(self.to)),
        };
        body.insert("type".into(), json!(wire));
        body.insert(wire.into(), Value::Object(media));
        if let Some(r) = &self.reply_to {
            body.insert("context".into(), json!({ "message_id": r }));
        }
        if let Some(d) = &self.biz_opaque_callback_data {
            body.insert("biz_opaque_callback_data".into(), json!(d));
        }
        Value::Object(body)
    }
}

/// Graph's answer to a send:
/// `{"messaging_product":"whatsapp","contacts":[{"input":"…","wa_id":"…"}],"messages":[{"id":"wamid.…","message_status":"accepted"}]}`.
///
/// ```
/// use wa_media_types::SentMessage;
/// let m = SentMessage::from_body(br#"{"messaging_product":"whatsapp",
///   "contacts":[{"input":"15551234567","wa_id":"15551234567"}],
///   "messages":[{"id":"wamid.HBgL","message_status":"accepted"}],"new":1}"#).unwrap();
/// assert_eq!(m.wamid, "wamid.HBgL");
/// assert_eq!(m.wa_id.as_deref(), Some("15551234567"));
/// assert_eq!(m.message_status.as_deref(), Some("accepted"));
/// assert_eq!(m.extra["new"], 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SentMessage {
    /// The message id (`wamid.…`) that status webhooks refer to.
    pub wamid: String,
    /// The recipient's WhatsApp id (`contacts[0].wa_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// `messages[0].message_status` when present (`accepted`, `held_for_quality_assessment`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
    /// Every other top-level field of the answer, as it came (`messaging_product`, and fields
    /// Meta adds later); `contacts` and `messages` too when they hold more than the above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
struct RawSent {
    #[serde(default)]
    contacts: Vec<RawContact>,
    messages: Vec<RawMessage>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Deserialize, Serialize)]
struct RawContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wa_id: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Deserialize, Serialize)]
struct RawMessage {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_status: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl SentMessage {
    /// Parses Graph's answer. Fails when there is no `messages[0].id`.
    pub fn from_body(body: &[u8]) -> Result<SentMessage, serde_json::Error> {
        let raw: RawSent = serde_json::from_slice(body)?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawSent) -> Result<SentMessage, serde_json::Error> {
        use serde::de::Error as _;
        let RawSent {
            contacts,
            messages,
            mut extra,
        } = raw;
        let first = messages
            .first()
            .ok_or_else(|| serde_json::Error::custom("`messages` is empty: no wamid"))?;
        if first.id.trim().is_empty() {
            return Err(serde_json::Error::custom("`messages[0].id` is empty"));
        }
        let wamid = first.id.clone();
        let message_status = first.message_status.clone();
        let wa_id = contacts.first().and_then(|c| c.wa_id.clone());
        let more = |n: usize, e: bool| n > 1 || e;
        if more(messages.len(), !first.extra.is_empty()) {
            extra.insert("messages".into(), serde_json::to_value(&messages)?);
        }
        if more(
            contacts.len(),
            contacts.first().is_some_and(|c| !c.extra.is_empty()),
        ) {
            extra.insert("contacts".into(), serde_json::to_value(&contacts)?);
        }
        Ok(SentMessage {
            wamid,
            wa_id,
            message_status,
            extra,
        })
    }
}

impl<'de> Deserialize<'de> for SentMessage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawSent::deserialize(d)?;
        Self::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> MediaId {
        "1037543291543636".parse().unwrap()
    }

    fn msg(kind: MediaKind) -> SendMedia {
        SendMedia::by_id("15551234567", kind, id()).unwrap()
    }

    #[test]
    fn recipients_are_normalised_and_checked() {
        assert_eq!(
            normalize_recipient(" +1 555-123-4567 ").unwrap(),
            "15551234567"
        );
        assert_eq!(normalize_recipient("1234567").unwrap(), "1234567");
        assert_eq!(
            normalize_recipient("123456789012345").unwrap(),
            "123456789012345"
        );
        for bad in [
            "",
            "+",
            "123456",
            "1234567890123456",
            "1555x234567",
            "wamid",
        ] {
            assert!(
                matches!(
                    normalize_recipient(bad),
                    Err(SendValidationError::Recipient { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn links_must_be_https_with_a_host() {
        for ok in [
            "https://example.com/a.jpg",
            "HTTPS://example.com",
            "https://u@h:8443/x?y",
            "https://[::1]/x",
        ] {
            assert!(check_link(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/a.jpg",
            "ftp://h/x",
            "example.com/a.jpg",
            "https:///a.jpg",
            "https://:443/a",
            "https://h/a b",
            "",
            // What a URL parser (Graph's, the emulator's) refuses: a port out of range or not
            // a number, a malformed IPv6 address, a character no host can hold.
            "https://h:99999/a.jpg",
            "https://h:8o/a.jpg",
            "https://h:1:2/a.jpg",
            "https://[::1/a.jpg",
            "https://[zz]/a.jpg",
            "https://[::1]x/a.jpg",
            "https://a<b.example/a.jpg",
        ] {
            assert!(
                matches!(check_link(bad), Err(SendValidationError::Link { .. })),
                "{bad}"
            );
        }
        for ok in [
            "https://h:/a.jpg",
            "https://h:0443/a.jpg",
            "https://[::1]:8443/a.jpg",
        ] {
            assert!(check_link(ok).is_ok(), "{ok}");
        }
        let e = check_link("http://h/x?sig=SECRET").unwrap_err().to_string();
        assert!(!e.contains("SECRET"), "{e}");
    }

    #[test]
    fn links_over_2048_bytes_are_refused() {
        let base = "https://example.com/a.jpg?sig=";
        let at_limit = format!("{base}{}", "x".repeat(MAX_LINK_BYTES - base.len()));
        assert_eq!(at_limit.len(), MAX_LINK_BYTES);
        assert!(check_link(&at_limit).is_ok());
        let over = format!("{at_limit}é");
        assert_eq!(
            check_link(&over),
            Err(SendValidationError::LinkTooLong {
                bytes: MAX_LINK_BYTES + 2
            })
        );
        // Through the constructor and through validate() of a message changed afterwards.
        assert!(matches!(
            SendMedia::by_link("15551234567", MediaKind::Image, &over),
            Err(SendValidationError::LinkTooLong { .. })
        ));
        let mut m = msg(MediaKind::Image);
        m.media = MediaRef::Link(over);
        assert!(matches!(
            m.validate(),
            Err(SendValidationError::LinkTooLong { .. })
        ));
    }

    #[test]
    fn each_option_only_where_it_belongs() {
        for k in [MediaKind::Audio, MediaKind::Voice, MediaKind::Sticker] {
            assert_eq!(
                msg(k).caption("x").validate(),
                Err(SendValidationError::CaptionNotAllowed { kind: k })
            );
        }
        for k in [MediaKind::Image, MediaKind::Video, MediaKind::Document] {
            assert!(msg(k).caption("x".repeat(1024)).validate().is_ok());
            assert_eq!(
                msg(k).caption("é".repeat(1025)).validate(),
                Err(SendValidationError::CaptionTooLong { chars: 1025 })
            );
        }
        assert_eq!(
            msg(MediaKind::Image).filename("a.pdf").validate(),
            Err(SendValidationError::FilenameNotAllowed {
                kind: MediaKind::Image
            })
        );
        assert_eq!(
            msg(MediaKind::Document).filename(" ").validate(),
            Err(SendValidationError::EmptyFilename)
        );
        assert_eq!(
            msg(MediaKind::Video).voice(true).validate(),
            Err(SendValidationError::VoiceNotAllowed {
                kind: MediaKind::Video
            })
        );
        assert!(msg(MediaKind::Audio).voice(true).validate().is_ok());
        assert_eq!(
            msg(MediaKind::Image).reply_to("").validate(),
            Err(SendValidationError::EmptyReplyTo)
        );
        assert_eq!(
            msg(MediaKind::Image)
                .callback_data("x".repeat(513))
                .validate(),
            Err(SendValidationError::CallbackDataTooLong { chars: 513 })
        );
    }

    #[test]
    fn fields_changed_after_construction_are_checked_again() {
        let mut m = msg(MediaKind::Image);
        m.to = "+1 555".into();
        assert!(matches!(
            m.validate(),
            Err(SendValidationError::Recipient { .. })
        ));
        let mut m = msg(MediaKind::Image);
        m.media = MediaRef::Link("http://example.com/a.jpg".into());
        assert!(matches!(
            m.validate(),
            Err(SendValidationError::Link { .. })
        ));
    }

    #[test]
    fn voice_from_a_file_must_be_opus_and_large_ones_get_a_note() {
        let mut opus = b"OggS\0\x02".to_vec();
        opus.resize(27, 0); // byte 26: no segment table, the packet starts at 27
        opus.extend_from_slice(b"OpusHead\x01\x01");
        assert_eq!(
            sniff(&opus).map(|s| s.mime),
            Some("audio/ogg; codecs=opus"),
            "fixture"
        );
        let m = msg(MediaKind::Voice);
        assert_eq!(m.validate_with_file(1000, &opus), Ok(vec![]));
        assert_eq!(
            m.validate_with_file(600 * KB, &opus),
            Ok(vec![SendNote::LargeVoiceNote { len: 600 * KB }])
        );
        assert!(matches!(
            msg(MediaKind::Audio)
                .voice(true)
                .validate_with_file(10, b"ID3\x04\0\0\0\0\0\0"),
            Err(SendValidationError::VoiceNotOpus { detected: Some(_) })
        ));
        // Plain audio is not held to the voice rules.
        assert_eq!(
            msg(MediaKind::Audio).validate_with_file(600 * KB, b"ID3\x04\0\0\0\0\0\0"),
            Ok(vec![])
        );
    }

    #[test]
    fn voice_is_sent_as_audio_with_voice_true() {
        let v = msg(MediaKind::Voice).to_json();
        assert_eq!(v["type"], "audio");
        assert_eq!(v["audio"]["voice"], true);
        let a = msg(MediaKind::Audio).to_json();
        assert!(a["audio"].get("voice").is_none());
    }

    #[test]
    fn sent_message_parses_graph_answers() {
        let m = SentMessage::from_body(
            br#"{"messaging_product":"whatsapp","contacts":[{"input":"+1 555","wa_id":"1555"}],"messages":[{"id":"wamid.X"}]}"#,
        )
        .unwrap();
        assert_eq!(m.wamid, "wamid.X");
        assert_eq!(m.wa_id.as_deref(), Some("1555"));
        assert_eq!(m.message_status, None);
        assert_eq!(m.extra["messaging_product"], "whatsapp");
        assert!(!m.extra.contains_key("messages"));
        let m =
            SentMessage::from_body(br#"{"messages":[{"id":"wamid.Y","pacing":true}]}"#).unwrap();
        assert_eq!(m.extra["messages"][0]["pacing"], true);
        for bad in [
            &br#"{"messages":[]}"#[..],
            br#"{"messages":[{"id":""}]}"#,
            br#"{"contacts":[]}"#,
            b"<html>",
        ] {
            assert!(SentMessage::from_body(bad).is_err());
        }
        let via_serde: SentMessage =
            serde_json::from_str(r#"{"messages":[{"id":"wamid.Z"}]}"#).unwrap();
        assert_eq!(via_serde.wamid, "wamid.Z");
    }
}

#[cfg(test)]
mod error_messages {
    use super::*;

    #[test]
    fn every_send_validation_message_is_pinned() {
        use SendValidationError as E;
        let e = E::Recipient {
            input: "12".into(),
            reason: "2 digits, 7–15 are needed".into(),
        };
        insta::assert_snapshot!(e.to_string(), @r#"recipient "12" is not a phone number: 2 digits, 7–15 are needed; give the number in international format with the country code, for example 15551234567 (+, spaces, dashes and parentheses are ignored)"#);
        let e = E::Link {
            link: "http://x/a.jpg".into(),
            reason: "not https",
        };
        insta::assert_snapshot!(e.to_string(), @r#"media link "http://x/a.jpg" is not usable: not https; Meta fetches links itself and needs a public https:// URL (or upload the file and send it by id)"#);
        insta::assert_snapshot!(E::LinkTooLong { bytes: 2049 }.to_string(), @"the media link is 2049 bytes long; Graph refuses links over 2048 bytes (error 131009): shorten it, or upload the file and send it by id");
        insta::assert_snapshot!(E::CaptionNotAllowed { kind: MediaKind::Audio }.to_string(), @"a caption is not allowed on audio messages; captions go only on image, video and document messages");
        insta::assert_snapshot!(E::CaptionTooLong { chars: 1025 }.to_string(), @"the caption is 1025 characters long; at most 1024 are allowed");
        insta::assert_snapshot!(E::FilenameNotAllowed { kind: MediaKind::Image }.to_string(), @"a filename is only allowed on document messages, not on image");
        insta::assert_snapshot!(E::EmptyFilename.to_string(), @"the filename is empty; leave it out or give a name such as invoice.pdf");
        insta::assert_snapshot!(E::VoiceNotAllowed { kind: MediaKind::Video }.to_string(), @"voice is only allowed on audio messages, not on video");
        insta::assert_snapshot!(E::VoiceNotOpus { detected: Some("audio/mpeg".into()) }.to_string(), @"a voice note must be Opus in an Ogg container (audio/ogg; codecs=opus), but the file is audio/mpeg; convert it (for example `ffmpeg -i in -c:a libopus out.ogg`) or send it as plain audio");
        insta::assert_snapshot!(E::VoiceNotOpus { detected: None }.to_string(), @"a voice note must be Opus in an Ogg container (audio/ogg; codecs=opus), but the file is of an unknown type; convert it (for example `ffmpeg -i in -c:a libopus out.ogg`) or send it as plain audio");
        insta::assert_snapshot!(E::EmptyReplyTo.to_string(), @"reply_to is empty; give the wamid of the message to reply to");
        insta::assert_snapshot!(E::CallbackDataTooLong { chars: 513 }.to_string(), @"biz_opaque_callback_data is 513 characters long; at most 512 are allowed");
        insta::assert_snapshot!(E::EmptyFile.to_string(), @"the file is empty (0 bytes): there is nothing to send");
        insta::assert_snapshot!(E::UnknownFileType.to_string(), @"cannot tell the type of the file from its contents; give its MIME type (for example application/pdf)");
        insta::assert_snapshot!(E::NoKindFor { mime: "application/zip".into() }.to_string(), @"no message kind takes application/zip files; give the kind explicitly or convert the file");
        // Transparent: the upload's own message, and its source is not repeated.
        let e = E::Media(crate::ValidationError {
            problems: vec![crate::Problem::Empty],
        });
        insta::assert_snapshot!(e.to_string(), @"the file cannot be uploaded: the file is empty: nothing to upload");
        assert!(std::error::Error::source(&e).is_none());
    }
}
