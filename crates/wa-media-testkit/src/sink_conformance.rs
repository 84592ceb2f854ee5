//! The [`Sink`] conformance suite: every rule of the `Sink` contract (wa-media-webhook
//! `src/sink.rs`, "The contract"), each a named check that saves media of an emulator the suite
//! starts itself (the Graph API and the download host on 127.0.0.1, through the production
//! client) and then looks at what the sink stored, through a [`SinkHarness`].
//!
//! ```no_run
//! # async fn example(harness: impl wa_media_testkit::sink_conformance::SinkHarness) {
//! let report = wa_media_testkit::sink_conformance::run(&harness).await;
//! report.assert_conforms(); // panics naming every rule that failed, and why
//! # }
//! ```
//!
//! Each check waits on states (a save's result, an emulator fault taken), never on a clock
//! racing another clock: a check's only timer is its failure bound ([`STEP`]). [`memory`] holds
//! a reference sink in memory that keeps every rule, and broken variants that each break one,
//! to show the suite catches them.

use std::collections::HashSet;
use std::fmt;

pub use crate::suite::Outcome;
use crate::suite::{self, SuiteRule};
use std::sync::Arc;
use std::time::Duration;

use wa_media_core::{MediaApi, Retry, RetryPolicy, Retryable};
use wa_media_emulator::{Emulator, EmulatorHandle, Endpoint, Fault, InboundMessage};
use wa_media_types::webhook::{inbound_media, Notification};
use wa_media_types::Sha256Digest;
use wa_media_webhook::{SavedRecord, Sink, SpoolEntry};

pub mod memory;

/// How long a check waits for one step before it fails it.
pub const STEP: Duration = Duration::from_secs(20);

/// What the suite needs to look at a sink's storage: the sink, and what it holds.
#[async_trait::async_trait]
pub trait SinkHarness: Send + Sync {
    /// The sink under test (the same one every time).
    fn sink(&self) -> Arc<dyn Sink>;

    /// Every media the storage holds where media are found (files, objects; not records, not
    /// temporary uploads), as `(location, bytes)`, the location as [`wa_media_webhook::Saved`]
    /// reports it.
    async fn stored(&self) -> Vec<(String, Vec<u8>)>;

    /// Every record the sink keeps ([`SavedRecord`]: index lines, metadata objects).
    async fn records(&self) -> Vec<SavedRecord>;
}

/// One rule of the `Sink` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// "Verified": what is stored is the media, byte for byte, with the size and digest the
    /// save reports.
    SavesTheVerifiedMedia,
    /// "Verified": a media whose webhook digest disagrees is never stored, and the failure is
    /// `Retry::Never`.
    RefusesADigestThatDisagrees,
    /// "Whole or nothing" and "Honest failures": a transfer that fails (a truncated body) leaves
    /// nothing, and its failure may succeed later (not `Retry::Never`).
    AFailedTransferLeavesNothing,
    /// "Cancel-safe": a save dropped mid-download leaves nothing once `settle` returns, and the
    /// media is saved whole by the next attempt.
    ACancelledSaveLeavesNothing,
    /// "Idempotent": the same entry saved again is recognised (`already_present`, the same
    /// location) and stored once.
    SavingAgainIsIdempotent,
    /// "Never replaces another media": two media with one name are both kept, under two names.
    NeverReplacesAnotherMedia,
    /// "One record per media": a `SavedRecord` (version 1) per saved media, matching what was
    /// saved.
    RecordsEachMediaOnce,
}

impl Rule {
    /// Every rule, in the order the suite checks them.
    pub const ALL: [Rule; 7] = [
        Rule::SavesTheVerifiedMedia,
        Rule::RefusesADigestThatDisagrees,
        Rule::AFailedTransferLeavesNothing,
        Rule::ACancelledSaveLeavesNothing,
        Rule::SavingAgainIsIdempotent,
        Rule::NeverReplacesAnotherMedia,
        Rule::RecordsEachMediaOnce,
    ];

