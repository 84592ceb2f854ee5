//! Message templates and the customer-service window.
//!
//! - `POST /{version}/{waba_id}/message_templates` creates a template with a media header
//!   (its example a handle of the Resumable Upload API) under any numeric WhatsApp Business
//!   Account id, each its own list; it is `APPROVED` after
//!   [`EmulatorConfig::template_approval_delay`](crate::EmulatorConfig::template_approval_delay)
//!   on the emulator's clock (at once by default). `GET` on the same path lists them.
//! - Templates can also be seeded ([`EmulatedTemplate`], `--template NAME:LANG:HEADER:PARAMS`),
//!   under [`SIMULATED_WABA_ID`](crate::SIMULATED_WABA_ID).
//! - A template send (`type: template` on the messages endpoint) is checked like Graph checks
//!   it: 132001 (no approved template of that name in that language), 132015 (paused), 132016
//!   (disabled), 132012 (the header parameter does not fit the template's header format),
//!   132000 (the number of body parameters differs). The emulator does not model which
//!   account a phone number belongs to: a send finds the template in any account.
//! - The customer-service window: with
//!   [`EmulatorConfig::customer_service_window`](crate::EmulatorConfig::customer_service_window)
//!   on, a session (non-template) message to a customer who has not written within 24 hours
//!   on the emulator's clock is refused with 131047; a template is not.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body::Body;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use wa_media_types::template::count_placeholders;

use crate::reply::{self, ApiError, Outcome};
use crate::state::Shared;
use crate::upload;

/// The customer-service window: 24 hours after the customer's last message.
pub const CUSTOMER_SERVICE_WINDOW_SECS: u64 = 24 * 60 * 60;

/// The largest template request body taken, in bytes.
const MAX_BODY: usize = 64 * 1024;

/// A template's review status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum TemplateStatus {
    /// Sendable.
    Approved,
    /// In review (until the approval delay passed).
    Pending,
    /// Refused in review.
    Rejected,
    /// Paused for low quality: sends get 132015.
    Paused,
    /// Disabled: sends get 132016.
    Disabled,
}

impl TemplateStatus {
    /// Graph's spelling (`APPROVED`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatus::Approved => "APPROVED",
            TemplateStatus::Pending => "PENDING",
            TemplateStatus::Rejected => "REJECTED",
            TemplateStatus::Paused => "PAUSED",
            TemplateStatus::Disabled => "DISABLED",
        }
    }
}

/// A template the emulator knows: its name, language, category, header format (`IMAGE`,
/// `VIDEO`, `DOCUMENT`, `TEXT`, or none) and how many body parameters it takes.
///
/// ```
/// use wa_media_emulator::EmulatedTemplate;
/// let t: EmulatedTemplate = "invoice_ready:en_US:DOCUMENT:2".parse().unwrap();
/// assert_eq!(t.header_format.as_deref(), Some("DOCUMENT"));
/// assert_eq!(t.body_params, 2);
/// let plain: EmulatedTemplate = "hello:en:NONE:0".parse().unwrap();
/// assert_eq!(plain.header_format, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmulatedTemplate {
    /// The name.
    pub name: String,
    /// The language code.
    pub language: String,
    /// `UTILITY` (the default for seeds), `MARKETING` or `AUTHENTICATION`.
    pub category: String,
    /// The header's format, in capitals; `None` for a template without a header.
    pub header_format: Option<String>,
    /// How many body parameters a send must give.
    pub body_params: usize,
    /// Its status (seeds: `APPROVED`).
    pub status: TemplateStatus,
}

impl EmulatedTemplate {
    /// An approved `UTILITY` template.
    pub fn new(
        name: impl Into<String>,
        language: impl Into<String>,
        header_format: Option<&str>,
        body_params: usize,
    ) -> Self {
        Self {
            name: name.into(),
            language: language.into(),
            category: "UTILITY".to_owned(),
            header_format: header_format.map(str::to_ascii_uppercase),
            body_params,
            status: TemplateStatus::Approved,
        }
    }

    /// The same template with another status.
    pub fn status(mut self, status: TemplateStatus) -> Self {
        self.status = status;
        self
    }
}

impl FromStr for EmulatedTemplate {
    type Err = String;

