//! `cargo xtask package`: every published crate builds from its own `.crate` file, as a user
//! gets it from a registry, and `wa-media-hyper`'s README example runs from a throwaway crate
//! that depends on the packaged crates. Run by `cargo xtask test`.
//!
//! 1. `cargo package --workspace --no-verify --allow-dirty`, excluding the members marked
//!    `publish = false` (xtask, the bench). `--allow-dirty` because several people work in one
//!    tree: the check is about the files as they are, committed or not. Tried `--offline` first
//!    (the lock and the local index cache suffice; ~1 s instead of ~12 s of registry queries),
//!    then online.
//! 2. Each `.crate` is unpacked into `target/package-check/crates/` (replacing the previous
//!    copy only when a file changed, see [`unpack`]), and its contents are
//!    checked: `README.md`, `CHANGELOG.md`, `LICENSE-MIT` and `LICENSE-APACHE` (identical to the
//!    root's), and the registry metadata in its normalized `Cargo.toml`.
//! 3. A scratch workspace in `target/package-check/` holds the unpacked crates and a throwaway
//!    crate, `readme-example/`, whose `main.rs` is the first runnable (`rust`) code block of the
//!    packaged `wa-media-hyper` README. `[patch.crates-io]` points every wa-media dependency at
//!    the unpacked crates, so nothing resolves to a path that exists only in this repository.
//!    The workspace's `Cargo.lock` is copied in and the builds run `--offline`: the packaged
//!    crates build with exactly the versions the workspace tests (checked afterwards), and
//!    nothing is downloaded.
//! 4. In the scratch workspace: `cargo build --workspace --lib --bins --examples` (libraries,
//!    the `wa-media` binary, hyper's example and the throwaway crate) and
//!    `cargo test --workspace --doc` (every README example and every other doctest, run).
//!    Integration tests and benches are not built: they read the repository's shared
//!    `fixtures/` (`../../fixtures`), which by design is not part of any package. A file the
//!    library, a binary or a doctest needs from outside its crate (`include_str!`,
//!    `include_bytes!`, `#[path]`) fails this step.
//! 5. The throwaway crate's binary runs the README example against the emulator on 127.0.0.1,
//!    and the packaged `wa-media` binary runs `demo` (the CLI README's example: the whole round
//!    trip against its embedded emulator, with the sample media its package holds; < 1 s).
//!
//! Everything is built in debug, without debug info, into its own target directory,
//! `target/package-check/target`, which is removed after a passing check so that a small CI
//! disk holds it only while it is needed (set `WA_MEDIA_KEEP_PACKAGE_BUILD=1` to keep it: then
//! only the first run compiles the registry dependencies, and a run with nothing changed takes
//! ~30 s, nearly all of it the doctests). Sharing the workspace's
//! `target/` instead (as its `build.build-dir`) was tried and rejected: another cargo process
//! building in that directory at the same time rebuilt `ring` with different fingerprints
//! between our two steps and broke our doctests ("crate `ring` required to be available in
//! rlib format"), and the packaged binaries and libraries would replace the workspace's own in
//! `target/debug/`. The seconds each step took are printed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{bench::target_dir, cargo, run};

/// The throwaway crate that runs `wa-media-hyper`'s README example.
const EXAMPLE_CRATE: &str = "readme-example";
/// The crate whose README example the throwaway crate runs.
const EXAMPLE_SOURCE: &str = "wa-media-hyper";
/// Files every published package must hold.
const REQUIRED_FILES: &[&str] = &["README.md", "CHANGELOG.md", "LICENSE-MIT", "LICENSE-APACHE"];
/// Keys every published package's `[package]` table must set.
const REQUIRED_KEYS: &[&str] = &[
    "description",
    "license",
    "rust-version",
    "readme",
    "documentation",
    "keywords",
    "categories",
];

/// One workspace member.
#[derive(Debug)]
struct Member {
    name: String,
    version: String,
    publish: bool,
}

