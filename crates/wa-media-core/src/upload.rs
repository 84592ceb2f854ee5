//! What to upload: a source of known length, its MIME type, and options.

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::StreamExt;
use wa_media_types::{
    validate_named_upload, validate_ttl_minutes, MediaKind, MediaType, PhoneNumberId,
    UploadCandidate, Validated, ValidationError, SNIFF_LEN,
};

use crate::error::Error;
use crate::progress::Progress;

/// Bytes read from a file per chunk of an upload body: 512 KiB (256 KiB–1 MiB measured best;
/// 64 KiB was about 30 % slower).
pub const FILE_CHUNK: usize = 512 * 1024;

/// A boxed stream of upload chunks.
pub type ChunkStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// Where an upload's bytes come from. The length is always known before sending, because the
/// multipart body needs an exact `Content-Length`.
///
/// - `Path`: read with `std::fs` in [`FILE_CHUNK`] pieces while sending (never whole into
///   memory); the length is the file's size when the upload starts. Replayable, so retried.
/// - `Bytes`: already in memory. Replayable, so retried.
/// - `Stream`: any runtime's reader turned into a stream of chunks (for tokio,
///   `tokio_util::io::ReaderStream`) with its exact length. Consumed once: an attempt is
///   retried only while no attempt has read the stream yet (a connection that could not be
///   made, say); once its bytes went into a request body it is never sent again. A stream
///   yielding a different number of bytes than `len` fails the upload.
///
/// File reads are blocking `std::fs` reads of one 512 KiB chunk at a time inside the body's
/// poll; a caller wanting fully non-blocking reads passes a `Stream`. Why: "Blocking file I/O"
/// in docs/architecture.md.
#[non_exhaustive]
pub enum UploadSource {
    /// A file on disk.
    Path(PathBuf),
    /// Bytes in memory.
    Bytes(Bytes),
    /// A one-shot stream of exactly `len` bytes.
    Stream {
        /// The chunks.
        stream: ChunkStream,
        /// The exact total length.
        len: u64,
    },
}

impl fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadSource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            UploadSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            UploadSource::Stream { len, .. } => write!(f, "Stream({len} bytes)"),
        }
    }
}

impl UploadSource {
    /// A one-shot stream of exactly `len` bytes.
    pub fn stream<S>(stream: S, len: u64) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        UploadSource::Stream {
            stream: Box::pin(stream),
            len,
        }
    }

    /// Whether the source can be read again for a retry.
    pub fn is_replayable(&self) -> bool {
        !matches!(self, UploadSource::Stream { .. })
    }

    /// Opens the source for sending: its exact length, its first [`SNIFF_LEN`] bytes (for
    /// validation; a stream's are peeked and put back in front), and a reader per attempt.
    pub(crate) async fn open(self) -> Result<OpenedSource, Error> {
        let watch = ChangeWatch::default();
        let (len, head, reader) = match self {
            UploadSource::Path(path) => return OpenedSource::path(path),
            UploadSource::Bytes(b) => {
                let head = b[..b.len().min(SNIFF_LEN)].to_vec();
                (b.len() as u64, head, Reader::Bytes(b))
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
                let slot = Arc::new(std::sync::Mutex::new(Some(chained)));
                (len, head, Reader::Once(slot))
            }
        };
        Ok(OpenedSource {
            len,
            head,
            reader,
            watch,
        })
    }
}

/// An upload source opened for sending (see [`UploadSource::open`]): its length and first
/// bytes, read once, and how each attempt reads it.
pub(crate) struct OpenedSource {
    len: u64,
    head: Vec<u8>,
    reader: Reader,
    watch: ChangeWatch,
}

impl fmt::Debug for OpenedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("OpenedSource");
        if let Reader::Path { path, .. } = &self.reader {
            d.field("path", path);
        }
        d.field("len", &self.len).finish_non_exhaustive()
    }
}

/// How each attempt reads the source.
enum Reader {
    Path {
        path: PathBuf,
        modified: Option<std::time::SystemTime>,
    },
    Bytes(Bytes),
    /// A one-shot stream. It stays in the slot until a request body first asks for the file's
    /// bytes, so an attempt that never got that far leaves it whole for the next one.
    Once(OnceSlot),
}

type OnceSlot = Arc<std::sync::Mutex<Option<ChunkStream>>>;

