//! The protocol without I/O: building each request and interpreting each response are plain
//! functions, so every rule is testable without a transport.
//!
//! The client ([`crate::MediaClient`]) only adds sending, timeouts, retries and streaming.
//!
//! Not a stable API: public only with the `test-util` feature, for this workspace's tests,
//! fuzzing and benches.
#![cfg_attr(not(feature = "test-util"), allow(dead_code, unreachable_pub))]

use bytes::Bytes;
use http::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, USER_AGENT,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use url::Url;
use wa_media_types::{
    ErrorBody, MediaId, MediaUrlResponse, PhoneNumberId, SendMedia, SentMessage, UploadResponse,
};

use crate::config::ClientConfig;
use crate::error::{ApiError, Error};
use crate::multipart::MultipartBody;
use crate::token::AccessToken;
use crate::transport::RequestBody;
use crate::trust::{host_key, scheme_check};

/// Largest JSON response body read into memory (success or error), in bytes.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// Statuses with which the download host refuses an expired or already-used URL.
pub const EXPIRED_URL_STATUSES: [StatusCode; 4] = [
    StatusCode::UNAUTHORIZED,
    StatusCode::FORBIDDEN,
    StatusCode::NOT_FOUND,
    StatusCode::GONE,
];

/// `{graph}/{version}/{segments…}`.
pub fn graph_endpoint(cfg: &ClientConfig, segments: &[&str]) -> Url {
    let mut url = cfg.graph_url.clone();
    {
        // A base URL that cannot be a base was refused when the config was built; if it ever
        // happens the path is simply not extended and the request fails at the server.
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty();
            p.push(&cfg.api_version.to_string());
            for s in segments {
                p.push(s);
            }
        }
    }
    url
}

/// A URL as it may appear in logs and errors: scheme, host, port and path, never the query
/// (signed download URLs carry their signature there) or credentials.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// Whether the token may be sent to `url`: its origin is the Graph origin, or it is on the
/// allowlist; https is required except on loopback. Checked before any request is built.
pub fn check_trusted(cfg: &ClientConfig, url: &Url) -> Result<(), Error> {
    let host = host_key(url).unwrap_or_default();
    if let Err(scheme) = scheme_check(url) {
        return Err(Error::InsecureUrl {
            scheme: if scheme == "http" {
                "http".to_owned()
            } else {
                url.scheme().chars().take(20).collect()
            },
            host,
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::UntrustedHost { host });
    }
    let graph = &cfg.graph_url;
    let same_origin = url.scheme() == graph.scheme()
        && host_key(graph).as_deref() == Some(host.as_str())
        && url.port_or_known_default() == graph.port_or_known_default();
    if same_origin || cfg.trusted_hosts.allows(url) {
        Ok(())
    } else {
        Err(Error::UntrustedHost { host })
    }
}

fn bearer(token: &AccessToken) -> Result<HeaderValue, Error> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| Error::Config(crate::error::ConfigError::Token))?;
    v.set_sensitive(true);
    Ok(v)
}

/// `Authorization: OAuth <token>`: the form Meta's Resumable Upload API documents.
fn oauth(token: &AccessToken) -> Result<HeaderValue, Error> {
    let mut v = HeaderValue::from_str(&format!("OAuth {}", token.expose_secret()))
        .map_err(|_| Error::Config(crate::error::ConfigError::Token))?;
    v.set_sensitive(true);
    Ok(v)
}

fn request(
    cfg: &ClientConfig,
    token: &AccessToken,
    method: Method,
    url: &Url,
    body: RequestBody,
    accept: &'static str,
) -> Result<Request<RequestBody>, Error> {
    let mut req = unauthorised_request(cfg, method, url, body, accept)?;
    req.headers_mut().insert(AUTHORIZATION, bearer(token)?);
    Ok(req)
}

/// A request for `url` (checked to be trusted, so a token added after goes to a trusted
/// host only) with the User-Agent and `Accept`, and no `Authorization` yet.
fn unauthorised_request(
    cfg: &ClientConfig,
    method: Method,
    url: &Url,
    body: RequestBody,
    accept: &'static str,
) -> Result<Request<RequestBody>, Error> {
    check_trusted(cfg, url)?;
    let uri: http::Uri = url.as_str().parse().map_err(|_| Error::InvalidUrl {
        reason: "not representable as an HTTP URI".to_owned(),
    })?;
    let mut req = Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    let h = req.headers_mut();
    h.insert(USER_AGENT, cfg.user_agent.clone());
    h.insert(ACCEPT, HeaderValue::from_static(accept));
    Ok(req)
}

