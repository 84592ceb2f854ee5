//! The generic client: every protocol rule on top of any [`Transport`].

use std::fmt;
use std::future::Future;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use http::{Request, Response};
use http_body_util::BodyExt;
use tracing::{field, Instrument};
use wa_media_types::{
    validate_upload, ApiVersion, MediaId, MediaUrlResponse, UploadCandidate, SNIFF_LEN,
};

use crate::api::{expected_of, MediaApi};
use crate::config::{ClientConfig, ConfigBuilder};
use crate::download::{Download, Sleeper, TimedBody};
use crate::error::{scrubbed, ConfigError, Error, IntegrityError};
use crate::multipart::MultipartBody;
use crate::protocol::{self, DownloadHead, MAX_JSON_BODY};
use crate::retry::{RetryPolicy, RetryState};
use crate::timeouts::{TimeoutKind, Timeouts};
use crate::token::AccessToken;
use crate::transport::{BoxFuture, RequestBody, ResponseBody, Transport};
use crate::trust::TrustedHosts;
use crate::upload::{ChangeWatch, ChunkStream, ExactLen, FileChunks, Upload, UploadSource};

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
            .finish_non_exhaustive()
    }
}

/// Builds a [`MediaClient`]: the [`ConfigBuilder`] settings plus the transport.
#[derive(Debug)]
pub struct ClientBuilder<T> {
    transport: T,
    config: ConfigBuilder,
}

impl<T: Transport> ClientBuilder<T> {
    /// The access token (required).
    pub fn token(mut self, token: impl Into<AccessToken>) -> Self {
        self.config = self.config.token(token);
        self
    }
    /// The business phone number id (required for uploads).
    pub fn phone_number_id(mut self, id: impl AsRef<str>) -> Self {
        self.config = self.config.phone_number_id(id);
        self
    }
    /// The Graph API version (default v23.0).
    pub fn api_version(mut self, v: ApiVersion) -> Self {
        self.config = self.config.api_version(v);
        self
    }
    /// The Graph base URL (default `https://graph.facebook.com`).
    pub fn graph_url(mut self, url: impl Into<String>) -> Self {
        self.config = self.config.graph_url(url);
        self
    }
    /// Trusts one more download host (`host`, `host:port`, `*.domain`).
    pub fn trust_host(mut self, entry: impl Into<String>) -> Self {
        self.config = self.config.trust_host(entry);
        self
    }
    /// Replaces the download-host allowlist.
    pub fn trusted_hosts(mut self, hosts: TrustedHosts) -> Self {
        self.config = self.config.trusted_hosts(hosts);
        self
    }
    /// The retry policy.
    pub fn retry_policy(mut self, p: RetryPolicy) -> Self {
        self.config = self.config.retry_policy(p);
        self
    }
    /// The timeouts.
    pub fn timeouts(mut self, t: Timeouts) -> Self {
        self.config = self.config.timeouts(t);
        self
    }
    /// The `User-Agent` (default `wa-media/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.config = self.config.user_agent(ua);
        self
    }
    /// Sends `phone_number_id` with retrieve and delete.
    pub fn scope_to_phone_number(mut self, yes: bool) -> Self {
        self.config = self.config.scope_to_phone_number(yes);
        self
    }
    /// Turns local pre-upload validation on (default) or off.
    pub fn validate_uploads(mut self, yes: bool) -> Self {
        self.config = self.config.validate_uploads(yes);
        self
    }
    /// Test hook: a fixed multipart boundary.
    #[doc(hidden)]
    pub fn fixed_boundary(mut self, boundary: impl Into<String>) -> Self {
        self.config = self.config.fixed_boundary(boundary);
        self
    }
    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<MediaClient<T>, ConfigError> {
        Ok(MediaClient::new(self.transport, self.config.build()?))
    }
}

/// What one attempt of a JSON operation sends: the request and its time limits.
type Prepared = (Request<RequestBody>, Limits);

/// The time limits of one exchange.
pub(crate) struct Limits {
    /// Bound on the whole exchange, and which timeout it is.
    total: Option<Duration>,
    total_kind: TimeoutKind,
    /// For uploads: the counter of body bytes taken by the transport, and the body length.
    /// Drives the idle timeout while the body is sent and the request timeout after it.
    upload: Option<(Arc<AtomicU64>, u64)>,
}

