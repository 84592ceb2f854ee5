//! Receiving media: the multipart upload parsed as a stream and spooled to disk while it is
//! hashed, with the size limit enforced the moment it is crossed — a 100 MB upload never sits
//! in memory, and an oversized one is refused without reading the rest.
//!
//! The parsed chunks are not copied again: they go in batches of about 128 KiB to the blocking
//! pool, where each batch is hashed and written with `std::fs` while the next one is received
//! and parsed (one hand-off per batch instead of tokio's copy and hand-off per write).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;
use http_body::Body;
use http_body_util::BodyExt as _;
use wa_media_types::{
    validate_upload, MediaKind, MediaType, Problem, Sha256Digest, StreamingDigest, UploadCandidate,
    MAX_MEDIA_BYTES, MAX_MEDIA_TTL_MINUTES, MIN_MEDIA_TTL_MINUTES, SNIFF_LEN,
};

use crate::reply::ApiError;
use crate::store::Store;

/// How many bytes of parsed chunks are gathered before they are hashed and written together
/// (while the next batch is gathered).
const SPOOL_BATCH: usize = 128 * 1024;

/// Longest accepted text field (`messaging_product`, `type`, unknown fields), in bytes.
const MAX_TEXT_FIELD: usize = 4 * 1024;

/// After a refusal, how much more of a request body is read and thrown away (so the client
/// can read the answer instead of a reset), and for how long at most.
const DRAIN_MAX_BYTES: u64 = 128 * 1024 * 1024;
const DRAIN_MAX_TIME: Duration = Duration::from_secs(30);

/// The message Graph sends when the `file` part has a Content-Type it does not take.
pub(crate) fn bad_part_type_message(received: &str) -> String {
    let received: String = received.chars().take(100).collect();
    format!(
        "(#100) Param file must be a file with one of the following types: audio/aac, \
         audio/mp4, audio/mpeg, audio/amr, audio/ogg, audio/opus, application/vnd.ms-powerpoint, \
         application/msword, \
         application/vnd.openxmlformats-officedocument.wordprocessingml.document, \
         application/vnd.openxmlformats-officedocument.presentationml.presentation, \
         application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, application/pdf, \
         text/plain, application/vnd.ms-excel, image/jpeg, image/png, image/webp, video/mp4, \
         video/3gpp. Received file of type '{received}'."
    )
}

/// Whether two MIME types name the same format (parameters ignored; `video/3gp` is
/// `video/3gpp`).
fn same_essence(a: &MediaType, b: &MediaType) -> bool {
    let norm = |m: &MediaType| match m.essence() {
        "video/3gp" => "video/3gpp".to_owned(),
        e => e.to_owned(),
    };
    norm(a) == norm(b)
}

/// The message for a `file` part whose Content-Type contradicts the `type` field.
pub(crate) fn contradiction_message(part: &MediaType, declared: &MediaType) -> String {
    let clip = |m: &MediaType| m.to_string().chars().take(100).collect::<String>();
    format!(
        "(#100) Param file is of type '{}', which does not match param type '{}'. Send the \
         file with the Content-Type given in type.",
        clip(part),
        clip(declared)
    )
}

/// A spool file that is removed unless it is committed.
#[derive(Debug)]
pub(crate) struct SpoolGuard {
    path: Option<PathBuf>,
}

impl SpoolGuard {
    pub(crate) fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// Forgets the file: it has been moved into place.
    pub(crate) fn disarm(mut self) {
        self.path = None;
    }
}

impl Drop for SpoolGuard {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A complete, hashed file on disk, not yet checked against the final MIME type.
#[derive(Debug)]
pub(crate) struct Spooled {
    pub(crate) guard: SpoolGuard,
    pub(crate) sha256: Sha256Digest,
    pub(crate) len: u64,
    pub(crate) head: Vec<u8>,
}

/// Writes chunks to a spool file, hashing them, keeping the first [`SNIFF_LEN`] bytes, and
/// refusing the moment the size limit for `mime` is crossed.
pub(crate) struct Spooler {
    writer: SpoolWriter,
    guard: SpoolGuard,
    len: u64,
    batch: Vec<Bytes>,
    batch_len: usize,
    head: Vec<u8>,
    mime: MediaType,
    max: Option<u64>,
}

/// The spool file and the hash of what it holds, moved to the blocking pool for each batch.
type Spool = (std::fs::File, StreamingDigest);

/// Hashes and writes the batches of one spool file, each on a short blocking task while the
/// next batch is received (no blocking thread waits on the client).
struct SpoolWriter {
    /// The file when no batch is being written.
    idle: Option<Spool>,
    /// The batch being written; gives the file back.
    pending: Option<tokio::task::JoinHandle<io::Result<Spool>>>,
}

impl SpoolWriter {
    /// Creates the file at `path`.
    async fn start(path: PathBuf) -> io::Result<Self> {
        let file = tokio::task::spawn_blocking(move || std::fs::File::create(path))
            .await
            .map_err(io::Error::other)??;
        Ok(Self {
            idle: Some((file, StreamingDigest::new())),
            pending: None,
        })
    }

