//! Pre-upload validation: every reason the Cloud API would refuse (or later fail to send) a
//! file, found before a byte is uploaded.
//!
//! [`validate_upload`] looks at the kind, the declared MIME type, the length and the first
//! [`SNIFF_LEN`] bytes, and reports *all* problems at once so a person fixes them in one go.

use std::fmt;

use crate::sniff::{looks_like_text, sniff, Sniffed};
use crate::{mime_for_extension, usual_extension, MediaKind, MediaType, MAX_MEDIA_BYTES};

/// How many leading bytes of a file validation looks at (64 KiB). Reading more changes nothing.
pub const SNIFF_LEN: usize = 64 * 1024;

/// The shortest media TTL an upload may ask for (`ttl_minutes`): 60 minutes, 1 hour.
///
/// On a "No Storage" number, media live 1 hour unless the upload asks for longer; Meta
/// documents the range as 1 hour to 30 days ([`validate_ttl_minutes`]).
pub const MIN_MEDIA_TTL_MINUTES: u32 = 60;

/// The longest media TTL an upload may ask for (`ttl_minutes`): 43,200 minutes, 30 days.
pub const MAX_MEDIA_TTL_MINUTES: u32 = 30 * 24 * 60;

/// A file about to be uploaded, as validation sees it.
///
/// ```
/// use wa_media_types::{validate_upload, MediaKind, MediaType, UploadCandidate};
/// let mime: MediaType = "image/png".parse().unwrap();
/// let head = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
/// let ok = validate_upload(&UploadCandidate { kind: None, mime: &mime, len: 2_000, head }).unwrap();
/// assert_eq!(ok.kind, MediaKind::Image);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct UploadCandidate<'a> {
    /// The kind asked for; `None` infers it from the MIME type (`image/webp` is a sticker,
    /// `audio/ogg` is audio: ask for [`MediaKind::Voice`] explicitly).
    pub kind: Option<MediaKind>,
    /// The MIME type that will be declared in the upload, parameters included.
    pub mime: &'a MediaType,
    /// The file's full length in bytes.
    pub len: u64,
    /// The file's first bytes (up to [`SNIFF_LEN`]; the whole file when smaller). When empty
    /// while `len > 0`, the content checks are skipped and a sticker counts as static.
    pub head: &'a [u8],
}

/// What validation decided about an acceptable file.
///
/// ```
/// use wa_media_types::{validate_upload, MediaKind, MediaType, UploadCandidate, KB};
/// // An animated WebP (VP8X with the animation flag): the 500 KB sticker limit applies.
/// let head = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0\0\0\0\0\0\0";
/// let mime: MediaType = "image/webp".parse().unwrap();
/// let v = validate_upload(&UploadCandidate { kind: None, mime: &mime, len: 300 * KB, head }).unwrap();
/// assert_eq!((v.kind, v.max_bytes, v.animated), (MediaKind::Sticker, 500 * KB, true));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validated {
    /// The kind the file is uploaded as (given or inferred).
    pub kind: MediaKind,
    /// The size limit that applied, in bytes.
    pub max_bytes: u64,
    /// Whether the file is an animated WebP (stickers only).
    pub animated: bool,
}

