//! [`Forwarder`]: hands every accepted notification on to the team's application, durably.
//!
//! - **Durable before the 200.** [`crate::WebhookService`] queues each notification with a
//!   valid signature ([`Forwarder::admit`]) in `SPOOL/forward/` before answering Meta; a crash
//!   or `kill -9` loses nothing, and the next start delivers what was pending.
//! - **Meta's shape.** The body is Meta's notification: unchanged when it holds no media; with
//!   media, each media object gains a `wa_media` object (`status: "saved"` with `path` or `key`,
//!   `sha256`, `file_size`, `mime_type`; or `status: "failed"` with `reason`), and it is sent
//!   only once every one of its media is saved or failed.
//! - **Signed twice.** `X-Hub-Signature-256` with the app secret over the forwarded body, so an
//!   application that verifies Meta's webhooks works unchanged; and the Standard Webhooks
//!   headers (`webhook-id`, the same for every attempt and for Meta's redelivery;
//!   `webhook-timestamp`; `webhook-signature` when a signing secret is set). The access token
//!   is never part of a forward.
//! - **At least once, once per notification.** A non-2xx answer, a timeout or a refused
//!   connection is tried again with backoff (the retry time is written to the entry, so it
//!   holds across restarts) until [`ForwardConfig::max_age`]; then the forward moves to
//!   `failed/` with its last answer ([`Forwarder::retry_failed`] queues it again). Meta's
//!   redelivery of a notification already queued or delivered is not queued again.

mod annotate;
mod outbox;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::{broadcast, Notify, Semaphore};
use wa_media_core::{RequestBody, RetryPolicy, Transport};
use wa_media_types::standard_webhooks::{self, SigningSecret};

use crate::ingest::{Ingest, IngestEvent};
use crate::spool::{MediaOutcome, SavedOutcome};
use crate::telemetry;
use crate::time::{now_ms, now_secs};
use annotate::{annotate, forward_id, wa_media};
use outbox::{ForwardEntry, Outbox};

/// The longest part of an answer's body kept as the forward's last answer.
const ANSWER_SNIPPET: usize = 512;

/// How often forwards waiting for their media look at the spool, besides the media events.
const MEDIA_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// How forwards are sent.
#[derive(Clone)]
#[non_exhaustive]
pub struct ForwardConfig {
    /// The application's URL (`http://` or `https://`).
    pub url: http::Uri,
    /// The app secret: `X-Hub-Signature-256` over the forwarded body.
    pub app_secret: Option<Vec<u8>>,
    /// The Standard Webhooks signing secret: `webhook-signature`.
    pub signing_secret: Option<SigningSecret>,
    /// How long one attempt may take, to the end of the answer's head. Default 10 s.
    pub timeout: Duration,
    /// Forwards sent at once. Default 16.
    pub concurrency: usize,
    /// How long a forward is tried before it is given up. Default 7 days.
    pub max_age: Duration,
    /// The waits between attempts (the attempt count is bounded by [`ForwardConfig::max_age`],
    /// not by the policy). Default: full-jitter waits from 1 s up to 5 min, a `Retry-After`
    /// honoured up to 5 min.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for ForwardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardConfig")
            .field("url", &self.url)
            .field("app_secret", &self.app_secret.as_ref().map(|_| "***"))
            .field("signing_secret", &self.signing_secret)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("max_age", &self.max_age)
            .finish()
    }
}

/// Why a [`ForwardConfig`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardConfigError {
    /// The URL is not an absolute `http://` or `https://` URL.
    #[error("the forward URL must be an absolute http:// or https:// URL (such as http://127.0.0.1:3000/webhook)")]
    Url,
}

