//! What one connection is doing, for an idle watchdog: [`Activity`] (shared by the
//! connection's requests and its watchdog), [`Handling`] (a running handler) and
//! [`TrackedBody`] (a response body whose progress counts as activity). Used by this crate's
//! loop and by the emulator's own listeners.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// What one connection is doing.
#[derive(Debug)]
pub struct Activity {
    start: tokio::time::Instant,
    /// When something last happened (a request started or ended, a response frame went out),
    /// in milliseconds since `start`.
    last_ms: AtomicU64,
    /// Requests whose handler is running (the handler bounds its own body reading).
    handling: AtomicUsize,
    /// Requests seen so far.
    requests: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

impl Activity {
    /// A connection that has just been accepted.
    pub fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            last_ms: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// Records that something happened now.
    pub fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// When the connection is to be closed if nothing happens before: `None` while a handler
    /// runs. Before the first request the handshake timeout applies, then the idle timeout.
    pub fn expires(&self, idle: Duration, handshake: Duration) -> Option<tokio::time::Instant> {
        if self.handling.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let limit = if self.requests() == 0 {
            handshake
        } else {
            idle
        };
        let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        Some(last + limit)
    }
}

/// Counts a running handler for as long as it lives (dropped when it ends or is cancelled).
#[derive(Debug)]
pub struct Handling(Arc<Activity>);

impl Handling {
    /// A request starts on the connection of `activity`.
    pub fn begin(activity: Arc<Activity>) -> Self {
        activity.requests.fetch_add(1, Ordering::Relaxed);
        activity.handling.fetch_add(1, Ordering::Relaxed);
        activity.touch();
        Self(activity)
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.touch();
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that records its progress on the connection's [`Activity`]: a response
/// the client stops reading stops making progress, and the watchdog closes the connection.
#[derive(Debug)]
pub struct TrackedBody<B> {
    inner: B,
    activity: Arc<Activity>,
}

impl<B> TrackedBody<B> {
    /// `inner`, tracked on `activity`.
    pub fn new(inner: B, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<B> Body for TrackedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if polled.is_ready() {
            self.activity.touch();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for TrackedBody<B> {
    fn drop(&mut self) {
        self.activity.touch();
    }
}
