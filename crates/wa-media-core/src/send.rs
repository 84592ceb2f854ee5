//! Sending media messages: [`MessagingApi`] (`send_media`), implemented by
//! [`MediaClient`] on any transport, and files: [`MediaClient::plan_send_file`] checks and
//! decides once, [`MediaClient::send_planned`] uploads and sends ([`MediaClient::send_file`]
//! is the two in one call).
//! Why a sibling trait, and when a send is retried: see [`MessagingApi`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tracing::{field, Instrument};
use wa_media_types::{
    sniff_media_type, ErrorClass, MediaId, MediaKind, MediaRef, MediaType, PhoneNumberId,
    SendMedia, SendNote, SendTemplate, SendValidationError, SentMessage,
};

use crate::client::{traced_upload, MediaClient};
use crate::error::Error;
use crate::progress::Progress;
use crate::retry::Failed;
use crate::upload::{OpenedSource, PreparedUpload, Upload};

/// Sending messages to WhatsApp users. Object-safe: `Arc<dyn MessagingApi>` works.
///
/// # Why a sibling trait
///
/// [`MediaApi`](crate::MediaApi) is the media-only seam (upload, retrieve, download, delete) that applications,
/// the emulator and test doubles implement. Adding `send_media` to it would make every existing
/// implementor either implement messaging or inherit a default that fails at run time.
/// [`MessagingApi`] sits beside it instead: object-safe (`Arc<dyn MessagingApi>` works), with
/// one method, and [`MediaClient`] implements both. Code that needs both asks for
/// `T: MediaApi + MessagingApi`.
///
/// # A message is never sent twice
///
/// Sending is not idempotent: a duplicate message to a customer is worse than an error. So a
/// send is retried (under the client's [`crate::RetryPolicy`], honouring `Retry-After`) only
/// when it provably did not happen:
/// - the request never reached Graph ([`Error::request_not_sent`]: a connect failure or
///   connect timeout);
/// - Graph refused it for rate: HTTP 429 or a rate-limit code (130429 throughput, 131056 pair
///   rate, and the app and account rate limits 4, 17, 32, 613, 80007).
///
/// When the request may have reached Graph and no answer says what happened — the connection
/// broke or timed out after the body was sent, Graph answered 5xx, or a 2xx answer could not be
/// read — the send fails with [`Error::MaybeSent`] and is not retried: check the message's
/// status webhooks before sending it again. Every other Graph error (an invalid parameter,
/// outside the 24-hour window, …) is returned as it is.
#[async_trait::async_trait]
pub trait MessagingApi: Send + Sync {
    /// Sends a media message (`POST /{version}/{phone_number_id}/messages`) after checking it
    /// locally with [`SendMedia::validate`] (a refusal is [`Error::InvalidMessage`], nothing
    /// sent). Retried only when it provably was not sent; [`Error::MaybeSent`] when it may
    /// have been. To send from another business number for one call, send through
    /// [`MediaClient::with_phone_number_id`] (a cheap clone sharing the connection pool).
    async fn send_media(&self, msg: &SendMedia) -> Result<SentMessage, Error>;

    /// Sends a template message (`type: template`, the one kind Graph delivers outside the
    /// 24-hour customer-service window) after checking it locally with
    /// [`SendTemplate::validate`] (a refusal is [`Error::InvalidMessage`], nothing sent).
    /// The same rule as [`MessagingApi::send_media`]: retried only when it provably was not
    /// sent; [`Error::MaybeSent`] when it may have been.
    async fn send_template(&self, msg: &SendTemplate) -> Result<SentMessage, Error>;
}

#[async_trait::async_trait]
impl<A: MessagingApi + ?Sized> MessagingApi for Arc<A> {
    async fn send_media(&self, msg: &SendMedia) -> Result<SentMessage, Error> {
        (**self).send_media(msg).await
    }

