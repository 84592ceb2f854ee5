//! Delivery statuses of outbound messages, as webhooks report them: `sent`, `delivered`,
//! `read`, `played` (voice notes) and `failed` with the reasons, unknown values and fields kept.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::webhook::Extra;

/// Graph error codes of an asynchronous media failure: the message was accepted, but the media
/// could not be delivered (131053: upload or processing error). 131052 ("Media download error")
/// is Meta's code for failing to download the media **a customer sent** (an inbound failure,
/// reported with the inbound message: see [`crate::webhook::meta_failures`]); it is matched here
/// too, so a status that carries it is not missed.
pub const MEDIA_ERROR_CODES: [i64; 2] = [131_052, 131_053];

/// One status of an outbound message (an entry of `value.statuses`).
///
/// ```
/// use wa_media_types::webhook::{DeliveryStatus, Status};
/// let s: Status = serde_json::from_str(r#"{"id":"wamid.A","status":"failed",
///   "timestamp":"1749416401","recipient_id":"16505551234","errors":[{"code":131053,
///   "title":"Media upload error","error_data":{"details":"Unsupported Audio mime type"}}]}"#).unwrap();
/// assert_eq!(s.status, DeliveryStatus::Failed);
/// let e = s.media_error().unwrap();
/// assert_eq!(e.code, 131053);
/// assert_eq!(e.details(), Some("Unsupported Audio mime type"));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// The message id (`wamid.…`) the status is about.
    #[serde(default)]
    pub id: String,
    /// What happened to it.
    #[serde(default)]
    pub status: DeliveryStatus,
    /// Unix time in seconds, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The customer's WhatsApp id (phone); omitted when the message was sent to a BSUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    /// The customer's business-scoped user id (since April 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<String>,
    /// The customer's parent BSUID, where enabled (Meta's pages also spell it
    /// `parent_recipient_user_id`: both are read).
    #[serde(
        default,
        alias = "parent_recipient_user_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub recipient_parent_user_id: Option<String>,
    /// Why it failed (for `failed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StatusError>,
    /// Fields not modelled here (`conversation`, `pricing`, `biz_opaque_callback_data`, …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Status {
    /// The customer this status is about, from its ids (an invalid BSUID is left out); `None`
    /// when it names none (a `failed` status of a message sent to a phone number may not).
    pub fn customer(&self) -> Option<crate::Customer> {
        let bsuid = |s: &Option<String>| s.as_deref().and_then(|s| crate::Bsuid::new(s).ok());
        crate::Customer::new(
            self.recipient_id.clone(),
            bsuid(&self.recipient_user_id),
            bsuid(&self.recipient_parent_user_id),
            None,
        )
    }

    /// The error saying the message's media could not be delivered (codes 131052 and
    /// 131053), when there is one: the asynchronous media failure of a send that was accepted.
    pub fn media_error(&self) -> Option<&StatusError> {
        self.errors
            .iter()
            .find(|e| MEDIA_ERROR_CODES.contains(&e.code))
    }
}

/// The state a status reports. Values Meta adds later are kept in [`DeliveryStatus::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// Accepted and sent by WhatsApp.
    Sent,
    /// Delivered to the customer's device.
    Delivered,
    /// Read by the customer.
    Read,
    /// A voice note was played.
    Played,
    /// Could not be delivered; see [`Status::errors`].
    Failed,
    /// A value this crate does not know (kept as sent; empty when absent).
    Unknown(String),
    /// No status was given.
    #[default]
    Missing,
}

impl DeliveryStatus {
    /// The value as Meta spells it.
    pub fn as_str(&self) -> &str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Played => "played",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Unknown(s) => s,
            DeliveryStatus::Missing => "",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for DeliveryStatus {
    fn from(s: &str) -> Self {
        match s {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" => DeliveryStatus::Read,
            "played" => DeliveryStatus::Played,
            "failed" => DeliveryStatus::Failed,
            "" => DeliveryStatus::Missing,
            other => DeliveryStatus::Unknown(other.to_owned()),
        }
    }
}

impl Serialize for DeliveryStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DeliveryStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(DeliveryStatus::from(s.as_str()))
    }
}

/// One reason a message failed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusError {
    /// The Graph error code (131026 undeliverable, 131053 media error, …).
    #[serde(default)]
    pub code: i64,
    /// A short title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Details, such as which MIME type was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<StatusErrorData>,
    /// Fields not modelled here (`href`, …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl StatusError {
    /// `error_data.details`, when given.
    pub fn details(&self) -> Option<&str> {
        self.error_data.as_ref()?.details.as_deref()
    }
}

/// The `error_data` of a [`StatusError`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusErrorData {
    /// What exactly went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_values_round_trip() {
        let s: Status =
            serde_json::from_str(r#"{"id":"w","status":"deleted","future":1}"#).unwrap();
        assert_eq!(s.status, DeliveryStatus::Unknown("deleted".into()));
        assert_eq!(s.extra["future"], 1);
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back["status"], "deleted");
        assert_eq!(back["future"], 1);
        assert_eq!(s.media_error(), None);
    }
}
