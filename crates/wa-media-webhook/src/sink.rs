//! Where verified media end up: the [`Sink`] trait, and [`DirectorySink`], the default.

use std::path::{Path, PathBuf};

use wa_media_core::{Error, Existing, FetchOptions, MediaApi, MediaApiExt};
use wa_media_types::filename::inbound_file_name;
use wa_media_types::Sha256Digest;

use crate::entry::SpoolEntry;
use crate::index::IndexLog;
use crate::time::{civil_date, now_secs};

/// A media saved by a [`Sink`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Saved {
    /// Where it is (a path, an object key, …).
    pub location: String,
    /// Its size in bytes.
    pub file_size: u64,
    /// Its verified SHA-256.
    pub sha256: Sha256Digest,
    /// The same media was already there: nothing new was written.
    pub already_present: bool,
}

impl Saved {
    /// A saved media, for [`Sink`] implementations outside this crate.
    pub fn new(
        location: impl Into<String>,
        file_size: u64,
        sha256: Sha256Digest,
        already_present: bool,
    ) -> Self {
        Self {
            location: location.into(),
            file_size,
            sha256,
            already_present,
        }
    }
}

/// Where a sink files `entry`: the UTC day (`YYYY-MM-DD`, of the message's timestamp, else of
/// its arrival) and the name (the document's cleaned filename, or the message id with the MIME
/// type's extension), as [`DirectorySink`] lays them out.
pub fn filing_name(entry: &SpoolEntry) -> (String, String) {
    let day = civil_date(entry.timestamp.unwrap_or(entry.received_at));
    let name = inbound_file_name(
        &entry.message_id,
        &entry.mime_type,
        entry.filename.as_deref(),
    );
    (day, name)
}

/// Fetches one spooled media and stores it, verified. Implement it for shared storage; the
/// [`crate::Ingest`] workers call it, retry what is retryable and record what failed.
///
/// A sink must be idempotent: the same entry may be saved again after a crash (between the
/// save and the spool's record of it), and must then not be stored twice.
#[async_trait::async_trait]
pub trait Sink: Send + Sync + std::fmt::Debug + 'static {
    /// Fetches `entry` through `api` (with its expected digest) and stores it.
    async fn save(&self, api: &dyn MediaApi, entry: &SpoolEntry) -> Result<Saved, Error>;

    /// Waits, at most `within`, for the clean-up that saves cut off at shutdown started in the
    /// background when their futures were dropped (an object store sink's multipart aborts,
    /// spawned by a drop guard); whether it all finished. [`crate::Ingest::shutdown`] calls it
    /// after cutting off the saves still running, so the process does not stop (and drop those
    /// tasks with its runtime) first. The default has nothing to wait for.
    async fn settle(&self, within: std::time::Duration) -> bool {
        let _ = within;
        true
    }
}

/// The default sink: files at `DIR/YYYY-MM-DD/<name>` and one JSON line per media in
/// `DIR/index.jsonl`.
///
/// `<name>` is the document's cleaned filename, or the message id with the MIME type's
/// extension ([`wa_media_types::filename`]). A name already holding a *different* media gets
/// the next free `-N` suffix, claimed atomically; the same media again is recognised and not
/// stored twice (nor indexed twice).
#[derive(Debug)]
pub struct DirectorySink {
    root: PathBuf,
    /// `index.jsonl`, appended with group commit.
    index: IndexLog,
}

impl DirectorySink {
    /// A sink writing under `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self {
            index: IndexLog::open(root.join("index.jsonl")),
            root,
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `entry` is filed (before any `-N` suffix).
    pub fn path_for(&self, entry: &SpoolEntry) -> PathBuf {
        let (day, name) = filing_name(entry);
        self.root.join(day).join(name)
    }

    fn append_index(&self, entry: &SpoolEntry, saved: &Saved) -> std::io::Result<()> {
        let line = serde_json::json!({
            "media_id": entry.media_id,
            "message_id": entry.message_id,
            "from": entry.from,
            "kind": entry.kind,
            "mime_type": entry.mime_type,
            "file_size": saved.file_size,
            "sha256": saved.sha256.to_hex(),
            "caption": entry.caption,
            "filename": entry.filename,
            "path": saved.location,
            "received_at": entry.received_at,
            "saved_at": now_secs(),
        });
        // Durable before this returns: the spool forgets the entry only after it.
        self.index.append(&entry.media_id, line.to_string())
    }
}

#[async_trait::async_trait]
impl Sink for DirectorySink {
    async fn save(&self, api: &dyn MediaApi, entry: &SpoolEntry) -> Result<Saved, Error> {
        let id = entry.id().map_err(|e| Error::Io {
            path: None,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let path = self.path_for(entry);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                path: Some(dir.to_owned()),
                source: e,
            })?;
        }
        let mut options = FetchOptions::default().existing(Existing::KeepBoth);
        if let Some(sha) = entry.expected_sha256() {
            options = options.expect_sha256(sha);
        }
        let file = match api.fetch_to_file_with(&id, &path, options).await {
            Ok(f) => f,
            Err(e) => {
                // Leave no empty day directory behind (fails harmlessly when not empty).
                if let Some(dir) = path.parent() {
                    let _ = std::fs::remove_dir(dir);
                }
                return Err(e);
            }
        };
        let saved = Saved {
            location: file.path.to_string_lossy().into_owned(),
            file_size: file.file_size,
            sha256: file.sha256,
            already_present: file.already_present,
        };
        self.append_index(entry, &saved).map_err(|e| Error::Io {
            path: Some(self.root.join("index.jsonl")),
            source: e,
        })?;
        Ok(saved)
    }
}
