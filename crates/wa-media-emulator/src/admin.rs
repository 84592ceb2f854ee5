//! The emulator's own endpoints, beyond the real API, under `/__emulator/` on the Graph origin:
//! health (with the webhook delivery counts), fault injection, the request log, inbound
//! simulation, the clock, stored media and sent messages. They are not written to the request
//! log.
//!
//! A web page in the developer's browser must not be able to drive them (CSRF, DNS rebinding),
//! so every admin request is checked, in this order: the `Host` names this emulator (421
//! otherwise), an `Origin`, when present, is the emulator's own (403), the admin token when one
//! is configured (401), and a body has a type no HTML form or simple `fetch` can send (415).

use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::Body;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq as _;
use wa_media_types::{MediaType, PhoneNumberId};

use crate::body::EmuBody;
use crate::clock::{unix_secs, Clock as _};
use crate::config::ADMIN_TOKEN_HEADER;
use crate::fault::{Endpoint, Fault};
use crate::inbound::{self, InboundMeta};
use crate::state::Shared;
use crate::upload;

const MAX_JSON_BODY: usize = 64 * 1024;

/// The body types a browser sends cross-origin without a CORS preflight (the "CORS-safelisted"
/// request content types): never accepted by an admin endpoint.
const FORM_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

fn json_reply(status: StatusCode, value: &serde_json::Value) -> Response<EmuBody> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(EmuBody::full(bytes))
        .unwrap_or_else(|_| Response::new(EmuBody::empty()))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response<EmuBody> {
    json_reply(status, &json!({ "error": message.into() }))
}

async fn read_json<B, T>(shared: &Shared, body: B) -> Result<T, Response<EmuBody>>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T: serde::de::DeserializeOwned,
{
    let bytes = upload::collect_limited(body, MAX_JSON_BODY, shared.config.body_timeout)
        .await
        .map_err(|e| match e {
            upload::CollectError::TooLarge => {
                error(StatusCode::PAYLOAD_TOO_LARGE, "the body is over 64 KiB")
            }
            upload::CollectError::TimedOut => error(
                StatusCode::REQUEST_TIMEOUT,
                "the body was not received within the body timeout",
            ),
            upload::CollectError::Broken => {
                error(StatusCode::BAD_REQUEST, "the body is unreadable")
            }
        })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))
}

/// The `host[:port]` a request names: its `Host` header, else the URI's authority (HTTP/2 and
/// the in-process transport).
fn request_host<B>(req: &Request<B>) -> Option<http::uri::Authority> {
    match req.headers().get(header::HOST) {
        Some(h) => h.to_str().ok()?.trim().parse().ok(),
        None => req.uri().authority().cloned(),
    }
}

/// Whether `host`/`port` name this emulator's Graph origin: its listener address (any IP
/// address when it listens on all of them), `localhost`, or the public Graph URL's host. A port,
/// when given, must be the listener's (or the public URL's, for the public host). IP literals and
/// `localhost` cannot be rebound by an attacker's DNS; any other name must be configured.
fn names_this_emulator(shared: &Shared, host: &str, port: Option<u16>) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let listen = shared.graph_addr;
    let default_port = if shared.config.tls { 443 } else { 80 };
    let port_ok = |extra: Option<u16>| match port {
        None => listen.port() == default_port || extra == Some(default_port),
        Some(p) => p == listen.port() || Some(p) == extra,
    };
    if host.eq_ignore_ascii_case("localhost") {
        return port_ok(None);
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return (ip == listen.ip() || listen.ip().is_unspecified()) && port_ok(None);
    }
    match url::Url::parse(&shared.graph_url) {
        Ok(public) => {
            public
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(host))
                && port_ok(public.port_or_known_default())
        }
        Err(_) => false,
    }
}

/// Whether an `Origin` header value is the emulator's own Graph origin.
fn is_own_origin(shared: &Shared, origin: &str) -> bool {
    let Ok(u) = url::Url::parse(origin.trim()) else {
        return false;
    };
    let scheme_ok = u.scheme() == if shared.config.tls { "https" } else { "http" };
    scheme_ok
        && u.host_str()
            .is_some_and(|h| names_this_emulator(shared, h, u.port_or_known_default()))
}

