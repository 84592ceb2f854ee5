//! [`PgQueue`]: the [`Queue`] on PostgreSQL, shared by any number of instances.
//!
//! One row per media id in `wa_media_queue` (the schema: `migrations/`, docs/scaling.md):
//!
//! - **Admission** inserts the row (`ON CONFLICT (media_id) DO NOTHING`); a conflict reads the
//!   row `FOR UPDATE` and applies the spool's rules (a saved media or the same claim is a
//!   duplicate, a newer digest claim replaces a pending or failed entry and waits behind a taken
//!   one in `next_entry`). One transaction per delivery: committed before `Ok`.
//! - **Claiming** locks the row with `FOR UPDATE SKIP LOCKED` (a row another instance is
//!   claiming this instant is skipped, never waited for), only when it is pending and due, or
//!   taken under a lease that expired, and sets `state = 'taken'` with this instance as
//!   `lease_owner`, a fresh `lease_token`, and `lease_until = now() + lease` (the database's
//!   clock: instances' clocks never decide a lease).
//! - **Leases** of the entries this instance holds are renewed every third of the lease by a
//!   heartbeat task; a process that dies stops renewing, and its entries are taken back by
//!   [`Queue::reclaim`] (any instance's sweep) or claimed directly once `lease_until` passed.
//! - **Settling** (`retry_later`, `fail`) only changes a row whose `lease_token` is still this
//!   claim's: a late holder changes nothing. `complete` records the save whoever holds the row
//!   (the media is saved; the sink's idempotence keeps one file and one record).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use deadpool_postgres::Pool;
use serde_json::Value;
use wa_media_webhook::{
    Enqueued, MediaOutcome, Queue, QueueCounts, Saved, SavedOutcome, SpoolEntry,
};

use crate::error::db_error;

/// How a [`PgQueue`] holds entries.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueueConfig {
    /// How long an entry stays held without a renewal: the time after which a dead
    /// instance's entries are taken over. Renewed every third of it. Default 30 s.
    pub lease: Duration,
    /// Whether leases are renewed (always, but in tests of a stalled instance).
    pub renew: bool,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            renew: true,
        }
    }
}

impl QueueConfig {
    /// Sets the lease (at least 100 ms).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(100));
        self
    }

    /// Never renews leases: an instance that stalls (for tests of a takeover while the old
    /// holder still runs).
    pub fn stalled(mut self) -> Self {
        self.renew = false;
        self
    }
}

/// The queue on PostgreSQL. Cheap to clone (clones share the pool and the leases held).
#[derive(Debug, Clone)]
pub struct PgQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    config: QueueConfig,
    /// This instance, as `lease_owner`.
    owner: String,
    /// Media id → the token of this instance's claim of it.
    held: Mutex<HashMap<String, i64>>,
    heartbeat: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(h) = self
            .heartbeat
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            h.abort();
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn to_json(e: &SpoolEntry) -> io::Result<Value> {
    serde_json::to_value(e).map_err(io::Error::other)
}

