//! [Standard Webhooks](https://www.standardwebhooks.com/) signatures, as a relay signs the
//! deliveries it hands on: headers `webhook-id` (the same on every retry), `webhook-timestamp`
//! (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed
//! with the bytes of a `whsec_<base64>` secret. Several space-separated signatures may be sent
//! (key rotation); a receiver accepts the delivery when one of them matches.
//!
//! ```
//! use wa_media_types::standard_webhooks::SigningSecret;
//! let secret: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
//! let body = br#"{"test": 2432232314}"#;
//! let sig = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
//! assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
//! assert!(secret.verify("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, &sig));
//! ```

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header carrying the delivery's id.
pub const ID_HEADER: &str = "webhook-id";
/// The header carrying the send time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The header carrying the signatures.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The prefix of a signing secret.
const PREFIX: &str = "whsec_";

/// A Standard Webhooks signing secret (`whsec_` and base64 key bytes). Its `Debug` never shows
/// the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

/// Why a signing secret was refused. Nothing of the secret is in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// It does not start with `whsec_`.
    #[error("a Standard Webhooks secret starts with \"whsec_\" followed by base64 key bytes")]
    Prefix,
    /// What follows `whsec_` is not base64, or is shorter than 24 bytes (192 bits; the
    /// specification asks for 24 to 64).
    #[error("the part after \"whsec_\" must be standard base64 of 24 to 64 random bytes")]
    Key,
}

impl std::str::FromStr for SigningSecret {
    type Err = SecretError;

    fn from_str(s: &str) -> Result<Self, SecretError> {
        let b64 = s.trim().strip_prefix(PREFIX).ok_or(SecretError::Prefix)?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SecretError::Key)?;
        if !(24..=64).contains(&key.len()) {
            return Err(SecretError::Key);
        }
        Ok(Self { key })
    }
}

impl SigningSecret {
    fn mac(&self, id: &str, timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC accepts any key length");
        m.update(id.as_bytes());
        m.update(b".");
        m.update(timestamp.to_string().as_bytes());
        m.update(b".");
        m.update(body);
        m
    }

    /// The `webhook-signature` value for one delivery: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag)
        )
    }

    /// Whether one of the space-separated `v1,` signatures in `header` matches (in constant
    /// time). The timestamp's freshness is the receiver's own check.
    pub fn verify(&self, id: &str, timestamp: u64, body: &[u8], header: &str) -> bool {
        header.split(' ').any(|sig| {
            let Some(b64) = sig.strip_prefix("v1,") else {
                return false;
            };
            let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                return false;
            };
            self.mac(id, timestamp, body).verify_slice(&tag).is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_checked_and_never_shown() {
        assert_eq!("MfKQ".parse::<SigningSecret>(), Err(SecretError::Prefix));
        assert_eq!("whsec_!!!".parse::<SigningSecret>(), Err(SecretError::Key));
        assert_eq!(
            "whsec_c2hvcnQ=".parse::<SigningSecret>(),
            Err(SecretError::Key)
        );
        let s: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        assert_eq!(format!("{s:?}"), "SigningSecret(***)");
    }

    #[test]
    fn rotation_and_tampering() {
        let s: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        let sig = s.sign("msg_1", 10, b"{}");
        assert!(s.verify("msg_1", 10, b"{}", &format!("v1,AAAA {sig}")));
        assert!(!s.verify("msg_1", 11, b"{}", &sig));
        assert!(!s.verify("msg_2", 10, b"{}", &sig));
        assert!(!s.verify("msg_1", 10, b"{ }", &sig));
        assert!(!s.verify("msg_1", 10, b"{}", &sig.replace("v1,", "v2,")));
    }
}
