//! A small HTTP CONNECT proxy on 127.0.0.1 for the proxy tests: it records every request head it
//! receives (its [log](ConnectProxy::log)), can demand `Proxy-Authorization` (answering 407
//! without it), resolves target names through its own map (as a real proxy does DNS), and tunnels
//! bytes both ways, keeping a copy of what the client sent through its tunnels.
//!
//! It only ever connects to loopback: a target that is neither mapped nor a loopback address is
//! answered 502, so no test can reach the network through it. Stopped (with every tunnel) when
//! dropped.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::http1::header;

/// How much of the client-to-target tunnel traffic is kept for [`ConnectProxy::tunneled`].
const TUNNEL_CAPTURE: usize = 8 * 1024 * 1024;

/// How long connecting to a target may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One request head the proxy received, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    /// The whole head as received (request line and headers, CRLF-separated).
    pub head: String,
    /// The status the proxy answered (200 for an opened tunnel).
    pub status: u16,
}

impl ProxyRequest {
    /// The request line, e.g. `CONNECT graph.facebook.com:443 HTTP/1.1`.
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    /// The method (`CONNECT`, or what a misbehaving client sent).
    pub fn method(&self) -> &str {
        crate::http1::method(&self.head)
    }

    /// The request target (`host:port` for CONNECT).
    pub fn target(&self) -> &str {
        crate::http1::target(&self.head)
    }

    /// A header's value, the name compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.head, name)
    }
}

/// Configures a [`ConnectProxy`].
#[derive(Debug, Default, Clone)]
pub struct ConnectProxyBuilder {
    credentials: Option<(String, String)>,
    map: HashMap<String, SocketAddr>,
}

impl ConnectProxyBuilder {
    /// Demands `Proxy-Authorization: Basic base64(user:password)` on every CONNECT; a request
    /// without it, or with other credentials, is answered `407 Proxy Authentication Required`.
    pub fn require_credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Tunnels `CONNECT host:port` to `addr` (the proxy's own name resolution), e.g.
    /// `graph.facebook.com:443` to a TLS emulator's Graph address.
    pub fn map(mut self, host_port: &str, addr: SocketAddr) -> Self {
        self.map.insert(host_port.to_ascii_lowercase(), addr);
        self
    }

    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(self) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port");
        let addr = listener.local_addr().expect("the bound address");
        let shared = Arc::new(Shared {
            expected_auth: self
                .credentials
                .map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes()))),
            map: self.map,
            log: Mutex::new(Vec::new()),
            tunneled: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(serve(listener, shared.clone()));
        ConnectProxy { addr, shared, task }
    }
}

struct Shared {
    expected_auth: Option<String>,
    map: HashMap<String, SocketAddr>,
    log: Mutex<Vec<ProxyRequest>>,
    tunneled: Mutex<Vec<u8>>,
}

impl Shared {
    fn record(&self, head: &str, status: u16) {
        self.log.lock().unwrap().push(ProxyRequest {
            head: head.to_owned(),
            status,
        });
    }
}

