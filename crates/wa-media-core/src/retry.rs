//! The retry policy: bounded attempts and total time, exponential backoff with full jitter,
//! `Retry-After` honoured up to a cap.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;

use crate::error::Error;
pub use crate::retry_class::{Retry, Retryable};
use crate::timer::Timer;

/// The one restart loop for transfers: runs `attempt(n)` (`n` from 1) and starts it again
/// while it fails with [`Retry::Restart`] (a transfer broken mid-body) and `policy`'s budget
/// ([`RetryPolicy::max_attempts`], [`RetryPolicy::max_elapsed`]) allows, waiting a jittered
/// backoff on `timer` in between. Any other failure is returned at once. Records the attempt
/// number in the current span's `attempt` field.
pub async fn restarting<T, E, F, Fut>(
    policy: &RetryPolicy,
    timer: &dyn Timer,
    mut attempt: F,
) -> Result<T, E>
where
    E: Retryable,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut state = RetryState::new(policy);
    loop {
        let n = state.begin();
        tracing::Span::current().record("attempt", n);
        let e = match attempt(n).await {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        if e.retry() == Retry::Restart {
            if let Some(d) = state.next_delay(None) {
                tracing::warn!(error = %e, attempt = n, delay_ms = d.as_millis() as u64, "transfer broke mid-body; starting again");
                timer.sleep(d).await;
                continue;
            }
        }
        return Err(e);
    }
}

/// How failed requests are retried.
///
/// Which failures are retried is decided by [`crate::Error::is_retryable`] (429, 5xx, transient
/// and rate-limit Graph codes, connection errors, timeouts); uploads are retried only when their
/// source can be replayed (a path or bytes). This policy decides how often and how long to wait.
///
/// The wait before retry `n` (1-based) is `Retry-After` when the server sent one (capped at
/// [`RetryPolicy::max_retry_after`]), otherwise a uniformly random duration in
/// `[0, min(max_delay, base_delay · 2ⁿ⁻¹)]` ("full jitter"). No retry starts once
/// [`RetryPolicy::max_elapsed`] would be exceeded by its wait.
///
/// ```
/// use std::time::Duration;
/// use wa_media_core::RetryPolicy;
/// let mut p = RetryPolicy::default();
/// p.max_attempts = 5;
/// p.base_delay = Duration::from_millis(100);
/// assert!(p.backoff(3, 0.999) <= Duration::from_millis(400));
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = never retry). Default 4.
    pub max_attempts: u32,
    /// Upper bound of the first retry's jittered wait. Default 250 ms.
    pub base_delay: Duration,
    /// Largest jittered wait. Default 8 s.
    pub max_delay: Duration,
    /// Largest wait taken from a `Retry-After` header (a longer one is cut to this). Default 30 s.
    pub max_retry_after: Duration,
    /// Total time from the first attempt after which no retry starts. Default 90 s.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets [`RetryPolicy::max_attempts`] (at least 1).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets [`RetryPolicy::base_delay`] and [`RetryPolicy::max_delay`].
    pub fn with_delays(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// Sets [`RetryPolicy::max_retry_after`].
    pub fn with_max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// Sets [`RetryPolicy::max_elapsed`].
    pub fn with_max_elapsed(mut self, total: Duration) -> Self {
        self.max_elapsed = total;
        self
    }

    /// The ceiling of the jittered wait before retry `retry` (1 = first retry).
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(31);
        let exp = self
            .base_delay
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max_delay);
        exp.min(self.max_delay)
    }

    /// The jittered wait before retry `retry` for a uniform random `unit` in `[0, 1)`.
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.backoff_ceiling(retry).mul_f64(unit)
    }

    /// The wait before retry `retry`: the capped `Retry-After` when given, else jittered backoff.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        match retry_after {
            Some(ra) => ra.min(self.max_retry_after),
            None => self.backoff(retry, unit),
        }
    }
}

