//! Validated identifiers: media ids, phone number ids and Graph API versions.
//!
//! Every identifier here ends up inside a URL path, so each constructor refuses anything that
//! could change the path (`/ ? # %`, whitespace, control characters). An invalid id cannot exist.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest phone number id accepted, in characters.
pub const MAX_ID_LEN: usize = 128;

/// Longest media id accepted, in digits. Graph object ids are decimal 64-bit-sized numbers
/// (15–20 digits today); the bound leaves room for growth while refusing anything absurd.
pub const MAX_MEDIA_ID_LEN: usize = 32;

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The string was empty.
    #[error("{what} is empty")]
    Empty {
        /// Which identifier was being parsed.
        what: &'static str,
    },
    /// The string was longer than allowed ([`MAX_ID_LEN`], [`MAX_MEDIA_ID_LEN`]).
    #[error("{what} is {len} characters long; at most {max} are allowed")]
    TooLong {
        /// Which identifier was being parsed.
        what: &'static str,
        /// Its length in characters.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// The string held a character that could change a URL path.
    #[error("{what} contains the forbidden character {ch:?} (no '/', '?', '#', '%', whitespace or control characters)")]
    ForbiddenChar {
        /// Which identifier was being parsed.
        what: &'static str,
        /// The offending character.
        ch: char,
    },
    /// The id was not all ASCII digits (WhatsApp media and phone number ids are numeric).
    #[error("{what} must be ASCII digits only (WhatsApp ids are numeric), found {ch:?}")]
    NotNumeric {
        /// Which identifier was being parsed.
        what: &'static str,
        /// The offending character.
        ch: char,
    },
    /// The API version was not of the `v21.0` form.
    #[error("API version {0:?} is not of the form vMAJOR.MINOR (for example v21.0)")]
    BadVersion(String),
}

fn check_path_safe(what: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { what });
    }
    let len = s.chars().count();
    if len > MAX_ID_LEN {
        return Err(IdError::TooLong {
            what,
            len,
            max: MAX_ID_LEN,
        });
    }
    if let Some(ch) = s
        .chars()
        .find(|c| matches!(c, '/' | '?' | '#' | '%' | '\\') || c.is_whitespace() || c.is_control())
    {
        return Err(IdError::ForbiddenChar { what, ch });
    }
    if s == "." || s == ".." {
        return Err(IdError::ForbiddenChar { what, ch: '.' });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $what:literal, $check:path) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `s`.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                $check($what, &s)?;
                Ok(Self(s))
            }

            /// The id as a string slice, safe to put into a URL path segment.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Ids are strings in the API, but accept a JSON number too (proxies emit both).
                let v = crate::serde_util::StringOrNumber::deserialize(d)?;
                Self::new(v.0).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// An opaque media id as returned by upload or received in a webhook.
    ///
    /// WhatsApp media ids are Graph object ids: 1 to [`MAX_MEDIA_ID_LEN`] ASCII digits, and
    /// nothing else is accepted. A typo such as `me` can therefore never address another Graph
    /// object (`/me`) with the access token.
    ///
    /// ```
    /// use wa_media_types::MediaId;
    /// let id: MediaId = "1037543291543636".parse().unwrap();
    /// assert_eq!(id.as_str(), "1037543291543636");
    /// assert!(MediaId::new("../me").is_err());
    /// let e = MediaId::new("me").unwrap_err();
    /// assert!(e.to_string().contains("digits"), "{e}");
    /// ```
    MediaId,
    "media id",
    check_media_id
);

fn check_media_id(what: &'static str, s: &str) -> Result<(), IdError> {
    check_path_safe(what, s)?;
    if let Some(ch) = s.chars().find(|c| !c.is_ascii_digit()) {
        return Err(IdError::NotNumeric { what, ch });
    }
    let len = s.len();
    if len > MAX_MEDIA_ID_LEN {
        return Err(IdError::TooLong {
            what,
            len,
            max: MAX_MEDIA_ID_LEN,
        });
    }
    Ok(())
}

fn check_phone_number_id(what: &'static str, s: &str) -> Result<(), IdError> {
    check_path_safe(what, s)?;
    if let Some(ch) = s.chars().find(|c| !c.is_ascii_digit()) {
        return Err(IdError::NotNumeric { what, ch });
    }
    Ok(())
}

string_id!(
    /// The business phone number id (not the phone number itself) that uploads belong to.
    ///
    /// Always numeric in the Cloud API, so only ASCII digits are accepted.
    ///
    /// ```
    /// use wa_media_types::PhoneNumberId;
    /// assert!(PhoneNumberId::new("106540352242922").is_ok());
    /// assert!(PhoneNumberId::new("+15550001234").is_err());
    /// ```
    PhoneNumberId,
    "phone number id",
    check_phone_number_id
);

/// A Graph API version such as `v21.0`, the first path segment of every Graph request.
///
/// ```
/// use wa_media_types::ApiVersion;
/// let v: ApiVersion = "v21.0".parse().unwrap();
/// assert_eq!((v.major(), v.minor()), (21, 0));
/// assert_eq!(v.to_string(), "v21.0");
/// assert!("21.0".parse::<ApiVersion>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ApiVersion {
    major: u16,
    minor: u16,
}

