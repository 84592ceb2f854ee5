//! Webhook delivery: every simulated inbound notification and every status of a sent message
//! is POSTed to the configured URL, signed like Meta's (`X-Hub-Signature-256`, HMAC-SHA256 of
//! the body with the app secret, over the `\uXXXX`-escaped JSON), with a timeout per attempt,
//! redelivered with backoff on a non-2xx answer or a timeout, and every attempt written to the
//! request log.
//!
//! Bounded on purpose, so that a slow or dead receiver cannot exhaust the emulator's file
//! descriptors (and with them its own API): at most
//! [`max_in_flight`](crate::WebhookTarget::max_in_flight) deliveries run at once, each with at
//! most one connection (a timed-out attempt's connection is closed: dropping hyper's response
//! future closes it), and the client keeps at most as many idle connections. Inbound
//! notifications beyond the slots wait in a queue of
//! [`queue_capacity`](crate::WebhookTarget::queue_capacity) (one dispatcher task hands them to
//! the slots in order); one arriving at a full queue is dropped, counted and logged (one warning
//! per second at most, with the count). The statuses of a sent message wait for a slot in their
//! own task ([`Delivery::deliver_now`]), so they stay in order and are never dropped. The counts
//! are [`DeliveryStats`].
//!
//! The fault `deliver_times` on [`Endpoint::Webhook`](crate::Endpoint::Webhook) delivers the
//! next notification several times, to exercise a receiver's deduplication.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::Body as _;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::config::WebhookTarget;
use crate::fault::{Endpoint, Fault, Faults};
use crate::request_log::{LoggedRequest, RequestLog};

/// The longest wait between two attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// How long an idle connection to the receiver is kept for reuse.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an answer's body is read (and thrown away); beyond it the connection is closed
/// instead of reused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// At most one "queue full" warning per this interval (each with the count since the last).
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(1);

/// The counts of the emulator's webhook deliveries, in notifications (a notification under
/// the `deliver_times` fault counts once): [`EmulatorHandle::webhook_deliveries`] and the
/// `webhook` field of `GET /__emulator/health`.
///
/// Every notification submitted so far is in exactly one of the five counts, so their sum is
/// the number of notifications submitted.
///
/// [`EmulatorHandle::webhook_deliveries`]: crate::EmulatorHandle::webhook_deliveries
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeliveryStats {
    /// Accepted by the receiver (a 2xx answer; under `deliver_times`, to every copy).
    pub delivered: u64,
    /// Given up after the last attempt (for at least one copy).
    pub given_up: u64,
    /// Inbound notifications dropped because the queue was full.
    pub dropped: u64,
    /// Waiting for a delivery slot: inbound notifications in the queue (at most
    /// [`queue_capacity`](crate::WebhookTarget::queue_capacity)) and statuses of sent
    /// messages waiting in their message's task.
    pub queued: u64,
    /// Being delivered now (at most [`max_in_flight`](crate::WebhookTarget::max_in_flight)).
    pub in_flight: u64,
}

/// Delivers notifications to one webhook URL. Cheap to clone; the dispatcher stops when the
/// last clone is dropped (deliveries in flight finish their attempts).
#[derive(Clone)]
pub(crate) struct Delivery {
    front: Arc<Front>,
}

/// What the clones share; dropping it closes the queue.
struct Front {
    inner: Arc<Inner>,
    faults: Faults,
}

/// What the dispatcher and the deliveries share.
struct Inner {
    target: WebhookTarget,
    client: Client<HttpConnector, Full<Bytes>>,
    log: Arc<RequestLog>,
    /// One permit per delivery in flight.
    slots: Arc<Semaphore>,
    state: Mutex<State>,
    /// Wakes the dispatcher: a notification was queued, or the queue was closed.
    wake: Notify,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Statuses waiting for a slot (in [`Delivery::deliver_now`]).
    waiting: u64,
    in_flight: u64,
    delivered: u64,
    given_up: u64,
    dropped: u64,
    closed: bool,
    /// Drops not yet reported in a warning, and when the last warning was.
    unreported_drops: u64,
    last_drop_warning: Option<Instant>,
}

/// One notification to deliver `times` times.
struct Job {
    body: Bytes,
    times: u32,
    fault: Option<&'static str>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("url", &self.front.inner.target.url)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.inner.lock().closed = true;
        self.inner.wake.notify_one();
    }
}

