//! A webhook receiver on a real socket: it records every delivery (body, signature, content
//! type) and answers with a scripted status, for the webhook delivery and message status tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// One delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Vec<u8>,
    pub signature: Option<String>,
    pub content_type: Option<String>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON delivery")
    }
}

/// A receiver answering with `script[i]` to the i-th delivery (200 once the script ends;
/// 0 = never answer).
pub struct Receiver {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Received>>>,
}

pub async fn receiver(script: Vec<u16>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let s2 = seen.clone();
    let script = Arc::new(script);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (seen, script) = (s2.clone(), script.clone());
            let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                let (seen, script) = (seen.clone(), script.clone());
                async move {
                    let header = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    let (signature, content_type) =
                        (header("x-hub-signature-256"), header("content-type"));
                    let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                    let i = {
                        let mut s = seen.lock().unwrap();
                        s.push(Received {
                            body,
                            signature,
                            content_type,
                        });
                        s.len() - 1
                    };
                    let status = script.get(i).copied().unwrap_or(200);
                    if status == 0 {
                        std::future::pending::<()>().await;
                    }
                    let mut r = http::Response::new(Full::new(Bytes::from_static(b"ok")));
                    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                    Ok::<_, std::convert::Infallible>(r)
                }
            });
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Receiver { url, seen }
}

impl Receiver {
    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (bounded: 10 s) until the receiver saw `n` deliveries.
    pub async fn until_seen(&self, n: usize) -> Vec<Received> {
        for _ in 0..1000 {
            let seen = self.received();
            if seen.len() >= n {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("saw {} deliveries, wanted {n}", self.received().len());
    }
}
