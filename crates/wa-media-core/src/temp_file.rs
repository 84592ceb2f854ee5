//! The temporary file a download is written to, and how a verified one is put in place:
//! replacing a regular file atomically, or claiming a free name without replacing anything.
//! Also [`clean_partial_files`], for the `.wa-part` files a killed process leaves behind.
//!
//! File writes use blocking `std::fs` calls of one chunk each, with one `fsync` per file: inside
//! the async task for small downloads, and on a writer thread of the file's own for downloads
//! announced at [`THREADED_WRITE_MIN`] or more, so that writing overlaps hashing. Why: "Blocking
//! file I/O" in docs/architecture.md; the measurements: docs/performance.md.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use wa_media_types::{Sha256Digest, StreamingDigest};

use crate::error::Error;

/// The suffix of this library's temporary files: `.NAME.XXXXXXXX.wa-part`.
const PART_SUFFIX: &str = ".wa-part";

/// How many `-N` suffixes [`TempFile::persist_new`] tries before giving up.
const MAX_SUFFIX: u32 = 10_000;

/// Downloads announced at least this large are written on a writer thread (see
/// [`TempFile::write_on_thread`]); smaller ones inline, where a thread's start would cost more
/// than the overlap saves.
pub(crate) const THREADED_WRITE_MIN: u64 = 4 * 1024 * 1024;

/// Chunks handed to the writer thread and not yet written, at most (hyper hands over chunks of
/// up to ~400 KiB: at most ~1.6 MiB queued).
const WRITE_QUEUE: usize = 4;

/// A temporary file next to the destination; removed on drop unless persisted.
pub(crate) struct TempFile {
    file: Option<File>,
    /// Set while a writer thread owns the file.
    writer: Option<WriterThread>,
    path: PathBuf,
    armed: bool,
}

/// A thread that writes the chunks it is sent to the file, in order, and hands the file back
/// when the sender is dropped (or the first write error).
struct WriterThread {
    tx: SyncSender<Bytes>,
    handle: JoinHandle<io::Result<File>>,
}

impl WriterThread {
    /// Stops taking chunks, waits until those queued are written, returns the file.
    fn finish(self) -> io::Result<File> {
        drop(self.tx);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the file writer thread panicked")))
    }
}

/// Where a verified file ended up.
#[derive(Debug)]
pub(crate) struct Placed {
    /// The path now holding the media.
    pub(crate) path: PathBuf,
    /// The same media was already there; nothing was written.
    pub(crate) already_present: bool,
}

/// Refuses a destination that exists and is not a regular file (or a symlink, which a rename
/// replaces without touching its target): a device, FIFO, socket or directory.
pub(crate) fn check_destination(dest: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_file() || meta.file_type().is_symlink() => Ok(()),
        Ok(meta) => Err(Error::io(
            Some(dest.to_owned()),
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the destination is {}, not a regular file; refusing to replace it (write to a regular file path instead)",
                    describe(&meta)
                ),
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(Some(dest.to_owned()), e)),
    }
}

fn describe(meta: &std::fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    "a special file"
}

impl TempFile {
    /// Creates `.<name>.<random>.wa-part` in the destination's directory.
    pub(crate) fn create(dest: &Path) -> Result<Self, Error> {
        let name = dest.file_name().ok_or_else(|| {
            Error::io(
                Some(dest.to_owned()),
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the destination has no file name",
                ),
            )
        })?;
        let dir = parent_dir(dest).to_owned();
        let mut last = None;
        for _ in 0..8 {
            let mut tmp_name = OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(".{:08x}{PART_SUFFIX}", fastrand::u32(..)));
            let path = dir.join(tmp_name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(Self {
                        file: Some(file),
                        writer: None,
                        path,
                        armed: true,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(Error::io(Some(dir), e)),
            }
        }
        Err(Error::io(
            Some(dir),
            last.unwrap_or_else(|| io::Error::other("could not create a temporary file")),
        ))
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.writer.is_some() {
            return self.write_bytes(Bytes::copy_from_slice(data));
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| Error::io(Some(self.path.clone()), io::Error::other("file closed")))?;
        file.write_all(data)
            .map_err(|e| Error::io(Some(self.path.clone()), e))
    }

