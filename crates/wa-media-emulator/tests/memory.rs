//! Memory stays flat: a 100 MB upload and download through the emulator (over real sockets)
//! peaks no more than 16 MiB above a 1 MB one. Each size runs in a child process (this test
//! binary re-executed) so the peak RSS (VmHWM) of one run is not hidden by another's.

mod common;

use std::process::Command;

use bytes::Bytes;
use common::*;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use sha2::{Digest, Sha256};

const CHILD_ENV: &str = "WA_MEDIA_EMULATOR_MEMORY_CHILD";
const MIB: u64 = 1024 * 1024;

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Uploads, retrieves and downloads `mib` MiB of text; returns the peak RSS in KiB.
async fn transfer(mib: u64) -> u64 {
    let emu = start().await;
    let c = client();
    let total = mib * MIB;
    let chunk = Bytes::from(text(256 * 1024));
    let mut chunks = Vec::new();
    let mut left = total;
    let mut hasher = Sha256::new();
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        let c = chunk.slice(..n);
        hasher.update(&c);
        chunks.push(c);
        left -= n as u64;
    }
    let digest = hex::encode(hasher.finalize());
    let prefix = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\ntext/plain\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\nContent-Type: text/plain\r\n\r\n"
    );
    let suffix = format!("\r\n--{BOUNDARY}--\r\n");
    let len = prefix.len() as u64 + total + suffix.len() as u64;
    let frames = std::iter::once(Bytes::from(prefix))
        .chain(chunks)
        .chain(std::iter::once(Bytes::from(suffix)))
        .map(|b| Ok::<_, std::io::Error>(http_body::Frame::data(b)));
    let body = StreamBody::new(futures_util::stream::iter(frames)).boxed();
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/{VERSION}/{PHONE}/media", emu.graph_url()))
        .header(header::AUTHORIZATION, bearer(emu.token()))
        .header(header::USER_AGENT, UA)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header(header::CONTENT_LENGTH, len)
        .body(body)
        .unwrap();
    let r = send(&c, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();

    let info = retrieve(&c, &emu, &id).await.json();
    assert_eq!(info["file_size"].as_u64(), Some(total));
    assert_eq!(info["sha256"], digest.as_str());
    let resp = c
        .request(download_req(
            info["url"].as_str().unwrap(),
            Some(emu.token()),
            true,
        ))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(d) = frame.unwrap().into_data() {
            received += d.len() as u64;
            hasher.update(&d);
        }
    }
    assert_eq!(received, total);
    assert_eq!(hex::encode(hasher.finalize()), digest);
    emu.shutdown().await;
    vm_hwm_kib().expect("VmHWM")
}

fn run_child(mib: u64) -> u64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "upload_and_download_of_100_mb_keep_memory_flat",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mib.to_string())
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child ({mib} MiB) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.split("VMHWM_KIB=").nth(1))
        .and_then(|v| {
            v.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no VMHWM_KIB line in:\n{stdout}"))
}

#[test]
fn upload_and_download_of_100_mb_keep_memory_flat() {
    if let Ok(mib) = std::env::var(CHILD_ENV) {
        let mib: u64 = mib.parse().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let peak = rt.block_on(transfer(mib));
        println!("VMHWM_KIB={peak}");
        return;
    }
    if vm_hwm_kib().is_none() {
        eprintln!("note: /proc/self/status has no VmHWM here; skipping the memory test");
        return;
    }
    let small = run_child(1);
    let big = run_child(100);
    eprintln!("peak RSS: 1 MiB run {small} KiB, 100 MiB run {big} KiB");
    assert!(
        big.saturating_sub(small) < 16 * 1024,
        "peak RSS grew by {} KiB for 100 MiB over 1 MiB",
        big.saturating_sub(small)
    );
}
