//! The emulator's own endpoints, beyond the real API, under `/__emulator/` on the Graph origin:
//! fault injection, the request log, inbound simulation, the clock and stored media. They need
//! no token and are not written to the request log.

use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt as _;
use serde::Deserialize;
use serde_json::json;
use wa_media_types::{MediaType, PhoneNumberId};

use crate::body::EmuBody;
use crate::clock::Clock as _;
use crate::fault::{Endpoint, Fault};
use crate::inbound::{self, InboundMeta};
use crate::service::Shared;
use crate::upload;

const MAX_JSON_BODY: usize = 64 * 1024;

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

async fn read_json<B, T>(body: B) -> Result<T, Response<EmuBody>>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T: serde::de::DeserializeOwned,
{
    let bytes = http_body_util::Limited::new(body, MAX_JSON_BODY)
        .collect()
        .await
        .map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "the body is unreadable or over 64 KiB",
            )
        })?
        .to_bytes();
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))
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
    let query = req.uri().query().map(str::to_owned);
    let method = req.method().clone();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = req.into_body();
    match (method, path.as_str()) {
        (Method::GET, "/__emulator/health") => json_reply(StatusCode::OK, &json!({"ok": true})),
        (Method::GET, "/__emulator/faults") => {
            json_reply(StatusCode::OK, &json!(shared.faults.pending()))
        }
        (Method::POST, "/__emulator/faults") => match read_json::<_, FaultRequest>(body).await {
            Ok(f) => {
                shared.faults.push(f.endpoint, f.fault, f.count);
                json_reply(StatusCode::OK, &json!(shared.faults.pending()))
            }
            Err(r) => r,
        },
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
        (Method::GET, "/__emulator/media") => {
            json_reply(StatusCode::OK, &json!(shared.store.list()))
        }
        (Method::GET, "/__emulator/clock") => {
            json_reply(StatusCode::OK, &json!({ "now": shared.now() }))
        }
        (Method::POST, "/__emulator/clock/advance") => {
            match read_json::<_, AdvanceRequest>(body).await {
                Ok(a) => {
                    shared.clock.advance(Duration::from_secs(a.seconds));
                    json_reply(
                        StatusCode::OK,
                        &json!({ "now": crate::clock::unix_secs(shared.clock.now()) }),
                    )
                }
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
    let spooled = match upload::receive_raw(&shared.store, mime.clone(), body).await {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.error.to_string()),
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
            .unwrap_or_else(|| "15551234567".to_owned()),
        profile_name: q
            .get("profile_name")
            .cloned()
            .unwrap_or_else(|| "Test Customer".to_owned()),
        phone_number_id,
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
