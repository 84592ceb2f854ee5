//! The seam between the webhook service and where pending media wait: the [`Queue`] trait and
//! its contract, and [`MaildirQueue`], the Maildir [`Spool`] behind it (the default: one
//! machine, no database). `wa-media-postgres` implements the same trait on PostgreSQL, shared by
//! any number of instances. The contract is on [`Queue`].

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::entry::SpoolEntry;
use crate::sink::Saved;
use crate::spool::{Enqueued, MediaOutcome, Spool};

/// How many entries are pending, taken and failed ([`Queue::counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueCounts {
    /// Waiting for a worker or for their retry time.
    pub pending: usize,
    /// Held by a worker.
    pub taken: usize,
    /// Given up, waiting for `retry_failed`.
    pub failed: usize,
}

impl QueueCounts {
    /// Counts from the three numbers.
    pub fn new(pending: usize, taken: usize, failed: usize) -> Self {
        Self {
            pending,
            taken,
            failed,
        }
    }
}

/// Where pending media wait between the webhook's 200 and their save. Errors are `io::Error`s:
/// an unreachable database is an error of kind `ConnectionRefused`, `NotConnected` or
/// `TimedOut` (the service answers 503 with it).
///
/// # The contract
///
/// Each rule is checked by the queue conformance suite (`wa_media_testkit::queue_conformance`),
/// which both implementations of the workspace run; run it on yours.
///
/// 1. **Durable before `Ok`**: when [`Queue::enqueue`] returns `Ok`, every [`Enqueued::New`] and
///    [`Enqueued::Requeued`] entry survives a crash of the process (and, for a shared queue, of
///    the machine). An error means nothing may be acknowledged: answer Meta with a 5xx.
/// 2. **One pending entry per media**: a media id is admitted once; a redelivery (to this
///    instance or another one sharing the queue) is [`Enqueued::Duplicate`] while the media is
///    pending, taken, failed with the same claim, or saved. The latest digest claim wins: a
///    notification whose `sha256` differs from a pending or failed entry's replaces it, and one
///    for a taken media waits behind it ([`Enqueued::Requeued`]).
/// 3. **One holder at a time**: [`Queue::claim`] hands an entry to one worker; a second claim
///    gets `None` until the entry is settled or its holder is gone.
/// 4. **Settling**: [`Queue::complete`] records a media as saved (a later claim of it gets
///    `None`, a redelivery is a duplicate), [`Queue::retry_later`] puts it back with its attempts
///    and retry time (reported by [`Queue::pending`]), [`Queue::fail`] parks it with its reason
///    until [`Queue::retry_failed`] puts it back with its attempts reset.
/// 5. **Nothing stranded**: an entry whose holder died (a crash between claim and settle) is
///    taken back, with the attempts it had: by the next [`MaildirQueue`] of the spool at once,
///    by another instance after the lease expired ([`Queue::reclaim`]) on a shared queue.
/// 6. **A late holder changes nothing**: a holder whose lease expired may still finish; its
///    `complete` is harmless (saved once), and its `retry_later` or `fail` never undoes what the
///    entry's new holder recorded.
#[async_trait::async_trait]
pub trait Queue: Send + Sync + std::fmt::Debug + 'static {
    /// What the queue is, for logs and `Debug` (a spool's path, a database without password).
    fn describe(&self) -> String;

    /// The spool directory, when the queue is a [`Spool`] (its forward outbox lives there).
    fn spool_root(&self) -> Option<PathBuf> {
        None
    }

    /// Admits the media of one delivery, and returns, in order, what happened to each (rules 1
    /// and 2).
    async fn enqueue(&self, entries: Vec<SpoolEntry>) -> io::Result<Vec<Enqueued>>;

    /// Takes a pending entry for processing (rule 3); `None` when it is not pending (taken by
    /// another worker, saved, gone).
    async fn claim(&self, media_id: &str) -> io::Result<Option<SpoolEntry>>;

    /// Records a taken entry as saved.
    async fn complete(&self, entry: &SpoolEntry, saved: &Saved) -> io::Result<()>;

    /// Puts a taken entry back, with its attempts and `not_before_ms`.
    async fn retry_later(&self, entry: &SpoolEntry) -> io::Result<()>;

    /// Parks a taken entry as failed, with `entry.failure` as the reason.
    async fn fail(&self, entry: &SpoolEntry) -> io::Result<()>;

    /// Takes back entries nobody holds any more (a failed bookkeeping write, a dead holder's
    /// expired lease) and returns their media ids.
    async fn reclaim(&self) -> io::Result<Vec<String>>;

    /// The pending media ids, with the time (ms since the epoch) each may be tried.
    async fn pending(&self) -> io::Result<Vec<(String, u64)>>;

    /// The time `media_id` may be tried; `None` when it is not pending.
    async fn not_before(&self, media_id: &str) -> io::Result<Option<u64>>;

    /// Puts every failed entry back with its attempts reset; returns how many.
    async fn retry_failed(&self) -> io::Result<usize>;

    /// How many entries are pending, taken and failed.
    async fn counts(&self) -> io::Result<QueueCounts>;

    /// Where one media stands.
    async fn outcome(&self, media_id: &str) -> io::Result<MediaOutcome>;

    /// Whether an entry could be admitted now (a writable spool, a reachable database).
    async fn ready(&self) -> bool;

    /// Gives up this process's hold on the queue (a spool's lock); nothing may use it after.
    fn close(&self) {}
}

