//! A webhook service for several business numbers fetches each inbound media with the settings
//! of the number that received it: one client, scoped per media by `InboundMedia.phone_number_id`
//! (`MediaApi::for_phone_number`, i.e. `with_phone_number_id`).

use std::sync::Arc;
use std::time::Duration;

use wa_media_emulator::{Emulator, Endpoint, InboundMessage};
use wa_media_types::webhook::{inbound_media, Notification};
use wa_media_types::PhoneNumberId;
use wa_media_webhook::{DirectorySink, Ingest, IngestConfig, IngestEvent, Spool, SpoolEntry};

const SHOP: &str = "106540352242922";
const SUPPORT: &str = "209876543210987";

fn jpeg(seed: u8) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend((0..2000).map(|i| (i as u8).wrapping_mul(31) ^ seed));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_media_is_fetched_for_the_number_that_received_it() {
    // Without the notifications' media `url` (downloaded without a retrieve, whatever the
    // number): this is about the retrieve, which is scoped to a number.
    let emu = Emulator::builder()
        .inbound_media_urls(false)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // One client, configured for SHOP and scoped: a retrieve names the number, and the API only
    // finds media of that number.
    let client = wa_media_hyper::builder()
        .token(emu.token())
        .phone_number_id(SHOP)
        .scope_to_phone_number(true)
        .graph_url(emu.graph_url())
        .trust_host(emu.lookaside_addr().to_string())
        .retry_policy(wa_media_core::RetryPolicy::none())
        .build()
        .unwrap();
    let ingest = Ingest::start(
        Spool::open(dir.path().join("spool")).unwrap(),
        Arc::new(client),
        Arc::new(DirectorySink::new(dir.path().join("inbox")).unwrap()),
        IngestConfig::default().retry(
            IngestConfig::default_retry()
                .with_max_attempts(1)
                .with_delays(Duration::from_millis(5), Duration::from_millis(5)),
        ),
    )
    .unwrap();
    let mut events = ingest.subscribe();

    // Media received by each number, and one whose entry lost its number (a control: fetched
    // with the client's own number, SHOP, it is not found).
    let mut entries = Vec::new();
    for (i, number) in [SHOP, SUPPORT, SUPPORT].into_iter().enumerate() {
        let msg = InboundMessage::new(jpeg(i as u8), "image/jpeg")
            .phone_number_id(number.parse::<PhoneNumberId>().unwrap());
        let sim = emu.simulate_inbound(msg).await.unwrap();
        let n = Notification::from_slice(sim.body.as_bytes()).unwrap();
        let media = inbound_media(&n);
        assert_eq!(media.len(), 1);
        assert_eq!(media[0].phone_number_id.as_deref(), Some(number));
        let mut entry = SpoolEntry::from_inbound(&media[0], 0, None);
        if i == 2 {
            entry.phone_number_id = None;
        }
        entries.push(entry);
    }
    ingest.admit(entries.clone()).await.unwrap();

    let (mut saved, mut failed) = (Vec::new(), Vec::new());
    while saved.len() + failed.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("ingest settles")
            .unwrap();
        match event {
            IngestEvent::Saved { entry, .. } => saved.push(entry.media_id),
            IngestEvent::Failed { entry } => failed.push(entry.media_id),
            _ => {}
        }
    }
    saved.sort();
    let mut want = vec![entries[0].media_id.clone(), entries[1].media_id.clone()];
    want.sort();
    assert_eq!(saved, want, "each number's media fetched for its number");
    assert_eq!(
        failed,
        [entries[2].media_id.clone()],
        "the control is not found for SHOP"
    );

    // One retrieve per media: the control's refusal is permanent, not retried.
    let retrieves: Vec<String> = emu
        .request_log()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::Retrieve))
        .map(|r| r.path)
        .collect();
    assert_eq!(retrieves.len(), 3, "{retrieves:?}");
    ingest.shutdown(Duration::from_secs(5)).await;
    emu.shutdown().await;
}
