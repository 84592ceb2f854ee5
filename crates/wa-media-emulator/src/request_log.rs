//! The request log: what reached the emulator (method, origin, path, header names, status),
//! never header values, query strings or bodies — so the token can never be in it.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::fault::Endpoint;

/// Which of the two listeners a request reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Origin {
    /// The Graph API host (`graph.facebook.com`): upload, retrieve, delete, `/__emulator/`.
    Graph,
    /// The download host (`lookaside.fbsbx.com`).
    Lookaside,
    /// A webhook delivery the emulator made (a POST to the configured webhook URL). Never the
    /// origin of a request the emulator serves: its listeners are Graph and Lookaside only.
    Webhook,
}

/// One request as the emulator saw it. Safe to print: it holds no header values, no query
/// string (signed URLs carry their signature there) and no body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// Which listener received it.
    pub origin: Origin,
    /// The HTTP method (`GET`, `POST`, …).
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The endpoint the request was routed to, when it was a media endpoint, the messages
    /// endpoint or (origin webhook) one of the emulator's own deliveries.
    pub endpoint: Option<Endpoint>,
    /// Names (lowercase) of the headers that were present, in the order received.
    pub headers: Vec<String>,
    /// Whether the request carried `Authorization: Bearer <the emulator's token>`.
    pub authorized: bool,
    /// The response status; `0` when the connection was reset before any response.
    pub status: u16,
    /// The injected fault applied to this request, as its JSON `kind` (e.g. `rate_limited`).
    pub fault: Option<String>,
}

impl LoggedRequest {
    /// Whether a header named `name` (any case) was present.
    pub fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// How many requests the log keeps (the oldest are dropped first).
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl LoggedRequest {
    /// One attempt of a webhook delivery: `status` 0 when no answer came.
    pub(crate) fn delivery(path: String, status: u16, fault: Option<String>) -> Self {
        Self {
            origin: Origin::Webhook,
            method: "POST".to_owned(),
            path,
            endpoint: Some(crate::fault::Endpoint::Webhook),
            headers: vec![
                "content-type".to_owned(),
                "user-agent".to_owned(),
                "x-hub-signature-256".to_owned(),
            ],
            authorized: false,
            status,
            fault,
        }
    }
}

impl RequestLog {
    pub(crate) fn push(&self, entry: LoggedRequest) {
        tracing::info!(
            origin = ?entry.origin,
            method = %entry.method,
            path = %entry.path,
            status = entry.status,
            fault = entry.fault.as_deref().unwrap_or("-"),
            "request"
        );
        let mut e = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if e.len() >= REQUEST_LOG_CAPACITY {
            e.pop_front();
        }
        e.push_back(entry);
    }

    pub(crate) fn snapshot(&self) -> Vec<LoggedRequest> {
        let e = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        e.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
