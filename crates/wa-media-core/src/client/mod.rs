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
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use http_body_util::BodyExt;
use tracing::{field, Instrument};
use wa_media_types::{MediaId, MediaUrlResponse, PhoneNumberId};

use crate::api::MediaApi;
use crate::config::{ClientConfig, ConfigBuilder};
use crate::deadline::Limits;
use crate::download::Download;
use crate::error::{ConfigError, Error};
use crate::protocol::MAX_JSON_BODY;
use crate::retry::{self, Failed};
use crate::timer::{default_timer, SharedTimer, Timer};
use crate::token::{AccessToken, Tokens};
use crate::transport::{RequestBody, ResponseBody, Transport};
use crate::upload::Upload;

/// The media client: implements [`MediaApi`] on any [`Transport`]. Cheap to clone (two
/// `Arc`s); clones share the transport and its connection pool.
///
/// One client serves many business phone numbers and tokens: [`with_phone_number_id`] and
/// [`with_token`] make clones that share the transport (and so its connection pool) and differ
/// only in that setting.
///
/// [`with_phone_number_id`]: MediaClient::with_phone_number_id
/// [`with_token`]: MediaClient::with_token
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
    /// What every clone shares: the transport (its connection pool) and the timer.
    inner: Arc<Inner<T>>,
    /// This clone's settings (a [`MediaClient::with_phone_number_id`] clone has its own).
    config: Arc<ClientConfig>,
}

struct Inner<T> {
    transport: T,
    timer: SharedTimer,
}

impl<T> Clone for MediaClient<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
        }
    }
}

impl<T> fmt::Debug for MediaClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaClient")
            .field("config", &self.config)
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
            inner: Arc::new(Inner { transport, timer }),
            config: Arc::new(config),
        }
    }

    /// A clone acting for another business phone number: uploads and sends go to
    /// `/{phone_number_id}/…`, and retrieve and delete are scoped to it when
    /// [`ClientConfig::scope_to_phone_number`] is set. It shares this client's transport (and
    /// connection pool), timer and every other setting; making one costs a copy of the
    /// configuration, so a provider serving many numbers builds one client and takes a clone
    /// per number (or per call).
    ///
    /// ```
    /// # use wa_media_core::{MediaClient, RequestBody, ResponseBody, TransportError};
    /// # let transport = |_req: http::Request<RequestBody>| async {
    /// #     Ok::<_, TransportError>(http::Response::new(ResponseBody::from_bytes("{}")))
    /// # };
    /// let client = MediaClient::builder(transport).token("EAAG...").build().unwrap();
    /// let shop = client.with_phone_number_id("106540352242922".parse().unwrap());
    /// assert_eq!(shop.config().phone_number_id.as_ref().unwrap().as_str(), "106540352242922");
    /// assert!(std::ptr::eq(shop.transport(), client.transport()));
    /// ```
    pub fn with_phone_number_id(&self, phone_number_id: PhoneNumberId) -> Self {
        let mut config = (*self.config).clone();
        config.phone_number_id = Some(phone_number_id);
        self.with_config(config)
    }

    /// A clone sending another access token (a static one; it replaces any
    /// [`crate::TokenSource`]). Shares the transport and every other setting, like
    /// [`with_phone_number_id`](Self::with_phone_number_id). A token that cannot be a Bearer
    /// credential fails each request with [`crate::ConfigError::Token`], nothing sent.
    pub fn with_token(&self, token: impl Into<AccessToken>) -> Self {
        let mut config = (*self.config).clone();
        config.tokens = Tokens::Static(token.into());
        self.with_config(config)
    }

    fn with_config(&self, config: ClientConfig) -> Self {
        Self {
            inner: self.inner.clone(),
            config: Arc::new(config),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
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
            .run(&*self.inner.timer, &self.config.timeouts, work)
            .await?;
        tracing::debug!(
            status = resp.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "response"
        );
        Ok(resp)
    }

    /// The client's retry loop: [`retry::run`] under the configured policy and timer, each
    /// attempt given the token to send.
    ///
    /// The token is asked of the configuration's source once, before the first attempt. When
    /// Graph rejects it (code 190) and the attempt can be sent again, the source is asked once
    /// for a fresh token and the request is sent again at once, outside the backoff; a second
    /// rejection is returned. Every failed attempt is scrubbed of every token used here, once,
    /// before it is logged, retried or returned: server-provided text (error bodies, redirect
    /// targets, hosts) never shows one.
    pub(crate) async fn retrying<R, F, Fut>(&self, mut attempt: F) -> Result<R, Error>
    where
        F: FnMut(AccessToken) -> Fut,
        Fut: Future<Output = Result<R, Failed>>,
    {
        let tokens = &self.config.tokens;
        let first = tokens.current().await?;
        let state = Mutex::new(TokenState {
            current: first.clone(),
            refreshed: false,
            used: vec![first],
        });
        let state = &state;
        let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
        retry::run(&self.config.retry, &*self.inner.timer, |_| {
            let token = lock().current.clone();
            let fut = attempt(token.clone());
            async move {
                let failed = match fut.await {
                    Ok(r) => return Ok(r),
                    Err(f) => f,
                };
                let refresh = failed.resendable
                    && failed.error.is_token_rejected()
                    && !std::mem::replace(&mut lock().refreshed, true);
                let failed = if refresh {
                    match tokens.refresh(&token).await {
                        Ok(Some(fresh)) => {
                            let mut s = lock();
                            s.used.push(fresh.clone());
                            s.current = fresh;
                            tracing::info!("the access token was rejected (code 190); sending again with a fresh token from the token source");
                            Failed::again_now(failed.error)
                        }
                        Ok(None) => failed,
                        // What to fix is the source: its error is returned.
                        Err(e) => Failed::fatal(e),
                    }
                } else {
                    failed
                };
                Err(failed.map(|e| e.scrub_all(&lock().used)))
            }
        })
        .await
    }
}

/// The tokens of one operation: the one to send, whether a fresh one was already asked for,
/// and every one used (scrubbed from errors).
struct TokenState {
    current: AccessToken,
    refreshed: bool,
    used: Vec<AccessToken>,
}

impl Error {
    /// `self` with every token in `tokens` scrubbed from server-provided text.
    fn scrub_all(self, tokens: &[AccessToken]) -> Self {
        tokens.iter().fold(self, |e, t| e.scrub(t.expose_secret()))
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

    fn for_phone_number(&self, phone_number_id: &PhoneNumberId) -> Option<Arc<dyn MediaApi>> {
        Some(Arc::new(self.with_phone_number_id(phone_number_id.clone())))
    }
}
