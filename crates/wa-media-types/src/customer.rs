//! Who a customer is: a phone number and/or a business-scoped user id ([`Bsuid`]), since
//! April 2026 when WhatsApp users may adopt a username and withhold their number.
//!
//! A BSUID is a two-letter country code, a dot, then up to 128 letters and digits
//! (`US.13491208655302741918`); an enterprise-wide *parent* BSUID has `ENT.` after the country
//! code (`US.ENT.11815799212886844830`). Webhooks carry it as `contacts[].user_id` and
//! `messages[].from_user_id` (always), the phone as `wa_id`/`from` (only sometimes).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest id part of a BSUID (after the country code and, for a parent, `ENT.`).
pub const MAX_BSUID_ID_LEN: usize = 128;

/// A business-scoped user id, validated: `CC.` (two ASCII uppercase letters and a dot),
/// optionally `ENT.` (a parent BSUID), then 1 to [`MAX_BSUID_ID_LEN`] ASCII letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bsuid(String);

/// Why a string is not a BSUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a BSUID (a business-scoped user id such as US.13491208655302741918: a two-letter country code, a dot, then up to 128 letters and digits; ENT. after the dot for a parent BSUID)")]
pub struct BsuidError;

impl Bsuid {
    /// Validates `s`.
    pub fn new(s: &str) -> Result<Self, BsuidError> {
        let b = s.as_bytes();
        if b.len() < 4 || !b[0].is_ascii_uppercase() || !b[1].is_ascii_uppercase() || b[2] != b'.' {
            return Err(BsuidError);
        }
        let rest = s[3..].strip_prefix("ENT.").unwrap_or(&s[3..]);
        if rest.is_empty()
            || rest.len() > MAX_BSUID_ID_LEN
            || !rest.bytes().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(BsuidError);
        }
        Ok(Self(s.to_owned()))
    }

    /// Whether this is an enterprise-wide parent BSUID (`CC.ENT.…`).
    pub fn is_parent(&self) -> bool {
        self.0[3..].starts_with("ENT.")
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` looks like a BSUID rather than a phone number (it starts with two letters
    /// and a dot), before it is validated.
    pub fn looks_like(s: &str) -> bool {
        let b = s.trim().as_bytes();
        b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1].is_ascii_alphabetic() && b[2] == b'.'
    }
}

impl fmt::Display for Bsuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Bsuid {
    type Err = BsuidError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for Bsuid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bsuid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::new(&s).map_err(serde::de::Error::custom)
    }
}

/// One customer's identity as a notification gives it: at least one of the phone number, the
/// BSUID and the parent BSUID, and the username when they have one. The one identity type of
/// inbound media, statuses and sends.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Customer {
    /// The phone number (WhatsApp id), when the notification gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The business-scoped user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Bsuid>,
    /// The enterprise-wide parent BSUID, where the business enabled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<Bsuid>,
    /// The username, when the customer has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

impl Customer {
    /// A customer known by these ids; `None` when none of the phone, the BSUID and the parent
    /// BSUID is given (a username alone identifies nobody).
    pub fn new(
        phone: Option<String>,
        user_id: Option<Bsuid>,
        parent_user_id: Option<Bsuid>,
        username: Option<String>,
    ) -> Option<Self> {
        let phone = phone.filter(|p| !p.is_empty());
        if phone.is_none() && user_id.is_none() && parent_user_id.is_none() {
            return None;
        }
        Some(Self {
            phone,
            user_id,
            parent_user_id,
            username: username.filter(|u| !u.is_empty()),
        })
    }

    /// How to address this customer in a send: the phone when known (Graph: `to` wins), else
    /// the BSUID, else the parent BSUID.
    pub fn recipient(&self) -> Recipient {
        match (&self.phone, &self.user_id, &self.parent_user_id) {
            (Some(p), _, _) => Recipient::Phone(p.clone()),
            (None, Some(u), _) => Recipient::User(u.clone()),
            (None, None, Some(p)) => Recipient::User(p.clone()),
            // `new` guarantees one id.
            (None, None, None) => Recipient::Phone(String::new()),
        }
    }
}

/// Whom a message goes to: a phone number (`to`, digits) or a BSUID / parent BSUID
/// (`recipient`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A phone number, digits only, country code first.
    Phone(String),
    /// A BSUID or a parent BSUID.
    User(Bsuid),
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::Phone(p) => f.write_str(p),
            Recipient::User(u) => u.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsuids_are_validated_as_meta_documents_them() {
        for ok in [
            "US.13491208655302741918",
            "US.ENT.11815799212886844830",
            "BR.abcDEF123",
            &format!("DE.{}", "a".repeat(128)),
        ] {
            assert!(Bsuid::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "US.",
            "us.123",
            "USA.123",
            "US-123",
            "US.ENT.",
            "US.12 34",
            "US.12.34",
            &format!("DE.{}", "a".repeat(129)),
            "15551234567",
        ] {
            assert!(Bsuid::new(bad).is_err(), "{bad}");
        }
        assert!(Bsuid::new("US.ENT.1").unwrap().is_parent());
        assert!(!Bsuid::new("US.1").unwrap().is_parent());
    }

    #[test]
    fn a_customer_needs_an_id_and_is_addressed_by_phone_first() {
        assert_eq!(Customer::new(None, None, None, Some("pablo".into())), None);
        let u = Bsuid::new("US.1").unwrap();
        let c = Customer::new(None, Some(u.clone()), None, None).unwrap();
        assert_eq!(c.recipient(), Recipient::User(u.clone()));
        let c = Customer::new(Some("1555".into()), Some(u), None, None).unwrap();
        assert_eq!(c.recipient(), Recipient::Phone("1555".into()));
    }
}