/// Runs the packaging check from the workspace `root`.
pub fn package(root: &Path) -> Result<(), String> {
    let started = Instant::now();
    let members = workspace_members(root)?;
    let published: Vec<&Member> = members.iter().filter(|m| m.publish).collect();
    if published.is_empty() {
        return Err("no published crate found in the workspace".into());
    }
    let names: Vec<&str> = published.iter().map(|m| m.name.as_str()).collect();
    eprintln!("==> packaging check of {}", names.join(", "));

    // 1. Package.
    let step = Instant::now();
    let package_cmd = |offline: bool| {
        let mut cmd = cargo();
        cmd.args(["package", "--workspace", "--no-verify", "--allow-dirty"]);
        for m in members.iter().filter(|m| !m.publish) {
            cmd.args(["--exclude", &m.name]);
        }
        if offline {
            cmd.arg("--offline");
        }
        cmd
    };
    // Offline first: the workspace's lock and the local index cache are enough, and asking the
    // registry once per crate takes seconds. Online when something is not cached.
    if let Err(e) = run(
        root,
        "cargo package --workspace --no-verify --allow-dirty --offline",
        &mut package_cmd(true),
    ) {
        eprintln!("    {e}; again with the registry");
        run(
            root,
            "cargo package --workspace --no-verify --allow-dirty",
            &mut package_cmd(false),
        )?;
    }
    let packaged = target_dir(root).join("package");
    let package_secs = step.elapsed().as_secs_f64();

    // 2. Unpack and check what each package holds.
    let scratch = target_dir(root).join("package-check");
    let crates = scratch.join("crates");
    let example = scratch.join(EXAMPLE_CRATE);
    unpack(&packaged, &crates, &published)?;
    let problems: Vec<String> = published
        .iter()
        .flat_map(|m| check_contents(root, &crates.join(m.dir_name()), m))
        .collect();
    // Reported after the builds, so that one run shows every problem.
    if problems.is_empty() {
        eprintln!(
            "    {} packages hold {} and the registry metadata",
            published.len(),
            REQUIRED_FILES.join(", ")
        );
    } else {
        eprintln!(
            "    incomplete packages:\n      {}",
            problems.join("\n      ")
        );
    }

    // 3. The scratch workspace and the throwaway crate.
    write_example_crate(&crates, &example, &published)?;
    write_file(
        &scratch.join("Cargo.toml"),
        &scratch_manifest(root, &published)?,
    )?;
    std::fs::copy(root.join("Cargo.lock"), scratch.join("Cargo.lock"))
        .map_err(|e| format!("copying Cargo.lock: {e}"))?;

    // 4. Build and run the doctests from the packages.
    let target = scratch.join("target");
    let scratch_cargo = |args: &[&str]| {
        let mut c = cargo();
        c.args(args)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("CARGO_BUILD_BUILD_DIR")
            // The scratch build is a second full build: keep it small on disk, as the
            // workspace's own dev profile does.
            .env("CARGO_PROFILE_DEV_DEBUG", "false")
            .env("CARGO_INCREMENTAL", "0");
        c
    };
    let step = Instant::now();
    run(
        &scratch,
        "build the packaged crates (lib, bins, examples) and the README example crate",
        &mut scratch_cargo(&[
            "build",
            "--workspace",
            "--lib",
            "--bins",
            "--examples",
            "--offline",
        ]),
    )
    .map_err(|e| {
        format!(
            "{e}\n(the scratch build is --offline with the workspace's Cargo.lock: if cargo could \
             not find a crate locally, build the workspace's tests first, as `cargo xtask test` \
             does, or run `cargo fetch`)"
        )
    })?;
    let build_secs = step.elapsed().as_secs_f64();
    let step = Instant::now();
    doctests(
        &scratch,
        &published,
        scratch_cargo(&["test", "--workspace", "--doc", "--offline"]),
    )?;
    let doc_secs = step.elapsed().as_secs_f64();
    same_versions_as_workspace(root, &scratch)?;

    // 5. Run what was built.
    let step = Instant::now();
    let bin = |name: &str| {
        target
            .join("debug")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    };
    run(
        &scratch,
        "the packaged wa-media-hyper README example, run against the emulator",
        &mut Command::new(bin(EXAMPLE_CRATE)),
    )?;
    if published.iter().any(|m| m.name == "wa-media-cli") {
        run(
            &scratch,
            "the packaged wa-media binary: `wa-media demo` (its README example, offline)",
            Command::new(bin("wa-media")).arg("demo"),
        )?;
    }
    let run_secs = step.elapsed().as_secs_f64();
    if !problems.is_empty() {
        return Err(format!(
            "the packages build, but are incomplete:\n  {}",
            problems.join("\n  ")
        ));
    }
    eprintln!(
        "==> packaging check passed in {:.1} s (package {package_secs:.1} s, build {build_secs:.1} s, \
         doctests {doc_secs:.1} s, runs {run_secs:.1} s)",
        started.elapsed().as_secs_f64()
    );
    // The scratch build is a second copy of the dependency tree; a CI disk may not hold both
    // it and the test binaries that come after. Keep it only when asked to (warm re-runs).
    if std::env::var_os("WA_MEDIA_KEEP_PACKAGE_BUILD").is_none() {
        if let Err(e) = std::fs::remove_dir_all(&target) {
            eprintln!("warning: could not remove {}: {e}", target.display());
        }
    }
    Ok(())
}

