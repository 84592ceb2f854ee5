//! Sending messages: `POST /{version}/{phone_number_id}/messages` with a media message, checked
//! like Graph checks it, answered with Meta's shape, rate limited per phone number and per
//! recipient when configured, kept for inspection, and followed by its status notifications
//! (`sent`, `delivered`, `read`, `played` for voice notes, or `failed`) delivered to the webhook.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::Body;
use serde::Serialize;
use serde_json::{json, Map, Value};
use wa_media_types::{MediaId, MediaKind, MediaType, PhoneNumberId};

use crate::bsuid::{is_bsuid, is_parent_bsuid, simulated_user_id, user_id_of_parent};
use crate::clock::{unix_secs, Clock as _, OffsetClock};
use crate::delivery::Delivery;
use crate::fault::Fault;
use crate::inbound::{escape_non_ascii, SIMULATED_DISPLAY_PHONE_NUMBER, SIMULATED_WABA_ID};
use crate::outbox::{Outbox, SentMessage};
use crate::reply::{self, ApiError, Outcome};
use crate::state::Shared;
use crate::templates;
use crate::upload;

/// The largest messages request body taken, in bytes.
const MAX_BODY: usize = 64 * 1024;

/// Graph's caption limit, in characters.
const MAX_CAPTION_CHARS: usize = 1024;

/// Graph's `biz_opaque_callback_data` limit, in characters.
const MAX_CALLBACK_DATA_CHARS: usize = 512;

/// The longest `link` taken, in bytes.
const MAX_LINK_LEN: usize = 2048;

/// Every message type Graph knows, as its "must be one of" message lists them.
const GRAPH_TYPES: &str =
    "{AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO}";

/// The types the emulator emulates.
const MEDIA_TYPES: [&str; 5] = ["image", "video", "audio", "document", "sticker"];

const ERROR_CODES_HREF: &str =
    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/";

/// How the media is named.
enum MediaRef {
    Id(String),
    Link(String),
}

/// Who a message goes to: `to` (a phone number) when given, else `recipient` (a BSUID or a
/// parent BSUID).
struct Addressee {
    /// `to` exactly as sent.
    to: Option<String>,
    /// `to`'s digits.
    wa_id: Option<String>,
    /// `recipient` exactly as sent (also when `to` won).
    recipient: Option<String>,
    /// The user BSUID the message reaches: the recipient, the user behind a parent BSUID, or
    /// the simulated BSUID of the phone number.
    user_id: String,
    /// The parent BSUID, when the message was sent to one.
    parent_user_id: Option<String>,
}

impl Addressee {
    /// `contacts[0].input` of the answer: what the message was addressed by.
    fn input(&self) -> &str {
        self.to
            .as_deref()
            .or(self.recipient.as_deref())
            .unwrap_or_default()
    }
}

/// A request that passed the shape checks.
struct Parsed {
    to: Addressee,
    /// The message type: a media type, or `template`.
    kind: &'static str,
    /// The media: a media message's, or a template's header parameter (none for a template
    /// without a media header).
    media: Option<MediaRef>,
    /// A template message's `template` object.
    template: Option<templates::TemplateSend>,
    caption: Option<String>,
    filename: Option<String>,
    voice: bool,
    reply_to: Option<String>,
    callback: Option<String>,
}

fn required(name: &str) -> ApiError {
    ApiError::param(format!("(#100) The parameter {name} is required."))
}

fn not_a(name: &str, what: &str) -> ApiError {
    ApiError::param(format!("(#100) Param {name} must be {what}."))
}

fn not_for(ty: &str, field: &str, allowed: &str) -> ApiError {
    ApiError::param(format!(
        "(#100) Param {ty}['{field}'] is not a valid parameter for {ty} messages; it is \
         allowed on {allowed} only."
    ))
}

fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

/// An optional string field of `obj`: absent or `null` is `None`; another JSON type is an error.
fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    name: &str,
) -> Result<Option<&'a str>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(not_a(name, "a string")),
    }
}

/// `to` as Graph takes it: digits, with an optional leading `+` and spaces, dashes, dots or
/// parentheses between them, 7 to 15 digits in all (E.164).
fn normalise_to(to: &str) -> Option<String> {
    let t = to.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut digits = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    (7..=15).contains(&digits.len()).then_some(digits)
}

