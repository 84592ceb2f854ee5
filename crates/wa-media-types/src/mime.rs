//! MIME types with parameters, parsed properly: case-insensitive type and parameter names,
//! quoted values, and parameters kept (so `audio/ogg; codecs=opus` survives a round trip).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A parsed MIME type: `type/subtype` plus parameters in their original order.
///
/// ```
/// use wa_media_types::MediaType;
/// let m: MediaType = "Audio/OGG; Codecs=\"opus\"".parse().unwrap();
/// assert_eq!(m.essence(), "audio/ogg");
/// assert_eq!(m.param("codecs"), Some("opus"));
/// assert_eq!(m.to_string(), "audio/ogg; codecs=opus");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MediaType {
    essence: String,
    slash: usize,
    params: Vec<(String, String)>,
}

/// Why a string is not a MIME type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MIME type of the form type/subtype[; name=value]")]
pub struct MimeError(String);

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-*'".contains(&b))
}

impl MediaType {
    /// Parses `type/subtype` with optional `; name=value` parameters.
    pub fn parse(s: &str) -> Result<Self, MimeError> {
        let err = || MimeError(s.chars().take(80).collect());
        let (essence, mut rest) = s.split_once(';').unwrap_or((s, ""));
        let essence = essence.trim().to_ascii_lowercase();
        let slash = essence.find('/').ok_or_else(err)?;
        if !is_token(&essence[..slash]) || !is_token(&essence[slash + 1..]) {
            return Err(err());
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c == ';' || c.is_ascii_whitespace());
            if rest.is_empty() {
                break;
            }
            let (name, after) = rest.split_once('=').ok_or_else(err)?;
            let name = name.trim().to_ascii_lowercase();
            if !is_token(&name) {
                return Err(err());
            }
            let after = after.trim_start();
            let value = if let Some(quoted) = after.strip_prefix('"') {
                // A quoted string: backslash escapes the next character; `;` is literal inside.
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((i, '"')) => break i,
                        Some((_, '\\')) => value.push(chars.next().ok_or_else(err)?.1),
                        Some((_, c)) => value.push(c),
                        None => return Err(err()),
                    }
                };
                rest = &quoted[end + 1..];
                let trailing = rest.split(';').next().unwrap_or("");
                if !trailing.trim().is_empty() {
                    return Err(err());
                }
                value
            } else {
                let (v, r) = after.split_once(';').unwrap_or((after, ""));
                rest = r;
                v.trim().to_owned()
            };
            if value.chars().any(char::is_control) {
                return Err(err());
            }
            params.push((name, value));
        }
        Ok(Self {
            essence,
            slash,
            params,
        })
    }

    /// `type/subtype`, lowercase.
    pub fn essence(&self) -> &str {
        &self.essence
    }

    /// The top-level type (`audio` in `audio/ogg`), lowercase.
    pub fn top_level(&self) -> &str {
        &self.essence[..self.slash]
    }

    /// The subtype (`ogg` in `audio/ogg`), lowercase.
    pub fn subtype(&self) -> &str {
        &self.essence[self.slash + 1..]
    }

    /// A parameter's value by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters, names lowercase, in order.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Whether `codecs` names Opus (`codecs=opus`, case-insensitive).
    pub fn is_opus(&self) -> bool {
        self.param("codecs")
            .is_some_and(|c| c.split(',').any(|c| c.trim().eq_ignore_ascii_case("opus")))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.essence)?;
        for (n, v) in &self.params {
            if is_token(v) {
                write!(f, "; {n}={v}")?;
            } else {
                write!(
                    f,
                    "; {n}=\"{}\"",
                    v.replace('\\', "\\\\").replace('"', "\\\"")
                )?;
            }
        }
        Ok(())
    }
}

impl FromStr for MediaType {
    type Err = MimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for MediaType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "image",
            "/png",
            "image/",
            "ima ge/png",
            "image/png; =x",
            "image/png; codecs",
            "image/png; a=\"open",
            "image/png; a=\"x\" y",
        ] {
            assert!(MediaType::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keeps_parameters() {
        let m = MediaType::parse("audio/ogg;codecs=opus").unwrap();
        assert!(m.is_opus());
        assert_eq!(m.top_level(), "audio");
        assert_eq!(m.subtype(), "ogg");
        assert!(!MediaType::parse("audio/ogg").unwrap().is_opus());
    }

    #[test]
    fn quoted_values_round_trip() {
        let m = MediaType::parse(r#"text/plain; name="a;b \"c\""; charset=utf-8"#).unwrap();
        assert_eq!(m.param("name"), Some(r#"a;b "c""#));
        assert_eq!(m.param("charset"), Some("utf-8"));
        assert_eq!(MediaType::parse(&m.to_string()).unwrap(), m);
    }
}

#[cfg(test)]
mod error_messages {
    use super::*;

    #[test]
    fn the_parse_error_message_is_pinned() {
        let e = "nonsense".parse::<MediaType>().unwrap_err();
        insta::assert_snapshot!(e.to_string(), @r#""nonsense" is not a MIME type of the form type/subtype[; name=value]"#);
    }
}
