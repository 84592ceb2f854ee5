//! The durable queue of media to fetch, in files, Maildir style.
//!
//! ```text
//! SPOOL/tmp/     entries being written (never read)
//! SPOOL/new/     <media id>.json: pending, waiting for a worker (or for its retry time)
//! SPOOL/cur/     <media id>.json: taken by a worker (moved back to new/ at startup)
//! SPOOL/failed/  <media id>.json: given up, with the reason and the last error
//! SPOOL/done/    <media id>: saved; the record that makes a redelivery a no-op
//! ```
//!
//! An entry is written into `tmp/`, fsynced, then linked into `new/` under its media id — the
//! link fails if the name exists, so one media id is never pending twice — and `new/` is
//! fsynced once for all the entries of one delivery (group commit). Rename or link is the
//! commit point: an entry is either wholly in `new/` or not there at all.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::entry::SpoolEntry;
use crate::time::now_ms;

const DIRS: [&str; 5] = ["tmp", "new", "cur", "failed", "done"];

/// What happened to one media of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Enqueued {
    /// Written to the spool: a worker will fetch it.
    New,
    /// Already pending, taken, saved or failed: nothing was written.
    Duplicate,
}

/// The spool directory. Safe to share between threads; one process per directory.
#[derive(Debug)]
pub struct Spool {
    root: PathBuf,
    /// Serialises "is it known? then link it" so two deliveries of one media in the same
    /// instant cannot both count as new.
    admit: Mutex<()>,
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

impl Spool {
    /// Opens (creating) the spool at `root`, and moves entries a previous process had taken
    /// but not finished (`cur/`) back to `new/`.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for d in DIRS {
            fs::create_dir_all(root.join(d))?;
        }
        let spool = Self {
            root,
            admit: Mutex::new(()),
        };
        spool.recover()?;
        Ok(spool)
    }

    /// The spool's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, dir: &str, media_id: &str) -> PathBuf {
        match dir {
            "done" => self.root.join(dir).join(media_id),
            _ => self.root.join(dir).join(format!("{media_id}.json")),
        }
    }

    /// Whether the media is pending, taken, saved or failed.
    fn known(&self, media_id: &str) -> bool {
        ["new", "cur", "done", "failed"]
            .iter()
            .any(|d| self.path(d, media_id).exists())
    }

    /// Writes `entry` into `tmp/` and fsyncs it; returns the temporary path.
    fn write_tmp(&self, entry: &SpoolEntry) -> io::Result<PathBuf> {
        let (path, file) = self.write_tmp_unsynced(entry)?;
        file.sync_all()?;
        Ok(path)
    }

    /// Writes `entry` into `tmp/` without syncing; returns the path and the open file.
    fn write_tmp_unsynced(&self, entry: &SpoolEntry) -> io::Result<(PathBuf, File)> {
        let tmp = self.root.join("tmp").join(format!(
            "{}.{:08x}.json",
            entry.media_id,
            fastrand::u32(..)
        ));
        let bytes = serde_json::to_vec(entry).map_err(io::Error::other)?;
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(&bytes)?;
        Ok((tmp, f))
    }

    /// Admits the media of one delivery: each one not already known is written and fsynced
    /// (the files of one delivery in parallel, so the filesystem commits them together), then
    /// linked into `new/`, with one fsync of `new/` for the whole batch. Returns, in order,
    /// whether each was new or a duplicate. When this returns `Ok`, every `New` entry is
    /// durable.
    pub fn enqueue(&self, entries: &[SpoolEntry]) -> io::Result<Vec<Enqueued>> {
        // Step 1: write and sync the candidates (no lock: deliveries proceed side by side).
        let mut seen = std::collections::HashSet::new();
        let mut written: Vec<Option<(PathBuf, File)>> = Vec::with_capacity(entries.len());
        for e in entries {
            if !seen.insert(e.media_id.as_str()) || self.known(&e.media_id) {
                written.push(None);
            } else {
                written.push(Some(self.write_tmp_unsynced(e)?));
            }
        }
        let synced = sync_all_parallel(written.iter().flatten().map(|(_, f)| f));
        let tmps: Vec<Option<PathBuf>> = written.into_iter().map(|w| w.map(|(p, _)| p)).collect();
        let result = synced.and_then(|()| self.link_new(entries, &tmps));
        for t in tmps.iter().flatten() {
            let _ = fs::remove_file(t);
        }
        let (out, any_new) = result?;
        // Step 3: one directory sync for the batch.
        if any_new {
            sync_dir(&self.root.join("new"))?;
        }
        Ok(out)
    }

    /// Step 2 of [`Spool::enqueue`], under the admission lock: links each synced entry into
    /// `new/` unless its media is known by now (another delivery of it won the race).
    fn link_new(
        &self,
        entries: &[SpoolEntry],
        tmps: &[Option<PathBuf>],
    ) -> io::Result<(Vec<Enqueued>, bool)> {
        let _guard = self.admit.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(entries.len());
        let mut any_new = false;
        for (e, tmp) in entries.iter().zip(tmps) {
            let Some(tmp) = tmp else {
                out.push(Enqueued::Duplicate);
                continue;
            };
            if self.known(&e.media_id) {
                out.push(Enqueued::Duplicate);
                continue;
            }
            match fs::hard_link(tmp, self.path("new", &e.media_id)) {
                Ok(()) => {
                    any_new = true;
                    out.push(Enqueued::New);
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
                    out.push(Enqueued::Duplicate)
                }
                Err(err) => return Err(err),
            }
        }
        Ok((out, any_new))
    }

    /// Takes a pending entry for processing (`new/` → `cur/`). `None` when it is not pending
    /// (another worker took it, or it is gone).
    pub fn claim(&self, media_id: &str) -> io::Result<Option<SpoolEntry>> {
        let cur = self.path("cur", media_id);
        match fs::rename(self.path("new", media_id), &cur) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        let bytes = fs::read(&cur)?;
        match serde_json::from_slice(&bytes) {
            Ok(entry) => Ok(Some(entry)),
            Err(e) => {
                // A damaged entry is parked in failed/ as it is, never retried blindly.
                let _ = fs::rename(&cur, self.path("failed", media_id));
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }

    /// Records a taken entry as saved (`done/<id>`), then removes it from `cur/`.
    pub fn complete(&self, entry: &SpoolEntry, location: &str) -> io::Result<()> {
        let record = serde_json::json!({ "media_id": entry.media_id, "location": location, "saved_at_ms": now_ms() });
        fs::write(self.path("done", &entry.media_id), record.to_string())?;
        fs::remove_file(self.path("cur", &entry.media_id))
    }

    /// Puts a taken entry back into `new/` with its updated attempts and retry time.
    pub fn retry_later(&self, entry: &SpoolEntry) -> io::Result<()> {
        let tmp = self.write_tmp(entry)?;
        fs::rename(&tmp, self.path("new", &entry.media_id))?;
        let _ = fs::remove_file(self.path("cur", &entry.media_id));
        Ok(())
    }

    /// Moves a taken entry to `failed/`, with the reason recorded in it.
    pub fn fail(&self, entry: &SpoolEntry) -> io::Result<()> {
        let tmp = self.write_tmp(entry)?;
        fs::rename(&tmp, self.path("failed", &entry.media_id))?;
        let _ = fs::remove_file(self.path("cur", &entry.media_id));
        Ok(())
    }

    /// Moves every entry of `cur/` (taken by a process that died) back to `new/`.
    pub fn recover(&self) -> io::Result<usize> {
        let mut n = 0;
        for name in list(&self.root.join("cur"))? {
            fs::rename(
                self.root.join("cur").join(&name),
                self.root.join("new").join(&name),
            )?;
            n += 1;
        }
        // Half-written entries of a process that died mid-write.
        for name in list(&self.root.join("tmp"))? {
            let _ = fs::remove_file(self.root.join("tmp").join(name));
        }
        Ok(n)
    }

    /// Moves every failed entry back to `new/` with its attempts reset; returns how many.
    pub fn retry_failed(&self) -> io::Result<usize> {
        let mut n = 0;
        for name in list(&self.root.join("failed"))? {
            let path = self.root.join("failed").join(&name);
            let Ok(mut entry) = serde_json::from_slice::<SpoolEntry>(&fs::read(&path)?) else {
                continue;
            };
            entry.attempts = 0;
            entry.not_before_ms = 0;
            entry.failure = None;
            let tmp = self.write_tmp(&entry)?;
            fs::rename(&tmp, self.path("new", &entry.media_id))?;
            fs::remove_file(&path)?;
            n += 1;
        }
        Ok(n)
    }

    /// The media ids pending in `new/`, with the time (ms since the epoch) each may be tried.
    pub fn pending(&self) -> io::Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for name in list(&self.root.join("new"))? {
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            let not_before = fs::read(self.root.join("new").join(&name))
                .ok()
                .and_then(|b| serde_json::from_slice::<SpoolEntry>(&b).ok())
                .map_or(0, |e| e.not_before_ms);
            out.push((id.to_owned(), not_before));
        }
        Ok(out)
    }

    /// How many entries are pending or taken, and how many failed.
    pub fn counts(&self) -> io::Result<(usize, usize)> {
        let pending = list(&self.root.join("new"))?.len() + list(&self.root.join("cur"))?.len();
        Ok((pending, list(&self.root.join("failed"))?.len()))
    }

    /// Removes `done/` records older than `age` (a redelivery can come for 7 days; after that
    /// the media id itself has expired).
    pub fn prune_done(&self, age: Duration) -> io::Result<usize> {
        let now = SystemTime::now();
        let mut n = 0;
        for name in list(&self.root.join("done"))? {
            let p = self.root.join("done").join(name);
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
}

/// Syncs the files on one thread each (at most 16 at a time): a filesystem journal commits
/// concurrent syncs together, so ten entries cost about one commit instead of ten.
fn sync_all_parallel<'a>(files: impl Iterator<Item = &'a File>) -> io::Result<()> {
    let files: Vec<&File> = files.collect();
    if files.len() <= 1 {
        return files.first().map_or(Ok(()), |f| f.sync_all());
    }
    for chunk in files.chunks(16) {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk.iter().map(|f| s.spawn(|| f.sync_all())).collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("sync panicked")))
            })
        })?;
    }
    Ok(())
}

