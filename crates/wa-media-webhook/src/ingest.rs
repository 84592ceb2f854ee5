//! The media pipeline behind the service: admits the media of a delivery into the [`Queue`]
//! (the Maildir [`Spool`] by default, or a shared one such as PostgreSQL), and runs bounded
//! workers that fetch each one into the [`Sink`], retrying what may succeed later and moving
//! what never will to `failed/`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify, Semaphore};
use wa_media_core::{error_chain, Error, IntegrityError, MediaApi, Retry, RetryPolicy, Retryable};

use crate::entry::SpoolEntry;
use crate::queue::{MaildirQueue, Queue};
use crate::record::SavedRecord;
use crate::sink::{Saved, Sink, SinkError};
use crate::spool::{Enqueued, Spool};
use crate::time::{now_ms, now_secs};

/// How long a WhatsApp media id lives after the webhook: older messages are not fetched (the
/// one definition is [`wa_media_types::webhook::MEDIA_ID_LIFETIME`]).
pub const MEDIA_ID_LIFETIME: Duration = wa_media_types::webhook::MEDIA_ID_LIFETIME;

/// How long running fetches may take to finish at shutdown ([`Ingest::shutdown`]'s grace), by
/// default (`wa-media serve --grace`).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How the workers run. `Default` is what production wants.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IngestConfig {
    /// Media fetched at once. Default 8.
    pub concurrency: usize,
    /// How a media whose save failed with a class that may pass ([`Retry::Later`],
    /// [`Retry::Restart`]) is tried again: core's one policy type. Default
    /// [`IngestConfig::default_retry`]: 10 attempts, full-jitter waits from 2 s up to
    /// 10 min, a `Retry-After` honoured up to 10 min. ([`Retry::Resources`] is retried without
    /// counting attempts; [`IngestConfig::max_age`] bounds everything.)
    pub retry: RetryPolicy,
    /// Media whose message is older than this are failed as expired, saying so: the media
    /// lifetime (7 days by default; 1 hour on a "No Storage" number). Default 7 days.
    pub max_age: Duration,
    /// How long [`Ingest::shutdown`] waits, after the grace period, for the saves it cut off
    /// to end and for their background clean-up ([`Sink::settle`]). Default 10 s.
    pub settle_timeout: Duration,
    /// How often the spool is swept for work nobody is doing: entries left in `cur/` by a
    /// bookkeeping write that failed (a full disk) are taken back, and pending entries no
    /// timer waits for are scheduled. Default 5 s.
    pub sweep_interval: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            retry: Self::default_retry(),
            max_age: MEDIA_ID_LIFETIME,
            settle_timeout: Duration::from_secs(10),
            sweep_interval: Duration::from_secs(5),
        }
    }
}

impl IngestConfig {
    /// Sets the number of concurrent fetches (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The default [`IngestConfig::retry`]: 10 attempts, waits from 2 s to 10 min.
    pub fn default_retry() -> RetryPolicy {
        RetryPolicy::default()
            .with_max_attempts(10)
            .with_delays(Duration::from_secs(2), Duration::from_secs(600))
            .with_max_retry_after(Duration::from_secs(600))
            .with_max_elapsed(MEDIA_ID_LIFETIME)
    }

    /// Sets how failed saves are tried again.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the age beyond which a message's media is failed as expired.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Sets how long a shutdown waits for the saves it cut off and their clean-up.
    pub fn settle_timeout(mut self, timeout: Duration) -> Self {
        self.settle_timeout = timeout;
        self
    }

    /// Sets how often the spool is swept for work nobody is doing (at least 10 ms).
    pub fn sweep_interval(mut self, every: Duration) -> Self {
        self.sweep_interval = every.max(Duration::from_millis(10));
        self
    }
}

/// What happened to one media, for logs and progress (see [`Ingest::subscribe`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum IngestEvent {
    /// Saved and verified (or found already saved).
    Saved {
        /// The spool entry.
        entry: Box<SpoolEntry>,
        /// Where and what.
        saved: Saved,
    },
    /// An attempt failed; it will be retried.
    Retrying {
        /// The spool entry, with the attempts so far and the last error.
        entry: Box<SpoolEntry>,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// Given up: moved to `failed/` (the reason is in `entry.failure`).
    Failed {
        /// The spool entry.
        entry: Box<SpoolEntry>,
    },
    /// A message Meta could not take (`type: "unsupported"` with `errors[]`), or a change's
    /// value-level `errors[]`: recorded as a `failed` record with Meta's error
    /// ([`Ingest::record_failures`]); nothing is fetched.
    MetaFailed {
        /// The record kept by the sink (`status: failed`, Meta's `error`).
        record: Box<SavedRecord>,
    },
}

