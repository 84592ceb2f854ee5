//! Deterministic generator for `fixtures/media/`: sample files of every kind plus tricky ones,
//! and `manifest.json` saying what validation must decide about each. The CLI's demo samples
//! (`crates/wa-media-cli/demo-media/`, [`CLI_DEMO_FILES`]) are copies of some of them.
//!
//! `cargo xtask fixtures` writes the files; `cargo xtask fixtures --check` fails when a
//! committed file differs from what the generator makes, is missing, or is not generated.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::media;

/// Binary units, as in wa-media-types: 1 KB = 1,024 bytes.
const KB: usize = 1024;
/// The static sticker limit (100 KB).
const STICKER_STATIC_MAX: usize = 100 * KB;

/// One generated file and what validation must say about it.
struct Sample {
    file: &'static str,
    bytes: Vec<u8>,
    /// The MIME type an uploader would declare (from the file name).
    mime: &'static str,
    /// The kind it is uploaded as.
    kind: &'static str,
    /// What content sniffing must find (`None`: nothing recognisable).
    sniffed: Option<&'static str>,
    animated: bool,
    /// Names of the `Problem` variants validation must report, in order; empty = accepted.
    problems: &'static [&'static str],
    note: &'static str,
}

fn samples() -> Vec<Sample> {
    let png = media::png();
    vec![
        Sample {
            file: "image.jpg",
            bytes: media::jpeg(),
            mime: "image/jpeg",
            kind: "image",
            sniffed: Some("image/jpeg"),
            animated: false,
            problems: &[],
            note: "1x1 baseline JFIF",
        },
        Sample {
            file: "image.png",
            bytes: png.clone(),
            mime: "image/png",
            kind: "image",
            sniffed: Some("image/png"),
            animated: false,
            problems: &[],
            note: "4x4 RGB, stored deflate, valid CRCs",
        },
        Sample {
            file: "photo.jpg",
            bytes: png,
            mime: "image/jpeg",
            kind: "image",
            sniffed: Some("image/png"),
            animated: false,
            problems: &["ContentMismatch"],
            note: "a PNG named .jpg: the contents contradict the declared type",
        },
        Sample {
            file: "error-page.jpg",
            bytes: b"<!DOCTYPE html>\n<html><body>Sorry, this content isn't available right now</body></html>\n"
                .to_vec(),
            mime: "image/jpeg",
            kind: "image",
            sniffed: Some("text/plain"),
            animated: false,
            problems: &["ContentMismatch"],
            note: "an HTML error page saved as a photo",
        },
        Sample {
            file: "sticker.webp",
            bytes: media::webp_static(),
            mime: "image/webp",
            kind: "sticker",
            sniffed: Some("image/webp"),
            animated: false,
            problems: &[],
            note: "simple-format lossless 1x1",
        },
        Sample {
            file: "sticker-animated.webp",
            bytes: media::webp_animated(None),
            mime: "image/webp",
            kind: "sticker",
            sniffed: Some("image/webp"),
            animated: true,
            problems: &[],
            note: "VP8X animation flag, ANIM, two ANMF frames",
        },
        Sample {
            file: "sticker-animated-150k.webp",
            bytes: media::webp_animated(Some(150 * KB)),
            mime: "image/webp",
            kind: "sticker",
            sniffed: Some("image/webp"),
            animated: true,
            problems: &[],
            note: "over the static limit, under the animated one: the file's own flag decides",
        },
        Sample {
            file: "sticker-static-100k.webp",
            bytes: media::webp_static_sized(STICKER_STATIC_MAX),
            mime: "image/webp",
            kind: "sticker",
            sniffed: Some("image/webp"),
            animated: false,
            problems: &[],
            note: "static, exactly at the 100 KB limit (102400 bytes)",
        },
        Sample {
            file: "sticker-static-over-limit.webp",
            bytes: media::webp_static_sized(STICKER_STATIC_MAX + 1),
            mime: "image/webp",
            kind: "sticker",
            sniffed: Some("image/webp"),
            animated: false,
            problems: &["TooLarge"],
            note: "static, one byte over the 100 KB limit (102401 bytes; last chunk unpadded)",
        },
        Sample {
            file: "document.pdf",
            bytes: media::pdf(),
            mime: "application/pdf",
            kind: "document",
            sniffed: Some("application/pdf"),
            animated: false,
            problems: &[],
            note: "one page, correct xref offsets",
        },
        Sample {
            file: "notes.txt",
            bytes: "Shopping list — café, pão, 🍋\nSecond line\n".as_bytes().to_vec(),
            mime: "text/plain",
            kind: "document",
            sniffed: Some("text/plain"),
            animated: false,
            problems: &[],
            note: "UTF-8 text",
        },
        Sample {
            file: "latin1.txt",
            bytes: b"Caf\xe9 cr\xe8me, na\xefve fa\xe7ade\r\n".to_vec(),
            mime: "text/plain",
            kind: "document",
            sniffed: None,
            animated: false,
            problems: &[],
            note: "ISO-8859-1 text: not UTF-8, but text (no NUL byte), so accepted",
        },
        Sample {
            file: "empty.txt",
            bytes: Vec::new(),
            mime: "text/plain",
            kind: "document",
            sniffed: None,
            animated: false,
            problems: &["Empty"],
            note: "zero bytes",
        },
        Sample {
            file: "voice.ogg",
            bytes: media::ogg_opus(),
            mime: "audio/ogg; codecs=opus",
            kind: "voice",
            sniffed: Some("audio/ogg; codecs=opus"),
            animated: false,
            problems: &[],
            note: "Ogg Opus: OpusHead, OpusTags, 5 silent 20 ms frames, valid page CRCs",
        },
        Sample {
            file: "vorbis.ogg",
            bytes: media::ogg_vorbis(),
            mime: "audio/ogg",
            kind: "audio",
            sniffed: Some("audio/ogg; codecs=vorbis"),
            animated: false,
            problems: &["NotOpus"],
            note: "Ogg Vorbis headers: WhatsApp accepts only Opus in Ogg",
        },
        Sample {
            file: "audio.mp3",
            bytes: media::mp3(),
            mime: "audio/mpeg",
            kind: "audio",
            sniffed: Some("audio/mpeg"),
            animated: false,
            problems: &[],
            note: "ID3v2.4 tag and three silent MPEG-1 Layer III frames",
        },
        Sample {
            file: "audio.aac",
            bytes: media::aac(),
            mime: "audio/aac",
            kind: "audio",
            sniffed: Some("audio/aac"),
            animated: false,
            problems: &[],
            note: "four ADTS AAC-LC frames",
        },
        Sample {
            file: "audio.amr",
            bytes: media::amr(),
            mime: "audio/amr",
            kind: "audio",
            sniffed: Some("audio/amr"),
            animated: false,
            problems: &[],
            note: "AMR-NB 12.2 kbit/s frames",
        },
        Sample {
            file: "audio.m4a",
            bytes: media::iso_bmff(b"M4A ", &[b"M4A ", b"mp42", b"isom"]),
            mime: "audio/mp4",
            kind: "audio",
            sniffed: Some("audio/mp4"),
            animated: false,
            problems: &[],
            note: "ftyp M4A, moov/mvhd, empty mdat",
        },
        Sample {
            file: "video.mp4",
            bytes: media::iso_bmff(b"isom", &[b"isom", b"iso2", b"mp41"]),
            mime: "video/mp4",
            kind: "video",
            sniffed: Some("video/mp4"),
            animated: false,
            problems: &[],
            note: "ftyp isom, moov/mvhd, empty mdat",
        },
        Sample {
            file: "video.3gp",
            bytes: media::iso_bmff(b"3gp4", &[b"isom", b"3gp4"]),
            mime: "video/3gpp",
            kind: "video",
            sniffed: Some("video/3gpp"),
            animated: false,
            problems: &[],
            note: "ftyp 3gp4, moov/mvhd, empty mdat",
        },
    ]
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn manifest(samples: &[Sample]) -> String {
    let mut m = String::from("{\n  \"generator\": \"cargo xtask fixtures\",\n  \"files\": [\n");
    for (i, s) in samples.iter().enumerate() {
        let sha = hex(&Sha256::digest(&s.bytes));
        let problems: Vec<String> = s.problems.iter().map(|p| json_str(p)).collect();
        let _ = write!(
            m,
            "    {{\n      \"file\": {},\n      \"mime\": {},\n      \"kind\": {},\n      \"size\": {},\n      \"sha256\": \"{sha}\",\n      \"sniffed\": {},\n      \"animated\": {},\n      \"accept\": {},\n      \"problems\": [{}],\n      \"note\": {}\n    }}{}\n",
            json_str(s.file),
            json_str(s.mime),
            json_str(s.kind),
            s.bytes.len(),
            s.sniffed.map_or("null".to_owned(), json_str),
            s.animated,
            s.problems.is_empty(),
            problems.join(", "),
            json_str(s.note),
            if i + 1 < samples.len() { "," } else { "" },
        );
    }
    m.push_str("  ]\n}\n");
    m
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Every file the generator makes, by name (manifest included).
fn generate() -> BTreeMap<String, Vec<u8>> {
    let samples = samples();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert("manifest.json".into(), manifest(&samples).into_bytes());
    for s in samples {
        files.insert(s.file.into(), s.bytes);
    }
    files
}

/// The samples `wa-media demo` embeds with `include_bytes!`
/// (`crates/wa-media-cli/src/commands/demo.rs`). They are copied into the CLI crate, because a
/// published crate's package holds only files under its own directory (`cargo xtask package`
/// checks it), and kept identical to the generator's output like `fixtures/media/`.
pub const CLI_DEMO_FILES: &[&str] = &[
    "image.jpg",
    "image.png",
    "sticker.webp",
    "sticker-animated.webp",
    "document.pdf",
    "notes.txt",
    "voice.ogg",
    "audio.mp3",
    "audio.aac",
    "audio.amr",
    "audio.m4a",
    "video.mp4",
    "video.3gp",
    "vorbis.ogg",
];

/// Generates the media fixtures (`fixtures/media/` and the CLI's `demo-media/`), or checks the
/// committed ones when `check` is set.
pub fn run(root: &Path, check: bool) -> Result<(), String> {
    let all = generate();
    let demo: BTreeMap<String, Vec<u8>> = CLI_DEMO_FILES
        .iter()
        .map(|name| {
            let bytes = all
                .get(*name)
                .ok_or_else(|| format!("CLI_DEMO_FILES names {name}, which is not generated"))?;
            Ok((name.to_string(), bytes.clone()))
        })
        .collect::<Result<_, String>>()?;
    let fixtures = sync(root, &root.join("fixtures").join("media"), &all, check);
    let demo = sync(
        root,
        &root.join("crates/wa-media-cli/demo-media"),
        &demo,
        check,
    );
    fixtures.and(demo)
}

/// Writes `files` into `dir`, or (when `check` is set) fails unless `dir` holds exactly them.
fn sync(
    root: &Path,
    dir: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    check: bool,
) -> Result<(), String> {
    let shown = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
    if check {
        let mut problems = Vec::new();
        for (name, want) in files {
            match std::fs::read(dir.join(name)) {
                Ok(have) if &have == want => {}
                Ok(have) => problems.push(format!(
                    "{name}: differs from the generator ({} bytes committed, {} generated)",
                    have.len(),
                    want.len()
                )),
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
        let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {shown}: {e}"))?;
        for entry in entries {
            let name = entry
                .map_err(|e| e.to_string())?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if !files.contains_key(&name) {
                problems.push(format!("{name}: not made by the generator (remove it)"));
            }
        }
        if problems.is_empty() {
            eprintln!("{shown}: {} files up to date", files.len());
            return Ok(());
        }
        return Err(format!(
            "{shown} is out of date; run `cargo xtask fixtures` and commit:\n  {}",
            problems.join("\n  ")
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {shown}: {e}"))?;
    let total: usize = files.values().map(Vec::len).sum();
    for (name, bytes) in files {
        let path = dir.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    eprintln!("{shown}: {} files, {total} bytes", files.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_files_match_the_generator() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        if let Err(e) = run(&root, true) {
            panic!("{e}");
        }
    }

    #[test]
    fn generation_is_deterministic_and_small() {
        let a = generate();
        assert_eq!(a, generate());
        let total: usize = a.values().map(Vec::len).sum();
        assert!(total < 1_500_000, "{total} bytes");
        assert_eq!(a["sticker-static-over-limit.webp"].len(), 102_401);
        assert_eq!(a["sticker-static-100k.webp"].len(), 102_400);
    }
}
