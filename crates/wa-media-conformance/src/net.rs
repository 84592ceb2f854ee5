//! Raw-socket reads of HTTP/1.1 on tokio, for the suite's loopback servers (also used by the
//! workspace's own test servers, which re-export them).

use tokio::io::{AsyncRead, AsyncReadExt};

/// Reads a request head (up to the blank line, at most [`crate::http1::MAX_HEAD`] bytes) and
/// whatever followed it in the same reads: `(head, rest)`. `None` when the client sent none.
pub async fn read_request_head<R: AsyncRead + Unpin>(s: &mut R) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > crate::http1::MAX_HEAD {
            return None;
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads and discards until the peer closes the connection (or a read fails).
pub async fn drain<R: AsyncRead + Unpin>(s: &mut R) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}