fn from_json(v: Value) -> io::Result<SpoolEntry> {
    serde_json::from_value(v).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Whether `new` is a different claim than `old` (a damaged `old` always is): another digest.
/// A claim without a digest never replaces one with a digest. (The spool's rule.)
fn newer_claim(new: &SpoolEntry, old: Option<&SpoolEntry>) -> bool {
    match old {
        None => true,
        Some(old) => new.sha256.is_some() && new.sha256 != old.sha256,
    }
}

const LEASE_SET: &str = "lease_owner = NULL, lease_token = NULL, lease_until = NULL";

impl PgQueue {
    /// The queue on `pool` (whose schema [`crate::migrate`] brought up to date), renewing the
    /// leases it holds on the current tokio runtime.
    pub fn new(pool: Pool, config: QueueConfig) -> Self {
        let owner = format!("{}-{:08x}", std::process::id(), fastrand::u32(..));
        let inner = Arc::new(Inner {
            pool,
            config,
            owner,
            held: Mutex::default(),
            heartbeat: Mutex::default(),
        });
        if inner.config.renew {
            let task = tokio::spawn(heartbeat(Arc::downgrade(&inner)));
            *inner.heartbeat.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
        }
        Self { inner }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// This instance's name in `lease_owner`.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    fn lease_secs(&self) -> f64 {
        self.inner.config.lease.as_secs_f64()
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.inner.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn conn(&self) -> io::Result<deadpool_postgres::Object> {
        self.inner.pool.get().await.map_err(db_error)
    }

    /// Claims up to `limit` due entries at once, oldest retry time first: the batch claim of
    /// River and Oban (`ORDER BY … LIMIT … FOR UPDATE SKIP LOCKED`), for a worker pool that
    /// pulls work instead of being told media ids.
    pub async fn claim_due(&self, limit: i64) -> io::Result<Vec<SpoolEntry>> {
        let token = fastrand::i64(..);
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "WITH c AS (
                   SELECT media_id FROM wa_media_queue
                   WHERE state = 'pending' AND not_before_ms <= $1
                   ORDER BY not_before_ms LIMIT $2
                   FOR UPDATE SKIP LOCKED)
                 UPDATE wa_media_queue q
                 SET state = 'taken', lease_owner = $3, lease_token = $4,
                     lease_until = now() + $5::float8 * interval '1 second', updated_at = now()
                 FROM c WHERE q.media_id = c.media_id
                 RETURNING q.media_id, q.entry",
                &[
                    &now_ms(),
                    &limit,
                    &self.inner.owner,
                    &token,
                    &self.lease_secs(),
                ],
            )
            .await
            .map_err(db_error)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut held = self.held();
        for r in rows {
            held.insert(r.get(0), token);
            out.push(from_json(r.get(1))?);
        }
        Ok(out)
    }

    async fn settle(&self, entry: &SpoolEntry, failed: bool) -> io::Result<()> {
        let id = entry.media_id.as_str();
        // Released first: if the update below cannot reach the database, the lease is no longer
        // renewed and the entry is taken back once it expired.
        let Some(token) = self.held().remove(id) else {
            return Ok(());
        };
        let conn = self.conn().await?;
        let n = if failed {
            conn.execute(
                &format!(
                    "UPDATE wa_media_queue SET
                       state = CASE WHEN next_entry IS NULL THEN 'failed' ELSE 'pending' END,
                       entry = COALESCE(next_entry, $2),
                       failure = CASE WHEN next_entry IS NULL THEN $3 ELSE NULL END,
                       not_before_ms = 0, next_entry = NULL, {LEASE_SET}, updated_at = now()
                     WHERE media_id = $1 AND state = 'taken' AND lease_token = $4"
                ),
                &[&id, &to_json(entry)?, &entry.failure, &token],
            )
            .await
        } else {
            conn.execute(
                &format!(
                    "UPDATE wa_media_queue SET
                       state = 'pending',
                       entry = COALESCE(next_entry, $2),
                       not_before_ms = CASE WHEN next_entry IS NULL THEN $3::bigint ELSE 0 END,
                       next_entry = NULL, {LEASE_SET}, updated_at = now()
                     WHERE media_id = $1 AND state = 'taken' AND lease_token = $4"
                ),
                &[&id, &to_json(entry)?, &(entry.not_before_ms as i64), &token],
            )
            .await
        }
        .map_err(db_error)?;
        if n == 0 {
            tracing::info!(
                media_id = id,
                "the lease had expired and another instance took the entry over; its state is kept"
            );
        }
        Ok(())
    }
}

/// Renews the leases of the entries `inner` holds, every third of the lease, until it goes.
async fn heartbeat(inner: Weak<Inner>) {
    loop {
        let every = match inner.upgrade() {
            Some(i) => i.config.lease / 3,
            None => return,
        };
        tokio::time::sleep(every).await;
        let Some(i) = inner.upgrade() else { return };
        let tokens: Vec<i64> = i
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .copied()
            .collect();
        if tokens.is_empty() {
            continue;
        }
        let secs = i.config.lease.as_secs_f64();
        let renewed = async {
            let conn = i.pool.get().await.map_err(db_error)?;
            conn.execute(
                "UPDATE wa_media_queue SET lease_until = now() + $2::float8 * interval '1 second'
                 WHERE state = 'taken' AND lease_token = ANY($1)",
                &[&tokens, &secs],
            )
            .await
            .map_err(db_error)
        }
        .await;
        if let Err(e) = renewed {
            tracing::warn!(error = %e, held = tokens.len(), "cannot renew the leases held; trying again");
        }
    }
}

#[async_trait::async_trait]
impl Queue for PgQueue {
    fn describe(&self) -> String {
        format!("PostgreSQL queue (instance {})", self.inner.owner)
    }

