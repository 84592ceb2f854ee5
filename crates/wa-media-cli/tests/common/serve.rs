//! `wa-media serve` running in the background against the test's emulator: its first stdout
//! line (`{"event":"listening",…}`) gives the address; later JSON lines (one per saved media)
//! and stderr are read continuously by threads, so the pipes never fill, and can be waited for
//! with a bound. Killed and reaped on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use wa_media_emulator::Endpoint;

use super::http::{self, Reply};
use super::{Env, CANARY_TOKEN};

/// The app secret `serve` checks signatures with.
pub const SECRET: &str = "app-secret-for-serve-tests";
/// The verify token of the handshake.
pub const VERIFY: &str = "verify-token-for-serve-tests";
/// The webhook path.
pub const PATH: &str = "/webhook";

/// Bound of every wait for something `serve` does.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running `wa-media --json serve`.
pub struct Serve {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The `listening` line.
    pub listening: Value,
    lines: mpsc::Receiver<String>,
    /// Every stdout line after the first, in order (filled as they are waited for).
    seen: Vec<Value>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

/// How a `serve` process ended.
#[derive(Debug)]
pub struct Exited {
    pub status: ExitStatus,
    /// Every JSON line after the `listening` one.
    pub events: Vec<Value>,
    pub stderr: String,
}

impl Exited {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

/// `wa-media --json serve` for `env`'s emulator saving into `dir`, checking signatures with
/// [`SECRET`], with `extra` arguments.
pub fn serve_command(env: &Env, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = env.cmd();
    cmd.args([
        "--json",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--path",
        PATH,
        "--app-secret",
        SECRET,
        "--verify-token",
        VERIFY,
        "-d",
        dir.to_str().unwrap(),
    ]);
    cmd.args(extra);
    cmd
}

impl Serve {
    /// Starts [`serve_command`] and waits for its `listening` line.
    pub fn start(env: &Env, dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(serve_command(env, dir, extra))
    }

    /// Starts `cmd` (a `--json serve`) and waits (bounded) for its `listening` line; panics
    /// with its stderr when it exits or stays silent instead.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut serve = Serve {
            child: Some(child),
            addr: "127.0.0.1:9".parse().unwrap(),
            listening: Value::Null,
            lines,
            seen: Vec::new(),
            stderr,
            readers: vec![stdout_reader, stderr_reader],
        };
        let first = match serve.lines.recv_timeout(WAIT) {
            Ok(l) => l,
            Err(e) => panic!(
                "serve did not announce itself ({e:?}); stderr:\n{}",
                serve.stderr()
            ),
        };
        let v: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("first line is not JSON ({e}): {first}"));
        assert_eq!(v["event"], "listening", "{v}");
        let url = v["url"].as_str().unwrap();
        let rest = url.strip_prefix("http://").unwrap();
        let (authority, path) = rest.split_at(rest.find('/').unwrap());
        assert_eq!(path, PATH, "{url}");
        serve.addr = authority.parse().unwrap();
        serve.listening = v;
        serve
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Everything written on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (bounded) until stderr contains `needle`.
    pub fn wait_stderr(&self, needle: &str, within: Duration) -> bool {
        super::running::wait_until(within, Duration::from_millis(20), || {
            self.stderr().contains(needle)
        })
    }

