//! Template messages with a media header ([`SendTemplate`]: how media reaches a customer outside
//! the 24-hour customer-service window), the minimal template definition that creates one
//! ([`TemplateDefinition`], `POST /{version}/{waba_id}/message_templates`), and the answers of
//! the Resumable Upload API that gives its example handle ([`UploadSession`],
//! [`UploadSessionStatus`], [`UploadHandle`]).
//!
//! ```
//! use wa_media_types::{MediaKind, SendTemplate};
//! let msg = SendTemplate::new("15551234567", "invoice_ready", "en_US")
//!     .unwrap()
//!     .header_id(MediaKind::Document, "1037543291543636".parse().unwrap())
//!     .header_filename("invoice.pdf")
//!     .body_text("INV-2031");
//! assert!(msg.validate().is_ok());
//! let body = msg.to_json();
//! assert_eq!(body["type"], "template");
//! let header = &body["template"]["components"][0];
//! assert_eq!(header["parameters"][0]["document"]["filename"], "invoice.pdf");
//! assert_eq!(body["template"]["components"][1]["parameters"][0]["text"], "INV-2031");
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::message::{check_link, normalize_recipient, MAX_CALLBACK_DATA_CHARS};
use crate::sniff::sniff_media_type;
use crate::{MediaId, MediaKind, MediaRef, SendValidationError};

/// Longest template name, in characters (Graph: 512).
pub const MAX_TEMPLATE_NAME_CHARS: usize = 512;
/// Longest text parameter, in characters: a template body holds at most 1,024 characters,
/// so no parameter of it can be longer (Graph refuses the send with 132005 otherwise).
pub const MAX_TEMPLATE_PARAM_CHARS: usize = 1024;
/// The MIME types the Resumable Upload API takes (`file_type`), per Meta's reference.
pub const RESUMABLE_UPLOAD_TYPES: [&str; 5] = [
    "application/pdf",
    "image/jpeg",
    "image/jpg",
    "image/png",
    "video/mp4",
];

/// One text parameter of a template's body: positional (`{{1}}`, `{{2}}`, … in order) or
/// named (`{{first_name}}`). A template uses one format or the other, never both.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateParam {
    /// `{"type": "text", "text": …}`
    Positional(String),
    /// `{"type": "text", "parameter_name": …, "text": …}`
    Named {
        /// The placeholder's name (lowercase letters, digits, underscores).
        name: String,
        /// Its value.
        text: String,
    },
}

impl TemplateParam {
    fn text(&self) -> &str {
        match self {
            TemplateParam::Positional(t) | TemplateParam::Named { text: t, .. } => t,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            TemplateParam::Positional(t) => json!({"type": "text", "text": t}),
            TemplateParam::Named { name, text } => {
                json!({"type": "text", "parameter_name": name, "text": text})
            }
        }
    }
}

/// A template's media header parameter: an image, a video or a document, by uploaded media id
/// or by https link, with the file name the recipient sees for a document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateHeader {
    /// [`MediaKind::Image`], [`MediaKind::Video`] or [`MediaKind::Document`].
    pub kind: MediaKind,
    /// The media.
    pub media: MediaRef,
    /// The document's file name (documents only).
    pub filename: Option<String>,
}

/// A dynamic URL button's parameter (`sub_type: url`): the suffix appended to the button's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ButtonParam {
    /// The button's position in the template (0-based).
    pub index: u8,
    /// The text substituted into the button's URL.
    pub text: String,
}

/// A template message to one WhatsApp user: `POST /{version}/{phone_number_id}/messages` with
/// `type: template`. The one kind of message Graph delivers outside the 24-hour
/// customer-service window (where a media message gets 131047).
///
/// Build it with [`SendTemplate::new`] (which checks the recipient, the name and the language)
/// and the builder methods; a client's `send_template` runs [`SendTemplate::validate`] before
/// anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendTemplate {
    /// The recipient, as [`crate::SendMedia::to`]: phone digits, or a BSUID.
    pub to: String,
    /// The template's name.
    pub name: String,
    /// Its language code (`en`, `en_US`, `pt_BR`).
    pub language: String,
    /// The media header parameter, for a template whose header is IMAGE, VIDEO or DOCUMENT.
    pub header: Option<TemplateHeader>,
    /// The body's text parameters, in order.
    pub body: Vec<TemplateParam>,
    /// Dynamic URL buttons' parameters.
    pub buttons: Vec<ButtonParam>,
    /// Opaque data echoed back in this message's status webhooks.
    pub biz_opaque_callback_data: Option<String>,
}

