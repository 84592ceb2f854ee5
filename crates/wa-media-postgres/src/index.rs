//! The media index as a table (`wa_media_index`): [`PgIndex`] writes a [`SavedRecord`] once
//! per key and answers `media ls` and `media show`; [`IndexedSink`] wraps a sink so each media
//! it saves (and each message Meta could not take) gets its row.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use wa_media_core::MediaApi;
use wa_media_webhook::{Location, Saved, SavedRecord, Sink, SinkError, SpoolEntry};

use crate::error::db_error;

/// The media index table.
#[derive(Debug, Clone)]
pub struct PgIndex {
    pool: Pool,
}

/// Which records `media ls` lists.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct IndexQuery {
    /// The customer: a phone number, a BSUID, a parent BSUID or a username.
    pub from: Option<String>,
    /// Received at or after this time (seconds since the epoch).
    pub since: Option<u64>,
    /// `saved` or `failed`.
    pub status: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<i64>,
}

impl IndexQuery {
    /// Sets the customer.
    pub fn from(mut self, who: impl Into<String>) -> Self {
        self.from = Some(who.into());
        self
    }

    /// Sets the earliest arrival.
    pub fn since(mut self, secs: u64) -> Self {
        self.since = Some(secs);
        self
    }

    /// Sets the status.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.status = Some(status.into());
        self
    }

    /// Whether `r` is one of the records asked for (the same rule as the SQL: what `media ls`
    /// applies to `index.jsonl`).
    pub fn matches(&self, r: &SavedRecord) -> bool {
        let who = |w: &str| {
            r.from.as_deref() == Some(w)
                || r.user_id.as_deref() == Some(w)
                || r.parent_user_id.as_deref() == Some(w)
                || r.username.as_deref() == Some(w)
        };
        self.from.as_deref().is_none_or(who)
            && self.since.is_none_or(|s| r.received_at >= s)
            && self.status.as_deref().is_none_or(|s| status_name(r) == s)
    }
}

fn status_name(r: &SavedRecord) -> &'static str {
    match r.status {
        wa_media_webhook::RecordStatus::Failed => "failed",
        _ => "saved",
    }
}

fn opt_i64(v: u64) -> Option<i64> {
    (v != 0).then_some(v as i64)
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

impl PgIndex {
    /// The index on `pool` (migrated: [`crate::migrate`]).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Writes `record` unless a record of its key is there; whether it was written.
    pub async fn insert(&self, r: &SavedRecord) -> io::Result<bool> {
        let conn = self.pool.get().await.map_err(db_error)?;
        let error = r
            .error
            .as_ref()
            .map(|e| serde_json::to_value(e).unwrap_or_default());
        let n = conn
            .execute(
                "INSERT INTO wa_media_index (key, v, status, media_id, message_id, source, \"from\",
                   user_id, parent_user_id, username, kind, mime_type, file_size, sha256, caption,
                   filename, path, received_at, saved_at, error, unsupported_type, record)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                   $17, $18, $19, $20, $21, $22)
                 ON CONFLICT DO NOTHING",
                &[
                    &r.key(),
                    &(r.v as i32),
                    &status_name(r),
                    &nonempty(&r.media_id),
                    &nonempty(&r.message_id),
                    &r.source,
                    &r.from,
                    &r.user_id,
                    &r.parent_user_id,
                    &r.username,
                    &nonempty(&r.kind),
                    &nonempty(&r.mime_type),
                    &opt_i64(r.file_size),
                    &nonempty(&r.sha256),
                    &r.caption,
                    &r.filename,
                    &nonempty(&r.path),
                    &(r.received_at as i64),
                    &opt_i64(r.saved_at),
                    &error,
                    &r.unsupported_type,
                    &r.to_json(),
                ],
            )
            .await
            .map_err(db_error)?;
        Ok(n == 1)
    }

    /// The records `q` asks for, newest first.
    pub async fn list(&self, q: &IndexQuery) -> io::Result<Vec<SavedRecord>> {
        let conn = self.pool.get().await.map_err(db_error)?;
        let since = q.since.map(|s| s as i64);
        let limit = q.limit.unwrap_or(i64::MAX);
        let rows = conn
            .query(
                "SELECT record FROM wa_media_index
                 WHERE ($1::text IS NULL OR \"from\" = $1 OR user_id = $1 OR parent_user_id = $1
                        OR username = $1)
                   AND ($2::bigint IS NULL OR received_at >= $2)
                   AND ($3::text IS NULL OR status = $3)
                 ORDER BY received_at DESC, key LIMIT $4",
                &[&q.from, &since, &q.status, &limit],
            )
            .await
            .map_err(db_error)?;
        rows.into_iter()
            .map(|r| {
                serde_json::from_value(r.get(0))
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            })
            .collect()
    }

    /// The record of `media_id`.
    pub async fn show(&self, media_id: &str) -> io::Result<Option<SavedRecord>> {
        let conn = self.pool.get().await.map_err(db_error)?;
        let row = conn
            .query_opt(
                "SELECT record FROM wa_media_index WHERE media_id = $1 OR key = $1 LIMIT 1",
                &[&media_id],
            )
            .await
            .map_err(db_error)?;
        row.map(|r| {
            serde_json::from_value(r.get(0))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        })
        .transpose()
    }

    /// How many rows the index holds.
    pub async fn count(&self) -> io::Result<i64> {
        let conn = self.pool.get().await.map_err(db_error)?;
        let row = conn
            .query_one("SELECT count(*) FROM wa_media_index", &[])
            .await
            .map_err(db_error)?;
        Ok(row.get(0))
    }
}

/// A sink that writes a row of the [`PgIndex`] for each media the inner sink saves, and for
/// each record it keeps ([`Sink::record`]). The row is written before the save counts as done:
/// a database that cannot be reached makes the save a [`wa_media_core::Retry::Later`] failure,
/// and the retry finds the media saved already (the inner sink is idempotent) and writes the row.
#[derive(Debug, Clone)]
pub struct IndexedSink {
    inner: Arc<dyn Sink>,
    index: PgIndex,
}

impl IndexedSink {
    /// `inner`, indexing into `index`.
    pub fn new(inner: Arc<dyn Sink>, index: PgIndex) -> Self {
        Self { inner, index }
    }
}

#[async_trait::async_trait]
impl Sink for IndexedSink {
    async fn save(&self, api: Arc<dyn MediaApi>, entry: &SpoolEntry) -> Result<Saved, SinkError> {
        let saved = self.inner.save(api, entry).await?;
        let record = SavedRecord::new(entry, &saved);
        self.index.insert(&record).await.map_err(SinkError::later)?;
        Ok(saved)
    }

    async fn settle(&self, within: Duration) -> bool {
        self.inner.settle(within).await
    }

    async fn record(&self, record: &SavedRecord) -> Result<(), SinkError> {
        self.inner.record(record).await?;
        self.index.insert(record).await.map_err(SinkError::later)?;
        Ok(())
    }

    fn locate(&self, location: &str) -> Location {
        self.inner.locate(location)
    }
}
