//! The generic client: every protocol rule on top of any [`Transport`].
//!
//! Each operation prepares its own requests: [`retrieve`] (retrieve and delete), [`upload`]
//! and [`download`]; sending messages (`MessagingApi`) is built on the same parts. They share one exchange
//! ([`MediaClient::exchange`]) and one retry loop ([`MediaClient::retrying`], over
//! [`crate::retry::run`]), which is also where a failed attempt's server-provided text is
//! scrubbed of the token.

mod download;
mod retrieve;
mod upload;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use http_body_util::BodyExt;
use tracing::{field, Instrument};
use wa_media_types::{MediaId, MediaUrlResponse};

use crate::api::MediaApi;
use crate::config::{ClientConfig, ConfigBuilder};
use crate::deadline::Limits;
use crate::download::Download;
use crate::error::{ConfigError, Error};
use crate::protocol::MAX_JSON_BODY;
use crate::retry::{self, Failed};
use crate::timer::{default_timer, SharedTimer, Timer};
use crate::transport::{RequestBody, ResponseBody, Transport};
use crate::upload::Upload;

/// The media client: implements [`MediaApi`] on any [`Transport`]. Cheap to clone (one
/// `Arc`); clones share the transport and its connection pool.
///
/// ```
/// use wa_media_core::{MediaClient, RequestBody, ResponseBody, TransportError};
/// let transport = |_req: http::Request<RequestBody>| async {
///     Ok::<_, TransportError>(http::Response::new(ResponseBody::from_bytes(r#"{"success":true}"#)))
/// };
/// let client = MediaClient::builder(transport)
///     .token("EAAG...")
///     .phone_number_id("106540352242922")
///     .build()
///     .unwrap();
/// assert!(!format!("{client:?}").contains("EAAG"));
/// ```
pub struct MediaClient<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    transport: T,
    timer: SharedTimer,
    config: ClientConfig,
}

impl<T> Clone for MediaClient<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for MediaClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaClient")
            .field("config", &self.inner.config)
            .field("timer", &self.inner.timer)
            .finish_non_exhaustive()
    }
}

/// Builds a [`MediaClient`]: the transport, the [`Timer`], and every [`ConfigBuilder`]
/// setting (the same methods, forwarded).
#[derive(Debug)]
pub struct ClientBuilder<T> {
    transport: T,
    timer: SharedTimer,
    config: ConfigBuilder,
}

impl<T: Transport> ClientBuilder<T> {
    crate::config_setters!(config);

    /// The timer for backoff and timeouts (default [`crate::FuturesTimer`]); pass your
    /// runtime's timer.
    pub fn timer(mut self, timer: impl Timer) -> Self {
        self.timer = Arc::new(timer);
        self
    }

    /// Test hook: a fixed multipart boundary, so snapshots of upload bodies are stable.
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn fixed_boundary(mut self, boundary: impl Into<String>) -> Self {
        self.config = self.config.fixed_boundary(boundary);
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<MediaClient<T>, ConfigError> {
        Ok(MediaClient::from_parts(
            self.transport,
            self.timer,
            self.config.build()?,
        ))
    }
}

impl<T: Transport> MediaClient<T> {
    /// A builder around `transport`.
    pub fn builder(transport: T) -> ClientBuilder<T> {
        ClientBuilder {
            transport,
            timer: default_timer(),
            config: ConfigBuilder::default(),
        }
    }

    /// A client from an already built configuration, with the default timer.
    pub fn new(transport: T, config: ClientConfig) -> Self {
        Self::with_timer(transport, crate::timer::FuturesTimer, config)
    }

    /// A client from an already built configuration and a [`Timer`].
    pub fn with_timer(transport: T, timer: impl Timer, config: ClientConfig) -> Self {
        Self::from_parts(transport, Arc::new(timer), config)
    }

    fn from_parts(transport: T, timer: SharedTimer, config: ClientConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport,
                timer,
                config,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.inner.transport
    }

    /// The timer.
    pub fn timer(&self) -> &dyn Timer {
        &*self.inner.timer
    }

    /// Sends `req` and reads the whole (small) response body within `limits`.
    pub(crate) async fn exchange(
        &self,
        req: Request<RequestBody>,
        limits: Limits,
    ) -> Result<Response<Bytes>, Error> {
        let started = Instant::now();
        let work = async {
            let resp = self.inner.transport.send(req).await?;
            let (parts, body) = resp.into_parts();
            let body = read_limited(body, MAX_JSON_BODY).await?;
            Ok(Response::from_parts(parts, body))
        };
        let resp = limits
            .run(&*self.inner.timer, &self.inner.config.timeouts, work)
            .await?;
        tracing::debug!(
            status = resp.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "response"
        );
        Ok(resp)
    }

    /// The client's retry loop: [`retry::run`] under the configured policy and timer. Every
    /// failed attempt is scrubbed of the token here, once, before it is logged, retried or
    /// returned: server-provided text (error bodies, redirect targets, hosts) never shows it.
    pub(crate) async fn retrying<R, F, Fut>(&self, mut attempt: F) -> Result<R, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<R, Failed>>,
    {
        let secret = self.inner.config.token.expose_secret();
        retry::run(&self.inner.config.retry, &*self.inner.timer, |n| {
            let fut = attempt(n);
            async move { fut.await.map_err(|f| f.map(|e| e.scrub(secret))) }
        })
        .await
    }
}

/// Reads at most `limit` bytes of a body; the rest is not read (the body is dropped).
pub(crate) async fn read_limited(mut body: ResponseBody, limit: usize) -> Result<Bytes, Error> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Ok(data) = frame.into_data() {
            let room = limit.saturating_sub(buf.len());
            buf.extend_from_slice(&data[..data.len().min(room)]);
            if buf.len() >= limit {
                break;
            }
        }
    }
    Ok(buf.freeze())
}

#[async_trait::async_trait]
impl<T: Transport> MediaApi for MediaClient<T> {
    async fn upload(&self, upload: Upload) -> Result<MediaId, Error> {
        let span = tracing::info_span!(
            "wa_media.upload",
            media_id = field::Empty,
            size = field::Empty,
            mime = field::Empty,
            kind = field::Empty,
            attempt = field::Empty,
        );
        let started = Instant::now();
        let r = self.upload_inner(upload).instrument(span.clone()).await;
        span.in_scope(|| {
            tracing::info!(
                ok = r.is_ok(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "upload finished"
            )
        });
        r
    }

    async fn retrieve(&self, id: &MediaId) -> Result<MediaUrlResponse, Error> {
        self.retrieve_with_body(id).await.map(|(info, _)| info)
    }

    async fn download(&self, media: &MediaUrlResponse) -> Result<Download, Error> {
        let span = tracing::info_span!("wa_media.download", media_id = %media.id, size = media.file_size, attempt = field::Empty);
        self.download_inner(media).instrument(span).await
    }

    async fn delete(&self, id: &MediaId) -> Result<(), Error> {
        let span = tracing::info_span!("wa_media.delete", media_id = %id, attempt = field::Empty);
        self.delete_inner(id).instrument(span).await
    }
}