/// The MIME essence of a Content-Type header, lowercase.
fn essence(content_type: Option<&str>) -> Option<String> {
    let ct = content_type?;
    let e = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!e.is_empty()).then_some(e)
}

/// Refuses admin requests a browser page could have sent; `None` lets the request through.
fn refuse<B: Body>(shared: &Shared, req: &Request<B>, path: &str) -> Option<Response<EmuBody>> {
    let host_ok =
        request_host(req).is_some_and(|a| names_this_emulator(shared, a.host(), a.port_u16()));
    if !host_ok {
        return Some(error(
            StatusCode::MISDIRECTED_REQUEST,
            "the Host header must name this emulator (its listen address, localhost, or its \
             public Graph host); see docs/emulator.md",
        ));
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        if !origin.to_str().is_ok_and(|o| is_own_origin(shared, o)) {
            return Some(error(
                StatusCode::FORBIDDEN,
                "cross-origin requests to the emulator's admin endpoints are refused",
            ));
        }
    }
    if let Some(expected) = &shared.config.admin_token {
        let given = req
            .headers()
            .get(ADMIN_TOKEN_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let exempt = req.method() == Method::GET && path == "/__emulator/health";
        if !exempt && !bool::from(given.ct_eq(expected.as_bytes())) {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "this emulator requires its admin token in the X-Emulator-Admin-Token header",
            ));
        }
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let ty = essence(content_type);
    let has_body = req.method() == Method::POST
        || !(req.body().is_end_stream() || req.body().size_hint().exact() == Some(0));
    if has_body {
        let ok = if path == "/__emulator/inbound" {
            // The file itself: its media type or application/octet-stream, never a form type.
            ty.as_deref().is_some_and(|t| !FORM_TYPES.contains(&t))
        } else {
            ty.as_deref() == Some("application/json")
        };
        if !ok {
            let want = if path == "/__emulator/inbound" {
                "the file's media type or application/octet-stream (with ?mime_type=)"
            } else {
                "application/json"
            };
            return Some(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the body of this admin request must be {want}"),
            ));
        }
    }
    None
}

#[derive(Deserialize)]
struct FaultRequest {
    endpoint: Endpoint,
    fault: Fault,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
struct AdvanceRequest {
    seconds: u64,
}

fn query_map(query: Option<&str>) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) async fn handle<B>(shared: &Shared, req: Request<B>) -> Response<EmuBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = req.uri().path().trim_end_matches('/').to_owned();
    if let Some(refused) = refuse(shared, &req, &path) {
        if !req.body().is_end_stream() {
            upload::discard_body(req.into_body(), shared.config.body_timeout);
        }
        return refused;
    }
    let query = req.uri().query().map(str::to_owned);
    let method = req.method().clone();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = req.into_body();
    match (method, path.as_str()) {
        (Method::GET, "/__emulator/health") => {
            let mut health = json!({"ok": true});
            if let (Some(d), Some(obj)) = (&shared.delivery, health.as_object_mut()) {
                obj.insert("webhook".to_owned(), json!(d.stats()));
            }
            json_reply(StatusCode::OK, &health)
        }
        (Method::GET, "/__emulator/faults") => {
            json_reply(StatusCode::OK, &json!(shared.faults.pending()))
        }
        (Method::POST, "/__emulator/faults") => {
            match read_json::<_, FaultRequest>(shared, body).await {
                Ok(f) => match shared.faults.try_push(f.endpoint, f.fault, f.count) {
                    Ok(()) => json_reply(StatusCode::OK, &json!(shared.faults.pending())),
                    Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
                },
                Err(r) => r,
            }
        }
        (Method::DELETE, "/__emulator/faults") => {
            shared.faults.clear();
            json_reply(StatusCode::OK, &json!([]))
        }
        (Method::GET, "/__emulator/requests") => {
            json_reply(StatusCode::OK, &json!(shared.log.snapshot()))
        }
        (Method::DELETE, "/__emulator/requests") => {
            shared.log.clear();
            json_reply(StatusCode::OK, &json!([]))
        }
        (Method::GET, "/__emulator/messages") => {
            json_reply(StatusCode::OK, &json!(shared.outbox.list()))
        }
        (Method::DELETE, "/__emulator/messages") => {
            shared.outbox.clear();
            json_reply(StatusCode::OK, &json!([]))
        }
        (Method::GET, "/__emulator/media") => {
            json_reply(StatusCode::OK, &json!(shared.store.list()))
        }
        (Method::GET, "/__emulator/clock") => {
            json_reply(StatusCode::OK, &json!({ "now": shared.now() }))
        }
        (Method::POST, "/__emulator/clock/advance") => {
            match read_json::<_, AdvanceRequest>(shared, body).await {
                Ok(a) => match shared.advance_clock(Duration::from_secs(a.seconds)) {
                    Ok(_) => json_reply(
                        StatusCode::OK,
                        &json!({ "now": unix_secs(shared.clock.now()) }),
                    ),
                    Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
                },
                Err(r) => r,
            }
        }
        (Method::POST, "/__emulator/inbound") => {
            inbound_over_http(shared, query.as_deref(), content_type.as_deref(), body).await
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "unknown emulator endpoint; see docs/emulator.md",
        ),
    }
}

