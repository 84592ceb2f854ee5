//! The webhook service end to end over real sockets: Meta's handshake, signatures over the raw
//! bytes, durable spooling before the 200, exactly-once files under redelivery and restarts,
//! digest mismatches and expiry into failed/, hostile input answered 4xx, handler errors
//! answered 500, and a burst under random faults.

mod common;

use std::time::Duration;

use common::*;
use wa_media_emulator::{Endpoint, Fault, InboundMessage};
use wa_media_webhook::IngestConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_answers_the_challenge_only_to_the_right_token() {
    let h = Harness::start().await;
    let ok = h
        .get(&format!(
            "?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1158201444"
        ))
        .await;
    assert_eq!(ok, (200, "1158201444".to_owned()));
    for q in [
        "?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        &format!("?hub.mode=unsubscribe&hub.verify_token={VERIFY}&hub.challenge=1"),
        &format!("?hub.mode=subscribe&hub.verify_token={VERIFY}"),
        "",
    ] {
        assert_eq!(h.get(q).await.0, 403, "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_delivery_is_spooled_then_saved_verified_with_an_index_line() {
    let h = Harness::start().await;
    let bytes = jpeg(40_000, 1);
    let sim = h
        .simulate(InboundMessage::new(bytes.clone(), "image/jpeg").caption("receipt"))
        .await;
    assert_eq!(h.deliver(&sim.body).await.0, 200);
    h.settle(1).await;
    let files = h.files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), bytes);
    // DIR/YYYY-MM-DD/<message id>.jpg
    let day = files[0]
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(day.len(), 10, "{day}");
    assert!(files[0].extension().is_some_and(|e| e == "jpg"));
    let index = h.index();
    assert_eq!(index.len(), 1);
    assert_eq!(index[0]["media_id"], sim.media_id.as_str());
    assert_eq!(index[0]["caption"], "receipt");
    assert_eq!(index[0]["file_size"], bytes.len());
    assert_eq!(index[0]["path"], files[0].to_str().unwrap());
    assert!(h.spooled("new").is_empty() && h.spooled("cur").is_empty());
    assert_eq!(h.spooled("done").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_missing_truncated_or_altered_signatures_spool_and_download_nothing() {
    let h = Harness::start().await;
    let sim = h
        .simulate(InboundMessage::new(jpeg(1000, 2), "image/jpeg"))
        .await;
    let good = wa_media_types::signature_header(SECRET.as_bytes(), sim.body.as_bytes());
    let forged = wa_media_types::signature_header(b"not-the-secret", sim.body.as_bytes());
    let mut altered = sim.body.clone().into_bytes();
    let i = altered.iter().position(|b| *b == b'1').unwrap();
    altered[i] = b'2';
    let cases: Vec<(&str, Vec<u8>, Option<String>, u16)> = vec![
        ("forged", sim.body.clone().into_bytes(), Some(forged), 403),
        ("missing", sim.body.clone().into_bytes(), None, 401),
        (
            "truncated",
            sim.body.clone().into_bytes(),
            Some(good[..good.len() - 2].to_owned()),
            403,
        ),
        (
            "no prefix",
            sim.body.clone().into_bytes(),
            Some(good[7..].to_owned()),
            403,
        ),
        ("body changed by one byte", altered, Some(good.clone()), 403),
    ];
    for (name, body, sig, want) in cases {
        let (status, _) = h.post(body, sig.as_deref()).await;
        assert_eq!(status, want, "{name}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(h.spooled("new").is_empty() && h.spooled("cur").is_empty());
    assert_eq!(h.fetches(), 0, "something was downloaded");
    assert!(h.files().is_empty());
    // The genuine one still goes through.
    assert_eq!(h.post(sim.body.clone(), Some(&good)).await.0, 200);
    h.settle(1).await;
    assert_eq!(h.files().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_and_a_restart_give_one_file_and_one_index_line() {
    let h = Harness::start().await;
    let sim = h
        .simulate(
            InboundMessage::new(b"%PDF-1.4 invoice".to_vec(), "application/pdf")
                .filename("invoice.pdf"),
        )
        .await;
    for _ in 0..3 {
        assert_eq!(h.deliver(&sim.body).await.0, 200);
    }
    h.settle(1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (saved, failed, _) = h.service.ingest().stats();
    assert_eq!((saved, failed), (1, 0));
    let (emu, dir) = h.stop().await;
    let h = Harness::on(emu, dir, fast(), None).await;
    assert_eq!(h.deliver(&sim.body).await.0, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        h.service.ingest().stats().0,
        0,
        "downloaded again after the restart"
    );
    let files = h.files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with("invoice.pdf"));
    assert_eq!(h.index().len(), 1);
    let downloads = h
        .emu
        .request_log()
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::Download))
        .count();
    assert_eq!(downloads, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_left_in_the_spool_by_a_stopped_service_are_saved_after_the_restart() {
    let h = Harness::start().await;
    // Every download is held back long enough for the service to be stopped first.
    h.emu
        .faults()
        .push(Endpoint::Download, Fault::Delay { millis: 3_000 }, 2);
    let sims = [
        h.simulate(InboundMessage::new(jpeg(5000, 3), "image/jpeg"))
            .await,
        h.simulate(InboundMessage::new(jpeg(6000, 4), "image/jpeg"))
            .await,
    ];
    for s in &sims {
        assert_eq!(h.deliver(&s.body).await.0, 200);
    }
    // Acknowledged: both durable in the spool. Stop without waiting for the downloads.
    h.service.drain();
    assert_eq!(
        h.deliver(&sims[0].body).await.0,
        503,
        "a draining service answers 503"
    );
    h.service.ingest().shutdown(Duration::ZERO).await;
    let (emu, dir) = h.stop().await;
    emu.faults().clear();
    let h = Harness::on(emu, dir, fast(), None).await;
    h.settle(2).await;
    assert_eq!(h.files().len(), 2);
    assert_eq!(h.index().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_digest_that_disagrees_goes_to_failed_and_nothing_reaches_the_inbox() {
    let h = Harness::start().await;
    let sim = h
        .simulate(InboundMessage::new(jpeg(3000, 5), "image/jpeg"))
        .await;
    let mut n = sim.notification.clone();
    let wrong = wa_media_types::Sha256Digest::of(b"another media").to_base64();
    n["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["sha256"] = wrong.into();
    // Without the media `url` (whose bytes would fail the wrong digest and fall back to the
    // retrieve): the retrieve answer's disagreement alone is under test here.
    n["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
        .as_object_mut()
        .unwrap()
        .remove("url");
    assert_eq!(h.deliver(&n.to_string()).await.0, 200);
    h.settle(1).await;
    let failed = h.spooled("failed");
    assert_eq!(failed.len(), 1);
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&failed[0]).unwrap()).unwrap();
    assert!(
        entry["failure"]
            .as_str()
            .unwrap()
            .contains("digest mismatch"),
        "{entry}"
    );
    assert!(h.files().is_empty(), "{:?}", h.files());
    assert!(h.index().is_empty());
    let left: Vec<_> = std::fs::read_dir(h.inbox()).unwrap().collect();
    assert!(left.is_empty(), "the inbox holds {left:?}");
    assert_eq!(
        h.emu
            .request_log()
            .iter()
            .filter(|r| r.endpoint == Some(Endpoint::Download))
            .count(),
        0,
        "downloaded although the retrieve answer disagreed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_expired_in_the_emulator_is_failed_as_expired_after_bounded_attempts() {
    let h = Harness::start().await;
    let sim = h
        .simulate(InboundMessage::new(jpeg(3000, 6), "image/jpeg"))
        .await;
    h.emu
        .advance_clock(Duration::from_secs(8 * 24 * 3600))
        .unwrap();
    assert_eq!(h.deliver(&sim.body).await.0, 200);
    h.settle(1).await;
    let failed = h.spooled("failed");
    assert_eq!(failed.len(), 1);
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&failed[0]).unwrap()).unwrap();
    assert!(
        entry["failure"].as_str().unwrap().contains("expired"),
        "{entry}"
    );
    assert!(entry["attempts"].as_u64().unwrap() <= 8, "{entry}");
    assert!(h.files().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_older_than_seven_days_is_failed_without_a_request() {
    let h = Harness::start().await;
    let sim = h
        .simulate(InboundMessage::new(jpeg(100, 7), "image/jpeg"))
        .await;
    let mut n = sim.notification.clone();
    let old = (std::time::SystemTime::now() - Duration::from_secs(8 * 86_400))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    n["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = old.to_string().into();
    h.emu.clear_request_log();
    assert_eq!(h.deliver(&n.to_string()).await.0, 200);
    h.settle(1).await;
    let entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&h.spooled("failed")[0]).unwrap()).unwrap();
    assert!(
        entry["failure"].as_str().unwrap().starts_with("expired"),
        "{entry}"
    );
    assert_eq!(h.fetches(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_a_4xx_and_the_service_keeps_answering() {
    let h = Harness::start().await;
    let big = vec![b' '; 10 * 1024 * 1024];
    let sig = |b: &[u8]| wa_media_types::signature_header(SECRET.as_bytes(), b);
    // 413 before the body is read; the server may close while the client still sends, so a
    // broken connection (no answer at all) is the other acceptable outcome — never a 2xx/5xx.
    match h.try_post_signed(big).await {
        Ok((status, _)) => assert_eq!(status, 413),
        Err(e) => eprintln!("the 10 MB body was cut off before an answer was read: {e}"),
    }
    for body in [
        b"not json at all".to_vec(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        br#"{"object":"page","entry":[]}"#.to_vec(),
        br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[{"id":"m","type":"image","image":{"id":"me"}}]}}]}]}"#.to_vec(),
    ] {
        let (status, _) = h.post(body.clone(), Some(&sig(&body))).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body[..body.len().min(80)]));
    }
    // Hostile document filenames land inside the inbox.
    let mut sims = Vec::new();
    for name in [
        "../../etc/passwd",
        "/etc/shadow",
        "-rf",
        "CON",
        "..",
        "a\nb.pdf",
    ] {
        let sim = h
            .simulate(InboundMessage::new(b"%PDF-1.4 x".to_vec(), "application/pdf").filename(name))
            .await;
        assert_eq!(h.deliver(&sim.body).await.0, 200);
        sims.push(sim);
    }
    h.settle(sims.len() as u64).await;
    let files = h.files();
    assert_eq!(files.len(), sims.len(), "{files:?}");
    for f in &files {
        let rel = f.strip_prefix(h.inbox()).unwrap();
        assert_eq!(rel.components().count(), 2, "{f:?}");
        let name = f.file_name().unwrap().to_str().unwrap();
        assert!(!name.starts_with('.') && !name.starts_with('-'), "{name}");
    }
    assert_eq!(
        h.get(&format!(
            "?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=ok"
        ))
        .await
        .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_answers_500_and_the_redelivery_is_processed_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let handler = move |_: &wa_media_types::webhook::Notification| -> Result<(), wa_media_webhook::HandlerError> {
        if c2.fetch_add(1, Ordering::SeqCst) == 0 {
            Err("the database is down".into())
        } else {
            Ok(())
        }
    };
    let h = Harness::start_with(fast(), Some(Box::new(handler))).await;
    let sim = h
        .simulate(InboundMessage::new(jpeg(2000, 8), "image/jpeg"))
        .await;
    // The image plus a text message in the same notification.
    let mut n = sim.notification.clone();
    let text = serde_json::json!({"from":"16505551234","id":"wamid.TEXT","timestamp":"1749416383","type":"text","text":{"body":"hi"}});
    n["entry"][0]["changes"][0]["value"]["messages"]
        .as_array_mut()
        .unwrap()
        .push(text);
    let body = n.to_string();
    assert_eq!(h.deliver(&body).await.0, 500);
    assert_eq!(h.deliver(&body).await.0, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    h.settle(1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        h.service.ingest().stats().0,
        1,
        "the media was fetched twice"
    );
    assert_eq!(h.files().len(), 1);
    // A media-only notification does not reach the handler.
    let only_media = h
        .simulate(InboundMessage::new(jpeg(100, 9), "image/jpeg"))
        .await;
    assert_eq!(h.deliver(&only_media.body).await.0, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_media_under_random_faults_is_saved_whole() {
    let h = Harness::start_with(
        IngestConfig::default().concurrency(16).retry(
            IngestConfig::default_retry()
                .with_max_attempts(20)
                .with_delays(Duration::from_millis(2), Duration::from_millis(20)),
        ),
        None,
    )
    .await;
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let faults = [
        Fault::RateLimited {
            retry_after_secs: 0,
        },
        Fault::ServerError { status: 503 },
        Fault::ResetMidBody,
        Fault::TruncatedBody,
    ];
    for _ in 0..150 {
        let ep = if rng.bool() {
            Endpoint::Retrieve
        } else {
            Endpoint::Download
        };
        h.emu
            .faults()
            .push(ep, faults[rng.usize(..faults.len())].clone(), 1);
    }
    let mut expected = std::collections::HashMap::new();
    for n in 0..100 {
        let mut merged: Option<serde_json::Value> = None;
        for k in 0..10 {
            let bytes = jpeg(500 + rng.usize(..4000), (n * 10 + k) as u8);
            let sim = h
                .simulate(InboundMessage::new(bytes.clone(), "image/jpeg"))
                .await;
            expected.insert(sim.media_id.as_str().to_owned(), bytes);
            let msg = sim.notification["entry"][0]["changes"][0]["value"]["messages"][0].clone();
            match &mut merged {
                None => merged = Some(sim.notification.clone()),
                Some(m) => m["entry"][0]["changes"][0]["value"]["messages"]
                    .as_array_mut()
                    .unwrap()
                    .push(msg),
            }
        }
        assert_eq!(h.deliver(&merged.unwrap().to_string()).await.0, 200);
    }
    h.settle(1000).await;
    let (saved, failed, _) = h.service.ingest().stats();
    assert_eq!(
        (saved, failed),
        (1000, 0),
        "failed: {:?}",
        h.spooled("failed")
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
    );
    let index = h.index();
    assert_eq!(index.len(), 1000);
    for line in &index {
        let id = line["media_id"].as_str().unwrap();
        let got = std::fs::read(line["path"].as_str().unwrap()).unwrap();
        assert_eq!(&got, &expected[id], "{id}");
    }
    assert!(h.spooled("failed").is_empty());
}
