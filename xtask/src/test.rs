//! `cargo xtask test`: rustfmt, clippy, the public-API check, the fixtures check, every test of
//! the workspace with one `N passed, N failed, N skipped` summary, wa-media-hyper's TLS tests
//! under its other feature sets, the packaging check, and the benchmark smoke run.

use std::path::Path;
use std::process::Stdio;

use crate::{bench, cargo, dist, package, public_api, run};

/// wa-media-hyper's TLS tests under its other feature sets (the workspace tests use the defaults:
/// ring and webpki-roots). Measured after the workspace's tests were built, on 2 cores shared
/// with other builds: 148–172 s for the aws-lc-rs step (aws-lc-sys' C build, and the crates
/// whose features differ when one package is built alone), 16 s for the second; ~450 MiB.
fn tls_features(root: &Path) -> Result<(), String> {
    let hyper = ["test", "--quiet", "-p", "wa-media-hyper"];
    // aws-lc-rs alone (the dev-dependencies still link ring: the emulator's TLS uses it).
    run(
        root,
        "wa-media-hyper TLS tests with aws-lc-rs",
        cargo().args(hyper).args([
            "--no-default-features",
            "--features",
            "aws-lc-rs,webpki-roots",
            "--lib",
            "--test",
            "transport",
            "--test",
            "emulator",
            "--",
            "tls",
            "untrusted_ca",
        ]),
    )?;
    // The workspace's clippy skips test files whose required features are off
    // (tests/crypto_provider.rs, tests/native_roots.rs): lint them with those features on.
    run(
        root,
        "cargo clippy of wa-media-hyper with aws-lc-rs and native-roots",
        cargo().args([
            "clippy",
            "-p",
            "wa-media-hyper",
            "--features",
            "aws-lc-rs,native-roots",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // Both providers on (aws-lc-rs is picked) with no process-wide default installed, and
    // native-roots with SSL_CERT_FILE at the emulator's CA (its own test binary: the variable
    // is global). One step, so the crate is built once more, not twice.
    run(
        root,
        "wa-media-hyper with both crypto providers, and native-roots",
        cargo().args(hyper).args([
            "--features",
            "aws-lc-rs,native-roots",
            "--lib",
            "--test",
            "crypto_provider",
            "--test",
            "native_roots",
            "--",
            "tls::",
            "provider",
            "ssl_cert_file",
        ]),
    )
}

/// The `wa-media` binary without its default features (`emulator`, `store`): linted, and its
/// unit tests run, which check that `emulator`, `demo` and `serve --store` are refused naming
/// their feature. Unit tests of the binary only: integration tests would replace
/// `target/debug/wa-media` (the default build, which the workspace's tests run) with it.
fn slim_cli(root: &Path) -> Result<(), String> {
    run(
        root,
        "cargo clippy of wa-media-cli --no-default-features",
        cargo().args([
            "clippy",
            "-p",
            "wa-media-cli",
            "--no-default-features",
            "--bins",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    run(
        root,
        "wa-media-cli --no-default-features: its unit tests",
        cargo().args([
            "test",
            "--quiet",
            "-p",
            "wa-media-cli",
            "--no-default-features",
            "--bin",
            "wa-media",
        ]),
    )
}

/// Runs every check and test; fails when any fails.
pub(crate) fn test(root: &Path) -> Result<(), String> {
    run(
        root,
        "cargo fmt --check",
        cargo().args(["fmt", "--all", "--", "--check"]),
    )?;
    run(
        root,
        "cargo clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    public_api::run(root, &[])?;
    run(
        root,
        "fixtures are up to date",
        cargo().args(["run", "--quiet", "-p", "xtask", "--", "fixtures", "--check"]),
    )?;

    eprintln!("==> cargo test --workspace");
    let mut child = cargo()
        .args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
        .current_dir(root)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cargo test: could not start: {e}"))?;
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    let stdout = child.stdout.take().expect("piped");
    let mut tally = |line: &str| {
        if let Some(rest) = line.strip_prefix("test result: ") {
            for part in rest.split(';') {
                let mut w = part.split_whitespace().rev();
                let (Some(label), Some(n)) = (w.next(), w.next()) else {
                    continue;
                };
                let n: u64 = n.parse().unwrap_or(0);
                match label {
                    "passed" => passed += n,
                    "failed" => failed += n,
                    "ignored" => ignored += n,
                    _ => {}
                }
            }
        }
    };
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        tally(&line);
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    // Doc tests are not part of --all-targets: run them separately.
    eprintln!("==> cargo test --workspace --doc");
    let out = cargo()
        .args(["test", "--workspace", "--doc", "--no-fail-fast"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo test --doc: could not start: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        println!("{line}");
        tally(line);
    }
    let summary = format!("{passed} passed, {failed} failed, {ignored} skipped");
    println!();
    println!("{summary}");
    if !status.success() || !out.status.success() || failed > 0 {
        return Err("tests failed".into());
    }
    if passed == 0 {
        return Err("no test ran".into());
    }
    tls_features(root)?;
    slim_cli(root)?;
    package::package(root)?;
    let archive = dist::dist(root, dist::Build::Dev)?;
    dist::check(root, &archive)?;
    // Last: a smoke test that the benchmark harness produces every row (never a speed check).
    // The summary is repeated after it so that it stays the closing line.
    let smoke = bench::bench(root, true, &[]);
    println!();
    println!("{summary}");
    smoke
}
