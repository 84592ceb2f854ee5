//! The Queue conformance suite (`wa_media_testkit::queue_conformance`) on the Maildir spool
//! (`MaildirQueue`) and on the suite's in-memory reference queue: every rule of the `Queue`
//! contract holds. And the suite is shown to catch broken queues: each broken variant of the
//! reference queue fails the rule it breaks. (`wa-media-postgres` runs the suite on PostgreSQL.)

use std::sync::{Arc, Mutex, Weak};

use wa_media_testkit::queue_conformance::memory::{Break, MemoryHarness};
use wa_media_testkit::queue_conformance::{self, Outcome, QueueHarness, Rule};
use wa_media_webhook::{MaildirQueue, Queue};

/// The spool in a temporary directory. One process per spool: an instance is opened after the
/// previous one is gone (the suite drops it: its crash), so a second `open` while the first is
/// alive fails the check.
struct Maildir {
    last: Mutex<Weak<dyn Queue>>,
}

#[async_trait::async_trait]
impl QueueHarness for Maildir {
    type Storage = tempfile::TempDir;

    async fn storage(&self) -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    async fn open(&self, dir: &tempfile::TempDir) -> Arc<dyn Queue> {
        let q: Arc<dyn Queue> = Arc::new(MaildirQueue::open(dir.path().join("spool")).unwrap());
        *self.last.lock().unwrap() = Arc::downgrade(&q);
        q
    }

    fn shared(&self) -> bool {
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maildir_spool_keeps_every_rule() {
    let h = Maildir {
        last: Mutex::new(Weak::<MaildirQueue>::new()),
    };
    let report = queue_conformance::run(&h).await;
    eprintln!("{report}");
    report.assert_conforms();
    assert_eq!(
        report.outcome(Rule::ALateHolderChangesNothing),
        Some(&Outcome::NotApplicable(
            "one process per storage: no leases"
        ))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_queue_keeps_every_rule() {
    let report = queue_conformance::run(&MemoryHarness::new()).await;
    eprintln!("{report}");
    report.assert_conforms();
    assert_eq!(report.passed().len(), Rule::ALL.len(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_queue_fails_the_rules_it_breaks() {
    let cases = [
        (
            Break::NoDedup,
            vec![Rule::AdmitsEachMediaOnce, Rule::CompleteIsFinal],
        ),
        (Break::ClaimsTwice, vec![Rule::ClaimsEachEntryOnce]),
        (
            Break::ForgetsAttempts,
            vec![Rule::RetryLaterKeepsAttemptsAndBackoff],
        ),
        (
            Break::NeverTakesOver,
            vec![Rule::ACrashedHoldersEntriesComeBack],
        ),
        (Break::LateHolderWins, vec![Rule::ALateHolderChangesNothing]),
    ];
    for (breaks, rules) in cases {
        let report = queue_conformance::run(&MemoryHarness::broken(breaks)).await;
        for rule in &rules {
            assert!(
                report.failed().contains(rule),
                "{breaks:?} should fail {rule}:\n{report}"
            );
        }
    }
}
