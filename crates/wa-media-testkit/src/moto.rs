//! moto's S3 server (`python -m moto.server`) on 127.0.0.1, for the object-store tests.
//!
//! `.ci/run` installs `moto[server]` into a virtualenv under `target/ci-venv` and exports
//! `WA_MEDIA_MOTO_PYTHON` (that venv's `python`) and `WA_MEDIA_REQUIRE_MOTO=1`. Locally the same
//! venv is found by its path, so one `python3 -m venv target/ci-venv && target/ci-venv/bin/pip
//! install 'moto[server]==5.2.5'` is enough. A test calls [`Moto::start_or_skip`]: without
//! moto it prints why and returns `None` (the test returns), except when moto is required
//! (`CI` set, or `WA_MEDIA_REQUIRE_MOTO=1`), where it panics.
//!
//! moto answers unsigned requests, so [`Moto::create_bucket`] and
//! [`Moto::pending_multipart_uploads`] speak plain HTTP/1.0 to it: a test proves that no
//! multipart upload is left through the S3 API itself (`GET /bucket?uploads`), not through the
//! client under test.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto version `.ci/run` installs.
pub const MOTO_VERSION: &str = "5.2.5";

/// A running moto server, killed when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// Whether the suite must run the moto tests (CI) rather than skip them.
pub fn required() -> bool {
    let set = |name: &str| {
        std::env::var(name)
            .map(|v| !v.is_empty() && v != "0" && v != "false")
            .unwrap_or(false)
    };
    set("CI") || set("WA_MEDIA_REQUIRE_MOTO")
}

/// The Python that has moto: `WA_MEDIA_MOTO_PYTHON`, else `target/ci-venv/bin/python` of this
/// workspace. `Err` says why there is none.
pub fn python() -> Result<PathBuf, String> {
    let candidate = match std::env::var_os("WA_MEDIA_MOTO_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => crate::paths::workspace_root().join("target/ci-venv/bin/python"),
    };
    if !candidate.exists() {
        return Err(format!(
            "no Python with moto at {} (set WA_MEDIA_MOTO_PYTHON, or create the venv as .ci/run does)",
            candidate.display()
        ));
    }
    let ok = Command::new(&candidate)
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Ok(candidate)
    } else {
        Err(format!(
            "{} cannot import moto.server (pip install 'moto[server]=={MOTO_VERSION}')",
            candidate.display()
        ))
    }
}

impl Moto {
    /// Starts moto, or explains why not: prints the reason and returns `None` when moto is not
    /// installed and not [`required`]; panics when it is required or fails to start.
    pub fn start_or_skip(test: &str) -> Option<Moto> {
        match python() {
            Ok(py) => Some(Moto::start(py).unwrap_or_else(|e| panic!("moto did not start: {e}"))),
            Err(why) if required() => {
                panic!("{test}: moto is required here (CI / WA_MEDIA_REQUIRE_MOTO) but {why}")
            }
            Err(why) => {
                eprintln!("SKIPPED {test}: {why}");
                None
            }
        }
    }

    /// Starts `python -m moto.server` on a free port of 127.0.0.1 and waits (at most 60 s)
    /// until it answers.
    pub fn start(python: PathBuf) -> io::Result<Moto> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log =
            std::env::temp_dir().join(format!("wa-media-moto-{}-{port}.log", std::process::id()));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let mut moto = Moto { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((status, _)) = moto.request("GET", "/moto-api/data.json", b"") {
                if status == 200 {
                    return Ok(moto);
                }
            }
            if let Some(exit) = moto.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "moto exited with {exit}: {}",
                    moto.log_text()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "moto did not answer within 60 s: {}",
                    moto.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's output so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One unsigned HTTP/1.0 request; the status and the body.
    pub fn request(&self, method: &str, target: &str, body: &[u8]) -> io::Result<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {target} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n\r\n",
            self.port,
            body.len()
        )?;
        s.write_all(body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("not an HTTP response: {text:.200}")))?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Creates a bucket through the S3 API (`PUT /bucket`).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self
            .request("PUT", &format!("/{bucket}"), b"")
            .expect("PUT bucket");
        assert_eq!(status, 200, "create bucket {bucket}: {body}");
    }

    /// The keys of the multipart uploads still pending in `bucket`, as S3's
    /// ListMultipartUploads (`GET /bucket?uploads`) lists them.
    pub fn pending_multipart_uploads(&self, bucket: &str) -> Vec<String> {
        let (status, body) = self
            .request("GET", &format!("/{bucket}?uploads"), b"")
            .expect("list multipart uploads");
        assert_eq!(status, 200, "list multipart uploads: {body}");
        body.split("<Upload>")
            .skip(1)
            .map(|u| {
                u.split_once("<Key>")
                    .and_then(|(_, rest)| rest.split_once("</Key>"))
                    .map(|(k, _)| k.to_owned())
                    .unwrap_or_default()
            })
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// An S3 client for `bucket` on the moto server at `endpoint` (plain http, moto's `test`
/// credentials), carried by wa-media-store's `HyperConnector` as in production.
#[cfg(feature = "moto-s3")]
pub fn s3_store(endpoint: &str, bucket: &str) -> wa_media_store::object_store::aws::AmazonS3 {
    wa_media_store::object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_bucket_name(bucket)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_http_connector(wa_media_store::HyperConnector::default())
        .build()
        .expect("an S3 client for moto")
}

/// An S3 stand-in on 127.0.0.1 for the failures moto does not produce: it answers every
/// request with `status` and `body` (an S3 error document), or with `status` 0 reads the
/// request head and never answers (a store that hangs). Runs until the process ends; returns
/// its endpoint (`http://127.0.0.1:PORT`).
pub fn standin(status: u16, body: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
    let body = body.to_owned();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            // The request head (its body, if any, is not needed to answer).
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match s.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            if status == 0 {
                held.push(s);
                continue;
            }
            let _ = write!(
                s,
                "HTTP/1.1 {status} Refused\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    endpoint
}

/// An S3 error document with `code` (such as `AccessDenied`).
pub fn s3_error(code: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>refused</Message><RequestId>R</RequestId></Error>"
    )
}
