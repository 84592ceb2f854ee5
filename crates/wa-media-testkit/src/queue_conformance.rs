//! The [`Queue`] conformance suite: every rule of the `Queue` contract (wa-media-webhook
//! `src/queue.rs`, "The contract"), each a named check on storage of its own, through a
//! [`QueueHarness`] that opens instances of the queue on it. Both queues of the workspace run
//! it: the Maildir spool (`wa-media-webhook/tests/queue_conformance.rs`) and PostgreSQL
//! (`wa-media-postgres/tests/queue_conformance.rs`).
//!
//! ```no_run
//! # async fn example(harness: impl wa_media_testkit::queue_conformance::QueueHarness) {
//! let report = wa_media_testkit::queue_conformance::run(&harness).await;
//! report.assert_conforms(); // panics naming every rule that failed, and why
//! # }
//! ```
//!
//! A crash is an instance dropped without settling what it holds (the spool's lock and a
//! database lease's heartbeat go with it). [`memory`] holds a reference queue in memory that
//! keeps every rule, and broken variants that each break one, to show the suite catches them.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::suite::Outcome;
use crate::suite::{self, ensure, Check, SuiteRule};

use wa_media_types::Sha256Digest;
use wa_media_webhook::{Enqueued, MediaOutcome, Queue, Saved, SpoolEntry};

pub mod memory;

/// How long a check waits for one step (a takeover included, beyond the lease) before it fails.
pub const STEP: Duration = Duration::from_secs(20);

/// Opens instances of the queue under test on storage the harness makes.
#[async_trait::async_trait]
pub trait QueueHarness: Send + Sync {
    /// Storage of one check (a directory, a database): new and empty for each call.
    type Storage: Send + Sync;

    /// New, empty storage.
    async fn storage(&self) -> Self::Storage;

    /// An instance of the queue on `storage`. With [`QueueHarness::shared`] false, the suite
    /// drops the previous instance on the same storage first (that is its crash).
    async fn open(&self, storage: &Self::Storage) -> Arc<dyn Queue>;

    /// An instance that takes entries but stops renewing its leases (a stalled process, a
    /// partition): its entries can be taken over while it still runs. `None` when the queue has
    /// no leases (one process per storage).
    async fn open_stalled(&self, storage: &Self::Storage) -> Option<Arc<dyn Queue>> {
        let _ = storage;
        None
    }

    /// Whether several instances may run on one storage at once.
    fn shared(&self) -> bool;

    /// How long a dead holder's entry may take to be handed out again (the lease and a claim):
    /// the bound of the takeover checks. Default [`STEP`].
    fn takeover_bound(&self) -> Duration {
        STEP
    }
}

/// One rule of the `Queue` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// "One pending entry per media": a media id is admitted once, by concurrent deliveries and
    /// by several instances too; a redelivery is a duplicate.
    AdmitsEachMediaOnce,
    /// "One holder at a time": concurrent claims (of several instances) hand an entry to one.
    ClaimsEachEntryOnce,
    /// "Settling": a completed media is never claimed again and its redelivery is a duplicate.
    CompleteIsFinal,
    /// "Settling": an entry put back keeps its attempts and its retry time (the backoff).
    RetryLaterKeepsAttemptsAndBackoff,
    /// "Settling": a failed entry keeps its reason until `retry_failed` puts it back reset.
    FailedUntilRetryFailed,
    /// "One pending entry per media": the latest digest claim replaces a pending or failed one,
    /// and waits behind a taken one.
    TheLatestClaimWins,
    /// "Nothing stranded": the entries a crashed instance held come back, with their attempts
    /// (at once on a new spool, after the lease on a shared queue).
    ACrashedHoldersEntriesComeBack,
    /// "Durable": what was settled before a crash stays settled after it.
    SettledEntriesSurviveACrash,
    /// "A late holder changes nothing": after a takeover, the old holder's settling never undoes
    /// the new holder's.
    ALateHolderChangesNothing,
}

