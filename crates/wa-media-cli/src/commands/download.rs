//! `wa-media download MEDIA_ID -o PATH`: fresh URL, download, verify, atomic write.

use std::path::Path;

use serde_json::json;
use wa_media_hyper::{FetchOptions, FetchedFile, MediaApiExt, MediaId};

use crate::cli::Global;
use crate::failure::Failure;
use crate::progress::Bars;
use crate::{client, output};

/// Runs `download`.
pub async fn run(g: &Global, media_id: &str, out: &Path) -> Result<(), Failure> {
    let id = output::media_id(media_id)?;
    let client = client::build(g)?;
    let bars = Bars::new(g.quiet, g.json);
    if out == Path::new("-") {
        // Never stream unverified bytes to stdout: verify into a private temporary file first.
        let dir = tempfile::tempdir()
            .map_err(|e| Failure::other(format!("cannot create a temporary directory: {e}")))?;
        let tmp = dir.path().join("media");
        let file = fetch(&client, &id, &tmp, bars).await?;
        let mut src = std::fs::File::open(&file.path)
            .map_err(|e| Failure::other(format!("cannot reopen download: {e}")))?;
        let mut stdout = std::io::stdout().lock();
        std::io::copy(&mut src, &mut stdout)
            .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))?;
        return Ok(());
    }
    let file = fetch(&client, &id, out, bars).await?;
    if g.json {
        output::json(&json!({
            "id": id.as_str(),
            "path": file.path,
            "mime_type": file.mime_type,
            "file_size": file.file_size,
            "sha256": file.sha256.to_hex(),
        }))
    } else {
        output::line(&format!(
            "{} {} bytes {} sha256 {} (verified)",
            file.path.display(),
            file.file_size,
            file.mime_type,
            file.sha256
        ))
    }
}

/// Fetches `id` into `path` with a progress bar; shared with `inbound`.
pub async fn fetch(
    client: &wa_media_hyper::HyperMediaClient,
    id: &MediaId,
    path: &Path,
    bars: Bars,
) -> Result<FetchedFile, Failure> {
    let bar = bars.bytes("download", None);
    let progress_bar = bar.clone();
    let options = FetchOptions::default().with_progress(move |done: u64, total: Option<u64>| {
        if let Some(t) = total {
            progress_bar.set_length(t);
        }
        progress_bar.set_position(done);
    });
    let result = client.fetch_to_file_with(id, path, options).await;
    bar.finish_and_clear();
    Ok(result?)
}