    /// Writes `data`: handed to the writer thread when there is one (no copy; blocks only
    /// while [`WRITE_QUEUE`] chunks are already waiting, as an inline write would block),
    /// else written inline.
    pub(crate) fn write_bytes(&mut self, data: Bytes) -> Result<(), Error> {
        let Some(writer) = self.writer.as_ref() else {
            return self.write(&data);
        };
        if writer.tx.send(data).is_ok() {
            return Ok(());
        }
        // The thread stopped: it hands back the write error it stopped on.
        let e = match self.writer.take().map(WriterThread::finish) {
            Some(Err(e)) => e,
            _ => io::Error::other("the file writer thread stopped"),
        };
        Err(Error::io(Some(self.path.clone()), e))
    }

    /// From now on, chunks are written on a thread of their own while the caller goes on
    /// (hashing the next chunk). Measured in docs/performance.md: +13–19 % for 100 MiB on a
    /// quiet 2-core machine, even under load. If no thread can be started, writes stay inline.
    pub(crate) fn write_on_thread(&mut self) {
        if self.writer.is_some() {
            return;
        }
        // The thread gets its own handle of the file, so that the file stays here (and writes
        // stay inline) when no thread can be started.
        let Some(Ok(mut file)) = self.file.as_ref().map(File::try_clone) else {
            return;
        };
        let (tx, rx) = sync_channel::<Bytes>(WRITE_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("wa-media-write".into())
            .spawn(move || {
                for chunk in rx {
                    file.write_all(&chunk)?;
                }
                Ok(file)
            });
        if let Ok(handle) = spawned {
            self.file = None;
            self.writer = Some(WriterThread { tx, handle });
        }
    }

    /// Waits for the writer thread (if any) to write what it was given and takes the file back.
    fn join_writer(&mut self) -> Result<(), Error> {
        if let Some(writer) = self.writer.take() {
            let file = writer
                .finish()
                .map_err(|e| Error::io(Some(self.path.clone()), e))?;
            self.file = Some(file);
        }
        Ok(())
    }

    /// Syncs and closes the file.
    fn sync(&mut self) -> Result<(), Error> {
        self.join_writer()?;
        if let Some(file) = self.file.take() {
            file.sync_all()
                .map_err(|e| Error::io(Some(self.path.clone()), e))?;
        }
        Ok(())
    }

    /// Syncs, closes and renames over `dest` (replacing a regular file there); the directory
    /// is synced too where supported. `dest` is checked again right before the rename: a
    /// device, FIFO, socket or directory that appeared meanwhile is never replaced.
    pub(crate) fn persist(mut self, dest: &Path) -> Result<(), Error> {
        self.sync()?;
        check_destination(dest)?;
        std::fs::rename(&self.path, dest).map_err(|e| Error::io(Some(dest.to_owned()), e))?;
        self.armed = false;
        sync_dir(dest);
        Ok(())
    }

    /// Syncs, closes and puts the file at `dest` without replacing anything: when `dest` (or
    /// `stem-N.ext`) holds the same bytes (`size`, `sha256`), it is reported as already
    /// present; otherwise the first free name is claimed with a hard link, which fails rather
    /// than replace a name that exists (no check-then-rename race).
    pub(crate) fn persist_new(
        mut self,
        dest: &Path,
        size: u64,
        sha256: Sha256Digest,
    ) -> Result<Placed, Error> {
        self.sync()?;
        for n in 0..=MAX_SUFFIX {
            let candidate = if n == 0 {
                dest.to_owned()
            } else {
                suffixed(dest, n)
            };
            match claim(&self.path, &candidate) {
                Ok(()) => {
                    // The temporary name goes; the claimed one stays.
                    let _ = std::fs::remove_file(&self.path);
                    self.armed = false;
                    sync_dir(&candidate);
                    return Ok(Placed {
                        path: candidate,
                        already_present: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if same_media(&candidate, size, &sha256)
                        .map_err(|e| Error::io(Some(candidate.clone()), e))?
                    {
                        return Ok(Placed {
                            path: candidate,
                            already_present: true,
                        });
                    }
                }
                Err(e) => return Err(Error::io(Some(candidate), e)),
            }
        }
        Err(Error::io(
            Some(dest.to_owned()),
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("every name up to -{MAX_SUFFIX} is taken by other files"),
            ),
        ))
    }

    /// Where the temporary file is (tests).
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // A dropped download (an error, a cancelled future): the writer finishes the few
        // chunks it holds and closes the file before the file is removed.
        if let Some(writer) = self.writer.take() {
            let _ = writer.finish();
        }
        self.file.take();
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn parent_dir(dest: &Path) -> &Path {
    match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Best effort: makes a rename or link durable; failure does not undo a verified file.
fn sync_dir(dest: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(parent_dir(dest)) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dest;
}

/// Makes `to` name the file at `from`, failing with `AlreadyExists` if `to` exists. A hard
/// link where the filesystem has them; elsewhere the name is claimed with `create_new` and
/// the file renamed over the claimed (empty) placeholder.
fn claim(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
            ) =>
        {
            OpenOptions::new().write(true).create_new(true).open(to)?;
            std::fs::rename(from, to)
        }
        Err(e) => Err(e),
    }
}

/// `dir/stem-N.ext` for `dir/stem.ext` ([`wa_media_types::filename::numbered`]).
pub(crate) fn suffixed(dest: &Path, n: u32) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(wa_media_types::filename::numbered(&name, n))
}

/// Whether `path` is a regular file of `size` bytes hashing to `sha256`.
fn same_media(path: &Path, size: u64, sha256: &Sha256Digest) -> io::Result<bool> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() || meta.len() != size {
        return Ok(false);
    }
    let mut file = File::open(path)?;
    let mut digest = StreamingDigest::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        digest.update(&buf[..n]);
    }
    Ok(digest.finish() == *sha256)
}

