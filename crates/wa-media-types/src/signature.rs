//! Webhook signatures: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, keyed
//! with the app secret, verified in constant time.
//!
//! Verify over the raw bytes as received, before parsing. Meta has been reported to sign
//! payloads holding non-ASCII text in their `\uXXXX`-escaped form (lowercase hex, as
//! `json_encode` writes it); [`verify_signature`] tries that form too before refusing.
//!
//! ```
//! use wa_media_types::signature::{signature_header, verify_signature, SignatureError};
//! let secret = b"app-secret";
//! let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
//! let header = signature_header(secret, body);
//! assert!(header.starts_with("sha256="));
//! assert_eq!(verify_signature(secret, body, &header), Ok(()));
//! assert_eq!(verify_signature(b"other", body, &header), Err(SignatureError::Mismatch));
//! ```

use std::fmt::Write as _;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The name of the header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// Why a webhook signature was refused. None of the variants says anything about the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The header does not start with `sha256=`.
    #[error(
        "the X-Hub-Signature-256 header must start with \"sha256=\": is this the right header?"
    )]
    MissingPrefix,
    /// What follows `sha256=` is not 64 hexadecimal characters.
    #[error("the X-Hub-Signature-256 header must be sha256= followed by 64 hex characters")]
    BadHex,
    /// The signature does not match the body: wrong app secret, or the body was changed
    /// (re-serialised, re-encoded) before verification.
    #[error("webhook signature mismatch: check the app secret and verify the raw request body, not a re-serialised one")]
    Mismatch,
}

fn mac(app_secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(app_secret).expect("HMAC accepts any key length")
}

/// The header value Meta would send for `raw_body`: `sha256=` and the lowercase hex
/// HMAC-SHA256 of the body keyed with `app_secret`. Useful for tests and emulators.
pub fn signature_header(app_secret: &[u8], raw_body: &[u8]) -> String {
    let mut m = mac(app_secret);
    m.update(raw_body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// Verifies an `X-Hub-Signature-256` header against the raw request body in constant time.
///
/// The header's surrounding whitespace and the case of `sha256=` and of the hex digits do not
/// matter. When the raw body does not match and holds non-ASCII text, its `\uXXXX`-escaped form
/// ([`escape_non_ascii`]) is tried before answering [`SignatureError::Mismatch`].
pub fn verify_signature(
    app_secret: &[u8],
    raw_body: &[u8],
    header: &str,
) -> Result<(), SignatureError> {
    let header = header.trim();
    let hex_part = match header.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("sha256=") => &header[7..],
        _ => return Err(SignatureError::MissingPrefix),
    };
    let mut tag = [0u8; 32];
    if hex_part.len() != 64 || hex::decode_to_slice(hex_part, &mut tag).is_err() {
        return Err(SignatureError::BadHex);
    }
    let mut m = mac(app_secret);
    m.update(raw_body);
    if m.verify_slice(&tag).is_ok() {
        return Ok(());
    }
    if let Some(escaped) = escape_non_ascii(raw_body) {
        let mut m = mac(app_secret);
        m.update(&escaped);
        if m.verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// The body with every non-ASCII character written as a JSON `\uXXXX` escape (lowercase hex;
/// characters beyond U+FFFF as a surrogate pair), or `None` when the body is all ASCII or not
/// UTF-8.
///
/// ```
/// use wa_media_types::signature::escape_non_ascii;
/// assert_eq!(escape_non_ascii("café 😀".as_bytes()).unwrap(), br"caf\u00e9 \ud83d\ude00");
/// assert_eq!(escape_non_ascii(b"plain"), None);
/// ```
pub fn escape_non_ascii(raw_body: &[u8]) -> Option<Vec<u8>> {
    if raw_body.is_ascii() {
        return None;
    }
    let text = std::str::from_utf8(raw_body).ok()?;
    let mut out = String::with_capacity(raw_body.len() + 32);
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms() {
        let h = signature_header(b"s", b"body");
        assert_eq!(
            verify_signature(b"s", b"body", &format!("  {}\n", h.to_uppercase())),
            Ok(())
        );
        assert_eq!(
            verify_signature(b"s", b"body", &h[7..]),
            Err(SignatureError::MissingPrefix)
        );
        assert_eq!(
            verify_signature(b"s", b"body", "sha256=zz"),
            Err(SignatureError::BadHex)
        );
        assert_eq!(
            verify_signature(b"s", b"body", "sha1=ab"),
            Err(SignatureError::MissingPrefix)
        );
        assert_eq!(
            verify_signature(b"s", b"body", "sha256=é"),
            Err(SignatureError::BadHex)
        );
        assert_eq!(
            verify_signature(b"s", b"bodx", &h),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn escaped_form_is_accepted() {
        let raw = "{\"text\":\"olá\"}".as_bytes();
        let escaped = escape_non_ascii(raw).unwrap();
        assert_eq!(escaped, br#"{"text":"ol\u00e1"}"#);
        let h = signature_header(b"k", &escaped);
        assert_eq!(verify_signature(b"k", raw, &h), Ok(()));
        assert_eq!(
            verify_signature(b"x", raw, &h),
            Err(SignatureError::Mismatch)
        );
    }
}

#[cfg(test)]
mod error_messages {
    use super::*;

    #[test]
    fn every_signature_error_message_is_pinned() {
        insta::assert_snapshot!(SignatureError::MissingPrefix.to_string(), @r#"the X-Hub-Signature-256 header must start with "sha256=": is this the right header?"#);
        insta::assert_snapshot!(SignatureError::BadHex.to_string(), @"the X-Hub-Signature-256 header must be sha256= followed by 64 hex characters");
        insta::assert_snapshot!(SignatureError::Mismatch.to_string(), @"webhook signature mismatch: check the app secret and verify the raw request body, not a re-serialised one");
    }
}