    /// The file back once the batch being written is done.
    async fn settle(&mut self) -> io::Result<Spool> {
        if let Some(pending) = self.pending.take() {
            return pending.await.map_err(io::Error::other)?;
        }
        self.idle
            .take()
            .ok_or_else(|| io::Error::other("the spool file failed before"))
    }

    /// Hands a batch to the blocking pool (after the one before is written).
    async fn send(&mut self, batch: Vec<Bytes>) -> io::Result<()> {
        use std::io::Write as _;
        let (mut file, mut digest) = self.settle().await?;
        self.pending = Some(tokio::task::spawn_blocking(move || {
            for chunk in &batch {
                digest.update(chunk);
            }
            // One system call for the batch where the kernel takes it all.
            let mut slices: Vec<io::IoSlice<'_>> =
                batch.iter().map(|c| io::IoSlice::new(c)).collect();
            let mut left = &mut slices[..];
            while !left.is_empty() {
                match file.write_vectored(left) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => io::IoSlice::advance_slices(&mut left, n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            drop(slices);
            Ok((file, digest))
        }));
        Ok(())
    }

    /// Waits until everything sent is written, closes the file and gives the digest of it all.
    async fn wait(&mut self) -> io::Result<Sha256Digest> {
        let (file, digest) = self.settle().await?;
        drop(file);
        Ok(digest.finish())
    }
}

/// The size limit for `mime` given the file's first bytes, taken from `validate_upload` itself
/// (asked about an impossibly large file, it names the limit that applies).
fn limit_for(mime: &MediaType, head: &[u8]) -> u64 {
    let candidate = UploadCandidate {
        kind: None,
        mime,
        len: u64::MAX,
        head,
    };
    match validate_upload(&candidate) {
        Err(e) => e
            .problems
            .iter()
            .find_map(|p| match p {
                Problem::TooLarge { max, .. } => Some(*max),
                _ => None,
            })
            .unwrap_or(MAX_MEDIA_BYTES),
        Ok(v) => v.max_bytes,
    }
}

impl Spooler {
    pub(crate) async fn create(store: &Store, mime: MediaType) -> Result<Self, ApiError> {
        let path = store.spool_path();
        let guard = SpoolGuard {
            path: Some(path.clone()),
        };
        let writer = SpoolWriter::start(path).await.map_err(|e| {
            tracing::error!(error = %e, "cannot create spool file");
            ApiError::server_error(500)
        })?;
        Ok(Self {
            writer,
            guard,
            len: 0,
            batch: Vec::new(),
            batch_len: 0,
            head: Vec::new(),
            mime,
            max: None,
        })
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    fn too_large(&self, len: u64) -> ApiError {
        let candidate = UploadCandidate {
            kind: None,
            mime: &self.mime,
            len,
            head: &self.head,
        };
        let details = match validate_upload(&candidate) {
            Err(e) => e
                .problems
                .iter()
                .find(|p| matches!(p, Problem::TooLarge { .. }))
                .map_or_else(|| e.to_string(), |p| p.to_string()),
            Ok(_) => format!("the file is over {len} bytes"),
        };
        ApiError::upload_refused(details)
    }

    pub(crate) async fn push(&mut self, chunk: Bytes) -> Result<(), ApiError> {
        if self.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() >= SNIFF_LEN {
                self.max = Some(limit_for(&self.mime, &self.head));
            }
        }
        let new_len = self.len + chunk.len() as u64;
        let max = self.max.unwrap_or(MAX_MEDIA_BYTES);
        if new_len > max {
            return Err(self.too_large(new_len));
        }
        self.len = new_len;
        if chunk.is_empty() {
            return Ok(());
        }
        self.batch_len += chunk.len();
        self.batch.push(chunk);
        if self.batch_len >= SPOOL_BATCH {
            self.flush_batch().await?;
        }
        Ok(())
    }

    async fn flush_batch(&mut self) -> Result<(), ApiError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.batch_len = 0;
        self.writer.send(batch).await.map_err(|e| {
            tracing::error!(error = %e, "cannot write spool file");
            ApiError::server_error(500)
        })
    }

    pub(crate) async fn finish(mut self) -> Result<Spooled, ApiError> {
        self.flush_batch().await?;
        let sha256 = self.writer.wait().await.map_err(|e| {
            tracing::error!(error = %e, "cannot write spool file");
            ApiError::server_error(500)
        })?;
        Ok(Spooled {
            guard: self.guard,
            len: self.len,
            sha256,
            head: self.head,
        })
    }

    /// Gives up: waits until the writer has closed the file, then removes it.
    pub(crate) async fn abort(self) {
        let Spooler {
            mut writer, guard, ..
        } = self;
        let _ = writer.wait().await;
        drop(guard);
    }
}

/// Checks a complete file against the declared type with `validate_upload`.
pub(crate) fn validate_final(
    mime: &MediaType,
    kind: Option<MediaKind>,
    spooled: &Spooled,
) -> Result<(), ApiError> {
    validate_upload(&UploadCandidate {
        kind,
        mime,
        len: spooled.len,
        head: &spooled.head,
    })
    .map(|_| ())
    .map_err(|e| ApiError::upload_refused(e.to_string()))
}

/// How much of a request body must arrive within every body-timeout window
/// ([`EmulatorConfig::body_timeout`](crate::EmulatorConfig::body_timeout)), unless the body ends
/// first: a body dripping slower than this is cut off with a 408, like one that stalls.
pub const BODY_MIN_BYTES_PER_WINDOW: u64 = 16 * 1024;

/// A request body that made too little progress within the body timeout.
#[derive(Debug)]
pub(crate) struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body made too little progress within the body timeout")
    }
}

