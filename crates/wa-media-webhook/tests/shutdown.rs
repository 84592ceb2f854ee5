//! `Ingest::shutdown` cutting off a save that outlives the grace period: the save's future is
//! dropped, and the clean-up it starts in the background on drop (an object store's multipart
//! abort, say) has finished when `shutdown` returns, through `Sink::settle`; a sink whose
//! clean-up never ends holds the shutdown no longer than `IngestConfig::settle_timeout`. The
//! entry stays in the spool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wa_media_core::MediaApi;
use wa_media_emulator::{Emulator, EmulatorHandle, InboundMessage};
use wa_media_types::webhook::{inbound_media, Notification};
use wa_media_webhook::{Ingest, IngestConfig, Saved, Sink, SinkError, Spool, SpoolEntry};

/// A sink whose save never ends; dropped, it spawns a clean-up taking `cleanup` (forever when
/// `None`), which `settle` waits for.
#[derive(Debug)]
struct StallingSink {
    cleanup: Option<Duration>,
    started: Arc<tokio::sync::Notify>,
    cleaned: Arc<AtomicBool>,
    done: tokio::sync::watch::Sender<bool>,
}

struct OnDrop {
    cleanup: Option<Duration>,
    cleaned: Arc<AtomicBool>,
    done: tokio::sync::watch::Sender<bool>,
}

impl Drop for OnDrop {
    fn drop(&mut self) {
        let (cleanup, cleaned, done) = (self.cleanup, self.cleaned.clone(), self.done.clone());
        tokio::runtime::Handle::current().spawn(async move {
            match cleanup {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
            cleaned.store(true, Ordering::SeqCst);
            done.send_replace(true);
        });
    }
}

#[async_trait::async_trait]
impl Sink for StallingSink {
    async fn save(&self, _api: Arc<dyn MediaApi>, _entry: &SpoolEntry) -> Result<Saved, SinkError> {
        let _guard = OnDrop {
            cleanup: self.cleanup,
            cleaned: self.cleaned.clone(),
            done: self.done.clone(),
        };
        self.started.notify_one();
        std::future::pending().await
    }

    async fn settle(&self, within: Duration) -> bool {
        let mut rx = self.done.subscribe();
        let settled = tokio::time::timeout(within, rx.wait_for(|d| *d))
            .await
            .is_ok();
        settled
    }
}

/// An ingest on `sink` with one media admitted and its save running.
async fn running_save(
    sink: Arc<StallingSink>,
    config: IngestConfig,
) -> (Ingest, tempfile::TempDir, EmulatorHandle) {
    let emu = Emulator::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = wa_media_hyper::builder()
        .token(emu.token())
        .graph_url(emu.graph_url())
        .build()
        .unwrap();
    let ingest = Ingest::start(
        Spool::open(dir.path().join("spool")).unwrap(),
        Arc::new(client),
        sink.clone(),
        config,
    )
    .unwrap();
    let sim = emu
        .simulate_inbound(InboundMessage::new(
            b"%PDF-1.7\n".repeat(100),
            "application/pdf",
        ))
        .await
        .unwrap();
    let n = Notification::from_slice(sim.body.as_bytes()).unwrap();
    let entry = SpoolEntry::from_inbound(&inbound_media(&n)[0], 0, None);
    ingest.admit(vec![entry]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), sink.started.notified())
        .await
        .expect("the save started");
    (ingest, dir, emu)
}

fn sink(cleanup: Option<Duration>) -> Arc<StallingSink> {
    Arc::new(StallingSink {
        cleanup,
        started: Arc::new(tokio::sync::Notify::new()),
        cleaned: Arc::new(AtomicBool::new(false)),
        done: tokio::sync::watch::channel(false).0,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_cut_off_at_shutdown_has_its_background_cleanup_finished_when_shutdown_returns() {
    let sink = sink(Some(Duration::from_millis(300)));
    let (ingest, _dir, emu) = running_save(sink.clone(), IngestConfig::default()).await;
    let finished = tokio::time::timeout(
        Duration::from_secs(20),
        ingest.shutdown(Duration::from_millis(100)),
    )
    .await
    .expect("shutdown is bounded");
    assert!(!finished, "the save was cut off");
    assert!(
        sink.cleaned.load(Ordering::SeqCst),
        "shutdown returned before the cut-off save's clean-up finished"
    );
    assert_eq!(ingest.spool().counts().unwrap(), (1, 0), "the entry stays");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cleanup_that_never_ends_holds_shutdown_no_longer_than_the_settle_timeout() {
    let sink = sink(None);
    let config = IngestConfig::default().settle_timeout(Duration::from_millis(500));
    let (ingest, _dir, emu) = running_save(sink.clone(), config).await;
    let started = Instant::now();
    let finished = tokio::time::timeout(
        Duration::from_secs(20),
        ingest.shutdown(Duration::from_millis(100)),
    )
    .await
    .expect("shutdown is bounded");
    let took = started.elapsed();
    assert!(!finished);
    assert!(!sink.cleaned.load(Ordering::SeqCst));
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(ingest.spool().counts().unwrap(), (1, 0), "the entry stays");
    emu.shutdown().await;
}
