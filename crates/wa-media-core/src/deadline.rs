//! Deadlines: the time limits of one exchange, the upload watchdog, and the timed download
//! body. Every wait is measured with the client's [`Timer`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::future::{select, Either};
use http_body::Body;

use crate::error::Error;
use crate::timeouts::{TimeoutKind, Timeouts};
use crate::timer::{SharedTimer, Timer};
use crate::transport::{BoxFuture, ResponseBody};

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
    /// A request with a small body: bounded by [`Timeouts::request`].
    pub(crate) fn request(t: &Timeouts) -> Self {
        Self {
            total: t.request,
            total_kind: TimeoutKind::Request,
            upload: None,
        }
    }

    /// An upload of `len` body bytes, of which the transport has taken `sent` so far: bounded
    /// as a whole by the body deadline, watched for idleness while sending.
    pub(crate) fn upload(t: &Timeouts, file_len: u64, sent: Arc<AtomicU64>, len: u64) -> Self {
        Self {
            total: t.body_deadline(file_len),
            total_kind: TimeoutKind::Body,
            upload: Some((sent, len)),
        }
    }

    /// Runs `work` within these limits.
    pub(crate) async fn run<R, F>(
        self,
        timer: &dyn Timer,
        t: &Timeouts,
        work: F,
    ) -> Result<R, Error>
    where
        F: Future<Output = Result<R, Error>> + Send,
    {
        match self.upload {
            None => timed(timer, self.total, self.total_kind, work).await,
            Some((sent, len)) => {
                timed(timer, self.total, self.total_kind, async {
                    let work = std::pin::pin!(work);
                    let dog = std::pin::pin!(upload_watchdog(timer, t, sent, len));
                    match select(work, dog).await {
                        Either::Left((r, _)) => r,
                        Either::Right((e, _)) => Err(e),
                    }
                })
                .await
            }
        }
    }
}

/// Runs `fut` under a time limit measured with `timer`.
pub(crate) async fn timed<R, F>(
    timer: &dyn Timer,
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
    let sleep = timer.sleep(d);
    let fut = std::pin::pin!(fut);
    match select(fut, sleep).await {
        Either::Left((r, _)) => r,
        Either::Right(((), _)) => Err(Error::Timeout {
            kind,
            after: Some(d),
        }),
    }
}

/// Fires [`TimeoutKind::Idle`] when the transport takes no body bytes for
/// [`Timeouts::idle`], and [`TimeoutKind::Request`] when no response comes within
/// [`Timeouts::request`] after the whole body was taken (measured from the first check
/// after the body completed, so up to one idle period late).
async fn upload_watchdog(
    timer: &dyn Timer,
    t: &Timeouts,
    sent: Arc<AtomicU64>,
    total: u64,
) -> Error {
    let step = t.idle.unwrap_or(Duration::from_secs(1));
    let mut last = sent.load(Ordering::Relaxed);
    loop {
        if last >= total {
            return match t.request {
                Some(r) => {
                    timer.sleep(r).await;
                    Error::Timeout {
                        kind: TimeoutKind::Request,
                        after: Some(r),
                    }
                }
                None => std::future::pending().await,
            };
        }
        timer.sleep(step).await;
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

/// A response body as a stream of data chunks with idle and whole-body timeouts.
pub(crate) struct TimedBody {
    body: ResponseBody,
    timer: SharedTimer,
    idle: Option<Duration>,
    idle_timer: Option<BoxFuture<'static, ()>>,
    deadline: Option<(Duration, BoxFuture<'static, ()>)>,
    finished: bool,
}

impl TimedBody {
    pub(crate) fn new(
        body: ResponseBody,
        timer: SharedTimer,
        idle: Option<Duration>,
        deadline: Option<Duration>,
    ) -> Self {
        let deadline = deadline.map(|d| (d, timer.sleep(d)));
        Self {
            body,
            timer,
            idle,
            idle_timer: None,
            deadline,
            finished: false,
        }
    }
}

impl Stream for TimedBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        if let Some((d, timer)) = this.deadline.as_mut() {
            if timer.as_mut().poll(cx).is_ready() {
                this.finished = true;
                return Poll::Ready(Some(Err(Error::Timeout {
                    kind: TimeoutKind::Body,
                    after: Some(*d),
                })));
            }
        }
        loop {
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    this.idle_timer = None;
                    match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Poll::Ready(Some(Ok(data))),
                        // Empty data frames and trailers carry nothing to hash.
                        _ => continue,
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => break,
            }
        }
        if let Some(idle) = this.idle {
            let timer = &this.timer;
            let sleep = this.idle_timer.get_or_insert_with(|| timer.sleep(idle));
            if sleep.as_mut().poll(cx).is_ready() {
                this.finished = true;
                return Poll::Ready(Some(Err(Error::Timeout {
                    kind: TimeoutKind::Idle,
                    after: Some(idle),
                })));
            }
        }
        Poll::Pending
    }
}
