//! [`WebhookService`]: the `tower_service::Service` Meta's webhook calls reach.
//!
//! - `GET`: Meta's verification handshake (`hub.mode=subscribe`, `hub.verify_token` compared
//!   in constant time) → 200 with `hub.challenge`, anything else → 403.
//! - `POST`: the body read up to a limit (413 beyond it) within a deadline (408), the
//!   `X-Hub-Signature-256` checked over the raw bytes (401 missing, 403 wrong), the JSON parsed
//!   (400 when it is not a WhatsApp notification), every media spooled durably, the user's
//!   [`Handler`] called for the rest (500 when it fails, so Meta redelivers), the notification
//!   queued for the [`Forwarder`] when there is one (500 when it cannot be), then 200.
//! - Every refused delivery is logged once (a warning with its reason) and counted
//!   (`wa_media_notifications_refused_total{reason}`, [`crate::telemetry`]).
//! - While draining ([`WebhookService::drain`]), `POST` answers 503 with `Retry-After: 30`, so
//!   Meta (or a reverse proxy) delivers again later; keep the listener open until the process
//!   exits, so new deliveries get that answer and not a refused connection.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use subtle::ConstantTimeEq;
use wa_media_types::verify_signature;
use wa_media_types::webhook::{inbound_media, Notification};

use crate::entry::SpoolEntry;
use crate::forward::Forwarder;
use crate::handler::Handler;
use crate::ingest::Ingest;
use crate::telemetry;
use crate::time::now_secs;

/// Meta's documented largest webhook payload: 3 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 3 * 1024 * 1024;

/// The webhook path a server mounts the service on by default (`wa-media serve --path`).
pub const DEFAULT_PATH: &str = "/webhook";

/// How long a request body may take to arrive, by default.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The `Retry-After` (seconds) of the 503 answered while draining.
const DRAIN_RETRY_AFTER: &str = "30";

/// The header carrying Meta's signature.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The response body of the service.
pub type ResponseBody = Full<Bytes>;

/// Builds a [`WebhookService`].
pub struct WebhookServiceBuilder {
    ingest: Ingest,
    app_secret: Option<Vec<u8>>,
    skip_signature: bool,
    verify_token: Option<String>,
    body_limit: usize,
    body_timeout: Duration,
    handler: Option<Arc<dyn Handler>>,
    path: Option<String>,
    forwarder: Option<Forwarder>,
}

impl std::fmt::Debug for WebhookServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the app secret or the verify token.
        f.debug_struct("WebhookServiceBuilder")
            .field("app_secret", &self.app_secret.as_ref().map(|_| "***"))
            .field("skip_signature", &self.skip_signature)
            .field("body_limit", &self.body_limit)
            .field("body_timeout", &self.body_timeout)
            .field("handler", &self.handler.is_some())
            .field("path", &self.path)
            .field("forwarder", &self.forwarder)
            .finish()
    }
}

impl WebhookServiceBuilder {
    /// The app secret whose HMAC signs every notification (required unless
    /// [`WebhookServiceBuilder::insecure_skip_signature`]).
    pub fn app_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.app_secret = Some(secret.as_ref().to_vec());
        self
    }

    /// Accepts unsigned notifications. Anyone who can reach the endpoint can then make the
    /// service fetch media ids of their choosing: for local tests only. Logs a warning.
    pub fn insecure_skip_signature(mut self) -> Self {
        self.skip_signature = true;
        self
    }

    /// The verify token configured in Meta's app dashboard, for the GET handshake.
    pub fn verify_token(mut self, token: impl Into<String>) -> Self {
        self.verify_token = Some(token.into());
        self
    }

    /// The largest body accepted (default [`DEFAULT_BODY_LIMIT`]).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long a body may take to arrive (default [`DEFAULT_BODY_TIMEOUT`]); slower → 408.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Receives every notification that holds something other than media.
    pub fn handler(mut self, handler: impl Handler) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// Queues every accepted notification for `forwarder` (durably, before the 200).
    pub fn forwarder(mut self, forwarder: Forwarder) -> Self {
        self.forwarder = Some(forwarder);
        self
    }

    /// Answers only requests for `path` (such as `/webhook`), 404 to any other; by default
    /// every path is the webhook (for a router that mounts the service on its own path).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Builds the service. Fails without an app secret unless the check was explicitly
    /// turned off, and with a path that does not start with `/`.
    pub fn build(self) -> Result<WebhookService, BuildError> {
        if self.path.as_deref().is_some_and(|p| !p.starts_with('/')) {
            return Err(BuildError::Path);
        }
        let secret = match (self.app_secret, self.skip_signature) {
            (Some(s), _) if s.is_empty() => return Err(BuildError::EmptySecret),
            (Some(s), _) => Some(s),
            (None, true) => {
                tracing::warn!("webhook signatures are NOT checked (insecure_skip_signature): anyone reaching this endpoint can make it fetch media");
                None
            }
            (None, false) => return Err(BuildError::NoSecret),
        };
        Ok(WebhookService {
            inner: Arc::new(Inner {
                ingest: self.ingest,
                app_secret: secret,
                verify_token: self.verify_token,
                body_limit: self.body_limit,
                body_timeout: self.body_timeout,
                handler: self.handler,
                path: self.path,
                forwarder: self.forwarder,
                draining: AtomicBool::new(false),
            }),
        })
    }
}

