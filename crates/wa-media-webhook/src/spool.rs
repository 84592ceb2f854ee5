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
//!
//! Faults the spool survives without a restart:
//! - **A full disk.** Every move of a taken entry (`cur/` → `new/`, `failed/`, `done/`) first
//!   tries to write the updated entry; when that fails it falls back to renaming the entry as
//!   it was (a rename needs no space). When even that fails, the entry stays in `cur/` but no
//!   worker holds it any more: it is *stranded*, and [`Spool::reclaim_stranded`] (run
//!   periodically by [`crate::Ingest`]) or the next redelivery of its media takes it back.
//! - **Two processes.** [`Spool::open`] takes an advisory lock on `SPOOL/lock` for the life of
//!   the value; a second process gets [`SpoolInUse`] naming the holder's pid.
//! - **A newer claim.** A notification whose digest differs from a pending or failed entry's
//!   replaces it: the latest claim wins (a file is still saved only when the bytes match both
//!   the API's digest and the claim's).
//! - **Odd files.** Anything in the spool that is not a regular file (a FIFO, a directory, a
//!   symlink, a device) is skipped with a warning, and never opened in a way that blocks.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::entry::SpoolEntry;
use crate::fsops::{self, is_regular, remove_if_there, Lister};
use crate::sink::Saved;
use crate::time::now_ms;

const DIRS: [&str; 5] = ["tmp", "new", "cur", "failed", "done"];

/// The file whose advisory lock a process holds for as long as it has the spool open.
const LOCK_FILE: &str = "lock";

/// What happened to one media of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Enqueued {
    /// Written to the spool: a worker will fetch it.
    New,
    /// Already pending, taken, saved or failed with the same claim: nothing was written.
    Duplicate,
    /// Known, and put back in the queue: a newer claim (a different digest) replaced a pending
    /// or failed one, or an entry nobody was working on (its bookkeeping write had failed)
    /// was taken back. Schedule it as a new one.
    Requeued,
}

/// Another process holds the spool (the error inside [`Spool::open`]'s `io::Error`, of kind
/// `WouldBlock`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the spool {} is in use by another process{}; one process per spool: stop that one first (a draining `serve` exits once its running downloads end), or give this one its own spool", path.display(), holder.map(|p| format!(" (pid {p})")).unwrap_or_default())]
#[non_exhaustive]
pub struct SpoolInUse {
    /// The spool's directory.
    pub path: PathBuf,
    /// The process id the holder wrote into the lock file, when readable.
    pub holder: Option<u32>,
}

/// The durable queue. Safe to share between threads. One process per directory: [`Spool::open`]
/// takes an advisory lock (`SPOOL/lock`) that the value holds until it is dropped.
#[derive(Debug)]
pub struct Spool {
    root: PathBuf,
    /// Serialises every decision that reads a media's state and then changes it (admission,
    /// putting a taken entry back or failing it, taking a stranded one back), so two
    /// deliveries of one media in the same instant cannot both count as new, and a newer claim
    /// is never overwritten by an older one.
    admit: Mutex<()>,
    /// The media ids a worker of this process holds in `cur/`. An entry in `cur/` that is not
    /// here is stranded (its bookkeeping write failed) and is taken back.
    taken: Mutex<HashSet<String>>,
    /// Attempts made that could not be written into the entry (a full disk): remembered so a
    /// media is not retried for ever at the first backoff step.
    attempts: Mutex<HashMap<String, u32>>,
    lister: Lister,
    /// Holds the advisory lock while open (until dropped, or [`Spool::close`]).
    lock: Mutex<Option<File>>,
}

/// Where a media stands in the spool. The entry is `None` when its file is damaged.
#[derive(Debug)]
enum State {
    Unknown,
    Done,
    Pending(Option<SpoolEntry>),
    /// In `cur/`, held by a worker of this process.
    Taken(Option<SpoolEntry>),
    /// In `cur/`, held by no worker: its bookkeeping write failed.
    Stranded(Option<SpoolEntry>),
    Failed(Option<SpoolEntry>),
    /// Named like an entry, but not a regular file: left alone.
    Odd,
}

