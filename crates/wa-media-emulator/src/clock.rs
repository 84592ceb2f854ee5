//! Time as the emulator sees it: an injectable [`Clock`], so tests can expire URLs and media ids
//! without waiting.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time. URL signatures, media expiry and webhook timestamps all read it.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The real system clock (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to: inject it with
/// [`EmulatorBuilder::clock`](crate::EmulatorBuilder::clock) to test expiry deterministically.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use wa_media_emulator::{Clock, ManualClock};
/// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// clock.advance(Duration::from_secs(301));
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(1_700_000_301));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<SystemTime>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// A clock stopped at the current system time (rounded down to a whole second).
    pub fn starting_now() -> Self {
        let secs = unix_secs(SystemTime::now());
        Self::new(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Moves the clock forward by `by`. An advance past the latest time the platform can
    /// represent leaves the clock where it is (it never panics).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(later) = now.checked_add(by) {
            *now = later;
        }
    }

    /// Sets the clock to `to` (which may be in the past).
    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::starting_now()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How far the emulator's clock may be moved forward in total, by
/// [`EmulatorHandle::advance_clock`](crate::EmulatorHandle::advance_clock) and
/// `POST /__emulator/clock/advance` together: 100 years (36,500 days). Far beyond every lifetime
/// the emulator models (30 days at most), and far from where `SystemTime` arithmetic overflows.
pub const MAX_CLOCK_ADVANCE: Duration = Duration::from_secs(36_500 * 24 * 60 * 60);

/// The emulator's effective clock: the configured clock plus an offset that
/// `POST /__emulator/clock/advance` and `EmulatorHandle::advance_clock` add to.
#[derive(Debug)]
pub(crate) struct OffsetClock {
    base: Arc<dyn Clock>,
    offset: Mutex<Duration>,
}

impl OffsetClock {
    pub(crate) fn new(base: Arc<dyn Clock>) -> Self {
        Self {
            base,
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Adds `by` to the offset unless the total would pass [`MAX_CLOCK_ADVANCE`]; returns the
    /// new offset, or the current one in the error.
    pub(crate) fn advance(&self, by: Duration) -> Result<Duration, Duration> {
        let mut o = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        match o.checked_add(by).filter(|t| *t <= MAX_CLOCK_ADVANCE) {
            Some(total) => {
                *o = total;
                Ok(total)
            }
            None => Err(*o),
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> SystemTime {
        let offset = *self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        let base = self.base.now();
        // Checked: a base clock near the end of representable time must not make every later
        // request panic. The offset is then ignored.
        base.checked_add(offset).unwrap_or(base)
    }
}

/// Whole seconds since the Unix epoch (0 for times before it).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_bounded_and_never_overflows() {
        let base = Arc::new(ManualClock::new(UNIX_EPOCH));
        let c = OffsetClock::new(base.clone());
        assert_eq!(
            c.advance(Duration::from_secs(10)),
            Ok(Duration::from_secs(10))
        );
        assert_eq!(
            c.advance(Duration::from_secs(i64::MAX as u64)),
            Err(Duration::from_secs(10))
        );
        assert_eq!(c.advance(Duration::MAX), Err(Duration::from_secs(10)));
        assert_eq!(c.advance(MAX_CLOCK_ADVANCE), Err(Duration::from_secs(10)));
        assert!(c
            .advance(MAX_CLOCK_ADVANCE - Duration::from_secs(10))
            .is_ok());
        assert_eq!(c.now(), UNIX_EPOCH + MAX_CLOCK_ADVANCE);
        // A base clock at the end of time: now() still answers.
        base.advance(Duration::MAX);
        base.set(UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2));
        base.advance(Duration::from_secs(i64::MAX as u64 / 2));
        let _ = c.now();
        base.advance(Duration::MAX);
    }
}
