//! The minimal client of the reference pipelines: one hyper HTTP/1.1 connection
//! (`hyper::client::conn::http1` on a `TcpStream`, or on tokio-rustls with ring), kept alive
//! across runs; the retrieve GET, then the download GET on the same connection, each frame
//! hashed with sha2 inline and written with `std::fs`; digest and size compared with the
//! retrieve answer. Nothing of wa-media is on its path.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST};
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::server::{hex, MEDIA_ID};

/// Where the verified bytes go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// Nowhere: hashed and counted only.
    Discard,
    /// A file at this path: written under a temporary name in the same directory, then
    /// `sync_all`, rename, and the directory synced (what `fetch_to_file` guarantees).
    File(PathBuf),
}

/// TLS settings: the connector (trusting only the private CA) and the name to verify.
#[derive(Clone)]
struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

/// The minimal client; cheap to clone (one shared connection).
#[derive(Clone)]
pub struct RefClient {
    addr: SocketAddr,
    /// The `Host` of the retrieve request.
    graph_host: String,
    token: String,
    tls: Option<Tls>,
    conn: Arc<Mutex<Option<SendRequest<Empty<Bytes>>>>>,
}

impl std::fmt::Debug for RefClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefClient")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl RefClient {
    /// A plain-HTTP client of the server at `addr`.
    pub fn http(addr: SocketAddr, token: &str) -> Self {
        Self {
            addr,
            graph_host: addr.to_string(),
            token: token.to_owned(),
            tls: None,
            conn: Arc::new(Mutex::new(None)),
        }
    }

    /// A TLS client of the server at `addr`, presented as `graph.facebook.com`, trusting only
    /// the CA `ca_der` (rustls with ring, TLS 1.3 or 1.2, ALPN `http/1.1`).
    pub fn tls(addr: SocketAddr, token: &str, ca_der: &[u8]) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca_der.to_vec()))
            .map_err(|e| format!("reference client: CA: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("reference client: TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = ServerName::try_from("graph.facebook.com")
            .map_err(|e| format!("reference client: name: {e}"))?;
        Ok(Self {
            addr,
            graph_host: "graph.facebook.com".to_owned(),
            token: token.to_owned(),
            tls: Some(Tls {
                connector: TlsConnector::from(Arc::new(config)),
                name,
            }),
            conn: Arc::new(Mutex::new(None)),
        })
    }

    /// Retrieve, download, hash and write (or discard); returns the bytes received. Fails on a
    /// digest or size that differs from the retrieve answer.
    pub async fn fetch(&self, sink: &Sink) -> Result<u64, String> {
        let taken = self
            .conn
            .lock()
            .map_err(|_| "reference client: lock poisoned".to_owned())?
            .take();
        let mut sender = match taken {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        let got = self.fetch_on(&mut sender, sink).await?;
        if let Ok(mut slot) = self.conn.lock() {
            *slot = Some(sender);
        }
        Ok(got)
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, String> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("reference client: connect: {e}"))?;
        tcp.set_nodelay(true)
            .map_err(|e| format!("reference client: nodelay: {e}"))?;
        match &self.tls {
            None => handshake(TokioIo::new(tcp)).await,
            Some(t) => {
                let tls = t
                    .connector
                    .connect(t.name.clone(), tcp)
                    .await
                    .map_err(|e| format!("reference client: TLS handshake: {e}"))?;
                handshake(TokioIo::new(tls)).await
            }
        }
    }

    fn get(&self, host: &str, path: &str) -> Result<Request<Empty<Bytes>>, String> {
        Request::get(path)
            .header(HOST, host)
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .body(Empty::new())
            .map_err(|e| format!("reference client: request: {e}"))
    }

    async fn fetch_on(
        &self,
        sender: &mut SendRequest<Empty<Bytes>>,
        sink: &Sink,
    ) -> Result<u64, String> {
        // The Graph retrieve.
        let req = self.get(&self.graph_host, &format!("/v27.0/{MEDIA_ID}"))?;
        let resp = send(sender, req).await?;
        if !resp.status().is_success() {
            return Err(format!("retrieve: status {}", resp.status()));
        }
        let json = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("retrieve body: {e}"))?
            .to_bytes();
        let info: serde_json::Value =
            serde_json::from_slice(&json).map_err(|e| format!("retrieve: not JSON: {e}"))?;
        let url = info["url"].as_str().ok_or("retrieve: no url")?;
        let expected_hex = info["sha256"].as_str().ok_or("retrieve: no sha256")?;
        let expected_size = info["file_size"].as_u64().ok_or("retrieve: no file_size")?;
        let uri: Uri = url.parse().map_err(|e| format!("retrieve: bad url: {e}"))?;
        let host = uri
            .authority()
            .ok_or("retrieve: url without host")?
            .as_str();
        let path = uri.path_and_query().map_or("/", |p| p.as_str());

        // The download, on the same connection.
        let req = self.get(host, path)?;
        let resp = send(sender, req).await?;
        if !resp.status().is_success() {
            return Err(format!("download: status {}", resp.status()));
        }
        let mut out = match sink {
            Sink::Discard => None,
            Sink::File(dest) => Some(TempFile::create(dest)?),
        };
        let mut hasher = Sha256::new();
        let mut got = 0u64;
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("download body: {e}"))?;
            if let Some(data) = frame.data_ref() {
                hasher.update(data);
                got += data.len() as u64;
                if let Some(f) = out.as_mut() {
                    f.write(data)?;
                }
            }
        }
        let digest = hex(&hasher.finalize());
        if got != expected_size {
            return Err(format!(
                "received {got} bytes, retrieve said {expected_size}"
            ));
        }
        if !digest.eq_ignore_ascii_case(expected_hex) {
            return Err(format!("SHA-256 {digest}, retrieve said {expected_hex}"));
        }
        if let (Some(f), Sink::File(dest)) = (out, sink) {
            f.persist(dest)?;
        }
        Ok(got)
    }
}