/// A running CONNECT proxy on 127.0.0.1 (see the [module docs](self)).
#[derive(Debug)]
pub struct ConnectProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("requires_credentials", &self.expected_auth.is_some())
            .field("map", &self.map)
            .finish_non_exhaustive()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConnectProxy {
    /// A builder: no credentials required, no names mapped.
    pub fn builder() -> ConnectProxyBuilder {
        ConnectProxyBuilder::default()
    }

    /// A proxy with no credentials required and no names mapped (loopback targets only).
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:password@127.0.0.1:port` (no percent-encoding: keep them plain).
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// Every request head received so far, in order.
    pub fn log(&self) -> Vec<ProxyRequest> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The whole log as one text: every head received, for "never contains" checks.
    pub fn log_text(&self) -> String {
        self.log().into_iter().map(|r| r.head).collect()
    }

    /// The targets (`host:port`) of the CONNECT requests received, in order.
    pub fn connect_targets(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|r| r.method() == "CONNECT")
            .map(|r| r.target().to_owned())
            .collect()
    }

    /// The bytes clients sent through the tunnels (the first 8 MiB), all tunnels together.
    pub fn tunneled(&self) -> Vec<u8> {
        self.shared.tunneled.lock().unwrap().clone()
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    // Dropping this task (ConnectProxy's drop) drops the set, which aborts every tunnel.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    conns.spawn(handle(stream, shared.clone()));
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn handle(mut client: TcpStream, shared: Arc<Shared>) {
    let Some((head, early)) = crate::net::read_request_head(&mut client).await else {
        return;
    };
    if crate::http1::method(&head) != "CONNECT" {
        shared.record(&head, 501);
        let _ = client
            .write_all(answer(501, "Connection: close\r\n").as_bytes())
            .await;
        return;
    }
    if let Some(expected) = &shared.expected_auth {
        if header(&head, "proxy-authorization").as_deref() != Some(expected.as_str()) {
            shared.record(&head, 407);
            let extra = "Proxy-Authenticate: Basic realm=\"wa-media test proxy\"\r\n";
            let _ = client.write_all(answer(407, extra).as_bytes()).await;
            return;
        }
    }
    let target = crate::http1::target(&head).to_ascii_lowercase();
    let Some(addr) = shared
        .map
        .get(&target)
        .copied()
        .or_else(|| loopback(&target))
    else {
        shared.record(&head, 502);
        let _ = client.write_all(answer(502, "").as_bytes()).await;
        return;
    };
    let upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        _ => {
            shared.record(&head, 502);
            let _ = client.write_all(answer(502, "").as_bytes()).await;
            return;
        }
    };
    shared.record(&head, 200);
    // A tunnel's 200 has no body and no Content-Length.
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    tunnel(client, upstream, early, &shared).await;
}

/// A response head with no body.
fn answer(status: u16, extra: &str) -> String {
    let reason = match status {
        200 => "Connection Established",
        407 => "Proxy Authentication Required",
        501 => "Not Implemented",
        _ => "Bad Gateway",
    };
    format!("HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: 0\r\n\r\n")
}

/// `host:port` when host is a loopback IP literal.
fn loopback(target: &str) -> Option<SocketAddr> {
    let (host, port) = target.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = host.parse().ok()?;
    let port = port.parse().ok()?;
    ip.is_loopback().then(|| SocketAddr::new(ip, port))
}

async fn tunnel(client: TcpStream, upstream: TcpStream, early: Vec<u8>, shared: &Shared) {
    let (mut client_r, mut client_w) = client.into_split();
    let (mut up_r, mut up_w) = upstream.into_split();
    let capture = |bytes: &[u8]| {
        let mut t = shared.tunneled.lock().unwrap();
        let room = TUNNEL_CAPTURE.saturating_sub(t.len());
        t.extend_from_slice(&bytes[..bytes.len().min(room)]);
    };
    let to_target = async {
        capture(&early);
        if up_w.write_all(&early).await.is_err() {
            return;
        }
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match client_r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    capture(&buf[..n]);
                    if up_w.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = up_w.shutdown().await;
    };
    let to_client = async {
        let _ = tokio::io::copy(&mut up_r, &mut client_w).await;
        let _ = client_w.shutdown().await;
    };
    // Either side closing ends the tunnel.
    tokio::select! {
        _ = to_target => {}
        _ = to_client => {}
    }
}

/// Standard base64 with padding (what `Proxy-Authorization: Basic` carries).
pub fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("Aladdin:opensesame", "QWxhZGRpbjpvcGVuc2VzYW1l"),
        ] {
            assert_eq!(base64(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn only_loopback_literals_are_reached_unmapped() {
        assert_eq!(
            loopback("127.0.0.1:80"),
            Some("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(loopback("[::1]:443"), Some("[::1]:443".parse().unwrap()));
        assert_eq!(loopback("10.0.0.1:80"), None);
        assert_eq!(loopback("example.com:443"), None);
    }

    #[tokio::test]
    async fn tunnels_answers_407_and_logs() {
        use crate::net::within;
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let proxy = ConnectProxy::builder()
            .require_credentials("u", "p")
            .map("echo.test:7", echo_addr)
            .start()
            .await;
        let limit = Duration::from_secs(10);

        // Without credentials: 407.
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        s.write_all(b"CONNECT echo.test:7 HTTP/1.1\r\nHost: echo.test:7\r\n\r\n")
            .await
            .unwrap();
        let (status, _, _) = within("407", limit, crate::net::read_http1_response(&mut s, limit))
            .await
            .unwrap();
        assert_eq!(status, 407);

        // With them: a tunnel to the mapped address.
        let mut s = TcpStream::connect(proxy.addr()).await.unwrap();
        let req = format!(
            "CONNECT echo.test:7 HTTP/1.1\r\nHost: echo.test:7\r\nProxy-Authorization: Basic {}\r\n\r\nhello",
            base64(b"u:p")
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        within("the echo", limit, async {
            let mut buf = [0u8; 256];
            while !got.ends_with(b"hello") {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
                got.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        assert!(got.starts_with(b"HTTP/1.1 200"));
        let statuses: Vec<u16> = proxy.log().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [407, 200]);
        assert_eq!(proxy.connect_targets(), ["echo.test:7", "echo.test:7"]);
        assert_eq!(proxy.tunneled(), b"hello");
    }
}
