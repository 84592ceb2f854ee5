//! `wa-media emulator` stops the same way on SIGINT and on SIGTERM (what `kill`, `docker stop`
//! and CI runners send): exit 0, and its temporary data directory is gone (issue 12, item 5).
//! Through the real binary; every wait is bounded.

#[allow(dead_code)]
mod common;

use std::io::BufRead as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Kills and reaps the child if the test ends early (a failed assertion included).
struct Reaped(Option<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn stops_cleanly_on(signal: &str) {
    let mut child = Reaped(Some(
        common::clean_command()
            .args(["--json", "emulator"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let c = child.0.as_mut().unwrap();
    // The first stdout line announces the origins and the data directory once both listen.
    let mut first = String::new();
    std::io::BufReader::new(c.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let info: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
    let dir = std::path::PathBuf::from(info["data_dir"].as_str().expect("data_dir"));
    assert!(dir.join("media").is_dir(), "{}", dir.display());
    assert!(
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("wa-media-emulator-"),
        "{}",
        dir.display()
    );

    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &c.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still running 30 s after SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.0.take().unwrap().wait_with_output().unwrap();
    assert!(
        exit.success(),
        "SIG{signal}: {exit:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dir.exists(),
        "SIG{signal} left the temporary data directory {}",
        dir.display()
    );
}

#[test]
fn sigterm_stops_the_emulator_and_removes_its_temporary_data_dir() {
    stops_cleanly_on("TERM");
}

#[test]
fn sigint_stops_the_emulator_and_removes_its_temporary_data_dir() {
    stops_cleanly_on("INT");
}