/// What admission does with one media, decided before the lock and applied under it.
#[derive(Debug)]
enum Plan {
    Skip,
    /// A new entry, written and synced at this path in `tmp/`.
    Write(PathBuf),
    /// Take a stranded entry back into `new/`.
    Reclaim,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_entry(path: &Path) -> io::Result<SpoolEntry> {
    fsops::read_json(path)
}

/// Whether `new` is a different claim than `old` (a damaged `old` always is): a different
/// digest. A claim without a digest never replaces one with a digest.
fn newer_claim(new: &SpoolEntry, old: Option<&SpoolEntry>) -> bool {
    match old {
        None => true,
        Some(old) => new.sha256.is_some() && new.sha256 != old.sha256,
    }
}

impl Spool {
    /// Opens (creating) the spool at `root`, takes its lock (failing at once with a
    /// [`SpoolInUse`] inside the error when another process holds it), and moves entries a
    /// previous process had taken but not finished (`cur/`) back to `new/`.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for d in DIRS {
            fs::create_dir_all(root.join(d))?;
        }
        let lock_path = root.join(LOCK_FILE);
        let mut lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)?;
        if !fsops::lock::try_exclusive(&lock_file)? {
            let holder = fs::read_to_string(&lock_path).ok().and_then(|t| {
                t.split_whitespace()
                    .skip_while(|w| *w != "pid")
                    .nth(1)
                    .and_then(|p| p.parse().ok())
            });
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                SpoolInUse { path: root, holder },
            ));
        }
        // Who holds it, for the message of the next one (best effort: a full disk may refuse).
        let _ = lock_file
            .set_len(0)
            .and_then(|()| writeln!(lock_file, "pid {}", std::process::id()));
        let spool = Self {
            root,
            admit: Mutex::new(()),
            taken: Mutex::new(HashSet::new()),
            attempts: Mutex::new(HashMap::new()),
            lister: Lister::default(),
            lock: Mutex::new(Some(lock_file)),
        };
        spool.recover()?;
        Ok(spool)
    }

    /// The spool's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Gives up this process's lock on the spool, so another process (or a new [`Spool`] of
    /// this one) can open it; [`crate::Ingest::shutdown`] calls it once its workers stopped.
    /// Nothing may use this value afterwards.
    pub fn close(&self) {
        lock(&self.lock).take();
    }

    fn path(&self, dir: &str, media_id: &str) -> PathBuf {
        match dir {
            "done" => self.root.join(dir).join(media_id),
            _ => self.root.join(dir).join(format!("{media_id}.json")),
        }
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        self.lister.regular_files(&self.root.join(dir))
    }

    /// The ids of the entries of `dir` (`new`, `cur`, `failed`).
    fn ids(&self, dir: &str) -> io::Result<Vec<String>> {
        self.lister.entry_ids(&self.root.join(dir))
    }

    fn state(&self, media_id: &str) -> State {
        let done = self.path("done", media_id);
        if is_regular(&done) {
            return State::Done;
        }
        for dir in ["new", "cur", "failed"] {
            let p = self.path(dir, media_id);
            let Ok(meta) = fs::symlink_metadata(&p) else {
                continue;
            };
            if !meta.is_file() {
                self.lister.warn_once(&p);
                return State::Odd;
            }
            let entry = read_entry(&p).ok();
            return match dir {
                "new" => State::Pending(entry),
                "cur" if lock(&self.taken).contains(media_id) => State::Taken(entry),
                "cur" => State::Stranded(entry),
                _ => State::Failed(entry),
            };
        }
        if fs::symlink_metadata(&done).is_ok() {
            self.lister.warn_once(&done);
            return State::Odd;
        }
        State::Unknown
    }

    /// Writes `entry` into `tmp/` and fsyncs it; returns the temporary path.
    fn write_tmp(&self, entry: &SpoolEntry) -> io::Result<PathBuf> {
        let (path, file) = self.write_tmp_unsynced(entry)?;
        if let Err(e) = file.sync_all() {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(path)
    }

    /// Writes `entry` into `tmp/` without syncing; returns the path and the open file. Nothing
    /// is left in `tmp/` when this fails.
    fn write_tmp_unsynced(&self, entry: &SpoolEntry) -> io::Result<(PathBuf, File)> {
        let tmp = self.root.join("tmp").join(format!(
            "{}.{:08x}.json",
            entry.media_id,
            fastrand::u32(..)
        ));
        let bytes = serde_json::to_vec(entry).map_err(io::Error::other)?;
        let f = fsops::create_new_with(&tmp, &bytes)?;
        Ok((tmp, f))
    }

    /// Writes `entry` into `tmp/`, syncs it and renames it to `dir/`.
    fn write_into(&self, dir: &str, entry: &SpoolEntry) -> io::Result<()> {
        let tmp = self.write_tmp(entry)?;
        fsops::rename(&tmp, &self.path(dir, entry.media_id.as_str())).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }

    /// Admits the media of one delivery, and returns, in order, what happened to each.
    ///
    /// A media not known yet is written and fsynced (the files of one delivery in parallel,
    /// so the filesystem commits them together), then linked into `new/`, with one fsync of
    /// `new/` for the whole batch. A known media is a duplicate, except that **the latest
    /// claim wins**: a notification whose digest differs from a pending or failed entry's
    /// replaces it (a failed one is queued again), and one for a media being fetched now is
    /// queued behind it; and an entry left in `cur/` by a failed bookkeeping write is taken
    /// back ([`Enqueued::Requeued`]). When this returns `Ok`, every `New` and `Requeued`
    /// entry is durable.
    pub fn enqueue(&self, entries: &[SpoolEntry]) -> io::Result<Vec<Enqueued>> {
        // Step 1: decide, and write and sync the new claims (no lock: deliveries proceed side
        // by side).
        let mut seen = HashSet::new();
        let mut plans: Vec<Plan> = Vec::with_capacity(entries.len());
        let mut files = Vec::new();
        let mut failure = None;
        for e in entries {
            if failure.is_some() || !seen.insert(e.media_id.as_str()) {
                plans.push(Plan::Skip);
                continue;
            }
            let plan = match self.state(e.media_id.as_str()) {
                State::Done | State::Odd => Plan::Skip,
                State::Stranded(old) if !newer_claim(e, old.as_ref()) => Plan::Reclaim,
                State::Pending(old)
                | State::Taken(old)
                | State::Stranded(old)
                | State::Failed(old)
                    if !newer_claim(e, old.as_ref()) =>
                {
                    Plan::Skip
                }
                _ => match self.write_tmp_unsynced(e) {
                    Ok((path, file)) => {
                        files.push(file);
                        Plan::Write(path)
                    }
                    Err(err) => {
                        failure = Some(err);
                        Plan::Skip
                    }
                },
            };
            plans.push(plan);
        }
        let synced = match failure {
            Some(e) => Err(e),
            None => sync_all_parallel(files.iter()),
        };
        drop(files);
        let result = synced.and_then(|()| self.apply(entries, &plans));
        for p in &plans {
            if let Plan::Write(tmp) = p {
                let _ = fs::remove_file(tmp);
            }
        }
        let (out, changed) = result?;
        // Step 3: one directory sync for the batch.
        if changed {
            fsops::sync_dir(&self.root.join("new"))?;
        }
        Ok(out)
    }

    /// Step 2 of [`Spool::enqueue`], under the admission lock: applies each plan to the
    /// media's state as it is now (another delivery of it may have won the race).
    fn apply(&self, entries: &[SpoolEntry], plans: &[Plan]) -> io::Result<(Vec<Enqueued>, bool)> {
        let _guard = lock(&self.admit);
        let mut out = Vec::with_capacity(entries.len());
        let mut changed = false;
        for (e, plan) in entries.iter().zip(plans) {
            if matches!(plan, Plan::Skip) {
                out.push(Enqueued::Duplicate);
                continue;
            }
            let id = e.media_id.as_str();
            let (new, cur) = (self.path("new", id), self.path("cur", id));
            let got = match (plan, self.state(id)) {
                (Plan::Skip, _) | (_, State::Done | State::Odd) => Enqueued::Duplicate,
                (Plan::Reclaim, State::Stranded(_)) => {
                    fsops::rename(&cur, &new)?;
                    tracing::warn!(
                        media_id = id,
                        "a redelivery found its entry left in cur/ by a failed write; queued again"
                    );
                    Enqueued::Requeued
                }
                (Plan::Reclaim, _) => Enqueued::Duplicate,
                (Plan::Write(tmp), State::Unknown) => match fsops::hard_link(tmp, &new) {
                    Ok(()) => Enqueued::New,
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Enqueued::Duplicate,
                    Err(err) => return Err(err),
                },
                (Plan::Write(tmp), state) => {
                    let old = match &state {
                        State::Pending(o)
                        | State::Taken(o)
                        | State::Stranded(o)
                        | State::Failed(o) => o.as_ref(),
                        _ => None,
                    };
                    if !newer_claim(e, old) {
                        Enqueued::Duplicate
                    } else {
                        fsops::rename(tmp, &new)?;
                        match state {
                            State::Failed(_) => remove_if_there(&self.path("failed", id))?,
                            State::Stranded(_) => remove_if_there(&cur)?,
                            _ => {}
                        }
                        tracing::info!(
                            media_id = id,
                            sha256 = e.sha256.map(|d| d.to_hex()).unwrap_or_default(),
                            "a newer claim (another digest) replaces the spooled one"
                        );
                        Enqueued::Requeued
                    }
                }
            };
            changed |= got != Enqueued::Duplicate;
            out.push(got);
        }
        Ok((out, changed))
    }

    /// Takes a pending entry for processing (`new/` → `cur/`). `None` when it is not pending
    /// (another worker took it, or it is gone), when a worker of this process holds the media
    /// (the entry waits until that one is done), or when the media is saved already.
    pub fn claim(&self, media_id: &str) -> io::Result<Option<SpoolEntry>> {
        if !lock(&self.taken).insert(media_id.to_owned()) {
            return Ok(None);
        }
        let result = self.claim_held(media_id);
        if !matches!(result, Ok(Some(_))) {
            self.release(media_id);
        }
        result
    }

    fn claim_held(&self, media_id: &str) -> io::Result<Option<SpoolEntry>> {
        let (new, cur) = (self.path("new", media_id), self.path("cur", media_id));
        match fs::symlink_metadata(&new) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                self.lister.warn_once(&new);
                return Ok(None);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        match fsops::rename(&new, &cur) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        if is_regular(&self.path("done", media_id)) {
            // An older claim of it was saved meanwhile: this one is a duplicate.
            let _ = fs::remove_file(&cur);
            return Ok(None);
        }
        match read_entry(&cur) {
            Ok(mut entry) => {
                if let Some(&n) = lock(&self.attempts).get(media_id) {
                    entry.attempts = entry.attempts.max(n);
                }
                Ok(Some(entry))
            }
            Err(e) => {
                // A damaged entry is parked in failed/ as it is, never retried blindly.
                let _ = fsops::rename(&cur, &self.path("failed", media_id));
                Err(e)
            }
        }
    }

    /// Ends this process's hold on `media_id` (an entry still in `cur/` then counts as
    /// stranded and is taken back).
    fn release(&self, media_id: &str) {
        lock(&self.taken).remove(media_id);
    }

    /// Whether `media_id` has an entry waiting in `new/`.
    pub fn is_pending(&self, media_id: &str) -> bool {
        is_regular(&self.path("new", media_id))
    }

    /// Records a taken entry as saved (`done/<id>`, holding where it went and what was verified:
    /// [`SavedOutcome`]), then removes it from `cur/` (and any failed entry of an older claim).
    /// On a full disk, where the record cannot be written, the entry itself is renamed into
    /// `done/` (a rename needs no space). When even that fails the entry stays in `cur/`,
    /// released: it is taken back and saved again (a sink recognises what it saved already),
    /// never lost.
    pub fn complete(&self, entry: &SpoolEntry, saved: &Saved) -> io::Result<()> {
        let id = entry.media_id.as_str();
        let (done, cur) = (self.path("done", id), self.path("cur", id));
        let record = SavedOutcome::of(entry, saved);
        let bytes = serde_json::to_vec(&record).map_err(io::Error::other)?;
        let result = match fsops::write_file(&done, &bytes) {
            Ok(()) => remove_if_there(&cur),
            Err(e) => {
                tracing::warn!(media_id = id, error = %e, "cannot write the saved record; keeping the entry as the record");
                fsops::rename(&cur, &done)
            }
        };
        if result.is_ok() {
            let _ = remove_if_there(&self.path("failed", id));
            lock(&self.attempts).remove(id);
        }
        self.release(id);
        result
    }

    /// Where `media_id` stands, for whoever waits on it (the [`crate::Forwarder`]): settled
    /// (saved or failed) or not yet.
    pub fn outcome(&self, media_id: &str) -> MediaOutcome {
        match self.state(media_id) {
            State::Done => {
                let bytes = fsops::read_regular(&self.path("done", media_id)).unwrap_or_default();
                match serde_json::from_slice::<SavedOutcome>(&bytes) {
                    Ok(o) => MediaOutcome::Saved(o),
                    // The entry itself, renamed there on a full disk: saved, details unknown.
                    Err(_) => {
                        let entry: Option<SpoolEntry> = serde_json::from_slice(&bytes).ok();
                        MediaOutcome::Saved(SavedOutcome {
                            media_id: media_id.to_owned(),
                            location: String::new(),
                            file_size: None,
                            sha256: entry
                                .as_ref()
                                .and_then(|e| e.sha256.as_ref().map(|d| d.to_hex())),
                            mime_type: entry.map(|e| e.mime_type),
                            saved_at_ms: 0,
                        })
                    }
                }
            }
            State::Failed(entry) => MediaOutcome::Failed(
                entry
                    .and_then(|e| e.failure)
                    .unwrap_or_else(|| "failed (the entry cannot be read)".into()),
            ),
            State::Pending(_) | State::Taken(_) | State::Stranded(_) => MediaOutcome::Pending,
            State::Unknown | State::Odd => MediaOutcome::Unknown,
        }
    }

    /// Puts a taken entry back into `new/` with its updated attempts and retry time. On a full
    /// disk, where the updated entry cannot be written, the entry is moved back as it was (a
    /// rename needs no space; the attempts are remembered in memory). A newer claim waiting in
    /// `new/` is kept and this one dropped. When even the rename fails the entry stays in
    /// `cur/`, released, and is taken back later: never stranded.
    pub fn retry_later(&self, entry: &SpoolEntry) -> io::Result<()> {
        self.settle(entry, "new")
    }

    /// Moves a taken entry to `failed/`, with the reason recorded in it (on a full disk, as it
    /// was: the reason is then only in the log). A newer claim waiting in `new/` supersedes
    /// it: the entry is dropped, and the newer claim is fetched.
    pub fn fail(&self, entry: &SpoolEntry) -> io::Result<()> {
        self.settle(entry, "failed")
    }

    fn settle(&self, entry: &SpoolEntry, dir: &str) -> io::Result<()> {
        let id = entry.media_id.as_str();
        let cur = self.path("cur", id);
        let result = {
            let _guard = lock(&self.admit);
            if self.is_pending(id) {
                // A newer claim arrived while this one was being fetched.
                remove_if_there(&cur)
            } else {
                match self.write_into(dir, entry) {
                    Ok(()) => {
                        lock(&self.attempts).remove(id);
                        remove_if_there(&cur)
                    }
                    Err(e) => {
                        tracing::warn!(media_id = id, error = %e, "cannot write the updated spool entry; moving it as it was");
                        if dir == "new" {
                            lock(&self.attempts).insert(id.to_owned(), entry.attempts);
                        }
                        fsops::rename(&cur, &self.path(dir, id))
                    }
                }
            }
        };
        self.release(id);
        result
    }

    /// Moves every entry of `cur/` (taken by a process that died) back to `new/`.
    pub fn recover(&self) -> io::Result<usize> {
        let n = self.reclaim_stranded()?.len();
        // Half-written entries of a process that died mid-write.
        for name in self.list("tmp")? {
            let _ = fs::remove_file(self.root.join("tmp").join(name));
        }
        Ok(n)
    }

    /// Moves every entry of `cur/` that no worker of this process holds back to `new/` (an
    /// entry whose bookkeeping write failed, or one of a process that died), and returns their
    /// media ids. A newer claim already in `new/` is kept.
    pub fn reclaim_stranded(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for id in self.ids("cur")? {
            let _guard = lock(&self.admit);
            let taken = lock(&self.taken);
            if taken.contains(&id) {
                continue;
            }
            let cur = self.path("cur", &id);
            if !is_regular(&cur) {
                continue;
            }
            if self.is_pending(&id) {
                remove_if_there(&cur)?;
            } else {
                fsops::rename(&cur, &self.path("new", &id))?;
            }
            out.push(id);
        }
        Ok(out)
    }

    /// Moves every failed entry back to `new/` with its attempts reset; returns how many. An
    /// entry that cannot be read (damaged, or not a regular file) is skipped with a warning.
    pub fn retry_failed(&self) -> io::Result<usize> {
        let mut n = 0;
        for id in self.ids("failed")? {
            let path = self.path("failed", &id);
            let mut entry = match read_entry(&path) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "a failed entry cannot be read; skipped");
                    continue;
                }
            };
            entry.attempts = 0;
            entry.not_before_ms = 0;
            entry.failure = None;
            let _guard = lock(&self.admit);
            if !self.is_pending(&id) {
                self.write_into("new", &entry)?;
            }
            fs::remove_file(&path)?;
            n += 1;
        }
        Ok(n)
    }

    /// The media ids pending in `new/`, with the time (ms since the epoch) each may be tried.
    pub fn pending(&self) -> io::Result<Vec<(String, u64)>> {
        Ok(self
            .ids("new")?
            .into_iter()
            .map(|id| {
                let not_before = read_entry(&self.path("new", &id)).map_or(0, |e| e.not_before_ms);
                (id, not_before)
            })
            .collect())
    }

    /// The time (ms since the epoch) the pending entry of `media_id` may be tried; `None` when
    /// it is not pending.
    pub fn not_before(&self, media_id: &str) -> Option<u64> {
        let p = self.path("new", media_id);
        is_regular(&p).then(|| read_entry(&p).map_or(0, |e| e.not_before_ms))
    }

    /// The media ids pending in `new/` (names only: nothing is read).
    pub fn pending_ids(&self) -> io::Result<Vec<String>> {
        self.ids("new")
    }

    /// How many entries are pending or taken, and how many failed.
    pub fn counts(&self) -> io::Result<(usize, usize)> {
        let pending = self.list("new")?.len() + self.list("cur")?.len();
        Ok((pending, self.list("failed")?.len()))
    }

    /// How many entries are pending (in `new/`), taken (in `cur/`) and failed.
    pub fn state_counts(&self) -> io::Result<(usize, usize, usize)> {
        Ok((
            self.list("new")?.len(),
            self.list("cur")?.len(),
            self.list("failed")?.len(),
        ))
    }

    /// Whether a byte can be written into the spool now (a probe file in `tmp/`, removed): what
    /// a readiness check asks. A full disk or a read-only mount answers `false`.
    pub fn writable(&self) -> bool {
        let probe = self
            .root
            .join("tmp")
            .join(format!(".probe.{:08x}", fastrand::u32(..)));
        let ok = fsops::create_new_with(&probe, b"w").is_ok();
        let _ = fs::remove_file(&probe);
        ok
    }

    /// Removes `done/` records older than `age` (a redelivery can come for 7 days; after that
    /// the media id itself has expired).
    pub fn prune_done(&self, age: Duration) -> io::Result<usize> {
        self.lister.remove_older_than(&self.root.join("done"), age)
    }
}

