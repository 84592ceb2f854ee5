//! Fuzz harness: the content sniffer and the pre-upload validator on arbitrary bytes, with a
//! declared MIME type, kind and length chosen by the input. Shared by the `sniff_validate` fuzz
//! target and the corpus replay test; must never panic.

use wa_media_types::{sniff, validate_upload, MediaKind, MediaType, UploadCandidate, SNIFF_LEN};

const MIMES: [&str; 16] = [
    "image/jpeg",
    "image/png",
    "image/webp",
    "audio/ogg; codecs=opus",
    "audio/ogg",
    "audio/mpeg",
    "audio/aac",
    "audio/amr",
    "audio/mp4",
    "video/mp4",
    "video/3gpp",
    "application/pdf",
    "text/plain",
    "application/octet-stream",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "image/gif",
];

/// Runs one input: byte 0 picks the MIME type (or, with its top bit, parses one from the input),
/// byte 1 the kind and whether the length is taken from the input; the rest is the file.
pub fn run(data: &[u8]) {
    let _ = sniff(data);
    if let Ok(text) = std::str::from_utf8(&data[..data.len().min(200)]) {
        if let Ok(m) = MediaType::parse(text) {
            let _ = (m.essence(), m.param("codecs"), m.is_opus(), m.to_string());
        }
    }
    let (sel, file) = data.split_at(data.len().min(2));
    let a = sel.first().copied().unwrap_or(0);
    let b = sel.get(1).copied().unwrap_or(0);
    let mime = if a & 0x80 != 0 {
        let end = file
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(file.len().min(100));
        match MediaType::parse(&String::from_utf8_lossy(&file[..end])) {
            Ok(m) => m,
            Err(_) => return,
        }
    } else {
        MediaType::parse(MIMES[a as usize % MIMES.len()]).expect("a valid MIME type")
    };
    let kind = match b % 8 {
        0 | 7 => None,
        i => Some(MediaKind::ALL[(i - 1) as usize]),
    };
    let len = if b & 0x80 != 0 {
        let mut n = [0u8; 8];
        for (d, s) in n.iter_mut().zip(file.iter()) {
            *d = *s;
        }
        u64::from_le_bytes(n)
    } else {
        file.len() as u64
    };
    let head = &file[..file.len().min(SNIFF_LEN)];
    match validate_upload(&UploadCandidate {
        kind,
        mime: &mime,
        len,
        head,
    }) {
        Ok(v) => {
            assert!(
                len <= v.max_bytes,
                "accepted {len} bytes over the limit {}",
                v.max_bytes
            );
        }
        Err(e) => {
            assert!(!e.problems.is_empty(), "a refusal lists its problems");
            let _ = e.to_string();
        }
    }
}