impl OpenedSource {
    /// Opens a file (synchronously: `std::fs`): its metadata (a regular file only) and its
    /// first [`SNIFF_LEN`] bytes, the one read of its head for validation and sniffing. Each
    /// attempt later checks that the file still has this length and modification time.
    pub(crate) fn path(path: PathBuf) -> Result<Self, Error> {
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(Some(path.clone()), e))?;
        if !meta.is_file() {
            return Err(Error::io(
                Some(path),
                io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        let mut head = Vec::with_capacity(SNIFF_LEN);
        std::fs::File::open(&path)
            .and_then(|f| f.take(SNIFF_LEN as u64).read_to_end(&mut head))
            .map_err(|e| Error::io(Some(path.clone()), e))?;
        let modified = meta.modified().ok();
        Ok(Self {
            len: meta.len(),
            head,
            reader: Reader::Path { path, modified },
            watch: ChangeWatch::default(),
        })
    }

    /// The exact length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The first bytes, for validation.
    pub(crate) fn head(&self) -> &[u8] {
        &self.head
    }

    /// Whether another attempt can send the whole source again: always for a path or bytes;
    /// for a one-shot stream only while no request body has read it.
    pub(crate) fn can_resend(&self) -> bool {
        match &self.reader {
            Reader::Once(slot) => slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .is_some(),
            _ => true,
        }
    }

    /// The error for a source seen changing while it was sent, if it was.
    pub(crate) fn changed(&self) -> Option<Error> {
        self.watch.changed().map(|detail| Error::SourceChanged {
            path: match &self.reader {
                Reader::Path { path, .. } => Some(path.clone()),
                _ => None,
            },
            detail,
        })
    }

    /// The file's bytes from `offset` to the end, for one attempt of a resumed upload (the
    /// Resumable Upload API): a path is read from there (a seek, streamed), bytes are sliced;
    /// a one-shot stream can only start at 0.
    pub(crate) fn chunks_from(&self, offset: u64) -> Result<ChunkStream, Error> {
        if offset == 0 {
            return self.chunks();
        }
        if offset > self.len {
            return Err(Error::io(
                None,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("offset {offset} is past the end ({} bytes)", self.len),
                ),
            ));
        }
        Ok(match &self.reader {
            Reader::Path { path, modified } => {
                let mut chunks =
                    FileChunks::open(path, self.len - offset, *modified, self.watch.clone())
                        .map_err(|e| Error::io(Some(path.clone()), e))?;
                if let Some(f) = chunks.file.as_mut() {
                    use std::io::Seek;
                    f.seek(io::SeekFrom::Start(offset))
                        .map_err(|e| Error::io(Some(path.clone()), e))?;
                }
                Box::pin(chunks)
            }
            Reader::Bytes(b) => Box::pin(futures_util::stream::iter(
                chunks_of(b.slice(offset as usize..)).into_iter().map(Ok),
            )),
            Reader::Once(_) => {
                return Err(Error::io(
                    None,
                    io::Error::new(
                        io::ErrorKind::Unsupported,
                        "a one-shot stream cannot be resumed from an offset",
                    ),
                ))
            }
        })
    }

    /// The file's bytes for one attempt.
    pub(crate) fn chunks(&self) -> Result<ChunkStream, Error> {
        Ok(match &self.reader {
            Reader::Path { path, modified } => Box::pin(
                FileChunks::open(path, self.len, *modified, self.watch.clone())
                    .map_err(|e| Error::io(Some(path.clone()), e))?,
            ),
            Reader::Bytes(b) => Box::pin(futures_util::stream::iter(
                chunks_of(b.clone()).into_iter().map(Ok),
            )),
            Reader::Once(slot) => Box::pin(TakeOnPoll {
                slot: slot.clone(),
                taken: None,
            }),
        })
    }
}

/// Splits in-memory bytes into chunks (no copy) so progress moves smoothly.
fn chunks_of(b: Bytes) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(b.len() / FILE_CHUNK + 1);
    let mut i = 0;
    while i < b.len() {
        let end = (i + FILE_CHUNK).min(b.len());
        out.push(b.slice(i..end));
        i = end;
    }
    out
}

/// A one-shot stream taken out of its slot on the first poll.
struct TakeOnPoll {
    slot: OnceSlot,
    taken: Option<ChunkStream>,
}

