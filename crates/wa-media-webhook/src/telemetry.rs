//! The service's metrics, through the [`metrics`] facade: every name in one place. The
//! application installs a recorder (`wa-media serve --metrics-listen` renders them in the
//! Prometheus text format); without one, recording costs next to nothing.
//!
//! | name | kind | |
//! | --- | --- | --- |
//! | `wa_media_notifications_accepted_total` | counter | deliveries answered 200 |
//! | `wa_media_notifications_refused_total{reason}` | counter | deliveries refused: `signature_missing`, `signature_mismatch`, `bad_body`, `too_large`, `too_slow`, `draining`, `spool_error`, `record_error`, `forward_spool_error`, `handler_error` |
//! | `wa_media_media_saved_total` | counter | media saved and verified (a redelivered one found already saved counts again) |
//! | `wa_media_media_failed_total` | counter | media given up (moved to `failed/`) |
//! | `wa_media_media_retried_total` | counter | save attempts that will be tried again |
//! | `wa_media_media_bytes_saved_total` | counter | bytes of the media saved |
//! | `wa_media_forwards_delivered_total` | counter | forwards the application answered 2xx |
//! | `wa_media_forwards_retried_total` | counter | forward attempts that failed and will be tried again |
//! | `wa_media_forwards_failed_total` | counter | forwards given up (moved to the failed forwards) |
//! | `wa_media_spool_pending` | gauge | media waiting in the spool |
//! | `wa_media_spool_taken` | gauge | media being fetched |
//! | `wa_media_spool_failed` | gauge | media in `failed/` |
//! | `wa_media_forwards_pending` | gauge | forwards not yet delivered |
//! | `wa_media_forwards_failed` | gauge | forwards given up |
//! | `wa_media_ack_seconds` | histogram | from the request to the answer of a delivery |
//! | `wa_media_media_save_seconds` | histogram | one save attempt that succeeded |
//! | `wa_media_forward_seconds` | histogram | one forward attempt, to the application's answer |

use std::time::Duration;

/// Deliveries answered 200.
pub const NOTIFICATIONS_ACCEPTED: &str = "wa_media_notifications_accepted_total";
/// Deliveries refused, by `reason`.
pub const NOTIFICATIONS_REFUSED: &str = "wa_media_notifications_refused_total";
/// Media saved.
pub const MEDIA_SAVED: &str = "wa_media_media_saved_total";
/// Media failed.
pub const MEDIA_FAILED: &str = "wa_media_media_failed_total";
/// Save attempts retried.
pub const MEDIA_RETRIED: &str = "wa_media_media_retried_total";
/// Bytes saved.
pub const MEDIA_BYTES_SAVED: &str = "wa_media_media_bytes_saved_total";
/// Forwards delivered.
pub const FORWARDS_DELIVERED: &str = "wa_media_forwards_delivered_total";
/// Forward attempts retried.
pub const FORWARDS_RETRIED: &str = "wa_media_forwards_retried_total";
/// Forwards failed.
pub const FORWARDS_FAILED: &str = "wa_media_forwards_failed_total";
/// Media pending in the spool.
pub const SPOOL_PENDING: &str = "wa_media_spool_pending";
/// Media being fetched.
pub const SPOOL_TAKEN: &str = "wa_media_spool_taken";
/// Media in `failed/`.
pub const SPOOL_FAILED: &str = "wa_media_spool_failed";
/// Forwards pending.
pub const FORWARDS_PENDING: &str = "wa_media_forwards_pending";
/// Forwards given up.
pub const FORWARDS_FAILED_NOW: &str = "wa_media_forwards_failed";
/// The ack latency.
pub const ACK_SECONDS: &str = "wa_media_ack_seconds";
/// One successful save.
pub const MEDIA_SAVE_SECONDS: &str = "wa_media_media_save_seconds";
/// One forward attempt.
pub const FORWARD_SECONDS: &str = "wa_media_forward_seconds";

/// Every histogram's name, for a recorder that needs buckets per histogram.
pub const HISTOGRAMS: [&str; 3] = [ACK_SECONDS, MEDIA_SAVE_SECONDS, FORWARD_SECONDS];

pub(crate) fn accepted(took: Duration) {
    metrics::counter!(NOTIFICATIONS_ACCEPTED).increment(1);
    metrics::histogram!(ACK_SECONDS).record(took.as_secs_f64());
}

pub(crate) fn refused(reason: &'static str, took: Duration) {
    metrics::counter!(NOTIFICATIONS_REFUSED, "reason" => reason).increment(1);
    metrics::histogram!(ACK_SECONDS).record(took.as_secs_f64());
}

pub(crate) fn media_saved(bytes: u64, took: Duration) {
    metrics::counter!(MEDIA_SAVED).increment(1);
    metrics::counter!(MEDIA_BYTES_SAVED).increment(bytes);
    metrics::histogram!(MEDIA_SAVE_SECONDS).record(took.as_secs_f64());
}

pub(crate) fn media_failed() {
    metrics::counter!(MEDIA_FAILED).increment(1);
}

pub(crate) fn media_retried() {
    metrics::counter!(MEDIA_RETRIED).increment(1);
}

pub(crate) fn forward_delivered(took: Duration) {
    metrics::counter!(FORWARDS_DELIVERED).increment(1);
    metrics::histogram!(FORWARD_SECONDS).record(took.as_secs_f64());
}

pub(crate) fn forward_retried(took: Duration) {
    metrics::counter!(FORWARDS_RETRIED).increment(1);
    metrics::histogram!(FORWARD_SECONDS).record(took.as_secs_f64());
}

pub(crate) fn forward_failed() {
    metrics::counter!(FORWARDS_FAILED).increment(1);
}

pub(crate) fn spool_gauges(pending: usize, taken: usize, failed: usize) {
    metrics::gauge!(SPOOL_PENDING).set(pending as f64);
    metrics::gauge!(SPOOL_TAKEN).set(taken as f64);
    metrics::gauge!(SPOOL_FAILED).set(failed as f64);
}

pub(crate) fn forward_gauges(pending: usize, failed: usize) {
    metrics::gauge!(FORWARDS_PENDING).set(pending as f64);
    metrics::gauge!(FORWARDS_FAILED_NOW).set(failed as f64);
}