/// Counts since start.
#[derive(Debug, Default)]
struct Stats {
    saved: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
}

/// The pipeline: a spool, a sink, a `MediaApi`, and workers. Cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("queue", &self.inner.store.describe())
            .field("sink", &self.inner.sink)
            .field("config", &self.inner.config)
            .finish()
    }
}

struct Inner {
    store: Arc<dyn Queue>,
    /// The same queue when it is the Maildir spool.
    maildir: Option<MaildirQueue>,
    /// Whether the queue answered its last readiness check (a shared queue's database),
    /// updated by the sweep and by each admission.
    reachable: AtomicBool,
    api: Arc<dyn MediaApi>,
    sink: Arc<dyn Sink>,
    config: IngestConfig,
    queue: mpsc::UnboundedSender<String>,
    /// The media ids sent to the queue (or waiting for their retry time) and not yet taken
    /// up by a worker: what the sweep leaves alone.
    queued: std::sync::Mutex<std::collections::HashSet<String>>,
    stats: Stats,
    events: tokio::sync::broadcast::Sender<IngestEvent>,
    stopping: AtomicBool,
    stop: Notify,
    running: Arc<Semaphore>,
    /// Set when the grace period ends: running saves drop their futures (temporary files go).
    abort: tokio::sync::watch::Sender<bool>,
    /// The fetches running now, to cancel when the grace period ends.
    tasks: std::sync::Mutex<std::collections::HashMap<u64, tokio::task::AbortHandle>>,
    next_task: AtomicU64,
}

/// A media lifetime as people write it: `7 d`, `1 h`, `90 min`, `45 s`.
fn lifetime(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if s >= 86_400 && s % 86_400 == 0 => format!("{} d", s / 86_400),
        _ if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        _ if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        _ => format!("{s} s"),
    }
}

/// Why a media is given up, for `failed/` and the log: what the failure means, then the
/// whole error chain (the cause, such as "access denied", included).
fn reason(err: &SinkError) -> String {
    let chain = error_chain(err);
    match err.cause().downcast_ref::<Error>() {
        Some(Error::Integrity(IntegrityError::Announced { .. })) => {
            format!("digest mismatch: the webhook's sha256 is not the media's ({chain})")
        }
        Some(Error::Api(a)) if a.status.is_client_error() => format!(
            "refused by the API (expired, deleted or not accessible; media ids last 7 days): {chain}"
        ),
        Some(Error::Api(_)) => format!("refused by the API: {chain}"),
        _ => format!("permanent failure: {chain}"),
    }
}

impl Ingest {
    /// Starts the workers on the current tokio runtime. Entries left pending (or taken) by a
    /// previous process are scheduled at once.
    ///
    /// Each media is fetched for the business number that received it: through
    /// [`MediaApi::for_phone_number`] of `api` (for a `MediaClient`, a
    /// `with_phone_number_id` clone sharing its connection pool), so one client serves a
    /// multi-number service; with `scope_to_phone_number` set, retrieve then only finds media of
    /// that number.
    pub fn start(
        spool: Spool,
        api: Arc<dyn MediaApi>,
        sink: Arc<dyn Sink>,
        config: IngestConfig,
    ) -> std::io::Result<Self> {
        let pending = spool.pending()?;
        let maildir = MaildirQueue::new(spool);
        Self::start_inner(
            Arc::new(maildir.clone()),
            Some(maildir),
            pending,
            api,
            sink,
            config,
        )
    }

    /// Starts the workers over any [`Queue`] (a shared one: `wa-media-postgres`'s `PgQueue`).
    /// Pending entries are scheduled by the first sweep, at once; then every
    /// [`IngestConfig::sweep_interval`] the sweep takes back entries whose holder died and
    /// schedules the pending entries other instances admitted.
    pub fn start_with_queue(
        queue: Arc<dyn Queue>,
        api: Arc<dyn MediaApi>,
        sink: Arc<dyn Sink>,
        config: IngestConfig,
    ) -> std::io::Result<Self> {
        Self::start_inner(queue, None, Vec::new(), api, sink, config)
    }