/// `POST {graph}/{version}/{phone_number_id}/media` with the multipart body; the number is
/// `phone` (the upload's own) or else the configuration's.
pub fn build_upload_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    phone: Option<&PhoneNumberId>,
    multipart: &MultipartBody,
    body: RequestBody,
) -> Result<Request<RequestBody>, Error> {
    let phone = phone.or(cfg.phone_number_id.as_ref()).ok_or_else(|| {
        Error::Config(crate::error::ConfigError::PhoneNumberId(
            "not configured".to_owned(),
        ))
    })?;
    let url = graph_endpoint(cfg, &[phone.as_str(), "media"]);
    let mut req = request(cfg, token, Method::POST, &url, body, "application/json")?;
    let h = req.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&multipart.content_type()).map_err(|_| Error::InvalidUrl {
            reason: "boundary is not a header value".to_owned(),
        })?,
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(multipart.len()));
    Ok(req)
}

/// `POST {graph}/{version}/{phone_number_id}/messages` with the message's JSON body
/// ([`SendMedia::to_json`]). The message is not validated here; the client does that first.
pub fn build_send_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    msg: &SendMedia,
) -> Result<Request<RequestBody>, Error> {
    build_message_request(cfg, token, &msg.to_json())
}

/// `POST {graph}/{version}/{phone_number_id}/messages` with any message's JSON body (a media
/// message's, a template message's).
pub fn build_message_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    message: &serde_json::Value,
) -> Result<Request<RequestBody>, Error> {
    let phone = cfg.phone_number_id.as_ref().ok_or_else(|| {
        Error::Config(crate::error::ConfigError::PhoneNumberId(
            "not configured (sending messages needs it)".to_owned(),
        ))
    })?;
    let url = graph_endpoint(cfg, &[phone.as_str(), "messages"]);
    build_json_post(cfg, token, &url, message)
}

/// `POST url` with a JSON body and the Bearer token.
fn build_json_post(
    cfg: &ClientConfig,
    token: &AccessToken,
    url: &Url,
    value: &serde_json::Value,
) -> Result<Request<RequestBody>, Error> {
    let body = serde_json::to_vec(value).map_err(|e| Error::InvalidUrl {
        reason: format!("the request could not be serialised: {e}"),
    })?;
    let len = body.len();
    let mut req = request(
        cfg,
        token,
        Method::POST,
        url,
        RequestBody::from_bytes(body),
        "application/json",
    )?;
    let h = req.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    Ok(req)
}

/// Interprets a send response: the [`SentMessage`] on 2xx, the Graph error otherwise.
pub fn parse_send_response(resp: &Response<Bytes>) -> Result<SentMessage, Error> {
    if !resp.status().is_success() {
        return Err(parse_error_response("send", resp));
    }
    SentMessage::from_body(resp.body()).map_err(|e| Error::InvalidResponse {
        operation: "send",
        status: resp.status(),
        reason: e.to_string(),
        snippet: snippet(resp.body()),
    })
}

fn scoped(cfg: &ClientConfig, mut url: Url) -> Url {
    if cfg.scope_to_phone_number {
        if let Some(p) = &cfg.phone_number_id {
            url.query_pairs_mut()
                .append_pair("phone_number_id", p.as_str());
        }
    }
    url
}

/// `GET {graph}/{version}/{media_id}` (with `?phone_number_id=` when scoped).
pub fn build_retrieve_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    id: &MediaId,
) -> Result<Request<RequestBody>, Error> {
    let url = scoped(cfg, graph_endpoint(cfg, &[id.as_str()]));
    request(
        cfg,
        token,
        Method::GET,
        &url,
        RequestBody::empty(),
        "application/json",
    )
}

/// `DELETE {graph}/{version}/{media_id}` (with `?phone_number_id=` when scoped).
pub fn build_delete_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    id: &MediaId,
) -> Result<Request<RequestBody>, Error> {
    let url = scoped(cfg, graph_endpoint(cfg, &[id.as_str()]));
    request(
        cfg,
        token,
        Method::DELETE,
        &url,
        RequestBody::empty(),
        "application/json",
    )
}

/// Parses a media URL from a retrieve response (must be absolute).
pub fn parse_media_url(url: &str) -> Result<Url, Error> {
    Url::parse(url.trim()).map_err(|e| Error::InvalidUrl {
        reason: e.to_string(),
    })
}

/// `GET {url}` with the token — only after [`check_trusted`] passed.
pub fn build_download_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    url: &str,
) -> Result<Request<RequestBody>, Error> {
    let url = parse_media_url(url)?;
    request(cfg, token, Method::GET, &url, RequestBody::empty(), "*/*")
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect())
}

