//! Build script: the version line `wa-media --version` prints, with the git commit the binary
//! was built from (when known) and the enabled Cargo features.
//!
//! The commit comes from, in order:
//! 1. `.cargo_vcs_info.json`, which `cargo package` writes into every `.crate` (so a binary
//!    installed from a package names the commit it was packaged from);
//! 2. `git rev-parse HEAD`, when this manifest is tracked by a git checkout;
//! 3. otherwise it is "unknown". A missing `git` or `.git` never fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=build.rs");
    let commit = from_vcs_info(&dir).or_else(|| from_git(&dir));
    let features: Vec<&str> = [
        ("emulator", "CARGO_FEATURE_EMULATOR"),
        ("store", "CARGO_FEATURE_STORE"),
    ]
    .into_iter()
    .filter(|(_, var)| std::env::var_os(var).is_some())
    .map(|(name, _)| name)
    .collect();
    let features = if features.is_empty() {
        "none".to_string()
    } else {
        features.join(", ")
    };
    let version = std::env::var("CARGO_PKG_VERSION").expect("set by cargo");
    let commit = commit.unwrap_or_else(|| "unknown".into());
    println!(
        "cargo:rustc-env=WA_MEDIA_VERSION_LINE={version} (commit {commit}; features: {features})"
    );
}

/// The `"sha1"` of `.cargo_vcs_info.json` (written by `cargo package`), if present.
fn from_vcs_info(dir: &Path) -> Option<String> {
    let path = dir.join(".cargo_vcs_info.json");
    let text = std::fs::read_to_string(&path).ok()?;
    println!("cargo:rerun-if-changed={}", path.display());
    // `"sha1": "<40 hex digits>"`: a string search keeps this script free of dependencies.
    let rest = &text[text.find("\"sha1\"")? + "\"sha1\"".len()..];
    let start = rest.find('"')? + 1;
    let sha: String = rest[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    let dirty = text.contains("\"dirty\": true") || text.contains("\"dirty\":true");
    (sha.len() == 40).then(|| short(&sha, dirty))
}

/// `git rev-parse HEAD`, when `Cargo.toml` here is tracked by the enclosing checkout (an
/// unpacked package inside some other repository is not that repository's commit).
fn from_git(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    git(&["ls-files", "--error-unmatch", "Cargo.toml"])?;
    let sha = git(&["rev-parse", "HEAD"])?;
    // Rebuild when HEAD moves: HEAD itself (a checkout) and the branch it points to (a commit).
    for name in [
        "HEAD".to_string(),
        git(&["symbolic-ref", "-q", "HEAD"]).unwrap_or_default(),
    ] {
        if name.is_empty() {
            continue;
        }
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    (sha.len() >= 40).then(|| short(&sha, false))
}

fn short(sha: &str, dirty: bool) -> String {
    let mut s = sha[..12].to_string();
    if dirty {
        s.push_str("-dirty");
    }
    s
}
