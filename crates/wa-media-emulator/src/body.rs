//! The emulator's response body: bytes in memory or a file streamed from disk in 512 KiB
//! chunks, optionally damaged by an injected fault (truncated, reset, corrupted).
//!
//! A file is read with `std::fs` on the blocking pool straight into the buffer that becomes the
//! frame (one copy, kernel to frame), one chunk ahead of the one being sent, and the buffers the
//! server has finished writing are reused (no allocation, zeroing or page faults per chunk).
//! Each read is its own short blocking task: no blocking thread waits on a slow client.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt as _};
use http_body::{Body, Frame, SizeHint};

/// How many bytes of a file are read per frame.
pub(crate) const FILE_CHUNK: usize = 512 * 1024;

/// How many buffers a file body keeps for reuse (the server holds at most two frames of a body,
/// one more is being read).
const SPARE_BUFFERS: usize = 4;

/// How long a damaged body waits before ending, so the server flushes what was already sent.
const FLUSH_PAUSE: Duration = Duration::from_millis(50);

type DynStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A response body of exactly known length.
pub(crate) struct EmuBody {
    inner: DynStream,
    len: u64,
    done: bool,
}

impl fmt::Debug for EmuBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmuBody").field("len", &self.len).finish()
    }
}

/// How an injected fault damages a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Damage {
    /// Half the bytes, then a clean end (the server closes the connection).
    Truncate,
    /// Half the bytes, then an error and a TCP reset.
    Reset,
    /// Every byte, with the middle one flipped.
    Corrupt,
}

impl EmuBody {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let b: Bytes = bytes.into();
        let len = b.len() as u64;
        let once = futures_util::stream::iter(if b.is_empty() { None } else { Some(Ok(b)) });
        Self {
            inner: Box::pin(once),
            len,
            done: false,
        }
    }

    /// `bytes` announced as `len` bytes long: more than `bytes` holds only when a media file is
    /// shorter than recorded, and then the body ends short, as a file streamed from disk would.
    pub(crate) fn full_with_len(bytes: Bytes, len: u64) -> Self {
        if bytes.len() as u64 >= len {
            return Self::full(bytes);
        }
        // The end waits a moment, so the server flushes the headers and bytes first.
        let end = futures_util::stream::once(tokio::time::sleep(FLUSH_PAUSE));
        let stream = futures_util::stream::iter((!bytes.is_empty()).then_some(Ok(bytes))).chain(
            futures_util::StreamExt::filter_map(end, |()| std::future::ready(None)),
        );
        Self {
            inner: Box::pin(stream),
            len,
            done: false,
        }
    }

    pub(crate) fn empty() -> Self {
        Self::full(Bytes::new())
    }

    /// The file at `path`, `len` bytes long: its first chunk is read before this returns (an
    /// error if the file cannot be opened or read), the rest while the body is sent. A file of
    /// at most one chunk comes back whole, to be served as [`EmuBody::full`].
    pub(crate) async fn open_file(path: std::path::PathBuf, len: u64) -> io::Result<OpenedFile> {
        if len == 0 {
            return Ok(OpenedFile::Whole(Bytes::new()));
        }
        let (file, first) = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(path)?;
            let want = len.min(FILE_CHUNK as u64) as usize;
            let first = if want as u64 == len {
                // The whole file: an exact buffer, read without zeroing it first.
                let mut v = Vec::with_capacity(want);
                io::Read::read_to_end(&mut io::Read::take(&file, len), &mut v)?;
                Bytes::from(v)
            } else {
                read_chunk(&file, BytesMut::zeroed(want), want)?.freeze()
            };
            Ok::<_, io::Error>((file, first))
        })
        .await
        .map_err(io::Error::other)??;
        if first.len() as u64 == len || first.len() < FILE_CHUNK {
            // All of it, or a file shorter than recorded (the body ends short, as before).
            return Ok(OpenedFile::Whole(first));
        }
        let left = len - first.len() as u64;
        let stream = FileStream {
            file: Some(Arc::new(file)),
            left,
            ready: Some(first),
            pending: None,
            sent: std::collections::VecDeque::new(),
        };
        Ok(OpenedFile::Streaming(Self {
            inner: Box::pin(stream),
            len,
            done: false,
        }))
    }

    /// The length announced in `Content-Length` (damage does not change it).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// This body damaged as `damage` says; `reset` is the connection's reset switch.
    pub(crate) fn damaged(self, damage: Damage, reset: Option<Arc<AtomicBool>>) -> Self {
        let len = self.len;
        let mid = len / 2;
        Self {
            inner: Box::pin(Damaged {
                inner: self.inner,
                pos: 0,
                mid,
                damage,
                reset,
                state: State::Streaming,
            }),
            len,
            done: false,
        }
    }
}

impl Body for EmuBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.len == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

/// A file opened for a response.
pub(crate) enum OpenedFile {
    /// The whole file (at most one chunk).
    Whole(Bytes),
    /// A body that reads the rest as it is sent.
    Streaming(EmuBody),
}

