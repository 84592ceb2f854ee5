//! Every file in `fixtures/media/` validated as `manifest.json` says it must be: sniffed type,
//! animation flag, size, digest, and the exact list of problems (or acceptance).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Deserialize;
use wa_media_types::{
    sniff, validate_upload, MediaKind, MediaType, Problem, Sha256Digest, UploadCandidate, SNIFF_LEN,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/media")
}

#[derive(Deserialize)]
struct Manifest {
    files: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    file: String,
    mime: MediaType,
    kind: MediaKind,
    size: u64,
    sha256: Sha256Digest,
    sniffed: Option<String>,
    animated: bool,
    accept: bool,
    problems: Vec<String>,
}

fn manifest() -> Manifest {
    let raw = std::fs::read(dir().join("manifest.json")).expect("fixtures/media/manifest.json");
    serde_json::from_slice(&raw).expect("manifest parses")
}

/// The variant name of a problem (`TooLarge { .. }` → `TooLarge`).
fn variant(p: &Problem) -> String {
    let dbg = format!("{p:?}");
    dbg.split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn every_file_validates_as_the_manifest_says() {
    let m = manifest();
    assert!(m.files.len() >= 20);
    for e in &m.files {
        let bytes = std::fs::read(dir().join(&e.file)).unwrap();
        assert_eq!(bytes.len() as u64, e.size, "{}", e.file);
        assert_eq!(Sha256Digest::of(&bytes), e.sha256, "{}", e.file);
        let head = &bytes[..bytes.len().min(SNIFF_LEN)];
        let sniffed = sniff(head);
        assert_eq!(sniffed.map(|s| s.mime), e.sniffed.as_deref(), "{}", e.file);
        assert_eq!(
            sniffed.is_some_and(|s| s.animated),
            e.animated,
            "{}",
            e.file
        );

        let candidate = UploadCandidate {
            kind: Some(e.kind),
            mime: &e.mime,
            len: e.size,
            head,
        };
        match validate_upload(&candidate) {
            Ok(v) => {
                assert!(e.accept, "{} accepted, expected {:?}", e.file, e.problems);
                assert_eq!(v.kind, e.kind, "{}", e.file);
                assert_eq!(v.animated, e.animated, "{}", e.file);
                assert_eq!(v.max_bytes, e.kind.max_bytes(e.animated), "{}", e.file);
                assert!(e.size <= v.max_bytes, "{}", e.file);
            }
            Err(err) => {
                assert!(!e.accept, "{} refused: {err}", e.file);
                let got: Vec<String> = err.problems.iter().map(variant).collect();
                assert_eq!(got, e.problems, "{}: {err}", e.file);
            }
        }
        // Inferring the kind from the MIME type gives the same verdict, except for voice notes
        // (inferred as audio) which are fine either way.
        let inferred = validate_upload(&UploadCandidate {
            kind: None,
            ..candidate
        });
        assert_eq!(
            inferred.is_ok(),
            e.accept,
            "{} with the kind inferred",
            e.file
        );
    }
}

#[test]
fn tricky_files_say_what_to_do() {
    let m = manifest();
    let check = |name: &str| {
        let e = m.files.iter().find(|e| e.file == name).unwrap();
        let bytes = std::fs::read(dir().join(name)).unwrap();
        validate_upload(&UploadCandidate {
            kind: Some(e.kind),
            mime: &e.mime,
            len: e.size,
            head: &bytes,
        })
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        check("photo.jpg"),
        "the file cannot be uploaded: the contents look like image/png, not the declared \
         image/jpeg: declare the real type or convert the file"
    );
    assert!(check("vorbis.ogg").contains("audio/ogg must hold Opus, but this is vorbis"));
    assert!(check("sticker-static-over-limit.webp").contains(
        "the file is 102401 bytes, over the limit of 102400 bytes (100 KB) for a static sticker"
    ));
    assert!(check("empty.txt").contains("the file is empty"));
    assert!(check("error-page.jpg").contains("look like text/plain"));
}

#[test]
fn the_same_files_are_refused_under_the_wrong_declaration() {
    let read = |n: &str| std::fs::read(dir().join(n)).unwrap();
    let problems = |kind: Option<MediaKind>, mime: &str, bytes: &[u8]| {
        let mime: MediaType = mime.parse().unwrap();
        validate_upload(&UploadCandidate {
            kind,
            mime: &mime,
            len: bytes.len() as u64,
            head: bytes,
        })
        .err()
        .map(|e| e.problems.iter().map(variant).collect::<Vec<_>>())
        .unwrap_or_default()
    };
    let voice = read("voice.ogg");
    assert_eq!(problems(None, "audio/opus", &voice), ["OpusMimeType"]);
    assert!(problems(None, "audio/ogg", &voice).is_empty());
    assert_eq!(
        problems(Some(MediaKind::Voice), "audio/ogg", &read("vorbis.ogg")),
        ["NotOpus"]
    );
    assert_eq!(
        problems(Some(MediaKind::Voice), "audio/mpeg", &read("audio.mp3")),
        ["VoiceRequiresOggOpus"]
    );
    assert_eq!(
        problems(Some(MediaKind::Image), "image/webp", &read("sticker.webp")),
        ["WebpAsImage"]
    );
    assert_eq!(
        problems(Some(MediaKind::Video), "video/mp4", &read("video.3gp")),
        Vec::<String>::new()
    );
    assert_eq!(
        problems(Some(MediaKind::Audio), "audio/mpeg", &read("audio.aac")),
        ["ContentMismatch"]
    );
    let animated = read("sticker-animated-150k.webp");
    assert!(problems(None, "image/webp", &animated).is_empty());
    // The same size without the animation flag is over the static limit.
    assert_eq!(
        problems(None, "image/webp", &read("sticker-static-over-limit.webp")),
        ["TooLarge"]
    );
}

#[test]
fn every_media_fixture_is_in_the_manifest() {
    let listed: BTreeSet<String> = manifest().files.into_iter().map(|e| e.file).collect();
    let mut present: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(present.remove("manifest.json"));
    assert_eq!(present, listed);
}