    fn start_inner(
        queue: Arc<dyn Queue>,
        maildir: Option<MaildirQueue>,
        pending: Vec<(String, u64)>,
        api: Arc<dyn MediaApi>,
        sink: Arc<dyn Sink>,
        config: IngestConfig,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let shared = maildir.is_none();
        let inner = Arc::new(Inner {
            store: queue,
            maildir,
            reachable: AtomicBool::new(true),
            api,
            sink,
            running: Arc::new(Semaphore::new(config.concurrency.max(1))),
            config,
            queue: tx,
            queued: Default::default(),
            stats: Stats::default(),
            events,
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
            abort: tokio::sync::watch::channel(false).0,
            tasks: Default::default(),
            next_task: AtomicU64::new(0),
        });
        let ingest = Self { inner };
        for (id, not_before) in pending {
            ingest.schedule(id, not_before);
        }
        tokio::spawn(dispatch(ingest.inner.clone(), rx));
        tokio::spawn(sweep(ingest.clone(), shared));
        Ok(ingest)
    }

    /// The Maildir spool.
    ///
    /// # Panics
    ///
    /// When the queue is not the spool ([`Ingest::start_with_queue`]): use [`Ingest::queue`].
    pub fn spool(&self) -> &Spool {
        self.maildir()
            .expect("Ingest::spool on a queue that is not the Maildir spool; use Ingest::queue")
    }

    /// The Maildir spool, when the queue is one.
    pub fn maildir(&self) -> Option<&Spool> {
        self.inner.maildir.as_ref().map(|m| m.spool())
    }

    /// The queue.
    pub fn queue(&self) -> &Arc<dyn Queue> {
        &self.inner.store
    }

    /// Whether a delivery could be admitted now, without waiting: the spool is writable, or a
    /// shared queue answered its last check (made by every sweep and every admission).
    pub fn is_ready(&self) -> bool {
        match self.maildir() {
            Some(s) => s.writable(),
            None => self.inner.reachable.load(Ordering::SeqCst),
        }
    }

    /// How the sink names `location` to others ([`crate::Sink::locate`]).
    pub fn locate(&self, location: &str) -> crate::sink::Location {
        self.inner.sink.locate(location)
    }