/// Why a [`WebhookService`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No app secret was given and the signature check was not explicitly turned off.
    #[error("an app secret is required to check X-Hub-Signature-256 (or call insecure_skip_signature() for local tests)")]
    NoSecret,
    /// The app secret is empty.
    #[error("the app secret is empty; give the App Secret from the Meta app's settings (App settings > Basic)")]
    EmptySecret,
    /// The path does not start with `/`.
    #[error("the webhook path must start with '/' (such as /webhook)")]
    Path,
}

/// The webhook endpoint as a `tower_service::Service<http::Request<B>>` for any body `B`.
/// Clones share everything.
#[derive(Clone)]
pub struct WebhookService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookService")
            .field("signature_checked", &self.inner.app_secret.is_some())
            .field("body_limit", &self.inner.body_limit)
            .field("draining", &self.inner.draining.load(Ordering::Relaxed))
            .finish()
    }
}

struct Inner {
    ingest: Ingest,
    app_secret: Option<Vec<u8>>,
    verify_token: Option<String>,
    body_limit: usize,
    body_timeout: Duration,
    handler: Option<Arc<dyn Handler>>,
    /// The one path answered (`None`: every path).
    path: Option<String>,
    forwarder: Option<Forwarder>,
    draining: AtomicBool,
}

impl WebhookService {
    /// A builder for a service feeding `ingest`.
    pub fn builder(ingest: Ingest) -> WebhookServiceBuilder {
        WebhookServiceBuilder {
            ingest,
            app_secret: None,
            skip_signature: false,
            verify_token: None,
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            handler: None,
            path: None,
            forwarder: None,
        }
    }

    /// The pipeline behind the service.
    pub fn ingest(&self) -> &Ingest {
        &self.inner.ingest
    }

    /// Whether the service takes deliveries now: not draining, and a byte can be written into
    /// the spool, or its shared queue answered its last check (what `GET /readyz` answers).
    pub fn is_ready(&self) -> bool {
        !self.inner.draining.load(Ordering::SeqCst) && self.inner.ingest.is_ready()
    }

    /// Whether [`WebhookService::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Starts answering deliveries with 503 (Meta redelivers them later); the handshake and
    /// running requests are unaffected. Then stop the ingest with [`Ingest::shutdown`].
    pub fn drain(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    /// Handles one request (what `call` runs).
    pub async fn handle<B>(&self, req: Request<B>) -> Response<ResponseBody>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if self
            .inner
            .path
            .as_deref()
            .is_some_and(|p| p != req.uri().path())
        {
            return text(StatusCode::NOT_FOUND, "not found");
        }
        match *req.method() {
            Method::GET => self.inner.handshake(req.uri().query()),
            Method::POST => self.inner.delivery(req).await,
            _ => text(
                StatusCode::METHOD_NOT_ALLOWED,
                "use GET (handshake) or POST (notifications)",
            ),
        }
    }
}

impl<B> tower_service::Service<Request<B>> for WebhookService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}

/// A delivery's step refusing it: the status and text of the answer (kept small, built into
/// a response once, at the end).
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    /// The label of `wa_media_notifications_refused_total` and of the log line.
    reason: &'static str,
    text: &'static str,
    retry_after: Option<&'static str>,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, text: &'static str) -> Self {
        Self {
            status,
            reason,
            text,
            retry_after: None,
        }
    }

    fn into_response(self) -> Response<ResponseBody> {
        let mut r = text(self.status, self.text);
        if let Some(after) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from_static(after));
        }
        r
    }
}

fn text(status: StatusCode, body: &str) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(format!("{body}\n"))))
        .unwrap_or_else(|_| Response::new(Full::default()))
}

/// Longest `hub.challenge` echoed back.
const MAX_CHALLENGE: usize = 1024;

