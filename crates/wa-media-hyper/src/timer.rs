//! [`TokioTimer`]: core's [`Timer`] on tokio's clock.

use std::time::Duration;

use wa_media_core::{BoxFuture, Timer};

/// Core's [`Timer`] on tokio's clock (`tokio::time::sleep`): what the hyper client waits on
/// for backoff and timeouts, so they follow tokio's clock (paused in tests, for one).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
