//! HTTP/1.1 by hand, for servers whose every byte a test chooses: reading a request head,
//! writing a response, and a blocking one-request-per-connection server ([`serve_blocking`]).
//! The workspace test kit's async servers (`hostile`) use the same response builders.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

/// The largest request head read before giving up.
pub const MAX_HEAD: usize = 64 * 1024;

/// Reads a request head up to and including the blank line, byte by byte (so nothing of the
/// body is consumed). `None` when the client went away first or the head passed [`MAX_HEAD`].
pub fn read_head(s: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return None;
        }
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// The request method of a head (`GET`, `POST`, …).
pub fn method(head: &str) -> &str {
    head.split(' ').next().unwrap_or("")
}

/// The request target of a head (path and query).
pub fn target(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or("")
}

/// A header's value (trimmed) from a head, the name compared case-insensitively.
pub fn header(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// Reads and discards until the peer closes the connection (or a read fails or times out).
pub fn drain_until_closed(s: &mut impl Read) {
    let mut buf = [0u8; 64 * 1024];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

/// A status line and headers (with `Connection: close` and, when given, `Content-Length`).
pub fn head(status: u16, headers: &[(&str, &str)], content_length: Option<u64>) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(len) = content_length {
        out.push_str(&format!("Content-Length: {len}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// A complete response with `Content-Length` and `Connection: close`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = head(status, headers, Some(body.len() as u64));
    out.extend_from_slice(body);
    out
}

/// A close-delimited response: no `Content-Length`, the body ends when the connection closes.
pub fn response_until_close(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = head(status, headers, None);
    out.extend_from_slice(body);
    out
}

/// A complete `200 OK` JSON response.
pub fn json_response(body: &str) -> Vec<u8> {
    response(
        200,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// The reason phrase written for a status (any text is valid HTTP; these read well in logs).
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// A blocking HTTP/1.1 server on 127.0.0.1:0, one thread, one request per connection until the
/// test process ends: reads each request head and writes `answer(head)` (e.g. a response that
/// echoes the `Authorization` header back). Returns the address.
pub fn serve_blocking(answer: impl Fn(&str) -> Vec<u8> + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let head = read_head(&mut s).unwrap_or_default();
            let _ = s.write_all(&answer(&head));
        }
    });
    addr
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn a_blocking_server_answers_from_the_head() {
        let addr = serve_blocking(|head| {
            let auth = header(head, "authorization").unwrap_or_default();
            response(401, &[], format!("{} {auth}", target(head)).as_bytes())
        });
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /x?y HTTP/1.1\r\nAuthorization: Bearer t\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\n/x?y Bearer t"), "{out}");
    }
}
