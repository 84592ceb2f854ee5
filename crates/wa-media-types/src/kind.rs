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

/// The usual file extension of each MIME type WhatsApp accepts (the essence, lowercase), as
/// [`MediaKind::mime_types`] lists them; the `vnd.ms-*` and `vnd.openxmlformats-*` patterns
/// are listed by the Office types Meta documents (and `application/msword`). One table for the whole workspace: the
/// name an upload sends ([`usual_extension`]), the extension check of
/// [`validate_named_upload`](crate::validate_named_upload) ([`mime_for_extension`]) and the
/// names of saved inbound media ([`crate::filename::extension_for`]).
const EXTENSIONS: [(&str, &str); 19] = [
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("application/pdf", "pdf"),
    ("application/msword", "doc"),
    ("application/vnd.ms-excel", "xls"),
    ("application/vnd.ms-powerpoint", "ppt"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "pptx",
    ),
    ("text/plain", "txt"),
    ("audio/aac", "aac"),
    ("audio/mp4", "m4a"),
    ("audio/mpeg", "mp3"),
    ("audio/amr", "amr"),
    ("audio/ogg", "ogg"),
    ("video/mp4", "mp4"),
    ("video/3gp", "3gp"),
    ("video/3gpp", "3gp"),
    ("image/webp", "webp"),
];

/// Other spellings of extensions in [`EXTENSIONS`]: `(extension, MIME essence)`.
const EXTENSION_ALIASES: [(&str, &str); 7] = [
    ("jpeg", "image/jpeg"),
    ("jpe", "image/jpeg"),
    ("opus", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("3gpp", "video/3gpp"),
    ("m4v", "video/mp4"),
    ("text", "text/plain"),
];

/// The usual file extension (without the dot) of a MIME type WhatsApp accepts, judged by its
/// essence: `jpg` for `image/jpeg`, `ogg` for `audio/ogg; codecs=opus`, `m4a` for `audio/mp4`,
/// `docx` for Word documents. `None` for any other type.
///
/// ```
/// use wa_media_types::{usual_extension, MediaType};
/// let voice: MediaType = "audio/ogg; codecs=opus".parse().unwrap();
/// assert_eq!(usual_extension(&voice), Some("ogg"));
/// assert_eq!(usual_extension(&"image/gif".parse().unwrap()), None);
/// ```
pub fn usual_extension(mime: &MediaType) -> Option<&'static str> {
    let essence = mime.essence();
    EXTENSIONS
        .iter()
        .find(|(m, _)| *m == essence)
        .map(|(_, ext)| *ext)
}

/// The MIME type (essence) a file extension names, for the types WhatsApp accepts: the
/// inverse of [`usual_extension`], plus other usual spellings (`jpeg`, `opus`, `3gpp`, …).
/// The extension is given without the dot and compared case-insensitively; `None` when it
/// names no accepted type.
///
/// ```
/// use wa_media_types::mime_for_extension;
/// assert_eq!(mime_for_extension("JPEG"), Some("image/jpeg"));
/// assert_eq!(mime_for_extension("opus"), Some("audio/ogg"));
/// assert_eq!(mime_for_extension("3gp"), Some("video/3gp"));
/// assert_eq!(mime_for_extension("gif"), None);
/// ```
pub fn mime_for_extension(ext: &str) -> Option<&'static str> {
    EXTENSIONS
        .iter()
        .map(|(m, e)| (*e, *m))
        .chain(EXTENSION_ALIASES)
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, m)| m)
}

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

    /// Every accepted MIME type (patterns by the Office types Meta documents) has its usual
    /// extension, and the extension maps back to a type of the same kind.
    #[test]
    fn every_accepted_mime_type_has_its_extension() {
        let expected = [
            ("image/jpeg", "jpg"),
            ("image/png", "png"),
            ("application/pdf", "pdf"),
            ("application/vnd.ms-excel", "xls"),
            ("application/vnd.ms-powerpoint", "ppt"),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "docx",
            ),
            (
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            ),
            (
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "pptx",
            ),
            ("text/plain", "txt"),
            ("audio/aac", "aac"),
            ("audio/mp4", "m4a"),
            ("audio/mpeg", "mp3"),
            ("audio/amr", "amr"),
            ("audio/ogg; codecs=opus", "ogg"),
            ("video/mp4", "mp4"),
            ("video/3gp", "3gp"),
            ("video/3gpp", "3gp"),
            ("image/webp", "webp"),
        ];
        // The table covers every entry of the accepted list (patterns by their examples).
        for kind in MediaKind::ALL {
            for listed in kind.mime_types() {
                let prefix = listed.trim_end_matches('*');
                assert!(
                    expected.iter().any(|(m, _)| m.starts_with(prefix)),
                    "{listed} ({kind}) has no extension test"
                );
            }
        }
        for (mime, ext) in expected {
            let parsed = m(mime);
            assert!(MediaKind::infer(&parsed).is_some(), "{mime} is accepted");
            assert_eq!(usual_extension(&parsed), Some(ext), "{mime}");
            let back = m(mime_for_extension(ext).unwrap());
            assert_eq!(
                MediaKind::infer(&back),
                MediaKind::infer(&parsed),
                "{ext} maps back to the kind of {mime}"
            );
        }
        assert_eq!(usual_extension(&m("application/msword")), Some("doc"));
        assert_eq!(usual_extension(&m("image/gif")), None);
        assert_eq!(usual_extension(&m("application/octet-stream")), None);
        for (ext, mime) in [
            ("JPG", "image/jpeg"),
            ("jpeg", "image/jpeg"),
            ("opus", "audio/ogg"),
            ("Ogg", "audio/ogg"),
            ("3gpp", "video/3gpp"),
            ("m4a", "audio/mp4"),
        ] {
            assert_eq!(mime_for_extension(ext), Some(mime), "{ext}");
        }
        for unknown in ["", "gif", "exe", "tar.gz", ".jpg"] {
            assert_eq!(mime_for_extension(unknown), None, "{unknown:?}");
        }
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