impl Inner {
    fn handshake(&self, query: Option<&str>) -> Response<ResponseBody> {
        let (mut mode, mut token, mut challenge) = (None, None, None);
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "hub.mode" => mode = Some(v.into_owned()),
                "hub.verify_token" => token = Some(v.into_owned()),
                "hub.challenge" => challenge = Some(v.into_owned()),
                _ => {}
            }
        }
        let token_ok = match (&self.verify_token, &token) {
            (Some(want), Some(got)) => bool::from(want.as_bytes().ct_eq(got.as_bytes())),
            _ => false,
        };
        match challenge {
            Some(c)
                if mode.as_deref() == Some("subscribe") && token_ok && c.len() <= MAX_CHALLENGE =>
            {
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "text/plain")
                    .body(Full::new(Bytes::from(c)))
                    .unwrap_or_else(|_| Response::new(Full::default()))
            }
            _ => text(StatusCode::FORBIDDEN, "verification refused"),
        }
    }

    /// A notification, step by step; each step either hands on or is the answer.
    async fn delivery<B>(&self, req: Request<B>) -> Response<ResponseBody>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = std::time::Instant::now();
        let steps = async {
            self.accepting()?;
            let signature = self.signature_header(&req)?;
            let raw = self.read_body(req).await?;
            self.check_signature(signature.as_deref(), &raw)?;
            let notification = parse(&raw)?;
            let entries = media_entries(&notification, now_secs());
            let media: Vec<String> = entries.iter().map(|e| e.media_id.to_string()).collect();
            let count = media.len();
            // Both durable before the 200; side by side, so their fsyncs overlap (the
            // filesystem commits them together). Either order of failure is safe: Meta's
            // redelivery finds the half that was written and writes the other.
            let (spooled, forwarded) =
                tokio::join!(self.spool_media(entries), self.forward(&raw, media));
            spooled.and(forwarded)?;
            self.record_failures(&notification).await?;
            self.hand_on(&notification, count).await
        };
        match steps.await {
            Ok(()) => {
                telemetry::accepted(started.elapsed());
                text(StatusCode::OK, "ok")
            }
            Err(refusal) => {
                telemetry::refused(refusal.reason, started.elapsed());
                // Once per refused delivery: otherwise a refusal shows only as Meta redelivering.
                tracing::warn!(
                    status = refusal.status.as_u16(),
                    reason = refusal.reason,
                    "delivery refused: {}",
                    refusal.text
                );
                refusal.into_response()
            }
        }
    }

    /// While draining: 503 with `Retry-After`, so Meta delivers again later.
    fn accepting(&self) -> Result<(), Refusal> {
        if !self.draining.load(Ordering::SeqCst) {
            return Ok(());
        }
        Err(Refusal {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: "draining",
            text: "shutting down; deliver again later",
            retry_after: Some(DRAIN_RETRY_AFTER),
        })
    }

    /// `X-Hub-Signature-256` (401 when it is required and missing), and 413 at once for an
    /// announced length over the limit.
    fn signature_header<B>(&self, req: &Request<B>) -> Result<Option<Vec<u8>>, Refusal> {
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > self.body_limit as u64) {
            return Err(Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the body is over the limit",
            ));
        }
        let signature = req
            .headers()
            .get(SIGNATURE_HEADER)
            .map(|v| v.as_bytes().to_vec());
        if self.app_secret.is_some() && signature.is_none() {
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "signature_missing",
                "X-Hub-Signature-256 is required",
            ));
        }
        Ok(signature)
    }

    /// The raw body, up to the limit (413) within the deadline (408).
    async fn read_body<B>(&self, req: Request<B>) -> Result<Bytes, Refusal>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let read = Limited::new(req.into_body(), self.body_limit).collect();
        match tokio::time::timeout(self.body_timeout, read).await {
            Err(_) => Err(Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                "too_slow",
                "the body arrived too slowly",
            )),
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                Err(Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    "the body is over the limit",
                ))
            }
            Ok(Err(_)) => Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "the body could not be read",
            )),
            Ok(Ok(c)) => Ok(c.to_bytes()),
        }
    }

    /// The signature over the raw bytes (403 when it does not match).
    fn check_signature(&self, signature: Option<&[u8]>, raw: &[u8]) -> Result<(), Refusal> {
        let Some(secret) = &self.app_secret else {
            return Ok(());
        };
        let header = String::from_utf8_lossy(signature.unwrap_or_default());
        verify_signature(secret, raw, &header).map_err(|_| {
            Refusal::new(
                StatusCode::FORBIDDEN,
                "signature_mismatch",
                "X-Hub-Signature-256 does not match the body",
            )
        })
    }

    /// The notification's media entries, durably in the spool (500 when they cannot be, so
    /// Meta delivers again).
    async fn spool_media(&self, entries: Vec<SpoolEntry>) -> Result<(), Refusal> {
        if let Err(e) = self.ingest.admit(entries).await {
            if crate::ingest::unreachable(&e) {
                // A shared queue's database is away: 503, and Meta delivers again later.
                tracing::error!(error = %e, "the queue cannot be reached; answering 503 so Meta delivers again");
                return Err(Refusal {
                    retry_after: Some(DRAIN_RETRY_AFTER),
                    ..Refusal::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "queue_unavailable",
                        "the queue cannot be reached",
                    )
                });
            }
            tracing::error!(error = %e, "cannot spool the media of a delivery; answering 500 so Meta delivers it again");
            return Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "spool_error",
                "the media could not be spooled",
            ));
        }
        Ok(())
    }

    /// What Meta could not take (`unsupported` messages, value-level `errors[]`), durably
    /// recorded as `failed` records (500 when they cannot be, so Meta delivers again).
    async fn record_failures(&self, notification: &Notification) -> Result<(), Refusal> {
        let failures = wa_media_types::webhook::meta_failures(notification);
        if failures.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.ingest.record_failures(&failures, now_secs()).await {
            tracing::error!(error = %wa_media_core::error_chain(&e), "cannot record a message Meta could not take; answering 500 so Meta delivers it again");
            return Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "record_error",
                "the failure could not be recorded",
            ));
        }
        Ok(())
    }

    /// The notification, durably queued for the forwarder (500 when it cannot be); Meta's
    /// redelivery of one already queued or delivered is not queued again.
    async fn forward(&self, raw: &Bytes, media: Vec<String>) -> Result<(), Refusal> {
        let Some(forwarder) = &self.forwarder else {
            return Ok(());
        };
        match forwarder.admit(raw, media).await {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "cannot queue a delivery for forwarding; answering 500 so Meta delivers it again");
                Err(Refusal::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "forward_spool_error",
                    "the notification could not be queued for forwarding",
                ))
            }
        }
    }

    /// The user's handler, for a notification with more than its media (500 when it fails).
    async fn hand_on(
        &self,
        notification: &Notification,
        media_count: usize,
    ) -> Result<(), Refusal> {
        let Some(handler) = &self.handler else {
            return Ok(());
        };
        if !has_more_than_media(notification, media_count) {
            return Ok(());
        }
        handler.handle(notification).await.map_err(|e| {
            tracing::warn!(error = %e, "the handler failed; answering 500 so Meta delivers it again");
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "handler_error",
                "the handler failed",
            )
        })
    }
}

