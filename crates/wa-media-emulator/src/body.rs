//! The emulator's response body: bytes in memory or a file streamed from disk in 256 KiB
//! chunks, optionally damaged by an injected fault (truncated, reset, corrupted).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http_body::{Body, Frame, SizeHint};

/// How many bytes of a file are read per frame.
const FILE_CHUNK: usize = 256 * 1024;

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

    pub(crate) fn empty() -> Self {
        Self::full(Bytes::new())
    }

    pub(crate) fn file(file: tokio::fs::File, len: u64) -> Self {
        use tokio::io::AsyncReadExt as _;
        let reader = file.take(len);
        Self {
            inner: Box::pin(tokio_util::io::ReaderStream::with_capacity(
                reader, FILE_CHUNK,
            )),
            len,
            done: false,
        }
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