impl Member {
    /// The directory a `.crate` file unpacks into.
    fn dir_name(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }
}

/// The workspace's members, from the root manifest's `members` list and each member's manifest.
fn workspace_members(root: &Path) -> Result<Vec<Member>, String> {
    let manifest = read(&root.join("Cargo.toml"))?;
    let workspace_version = value(&manifest, "workspace.package", "version");
    let mut members = Vec::new();
    for dir in string_array(&manifest, "workspace", "members") {
        if dir.contains('*') {
            return Err(format!(
                "workspace member glob {dir:?}: list members one by one"
            ));
        }
        let text = read(&root.join(&dir).join("Cargo.toml"))?;
        let name = value(&text, "package", "name")
            .ok_or_else(|| format!("{dir}/Cargo.toml: no package name"))?;
        let version = if value(&text, "package", "version.workspace").as_deref() == Some("true") {
            workspace_version.clone()
        } else {
            value(&text, "package", "version")
        }
        .ok_or_else(|| format!("{dir}/Cargo.toml: no version"))?;
        let publish = value(&text, "package", "publish").as_deref() != Some("false");
        members.push(Member {
            name,
            version,
            publish,
        });
    }
    Ok(members)
}

/// Unpacks each `.crate` into `crates/<name>-<version>/`. A package's files all carry the same
/// fixed time, which cargo's freshness check (by modification time) cannot see change; so each
/// is unpacked with the current time (`tar -m`) into a staging directory and replaces the
/// previous copy only when a file differs. An unchanged package keeps its old copy and stays
/// built; a changed one is rebuilt.
fn unpack(packaged: &Path, crates: &Path, published: &[&Member]) -> Result<(), String> {
    let staging = crates.with_file_name("staging");
    for dir in [crates, &staging] {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let wanted: BTreeSet<String> = published.iter().map(|m| m.dir_name()).collect();
    for entry in
        std::fs::read_dir(crates).map_err(|e| format!("reading {}: {e}", crates.display()))?
    {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if !name.is_some_and(|n| wanted.contains(&n)) {
            remove_dir(&path)?;
        }
    }
    for m in published {
        let file = packaged.join(format!("{}-{}.crate", m.name, m.version));
        let (new, old) = (staging.join(m.dir_name()), crates.join(m.dir_name()));
        remove_dir(&new)?;
        let status = Command::new("tar")
            .arg("-xzmf")
            .arg(&file)
            .arg("-C")
            .arg(&staging)
            .status()
            .map_err(|e| format!("tar: could not start: {e}"))?;
        if !status.success() {
            return Err(format!("unpacking {} failed ({status})", file.display()));
        }
        if tree(&new)? == tree(&old)? {
            remove_dir(&new)?;
        } else {
            remove_dir(&old)?;
            std::fs::rename(&new, &old)
                .map_err(|e| format!("moving {} to {}: {e}", new.display(), old.display()))?;
        }
    }
    Ok(())
}

/// Every file under `dir` (relative path → contents), without `.cargo_vcs_info.json`, which
/// changes with every commit; empty when `dir` does not exist.
fn tree(dir: &Path) -> Result<std::collections::BTreeMap<PathBuf, Vec<u8>>, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.file_name() != Some(".cargo_vcs_info.json".as_ref()) {
                let bytes =
                    std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
                let rel = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                out.insert(rel, bytes);
            }
        }
    }
    Ok(out)
}