/// The Graph API version this toolkit is written and tested against, as it appears in a path
/// (`/v27.0/…`, the latest, released 4 November 2026): the one place it is written. [`ApiVersion::DEFAULT`] is this value parsed (at
/// compile time), and the client's default, the emulator's fallback `facebook-api-version` and
/// the CLI's `--api-version` default all come from it.
///
/// ```
/// use wa_media_types::{ApiVersion, DEFAULT_API_VERSION};
/// assert_eq!(ApiVersion::DEFAULT.to_string(), DEFAULT_API_VERSION);
/// ```
pub const DEFAULT_API_VERSION: &str = "v27.0";

impl ApiVersion {
    /// The version this toolkit is written and tested against: [`DEFAULT_API_VERSION`].
    pub const DEFAULT: ApiVersion = ApiVersion::parse_const(DEFAULT_API_VERSION);

    /// `vMAJOR.MINOR` parsed in a constant; a malformed literal fails the build.
    const fn parse_const(s: &str) -> ApiVersion {
        let b = s.as_bytes();
        assert!(
            b.len() >= 4 && b[0] == b'v',
            "an API version is vMAJOR.MINOR"
        );
        let mut i = 1;
        let mut numbers = [0u16; 2];
        let mut n = 0;
        while n < 2 {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                numbers[n] = numbers[n] * 10 + (b[i] - b'0') as u16;
                i += 1;
            }
            assert!(i > start, "an API version is vMAJOR.MINOR");
            if n == 0 {
                assert!(
                    i < b.len() && b[i] == b'.',
                    "an API version is vMAJOR.MINOR"
                );
                i += 1;
            }
            n += 1;
        }
        assert!(i == b.len(), "an API version is vMAJOR.MINOR");
        ApiVersion {
            major: numbers[0],
            minor: numbers[1],
        }
    }

    /// A version from its two numbers.
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// The major number (`21` in `v21.0`).
    pub const fn major(&self) -> u16 {
        self.major
    }

    /// The minor number (`0` in `v21.0`).
    pub const fn minor(&self) -> u16 {
        self.minor
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

impl FromStr for ApiVersion {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IdError::BadVersion(s.chars().take(32).collect());
        let rest = s.strip_prefix('v').ok_or_else(bad)?;
        let (maj, min) = rest.split_once('.').ok_or_else(bad)?;
        let num = |p: &str| -> Result<u16, IdError> {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        Ok(Self {
            major: num(maj)?,
            minor: num(min)?,
        })
    }
}

impl Serialize for ApiVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_id_refuses_path_changing_input() {
        for bad in [
            "", "a/b", "a?b", "a#b", "a%2F", "a b", "a\nb", "..", ".", "a\\b", "\u{7f}", "me",
            "12a", "-1", "+1", "1.5", "١٢٣", " 1",
        ] {
            assert!(MediaId::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(matches!(
            MediaId::new("me"),
            Err(IdError::NotNumeric { ch: 'm', .. })
        ));
        assert!(MediaId::new("9".repeat(MAX_MEDIA_ID_LEN)).is_ok());
        assert!(matches!(
            MediaId::new("9".repeat(MAX_MEDIA_ID_LEN + 1)),
            Err(IdError::TooLong {
                len: 33,
                max: MAX_MEDIA_ID_LEN,
                ..
            })
        ));
        assert!(PhoneNumberId::new("1".repeat(128)).is_ok());
        assert!(matches!(
            PhoneNumberId::new("1".repeat(129)),
            Err(IdError::TooLong {
                len: 129,
                max: 128,
                ..
            })
        ));
    }

    #[test]
    fn ids_deserialize_from_string_or_number() {
        let a: MediaId = serde_json::from_str("\"123\"").unwrap();
        let b: MediaId = serde_json::from_str("123").unwrap();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<MediaId>("\"a/b\"").is_err());
    }

    #[test]
    fn api_version_parses_only_the_v_form() {
        assert_eq!(
            "v21.0".parse::<ApiVersion>().unwrap(),
            ApiVersion::new(21, 0)
        );
        for bad in [
            "21.0", "v21", "v.0", "v21.", "v21.0.1", "V21.0", "v-1.0", "v99999.0",
        ] {
            assert!(bad.parse::<ApiVersion>().is_err(), "{bad:?} accepted");
        }
    }
}

#[cfg(test)]
mod error_messages {
    use super::*;

    #[test]
    fn every_id_error_message_is_pinned() {
        let what = "media id";
        insta::assert_snapshot!(IdError::Empty { what }.to_string(), @"media id is empty");
        insta::assert_snapshot!(IdError::TooLong { what, len: 40, max: 32 }.to_string(), @"media id is 40 characters long; at most 32 are allowed");
        insta::assert_snapshot!(IdError::ForbiddenChar { what, ch: '/' }.to_string(), @"media id contains the forbidden character '/' (no '/', '?', '#', '%', whitespace or control characters)");
        insta::assert_snapshot!(IdError::NotNumeric { what, ch: 'x' }.to_string(), @"media id must be ASCII digits only (WhatsApp ids are numeric), found 'x'");
        insta::assert_snapshot!(IdError::BadVersion("21".into()).to_string(), @r#"API version "21" is not of the form vMAJOR.MINOR (for example v21.0)"#);
    }
}