fn parse(value: &Value) -> Result<Parsed, ApiError> {
    let Some(obj) = value.as_object() else {
        return Err(ApiError::param(
            "(#100) The request body must be a JSON object with the message's parameters.",
        ));
    };
    match obj.get("messaging_product") {
        None | Some(Value::Null) => return Err(required("messaging_product")),
        Some(Value::String(p)) if p.eq_ignore_ascii_case("whatsapp") => {}
        Some(other) => {
            let got = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            return Err(ApiError::param(format!(
                "(#100) Param messaging_product must be one of {{WHATSAPP}} - got \"{}\".",
                clip(&got)
            )));
        }
    }
    if let Some(r) = opt_str(obj, "recipient_type", "recipient_type")? {
        if !r.eq_ignore_ascii_case("individual") {
            return Err(ApiError::param(format!(
                "(#100) Param recipient_type must be one of {{INDIVIDUAL}} - got \"{}\".",
                clip(r)
            )));
        }
    }
    let addressee = addressee(obj)?;
    let ty = opt_str(obj, "type", "type")?.ok_or_else(|| required("type"))?;
    if addressee.to.is_none() && ty.trim().eq_ignore_ascii_case("template") {
        // The emulator has no templates: a template whose name starts with `auth` stands for
        // the authentication templates (one-tap, zero-tap, copy-code) Meta will not send to a
        // BSUID.
        let name = obj
            .get("template")
            .and_then(|t| t.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("auth"))
        {
            return Err(ApiError::bsuid_unsupported());
        }
    }
    if ty.trim().eq_ignore_ascii_case("template") {
        return parse_template(obj, addressee);
    }
    let Some(kind) = MEDIA_TYPES
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(ty.trim()))
    else {
        let known = GRAPH_TYPES
            .trim_matches(|c| c == '{' || c == '}')
            .split(", ")
            .any(|t| t.eq_ignore_ascii_case(ty));
        return Err(ApiError::param(if known {
            format!(
                "(#100) Param type \"{}\" is not emulated: the wa-media emulator takes image, \
                 video, audio, document and sticker messages only.",
                clip(ty)
            )
        } else {
            format!(
                "(#100) Param type must be one of {GRAPH_TYPES} - got \"{}\".",
                clip(ty)
            )
        }));
    };
    let media = match obj.get(kind) {
        None | Some(Value::Null) => return Err(required(kind)),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(not_a(kind, "a JSON object")),
    };
    let id = opt_str(media, "id", &format!("{kind}['id']"))?;
    let link = opt_str(media, "link", &format!("{kind}['link']"))?;
    let media_ref = match (id, link) {
        (Some(_), Some(_)) => {
            return Err(ApiError::param(format!(
                "(#100) Params {kind}['id'] and {kind}['link'] are mutually exclusive: send \
                 exactly one of them."
            )))
        }
        (None, None) => {
            return Err(ApiError::param(format!(
                "(#100) The parameter {kind}['id'] or {kind}['link'] is required."
            )))
        }
        (Some(id), None) => MediaRef::Id(id.trim().to_owned()),
        (None, Some(link)) => {
            let ok = link.len() <= MAX_LINK_LEN
                && url::Url::parse(link)
                    .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
            if !ok {
                return Err(ApiError::param_value(format!(
                    "Param {kind}['link'] must be an https:// URL of at most {MAX_LINK_LEN} \
                     bytes; got \"{}\".",
                    clip(link)
                )));
            }
            MediaRef::Link(link.to_owned())
        }
    };
    let caption = opt_str(media, "caption", &format!("{kind}['caption']"))?;
    if caption.is_some() && !matches!(kind, "image" | "video" | "document") {
        return Err(not_for(
            kind,
            "caption",
            "image, video and document messages",
        ));
    }
    if let Some(c) = caption {
        if c.chars().count() > MAX_CAPTION_CHARS {
            return Err(ApiError::param_value(format!(
                "Param {kind}['caption'] must be at most {MAX_CAPTION_CHARS} characters."
            )));
        }
    }
    let filename = opt_str(media, "filename", &format!("{kind}['filename']"))?;
    if filename.is_some() && kind != "document" {
        return Err(not_for(kind, "filename", "document messages"));
    }
    let voice = match media.get("voice") {
        None | Some(Value::Null) => false,
        Some(_) if kind != "audio" => return Err(not_for(kind, "voice", "audio messages")),
        Some(Value::Bool(v)) => *v,
        Some(_) => return Err(not_a(&format!("{kind}['voice']"), "a boolean")),
    };
    let reply_to = match obj.get("context") {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => Some(
            opt_str(c, "message_id", "context['message_id']")?
                .filter(|m| !m.trim().is_empty())
                .ok_or_else(|| required("context['message_id']"))?
                .to_owned(),
        ),
        Some(_) => return Err(not_a("context", "a JSON object")),
    };
    let callback = opt_str(obj, "biz_opaque_callback_data", "biz_opaque_callback_data")?;
    if callback.is_some_and(|c| c.chars().count() > MAX_CALLBACK_DATA_CHARS) {
        return Err(ApiError::param_value(format!(
            "Param biz_opaque_callback_data must be at most {MAX_CALLBACK_DATA_CHARS} characters."
        )));
    }
    Ok(Parsed {
        to: addressee,
        kind,
        media: Some(media_ref),
        template: None,
        caption: caption.map(str::to_owned),
        filename: filename.map(str::to_owned),
        voice,
        reply_to,
        callback: callback.map(str::to_owned),
    })
}

