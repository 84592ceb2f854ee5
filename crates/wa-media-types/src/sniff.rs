//! Content sniffing: what a file really is, decided from its first bytes (magic numbers).
//!
//! Validation compares this with the declared MIME type, so a PNG sent as `image/jpeg`, an Ogg
//! Vorbis file sent as a voice note or an HTML error page saved as `photo.jpg` is caught before
//! the upload. Only the leading [`SNIFF_LEN`](crate::SNIFF_LEN) bytes are ever needed.

use crate::MediaType;

/// What the first bytes of a file say it is.
///
/// `mime` is a MIME type with the parameters that matter to WhatsApp: an Ogg file is
/// `audio/ogg; codecs=opus` or `audio/ogg; codecs=vorbis` (any other Ogg codec is
/// `application/ogg`). `animated` is true only for a WebP whose `VP8X` header sets the
/// animation flag or that holds an `ANIM` chunk.
///
/// ```
/// use wa_media_types::{sniff, Sniffed};
/// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
/// assert_eq!(sniff(png), Some(Sniffed { mime: "image/png", animated: false }));
/// assert_eq!(sniff(b"%PDF-1.7\n").map(|s| s.mime), Some("application/pdf"));
/// assert_eq!(sniff(&[0x00, 0x01, 0x02]), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sniffed {
    /// The detected MIME type, e.g. `image/png` or `audio/ogg; codecs=opus`.
    pub mime: &'static str,
    /// Whether the file is an animated WebP (decides a sticker's size limit).
    pub animated: bool,
}

impl Sniffed {
    const fn of(mime: &'static str) -> Self {
        Self {
            mime,
            animated: false,
        }
    }

    /// The detected `type/subtype` without parameters (`audio/ogg` for an Ogg Opus file).
    pub fn essence(&self) -> &'static str {
        match self.mime.split_once(';') {
            Some((e, _)) => e.trim_end(),
            None => self.mime,
        }
    }

    /// Whether the file is in the ISO base media format (MP4, M4A, 3GP and relatives).
    pub fn is_iso_bmff(&self) -> bool {
        matches!(
            self.mime,
            "video/mp4" | "audio/mp4" | "video/3gpp" | "video/quicktime"
        )
    }
}

/// The MIME type to declare for a file whose type was not given: [`sniff`]'s answer as a
/// [`MediaType`], parameters kept (`audio/ogg; codecs=opus`). `None` when the contents are not
/// recognised. The one place a file's type is guessed, for uploads and sends alike.
///
/// ```
/// use wa_media_types::sniff_media_type;
/// assert_eq!(sniff_media_type(b"%PDF-1.7\n").unwrap().essence(), "application/pdf");
/// assert_eq!(sniff_media_type(&[0x00, 0x01, 0x02]), None);
/// ```
pub fn sniff_media_type(head: &[u8]) -> Option<MediaType> {
    sniff(head).and_then(|s| s.mime.parse().ok())
}

/// Sniffs the content type of a file from its first bytes.
///
/// Recognises JPEG, PNG, GIF, WebP (static or animated), PDF, Ogg (Opus, Vorbis, other),
/// MP4 / M4A / 3GP / QuickTime (by `ftyp` brand), MP3 (ID3 tag or MPEG frame sync), AAC (ADTS),
/// AMR / AMR-WB, ZIP (OOXML documents), OLE compound files (legacy Office) and plain UTF-8 text.
/// Returns `None` when nothing matches (including an empty `head`). Never panics, whatever the
/// input; pass [`SNIFF_LEN`](crate::SNIFF_LEN) bytes or fewer.
pub fn sniff(head: &[u8]) -> Option<Sniffed> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Sniffed::of("image/jpeg"));
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Sniffed::of("image/png"));
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some(Sniffed::of("image/gif"));
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(Sniffed {
            mime: "image/webp",
            animated: webp_is_animated(head),
        });
    }
    if head.starts_with(b"OggS") {
        return Some(Sniffed::of(ogg_codec(head)));
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some(Sniffed::of(iso_brand(&head[8..12])));
    }
    if head.starts_with(b"#!AMR-WB\n") {
        return Some(Sniffed::of("audio/amr-wb"));
    }
    if head.starts_with(b"#!AMR\n") {
        return Some(Sniffed::of("audio/amr"));
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some(Sniffed::of("application/zip"));
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Some(Sniffed::of("application/x-cfb"));
    }
    if let Some(rest) = head.strip_prefix(b"ID3") {
        // An ID3v2 tag: skip it when the frame after it is in `head`, to tell AAC from MP3.
        let after = id3_len(rest).and_then(|n| head.get(10 + n..));
        if after.is_some_and(is_adts) {
            return Some(Sniffed::of("audio/aac"));
        }
        return Some(Sniffed::of("audio/mpeg"));
    }
    if is_adts(head) {
        return Some(Sniffed::of("audio/aac"));
    }
    if is_mpeg_audio_frame(head) {
        return Some(Sniffed::of("audio/mpeg"));
    }
    // PDF readers accept the header anywhere in the first 1,024 bytes.
    if head[..head.len().min(1024)]
        .windows(5)
        .any(|w| w == b"%PDF-")
    {
        return Some(Sniffed::of("application/pdf"));
    }
    if looks_like_text(head) {
        return Some(Sniffed::of("text/plain"));
    }
    None
}