impl ForwardConfig {
    /// Forwards to `url`, with the defaults.
    pub fn new(url: &str) -> Result<Self, ForwardConfigError> {
        let uri: http::Uri = url.parse().map_err(|_| ForwardConfigError::Url)?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(ForwardConfigError::Url);
        }
        Ok(Self {
            url: uri,
            app_secret: None,
            signing_secret: None,
            timeout: Duration::from_secs(10),
            concurrency: 16,
            max_age: Duration::from_secs(7 * 86_400),
            retry: Self::default_retry(),
        })
    }

    /// The default [`ForwardConfig::retry`].
    pub fn default_retry() -> RetryPolicy {
        RetryPolicy::default()
            .with_max_attempts(u32::MAX)
            .with_delays(Duration::from_secs(1), Duration::from_secs(300))
            .with_max_retry_after(Duration::from_secs(300))
    }

    /// Signs every forward's body with the app secret (`X-Hub-Signature-256`).
    pub fn app_secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.app_secret = Some(secret.as_ref().to_vec());
        self
    }

    /// Signs every forward the Standard Webhooks way (`webhook-signature`).
    pub fn signing_secret(mut self, secret: SigningSecret) -> Self {
        self.signing_secret = Some(secret);
        self
    }

    /// Sets how long one attempt may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how many forwards are sent at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets how long a forward is tried.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Sets the waits between attempts.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
}

/// What happened to one forward (see [`Forwarder::subscribe`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ForwardEvent {
    /// The application answered 2xx.
    Delivered {
        /// The `webhook-id`.
        id: String,
        /// Attempts it took.
        attempts: u32,
        /// The answer's status.
        status: u16,
    },
    /// An attempt failed; it is tried again after `delay`.
    Retrying {
        /// The `webhook-id`.
        id: String,
        /// Attempts so far.
        attempts: u32,
        /// The wait before the next one.
        delay: Duration,
        /// What the application answered (or the error).
        answer: String,
    },
    /// Given up after the maximum age; moved to the failed forwards.
    Failed {
        /// The `webhook-id`.
        id: String,
        /// Why, with the last answer.
        reason: String,
    },
}

#[derive(Debug)]
enum SlotState {
    /// Waiting for its media to settle; `check` when one of them may have.
    Waiting { check: bool },
    /// To send at this time (ms since the epoch).
    Due(u64),
    /// Being sent.
    InFlight,
}

/// A pending forward in memory: its entry without the body (read from the outbox for each
/// attempt, so memory holds no notification bodies however many wait), and the `wa_media`
/// objects of its media that settled so far.
#[derive(Debug)]
struct Slot {
    entry: ForwardEntry,
    settled: HashMap<String, serde_json::Value>,
    state: SlotState,
}

impl Slot {
    fn new(mut entry: ForwardEntry) -> Self {
        entry.body = String::new();
        entry.media.sort();
        entry.media.dedup();
        let state = initial_state(&entry);
        Self {
            entry,
            settled: HashMap::new(),
            state,
        }
    }

    /// Records one media's outcome; the forward is due once every media of it settled.
    fn settle(&mut self, media: &str, outcome: serde_json::Value) {
        self.settled.insert(media.to_owned(), outcome);
        if matches!(self.state, SlotState::Waiting { .. })
            && self
                .entry
                .media
                .iter()
                .all(|m| self.settled.contains_key(m))
        {
            self.state = SlotState::Due(self.entry.not_before_ms);
        }
    }

    /// The settled media's `wa_media` objects, in the entry's order.
    fn outcomes(&self) -> Vec<(String, serde_json::Value)> {
        self.entry
            .media
            .iter()
            .filter_map(|m| self.settled.get(m).map(|w| (m.clone(), w.clone())))
            .collect()
    }
}

/// The pending forwards, and which of them wait for each media.
#[derive(Debug, Default)]
struct Table {
    slots: HashMap<String, Slot>,
    by_media: HashMap<String, Vec<String>>,
}

impl Table {
    fn insert(&mut self, entry: ForwardEntry) {
        if self.slots.contains_key(&entry.id) {
            return;
        }
        let slot = Slot::new(entry);
        for m in &slot.entry.media {
            self.by_media
                .entry(m.clone())
                .or_default()
                .push(slot.entry.id.clone());
        }
        self.slots.insert(slot.entry.id.clone(), slot);
    }

    fn remove(&mut self, id: &str) {
        let Some(slot) = self.slots.remove(id) else {
            return;
        };
        for m in &slot.entry.media {
            if let Some(ids) = self.by_media.get_mut(m) {
                ids.retain(|i| i != id);
                if ids.is_empty() {
                    self.by_media.remove(m);
                }
            }
        }
    }