/// Whether `name` is one of this library's temporary files: `.NAME.XXXXXXXX.wa-part`.
fn is_part_name(name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix('.')
        .and_then(|r| r.strip_suffix(PART_SUFFIX))
    else {
        return false;
    };
    match rest.rsplit_once('.') {
        Some((dest, random)) => {
            !dest.is_empty() && random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// Removes this library's stale temporary files (`.NAME.XXXXXXXX.wa-part`, regular files only)
/// in `dir` that were last modified more than `older_than` ago, and returns their paths.
///
/// [`crate::MediaApiExt::fetch_to_file`] removes its temporary file on every failure and when
/// its future is dropped; only a process that was killed (SIGKILL, a crash, power loss)
/// leaves one behind. Call this at startup for each directory you download into, with an age
/// longer than your longest download, so a fetch still running in another process is left
/// alone. Nothing else in `dir` is touched, and subdirectories are not searched.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join(".photo.jpg.0badf00d.wa-part"), b"half a photo")?;
/// std::fs::write(dir.path().join("photo.jpg"), b"a photo")?;
/// let removed = wa_media_core::clean_partial_files(dir.path(), std::time::Duration::ZERO)?;
/// assert_eq!(removed.len(), 1);
/// assert!(dir.path().join("photo.jpg").exists());
/// # Ok(()) }
/// ```
pub fn clean_partial_files(dir: &Path, older_than: Duration) -> io::Result<Vec<PathBuf>> {
    let now = SystemTime::now();
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_part_name(name) {
            continue;
        }
        let meta = entry.metadata()?;
        if !meta.is_file() {
            continue;
        }
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or(Duration::ZERO);
        if age < older_than {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed.push(entry.path()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_file_is_removed_on_drop_and_kept_on_persist() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let mut t = TempFile::create(&dest).unwrap();
        t.write(b"abc").unwrap();
        let tmp = t.path().to_owned();
        assert!(tmp.exists());
        assert_eq!(tmp.parent(), Some(dir.path()));
        assert!(is_part_name(tmp.file_name().unwrap().to_str().unwrap()));
        drop(t);
        assert!(!tmp.exists());
        assert!(!dest.exists());

        let mut t = TempFile::create(&dest).unwrap();
        t.write(b"abc").unwrap();
        t.persist(&dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// Many chunks of distinct bytes (more than the writer's queue holds).
    fn chunks() -> Vec<Bytes> {
        (0..64u32)
            .map(|i| Bytes::from(vec![(i % 251) as u8; 1000 + i as usize * 37]))
            .collect()
    }

    #[test]
    fn a_writer_thread_writes_every_chunk_in_order_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let mut t = TempFile::create(&dest).unwrap();
        t.write(b"head:").unwrap();
        t.write_on_thread();
        assert!(t.writer.is_some(), "a thread could be started here");
        let mut expected = b"head:".to_vec();
        for c in chunks() {
            expected.extend_from_slice(&c);
            t.write_bytes(c).unwrap();
        }
        // A slice written while the thread owns the file goes through it too.
        t.write(b":tail").unwrap();
        expected.extend_from_slice(b":tail");
        t.persist(&dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), expected);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_dropped_temp_file_with_a_writer_thread_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let mut t = TempFile::create(&dest).unwrap();
        t.write_on_thread();
        for c in chunks() {
            t.write_bytes(c).unwrap();
        }
        let tmp = t.path().to_owned();
        drop(t);
        assert!(!tmp.exists());
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_write_error_on_the_writer_thread_is_reported_and_nothing_is_placed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let path = dir.path().join(".out.bin.00000000.wa-part");
        std::fs::write(&path, b"").unwrap();
        // Opened read-only: every write fails on the thread.
        let mut t = TempFile {
            file: Some(File::open(&path).unwrap()),
            writer: None,
            path: path.clone(),
            armed: true,
        };
        t.write_on_thread();
        assert!(t.writer.is_some());
        let mut failed = None;
        for c in chunks() {
            if let Err(e) = t.write_bytes(c) {
                failed = Some(e);
                break;
            }
        }
        let e = match failed {
            Some(e) => {
                drop(t);
                e
            }
            // The queue took every chunk: the error shows when the file is placed.
            None => t.persist(&dest).unwrap_err(),
        };
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert!(!dest.exists());
        assert!(!path.exists(), "the temporary file is removed");
    }

    #[test]
    fn persist_never_replaces_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("taken");
        std::fs::create_dir(&dest).unwrap();
        let mut t = TempFile::create(&dest).unwrap();
        t.write(b"abc").unwrap();
        let e = t.persist(&dest).unwrap_err();
        // The reason is the io::Error behind it (`source()`).
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        assert!(cause.unwrap_or_default().contains("a directory"), "{e:?}");
        assert!(dest.is_dir());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn persist_new_claims_the_next_free_name_or_recognises_the_same_media() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("invoice.pdf");
        std::fs::write(&dest, b"someone else's").unwrap();
        let put = |bytes: &[u8]| {
            let mut t = TempFile::create(&dest).unwrap();
            t.write(bytes).unwrap();
            t.persist_new(&dest, bytes.len() as u64, Sha256Digest::of(bytes))
                .unwrap()
        };
        let p = put(b"mine");
        assert_eq!(p.path, dir.path().join("invoice-1.pdf"));
        assert!(!p.already_present);
        let again = put(b"mine");
        assert_eq!(again.path, p.path);
        assert!(again.already_present);
        let third = put(b"a third one");
        assert_eq!(third.path, dir.path().join("invoice-2.pdf"));
        assert_eq!(std::fs::read(&dest).unwrap(), b"someone else's");
        assert_eq!(std::fs::read(&p.path).unwrap(), b"mine");
        // Only the three files: no temporary file left.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn suffixes_go_before_the_extension() {
        let p = Path::new("d/report.tar.gz");
        assert_eq!(suffixed(p, 2), Path::new("d/report.tar-2.gz"));
        assert_eq!(suffixed(Path::new("d/README"), 1), Path::new("d/README-1"));
        assert_eq!(
            suffixed(Path::new("d/.hidden"), 1),
            Path::new("d/.hidden-1")
        );
    }

    #[test]
    fn only_this_librarys_part_files_are_recognised() {
        assert!(is_part_name(".x.bin.1a2b3c4d.wa-part"));
        assert!(is_part_name(".a.b.c.0000ffff.wa-part"));
        for other in [
            "x.bin.1a2b3c4d.wa-part",
            "..1a2b3c4d.wa-part",
            ".x.bin.1a2b3c4.wa-part",
            ".x.bin.1a2b3c4z.wa-part",
            ".x.bin.1a2b3c4d.part",
            ".x.bin",
        ] {
            assert!(!is_part_name(other), "{other}");
        }
    }

    #[test]
    fn clean_partial_files_removes_only_old_part_files() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join(".x.bin.1a2b3c4d.wa-part");
        let keep = [
            dir.path().join("x.bin"),
            dir.path().join(".x.bin.notours.wa-part"),
        ];
        std::fs::write(&part, b"half").unwrap();
        for k in &keep {
            std::fs::write(k, b"keep").unwrap();
        }
        std::fs::create_dir(dir.path().join(".d.00000000.wa-part")).unwrap();
        // Too young to be stale.
        let removed = clean_partial_files(dir.path(), Duration::from_secs(3600)).unwrap();
        assert!(removed.is_empty());
        assert!(part.exists());
        let removed = clean_partial_files(dir.path(), Duration::ZERO).unwrap();
        assert_eq!(removed, vec![part.clone()]);
        assert!(!part.exists());
        assert!(keep.iter().all(|k| k.exists()));
        assert!(dir.path().join(".d.00000000.wa-part").is_dir());
    }
}