/// A template message: its `template` object (checked against the templates by
/// [`templates::check`]) and the callback data.
fn parse_template(obj: &Map<String, Value>, to: Addressee) -> Result<Parsed, ApiError> {
    let t = templates::parse_send(obj)?;
    let callback = opt_str(obj, "biz_opaque_callback_data", "biz_opaque_callback_data")?;
    if callback.is_some_and(|c| c.chars().count() > MAX_CALLBACK_DATA_CHARS) {
        return Err(ApiError::param_value(format!(
            "Param biz_opaque_callback_data must be at most {MAX_CALLBACK_DATA_CHARS} characters."
        )));
    }
    let media = t.header.as_ref().and_then(|h| match (&h.id, &h.link) {
        (Some(id), _) => Some(MediaRef::Id(id.trim().to_owned())),
        (None, Some(l)) => Some(MediaRef::Link(l.clone())),
        _ => None,
    });
    Ok(Parsed {
        to,
        kind: "template",
        filename: t.header.as_ref().and_then(|h| h.filename.clone()),
        media,
        template: Some(t),
        caption: None,
        voice: false,
        reply_to: None,
        callback: callback.map(str::to_owned),
    })
}

/// `to` and `recipient`: at least one; with both, `to` wins (both are checked).
fn addressee(obj: &Map<String, Value>) -> Result<Addressee, ApiError> {
    let to = opt_str(obj, "to", "to")?;
    let recipient = opt_str(obj, "recipient", "recipient")?;
    if let Some(r) = recipient {
        if !is_bsuid(r) {
            return Err(ApiError::param(format!(
                "(#100) Param recipient must be a business-scoped user id (BSUID: two \
                 uppercase letters, '.', optionally 'ENT.', then 1 to 128 letters and digits, \
                 e.g. US.13491208655302741918); got \"{}\".",
                clip(r)
            )));
        }
    }
    let Some(to) = to else {
        let Some(r) = recipient else {
            return Err(required("to"));
        };
        let parent = is_parent_bsuid(r);
        return Ok(Addressee {
            to: None,
            wa_id: None,
            recipient: Some(r.to_owned()),
            user_id: if parent {
                user_id_of_parent(r)
            } else {
                r.to_owned()
            },
            parent_user_id: parent.then(|| r.to_owned()),
        });
    };
    let wa_id = normalise_to(to).ok_or_else(|| {
        ApiError::param_value(format!(
            "Param to must be a phone number of 7 to 15 digits in international format \
             (a leading + and spaces, dashes, dots or parentheses are ignored); got \"{}\".",
            clip(to)
        ))
    })?;
    Ok(Addressee {
        to: Some(to.to_owned()),
        user_id: simulated_user_id(&wa_id),
        wa_id: Some(wa_id),
        recipient: recipient.map(str::to_owned),
        parent_user_id: None,
    })
}