/// The record `done/<media id>` holds: where a media was saved and what was verified.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SavedOutcome {
    /// The media id.
    pub media_id: String,
    /// Where the sink put it ([`Saved::location`]); empty when unknown.
    pub location: String,
    /// Its size in bytes, verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    /// Its SHA-256, hex, verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The MIME type as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// When it was saved, ms since the epoch (0 when unknown).
    #[serde(default)]
    pub saved_at_ms: u64,
}

impl SavedOutcome {
    /// The outcome of `entry` saved as `saved`, now.
    pub fn of(entry: &SpoolEntry, saved: &Saved) -> Self {
        Self {
            media_id: entry.media_id.to_string(),
            location: saved.location.clone(),
            file_size: Some(saved.file_size),
            sha256: Some(saved.sha256.to_hex()),
            mime_type: Some(entry.mime_type.clone()),
            saved_at_ms: now_ms(),
        }
    }
}

/// Where one media stands ([`Spool::outcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaOutcome {
    /// Not in the spool (never admitted, or its record was pruned).
    Unknown,
    /// Waiting, or being fetched.
    Pending,
    /// Saved and verified.
    Saved(SavedOutcome),
    /// Given up, with the reason.
    Failed(String),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> SpoolEntry {
        SpoolEntry::for_test(id)
    }

    fn test_saved() -> Saved {
        Saved::new("x", 3, wa_media_types::Sha256Digest::of(b"abc"), false)
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
        s.complete(&e, &test_saved()).unwrap();
        assert_eq!(s.enqueue(&[entry("1")]).unwrap(), vec![Enqueued::Duplicate]);
        assert_eq!(s.counts().unwrap(), (1, 0));
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
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

    use crate::fsops::inject::{self, Fault, Op};

    fn claimed(sha: char) -> Option<wa_media_types::Sha256Digest> {
        let hex: String = std::iter::repeat_n(sha, 64).collect();
        Some(hex.parse().unwrap())
    }

    fn entry_with(id: &str, sha: char) -> SpoolEntry {
        let mut e = entry(id);
        e.sha256 = claimed(sha);
        e
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_full_disk_when_putting_an_entry_back_moves_it_as_it_was_and_remembers_the_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path()).unwrap();
        s.enqueue(&[entry("1")]).unwrap();
        let mut e = s.claim("1").unwrap().unwrap();
        e.attempts = 3;
        inject::fail(dir.path(), Op::Write, "1.", 0, 1, Fault::NoSpace);
        s.retry_later(&e).unwrap();
        assert_eq!(names(&dir.path().join("cur")), Vec::<String>::new());
        assert_eq!(
            names(&dir.path().join("tmp")),
            Vec::<String>::new(),
            "a partial tmp file"
        );
        assert_eq!(s.pending().unwrap(), vec![("1".to_owned(), 0)]);
        assert_eq!(
            s.claim("1").unwrap().unwrap().attempts,
            3,
            "attempts forgotten"
        );
        inject::clear(dir.path());
    }

    #[test]
    fn an_entry_whose_every_bookkeeping_write_fails_is_taken_back_not_stranded() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path()).unwrap();
        s.enqueue(&[entry("1"), entry("2"), entry("3")]).unwrap();
        let (a, b, c) = (
            s.claim("1").unwrap().unwrap(),
            s.claim("2").unwrap().unwrap(),
            s.claim("3").unwrap().unwrap(),
        );
        // The disk is full (no write) and renames fail too (EIO).
        inject::fail(dir.path(), Op::Write, "", 0, 100, Fault::NoSpace);
        inject::fail(dir.path(), Op::Rename, "", 0, 3, Fault::Io);
        assert!(s.retry_later(&a).is_err());
        assert!(s.fail(&b).is_err());
        assert!(s.complete(&c, &test_saved()).is_err());
        assert_eq!(
            names(&dir.path().join("cur")),
            ["1.json", "2.json", "3.json"]
        );
        // A redelivery takes its own back at once; the sweep takes the others.
        assert_eq!(s.enqueue(&[entry("1")]).unwrap(), vec![Enqueued::Requeued]);
        let mut back = s.reclaim_stranded().unwrap();
        back.sort();
        assert_eq!(back, ["2", "3"]);
        assert_eq!(s.counts().unwrap(), (3, 0));
        assert_eq!(s.pending_ids().unwrap(), ["1", "2", "3"]);
        inject::clear(dir.path());
        // Space again: each completes once. The save of 3 had left a (partial) done/ record:
        // it counts as saved, and its entry is dropped when taken.
        for id in ["1", "2"] {
            let e = s.claim(id).unwrap().unwrap();
            s.complete(&e, &test_saved()).unwrap();
        }
        assert_eq!(s.claim("3").unwrap(), None);
        assert_eq!(s.counts().unwrap(), (0, 0));
        assert_eq!(s.enqueue(&[entry("2")]).unwrap(), vec![Enqueued::Duplicate]);
    }

    #[test]
    fn a_full_disk_when_recording_a_save_or_a_failure_still_settles_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path()).unwrap();
        s.enqueue(&[entry("1"), entry("2")]).unwrap();
        let (a, mut b) = (
            s.claim("1").unwrap().unwrap(),
            s.claim("2").unwrap().unwrap(),
        );
        inject::fail(dir.path(), Op::Write, "", 0, 100, Fault::ShortWrite(5));
        s.complete(&a, &test_saved()).unwrap();
        b.failure = Some("refused".into());
        s.fail(&b).unwrap();
        inject::clear(dir.path());
        assert_eq!(
            s.counts().unwrap(),
            (0, 1),
            "the pending count stays above zero"
        );
        assert_eq!(names(&dir.path().join("tmp")), Vec::<String>::new());
        assert_eq!(s.enqueue(&[entry("1")]).unwrap(), vec![Enqueued::Duplicate]);
        assert_eq!(s.retry_failed().unwrap(), 1);
        assert_eq!(s.claim("2").unwrap().unwrap().media_id.as_str(), "2");
    }

    #[test]
    fn a_full_disk_at_admission_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path()).unwrap();
        inject::fail(dir.path(), Op::Write, "", 1, 1, Fault::ShortWrite(10));
        assert!(s.enqueue(&[entry("1"), entry("2"), entry("3")]).is_err());
        inject::clear(dir.path());
        assert_eq!(s.counts().unwrap(), (0, 0));
        assert_eq!(names(&dir.path().join("tmp")), Vec::<String>::new());
        // Meta delivers again: all three are admitted.
        let got = s.enqueue(&[entry("1"), entry("2"), entry("3")]).unwrap();
        assert_eq!(got, vec![Enqueued::New; 3]);
    }

    #[test]
    fn the_latest_digest_claim_wins_over_a_failed_a_pending_and_a_taken_entry() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path()).unwrap();
        // Failed with claim A; a notification with B queues it again, with B.
        s.enqueue(&[entry_with("1", 'a')]).unwrap();
        let mut e = s.claim("1").unwrap().unwrap();
        e.failure = Some("digest mismatch".into());
        s.fail(&e).unwrap();
        assert_eq!(
            s.enqueue(&[entry_with("1", 'a')]).unwrap(),
            vec![Enqueued::Duplicate]
        );
        assert_eq!(
            s.enqueue(&[entry_with("1", 'b')]).unwrap(),
            vec![Enqueued::Requeued]
        );
        assert_eq!(s.counts().unwrap(), (1, 0));
        assert_eq!(s.claim("1").unwrap().unwrap().sha256, claimed('b'));

        // Pending with A; B replaces it; a claim without a digest does not.
        s.enqueue(&[entry_with("2", 'a')]).unwrap();
        assert_eq!(
            s.enqueue(&[entry_with("2", 'b')]).unwrap(),
            vec![Enqueued::Requeued]
        );
        assert_eq!(s.enqueue(&[entry("2")]).unwrap(), vec![Enqueued::Duplicate]);
        assert_eq!(s.claim("2").unwrap().unwrap().sha256, claimed('b'));

        // Taken with A; B waits behind it; A's failure gives way to B, which is claimable
        // once A is settled (not before).
        s.enqueue(&[entry_with("3", 'a')]).unwrap();
        let mut a = s.claim("3").unwrap().unwrap();
        assert_eq!(
            s.enqueue(&[entry_with("3", 'b')]).unwrap(),
            vec![Enqueued::Requeued]
        );
        assert_eq!(
            s.claim("3").unwrap(),
            None,
            "claimed while a worker holds it"
        );
        a.failure = Some("digest mismatch".into());
        s.fail(&a).unwrap();
        assert_eq!(
            s.counts().unwrap(),
            (3, 0),
            "the older claim reached failed/"
        );
        let b = s.claim("3").unwrap().unwrap();
        assert_eq!(b.sha256, claimed('b'));
        s.complete(&b, &test_saved()).unwrap();
        assert_eq!(
            s.enqueue(&[entry_with("3", 'c')]).unwrap(),
            vec![Enqueued::Duplicate]
        );

        // --retry-failed keeps a newer claim already pending.
        s.enqueue(&[entry_with("4", 'a')]).unwrap();
        let mut a = s.claim("4").unwrap().unwrap();
        a.failure = Some("digest mismatch".into());
        s.fail(&a).unwrap();
        s.enqueue(&[entry_with("4", 'b')]).unwrap();
        s.retry_failed().unwrap();
        assert_eq!(s.claim("4").unwrap().unwrap().sha256, claimed('b'));
    }

    #[test]
    fn an_entry_edited_to_an_invalid_id_or_digest_is_parked_in_failed_not_fetched() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path()).unwrap();
        s.enqueue(&[entry("5"), entry("6")]).unwrap();
        let text = fs::read_to_string(dir.path().join("new/5.json")).unwrap();
        fs::write(
            dir.path().join("new/5.json"),
            text.replace("\"5\"", "\"../5\""),
        )
        .unwrap();
        let text = fs::read_to_string(dir.path().join("new/6.json")).unwrap();
        let bad_digest = text.replace("\"kind\"", "\"sha256\":\"not-a-digest\",\"kind\"");
        fs::write(dir.path().join("new/6.json"), bad_digest).unwrap();
        for id in ["5", "6"] {
            let e = s.claim(id).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{id}: {e}");
        }
        assert_eq!(s.counts().unwrap(), (0, 2));
    }

    #[test]
    fn a_second_open_of_one_spool_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path()).unwrap();
        let e = Spool::open(dir.path()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let inner = e.get_ref().unwrap().downcast_ref::<SpoolInUse>().unwrap();
        assert_eq!(inner.holder, Some(std::process::id()));
        assert!(
            e.to_string()
                .contains(&format!("(pid {})", std::process::id())),
            "{e}"
        );
        drop(s);
        Spool::open(dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn odd_files_in_the_spool_are_skipped_and_never_block() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        Spool::open(&root).unwrap().enqueue(&[entry("1")]).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(root.join("new/5.json"))
            .arg(root.join("cur/6.json"))
            .status()
            .unwrap();
        assert!(status.success());
        fs::create_dir(root.join("failed/7.json")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("new/8.json")).unwrap();
        std::os::unix::fs::symlink(root.join("new/1.json"), root.join("failed/9.json")).unwrap();
        // Everything runs on a thread: a blocking open fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let s = Spool::open(&root).unwrap();
            let pending = s.pending().unwrap();
            let retried = s.retry_failed().unwrap();
            let claims: Vec<bool> = ["5", "6", "8"]
                .iter()
                .map(|id| s.claim(id).unwrap().is_some())
                .collect();
            let redelivered = s.enqueue(&[entry("5"), entry("7")]).unwrap();
            let counts = s.counts().unwrap();
            let one = s.claim("1").unwrap().is_some();
            tx.send((pending, retried, claims, redelivered, counts, one))
                .unwrap();
        });
        let (pending, retried, claims, redelivered, counts, one) = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the spool blocked on an odd file");
        assert_eq!(pending, vec![("1".to_owned(), 0)]);
        assert_eq!(retried, 0);
        assert_eq!(claims, [false, false, false]);
        assert_eq!(redelivered, vec![Enqueued::Duplicate, Enqueued::Duplicate]);
        assert_eq!(counts, (1, 0));
        assert!(one);
        assert!(fs::symlink_metadata(dir.path().join("failed/7.json"))
            .unwrap()
            .is_dir());
    }
}
