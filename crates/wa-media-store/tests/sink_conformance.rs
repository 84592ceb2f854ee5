//! The Sink conformance suite (`wa_media_testkit::sink_conformance`) on `ObjectStoreSink` over
//! the three stores it is used with: InMemory, a local directory (`LocalFileSystem`), and S3
//! (moto's server on 127.0.0.1). What the store holds under the prefix is what the suite sees:
//! every object outside `.meta/` is a stored media, a pending multipart upload or a staging
//! file is a leftover (reported as a stored location, so one left behind fails the check), and
//! the `saved` metadata objects are the records.

use std::sync::Arc;

use futures_util::StreamExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use wa_media_store::ObjectStoreSink;
use wa_media_testkit::moto::{s3_store, Moto};
use wa_media_testkit::sink_conformance::{self, Rule, SinkHarness};
use wa_media_webhook::{SavedRecord, Sink};

struct Store {
    store: Arc<dyn ObjectStore>,
    sink: Arc<ObjectStoreSink>,
    /// What an interrupted upload may have left (pending multipart uploads, staging files).
    leftovers: Box<dyn Fn() -> Vec<String> + Send + Sync>,
}

impl Store {
    fn new(
        store: Arc<dyn ObjectStore>,
        leftovers: Box<dyn Fn() -> Vec<String> + Send + Sync>,
    ) -> Self {
        let sink = Arc::new(ObjectStoreSink::new(store.clone(), Path::from("inbound")));
        Self {
            store,
            sink,
            leftovers,
        }
    }

    /// Every object under the prefix, with its bytes.
    async fn objects(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut list = self.store.list(Some(&Path::from("inbound")));
        while let Some(meta) = list.next().await {
            let meta = meta.expect("the store lists");
            let bytes = self
                .store
                .get(&meta.location)
                .await
                .expect("a listed object can be read")
                .bytes()
                .await
                .expect("its bytes arrive");
            out.push((meta.location.to_string(), bytes.to_vec()));
        }
        out
    }
}

#[async_trait::async_trait]
impl SinkHarness for Store {
    fn sink(&self) -> Arc<dyn Sink> {
        self.sink.clone()
    }

    async fn stored(&self) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = self
            .objects()
            .await
            .into_iter()
            .filter(|(k, _)| !k.contains("/.meta/"))
            .collect();
        out.extend(
            (self.leftovers)()
                .into_iter()
                .map(|l| (format!("leftover: {l}"), Vec::new())),
        );
        out
    }

    async fn records(&self) -> Vec<SavedRecord> {
        self.objects()
            .await
            .into_iter()
            .filter(|(k, _)| k.contains("/.meta/"))
            .filter_map(|(_, b)| {
                let v: serde_json::Value = serde_json::from_slice(&b).ok()?;
                (v["state"] == "saved").then(|| serde_json::from_value(v).expect("a record"))
            })
            .collect()
    }
}

async fn keeps_every_rule(h: &Store) {
    let report = sink_conformance::run(h).await;
    println!("{report}");
    report.assert_conforms();
    assert_eq!(report.passed(), Rule::ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_sink_on_in_memory_keeps_every_rule() {
    keeps_every_rule(&Store::new(Arc::new(InMemory::new()), Box::new(Vec::new))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_sink_on_a_local_directory_keeps_every_rule() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let store = object_store::local::LocalFileSystem::new_with_prefix(dir.path())
        .unwrap()
        .with_automatic_cleanup(true);
    // Staging files of an interrupted multipart upload are named `NAME#N`.
    let staging = move || {
        wa_media_testkit::fs::walk(&root)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains('#'))
            .map(|p| p.display().to_string())
            .collect()
    };
    keeps_every_rule(&Store::new(Arc::new(store), Box::new(staging))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_sink_on_s3_keeps_every_rule() {
    const BUCKET: &str = "wa-media-sink-suite";
    let Some(moto) = Moto::start_or_skip("object_store_sink_on_s3_keeps_every_rule") else {
        return;
    };
    let moto = Arc::new(moto);
    moto.create_bucket(BUCKET);
    let m = moto.clone();
    let store = Store::new(
        Arc::new(s3_store(&moto.endpoint(), BUCKET)),
        Box::new(move || m.pending_multipart_uploads(BUCKET)),
    );
    keeps_every_rule(&store).await;
}