impl Stream for TakeOnPoll {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.taken.is_none() {
            let taken = this
                .slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            match taken {
                Some(s) => this.taken = Some(s),
                // Unreachable: an attempt is only made while the stream is in its slot.
                None => {
                    return Poll::Ready(Some(Err(io::Error::other(
                        "the upload stream was already consumed",
                    ))))
                }
            }
        }
        match this.taken.as_mut() {
            Some(s) => s.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

/// An upload: the source, its MIME type (sent as the `type` field and as the file part's
/// `Content-Type`, parameters such as `; codecs=opus` kept), and options.
///
/// ```
/// use wa_media_core::Upload;
/// let up = Upload::from_bytes(&b"hello"[..], "text/plain".parse().unwrap())
///     .filename("hello.txt");
/// assert_eq!(up.mime().essence(), "text/plain");
/// ```
pub struct Upload {
    pub(crate) source: UploadSource,
    pub(crate) mime: MediaType,
    pub(crate) kind: Option<MediaKind>,
    pub(crate) filename: Option<String>,
    pub(crate) validate: bool,
    pub(crate) progress: Option<Arc<dyn Progress>>,
    pub(crate) phone_number_id: Option<PhoneNumberId>,
    pub(crate) ttl_minutes: Option<u32>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("source", &self.source)
            .field("mime", &self.mime.to_string())
            .field("kind", &self.kind)
            .field("filename", &self.filename)
            .field("validate", &self.validate)
            .field("progress", &self.progress.is_some())
            .field("phone_number_id", &self.phone_number_id)
            .field("ttl_minutes", &self.ttl_minutes)
            .finish()
    }
}

impl Upload {
    /// An upload from any source.
    pub fn new(source: UploadSource, mime: MediaType) -> Self {
        Self {
            source,
            mime,
            kind: None,
            filename: None,
            validate: true,
            progress: None,
            phone_number_id: None,
            ttl_minutes: None,
        }
    }

    /// An upload of a file; its name becomes the part's filename unless set. Validation
    /// refuses a name whose extension contradicts the contents (a `.jpg` holding a PNG:
    /// [`wa_media_types::Problem::ExtensionMismatch`]).
    pub fn from_path(path: impl Into<PathBuf>, mime: MediaType) -> Self {
        Self::new(UploadSource::Path(path.into()), mime)
    }

    /// An upload of bytes in memory, sent as `file.<usual extension>` unless
    /// [`Upload::filename`] names it.
    pub fn from_bytes(bytes: impl Into<Bytes>, mime: MediaType) -> Self {
        Self::new(UploadSource::Bytes(bytes.into()), mime)
    }

    /// An upload of a one-shot stream of exactly `len` bytes (not retried), sent as
    /// `file.<usual extension>` unless [`Upload::filename`] names it.
    pub fn from_stream<S>(stream: S, len: u64, mime: MediaType) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Self::new(UploadSource::stream(stream, len), mime)
    }

