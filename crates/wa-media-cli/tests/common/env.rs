//! An emulator started in the test process and the binary configured for it by environment
//! variables, with the helpers every CLI test reads its output with.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use wa_media_emulator::{Emulator, EmulatorBuilder, EmulatorHandle};

/// The business phone number id the binary is configured with.
pub const PHONE: &str = "106540352242922";
/// A distinctive token: any output containing it is a leak.
pub const CANARY_TOKEN: &str = "EAAGcanaryTOKEN0123456789leakcheck";

/// A file of `fixtures/media`.
pub fn fixture(name: &str) -> PathBuf {
    wa_media_testkit::paths::fixtures("media").join(name)
}

/// An emulator (accepting [`CANARY_TOKEN`]), its runtime, and a temporary directory.
pub struct Env {
    pub rt: tokio::runtime::Runtime,
    pub emu: Option<EmulatorHandle>,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn start() -> Self {
        Self::start_with(|b| b)
    }

    pub fn start_with(f: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder) -> Self {
        let rt = wa_media_testkit::net::runtime();
        let emu = rt
            .block_on(f(Emulator::builder().token(CANARY_TOKEN)).start())
            .unwrap();
        Env {
            rt,
            emu: Some(emu),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn emu(&self) -> &EmulatorHandle {
        self.emu.as_ref().unwrap()
    }

    /// A customer's media message, taken by the emulator (the notification to deliver).
    pub fn simulate(
        &self,
        msg: wa_media_emulator::InboundMessage,
    ) -> wa_media_emulator::SimulatedInbound {
        self.rt.block_on(self.emu().simulate_inbound(msg)).unwrap()
    }

    /// Requests that reached the emulator's messages endpoint (answered or not).
    pub fn message_requests(&self) -> usize {
        self.emu()
            .request_log()
            .iter()
            .filter(|r| r.path.ends_with("/messages"))
            .count()
    }

    /// The binary, configured through the environment for this emulator.
    pub fn cmd(&self) -> Command {
        let mut c = super::clean_command();
        c.env("WHATSAPP_TOKEN", CANARY_TOKEN)
            .env("WHATSAPP_PHONE_NUMBER_ID", PHONE)
            .env("WHATSAPP_GRAPH_URL", self.emu().graph_url())
            .env(
                "WHATSAPP_TRUSTED_HOSTS",
                self.emu().lookaside_addr().to_string(),
            )
            .env("RUST_LOG", "trace");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd().args(args).output().unwrap();
        assert_no_leak(&out);
        out
    }

    pub fn upload(&self, file: &str) -> String {
        let out = self.run(&["--json", "upload", fixture(file).to_str().unwrap()]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        json(&out)["id"].as_str().unwrap().to_string()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(e) = self.emu.take() {
            self.rt.block_on(e.shutdown());
        }
    }
}

/// The exit code; `-1` when the process was killed by a signal.
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stdout parsed as one JSON value.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(out)))
}

/// Fails when [`CANARY_TOKEN`] appears on stdout or stderr.
pub fn assert_no_leak(out: &Output) {
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(text);
        assert!(
            !text.contains(CANARY_TOKEN),
            "the token leaked into {name}:\n{text}"
        );
    }
}

/// Runs a command with `input` on its stdin.
pub trait StdinBytes {
    fn stdin_bytes(&mut self, input: &[u8]) -> Output;
}

impl StdinBytes for Command {
    fn stdin_bytes(&mut self, input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_no_leak(&out);
        out
    }
}
