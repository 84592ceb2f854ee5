//! Fault injection: make the next N requests to an endpoint fail in a chosen way, from Rust
//! ([`Faults::push`]) or over HTTP (`POST /__emulator/faults`).

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::error::EmulatorError;

/// An endpoint a fault can target: the four media endpoints, the messages endpoint, and the
/// emulator's own webhook deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /{version}/{phone_number_id}/media` on the Graph origin.
    Upload,
    /// `GET /{version}/{media_id}` on the Graph origin.
    Retrieve,
    /// `GET /whatsapp_business/attachments/?…` on the download origin.
    Download,
    /// `DELETE /{version}/{media_id}` on the Graph origin.
    Delete,
    /// The emulator's own webhook deliveries (POSTs to the configured webhook URL); only the
    /// `deliver_times` fault applies.
    Webhook,
    /// `POST /{version}/{phone_number_id}/messages` on the Graph origin (sending a message).
    Messages,
    /// `POST /{version}/upload:<SESSION>` on the Graph origin (the Resumable Upload API's
    /// upload; `reset_mid_body` and `reset_at` keep what arrived before the reset, as Graph
    /// does, so the upload can resume from the session's offset).
    ResumableUpload,
}

/// What happens to a request hit by a fault. In JSON (over HTTP) a fault is an object tagged by
/// `kind`: `{"kind": "rate_limited", "retry_after_secs": 2}`, `{"kind": "server_error",
/// "status": 503}`, `{"kind": "reset_mid_body"}`, `{"kind": "truncated_body"}`,
/// `{"kind": "corrupt_byte"}`, `{"kind": "delay", "millis": 1500}`, and for the messages
/// endpoint `{"kind": "undeliverable"}`, `{"kind": "media_delivery_failed", "details": "…"}`,
/// `{"kind": "pair_rate_limited"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// HTTP 429 with `Retry-After: <retry_after_secs>` and a transient Graph envelope: code 4
    /// (application request limit) on the media endpoints, code 130429 (Cloud API throughput
    /// reached) on the messages endpoint. Nothing is processed.
    RateLimited {
        /// The `Retry-After` value in seconds.
        #[serde(default = "default_retry_after")]
        retry_after_secs: u64,
    },
    /// The given 5xx status with a transient Graph envelope (code 2, `is_transient: true`).
    /// Nothing is processed.
    ServerError {
        /// The status to answer: 500–599 (anything else is refused when queued).
        #[serde(default = "default_server_status")]
        status: u16,
    },
    /// The connection is reset (TCP RST) mid-body. For downloads, retrieves and deletes the
    /// request is processed, the status line, headers and about half of the response body are
    /// sent, then the connection is reset. For uploads the reset happens while the request body
    /// is being received (after about half of it): nothing is stored and no response is sent.
    ResetMidBody,
    /// The request is processed and `Content-Length` promises the whole body, but only about half
    /// of it is sent before the connection is closed cleanly (FIN).
    TruncatedBody,
    /// The request is processed and the whole body is sent with one byte (in the middle) flipped.
    CorruptByte,
    /// The response (headers included) is held back for `millis` milliseconds, then the request
    /// is answered normally.
    Delay {
        /// How long to wait, in milliseconds (at most [`MAX_FAULT_DELAY_MILLIS`]).
        millis: u64,
    },
    /// For [`Endpoint::Webhook`] only: the next notification is delivered `times` times (each
    /// delivery retried as usual), as Meta's at-least-once delivery may do.
    DeliverTimes {
        /// How many deliveries (1–100).
        times: u32,
    },
    /// For [`Endpoint::Messages`] only: the message is accepted (200, a wamid), then its only
    /// status is `failed` with error 131026 (message undeliverable: the recipient is not on
    /// WhatsApp, has not accepted the terms, runs an old version…).
    Undeliverable,
    /// For [`Endpoint::Messages`] only: the message is accepted, then its only status is
    /// `failed` with error 131053 (media upload error) and `error_data.details`: the
    /// asynchronous media failure (a link that cannot be fetched, a format WhatsApp refuses).
    MediaDeliveryFailed {
        /// The `error_data.details` text (at most 1,024 characters). Default: a weblink 404
        /// for a message sent by `link`, an unsupported-format text for one sent by `id`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<String>,
    },
    /// For [`Endpoint::Messages`] only: 400 with code 131056 (pair rate limit: too many
    /// messages to one recipient). Nothing is processed.
    PairRateLimited,
    /// For [`Endpoint::Upload`] and [`Endpoint::ResumableUpload`]: the connection is reset
    /// once `percent` % of the file has arrived (a resumable session keeps those bytes).
    ResetAt {
        /// 1–99.
        percent: u8,
    },
}

/// The longest accepted [`Fault::Delay`]: five minutes.
pub const MAX_FAULT_DELAY_MILLIS: u64 = 5 * 60 * 1000;

/// The largest accepted [`Fault::RateLimited`] `retry_after_secs`: one day.
pub const MAX_FAULT_RETRY_AFTER_SECS: u64 = 24 * 60 * 60;

