//! A small blocking HTTP/1.1 client over raw TCP, for delivering webhooks to `wa-media serve`
//! and for playing hostile clients (slow heads, slow bodies, silent connections) against it.
//! Every read and write is bounded by a socket timeout.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long a well-behaved exchange may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// The HTTP/2 connection preface a h2c client sends first ("prior knowledge").
pub const H2C_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A response: status, head (status line and headers) and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value (the first one), by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// Connects with both socket timeouts set to [`IO_TIMEOUT`].
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// The bytes of a request head (`Content-Length` added when `body_len` is given).
pub fn head(
    method: &str,
    target: &str,
    addr: SocketAddr,
    headers: &[(&str, &str)],
    body_len: Option<usize>,
    keep_alive: bool,
) -> Vec<u8> {
    let mut h = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = body_len {
        h.push_str(&format!("Content-Length: {n}\r\n"));
    }
    if !keep_alive {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// One request on a new connection (`Connection: close`).
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Reply> {
    let mut s = connect(addr)?;
    let len = (method != "GET" || !body.is_empty()).then_some(body.len());
    let mut bytes = head(method, target, addr, headers, len, false);
    bytes.extend_from_slice(body);
    s.write_all(&bytes)?;
    read_response(&mut s)
}

/// Reads one response (the body by `Content-Length`, or until the server closes).
pub fn read_response(s: &mut TcpStream) -> io::Result<Reply> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "closed before a complete response head ({} bytes: {:?})",
                    buf.len(),
                    String::from_utf8_lossy(&buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, head.clone()))?;
    let mut reply = Reply {
        status,
        head,
        body: buf[head_end..].to_vec(),
    };
    match reply
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(len) => {
            while reply.body.len() < len {
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                reply.body.extend_from_slice(&chunk[..n]);
            }
            reply.body.truncate(len);
        }
        None => loop {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.body.extend_from_slice(&chunk[..n]),
            }
        },
    }
    Ok(reply)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What a client saw when it waited for the server to close its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// End of stream or a reset, after `received` bytes, within the bound.
    Yes { received: Vec<u8> },
    /// Still open at the deadline.
    No,
}

/// Reads (and keeps) whatever the server sends until it closes the connection or `within`
/// passes.
pub fn wait_closed(s: &mut TcpStream, within: Duration) -> Closed {
    let deadline = Instant::now() + within;
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Closed::No;
        }
        let _ = s.set_read_timeout(Some(left.min(Duration::from_millis(250))));
        match s.read(&mut chunk) {
            Ok(0) => return Closed::Yes { received },
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Closed::Yes { received },
        }
    }
}

/// Whether `received` starts with an HTTP/1 response with a 2xx status.
pub fn is_success(received: &[u8]) -> bool {
    received.starts_with(b"HTTP/1.1 2") || received.starts_with(b"HTTP/1.0 2")
}

/// Sends `bytes` one at a time, one every `every` (the pace of the attack, not a
/// synchronisation), reading between bytes. Stops when the server closes the connection, answers,
/// or `max` bytes were sent; returns what it received and whether the connection was closed
/// (or reset) by then.
pub fn drip(s: &mut TcpStream, bytes: &[u8], every: Duration, max: usize) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    for b in bytes.iter().take(max) {
        if s.write_all(std::slice::from_ref(b)).is_err() {
            return (received, true);
        }
        let _ = s.set_read_timeout(Some(every));
        match s.read(&mut chunk) {
            Ok(0) => return (received, true),
            Ok(n) => {
                received.extend_from_slice(&chunk[..n]);
                // An answer: whatever follows is the server closing or keeping the connection.
                let rest = wait_closed(s, IO_TIMEOUT);
                return match rest {
                    Closed::Yes { received: more } => {
                        received.extend_from_slice(&more);
                        (received, true)
                    }
                    Closed::No => (received, false),
                };
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (received, true),
        }
    }
    (received, false)
}