/// A WhatsApp Business Account notification (400 for anything else).
fn parse(raw: &[u8]) -> Result<Notification, Refusal> {
    match Notification::from_slice(raw) {
        Ok(n) if n.object == "whatsapp_business_account" => Ok(n),
        Ok(_) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "not a WhatsApp Business Account notification",
        )),
        Err(_) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "not a valid WhatsApp notification",
        )),
    }
}

/// The spool entries of every media in `n`, with each message's own timestamp.
fn media_entries(n: &Notification, received: u64) -> Vec<SpoolEntry> {
    let mut stamps = std::collections::HashMap::new();
    for m in wa_media_types::webhook::all_messages(n) {
        if let Some(ts) = m.timestamp.as_deref().and_then(|t| t.parse::<u64>().ok()) {
            stamps.insert(m.id.as_str(), ts);
        }
    }
    inbound_media(n)
        .iter()
        .map(|m| {
            let ts = stamps.get(m.message_id.as_str()).copied();
            SpoolEntry::from_inbound(m, received, ts)
        })
        .collect()
}

/// Whether the notification holds anything besides its `media_count` media messages.
fn has_more_than_media(n: &Notification, media_count: usize) -> bool {
    let mut messages = 0;
    for change in n.entry.iter().flat_map(|e| &e.changes) {
        if change.field != "messages" || !change.value.statuses.is_empty() {
            return true;
        }
        messages += change.value.messages.len();
    }
    messages > media_count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_build_error_message_is_pinned() {
        insta::assert_snapshot!(BuildError::NoSecret.to_string(), @"an app secret is required to check X-Hub-Signature-256 (or call insecure_skip_signature() for local tests)");
        insta::assert_snapshot!(BuildError::EmptySecret.to_string(), @"the app secret is empty; give the App Secret from the Meta app's settings (App settings > Basic)");
        insta::assert_snapshot!(BuildError::Path.to_string(), @"the webhook path must start with '/' (such as /webhook)");
    }
}