/// Checks that a media id exists, is unexpired, belongs to `phone` and fits the message type.
fn check_media(
    shared: &Shared,
    phone: &PhoneNumberId,
    p: &Parsed,
    id: &str,
) -> Result<(), ApiError> {
    // A template's header media is checked as a message of the header's type.
    let kind = match p.template.as_ref().and_then(|t| t.header.as_ref()) {
        Some(h) => match h.kind.as_str() {
            "image" => "image",
            "video" => "video",
            _ => "document",
        },
        None => p.kind,
    };
    let unknown = || {
        ApiError::param(format!(
            "(#100) Param {kind}['id'] is not a valid whatsapp business account media \
             attachment ID: media '{}' does not exist, has expired or belongs to another phone \
             number.",
            clip(id)
        ))
    };
    let media_id = MediaId::new(id).map_err(|_| unknown())?;
    let media = shared
        .store
        .get(&media_id, shared.now())
        .filter(|m| &m.phone_number_id == phone)
        .ok_or_else(unknown)?;
    let want = match kind {
        "image" => Some(MediaKind::Image),
        "video" => Some(MediaKind::Video),
        "audio" if p.voice => Some(MediaKind::Voice),
        "audio" => Some(MediaKind::Audio),
        "sticker" => Some(MediaKind::Sticker),
        // Any file can be sent as a document.
        _ => None,
    };
    let Some(want) = want else { return Ok(()) };
    let fits = MediaType::parse(&media.mime_type).is_ok_and(|m| want.allows(&m));
    if fits {
        return Ok(());
    }
    let as_what = if want == MediaKind::Voice {
        "a voice note (audio with voice: true)".to_owned()
    } else {
        kind.to_owned()
    };
    Err(ApiError::upload_refused(format!(
        "Media {id} is {}, which cannot be sent as {as_what}: that takes {}.",
        media.mime_type,
        want.mime_types().join(", ")
    )))
}

