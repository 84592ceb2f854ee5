//! The client: every protocol rule on top of any [`Transport`], and its one builder.
//!
//! Each operation prepares its own requests: [`retrieve`] (retrieve and delete), [`upload`]
//! and [`download`]; sending messages (`MessagingApi`) is built on the same parts. They share one exchange
//! ([`MediaClient::exchange`]) and one retry loop ([`MediaClient::retrying`], over
//! [`crate::retry::run`]), which is also where a failed attempt's server-provided text is
//! scrubbed of the token.

mod builder;
mod download;
mod resumable;
mod retrieve;
mod upload;

pub use builder::{BuildTransport, ClientBuilder};
pub use resumable::ResumableUpload;

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use http_body_util::BodyExt;
use tracing::{field, Instrument};
use wa_media_types::{MediaId, MediaUrl, MediaUrlResponse, PhoneNumberId, Sha256Digest};

use crate::api::MediaApi;
use crate::config::ClientConfig;
use crate::deadline::Limits;
use crate::download::Download;
use crate::error::Error;
use crate::protocol::MAX_JSON_BODY;
use crate::retry::{self, Failed};
use crate::timer::{SharedTimer, Timer};
use crate::token::{AccessToken, Tokens};
use crate::transport::{RequestBody, ResponseBody, Transport};
use crate::upload::Upload;

/// The media client: implements [`MediaApi`] and [`crate::MessagingApi`] on any
/// [`Transport`]. Cheap to clone (three `Arc`s); clones share the transport and its connection
/// pool.
///
/// It holds its transport as `Arc<dyn Transport>` (object_store's shape: one client type,
/// whatever carries the requests), so the production client (`wa_media_hyper::builder()`),
/// the emulator's in-process client and a test's scripted one are all this type. Build one
/// with [`MediaClient::builder`] (or `wa_media_hyper::builder()`).
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
#[derive(Clone)]
pub struct MediaClient {
    /// What every clone shares: the transport (its connection pool).
    transport: Arc<dyn Transport>,
    /// The timer every clone shares.
    timer: SharedTimer,
    /// This clone's settings (a [`MediaClient::with_phone_number_id`] clone has its own).
    config: Arc<ClientConfig>,
}

impl fmt::Debug for MediaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaClient")
            .field("config", &self.config)
            .field("timer", &self.timer)
            .finish_non_exhaustive()
    }
}

impl MediaClient {
    /// A [`ClientBuilder`] with every default around `transport`: a [`Transport`], or a
    /// transport's builder ([`BuildTransport`]).
    pub fn builder<B>(transport: B) -> ClientBuilder<B> {
        ClientBuilder::new(transport)
    }

    pub(crate) fn from_parts(
        transport: Arc<dyn Transport>,
        timer: SharedTimer,
        config: ClientConfig,
    ) -> Self {
        Self {
            transport,
            timer,
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
    /// # use std::sync::Arc;
    /// # use wa_media_core::{MediaClient, RequestBody, ResponseBody, TransportError};
    /// # let transport = |_req: http::Request<RequestBody>| async {
    /// #     Ok::<_, TransportError>(http::Response::new(ResponseBody::from_bytes("{}")))
    /// # };
    /// let client = MediaClient::builder(transport).token("EAAG...").build().unwrap();
    /// let shop = client.with_phone_number_id("106540352242922".parse().unwrap());
    /// assert_eq!(shop.config().phone_number_id.as_ref().unwrap().as_str(), "106540352242922");
    /// assert!(Arc::ptr_eq(shop.transport(), client.transport()));
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
            transport: self.transport.clone(),
            timer: self.timer.clone(),
            config: Arc::new(config),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The transport, shared by every clone (give a clone of it to
    /// [`ClientBuilder::transport`] to share its connection pool with another client).
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// The timer.
    pub fn timer(&self) -> &dyn Timer {
        &*self.timer
    }

    /// Sends `req` and reads the whole (small) response body within `limits`.
    pub(crate) async fn exchange(
        &self,
        req: Request<RequestBody>,
        limits: Limits,
    ) -> Result<Response<Bytes>, Error> {
        let started = Instant::now();
        let work = async {
            let resp = self.transport.send(req).await?;
            let (parts, body) = resp.into_parts();
            let body = read_limited(body, MAX_JSON_BODY).await?;
            Ok(Response::from_parts(parts, body))
        };
        let resp = limits
            .run(&*self.timer, &self.config.timeouts, work)
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
        retry::run(&self.config.retry, &*self.timer, |_| {
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

/// Runs an upload inside its `wa_media.upload` span and logs how it finished: every upload,
/// [`MediaApi::upload`]'s and a planned send's.
pub(crate) async fn traced_upload(
    work: impl Future<Output = Result<MediaId, Error>>,
) -> Result<MediaId, Error> {
    let span = tracing::info_span!(
        "wa_media.upload",
        media_id = field::Empty,
        size = field::Empty,
        mime = field::Empty,
        kind = field::Empty,
        attempt = field::Empty,
    );
    let started = Instant::now();
    let r = work.instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            ok = r.is_ok(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "upload finished"
        )
    });
    r
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
impl MediaApi for MediaClient {
    async fn upload(&self, upload: Upload) -> Result<MediaId, Error> {
        traced_upload(self.upload_inner(upload)).await
    }

    async fn retrieve(&self, id: &MediaId) -> Result<MediaUrlResponse, Error> {
        self.retrieve_with_body(id).await.map(|(info, _)| info)
    }

    async fn download(&self, media: &MediaUrlResponse) -> Result<Download, Error> {
        let span = tracing::info_span!("wa_media.download", media_id = %media.id, size = media.file_size, attempt = field::Empty);
        self.download_inner(media).instrument(span).await
    }

    async fn download_url(
        &self,
        url: &MediaUrl,
        sha256: Sha256Digest,
        size: Option<u64>,
    ) -> Result<Download, Error> {
        let span = tracing::info_span!("wa_media.download_url", url = %url, attempt = field::Empty);
        self.download_checked(url, sha256, size, None)
            .instrument(span)
            .await
    }

    async fn delete(&self, id: &MediaId) -> Result<(), Error> {
        let span = tracing::info_span!("wa_media.delete", media_id = %id, attempt = field::Empty);
        self.delete_inner(id).instrument(span).await
    }

    fn for_phone_number(&self, phone_number_id: &PhoneNumberId) -> Option<Arc<dyn MediaApi>> {
        Some(Arc::new(self.with_phone_number_id(phone_number_id.clone())))
    }
}