async fn inbound_over_http<B>(
    shared: &Shared,
    query: Option<&str>,
    content_type: Option<&str>,
    body: B,
) -> Response<EmuBody>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let q = query_map(query);
    let Some(mime) = q
        .get("mime_type")
        .map(String::as_str)
        .or(content_type)
        .and_then(|m| MediaType::parse(m).ok())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "give the MIME type as ?mime_type=… or as the Content-Type header",
        );
    };
    let phone_number_id = match q.get("phone_number_id").map(PhoneNumberId::new) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let spooled = match upload::receive_raw(
        &shared.store,
        mime.clone(),
        body,
        shared.config.body_timeout,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return error(e.status, e.error.message.clone()),
    };
    let flag = |name: &str| -> Result<Option<bool>, String> {
        match q.get(name).map(String::as_str) {
            None => Ok(None),
            Some("true" | "1" | "yes") => Ok(Some(true)),
            Some("false" | "0" | "no") => Ok(Some(false)),
            Some(other) => Err(format!(
                "{name} must be true or false, not {:?}",
                other.chars().take(40).collect::<String>()
            )),
        }
    };
    let (phone, media_url) = match (flag("phone"), flag("media_url")) {
        (Ok(p), Ok(m)) => (p.unwrap_or(true), m),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e),
    };
    let meta = InboundMeta {
        mime_type: mime,
        filename: q.get("filename").cloned(),
        caption: q.get("caption").cloned(),
        voice: q
            .get("voice")
            .is_some_and(|v| matches!(v.as_str(), "true" | "1" | "yes")),
        from: q
            .get("from")
            .cloned()
            .unwrap_or_else(|| inbound::DEFAULT_INBOUND_FROM.to_owned()),
        phone,
        user_id: q.get("user_id").cloned(),
        parent_user_id: q.get("parent_user_id").cloned(),
        username: q.get("username").cloned(),
        profile_name: q
            .get("profile_name")
            .cloned()
            .unwrap_or_else(|| inbound::DEFAULT_PROFILE_NAME.to_owned()),
        phone_number_id,
        media_url,
    };
    match inbound::create(shared, spooled, meta) {
        Ok(sim) => {
            let signature = q
                .get("app_secret")
                .map(|s| sim.signature_header(s.as_bytes()));
            json_reply(
                StatusCode::OK,
                &json!({
                    "media_id": sim.media_id.as_str(),
                    "message_id": sim.message_id,
                    "kind": sim.kind,
                    "body": sim.body,
                    "notification": sim.notification,
                    "signature": signature,
                }),
            )
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}