/// One reason a file would be refused. Each `Display` says what is wrong and what to do.
///
/// ```
/// use wa_media_types::{MediaKind, Problem};
/// let p = Problem::TooLarge { kind: Some(MediaKind::Sticker), animated: false, len: 102_401, max: 102_400 };
/// assert_eq!(
///     p.to_string(),
///     "the file is 102401 bytes, over the limit of 102400 bytes (100 KB) for a static sticker: \
///      compress it or send it as a smaller file"
/// );
/// assert!(Problem::OpusMimeType.to_string().contains("declare the file as audio/ogg; codecs=opus"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The MIME type belongs to no media kind WhatsApp accepts.
    UnknownMime {
        /// The declared MIME type.
        mime: String,
    },
    /// The MIME type is not one of those the kind allows.
    MimeNotAllowed {
        /// The kind asked for.
        kind: MediaKind,
        /// The declared MIME type.
        mime: String,
    },
    /// `audio/opus` is accepted at upload but sending it fails later (code 131053).
    OpusMimeType,
    /// A voice note must be `audio/ogg; codecs=opus`.
    VoiceRequiresOggOpus {
        /// The declared MIME type.
        mime: String,
    },
    /// A WebP sent as an image fails when sent (code 131053); WebP is for stickers.
    WebpAsImage,
    /// An Ogg file that is not Opus (Vorbis, for example), declared or found in the file.
    NotOpus {
        /// The codec found: `vorbis`, or what the declared `codecs` parameter says, or
        /// `unknown`.
        codec: String,
    },
    /// The file is empty.
    Empty,
    /// The file is larger than the kind allows.
    TooLarge {
        /// The kind whose limit applies; `None` when the kind is unknown and the overall
        /// [`MAX_MEDIA_BYTES`] applied.
        kind: Option<MediaKind>,
        /// Whether the file is an animated sticker (500 KB limit instead of 100 KB).
        animated: bool,
        /// The file's length in bytes.
        len: u64,
        /// The limit in bytes.
        max: u64,
    },
    /// The first bytes contradict the declared MIME type.
    ContentMismatch {
        /// The declared MIME type.
        declared: String,
        /// What the contents look like, when recognised.
        found: Option<&'static str>,
    },
    /// The file name's extension names one type and the contents are another (a `photo.jpg`
    /// holding a PNG): Meta's processing keys off the name in places. Found by
    /// [`validate_named_upload`] only when the extension names a type WhatsApp accepts and
    /// the contents are recognised as something else.
    ExtensionMismatch {
        /// The file name sent with the upload (no directory).
        file_name: String,
        /// The MIME type the extension names.
        implies: &'static str,
        /// What the contents look like.
        found: &'static str,
    },
    /// The media TTL asked for (`ttl_minutes`, for "No Storage" numbers) is outside
    /// [`MIN_MEDIA_TTL_MINUTES`]..=[`MAX_MEDIA_TTL_MINUTES`] (1 hour to 30 days).
    TtlOutOfRange {
        /// The TTL asked for, in minutes.
        minutes: u32,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownMime { mime } => write!(
                f,
                "{mime} is not a media type WhatsApp accepts: use one of {}",
                all_allowed()
            ),
            Problem::MimeNotAllowed { kind, mime } => write!(
                f,
                "{mime} is not allowed for {kind}: use {}",
                kind.mime_types().join(", ")
            ),
            Problem::OpusMimeType => f.write_str(
                "audio/opus is accepted at upload but sending it fails (code 131053): \
                 declare the file as audio/ogg; codecs=opus",
            ),
            Problem::VoiceRequiresOggOpus { mime } => write!(
                f,
                "a voice note must be audio/ogg; codecs=opus, not {mime}: convert it to Ogg Opus \
                 or send it as audio"
            ),
            Problem::WebpAsImage => f.write_str(
                "image/webp sent as an image fails when sent (code 131053): send it as a sticker, \
                 or convert it to JPEG or PNG",
            ),
            Problem::NotOpus { codec } => write!(
                f,
                "audio/ogg must hold Opus, but this is {codec}: re-encode it as Ogg Opus \
                 (for example `ffmpeg -i in.ogg -c:a libopus out.ogg`)"
            ),
            Problem::Empty => f.write_str("the file is empty: nothing to upload"),
            Problem::TooLarge {
                kind,
                animated,
                len,
                max,
            } => {
                let what = match (kind, animated) {
                    (Some(MediaKind::Sticker), true) => "an animated sticker".to_owned(),
                    (Some(MediaKind::Sticker), false) => "a static sticker".to_owned(),
                    (Some(k), _) => format!("{k}"),
                    (None, _) => "any media".to_owned(),
                };
                write!(
                    f,
                    "the file is {len} bytes, over the limit of {max} bytes ({}) for {what}: \
                     compress it or send it as a smaller file",
                    human(*max)
                )
            }
            Problem::ContentMismatch {
                declared,
                found: Some(found),
            } => write!(
                f,
                "the contents look like {found}, not the declared {declared}: declare the real \
                 type or convert the file"
            ),
            Problem::ContentMismatch {
                declared,
                found: None,
            } => write!(
                f,
                "the contents are not recognisable as {declared}: check that this is the right \
                 file (an HTML error page saved by mistake?) or declare its real type"
            ),
            Problem::ExtensionMismatch {
                file_name,
                implies,
                found,
            } => {
                write!(
                    f,
                    "the name {file_name:?} says {implies}, but the contents look like {found}: "
                )?;
                match MediaType::parse(found)
                    .ok()
                    .and_then(|m| usual_extension(&m))
                {
                    Some(ext) => write!(f, "rename it to end in .{ext}, or convert the file"),
                    None => f.write_str("rename it to match its contents, or convert the file"),
                }
            }
            Problem::TtlOutOfRange { minutes } => write!(
                f,
                "a media TTL of {minutes} minutes is outside the range WhatsApp accepts, \
                 {MIN_MEDIA_TTL_MINUTES} to {MAX_MEDIA_TTL_MINUTES} minutes (1 hour to 30 days): \
                 ask for a TTL in that range"
            ),
        }
    }
}

