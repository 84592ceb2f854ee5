//! An application built on an independent WhatsApp client library, unchanged, behind
//! `wa-media serve --forward` (issue 26), with the emulator as Meta: pywa (Python, pinned in
//! `.ci/run`) validates every forward's `X-Hub-Signature-256` with the app secret and parses it
//! with its own types. Media messages (from a customer with a phone number, and from one known
//! only by a username) and the `sent`, `delivered` and `read` statuses of a sent message must
//! all reach its handlers, with the identities `serve` recorded.
//!
//! Needs a Python with pywa: `WA_MEDIA_PYWA_PYTHON` (`.ci/run` installs it into
//! `target/ci-venv`). Without it the test prints why and passes, unless
//! `WA_MEDIA_REQUIRE_PYWA=1` (CI), where it fails.

#[allow(dead_code)]
mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::serve::{Serve, SECRET, VERIFY, WAIT};
use common::{code, fixture, json, stderr, Env};
use serde_json::Value;
use wa_media_emulator::InboundMessage;

/// The Python with pywa, or why there is none.
fn pywa_python() -> Result<PathBuf, String> {
    let python = std::env::var_os("WA_MEDIA_PYWA_PYTHON")
        .map(PathBuf::from)
        .ok_or("WA_MEDIA_PYWA_PYTHON is not set")?;
    let ok = Command::new(&python)
        .args(["-c", "import pywa"])
        .status()
        .map_err(|e| format!("{}: {e}", python.display()))?
        .success();
    if ok {
        Ok(python)
    } else {
        Err(format!("{} cannot import pywa", python.display()))
    }
}

struct App {
    child: Child,
    log: PathBuf,
}

impl App {
    fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn wait(&self, what: &str, pred: impl Fn(&[Value]) -> bool) {
        let ok =
            common::running::wait_until(WAIT, Duration::from_millis(50), || pred(&self.lines()));
        assert!(ok, "pywa never got {what}; its log: {:#?}", self.lines());
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_pywa_bot_behind_serve_handles_every_forwarded_notification() {
    let python = match pywa_python() {
        Ok(p) => p,
        Err(why) if std::env::var_os("WA_MEDIA_REQUIRE_PYWA").is_some() => {
            panic!("pywa is required (WA_MEDIA_REQUIRE_PYWA) but: {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let (serve_addr, app_addr) = (common::serve::free_addr(), common::serve::free_addr());
    let env = Env::start_with(|b| b.webhook(format!("http://{serve_addr}/webhook"), SECRET));
    let log = env.dir.path().join("pywa.jsonl");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/independent/pywa_app.py");
    let app = App {
        child: Command::new(python)
            .arg(script)
            .arg(app_addr.port().to_string())
            .arg(SECRET)
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        log,
    };
    app.wait("started", |l| l.iter().any(|v| v["kind"] == "ready"));

    let dir = env.dir.path().join("inbox");
    let mut cmd = env.cmd();
    cmd.args([
        "--json",
        "serve",
        "--listen",
        &serve_addr.to_string(),
        "--app-secret",
        SECRET,
        "--verify-token",
        VERIFY,
        "-d",
        dir.to_str().unwrap(),
        "--forward",
        &format!("http://{app_addr}/"),
    ]);
    let mut serve = Serve::spawn(cmd);

    // A customer with a phone number, and one known only by a username.
    let bytes = std::fs::read(fixture("image.jpg")).unwrap();
    let phone = env.simulate(InboundMessage::new(bytes.clone(), "image/jpeg"));
    let username = env.simulate(
        InboundMessage::new(bytes, "image/jpeg")
            .phone(false)
            .username("pablomorales"),
    );
    // A message sent: its statuses come back through serve.
    let out = env.run(&[
        "--json",
        "send",
        "--to",
        "16505551234",
        fixture("document.pdf").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let wamid = json(&out)["wamid"].as_str().unwrap().to_owned();

    for sim in [&phone, &username] {
        let id = sim.media_id.as_str().to_owned();
        app.wait("a media message", |l| {
            l.iter()
                .any(|v| v["kind"] == "message" && v["media_id"] == id.as_str())
        });
    }
    app.wait("sent, delivered and read", |l| {
        ["sent", "delivered", "read"].iter().all(|s| {
            l.iter()
                .any(|v| v["kind"] == "status" && v["id"] == wamid.as_str() && v["status"] == *s)
        })
    });
    let lines = app.lines();
    assert!(
        !lines
            .iter()
            .any(|v| v["kind"] == "crash" || v["kind"] == "refused"),
        "{lines:#?}"
    );
    // pywa reads the same customers serve recorded.
    for sim in [&phone, &username] {
        let id = sim.media_id.as_str();
        let saved = serve.wait_saved(id);
        let seen = lines
            .iter()
            .find(|v| v["kind"] == "message" && v["media_id"] == id)
            .unwrap();
        assert_eq!(seen["user_id"], saved["user_id"], "{seen} vs {saved}");
        assert_eq!(
            seen["wa_id"],
            saved.get("from").cloned().unwrap_or(Value::Null)
        );
        assert_eq!(
            seen["username"],
            saved.get("username").cloned().unwrap_or(Value::Null)
        );
    }
    serve.signal("TERM");
    assert_eq!(serve.wait_exit(WAIT).code(), 0);
}
