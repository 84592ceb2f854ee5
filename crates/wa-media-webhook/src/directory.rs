//! [`DirectorySink`], the default sink: verified files under a directory, one
//! [`SavedRecord`] line each in `index.jsonl`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use wa_media_core::{Error, Existing, FetchOptions, MediaApi, MediaApiExt, Retry};

use crate::entry::SpoolEntry;
use crate::index::IndexLog;
use crate::record::SavedRecord;
use crate::sink::{filing_name, Location, Saved, Sink, SinkError};

/// The default sink: files at `DIR/YYYY-MM-DD/<name>` and one [`SavedRecord`] line per media
/// in `DIR/index.jsonl`.
///
/// `<name>` is the document's cleaned filename, or the message id with the MIME type's
/// extension ([`wa_media_types::filename`]). A name already holding a *different* media gets
/// the next free `-N` suffix, claimed atomically; the same media again is recognised and not
/// stored twice (nor indexed twice, even by another process writing into the same directory:
/// `index.jsonl` is appended under an advisory lock, after reading what others appended).
///
/// Its file writes and fsyncs are blocking: each save runs on tokio's blocking pool (so the
/// workers' syncs overlap and the filesystem commits them together), and is cut off cleanly
/// (its temporary file removed) when the caller drops the save; [`Sink::settle`] waits for
/// those cut-off saves to end.
#[derive(Debug, Clone)]
pub struct DirectorySink {
    inner: Arc<Directory>,
}

#[derive(Debug)]
struct Directory {
    root: PathBuf,
    /// `index.jsonl`, appended with group commit.
    index: IndexLog,
    /// Saves whose blocking task is still running.
    running: AtomicUsize,
    /// Saves in progress per day directory.
    days: std::sync::Mutex<std::collections::HashMap<PathBuf, usize>>,
    idle: Notify,
}

/// Counts one blocking save while it runs.
struct Running(Arc<Directory>);

impl Running {
    fn enter(dir: &Arc<Directory>) -> Self {
        dir.running.fetch_add(1, Ordering::SeqCst);
        Self(dir.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The save was cut off by its caller.
#[derive(Debug, thiserror::Error)]
#[error("the save was cancelled")]
struct Cancelled;

impl DirectorySink {
    /// A sink writing under `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self {
            inner: Arc::new(Directory {
                index: IndexLog::open(root.join("index.jsonl")),
                root,
                running: AtomicUsize::new(0),
                days: Default::default(),
                idle: Notify::new(),
            }),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Where `entry` is filed (before any `-N` suffix).
    pub fn path_for(&self, entry: &SpoolEntry) -> PathBuf {
        self.inner.path_for(entry)
    }
}

impl Directory {
    fn path_for(&self, entry: &SpoolEntry) -> PathBuf {
        let (day, name) = filing_name(entry);
        self.root.join(day).join(name)
    }

    async fn save(&self, api: &dyn MediaApi, entry: &SpoolEntry) -> Result<Saved, SinkError> {
        let path = self.path_for(entry);
        let day = path.parent().unwrap_or(&self.root).to_owned();
        self.enter_day(&day)?;
        let result = self.save_in_day(api, entry, &path).await;
        self.leave_day(&day, result.is_err());
        result
    }

    /// Creates the day directory and counts a save in it (under the lock, so that a failed
    /// save's clean-up never removes a directory another save is about to write into).
    fn enter_day(&self, day: &Path) -> Result<(), SinkError> {
        let mut days = self.days.lock().unwrap_or_else(|p| p.into_inner());
        std::fs::create_dir_all(day).map_err(|e| Error::Io {
            path: Some(day.to_owned()),
            source: e,
        })?;
        *days.entry(day.to_owned()).or_default() += 1;
        Ok(())
    }

    /// Ends a save in `day`; after a failure, the last save of the day removes the directory
    /// when it is empty (no empty day directory left behind by failures).
    fn leave_day(&self, day: &Path, failed: bool) {
        let mut days = self.days.lock().unwrap_or_else(|p| p.into_inner());
        let left = days.get_mut(day).map(|n| {
            *n -= 1;
            *n
        });
        if left == Some(0) {
            days.remove(day);
            if failed {
                // Fails harmlessly when not empty.
                let _ = std::fs::remove_dir(day);
            }
        }
    }

    async fn save_in_day(
        &self,
        api: &dyn MediaApi,
        entry: &SpoolEntry,
        path: &Path,
    ) -> Result<Saved, SinkError> {
        let mut options = FetchOptions::default().existing(Existing::KeepBoth);
        if let Some(sha) = entry.expected_sha256() {
            options = options.expect_sha256(sha);
        }
        // The webhook's own download URL first (verified by its sha256); by id when it fails.
        if let Some(url) = &entry.url {
            options = options.try_url(wa_media_types::MediaUrl::new(url.clone()));
        }
        let file = api
            .fetch_to_file_with(&entry.media_id, path, options)
            .await?;
        let saved = Saved::new(
            file.path.to_string_lossy(),
            file.file_size,
            file.sha256,
            file.already_present,
        );
        let line = serde_json::to_string(&SavedRecord::new(entry, &saved))
            .map_err(|e| SinkError::new(Retry::Never, e))?;
        // Durable before this returns: the spool forgets the entry only after it.
        self.index
            .append(entry.media_id.as_str(), line)
            .map_err(|e| Error::Io {
                path: Some(self.root.join("index.jsonl")),
                source: e,
            })?;
        Ok(saved)
    }
}

#[async_trait::async_trait]
impl Sink for DirectorySink {
    fn locate(&self, location: &str) -> Location {
        let path = std::path::Path::new(location);
        let relative = path.strip_prefix(&self.inner.root).unwrap_or(path);
        Location::Path(relative.to_string_lossy().into_owned())
    }

    async fn save(&self, api: Arc<dyn MediaApi>, entry: &SpoolEntry) -> Result<Saved, SinkError> {
        let (dir, entry) = (self.inner.clone(), entry.clone());
        let running = Running::enter(&dir);
        let handle = tokio::runtime::Handle::current();
        // Dropped with this future: the blocking task then stops at its next await point.
        let (_cancel, cancelled) = oneshot::channel::<()>();
        let task = tokio::task::spawn_blocking(move || {
            let _running = running;
            handle.block_on(async {
                tokio::select! {
                    r = dir.save(api.as_ref(), &entry) => Some(r),
                    _ = cancelled => None,
                }
            })
        });
        match task.await {
            Ok(Some(r)) => r,
            Ok(None) => Err(SinkError::later(Cancelled)),
            Err(e) => Err(SinkError::later(e)),
        }
    }

    /// Appends the record to `index.jsonl` (once per key), durably.
    async fn record(&self, record: &SavedRecord) -> Result<(), SinkError> {
        let line = serde_json::to_string(record).map_err(|e| SinkError::new(Retry::Never, e))?;
        let (dir, key) = (self.inner.clone(), record.key());
        let path = dir.root.join("index.jsonl");
        tokio::task::spawn_blocking(move || dir.index.append(&key, line))
            .await
            .map_err(SinkError::later)?
            .map_err(|e| {
                SinkError::of(Error::Io {
                    path: Some(path),
                    source: e,
                })
            })
    }

    /// Waits for the saves cut off by their callers to end (their temporary files removed).
    async fn settle(&self, within: Duration) -> bool {
        let idle = async {
            loop {
                let notified = self.inner.idle.notified();
                if self.inner.running.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(within, idle).await.is_ok()
    }
}
