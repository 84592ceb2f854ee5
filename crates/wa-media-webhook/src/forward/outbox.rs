//! The durable queue of forwards, in files, beside the media spool (and under its lock: one
//! process per spool).
//!
//! ```text
//! SPOOL/forward/tmp/     entries being written (never read)
//! SPOOL/forward/new/     <id>.json: to deliver (now, or at its retry time, or once its media settled)
//! SPOOL/forward/failed/  <id>.json: given up after the maximum age, with the last answer
//! SPOOL/forward/sent/    <id>: delivered; what makes Meta's redelivery of it a no-op
//! ```
//!
//! An entry is written into `tmp/`, fsynced, then linked into `new/` under its id (the link
//! fails when the name exists), and `new/` is fsynced: when [`Outbox::admit`] returns, the
//! forward survives a crash. A delivered entry first gets its `sent/` marker, then leaves
//! `new/`; an entry found in both at start was delivered and is dropped, not sent again.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::fsops::{self, is_regular, remove_if_there, Lister};

const DIRS: [&str; 4] = ["tmp", "new", "failed", "sent"];

/// One notification to forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ForwardEntry {
    /// The `webhook-id`: the same for every attempt and for Meta's redelivery.
    pub id: String,
    /// When the notification arrived, seconds since the epoch.
    pub received_at: u64,
    /// When it was (last) queued, ms since the epoch: the maximum age counts from here.
    pub queued_at_ms: u64,
    /// Attempts made.
    #[serde(default)]
    pub attempts: u32,
    /// Not before this time, ms since the epoch.
    #[serde(default)]
    pub not_before_ms: u64,
    /// The media ids whose outcome the forward waits for.
    #[serde(default)]
    pub media: Vec<String>,
    /// The last answer (status and the start of the body, or the error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_answer: Option<String>,
    /// Why it was given up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The notification's body as Meta sent it.
    pub body: String,
}

/// The forwards' files. Safe to share between threads.
#[derive(Debug)]
pub(crate) struct Outbox {
    root: PathBuf,
    /// Serialises admission (check, then link) and the moves out of `new/`.
    admit: Mutex<()>,
    lister: Lister,
}