/// Parses a `Retry-After` header: delay-seconds or an HTTP date (relative to `now`). Absurd
/// values are returned as they are; [`RetryPolicy::delay`] caps them.
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(1e9)));
        }
        return None;
    }
    // IMF-fixdate, and the obsolete RFC 850 and asctime forms (RFC 9110, section 5.6.7).
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A failed attempt, and whether another attempt may follow.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: Error,
    pub(crate) retry: bool,
    /// Whether the request could be sent again at all (false for an upload whose one-shot
    /// stream was taken): decides whether a rejected token may be replaced and the request
    /// sent again.
    pub(crate) resendable: bool,
    /// Send again at once, outside the backoff and the retry budget (after a token refresh;
    /// the client makes it happen at most once per operation).
    pub(crate) again_now: bool,
}

impl Failed {
    /// Another attempt may follow when `retry` (and the budget allows).
    pub(crate) fn retry_if(error: Error, retry: bool) -> Self {
        Self {
            error,
            retry,
            resendable: true,
            again_now: false,
        }
    }

    /// The same failure, marked as one whose request can (not) be sent again.
    pub(crate) fn resendable(mut self, yes: bool) -> Self {
        self.resendable = yes;
        self
    }

    /// Send again at once (the token was replaced).
    pub(crate) fn again_now(error: Error) -> Self {
        Self {
            error,
            retry: true,
            resendable: true,
            again_now: true,
        }
    }

    /// A failure no further attempt can fix.
    pub(crate) fn fatal(error: Error) -> Self {
        Self::retry_if(error, false)
    }

    /// The same decision for a transformed error.
    pub(crate) fn map(self, f: impl FnOnce(Error) -> Error) -> Self {
        Self {
            error: f(self.error),
            ..self
        }
    }
}

impl From<Error> for Failed {
    fn from(e: Error) -> Self {
        Self::fatal(e)
    }
}

/// The one retry loop: runs `attempt(n)` (`n` from 1) until it succeeds, fails for good, or
/// `policy`'s budget is spent, waiting on `timer` between attempts (`Retry-After` first, else
/// jittered backoff). Records the attempt number in the current span's `attempt` field.
pub(crate) async fn run<R, F, Fut>(
    policy: &RetryPolicy,
    timer: &dyn Timer,
    mut attempt: F,
) -> Result<R, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<R, Failed>>,
{
    let mut state = RetryState::new(policy);
    loop {
        let n = state.begin();
        tracing::Span::current().record("attempt", n);
        let Failed {
            error,
            retry,
            again_now,
            ..
        } = match attempt(n).await {
            Ok(r) => return Ok(r),
            Err(f) => f,
        };
        if again_now {
            continue;
        }
        if retry {
            if let Some(d) = state.next_delay(error.retry_after()) {
                tracing::warn!(error = %error, attempt = n, delay_ms = d.as_millis() as u64, "retrying");
                timer.sleep(d).await;
                continue;
            }
        }
        tracing::warn!(error = %error, attempt = n, "failed");
        return Err(error);
    }
}

/// The retry bookkeeping of one operation.
#[derive(Debug)]
pub(crate) struct RetryState {
    policy: RetryPolicy,
    started: Instant,
    /// The waits handed out so far: elapsed time is at least this, even on a paused clock.
    waited: Duration,
    /// Attempts made so far.
    attempts: u32,
}

impl RetryState {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        Self {
            policy: policy.clone(),
            started: Instant::now(),
            waited: Duration::ZERO,
            attempts: 0,
        }
    }

    /// Counts an attempt about to start; returns its 1-based number.
    pub(crate) fn begin(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    /// The wait before the next attempt, or `None` when the budget is spent. The caller
    /// sleeps for the returned duration.
    pub(crate) fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.attempts >= self.policy.max_attempts.max(1) {
            return None;
        }
        let d = self
            .policy
            .delay(self.attempts, retry_after, fastrand::f64());
        let elapsed = self.started.elapsed().max(self.waited);
        if elapsed + d > self.policy.max_elapsed {
            return None;
        }
        self.waited += d;
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:47 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(10)));
        h.insert(
            "retry-after",
            "Sunday, 06-Nov-94 08:49:47 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(10)));
        h.insert("retry-after", "Sun Nov  6 08:49:47 1994".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(10)));
        // A date in the past: no wait.
        h.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:27 GMT".parse().unwrap(),
        );
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("retry-after", "-3".parse().unwrap());
        assert_eq!(parse_retry_after(&h, now), None);
    }

    #[test]
    fn absurd_retry_after_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(86_400 * 365)), 0.5),
            p.max_retry_after
        );
    }
}
