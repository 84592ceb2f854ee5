//! The project's client (and curl) against the minimal server: the same calls as the download
//! and upload stages, so that only the client is measured.

use std::path::Path;

use wa_media_core::{MediaApi, MediaApiExt, Upload};
use wa_media_hyper::{MediaClient, MediaId};

use super::cpu::{Sample, Stopwatch};
use super::server::{MinimalServer, MEDIA_ID, UPLOADED_ID};
use crate::environment::{client_to, run_on, text_plain, timed_command, Environment, PHONE};

/// The project's client of the plain-HTTP minimal server (as `client_for` builds the emulator's).
pub fn http_client(server: &MinimalServer, token: &str) -> Result<MediaClient, String> {
    client_to(token, &server.graph_url, &server.addr.to_string())
}

/// The project's client of the TLS minimal server: production names resolved to it, only the
/// private CA trusted (as `tls_setup` in download.rs builds it for the TLS emulator).
pub fn tls_client(
    server: &MinimalServer,
    token: &str,
    ca_pem: &str,
) -> Result<MediaClient, String> {
    wa_media_hyper::builder()
        .transport(
            crate::environment::transport_builder()
                .add_root_certificate_pem(ca_pem)
                .built_in_roots(false)
                .resolve("graph.facebook.com", server.addr)
                .resolve("lookaside.fbsbx.com", server.addr),
        )
        .token(token)
        .phone_number_id(PHONE)
        .retry_policy(wa_media_core::RetryPolicy::none())
        .build()
        .map_err(|e| format!("TLS client: {e}"))
}

/// The id of the one media the minimal server holds.
pub fn media_id() -> Result<MediaId, String> {
    MEDIA_ID
        .parse()
        .map_err(|e| format!("media id {MEDIA_ID}: {e}"))
}

/// One `fetch_to_file` into `dest` (removed afterwards, untimed); checks the size reported.
pub fn fetch_to_file(
    env: &Environment,
    client: &MediaClient,
    dest: &Path,
    size: u64,
) -> Result<Sample, String> {
    let client = client.clone();
    let id = media_id()?;
    let dest_owned = dest.to_owned();
    let r = run_on(&env.client_rt, async move {
        let watch = Stopwatch::start();
        let file = client
            .fetch_to_file(&id, &dest_owned)
            .await
            .map_err(|e| format!("fetch_to_file: {e}"))?;
        Ok::<_, String>((watch.stop(), file.file_size))
    })?;
    let _ = std::fs::remove_file(dest);
    let (took, got) = r?;
    if got != size {
        return Err(format!("fetch_to_file reported {got} of {size} bytes"));
    }
    Ok(took)
}

/// One `fetch` with every verified chunk dropped (as `stream_rate` in download.rs).
pub fn fetch(env: &Environment, client: &MediaClient, size: u64) -> Result<Sample, String> {
    let client = client.clone();
    let id = media_id()?;
    let (got, took) = run_on(&env.client_rt, async move {
        use futures_util::StreamExt;
        let watch = Stopwatch::start();
        let mut dl = client.fetch(&id).await.map_err(|e| format!("fetch: {e}"))?;
        let mut got = 0u64;
        while let Some(chunk) = dl.next().await {
            got += chunk.map_err(|e| format!("fetch body: {e}"))?.len() as u64;
        }
        Ok::<_, String>((got, watch.stop()))
    })??;
    if got != size {
        return Err(format!("fetch received {got} of {size} bytes"));
    }
    Ok(took)
}

/// Checks that the server drained at least the whole file (the multipart body is larger).
fn check_drained(server: &MinimalServer, size: u64) -> Result<(), String> {
    let drained = server.take_uploaded();
    if drained < size {
        return Err(format!(
            "the server received {drained} body bytes for a {size}-byte file"
        ));
    }
    Ok(())
}

/// One `upload(Upload::from_path(file, text/plain))` (as upload.rs does).
pub fn upload(
    env: &Environment,
    server: &MinimalServer,
    client: &MediaClient,
    path: &Path,
    size: u64,
) -> Result<Sample, String> {
    server.take_uploaded();
    let client = client.clone();
    let path = path.to_owned();
    let (took, id) = run_on(&env.client_rt, async move {
        let watch = Stopwatch::start();
        let id = client
            .upload(Upload::from_path(path, text_plain()))
            .await
            .map_err(|e| format!("upload: {e}"))?;
        Ok::<_, String>((watch.stop(), id))
    })??;
    if id.as_str() != UPLOADED_ID {
        return Err(format!("upload returned id {id}, expected {UPLOADED_ID}"));
    }
    check_drained(server, size)?;
    Ok(took)
}

/// One `curl -F` of the same form with the same token (as upload.rs does).
pub fn curl_upload(
    env: &Environment,
    server: &MinimalServer,
    token: &str,
    path: &Path,
    size: u64,
) -> Result<Sample, String> {
    let curl = env.tools.curl.as_ref().ok_or("curl not installed")?;
    server.take_uploaded();
    let url = format!("{}/v27.0/{PHONE}/media", server.graph_url);
    let mut c = crate::environment::curl_upload_command(curl, token, path, &url);
    let watch = Stopwatch::start();
    let (_, out) = timed_command(&mut c, "curl -F")?;
    let took = watch.stop();
    let v: serde_json::Value =
        serde_json::from_slice(&out).map_err(|e| format!("curl printed no JSON: {e}"))?;
    if v["id"].as_str() != Some(UPLOADED_ID) {
        return Err(format!("curl printed {v}, expected id {UPLOADED_ID}"));
    }
    check_drained(server, size)?;
    Ok(took)
}