fn list(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        if let Some(name) = e?.file_name().to_str() {
            out.push(name.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> SpoolEntry {
        SpoolEntry::for_test(id)
    }

    #[test]
    fn one_media_is_pending_once_and_redelivery_is_a_duplicate() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path()).unwrap();
        let got = s.enqueue(&[entry("1"), entry("2"), entry("1")]).unwrap();
        assert_eq!(got, vec![Enqueued::New, Enqueued::New, Enqueued::Duplicate]);
        assert_eq!(s.enqueue(&[entry("2")]).unwrap(), vec![Enqueued::Duplicate]);
        let e = s.claim("1").unwrap().unwrap();
        assert_eq!(s.claim("1").unwrap(), None, "claimed twice");
        assert_eq!(s.enqueue(&[entry("1")]).unwrap(), vec![Enqueued::Duplicate]);
        s.complete(&e, "x").unwrap();
        assert_eq!(s.enqueue(&[entry("1")]).unwrap(), vec![Enqueued::Duplicate]);
        assert_eq!(s.counts().unwrap(), (1, 0));
        assert!(list(&dir.path().join("tmp")).unwrap().is_empty());
    }

    #[test]
    fn taken_entries_come_back_after_a_restart_and_failed_ones_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path()).unwrap();
        s.enqueue(&[entry("7"), entry("8")]).unwrap();
        let _taken = s.claim("7").unwrap().unwrap();
        let mut f = s.claim("8").unwrap().unwrap();
        f.failure = Some("digest mismatch".into());
        s.fail(&f).unwrap();
        drop(s);
        let s = Spool::open(dir.path()).unwrap();
        assert_eq!(s.pending().unwrap(), vec![("7".to_owned(), 0)]);
        assert_eq!(s.counts().unwrap(), (1, 1));
        assert_eq!(s.enqueue(&[entry("8")]).unwrap(), vec![Enqueued::Duplicate]);
        assert_eq!(s.retry_failed().unwrap(), 1);
        assert_eq!(s.counts().unwrap(), (2, 0));
        assert_eq!(s.claim("8").unwrap().unwrap().failure, None);
    }
}
