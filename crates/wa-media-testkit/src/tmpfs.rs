//! A small tmpfs of the test's own, to run the binary against a real full disk: mounted on a
//! fresh directory (root only: CI runs as root), filled to the last page at the moment that
//! matters, freed again, and unmounted on drop.
//!
//! Where mounting is impossible (not root, no `mount`, a sandbox that forbids it),
//! [`Tmpfs::mount`] says why and returns `None`; set `WA_MEDIA_REQUIRE_TMPFS=1` (CI does) to
//! make that a failure instead.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs; unmounted (lazily) on drop.
#[derive(Debug)]
pub struct Tmpfs {
    dir: tempfile::TempDir,
    filler: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` on a new temporary directory; `None`, with the reason printed,
    /// when this machine cannot (and `WA_MEDIA_REQUIRE_TMPFS` is not set).
    pub fn mount(bytes: u64) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={bytes},mode=0755"))
            .arg("tmpfs")
            .arg(dir.path())
            .output();
        let why = match out {
            Ok(o) if o.status.success() => {
                let filler = dir.path().join(".filler");
                return Some(Self { dir, filler });
            }
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => format!("cannot run mount: {e}"),
        };
        let message = format!("a tmpfs cannot be mounted here ({why}); the full-disk test is skipped (the library tests inject the same failures)");
        if std::env::var_os("WA_MEDIA_REQUIRE_TMPFS").is_some() {
            panic!("{message}; WA_MEDIA_REQUIRE_TMPFS is set");
        }
        eprintln!("skipped: {message}");
        None
    }

    /// The mounted directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system until a write fails for lack of space (the filler file grows),
    /// leaving `leave` bytes free (rounded down to whole pages); returns the filler's size.
    pub fn fill(&self, leave: u64) -> io::Result<u64> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)?;
        let chunk = vec![0x5au8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => return Err(e),
            }
        }
        // Page by page, up to the last page a smaller write could still take.
        loop {
            match f.write(&chunk[..4096]) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => return Err(e),
            }
        }
        f.sync_all()?;
        let len = f.metadata()?.len();
        let len = len.saturating_sub(leave);
        f.set_len(len)?;
        Ok(len)
    }

    /// Removes the filler: the space is back.
    pub fn free(&self) -> io::Result<()> {
        match std::fs::remove_file(&self.filler) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether a write of one page now fails for lack of space.
    pub fn is_full(&self) -> bool {
        let probe = self.dir.path().join(".probe");
        let full = File::create(&probe)
            .and_then(|mut f| f.write_all(&[0u8; 4096]).and_then(|()| f.sync_all()))
            .is_err_and(|e| e.raw_os_error() == Some(28));
        let _ = std::fs::remove_file(&probe);
        full
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process of the test still holding a file there cannot keep it mounted.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