    /// How many media are pending, taken and failed in the spool, also published as the
    /// spool gauges ([`crate::telemetry`]).
    ///
    /// # Panics
    ///
    /// When the queue is not the spool: use [`Ingest::queue_counts`].
    pub fn spool_counts(&self) -> std::io::Result<(usize, usize, usize)> {
        let spool = self.maildir().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "not a Maildir spool: use Ingest::queue_counts",
            )
        })?;
        let (pending, taken, failed) = spool.state_counts()?;
        crate::telemetry::spool_gauges(pending, taken, failed);
        Ok((pending, taken, failed))
    }

    /// How many media are pending, taken and failed in the queue (any queue), also published
    /// as the spool gauges.
    pub async fn queue_counts(&self) -> std::io::Result<(usize, usize, usize)> {
        let c = self.inner.store.counts().await?;
        crate::telemetry::spool_gauges(c.pending, c.taken, c.failed);
        Ok((c.pending, c.taken, c.failed))
    }

    /// Receives an event per saved, retried and failed media.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<IngestEvent> {
        self.inner.events.subscribe()
    }

    /// Media saved, failed and retried since start.
    pub fn stats(&self) -> (u64, u64, u64) {
        let s = &self.inner.stats;
        (
            s.saved.load(Ordering::Relaxed),
            s.failed.load(Ordering::Relaxed),
            s.retried.load(Ordering::Relaxed),
        )
    }

    /// Admits the media of one delivery into the spool (durably, one directory fsync for the
    /// batch) and schedules the new ones. Runs the file work on tokio's blocking pool.
    pub async fn admit(&self, entries: Vec<SpoolEntry>) -> std::io::Result<Vec<Enqueued>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        if self.inner.stopping.load(Ordering::SeqCst) {
            // After shutdown the spool may belong to another process already.
            return Err(std::io::Error::other(
                "shutting down: nothing more is admitted",
            ));
        }
        let ids: Vec<String> = entries.iter().map(|e| e.media_id.to_string()).collect();
        let result = self.inner.store.enqueue(entries).await;
        self.inner.reachable.store(
            !matches!(&result, Err(e) if unreachable(e)),
            Ordering::SeqCst,
        );
        let result = result?;
        for (id, r) in ids.into_iter().zip(&result) {
            if matches!(r, Enqueued::New | Enqueued::Requeued) {
                self.schedule(id, 0);
            }
        }
        Ok(result)
    }

    /// Records what Meta reports it could not take in a notification received at
    /// `received_at` (see [`wa_media_types::webhook::meta_failures`]): a `failed`
    /// [`SavedRecord`] each, kept by the sink ([`Sink::record`]: a line of `index.jsonl`, once
    /// per message) before this returns, logged, and sent as [`IngestEvent::MetaFailed`].
    /// Nothing is fetched for them. An error means a record could not be kept: answer Meta
    /// with an error so it delivers the notification again.
    pub async fn record_failures(
        &self,
        failures: &[wa_media_types::webhook::MetaFailure],
        received_at: u64,
    ) -> Result<(), SinkError> {
        for f in failures {
            let record = SavedRecord::failed(f, received_at);
            self.inner.sink.record(&record).await?;
            let error = record.error.as_ref();
            tracing::warn!(
                message_id = %record.message_id,
                code = error.map(|e| e.code),
                title = error.and_then(|e| e.title.as_deref()),
                details = error.and_then(|e| e.details.as_deref()),
                "Meta could not take a message; recorded as failed"
            );
            let _ = self.inner.events.send(IngestEvent::MetaFailed {
                record: Box::new(record),
            });
        }
        Ok(())
    }

    fn schedule(&self, id: String, not_before_ms: u64) {
        self.inner
            .queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone());
        let wait = not_before_ms.saturating_sub(now_ms());
        if wait == 0 {
            let _ = self.inner.queue.send(id);
        } else {
            let tx = self.inner.queue.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(wait)).await;
                let _ = tx.send(id);
            });
        }
    }

    /// Stops taking new work and waits up to `grace` for the fetches running now. Those still
    /// running then are cancelled: their save futures are dropped (temporary files removed),
    /// and this waits, at most [`IngestConfig::settle_timeout`] more, for them to end and for
    /// the clean-up they started in the background ([`Sink::settle`]: an object store sink's
    /// multipart aborts), so a process that stops once this returns leaves nothing pending.
    /// Their entries stay in the spool and are fetched at the next start. Then the spool's lock
    /// is given up ([`Spool::close`]) and [`Ingest::admit`] refuses everything. Returns whether
    /// all finished within `grace`.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.stop.notify_waiters();
        let n = self.inner.config.concurrency.max(1) as u32;
        let finished = tokio::time::timeout(grace, self.inner.running.acquire_many(n))
            .await
            .is_ok_and(|p| p.is_ok());
        let settle = self.inner.config.settle_timeout;
        let deadline = tokio::time::Instant::now() + settle;
        if !finished {
            let _ = self.inner.abort.send(true);
            // Each cut-off save ends once its future was dropped (its drop guards ran), and
            // gives its permit back.
            let ended = tokio::time::timeout_at(deadline, self.inner.running.acquire_many(n))
                .await
                .is_ok_and(|p| p.is_ok());
            if !ended {
                tracing::warn!(
                    timeout_ms = settle.as_millis() as u64,
                    "cancelled fetches did not end in time; abandoning them"
                );
            }
            let tasks =
                std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|p| p.into_inner()));
            for (_, t) in tasks {
                t.abort();
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !self.inner.sink.settle(left).await {
            tracing::warn!(
                timeout_ms = settle.as_millis() as u64,
                "the clean-up of cancelled fetches did not finish in time"
            );
        }
        // Another process (or a new ingest) may take the spool from here on.
        self.inner.store.close();
        finished
    }
}

