//! `serve --metrics-listen ADDR`: the operator's endpoint, on a listener of its own.
//!
//! - `GET /metrics`: the Prometheus text format of every metric the libraries record
//!   ([`wa_media_webhook::telemetry`]), rendered by `metrics-exporter-prometheus`; the spool
//!   and forward gauges are refreshed at each scrape.
//! - `GET /healthz`: 200 while the process runs.
//! - `GET /readyz`: 200 while deliveries are taken (the spool writable, not draining), else 503.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use wa_media_webhook::{telemetry, Forwarder, WebhookService};

use crate::failure::Failure;

/// Histogram buckets, seconds: from a fast ack (1 ms) to a slow save (2 min).
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0,
];

/// Installs the Prometheus recorder for the process (before anything records).
pub fn install_recorder() -> Result<PrometheusHandle, Failure> {
    let mut b = PrometheusBuilder::new();
    for name in telemetry::HISTOGRAMS {
        b = b
            .set_buckets_for_metric(Matcher::Full(name.into()), &BUCKETS)
            .map_err(|e| Failure::other(format!("metrics: {e}")))?;
    }
    let handle = b
        .install_recorder()
        .map_err(|e| Failure::other(format!("metrics: {e}")))?;
    // Histograms are drained into their buckets by the upkeep.
    let h = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            h.run_upkeep();
        }
    });
    Ok(handle)
}

/// The endpoint's service.
#[derive(Clone)]
pub struct Ops {
    inner: Arc<OpsInner>,
}

struct OpsInner {
    handle: PrometheusHandle,
    service: WebhookService,
    forwarder: Option<Forwarder>,
}

impl Ops {
    /// An endpoint reporting on `service` (and `forwarder`).
    pub fn new(
        handle: PrometheusHandle,
        service: WebhookService,
        forwarder: Option<Forwarder>,
    ) -> Self {
        Self {
            inner: Arc::new(OpsInner {
                handle,
                service,
                forwarder,
            }),
        }
    }

    async fn answer(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if method != Method::GET {
            return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
        }
        match path {
            "/metrics" => {
                // Any queue: the Maildir spool or the shared PostgreSQL one.
                let _ = self.inner.service.ingest().queue_counts().await;
                if let Some(f) = &self.inner.forwarder {
                    let _ = f.counts();
                }
                self.inner.handle.run_upkeep();
                let mut r = text(StatusCode::OK, &self.inner.handle.render());
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                r
            }
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" if self.inner.service.is_draining() => {
                text(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
            }
            "/readyz" if !self.inner.service.is_ready() => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the spool is not writable\n",
            ),
            "/readyz" => text(StatusCode::OK, "ready\n"),
            _ => text(StatusCode::NOT_FOUND, "GET /metrics, /healthz or /readyz\n"),
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

impl<B> tower_service::Service<Request<B>> for Ops {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (this, method, path) = (
            self.clone(),
            req.method().clone(),
            req.uri().path().to_owned(),
        );
        Box::pin(async move { Ok(this.answer(&method, &path).await) })
    }
}
