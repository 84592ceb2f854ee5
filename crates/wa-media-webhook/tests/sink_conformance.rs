//! The Sink conformance suite (`wa_media_testkit::sink_conformance`) on this crate's
//! `DirectorySink` and on the suite's in-memory reference sink: every rule of the `Sink`
//! contract holds. And the suite is shown to catch broken sinks: each broken variant of the
//! reference sink fails exactly the rules it breaks. (`wa-media-store` runs the suite on its
//! `ObjectStoreSink` over InMemory, a local directory and S3 on moto.)

use std::path::PathBuf;
use std::sync::Arc;

use wa_media_testkit::sink_conformance::memory::{Break, MemorySink};
use wa_media_testkit::sink_conformance::{self, Rule, SinkHarness};
use wa_media_webhook::{DirectorySink, SavedRecord, Sink};

/// `DirectorySink` in a temporary directory: every file but `index.jsonl` is a stored media
/// (temporary `.wa-part` files included: one left behind is a failure), and the index lines
/// are the records.
struct Directory {
    dir: tempfile::TempDir,
    sink: DirectorySink,
}

impl Directory {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sink = DirectorySink::new(dir.path().join("inbox")).unwrap();
        Self { dir, sink }
    }

    fn index(&self) -> PathBuf {
        self.dir.path().join("inbox/index.jsonl")
    }
}

#[async_trait::async_trait]
impl SinkHarness for Directory {
    fn sink(&self) -> Arc<dyn Sink> {
        Arc::new(self.sink.clone())
    }

    async fn stored(&self) -> Vec<(String, Vec<u8>)> {
        wa_media_testkit::fs::walk(&self.dir.path().join("inbox"))
            .into_iter()
            .filter(|p| *p != self.index())
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap_or_default();
                (p.to_string_lossy().into_owned(), bytes)
            })
            .collect()
    }

    async fn records(&self) -> Vec<SavedRecord> {
        std::fs::read_to_string(self.index())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("an index line is a SavedRecord"))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_sink_keeps_every_rule() {
    let report = sink_conformance::run(&Directory::new()).await;
    println!("{report}");
    report.assert_conforms();
    assert_eq!(report.passed(), Rule::ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_memory_sink_keeps_every_rule() {
    let report = sink_conformance::run(&MemorySink::new()).await;
    println!("{report}");
    report.assert_conforms();
    assert_eq!(report.passed(), Rule::ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_broken_sink_fails_exactly_the_rules_it_breaks() {
    for (breaks, rules) in [
        (
            Break::IgnoresTheWebhookDigest,
            vec![Rule::RefusesADigestThatDisagrees],
        ),
        (
            Break::WritesAsItDownloads,
            vec![Rule::AFailedTransferLeavesNothing],
        ),
        (
            Break::EveryFailureIsPermanent,
            vec![Rule::AFailedTransferLeavesNothing],
        ),
        (Break::StoresAgain, vec![Rule::SavingAgainIsIdempotent]),
        (Break::ReplacesByName, vec![Rule::NeverReplacesAnotherMedia]),
    ] {
        let report = sink_conformance::run(&MemorySink::broken(breaks)).await;
        assert_eq!(report.failed(), rules, "{breaks:?}:\n{report}");
        let panic = std::panic::catch_unwind(|| report.assert_conforms()).unwrap_err();
        let text = panic.downcast_ref::<String>().unwrap();
        assert!(text.contains(rules[0].name()), "{text}");
    }
}