fn human(bytes: u64) -> String {
    use crate::{KB, MB};
    if bytes % MB == 0 {
        format!("{} MB", bytes / MB)
    } else if bytes % KB == 0 {
        format!("{} KB", bytes / KB)
    } else {
        format!("{bytes} B")
    }
}

fn all_allowed() -> String {
    let mut all: Vec<&str> = Vec::new();
    for k in MediaKind::ALL {
        for m in k.mime_types() {
            if !all.contains(m) {
                all.push(m);
            }
        }
    }
    all.join(", ")
}

/// Checks a media TTL (the upload's `ttl_minutes` field, which keeps media on a "No Storage"
/// number longer than the default 1 hour) against the range Meta documents: 1 hour to 30 days,
/// [`MIN_MEDIA_TTL_MINUTES`] to [`MAX_MEDIA_TTL_MINUTES`] minutes, both included. Returns the
/// TTL when it is in range, else [`Problem::TtlOutOfRange`].
///
/// ```
/// use wa_media_types::{validate_ttl_minutes, Problem};
/// assert_eq!(validate_ttl_minutes(120), Ok(120));
/// assert_eq!(validate_ttl_minutes(43_200), Ok(43_200));
/// let err = validate_ttl_minutes(30).unwrap_err();
/// assert_eq!(err.problems, vec![Problem::TtlOutOfRange { minutes: 30 }]);
/// assert!(err.to_string().contains("60 to 43200 minutes (1 hour to 30 days)"));
/// ```
pub fn validate_ttl_minutes(minutes: u32) -> Result<u32, ValidationError> {
    if (MIN_MEDIA_TTL_MINUTES..=MAX_MEDIA_TTL_MINUTES).contains(&minutes) {
        Ok(minutes)
    } else {
        Err(ValidationError {
            problems: vec![Problem::TtlOutOfRange { minutes }],
        })
    }
}

