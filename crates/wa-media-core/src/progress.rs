//! Progress reporting for upload and download bodies (CLI progress bars).

/// Receives progress of a body transfer. Called from inside the body's poll, so keep it cheap
/// (update an atomic or a progress bar; do not block).
///
/// Any `Fn(u64, Option<u64>)` closure is a `Progress`:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use wa_media_core::Progress;
/// let seen = Arc::new(AtomicU64::new(0));
/// let s = seen.clone();
/// let p = move |done: u64, _total: Option<u64>| s.store(done, Ordering::Relaxed);
/// p.on_progress(42, Some(100));
/// assert_eq!(seen.load(Ordering::Relaxed), 42);
/// ```
pub trait Progress: Send + Sync {
    /// `done` bytes of `total` (when known) have been transferred. `done` restarts from 0 when
    /// a transfer is retried.
    fn on_progress(&self, done: u64, total: Option<u64>);
}

impl<F> Progress for F
where
    F: Fn(u64, Option<u64>) + Send + Sync,
{
    fn on_progress(&self, done: u64, total: Option<u64>) {
        self(done, total)
    }
}