    /// Records `media`'s outcome in every forward waiting for it; whether one became due.
    fn settle(&mut self, media: &str, outcome: &serde_json::Value) -> bool {
        let Some(ids) = self.by_media.remove(media) else {
            return false;
        };
        let mut due = false;
        for id in ids {
            if let Some(slot) = self.slots.get_mut(&id) {
                slot.settle(media, outcome.clone());
                due |= matches!(slot.state, SlotState::Due(_));
            }
        }
        due
    }
}

/// The forwarder: an outbox in files and the tasks that empty it. Cheap to clone.
#[derive(Clone)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("config", &self.inner.config)
            .finish()
    }
}

struct Inner {
    outbox: Outbox,
    transport: Arc<dyn Transport>,
    ingest: Ingest,
    config: ForwardConfig,
    table: std::sync::Mutex<Table>,
    wake: Notify,
    running: Arc<Semaphore>,
    stopping: AtomicBool,
    events: broadcast::Sender<ForwardEvent>,
}

impl Forwarder {
    /// Opens the outbox in `ingest`'s Maildir spool (`SPOOL/forward/`; an ingest over another
    /// [`crate::Queue`] is refused with `ErrorKind::Unsupported`) and starts delivering, through
    /// `transport`, what is pending there (a previous process's forwards included). The media
    /// outcomes come from `ingest`'s spool, and their locations are named by its sink.
    pub fn start(
        ingest: &Ingest,
        transport: Arc<dyn Transport>,
        config: ForwardConfig,
    ) -> std::io::Result<Self> {
        // The outbox lives beside the Maildir spool, under its lock (a PostgreSQL queue has no
        // outbox yet: `serve` refuses --forward with --queue).
        let spool = ingest.maildir().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "forwarding needs the Maildir spool (Ingest::start); a shared queue has no forward outbox yet",
            )
        })?;
        let outbox = Outbox::open(spool.root().join("forward"))?;
        // Meta redelivers for 7 days: a marker older than that cannot meet its notification.
        let _ = outbox.prune_sent(crate::MEDIA_ID_LIFETIME + Duration::from_secs(86_400));
        let pending = outbox.pending()?;
        let (events, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            outbox,
            transport,
            ingest: ingest.clone(),
            running: Arc::new(Semaphore::new(config.concurrency.max(1))),
            config,
            table: Default::default(),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            events,
        });
        {
            let mut table = lock(&inner.table);
            for entry in pending {
                table.insert(entry);
            }
        }
        tokio::spawn(schedule(inner.clone()));
        tokio::spawn(watch_media(inner.clone()));
        Ok(Self { inner })
    }

    /// Queues the notification `raw` durably (fsynced) for forwarding, waiting for `media` (the
    /// ids of its media admitted into the spool); `false` when the same notification was queued
    /// or delivered already (Meta's redelivery).
    pub async fn admit(&self, raw: &Bytes, media: Vec<String>) -> std::io::Result<bool> {
        if self.inner.stopping.load(Ordering::SeqCst) {
            return Err(std::io::Error::other(
                "shutting down: nothing more is admitted",
            ));
        }
        let body = String::from_utf8(raw.to_vec())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let entry = ForwardEntry {
            id: forward_id(raw),
            received_at: now_secs(),
            queued_at_ms: now_ms(),
            attempts: 0,
            not_before_ms: 0,
            media,
            last_answer: None,
            failure: None,
            body,
        };
        let inner = self.inner.clone();
        let (entry, new) = tokio::task::spawn_blocking(move || {
            let r = inner.outbox.admit(&entry);
            (entry, r)
        })
        .await
        .map_err(std::io::Error::other)?;
        let new = new?;
        if new {
            lock(&self.inner.table).insert(entry);
            self.inner.wake.notify_one();
        }
        Ok(new)
    }

    /// Receives an event per delivered, retried and failed forward.
    pub fn subscribe(&self) -> broadcast::Receiver<ForwardEvent> {
        self.inner.events.subscribe()
    }

    /// How many forwards are pending, and how many failed (also published as gauges).
    pub fn counts(&self) -> std::io::Result<(usize, usize)> {
        let (pending, failed) = self.inner.outbox.counts()?;
        telemetry::forward_gauges(pending, failed);
        Ok((pending, failed))
    }

    /// Moves the failed forwards back into the queue (their maximum age counted from now);
    /// returns how many. Call it before [`Forwarder::start`] sends anything, or restart.
    pub fn retry_failed(&self) -> std::io::Result<usize> {
        let n = self.inner.outbox.retry_failed(now_ms())?;
        if n > 0 {
            let pending = self.inner.outbox.pending()?;
            let mut table = lock(&self.inner.table);
            for entry in pending {
                table.insert(entry);
            }
            drop(table);
            self.inner.wake.notify_one();
        }
        Ok(n)
    }

    /// Stops sending new attempts and waits up to `grace` for those running; what was not
    /// delivered stays in the outbox for the next start. Whether all running ones finished.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
        let n = self.inner.config.concurrency.max(1) as u32;
        tokio::time::timeout(grace, self.inner.running.acquire_many(n))
            .await
            .is_ok_and(|p| p.is_ok())
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn initial_state(entry: &ForwardEntry) -> SlotState {
    if entry.media.is_empty() {
        SlotState::Due(entry.not_before_ms)
    } else {
        SlotState::Waiting { check: true }
    }
}