/// The longest accepted [`Fault::MediaDeliveryFailed`] `details`, in characters.
pub const MAX_FAULT_DETAILS_CHARS: usize = 1024;

/// How many entries the fault queue holds at most (each entry may apply to many requests).
pub const MAX_PENDING_FAULTS: usize = 1024;

fn default_retry_after() -> u64 {
    1
}

fn default_server_status() -> u16 {
    503
}

impl Fault {
    /// The JSON `kind` of this fault (as written in the request log).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::RateLimited { .. } => "rate_limited",
            Fault::ServerError { .. } => "server_error",
            Fault::ResetMidBody => "reset_mid_body",
            Fault::TruncatedBody => "truncated_body",
            Fault::CorruptByte => "corrupt_byte",
            Fault::Delay { .. } => "delay",
            Fault::DeliverTimes { .. } => "deliver_times",
            Fault::Undeliverable => "undeliverable",
            Fault::MediaDeliveryFailed { .. } => "media_delivery_failed",
            Fault::PairRateLimited => "pair_rate_limited",
            Fault::ResetAt { .. } => "reset_at",
        }
    }

    /// Checks every field: a `server_error` status in 500–599, a delay of at most
    /// [`MAX_FAULT_DELAY_MILLIS`], a `Retry-After` of at most [`MAX_FAULT_RETRY_AFTER_SECS`].
    pub fn validate(&self) -> Result<(), EmulatorError> {
        let bad = |m: String| Err(EmulatorError::InvalidFault(m));
        match self {
            Fault::ServerError { status } if !(500..=599).contains(status) => bad(format!(
                "server_error status {status} is not a server error status (500-599)"
            )),
            Fault::Delay { millis } if *millis > MAX_FAULT_DELAY_MILLIS => bad(format!(
                "delay of {millis} ms is over the limit of {MAX_FAULT_DELAY_MILLIS} ms"
            )),
            Fault::RateLimited { retry_after_secs }
                if *retry_after_secs > MAX_FAULT_RETRY_AFTER_SECS =>
            {
                bad(format!(
                    "retry_after_secs {retry_after_secs} is over the limit of \
                     {MAX_FAULT_RETRY_AFTER_SECS} s"
                ))
            }
            Fault::ResetAt { percent } if !(1..=99).contains(percent) => bad(format!(
                "reset_at percent {percent} is not between 1 and 99"
            )),
            Fault::DeliverTimes { times } if !(1..=100).contains(times) => bad(format!(
                "deliver_times times {times} is not between 1 and 100"
            )),
            Fault::MediaDeliveryFailed { details: Some(d) }
                if d.chars().count() > MAX_FAULT_DETAILS_CHARS =>
            {
                bad(format!(
                    "media_delivery_failed details are over {MAX_FAULT_DETAILS_CHARS} characters"
                ))
            }
            _ => Ok(()),
        }
    }

    /// Whether this fault can apply to `endpoint`: `deliver_times` to webhook deliveries only;
    /// `undeliverable`, `media_delivery_failed` and `pair_rate_limited` to the messages
    /// endpoint only; every other fault to the media and messages endpoints.
    fn applies_to(&self, endpoint: Endpoint) -> Result<(), EmulatorError> {
        let messages_only = matches!(
            self,
            Fault::Undeliverable | Fault::MediaDeliveryFailed { .. } | Fault::PairRateLimited
        );
        match (self, endpoint) {
            (Fault::DeliverTimes { .. }, Endpoint::Webhook) => Ok(()),
            (Fault::DeliverTimes { .. }, _) => Err(EmulatorError::InvalidFault(
                "deliver_times applies to the webhook endpoint only".to_owned(),
            )),
            (other, Endpoint::Webhook) => Err(EmulatorError::InvalidFault(format!(
                "{} does not apply to webhook deliveries (only deliver_times does)",
                other.kind()
            ))),
            (Fault::ResetAt { .. }, Endpoint::Upload | Endpoint::ResumableUpload) => Ok(()),
            (Fault::ResetAt { .. }, _) => Err(EmulatorError::InvalidFault(
                "reset_at applies to the upload and resumable_upload endpoints only".to_owned(),
            )),
            (other, e) if messages_only && e != Endpoint::Messages => {
                Err(EmulatorError::InvalidFault(format!(
                    "{} applies to the messages endpoint only",
                    other.kind()
                )))
            }
            _ => Ok(()),
        }
    }
}

/// A fault waiting to be applied: `remaining` more requests to `endpoint` will get `fault`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PendingFault {
    /// The endpoint targeted.
    pub endpoint: Endpoint,
    /// What happens.
    pub fault: Fault,
    /// How many more requests it applies to.
    pub remaining: u32,
}

/// The fault controls of one emulator; clones share the same queue.
///
/// Faults for one endpoint apply in the order they were pushed: `push(Download, A, 2)` then
/// `push(Download, B, 1)` gives A, A, B, then normal answers.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queue: Arc<Mutex<Vec<PendingFault>>>,
}

