//! Scripted hostile HTTP/1.1 servers on raw tokio TCP: the test chooses every byte and every
//! misbehaviour (reset with SO_LINGER 0, truncation, stalls, drips, endless bodies) and the
//! server records what it was sent, the `Authorization` header included. The responses are
//! built with [`crate::http1`] ([`response`], [`head`], [`response_until_close`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

pub use crate::http1::{head, response, response_until_close};
use crate::net::drain;

/// One request head as the hostile server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, ….
    pub method: String,
    /// The request target (path and query).
    pub target: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Act {
    /// Writes the bytes, then closes cleanly (FIN).
    Send(Vec<u8>),
    /// Writes the bytes, then resets the connection (RST via SO_LINGER 0).
    SendThenReset(Vec<u8>),
    /// Writes the bytes, then holds the connection open, silent, until the client leaves.
    SendThenStall(Vec<u8>),
    /// Writes `head`, then one byte every `every`, at most `max` bytes.
    Drip {
        /// Status line and headers.
        head: Vec<u8>,
        /// Pause between bytes.
        every: Duration,
        /// Bytes at most.
        max: u64,
    },
    /// Writes `head`, then 16 KiB chunks for as long as the client accepts them.
    Endless {
        /// Status line and headers.
        head: Vec<u8>,
    },
}

/// Decides the answer to the `n`-th (0-based) request this server received.
pub type Script = Arc<dyn Fn(&Seen, usize) -> Act + Send + Sync>;

/// A listening hostile server.
#[derive(Debug)]
pub struct Hostile {
    /// Where it listens (127.0.0.1, port chosen by the OS).
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    body_bytes_sent: Arc<AtomicU64>,
    busy: Arc<AtomicUsize>,
    idle: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    /// Binds 127.0.0.1:0 and serves `script` (one request per connection).
    pub async fn start(script: Script) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve(listener, script)
    }

    /// Serves `script` on an already bound listener.
    pub fn serve(listener: TcpListener, script: Script) -> Hostile {
        let addr = listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let body_bytes_sent = Arc::new(AtomicU64::new(0));
        let busy = Arc::new(AtomicUsize::new(0));
        let idle = Arc::new(Notify::new());
        let task = {
            let (seen, sent, busy, idle) = (
                seen.clone(),
                body_bytes_sent.clone(),
                busy.clone(),
                idle.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    busy.fetch_add(1, Ordering::SeqCst);
                    let (seen, sent, busy, idle, script) = (
                        seen.clone(),
                        sent.clone(),
                        busy.clone(),
                        idle.clone(),
                        script.clone(),
                    );
                    tokio::spawn(async move {
                        connection(stream, &seen, &sent, &script).await;
                        if busy.fetch_sub(1, Ordering::SeqCst) == 1 {
                            idle.notify_waiters();
                        }
                    });
                }
            })
        };
        Hostile {
            addr,
            seen,
            body_bytes_sent,
            busy,
            idle,
            task,
        }
    }

    /// Every request received so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests were received.
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Bytes written after the head by `Drip` and `Endless` answers.
    pub fn body_bytes_sent(&self) -> u64 {
        self.body_bytes_sent.load(Ordering::SeqCst)
    }

    /// Waits (up to `limit`) until no connection is being served; false when it did not happen.
    pub async fn quiesce(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.busy.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

/// Reads one request head; `None` when the client sent none.
async fn read_head(stream: &mut TcpStream) -> Option<Seen> {
    let (head, _) = crate::net::read_request_head(stream).await?;
    let method = crate::http1::method(&head).to_owned();
    let target = crate::http1::target(&head).to_owned();
    if method.is_empty() || target.is_empty() {
        return None;
    }
    let authorization = crate::http1::header(&head, "authorization");
    Some(Seen {
        method,
        target,
        authorization,
    })
}

async fn connection(
    mut stream: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    sent: &AtomicU64,
    script: &Script,
) {
    let Some(req) = read_head(&mut stream).await else {
        return;
    };
    let n = {
        let mut s = seen.lock().unwrap();
        s.push(req.clone());
        s.len() - 1
    };
    match script(&req, n) {
        Act::Send(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
            // Wait for the client to close so no unread byte turns our FIN into a RST.
            let _ = tokio::time::timeout(Duration::from_secs(5), drain(&mut stream)).await;
        }
        Act::SendThenReset(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.flush().await;
            let _ = stream.set_zero_linger();
            drop(stream);
        }
        Act::SendThenStall(bytes) => {
            let _ = stream.write_all(&bytes).await;
            // Until the client gives up (its timeout) or the test ends.
            let _ = tokio::time::timeout(Duration::from_secs(30), drain(&mut stream)).await;
        }
        Act::Drip { head, every, max } => {
            if stream.write_all(&head).await.is_err() {
                return;
            }
            for _ in 0..max {
                tokio::time::sleep(every).await;
                if stream.write_all(b"x").await.is_err() {
                    return;
                }
                sent.fetch_add(1, Ordering::SeqCst);
            }
        }
        Act::Endless { head } => {
            if stream.write_all(&head).await.is_err() {
                return;
            }
            let chunk = vec![b'A'; 16 * 1024];
            // Bounded so a client that never stops reading cannot make the test run forever.
            while sent.load(Ordering::SeqCst) < 1 << 30 {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        }
    }
}