impl std::error::Error for BodyTimedOut {}

fn body_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, BodyTimedOut)
}

/// Whether a body error (as multer or a stream consumer sees it) is the body timeout.
pub(crate) fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyTimedOut>() {
            return true;
        }
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.get_ref().is_some_and(|inner| inner.is::<BodyTimedOut>()) {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

/// Forwards a request body through a small channel (back-pressure: at most a few frames are
/// buffered). When the receiving side is dropped — the upload was refused — the rest of the
/// body is read and discarded (up to a bound), so the client gets the answer rather than a
/// connection reset while it is still sending.
///
/// Every `window`, at least [`BODY_MIN_BYTES_PER_WINDOW`] bytes (or the end of the body) must
/// arrive; otherwise the stream ends with a [`BodyTimedOut`] error (time spent waiting for the
/// consumer does not count) and the body is dropped, which closes the request.
pub(crate) fn body_stream<B>(
    body: B,
    window: Duration,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(1);
    tokio::spawn(async move {
        let mut body = Box::pin(body);
        let mut drained: u64 = 0;
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        let mut window_start = tokio::time::Instant::now();
        let mut window_bytes: u64 = 0;
        loop {
            let progress_deadline = window_start + window;
            let limit = drain_deadline.map_or(progress_deadline, |d| d.min(progress_deadline));
            // Converted at once: the body's own error type need not be `Send`.
            let polled = tokio::time::timeout_at(limit, body.frame())
                .await
                .ok()
                .map(|f| f.map(|r| r.map_err(|e| io::Error::other(e.into()))));
            let Some(frame) = polled else {
                if drain_deadline.is_none() {
                    tracing::debug!("request body timed out");
                    let _ = tx.send(Err(body_timed_out())).await;
                }
                break;
            };
            match frame {
                None => break,
                Some(Err(e)) => {
                    if drain_deadline.is_none() {
                        let _ = tx.send(Err(e)).await;
                    }
                    break;
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    window_bytes += data.len() as u64;
                    if window_bytes >= BODY_MIN_BYTES_PER_WINDOW {
                        window_start = tokio::time::Instant::now();
                        window_bytes = 0;
                    }
                    if drain_deadline.is_none() {
                        let waited = tokio::time::Instant::now();
                        if tx.send(Ok(data)).await.is_err() {
                            drain_deadline = Some(tokio::time::Instant::now() + DRAIN_MAX_TIME);
                        }
                        // The consumer's own slowness (disk writes) is not the client's.
                        window_start += waited.elapsed();
                    } else {
                        drained += data.len() as u64;
                        if drained > DRAIN_MAX_BYTES {
                            break;
                        }
                    }
                }
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) })
}

/// Reads and discards a body in the background (bounded by size, total time and the body
/// timeout), for answers given before reading it.
pub(crate) fn discard_body<B>(body: B, window: Duration)
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let s = body_stream(body, window);
    drop(s);
}

/// Why [`collect_limited`] produced no bytes.
#[derive(Debug)]
pub(crate) enum CollectError {
    /// Over the limit.
    TooLarge,
    /// The body timeout.
    TimedOut,
    /// The body broke off.
    Broken,
}

/// Reads a whole (small) body of at most `max` bytes, under the body timeout.
pub(crate) async fn collect_limited<B>(
    body: B,
    max: usize,
    window: Duration,
) -> Result<Vec<u8>, CollectError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use futures_util::StreamExt as _;
    if body.size_hint().lower() > max as u64 {
        discard_body(body, window);
        return Err(CollectError::TooLarge);
    }
    let mut stream = std::pin::pin!(body_stream(body, window));
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                if out.len() + c.len() > max {
                    return Err(CollectError::TooLarge);
                }
                out.extend_from_slice(&c);
            }
            Err(e) if is_body_timeout(&e) => return Err(CollectError::TimedOut),
            Err(_) => return Err(CollectError::Broken),
        }
    }
    Ok(out)
}

