//! Upload, retrieve, download and delete one file with the production client, against a local
//! emulator started in-process (no network, no real token needed).
//!
//! ```text
//! cargo run -p wa-media-hyper --example roundtrip [FILE MIME]
//! ```
//!
//! Without arguments it sends a small generated text document. Against the real API the only
//! change is the builder: drop `graph_url` / `trust_host` and pass your token and phone number
//! id.

use std::error::Error;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use wa_media_emulator::{Emulator, EmulatorHandle};
use wa_media_hyper::{MediaApi, MediaApiExt, MediaType, Upload};

/// What one round trip did, for the caller (and the test that runs this example) to check.
#[derive(Debug)]
pub struct RoundTrip {
    /// The id the upload returned.
    pub media_id: String,
    /// The MIME type retrieve reported.
    pub mime_type: String,
    /// Bytes streamed back by `download` (SHA-256 verified on the way).
    pub downloaded: Vec<u8>,
    /// The verified file `fetch_to_file` wrote.
    pub fetched_file: PathBuf,
    /// The SHA-256 (hex) the API announced and the client verified.
    pub sha256: String,
}

/// Runs upload → retrieve → download → fetch_to_file → delete against `emu`.
pub async fn round_trip(
    emu: &EmulatorHandle,
    bytes: Vec<u8>,
    mime: MediaType,
    out_dir: &Path,
) -> Result<RoundTrip, Box<dyn Error + Send + Sync>> {
    let client = wa_media_hyper::builder()
        .token(emu.token())
        .phone_number_id("106540352242922")
        .graph_url(emu.graph_url())
        // The emulator's download host is 127.0.0.1:<port>; in production it is
        // lookaside.fbsbx.com, trusted by default.
        .trust_host(format!("127.0.0.1:{}", emu.lookaside_addr().port()))
        .build()?;

    // 1. Upload (validated locally first; streamed with a Content-Length).
    let media_id = client
        .upload(Upload::from_bytes(bytes, mime).filename("example"))
        .await?;
    println!("uploaded: id {media_id}");

    // 2. Retrieve the short-lived URL and the announced size and SHA-256.
    let info = client.retrieve(&media_id).await?;
    println!(
        "retrieved: {} bytes of {}, sha256 {}",
        info.file_size, info.mime_type, info.sha256
    );

    // 3. Download: a stream of chunks, verified as it arrives.
    let mut stream = client.download(&info).await?;
    let mut downloaded = Vec::new();
    while let Some(chunk) = stream.next().await {
        downloaded.extend_from_slice(&chunk?);
    }
    println!("downloaded: {} bytes, verified", downloaded.len());

    // 3b. Or fetch by id straight into a file (fresh URL, verified, atomic rename).
    let fetched = client
        .fetch_to_file(&media_id, out_dir.join("example.out"))
        .await?;
    println!("fetched to {}", fetched.path.display());

    // 4. Delete.
    client.delete(&media_id).await?;
    println!("deleted: {media_id}");

    Ok(RoundTrip {
        media_id: media_id.to_string(),
        mime_type: info.mime_type,
        downloaded,
        fetched_file: fetched.path,
        sha256: info.sha256.to_string(),
    })
}

#[allow(dead_code)] // the test that includes this file calls `round_trip` directly
#[tokio::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (bytes, mime) = match &args[..] {
        [file, mime] => (std::fs::read(file)?, mime.parse()?),
        [] => (
            b"Hello from the wa-media-hyper example.\n".repeat(100),
            "text/plain".parse()?,
        ),
        _ => return Err("usage: roundtrip [FILE MIME]".into()),
    };
    let emu = Emulator::builder().start().await?;
    println!("emulator: {} (token {})", emu.graph_url(), emu.token());
    let out = tempfile::tempdir()?;
    let done = round_trip(&emu, bytes, mime, out.path()).await?;
    println!("round trip complete: {}", done.media_id);
    emu.shutdown().await;
    Ok(())
}