fn u32_le(b: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?))
}

/// Animated when `VP8X` sets the animation flag (bit 1 of its first byte) or an `ANIM` /
/// `ANMF` chunk appears in the bytes we have.
fn webp_is_animated(head: &[u8]) -> bool {
    let mut at = 12usize;
    while let (Some(fourcc), Some(size)) =
        (head.get(at..at + 4), head.get(at + 4..).and_then(u32_le))
    {
        match fourcc {
            b"VP8X" if head.get(at + 8).is_some_and(|flags| flags & 0x02 != 0) => return true,
            b"ANIM" | b"ANMF" => return true,
            _ => {}
        }
        // Chunks are padded to an even size.
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        at = match at
            .checked_add(8)
            .and_then(|a| a.checked_add(size))
            .and_then(|a| a.checked_add(size & 1))
        {
            Some(next) => next,
            None => return false,
        };
    }
    false
}

/// The codec of the first Ogg page's first packet.
fn ogg_codec(head: &[u8]) -> &'static str {
    let packet = head.get(26).and_then(|&n| head.get(27 + usize::from(n)..));
    match packet {
        Some(p) if p.starts_with(b"OpusHead") => "audio/ogg; codecs=opus",
        Some(p) if p.starts_with(b"\x01vorbis") => "audio/ogg; codecs=vorbis",
        _ => "application/ogg",
    }
}

fn iso_brand(brand: &[u8]) -> &'static str {
    if brand.starts_with(b"3gp") || brand.starts_with(b"3g2") {
        "video/3gpp"
    } else if matches!(brand, b"M4A " | b"M4B " | b"M4P ") {
        "audio/mp4"
    } else if brand == b"qt  " {
        "video/quicktime"
    } else {
        "video/mp4"
    }
}

/// The size of an ID3v2 tag body (after its 10-byte header), from the synchsafe size field.
fn id3_len(after_magic: &[u8]) -> Option<usize> {
    let size = after_magic.get(3..7)?;
    if size.iter().any(|b| b & 0x80 != 0) {
        return None;
    }
    let n = size
        .iter()
        .fold(0usize, |acc, &b| (acc << 7) | usize::from(b));
    Some(n)
}

/// An AAC ADTS header: 12 sync bits, layer 00, a valid sampling index.
fn is_adts(b: &[u8]) -> bool {
    matches!(b, [0xFF, b1, b2, ..] if b1 & 0xF6 == 0xF0 && (b2 >> 2) & 0x0F < 13)
}

/// An MPEG audio frame header: 11 sync bits, a valid version, layer, bitrate and sample rate.
fn is_mpeg_audio_frame(b: &[u8]) -> bool {
    let [0xFF, b1, b2, ..] = *b else {
        return false;
    };
    let version = (b1 >> 3) & 0x03;
    let layer = (b1 >> 1) & 0x03;
    let bitrate = b2 >> 4;
    let rate = (b2 >> 2) & 0x03;
    b1 & 0xE0 == 0xE0 && version != 0b01 && layer != 0 && bitrate != 0x0F && rate != 0x03
}

