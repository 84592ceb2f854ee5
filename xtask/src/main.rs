//! Project automation, run as `cargo xtask <command>` from anywhere in the workspace.
//!
//! - `cargo xtask test`: rustfmt check, clippy with `-D warnings`, the public-API check, every test of the workspace
//!   (unit, integration, fixture and doc tests), wa-media-hyper's TLS tests with the
//!   `aws-lc-rs` provider and with `native-roots`, then `cargo xtask package`; prints one
//!   `N passed, N failed` summary line.
//! - `cargo xtask bench [--quick]`: builds and runs the benchmark runner (`bench/`): one table
//!   of speed and memory against curl and the machine's ceilings, also written as JSON into
//!   `target/bench/` (docs/performance.md). `cargo xtask test` ends with `bench --quick`.
//! - `cargo xtask public-api [CRATE..]`: fails when a published library crate names a type of
//!   a crate outside the allow-list in its public API (rustdoc JSON; `public_api.rs`).
//!   `cargo xtask test` runs it after clippy.
//! - `cargo xtask package`: packages every published crate, builds each from its `.crate` file
//!   in a scratch workspace (`[patch]`ed to the other packages) with its doctests, and runs
//!   `wa-media-hyper`'s README example from a throwaway crate against the emulator
//!   (`package.rs`). `cargo xtask test` runs it after the tests.
//! - `cargo xtask fixtures [--check]`: regenerates `fixtures/media/` deterministically, or checks
//!   that the committed files match the generator.
//!
//! Avoid adding dependencies here: this crate is built before every test run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

mod bench;
mod fixtures;
mod media;
mod package;
mod public_api;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&root),
        Some("package") => package::package(&root),
        Some("public-api") => public_api::run(&root, &args[1..]),
        Some("fixtures") => fixtures::run(&root, args.iter().any(|a| a == "--check")),
        Some("bench") => {
            let rest: Vec<String> = args[1..]
                .iter()
                .filter(|a| *a != "--quick")
                .cloned()
                .collect();
            bench::bench(&root, args.iter().any(|a| a == "--quick"), &rest)
        }
        _ => {
            eprintln!("usage: cargo xtask <test | package | public-api [CRATE..] | bench [--quick] | fixtures [--check]>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(root: &Path, what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("==> {what}");
    let status = cmd
        .current_dir(root)
        .status()
        .map_err(|e| format!("{what}: could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

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

fn test(root: &Path) -> Result<(), String> {
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
    package::package(root)?;
    // Last: a smoke test that the benchmark harness produces every row (never a speed check).
    // The summary is repeated after it so that it stays the closing line.
    let smoke = bench::bench(root, true, &[]);
    println!();
    println!("{summary}");
    smoke
}