fn check_name(name: &str) -> Result<(), SendValidationError> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_TEMPLATE_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SendValidationError::TemplateName {
            name: name.chars().take(40).collect(),
        })
    }
}

fn check_language(code: &str) -> Result<(), SendValidationError> {
    let mut parts = code.split('_');
    let lang = parts.next().unwrap_or("");
    let region = parts.next();
    let ok = (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| {
            (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        && parts.next().is_none();
    if ok {
        Ok(())
    } else {
        Err(SendValidationError::TemplateLanguage {
            code: code.chars().take(20).collect(),
        })
    }
}

/// What Graph refuses in a text parameter: empty, over [`MAX_TEMPLATE_PARAM_CHARS`], a new
/// line or a tab, more than 4 consecutive spaces (error 132018).
fn check_param(which: String, text: &str) -> Result<(), SendValidationError> {
    let refuse = |reason: &'static str| SendValidationError::TemplateParam {
        which: which.clone(),
        reason,
    };
    if text.trim().is_empty() {
        return Err(refuse("it is empty"));
    }
    if text.chars().count() > MAX_TEMPLATE_PARAM_CHARS {
        return Err(refuse("it is over 1024 characters"));
    }
    if text.contains(['\n', '\r', '\t']) {
        return Err(refuse(
            "it contains a new line or a tab, which Graph refuses",
        ));
    }
    if text.contains("     ") {
        return Err(refuse(
            "it has more than 4 consecutive spaces, which Graph refuses",
        ));
    }
    Ok(())
}

impl SendTemplate {
    /// A template message for `to` (normalised and checked), with the template's `name` and
    /// `language` code (checked).
    pub fn new(to: &str, name: &str, language: &str) -> Result<Self, SendValidationError> {
        check_name(name)?;
        check_language(language)?;
        Ok(Self {
            to: normalize_recipient(to)?,
            name: name.to_owned(),
            language: language.to_owned(),
            header: None,
            body: Vec::new(),
            buttons: Vec::new(),
            biz_opaque_callback_data: None,
        })
    }

    /// Whom the message goes to: a BSUID when [`SendTemplate::to`] is one, else the phone.
    pub fn recipient(&self) -> crate::Recipient {
        match crate::Bsuid::new(&self.to) {
            Ok(b) => crate::Recipient::User(b),
            Err(_) => crate::Recipient::Phone(self.to.clone()),
        }
    }

    /// Sets the media header to an uploaded media id.
    pub fn header_id(mut self, kind: MediaKind, id: MediaId) -> Self {
        let filename = self.header.take().and_then(|h| h.filename);
        self.header = Some(TemplateHeader {
            kind,
            media: MediaRef::Id(id),
            filename,
        });
        self
    }

    /// Sets the media header to an https link Meta fetches (checked as for media messages).
    pub fn header_link(mut self, kind: MediaKind, link: &str) -> Result<Self, SendValidationError> {
        check_link(link)?;
        let filename = self.header.take().and_then(|h| h.filename);
        self.header = Some(TemplateHeader {
            kind,
            media: MediaRef::Link(link.to_owned()),
            filename,
        });
        Ok(self)
    }

    /// Sets the header document's file name (call after `header_id` or `header_link`).
    pub fn header_filename(mut self, filename: impl Into<String>) -> Self {
        if let Some(h) = &mut self.header {
            h.filename = Some(filename.into());
        }
        self
    }

    /// Adds a positional body parameter.
    pub fn body_text(mut self, text: impl Into<String>) -> Self {
        self.body.push(TemplateParam::Positional(text.into()));
        self
    }

    /// Adds a named body parameter.
    pub fn body_named(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.body.push(TemplateParam::Named {
            name: name.into(),
            text: text.into(),
        });
        self
    }

    /// Adds a dynamic URL button's parameter.
    pub fn button_url(mut self, index: u8, text: impl Into<String>) -> Self {
        self.buttons.push(ButtonParam {
            index,
            text: text.into(),
        });
        self
    }

    /// Sets `biz_opaque_callback_data`, echoed back in the status webhooks.
    pub fn callback_data(mut self, data: impl Into<String>) -> Self {
        self.biz_opaque_callback_data = Some(data.into());
        self
    }

    /// Checks everything that can be checked without the header's file: the recipient, the
    /// name and language, the header (image, video or document; a file name only on a
    /// document, not empty; a link https), the parameters (one format; each not empty, at
    /// most 1,024 characters, no new line or tab, at most 4 consecutive spaces; names of
    /// lowercase letters, digits and underscores) and the callback data.
    pub fn validate(&self) -> Result<(), SendValidationError> {
        let to = normalize_recipient(&self.to)?;
        if to != self.to {
            return Err(SendValidationError::Recipient {
                input: self.to.chars().take(40).collect(),
                reason: "it is not normalised (build the message with SendTemplate::new)"
                    .to_owned(),
            });
        }
        check_name(&self.name)?;
        check_language(&self.language)?;
        if let Some(h) = &self.header {
            if !matches!(
                h.kind,
                MediaKind::Image | MediaKind::Video | MediaKind::Document
            ) {
                return Err(SendValidationError::HeaderKind { kind: h.kind });
            }
            if let MediaRef::Link(l) = &h.media {
                check_link(l)?;
            }
            if let Some(f) = &h.filename {
                if h.kind != MediaKind::Document {
                    return Err(SendValidationError::FilenameNotAllowed { kind: h.kind });
                }
                if f.trim().is_empty() {
                    return Err(SendValidationError::EmptyFilename);
                }
            }
        }
        let named = self
            .body
            .iter()
            .filter(|p| matches!(p, TemplateParam::Named { .. }))
            .count();
        if named != 0 && named != self.body.len() {
            return Err(SendValidationError::MixedTemplateParams);
        }
        for (i, p) in self.body.iter().enumerate() {
            let which = match p {
                TemplateParam::Positional(_) => format!("body parameter {}", i + 1),
                TemplateParam::Named { name, .. } => {
                    let ok = !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                    if !ok {
                        return Err(SendValidationError::TemplateParam {
                            which: format!("parameter name {:?}", clip(name)),
                            reason: "a name holds only lowercase letters, digits and underscores",
                        });
                    }
                    format!("body parameter {name}")
                }
            };
            check_param(which, p.text())?;
        }
        for b in &self.buttons {
            check_param(format!("button {} parameter", b.index), &b.text)?;
        }
        if let Some(d) = &self.biz_opaque_callback_data {
            let chars = d.chars().count();
            if chars > MAX_CALLBACK_DATA_CHARS {
                return Err(SendValidationError::CallbackDataTooLong { chars });
            }
        }
        Ok(())
    }

    /// [`SendTemplate::validate`] plus the header's file: its contents (`head`, the first
    /// bytes) must be a type the header's kind takes (a PNG is no document header's PDF
    /// problem, but no video header either).
    pub fn validate_with_file(&self, head: &[u8]) -> Result<(), SendValidationError> {
        self.validate()?;
        let Some(h) = &self.header else {
            return Ok(());
        };
        let detected = sniff_media_type(head);
        if !detected.as_ref().is_some_and(|m| h.kind.allows(m)) {
            return Err(SendValidationError::HeaderFileMismatch {
                kind: h.kind,
                detected: detected.map(|m| m.to_string()),
            });
        }
        Ok(())
    }

    /// The JSON body of `POST /{version}/{phone_number_id}/messages`.
    pub fn to_json(&self) -> Value {
        let mut components = Vec::new();
        if let Some(h) = &self.header {
            let kind = h.kind.as_str();
            let mut media = Map::new();
            match &h.media {
                MediaRef::Id(id) => media.insert("id".into(), json!(id.as_str())),
                MediaRef::Link(l) => media.insert("link".into(), json!(l)),
            };
            if let Some(f) = &h.filename {
                media.insert("filename".into(), json!(f));
            }
            components.push(json!({
                "type": "header",
                "parameters": [{"type": kind, kind: Value::Object(media)}],
            }));
        }
        if !self.body.is_empty() {
            let params: Vec<Value> = self.body.iter().map(TemplateParam::to_json).collect();
            components.push(json!({"type": "body", "parameters": params}));
        }
        for b in &self.buttons {
            components.push(json!({
                "type": "button",
                "sub_type": "url",
                "index": b.index.to_string(),
                "parameters": [{"type": "text", "text": b.text}],
            }));
        }
        let mut template = Map::new();
        template.insert("name".into(), json!(self.name));
        template.insert("language".into(), json!({"code": self.language}));
        if !components.is_empty() {
            template.insert("components".into(), Value::Array(components));
        }
        let mut body = Map::new();
        body.insert("messaging_product".into(), json!("whatsapp"));
        body.insert("recipient_type".into(), json!("individual"));
        match self.recipient() {
            crate::Recipient::User(u) => body.insert("recipient".into(), json!(u.as_str())),
            _ => body.insert("to".into(), json!(self.to)),
        };
        body.insert("type".into(), json!("template"));
        body.insert("template".into(), Value::Object(template));
        if let Some(d) = &self.biz_opaque_callback_data {
            body.insert("biz_opaque_callback_data".into(), json!(d));
        }
        Value::Object(body)
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A template with a media header to create (`POST /{version}/{waba_id}/message_templates`):
/// the minimal definition, enough for the flow from an example file to a sendable template.
///
/// ```
/// use wa_media_types::{MediaKind, TemplateDefinition};
/// let t = TemplateDefinition::new("invoice_ready", "en_US", "UTILITY", MediaKind::Document, "4::aW1hZ2U=")
///     .body("Your invoice {{1}} is attached.", ["INV-2031"]);
/// t.validate().unwrap();
/// let v = t.to_json();
/// assert_eq!(v["components"][0]["format"], "DOCUMENT");
/// assert_eq!(v["components"][0]["example"]["header_handle"][0], "4::aW1hZ2U=");
/// assert_eq!(v["components"][1]["example"]["body_text"][0][0], "INV-2031");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateDefinition {
    /// The name (lowercase letters, digits, underscores).
    pub name: String,
    /// The language code.
    pub language: String,
    /// `UTILITY`, `MARKETING` or `AUTHENTICATION`.
    pub category: String,
    /// The header's format: image, video or document.
    pub header: MediaKind,
    /// The example file's handle from the Resumable Upload API.
    pub header_handle: String,
    /// The body text, with `{{1}}`, `{{2}}`… placeholders.
    pub body_text: String,
    /// One example value per placeholder.
    pub body_examples: Vec<String>,
}

impl TemplateDefinition {
    /// A template with a media header of `header` kind, its example `handle`, and no body
    /// parameters yet.
    pub fn new(
        name: &str,
        language: &str,
        category: &str,
        header: MediaKind,
        handle: &str,
    ) -> Self {
        Self {
            name: name.to_owned(),
            language: language.to_owned(),
            category: category.to_ascii_uppercase(),
            header,
            header_handle: handle.to_owned(),
            body_text: String::new(),
            body_examples: Vec::new(),
        }
    }

    /// Sets the body text and one example per placeholder.
    pub fn body<I, S>(mut self, text: impl Into<String>, examples: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.body_text = text.into();
        self.body_examples = examples.into_iter().map(Into::into).collect();
        self
    }

    /// How many distinct `{{n}}` placeholders the body text holds.
    pub fn placeholders(&self) -> usize {
        count_placeholders(&self.body_text)
    }

    /// Checks the name, language, category, header format, handle and that the body has one
    /// example per placeholder (Graph refuses the template otherwise).
    pub fn validate(&self) -> Result<(), SendValidationError> {
        check_name(&self.name)?;
        check_language(&self.language)?;
        if !matches!(
            self.category.as_str(),
            "UTILITY" | "MARKETING" | "AUTHENTICATION"
        ) {
            return Err(SendValidationError::TemplateDefinition {
                reason: format!(
                    "category {:?} is none of UTILITY, MARKETING, AUTHENTICATION",
                    clip(&self.category)
                ),
            });
        }
        if !matches!(
            self.header,
            MediaKind::Image | MediaKind::Video | MediaKind::Document
        ) {
            return Err(SendValidationError::HeaderKind { kind: self.header });
        }
        if self.header_handle.trim().is_empty() {
            return Err(SendValidationError::TemplateDefinition {
                reason: "the header's example handle is empty: upload an example file with the Resumable Upload API first".to_owned(),
            });
        }
        if self.body_text.trim().is_empty() {
            return Err(SendValidationError::TemplateDefinition {
                reason: "the body text is empty".to_owned(),
            });
        }
        let n = self.placeholders();
        if n != self.body_examples.len() {
            return Err(SendValidationError::TemplateDefinition {
                reason: format!(
                    "the body has {n} placeholders but {} examples were given",
                    self.body_examples.len()
                ),
            });
        }
        Ok(())
    }

    /// The JSON body of `POST /{version}/{waba_id}/message_templates`.
    pub fn to_json(&self) -> Value {
        let mut body = json!({"type": "BODY", "text": self.body_text});
        if !self.body_examples.is_empty() {
            body["example"] = json!({"body_text": [self.body_examples]});
        }
        json!({
            "name": self.name,
            "language": self.language,
            "category": self.category,
            "components": [
                {
                    "type": "HEADER",
                    "format": header_format(self.header),
                    "example": {"header_handle": [self.header_handle]},
                },
                body,
            ],
        })
    }
}

/// The template header `format` for a media kind: `IMAGE`, `VIDEO`, `DOCUMENT` (else the
/// kind's name in capitals).
pub fn header_format(kind: MediaKind) -> String {
    kind.as_str().to_ascii_uppercase()
}

/// How many distinct `{{n}}` (n a number) placeholders `text` holds.
pub fn count_placeholders(text: &str) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let inner = after[..end].trim();
                if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
                    seen.insert(inner.to_owned());
                }
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    seen.len()
}

/// Graph's answer to a template creation: `{"id": "…", "status": "PENDING", "category": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreatedTemplate {
    /// The template's id.
    pub id: String,
    /// `APPROVED`, `PENDING` or `REJECTED`.
    pub status: String,
    /// The category Graph assigned.
    #[serde(default)]
    pub category: Option<String>,
}

