//! The file operations of the spool and the index, in one place: reading a file that must be a
//! regular file (never blocking on a FIFO, never following a symlink), listing the regular
//! files of a directory (warning once about anything else), advisory locks between processes,
//! and the writes and renames whose failure the bookkeeping must survive.
//!
//! Every write, rename and link of the spool and the index goes through here, so the unit tests
//! can make one of them fail at the exact moment that matters ([`inject`]: ENOSPC on the Nth
//! write, a short write, a failing rename), which a real full disk cannot hit precisely.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Reads the whole file at `path`, which must be a regular file: opened without following a
/// symlink and without blocking (a FIFO or a device named like an entry answers an error at
/// once instead of stalling the reader).
pub(crate) fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = open_no_follow(path)?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(path));
    }
    let mut buf = Vec::with_capacity(meta.len().min(1 << 20) as usize);
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

fn not_regular(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} is not a regular file", path.display()),
    )
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<File> {
    if !fs::symlink_metadata(path)?.is_file() {
        return Err(not_regular(path));
    }
    File::open(path)
}

/// Whether `path` is a regular file (a symlink is not followed).
pub(crate) fn is_regular(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// The names of the regular files in directories, sorted; anything else (a FIFO, a directory,
/// a symlink, a device) is skipped, with one warning per path for the life of the value.
#[derive(Debug, Default)]
pub(crate) struct Lister {
    warned: Mutex<HashSet<PathBuf>>,
}

impl Lister {
    /// The regular files of `dir`, by name, sorted.
    pub(crate) fn regular_files(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir)? {
            let e = e?;
            let Some(name) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            // `file_type` does not follow symlinks.
            if e.file_type().is_ok_and(|t| t.is_file()) {
                out.push(name);
            } else {
                self.warn_once(&e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    /// The ids of the `<id>.json` entries of `dir` (names only: nothing is read).
    pub(crate) fn entry_ids(&self, dir: &Path) -> io::Result<Vec<String>> {
        Ok(self
            .regular_files(dir)?
            .into_iter()
            .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
            .collect())
    }

    /// Removes the regular files of `dir` last modified more than `age` ago; how many.
    pub(crate) fn remove_older_than(
        &self,
        dir: &Path,
        age: std::time::Duration,
    ) -> io::Result<usize> {
        let now = std::time::SystemTime::now();
        let mut n = 0;
        for name in self.regular_files(dir)? {
            let p = dir.join(name);
            let old = fs::metadata(&p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|a| a > age);
            if old && fs::remove_file(&p).is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Logs, once per path, that `path` is not a regular file and is left alone.
    pub(crate) fn warn_once(&self, path: &Path) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.insert(path.to_owned()) {
            tracing::warn!(path = %path.display(), "not a regular file in the spool; skipped (remove it)");
        }
    }
}

/// An entry file: a regular file (never followed through a symlink) holding JSON.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<T> {
    let bytes = read_regular(path)?;
    serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Removes `path`; one already gone is not an error.
pub(crate) fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Creates `path` (which must not exist) and writes `bytes` into it; on failure the file is
/// removed, so a full disk leaves no empty or partial entry behind.
pub(crate) fn create_new_with(path: &Path, bytes: &[u8]) -> io::Result<File> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    match write_all(&mut f, path, bytes) {
        Ok(()) => Ok(f),
        Err(e) => {
            drop(f);
            let _ = fs::remove_file(path);
            Err(e)
        }
    }
}

/// Replaces the contents of `path` with `bytes` (created when missing); on failure the file
/// may hold a prefix of them, which the callers treat as damaged.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    write_all(&mut f, path, bytes)
}

/// `f.write_all(bytes)`, where `path` is the file's path (for injected failures).
pub(crate) fn write_all(f: &mut File, path: &Path, bytes: &[u8]) -> io::Result<()> {
    #[cfg(test)]
    if let Some(fault) = inject::take(inject::Op::Write, path) {
        return fault.apply_to_write(f, bytes);
    }
    let _ = path;
    f.write_all(bytes)
}

/// `fs::rename(from, to)`.
pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(test)]
    if let Some(fault) = inject::take(inject::Op::Rename, to) {
        return Err(fault.error());
    }
    fs::rename(from, to)
}

/// `fs::hard_link(from, to)`.
pub(crate) fn hard_link(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(test)]
    if let Some(fault) = inject::take(inject::Op::Rename, to) {
        return Err(fault.error());
    }
    fs::hard_link(from, to)
}