/// UTF-8 (a character cut at the end of `head` is fine) without control characters other than
/// tab, line feed, form feed and carriage return, and not empty.
pub(crate) fn looks_like_text(head: &[u8]) -> bool {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if body.is_empty() {
        return false;
    }
    let valid = match std::str::from_utf8(body) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => match std::str::from_utf8(&body[..e.valid_up_to()]) {
            Ok(s) => s,
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    !valid.is_empty()
        && valid
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sniffed_type_is_a_media_type() {
        // Every MIME literal of this file (the types `sniff` can answer) parses, parameters kept.
        let source = include_str!("sniff.rs");
        let mut seen = 0;
        for literal in source.split('"').skip(1).step_by(2) {
            let top = literal.split('/').next().unwrap_or("");
            if !["image", "audio", "video", "application", "text"].contains(&top)
                || literal.contains(' ') && !literal.contains("; codecs=")
            {
                continue;
            }
            let parsed: MediaType = literal.parse().unwrap_or_else(|e| panic!("{literal}: {e}"));
            assert_eq!(parsed.to_string(), literal);
            seen += 1;
        }
        assert!(seen >= 15, "only {seen} MIME literals found");
        assert_eq!(
            sniff_media_type(b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x13OpusHead"),
            sniff(b"OggS\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x13OpusHead")
                .map(|s| s.mime.parse().unwrap())
        );
    }

    fn mime(b: &[u8]) -> Option<&'static str> {
        sniff(b).map(|s| s.mime)
    }

    fn ogg_page(packet: &[u8]) -> Vec<u8> {
        let mut p = b"OggS\0\x02".to_vec();
        p.extend_from_slice(&[0; 20]);
        p.push(1);
        p.push(packet.len() as u8);
        p.extend_from_slice(packet);
        p
    }

    #[test]
    fn recognises_each_signature() {
        assert_eq!(mime(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(mime(b"GIF89a"), Some("image/gif"));
        assert_eq!(
            mime(&ogg_page(b"OpusHead\x01")),
            Some("audio/ogg; codecs=opus")
        );
        assert_eq!(
            mime(&ogg_page(b"\x01vorbis\0")),
            Some("audio/ogg; codecs=vorbis")
        );
        assert_eq!(mime(&ogg_page(b"\x7fFLAC")), Some("application/ogg"));
        assert_eq!(mime(b"\0\0\0\x18ftypis"), None, "brand cut short");
        assert_eq!(mime(b"\0\0\0\x18ftypisom\0\0\0\0"), Some("video/mp4"));
        assert_eq!(mime(b"\0\0\0\x18ftyp3gp4\0\0\0\0"), Some("video/3gpp"));
        assert_eq!(mime(b"\0\0\0\x18ftypM4A \0\0\0\0"), Some("audio/mp4"));
        assert_eq!(mime(b"#!AMR\n\x3c"), Some("audio/amr"));
        assert_eq!(mime(b"#!AMR-WB\n"), Some("audio/amr-wb"));
        assert_eq!(
            mime(b"ID3\x04\0\0\0\0\0\0\xFF\xFB\x90\x64"),
            Some("audio/mpeg")
        );
        assert_eq!(
            mime(b"ID3\x04\0\0\0\0\0\0\xFF\xF1\x50\x80"),
            Some("audio/aac")
        );
        assert_eq!(mime(b"\xFF\xFB\x90\x64\0\0"), Some("audio/mpeg"));
        assert_eq!(mime(b"\xFF\xF1\x50\x80\x02\x1F\xFC"), Some("audio/aac"));
        assert_eq!(mime(b"PK\x03\x04\x14\0"), Some("application/zip"));
        assert_eq!(mime(b"\n%PDF-1.4"), Some("application/pdf"));
        assert_eq!(mime("héllo\n".as_bytes()), Some("text/plain"));
        assert_eq!(mime(b"h\xC3"), Some("text/plain"), "cut character");
        assert_eq!(mime(b"a\0b"), None);
        assert_eq!(mime(b""), None);
        assert_eq!(mime(b"\xFF\xFF\xFF"), None);
    }

    #[test]
    fn webp_animation_comes_from_the_file() {
        let mut vp8x = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0".to_vec();
        vp8x.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(sniff(&vp8x).is_some_and(|s| s.animated));
        vp8x[20] = 0x10; // alpha only
        assert!(sniff(&vp8x).is_some_and(|s| !s.animated));
        vp8x.extend_from_slice(b"ANIM\x06\0\0\0");
        assert!(sniff(&vp8x).is_some_and(|s| s.animated));
        let huge = b"RIFF\0\0\0\0WEBPVP8 \xff\xff\xff\xff";
        assert_eq!(
            sniff(huge),
            Some(Sniffed {
                mime: "image/webp",
                animated: false
            })
        );
    }
}
