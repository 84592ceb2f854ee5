//! SHA-256 digests as the API spells them (hex or base64), compared by bytes.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// A SHA-256 digest.
///
/// The Cloud API sends `sha256` as lowercase hex in retrieve responses, while webhook payloads
/// and some proxies use base64. Both parse to the same 32 bytes, and equality compares bytes, so
/// a digest from either source can be checked against what was downloaded.
///
/// ```
/// use wa_media_types::Sha256Digest;
/// let hex: Sha256Digest = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855".parse().unwrap();
/// let b64: Sha256Digest = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".parse().unwrap();
/// assert_eq!(hex, b64);
/// assert_eq!(hex, Sha256Digest::of(b""));
/// assert_eq!(hex.to_string(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
/// ```
#[derive(Clone, Copy, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

/// Why a string is not a SHA-256 digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SHA-256 digest: expected 64 hex characters or 44 base64 characters, got {len} characters")]
pub struct DigestParseError {
    len: usize,
}

impl Sha256Digest {
    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest of `data`, computed in memory.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, as retrieve responses spell it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Standard padded base64, as webhook payloads spell it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Parses hex (64 characters, any case) or base64 (44 characters standard padded, 43 without
    /// padding, URL-safe alphabet accepted too).
    pub fn parse(s: &str) -> Result<Self, DigestParseError> {
        let s = s.trim();
        let err = DigestParseError {
            len: s.chars().count(),
        };
        let mut out = [0u8; 32];
        if s.len() == 64 {
            hex::decode_to_slice(s, &mut out).map_err(|_| err)?;
            return Ok(Self(out));
        }
        if s.len() == 44 || s.len() == 43 {
            use base64::engine::general_purpose::{
                STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
            };
            let engines: [&base64::engine::GeneralPurpose; 2] = if s.len() == 44 {
                [&STANDARD, &URL_SAFE]
            } else {
                [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD]
            };
            for e in engines {
                if let Ok(v) = e.decode(s) {
                    if let Ok(arr) = <[u8; 32]>::try_from(v.as_slice()) {
                        return Ok(Self(arr));
                    }
                }
            }
        }
        Err(err)
    }
}

impl PartialEq for Sha256Digest {
    /// Constant-time comparison of the 32 bytes.
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for Sha256Digest {}

impl std::hash::Hash for Sha256Digest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Sha256Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<[u8; 32]> for Sha256Digest {
    fn from(b: [u8; 32]) -> Self {
        Self(b)
    }
}

impl Serialize for Sha256Digest {
    /// Serializes as lowercase hex, the form retrieve responses use.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental SHA-256 hasher that also counts bytes: feed it chunks as they arrive.
///
/// ```
/// use wa_media_types::{Sha256Digest, StreamingDigest};
/// let mut h = StreamingDigest::new();
/// h.update(b"hello ");
/// h.update(b"world");
/// assert_eq!(h.len(), 11);
/// assert_eq!(h.finish(), Sha256Digest::of(b"hello world"));
/// ```
#[derive(Clone, Default)]
pub struct StreamingDigest {
    hasher: Sha256,
    len: u64,
}

impl fmt::Debug for StreamingDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingDigest")
            .field("len", &self.len)
            .finish()
    }
}

impl StreamingDigest {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no byte was fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Sha256Digest {
        Sha256Digest(self.hasher.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64_compare_equal() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(d.to_hex().parse::<Sha256Digest>().unwrap(), d);
        assert_eq!(
            d.to_hex().to_uppercase().parse::<Sha256Digest>().unwrap(),
            d
        );
        assert_eq!(d.to_base64().parse::<Sha256Digest>().unwrap(), d);
        assert_eq!(
            d.to_base64()
                .trim_end_matches('=')
                .parse::<Sha256Digest>()
                .unwrap(),
            d
        );
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "abc",
            &"g".repeat(64),
            &"*".repeat(44),
            &"A".repeat(100),
        ] {
            assert!(bad.parse::<Sha256Digest>().is_err(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod error_messages {
    use super::*;

    #[test]
    fn the_parse_error_message_is_pinned() {
        let e = "abc".parse::<Sha256Digest>().unwrap_err();
        insta::assert_snapshot!(e.to_string(), @"not a SHA-256 digest: expected 64 hex characters or 44 base64 characters, got 3 characters");
    }
}
