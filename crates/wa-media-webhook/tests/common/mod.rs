//! The webhook service over a real socket on 127.0.0.1, the emulator as Graph and the
//! download host, and a small HTTP client to deliver notifications.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use wa_media_emulator::{Emulator, EmulatorHandle, InboundMessage, SimulatedInbound};
use wa_media_webhook::{
    DirectorySink, Handler, Ingest, IngestConfig, Spool, WebhookService, SIGNATURE_HEADER,
};

pub const SECRET: &str = "app-secret-for-tests";
pub const VERIFY: &str = "verify-token-for-tests";

/// Fast retries, so fault tests finish quickly.
pub fn fast() -> IngestConfig {
    IngestConfig::default().concurrency(8).retry(
        IngestConfig::default_retry()
            .with_max_attempts(8)
            .with_delays(Duration::from_millis(5), Duration::from_millis(50)),
    )
}

pub struct Harness {
    pub emu: EmulatorHandle,
    pub dir: tempfile::TempDir,
    pub service: WebhookService,
    pub addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(fast(), None).await
    }

    pub async fn start_with(config: IngestConfig, handler: Option<Box<dyn Handler>>) -> Self {
        let emu = Emulator::builder().start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        Self::on(emu, dir, config, handler).await
    }

    /// A service on an existing emulator and directory (a restart).
    pub async fn on(
        emu: EmulatorHandle,
        dir: tempfile::TempDir,
        config: IngestConfig,
        handler: Option<Box<dyn Handler>>,
    ) -> Self {
        let api: Arc<dyn wa_media_core::MediaApi> = Arc::new(
            wa_media_hyper::builder()
                .token(emu.token())
                .graph_url(emu.graph_url())
                .trust_host(emu.lookaside_addr().to_string())
                .retry_policy(wa_media_core::RetryPolicy::none())
                .build()
                .unwrap(),
        );
        let ingest = Ingest::start(
            Spool::open(dir.path().join("spool")).unwrap(),
            api,
            Arc::new(DirectorySink::new(dir.path().join("inbox")).unwrap()),
            config,
        )
        .unwrap();
        let mut b = WebhookService::builder(ingest)
            .app_secret(SECRET)
            .verify_token(VERIFY)
            .body_timeout(Duration::from_secs(2));
        if let Some(h) = handler {
            b = b.handler(BoxedHandler(h));
        }
        let service = b.build().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let svc = service.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let svc = hyper_util::service::TowerToHyperService::new(svc.clone());
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
        Self {
            emu,
            dir,
            service,
            addr,
            server,
            client,
        }
    }

    /// Stops the service (the emulator and directory are kept) and returns them.
    pub async fn stop(self) -> (EmulatorHandle, tempfile::TempDir) {
        self.service.drain();
        self.service.ingest().shutdown(Duration::from_secs(5)).await;
        self.server.abort();
        (self.emu, self.dir)
    }

    pub fn inbox(&self) -> PathBuf {
        self.dir.path().join("inbox")
    }

    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    pub fn url(&self, query: &str) -> String {
        format!("http://{}/webhook{query}", self.addr)
    }

    pub async fn get(&self, query: &str) -> (u16, String) {
        let req = http::Request::get(self.url(query))
            .body(Full::default())
            .unwrap();
        self.send(req).await
    }

    /// POSTs `body` with `signature` (None: no header).
    pub async fn post(&self, body: impl Into<Bytes>, signature: Option<&str>) -> (u16, String) {
        let mut req = http::Request::post(self.url("")).header("content-type", "application/json");
        if let Some(s) = signature {
            req = req.header(SIGNATURE_HEADER, s);
        }
        self.send(req.body(Full::new(body.into())).unwrap()).await
    }

    /// POSTs a notification signed as Meta would.
    pub async fn deliver(&self, body: &str) -> (u16, String) {
        let sig = wa_media_types::signature_header(SECRET.as_bytes(), body.as_bytes());
        self.post(body.to_owned(), Some(&sig)).await
    }

    async fn send(&self, req: http::Request<Full<Bytes>>) -> (u16, String) {
        self.try_send(req).await.unwrap()
    }

    /// POSTs `body` signed; an error when the connection broke before an answer was read (a
    /// server refusing an oversized body may close while the client is still sending).
    pub async fn try_post_signed(&self, body: Vec<u8>) -> Result<(u16, String), String> {
        let sig = wa_media_types::signature_header(SECRET.as_bytes(), &body);
        let req = http::Request::post(self.url(""))
            .header(SIGNATURE_HEADER, sig)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        self.try_send(req).await
    }

    async fn try_send(&self, req: http::Request<Full<Bytes>>) -> Result<(u16, String), String> {
        let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    pub async fn simulate(&self, msg: InboundMessage) -> SimulatedInbound {
        self.emu.simulate_inbound(msg).await.unwrap()
    }

    /// Waits (bounded) until `saved + failed` reaches `n`; panics with the counts otherwise.
    pub async fn settle(&self, n: u64) {
        for _ in 0..3000 {
            let (saved, failed, _) = self.service.ingest().stats();
            if saved + failed >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("not settled: {:?}", self.service.ingest().stats());
    }

    /// The lines of index.jsonl.
    pub fn index(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.inbox().join("index.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Every regular file under the inbox (index excluded), recursively.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = wa_media_testkit::fs::walk(&self.inbox());
        out.retain(|p| p.file_name().is_some_and(|n| n != "index.jsonl"));
        out.sort();
        out
    }

    /// Entries in a spool subdirectory.
    pub fn spooled(&self, sub: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.spool().join(sub))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Requests the emulator served for retrieve or download.
    pub fn fetches(&self) -> usize {
        self.emu
            .request_log()
            .iter()
            .filter(|r| {
                matches!(
                    r.endpoint,
                    Some(
                        wa_media_emulator::Endpoint::Retrieve
                            | wa_media_emulator::Endpoint::Download
                    )
                )
            })
            .count()
    }
}

struct BoxedHandler(Box<dyn Handler>);

#[async_trait::async_trait]
impl Handler for BoxedHandler {
    async fn handle(
        &self,
        n: &wa_media_types::webhook::Notification,
    ) -> Result<(), wa_media_webhook::HandlerError> {
        self.0.handle(n).await
    }
}

/// Deterministic bytes that sniff as JPEG.
pub fn jpeg(n: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..n).map(|i| (i as u8).wrapping_mul(13) ^ seed));
    v
}
