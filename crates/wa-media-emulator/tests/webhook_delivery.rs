//! Webhook delivery over a real socket: every simulated inbound notification is POSTed to the
//! configured URL, signed like Meta's over the exact body; a non-2xx answer or a timeout is
//! delivered again with backoff; every attempt is in the request log; `deliver_times` delivers
//! one notification several times; faults that cannot apply are refused.

mod common;

use std::time::Duration;

use common::receiver::{receiver, Receiver};
use wa_media_emulator::{
    Emulator, EmulatorHandle, Endpoint, Fault, InboundMessage, Origin, WebhookTarget,
};

const SECRET: &str = "delivery-secret";

async fn emulator(r: &Receiver, attempts: u32, timeout: Duration) -> EmulatorHandle {
    let mut target = WebhookTarget::new(r.url.clone(), SECRET);
    target.max_attempts = attempts;
    target.timeout = timeout;
    target.retry_delay = Duration::from_millis(10);
    Emulator::builder()
        .webhook_target(target)
        .start()
        .await
        .unwrap()
}

fn deliveries(emu: &EmulatorHandle) -> Vec<u16> {
    emu.request_log()
        .iter()
        .filter(|l| l.origin == Origin::Webhook)
        .map(|l| l.status)
        .collect()
}

#[tokio::test]
async fn a_simulated_message_is_delivered_signed_over_the_exact_body() {
    let r = receiver(vec![]).await;
    let emu = emulator(&r, 5, Duration::from_secs(10)).await;
    let sim = emu
        .simulate_inbound(
            InboundMessage::new(b"%PDF-1.4 caf\xc3\xa9".to_vec(), "application/pdf")
                .filename("café.pdf"),
        )
        .await
        .unwrap();
    let seen = r.until_seen(1).await;
    assert_eq!(seen[0].body, sim.body.as_bytes());
    assert!(sim.body.is_ascii(), "non-ASCII is escaped as Meta does");
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    let sig = seen[0].signature.clone().unwrap();
    wa_media_types::verify_signature(SECRET.as_bytes(), &seen[0].body, &sig).unwrap();
    assert!(wa_media_types::verify_signature(b"other", &seen[0].body, &sig).is_err());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(deliveries(&emu), vec![200]);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_refused_delivery_is_made_again_with_every_attempt_logged() {
    let r = receiver(vec![500, 503]).await;
    let emu = emulator(&r, 5, Duration::from_secs(10)).await;
    emu.simulate_inbound(InboundMessage::new(vec![1u8; 64], "image/jpeg"))
        .await
        .unwrap();
    let seen = r.until_seen(3).await;
    assert!(seen.iter().all(|s| s.body == seen[0].body));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(deliveries(&emu), vec![500, 503, 200]);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_the_attempts_are_bounded() {
    let r = receiver(vec![0, 0, 0]).await;
    let emu = emulator(&r, 3, Duration::from_millis(200)).await;
    emu.simulate_inbound(InboundMessage::new(vec![2u8; 64], "image/jpeg"))
        .await
        .unwrap();
    r.until_seen(3).await;
    for _ in 0..200 {
        if deliveries(&emu).len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        deliveries(&emu),
        vec![0, 0, 0],
        "no answer is logged as 0, never a 4th try"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn deliver_times_delivers_one_notification_several_times() {
    let r = receiver(vec![]).await;
    let emu = emulator(&r, 5, Duration::from_secs(10)).await;
    emu.faults()
        .push(Endpoint::Webhook, Fault::DeliverTimes { times: 3 }, 1);
    emu.simulate_inbound(InboundMessage::new(vec![3u8; 64], "image/jpeg"))
        .await
        .unwrap();
    let seen = r.until_seen(3).await;
    assert!(seen
        .iter()
        .all(|s| s.body == seen[0].body && s.signature == seen[0].signature));
    // The next one is delivered once.
    emu.simulate_inbound(InboundMessage::new(vec![4u8; 64], "image/jpeg"))
        .await
        .unwrap();
    r.until_seen(4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(r.seen.lock().unwrap().len(), 4);
    let faulted = emu
        .request_log()
        .iter()
        .filter(|l| l.origin == Origin::Webhook && l.fault.as_deref() == Some("deliver_times"))
        .count();
    assert_eq!(faulted, 3);
    emu.shutdown().await;
}

#[tokio::test]
async fn faults_that_cannot_apply_to_deliveries_are_refused() {
    let emu = Emulator::builder().start().await.unwrap();
    assert!(emu
        .faults()
        .try_push(Endpoint::Webhook, Fault::CorruptByte, 1)
        .is_err());
    assert!(emu
        .faults()
        .try_push(Endpoint::Download, Fault::DeliverTimes { times: 2 }, 1)
        .is_err());
    for times in [0, 101] {
        assert!(emu
            .faults()
            .try_push(Endpoint::Webhook, Fault::DeliverTimes { times }, 1)
            .is_err());
    }
    emu.shutdown().await;
    // Only http:// receivers, with a secret.
    for (url, secret) in [
        ("https://127.0.0.1:1/h", "s"),
        ("ftp://x/h", "s"),
        ("http://127.0.0.1:1/h", ""),
    ] {
        assert!(
            Emulator::builder()
                .webhook(url, secret)
                .start()
                .await
                .is_err(),
            "{url} {secret:?}"
        );
    }
}