impl Rule {
    /// Every rule, in the order the suite checks them.
    pub const ALL: [Rule; 9] = [
        Rule::AdmitsEachMediaOnce,
        Rule::ClaimsEachEntryOnce,
        Rule::CompleteIsFinal,
        Rule::RetryLaterKeepsAttemptsAndBackoff,
        Rule::FailedUntilRetryFailed,
        Rule::TheLatestClaimWins,
        Rule::ACrashedHoldersEntriesComeBack,
        Rule::SettledEntriesSurviveACrash,
        Rule::ALateHolderChangesNothing,
    ];

    /// The check's name, as reported.
    pub fn name(self) -> &'static str {
        match self {
            Rule::AdmitsEachMediaOnce => "admits_each_media_once",
            Rule::ClaimsEachEntryOnce => "claims_each_entry_once",
            Rule::CompleteIsFinal => "complete_is_final",
            Rule::RetryLaterKeepsAttemptsAndBackoff => "retry_later_keeps_attempts_and_backoff",
            Rule::FailedUntilRetryFailed => "failed_until_retry_failed",
            Rule::TheLatestClaimWins => "the_latest_claim_wins",
            Rule::ACrashedHoldersEntriesComeBack => "a_crashed_holders_entries_come_back",
            Rule::SettledEntriesSurviveACrash => "settled_entries_survive_a_crash",
            Rule::ALateHolderChangesNothing => "a_late_holder_changes_nothing",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl SuiteRule for Rule {
    const SUBJECT: &'static str = "the queue";
    const SOURCE: &'static str = "the Queue contract";
}

/// Every rule's outcome.
pub type Report = suite::Report<Rule>;

/// Runs every check against `harness`, each on new storage.
pub async fn run<H: QueueHarness + ?Sized>(harness: &H) -> Report {
    let mut report = Report::default();
    for rule in Rule::ALL {
        report.outcomes.push((rule, check(harness, rule).await));
    }
    report
}

/// Runs the check of one rule.
pub async fn check<H: QueueHarness + ?Sized>(h: &H, rule: Rule) -> Outcome {
    let result = match rule {
        Rule::AdmitsEachMediaOnce => admits_each_media_once(h).await,
        Rule::ClaimsEachEntryOnce => claims_each_entry_once(h).await,
        Rule::CompleteIsFinal => complete_is_final(h).await,
        Rule::RetryLaterKeepsAttemptsAndBackoff => retry_later_keeps_attempts(h).await,
        Rule::FailedUntilRetryFailed => failed_until_retry_failed(h).await,
        Rule::TheLatestClaimWins => the_latest_claim_wins(h).await,
        Rule::ACrashedHoldersEntriesComeBack => crashed_holders_entries_come_back(h).await,
        Rule::SettledEntriesSurviveACrash => settled_entries_survive_a_crash(h).await,
        Rule::ALateHolderChangesNothing => match a_late_holder_changes_nothing(h).await {
            None => return Outcome::NotApplicable("one process per storage: no leases"),
            Some(r) => r,
        },
    };
    result.into()
}

/// A spool entry for media `id`, with the digest claim `sha` (a repeated hex digit) if any.
pub fn entry(id: &str, sha: Option<char>) -> SpoolEntry {
    let mut v = serde_json::json!({
        "media_id": id,
        "message_id": format!("wamid.{id}"),
        "kind": "image",
        "mime_type": "image/jpeg",
        "received_at": wa_media_webhook::now_secs(),
        "from": "15550001111",
    });
    if let Some(c) = sha {
        v["sha256"] = serde_json::Value::String(std::iter::repeat_n(c, 64).collect());
    }
    serde_json::from_value(v).expect("a valid spool entry")
}

fn digest(c: char) -> Option<Sha256Digest> {
    std::iter::repeat_n(c, 64).collect::<String>().parse().ok()
}

fn saved() -> Saved {
    Saved::new("2026-01-01/x.jpg", 3, Sha256Digest::of(b"abc"), false)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn io<T>(what: &str, r: std::io::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

async fn enqueue(q: &Arc<dyn Queue>, entries: Vec<SpoolEntry>) -> Result<Vec<Enqueued>, String> {
    io("enqueue", q.enqueue(entries).await)
}

async fn claim(q: &Arc<dyn Queue>, id: &str) -> Result<Option<SpoolEntry>, String> {
    io("claim", q.claim(id).await)
}

/// Claims `id`, taking back dead holders' entries, until it is handed out or `bound` passed.
async fn claim_in(
    q: &Arc<dyn Queue>,
    id: &str,
    bound: Duration,
) -> Result<(SpoolEntry, Duration), String> {
    let start = Instant::now();
    loop {
        io("reclaim", q.reclaim().await)?;
        if let Some(e) = claim(q, id).await? {
            return Ok((e, start.elapsed()));
        }
        if start.elapsed() > bound {
            return Err(format!("{id} was not handed out again within {bound:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn claim_within(q: &Arc<dyn Queue>, id: &str) -> Result<(SpoolEntry, Duration), String> {
    claim_in(q, id, STEP).await
}

async fn counts(q: &Arc<dyn Queue>) -> Result<(usize, usize, usize), String> {
    let c = io("counts", q.counts().await)?;
    Ok((c.pending, c.taken, c.failed))
}

async fn outcome(q: &Arc<dyn Queue>, id: &str) -> Result<MediaOutcome, String> {
    io("outcome", q.outcome(id).await)
}

async fn admits_each_media_once<H: QueueHarness + ?Sized>(h: &H) -> Check {
    let s = h.storage().await;
    let q = h.open(&s).await;
    let got = enqueue(
        &q,
        vec![entry("1", None), entry("2", None), entry("1", None)],
    )
    .await?;
    ensure(
        got == [Enqueued::New, Enqueued::New, Enqueued::Duplicate],
        || format!("one delivery with media 1 twice: {got:?}"),
    )?;
    let again = enqueue(&q, vec![entry("2", None)]).await?;
    ensure(again == [Enqueued::Duplicate], || {
        format!("a redelivery of a pending media: {again:?}")
    })?;
    // Eight deliveries of one media at once (and on two instances of a shared queue).
    let other = if h.shared() {
        h.open(&s).await
    } else {
        q.clone()
    };
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let q = if i % 2 == 0 { q.clone() } else { other.clone() };
            tokio::spawn(async move { q.enqueue(vec![entry("3", None)]).await })
        })
        .collect();
    let mut new = 0;
    for t in tasks {
        let r = t.await.map_err(|e| e.to_string())?;
        if io("enqueue", r)? == [Enqueued::New] {
            new += 1;
        }
    }
    ensure(new == 1, || {
        format!("8 concurrent deliveries of one media admitted it {new} times")
    })?;
    let c = counts(&q).await?;
    ensure(c == (3, 0, 0), || {
        format!("3 media admitted, counts (pending, taken, failed) = {c:?}")
    })
}

async fn claims_each_entry_once<H: QueueHarness + ?Sized>(h: &H) -> Check {
    let s = h.storage().await;
    let q = h.open(&s).await;
    let other = if h.shared() {
        h.open(&s).await
    } else {
        q.clone()
    };
    enqueue(&q, vec![entry("1", None)]).await?;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let q = if i % 2 == 0 { q.clone() } else { other.clone() };
            tokio::spawn(async move { q.claim("1").await })
        })
        .collect();
    let mut got = 0;
    for t in tasks {
        if io("claim", t.await.map_err(|e| e.to_string())?)?.is_some() {
            got += 1;
        }
    }
    ensure(got == 1, || {
        format!("8 concurrent claims of one entry handed it out {got} times")
    })?;
    let c = counts(&q).await?;
    ensure(c == (0, 1, 0), || format!("one entry taken: counts {c:?}"))?;
    let none = claim(&q, "99").await?;
    ensure(none.is_none(), || "an unknown media was handed out".into())
}

async fn complete_is_final<H: QueueHarness + ?Sized>(h: &H) -> Check {
    let s = h.storage().await;
    let q = h.open(&s).await;
    enqueue(&q, vec![entry("1", Some('a'))]).await?;
    let e = claim(&q, "1")
        .await?
        .ok_or("a pending entry was not handed out")?;
    io("complete", q.complete(&e, &saved()).await)?;
    let o = outcome(&q, "1").await?;
    ensure(
        matches!(o, MediaOutcome::Saved(ref s) if s.location == saved().location),
        || format!("the outcome of a completed media: {o:?}"),
    )?;
    ensure(claim(&q, "1").await?.is_none(), || {
        "a completed media was handed out again".into()
    })?;
    let again = enqueue(&q, vec![entry("1", Some('a')), entry("1", Some('b'))]).await?;
    ensure(again[0] == Enqueued::Duplicate, || {
        format!("a redelivery of a saved media: {again:?}")
    })?;
    let c = counts(&q).await?;
    ensure(c == (0, 0, 0), || {
        format!("after the save, counts (pending, taken, failed) = {c:?}")
    })?;
    let pending = io("pending", q.pending().await)?;
    ensure(pending.is_empty(), || {
        format!("a saved media is listed as pending: {pending:?}")
    })
}

async fn retry_later_keeps_attempts<H: QueueHarness + ?Sized>(h: &H) -> Check {
    let s = h.storage().await;
    let q = h.open(&s).await;
    enqueue(&q, vec![entry("1", None)]).await?;
    let mut e = claim(&q, "1")
        .await?
        .ok_or("a pending entry was not handed out")?;
    e.attempts = 3;
    e.last_error = Some("HTTP 503".into());
    let not_before = now_ms() + 1_500;
    e.not_before_ms = not_before;
    io("retry_later", q.retry_later(&e).await)?;
    let pending = io("pending", q.pending().await)?;
    ensure(pending == [("1".to_owned(), not_before)], || {
        format!("put back with a retry time {not_before}; pending says {pending:?}")
    })?;
    let nb = io("not_before", q.not_before("1").await)?;
    ensure(nb == Some(not_before), || {
        format!("not_before after retry_later: {nb:?}, expected {not_before}")
    })?;
    let c = counts(&q).await?;
    ensure(c == (1, 0, 0), || format!("put back: counts {c:?}"))?;
    // Once due, it is handed out with what the attempt recorded.
    while now_ms() < not_before {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (back, _) = claim_within(&q, "1").await?;
    ensure(back.attempts == 3, || {
        format!("attempts after retry_later: {}, expected 3", back.attempts)
    })?;
    ensure(back.last_error.as_deref() == Some("HTTP 503"), || {
        format!("the last error was not kept: {:?}", back.last_error)
    })
}

async fn failed_until_retry_failed<H: QueueHarness + ?Sized>(h: &H) -> Check {
    let s = h.storage().await;
    let q = h.open(&s).await;
    enqueue(&q, vec![entry("1", Some('a'))]).await?;
    let mut e = claim(&q, "1")
        .await?
        .ok_or("a pending entry was not handed out")?;
    e.attempts = 4;
    e.failure = Some("digest mismatch".into());
    io("fail", q.fail(&e).await)?;
    let o = outcome(&q, "1").await?;
    ensure(
        matches!(o, MediaOutcome::Failed(ref r) if r.contains("digest mismatch")),
        || format!("the outcome of a failed media: {o:?}"),
    )?;
    let c = counts(&q).await?;
    ensure(c == (0, 0, 1), || format!("one failed: counts {c:?}"))?;
    ensure(claim(&q, "1").await?.is_none(), || {
        "a failed media was handed out".into()
    })?;
    let again = enqueue(&q, vec![entry("1", Some('a'))]).await?;
    ensure(again == [Enqueued::Duplicate], || {
        format!("a redelivery (same digest) of a failed media: {again:?}")
    })?;
    let n = io("retry_failed", q.retry_failed().await)?;
    ensure(n == 1, || {
        format!("retry_failed put back {n} entries, expected 1")
    })?;
    let (back, _) = claim_within(&q, "1").await?;
    ensure(back.failure.is_none() && back.attempts == 0, || {
        format!(
            "after retry_failed: failure {:?}, attempts {}",
            back.failure, back.attempts
        )
    })
}

async fn the_latest_claim_wins<H: QueueHarness + ?Sized>(h: &H) -> Check {
    let s = h.storage().await;
    let q = h.open(&s).await;
    // Pending with A: B replaces it; a claim without a digest does not.
    enqueue(&q, vec![entry("1", Some('a'))]).await?;
    let got = enqueue(&q, vec![entry("1", Some('b'))]).await?;
    ensure(got == [Enqueued::Requeued], || {
        format!("a newer claim of a pending media: {got:?}")
    })?;
    let got = enqueue(&q, vec![entry("1", None)]).await?;
    ensure(got == [Enqueued::Duplicate], || {
        format!("a claim without a digest over one with: {got:?}")
    })?;
    let e = claim(&q, "1").await?.ok_or("not handed out")?;
    ensure(e.sha256 == digest('b'), || {
        format!("pending A then B: handed out {:?}", e.sha256)
    })?;
    // Failed with B: C queues it again.
    let mut e = e;
    e.failure = Some("digest mismatch".into());
    io("fail", q.fail(&e).await)?;
    let got = enqueue(&q, vec![entry("1", Some('c'))]).await?;
    ensure(got == [Enqueued::Requeued], || {
        format!("a newer claim of a failed media: {got:?}")
    })?;
    let e = claim_within(&q, "1").await?.0;
    ensure(e.sha256 == digest('c') && e.failure.is_none(), || {
        format!("failed B then C: handed out {:?} {:?}", e.sha256, e.failure)
    })?;
    // Taken with C: D waits behind it, and is handed out once C is settled.
    let got = enqueue(&q, vec![entry("1", Some('d'))]).await?;
    ensure(got == [Enqueued::Requeued], || {
        format!("a newer claim of a taken media: {got:?}")
    })?;
    ensure(claim(&q, "1").await?.is_none(), || {
        "handed out while another worker holds it".into()
    })?;
    let mut c = e;
    c.failure = Some("digest mismatch".into());
    io("fail", q.fail(&c).await)?;
    let d = claim_within(&q, "1").await?.0;
    ensure(d.sha256 == digest('d'), || {
        format!("taken C, then D, C failed: handed out {:?}", d.sha256)
    })?;
    io("complete", q.complete(&d, &saved()).await)?;
    let c = counts(&q).await?;
    ensure(c == (0, 0, 0), || format!("D saved: counts {c:?}"))
}

async fn crashed_holders_entries_come_back<H: QueueHarness + ?Sized>(h: &H) -> Check {
    let s = h.storage().await;
    let q = h.open(&s).await;
    enqueue(&q, vec![entry("1", None), entry("2", None)]).await?;
    let mut e = claim(&q, "1").await?.ok_or("not handed out")?;
    e.attempts = 2;
    io("retry_later", q.retry_later(&e).await)?;
    let _held = claim_within(&q, "1").await?;
    // The crash: the instance goes without settling.
    drop(q);
    let q2 = h.open(&s).await;
    let (back, took) = claim_in(&q2, "1", h.takeover_bound()).await?;
    ensure(back.attempts >= 2, || {
        format!(
            "the attempts recorded before the crash were lost: {}",
            back.attempts
        )
    })?;
    let two = claim(&q2, "2").await?;
    ensure(two.is_some(), || {
        "an entry pending before the crash is not handed out after it".into()
    })?;
    eprintln!(
        "queue conformance: taken over after {} ms",
        took.as_millis()
    );
    Ok(())
}

async fn settled_entries_survive_a_crash<H: QueueHarness + ?Sized>(h: &H) -> Check {
    let s = h.storage().await;
    let q = h.open(&s).await;
    enqueue(
        &q,
        vec![entry("1", None), entry("2", None), entry("3", None)],
    )
    .await?;
    let a = claim(&q, "1").await?.ok_or("1 not handed out")?;
    io("complete", q.complete(&a, &saved()).await)?;
    let mut b = claim(&q, "2").await?.ok_or("2 not handed out")?;
    b.failure = Some("refused".into());
    io("fail", q.fail(&b).await)?;
    let mut c = claim(&q, "3").await?.ok_or("3 not handed out")?;
    let later = now_ms() + 600_000;
    c.not_before_ms = later;
    c.attempts = 1;
    io("retry_later", q.retry_later(&c).await)?;
    drop(q);
    let q = h.open(&s).await;
    io("reclaim", q.reclaim().await)?;
    let o1 = outcome(&q, "1").await?;
    ensure(matches!(o1, MediaOutcome::Saved(_)), || {
        format!("saved before the crash, after it: {o1:?}")
    })?;
    let o2 = outcome(&q, "2").await?;
    ensure(matches!(o2, MediaOutcome::Failed(_)), || {
        format!("failed before the crash, after it: {o2:?}")
    })?;
    let nb = io("not_before", q.not_before("3").await)?;
    ensure(nb == Some(later), || {
        format!("put back to retry at {later} before the crash, after it: {nb:?}")
    })?;
    let again = enqueue(&q, vec![entry("1", None)]).await?;
    ensure(again == [Enqueued::Duplicate], || {
        format!("a redelivery of a media saved before the crash: {again:?}")
    })?;
    let c = counts(&q).await?;
    ensure(c == (1, 0, 1), || format!("after the crash: counts {c:?}"))
}

async fn a_late_holder_changes_nothing<H: QueueHarness + ?Sized>(h: &H) -> Option<Check> {
    if !h.shared() {
        return None;
    }
    let s = h.storage().await;
    let slow = h.open_stalled(&s).await?;
    let q = h.open(&s).await;
    Some(
        async {
            enqueue(&q, vec![entry("1", None), entry("2", None)]).await?;
            let old1 = claim(&slow, "1").await?.ok_or("1 not handed out")?;
            let old2 = claim(&slow, "2").await?.ok_or("2 not handed out")?;
            // The stalled holder's leases expire: the live instance takes both over.
            let (new1, _) = claim_in(&q, "1", h.takeover_bound()).await?;
            io("complete", q.complete(&new1, &saved()).await)?;
            let (mut new2, _) = claim_in(&q, "2", h.takeover_bound()).await?;
            new2.attempts = 5;
            new2.not_before_ms = now_ms() + 600_000;
            io("retry_later", q.retry_later(&new2).await)?;
            // Now the late holder settles what it held.
            let mut late1 = old1.clone();
            late1.failure = Some("late".into());
            let _ = slow.fail(&late1).await;
            let _ = slow.retry_later(&old1).await;
            let o1 = outcome(&q, "1").await?;
            ensure(matches!(o1, MediaOutcome::Saved(_)), || {
                format!("saved by the new holder, then failed by the late one: {o1:?}")
            })?;
            let mut late2 = old2.clone();
            late2.failure = Some("late".into());
            let _ = slow.fail(&late2).await;
            let nb = io("not_before", q.not_before("2").await)?;
            ensure(nb == Some(new2.not_before_ms), || {
                format!(
                    "put back by the new holder, then failed by the late one: not_before {nb:?}"
                )
            })?;
            let c = counts(&q).await?;
            ensure(c == (1, 0, 0), || {
                format!("after the late holder's settling: counts {c:?}")
            })?;
            // A late save is a real save: recorded once.
            let _ = slow.complete(&old2, &saved()).await;
            let o2 = outcome(&q, "2").await?;
            ensure(matches!(o2, MediaOutcome::Saved(_)), || {
                format!("a late holder's save: {o2:?}")
            })
        }
        .await,
    )
}