fn snippet(body: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(&body[..body.len().min(400)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    redact_url_queries(&s)
}

/// Replaces the query of every URL in `text` (plain or JSON-escaped, `https:\/\/…`) with `?…`:
/// a body quoted in an error may hold a signed download URL, whose query is a credential.
fn redact_url_queries(text: &str) -> String {
    let token_end = |c: char| c == '"' || c == '\'' || c == '<' || c == '>' || c.is_whitespace();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(q) = rest.find('?') {
        let (before, after) = rest.split_at(q);
        let token_start = before.rfind(token_end).map_or(0, |i| i + 1);
        let token = &before[token_start..];
        out.push_str(before);
        if token.contains("://") || token.contains(":\\/\\/") {
            out.push_str("?…");
            let end = after.find(token_end).unwrap_or(after.len());
            rest = &after[end..];
        } else {
            out.push('?');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The error for a redirect answer (never followed): names the status and the target host and
/// path, without the query.
pub fn redirect_error(status: StatusCode, headers: &HeaderMap) -> Error {
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| match Url::parse(l) {
            Ok(u) => redact_url(&u),
            Err(_) => l
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .chars()
                .take(200)
                .collect(),
        });
    Error::Redirect { status, location }
}

/// Interprets a non-2xx response of `operation` (redirects included).
pub fn parse_error_response(operation: &'static str, resp: &Response<Bytes>) -> Error {
    let status = resp.status();
    if status.is_redirection() {
        return redirect_error(status, resp.headers());
    }
    let body = ErrorBody::parse(resp.body());
    let fbtrace_id = header_str(resp.headers(), "x-fb-trace-id")
        .or_else(|| body.graph().and_then(|g| g.fbtrace_id.clone()));
    ApiError {
        operation,
        status,
        body,
        fbtrace_id,
        fb_debug: header_str(resp.headers(), "x-fb-debug"),
        retry_after: crate::retry::parse_retry_after(resp.headers(), std::time::SystemTime::now()),
    }
    .into()
}

fn parse_json<T: serde::de::DeserializeOwned>(
    operation: &'static str,
    resp: &Response<Bytes>,
) -> Result<T, Error> {
    if !resp.status().is_success() {
        return Err(parse_error_response(operation, resp));
    }
    serde_json::from_slice(resp.body()).map_err(|e| Error::InvalidResponse {
        operation,
        status: resp.status(),
        reason: e.to_string(),
        snippet: snippet(resp.body()),
    })
}

/// Interprets an upload response: the new media id.
pub fn parse_upload_response(resp: &Response<Bytes>) -> Result<MediaId, Error> {
    parse_json::<UploadResponse>("upload", resp).map(|r| r.id)
}

/// Interprets a retrieve response. The `url` is checked to be absolute here; whether it may
/// receive the token is checked when downloading.
pub fn parse_retrieve_response(resp: &Response<Bytes>) -> Result<MediaUrlResponse, Error> {
    let r: MediaUrlResponse = parse_json("retrieve", resp)?;
    parse_media_url(r.url.expose())?;
    Ok(r)
}

/// Interprets a delete response; `{"success": false}` is an error.
pub fn parse_delete_response(resp: &Response<Bytes>) -> Result<(), Error> {
    let r: wa_media_types::DeleteResponse = parse_json("delete", resp)?;
    if r.success {
        Ok(())
    } else {
        Err(Error::InvalidResponse {
            operation: "delete",
            status: resp.status(),
            reason: "the API answered success: false; the media was not deleted".to_owned(),
            snippet: snippet(resp.body()),
        })
    }
}

/// What the head of a download response means.
#[derive(Debug)]
#[non_exhaustive]
pub enum DownloadHead {
    /// 2xx: stream the body.
    Body,
    /// 401/403/404/410: the URL expired or was used; retrieve a fresh one.
    Expired(StatusCode),
    /// 3xx: an error (redirects are never followed).
    Redirect(Error),
    /// Any other status: read the (small) body and build the error with
    /// [`parse_error_response`].
    Error(StatusCode),
}

/// Classifies a download response by its status.
pub fn classify_download_head(status: StatusCode, headers: &HeaderMap) -> DownloadHead {
    if status.is_success() {
        DownloadHead::Body
    } else if status.is_redirection() {
        DownloadHead::Redirect(redirect_error(status, headers))
    } else if EXPIRED_URL_STATUSES.contains(&status) {
        DownloadHead::Expired(status)
    } else {
        DownloadHead::Error(status)
    }
}

/// The `Content-Length` of a response, when present and valid.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

/// A Graph id given by the caller (an app id, a WhatsApp Business Account id): digits only.
fn graph_id<'a>(what: &'static str, id: &'a str) -> Result<&'a str, Error> {
    if !id.is_empty()
        && id.len() <= wa_media_types::MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_digit())
    {
        Ok(id)
    } else {
        Err(Error::Config(crate::error::ConfigError::GraphId {
            what,
            given: id.chars().take(40).collect(),
        }))
    }
}

/// `POST {graph}/{version}/{waba_id}/message_templates` with the template's JSON.
pub fn build_create_template_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    waba_id: &str,
    template: &wa_media_types::TemplateDefinition,
) -> Result<Request<RequestBody>, Error> {
    let waba = graph_id("WhatsApp Business Account id", waba_id)?;
    let url = graph_endpoint(cfg, &[waba, "message_templates"]);
    build_json_post(cfg, token, &url, &template.to_json())
}

/// Interprets a template creation's answer.
pub fn parse_create_template_response(
    resp: &Response<Bytes>,
) -> Result<wa_media_types::CreatedTemplate, Error> {
    parse_json("create_template", resp)
}

/// `POST {graph}/{version}/{app_id}/uploads?file_name=…&file_length=…&file_type=…`, the
/// Resumable Upload API's session start, with `Authorization: OAuth`.
pub fn build_resumable_start_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    app_id: &str,
    file_name: &str,
    file_length: u64,
    file_type: &str,
) -> Result<Request<RequestBody>, Error> {
    let app = graph_id("app id", app_id)?;
    let mut url = graph_endpoint(cfg, &[app, "uploads"]);
    url.query_pairs_mut()
        .append_pair("file_name", file_name)
        .append_pair("file_length", &file_length.to_string())
        .append_pair("file_type", file_type);
    let mut req = unauthorised_request(
        cfg,
        Method::POST,
        &url,
        RequestBody::empty(),
        "application/json",
    )?;
    let h = req.headers_mut();
    h.insert(AUTHORIZATION, oauth(token)?);
    h.insert(CONTENT_LENGTH, HeaderValue::from(0u64));
    Ok(req)
}

/// The session's path segment, checked (`upload:…`).
fn session_segment(session: &str) -> Result<&str, Error> {
    if wa_media_types::template::is_upload_session_id(session) {
        Ok(session)
    } else {
        Err(Error::InvalidResponse {
            operation: "upload_resumable",
            status: StatusCode::OK,
            reason: "the upload session id is not upload:<SESSION>".to_owned(),
            snippet: session.chars().take(60).collect(),
        })
    }
}

/// `GET {graph}/{version}/upload:<SESSION>`: how many bytes the session holds.
pub fn build_resumable_status_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    session: &str,
) -> Result<Request<RequestBody>, Error> {
    let url = graph_endpoint(cfg, &[session_segment(session)?]);
    let mut req = unauthorised_request(
        cfg,
        Method::GET,
        &url,
        RequestBody::empty(),
        "application/json",
    )?;
    req.headers_mut().insert(AUTHORIZATION, oauth(token)?);
    Ok(req)
}