/// Handles `POST /{version}/{phone}/messages` (the token has been checked).
pub(crate) async fn send<B>(
    shared: &Shared,
    phone: &str,
    fault: Option<&Fault>,
    body: &mut Option<B>,
) -> Outcome
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Some(phone_number_id) = shared.config.business_phone(phone) else {
        // The body is left for the caller to read away.
        return ApiError::unknown_object(&Method::POST, phone).into();
    };
    let Some(body) = body.take() else {
        return ApiError::server_error(500).into();
    };
    let bytes = match upload::collect_limited(body, MAX_BODY, shared.config.body_timeout).await {
        Ok(b) => b,
        Err(upload::CollectError::TooLarge) => {
            return ApiError::param(format!(
                "(#100) The request body is over {} KiB.",
                MAX_BODY / 1024
            ))
            .into()
        }
        Err(upload::CollectError::TimedOut) => return ApiError::body_timeout().into(),
        Err(upload::CollectError::Broken) => return Outcome::Reset,
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return ApiError::param(format!(
                "(#100) The request body is not valid JSON: {}",
                clip(&e.to_string())
            ))
            .into()
        }
    };
    let parsed = match parse(&value) {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    // Pricing: a template's category, else a service conversation.
    let category = match &parsed.template {
        Some(t) => match templates::check(shared, t) {
            Ok(c) => c,
            Err(e) => return e.into(),
        },
        None => "service".to_owned(),
    };
    if let Some(MediaRef::Id(id)) = &parsed.media {
        if let Err(e) = check_media(shared, &phone_number_id, &parsed, id) {
            return e.into();
        }
    }
    if parsed.template.is_none()
        && shared.config.customer_service_window
        && !shared
            .templates
            .window_open(&parsed.to.user_id, shared.now())
    {
        return templates::outside_window().into();
    }
    let now = shared.clock.now();
    let wamid = format!("wamid.HBgL{}", reply::trace_id(48));
    let (media_id, link) = match &parsed.media {
        Some(MediaRef::Id(id)) => (Some(id.clone()), None),
        Some(MediaRef::Link(l)) => (None, Some(l.clone())),
        None => (None, None),
    };
    let record = SentMessage {
        wamid: wamid.clone(),
        phone_number_id: phone_number_id.as_str().to_owned(),
        to: parsed.to.to.clone().unwrap_or_default(),
        wa_id: parsed.to.wa_id.clone().unwrap_or_default(),
        recipient: parsed.to.recipient.clone(),
        user_id: parsed.to.user_id.clone(),
        kind: parsed.kind.to_owned(),
        media_id,
        link,
        caption: parsed.caption.clone(),
        filename: parsed.filename.clone(),
        voice: parsed.voice,
        reply_to: parsed.reply_to.clone(),
        biz_opaque_callback_data: parsed.callback.clone(),
        timestamp: unix_secs(now),
        statuses: Vec::new(),
        template: parsed.template.as_ref().map(|t| {
            crate::outbox::SentTemplate::new(
                &t.name,
                &t.language,
                t.header.as_ref().map(|h| h.kind.clone()),
                t.body.clone(),
            )
        }),
    };
    if let Err(e) = shared.outbox.admit(&shared.config, now, record) {
        return e.into();
    }
    let plan = plan(&parsed, fault);
    let ctx = StatusContext {
        delivery: shared.delivery.clone(),
        clock: shared.clock.clone(),
        outbox: shared.outbox.clone(),
        delay: shared.config.status_delay,
        phone_number_id: phone_number_id.as_str().to_owned(),
        wamid: wamid.clone(),
        recipient_id: parsed.to.wa_id.clone(),
        recipient_user_id: parsed.to.user_id.clone(),
        recipient_parent_user_id: parsed.to.parent_user_id.clone(),
        callback: parsed.callback.clone(),
        conversation: reply::trace_id(32),
        category,
    };
    tokio::spawn(ctx.run(plan));
    // Structs rather than `json!`, so the fields come in Meta's order.
    #[derive(Serialize)]
    struct Contact<'a> {
        input: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        wa_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_id: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Message<'a> {
        id: &'a str,
    }
    #[derive(Serialize)]
    struct Answer<'a> {
        messaging_product: &'a str,
        contacts: [Contact<'a>; 1],
        messages: [Message<'a>; 1],
    }
    reply::json(
        StatusCode::OK,
        &Answer {
            messaging_product: "whatsapp",
            // `wa_id` for a message sent to a phone number, `user_id` for one sent to a BSUID.
            contacts: [Contact {
                input: parsed.to.input(),
                wa_id: parsed.to.wa_id.as_deref(),
                user_id: parsed
                    .to
                    .wa_id
                    .is_none()
                    .then_some(parsed.to.user_id.as_str()),
            }],
            messages: [Message { id: &wamid }],
        },
    )
    .into()
}

/// One status to emit.
enum Status {
    Sent,
    Delivered,
    Read,
    Played,
    Failed {
        code: i64,
        title: &'static str,
        details: String,
    },
}

impl Status {
    fn name(&self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Read => "read",
            Status::Played => "played",
            Status::Failed { .. } => "failed",
        }
    }
}

/// The statuses a message gets: `failed` alone under a delivery fault, else `sent`,
/// `delivered`, `read` and, for a voice note, `played`.
fn plan(p: &Parsed, fault: Option<&Fault>) -> Vec<Status> {
    match fault {
        Some(Fault::Undeliverable) => vec![Status::Failed {
            code: 131026,
            title: "Message undeliverable",
            details: "Message Undeliverable.".to_owned(),
        }],
        Some(Fault::MediaDeliveryFailed { details }) => {
            let default = match p.media.as_ref().unwrap_or(&MediaRef::Id(String::new())) {
                MediaRef::Link(_) => {
                    "Downloading media from weblink failed with http code 404, status message \
                     Not Found"
                }
                MediaRef::Id(_) => {
                    "The media could not be delivered: its format is not supported for this \
                     message type."
                }
            };
            vec![Status::Failed {
                code: 131053,
                title: "Media upload error",
                details: details.clone().unwrap_or_else(|| default.to_owned()),
            }]
        }
        _ => {
            let mut v = vec![Status::Sent, Status::Delivered, Status::Read];
            if p.kind == "audio" && p.voice {
                v.push(Status::Played);
            }
            v
        }
    }
}