    /// `NAME:LANG:HEADER_FORMAT:BODY_PARAMS`, HEADER_FORMAT one of IMAGE, VIDEO, DOCUMENT,
    /// TEXT, NONE.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let [name, lang, header, params] = parts.as_slice() else {
            return Err(format!(
                "{s:?} is not NAME:LANG:HEADER_FORMAT:BODY_PARAMS (e.g. invoice_ready:en_US:DOCUMENT:1)"
            ));
        };
        let header = header.trim().to_ascii_uppercase();
        let header = match header.as_str() {
            "IMAGE" | "VIDEO" | "DOCUMENT" | "TEXT" => Some(header.as_str()),
            "NONE" | "" => None,
            other => {
                return Err(format!(
                    "header format {other:?} is none of IMAGE, VIDEO, DOCUMENT, TEXT, NONE"
                ))
            }
        };
        let params: usize = params
            .trim()
            .parse()
            .map_err(|_| format!("body parameters {params:?} is not a number"))?;
        if name.is_empty() || lang.is_empty() {
            return Err(format!("{s:?} needs a name and a language"));
        }
        Ok(Self::new(*name, *lang, header, params))
    }
}

impl fmt::Display for EmulatedTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.name,
            self.language,
            self.header_format.as_deref().unwrap_or("NONE"),
            self.body_params
        )
    }
}

/// A template as [`EmulatorHandle::templates`](crate::EmulatorHandle::templates) shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredTemplate {
    /// Its id.
    pub id: String,
    /// The WhatsApp Business Account it belongs to.
    pub waba_id: String,
    /// The template, its status as of now.
    pub template: EmulatedTemplate,
    /// The header example's handle, for a created template.
    pub header_handle: Option<String>,
}

#[derive(Debug, Clone)]
struct Record {
    stored: StoredTemplate,
    /// When a `PENDING` template becomes `APPROVED` (Unix seconds, emulator clock).
    approve_at: Option<u64>,
}

impl Record {
    fn at(&self, now: u64) -> StoredTemplate {
        let mut s = self.stored.clone();
        if s.template.status == TemplateStatus::Pending && self.approve_at.is_some_and(|t| now >= t)
        {
            s.template.status = TemplateStatus::Approved;
        }
        s
    }
}

/// Templates per account, and when each customer last wrote.
#[derive(Debug, Default)]
pub(crate) struct Templates {
    records: Mutex<Vec<Record>>,
    /// user BSUID → Unix seconds of their last message.
    last_inbound: Mutex<HashMap<String, u64>>,
}

impl Templates {
    fn records(&self) -> std::sync::MutexGuard<'_, Vec<Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a template to `waba_id`'s list (replacing one of the same name and language).
    pub(crate) fn seed(&self, waba_id: &str, t: EmulatedTemplate) -> StoredTemplate {
        let mut r = self.records();
        r.retain(|x| {
            !(x.stored.waba_id == waba_id
                && x.stored.template.name == t.name
                && x.stored.template.language == t.language)
        });
        let stored = StoredTemplate {
            id: new_id(),
            waba_id: waba_id.to_owned(),
            template: t,
            header_handle: None,
        };
        r.push(Record {
            stored: stored.clone(),
            approve_at: None,
        });
        stored
    }

    /// Sets the status of every template called `name` in `language`; false when none is.
    pub(crate) fn set_status(&self, name: &str, language: &str, status: TemplateStatus) -> bool {
        let mut found = false;
        for r in self.records().iter_mut() {
            if r.stored.template.name == name && r.stored.template.language == language {
                r.stored.template.status = status;
                r.approve_at = None;
                found = true;
            }
        }
        found
    }

    /// Every template, as of `now`.
    pub(crate) fn list(&self, now: u64) -> Vec<StoredTemplate> {
        self.records().iter().map(|r| r.at(now)).collect()
    }

    /// Records that the customer `user_id` wrote at `now`.
    pub(crate) fn customer_wrote(&self, user_id: &str, now: u64) {
        self.last_inbound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user_id.to_owned(), now);
    }

    /// Whether `user_id` wrote within the last 24 hours before `now`.
    pub(crate) fn window_open(&self, user_id: &str, now: u64) -> bool {
        self.last_inbound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user_id)
            .is_some_and(|t| now.saturating_sub(*t) < CUSTOMER_SERVICE_WINDOW_SECS)
    }
}

fn new_id() -> String {
    let n = fastrand::u64(100_000_000_000_000..1_000_000_000_000_000);
    n.to_string()
}

/// 131047: a session message outside the customer-service window.
pub(crate) fn outside_window() -> ApiError {
    ApiError::messaging(
        131047,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer \
         last replied to this number. Send an approved template message instead.",
    )
}

