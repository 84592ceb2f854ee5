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

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
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

    pub(crate) fn advance(&self, by: Duration) {
        let mut o = self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        *o = o.saturating_add(by);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> SystemTime {
        let offset = *self.offset.lock().unwrap_or_else(PoisonError::into_inner);
        self.base.now() + offset
    }
}

/// Whole seconds since the Unix epoch (0 for times before it).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