/// What the background task emitting one message's statuses needs.
struct StatusContext {
    delivery: Option<Delivery>,
    clock: Arc<OffsetClock>,
    outbox: Arc<Outbox>,
    delay: Duration,
    phone_number_id: String,
    wamid: String,
    /// The phone number's digits, when the message was sent to one.
    recipient_id: Option<String>,
    recipient_user_id: String,
    recipient_parent_user_id: Option<String>,
    callback: Option<String>,
    conversation: String,
    /// The conversation's category: `service`, or a template's (`utility`, `marketing`, …).
    category: String,
}

impl StatusContext {
    /// Emits the statuses in order, each after the configured delay; a status is delivered
    /// (or given up) before the next one is emitted, so a receiver sees them in order.
    async fn run(self, plan: Vec<Status>) {
        for status in plan {
            tokio::time::sleep(self.delay).await;
            let body = escape_non_ascii(self.notification(&status).to_string());
            self.outbox.record_status(&self.wamid, status.name());
            if let Some(d) = &self.delivery {
                d.deliver_now(body).await;
            }
        }
    }

    /// The status notification in Meta's shape.
    fn notification(&self, status: &Status) -> Value {
        let now = unix_secs(self.clock.now());
        let mut s = Map::new();
        s.insert("id".into(), json!(self.wamid));
        s.insert("status".into(), json!(status.name()));
        s.insert("timestamp".into(), json!(now.to_string()));
        // `recipient_id` only for a message sent to a phone number; `recipient_user_id` always,
        // but on a `failed` status only for a message sent to a BSUID (per the notes).
        let failed = matches!(status, Status::Failed { .. });
        if let Some(r) = &self.recipient_id {
            s.insert("recipient_id".into(), json!(r));
        }
        if !(failed && self.recipient_id.is_some()) {
            s.insert("recipient_user_id".into(), json!(self.recipient_user_id));
        }
        if let Some(p) = &self.recipient_parent_user_id {
            s.insert("recipient_parent_user_id".into(), json!(p));
        }
        match status {
            Status::Sent | Status::Delivered => {
                s.insert(
                    "conversation".into(),
                    json!({
                        "id": self.conversation,
                        "expiration_timestamp": now.saturating_add(24 * 60 * 60).to_string(),
                        "origin": { "type": self.category },
                    }),
                );
                s.insert(
                    "pricing".into(),
                    json!({ "billable": true, "pricing_model": "PMP", "category": self.category }),
                );
            }
            Status::Failed {
                code,
                title,
                details,
            } => {
                s.insert(
                    "errors".into(),
                    json!([{
                        "code": code,
                        "title": title,
                        "message": title,
                        "error_data": { "details": details },
                        "href": ERROR_CODES_HREF,
                    }]),
                );
            }
            Status::Read | Status::Played => {}
        }
        if let Some(c) = &self.callback {
            s.insert("biz_opaque_callback_data".into(), json!(c));
        }
        let mut value = json!({
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": SIMULATED_DISPLAY_PHONE_NUMBER,
                "phone_number_id": self.phone_number_id,
            },
            "statuses": [Value::Object(s)],
        });
        // Since the BSUID rollout every status but `failed` carries the recipient in
        // `contacts[]` (`wa_id` only for a message sent to a phone number); a failed one omits
        // it. pywa 4.5 reads `contacts[0]` of every status.
        if !failed {
            let mut contact = Map::new();
            if let Some(r) = &self.recipient_id {
                contact.insert("wa_id".into(), json!(r));
            }
            contact.insert("user_id".into(), json!(self.recipient_user_id));
            if let Some(p) = &self.recipient_parent_user_id {
                contact.insert("parent_user_id".into(), json!(p));
            }
            value["contacts"] = json!([Value::Object(contact)]);
        }
        json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": SIMULATED_WABA_ID,
                "changes": [{
                    "value": value,
                    "field": "messages",
                }],
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_is_normalised_to_digits() {
        assert_eq!(
            normalise_to("+1 (555) 123-4567").as_deref(),
            Some("15551234567")
        );
        assert_eq!(normalise_to("15551234567").as_deref(), Some("15551234567"));
        assert_eq!(
            normalise_to("+44.20.7946.0958").as_deref(),
            Some("442079460958")
        );
        for bad in [
            "",
            "+",
            "123456",
            "1234567890123456",
            "1555abc4567",
            "++15551234567",
        ] {
            assert_eq!(normalise_to(bad), None, "{bad}");
        }
    }
}
