//! `wa-media inbound PAYLOAD -d DIR`: verify the webhook's signature when asked, then download
//! and verify every media the notification references, a few at a time.
//!
//! Each media is fetched with the webhook's own `sha256` as the expected digest (checked by the
//! library before anything is downloaded and before the file is put in place) and with
//! [`Existing::KeepBoth`]: a name already holding a *different* media gets the next free
//! suffix, claimed atomically, and the same media again is recognised as already saved.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use serde_json::json;
use wa_media_core::{Existing, FetchOptions, MediaClient};
use wa_media_types::filename::inbound_file_name;
use wa_media_types::verify_signature;
use wa_media_types::webhook::{inbound_media, InboundMedia, Notification};
use wa_media_webhook::{Saved, SavedRecord, SpoolEntry};

use crate::cli::{Global, InboundArgs};
use crate::failure::{Exit, Failure};
use crate::progress::Bars;
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
    let notification = Notification::from_slice(&raw).map_err(|e| {
        Failure::new(
            Exit::Validation,
            format!("not a valid WhatsApp webhook notification, nothing downloaded: {e}"),
        )
    })?;
    let media = inbound_media(&notification);
    if media.is_empty() {
        output::info(g.quiet || g.json, "the notification references no media");
        return Ok(());
    }
    if args.concurrency == 0 {
        return Err(Failure::usage("--concurrency must be at least 1"));
    }
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Failure::other(format!("cannot create {}: {e}", args.dir.display())))?;
    let client = client::build(g)?;
    let bars = Bars::new(g.quiet, g.json);
    let overall = bars.items("inbound", media.len() as u64);
    // One byte bar at a time only; concurrent ones would draw over each other.
    let fetch_bars = if args.concurrency == 1 {
        bars
    } else {
        bars.hidden()
    };

    // Names are chosen up front, in payload order, distinct within the run even on a
    // case-insensitive filesystem; across runs the library claims free names atomically.
    let mut used = HashSet::new();
    let jobs: Vec<(&InboundMedia, PathBuf)> = media
        .iter()
        .map(|m| {
            let name = inbound_file_name(&m.message_id, &m.mime_type, m.filename.as_deref());
            (m, unique_path(&args.dir, &name, &mut used))
        })
        .collect();
    // Bounded concurrency; `buffered` yields results in payload order.
    let mut results = futures_util::stream::iter(jobs)
        .map(|(m, path)| {
            let client = &client;
            async move { (m, fetch_one(client, m, &path, fetch_bars).await) }
        })
        .buffered(args.concurrency);

    let mut worst: Option<Failure> = None;
    while let Some((m, result)) = results.next().await {
        overall.inc(1);
        match result {
            Ok((record, already)) if g.json => {
                output::json(&record.to_event(if already { "already_saved" } else { "saved" }))?
            }
            Ok((record, already)) => output::line(&format!(
                "{} {} {} bytes {} sha256 {} ({})",
                record.media_id,
                record.path,
                record.file_size,
                record.mime_type,
                record.sha256,
                if already {
                    "verified, already saved"
                } else {
                    "verified"
                },
            ))?,
            Err(f) => {
                if g.json {
                    output::json(&json!({
                        "event": "failed",
                        "media_id": m.media_id.as_str(),
                        "message_id": m.message_id,
                        "error": f.message,
                    }))?;
                } else {
                    eprintln!("wa-media: {} ({}): {}", m.media_id, m.message_id, f.message);
                }
                if worst.as_ref().is_none_or(|w| f.exit > w.exit) {
                    worst = Some(f);
                }
            }
        }
    }
    overall.finish_and_clear();
    match worst {
        None => Ok(()),
        Some(f) => Err(Failure::new(
            f.exit,
            format!("not every media was downloaded; worst cause: {}", f.message),
        )),
    }
}

async fn fetch_one(
    client: &MediaClient,
    m: &InboundMedia,
    path: &Path,
    bars: Bars,
) -> Result<(SavedRecord, bool), Failure> {
    // The webhook's digest is the library's expected digest: a retrieve answer or a body that
    // disagrees never reaches `path`, and whatever was there stays as it was.
    let mut options = FetchOptions::default().existing(Existing::KeepBoth);
    if let Some(sha) = m.sha256 {
        options = options.expect_sha256(sha);
    }
    // Fetched by a clone for the business number that received it (sharing the connection
    // pool), as the webhook service's ingest does.
    let for_number = m
        .phone_number_id
        .as_deref()
        .and_then(|p| p.parse::<wa_media_types::PhoneNumberId>().ok())
        .map(|p| client.with_phone_number_id(p));
    let client = for_number.as_ref().unwrap_or(client);
    let file = super::download::fetch(client, &m.media_id, path, options, bars).await?;
    // The record every sink writes (the same fields as `serve`'s events and index lines).
    let saved = Saved::new(
        file.path.to_string_lossy(),
        file.file_size,
        file.sha256,
        file.already_present,
    );
    let entry = SpoolEntry::received_now(m, None);
    Ok((SavedRecord::new(&entry, &saved), file.already_present))
}

/// `name` inside `dir`, with `-1`, `-2`… before the extension when this run already used it,
/// compared case-insensitively (so names stay distinct on case-insensitive filesystems).
fn unique_path(dir: &Path, name: &str, used: &mut HashSet<String>) -> PathBuf {
    let mut n = 0;
    let mut candidate = name.to_string();
    while !used.insert(candidate.to_lowercase()) {
        n += 1;
        candidate = wa_media_types::filename::numbered(name, n);
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
        return Err(Failure::new(
            Exit::Validation,
            format!("the payload is larger than {MAX_PAYLOAD} bytes; not a webhook notification"),
        ));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_within_a_run_differ_case_insensitively() {
        let mut used = HashSet::new();
        let dir = Path::new("in");
        let a = unique_path(dir, "Report.PDF", &mut used);
        let b = unique_path(dir, "report.pdf", &mut used);
        let c = unique_path(dir, "REPORT.pdf", &mut used);
        assert_eq!(a, dir.join("Report.PDF"));
        assert_eq!(b, dir.join("report-1.pdf"));
        assert_eq!(c, dir.join("REPORT-2.pdf"));
    }
}