/// Syncs a directory (its entries' creation and renames become durable).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The error of a full disk.
#[cfg(test)]
pub(crate) fn no_space() -> io::Error {
    #[cfg(unix)]
    return io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error());
    #[cfg(not(unix))]
    return io::Error::new(io::ErrorKind::StorageFull, "no space left on device");
}

/// An advisory lock between processes on an open file (`flock`), released when the file is
/// closed. On systems without `flock` the lock always succeeds.
pub(crate) mod lock {
    use std::fs::File;
    use std::io;

    /// Takes the exclusive lock without waiting; `Ok(false)` when another open file holds it.
    pub(crate) fn try_exclusive(f: &File) -> io::Result<bool> {
        #[cfg(unix)]
        {
            use rustix::fs::{flock, FlockOperation};
            match flock(f, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => Ok(true),
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = f;
            Ok(true)
        }
    }

    /// Takes the exclusive lock, waiting for it.
    pub(crate) fn exclusive(f: &File) -> io::Result<()> {
        #[cfg(unix)]
        rustix::fs::flock(f, rustix::fs::FlockOperation::LockExclusive)?;
        #[cfg(not(unix))]
        let _ = f;
        Ok(())
    }

    /// Releases a lock taken with [`exclusive`].
    pub(crate) fn unlock(f: &File) -> io::Result<()> {
        #[cfg(unix)]
        rustix::fs::flock(f, rustix::fs::FlockOperation::Unlock)?;
        #[cfg(not(unix))]
        let _ = f;
        Ok(())
    }
}

/// Test-only failure injection: the next matching operation on a path under a given directory
/// fails. Keyed by directory, so tests running side by side do not see each other's faults.
#[cfg(test)]
pub(crate) mod inject {
    use std::fs::File;
    use std::io::{self, Write};
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    /// The kind of operation a fault hits.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Op {
        /// A write into a file.
        Write,
        /// A rename or a hard link (by its destination).
        Rename,
    }

    /// What the hit operation does.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Fault {
        /// Fails with ENOSPC before writing anything.
        NoSpace,
        /// Writes this many bytes (at most), then fails with ENOSPC.
        ShortWrite(usize),
        /// Fails with EIO.
        Io,
    }

    impl Fault {
        pub(crate) fn error(self) -> io::Error {
            match self {
                Fault::NoSpace | Fault::ShortWrite(_) => super::no_space(),
                Fault::Io => io::Error::other("injected I/O error"),
            }
        }

        pub(crate) fn apply_to_write(self, f: &mut File, bytes: &[u8]) -> io::Result<()> {
            if let Fault::ShortWrite(n) = self {
                f.write_all(&bytes[..n.min(bytes.len())])?;
            }
            Err(self.error())
        }
    }

    struct Rule {
        under: PathBuf,
        op: Op,
        /// Only paths whose file name contains this.
        name_contains: String,
        /// Matching operations to let through first.
        skip: usize,
        /// Matching operations to fail after that.
        times: usize,
        fault: Fault,
    }

    static RULES: Mutex<Vec<Rule>> = Mutex::new(Vec::new());

    /// Fails `times` operations `op` on paths under `under` whose file name contains
    /// `name_contains`, after letting `skip` of them through.
    pub(crate) fn fail(
        under: &Path,
        op: Op,
        name_contains: &str,
        skip: usize,
        times: usize,
        fault: Fault,
    ) {
        RULES.lock().unwrap().push(Rule {
            under: under.to_owned(),
            op,
            name_contains: name_contains.to_owned(),
            skip,
            times,
            fault,
        });
    }

    /// Removes every rule for paths under `under`.
    pub(crate) fn clear(under: &Path) {
        RULES.lock().unwrap().retain(|r| r.under != under);
    }

    pub(crate) fn take(op: Op, path: &Path) -> Option<Fault> {
        let mut rules = RULES.lock().unwrap_or_else(|p| p.into_inner());
        let name = path.file_name()?.to_string_lossy().into_owned();
        let rule = rules.iter_mut().find(|r| {
            r.op == op
                && (r.skip > 0 || r.times > 0)
                && path.starts_with(&r.under)
                && name.contains(&r.name_contains)
        })?;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        rule.times -= 1;
        Some(rule.fault)
    }
}