/// What a successful multipart upload produced.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) spooled: Spooled,
    pub(crate) mime_type: MediaType,
    pub(crate) filename: Option<String>,
    /// The `ttl_minutes` field, when the upload had one (checked: an integer in range).
    pub(crate) ttl_minutes: Option<u32>,
}

/// Why an upload produced no media.
#[derive(Debug)]
pub(crate) enum UploadFailure {
    /// Answer with this Graph error.
    Api(ApiError),
    /// Reset the connection (injected fault).
    Reset,
}

impl From<ApiError> for UploadFailure {
    fn from(e: ApiError) -> Self {
        UploadFailure::Api(e)
    }
}

fn multipart_error(e: multer::Error) -> ApiError {
    if is_body_timeout(&e) {
        return ApiError::body_timeout();
    }
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            ApiError::upload_refused(format!(
                "the request body is over the limit of {MAX_MEDIA_BYTES} bytes for any media"
            ))
        }
        other => ApiError::param(format!(
            "(#100) Invalid multipart/form-data request body: {other}"
        )),
    }
}

async fn read_text(field: &mut multer::Field<'static>, name: &str) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(ApiError::param(format!("(#100) Param {name} is too long")));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf)
        .map_err(|_| ApiError::param(format!("(#100) Param {name} is not valid UTF-8")))
}

/// The `ttl_minutes` field as Graph takes it: an integer from [`MIN_MEDIA_TTL_MINUTES`] to
/// [`MAX_MEDIA_TTL_MINUTES`] (1 hour to 30 days); anything else is error 100.
pub(crate) fn parse_ttl_minutes(text: &str) -> Result<u32, ApiError> {
    let text = text.trim();
    let clip = || text.chars().take(40).collect::<String>();
    let n: i64 = text.parse().map_err(|_| {
        ApiError::param(format!(
            "(#100) Param ttl_minutes must be an integer, got \"{}\".",
            clip()
        ))
    })?;
    u32::try_from(n)
        .ok()
        .filter(|n| (MIN_MEDIA_TTL_MINUTES..=MAX_MEDIA_TTL_MINUTES).contains(n))
        .ok_or_else(|| {
            ApiError::param(format!(
                "(#100) Param ttl_minutes must be between {MIN_MEDIA_TTL_MINUTES} and \
                 {MAX_MEDIA_TTL_MINUTES} (1 hour to 30 days), got {n}."
            ))
        })
}