fn remove_dir(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("removing {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// What is missing from one unpacked package.
fn check_contents(root: &Path, dir: &Path, m: &Member) -> Vec<String> {
    let mut problems = Vec::new();
    for file in REQUIRED_FILES {
        let path = dir.join(file);
        if !path.is_file() {
            problems.push(format!("{}: {file} is not in the package", m.name));
        } else if file.starts_with("LICENSE")
            && std::fs::read(&path).ok() != std::fs::read(root.join(file)).ok()
        {
            problems.push(format!("{}: {file} differs from the root's {file}", m.name));
        }
    }
    let manifest = match read(&dir.join("Cargo.toml")) {
        Ok(text) => text,
        Err(e) => return vec![e],
    };
    for key in REQUIRED_KEYS {
        match value(&manifest, "package", key) {
            Some(v) if !v.is_empty() && v != "\"\"" && v != "[]" => {}
            _ => problems.push(format!("{}: [package] sets no {key}", m.name)),
        }
    }
    if let Some(repo) = value(&manifest, "package", "repository") {
        if repo.contains("example.invalid") {
            problems.push(format!("{}: repository is a placeholder ({repo})", m.name));
        }
    }
    if value(&manifest, "package.metadata.docs.rs", "all-features").as_deref() != Some("true") {
        problems.push(format!(
            "{}: no `all-features = true` in [package.metadata.docs.rs]",
            m.name
        ));
    }
    problems
}

/// The throwaway crate: depends on the packaged client and emulator like any user would, and
/// runs the packaged README's example as its `main`.
fn write_example_crate(crates: &Path, dir: &Path, published: &[&Member]) -> Result<(), String> {
    let version_of = |name: &str| {
        published
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.version.clone())
            .ok_or_else(|| format!("{name} is not published, so its README cannot be checked"))
    };
    let source = published
        .iter()
        .find(|m| m.name == EXAMPLE_SOURCE)
        .ok_or_else(|| format!("{EXAMPLE_SOURCE} is not published"))?;
    let readme = read(&crates.join(source.dir_name()).join("README.md"))?;
    let code = first_runnable_block(&readme)
        .ok_or_else(|| format!("{EXAMPLE_SOURCE}'s README has no runnable ```rust block to run"))?;
    if !code.contains("fn main") || !code.contains("Emulator") {
        return Err(format!(
            "{EXAMPLE_SOURCE}'s README example must be a whole program (`fn main`) that runs \
             against the emulator (`Emulator`)"
        ));
    }
    let manifest = format!(
        "# Generated by `cargo xtask package`: a user's crate, outside the wa-media workspace.\n\
         [package]\n\
         name = \"{EXAMPLE_CRATE}\"\n\
         version = \"0.0.0\"\n\
         edition = \"2021\"\n\
         publish = false\n\
         \n\
         [dependencies]\n\
         wa-media-hyper = \"{}\"\n\
         wa-media-emulator = \"{}\"\n\
         tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n",
        version_of("wa-media-hyper")?,
        version_of("wa-media-emulator")?,
    );
    write_file(&dir.join("Cargo.toml"), &manifest)?;
    write_file(
        &dir.join("src").join("main.rs"),
        &format!(
            "//! The first runnable example of the packaged {EXAMPLE_SOURCE} README.md, verbatim \
             (generated by `cargo xtask package`).\n\n{code}"
        ),
    )
}

/// The first code block whose info string is exactly `rust` (not `no_run`, `ignore`, …), with
/// rustdoc's hidden-line markers (`# `) removed.
fn first_runnable_block(markdown: &str) -> Option<String> {
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```rust" {
            continue;
        }
        let mut code = String::new();
        for line in lines.by_ref() {
            if line.trim_start().starts_with("```") {
                return Some(code);
            }
            let line = match line.trim_start() {
                "#" => "",
                l if l.starts_with("# ") => &l[2..],
                _ => line,
            };
            code.push_str(line);
            code.push('\n');
        }
        return None;
    }
    None
}

