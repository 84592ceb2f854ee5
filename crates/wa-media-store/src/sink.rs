//! [`ObjectStoreSink`]: the webhook service's [`Sink`] writing into an object store.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use wa_media_core::{FetchOptions, MediaApi};
use wa_media_types::filename::numbered;
use wa_media_webhook::{filing_name, now_secs, Saved, SavedRecord, Sink, SinkError, SpoolEntry};

use crate::aborts::PendingAborts;
use crate::error::StoreError;
use crate::fetch::{fetch_to_store, StoreOptions};

/// How many `-N` names are tried for one media before giving up.
const MAX_SUFFIX: u32 = 1000;

/// A [`Sink`] writing each media to `PREFIX/YYYY-MM-DD/<name>` in an object store through
/// [`fetch_to_store`] (verified against the API's and the webhook's digest, the object
/// appearing only complete), and one small JSON metadata object per media at
/// `PREFIX/YYYY-MM-DD/.meta/<name>.json` instead of `index.jsonl` (appending is not atomic on
/// object stores). `<name>` never starts with a dot, so no media name meets `.meta/`.
///
/// # Several instances, one bucket
///
/// The metadata object is also the **claim** on a name: it is created first with a
/// conditional put (`PutMode::Create`: it fails if the key exists), holding the media id. A
/// name claimed for another media id moves on to `stem-1.ext`, `stem-2.ext`, …; a name
/// claimed for the same media id (Meta's redelivery to another instance, or a retry after a
/// crash) is the same media: it is fetched again into the same key (same bytes) unless the
/// metadata already says it was saved, in which case nothing is written
/// ([`Saved::already_present`]). So every instance behind a load balancer can write into one
/// bucket with its own spool: keys are idempotent and one customer's `invoice.pdf` never
/// replaces another's. The store must support conditional creates (S3, GCS, Azure, a local
/// directory and InMemory do).
///
/// A media that fails keeps its claim (`"state": "pending"`): a retry reuses it, and its name
/// stays reserved for it. Objects whose metadata says `saved` are complete and verified.
///
/// # Shutdown
///
/// A save cut off by `Ingest::shutdown` (its future dropped after the grace period) spawns the
/// abort of its multipart upload; the sink counts those ([`ObjectStoreSink::pending_aborts`])
/// and its `Sink::settle` waits for them, which `Ingest::shutdown` does (bounded by
/// `IngestConfig::settle_timeout`) before it returns. So a service that stops after
/// `shutdown` leaves no multipart upload pending.
#[derive(Debug)]
pub struct ObjectStoreSink {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    part_size: usize,
    aborts: PendingAborts,
}

impl ObjectStoreSink {
    /// A sink writing under `prefix` of `store`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path) -> Self {
        Self {
            store,
            prefix,
            part_size: crate::DEFAULT_PART_SIZE,
            aborts: PendingAborts::new(),
        }
    }

    /// The aborts that cut-off saves spawned and that have not finished yet.
    pub fn pending_aborts(&self) -> &PendingAborts {
        &self.aborts
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The key of `entry`'s media with suffix `n` (0: none) and of its metadata object.
    pub fn keys_for(&self, entry: &SpoolEntry, n: u32) -> (Path, Path) {
        let (day, name) = filing_name(entry);
        let name = numbered(&name, n);
        let dir = self.prefix.clone().join(day.as_str());
        let meta = dir
            .clone()
            .join(".meta")
            .join(format!("{name}.json").as_str());
        (dir.join(name.as_str()), meta)
    }

    /// Claims a name for `entry`: the first whose metadata object this call creates or that
    /// already belongs to the same media id. Returns the keys and the existing metadata.
    async fn claim(
        &self,
        entry: &SpoolEntry,
    ) -> Result<(Path, Path, Option<serde_json::Value>), StoreError> {
        for n in 0..MAX_SUFFIX {
            let (key, meta) = self.keys_for(entry, n);
            let claim = serde_json::json!({
                "media_id": entry.media_id,
                "message_id": entry.message_id,
                "state": "pending",
                "claimed_at": now_secs(),
            });
            let opts = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            match self
                .store
                .put_opts(&meta, PutPayload::from(claim.to_string()), opts)
                .await
            {
                Ok(_) => return Ok((key, meta, None)),
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => {
                    let existing = self
                        .store
                        .get(&meta)
                        .await
                        .map_err(|e| StoreError::store("read metadata", &meta, e))?
                        .bytes()
                        .await
                        .map_err(|e| StoreError::store("read metadata", &meta, e))?;
                    let existing: Option<serde_json::Value> =
                        serde_json::from_slice(&existing).ok();
                    let owner = existing
                        .as_ref()
                        .and_then(|v| v.get("media_id"))
                        .and_then(|v| v.as_str());
                    if owner == Some(entry.media_id.as_str()) {
                        return Ok((key, meta, existing));
                    }
                }
                Err(e) => return Err(StoreError::store("claim name", &meta, e)),
            }
        }
        Err(StoreError::Config(format!(
            "no free name for media {} after {MAX_SUFFIX} tries",
            entry.media_id
        )))
    }

    async fn save_inner(
        &self,
        api: &dyn MediaApi,
        entry: &SpoolEntry,
    ) -> Result<Saved, StoreError> {
        let id = &entry.media_id;
        let (key, meta, existing) = self.claim(entry).await?;
        if let Some(done) = existing.as_ref().filter(|v| v["state"] == "saved") {
            // Saved before (a redelivery, or a crash between the save and the spool's record):
            // the object is there if its size matches the record.
            let size = done["file_size"].as_u64();
            let sha = done["sha256"].as_str().and_then(|s| s.parse().ok());
            if let (Some(size), Some(sha)) = (size, sha) {
                if let Ok(head) = self.store.head(&key).await {
                    if head.size == size {
                        return Ok(Saved::new(key.to_string(), size, sha, true));
                    }
                }
            }
        }
        let mut fetch = FetchOptions::default();
        if let Some(sha) = entry.expected_sha256() {
            fetch = fetch.expect_sha256(sha);
        }
        let options = StoreOptions::default()
            .fetch(fetch)
            .message_id(entry.message_id.clone())
            .part_size(self.part_size)
            .track_aborts(&self.aborts);
        let stored = fetch_to_store(api, id, self.store.as_ref(), &key, options).await?;
        let saved = Saved::new(key.to_string(), stored.file_size, stored.sha256, false);
        // The saved-media record (the schema every sink writes), with the claim's state and
        // the object's ETag.
        let mut record = SavedRecord::new(entry, &saved).to_json();
        record["state"] = "saved".into();
        record["e_tag"] = stored.e_tag.clone().into();
        self.store
            .put(&meta, PutPayload::from(record.to_string()))
            .await
            .map_err(|e| StoreError::store("write metadata", &meta, e))?;
        Ok(saved)
    }
}

#[async_trait::async_trait]
impl Sink for ObjectStoreSink {
    async fn save(&self, api: Arc<dyn MediaApi>, entry: &SpoolEntry) -> Result<Saved, SinkError> {
        self.save_inner(api.as_ref(), entry)
            .await
            .map_err(SinkError::of)
    }

    /// Waits for the aborts of the multipart uploads of saves that were cut off.
    async fn settle(&self, within: std::time::Duration) -> bool {
        self.aborts.wait(within).await
    }
}
