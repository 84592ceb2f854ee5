//! Media storage: one file per media under `<data dir>/media/`, uploads spooled under
//! `<data dir>/spool/`, and `<data dir>/index.json` describing them (rewritten atomically on
//! every change, so a data directory survives restarts).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use wa_media_types::{MediaId, PhoneNumberId, Sha256Digest};

use crate::error::EmulatorError;

/// Where a stored media came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MediaSource {
    /// Uploaded through `POST /{version}/{phone_number_id}/media`.
    Upload,
    /// Created by inbound simulation ("sent by a customer").
    Inbound,
}

/// A media the emulator holds, as inspection (`EmulatorHandle::media`) and the index file show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredMedia {
    /// The media id.
    pub id: MediaId,
    /// The MIME type as declared at upload, parameters included.
    pub mime_type: String,
    /// The SHA-256 of the stored bytes.
    pub sha256: Sha256Digest,
    /// The size in bytes.
    pub file_size: u64,
    /// The phone number id it belongs to.
    pub phone_number_id: PhoneNumberId,
    /// The file name sent with the upload (or the simulated document's name).
    pub filename: Option<String>,
    /// Creation time, Unix seconds (emulator clock).
    pub created_at: u64,
    /// Expiry time, Unix seconds (emulator clock): retrieve and download fail from then on.
    pub expires_at: u64,
    /// Upload or inbound simulation.
    pub source: MediaSource,
    /// The `ttl_minutes` field the upload was sent with (the media TTL on a "No Storage"
    /// number, 60 to 43,200), when it had one; `None` for an upload without it and for
    /// inbound media. It sets `expires_at` on a "No Storage" emulator
    /// ([`crate::EmulatorConfig::no_storage`]); otherwise it is recorded only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_minutes: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct IndexFile {
    version: u32,
    media: Vec<StoredMedia>,
}

/// The store. The map is the truth while running; the index file mirrors it.
#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
    media: Mutex<HashMap<MediaId, StoredMedia>>,
    _temp: Option<tempfile::TempDir>,
}

fn storage(path: &Path) -> impl FnOnce(io::Error) -> EmulatorError + '_ {
    move |source| EmulatorError::Storage {
        path: path.to_owned(),
        source,
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`, or in a new temporary directory.
    pub(crate) fn open(dir: Option<&Path>) -> Result<Store, EmulatorError> {
        let (root, temp) = match dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(storage(d))?;
                (d.to_owned(), None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("wa-media-emulator-")
                    .tempdir()
                    .map_err(storage(&std::env::temp_dir()))?;
                (t.path().to_owned(), Some(t))
            }
        };
        for sub in ["media", "spool"] {
            let p = root.join(sub);
            std::fs::create_dir_all(&p).map_err(storage(&p))?;
        }
        // Leftover spool files are uploads interrupted by a crash: never media.
        let spool = root.join("spool");
        if let Ok(entries) = std::fs::read_dir(&spool) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let mut media = HashMap::new();
        let mut dropped = 0usize;
        let index = root.join("index.json");
        match std::fs::read(&index) {
            Ok(bytes) => {
                let file: IndexFile =
                    serde_json::from_slice(&bytes).map_err(|e| EmulatorError::Index {
                        path: index.clone(),
                        reason: e.to_string(),
                    })?;
                for m in file.media {
                    // Keep only entries whose file is there with the recorded size.
                    let p = root.join("media").join(m.id.as_str());
                    if std::fs::metadata(&p).is_ok_and(|md| md.len() == m.file_size) {
                        media.insert(m.id.clone(), m);
                    } else {
                        dropped += 1;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(storage(&index)(e)),
        }
        // Files no index entry names are media orphaned by a crash (killed between the rename
        // into media/ and the index write, or during a delete): nothing can reach them.
        let media_dir = root.join("media");
        let mut orphans = 0usize;
        if let Ok(entries) = std::fs::read_dir(&media_dir) {
            for e in entries.flatten() {
                let known = e
                    .file_name()
                    .to_str()
                    .and_then(|n| MediaId::new(n).ok())
                    .is_some_and(|id| media.contains_key(&id));
                if !known
                    && e.file_type().is_ok_and(|t| t.is_file())
                    && std::fs::remove_file(e.path()).is_ok()
                {
                    orphans += 1;
                }
            }
        }
        let _ = std::fs::remove_file(root.join("index.json.tmp"));
        if orphans > 0 || dropped > 0 {
            tracing::info!(
                orphans,
                dropped,
                dir = %root.display(),
                "removed media files no index entry names and entries without their file"
            );
        }
        let store = Store {
            root,
            media: Mutex::new(media),
            _temp: temp,
        };
        if dropped > 0 {
            // The index still names the entries dropped above: rewrite it to match.
            let map = store.lock();
            store.write_index(&map).map_err(storage(&store.root))?;
        }
        Ok(store)
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn media_path(&self, id: &MediaId) -> PathBuf {
        self.root.join("media").join(id.as_str())
    }

    /// A fresh path for a spool file.
    pub(crate) fn spool_path(&self) -> PathBuf {
        self.root
            .join("spool")
            .join(format!("{:016x}.part", fastrand::u64(..)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<MediaId, StoredMedia>> {
        self.media.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new id: 16 digits, first non-zero, unused.
    pub(crate) fn new_id(&self) -> MediaId {
        let map = self.lock();
        loop {
            let n = fastrand::u64(1_000_000_000_000_000..10_000_000_000_000_000);
            if let Ok(id) = MediaId::new(n.to_string()) {
                if !map.contains_key(&id) {
                    return id;
                }
            }
        }
    }

    /// Moves a complete spool file into place and records it.
    pub(crate) fn commit(&self, spool: &Path, record: StoredMedia) -> io::Result<()> {
        let dest = self.media_path(&record.id);
        std::fs::rename(spool, &dest)?;
        let mut map = self.lock();
        map.insert(record.id.clone(), record);
        self.write_index(&map)
    }

    /// The media with `id` if it exists and has not expired at `now` (an expired one is removed).
    pub(crate) fn get(&self, id: &MediaId, now: u64) -> Option<StoredMedia> {
        let mut map = self.lock();
        let m = map.get(id)?.clone();
        if now >= m.expires_at {
            map.remove(id);
            let _ = std::fs::remove_file(self.media_path(id));
            let _ = self.write_index(&map);
            return None;
        }
        Some(m)
    }

    /// Deletes the media; false when it did not exist.
    pub(crate) fn delete(&self, id: &MediaId) -> bool {
        let mut map = self.lock();
        if map.remove(id).is_none() {
            return false;
        }
        let _ = std::fs::remove_file(self.media_path(id));
        let _ = self.write_index(&map);
        true
    }

    /// Every stored media (expired ones included until touched), sorted by creation.
    pub(crate) fn list(&self) -> Vec<StoredMedia> {
        let mut v: Vec<_> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        v
    }

    fn write_index(&self, map: &HashMap<MediaId, StoredMedia>) -> io::Result<()> {
        let mut media: Vec<_> = map.values().cloned().collect();
        media.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let bytes = serde_json::to_vec_pretty(&IndexFile { version: 1, media })
            .map_err(io::Error::other)?;
        let tmp = self.root.join("index.json.tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, self.root.join("index.json"))
    }
}