async fn dispatch(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<String>) {
    loop {
        let id = tokio::select! {
            id = rx.recv() => match id { Some(id) => id, None => return },
            _ = inner.stop.notified() => return,
        };
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(permit) = inner.running.clone().acquire_owned().await else {
            return;
        };
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let task = inner.next_task.fetch_add(1, Ordering::Relaxed);
        let job = inner.clone();
        // Registered before it can finish, so its own removal below always finds it.
        let mut tasks = inner.tasks.lock().unwrap_or_else(|p| p.into_inner());
        let handle = tokio::spawn(async move {
            process(&job, &id).await;
            job.tasks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&task);
            drop(permit);
        });
        tasks.insert(task, handle.abort_handle());
        drop(tasks);
    }
}

/// Whether `e` says the queue cannot be reached now (a database away), rather than refusing.
pub(crate) fn unreachable(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotConnected
            | std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::TimedOut
    )
}

/// Takes up one scheduled media, then schedules it again when a newer claim of it arrived
/// while it was being worked on (the claim waits in `new/`).
async fn process(inner: &Arc<Inner>, id: &str) {
    inner
        .queued
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(id);
    let worked = attempt(inner, id).await;
    if worked && !inner.stopping.load(Ordering::SeqCst) {
        if let Ok(Some(not_before)) = inner.store.not_before(id).await {
            Ingest {
                inner: inner.clone(),
            }
            .schedule(id.to_owned(), not_before);
        }
    }
}

/// One attempt at one media; whether an entry was taken.
async fn attempt(inner: &Arc<Inner>, id: &str) -> bool {
    let mut entry = match inner.store.claim(id).await {
        Ok(Some(e)) => e,
        Ok(None) => return false,
        Err(e) => {
            tracing::error!(media_id = id, error = %e, "cannot take a spool entry");
            return false;
        }
    };
    let age_limit = inner.config.max_age.as_secs();
    if let Some(ts) = entry.timestamp {
        if now_secs().saturating_sub(ts) > age_limit {
            entry.failure = Some(format!(
                "expired: the message is older than the media lifetime of {} (7 days by default; 1 hour on a No Storage number), its media can no longer be fetched",
                lifetime(inner.config.max_age)
            ));
            give_up(inner, entry).await;
            return true;
        }
    }
    entry.attempts += 1;
    let started = std::time::Instant::now();
    let Some(result) = save(inner, &entry).await else {
        // Cancelled at shutdown: the entry stays in cur/ and is taken again at the next start.
        return false;
    };
    match result {
        Ok(saved) => {
            if let Err(e) = inner.store.complete(&entry, &saved).await {
                tracing::error!(media_id = id, error = %e, "saved, but the spool could not record it; it is taken back and recognised as saved on the next attempt");
            }
            inner.stats.saved.fetch_add(1, Ordering::Relaxed);
            crate::telemetry::media_saved(saved.file_size, started.elapsed());
            tracing::info!(media_id = id, location = %saved.location, already = saved.already_present, "media saved");
            let _ = inner.events.send(IngestEvent::Saved {
                entry: Box::new(entry),
                saved,
            });
        }
        Err(err) => {
            let chain = error_chain(&err);
            entry.last_error = Some(chain.clone());
            let class = err.retry();
            match class {
                Retry::Never => {
                    entry.failure = Some(reason(&err));
                    give_up(inner, entry).await
                }
                // Out of space is not the media's fault: no attempt is counted against it.
                _ if entry.attempts >= inner.config.retry.max_attempts
                    && class != Retry::Resources =>
                {
                    entry.failure = Some(format!(
                        "gave up after {} attempts; last error: {chain}",
                        entry.attempts
                    ));
                    give_up(inner, entry).await
                }
                _ => {
                    let delay = inner.config.retry.delay(
                        entry.attempts,
                        err.retry_after(),
                        fastrand::f64(),
                    );
                    entry.not_before_ms = now_ms() + delay.as_millis() as u64;
                    if let Err(e) = inner.store.retry_later(&entry).await {
                        // Left in cur/, released: the sweep takes it back.
                        tracing::error!(media_id = id, error = %e, "cannot put a spool entry back; the sweep takes it back");
                    }
                    inner.stats.retried.fetch_add(1, Ordering::Relaxed);
                    crate::telemetry::media_retried();
                    tracing::warn!(media_id = id, attempt = entry.attempts, delay_ms = delay.as_millis() as u64, error = %chain, "fetch failed; retrying later");
                    let not_before = entry.not_before_ms;
                    let _ = inner.events.send(IngestEvent::Retrying {
                        entry: Box::new(entry),
                        delay,
                    });
                    Ingest {
                        inner: inner.clone(),
                    }
                    .schedule(id.to_owned(), not_before);
                }
            }
        }
    }
    // The retry above is scheduled already.
    false
}

