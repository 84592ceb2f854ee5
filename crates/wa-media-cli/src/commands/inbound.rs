//! `wa-media inbound PAYLOAD -d DIR`: verify the webhook's signature when asked, then download
//! and verify every media the notification references.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::json;
use wa_media_types::verify_signature;
use wa_media_types::webhook::{inbound_media, InboundMedia, Notification};

use crate::cli::{Global, InboundArgs};
use crate::failure::{Exit, Failure};
use crate::progress::Bars;
use crate::safe_name::inbound_file_name;
use crate::{client, output};

/// Largest webhook payload read, in bytes (Meta's notifications are a few KB).
const MAX_PAYLOAD: u64 = 4 * 1024 * 1024;

/// Runs `inbound`.
pub async fn run(g: &Global, args: InboundArgs) -> Result<(), Failure> {
    let raw = read_payload(&args.payload)?;
    if let (Some(secret), Some(header)) = (&args.app_secret, &args.signature) {
        verify_signature(secret.as_bytes(), &raw, header).map_err(|e| {
            Failure::other(format!(
                "webhook signature check failed, nothing downloaded: {e}"
            ))
        })?;
        output::info(g.quiet || g.json, "signature verified");
    }
    let notification = Notification::from_slice(&raw)
        .map_err(|e| Failure::usage(format!("not a WhatsApp webhook notification: {e}")))?;
    let media = inbound_media(&notification);
    if media.is_empty() {
        output::info(g.quiet || g.json, "the notification references no media");
        return Ok(());
    }
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Failure::other(format!("cannot create {}: {e}", args.dir.display())))?;
    let client = client::build(g)?;
    let bars = Bars::new(g.quiet, g.json);
    let mut used = HashSet::new();
    let mut worst: Option<Failure> = None;
    for m in &media {
        let path = unique_path(
            &args.dir,
            &inbound_file_name(&m.message_id, &m.mime_type, m.filename.as_deref()),
            &mut used,
        );
        match fetch_one(&client, m, &path, bars).await {
            Ok(file) if g.json => output::json(&file)?,
            Ok(file) => output::line(&format!(
                "{} {} {} bytes {} sha256 {} (verified)",
                m.media_id,
                file["path"].as_str().unwrap_or_default(),
                file["file_size"],
                file["mime_type"].as_str().unwrap_or_default(),
                file["sha256"].as_str().unwrap_or_default(),
            ))?,
            Err(f) => {
                if g.json {
                    output::json(
                        &json!({ "id": m.media_id.as_str(), "message_id": m.message_id, "error": f.message }),
                    )?;
                } else {
                    eprintln!("wa-media: {} ({}): {}", m.media_id, m.message_id, f.message);
                }
                if worst.as_ref().is_none_or(|w| f.exit > w.exit) {
                    worst = Some(f);
                }
            }
        }
    }
    match worst {
        None => Ok(()),
        Some(f) => Err(Failure::new(
            f.exit,
            format!("not every media was downloaded; last cause: {}", f.message),
        )),
    }
}

async fn fetch_one(
    client: &wa_media_hyper::HyperMediaClient,
    m: &InboundMedia,
    path: &Path,
    bars: Bars,
) -> Result<serde_json::Value, Failure> {
    let file = super::download::fetch(client, &m.media_id, path, bars).await?;
    // The webhook carries its own digest: it must agree with what was downloaded and verified.
    if let Some(expected) = m.sha256 {
        if expected != file.sha256 {
            let _ = std::fs::remove_file(&file.path);
            return Err(Failure::new(
                Exit::Integrity,
                format!("the webhook's sha256 {expected} does not match the downloaded media's {}; file removed", file.sha256),
            ));
        }
    }
    Ok(json!({
        "id": m.media_id.as_str(),
        "message_id": m.message_id,
        "kind": m.kind.as_str(),
        "path": file.path,
        "mime_type": file.mime_type,
        "file_size": file.file_size,
        "sha256": file.sha256.to_hex(),
    }))
}

/// `name` inside `dir`, with `-1`, `-2`… before the extension when this run already used it.
fn unique_path(dir: &Path, name: &str, used: &mut HashSet<String>) -> PathBuf {
    let mut candidate = name.to_string();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    let mut n = 1;
    while !used.insert(candidate.clone()) {
        candidate = format!("{stem}-{n}{ext}");
        n += 1;
    }
    dir.join(candidate)
}

fn read_payload(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    let res = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(MAX_PAYLOAD + 1)
            .read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_PAYLOAD + 1).read_to_end(&mut buf))
    };
    res.map_err(|e| Failure::other(format!("cannot read the payload {}: {e}", path.display())))?;
    if buf.len() as u64 > MAX_PAYLOAD {
        return Err(Failure::usage(format!(
            "the payload is larger than {MAX_PAYLOAD} bytes; not a webhook notification"
        )));
    }
    Ok(buf)
}