/// The scratch workspace's manifest: the unpacked crates and the throwaway crate as members,
/// every wa-media crate patched to its unpacked package, and the root's profiles (same
/// optimisation of the hashing crates as the workspace's dev builds).
fn scratch_manifest(root: &Path, published: &[&Member]) -> Result<String, String> {
    let mut out = String::from(
        "# Generated by `cargo xtask package` (xtask/src/package.rs): the packaged crates, as a\n\
         # registry would serve them, and a user's crate depending on them.\n\
         [workspace]\nresolver = \"2\"\nmembers = [\n",
    );
    for m in published {
        out.push_str(&format!("    \"crates/{}\",\n", m.dir_name()));
    }
    out.push_str(&format!(
        "    \"{EXAMPLE_CRATE}\",\n]\n\n[patch.crates-io]\n"
    ));
    for m in published {
        out.push_str(&format!(
            "{} = {{ path = \"crates/{}\" }}\n",
            m.name,
            m.dir_name()
        ));
    }
    let manifest = read(&root.join("Cargo.toml"))?;
    let mut in_profile = false;
    for line in manifest.lines() {
        if line.starts_with('[') {
            in_profile = line.starts_with("[profile.");
            if in_profile {
                out.push('\n');
            }
        }
        if in_profile {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// Runs the doctests, echoing cargo's output, and requires a passing crate-level doctest (the
/// README example, included by `src/lib.rs`) from every published library. The CLI has no
/// library: its README is included by `main.rs` (checked by the build) and holds shell commands.
fn doctests(scratch: &Path, published: &[&Member], mut cmd: Command) -> Result<(), String> {
    eprintln!("==> cargo test --workspace --doc (from the packages)");
    let out = cmd
        .current_dir(scratch)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo test --doc: could not start: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        return Err("the doctests of the packaged crates failed".into());
    }
    // Crate-level doctests (`src/lib.rs - (line N)`) come from the included README.
    let ran: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.ends_with(" ... ok"))
        .filter_map(|l| {
            l.strip_prefix("test crates/")?
                .split_once("/src/lib.rs - (line ")
        })
        .map(|(dir, _)| dir)
        .collect();
    let missing: Vec<&str> = published
        .iter()
        .filter(|m| m.name != "wa-media-cli" && !ran.contains(m.dir_name().as_str()))
        .map(|m| m.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "no crate-level doctest ran from the package of {}: its README, included by \
             `#![doc = include_str!(\"../README.md\")]` in src/lib.rs, needs a Rust example",
            missing.join(", ")
        ));
    }
    Ok(())
}

/// Every registry package the scratch build locked is one the workspace's `Cargo.lock` pins.
fn same_versions_as_workspace(root: &Path, scratch: &Path) -> Result<(), String> {
    let ours = locked(&read(&root.join("Cargo.lock"))?);
    let theirs = locked(&read(&scratch.join("Cargo.lock"))?);
    let new: Vec<String> = theirs
        .difference(&ours)
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    if !new.is_empty() {
        return Err(format!(
            "the packaged crates resolved versions the workspace does not use: {}",
            new.join(", ")
        ));
    }
    eprintln!(
        "    {} registry packages, all at the workspace's locked versions",
        theirs.len()
    );
    Ok(())
}