    /// Waits (bounded) for the next stdout line that satisfies `pred`, keeping every line in
    /// [`Serve::events`]; panics with stderr when none came.
    pub fn wait_event(&mut self, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("a stdout line is not JSON ({e}): {line}"));
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => panic!(
                    "no such event within {within:?}; events {:?}; stderr:\n{}",
                    self.seen,
                    self.stderr()
                ),
            }
        }
    }

    /// Waits for the `saved` (or `already_saved`) line of `media_id`.
    pub fn wait_saved(&mut self, media_id: &str) -> Value {
        self.wait_event(WAIT, |v| {
            v["media_id"] == media_id && (v["event"] == "saved" || v["event"] == "already_saved")
        })
    }

    /// The stdout lines seen so far (after the `listening` one), taking in those already sent.
    pub fn events(&mut self) -> Vec<Value> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(serde_json::from_str(&line).unwrap());
        }
        self.seen.clone()
    }

    /// Sends a signal by name (`INT`, `TERM`) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// SIGKILL, then reaps the process and returns how it ended.
    pub fn kill9(mut self) -> Exited {
        self.child.as_mut().unwrap().kill().unwrap();
        self.wait_exit(WAIT)
    }

    /// Waits at most `within` for the process to end and returns its output; panics (after
    /// killing it) when it is still running. Fails when a secret is in its output.
    pub fn wait_exit(mut self, within: Duration) -> Exited {
        let child = self.child.as_mut().unwrap();
        let ended = super::running::wait_until(within, Duration::from_millis(20), || {
            child.try_wait().unwrap().is_some()
        });
        if !ended {
            panic!(
                "serve still ran {within:?} later (killed); stderr:\n{}",
                self.stderr()
            );
        }
        let status = self.child.take().unwrap().wait().unwrap();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let events = self.events();
        let stderr = self.stderr();
        let stdout = serde_json::to_string(&events).unwrap();
        for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            for secret in [CANARY_TOKEN, SECRET] {
                assert!(
                    !text.contains(secret),
                    "a secret leaked into {name}:\n{text}"
                );
            }
        }
        Exited {
            status,
            events,
            stderr,
        }
    }

    /// `GET PATH?query` (the handshake).
    pub fn get(&self, query: &str) -> Reply {
        http::request(self.addr, "GET", &format!("{PATH}{query}"), &[], b"").unwrap()
    }

    /// `POST PATH` with `body` and, when given, `X-Hub-Signature-256: signature`.
    pub fn post(&self, body: &[u8], signature: Option<&str>) -> std::io::Result<Reply> {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(s) = signature {
            headers.push(("X-Hub-Signature-256", s));
        }
        http::request(self.addr, "POST", PATH, &headers, body)
    }

    /// POSTs `body` signed with [`SECRET`], as Meta would.
    pub fn deliver(&self, body: &str) -> Reply {
        deliver(self.addr, body)
            .unwrap_or_else(|e| panic!("delivery failed: {e}; stderr:\n{}", self.stderr()))
    }

    /// Whether the handshake with the right token is answered with its challenge.
    pub fn answers_handshake(&self) -> bool {
        let r = self.get(&format!(
            "?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=still-here"
        ));
        r.status == 200 && r.body == b"still-here"
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// POSTs `body` to `serve` at `addr`, signed with [`SECRET`], on a new connection.
pub fn deliver(addr: SocketAddr, body: &str) -> std::io::Result<Reply> {
    let sig = sign(body.as_bytes());
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Hub-Signature-256", sig.as_str()),
    ];
    http::request(addr, "POST", PATH, &headers, body.as_bytes())
}

/// A free port on 127.0.0.1 for `serve`, known before the emulator that delivers to it starts.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `X-Hub-Signature-256` of `body` with [`SECRET`].
pub fn sign(body: &[u8]) -> String {
    wa_media_types::signature_header(SECRET.as_bytes(), body)
}

pub use wa_media_testkit::fs::walk;

/// The saved media under `dir`: every file outside `dir/.spool`, `index.jsonl` and temporary
/// files ([`part_files`]) excluded.
pub fn media_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| {
            !p.starts_with(dir.join(".spool"))
                && *p != dir.join("index.jsonl")
                && !p.to_string_lossy().ends_with(".wa-part")
        })
        .collect()
}

/// Every `.wa-part` temporary file anywhere under `dir`.
pub fn part_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".wa-part"))
        .collect()
}

/// The lines of `dir/index.jsonl`.
pub fn index_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("index.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The entries of `dir/.spool/<sub>` (`new`, `cur`, `failed`, `done`), sorted.
pub fn spooled(dir: &Path, sub: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join(".spool").join(sub))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Whether `media_id` has an entry in the spool (pending, taken, saved or failed).
pub fn is_spooled(dir: &Path, media_id: &str) -> bool {
    ["new", "cur", "failed"].iter().any(|s| {
        dir.join(".spool")
            .join(s)
            .join(format!("{media_id}.json"))
            .exists()
    }) || dir.join(".spool/done").join(media_id).exists()
}

/// Requests the emulator has answered at `endpoint` (a request is logged once answered).
pub fn requests_to(env: &Env, endpoint: Endpoint) -> usize {
    env.emu()
        .request_log()
        .iter()
        .filter(|r| r.endpoint == Some(endpoint))
        .count()
}

/// Deterministic bytes that sniff as JPEG.
pub fn jpeg(n: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed));
    v
}