impl Delivery {
    /// Builds the client and spawns the dispatcher (on the current tokio runtime).
    pub(crate) fn new(target: WebhookTarget, faults: Faults, log: Arc<RequestLog>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(target.timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(target.max_in_flight)
            .build(connector);
        let inner = Arc::new(Inner {
            slots: Arc::new(Semaphore::new(target.max_in_flight)),
            target,
            client,
            log,
            state: Mutex::default(),
            wake: Notify::new(),
        });
        tokio::spawn(dispatch(inner.clone()));
        Self {
            front: Arc::new(Front { inner, faults }),
        }
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> DeliveryStats {
        let st = self.front.inner.lock();
        DeliveryStats {
            delivered: st.delivered,
            given_up: st.given_up,
            dropped: st.dropped,
            queued: st.queue.len() as u64 + st.waiting,
            in_flight: st.in_flight,
        }
    }

    /// The `deliver_times` fault pending for the next notification, if any.
    fn take_times(&self) -> (u32, Option<&'static str>) {
        match self.front.faults.take(Endpoint::Webhook) {
            Some(Fault::DeliverTimes { times }) => (times.max(1), Some("deliver_times")),
            _ => (1, None),
        }
    }

    /// Queues `body` for delivery in the background (once, or as many times as a pending
    /// `deliver_times` fault says), each delivery retried until a 2xx or the attempts run out.
    /// Never waits: a notification arriving at a full queue is dropped and counted.
    pub(crate) fn deliver(&self, body: String) {
        let inner = &self.front.inner;
        {
            let mut st = inner.lock();
            if st.queue.len() >= inner.target.queue_capacity {
                st.dropped += 1;
                st.unreported_drops += 1;
                let due = st
                    .last_drop_warning
                    .is_none_or(|t| t.elapsed() >= DROP_WARNING_INTERVAL);
                if due {
                    tracing::warn!(
                        dropped = st.unreported_drops,
                        dropped_total = st.dropped,
                        queue_capacity = inner.target.queue_capacity,
                        in_flight = st.in_flight,
                        "webhook delivery queue full: notifications dropped (the receiver is \
                         slower than the notifications arrive)"
                    );
                    st.unreported_drops = 0;
                    st.last_drop_warning = Some(Instant::now());
                }
                return;
            }
            let (times, fault) = self.take_times();
            st.queue.push_back(Job {
                body: Bytes::from(body),
                times,
                fault,
            });
        }
        inner.wake.notify_one();
    }

    /// Delivers `body` (once, or as many times as a pending `deliver_times` fault says) in a
    /// delivery slot, waiting for one like the queued notifications do (the semaphore is
    /// fair), and returns when every delivery is accepted or given up: what keeps the
    /// statuses of one message in order.
    pub(crate) async fn deliver_now(&self, body: String) {
        let (times, fault) = self.take_times();
        let job = Job {
            body: Bytes::from(body),
            times,
            fault,
        };
        let waiting = Waiting::new(self.front.inner.clone());
        // The semaphore is never closed; without a permit (impossible) deliver anyway.
        let permit = waiting.inner.slots.clone().acquire_owned().await.ok();
        waiting.into_slot(permit).run(job).await;
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every delivery of one job, one after the other; whether all were accepted.
    async fn run(&self, job: Job) -> bool {
        let mut all = true;
        for _ in 0..job.times {
            all &= self.deliver_once(job.body.clone(), job.fault).await;
        }
        all
    }

    /// One delivery: attempts until a 2xx answer, with doubling waits. Returns whether it
    /// was accepted.
    async fn deliver_once(&self, body: Bytes, fault: Option<&str>) -> bool {
        let t = &self.target;
        let signature = wa_media_types::signature_header(t.app_secret.as_bytes(), &body);
        let mut delay = t.retry_delay;
        for attempt in 1..=t.max_attempts.max(1) {
            let req = http::Request::post(&t.url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header("x-hub-signature-256", &signature)
                .header(http::header::USER_AGENT, "facebookexternalua")
                .body(Full::new(body.clone()));
            // 0: no answer (connection refused or reset, or the timeout).
            let status = match req {
                Ok(req) => self.attempt(req).await,
                Err(_) => 0,
            };
            self.log.push(LoggedRequest::delivery(
                url_path(&t.url),
                status,
                fault.map(str::to_owned),
            ));
            if (200..300).contains(&status) {
                return true;
            }
            if attempt < t.max_attempts {
                tracing::info!(
                    status,
                    attempt,
                    "webhook delivery not accepted; delivering again"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
        tracing::warn!(url = %t.url, "webhook delivery given up");
        false
    }

    /// One attempt within the timeout: the answer's status, or 0 when none came in time.
    /// The answer's body is read (at most [`MAX_ANSWER_BYTES`]) within the same timeout so the
    /// connection can be reused; a receiver that stalls it keeps its status, loses the
    /// connection. Dropping the request future on the timeout closes its connection.
    async fn attempt(&self, req: http::Request<Full<Bytes>>) -> u16 {
        let deadline = tokio::time::Instant::now() + self.target.timeout;
        match tokio::time::timeout_at(deadline, self.client.request(req)).await {
            Ok(Ok(resp)) => {
                let status = resp.status().as_u16();
                let _ = tokio::time::timeout_at(deadline, drain(resp.into_body())).await;
                status
            }
            Ok(Err(_)) | Err(_) => 0,
        }
    }
}

/// Reads and discards an answer's body, stopping after [`MAX_ANSWER_BYTES`] (the body is then
/// dropped unfinished, which closes its connection).
async fn drain(mut body: hyper::body::Incoming) {
    let mut read = 0usize;
    while !body.is_end_stream() {
        match body.frame().await {
            Some(Ok(frame)) => {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > MAX_ANSWER_BYTES {
                    return;
                }
            }
            Some(Err(_)) | None => return,
        }
    }
}

/// Hands the queued notifications to the delivery slots, oldest first, until the queue is
/// closed. A notification stays in the queue (counted there) until it has a slot, and the
/// dispatcher asks for a slot only when one is queued, so it never holds a slot a status is
/// waiting for.
async fn dispatch(inner: Arc<Inner>) {
    loop {
        loop {
            {
                let st = inner.lock();
                if st.closed {
                    return;
                }
                if !st.queue.is_empty() {
                    break;
                }
            }
            // `notify_one` stores a wake-up when nobody waits, so none is lost between the
            // check above and this wait.
            inner.wake.notified().await;
        }
        let Ok(permit) = inner.slots.clone().acquire_owned().await else {
            return;
        };
        let slot = {
            let mut st = inner.lock();
            if st.closed {
                return;
            }
            // Only this task takes from the queue, so the job is still there; it moves from
            // the queue to the flight under one lock, so a snapshot counts it once.
            st.queue.pop_front().map(|job| {
                st.in_flight += 1;
                (job, permit)
            })
        };
        if let Some((job, permit)) = slot {
            let slot = Slot {
                inner: inner.clone(),
                permit: Some(permit),
                accepted: None,
            };
            tokio::spawn(slot.run(job));
        }
    }
}

/// A status waiting for a slot, counted in `waiting` until it has one (or its task is dropped).
struct Waiting {
    inner: Arc<Inner>,
    armed: bool,
}

impl Waiting {
    fn new(inner: Arc<Inner>) -> Self {
        inner.lock().waiting += 1;
        Self { inner, armed: true }
    }

    /// From waiting to in flight, under one lock.
    fn into_slot(mut self, permit: Option<OwnedSemaphorePermit>) -> Slot {
        {
            let mut st = self.inner.lock();
            st.waiting = st.waiting.saturating_sub(1);
            st.in_flight += 1;
        }
        self.armed = false;
        Slot {
            inner: self.inner.clone(),
            permit,
            accepted: None,
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.inner.lock();
            st.waiting = st.waiting.saturating_sub(1);
        }
    }
}

/// A delivery in flight, holding its slot: when dropped (done, or its task dropped) it leaves
/// the flight count for its outcome's, then frees the slot, so `in_flight` never exceeds the
/// slots.
struct Slot {
    inner: Arc<Inner>,
    permit: Option<OwnedSemaphorePermit>,
    accepted: Option<bool>,
}

impl Slot {
    async fn run(mut self, job: Job) {
        self.accepted = Some(self.inner.run(job).await);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        {
            let mut st = self.inner.lock();
            st.in_flight = st.in_flight.saturating_sub(1);
            match self.accepted {
                Some(true) => st.delivered += 1,
                Some(false) => st.given_up += 1,
                None => {}
            }
        }
        drop(self.permit.take());
    }
}

fn url_path(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default()
}