    async fn send_template(&self, msg: &SendTemplate) -> Result<SentMessage, Error> {
        (**self).send_template(msg).await
    }
}

/// What the send loop does with a failed attempt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It provably was not sent: retry if the budget allows.
    Retry,
    /// It may have been sent: wrap in [`Error::MaybeSent`], never retry.
    MaybeSent,
    /// Graph answered; return the error as it is.
    Final,
}

/// Decides, from a failed send attempt, whether sending again is safe.
pub(crate) fn send_verdict(e: &Error) -> Verdict {
    match e {
        Error::Api(a) => {
            let rate = a.status == http::StatusCode::TOO_MANY_REQUESTS
                || a.body.graph().map(|g| g.class()) == Some(ErrorClass::RateLimited);
            if rate {
                Verdict::Retry
            } else if a.status.is_server_error() {
                Verdict::MaybeSent
            } else {
                Verdict::Final
            }
        }
        Error::Transport(_) | Error::Timeout { .. } if e.request_not_sent() => Verdict::Retry,
        Error::Transport(_) | Error::Timeout { .. } => Verdict::MaybeSent,
        // A success status whose body could not be read: Graph probably accepted it.
        Error::InvalidResponse { status, .. } if status.is_success() => Verdict::MaybeSent,
        _ => Verdict::Final,
    }
}

/// A failed attempt at a request that must not take effect twice (a message, a template
/// creation), as the retry loop sees it: retried only when provably not sent or refused for
/// rate ([`send_verdict`]); wrapped in [`Error::MaybeSent`] and never sent again when it may
/// have taken effect.
pub(crate) fn once_only(err: Error) -> Failed {
    match send_verdict(&err) {
        Verdict::Retry => Failed::retry_if(err, true),
        // It may have been delivered: never sent again.
        Verdict::MaybeSent => Failed::fatal(Error::MaybeSent {
            source: Box::new(err),
        }),
        Verdict::Final => Failed::fatal(err),
    }
}

impl MediaClient {
    /// Sends a message that was checked: [`SendMedia::validate`] by `send_media`, the plan by
    /// [`MediaClient::plan_send_file`].
    async fn send_checked(&self, msg: &SendMedia) -> Result<SentMessage, Error> {
        self.send_message_json(&msg.to_json()).await
    }

    /// Sends a checked message's JSON body (media or template) under the rule of
    /// [`MessagingApi`]: retried only when provably not sent ([`send_verdict`]), else
    /// returned, wrapped in [`Error::MaybeSent`] when it may have been delivered. Every
    /// message goes through here: the rule has one place.
    async fn send_message_json(&self, message: &serde_json::Value) -> Result<SentMessage, Error> {
        let cfg = self.config();
        self.retrying(|token| async move {
            let req = crate::protocol::build_message_request(cfg, &token, message)?;
            let resp = self
                .exchange(req, crate::deadline::Limits::request(&cfg.timeouts))
                .await;
            resp.and_then(|r| crate::protocol::parse_send_response(&r))
                .map_err(once_only)
        })
        .await
    }

    /// Validates, uploads and sends a file in one call; returns the new media id and the sent
    /// message: [`plan_send_file`](Self::plan_send_file), then
    /// [`send_planned`](Self::send_planned). A tool that shows the plan's notes (or asks) before
    /// uploading calls the two itself.
    ///
    /// A failure after the upload is [`SendFileError::Send`] with the media id: send again by
    /// id (valid 30 days) instead of uploading again — after checking the statuses if the
    /// error says the message may have been sent.
    pub async fn send_file(
        &self,
        path: impl AsRef<Path>,
        to: &str,
        options: SendOptions,
    ) -> Result<(MediaId, SentMessage), SendFileError> {
        let plan = self.plan_send_file(path, to, options)?;
        self.send_planned(plan).await
    }

