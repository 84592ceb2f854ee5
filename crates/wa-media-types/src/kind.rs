//! Media kinds and the limits table of the Cloud API: allowed MIME types and maximum sizes.
//!
//! **Units.** The reference gives sizes in "MB" and "KB". This crate reads them as binary units:
//! 1 KB = 1,024 bytes and 1 MB = 1,048,576 bytes ([`KB`], [`MB`]). Every limit in the workspace —
//! the client's pre-upload validation and the emulator's enforcement — comes from the constants
//! here, so the two can never disagree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::MediaType;

/// One kilobyte as used in the limits table: 1,024 bytes.
pub const KB: u64 = 1024;
/// One megabyte as used in the limits table: 1,048,576 bytes.
pub const MB: u64 = 1024 * KB;

/// Largest image (`image/jpeg`, `image/png`): 5 MB.
pub const IMAGE_MAX_BYTES: u64 = 5 * MB;
/// Largest document: 100 MB.
pub const DOCUMENT_MAX_BYTES: u64 = 100 * MB;
/// Largest audio file: 16 MB.
pub const AUDIO_MAX_BYTES: u64 = 16 * MB;
/// Largest video: 16 MB.
pub const VIDEO_MAX_BYTES: u64 = 16 * MB;
/// Largest voice note: 16 MB.
pub const VOICE_MAX_BYTES: u64 = 16 * MB;
/// Largest static sticker: 100 KB.
pub const STICKER_STATIC_MAX_BYTES: u64 = 100 * KB;
/// Largest animated sticker: 500 KB.
pub const STICKER_ANIMATED_MAX_BYTES: u64 = 500 * KB;
/// Largest media of any kind (the document limit): no upload or download may exceed it.
pub const MAX_MEDIA_BYTES: u64 = DOCUMENT_MAX_BYTES;

/// What a media file is to WhatsApp; decides which MIME types and sizes are allowed.
///
/// ```
/// use wa_media_types::{MediaKind, MediaType, MB};
/// let png: MediaType = "image/png".parse().unwrap();
/// assert_eq!(MediaKind::infer(&png), Some(MediaKind::Image));
/// assert!(MediaKind::Image.allows(&png));
/// assert_eq!(MediaKind::Image.max_bytes(false), 5 * MB);
/// assert_eq!("voice".parse::<MediaKind>().unwrap(), MediaKind::Voice);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MediaKind {
    /// `image/jpeg`, `image/png`; 5 MB.
    Image,
    /// PDF, Microsoft Office (`application/vnd.ms-*`, `application/vnd.openxmlformats-*`), plain text; 100 MB.
    Document,
    /// `audio/aac`, `audio/mp4`, `audio/mpeg`, `audio/amr`, `audio/ogg` (Opus only); 16 MB.
    Audio,
    /// `video/mp4`, `video/3gp` (also spelled `video/3gpp`); 16 MB.
    Video,
    /// `image/webp`; 100 KB static, 500 KB animated.
    Sticker,
    /// `audio/ogg; codecs=opus`; 16 MB.
    Voice,
}

/// Why a string is not a media kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown media kind {0:?}: expected image, document, audio, video, sticker or voice")]
pub struct UnknownKind(String);

impl MediaKind {
    /// Every kind, in the reference's order.
    pub const ALL: [MediaKind; 6] = [
        MediaKind::Image,
        MediaKind::Document,
        MediaKind::Audio,
        MediaKind::Video,
        MediaKind::Sticker,
        MediaKind::Voice,
    ];

