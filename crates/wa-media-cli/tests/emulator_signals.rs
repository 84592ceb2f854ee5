//! `wa-media emulator` stops the same way on SIGINT and on SIGTERM (what `kill`, `docker stop`
//! and CI runners send): exit 0, and its temporary data directory is gone (issue 12, item 5).
//! Through the real binary; every wait is bounded.

#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::running::Running;
use serde_json::Value;

fn stops_cleanly_on(signal: &str) {
    let mut child = Running::spawn(common::clean_command().args(["--json", "emulator"]));
    // The first stdout line announces the origins and the data directory once both listen.
    let first = child.first_stdout_line();
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
    child.signal(signal);
    let out = child.wait_output(Duration::from_secs(30));
    assert!(
        out.status.success(),
        "SIG{signal}: {:?}\n{}",
        out.status,
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
