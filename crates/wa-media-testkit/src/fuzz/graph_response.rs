//! Fuzz harness: what the Graph host or the download host may answer — the response models,
//! the error envelope, and wa-media-core's sans-I/O interpretation of every operation's
//! response under a status and headers taken from the input. Shared by the `graph_response`
//! fuzz target and the corpus replay test; must never panic.

use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, LOCATION, RETRY_AFTER};
use wa_media_core::protocol;
use wa_media_types::{DeleteResponse, ErrorBody, MediaUrlResponse, UploadResponse};

const STATUSES: [u16; 12] = [200, 201, 204, 301, 302, 400, 401, 404, 410, 429, 500, 503];

/// Runs one input.
pub fn run(data: &[u8]) {
    let _ = serde_json::from_slice::<MediaUrlResponse>(data);
    let _ = serde_json::from_slice::<UploadResponse>(data);
    let _ = serde_json::from_slice::<DeleteResponse>(data);
    let body = ErrorBody::parse(data);
    let _ = (
        body.to_string(),
        body.graph().map(|g| g.class().is_retryable()),
    );

    let status = STATUSES[data.first().map_or(0, |b| *b as usize) % STATUSES.len()];
    let text = String::from_utf8_lossy(&data[..data.len().min(64)]).into_owned();
    let mut builder = http::Response::builder().status(status);
    if let Ok(v) = HeaderValue::from_str(text.trim()) {
        builder = builder
            .header(RETRY_AFTER, v.clone())
            .header(LOCATION, v.clone())
            .header(CONTENT_LENGTH, v.clone())
            .header("x-fb-trace-id", v);
    }
    let Ok(resp) = builder.body(Bytes::copy_from_slice(data)) else {
        return;
    };
    if let Ok(r) = protocol::parse_retrieve_response(&resp) {
        // A parsed URL is absolute; redacting it never keeps the query.
        let url =
            protocol::parse_media_url(r.url.expose()).expect("checked by parse_retrieve_response");
        assert!(!protocol::redact_url(&url).contains('?'));
    }
    let _ = protocol::parse_upload_response(&resp);
    let _ = protocol::parse_delete_response(&resp);
    let e = protocol::parse_error_response("download", &resp);
    let _ = (
        e.to_string(),
        format!("{e:?}"),
        e.is_retryable(),
        e.retry_after(),
    );
    let _ = protocol::classify_download_head(resp.status(), resp.headers());
    let _ = protocol::content_length(resp.headers());
    let _ = wa_media_core::parse_retry_after(resp.headers(), SystemTime::now());
    if let Ok(u) = protocol::parse_media_url(&text) {
        let _ = protocol::redact_url(&u);
    }
}