impl Faults {
    /// Makes the next `count` requests to `endpoint` get `fault` (after any already queued); a
    /// `count` of 0 queues nothing.
    ///
    /// # Panics
    ///
    /// When the fault is invalid ([`Fault::validate`]) or the queue already holds
    /// [`MAX_PENDING_FAULTS`] entries: a mistake in the calling test. [`try_push`](Self::try_push)
    /// returns an error instead.
    pub fn push(&self, endpoint: Endpoint, fault: Fault, count: u32) {
        if let Err(e) = self.try_push(endpoint, fault, count) {
            panic!("Faults::push: {e}");
        }
    }

    /// Like [`push`](Self::push), but an invalid fault or a full queue is an
    /// [`EmulatorError::InvalidFault`] and nothing is queued.
    pub fn try_push(
        &self,
        endpoint: Endpoint,
        fault: Fault,
        count: u32,
    ) -> Result<(), EmulatorError> {
        fault.validate()?;
        fault.applies_to(endpoint)?;
        if count == 0 {
            return Ok(());
        }
        let mut q = self.lock();
        if q.len() >= MAX_PENDING_FAULTS {
            return Err(EmulatorError::InvalidFault(format!(
                "the queue already holds {MAX_PENDING_FAULTS} faults; clear it first"
            )));
        }
        q.push(PendingFault {
            endpoint,
            fault,
            remaining: count,
        });
        Ok(())
    }

    /// Removes every pending fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The faults still pending, in order.
    pub fn pending(&self) -> Vec<PendingFault> {
        self.lock().clone()
    }

    /// Takes the next fault for `endpoint`, if any.
    pub(crate) fn take(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut q = self.lock();
        let i = q.iter().position(|p| p.endpoint == endpoint)?;
        let fault = q[i].fault.clone();
        q[i].remaining -= 1;
        if q[i].remaining == 0 {
            q.remove(i);
        }
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<PendingFault>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_in_order_per_endpoint() {
        let f = Faults::default();
        f.push(Endpoint::Download, Fault::CorruptByte, 2);
        f.push(Endpoint::Retrieve, Fault::TruncatedBody, 1);
        f.push(Endpoint::Download, Fault::Delay { millis: 5 }, 1);
        f.push(Endpoint::Download, Fault::ResetMidBody, 0);
        assert_eq!(f.take(Endpoint::Upload), None);
        assert_eq!(f.take(Endpoint::Download), Some(Fault::CorruptByte));
        assert_eq!(f.take(Endpoint::Download), Some(Fault::CorruptByte));
        assert_eq!(f.take(Endpoint::Download), Some(Fault::Delay { millis: 5 }));
        assert_eq!(f.take(Endpoint::Download), None);
        assert_eq!(f.pending().len(), 1);
        f.clear();
        assert_eq!(f.take(Endpoint::Retrieve), None);
    }

    #[test]
    fn json_forms() {
        let f: Fault = serde_json::from_str(r#"{"kind":"rate_limited"}"#).unwrap();
        assert_eq!(
            f,
            Fault::RateLimited {
                retry_after_secs: 1
            }
        );
        let f: Fault = serde_json::from_str(r#"{"kind":"server_error"}"#).unwrap();
        assert_eq!(f, Fault::ServerError { status: 503 });
        assert_eq!(f.kind(), "server_error");
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"explode"}"#).is_err());
        for (json, fault) in [
            (r#"{"kind":"undeliverable"}"#, Fault::Undeliverable),
            (r#"{"kind":"pair_rate_limited"}"#, Fault::PairRateLimited),
            (
                r#"{"kind":"media_delivery_failed"}"#,
                Fault::MediaDeliveryFailed { details: None },
            ),
        ] {
            assert_eq!(serde_json::from_str::<Fault>(json).unwrap(), fault);
            assert_eq!(serde_json::to_string(&fault).unwrap(), json);
        }
        let e: Endpoint = serde_json::from_str(r#""messages""#).unwrap();
        assert_eq!(e, Endpoint::Messages);
    }

    #[test]
    fn invalid_faults_are_refused_and_nothing_is_queued() {
        let f = Faults::default();
        for status in [0, 200, 404, 499, 600, 999, u16::MAX] {
            let e = f
                .try_push(Endpoint::Download, Fault::ServerError { status }, 1)
                .unwrap_err();
            assert!(e.to_string().contains(&status.to_string()), "{e}");
        }
        for status in [500, 503, 599] {
            f.try_push(Endpoint::Download, Fault::ServerError { status }, 1)
                .unwrap();
        }
        assert!(f
            .try_push(Endpoint::Upload, Fault::Delay { millis: u64::MAX }, 1)
            .is_err());
        assert!(f
            .try_push(
                Endpoint::Upload,
                Fault::RateLimited {
                    retry_after_secs: u64::MAX
                },
                1
            )
            .is_err());
        assert_eq!(f.pending().len(), 3);
        f.clear();
        for _ in 0..MAX_PENDING_FAULTS {
            f.try_push(Endpoint::Retrieve, Fault::CorruptByte, 1)
                .unwrap();
        }
        assert!(f
            .try_push(Endpoint::Retrieve, Fault::CorruptByte, 1)
            .is_err());
        assert_eq!(f.pending().len(), MAX_PENDING_FAULTS);
    }
}
