//! `wa-media download MEDIA_ID -o PATH`: fresh URL, download, verify, atomic write. A
//! character device or FIFO (and `-` for stdout) receives the verified bytes streamed into it
//! instead, since it cannot be replaced atomically and must never be replaced at all.

use std::path::Path;

use serde_json::json;
use wa_media_core::{FetchOptions, FetchedFile, MediaApiExt, MediaClient};
use wa_media_types::MediaId;

use crate::cli::Global;
use crate::failure::Failure;
use crate::progress::Bars;
use crate::{client, output};

/// Where `-o` points.
enum Target {
    /// A path to write atomically (a regular file, or nothing yet).
    File,
    /// Standard output.
    Stdout,
    /// A character device or FIFO: opened for writing, never replaced.
    Stream,
}

fn target(out: &Path) -> Target {
    if out == Path::new("-") {
        return Target::Stdout;
    }
    // Follows symlinks: `/dev/stdout` and links to devices count as what they point at.
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(out) {
        use std::os::unix::fs::FileTypeExt;
        let ft = meta.file_type();
        if ft.is_char_device() || ft.is_fifo() {
            return Target::Stream;
        }
    }
    Target::File
}

/// Runs `download`.
pub async fn run(g: &Global, media_id: &str, out: &Path) -> Result<(), Failure> {
    let id = output::media_id(media_id)?;
    let client = client::build(g)?;
    let bars = Bars::new(g.quiet, g.json);
    let file = match target(out) {
        Target::Stdout => {
            return fetch_streamed(&client, &id, bars, |src| {
                let mut stdout = std::io::stdout().lock();
                std::io::copy(src, &mut stdout)
                    .map_err(|e| Failure::other(format!("cannot write to stdout: {e}")))
            })
            .await
            .map(|_| ())
        }
        Target::Stream => {
            let mut file = fetch_streamed(&client, &id, bars, |src| {
                let mut dest = std::fs::OpenOptions::new()
                    .write(true)
                    .open(out)
                    .map_err(|e| Failure::other(format!("cannot open {}: {e}", out.display())))?;
                std::io::copy(src, &mut dest)
                    .map_err(|e| Failure::other(format!("cannot write to {}: {e}", out.display())))
            })
            .await?;
            file.path = out.to_owned();
            file
        }
        Target::File => fetch(&client, &id, out, FetchOptions::default(), bars).await?,
    };
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

/// Verifies into a private temporary file first — unverified bytes never reach `write` —
/// then hands the verified file to `write` (stdout, a device, a FIFO).
async fn fetch_streamed(
    client: &MediaClient,
    id: &MediaId,
    bars: Bars,
    write: impl FnOnce(&mut std::fs::File) -> Result<u64, Failure>,
) -> Result<FetchedFile, Failure> {
    let dir = tempfile::tempdir()
        .map_err(|e| Failure::other(format!("cannot create a temporary directory: {e}")))?;
    let tmp = dir.path().join("media");
    let file = fetch(client, id, &tmp, FetchOptions::default(), bars).await?;
    let mut src = std::fs::File::open(&file.path)
        .map_err(|e| Failure::other(format!("cannot reopen download: {e}")))?;
    write(&mut src)?;
    Ok(file)
}

/// Fetches `id` into `path` with a progress bar; shared with `inbound`.
pub async fn fetch(
    client: &MediaClient,
    id: &MediaId,
    path: &Path,
    options: FetchOptions,
    bars: Bars,
) -> Result<FetchedFile, Failure> {
    let bar = bars.bytes("download", None);
    let progress_bar = bar.clone();
    let options = options
        .restart(client.config().retry.clone())
        .timer(wa_media_hyper::TokioTimer)
        .with_progress(move |done: u64, total: Option<u64>| {
            if let Some(t) = total {
                progress_bar.set_length(t);
            }
            progress_bar.set_position(done);
        });
    let result = client.fetch_to_file_with(id, path, options).await;
    bar.finish_and_clear();
    Ok(result?)
}
