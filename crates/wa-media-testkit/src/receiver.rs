//! [`Receiver`]: the team's application behind `wa-media serve --forward`, as a test sees it.
//! It verifies each forward's `X-Hub-Signature-256` with the app secret (what an application
//! already checking Meta's webhooks does), records every request, answers with a status the
//! test chooses, and can go down (connections refused) and come back on the same port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::http1;

/// One request the application received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request head.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
    /// Whether `X-Hub-Signature-256` verified with the app secret.
    pub verified: bool,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        http1::header(&self.head, name)
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug)]
struct Shared {
    secret: Vec<u8>,
    received: Mutex<Vec<Received>>,
    status: AtomicU16,
    up: AtomicBool,
    stop: AtomicBool,
}

/// A receiving application on a loopback port of its own. Stops on drop.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Starts, verifying signatures with `app_secret`, answering 200.
    pub fn start(app_secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            secret: app_secret.as_bytes().to_vec(),
            received: Mutex::new(Vec::new()),
            status: AtomicU16::new(200),
            up: AtomicBool::new(true),
            stop: AtomicBool::new(false),
        });
        let s2 = shared.clone();
        let thread = std::thread::spawn(move || accept_loop(Some(listener), addr, s2));
        Self {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The status answered from now on.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Down (the port closed: connections refused) or up again on the same port.
    pub fn set_up(&self, up: bool) {
        self.shared.up.store(up, Ordering::SeqCst);
        // Let the accept loop close or reopen the port before the test goes on.
        std::thread::sleep(Duration::from_millis(50));
    }

    /// Waits (bounded) until `pred` holds for the requests received; whether it did.
    pub fn wait_until(&self, within: Duration, pred: impl Fn(&[Received]) -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if pred(&self.received()) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(mut listener: Option<TcpListener>, addr: SocketAddr, shared: Arc<Shared>) {
    if let Some(l) = &listener {
        l.set_nonblocking(true).unwrap();
    }
    while !shared.stop.load(Ordering::SeqCst) {
        let up = shared.up.load(Ordering::SeqCst);
        match (&listener, up) {
            (Some(_), false) => listener = None,
            (None, true) => {
                if let Ok(l) = TcpListener::bind(addr) {
                    l.set_nonblocking(true).unwrap();
                    listener = Some(l);
                }
            }
            _ => {}
        }
        let Some(l) = &listener else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        match l.accept() {
            Ok((stream, _)) => {
                let s2 = shared.clone();
                std::thread::spawn(move || handle(stream, &s2));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn handle(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some(head) = http1::read_head(&mut stream) else {
        return;
    };
    let len: usize = http1::header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    let verified = http1::header(&head, "x-hub-signature-256")
        .is_some_and(|sig| wa_media_types::verify_signature(&shared.secret, &body, &sig).is_ok());
    let status = shared.status.load(Ordering::SeqCst);
    shared.received.lock().unwrap().push(Received {
        head,
        body,
        verified,
    });
    let _ = stream.write_all(&http1::response(
        status,
        &[("Connection", "close"), ("Content-Type", "text/plain")],
        b"recorded",
    ));
}