fn lock(m: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_entry(path: &Path) -> io::Result<ForwardEntry> {
    fsops::read_json(path)
}

impl Outbox {
    /// Opens (creating) the outbox at `root`; drops what a crash left half-written, and the
    /// entries that were delivered just before a crash.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        for d in DIRS {
            fs::create_dir_all(root.join(d))?;
        }
        let outbox = Self {
            root,
            admit: Mutex::new(()),
            lister: Lister::default(),
        };
        for name in outbox.list("tmp")? {
            let _ = fs::remove_file(outbox.root.join("tmp").join(name));
        }
        for id in outbox.ids("new")? {
            if is_regular(&outbox.path("sent", &id)) {
                remove_if_there(&outbox.path("new", &id))?;
            }
        }
        Ok(outbox)
    }

    fn path(&self, dir: &str, id: &str) -> PathBuf {
        match dir {
            "sent" => self.root.join(dir).join(id),
            _ => self.root.join(dir).join(format!("{id}.json")),
        }
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        self.lister.regular_files(&self.root.join(dir))
    }

    fn ids(&self, dir: &str) -> io::Result<Vec<String>> {
        self.lister.entry_ids(&self.root.join(dir))
    }

    fn write_tmp(&self, entry: &ForwardEntry) -> io::Result<PathBuf> {
        let tmp =
            self.root
                .join("tmp")
                .join(format!("{}.{:08x}.json", entry.id, fastrand::u32(..)));
        let bytes = serde_json::to_vec(entry).map_err(io::Error::other)?;
        let f = fsops::create_new_with(&tmp, &bytes)?;
        if let Err(e) = f.sync_all() {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(tmp)
    }

    /// Whether `id` is known: pending, failed or delivered.
    fn known(&self, id: &str) -> bool {
        ["new", "failed", "sent"]
            .iter()
            .any(|d| fs::symlink_metadata(self.path(d, id)).is_ok())
    }

    /// Queues `entry` durably; `false` when its id is known already (Meta's redelivery).
    pub fn admit(&self, entry: &ForwardEntry) -> io::Result<bool> {
        if self.known(&entry.id) {
            return Ok(false);
        }
        let tmp = self.write_tmp(entry)?;
        let linked = {
            let _guard = lock(&self.admit);
            if self.known(&entry.id) {
                Ok(false)
            } else {
                fsops::hard_link(&tmp, &self.path("new", &entry.id)).map(|()| true)
            }
        };
        let _ = fs::remove_file(&tmp);
        let new = match linked {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            other => other?,
        };
        if new {
            fsops::sync_dir(&self.root.join("new"))?;
        }
        Ok(new)
    }

    /// Every pending entry (a damaged one is skipped with a warning).
    pub fn pending(&self) -> io::Result<Vec<ForwardEntry>> {
        let mut out = Vec::new();
        for id in self.ids("new")? {
            let p = self.path("new", &id);
            match read_entry(&p) {
                Ok(e) => out.push(e),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "a forward entry cannot be read; skipped")
                }
            }
        }
        Ok(out)
    }

    /// The pending entry `id`, body included; `None` when it is not pending any more.
    pub fn read(&self, id: &str) -> io::Result<Option<ForwardEntry>> {
        match read_entry(&self.path("new", id)) {
            Ok(e) => Ok(Some(e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records a pending entry's attempts and retry time (a crash before this is harmless: the
    /// entry is tried again sooner).
    pub fn update(&self, entry: &ForwardEntry) -> io::Result<()> {
        let tmp = self.write_tmp(entry)?;
        let _guard = lock(&self.admit);
        let target = self.path("new", &entry.id);
        if !is_regular(&target) {
            let _ = fs::remove_file(&tmp);
            return Ok(());
        }
        fsops::rename(&tmp, &target).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }

    /// Records `id` as delivered: the `sent/` marker first, then the entry leaves `new/`.
    pub fn delivered(&self, id: &str) -> io::Result<()> {
        let _guard = lock(&self.admit);
        fsops::write_file(&self.path("sent", id), b"")?;
        remove_if_there(&self.path("new", id))
    }

    /// Moves a pending entry to `failed/`, with its failure.
    pub fn fail(&self, entry: &ForwardEntry) -> io::Result<()> {
        let tmp = self.write_tmp(entry)?;
        let _guard = lock(&self.admit);
        fsops::rename(&tmp, &self.path("failed", &entry.id)).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })?;
        remove_if_there(&self.path("new", &entry.id))
    }

    /// Moves every failed entry back to `new/`, attempts reset and its maximum age counted from
    /// now; returns how many.
    pub fn retry_failed(&self, now_ms: u64) -> io::Result<usize> {
        let mut n = 0;
        for id in self.ids("failed")? {
            let path = self.path("failed", &id);
            let mut entry = match read_entry(&path) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "a failed forward cannot be read; skipped");
                    continue;
                }
            };
            entry.attempts = 0;
            entry.not_before_ms = 0;
            entry.queued_at_ms = now_ms;
            entry.failure = None;
            let tmp = self.write_tmp(&entry)?;
            let _guard = lock(&self.admit);
            fsops::rename(&tmp, &self.path("new", &id))?;
            fs::remove_file(&path)?;
            n += 1;
        }
        if n > 0 {
            fsops::sync_dir(&self.root.join("new"))?;
        }
        Ok(n)
    }

    /// How many forwards are pending, and how many failed.
    pub fn counts(&self) -> io::Result<(usize, usize)> {
        Ok((self.list("new")?.len(), self.list("failed")?.len()))
    }

    /// Removes `sent/` markers older than `age` (Meta redelivers for 7 days).
    pub fn prune_sent(&self, age: Duration) -> io::Result<usize> {
        self.lister.remove_older_than(&self.root.join("sent"), age)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> ForwardEntry {
        ForwardEntry {
            id: id.into(),
            received_at: 1,
            queued_at_ms: 1,
            attempts: 0,
            not_before_ms: 0,
            media: vec![],
            last_answer: None,
            failure: None,
            body: "{}".into(),
        }
    }

    #[test]
    fn an_id_is_queued_once_and_never_again_after_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path()).unwrap();
        assert!(o.admit(&entry("a")).unwrap());
        assert!(!o.admit(&entry("a")).unwrap());
        assert_eq!(o.counts().unwrap(), (1, 0));
        o.delivered("a").unwrap();
        assert!(!o.admit(&entry("a")).unwrap());
        assert_eq!(o.counts().unwrap(), (0, 0));
        assert!(o.list("tmp").unwrap().is_empty());
    }

    #[test]
    fn failed_entries_come_back_and_a_crash_after_delivery_sends_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path()).unwrap();
        let mut e = entry("b");
        o.admit(&e).unwrap();
        e.failure = Some("too old".into());
        o.fail(&e).unwrap();
        assert!(!o.admit(&entry("b")).unwrap());
        assert_eq!(o.counts().unwrap(), (0, 1));
        assert_eq!(o.retry_failed(5).unwrap(), 1);
        let back = o.pending().unwrap();
        assert_eq!((back[0].queued_at_ms, back[0].failure.clone()), (5, None));
        // Delivered, then a crash before the entry left new/.
        fsops::write_file(&o.path("sent", "b"), b"").unwrap();
        drop(o);
        let o = Outbox::open(dir.path()).unwrap();
        assert!(o.pending().unwrap().is_empty());
    }
}