    /// The kind to validate against (`voice`, `sticker`, …); inferred from the MIME type when
    /// not given.
    pub fn kind(mut self, kind: MediaKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// The filename sent in the file part (default: the path's file name, else `file` with
    /// the MIME type's usual extension; see [`Upload::effective_filename`]). Validation checks
    /// its extension against the contents, as it does a path's.
    pub fn filename(mut self, name: impl Into<String>) -> Self {
        self.filename = Some(name.into());
        self
    }

    /// Skips the local pre-upload validation (the API still validates).
    pub fn skip_validation(mut self) -> Self {
        self.validate = false;
        self
    }

    /// Reports bytes sent as the body streams (for progress bars).
    pub fn progress(mut self, progress: impl Progress + 'static) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Reports progress to an already shared reporter.
    pub fn progress_arc(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Uploads for this business phone number (`POST /{phone_number_id}/media`) instead of
    /// the client's: one client serves many numbers per call (see also
    /// [`crate::MediaClient::with_phone_number_id`]).
    pub fn phone_number_id(mut self, id: PhoneNumberId) -> Self {
        self.phone_number_id = Some(id);
        self
    }

    /// How long the media lives, in minutes, on a "No Storage" number (one with local storage
    /// turned off, where media otherwise last 1 hour): sent as the multipart field
    /// `ttl_minutes`. Meta's range is 1 hour to 30 days, 60 to 43,200 minutes
    /// ([`wa_media_types::MIN_MEDIA_TTL_MINUTES`], [`wa_media_types::MAX_MEDIA_TTL_MINUTES`]);
    /// the local validation refuses a TTL outside it before anything is sent
    /// ([`wa_media_types::Problem::TtlOutOfRange`] in an [`Error::Validation`]), unless
    /// validation is skipped ([`Upload::skip_validation`], the client's `validate_uploads`),
    /// when the API judges it. Without it the field is not sent and the number's default
    /// applies.
    ///
    /// ```
    /// use wa_media_core::Upload;
    /// let up = Upload::from_path("/srv/invoice.pdf", "application/pdf".parse().unwrap())
    ///     .ttl_minutes(7 * 24 * 60); // a week
    /// assert_eq!(up.ttl(), Some(10_080));
    /// ```
    pub fn ttl_minutes(mut self, minutes: u32) -> Self {
        self.ttl_minutes = Some(minutes);
        self
    }

    /// The media TTL asked for with [`Upload::ttl_minutes`], in minutes.
    pub fn ttl(&self) -> Option<u32> {
        self.ttl_minutes
    }

    /// The MIME type.
    pub fn mime(&self) -> &MediaType {
        &self.mime
    }

    /// The source.
    pub fn source(&self) -> &UploadSource {
        &self.source
    }

    /// The filename that will be sent: the one set with [`Upload::filename`], else the
    /// path's file name, else `file` with the MIME type's usual extension (`file.ogg`,
    /// `file.jpg`, `file.pdf`; see [`wa_media_types::usual_extension`]: Meta's processing
    /// keys off the extension in places), or plain `file` for a type WhatsApp does not accept.
    ///
    /// ```
    /// use wa_media_core::Upload;
    /// let voice = Upload::from_bytes(&b"OggS"[..], "audio/ogg; codecs=opus".parse().unwrap());
    /// assert_eq!(voice.effective_filename(), "file.ogg");
    /// let named = Upload::from_path("/tmp/scan.pdf", "application/pdf".parse().unwrap());
    /// assert_eq!(named.effective_filename(), "scan.pdf");
    /// ```
    pub fn effective_filename(&self) -> String {
        if let Some(f) = &self.filename {
            return f.clone();
        }
        if let UploadSource::Path(p) = &self.source {
            if let Some(n) = p.file_name() {
                return n.to_string_lossy().into_owned();
            }
        }
        match wa_media_types::usual_extension(&self.mime) {
            Some(ext) => format!("file.{ext}"),
            None => "file".to_owned(),
        }
    }
}

/// An upload ready to send: its source opened ([`OpenedSource`]: length and first bytes read
/// once), the file name it goes under, and its options. Validation, when asked for, has been
/// done on it by whoever prepared it ([`PreparedUpload::validate`]).
pub(crate) struct PreparedUpload {
    pub(crate) source: OpenedSource,
    pub(crate) mime: MediaType,
    pub(crate) kind: Option<MediaKind>,
    pub(crate) filename: String,
    /// Whether local validation applies (the upload's own setting; the client's is ANDed in
    /// by [`PreparedUpload::validate`]).
    pub(crate) validate: bool,
    pub(crate) progress: Option<Arc<dyn Progress>>,
    pub(crate) phone_number_id: Option<PhoneNumberId>,
    /// The `ttl_minutes` field, when asked for.
    pub(crate) ttl_minutes: Option<u32>,
}

impl Upload {
    /// Opens the source and fixes the file name: what every attempt sends.
    pub(crate) async fn prepare(self) -> Result<PreparedUpload, Error> {
        let filename = self.effective_filename();
        let Upload {
            source,
            mime,
            kind,
            validate,
            progress,
            phone_number_id,
            ttl_minutes,
            ..
        } = self;
        Ok(PreparedUpload {
            source: source.open().await?,
            mime,
            kind,
            filename,
            validate,
            progress,
            phone_number_id,
            ttl_minutes,
        })
    }

    /// This upload with `source` as its opened source (a planned send opened the file itself,
    /// once, for its checks); the file name is fixed as for [`Upload::prepare`].
    pub(crate) fn prepared(self, source: OpenedSource) -> PreparedUpload {
        PreparedUpload {
            filename: self.effective_filename(),
            source,
            mime: self.mime,
            kind: self.kind,
            validate: self.validate,
            progress: self.progress,
            phone_number_id: self.phone_number_id,
            ttl_minutes: self.ttl_minutes,
        }
    }
}

impl fmt::Debug for PreparedUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedUpload")
            .field("source", &self.source)
            .field("mime", &self.mime.to_string())
            .field("kind", &self.kind)
            .field("filename", &self.filename)
            .field("validate", &self.validate)
            .field("progress", &self.progress.is_some())
            .field("phone_number_id", &self.phone_number_id)
            .field("ttl_minutes", &self.ttl_minutes)
            .finish()
    }
}

impl PreparedUpload {
    /// The pre-upload validation, as every upload runs it: kind, MIME type, size, contents and
    /// the file name's extension ([`validate_named_upload`]), then the media TTL when one is
    /// asked for ([`validate_ttl_minutes`]); every problem is reported. `None` when it is
    /// turned off (by the upload or by the client's `validate_uploads`).
    pub(crate) fn validate(
        &self,
        validate_uploads: bool,
    ) -> Result<Option<Validated>, ValidationError> {
        if !(self.validate && validate_uploads) {
            return Ok(None);
        }
        let file = validate_named_upload(
            &UploadCandidate {
                kind: self.kind,
                mime: &self.mime,
                len: self.source.len(),
                head: self.source.head(),
            },
            &self.filename,
        );
        let ttl = self.ttl_minutes.map(validate_ttl_minutes).transpose();
        match (file, ttl) {
            (Ok(v), Ok(_)) => Ok(Some(v)),
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => Err(e),
            (Err(mut e), Err(t)) => {
                e.problems.extend(t.problems);
                Err(e)
            }
        }
    }
}

/// Where a source that changed during the upload records what it saw, so the upload fails
/// with [`crate::Error::SourceChanged`] whatever error the transport made of the broken body.
#[derive(Clone, Debug, Default)]
struct ChangeWatch(Arc<std::sync::Mutex<Option<String>>>);

impl ChangeWatch {
    fn record(&self, what: String) -> io::Error {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.get_or_insert(what.clone());
        io::Error::new(io::ErrorKind::InvalidData, what)
    }