/// `/{version}/{waba_id}/message_templates`: `POST` creates, `GET` lists.
pub(crate) async fn route<B>(
    shared: &Shared,
    method: &Method,
    waba_id: &str,
    query: Option<&str>,
    body: &mut Option<B>,
) -> Outcome
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if waba_id.is_empty() || !waba_id.bytes().all(|b| b.is_ascii_digit()) {
        return ApiError::unknown_object(method, waba_id).into();
    }
    match *method {
        Method::GET => {
            let name = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .find(|(k, _)| k == "name")
                .map(|(_, v)| v.into_owned());
            let data: Vec<Value> = shared
                .templates
                .list(shared.now())
                .into_iter()
                .filter(|t| t.waba_id == waba_id)
                .filter(|t| name.as_ref().is_none_or(|n| &t.template.name == n))
                .map(|t| listed(&t))
                .collect();
            reply::json(StatusCode::OK, &json!({ "data": data, "paging": {} })).into()
        }
        Method::POST => {
            let Some(body) = body.take() else {
                return ApiError::server_error(500).into();
            };
            let bytes =
                match upload::collect_limited(body, MAX_BODY, shared.config.body_timeout).await {
                    Ok(b) => b,
                    Err(upload::CollectError::TooLarge) => {
                        return ApiError::param("(#100) The request body is over 64 KiB.").into()
                    }
                    Err(upload::CollectError::TimedOut) => return ApiError::body_timeout().into(),
                    Err(upload::CollectError::Broken) => return Outcome::Reset,
                };
            let value: Value = match serde_json::from_slice(&bytes) {
                Ok(v) => v,
                Err(_) => {
                    return ApiError::param("(#100) The request body is not valid JSON.").into()
                }
            };
            match create(shared, waba_id, &value) {
                Ok(v) => reply::json(StatusCode::OK, &v).into(),
                Err(e) => e.into(),
            }
        }
        _ => ApiError::unknown_path(&format!("{waba_id}/message_templates")).into(),
    }
}

fn listed(t: &StoredTemplate) -> Value {
    let mut components = Vec::new();
    if let Some(f) = &t.template.header_format {
        let mut h = json!({"type": "HEADER", "format": f});
        if let Some(handle) = &t.header_handle {
            h["example"] = json!({"header_handle": [handle]});
        }
        components.push(h);
    }
    components.push(json!({"type": "BODY", "body_params": t.template.body_params}));
    json!({
        "id": t.id,
        "name": t.template.name,
        "language": t.template.language,
        "status": t.template.status.as_str(),
        "category": t.template.category,
        "components": components,
    })
}

fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        None | Some(Value::Null) => Err(ApiError::param(format!(
            "(#100) The parameter {key} is required."
        ))),
        Some(_) => Err(ApiError::param(format!(
            "(#100) Param {key} must be a non-empty string."
        ))),
    }
}