    /// Checks everything about sending the file at `path` to `to`, before anything is uploaded,
    /// and decides how: the [`SendPlan`] that [`send_planned`](Self::send_planned) carries out.
    /// The file's metadata and first bytes are read here, once (synchronously, with
    /// `std::fs`); the upload checks that the file has not changed since.
    ///
    /// 1. The file: a regular file, not empty ([`SendValidationError::EmptyFile`]).
    /// 2. The MIME type: [`SendOptions::mime`], or sniffed from the contents
    ///    ([`wa_media_types::sniff_media_type`], as `wa-media upload` does;
    ///    [`SendValidationError::UnknownFileType`] when it cannot be told).
    /// 3. The kind: [`SendOptions::kind`], or a voice note when [`SendOptions::voice`], or
    ///    inferred from the MIME type. A document without a filename is sent with the file's
    ///    name.
    /// 4. The message ([`SendMedia::validate_with_file`]: recipient, options for the kind, a
    ///    voice note is Opus in Ogg) and the upload's own validation, the media TTL of
    ///    [`SendOptions::ttl_minutes`] included (unless the client's `validate_uploads` is
    ///    off): a refusal is [`SendFileError::Validation`].
    ///
    /// The plan's notes (a voice note over 512 KB, say) are logged and kept in the plan for a
    /// tool to show.
    ///
    /// ```
    /// # use wa_media_core::{MediaClient, RequestBody, ResponseBody, TransportError};
    /// use wa_media_core::{SendFileError, SendOptions};
    /// # let transport = |_req: http::Request<RequestBody>| async {
    /// #     Ok::<_, TransportError>(http::Response::new(ResponseBody::from_bytes("{}")))
    /// # };
    /// # let client = MediaClient::builder(transport).token("EAAG...").build().unwrap();
    /// let path = std::env::temp_dir().join(format!("wa-media-doc-{}.txt", std::process::id()));
    /// std::fs::write(&path, "hello").unwrap();
    /// // A text file is no voice note: refused before anything is uploaded.
    /// let voice = SendOptions::default().voice(true);
    /// let err = client.plan_send_file(&path, "15551234567", voice).unwrap_err();
    /// assert!(matches!(err, SendFileError::Validation(_)));
    /// // As a document it is fine.
    /// let plan = client.plan_send_file(&path, "15551234567", SendOptions::default()).unwrap();
    /// assert!(plan.notes().is_empty());
    /// assert_eq!((plan.kind().as_str(), plan.len()), ("document", 5));
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn plan_send_file(
        &self,
        path: impl AsRef<Path>,
        to: &str,
        options: SendOptions,
    ) -> Result<SendPlan, SendFileError> {
        let path = path.as_ref();
        let source = OpenedSource::path(path.to_owned()).map_err(SendFileError::Upload)?;
        let (len, head) = (source.len(), source.head());
        // Before the type is guessed: an empty file has no contents to guess from.
        if len == 0 {
            return Err(SendValidationError::EmptyFile.into());
        }
        let mime = match options.mime {
            Some(m) => m,
            None => sniff_media_type(head).ok_or(SendValidationError::UnknownFileType)?,
        };
        let kind = match options.kind {
            Some(k) => k,
            None if options.voice => MediaKind::Voice,
            None => MediaKind::infer(&mime).ok_or_else(|| SendValidationError::NoKindFor {
                mime: mime.to_string(),
            })?,
        };
        let placeholder = MediaId::new(PLACEHOLDER_ID).expect("a valid media id");
        let mut msg = SendMedia::by_id(to, kind, placeholder)?.voice(options.voice);
        if let Some(c) = options.caption {
            msg = msg.caption(c);
        }
        match options.filename {
            Some(f) => msg = msg.filename(f),
            None if kind == MediaKind::Document => {
                if let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) {
                    msg = msg.filename(name);
                }
            }
            None => {}
        }
        if let Some(r) = options.reply_to {
            msg = msg.reply_to(r);
        }
        if let Some(d) = options.callback_data {
            msg = msg.callback_data(d);
        }
        let notes = msg.validate_with_file(len, head)?;
        let upload_kind = if msg.is_voice() {
            MediaKind::Voice
        } else {
            kind
        };
        let mut upload = Upload::from_path(path, mime).kind(upload_kind);
        if let Some(p) = options.progress {
            upload = upload.progress_arc(p);
        }
        if let Some(minutes) = options.ttl_minutes {
            upload = upload.ttl_minutes(minutes);
        }
        let upload = upload.prepared(source);
        let validated = upload
            .validate(self.config().validate_uploads)
            .map_err(SendValidationError::from)?;
        for n in &notes {
            tracing::warn!(note = %n, "message note");
        }
        Ok(SendPlan {
            upload,
            upload_kind: validated.map_or(upload_kind, |v| v.kind),
            message: msg,
            notes,
            phone_number_id: options.phone_number_id,
        })
    }

    /// Carries out a [`SendPlan`]: uploads the file ([`MediaApi::upload`](crate::MediaApi::upload)'s rules and
    /// retries, without checking again what the plan checked), then sends it by the new id
    /// ([`MessagingApi::send_media`]'s rules: never sent twice). With
    /// [`SendOptions::phone_number_id`], both go out for that number.
    ///
    /// # Errors
    /// [`SendFileError::Upload`] when reading or uploading the file failed (also when the file
    /// changed since it was planned): no message was sent. [`SendFileError::Send`] with the
    /// media id when the upload worked and the send did not.
    pub async fn send_planned(
        &self,
        plan: SendPlan,
    ) -> Result<(MediaId, SentMessage), SendFileError> {
        let SendPlan {
            upload,
            upload_kind,
            mut message,
            phone_number_id,
            ..
        } = plan;
        let for_number;
        let client = match phone_number_id {
            Some(phone) => {
                for_number = self.with_phone_number_id(phone);
                &for_number
            }
            None => self,
        };
        let media_id = traced_upload(client.upload_prepared(upload, Some(upload_kind)))
            .await
            .map_err(SendFileError::Upload)?;
        message.media = MediaRef::Id(media_id.clone());
        match traced_send(&message, client.send_checked(&message)).await {
            Ok(sent) => Ok((media_id, sent)),
            Err(source) => Err(SendFileError::Send { media_id, source }),
        }
    }
}