    async fn enqueue(&self, entries: Vec<SpoolEntry>) -> io::Result<Vec<Enqueued>> {
        let mut out = vec![Enqueued::Duplicate; entries.len()];
        if entries.is_empty() {
            return Ok(out);
        }
        // Rows locked in one order by every delivery: two deliveries of the same media never
        // wait for each other in a circle.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|a, b| {
            entries[*a]
                .media_id
                .as_str()
                .cmp(entries[*b].media_id.as_str())
        });
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let mut seen = std::collections::HashSet::new();
        for i in order {
            let e = &entries[i];
            let id = e.media_id.as_str();
            if !seen.insert(id) {
                continue;
            }
            let v = to_json(e)?;
            let inserted = tx
                .query_opt(
                    "INSERT INTO wa_media_queue (media_id, state, entry, not_before_ms)
                     VALUES ($1, 'pending', $2, $3) ON CONFLICT (media_id) DO NOTHING RETURNING 1",
                    &[&id, &v, &(e.not_before_ms as i64)],
                )
                .await
                .map_err(db_error)?;
            if inserted.is_some() {
                out[i] = Enqueued::New;
                continue;
            }
            let row = tx
                .query_one(
                    "SELECT state, entry, next_entry, coalesce(lease_until < now(), false)
                     FROM wa_media_queue WHERE media_id = $1 FOR UPDATE",
                    &[&id],
                )
                .await
                .map_err(db_error)?;
            let state: String = row.get(0);
            let old = from_json(row.get(1)).ok();
            let next: Option<SpoolEntry> = row
                .get::<_, Option<Value>>(2)
                .and_then(|v| from_json(v).ok());
            let expired: bool = row.get(3);
            let sql = match state.as_str() {
                "pending" | "failed" if newer_claim(e, old.as_ref()) => Some(
                    "UPDATE wa_media_queue SET state = 'pending', entry = $2, not_before_ms = 0,
                       failure = NULL, updated_at = now() WHERE media_id = $1"
                        .to_owned(),
                ),
                "taken" if newer_claim(e, next.as_ref().or(old.as_ref())) => Some(
                    "UPDATE wa_media_queue SET next_entry = $2, updated_at = now() WHERE media_id = $1"
                        .to_owned(),
                ),
                // A dead holder's entry, found by its redelivery: taken back at once.
                "taken" if expired => Some(format!(
                    "UPDATE wa_media_queue SET state = 'pending',
                       entry = COALESCE(next_entry, entry), next_entry = NULL, {LEASE_SET},
                       updated_at = now() WHERE media_id = $1 AND $2::jsonb IS NOT NULL"
                )),
                _ => None,
            };
            if let Some(sql) = sql {
                tx.execute(&sql, &[&id, &v]).await.map_err(db_error)?;
                if state != "taken" || !expired {
                    tracing::info!(
                        media_id = id,
                        "a newer claim (another digest) replaces the queued one"
                    );
                }
                out[i] = Enqueued::Requeued;
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(out)
    }

    async fn claim(&self, media_id: &str) -> io::Result<Option<SpoolEntry>> {
        if self.held().contains_key(media_id) {
            return Ok(None);
        }
        let token = fastrand::i64(..);
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "WITH c AS (
                   SELECT media_id FROM wa_media_queue
                   WHERE media_id = $1
                     AND ((state = 'pending' AND not_before_ms <= $2)
                          OR (state = 'taken' AND lease_until < now()))
                   FOR UPDATE SKIP LOCKED)
                 UPDATE wa_media_queue q
                 SET state = 'taken', lease_owner = $3, lease_token = $4,
                     lease_until = now() + $5::float8 * interval '1 second',
                     entry = COALESCE(q.next_entry, q.entry), next_entry = NULL,
                     updated_at = now()
                 FROM c WHERE q.media_id = c.media_id
                 RETURNING q.entry",
                &[
                    &media_id,
                    &now_ms(),
                    &self.inner.owner,
                    &token,
                    &self.lease_secs(),
                ],
            )
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        match from_json(row.get(0)) {
            Ok(entry) => {
                self.held().insert(media_id.to_owned(), token);
                Ok(Some(entry))
            }
            Err(e) => {
                // A damaged entry is parked as failed, never retried blindly.
                conn.execute(
                    &format!(
                        "UPDATE wa_media_queue SET state = 'failed', failure = $2, {LEASE_SET}
                         WHERE media_id = $1 AND lease_token = $3"
                    ),
                    &[&media_id, &format!("the entry cannot be read: {e}"), &token],
                )
                .await
                .map_err(db_error)?;
                Err(e)
            }
        }
    }

    async fn complete(&self, entry: &SpoolEntry, saved: &Saved) -> io::Result<()> {
        let id = entry.media_id.as_str();
        self.held().remove(id);
        let outcome = serde_json::json!({
            "media_id": id,
            "location": saved.location,
            "file_size": saved.file_size,
            "sha256": saved.sha256.to_hex(),
            "mime_type": entry.mime_type,
            "saved_at_ms": now_ms(),
        });
        let conn = self.conn().await?;
        conn.execute(
            &format!(
                "UPDATE wa_media_queue SET state = 'done', saved = $2, next_entry = NULL,
                   failure = NULL, {LEASE_SET}, updated_at = now()
                 WHERE media_id = $1 AND state <> 'done'"
            ),
            &[&id, &outcome],
        )
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn retry_later(&self, entry: &SpoolEntry) -> io::Result<()> {
        self.settle(entry, false).await
    }

    async fn fail(&self, entry: &SpoolEntry) -> io::Result<()> {
        self.settle(entry, true).await
    }

    async fn reclaim(&self) -> io::Result<Vec<String>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                &format!(
                    "WITH c AS (
                       SELECT media_id FROM wa_media_queue
                       WHERE state = 'taken' AND lease_until < now()
                       LIMIT 1000 FOR UPDATE SKIP LOCKED)
                     UPDATE wa_media_queue q SET state = 'pending',
                       entry = COALESCE(q.next_entry, q.entry), next_entry = NULL, {LEASE_SET},
                       updated_at = now()
                     FROM c WHERE q.media_id = c.media_id RETURNING q.media_id"
                ),
                &[],
            )
            .await
            .map_err(db_error)?;
        let ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if !ids.is_empty() {
            tracing::warn!(
                entries = ids.len(),
                "took back entries whose holder's lease expired"
            );
        }
        Ok(ids)
    }

    async fn pending(&self) -> io::Result<Vec<(String, u64)>> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT media_id, not_before_ms FROM wa_media_queue WHERE state = 'pending'
                 ORDER BY not_before_ms LIMIT 10000",
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(0) as u64))
            .collect())
    }

    async fn not_before(&self, media_id: &str) -> io::Result<Option<u64>> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT not_before_ms FROM wa_media_queue WHERE media_id = $1 AND state = 'pending'",
                &[&media_id],
            )
            .await
            .map_err(db_error)?;
        Ok(row.map(|r| r.get::<_, i64>(0).max(0) as u64))
    }

    async fn retry_failed(&self) -> io::Result<usize> {
        let conn = self.conn().await?;
        let n = conn
            .execute(
                "UPDATE wa_media_queue SET state = 'pending',
                   entry = (entry - 'failure') || jsonb_build_object('attempts', 0, 'not_before_ms', 0),
                   failure = NULL, not_before_ms = 0, updated_at = now()
                 WHERE state = 'failed'",
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok(n as usize)
    }

    async fn counts(&self) -> io::Result<QueueCounts> {
        let conn = self.conn().await?;
        let rows = conn
            .query(
                "SELECT state, count(*) FROM wa_media_queue WHERE state <> 'done' GROUP BY state",
                &[],
            )
            .await
            .map_err(db_error)?;
        let mut c = (0, 0, 0);
        for r in rows {
            let n = r.get::<_, i64>(1) as usize;
            match r.get::<_, &str>(0) {
                "pending" => c.0 = n,
                "taken" => c.1 = n,
                "failed" => c.2 = n,
                _ => {}
            }
        }
        Ok(QueueCounts::new(c.0, c.1, c.2))
    }

    async fn outcome(&self, media_id: &str) -> io::Result<MediaOutcome> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT state, saved, failure FROM wa_media_queue WHERE media_id = $1",
                &[&media_id],
            )
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(MediaOutcome::Unknown);
        };
        Ok(match row.get::<_, &str>(0) {
            "done" => {
                let saved: Option<Value> = row.get(1);
                let o: Option<SavedOutcome> = saved.and_then(|v| serde_json::from_value(v).ok());
                match o {
                    Some(o) => MediaOutcome::Saved(o),
                    None => MediaOutcome::Saved(
                        serde_json::from_value(serde_json::json!({
                            "media_id": media_id, "location": ""
                        }))
                        .map_err(io::Error::other)?,
                    ),
                }
            }
            "failed" => MediaOutcome::Failed(
                row.get::<_, Option<String>>(2)
                    .unwrap_or_else(|| "failed".into()),
            ),
            _ => MediaOutcome::Pending,
        })
    }

    async fn ready(&self) -> bool {
        let check = async {
            let conn = self.inner.pool.get().await.ok()?;
            conn.query_one("SELECT 1", &[]).await.ok()
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(3), check).await,
            Ok(Some(_))
        )
    }

    fn close(&self) {
        if let Some(h) = self
            .inner
            .heartbeat
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            h.abort();
        }
    }
}