/// Parses and spools a multipart upload. `reset_at`: reset the connection after about this many
/// bytes of the file (injected fault).
pub(crate) async fn receive_multipart<B>(
    store: &Store,
    content_type: Option<&str>,
    body: B,
    reset_at: Option<u64>,
    window: Duration,
) -> Result<Received, UploadFailure>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let boundary = match content_type.map(multer::parse_boundary) {
        Some(Ok(b)) => b,
        _ => {
            discard_body(body, window);
            return Err(ApiError::param(
                "(#100) The request body must be multipart/form-data with the parameters \
                 messaging_product, type and file",
            )
            .into());
        }
    };
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(MAX_MEDIA_BYTES + 1024 * 1024));
    let mut multipart =
        multer::Multipart::with_constraints(body_stream(body, window), boundary, constraints);

    let mut product: Option<String> = None;
    let mut declared: Option<String> = None;
    let mut ttl_minutes: Option<u32> = None;
    let mut file: Option<(Spooled, Option<String>, MediaType)> = None;

    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "messaging_product" => product = Some(read_text(&mut field, &name).await?),
            "type" => declared = Some(read_text(&mut field, &name).await?),
            "ttl_minutes" => {
                ttl_minutes = Some(parse_ttl_minutes(&read_text(&mut field, &name).await?)?)
            }
            "file" => {
                if file.is_some() {
                    return Err(ApiError::param("(#100) Param file must be a single file").into());
                }
                let part_type = field
                    .content_type()
                    .map_or_else(|| "application/octet-stream".to_owned(), |m| m.to_string());
                let part_mime = MediaType::parse(&part_type).ok();
                let accepted = part_mime
                    .as_ref()
                    .is_some_and(|m| MediaKind::infer(m).is_some() || m.essence() == "audio/opus");
                let Some(part_mime) = part_mime.filter(|_| accepted) else {
                    return Err(ApiError::param(bad_part_type_message(&part_type)).into());
                };
                // The limit follows the declared `type` when it came first, else the part's type.
                let limit_mime = declared
                    .as_deref()
                    .and_then(|d| MediaType::parse(d.trim()).ok())
                    .unwrap_or_else(|| part_mime.clone());
                let filename = field.file_name().map(|f| f.chars().take(255).collect());
                let mut spooler = Spooler::create(store, limit_mime).await?;
                let received: Result<(), UploadFailure> = async {
                    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                        spooler.push(chunk).await?;
                        if reset_at.is_some_and(|r| spooler.len() >= r) {
                            return Err(UploadFailure::Reset);
                        }
                    }
                    if reset_at.is_some() {
                        return Err(UploadFailure::Reset);
                    }
                    Ok(())
                }
                .await;
                if let Err(e) = received {
                    spooler.abort().await;
                    return Err(e);
                }
                file = Some((spooler.finish().await?, filename, part_mime));
            }
            _ => {
                // Unknown fields are ignored, as Graph ignores unknown parameters.
                let _ = read_text(&mut field, &name).await?;
            }
        }
    }
    if reset_at.is_some() {
        return Err(UploadFailure::Reset);
    }

    match product.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(
                ApiError::param("(#100) The parameter messaging_product is required.").into(),
            )
        }
        Some(p) if !p.eq_ignore_ascii_case("whatsapp") => {
            let p: String = p.chars().take(40).collect();
            return Err(ApiError::param(format!(
                "(#100) Param messaging_product must be one of {{WHATSAPP}} - got \"{p}\"."
            ))
            .into());
        }
        Some(_) => {}
    }
    let Some((spooled, filename, part_mime)) = file else {
        return Err(ApiError::param("(#100) The parameter file is required.").into());
    };
    let declared = match declared.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(ApiError::param("(#100) The parameter type is required.").into())
        }
        Some(d) => d.to_owned(),
    };
    let mime_type = MediaType::parse(&declared).map_err(|_| {
        let d: String = declared.chars().take(80).collect();
        ApiError::param(format!(
            "(#100) Param type must be a valid MIME type, got '{d}'"
        ))
    })?;
    if !same_essence(&part_mime, &mime_type) {
        return Err(ApiError::param(contradiction_message(&part_mime, &mime_type)).into());
    }
    validate_final(&mime_type, None, &spooled)?;
    Ok(Received {
        spooled,
        mime_type,
        filename,
        ttl_minutes,
    })
}

/// Spools a raw (non-multipart) body declared as `mime`, for inbound simulation over HTTP.
pub(crate) async fn receive_raw<B>(
    store: &Store,
    mime: MediaType,
    body: B,
    window: Duration,
) -> Result<Spooled, ApiError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use futures_util::StreamExt as _;
    let mut spooler = Spooler::create(store, mime).await?;
    let mut stream = std::pin::pin!(body_stream(body, window));
    let received: Result<(), ApiError> = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                if is_body_timeout(&e) {
                    ApiError::body_timeout()
                } else {
                    ApiError::param("(#100) The request body was cut off")
                }
            })?;
            spooler.push(chunk).await?;
        }
        Ok(())
    }
    .await;
    match received {
        Ok(()) => spooler.finish().await,
        Err(e) => {
            spooler.abort().await;
            Err(e)
        }
    }
}