/// Runs a send inside its `wa_media.send` span and logs how it finished.
async fn traced_send(
    msg: &SendMedia,
    work: impl std::future::Future<Output = Result<SentMessage, Error>>,
) -> Result<SentMessage, Error> {
    let span = tracing::info_span!(
        "wa_media.send",
        kind = msg.kind.as_str(),
        by = match &msg.media {
            MediaRef::Id(_) => "id",
            _ => "link",
        },
        attempt = field::Empty,
        wamid = field::Empty,
    );
    let started = Instant::now();
    let r = work.instrument(span.clone()).await;
    span.in_scope(|| {
        if let Ok(s) = &r {
            tracing::Span::current().record("wamid", s.wamid.as_str());
        }
        tracing::info!(
            ok = r.is_ok(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "send finished"
        )
    });
    r
}

#[async_trait::async_trait]
impl MessagingApi for MediaClient {
    async fn send_media(&self, msg: &SendMedia) -> Result<SentMessage, Error> {
        traced_send(msg, async {
            let notes = msg.validate()?;
            for n in &notes {
                tracing::warn!(note = %n, "message note");
            }
            self.send_checked(msg).await
        })
        .await
    }

    async fn send_template(&self, msg: &SendTemplate) -> Result<SentMessage, Error> {
        traced_template(msg, async {
            msg.validate()?;
            self.send_message_json(&msg.to_json()).await
        })
        .await
    }
}

/// Runs a template send inside its `wa_media.send_template` span and logs how it finished.
async fn traced_template(
    msg: &SendTemplate,
    work: impl std::future::Future<Output = Result<SentMessage, Error>>,
) -> Result<SentMessage, Error> {
    let span = tracing::info_span!(
        "wa_media.send_template",
        template = msg.name.as_str(),
        header = msg.header.as_ref().map(|h| h.kind.as_str()),
        attempt = field::Empty,
        wamid = field::Empty,
    );
    let started = Instant::now();
    let r = work.instrument(span.clone()).await;
    span.in_scope(|| {
        if let Ok(s) = &r {
            tracing::Span::current().record("wamid", s.wamid.as_str());
        }
        tracing::info!(
            ok = r.is_ok(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "template send finished"
        )
    });
    r
}

impl MediaClient {
    /// Validates, uploads and sends a template whose media header is the file at `path`,
    /// as [`send_file`](Self::send_file) does for a media message: the header's kind is
    /// `kind`, or inferred from the file's sniffed type (a PDF is a document); a document
    /// without a file name is sent with the file's name; the template
    /// ([`SendTemplate::validate_with_file`]: the header kind against the contents) and the
    /// upload's own validation run before anything is uploaded. `msg`'s header, if any, is
    /// replaced by the uploaded file.
    ///
    /// # Errors
    /// As [`send_file`](Self::send_file): [`SendFileError::Validation`] (nothing sent),
    /// [`SendFileError::Upload`] (no message sent), [`SendFileError::Send`] with the media id.
    pub async fn send_template_file(
        &self,
        path: impl AsRef<Path>,
        msg: SendTemplate,
        kind: Option<MediaKind>,
    ) -> Result<(MediaId, SentMessage), SendFileError> {
        let path = path.as_ref();
        let source = OpenedSource::path(path.to_owned()).map_err(SendFileError::Upload)?;
        let (len, head) = (source.len(), source.head());
        if len == 0 {
            return Err(SendValidationError::EmptyFile.into());
        }
        let mime = sniff_media_type(head).ok_or(SendValidationError::UnknownFileType)?;
        let kind = match kind {
            Some(k) => k,
            None => [MediaKind::Image, MediaKind::Video, MediaKind::Document]
                .into_iter()
                .find(|k| k.allows(&mime))
                .ok_or_else(|| SendValidationError::NoKindFor {
                    mime: mime.to_string(),
                })?,
        };
        let filename = msg
            .header
            .as_ref()
            .and_then(|h| h.filename.clone())
            .or_else(|| {
                (kind == MediaKind::Document)
                    .then(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .flatten()
            });
        let placeholder = MediaId::new(PLACEHOLDER_ID).expect("a valid media id");
        let mut msg = msg.header_id(kind, placeholder);
        if let Some(f) = filename {
            msg = msg.header_filename(f);
        }
        msg.validate_with_file(head)?;
        let upload = Upload::from_path(path, mime).kind(kind).prepared(source);
        let validated = upload
            .validate(self.config().validate_uploads)
            .map_err(SendValidationError::from)?;
        let media_id =
            traced_upload(self.upload_prepared(upload, Some(validated.map_or(kind, |v| v.kind))))
                .await
                .map_err(SendFileError::Upload)?;
        if let Some(h) = &mut msg.header {
            h.media = MediaRef::Id(media_id.clone());
        }
        match traced_template(&msg, self.send_message_json(&msg.to_json())).await {
            Ok(sent) => Ok((media_id, sent)),
            Err(source) => Err(SendFileError::Send { media_id, source }),
        }
    }
}

/// Options of [`MediaClient::send_file`].
///
/// ```
/// use wa_media_core::SendOptions;
/// use wa_media_types::MediaKind;
/// let opts = SendOptions::default()
///     .kind(MediaKind::Document)
///     .caption("Your invoice")
///     .filename("invoice-2031.pdf")
///     .callback_data("order-2031");
/// # drop(opts);
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct SendOptions {
    /// The message kind; inferred from the MIME type when not given (a voice note when
    /// [`SendOptions::voice`] is set).
    pub kind: Option<MediaKind>,
    /// The MIME type to upload with; sniffed from the file's contents when not given.
    pub mime: Option<MediaType>,
    /// A caption (image, video, document).
    pub caption: Option<String>,
    /// The file name shown to the recipient (documents; default: the file's name).
    pub filename: Option<String>,
    /// Send audio as a voice note (the file must be Opus in Ogg).
    pub voice: bool,
    /// The `wamid` of the message this one replies to.
    pub reply_to: Option<String>,
    /// `biz_opaque_callback_data`, echoed back in the status webhooks.
    pub callback_data: Option<String>,
    /// Receives upload progress.
    pub progress: Option<Arc<dyn Progress>>,
    /// Upload and send for this business phone number instead of the client's.
    pub phone_number_id: Option<PhoneNumberId>,
    /// The uploaded media's TTL in minutes on a "No Storage" number
    /// ([`Upload::ttl_minutes`]: 60 to 43,200, checked with the upload's validation).
    pub ttl_minutes: Option<u32>,
}

impl fmt::Debug for SendOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendOptions")
            .field("kind", &self.kind)
            .field("mime", &self.mime.as_ref().map(|m| m.to_string()))
            .field("caption", &self.caption)
            .field("filename", &self.filename)
            .field("voice", &self.voice)
            .field("reply_to", &self.reply_to)
            .field("callback_data", &self.callback_data)
            .field("progress", &self.progress.is_some())
            .field("phone_number_id", &self.phone_number_id)
            .field("ttl_minutes", &self.ttl_minutes)
            .finish()
    }
}

impl SendOptions {
    /// Sets the message kind.
    pub fn kind(mut self, kind: MediaKind) -> Self {
        self.kind = Some(kind);
        self
    }
    /// Sets the MIME type (parameters such as `; codecs=opus` kept).
    pub fn mime(mut self, mime: MediaType) -> Self {
        self.mime = Some(mime);
        self
    }
    /// Adds a caption.
    pub fn caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }
    /// Sets the document's file name.
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }
    /// Sends audio as a voice note.
    pub fn voice(mut self, voice: bool) -> Self {
        self.voice = voice;
        self
    }
    /// Replies to the message with this `wamid`.
    pub fn reply_to(mut self, wamid: impl Into<String>) -> Self {
        self.reply_to = Some(wamid.into());
        self
    }
    /// Sets `biz_opaque_callback_data`.
    pub fn callback_data(mut self, data: impl Into<String>) -> Self {
        self.callback_data = Some(data.into());
        self
    }
    /// Reports upload progress.
    pub fn progress(mut self, progress: impl Progress + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }
    /// Uploads and sends for this business phone number instead of the client's.
    pub fn phone_number_id(mut self, id: PhoneNumberId) -> Self {
        self.phone_number_id = Some(id);
        self
    }
    /// Uploads the file with this media TTL, in minutes, so that it outlives the default
    /// 1 hour on a "No Storage" number ([`Upload::ttl_minutes`]; outside 60 to 43,200 the plan
    /// is refused, [`SendFileError::Validation`]).
    pub fn ttl_minutes(mut self, minutes: u32) -> Self {
        self.ttl_minutes = Some(minutes);
        self
    }
}

