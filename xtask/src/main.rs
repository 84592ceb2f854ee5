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
//! - `cargo xtask dist`: the release archive for the host target,
//!   `target/dist/wa-media-<version>-<target>.tar.gz` (binary, completions, man page, README,
//!   CHANGELOG, licences) and `target/dist/SHA256SUMS` (`dist.rs`). `cargo xtask test` packs the
//!   same archive from its dev build (no release build in CI), unpacks it and runs the binary's
//!   `--version` and `demo` (the release archive alone: `cargo xtask dist --check`).
//! - `cargo xtask fixtures [--check]`: regenerates `fixtures/media/` deterministically, or checks
//!   that the committed files match the generator.
//!
//! Avoid adding dependencies here: this crate is built before every test run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod dist;
mod fixtures;
mod media;
mod package;
mod public_api;
mod test;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("test") => test::test(&root),
        Some("package") => package::package(&root),
        Some("dist") => dist::dist(
            &root,
            if args.iter().any(|a| a == "--dev") {
                dist::Build::Dev
            } else {
                dist::Build::Release
            },
        )
        .and_then(|archive| {
            if args.iter().any(|a| a == "--check") {
                dist::check(&root, &archive)
            } else {
                Ok(())
            }
        }),
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
            eprintln!("usage: cargo xtask <test | package | dist [--dev] [--check] | public-api [CRATE..] | bench [--quick] | fixtures [--check]>");
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