/// Creates a template from a `message_templates` body.
fn create(shared: &Shared, waba_id: &str, v: &Value) -> Result<Value, ApiError> {
    let Some(obj) = v.as_object() else {
        return Err(ApiError::param(
            "(#100) The request body must be a JSON object.",
        ));
    };
    let name = str_field(obj, "name")?;
    if name.len() > 512
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(ApiError::param(
            "(#100) Param name must hold lowercase letters, digits and underscores only.",
        ));
    }
    let language = str_field(obj, "language")?;
    let category = str_field(obj, "category")?.to_ascii_uppercase();
    if !matches!(
        category.as_str(),
        "UTILITY" | "MARKETING" | "AUTHENTICATION"
    ) {
        return Err(ApiError::param(
            "(#100) Param category must be one of {UTILITY, MARKETING, AUTHENTICATION}.",
        ));
    }
    let Some(Value::Array(components)) = obj.get("components") else {
        return Err(ApiError::param(
            "(#100) The parameter components is required.",
        ));
    };
    let mut header_format = None;
    let mut handle = None;
    let mut body_params = None;
    for c in components {
        let Some(c) = c.as_object() else {
            return Err(ApiError::param(
                "(#100) Each component must be a JSON object.",
            ));
        };
        match c
            .get("type")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("HEADER") => {
                let format = str_field(c, "format")?.to_ascii_uppercase();
                if matches!(format.as_str(), "IMAGE" | "VIDEO" | "DOCUMENT") {
                    let h = c
                        .get("example")
                        .and_then(|e| e.get("header_handle"))
                        .and_then(|h| h.get(0))
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            ApiError::param(format!(
                                "(#100) A {format} header needs example.header_handle: a \
                                 handle from the Resumable Upload API."
                            ))
                        })?;
                    let Some(file_type) = shared.resumable.handle_type(h) else {
                        return Err(ApiError::param(
                            "(#100) Param example.header_handle is not a valid file handle of \
                             the Resumable Upload API.",
                        ));
                    };
                    let fits = match format.as_str() {
                        "DOCUMENT" => file_type == "application/pdf",
                        "IMAGE" => file_type.starts_with("image/"),
                        _ => file_type == "video/mp4",
                    };
                    if !fits {
                        return Err(ApiError::param(format!(
                            "(#100) The example handle is a {file_type} file, which a {format} \
                             header does not take."
                        )));
                    }
                    handle = Some(h.to_owned());
                } else if format != "TEXT" {
                    return Err(ApiError::param(
                        "(#100) Param format must be one of {TEXT, IMAGE, VIDEO, DOCUMENT}.",
                    ));
                }
                header_format = Some(format);
            }
            Some("BODY") => {
                let text = str_field(c, "text")?;
                let n = count_placeholders(text);
                let examples = c
                    .get("example")
                    .and_then(|e| e.get("body_text"))
                    .and_then(|b| b.get(0))
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                if n != examples {
                    return Err(ApiError::param(format!(
                        "(#100) The body has {n} parameters but example.body_text gives {examples} \
                         values."
                    )));
                }
                body_params = Some(n);
            }
            _ => {}
        }
    }
    let Some(body_params) = body_params else {
        return Err(ApiError::param("(#100) A template needs a BODY component."));
    };
    let exists = shared.templates.records().iter().any(|r| {
        r.stored.waba_id == waba_id
            && r.stored.template.name == name
            && r.stored.template.language == language
    });
    if exists {
        let mut e = ApiError::param(format!(
            "(#100) Content in this language already exists: {name} ({language})."
        ));
        e.error.error_subcode = Some(2388024);
        return Err(e);
    }
    let now = shared.now();
    let delay = shared.config.template_approval_delay.as_secs();
    let template = EmulatedTemplate {
        name: name.to_owned(),
        language: language.to_owned(),
        category: category.clone(),
        header_format,
        body_params,
        status: TemplateStatus::Pending,
    };
    let stored = StoredTemplate {
        id: new_id(),
        waba_id: waba_id.to_owned(),
        template,
        header_handle: handle,
    };
    let record = Record {
        stored,
        approve_at: Some(now.saturating_add(delay)),
    };
    let now_view = record.at(now);
    shared.templates.records().push(record);
    Ok(json!({
        "id": now_view.id,
        "status": now_view.template.status.as_str(),
        "category": category,
    }))
}

/// The `template` object of a send, as parsed.
#[derive(Debug, Clone)]
pub(crate) struct TemplateSend {
    pub(crate) name: String,
    pub(crate) language: String,
    /// The header parameter: its type, id or link, and file name.
    pub(crate) header: Option<HeaderParam>,
    /// The body's text parameters, in order.
    pub(crate) body: Vec<String>,
}

/// A template's media header parameter.
#[derive(Debug, Clone)]
pub(crate) struct HeaderParam {
    pub(crate) kind: String,
    pub(crate) id: Option<String>,
    pub(crate) link: Option<String>,
    pub(crate) filename: Option<String>,
}

fn param(msg: impl Into<String>) -> ApiError {
    ApiError::param(msg.into())
}