/// The Maildir [`Spool`] as a [`Queue`]: its file work on tokio's blocking pool.
#[derive(Debug, Clone)]
pub struct MaildirQueue {
    spool: Arc<Spool>,
}

impl MaildirQueue {
    /// The queue over an open spool.
    pub fn new(spool: Spool) -> Self {
        Self {
            spool: Arc::new(spool),
        }
    }

    /// Opens (creating) the spool at `root` ([`Spool::open`]).
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        Spool::open(root).map(Self::new)
    }

    /// The spool.
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Spool) -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let spool = self.spool.clone();
        tokio::task::spawn_blocking(move || f(&spool))
            .await
            .map_err(io::Error::other)?
    }
}

#[async_trait::async_trait]
impl Queue for MaildirQueue {
    fn describe(&self) -> String {
        format!("spool {}", self.spool.root().display())
    }

    fn spool_root(&self) -> Option<PathBuf> {
        Some(self.spool.root().to_owned())
    }

    async fn enqueue(&self, entries: Vec<SpoolEntry>) -> io::Result<Vec<Enqueued>> {
        self.blocking(move |s| s.enqueue(&entries)).await
    }

    async fn claim(&self, media_id: &str) -> io::Result<Option<SpoolEntry>> {
        let id = media_id.to_owned();
        self.blocking(move |s| s.claim(&id)).await
    }

    async fn complete(&self, entry: &SpoolEntry, saved: &Saved) -> io::Result<()> {
        let (e, saved) = (entry.clone(), saved.clone());
        self.blocking(move |s| s.complete(&e, &saved)).await
    }

    async fn retry_later(&self, entry: &SpoolEntry) -> io::Result<()> {
        let e = entry.clone();
        self.blocking(move |s| s.retry_later(&e)).await
    }

    async fn fail(&self, entry: &SpoolEntry) -> io::Result<()> {
        let e = entry.clone();
        self.blocking(move |s| s.fail(&e)).await
    }

    async fn reclaim(&self) -> io::Result<Vec<String>> {
        self.blocking(|s| s.reclaim_stranded()).await
    }

    async fn pending(&self) -> io::Result<Vec<(String, u64)>> {
        self.blocking(|s| s.pending()).await
    }

    async fn not_before(&self, media_id: &str) -> io::Result<Option<u64>> {
        let id = media_id.to_owned();
        self.blocking(move |s| Ok(s.not_before(&id))).await
    }

    async fn retry_failed(&self) -> io::Result<usize> {
        self.blocking(|s| s.retry_failed()).await
    }

    async fn counts(&self) -> io::Result<QueueCounts> {
        let (p, t, f) = self.blocking(|s| s.state_counts()).await?;
        Ok(QueueCounts::new(p, t, f))
    }

    async fn outcome(&self, media_id: &str) -> io::Result<MediaOutcome> {
        let id = media_id.to_owned();
        self.blocking(move |s| Ok(s.outcome(&id))).await
    }

    async fn ready(&self) -> bool {
        self.blocking(|s| Ok(s.writable())).await.unwrap_or(false)
    }

    fn close(&self) {
        self.spool.close();
    }
}