/// Runs the sink's save as a plain async call (a sink moves its blocking work off the runtime
/// itself: the `Sink` contract); `None` when the grace period of a shutdown cut it off (the
/// save's future is dropped, and the sink cleans up).
async fn save(inner: &Arc<Inner>, entry: &SpoolEntry) -> Option<Result<Saved, SinkError>> {
    let api = api_for(&inner.api, entry);
    let mut abort = inner.abort.subscribe();
    tokio::select! {
        r = inner.sink.save(api, entry) => Some(r),
        _ = abort.wait_for(|a| *a) => None,
    }
}

/// The API for the business number that received `entry`: the client's form for that number
/// ([`MediaApi::for_phone_number`]; a `MediaClient` answers with `with_phone_number_id`, a
/// clone sharing its connections), so a service for many numbers fetches each media with its
/// number's settings. The client itself when the entry names no number or the client has no
/// per-number form.
fn api_for(api: &Arc<dyn MediaApi>, entry: &SpoolEntry) -> Arc<dyn MediaApi> {
    let Some(number) = entry.phone_number_id.as_deref() else {
        return api.clone();
    };
    match number.parse::<wa_media_types::PhoneNumberId>() {
        Ok(id) => api.for_phone_number(&id).unwrap_or_else(|| api.clone()),
        Err(_) => {
            tracing::warn!(media_id = %entry.media_id, "the entry's phone_number_id is not a valid id; fetching with the client's own number");
            api.clone()
        }
    }
}

/// The periodic sweep: takes back the entries a failed bookkeeping write left in `cur/`, and
/// schedules the pending entries no timer waits for, so no accepted media waits for a restart.
async fn sweep(ingest: Ingest, at_once: bool) {
    let inner = &ingest.inner;
    let mut first = at_once;
    loop {
        let wait = if first {
            Duration::ZERO
        } else {
            inner.config.sweep_interval
        };
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = inner.stop.notified() => return,
        }
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let queued: std::collections::HashSet<String> = inner
            .queued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let found = async {
            let reclaimed = inner.store.reclaim().await?;
            let mut due = Vec::new();
            for (id, not_before) in inner.store.pending().await? {
                if reclaimed.contains(&id) || !queued.contains(&id) {
                    due.push((id, not_before));
                }
            }
            Ok::<_, std::io::Error>((reclaimed.len(), due))
        }
        .await;
        if inner.maildir.is_none() {
            let ok = match &found {
                Err(e) if unreachable(e) => false,
                Err(_) => inner.store.ready().await,
                Ok(_) => true,
            };
            if ok != inner.reachable.swap(ok, Ordering::SeqCst) {
                if ok {
                    tracing::warn!(queue = %inner.store.describe(), "the queue is reachable again; resuming");
                } else {
                    tracing::error!(queue = %inner.store.describe(), "the queue cannot be reached; deliveries get 503 and the workers wait");
                }
            }
        }
        match found {
            Ok((reclaimed, due)) => {
                if reclaimed > 0 && inner.maildir.is_some() {
                    tracing::warn!(
                        entries = reclaimed,
                        "took back spool entries a failed write had left in cur/"
                    );
                }
                for (id, not_before) in due {
                    ingest.schedule(id, not_before);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot sweep the spool; trying again later"),
        }
    }
}

async fn give_up(inner: &Arc<Inner>, entry: SpoolEntry) {
    if let Err(e) = inner.store.fail(&entry).await {
        tracing::error!(media_id = %entry.media_id, error = %e, "cannot move a spool entry to failed/");
        return;
    }
    inner.stats.failed.fetch_add(1, Ordering::Relaxed);
    crate::telemetry::media_failed();
    tracing::error!(media_id = %entry.media_id, reason = entry.failure.as_deref().unwrap_or(""), "media failed");
    let _ = inner.events.send(IngestEvent::Failed {
        entry: Box::new(entry),
    });
}