/// Parses the `template` object of a send (its shape; whether it fits a template is
/// [`check`]'s).
pub(crate) fn parse_send(obj: &Map<String, Value>) -> Result<TemplateSend, ApiError> {
    let Some(Value::Object(t)) = obj.get("template") else {
        return Err(param("(#100) The parameter template is required."));
    };
    let name = str_field(t, "name")
        .map_err(|_| param("(#100) The parameter template['name'] is required."))?;
    let language = t
        .get("language")
        .and_then(|l| l.get("code"))
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| param("(#100) The parameter template['language']['code'] is required."))?;
    let mut header = None;
    let mut body = Vec::new();
    let components = match t.get("components") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(c)) => c.clone(),
        Some(_) => {
            return Err(param(
                "(#100) Param template['components'] must be an array.",
            ))
        }
    };
    for c in &components {
        let ty = c
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let params = c
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match ty.as_str() {
            "header" => {
                for p in &params {
                    let kind = p
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    if matches!(kind.as_str(), "image" | "video" | "document") {
                        let Some(m) = p.get(kind.as_str()).and_then(Value::as_object) else {
                            return Err(param(format!(
                                "(#100) The parameter template['components'][header]['parameters'][0]['{kind}'] is required."
                            )));
                        };
                        let id = m.get("id").and_then(Value::as_str).map(str::to_owned);
                        let link = m.get("link").and_then(Value::as_str).map(str::to_owned);
                        if id.is_some() == link.is_some() {
                            return Err(param(format!(
                                "(#100) A {kind} header parameter takes exactly one of id and link."
                            )));
                        }
                        if let Some(l) = &link {
                            let ok = url::Url::parse(l)
                                .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
                            if !ok {
                                return Err(ApiError::param_value(format!(
                                    "Param {kind}['link'] must be an https:// URL."
                                )));
                            }
                        }
                        let filename = m.get("filename").and_then(Value::as_str).map(str::to_owned);
                        header = Some(HeaderParam {
                            kind,
                            id,
                            link,
                            filename,
                        });
                    } else {
                        header = Some(HeaderParam {
                            kind,
                            id: None,
                            link: None,
                            filename: None,
                        });
                    }
                }
            }
            "body" => {
                for p in &params {
                    let text = p.get("text").and_then(Value::as_str).unwrap_or("");
                    body.push(text.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(TemplateSend {
        name: name.to_owned(),
        language: language.to_owned(),
        header,
        body,
    })
}

/// Checks a template send against the known templates; returns the template's category.
pub(crate) fn check(shared: &Shared, send: &TemplateSend) -> Result<String, ApiError> {
    let now = shared.now();
    let all = shared.templates.list(now);
    let found: Vec<&StoredTemplate> = all
        .iter()
        .filter(|t| t.template.name == send.name && t.template.language == send.language)
        .collect();
    let usable = found
        .iter()
        .find(|t| t.template.status == TemplateStatus::Approved)
        .or_else(|| found.first());
    let Some(t) = usable.map(|t| &t.template) else {
        return Err(ApiError::messaging(
            132001,
            "Template name does not exist in the translation",
            format!(
                "template name ({}) does not exist in {}",
                send.name.chars().take(100).collect::<String>(),
                send.language.chars().take(20).collect::<String>()
            ),
        ));
    };
    match t.status {
        TemplateStatus::Approved => {}
        TemplateStatus::Paused => {
            return Err(ApiError::messaging(
                132015,
                "Template is Paused",
                format!("Template {} is paused due to low quality.", t.name),
            ))
        }
        TemplateStatus::Disabled => {
            return Err(ApiError::messaging(
                132016,
                "Template is Disabled",
                format!("Template {} is disabled due to low quality.", t.name),
            ))
        }
        TemplateStatus::Pending | TemplateStatus::Rejected => {
            return Err(ApiError::messaging(
                132001,
                "Template name does not exist in the translation",
                format!(
                    "template name ({}) in {} is not approved (status {})",
                    t.name,
                    t.language,
                    t.status.as_str()
                ),
            ))
        }
    }
    let want = t.header_format.as_deref().map(str::to_ascii_lowercase);
    let media_header = want
        .as_deref()
        .is_some_and(|f| matches!(f, "image" | "video" | "document"));
    let given = send.header.as_ref().map(|h| h.kind.as_str());
    let fits = match (media_header, given) {
        (true, Some(g)) => want.as_deref() == Some(g),
        (true, None) => false,
        (false, Some(g)) => matches!(g, "text") && want.as_deref() == Some("text"),
        (false, None) => true,
    };
    if !fits {
        return Err(ApiError::messaging(
            132012,
            "Parameter format does not match format in the created template",
            format!(
                "header: the template's header is {}, the message gives {}",
                t.header_format.as_deref().unwrap_or("none"),
                given.unwrap_or("none")
            ),
        ));
    }
    if send.body.len() != t.body_params {
        return Err(ApiError::messaging(
            132000,
            "Number of parameters does not match the expected number of params",
            format!(
                "body: number of localizable_params ({}) does not match the expected number of params ({})",
                send.body.len(),
                t.body_params
            ),
        ));
    }
    if send.body.iter().any(|p| p.trim().is_empty()) {
        return Err(ApiError::messaging(
            132000,
            "Number of parameters does not match the expected number of params",
            "body: a parameter is empty",
        ));
    }
    Ok(t.category.to_ascii_lowercase())
}