/// The Resumable Upload API's answer to `POST /{version}/{app_id}/uploads`:
/// `{"id": "upload:<SESSION>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadSession {
    /// `upload:<SESSION>`: the path of the next requests.
    pub id: String,
}

/// The answer to `GET /{version}/upload:<SESSION>`: `{"id": "upload:…", "file_offset": N}`,
/// how many bytes the server holds (where to resume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadSessionStatus {
    /// The session.
    pub id: String,
    /// Bytes received so far.
    #[serde(deserialize_with = "crate::serde_util::u64_from_number_or_string")]
    pub file_offset: u64,
}

/// The answer to the upload that completes a session: `{"h": "<HANDLE>"}`, the file handle a
/// template's `example.header_handle` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UploadHandle {
    /// The handle.
    pub h: String,
}

/// Whether `id` is a Resumable Upload API session id: `upload:` then a non-empty token of
/// URL-safe characters.
pub fn is_upload_session_id(id: &str) -> bool {
    id.strip_prefix("upload:").is_some_and(|s| {
        !s.is_empty()
            && s.len() <= 512
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'-' | b'_' | b'=' | b'.' | b'?' | b'&' | b'%' | b'+' | b'/'
                    )
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_graph_refuses_are_refused() {
        let t = SendTemplate::new("15551234567", "invoice", "en_US").unwrap();
        assert!(t.clone().body_text("ok").validate().is_ok());
        for bad in ["", "a\nb", "a\tb", "a     b"] {
            assert!(
                matches!(
                    t.clone().body_text(bad).validate(),
                    Err(SendValidationError::TemplateParam { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            t.clone().body_text("a").body_named("b", "c").validate(),
            Err(SendValidationError::MixedTemplateParams)
        ));
        assert!(SendTemplate::new("15551234567", "Invoice", "en_US").is_err());
        assert!(SendTemplate::new("15551234567", "invoice", "english").is_err());
    }

    #[test]
    fn the_header_kind_must_fit_the_file() {
        let t = SendTemplate::new("15551234567", "invoice", "en")
            .unwrap()
            .header_id(MediaKind::Video, "1".parse().unwrap());
        assert!(matches!(
            t.validate_with_file(b"%PDF-1.7\n"),
            Err(SendValidationError::HeaderFileMismatch { .. })
        ));
        let t = t.header_id(MediaKind::Document, "1".parse().unwrap());
        assert!(t.validate_with_file(b"%PDF-1.7\n").is_ok());
        let sticker = t.header_id(MediaKind::Sticker, "1".parse().unwrap());
        assert!(matches!(
            sticker.validate(),
            Err(SendValidationError::HeaderKind { .. })
        ));
    }

    #[test]
    fn placeholders_are_counted_once_each() {
        assert_eq!(count_placeholders("Hi {{1}}, {{2}} and {{1}}"), 2);
        assert_eq!(count_placeholders("no params {{x}}"), 0);
        assert!(is_upload_session_id("upload:MTphdHRhY2htZW50"));
        assert!(!is_upload_session_id("upload:"));
        assert!(!is_upload_session_id("1234"));
    }
}
