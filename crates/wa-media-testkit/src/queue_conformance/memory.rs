//! [`MemoryQueue`]: a queue in memory that keeps every rule of the `Queue` contract (the
//! suite's own reference, shared by any number of instances, with leases), and [`Break`]:
//! variants that each break one rule, to show the suite catches them.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wa_media_webhook::{
    Enqueued, MediaOutcome, Queue, QueueCounts, Saved, SavedOutcome, SpoolEntry,
};

use super::QueueHarness;

/// What a broken [`MemoryQueue`] does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Break {
    /// Nothing: the reference queue.
    Nothing,
    /// Admits every delivery as new, over whatever was there. Breaks
    /// [`super::Rule::AdmitsEachMediaOnce`] and [`super::Rule::CompleteIsFinal`].
    NoDedup,
    /// Hands an entry to every claim. Breaks [`super::Rule::ClaimsEachEntryOnce`].
    ClaimsTwice,
    /// Puts an entry back as new: attempts and retry time lost. Breaks
    /// [`super::Rule::RetryLaterKeepsAttemptsAndBackoff`].
    ForgetsAttempts,
    /// Never takes a dead holder's entries back. Breaks
    /// [`super::Rule::ACrashedHoldersEntriesComeBack`].
    NeverTakesOver,
    /// Lets any holder settle an entry, the late one included. Breaks
    /// [`super::Rule::ALateHolderChangesNothing`].
    LateHolderWins,
}

#[derive(Debug, Clone)]
enum State {
    Pending(SpoolEntry),
    Taken {
        entry: SpoolEntry,
        next: Option<Box<SpoolEntry>>,
        owner: u64,
        token: u64,
        since: Instant,
    },
    Failed(SpoolEntry),
    Done(SavedOutcome),
}

#[derive(Debug, Default)]
struct Shared {
    media: BTreeMap<String, State>,
    /// Instances alive and renewing their leases.
    live: std::collections::HashSet<u64>,
    /// When each dead (or stalled) instance stopped renewing.
    stopped: BTreeMap<u64, Instant>,
}

/// The storage instances of a [`MemoryQueue`] share.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage(Arc<Mutex<Shared>>);

/// One instance of the in-memory queue on a [`MemoryStorage`]. Dropping it is its crash: its
/// entries come back after the lease.
#[derive(Debug)]
pub struct MemoryQueue {
    storage: MemoryStorage,
    id: u64,
    lease: Duration,
    breaks: Break,
    held: Mutex<BTreeMap<String, u64>>,
    closed: AtomicBool,
}

static NEXT: AtomicU64 = AtomicU64::new(1);

fn newer_claim(new: &SpoolEntry, old: &SpoolEntry) -> bool {
    new.sha256.is_some() && new.sha256 != old.sha256
}