    /// The check's name, as reported.
    pub fn name(self) -> &'static str {
        match self {
            Rule::SavesTheVerifiedMedia => "saves_the_verified_media",
            Rule::RefusesADigestThatDisagrees => "refuses_a_digest_that_disagrees",
            Rule::AFailedTransferLeavesNothing => "a_failed_transfer_leaves_nothing",
            Rule::ACancelledSaveLeavesNothing => "a_cancelled_save_leaves_nothing",
            Rule::SavingAgainIsIdempotent => "saving_again_is_idempotent",
            Rule::NeverReplacesAnotherMedia => "never_replaces_another_media",
            Rule::RecordsEachMediaOnce => "records_each_media_once",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl SuiteRule for Rule {
    const SUBJECT: &'static str = "the sink";
    const SOURCE: &'static str = "the Sink contract";
}

/// Every rule's outcome.
pub type Report = suite::Report<Rule>;

/// Runs every check against `harness`'s sink, with one emulator for the whole run. Each check
/// saves media of its own, so the checks do not depend on each other's results.
pub async fn run<H: SinkHarness + ?Sized>(harness: &H) -> Report {
    let env = SuiteEnv::start().await;
    let mut report = Report::default();
    for rule in Rule::ALL {
        let outcome = check_in(&env, harness, rule).await;
        report.outcomes.push((rule, outcome));
    }
    report
}

/// Runs the check of one rule (with an emulator of its own).
pub async fn check<H: SinkHarness + ?Sized>(harness: &H, rule: Rule) -> Outcome {
    check_in(&SuiteEnv::start().await, harness, rule).await
}

async fn check_in<H: SinkHarness + ?Sized>(env: &SuiteEnv, h: &H, rule: Rule) -> Outcome {
    let result = match rule {
        Rule::SavesTheVerifiedMedia => saves_the_verified_media(env, h).await,
        Rule::RefusesADigestThatDisagrees => refuses_a_digest_that_disagrees(env, h).await,
        Rule::AFailedTransferLeavesNothing => a_failed_transfer_leaves_nothing(env, h).await,
        Rule::ACancelledSaveLeavesNothing => a_cancelled_save_leaves_nothing(env, h).await,
        Rule::SavingAgainIsIdempotent => saving_again_is_idempotent(env, h).await,
        Rule::NeverReplacesAnotherMedia => never_replaces_another_media(env, h).await,
        Rule::RecordsEachMediaOnce => records_each_media_once(env, h).await,
    };
    result.into()
}

use crate::suite::{ensure, Check};

async fn step<T>(what: &str, fut: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(STEP, fut)
        .await
        .map_err(|_| format!("{what} did not finish within {STEP:?}"))
}

/// The emulator and the client every check of one run uses.
struct SuiteEnv {
    emu: EmulatorHandle,
    api: Arc<dyn MediaApi>,
}

/// One media of the emulator, as a spool entry.
struct Media {
    entry: SpoolEntry,
    bytes: Vec<u8>,
}

impl SuiteEnv {
    async fn start() -> Self {
        let emu = Emulator::builder()
            .start()
            .await
            .expect("the emulator starts");
        // No retries inside the client: a check sees each failure as the sink does.
        let api: Arc<dyn MediaApi> = Arc::new(
            crate::client::emulator_builder(&emu)
                .retry_policy(RetryPolicy::none())
                .build()
                .expect("a client for the emulator"),
        );
        Self { emu, api }
    }

    /// A new media of the emulator (distinct bytes each time) and its spool entry, as the
    /// webhook service would spool it.
    async fn media(&self, message: InboundMessage) -> Media {
        let bytes = message.bytes.to_vec();
        let sim = self
            .emu
            .simulate_inbound(message)
            .await
            .expect("the emulator takes the media");
        let n: Notification =
            serde_json::from_value(sim.notification).expect("the emulator's notification parses");
        let m = inbound_media(&n)
            .into_iter()
            .next()
            .expect("one media in the notification");
        Media {
            entry: SpoolEntry::received_now(&m, None),
            bytes,
        }
    }

    async fn jpeg(&self, len: usize) -> Media {
        self.media(InboundMessage::new(
            unique_bytes(len, b"\xFF\xD8\xFF\xE0"),
            "image/jpeg",
        ))
        .await
    }
}

/// `len` bytes starting with `magic`, never the same twice in a process.
fn unique_bytes(len: usize, magic: &[u8]) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let seed = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut v = magic.to_vec();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < len.max(magic.len() + 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    v.truncate(len.max(magic.len() + 8));
    v
}

/// The locations holding exactly `bytes`.
async fn locations_of<H: SinkHarness + ?Sized>(h: &H, bytes: &[u8]) -> Vec<String> {
    h.stored()
        .await
        .into_iter()
        .filter(|(_, b)| b == bytes)
        .map(|(l, _)| l)
        .collect()
}

/// Stored media that are neither in `before` nor complete media of the emulator: partial or
/// unverified leftovers.
async fn new_locations<H: SinkHarness + ?Sized>(h: &H, before: &HashSet<String>) -> Vec<String> {
    h.stored()
        .await
        .into_iter()
        .map(|(l, _)| l)
        .filter(|l| !before.contains(l))
        .collect()
}

async fn snapshot<H: SinkHarness + ?Sized>(h: &H) -> HashSet<String> {
    h.stored().await.into_iter().map(|(l, _)| l).collect()
}

async fn saves_the_verified_media<H: SinkHarness + ?Sized>(env: &SuiteEnv, h: &H) -> Check {
    let m = env.jpeg(70_000).await;
    let saved = step("the save", h.sink().save(env.api.clone(), &m.entry))
        .await?
        .map_err(|e| format!("the save failed: {}", wa_media_core::error_chain(&e)))?;
    let want = Sha256Digest::of(&m.bytes);
    ensure(
        saved.sha256 == want && saved.file_size == m.bytes.len() as u64,
        || {
            format!(
                "the save reports {} bytes with sha256 {}, the media has {} bytes with {want}",
                saved.file_size,
                saved.sha256,
                m.bytes.len()
            )
        },
    )?;
    let at = locations_of(h, &m.bytes).await;
    ensure(at == [saved.location.clone()], || {
        format!(
            "the media's bytes are stored at {at:?}, the save reported {}",
            saved.location
        )
    })
}

async fn refuses_a_digest_that_disagrees<H: SinkHarness + ?Sized>(env: &SuiteEnv, h: &H) -> Check {
    let mut m = env.jpeg(20_000).await;
    m.entry.sha256 = Some(Sha256Digest::of(b"another media"));
    let before = snapshot(h).await;
    let result = step("the save", h.sink().save(env.api.clone(), &m.entry)).await?;
    let Err(e) = result else {
        return Err("a media whose webhook digest disagrees was saved".to_owned());
    };
    ensure(e.retry() == Retry::Never, || {
        format!(
            "a digest that disagrees failed as {:?}, not Never (it would be retried for ever): {}",
            e.retry(),
            wa_media_core::error_chain(&e)
        )
    })?;
    let left = new_locations(h, &before).await;
    ensure(left.is_empty(), || {
        format!("the refused media left {left:?} in the storage")
    })
}

async fn a_failed_transfer_leaves_nothing<H: SinkHarness + ?Sized>(env: &SuiteEnv, h: &H) -> Check {
    let m = env.jpeg(200_000).await;
    let before = snapshot(h).await;
    // Every download of this attempt is cut short (more than any restart budget).
    env.emu
        .faults()
        .push(Endpoint::Download, Fault::TruncatedBody, 50);
    let result = step("the save", h.sink().save(env.api.clone(), &m.entry)).await;
    env.emu.faults().clear();
    let Err(e) = result? else {
        return Err("a save whose every download was truncated succeeded".to_owned());
    };
    ensure(e.retry().may_succeed(), || {
        format!(
            "a truncated download failed as Never (it would never be retried): {}",
            wa_media_core::error_chain(&e)
        )
    })?;
    let left = new_locations(h, &before).await;
    ensure(left.is_empty(), || {
        format!("the failed transfer left {left:?} in the storage")
    })
}

async fn a_cancelled_save_leaves_nothing<H: SinkHarness + ?Sized>(env: &SuiteEnv, h: &H) -> Check {
    let m = env.jpeg(300_000).await;
    let before = snapshot(h).await;
    // The download host holds its answer back until the save is dropped.
    env.emu
        .faults()
        .push(Endpoint::Download, Fault::Delay { millis: 60_000 }, 1);
    let sink = h.sink();
    // Boxed, so that dropping it below really drops the save (a pinned local would live on).
    let mut save = Box::pin(sink.save(env.api.clone(), &m.entry));
    let faults = env.emu.faults();
    let taken = async {
        while !faults.pending().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        r = &mut save => {
            env.emu.faults().clear();
            return Err(format!("the save ended before the held download ({:?})", r.map(|s| s.location)));
        }
        r = tokio::time::timeout(STEP, taken) => {
            if r.is_err() {
                env.emu.faults().clear();
                return Err("the save never asked for the download".to_owned());
            }
        }
    }
    drop(save);
    let settled = step("settle", sink.settle(STEP)).await?;
    ensure(settled, || {
        "settle gave up waiting for the cut-off save".to_owned()
    })?;
    let left = new_locations(h, &before).await;
    ensure(left.is_empty(), || {
        format!("the cancelled save left {left:?} in the storage")
    })?;
    // The next attempt saves it whole.
    let saved = step(
        "the save after the cancel",
        sink.save(env.api.clone(), &m.entry),
    )
    .await?
    .map_err(|e| {
        format!(
            "the save after the cancel failed: {}",
            wa_media_core::error_chain(&e)
        )
    })?;
    let at = locations_of(h, &m.bytes).await;
    ensure(at == [saved.location.clone()], || {
        format!(
            "after the cancel the media is at {at:?}, the save reported {}",
            saved.location
        )
    })
}

async fn saving_again_is_idempotent<H: SinkHarness + ?Sized>(env: &SuiteEnv, h: &H) -> Check {
    let m = env.jpeg(30_000).await;
    let first = step("the first save", h.sink().save(env.api.clone(), &m.entry))
        .await?
        .map_err(|e| format!("the first save failed: {}", wa_media_core::error_chain(&e)))?;
    let second = step("the second save", h.sink().save(env.api.clone(), &m.entry))
        .await?
        .map_err(|e| format!("the second save failed: {}", wa_media_core::error_chain(&e)))?;
    ensure(
        second.already_present && second.location == first.location,
        || {
            format!(
                "saved again, the media was not recognised: first at {}, then at {} (already_present {})",
                first.location, second.location, second.already_present
            )
        },
    )?;
    let at = locations_of(h, &m.bytes).await;
    ensure(at.len() == 1, || {
        format!("the media is stored {} times: {at:?}", at.len())
    })?;
    let records = h.records().await;
    let mine = records
        .iter()
        .filter(|r| r.media_id == m.entry.media_id.as_str())
        .count();
    ensure(mine == 1, || {
        format!("the media has {mine} records after two saves")
    })
}

async fn never_replaces_another_media<H: SinkHarness + ?Sized>(env: &SuiteEnv, h: &H) -> Check {
    let name = format!(
        "invoice-{}.pdf",
        unique_bytes(9, b"")[0..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let doc = |bytes: Vec<u8>| {
        let mut msg = InboundMessage::new(bytes, "application/pdf");
        msg.filename = Some(name.clone());
        msg
    };
    let a = env.media(doc(unique_bytes(12_000, b"%PDF-1.7\n"))).await;
    let b = env.media(doc(unique_bytes(13_000, b"%PDF-1.7\n"))).await;
    let mut locations = Vec::new();
    for m in [&a, &b] {
        let saved = step("a save", h.sink().save(env.api.clone(), &m.entry))
            .await?
            .map_err(|e| format!("a save failed: {}", wa_media_core::error_chain(&e)))?;
        locations.push(saved.location);
    }
    ensure(locations[0] != locations[1], || {
        format!(
            "two media named {name} were saved at one location, {}",
            locations[0]
        )
    })?;
    for (m, at) in [(&a, &locations[0]), (&b, &locations[1])] {
        let found = locations_of(h, &m.bytes).await;
        ensure(found == [at.clone()], || {
            format!("a media named {name} is at {found:?}, its save reported {at}: one replaced the other")
        })?;
    }
    Ok(())
}

async fn records_each_media_once<H: SinkHarness + ?Sized>(env: &SuiteEnv, h: &H) -> Check {
    let mut message = InboundMessage::new(unique_bytes(8_000, b"\xFF\xD8\xFF\xE0"), "image/jpeg");
    message.caption = Some("the record's caption".into());
    let m = env.media(message).await;
    let saved = step("the save", h.sink().save(env.api.clone(), &m.entry))
        .await?
        .map_err(|e| format!("the save failed: {}", wa_media_core::error_chain(&e)))?;
    let records = h.records().await;
    let mine: Vec<&SavedRecord> = records
        .iter()
        .filter(|r| r.media_id == m.entry.media_id.as_str())
        .collect();
    let [r] = mine.as_slice() else {
        return Err(format!(
            "{} records for one saved media: {mine:?}",
            mine.len()
        ));
    };
    let want_sha = Sha256Digest::of(&m.bytes).to_hex();
    ensure(
        r.v == wa_media_webhook::RECORD_VERSION
            && r.path == saved.location
            && r.sha256 == want_sha
            && r.file_size == m.bytes.len() as u64
            && r.message_id == m.entry.message_id
            && r.kind == m.entry.kind
            && r.caption == m.entry.caption
            && r.from == m.entry.from,
        || format!("the record does not match the save ({saved:?}): {r:?}"),
    )
}
