//! [`PendingAborts`]: the aborts that dropped fetches spawned, counted so a shutdown can wait
//! for them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Counts the multipart-upload aborts that [`crate::fetch_to_store`] futures spawned when they
/// were dropped (a timeout, a `select!`, a shutdown cutting off a running fetch), so that a
/// process can **wait for them before it exits**: tasks still running when the tokio runtime
/// shuts down are dropped, and an abort dropped that way leaves its upload pending until a
/// lifecycle rule removes it.
///
/// Pass it with [`crate::StoreOptions::track_aborts`]; clones share one count. An abort is
/// counted from the moment the dropped fetch spawns it until it finished (or failed, or its
/// task was dropped).
///
/// ```
/// # async fn run() {
/// use std::time::Duration;
/// use wa_media_store::{PendingAborts, StoreOptions};
/// let aborts = PendingAborts::new();
/// let options = StoreOptions::default().track_aborts(&aborts);
/// // … fetches with `options`, some of them cut off …
/// # drop(options);
/// let all_done = aborts.wait(Duration::from_secs(10)).await;
/// # assert!(all_done);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PendingAborts {
    count: Arc<watch::Sender<usize>>,
}

impl Default for PendingAborts {
    fn default() -> Self {
        Self::new()
    }
}

impl PendingAborts {
    /// No abort pending.
    pub fn new() -> Self {
        Self {
            count: Arc::new(watch::channel(0).0),
        }
    }

    /// The aborts spawned and not finished yet.
    pub fn len(&self) -> usize {
        *self.count.borrow()
    }

    /// Whether no abort is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits at most `within` until no abort is running; whether none is.
    pub async fn wait(&self, within: Duration) -> bool {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(within, rx.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Counts one abort until the returned token is dropped.
    pub(crate) fn start(&self) -> AbortToken {
        self.count.send_modify(|n| *n += 1);
        AbortToken {
            count: self.count.clone(),
        }
    }
}

/// One counted abort: uncounted when dropped (finished, failed, or its task dropped).
#[derive(Debug)]
pub(crate) struct AbortToken {
    count: Arc<watch::Sender<usize>>,
}

impl Drop for AbortToken {
    fn drop(&mut self) {
        self.count.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_until_every_token_is_dropped() {
        let aborts = PendingAborts::new();
        assert!(aborts.is_empty());
        assert!(aborts.wait(Duration::ZERO).await);
        let a = aborts.start();
        let b = aborts.clone().start();
        assert_eq!(aborts.len(), 2);
        assert!(!aborts.wait(Duration::from_millis(20)).await);
        drop(a);
        let waiter = {
            let aborts = aborts.clone();
            tokio::spawn(async move { aborts.wait(Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(b);
        assert!(waiter.await.unwrap());
        assert!(aborts.is_empty());
    }
}