impl MemoryQueue {
    /// An instance on `storage` whose leases last `lease` after it stops renewing them
    /// (`stalled`: from the start).
    pub fn open(storage: &MemoryStorage, lease: Duration, breaks: Break, stalled: bool) -> Self {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut st = storage.0.lock().unwrap_or_else(|p| p.into_inner());
        if stalled {
            st.stopped.insert(id, Instant::now());
        } else {
            st.live.insert(id);
        }
        drop(st);
        Self {
            storage: storage.clone(),
            id,
            lease,
            breaks,
            held: Mutex::default(),
            closed: AtomicBool::new(false),
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.storage.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expired(st: &Shared, owner: u64, since: Instant, lease: Duration) -> bool {
        if st.live.contains(&owner) {
            return false;
        }
        let from = st.stopped.get(&owner).map_or(since, |t| (*t).max(since));
        from.elapsed() >= lease
    }

    /// Whether this instance may settle `id` now (it holds the current claim).
    fn holds(&self, st: &Shared, id: &str) -> bool {
        if self.breaks == Break::LateHolderWins {
            return true;
        }
        let token = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        matches!(st.media.get(id), Some(State::Taken { owner, token: t, .. }) if *owner == self.id && Some(*t) == token)
    }

    fn settle(&self, entry: &SpoolEntry, failed: bool) {
        let id = entry.media_id.to_string();
        let mut st = self.shared();
        if !self.holds(&st, &id) {
            return;
        }
        let next = match st.media.get(&id) {
            Some(State::Taken { next, .. }) => next.clone(),
            _ => None,
        };
        let mut e = entry.clone();
        if self.breaks == Break::ForgetsAttempts {
            e.attempts = 0;
            e.not_before_ms = 0;
        }
        let state = match next {
            Some(n) => State::Pending(*n),
            None if failed => State::Failed(e),
            None => State::Pending(e),
        };
        st.media.insert(id, state);
    }
}

impl Drop for MemoryQueue {
    fn drop(&mut self) {
        let id = self.id;
        let mut st = self.shared();
        if st.live.remove(&id) {
            st.stopped.insert(id, Instant::now());
        }
    }
}

#[async_trait::async_trait]
impl Queue for MemoryQueue {
    fn describe(&self) -> String {
        format!("memory queue (instance {})", self.id)
    }

    async fn enqueue(&self, entries: Vec<SpoolEntry>) -> io::Result<Vec<Enqueued>> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(io::Error::other("closed"));
        }
        let mut st = self.shared();
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for e in entries {
            let id = e.media_id.to_string();
            if !seen.insert(id.clone()) {
                out.push(Enqueued::Duplicate);
                continue;
            }
            if self.breaks == Break::NoDedup {
                st.media.insert(id, State::Pending(e));
                out.push(Enqueued::New);
                continue;
            }
            let got = match st.media.get_mut(&id) {
                None => {
                    st.media.insert(id, State::Pending(e));
                    Enqueued::New
                }
                Some(State::Done(_)) => Enqueued::Duplicate,
                Some(State::Pending(old)) | Some(State::Failed(old)) if newer_claim(&e, old) => {
                    st.media.insert(id, State::Pending(e));
                    Enqueued::Requeued
                }
                Some(State::Taken { entry, next, .. }) if newer_claim(&e, entry) => {
                    *next = Some(Box::new(e));
                    Enqueued::Requeued
                }
                _ => Enqueued::Duplicate,
            };
            out.push(got);
        }
        Ok(out)
    }

    async fn claim(&self, media_id: &str) -> io::Result<Option<SpoolEntry>> {
        let mut st = self.shared();
        let lease = self.lease;
        let entry = match st.media.get(media_id) {
            Some(State::Pending(e)) => e.clone(),
            Some(State::Taken { entry, .. }) if self.breaks == Break::ClaimsTwice => entry.clone(),
            _ => return Ok(None),
        };
        let token = NEXT.fetch_add(1, Ordering::Relaxed);
        st.media.insert(
            media_id.to_owned(),
            State::Taken {
                entry: entry.clone(),
                next: None,
                owner: self.id,
                token,
                since: Instant::now(),
            },
        );
        let _ = lease;
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(media_id.to_owned(), token);
        Ok(Some(entry))
    }

    async fn complete(&self, entry: &SpoolEntry, saved: &Saved) -> io::Result<()> {
        let id = entry.media_id.to_string();
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        let outcome: SavedOutcome = serde_json::from_value(serde_json::json!({
            "media_id": id,
            "location": saved.location,
            "file_size": saved.file_size,
            "sha256": saved.sha256.to_hex(),
            "mime_type": entry.mime_type,
            "saved_at_ms": 1,
        }))
        .map_err(io::Error::other)?;
        self.shared().media.insert(id, State::Done(outcome));
        Ok(())
    }

    async fn retry_later(&self, entry: &SpoolEntry) -> io::Result<()> {
        self.settle(entry, false);
        Ok(())
    }

    async fn fail(&self, entry: &SpoolEntry) -> io::Result<()> {
        self.settle(entry, true);
        Ok(())
    }