/// Settles the forwards waiting for a media when the ingest reports it saved or failed (from
/// the event itself: no file is read), and marks every waiting forward for a look at the spool
/// every [`MEDIA_CHECK_INTERVAL`] and when events were missed (a lagging receiver; after a
/// restart, media settled before the forwarder started).
async fn watch_media(inner: Arc<Inner>) {
    let mut events = inner.ingest.subscribe();
    let mut tick = tokio::time::interval(MEDIA_CHECK_INTERVAL);
    loop {
        let settled = tokio::select! {
            ev = events.recv() => match ev {
                Ok(IngestEvent::Saved { entry, saved }) => {
                    let o = MediaOutcome::Saved(SavedOutcome::of(&entry, &saved));
                    Some((entry.media_id.to_string(), o))
                }
                Ok(IngestEvent::Failed { entry }) => {
                    let reason = entry.failure.clone().unwrap_or_else(|| "failed".into());
                    Some((entry.media_id.to_string(), MediaOutcome::Failed(reason)))
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => None,
        };
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let wake = match settled {
            Some((media, outcome)) => {
                let w = wa_media(&outcome, |l| inner.ingest.locate(l));
                lock(&inner.table).settle(&media, &w)
            }
            None => {
                let mut any = false;
                for slot in lock(&inner.table).slots.values_mut() {
                    if let SlotState::Waiting { check } = &mut slot.state {
                        *check = true;
                        any = true;
                    }
                }
                any
            }
        };
        if wake {
            inner.wake.notify_one();
        }
    }
}

/// The scheduler: looks at the waiting forwards' media, and starts the due ones.
async fn schedule(inner: Arc<Inner>) {
    loop {
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let now = now_ms();
        let mut to_check = Vec::new();
        let mut due = Vec::new();
        let mut next: Option<u64> = None;
        for (id, slot) in lock(&inner.table).slots.iter_mut() {
            match slot.state {
                SlotState::Waiting { check: true } => {
                    slot.state = SlotState::Waiting { check: false };
                    let age = now.saturating_sub(slot.entry.queued_at_ms);
                    let unsettled: Vec<String> = (slot.entry.media.iter())
                        .filter(|m| !slot.settled.contains_key(*m))
                        .cloned()
                        .collect();
                    to_check.push((id.clone(), unsettled, age));
                }
                SlotState::Due(at) if at <= now => {
                    slot.state = SlotState::InFlight;
                    due.push((slot.entry.id.clone(), slot.outcomes()));
                }
                SlotState::Due(at) => next = Some(next.map_or(at, |n| n.min(at))),
                _ => {}
            }
        }
        if !to_check.is_empty() {
            check_media(&inner, to_check).await;
            continue;
        }
        for (id, outcomes) in due {
            let inner2 = inner.clone();
            let Ok(permit) = inner.running.clone().acquire_owned().await else {
                return;
            };
            tokio::spawn(async move {
                attempt(&inner2, &id, &outcomes).await;
                drop(permit);
                inner2.wake.notify_one();
            });
        }
        let wait = next.map_or(Duration::from_secs(3600), |at| {
            Duration::from_millis(at.saturating_sub(now_ms()))
        });
        tokio::select! {
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Makes the forwards whose media all settled due, with their bodies annotated.
///
/// A media not in the spool at all is waited for too: the notification's media and its forward
/// are admitted side by side, and when the media could not be (a 500), Meta's redelivery
/// admits them. Only a forward older than its maximum age stops waiting for such a media.
async fn check_media(inner: &Arc<Inner>, to_check: Vec<(String, Vec<String>, u64)>) {
    let i2 = inner.clone();
    let max_age = inner.config.max_age.as_millis() as u64;
    let settled = tokio::task::spawn_blocking(move || {
        let Some(spool) = i2.ingest.maildir() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (id, media, age_ms) in to_check {
            for m in media {
                let o = spool.outcome(&m);
                let waiting = match o {
                    MediaOutcome::Pending => true,
                    MediaOutcome::Unknown => age_ms < max_age,
                    _ => false,
                };
                if !waiting {
                    let w = wa_media(&o, |l| i2.ingest.locate(l));
                    out.push((id.clone(), m, w));
                }
            }
        }
        out
    })
    .await
    .unwrap_or_default();
    let mut table = lock(&inner.table);
    for (id, media, w) in settled {
        if let Some(slot) = table.slots.get_mut(&id) {
            slot.settle(&media, w);
        }
    }
}

/// The answer of one attempt: the status (when there was one), `Retry-After`, and text.
struct Answer {
    status: Option<u16>,
    retry_after: Option<Duration>,
    text: String,
}

/// One attempt at one forward (its entry read from the outbox, its media annotated with
/// `outcomes`), and its bookkeeping.
async fn attempt(inner: &Arc<Inner>, id: &str, outcomes: &[(String, serde_json::Value)]) {
    let (i2, id2) = (inner.clone(), id.to_owned());
    let mut entry = match tokio::task::spawn_blocking(move || i2.outbox.read(&id2))
        .await
        .map_err(std::io::Error::other)
    {
        Ok(Ok(Some(e))) => e,
        Ok(Ok(None)) => {
            lock(&inner.table).remove(id);
            return;
        }
        Ok(Err(e)) | Err(e) => {
            tracing::error!(forward = id, error = %e, "cannot read a forward entry; trying again later");
            if let Some(slot) = lock(&inner.table).slots.get_mut(id) {
                slot.state = SlotState::Due(now_ms() + MEDIA_CHECK_INTERVAL.as_millis() as u64);
            }
            return;
        }
    };
    let body = if outcomes.is_empty() {
        entry.body.clone()
    } else {
        annotate(&entry.body, outcomes).unwrap_or_else(|| entry.body.clone())
    };
    let started = Instant::now();
    let answer = send(inner, &entry, body).await;
    entry.attempts += 1;
    let took = started.elapsed();
    if answer.status.is_some_and(|s| (200..300).contains(&s)) {
        let id = entry.id.clone();
        let i2 = inner.clone();
        let r = tokio::task::spawn_blocking(move || i2.outbox.delivered(&id)).await;
        if let Ok(Err(e)) | Err(e) = r.map_err(std::io::Error::other) {
            tracing::error!(forward = %entry.id, error = %e, "delivered, but the outbox could not record it; it may be sent again after a restart");
        }
        lock(&inner.table).remove(&entry.id);
        telemetry::forward_delivered(took);
        tracing::info!(forward = %entry.id, attempts = entry.attempts, "forward delivered");
        let _ = inner.events.send(ForwardEvent::Delivered {
            id: entry.id,
            attempts: entry.attempts,
            status: answer.status.unwrap_or(200),
        });
        return;
    }
    entry.last_answer = Some(answer.text.clone());
    let age = Duration::from_millis(now_ms().saturating_sub(entry.queued_at_ms));
    if age >= inner.config.max_age {
        entry.failure = Some(format!(
            "gave up after {} attempts over {} s (--forward-max-age); last answer: {}",
            entry.attempts,
            age.as_secs(),
            answer.text
        ));
        let (i2, e2) = (inner.clone(), entry.clone());
        if let Ok(Err(e)) | Err(e) = tokio::task::spawn_blocking(move || i2.outbox.fail(&e2))
            .await
            .map_err(std::io::Error::other)
        {
            tracing::error!(forward = %entry.id, error = %e, "cannot move a forward to failed/; it stays pending");
        }
        lock(&inner.table).remove(&entry.id);
        telemetry::forward_failed();
        let reason = entry.failure.clone().unwrap_or_default();
        tracing::error!(forward = %entry.id, reason = %reason, "forward failed");
        let _ = inner.events.send(ForwardEvent::Failed {
            id: entry.id,
            reason,
        });
        return;
    }
    let delay = inner
        .config
        .retry
        .delay(entry.attempts, answer.retry_after, fastrand::f64());
    entry.not_before_ms = now_ms() + delay.as_millis() as u64;
    let (i2, e2) = (inner.clone(), entry.clone());
    if let Ok(Err(e)) | Err(e) = tokio::task::spawn_blocking(move || i2.outbox.update(&e2))
        .await
        .map_err(std::io::Error::other)
    {
        tracing::warn!(forward = %entry.id, error = %e, "cannot record a forward's retry time; it is tried again sooner after a restart");
    }
    telemetry::forward_retried(took);
    tracing::warn!(forward = %entry.id, attempt = entry.attempts, delay_ms = delay.as_millis() as u64, answer = %answer.text, "forward failed; retrying later");
    let _ = inner.events.send(ForwardEvent::Retrying {
        id: entry.id.clone(),
        attempts: entry.attempts,
        delay,
        answer: answer.text,
    });
    if let Some(slot) = lock(&inner.table).slots.get_mut(&entry.id) {
        slot.state = SlotState::Due(entry.not_before_ms);
        entry.body = String::new();
        slot.entry = entry;
    }
}

/// The request of one attempt: Meta's body, both signatures, the Standard Webhooks headers.
fn request(
    config: &ForwardConfig,
    entry: &ForwardEntry,
    body: String,
) -> http::Request<RequestBody> {
    let timestamp = now_secs();
    let bytes = Bytes::from(body);
    let body = &bytes[..];
    let mut b = http::Request::post(config.url.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("wa-media/", env!("CARGO_PKG_VERSION")),
        )
        .header(standard_webhooks::ID_HEADER, &entry.id)
        .header(standard_webhooks::TIMESTAMP_HEADER, timestamp.to_string());
    if let Some(secret) = &config.app_secret {
        b = b.header(
            crate::SIGNATURE_HEADER,
            wa_media_types::signature_header(secret, body),
        );
    }
    if let Some(secret) = &config.signing_secret {
        b = b.header(
            standard_webhooks::SIGNATURE_HEADER,
            secret.sign(&entry.id, timestamp, body),
        );
    }
    b.body(RequestBody::from_bytes(bytes.clone()))
        .unwrap_or_else(|_| http::Request::new(RequestBody::empty()))
}

async fn send(inner: &Arc<Inner>, entry: &ForwardEntry, body: String) -> Answer {
    let req = request(&inner.config, entry, body);
    let exchange = async {
        let resp = inner.transport.send(req).await?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // The start of the body, for the record; the rest is dropped with the connection.
        let mut body = resp.into_body();
        let mut text = Vec::new();
        while text.len() < ANSWER_SNIPPET {
            match body.frame().await {
                Some(Ok(f)) => {
                    if let Some(d) = f.data_ref() {
                        text.extend_from_slice(d);
                    }
                }
                _ => break,
            }
        }
        text.truncate(ANSWER_SNIPPET);
        let snippet = String::from_utf8_lossy(&text).trim().to_owned();
        Ok::<_, wa_media_core::TransportError>((status, retry_after, snippet))
    };
    match tokio::time::timeout(inner.config.timeout, exchange).await {
        Ok(Ok((status, retry_after, snippet))) => Answer {
            status: Some(status),
            retry_after,
            text: if snippet.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {snippet}")
            },
        },
        Ok(Err(e)) => Answer {
            status: None,
            retry_after: None,
            text: wa_media_core::error_chain(&e),
        },
        Err(_) => Answer {
            status: None,
            retry_after: None,
            text: format!(
                "no answer within {} s (--forward-timeout)",
                inner.config.timeout.as_secs_f64()
            ),
        },
    }
}