/// Reads up to `want` bytes into `buf` (resized to `want`, reusing what it held: no zeroing
/// once a buffer has been used), stopping early only at the end of the file.
fn read_chunk(mut file: &std::fs::File, mut buf: BytesMut, want: usize) -> io::Result<BytesMut> {
    use std::io::Read as _;
    buf.resize(want, 0);
    let mut got = 0;
    while got < want {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

type ChunkRead = tokio::task::JoinHandle<io::Result<BytesMut>>;

/// The rest of a file after its first chunk: one chunk read ahead on the blocking pool while
/// the previous one is sent.
struct FileStream {
    file: Option<Arc<std::fs::File>>,
    left: u64,
    ready: Option<Bytes>,
    pending: Option<ChunkRead>,
    /// Frames handed to the server (clones): once the server has dropped its copy, the buffer
    /// is ours again.
    sent: std::collections::VecDeque<Bytes>,
}

impl FileStream {
    /// A buffer for the next read: a sent frame the server is done with, or a new one.
    fn buffer(&mut self) -> BytesMut {
        // The oldest frame is the first the server is done with.
        if let Some(front) = self.sent.pop_front() {
            match front.try_into_mut() {
                Ok(b) => return b,
                Err(still_held) => self.sent.push_front(still_held),
            }
        }
        BytesMut::zeroed(FILE_CHUNK)
    }

    fn start_read(&mut self) {
        if self.pending.is_some() || self.left == 0 {
            return;
        }
        let Some(file) = self.file.clone() else {
            return;
        };
        let want = self.left.min(FILE_CHUNK as u64) as usize;
        let buf = self.buffer();
        self.pending = Some(tokio::task::spawn_blocking(move || {
            read_chunk(&file, buf, want)
        }));
    }
}

impl Stream for FileStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(chunk) = this.ready.take() {
                // Read the next chunk while this one is sent.
                this.start_read();
                if this.sent.len() >= SPARE_BUFFERS {
                    this.sent.pop_front();
                }
                this.sent.push_back(chunk.clone());
                return Poll::Ready(Some(Ok(chunk)));
            }
            let Some(pending) = this.pending.as_mut() else {
                this.file = None;
                return Poll::Ready(None);
            };
            let read = match Pin::new(pending).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.pending = None;
            match read.map_err(io::Error::other).and_then(|r| r) {
                Ok(buf) if buf.is_empty() => {
                    // The file is shorter than recorded: end the body short.
                    this.left = 0;
                }
                Ok(buf) => {
                    this.left = this.left.saturating_sub(buf.len() as u64);
                    if buf.len() < FILE_CHUNK && this.left > 0 {
                        this.left = 0;
                    }
                    this.ready = Some(buf.freeze());
                }
                Err(e) => {
                    this.left = 0;
                    this.file = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

enum State {
    Streaming,
    Pausing(Pin<Box<tokio::time::Sleep>>),
    Done,
}

struct Damaged {
    inner: DynStream,
    pos: u64,
    mid: u64,
    damage: Damage,
    reset: Option<Arc<AtomicBool>>,
    state: State,
}

impl Stream for Damaged {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Done => return Poll::Ready(None),
                State::Pausing(sleep) => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.state = State::Done;
                    if this.damage == Damage::Reset {
                        if let Some(r) = &this.reset {
                            r.store(true, Ordering::SeqCst);
                        }
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::ConnectionReset,
                            "emulator fault: connection reset mid-body",
                        ))));
                    }
                    return Poll::Ready(None);
                }
                State::Streaming => {
                    let cuts = matches!(this.damage, Damage::Truncate | Damage::Reset);
                    if cuts && this.pos >= this.mid {
                        this.state = State::Pausing(Box::pin(tokio::time::sleep(FLUSH_PAUSE)));
                        continue;
                    }
                    let chunk = match this.inner.as_mut().poll_next(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(None) => {
                            if cuts {
                                this.state =
                                    State::Pausing(Box::pin(tokio::time::sleep(FLUSH_PAUSE)));
                                continue;
                            }
                            this.state = State::Done;
                            return Poll::Ready(None);
                        }
                        Poll::Ready(Some(Err(e))) => {
                            this.state = State::Done;
                            return Poll::Ready(Some(Err(e)));
                        }
                        Poll::Ready(Some(Ok(c))) => c,
                    };
                    let start = this.pos;
                    let end = start + chunk.len() as u64;
                    let chunk = match this.damage {
                        Damage::Corrupt if (start..end).contains(&this.mid) => {
                            let mut m = BytesMut::from(&chunk[..]);
                            let i = (this.mid - start) as usize;
                            m[i] ^= 0xFF;
                            m.freeze()
                        }
                        Damage::Truncate | Damage::Reset if end > this.mid => {
                            chunk.slice(..(this.mid - start) as usize)
                        }
                        _ => chunk,
                    };
                    this.pos = start + chunk.len() as u64;
                    if chunk.is_empty() {
                        continue;
                    }
                    return Poll::Ready(Some(Ok(chunk)));
                }
            }
        }
    }
}

use std::future::Future as _;
