//! A test that measures one run alone in a child process: this test binary re-executed with
//! only one test selected and an environment variable telling it to do the measured work, and
//! the process's memory as `/proc/self/status` reports it (`VmHWM`, the peak resident set, and
//! `VmRSS`).
//!
//! The parent runs what must not be counted (an emulator, moto), starts the child with
//! [`run_test_in_child`] (or [`run_ignored_test_in_child`] when the child half is an
//! `#[ignore]`d test), and reads what the child printed as `KEY=value` with [`reported`]:
//!
//! ```no_run
//! use wa_media_testkit::process::{reported, run_test_in_child, vm_hwm_kib};
//! const CHILD_ENV: &str = "MY_CRATE_RSS_CHILD";
//!
//! #[test]
//! fn peak_rss_stays_flat() {
//!     if let Ok(size) = std::env::var(CHILD_ENV) {
//!         // … the measured work, then:
//!         println!("PEAK_RSS_KIB={}", vm_hwm_kib().expect("VmHWM"));
//!         return;
//!     }
//!     let stdout = run_test_in_child("peak_rss_stays_flat", &[(CHILD_ENV, "1000000")]);
//!     let peak: u64 = reported(&stdout, "PEAK_RSS_KIB").parse().unwrap();
//!     # drop(peak);
//! }
//! ```
//!
//! Std only. The runs are blocking: from async code, call them inside
//! `tokio::task::spawn_blocking`.

use std::process::Command;

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`, …), where the platform has it.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// This process's peak resident set size (`VmHWM`) in KiB; `None` without procfs.
pub fn vm_hwm_kib() -> Option<u64> {
    proc_status_kib("VmHWM")
}

/// This process's resident set size now (`VmRSS`) in KiB; `None` without procfs.
pub fn vm_rss_kib() -> Option<u64> {
    proc_status_kib("VmRSS")
}

/// The command that runs only the test `name` of this test binary (`--exact`, output shown,
/// one test thread) with `env` set; the caller spawns it (with piped stdin to talk to it, say)
/// or takes its output. `shell_prefix`, when given, is shell code run before the binary (such
/// as `ulimit -n 64`). Add `--ignored` when the test is `#[ignore]`d.
pub fn test_command(name: &str, env: &[(&str, &str)], shell_prefix: Option<&str>) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = match shell_prefix {
        None => Command::new(&exe),
        Some(prefix) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("{prefix} && exec \"$0\" \"$@\""))
                .arg(&exe);
            c
        }
    };
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the test `name` of this test binary in a child with `env` set, waits for it and returns
/// its stdout; panics with its stdout and stderr when it failed.
pub fn run_test_in_child(name: &str, env: &[(&str, &str)]) -> String {
    output_of(name, test_command(name, env, None))
}

/// [`run_test_in_child`] for an `#[ignore]`d test (a child half that does nothing unless its
/// environment variable is set, kept out of ordinary runs).
pub fn run_ignored_test_in_child(name: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = test_command(name, env, None);
    cmd.arg("--ignored");
    output_of(name, cmd)
}

fn output_of(name: &str, mut cmd: Command) -> String {
    let out = cmd.output().expect("the child test runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the child running {name} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The value a child printed as `KEY=value`: on the first line of `output` holding `KEY=`,
/// what follows it up to white space. Panics naming the key and showing `output` when no line
/// has it.
pub fn reported<'a>(output: &'a str, key: &str) -> &'a str {
    let marker = format!("{key}=");
    output
        .lines()
        .find_map(|l| l.split_once(marker.as_str()).map(|(_, v)| v))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {key}= in:\n{output}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_reads_the_value_after_its_key() {
        let out = "running 1 test\nPEAK_RSS_KIB=1234 kB\nX before=1 after=22\n";
        assert_eq!(reported(out, "PEAK_RSS_KIB"), "1234");
        assert_eq!(reported(out, "after"), "22");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_reports_its_peak_and_resident_set() {
        // Both are read (the kernel updates VmHWM lazily, so it may trail VmRSS for a moment).
        let (hwm, rss) = (vm_hwm_kib().unwrap(), vm_rss_kib().unwrap());
        assert!(hwm > 0 && rss > 0, "VmHWM {hwm} KiB, VmRSS {rss} KiB");
    }
}