/// Every problem found in an upload candidate; never empty.
///
/// ```
/// use wa_media_types::{validate_upload, MediaKind, MediaType, Problem, UploadCandidate};
/// let mime: MediaType = "image/jpeg".parse().unwrap();
/// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
/// let err = validate_upload(&UploadCandidate {
///     kind: Some(MediaKind::Image), mime: &mime, len: 6 * 1024 * 1024, head: png,
/// }).unwrap_err();
/// assert_eq!(err.problems.len(), 2);
/// assert!(matches!(err.problems[0], Problem::TooLarge { .. }));
/// assert!(err.to_string().contains("look like image/png"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// The problems, in a stable order: MIME type, size, contents, file name, TTL.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => write!(f, "the file cannot be uploaded: {one}"),
            many => {
                write!(f, "the file cannot be uploaded ({} problems):", many.len())?;
                for (i, p) in many.iter().enumerate() {
                    write!(f, " ({}) {p}", i + 1)?;
                    if i + 1 < many.len() {
                        f.write_str(";")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// What the declared type says the contents must look like.
enum Expect {
    /// One of these sniffed types (compared by full sniffed MIME or by essence).
    OneOf(&'static [&'static str]),
    /// An ISO base media file (MP4, M4A, 3GP).
    IsoBmff,
    /// An Ogg file (any codec; the codec is judged separately).
    Ogg,
    /// Anything but a recognised media format (legacy Office types are too varied to check).
    NotMedia,
    /// Text in any 8-bit encoding: no recognised binary format and no NUL byte.
    Text,
    /// Nothing known.
    Unchecked,
}

fn expectation(mime: &MediaType) -> Expect {
    match mime.essence() {
        "image/jpeg" => Expect::OneOf(&["image/jpeg"]),
        "image/png" => Expect::OneOf(&["image/png"]),
        "image/webp" => Expect::OneOf(&["image/webp"]),
        "application/pdf" => Expect::OneOf(&["application/pdf"]),
        "audio/mpeg" => Expect::OneOf(&["audio/mpeg"]),
        "audio/aac" => Expect::OneOf(&["audio/aac"]),
        "audio/amr" => Expect::OneOf(&["audio/amr"]),
        "text/plain" => Expect::Text,
        "audio/ogg" | "audio/opus" => Expect::Ogg,
        "audio/mp4" | "video/mp4" | "video/3gp" | "video/3gpp" => Expect::IsoBmff,
        e if e.starts_with("application/vnd.openxmlformats-") => {
            Expect::OneOf(&["application/zip"])
        }
        e if e.starts_with("application/vnd.ms-") => Expect::NotMedia,
        _ => Expect::Unchecked,
    }
}

fn contradicts(expect: &Expect, found: Option<Sniffed>, head: &[u8]) -> bool {
    match (expect, found) {
        (Expect::Unchecked, _) => false,
        (Expect::Text, Some(s)) => s.mime != "text/plain",
        (Expect::Text, None) => head.contains(&0),
        (Expect::NotMedia, None) => false,
        (Expect::NotMedia, Some(s)) => !matches!(
            s.mime,
            "application/zip" | "application/x-cfb" | "text/plain"
        ),
        (_, None) => true,
        (Expect::OneOf(list), Some(s)) => !list.contains(&s.mime) && !list.contains(&s.essence()),
        (Expect::IsoBmff, Some(s)) => !s.is_iso_bmff() || s.mime == "video/quicktime",
        (Expect::Ogg, Some(s)) => !s.mime.starts_with("audio/ogg") && s.mime != "application/ogg",
    }
}

/// The codec named by an Ogg file's `codecs` parameter or first packet, when it is not Opus.
fn ogg_codec_problem(mime: &MediaType, found: Option<Sniffed>) -> Option<String> {
    if let Some(codecs) = mime.param("codecs") {
        if !mime.is_opus() {
            return Some(codecs.to_ascii_lowercase());
        }
    }
    match found.map(|s| s.mime) {
        Some("audio/ogg; codecs=vorbis") => Some("vorbis".to_owned()),
        Some("application/ogg") => Some("an unknown codec".to_owned()),
        _ => None,
    }
}

/// Checks a file against the Cloud API's rules before uploading it, returning every problem.
///
/// The kind is `candidate.kind` or, when `None`, inferred from the MIME type. A sticker's
/// limit (100 KB static, 500 KB animated) is decided from the file itself (its `VP8X`
/// animation flag or `ANIM` chunk), never from what the caller claims. Limits are inclusive:
/// exactly `max_bytes` is accepted, one byte more is refused.
///
/// ```
/// use wa_media_types::{validate_upload, MediaKind, MediaType, Problem, UploadCandidate};
/// let vorbis_page = b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x1e\x01vorbis";
/// let mime: MediaType = "audio/ogg".parse().unwrap();
/// let err = validate_upload(&UploadCandidate {
///     kind: Some(MediaKind::Voice), mime: &mime, len: 4_000, head: vorbis_page,
/// }).unwrap_err();
/// assert_eq!(err.problems, vec![Problem::NotOpus { codec: "vorbis".into() }]);
/// ```
pub fn validate_upload(candidate: &UploadCandidate<'_>) -> Result<Validated, ValidationError> {
    validate(candidate, None)
}

/// [`validate_upload`], and the name the file is uploaded under checked against its contents:
/// a name whose extension names a type WhatsApp accepts while the contents are recognised as
/// another type is [`Problem::ExtensionMismatch`] (a `photo.jpg` holding a PNG).
///
/// Only a real contradiction counts. A name without an extension, an extension naming no
/// accepted type (`.bin`, `.gif`) or contents nothing recognises pass. Spellings of one
/// format agree with each other: `.jpg`/`.jpeg`/`.jpe`, `.ogg`/`.opus`/`.oga` for any Ogg
/// file, and `.mp4`/`.m4a`/`.m4v`/`.3gp` for any ISO media file (their brands are used
/// loosely); `.docx`/`.xlsx`/`.pptx` hold a ZIP (or, encrypted, an OLE compound file), and
/// `.doc`/`.xls`/`.ppt` one of those or text; a `.txt` is contradicted only by contents that
/// are not text. When the extension agrees with the declared type and the contents contradict
/// both, only [`Problem::ContentMismatch`] is reported.
///
/// ```
/// use wa_media_types::{validate_named_upload, MediaType, Problem, UploadCandidate};
/// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
/// let mime: MediaType = "image/png".parse().unwrap();
/// let candidate = UploadCandidate { kind: None, mime: &mime, len: 2_000, head: png };
/// assert!(validate_named_upload(&candidate, "photo.png").is_ok());
/// assert!(validate_named_upload(&candidate, "photo").is_ok());
/// let err = validate_named_upload(&candidate, "photo.jpg").unwrap_err();
/// assert_eq!(err.problems, vec![Problem::ExtensionMismatch {
///     file_name: "photo.jpg".into(), implies: "image/jpeg", found: "image/png",
/// }]);
/// ```
pub fn validate_named_upload(
    candidate: &UploadCandidate<'_>,
    file_name: &str,
) -> Result<Validated, ValidationError> {
    validate(candidate, Some(file_name))
}

/// Which spellings of one format agree with each other, by MIME essence.
fn family(essence: &str) -> &str {
    match essence {
        "audio/ogg" | "application/ogg" | "audio/opus" => "ogg",
        "audio/mp4" | "video/mp4" | "video/3gp" | "video/3gpp" | "video/quicktime" => "iso-bmff",
        "audio/amr" | "audio/amr-wb" => "amr",
        "application/zip" | "application/x-cfb" | "application/msword" => "office",
        e if e.starts_with("application/vnd.openxmlformats-")
            || e.starts_with("application/vnd.ms-") =>
        {
            "office"
        }
        e => e,
    }
}

/// The extension check of [`validate_named_upload`]: the type the name's extension names,
/// when the contents contradict it.
/// Returns `(implied, found)`.
fn extension_contradiction(
    file_name: &str,
    found: Option<Sniffed>,
    head: &[u8],
) -> Option<(&'static str, &'static str)> {
    let (stem, ext) = file_name.rsplit_once('.')?;
    if stem.is_empty() {
        return None; // `.jpg` is a hidden file's whole name, not an extension.
    }
    let implies = mime_for_extension(ext)?;
    let sniffed = found?;
    let found = sniffed.essence();
    let agrees = match implies {
        // Text is judged by the bytes: a note that mentions `%PDF-` is still text.
        "text/plain" => found == "text/plain" || looks_like_text(head),
        // Legacy Office names are also used for text exports (CSV, HTML, RTF).
        "application/msword" | "application/vnd.ms-excel" | "application/vnd.ms-powerpoint" => {
            family(found) == "office" || found == "text/plain"
        }
        _ => family(implies) == family(found),
    };
    (!agrees).then_some((implies, sniffed.mime))
}

fn validate(
    candidate: &UploadCandidate<'_>,
    file_name: Option<&str>,
) -> Result<Validated, ValidationError> {
    let mime = candidate.mime;
    let essence = mime.essence();
    let head = &candidate.head[..candidate.head.len().min(SNIFF_LEN)];
    let found = sniff(head);
    let mut problems = Vec::new();

    // 1. The MIME type against the kind.
    let is_ogg = essence == "audio/ogg";
    let kind = match candidate.kind {
        Some(k) => Some(k),
        None => MediaKind::infer(mime).or(match essence {
            // Judge these by the audio limits while reporting their specific problem.
            "audio/opus" | "audio/ogg" => Some(MediaKind::Audio),
            _ => None,
        }),
    };
    let ogg_not_opus = if is_ogg {
        ogg_codec_problem(mime, found)
    } else {
        None
    };
    match kind {
        _ if essence == "audio/opus" => problems.push(Problem::OpusMimeType),
        Some(MediaKind::Image) if essence == "image/webp" => problems.push(Problem::WebpAsImage),
        Some(MediaKind::Voice) if !is_ogg => problems.push(Problem::VoiceRequiresOggOpus {
            mime: mime.to_string(),
        }),
        // An allowed essence: the codec is judged below (declared or found in the file).
        Some(MediaKind::Voice | MediaKind::Audio) if is_ogg => {}
        Some(k) if !k.allows(mime) => problems.push(Problem::MimeNotAllowed {
            kind: k,
            mime: mime.to_string(),
        }),
        Some(_) => {}
        None => problems.push(Problem::UnknownMime {
            mime: mime.to_string(),
        }),
    }
    if let Some(codec) = ogg_not_opus.clone() {
        problems.push(Problem::NotOpus { codec });
    }

    // 2. The size.
    let animated = found.is_some_and(|s| s.mime == "image/webp" && s.animated);
    let max = kind.map_or(MAX_MEDIA_BYTES, |k| k.max_bytes(animated));
    if candidate.len == 0 {
        problems.push(Problem::Empty);
    } else if candidate.len > max {
        problems.push(Problem::TooLarge {
            kind,
            animated: animated && kind == Some(MediaKind::Sticker),
            len: candidate.len,
            max,
        });
    }

    // 3. The contents against the declared type.
    let content_mismatch = !head.is_empty() && contradicts(&expectation(mime), found, head);
    if content_mismatch {
        problems.push(Problem::ContentMismatch {
            declared: essence.to_owned(),
            found: found.map(|s| s.mime),
        });
    }

    // 4. The contents against the file name, unless 3 already said the same.
    if let Some(name) = file_name {
        if let Some((implies, found)) = extension_contradiction(name, found, head) {
            if !(content_mismatch && family(implies) == family(essence)) {
                problems.push(Problem::ExtensionMismatch {
                    file_name: name.to_owned(),
                    implies,
                    found,
                });
            }
        }
    }

    match (problems.is_empty(), kind) {
        (true, Some(kind)) => Ok(Validated {
            kind,
            max_bytes: max,
            animated: animated && kind == MediaKind::Sticker,
        }),
        _ => Err(ValidationError { problems }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KB, MB};

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const OPUS: &[u8] = b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x13OpusHead\x01";
    const STATIC_WEBP: &[u8] = b"RIFF\0\0\0\0WEBPVP8L\x0a\0\0\0\x2f";
    const ANIMATED_WEBP: &[u8] = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0\0\0\0\0\0\0";

    fn check(
        kind: Option<MediaKind>,
        mime: &str,
        len: u64,
        head: &[u8],
    ) -> Result<Validated, Vec<Problem>> {
        let mime: MediaType = mime.parse().unwrap();
        validate_upload(&UploadCandidate {
            kind,
            mime: &mime,
            len,
            head,
        })
        .map_err(|e| e.problems)
    }

    #[test]
    fn accepts_good_files_and_infers_the_kind() {
        let v = check(None, "image/png", 5 * MB, PNG).unwrap();
        assert_eq!(
            (v.kind, v.max_bytes, v.animated),
            (MediaKind::Image, 5 * MB, false)
        );
        let v = check(Some(MediaKind::Voice), "audio/ogg; codecs=opus", 10, OPUS).unwrap();
        assert_eq!(v.kind, MediaKind::Voice);
        let v = check(None, "image/webp", 500 * KB, ANIMATED_WEBP).unwrap();
        assert_eq!(
            (v.kind, v.max_bytes, v.animated),
            (MediaKind::Sticker, 500 * KB, true)
        );
    }

    #[test]
    fn sticker_limit_comes_from_the_file() {
        assert!(check(None, "image/webp", 100 * KB, STATIC_WEBP).is_ok());
        assert_eq!(
            check(None, "image/webp", 100 * KB + 1, STATIC_WEBP).unwrap_err(),
            vec![Problem::TooLarge {
                kind: Some(MediaKind::Sticker),
                animated: false,
                len: 100 * KB + 1,
                max: 100 * KB
            }]
        );
        assert!(check(None, "image/webp", 500 * KB + 1, ANIMATED_WEBP).is_err());
    }

    #[test]
    fn reports_every_problem_with_specific_advice() {
        assert_eq!(
            check(None, "audio/opus", 10, OPUS).unwrap_err(),
            vec![Problem::OpusMimeType]
        );
        assert_eq!(
            check(Some(MediaKind::Image), "image/webp", 10, STATIC_WEBP).unwrap_err(),
            vec![Problem::WebpAsImage]
        );
        assert_eq!(
            check(Some(MediaKind::Voice), "audio/mpeg", 0, b"").unwrap_err(),
            vec![
                Problem::VoiceRequiresOggOpus {
                    mime: "audio/mpeg".into()
                },
                Problem::Empty
            ]
        );
        assert_eq!(
            check(None, "application/octet-stream", 200 * MB, b"").unwrap_err(),
            vec![
                Problem::UnknownMime {
                    mime: "application/octet-stream".into()
                },
                Problem::TooLarge {
                    kind: None,
                    animated: false,
                    len: 200 * MB,
                    max: MAX_MEDIA_BYTES
                },
            ]
        );
        assert_eq!(
            check(None, "image/jpeg", 10, b"<html>oops</html>").unwrap_err(),
            vec![Problem::ContentMismatch {
                declared: "image/jpeg".into(),
                found: Some("text/plain")
            }]
        );
        assert!(check(None, "text/plain", 10, b"caf\xe9 latin-1").is_ok());
        assert_eq!(
            check(None, "text/plain", 10, b"\0\0\0binary").unwrap_err(),
            vec![Problem::ContentMismatch {
                declared: "text/plain".into(),
                found: None
            }]
        );
        assert_eq!(
            check(None, "audio/ogg; codecs=vorbis", 10, b"").unwrap_err(),
            vec![Problem::NotOpus {
                codec: "vorbis".into()
            }]
        );
    }

    fn named(mime: &str, head: &[u8], name: &str) -> Result<Validated, Vec<Problem>> {
        let mime: MediaType = mime.parse().unwrap();
        validate_named_upload(
            &UploadCandidate {
                kind: None,
                mime: &mime,
                len: 10,
                head,
            },
            name,
        )
        .map_err(|e| e.problems)
    }

    #[test]
    fn an_extension_contradicting_the_contents_is_a_problem() {
        const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF";
        const M4A: &[u8] = b"\0\0\0\x18ftypM4A \0\0\0\0";
        const MP4: &[u8] = b"\0\0\0\x18ftypisom\0\0\0\0";
        const ZIP: &[u8] = b"PK\x03\x04\x14\0";
        const CFB: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3";
        let mismatch = |name: &str, implies, found| {
            vec![Problem::ExtensionMismatch {
                file_name: name.into(),
                implies,
                found,
            }]
        };
        // Contradictions: a known extension, recognised contents of another format.
        assert_eq!(
            named("image/png", PNG, "x.jpg").unwrap_err(),
            mismatch("x.jpg", "image/jpeg", "image/png")
        );
        assert_eq!(
            named("image/jpeg", JPEG, "scan.PNG").unwrap_err(),
            mismatch("scan.PNG", "image/png", "image/jpeg")
        );
        assert_eq!(
            named("application/pdf", PDF, "notes.txt").unwrap_err(),
            mismatch("notes.txt", "text/plain", "application/pdf")
        );
        assert_eq!(
            named("audio/ogg; codecs=opus", OPUS, "voice.mp3").unwrap_err(),
            mismatch("voice.mp3", "audio/mpeg", "audio/ogg; codecs=opus")
        );
        assert_eq!(
            named("application/zip", ZIP, "a.pdf").unwrap_err()[1],
            mismatch("a.pdf", "application/pdf", "application/zip")[0]
        );
        // Agreements: spellings of one format, containers used loosely, no extension.
        for (mime, head, name) in [
            ("image/jpeg", JPEG, "x.jpeg"),
            ("image/jpeg", JPEG, "x.JPG"),
            ("image/jpeg", JPEG, "x.jpe"),
            ("audio/ogg; codecs=opus", OPUS, "v.opus"),
            ("audio/ogg; codecs=opus", OPUS, "v.ogg"),
            ("audio/ogg; codecs=opus", OPUS, "v.oga"),
            ("audio/mp4", M4A, "a.m4a"),
            ("audio/mp4", MP4, "a.m4a"),
            ("video/mp4", M4A, "v.mp4"),
            ("video/3gpp", MP4, "v.3gp"),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ZIP,
                "r.docx",
            ),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                CFB,
                "encrypted.docx",
            ),
            ("application/vnd.ms-excel", CFB, "t.xls"),
            ("application/vnd.ms-excel", b"a,b\n1,2\n", "export.xls"),
            ("text/plain", b"see %PDF-1.7 below", "notes.txt"),
            ("image/png", PNG, "photo"),
            ("image/png", PNG, ".jpg"),
            ("image/png", PNG, "x.gif"),
            ("image/png", PNG, "x.bin"),
            ("image/png", PNG, "archive.jpg.png"),
        ] {
            let problems = named(mime, head, name).err().unwrap_or_default();
            assert!(
                !problems
                    .iter()
                    .any(|p| matches!(p, Problem::ExtensionMismatch { .. })),
                "{name} holding {mime}: {problems:?}"
            );
        }
        // Contents nothing recognises: no extension problem (the declared type is judged).
        assert_eq!(
            named("image/jpeg", b"\0\x01\x02", "x.jpg").unwrap_err(),
            vec![Problem::ContentMismatch {
                declared: "image/jpeg".into(),
                found: None
            }]
        );
        // The declared type and the name agree and the contents contradict both: said once.
        assert_eq!(
            named("image/jpeg", PNG, "x.jpg").unwrap_err(),
            vec![Problem::ContentMismatch {
                declared: "image/jpeg".into(),
                found: Some("image/png")
            }]
        );
        // validate_upload never looks at a name.
        assert!(check(None, "image/png", 10, PNG).is_ok());
    }

    #[test]
    fn the_media_ttl_is_one_hour_to_thirty_days() {
        assert_eq!((MIN_MEDIA_TTL_MINUTES, MAX_MEDIA_TTL_MINUTES), (60, 43_200));
        for ok in [60, 61, 120, 1_440, 43_199, 43_200] {
            assert_eq!(validate_ttl_minutes(ok), Ok(ok));
        }
        for bad in [0, 1, 30, 59, 43_201, 100_000, u32::MAX] {
            assert_eq!(
                validate_ttl_minutes(bad).unwrap_err().problems,
                vec![Problem::TtlOutOfRange { minutes: bad }],
                "{bad}"
            );
        }
    }

    #[test]
    fn display_lists_every_problem() {
        let e = ValidationError {
            problems: vec![Problem::Empty, Problem::OpusMimeType],
        };
        let s = e.to_string();
        assert!(
            s.starts_with("the file cannot be uploaded (2 problems): (1) the file is empty"),
            "{s}"
        );
        assert!(
            s.contains("(2) audio/opus") && s.contains("audio/ogg; codecs=opus"),
            "{s}"
        );
    }
}

#[cfg(test)]
mod error_messages {
    use super::*;

    #[test]
    fn every_problem_message_is_pinned() {
        let one = |p: Problem| ValidationError { problems: vec![p] }.to_string();
        insta::assert_snapshot!(one(Problem::OpusMimeType), @"the file cannot be uploaded: audio/opus is accepted at upload but sending it fails (code 131053): declare the file as audio/ogg; codecs=opus");
        insta::assert_snapshot!(one(Problem::VoiceRequiresOggOpus { mime: "audio/mpeg".into() }), @"the file cannot be uploaded: a voice note must be audio/ogg; codecs=opus, not audio/mpeg: convert it to Ogg Opus or send it as audio");
        insta::assert_snapshot!(one(Problem::WebpAsImage), @"the file cannot be uploaded: image/webp sent as an image fails when sent (code 131053): send it as a sticker, or convert it to JPEG or PNG");
        insta::assert_snapshot!(one(Problem::NotOpus { codec: "Vorbis".into() }), @"the file cannot be uploaded: audio/ogg must hold Opus, but this is Vorbis: re-encode it as Ogg Opus (for example `ffmpeg -i in.ogg -c:a libopus out.ogg`)");
        insta::assert_snapshot!(one(Problem::Empty), @"the file cannot be uploaded: the file is empty: nothing to upload");
        insta::assert_snapshot!(one(Problem::MimeNotAllowed { kind: MediaKind::Sticker, mime: "image/png".into() }), @"the file cannot be uploaded: image/png is not allowed for sticker: use image/webp");
        insta::assert_snapshot!(one(Problem::TooLarge { kind: Some(MediaKind::Image), animated: false, len: 6_000_000, max: 5_242_880 }), @"the file cannot be uploaded: the file is 6000000 bytes, over the limit of 5242880 bytes (5 MB) for image: compress it or send it as a smaller file");
        insta::assert_snapshot!(one(Problem::ContentMismatch { declared: "image/jpeg".into(), found: Some("image/png") }), @"the file cannot be uploaded: the contents look like image/png, not the declared image/jpeg: declare the real type or convert the file");
        insta::assert_snapshot!(one(Problem::ExtensionMismatch { file_name: "x.jpg".into(), implies: "image/jpeg", found: "image/png" }), @r#"the file cannot be uploaded: the name "x.jpg" says image/jpeg, but the contents look like image/png: rename it to end in .png, or convert the file"#);
        insta::assert_snapshot!(one(Problem::ExtensionMismatch { file_name: "voice.mp3".into(), implies: "audio/mpeg", found: "audio/ogg; codecs=opus" }), @r#"the file cannot be uploaded: the name "voice.mp3" says audio/mpeg, but the contents look like audio/ogg; codecs=opus: rename it to end in .ogg, or convert the file"#);
        insta::assert_snapshot!(one(Problem::ExtensionMismatch { file_name: "report.pdf".into(), implies: "application/pdf", found: "application/zip" }), @r#"the file cannot be uploaded: the name "report.pdf" says application/pdf, but the contents look like application/zip: rename it to match its contents, or convert the file"#);
        insta::assert_snapshot!(one(Problem::TtlOutOfRange { minutes: 30 }), @"the file cannot be uploaded: a media TTL of 30 minutes is outside the range WhatsApp accepts, 60 to 43200 minutes (1 hour to 30 days): ask for a TTL in that range");
        insta::assert_snapshot!(one(Problem::UnknownMime { mime: "image/gif".into() }), @"the file cannot be uploaded: image/gif is not a media type WhatsApp accepts: use one of image/jpeg, image/png, application/pdf, application/vnd.ms-*, application/vnd.openxmlformats-*, text/plain, audio/aac, audio/mp4, audio/mpeg, audio/amr, audio/ogg; codecs=opus, video/mp4, video/3gp, video/3gpp, image/webp");
    }
}