/// Why [`MediaClient::send_file`] failed, by step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendFileError {
    /// Refused locally before uploading; nothing was sent.
    #[error("the message was refused before uploading; nothing was sent")]
    Validation(#[from] SendValidationError),
    /// Reading the file or uploading it failed; no message was sent.
    #[error("the upload failed, no message was sent")]
    Upload(#[source] Error),
    /// The upload succeeded but sending the message failed. Send again with `media_id`
    /// (valid 30 days) instead of uploading again; if `source` is [`Error::MaybeSent`], check
    /// the statuses first.
    #[error("{}", send_failed(media_id, source))]
    Send {
        /// The uploaded media's id.
        media_id: MediaId,
        /// Why the send failed.
        #[source]
        source: Error,
    },
}

fn send_failed(id: &MediaId, source: &Error) -> String {
    let then = if source.may_have_been_sent() {
        "check the message's statuses before sending it again by this media id"
    } else {
        "send it again by this media id (valid 30 days) instead of uploading again"
    };
    format!("the media was uploaded (media id {id}) but sending the message failed; {then}")
}

impl SendFileError {
    /// The uploaded media's id, when the upload succeeded.
    pub fn media_id(&self) -> Option<&MediaId> {
        match self {
            SendFileError::Send { media_id, .. } => Some(media_id),
            _ => None,
        }
    }

    /// The client error of the failed step (upload or send), when there is one.
    pub fn error(&self) -> Option<&Error> {
        match self {
            SendFileError::Upload(e) | SendFileError::Send { source: e, .. } => Some(e),
            SendFileError::Validation(_) => None,
        }
    }
}

/// A file send, checked and decided before anything is uploaded: what
/// [`MediaClient::plan_send_file`] returns and [`MediaClient::send_planned`] carries out. It
/// holds the file's length and first bytes as they were read for the checks; the upload
/// refuses a file that changed since.
pub struct SendPlan {
    upload: PreparedUpload,
    upload_kind: MediaKind,
    /// The message, its media id a placeholder until the upload gives the real one.
    message: SendMedia,
    notes: Vec<SendNote>,
    phone_number_id: Option<PhoneNumberId>,
}

impl fmt::Debug for SendPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendPlan")
            .field("upload", &self.upload)
            .field("kind", &self.message.kind)
            .field("voice", &self.message.is_voice())
            .field("notes", &self.notes)
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

impl SendPlan {
    /// What is worth telling the sender before the upload (a voice note over 512 KB, say);
    /// none of it stops the send.
    pub fn notes(&self) -> &[SendNote] {
        &self.notes
    }

    /// The message kind (a voice note is [`MediaKind::Audio`] with [`SendPlan::is_voice`]).
    pub fn kind(&self) -> MediaKind {
        self.message.kind
    }

    /// Whether the audio goes out as a voice note.
    pub fn is_voice(&self) -> bool {
        self.message.is_voice()
    }

    /// The MIME type the file is uploaded with (given, or sniffed from its contents).
    pub fn mime(&self) -> &MediaType {
        &self.upload.mime
    }

    /// The file's length in bytes, as planned.
    pub fn len(&self) -> u64 {
        self.upload.source.len()
    }

    /// Whether the file is empty (never: an empty file is refused by the plan).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The id in the message while it is checked before the upload (replaced by the real one).
const PLACEHOLDER_ID: &str = "0";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{TransportError, TransportErrorKind};

    #[test]
    fn only_provably_unsent_or_rate_refused_sends_are_retried() {
        let t = |k| Error::from(TransportError::from_kind(k));
        assert_eq!(
            send_verdict(&t(TransportErrorKind::Connect)),
            Verdict::Retry
        );
        assert_eq!(
            send_verdict(&t(TransportErrorKind::ConnectTimeout)),
            Verdict::Retry
        );
        for k in [
            TransportErrorKind::Request,
            TransportErrorKind::Interrupted,
            TransportErrorKind::Decode,
            TransportErrorKind::Unknown,
        ] {
            assert_eq!(send_verdict(&t(k)), Verdict::MaybeSent, "{k:?}");
        }
        assert_eq!(
            send_verdict(&Error::Timeout {
                kind: crate::timeouts::TimeoutKind::Request,
                after: None
            }),
            Verdict::MaybeSent
        );
        assert_eq!(
            send_verdict(&Error::Config(crate::error::ConfigError::Token)),
            Verdict::Final
        );
    }
}