    async fn reclaim(&self) -> io::Result<Vec<String>> {
        if self.breaks == Break::NeverTakesOver {
            return Ok(Vec::new());
        }
        let mut st = self.shared();
        let lease = self.lease;
        let expired: Vec<String> = st
            .media
            .iter()
            .filter(|(_, s)| matches!(s, State::Taken { owner, since, .. } if Self::expired(&st, *owner, *since, lease)))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            if let Some(State::Taken { entry, next, .. }) = st.media.get(id).cloned() {
                st.media
                    .insert(id.clone(), State::Pending(next.map_or(entry, |n| *n)));
            }
        }
        Ok(expired)
    }

    async fn pending(&self) -> io::Result<Vec<(String, u64)>> {
        Ok(self
            .shared()
            .media
            .iter()
            .filter_map(|(id, s)| match s {
                State::Pending(e) => Some((id.clone(), e.not_before_ms)),
                _ => None,
            })
            .collect())
    }

    async fn not_before(&self, media_id: &str) -> io::Result<Option<u64>> {
        Ok(match self.shared().media.get(media_id) {
            Some(State::Pending(e)) => Some(e.not_before_ms),
            _ => None,
        })
    }

    async fn retry_failed(&self) -> io::Result<usize> {
        let mut st = self.shared();
        let mut n = 0;
        for s in st.media.values_mut() {
            if let State::Failed(e) = s {
                let mut e = e.clone();
                e.attempts = 0;
                e.not_before_ms = 0;
                e.failure = None;
                *s = State::Pending(e);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn counts(&self) -> io::Result<QueueCounts> {
        let st = self.shared();
        let (mut p, mut t, mut f) = (0, 0, 0);
        for s in st.media.values() {
            match s {
                State::Pending(_) => p += 1,
                State::Taken { .. } => t += 1,
                State::Failed(_) => f += 1,
                State::Done(_) => {}
            }
        }
        Ok(QueueCounts::new(p, t, f))
    }

    async fn outcome(&self, media_id: &str) -> io::Result<MediaOutcome> {
        Ok(match self.shared().media.get(media_id) {
            None => MediaOutcome::Unknown,
            Some(State::Done(o)) => MediaOutcome::Saved(o.clone()),
            Some(State::Failed(e)) => MediaOutcome::Failed(e.failure.clone().unwrap_or_default()),
            Some(_) => MediaOutcome::Pending,
        })
    }

    async fn ready(&self) -> bool {
        !self.closed.load(Ordering::SeqCst)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}

/// The harness for [`MemoryQueue`]: shared storage, a lease of 200 ms.
#[derive(Debug, Clone, Copy)]
pub struct MemoryHarness {
    /// What the queue does wrong.
    pub breaks: Break,
}

impl MemoryHarness {
    /// The reference queue.
    pub fn new() -> Self {
        Self::broken(Break::Nothing)
    }

    /// A queue that does `breaks` wrong.
    pub fn broken(breaks: Break) -> Self {
        Self { breaks }
    }
}

impl Default for MemoryHarness {
    fn default() -> Self {
        Self::new()
    }
}

const LEASE: Duration = Duration::from_millis(200);

#[async_trait::async_trait]
impl QueueHarness for MemoryHarness {
    type Storage = MemoryStorage;

    async fn storage(&self) -> MemoryStorage {
        MemoryStorage::default()
    }

    async fn open(&self, storage: &MemoryStorage) -> Arc<dyn Queue> {
        Arc::new(MemoryQueue::open(storage, LEASE, self.breaks, false))
    }

    async fn open_stalled(&self, storage: &MemoryStorage) -> Option<Arc<dyn Queue>> {
        Some(Arc::new(MemoryQueue::open(
            storage,
            LEASE,
            self.breaks,
            true,
        )))
    }

    fn shared(&self) -> bool {
        true
    }

    fn takeover_bound(&self) -> Duration {
        LEASE * 10
    }
}
