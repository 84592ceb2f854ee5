//! Runs the exact curl commands docs/emulator.md shows against a started emulator (skipped,
//! with a note, when curl is not installed), plus curl's `Expect: 100-continue` upload and TLS.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use wa_media_emulator::{Emulator, Endpoint};

fn curl_available() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("note: curl is not installed; skipping the curl test");
    }
    ok
}

/// The shell blocks between the curl-test markers of docs/emulator.md.
fn documented_commands() -> String {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/emulator.md"),
    )
    .expect("docs/emulator.md");
    let start = doc.find("<!-- curl-test:begin -->").expect("begin marker");
    let end = doc.find("<!-- curl-test:end -->").expect("end marker");
    let mut script = String::new();
    let mut in_block = false;
    for line in doc[start..end].lines() {
        if line.trim_start().starts_with("```") {
            in_block = line.trim() == "```sh";
            continue;
        }
        if in_block {
            script.push_str(line);
            script.push('\n');
        }
    }
    assert!(script.matches("curl ").count() >= 4, "{script}");
    script
}

/// Runs `script` with bash in `dir`, with GRAPH and TOKEN set; returns stdout.
async fn run(script: String, dir: &Path, graph: &str, token: &str) -> String {
    let (dir, graph, token) = (dir.to_owned(), graph.to_owned(), token.to_owned());
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || {
            Command::new("bash")
                .arg("-euo")
                .arg("pipefail")
                .arg("-c")
                .arg(script)
                .current_dir(dir)
                .env("GRAPH", graph)
                .env("TOKEN", token)
                .output()
                .expect("bash runs")
        }),
    )
    .await
    .expect("the commands finish")
    .expect("joined");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "script failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_documented_curl_commands_work() {
    if !curl_available() {
        return;
    }
    let emu = start().await;
    let dir = tempfile::tempdir().unwrap();
    let photo = fixture("image.png");
    std::fs::write(dir.path().join("photo.png"), &photo).unwrap();
    let out = run(
        documented_commands(),
        dir.path(),
        emu.graph_url(),
        emu.token(),
    )
    .await;
    assert!(out.contains("uploaded "), "{out}");
    assert!(out.contains("\"mime_type\":\"image/png\""), "{out}");
    assert!(out.contains("downloaded file is identical"), "{out}");
    assert!(out.contains("{\"success\":true}"), "{out}");
    assert_eq!(
        std::fs::read(dir.path().join("downloaded.png")).unwrap(),
        photo
    );
    let endpoints: Vec<_> = emu
        .request_log()
        .into_iter()
        .map(|r| (r.endpoint, r.status))
        .collect();
    assert_eq!(
        endpoints,
        [
            (Some(Endpoint::Upload), 200),
            (Some(Endpoint::Retrieve), 200),
            (Some(Endpoint::Retrieve), 200),
            (Some(Endpoint::Download), 200),
            (Some(Endpoint::Delete), 200),
        ]
    );
    assert!(emu.media().is_empty());
}

#[tokio::test]
async fn curl_expect_100_continue_and_tls() {
    if !curl_available() {
        return;
    }
    let emu = Emulator::builder().tls(true).start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.png"), png(3 * 1024 * 1024)).unwrap();
    std::fs::write(dir.path().join("ca.pem"), emu.ca_certificate_pem().unwrap()).unwrap();
    let upload = |extra: &str| {
        format!(
            "curl -sS -f --cacert ca.pem --connect-to graph.facebook.com:443:{graph} {extra} \
             -X POST \"$GRAPH/{VERSION}/{PHONE}/media\" -H \"Authorization: Bearer $TOKEN\" \
             -F messaging_product=whatsapp -F type=image/png -F 'file=@big.png;type=image/png' \
             -w ' HTTP/%{{http_version}}'",
            graph = emu.graph_addr()
        )
    };
    // HTTP/1.1: curl waits for "100 Continue" for up to 50 s here; the 60 s bound of `run`
    // fails the test if the server never answers it.
    let out = run(
        upload("--http1.1 --expect100-timeout 50 -H 'Expect: 100-continue'"),
        dir.path(),
        emu.graph_url(),
        emu.token(),
    )
    .await;
    assert!(
        out.contains("\"id\":\"") && out.ends_with("HTTP/1.1"),
        "{out}"
    );
    assert!(emu.request_log()[0].has_header("expect"));
    // HTTP/2 by ALPN (without Expect: hyper's HTTP/2 server does not answer it).
    let out = run(
        upload("-H 'Expect:'"),
        dir.path(),
        emu.graph_url(),
        emu.token(),
    )
    .await;
    assert!(
        out.contains("\"id\":\"") && out.ends_with("HTTP/2"),
        "{out}"
    );
    assert_eq!(emu.media().len(), 2);
    assert!(emu.media().iter().all(|m| m.file_size == 3 * 1024 * 1024));
}

#[tokio::test]
async fn without_http2_tls_offers_only_http1() {
    if !curl_available() {
        return;
    }
    let emu = Emulator::builder()
        .tls(true)
        .http2(false)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), emu.ca_certificate_pem().unwrap()).unwrap();
    let script = format!(
        "curl -sS --cacert ca.pem --connect-to graph.facebook.com:443:{} \
         \"$GRAPH/{VERSION}/1234567890123456\" -H \"Authorization: Bearer $TOKEN\" \
         -w ' HTTP/%{{http_version}}'",
        emu.graph_addr()
    );
    let out = run(script, dir.path(), emu.graph_url(), emu.token()).await;
    assert!(
        out.contains("\"error_subcode\":33") && out.ends_with("HTTP/1.1"),
        "{out}"
    );
}
