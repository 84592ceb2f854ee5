//! Tiny blocking HTTP/1.1 servers on 127.0.0.1:0 that stop at a chosen point of a transfer, so a
//! test can act (send a signal, change a file) at a known moment without sleeping.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::Duration;

use wa_media_testkit::http1::{drain_until_closed, header, json_response, read_head, target};
use wa_media_types::Sha256Digest;

/// How long a server connection waits for the client before giving up.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(60);

/// A Graph API and download host in one: any `GET /…/{id}` answers the retrieve JSON for
/// `body` with a download URL on this server (`/dl/{id}`), and the download sends the headers
/// and the first half of `body`, then stalls until the client goes away.
pub struct StallingMedia {
    pub addr: SocketAddr,
    half_sent: mpsc::Receiver<()>,
}

impl StallingMedia {
    pub fn start(body: Vec<u8>, mime: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, half_sent) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let body = body.clone();
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(SOCKET_TIMEOUT));
                    let Some(head) = read_head(&mut s) else {
                        return;
                    };
                    let target = target(&head).to_owned();
                    if target.starts_with("/dl/") {
                        let half = body.len() / 2;
                        let headers = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: {mime}\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        );
                        if s.write_all(headers.as_bytes()).is_err()
                            || s.write_all(&body[..half]).is_err()
                            || s.flush().is_err()
                        {
                            return;
                        }
                        let _ = tx.send(());
                        drain_until_closed(&mut s);
                    } else {
                        let id = target
                            .split('?')
                            .next()
                            .unwrap_or("")
                            .rsplit('/')
                            .next()
                            .unwrap_or("")
                            .to_owned();
                        let answer = serde_json::json!({
                            "url": format!("http://{addr}/dl/{id}?hash=stalling"),
                            "mime_type": mime,
                            "sha256": Sha256Digest::of(&body).to_hex(),
                            "file_size": body.len(),
                            "id": id,
                            "messaging_product": "whatsapp",
                        });
                        let _ = s.write_all(&json_response(&answer.to_string()));
                    }
                });
            }
        });
        StallingMedia { addr, half_sent }
    }

    /// `http://127.0.0.1:port`, for `WHATSAPP_GRAPH_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until a download has received half of the body; whether it did within `timeout`.
    pub fn wait_half_sent(&self, timeout: Duration) -> bool {
        self.half_sent.recv_timeout(timeout).is_ok()
    }
}

/// A Graph API host for uploads that reads the first `after` bytes of the first upload's body,
/// then waits for [`UploadGate::resume`] before reading the rest. A complete body is answered
/// `{"id": "4242424242"}`; an incomplete one (the client gave up) gets no answer.
pub struct UploadGate {
    pub addr: SocketAddr,
    reached: mpsc::Receiver<()>,
    resume: mpsc::Sender<()>,
}

impl UploadGate {
    pub fn start(after: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (reached_tx, reached) = mpsc::channel();
        let (resume, resume_rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            let mut gate = Some((reached_tx, resume_rx));
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(SOCKET_TIMEOUT));
                let Some(head) = read_head(&mut s) else {
                    continue;
                };
                let total = header(&head, "content-length").and_then(|v| v.parse::<u64>().ok());
                let mut got = 0u64;
                let mut buf = vec![0u8; 64 * 1024];
                if let Some((reached_tx, resume_rx)) = gate.take() {
                    let mut first = vec![0u8; after];
                    if s.read_exact(&mut first).is_err() {
                        continue;
                    }
                    got += after as u64;
                    let _ = reached_tx.send(());
                    if resume_rx.recv_timeout(SOCKET_TIMEOUT).is_err() {
                        continue;
                    }
                }
                let complete = loop {
                    if total.is_some_and(|t| got >= t) {
                        break true;
                    }
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break false,
                        Ok(n) => got += n as u64,
                    }
                };
                if complete {
                    let _ = s.write_all(&json_response(r#"{"id":"4242424242"}"#));
                }
            }
        });
        UploadGate {
            addr,
            reached,
            resume,
        }
    }

    /// `http://127.0.0.1:port`, for `WHATSAPP_GRAPH_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the first upload's first `after` body bytes were read; whether they were
    /// within `timeout`.
    pub fn wait_reached(&self, timeout: Duration) -> bool {
        self.reached.recv_timeout(timeout).is_ok()
    }

    /// Lets the server read the rest of the body.
    pub fn resume(&self) {
        let _ = self.resume.send(());
    }
}
