//! `cargo xtask bench [--quick] [runner options]`: builds the benchmark runner (`bench/`,
//! binary `wa-media-bench`) and the `wa-media` CLI, then runs the runner, which prints one
//! table and writes the same as JSON into `target/bench/`.
//!
//! The full run builds with the `profiling` profile (release code with line tables, so a
//! profiler can attribute time; binaries in `target/profiling`). `--quick` builds with the dev profile (already built by
//! `cargo xtask test`) and runs small sizes once: a smoke test that every row is produced, never
//! a speed check.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{cargo, run};

/// The cargo target directory: `CARGO_TARGET_DIR` when set, else `<root>/target`.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                std::env::current_dir()
                    .unwrap_or_else(|_| root.to_owned())
                    .join(d)
            }
        }
        None => root.join("target"),
    }
}

/// Builds and runs the benchmark runner; `extra` is passed on to it.
pub fn bench(root: &Path, quick: bool, extra: &[String]) -> Result<(), String> {
    let profile = if quick { "debug" } else { "profiling" };
    let mut build = cargo();
    build.args(["build", "-p", "wa-media-bench", "-p", "wa-media-cli"]);
    if !quick {
        build.args(["--profile", "profiling"]);
    }
    run(
        root,
        &format!("cargo build ({profile}) of the bench runner and the CLI"),
        &mut build,
    )?;
    let bin_dir = target_dir(root).join(profile);
    let exe = |name: &str| bin_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let mut runner = Command::new(exe("wa-media-bench"));
    runner
        .arg("--cli")
        .arg(exe("wa-media"))
        .arg("--out")
        .arg(root.join("target").join("bench"));
    if quick {
        runner.arg("--quick");
    }
    runner.args(extra);
    let what = if quick {
        "wa-media-bench --quick (smoke test)"
    } else {
        "wa-media-bench"
    };
    run(root, what, &mut runner)
}
