//! Path safety of `wa-media inbound`, end to end: webhook notifications whose document filename
//! is hostile (path traversal, absolute paths, Windows paths and device names, dot files,
//! control characters, over-long names) are downloaded by the built binary from the emulator,
//! and every file lands directly inside the target directory — nothing is created anywhere
//! else, no subdirectory appears, no name is a device name or hidden.

#[allow(dead_code)]
mod common;

use common::{fixture, BIN};
use std::path::{Path, PathBuf};
use std::process::Command;

use wa_media_emulator::{Emulator, InboundMessage};

const TOKEN: &str = "EAAGpathSAFETYtoken0123456789";
const SECRET: &str = "path-safety-app-secret";

const HOSTILE: [&str; 16] = [
    "../../etc/passwd",
    "../../../../../../../../tmp/escaped.pdf",
    "/etc/passwd",
    "/tmp/absolute.pdf",
    "..\\..\\windows\\system32\\cmd.exe",
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\x.pdf",
    "CON",
    "nul.txt",
    "COM1.pdf",
    "lpt9",
    "..",
    ".bashrc",
    "a/../../b.pdf",
    "evil\u{0}name\n.pdf",
    "long-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on.pdf",
];

const DEVICES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Every file and directory under `root`, recursively, relative to it.
fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

#[test]
fn hostile_document_filenames_never_escape_the_target_directory() {
    let rt = wa_media_testkit::net::runtime();
    let emu = rt
        .block_on(Emulator::builder().token(TOKEN).start())
        .unwrap();
    let pdf = std::fs::read(fixture("document.pdf")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let payloads = tempfile::tempdir().unwrap();
    let inbox = root.path().join("inbox");
    // Names outside the inbox that a traversal would reach.
    let before_tmp: Vec<_> = ["/tmp/escaped.pdf", "/tmp/absolute.pdf"]
        .iter()
        .map(|p| Path::new(p).exists())
        .collect();

    for (i, name) in HOSTILE.iter().enumerate() {
        let mut msg = InboundMessage::new(pdf.clone(), "application/pdf");
        msg.filename = Some((*name).to_owned());
        let sim = rt.block_on(emu.simulate_inbound(msg)).unwrap();
        let payload = payloads.path().join(format!("webhook-{i}.json"));
        std::fs::write(&payload, &sim.body).unwrap();
        let out = Command::new(BIN)
            .env_remove("WHATSAPP_TRUSTED_HOSTS")
            .env_remove("RUST_LOG")
            .env("WHATSAPP_TOKEN", TOKEN)
            .env("WHATSAPP_GRAPH_URL", emu.graph_url())
            .args(["--trust-host", &emu.lookaside_addr().to_string()])
            .args(["--json", "inbound"])
            .arg(&payload)
            .arg("-d")
            .arg(&inbox)
            .args(["--app-secret", SECRET, "--signature"])
            .arg(sim.signature_header(SECRET.as_bytes()))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let path = PathBuf::from(line["path"].as_str().unwrap());
        assert_eq!(
            path.parent(),
            Some(inbox.as_path()),
            "{name:?} was written to {}",
            path.display()
        );
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !file.starts_with('.'),
            "{name:?} became a hidden file {file:?}"
        );
        assert!(
            !file.contains(['/', '\\', '\0', '\n', ':']),
            "{name:?} became {file:?}"
        );
        assert!(
            file.len() <= 255,
            "{name:?} became a {}-byte name",
            file.len()
        );
        let stem = file.split('.').next().unwrap().to_ascii_uppercase();
        assert!(
            !DEVICES.contains(&stem.as_str()),
            "{name:?} became device name {file:?}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), pdf, "{name:?}: content");
    }

    // Nothing but files directly inside the inbox; nothing created elsewhere.
    for p in tree(root.path()) {
        assert!(
            p == Path::new("inbox") || p.parent() == Some(Path::new("inbox")),
            "unexpected path {}",
            p.display()
        );
        assert!(!root.path().join(&p).is_dir() || p == Path::new("inbox"));
    }
    let after_tmp: Vec<_> = ["/tmp/escaped.pdf", "/tmp/absolute.pdf"]
        .iter()
        .map(|p| Path::new(p).exists())
        .collect();
    assert_eq!(
        before_tmp, after_tmp,
        "a traversal wrote outside the target"
    );
    assert!(!tree(root.path()).is_empty());
    rt.block_on(emu.shutdown());
}
