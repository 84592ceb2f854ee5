//! Webhook delivery: every simulated inbound notification and every status of a sent message
//! is POSTed to the configured URL, signed like Meta's (`X-Hub-Signature-256`, HMAC-SHA256 of
//! the body with the app secret, over the `\uXXXX`-escaped JSON), with a timeout per attempt,
//! redelivered with backoff on a non-2xx answer or a timeout, and every attempt written to the
//! request log.
//!
//! The fault `deliver_times` on [`Endpoint::Webhook`](crate::Endpoint::Webhook) delivers the
//! next notification several times, to exercise a receiver's deduplication.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::WebhookTarget;
use crate::fault::{Endpoint, Fault, Faults};
use crate::request_log::{LoggedRequest, RequestLog};

/// The longest wait between two attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Delivers notifications to one webhook URL. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Delivery {
    target: Arc<WebhookTarget>,
    client: Client<HttpConnector, Full<Bytes>>,
    faults: Faults,
    log: Arc<RequestLog>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("url", &self.target.url)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    pub(crate) fn new(target: WebhookTarget, faults: Faults, log: Arc<RequestLog>) -> Self {
        Self {
            target: Arc::new(target),
            client: Client::builder(TokioExecutor::new()).build_http(),
            faults,
            log,
        }
    }

    /// Delivers `body` in the background (once, or as many times as a pending
    /// `deliver_times` fault says), each delivery retried until a 2xx or the attempts run out.
    pub(crate) fn deliver(&self, body: String) {
        let this = self.clone();
        tokio::spawn(async move { this.deliver_now(body).await });
    }

    /// Delivers `body` (once, or as many times as a pending `deliver_times` fault says) and
    /// returns when every delivery is accepted or given up: what keeps the statuses of one
    /// message in order.
    pub(crate) async fn deliver_now(&self, body: String) {
        let (times, fault) = match self.faults.take(Endpoint::Webhook) {
            Some(Fault::DeliverTimes { times }) => (times.max(1), Some("deliver_times")),
            _ => (1, None),
        };
        let body = Bytes::from(body);
        for _ in 0..times {
            self.deliver_once(body.clone(), fault).await;
        }
    }

    /// One delivery: attempts until a 2xx answer, with doubling waits. Returns whether it
    /// was accepted.
    async fn deliver_once(&self, body: Bytes, fault: Option<&str>) -> bool {
        let t = &self.target;
        let signature = wa_media_types::signature_header(t.app_secret.as_bytes(), &body);
        let mut delay = t.retry_delay;
        for attempt in 1..=t.max_attempts.max(1) {
            let req = http::Request::post(&t.url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header("x-hub-signature-256", &signature)
                .header(http::header::USER_AGENT, "facebookexternalua")
                .body(Full::new(body.clone()));
            let status = match req {
                Ok(req) => match tokio::time::timeout(t.timeout, self.client.request(req)).await {
                    Ok(Ok(resp)) => {
                        let status = resp.status().as_u16();
                        let _ = resp.into_body().collect().await;
                        status
                    }
                    // 0: no answer (connection refused or reset, or the timeout).
                    Ok(Err(_)) | Err(_) => 0,
                },
                Err(_) => 0,
            };
            self.log.push(LoggedRequest::delivery(
                url_path(&t.url),
                status,
                fault.map(str::to_owned),
            ));
            if (200..300).contains(&status) {
                return true;
            }
            if attempt < t.max_attempts {
                tracing::info!(
                    status,
                    attempt,
                    "webhook delivery not accepted; delivering again"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
        tracing::warn!(url = %t.url, "webhook delivery given up");
        false
    }
}

fn url_path(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default()
}