async fn handshake<I>(io: I) -> Result<SendRequest<Empty<Bytes>>, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("reference client: HTTP handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut SendRequest<Empty<Bytes>>,
    req: Request<Empty<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("reference client: connection: {e}"))?;
    sender
        .send_request(req)
        .await
        .map_err(|e| format!("reference client: request: {e}"))
}

/// A temporary file next to the destination, removed unless persisted.
struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    fn create(dest: &Path) -> Result<Self, String> {
        let name = dest
            .file_name()
            .ok_or("destination without a file name")?
            .to_string_lossy();
        let path = dest.with_file_name(format!(".{name}.reference-part"));
        let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self {
            path,
            file: Some(file),
        })
    }

    fn write(&mut self, data: &[u8]) -> Result<(), String> {
        match self.file.as_mut() {
            Some(f) => f
                .write_all(data)
                .map_err(|e| format!("{}: {e}", self.path.display())),
            None => Err("temporary file already closed".into()),
        }
    }

    /// `sync_all`, close, rename over `dest`, sync the directory.
    fn persist(mut self, dest: &Path) -> Result<(), String> {
        let file = self.file.take().ok_or("temporary file already closed")?;
        file.sync_all()
            .map_err(|e| format!("{}: sync: {e}", self.path.display()))?;
        drop(file);
        std::fs::rename(&self.path, dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        if let Some(dir) = dest.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::server::MinimalServer;
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn a_verified_download_is_written_and_a_mismatch_is_refused() {
        let rt = runtime();
        let dir = tempfile::tempdir().expect("a directory");
        let dest = dir.path().join("out.txt");
        let payload = Bytes::from(crate::environment::text_bytes(1_500_000, 1));
        let good = MinimalServer::start(&rt, "t", payload.clone(), None).expect("server");
        let client = RefClient::http(good.addr, "t");
        let got = rt
            .block_on(client.fetch(&Sink::File(dest.clone())))
            .expect("verified");
        assert_eq!(got, 1_500_000);
        assert_eq!(std::fs::read(&dest).expect("written"), payload);
        std::fs::remove_file(&dest).expect("removed");

        let wrong_digest = Some(("00".repeat(32), 1_500_000));
        let wrong_size = Some((hex(&Sha256::digest(&payload)), 1_499_999));
        for (announced, what) in [(wrong_digest, "SHA-256"), (wrong_size, "bytes")] {
            let bad = MinimalServer::start_announcing(&rt, "t", payload.clone(), None, announced)
                .expect("server");
            let client = RefClient::http(bad.addr, "t");
            for sink in [Sink::Discard, Sink::File(dest.clone())] {
                let e = rt.block_on(client.fetch(&sink)).expect_err("refused");
                assert!(e.contains(what), "{e}");
            }
            assert_eq!(std::fs::read_dir(dir.path()).expect("listed").count(), 0);
        }
        let e = rt
            .block_on(RefClient::http(good.addr, "wrong").fetch(&Sink::Discard))
            .expect_err("no token, no answer");
        assert!(e.contains("401"), "{e}");
    }
}
