//! `wa-media emulator` under `ulimit -n 256` with a webhook receiver that accepts connections and
//! never answers (issue 23, item 8: one connection per notification used to exhaust the
//! descriptors, and the emulator's own API answered 500). Now the deliveries hold at most their
//! cap of connections: 400 simulated media are all answered 2xx, and an upload, a retrieve and
//! a download still succeed.
//!
//! The limit is set for the child alone (`sh -c 'ulimit -n 256 && exec wa-media …'`): no unsafe
//! code, no effect on the other tests. Every wait is bounded.

#[allow(dead_code)]
mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::http::request;
use common::running::Running;
use serde_json::Value;

const SIMULATED: usize = 400;
const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

fn png(len: usize) -> Vec<u8> {
    let mut v = PNG_HEAD.to_vec();
    v.extend((v.len()..len).map(|i| (i % 251) as u8));
    v
}

/// Accepts every connection and keeps it open without reading or answering; counts them.
fn dead_receiver() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        while let Ok((tcp, _)) = listener.accept() {
            a.fetch_add(1, Ordering::SeqCst);
            held.push(tcp);
        }
    });
    (url, accepted)
}

#[test]
fn a_dead_receiver_under_256_descriptors_leaves_the_emulator_answering() {
    let (url, accepted) = dead_receiver();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n 256 && exec \"$0\" \"$@\"", common::BIN])
        .args([
            "--json",
            "emulator",
            "--webhook-url",
            &url,
            "--app-secret",
            "s3cret",
        ]);
    for var in common::PROGRAM_ENV
        .iter()
        .chain(&wa_media_hyper::PROXY_VARIABLES)
    {
        cmd.env_remove(var);
    }
    let mut child = Running::spawn(&mut cmd);
    let first = child.first_stdout_line();
    let info: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
    let graph: SocketAddr = info["graph_addr"].as_str().unwrap().parse().unwrap();
    let lookaside: SocketAddr = info["lookaside_addr"].as_str().unwrap().parse().unwrap();
    let token = info["token"].as_str().unwrap().to_owned();
    // The limit is in force (Linux shows it; elsewhere trust the shell).
    if let Ok(limits) = std::fs::read_to_string(format!("/proc/{}/limits", child.pid())) {
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap_or_default();
        assert_eq!(
            line.split_whitespace().nth(3),
            Some("256"),
            "the soft limit: {line}"
        );
    }

    let mut failed = Vec::new();
    for i in 0..SIMULATED {
        let r = request(
            graph,
            "POST",
            "/__emulator/inbound?mime_type=image/png",
            &[("Content-Type", "image/png")],
            &png(64 + i % 7),
        );
        match r {
            Ok(r) if (200..300).contains(&r.status) => {}
            Ok(r) => failed.push(format!("{i}: {} {}", r.status, r.text())),
            Err(e) => failed.push(format!("{i}: {e}")),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {SIMULATED} simulated media failed, first: {:?}",
        failed.len(),
        failed.first()
    );

    // Upload, retrieve and download while the receiver is stalled.
    let boundary = "fd-limit-boundary";
    let data = png(4096);
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\n\
         whatsapp\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n\
         image/png\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let auth = format!("Bearer {token}");
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let up = request(
        graph,
        "POST",
        "/v27.0/106540352242922/media",
        &[
            ("Authorization", &auth),
            ("Content-Type", &content_type),
            ("User-Agent", "fd-limit-test"),
        ],
        &body,
    )
    .unwrap();
    assert_eq!(up.status, 200, "upload: {}", up.text());
    let id = serde_json::from_slice::<Value>(&up.body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let info = request(
        graph,
        "GET",
        &format!("/v27.0/{id}"),
        &[("Authorization", &auth), ("User-Agent", "fd-limit-test")],
        b"",
    )
    .unwrap();
    assert_eq!(info.status, 200, "retrieve: {}", info.text());
    let url = serde_json::from_slice::<Value>(&info.body).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    // http://<lookaside addr>/path?query: the request target is what follows the authority.
    let path = url
        .strip_prefix(&format!("http://{lookaside}"))
        .unwrap_or_else(|| panic!("{url} is not on {lookaside}"))
        .to_owned();
    let d = request(
        lookaside,
        "GET",
        &path,
        &[("Authorization", &auth), ("User-Agent", "fd-limit-test")],
        b"",
    )
    .unwrap();
    assert_eq!(d.status, 200, "download: {}", d.text());
    assert_eq!(d.body, data);

    // The deliveries: at most the default cap in flight, and as many connections.
    let health = request(graph, "GET", "/__emulator/health", &[], b"").unwrap();
    let counts = serde_json::from_slice::<Value>(&health.body).unwrap()["webhook"].clone();
    let accepted = accepted.load(Ordering::SeqCst);
    eprintln!("dead receiver: {accepted} connections accepted; counts {counts}");
    assert!(counts["in_flight"].as_u64().unwrap() <= 16, "{counts}");
    assert!(accepted <= 16, "{accepted} connections to the receiver");
    child.signal("TERM");
    let out = child.wait_output(std::time::Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
