//! Timeouts: whole request, idle body, and a body deadline that scales with size. (The
//! connect timeout belongs to the transport, which owns connecting.)

use std::fmt;
use std::time::Duration;

/// The client's timeouts. `None` disables one.
///
/// The connect timeout is not here: the [`crate::Transport`] owns connecting and its timeout
/// (the hyper client's builder has `connect_timeout`); core reports a transport's
/// `ConnectTimeout` as [`TimeoutKind::Connect`].
///
/// - `request` bounds waiting for an answer: from sending a request until its response
///   headers (and a JSON body) arrive; for an upload, counted from when the transport has
///   taken the whole body (checked once per idle period, so it may fire up to one idle
///   period late).
/// - `idle` bounds no progress on a body: the wait for the next frame of a download, or for
///   the transport to take the next chunk of an upload.
/// - `min_throughput` (bytes/second) gives large bodies an overall deadline of
///   `request + len / min_throughput` (a download's body, a whole upload exchange): a server
///   dripping one byte per second is cut off, a large file on a slow but moving link is not.
///   `None` leaves bodies bounded only by `idle`.
///
/// ```
/// use std::time::Duration;
/// use wa_media_core::Timeouts;
/// let mut t = Timeouts::default();
/// t.idle = Some(Duration::from_secs(10));
/// assert_eq!(t.body_deadline(0), t.request);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Waiting for an answer (response headers and small JSON bodies). Default 30 s.
    pub request: Option<Duration>,
    /// No progress on a body for this long. Default 30 s.
    pub idle: Option<Duration>,
    /// The slowest acceptable average rate of a large body, in bytes per second.
    /// Default 16 KiB/s (a 100 MB body gets about 1 h 47 min on top of `request`).
    pub min_throughput: Option<u64>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            request: Some(Duration::from_secs(30)),
            idle: Some(Duration::from_secs(30)),
            min_throughput: Some(16 * 1024),
        }
    }
}

impl Timeouts {
    /// No timeout at all (tests and callers with their own deadlines).
    pub fn none() -> Self {
        Self {
            request: None,
            idle: None,
            min_throughput: None,
        }
    }

    /// Sets the request timeout.
    pub fn with_request(mut self, d: Option<Duration>) -> Self {
        self.request = d;
        self
    }

    /// Sets the idle-body timeout.
    pub fn with_idle(mut self, d: Option<Duration>) -> Self {
        self.idle = d;
        self
    }

    /// Sets the minimum body throughput (bytes/second).
    pub fn with_min_throughput(mut self, bytes_per_sec: Option<u64>) -> Self {
        self.min_throughput = bytes_per_sec.filter(|r| *r > 0);
        self
    }

    /// The deadline for an exchange carrying a body of `len` bytes: `request + len /
    /// min_throughput`; `None` when no bound applies.
    pub fn body_deadline(&self, len: u64) -> Option<Duration> {
        match (self.request, self.min_throughput) {
            (Some(r), Some(rate)) if rate > 0 => {
                Some(r.saturating_add(Duration::from_secs_f64(len as f64 / rate as f64)))
            }
            (Some(r), _) if len == 0 => Some(r),
            (r, None) if len == 0 => r,
            (Some(_), None) => None,
            (None, Some(rate)) if rate > 0 => {
                Some(Duration::from_secs_f64(len as f64 / rate as f64))
            }
            _ => None,
        }
    }
}

/// Which timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The transport's connect timeout fired (a [`crate::TransportErrorKind::ConnectTimeout`]).
    Connect,
    /// No response (headers, or a whole JSON body) within [`Timeouts::request`].
    Request,
    /// A body made no progress for [`Timeouts::idle`].
    Idle,
    /// A body did not finish within `request + len / min_throughput`.
    Body,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect timeout",
            TimeoutKind::Request => "request timeout",
            TimeoutKind::Idle => "idle body timeout",
            TimeoutKind::Body => "body transfer timeout",
        })
    }
}
