//! `wa-media upload FILE`: validate locally, stream the file up, print the media id.

use std::io::Read;
use std::path::Path;

use serde_json::json;
use wa_media_core::{MediaApi, Upload};
use wa_media_types::{sniff_media_type, MediaKind, MediaType, SNIFF_LEN};

use crate::cli::{Global, UploadArgs};
use crate::failure::{Exit, Failure};
use crate::progress::Bars;
use crate::{client, output};

/// Runs `upload`.
pub async fn run(g: &Global, args: UploadArgs) -> Result<(), Failure> {
    let client = client::build(g)?;
    if args.resumable {
        return super::template::upload_resumable(g, &client, &args).await;
    }
    if client.config().phone_number_id.is_none() {
        return Err(Failure::usage(
            "uploads need the business phone number id: pass --phone-number-id or set WHATSAPP_PHONE_NUMBER_ID",
        ));
    }
    let meta = std::fs::metadata(&args.file)
        .map_err(|e| Failure::other(format!("cannot read {}: {e}", args.file.display())))?;
    if !meta.is_file() {
        return Err(Failure::usage(format!(
            "{} is not a regular file",
            args.file.display()
        )));
    }
    // Before the type is guessed from the contents: an empty file has none to guess from.
    // (With --no-validate and --mime it goes to the API, which refuses it.)
    if meta.len() == 0 && !(args.no_validate && args.mime.is_some()) {
        return Err(Failure::new(
            Exit::Validation,
            format!(
                "the upload was refused before sending: {} is empty (0 bytes): there is nothing to upload",
                args.file.display()
            ),
        ));
    }
    let mime = match &args.mime {
        Some(m) => m
            .parse::<MediaType>()
            .map_err(|e| Failure::usage(format!("--mime: {e}")))?,
        None => guess_mime(&args.file)?,
    };
    let mut upload = Upload::from_path(&args.file, mime);
    if let Some(k) = &args.kind {
        let kind: MediaKind = k
            .parse()
            .map_err(|e| Failure::usage(format!("--kind: {e}")))?;
        upload = upload.kind(kind);
    }
    if args.no_validate {
        upload = upload.skip_validation();
    }
    if let Some(minutes) = args.ttl_minutes {
        upload = upload.ttl_minutes(minutes);
    }
    let bar = Bars::new(g.quiet, g.json).bytes("upload", Some(meta.len()));
    let progress_bar = bar.clone();
    upload = upload.progress(move |done: u64, _total: Option<u64>| progress_bar.set_position(done));
    let result = client.upload(upload).await;
    bar.finish_and_clear();
    let id = result?;
    if g.json {
        output::json(&json!({ "id": id.as_str() }))
    } else {
        output::line(id.as_str())
    }
}

/// Guesses a file's MIME type from its first bytes (the library's one guess,
/// [`sniff_media_type`]).
pub(crate) fn guess_mime(path: &Path) -> Result<MediaType, Failure> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    std::fs::File::open(path)
        .and_then(|f| f.take(SNIFF_LEN as u64).read_to_end(&mut head))
        .map_err(|e| Failure::other(format!("cannot read {}: {e}", path.display())))?;
    sniff_media_type(&head).ok_or_else(|| unknown_type(path))
}

/// The type of `path` could not be told from its contents (upload and send).
pub(crate) fn unknown_type(path: &Path) -> Failure {
    Failure::usage(format!(
        "cannot tell the type of {} from its contents; pass --mime (for example --mime application/pdf)",
        path.display()
    ))
}