impl Limits {
    pub(crate) fn request(t: &Timeouts) -> Self {
        Self {
            total: t.request,
            total_kind: TimeoutKind::Request,
            upload: None,
        }
    }
}

impl<T: Transport> MediaClient<T> {
    /// A builder around `transport`.
    pub fn builder(transport: T) -> ClientBuilder<T> {
        ClientBuilder {
            transport,
            config: ConfigBuilder::default(),
        }
    }

    /// A client from an already built configuration.
    pub fn new(transport: T, config: ClientConfig) -> Self {
        Self {
            inner: Arc::new(Inner { transport, config }),
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

    /// [`MediaApi::retrieve`], also returning the response body exactly as the API sent it, with
    /// any occurrence of the access token replaced by `***` (a server that echoes the token must
    /// not make a tool print it). Same request, checks and retries as `retrieve`; for tools that
    /// show the API's own JSON, such as `wa-media info --json`.
    pub async fn retrieve_with_body(
        &self,
        id: &MediaId,
    ) -> Result<(MediaUrlResponse, Bytes), Error> {
        let span = tracing::info_span!("wa_media.retrieve", media_id = %id, attempt = field::Empty, size = field::Empty);
        let cfg = &self.inner.config;
        let r = self
            .run_json(
                true,
                || {
                    Ok((
                        protocol::build_retrieve_request(cfg, id)?,
                        Limits::request(&cfg.timeouts),
                    ))
                },
                |resp| {
                    protocol::parse_retrieve_response(resp).map(|info| (info, resp.body().clone()))
                },
            )
            .instrument(span.clone())
            .await;
        let token = cfg.token.expose_secret();
        let (info, body) = r?;
        span.record("size", info.file_size);
        let host = url::Url::parse(&info.url)
            .ok()
            .and_then(|u| u.host_str().map(|h| scrubbed(h, token)))
            .unwrap_or_default();
        span.in_scope(|| tracing::debug!(mime = %info.mime_type, %host, "media URL retrieved"));
        // JSON that parsed is UTF-8; scrubbing leaves it byte for byte when the token is absent.
        let body = match std::str::from_utf8(&body) {
            Ok(text) => Bytes::from(scrubbed(text, token)),
            Err(_) => body,
        };
        Ok((info, body))
    }

    fn scrub(&self, e: Error) -> Error {
        e.scrub(self.inner.config.token.expose_secret())
    }

    fn sleeper(&self) -> Sleeper {
        let inner = self.inner.clone();
        Arc::new(move |d| inner.transport.sleep(d))
    }

    /// Runs `fut` under a time limit measured with the transport's timer.
    async fn timed<R, F>(
        &self,
        limit: Option<Duration>,
        kind: TimeoutKind,
        fut: F,
    ) -> Result<R, Error>
    where
        F: Future<Output = Result<R, Error>> + Send,
    {
        let Some(d) = limit else {
            return fut.await;
        };
        let sleep = self.inner.transport.sleep(d);
        let fut = std::pin::pin!(fut);
        match select(fut, sleep).await {
            Either::Left((r, _)) => r,
            Either::Right(((), _)) => Err(Error::Timeout {
                kind,
                after: Some(d),
            }),
        }
    }

    /// Sends `req` and reads the whole (small) response body within `limits`.
    pub(crate) async fn exchange(
        &self,
        req: Request<RequestBody>,
        limits: Limits,
    ) -> Result<Response<Bytes>, Error> {
        let work = async {
            let resp = self.inner.transport.send(req).await?;
            let (parts, body) = resp.into_parts();
            let body = read_limited(body, MAX_JSON_BODY).await?;
            Ok(Response::from_parts(parts, body))
        };
        match limits.upload {
            None => self.timed(limits.total, limits.total_kind, work).await,
            Some((sent, total)) => {
                self.timed(limits.total, limits.total_kind, async {
                    let work = std::pin::pin!(work);
                    let dog = std::pin::pin!(self.upload_watchdog(sent, total));
                    match select(work, dog).await {
                        Either::Left((r, _)) => r,
                        Either::Right((e, _)) => Err(e),
                    }
                })
                .await
            }
        }
    }

    /// Fires [`TimeoutKind::Idle`] when the transport takes no body bytes for
    /// [`Timeouts::idle`], and [`TimeoutKind::Request`] when no response comes within
    /// [`Timeouts::request`] after the whole body was taken (measured from the first check
    /// after the body completed, so up to one idle period late).
    async fn upload_watchdog(&self, sent: Arc<AtomicU64>, total: u64) -> Error {
        let t = self.inner.config.timeouts;
        let step = t.idle.unwrap_or(Duration::from_secs(1));
        let mut last = sent.load(Ordering::Relaxed);
        loop {
            if last >= total {
                return match t.request {
                    Some(r) => {
                        self.inner.transport.sleep(r).await;
                        Error::Timeout {
                            kind: TimeoutKind::Request,
                            after: Some(r),
                        }
                    }
                    None => std::future::pending().await,
                };
            }
            self.inner.transport.sleep(step).await;
            let now = sent.load(Ordering::Relaxed);
            if now == last && now < total && t.idle.is_some() {
                return Error::Timeout {
                    kind: TimeoutKind::Idle,
                    after: t.idle,
                };
            }
            last = now;
        }
    }

    /// The retry loop of the JSON operations.
    async fn run_json<R>(
        &self,
        replayable: bool,
        mut prepare: impl FnMut() -> Result<Prepared, Error> + Send,
        parse: fn(&Response<Bytes>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut state = RetryState::new(&self.inner.config.retry);
        loop {
            let attempt = state.begin();
            tracing::Span::current().record("attempt", attempt);
            let started = Instant::now();
            let (req, limits) = prepare()?;
            let result = match self.exchange(req, limits).await {
                Ok(resp) => {
                    tracing::debug!(
                        status = resp.status().as_u16(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "response"
                    );
                    parse(&resp)
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(r) => return Ok(r),
                Err(e) => {
                    let e = e.scrub(self.inner.config.token.expose_secret());
                    // A one-shot stream went into the dropped request: it cannot be sent again,
                    // even when the request never left.
                    let may_retry = e.is_retryable() && replayable;
                    if may_retry {
                        if let Some(d) = state.next_delay(e.retry_after()) {
                            tracing::warn!(error = %e, attempt, delay_ms = d.as_millis() as u64, "retrying");
                            self.inner.transport.sleep(d).await;
                            continue;
                        }
                    }
                    tracing::warn!(error = %e, attempt, "failed");
                    return Err(e);
                }
            }
        }
    }

    async fn upload_inner(&self, upload: Upload) -> Result<MediaId, Error> {
        let cfg = &self.inner.config;
        let filename = upload.effective_filename();
        let Upload {
            source,
            mime,
            kind,
            validate,
            progress,
            ..
        } = upload;
        // Length, the head for validation, and the source as each attempt will read it.
        let watch = ChangeWatch::default();
        let source_path = match &source {
            UploadSource::Path(p) => Some(p.clone()),
            _ => None,
        };
        let mut modified = None;
        let (len, head, src) = match source {
            UploadSource::Path(p) => {
                let meta = std::fs::metadata(&p).map_err(|e| Error::io(Some(p.clone()), e))?;
                if !meta.is_file() {
                    return Err(Error::io(
                        Some(p),
                        std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
                    ));
                }
                let mut head = Vec::with_capacity(SNIFF_LEN);
                std::fs::File::open(&p)
                    .and_then(|f| f.take(SNIFF_LEN as u64).read_to_end(&mut head))
                    .map_err(|e| Error::io(Some(p.clone()), e))?;
                modified = meta.modified().ok();
                (meta.len(), head, Src::Path(p))
            }
            UploadSource::Bytes(b) => {
                let head = b[..b.len().min(SNIFF_LEN)].to_vec();
                (b.len() as u64, head, Src::Bytes(b))
            }
            UploadSource::Stream { mut stream, len } => {
                // Peek at the first SNIFF_LEN bytes, then put them back in front.
                let mut buffered: Vec<Bytes> = Vec::new();
                let mut head = Vec::new();
                while head.len() < SNIFF_LEN {
                    match stream.next().await {
                        Some(Ok(c)) => {
                            head.extend_from_slice(&c[..c.len().min(SNIFF_LEN - head.len())]);
                            buffered.push(c);
                        }
                        Some(Err(e)) => return Err(Error::io(None, e)),
                        None => break,
                    }
                }
                let front = futures_util::stream::iter(buffered.into_iter().map(Ok));
                let chained: ChunkStream = Box::pin(ExactLen::new(
                    Box::pin(front.chain(stream)),
                    len,
                    watch.clone(),
                ));
                (len, head, Src::Once(Some(chained)))
            }
        };
        let replayable = !matches!(src, Src::Once(_));
        let mut src = src;

        let span = tracing::Span::current();
        span.record("size", len);
        span.record("mime", field::display(&mime));
        if validate && cfg.validate_uploads {
            let validated = validate_upload(&UploadCandidate {
                kind,
                mime: &mime,
                len,
                head: &head,
            })?;
            span.record("kind", validated.kind.as_str());
        }
        let deadline = cfg.timeouts.body_deadline(len);
        let boundary = cfg.fixed_boundary.clone();
        let changed_path = source_path.clone();
        let source_changed = move |watch: &ChangeWatch| {
            watch.changed().map(|detail| Error::SourceChanged {
                path: source_path.clone(),
                detail,
            })
        };
        let prepare_watch = watch.clone();
        let prepare = move || -> Result<Prepared, Error> {
            // A source seen changing is never sent again.
            if let Some(e) = source_changed(&prepare_watch) {
                return Err(e);
            }
            let multipart = match &boundary {
                Some(b) => MultipartBody::with_boundary(b.clone(), &mime, &filename, len),
                None => MultipartBody::new(&mime, &filename, len),
            };
            let file: ChunkStream = match &mut src {
                Src::Path(p) => Box::pin(
                    FileChunks::open(p, len, modified, prepare_watch.clone())
                        .map_err(|e| Error::io(Some(p.clone()), e))?,
                ),
                Src::Bytes(b) => Box::pin(futures_util::stream::iter(
                    chunks_of(b.clone()).into_iter().map(Ok),
                )),
                Src::Once(s) => s.take().ok_or_else(|| {
                    // Unreachable: a one-shot source is not replayable, so never prepared twice.
                    Error::io(
                        None,
                        std::io::Error::other("the upload stream was already consumed"),
                    )
                })?,
            };
            let file: ChunkStream = match &progress {
                Some(p) => {
                    let p = p.clone();
                    let mut done = 0u64;
                    Box::pin(file.map(move |r| {
                        if let Ok(c) = &r {
                            done += c.len() as u64;
                            p.on_progress(done, Some(len));
                        }
                        r
                    }))
                }
                None => file,
            };
            let sent = Arc::new(AtomicU64::new(0));
            let counter = sent.clone();
            let counted = multipart.stream(file).map(move |r| {
                if let Ok(c) = &r {
                    counter.fetch_add(c.len() as u64, Ordering::Relaxed);
                }
                r
            });
            let body = RequestBody::from_stream(counted, Some(multipart.len()));
            let req = protocol::build_upload_request(cfg, &multipart, body)?;
            let limits = Limits {
                total: deadline,
                total_kind: TimeoutKind::Body,
                upload: Some((sent, multipart.len())),
            };
            Ok((req, limits))
        };
        let id = self
            .run_json(replayable, prepare, protocol::parse_upload_response)
            .await
            // Whatever the transport made of the broken body, say what really happened.
            .map_err(|e| match watch.changed() {
                Some(detail) if !matches!(e, Error::SourceChanged { .. }) => Error::SourceChanged {
                    path: changed_path,
                    detail,
                },
                _ => e,
            })?;
        tracing::Span::current().record("media_id", field::display(&id));
        Ok(id)
    }

    async fn download_inner(&self, media: &MediaUrlResponse) -> Result<Download, Error> {
        let cfg = &self.inner.config;
        let expected = expected_of(media);
        if expected.size > wa_media_types::MAX_MEDIA_BYTES {
            return Err(IntegrityError::TooLarge {
                limit: wa_media_types::MAX_MEDIA_BYTES,
                what: "largest media size (announced file_size)",
            }
            .into());
        }
        let mut state = RetryState::new(&cfg.retry);
        loop {
            let attempt = state.begin();
            tracing::Span::current().record("attempt", attempt);
            // Trust is checked here, before anything is sent, on every attempt.
            let req = protocol::build_download_request(cfg, &media.url)?;
            let started = Instant::now();
            let sent = self
                .timed(cfg.timeouts.request, TimeoutKind::Request, async {
                    Ok(self.inner.transport.send(req).await?)
                })
                .await;
            let err = match sent {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    tracing::debug!(
                        status = parts.status.as_u16(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "download response head"
                    );
                    match protocol::classify_download_head(parts.status, &parts.headers) {
                        DownloadHead::Body => {
                            if let Some(cl) = protocol::content_length(&parts.headers) {
                                if cl > wa_media_types::MAX_MEDIA_BYTES {
                                    return Err(IntegrityError::TooLarge {
                                        limit: wa_media_types::MAX_MEDIA_BYTES,
                                        what: "largest media size",
                                    }
                                    .into());
                                }
                                if cl != expected.size {
                                    return Err(IntegrityError::Size {
                                        expected: expected.size,
                                        actual: cl,
                                    }
                                    .into());
                                }
                            }
                            let timed = TimedBody::new(
                                body,
                                self.sleeper(),
                                cfg.timeouts.idle,
                                cfg.timeouts.body_deadline(expected.size),
                            );
                            return Ok(Download::from_stream(timed, Some(expected.size))
                                .verify(expected)
                                .with_mime_type(media.mime_type.clone()));
                        }
                        DownloadHead::Expired(status) => return Err(Error::UrlExpired { status }),
                        DownloadHead::Redirect(e) => return Err(e),
                        DownloadHead::Error(_) => {
                            let body = self
                                .timed(cfg.timeouts.request, TimeoutKind::Request, async {
                                    read_limited(body, MAX_JSON_BODY).await
                                })
                                .await;
                            match body {
                                Ok(b) => protocol::parse_error_response(
                                    "download",
                                    &Response::from_parts(parts, b),
                                ),
                                Err(e) => e,
                            }
                        }
                    }
                }
                Err(e) => e,
            };
            let err = err.scrub(cfg.token.expose_secret());
            if err.is_retryable() {
                if let Some(d) = state.next_delay(err.retry_after()) {
                    tracing::warn!(error = %err, attempt, delay_ms = d.as_millis() as u64, "retrying download");
                    self.inner.transport.sleep(d).await;
                    continue;
                }
            }
            tracing::warn!(error = %err, attempt, "download failed");
            return Err(err);
        }
    }
}

/// An upload source as the attempts read it.
enum Src {
    Path(std::path::PathBuf),
    Bytes(Bytes),
    Once(Option<ChunkStream>),
}

/// Splits in-memory bytes into chunks (no copy) so progress moves smoothly.
fn chunks_of(b: Bytes) -> Vec<Bytes> {
    const CHUNK: usize = crate::upload::FILE_CHUNK;
    let mut out = Vec::with_capacity(b.len() / CHUNK + 1);
    let mut i = 0;
    while i < b.len() {
        let end = (i + CHUNK).min(b.len());
        out.push(b.slice(i..end));
        i = end;
    }
    out
}

/// Reads at most `limit` bytes of a body; the rest is not read (the body is dropped).
async fn read_limited(mut body: ResponseBody, limit: usize) -> Result<Bytes, Error> {
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
        let r = self
            .upload_inner(upload)
            .instrument(span.clone())
            .await
            .map_err(|e| self.scrub(e));
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
        self.download_inner(media)
            .instrument(span)
            .await
            .map_err(|e| self.scrub(e))
    }

    async fn delete(&self, id: &MediaId) -> Result<(), Error> {
        let span = tracing::info_span!("wa_media.delete", media_id = %id, attempt = field::Empty);
        let cfg = &self.inner.config;
        self.run_json(
            true,
            || {
                Ok((
                    protocol::build_delete_request(cfg, id)?,
                    Limits::request(&cfg.timeouts),
                ))
            },
            protocol::parse_delete_response,
        )
        .instrument(span)
        .await
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.inner.config.retry.clone()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.inner.transport.sleep(duration)
    }
}