/// `(name, version)` of every registry package in a `Cargo.lock`.
fn locked(lock: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
            })
        };
        if let (Some(name), Some(version), Some(source)) =
            (field("name"), field("version"), field("source"))
        {
            if source.starts_with("registry+") || source.starts_with("sparse+") {
                out.insert((name, version));
            }
        }
    }
    out
}

/// The raw value of `key` in `[table]` of a TOML file (enough for Cargo manifests: one key per
/// line; an array that spans lines yields `[`).
fn value(toml: &str, table: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    for line in toml.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = header.trim().to_owned();
            continue;
        }
        if current != table {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == key {
                let v = v.trim();
                return Some(
                    v.strip_prefix('"')
                        .map_or(v, |v| v.trim_end_matches('"'))
                        .to_owned(),
                );
            }
        }
    }
    None
}

/// The strings of an array `key = [ "a", "b", … ]` in `[table]`, across lines.
fn string_array(toml: &str, table: &str, key: &str) -> Vec<String> {
    let mut current = String::new();
    let mut inside = false;
    let mut out = Vec::new();
    for line in toml.lines() {
        let trimmed = line.trim();
        if !inside {
            if let Some(header) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                current = header.trim().to_owned();
                continue;
            }
            match trimmed.split_once('=') {
                Some((k, v)) if current == table && k.trim() == key => {
                    inside = true;
                    collect_strings(v, &mut out, &mut inside);
                }
                _ => {}
            }
        } else {
            collect_strings(trimmed, &mut out, &mut inside);
        }
    }
    out
}

/// Adds the quoted strings of one line of an array; clears `inside` at its closing `]`.
fn collect_strings(line: &str, out: &mut Vec<String>, inside: &mut bool) {
    let line = line.split('#').next().unwrap_or("");
    let mut parts = line.split('"');
    let mut outside = parts.next().unwrap_or("");
    loop {
        if outside.contains(']') {
            *inside = false;
            return;
        }
        match (parts.next(), parts.next()) {
            (Some(s), rest) => {
                out.push(s.to_owned());
                outside = rest.unwrap_or("");
            }
            (None, _) => return,
        }
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// Writes `text` unless the file already holds it (an unchanged file keeps its build fresh).
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read(path).ok().as_deref() == Some(text.as_bytes()) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_runnable_block_and_unhides_lines() {
        let md = "text\n```rust,no_run\nnot this\n```\n```sh\nnor this\n```\n```rust\n# use a;\nfn main() {}\n#\n```\n";
        assert_eq!(
            first_runnable_block(md).as_deref(),
            Some("use a;\nfn main() {}\n\n")
        );
        assert_eq!(first_runnable_block("```rust,ignore\nx\n```\n"), None);
    }

    #[test]
    fn reads_members_tables_and_lock_entries() {
        let toml = "[workspace]\nmembers = [\n    \"a\", # one\n    \"b\",\n]\nexclude = [\"c\"]\n\
                    [workspace.package]\nversion = \"0.1.0\"\n[package]\nname = \"x\"\npublish = false\n";
        assert_eq!(string_array(toml, "workspace", "members"), ["a", "b"]);
        assert_eq!(
            value(toml, "workspace.package", "version").as_deref(),
            Some("0.1.0")
        );
        assert_eq!(value(toml, "package", "publish").as_deref(), Some("false"));
        assert_eq!(value(toml, "package", "version"), None);
        let lock = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"ours\"\nversion = \"0.1.0\"\n";
        assert_eq!(
            locked(lock).into_iter().collect::<Vec<_>>(),
            [("a".to_owned(), "1.0.0".to_owned())]
        );
    }

    /// The unpublished members really are unpublished, and every other one is checked.
    #[test]
    fn the_workspace_marks_its_private_crates() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let members = workspace_members(&root).unwrap();
        let private: Vec<&str> = members
            .iter()
            .filter(|m| !m.publish)
            .map(|m| m.name.as_str())
            .collect();
        assert!(private.contains(&"xtask"), "{private:?}");
        assert!(private.contains(&"wa-media-bench"), "{private:?}");
        assert!(members
            .iter()
            .any(|m| m.name == EXAMPLE_SOURCE && m.publish));
    }
}
