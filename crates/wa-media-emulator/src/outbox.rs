//! The messages the messages endpoint accepted, kept for inspection
//! ([`EmulatorHandle::sent_messages`](crate::EmulatorHandle::sent_messages),
//! `GET /__emulator/messages`), and the windows of the send-rate limits.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::EmulatorConfig;
use crate::reply::ApiError;

/// How many sent messages the emulator keeps for inspection (the oldest are dropped first).
pub const SENT_MESSAGES_CAPACITY: usize = 10_000;

/// A message the messages endpoint accepted, as [`EmulatorHandle::sent_messages`] and
/// `GET /__emulator/messages` show it.
///
/// [`EmulatorHandle::sent_messages`]: crate::EmulatorHandle::sent_messages
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SentMessage {
    /// The message id answered (`wamid.…`), also the `id` of its statuses.
    pub wamid: String,
    /// The business phone number id it was sent from (the path's).
    pub phone_number_id: String,
    /// `to` exactly as sent (answered as `contacts[0].input`); empty (JSON `null`) for a message
    /// sent to a BSUID (`recipient`) alone.
    #[serde(with = "empty_as_null")]
    pub to: String,
    /// The recipient's digits (answered as `contacts[0].wa_id`, the statuses' `recipient_id`);
    /// empty (JSON `null`) for a message sent to a BSUID.
    #[serde(with = "empty_as_null")]
    pub wa_id: String,
    /// `recipient` exactly as sent (a BSUID or a parent BSUID), also when `to` won.
    #[serde(default)]
    pub recipient: Option<String>,
    /// The user BSUID the message reached, the statuses' `recipient_user_id`: the recipient,
    /// the user behind a parent BSUID, or the simulated BSUID of `wa_id`
    /// ([`simulated_user_id`](crate::simulated_user_id)). The pair rate limit counts per
    /// user BSUID.
    #[serde(default)]
    pub user_id: String,
    /// The message `type`: `image`, `video`, `audio`, `document` or `sticker`.
    pub kind: String,
    /// The media id, when the media was sent by id.
    pub media_id: Option<String>,
    /// The link, when the media was sent by link.
    pub link: Option<String>,
    /// The caption.
    pub caption: Option<String>,
    /// A document's file name.
    pub filename: Option<String>,
    /// Whether an audio message is a voice note (`"voice": true`).
    pub voice: bool,
    /// `context.message_id`: the message this one replies to.
    pub reply_to: Option<String>,
    /// `biz_opaque_callback_data`, echoed in every status.
    pub biz_opaque_callback_data: Option<String>,
    /// When it was accepted, Unix seconds (emulator clock).
    pub timestamp: u64,
    /// The statuses emitted so far, in order (`sent`, `delivered`, `read`, `played`,
    /// `failed`); each is delivered to the webhook when one is configured.
    pub statuses: Vec<String>,
    /// For a template message (`kind` `template`): the template, its header type and its
    /// body parameters. The header's media is in `media_id`/`link` and `filename`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<SentTemplate>,
}

/// The template of a template message in [`SentMessage::template`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SentTemplate {
    /// The template's name.
    pub name: String,
    /// Its language code.
    pub language: String,
    /// The header parameter's type (`image`, `video`, `document`), when there is one.
    pub header: Option<String>,
    /// The body's text parameters, in order.
    pub body_params: Vec<String>,
}

impl SentTemplate {
    pub(crate) fn new(
        name: &str,
        language: &str,
        header: Option<String>,
        body_params: Vec<String>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            language: language.to_owned(),
            header,
            body_params,
        }
    }
}

/// Sent messages and the send-rate windows of one emulator.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    sent: VecDeque<SentMessage>,
    /// Acceptance times per phone number id, within the last second.
    per_phone: HashMap<String, VecDeque<SystemTime>>,
    /// Acceptance times per (phone number id, user BSUID), within the pair window.
    per_pair: HashMap<(String, String), VecDeque<SystemTime>>,
}

/// Drops the entries older than `per` and says how long until one more fits (`None`: now).
fn wait_for_room(
    window: &mut VecDeque<SystemTime>,
    now: SystemTime,
    max: u32,
    per: Duration,
) -> Option<Duration> {
    let age = |t: &SystemTime| now.duration_since(*t).unwrap_or(Duration::ZERO);
    while window.front().is_some_and(|t| age(t) >= per) {
        window.pop_front();
    }
    if window.len() < max as usize {
        return None;
    }
    Some(per.saturating_sub(window.front().map_or(Duration::ZERO, age)))
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn list(&self) -> Vec<SentMessage> {
        self.lock().sent.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.lock().sent.clear();
    }

    /// Checks the configured limits and, when the message fits, counts it and records it.
    pub(crate) fn admit(
        &self,
        config: &EmulatorConfig,
        now: SystemTime,
        msg: SentMessage,
    ) -> Result<(), ApiError> {
        let mut inner = self.lock();
        if let Some(max) = config.message_throughput {
            let w = inner
                .per_phone
                .entry(msg.phone_number_id.clone())
                .or_default();
            if let Some(wait) = wait_for_room(w, now, max, Duration::from_secs(1)) {
                return Err(ApiError::throughput(secs_up(wait)));
            }
        }
        if let Some(limit) = config.pair_rate_limit {
            let key = (msg.phone_number_id.clone(), msg.user_id.clone());
            let w = inner.per_pair.entry(key).or_default();
            if wait_for_room(w, now, limit.max, limit.per).is_some() {
                return Err(ApiError::pair_rate_limited());
            }
        }
        if config.message_throughput.is_some() {
            let w = inner
                .per_phone
                .entry(msg.phone_number_id.clone())
                .or_default();
            w.push_back(now);
        }
        if config.pair_rate_limit.is_some() {
            let key = (msg.phone_number_id.clone(), msg.user_id.clone());
            inner.per_pair.entry(key).or_default().push_back(now);
        }
        if inner.sent.len() >= SENT_MESSAGES_CAPACITY {
            inner.sent.pop_front();
        }
        inner.sent.push_back(msg);
        Ok(())
    }

    pub(crate) fn record_status(&self, wamid: &str, status: &str) {
        let mut inner = self.lock();
        if let Some(m) = inner.sent.iter_mut().rev().find(|m| m.wamid == wamid) {
            m.statuses.push(status.to_owned());
        }
    }
}

/// An empty string as JSON `null` (and `null` back as empty): `to` and `wa_id` of a message
/// sent to a BSUID.
mod empty_as_null {
    use super::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(s: &str, ser: S) -> Result<S::Ok, S::Error> {
        if s.is_empty() {
            ser.serialize_none()
        } else {
            ser.serialize_str(s)
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
    }
}

/// Whole seconds, rounded up, at least 1 (a `Retry-After` value).
fn secs_up(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slide() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let per = Duration::from_secs(1);
        let mut w = VecDeque::new();
        assert_eq!(wait_for_room(&mut w, t0, 2, per), None);
        w.push_back(t0);
        w.push_back(t0 + Duration::from_millis(400));
        let at = t0 + Duration::from_millis(500);
        assert_eq!(
            wait_for_room(&mut w, at, 2, per),
            Some(Duration::from_millis(500))
        );
        assert_eq!(wait_for_room(&mut w, t0 + per, 2, per), None);
        assert_eq!(w.len(), 1);
        assert_eq!(secs_up(Duration::from_millis(500)), 1);
        assert_eq!(secs_up(Duration::from_millis(1500)), 2);
        assert_eq!(secs_up(Duration::ZERO), 1);
    }
}