    /// The lowercase name used by the API and the CLI (`image`, `voice`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Document => "document",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Sticker => "sticker",
            MediaKind::Voice => "voice",
        }
    }

    /// The largest allowed size in bytes. `animated` matters only for stickers.
    pub const fn max_bytes(self, animated: bool) -> u64 {
        match self {
            MediaKind::Image => IMAGE_MAX_BYTES,
            MediaKind::Document => DOCUMENT_MAX_BYTES,
            MediaKind::Audio => AUDIO_MAX_BYTES,
            MediaKind::Video => VIDEO_MAX_BYTES,
            MediaKind::Voice => VOICE_MAX_BYTES,
            MediaKind::Sticker if animated => STICKER_ANIMATED_MAX_BYTES,
            MediaKind::Sticker => STICKER_STATIC_MAX_BYTES,
        }
    }

    /// The MIME types of this kind as the reference lists them (patterns end in `*`).
    pub const fn mime_types(self) -> &'static [&'static str] {
        match self {
            MediaKind::Image => &["image/jpeg", "image/png"],
            MediaKind::Document => &[
                "application/pdf",
                "application/vnd.ms-*",
                "application/vnd.openxmlformats-*",
                "text/plain",
            ],
            MediaKind::Audio => &[
                "audio/aac",
                "audio/mp4",
                "audio/mpeg",
                "audio/amr",
                "audio/ogg; codecs=opus",
            ],
            MediaKind::Video => &["video/mp4", "video/3gp", "video/3gpp"],
            MediaKind::Sticker => &["image/webp"],
            MediaKind::Voice => &["audio/ogg; codecs=opus"],
        }
    }

    /// Whether `mime` is allowed for this kind, judged by its essence (and, for `audio/ogg`,
    /// only when the codec is Opus or not stated: the file itself decides then).
    pub fn allows(self, mime: &MediaType) -> bool {
        let e = mime.essence();
        match self {
            MediaKind::Image => matches!(e, "image/jpeg" | "image/png"),
            MediaKind::Document => {
                e == "application/pdf"
                    || e == "text/plain"
                    || e.starts_with("application/vnd.ms-")
                    || e.starts_with("application/vnd.openxmlformats-")
            }
            MediaKind::Audio => {
                matches!(e, "audio/aac" | "audio/mp4" | "audio/mpeg" | "audio/amr")
                    || (e == "audio/ogg" && (mime.param("codecs").is_none() || mime.is_opus()))
            }
            MediaKind::Video => matches!(e, "video/mp4" | "video/3gp" | "video/3gpp"),
            MediaKind::Sticker => e == "image/webp",
            MediaKind::Voice => {
                e == "audio/ogg" && (mime.param("codecs").is_none() || mime.is_opus())
            }
        }
    }

    /// The kind a MIME type belongs to, when it belongs to one. `audio/ogg` is [`MediaKind::Audio`]
    /// (ask for [`MediaKind::Voice`] explicitly), `image/webp` is [`MediaKind::Sticker`].
    pub fn infer(mime: &MediaType) -> Option<MediaKind> {
        [
            MediaKind::Image,
            MediaKind::Sticker,
            MediaKind::Audio,
            MediaKind::Video,
            MediaKind::Document,
        ]
        .into_iter()
        .find(|k| k.allows(mime))
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MediaKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MediaKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownKind(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> MediaType {
        s.parse().unwrap()
    }

    #[test]
    fn limits_table() {
        assert_eq!(MediaKind::Sticker.max_bytes(false), 102_400);
        assert_eq!(MediaKind::Sticker.max_bytes(true), 512_000);
        assert_eq!(MediaKind::Document.max_bytes(false), 104_857_600);
        assert_eq!(MAX_MEDIA_BYTES, 104_857_600);
    }

    #[test]
    fn mime_membership() {
        assert!(MediaKind::Voice.allows(&m("audio/ogg; codecs=opus")));
        assert!(!MediaKind::Voice.allows(&m("audio/ogg; codecs=vorbis")));
        assert!(!MediaKind::Audio.allows(&m("audio/opus")));
        assert!(MediaKind::Video.allows(&m("video/3gpp")));
        assert!(MediaKind::Document.allows(&m(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        )));
        assert!(!MediaKind::Image.allows(&m("image/webp")));
        assert_eq!(MediaKind::infer(&m("image/webp")), Some(MediaKind::Sticker));
        assert_eq!(MediaKind::infer(&m("audio/webm")), None);
        assert_eq!(MediaKind::infer(&m("application/octet-stream")), None);
    }
}

#[cfg(test)]
mod error_messages {
    use super::*;

    #[test]
    fn the_parse_error_message_is_pinned() {
        let e = "gif".parse::<MediaKind>().unwrap_err();
        insta::assert_snapshot!(e.to_string(), @r#"unknown media kind "gif": expected image, document, audio, video, sticker or voice"#);
    }
}