    /// What changed, if anything did.
    fn changed(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Reads a file in [`FILE_CHUNK`] pieces, failing if it does not have exactly `len` bytes or
/// was modified since `modified` (both recorded in the [`ChangeWatch`]).
struct FileChunks {
    file: Option<std::fs::File>,
    path: PathBuf,
    remaining: u64,
    modified: Option<std::time::SystemTime>,
    watch: ChangeWatch,
}

impl FileChunks {
    fn open(
        path: &Path,
        len: u64,
        modified: Option<std::time::SystemTime>,
        watch: ChangeWatch,
    ) -> io::Result<Self> {
        Ok(Self {
            file: Some(std::fs::File::open(path)?),
            path: path.to_owned(),
            remaining: len,
            modified,
            watch,
        })
    }
}

impl Stream for FileChunks {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(file) = this.file.as_mut() else {
            return Poll::Ready(None);
        };
        let want = (this.remaining.min(FILE_CHUNK as u64)) as usize;
        let mut buf = BytesMut::zeroed(want.max(1));
        let n = match file.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => {
                this.file = None;
                return Poll::Ready(Some(Err(e)));
            }
        };
        if want == 0 {
            let modified = file.metadata().and_then(|m| m.modified()).ok();
            this.file = None;
            if n > 0 {
                return Poll::Ready(Some(Err(this
                    .watch
                    .record(format!("{} grew", this.path.display())))));
            }
            if this.modified.is_some() && modified != this.modified {
                return Poll::Ready(Some(Err(this
                    .watch
                    .record(format!("{} was modified", this.path.display())))));
            }
            return Poll::Ready(None);
        }
        if n == 0 {
            this.file = None;
            return Poll::Ready(Some(Err(this.watch.record(format!(
                "{} shrank ({} bytes missing)",
                this.path.display(),
                this.remaining
            )))));
        }
        buf.truncate(n);
        this.remaining -= n as u64;
        Poll::Ready(Some(Ok(buf.freeze())))
    }
}

/// Enforces that a one-shot stream yields exactly the announced number of bytes, so the
/// multipart `Content-Length` can never lie: more or fewer bytes fail the body with an error.
struct ExactLen {
    inner: ChunkStream,
    announced: u64,
    seen: u64,
    done: bool,
    watch: ChangeWatch,
}

impl ExactLen {
    fn new(inner: ChunkStream, announced: u64, watch: ChangeWatch) -> Self {
        Self {
            inner,
            announced,
            seen: 0,
            done: false,
            watch,
        }
    }
}

impl Stream for ExactLen {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(c))) => {
                this.seen += c.len() as u64;
                if this.seen > this.announced {
                    this.done = true;
                    return Poll::Ready(Some(Err(this.watch.record(format!(
                        "the upload stream yielded more than the announced {} bytes",
                        this.announced
                    )))));
                }
                Poll::Ready(Some(Ok(c)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.done = true;
                if this.seen < this.announced {
                    return Poll::Ready(Some(Err(this.watch.record(format!(
                        "the upload stream ended after {} of the announced {} bytes",
                        this.seen, this.announced
                    )))));
                }
                Poll::Ready(None)
            }
        }
    }
}