/// `POST {graph}/{version}/upload:<SESSION>` with `file_offset: offset` and the file's bytes
/// from there (`len` of them) as the body.
pub fn build_resumable_upload_request(
    cfg: &ClientConfig,
    token: &AccessToken,
    session: &str,
    offset: u64,
    body: RequestBody,
    len: u64,
) -> Result<Request<RequestBody>, Error> {
    let url = graph_endpoint(cfg, &[session_segment(session)?]);
    let mut req = unauthorised_request(cfg, Method::POST, &url, body, "application/json")?;
    let h = req.headers_mut();
    h.insert(AUTHORIZATION, oauth(token)?);
    h.insert("file_offset", HeaderValue::from(offset));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    Ok(req)
}

/// Interprets a session start: `{"id": "upload:…"}`.
pub fn parse_resumable_start_response(resp: &Response<Bytes>) -> Result<String, Error> {
    let s: wa_media_types::UploadSession = parse_json("upload_resumable", resp)?;
    session_segment(&s.id)?;
    Ok(s.id)
}

/// Interprets a session status: the offset to resume from.
pub fn parse_resumable_status_response(resp: &Response<Bytes>) -> Result<u64, Error> {
    parse_json::<wa_media_types::UploadSessionStatus>("upload_resumable", resp)
        .map(|s| s.file_offset)
}

/// Interprets the completing upload: the file handle.
pub fn parse_resumable_upload_response(resp: &Response<Bytes>) -> Result<String, Error> {
    let h: wa_media_types::UploadHandle = parse_json("upload_resumable", resp)?;
    if h.h.is_empty() {
        return Err(Error::InvalidResponse {
            operation: "upload_resumable",
            status: resp.status(),
            reason: "the handle is empty".to_owned(),
            snippet: snippet(resp.body()),
        });
    }
    Ok(h.h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_never_show_a_url_query() {
        let body = br#"{"url":"https://lookaside.fbsbx.com/a/?mid=1&hash=SECRET","x":"why? ok","u2":"https:\/\/h\/p?hash=SECRET2"}"#;
        let s = snippet(body);
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.contains("https://lookaside.fbsbx.com/a/?…\""), "{s}");
        assert!(s.contains("why? ok"), "{s}");
        assert_eq!(redact_url_queries("no url?"), "no url?");
        assert_eq!(redact_url_queries("see http://x/y?z"), "see http://x/y?…");
    }
}
