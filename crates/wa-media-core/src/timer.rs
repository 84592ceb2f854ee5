//! The timer: a component of its own, given to the client next to the transport (like
//! smithy-rs' `AsyncSleep` or hyper's `Timer`). Core waits on it for retry backoff, restarts
//! and every timeout; it never assumes a runtime.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::transport::BoxFuture;

/// Waits for a duration on some runtime's clock.
///
/// The default, [`FuturesTimer`], works on any executor (a timer thread from
/// `futures-timer`); a runtime-bound client should pass its runtime's timer (the hyper client
/// passes tokio's), so that timeouts follow that runtime's clock (tokio's paused test clock,
/// for one).
///
/// ```
/// use std::time::Duration;
/// use wa_media_core::{BoxFuture, Timer};
/// #[derive(Debug)]
/// struct Instant;
/// impl Timer for Instant {
///     fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
///         Box::pin(std::future::ready(()))
///     }
/// }
/// # let _ = Instant.sleep(Duration::ZERO);
/// ```
pub trait Timer: fmt::Debug + Send + Sync + 'static {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

impl<T: Timer + ?Sized> Timer for Arc<T> {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        (**self).sleep(duration)
    }
}

/// The runtime-independent default [`Timer`]: `futures-timer`'s timer thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct FuturesTimer;

impl Timer for FuturesTimer {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(futures_timer::Delay::new(duration))
    }
}

/// A shared timer.
pub(crate) type SharedTimer = Arc<dyn Timer>;

/// The default shared timer.
pub(crate) fn default_timer() -> SharedTimer {
    Arc::new(FuturesTimer)
}
