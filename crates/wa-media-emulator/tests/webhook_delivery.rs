//! Webhook delivery over a real socket: every simulated inbound notification is POSTed to the
//! configured URL, signed like Meta's over the exact body; a non-2xx answer or a timeout is
//! delivered again with backoff; every attempt is in the request log; `deliver_times` delivers
//! one notification several times; faults that cannot apply are refused. And the bounds: a
//! receiver that accepts connections and never answers holds at most `max_in_flight` of them
//! while the emulator's API keeps answering, a timed-out attempt's connection is closed, a full
//! queue drops and counts the overflow, and statuses keep their order through a single slot.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::receiver::{receiver, Receiver};
use common::*;
use http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;
use wa_media_emulator::{
    DeliveryStats, Emulator, EmulatorHandle, Endpoint, Fault, InboundMessage, Origin, WebhookTarget,
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
async fn every_delivered_notification_names_the_sender_by_bsuid() {
    let r = receiver(vec![]).await;
    let emu = emulator(&r, 5, Duration::from_secs(10)).await;
    emu.simulate_inbound(InboundMessage::new(vec![4u8; 64], "image/jpeg"))
        .await
        .unwrap();
    r.until_seen(1).await;
    emu.simulate_inbound(
        InboundMessage::new(vec![5u8; 64], "image/jpeg")
            .username("pablomorales")
            .phone(false),
    )
    .await
    .unwrap();
    let seen = r.until_seen(2).await;
    let bsuid = wa_media_emulator::simulated_user_id("15551234567");
    for (i, d) in seen.iter().enumerate() {
        let v = d.json();
        let value = &v["entry"][0]["changes"][0]["value"];
        assert_eq!(value["contacts"][0]["user_id"], bsuid.as_str(), "{v}");
        assert_eq!(value["messages"][0]["from_user_id"], bsuid.as_str(), "{v}");
        let phone_shown = i == 0;
        assert_eq!(value["contacts"][0]["wa_id"].is_string(), phone_shown);
        assert_eq!(value["messages"][0]["from"].is_string(), phone_shown);
    }
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

#[tokio::test]
async fn the_bounds_must_be_usable() {
    for (in_flight, queue) in [(0, 10), (4097, 10), (1, 0)] {
        let mut target = WebhookTarget::new("http://127.0.0.1:1/h", SECRET);
        target.max_in_flight = in_flight;
        target.queue_capacity = queue;
        assert!(
            Emulator::builder()
                .webhook_target(target)
                .start()
                .await
                .is_err(),
            "max_in_flight {in_flight}, queue_capacity {queue}"
        );
    }
    let emu = Emulator::builder().start().await.unwrap();
    assert_eq!(emu.webhook_deliveries(), None, "no webhook, no counts");
    let health = send(&client(), graph_get(&emu, "/__emulator/health", None)).await;
    assert_eq!(health.json(), json!({"ok": true}));
    emu.shutdown().await;
}

// ---- a receiver that accepts connections and never answers ----

/// Accepts every connection and never answers; reads (and discards) what arrives until the
/// emulator closes the connection. Counts the connections open now, the most open at once,
/// and all accepted.
struct DeadReceiver {
    url: String,
    open: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
}

async fn dead_receiver() -> DeadReceiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (open, peak, accepted): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) =
        Default::default();
    let (o, p, a) = (open.clone(), peak.clone(), accepted.clone());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            p.fetch_max(o.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            let o = o.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
                o.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    DeadReceiver {
        url,
        open,
        peak,
        accepted,
    }
}

impl DeadReceiver {
    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
    fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn bounded_target(url: &str, in_flight: usize, queue: usize, timeout: Duration) -> WebhookTarget {
    let mut target = WebhookTarget::new(url, SECRET);
    target.max_in_flight = in_flight;
    target.queue_capacity = queue;
    target.timeout = timeout;
    target.max_attempts = 2;
    target.retry_delay = Duration::from_millis(10);
    target
}

/// `POST /__emulator/inbound` with a small PNG: one simulated inbound media over HTTP.
async fn simulate_over_http(c: &HttpClient, graph_url: &str, i: usize) -> StatusCode {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!(
            "{graph_url}/__emulator/inbound?mime_type=image/png&caption=n{i}"
        ))
        .header(header::CONTENT_TYPE, "image/png")
        .body(full(Bytes::from(png(64 + i % 7))))
        .unwrap();
    let r = send(c, req).await;
    assert!(r.status.is_success(), "{}: {}", r.status, r.text());
    r.status
}

/// The counts as `GET /__emulator/health` reports them.
async fn health_counts(c: &HttpClient, emu: &EmulatorHandle) -> DeliveryStats {
    let r = send(c, graph_get(emu, "/__emulator/health", None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["ok"], true);
    serde_json::from_value(v["webhook"].clone()).expect("webhook counts in the health answer")
}

/// Waits (bounded: 10 s) until `done` holds for the emulator's counts; returns them.
async fn until_counts(
    emu: &EmulatorHandle,
    what: &str,
    done: impl Fn(&DeliveryStats) -> bool,
) -> DeliveryStats {
    let mut last = DeliveryStats::default();
    for _ in 0..1000 {
        last = emu.webhook_deliveries().expect("a webhook is configured");
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not reached within 10 s; counts {last:?}");
}

fn total(s: &DeliveryStats) -> u64 {
    s.delivered + s.given_up + s.dropped + s.queued + s.in_flight
}

/// What reproduced issue 23 item 8: with one task and one connection per notification, 400
/// simulated media opened 400 connections to a receiver that never answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_receiver_holds_at_most_max_in_flight_connections_and_the_api_keeps_answering() {
    const CAP: usize = 4;
    const SIMULATED: usize = 400;
    let dead = dead_receiver().await;
    let emu = Emulator::builder()
        .webhook_target(bounded_target(
            &dead.url,
            CAP,
            10_000,
            Duration::from_secs(5),
        ))
        .start()
        .await
        .unwrap();
    let c = client();

    // 400 simulated media, 8 at a time: every one answered 2xx.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (c, graph_url) = (c.clone(), emu.graph_url().to_owned());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for i in (t..SIMULATED).step_by(8) {
                if simulate_over_http(&c, &graph_url, i).await.is_success() {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut answered = 0;
    for t in tasks {
        answered += t.await.unwrap();
        let s = emu.webhook_deliveries().unwrap();
        assert!(s.in_flight <= CAP as u64, "{s:?}");
    }
    assert_eq!(answered, SIMULATED);

    // The receiver is stalled: the Graph API, the download host and the messages endpoint
    // still answer.
    let data = png(4096);
    let id = upload_ok(&c, &emu, "image/png", &data).await;
    let url = url_of(&c, &emu, &id).await;
    let d = send(&c, download_req(&url, Some(emu.token()), true)).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(&d.body[..], &data[..]);
    let msg = json!({
        "messaging_product": "whatsapp",
        "to": "15551234567",
        "type": "image",
        "image": {"id": id},
    });
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{}/{VERSION}/{PHONE}/messages", emu.graph_url()))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, UA)
        .header(header::AUTHORIZATION, bearer(emu.token()))
        .body(full(serde_json::to_vec(&msg).unwrap()))
        .unwrap();
    let sent = send(&c, req).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());

    let s = health_counts(&c, &emu).await;
    let (peak, accepted) = (dead.peak(), dead.accepted());
    eprintln!("dead receiver: peak {peak} open at once, {accepted} accepted in all; counts {s:?}");
    assert_eq!(s.delivered, 0, "{s:?}");
    assert_eq!(s.dropped, 0, "{s:?}");
    assert!(s.in_flight <= CAP as u64, "{s:?}");
    assert!(s.queued > 0, "the receiver is stalled: {s:?}");
    assert!(total(&s) >= SIMULATED as u64, "{s:?}");

    // The receiver never had more than the cap open at once (normally exactly the cap: the
    // attempts outlast the test), give or take, on a slow machine, the moment when a slot's
    // timed-out connection is still being closed (or seen closed by the test's reader) as the
    // slot's next attempt opens one: at most two per slot, and far fewer than one per
    // notification.
    assert!(
        peak <= 2 * CAP,
        "{peak} connections open at once (cap {CAP})"
    );
    assert!(accepted < SIMULATED / 2, "{accepted} connections accepted");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_timed_out_attempt_closes_its_connection() {
    let dead = dead_receiver().await;
    let mut target = bounded_target(&dead.url, 16, 10, Duration::from_millis(200));
    target.max_attempts = 3;
    target.retry_delay = Duration::from_millis(200);
    let emu = Emulator::builder()
        .webhook_target(target)
        .start()
        .await
        .unwrap();
    emu.simulate_inbound(InboundMessage::new(vec![5u8; 64], "image/jpeg"))
        .await
        .unwrap();
    let s = until_counts(&emu, "given up", |s| s.given_up == 1).await;
    assert_eq!((s.delivered, s.in_flight, s.queued), (0, 0, 0), "{s:?}");
    assert_eq!(deliveries(&emu), vec![0, 0, 0]);
    // One new connection per attempt (a timed-out one is never reused), each closed by the
    // emulator: none is left open.
    for _ in 0..500 {
        if dead.open() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        dead.open(),
        0,
        "a timed-out attempt's connection stays open"
    );
    assert_eq!(dead.accepted(), 3);
    assert!(dead.peak() <= 2, "peak {}", dead.peak());
    emu.shutdown().await;
}

#[tokio::test]
async fn a_full_queue_drops_the_overflow_and_counts_it() {
    const SIMULATED: u64 = 50;
    let dead = dead_receiver().await;
    // Nothing finishes during the test: the attempts take 30 s.
    let emu = Emulator::builder()
        .webhook_target(bounded_target(&dead.url, 2, 10, Duration::from_secs(30)))
        .start()
        .await
        .unwrap();
    let c = client();
    for i in 0..SIMULATED as usize {
        simulate_over_http(&c, emu.graph_url(), i).await;
    }
    until_counts(&emu, "both slots taken", |s| s.in_flight == 2).await;
    let s = health_counts(&c, &emu).await;
    assert_eq!(
        emu.webhook_deliveries(),
        Some(s),
        "the handle and the endpoint agree"
    );
    assert_eq!(s.in_flight, 2, "{s:?}");
    assert!(s.queued <= 10, "{s:?}");
    assert_eq!(s.dropped, SIMULATED - (s.in_flight + s.queued), "{s:?}");
    assert!(s.dropped >= SIMULATED - 12, "{s:?}");
    assert_eq!((s.delivered, s.given_up), (0, 0), "{s:?}");
    for _ in 0..500 {
        if dead.accepted() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        (dead.accepted(), dead.peak()),
        (2, 2),
        "one connection per slot"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_keep_their_order_through_a_single_slot_shared_with_inbound() {
    let r = receiver(vec![]).await;
    let mut target = WebhookTarget::new(r.url.clone(), SECRET);
    target.max_in_flight = 1;
    target.queue_capacity = 100;
    target.retry_delay = Duration::from_millis(10);
    let emu = Emulator::builder()
        .webhook_target(target)
        .status_delay(Duration::from_millis(1))
        .start()
        .await
        .unwrap();
    let c = client();
    let id = upload_ok(&c, &emu, "image/png", &png(512)).await;
    let mut wamids = Vec::new();
    for i in 0..20 {
        simulate_over_http(&c, emu.graph_url(), i).await;
        if i % 7 == 0 {
            let msg = json!({
                "messaging_product": "whatsapp",
                "to": "15551234567",
                "type": "image",
                "image": {"id": id},
            });
            let req = Request::builder()
                .method(Method::POST)
                .uri(format!("{}/{VERSION}/{PHONE}/messages", emu.graph_url()))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::USER_AGENT, UA)
                .header(header::AUTHORIZATION, bearer(emu.token()))
                .body(full(serde_json::to_vec(&msg).unwrap()))
                .unwrap();
            let sent = send(&c, req).await;
            assert_eq!(sent.status, StatusCode::OK, "{}", sent.text());
            wamids.push(
                sent.json()["messages"][0]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    // 20 inbound and 3 statuses for each of the 3 messages, none lost, no deadlock.
    let s = until_counts(&emu, "all delivered", |s| s.delivered == 29).await;
    assert_eq!(total(&s), 29, "{s:?}");
    let seen = r.until_seen(29).await;
    for wamid in &wamids {
        let statuses: Vec<String> = seen
            .iter()
            .map(|d| d.json())
            .filter_map(|v: Value| {
                let st = &v["entry"][0]["changes"][0]["value"]["statuses"][0];
                (st["id"] == wamid.as_str()).then(|| st["status"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(statuses, ["sent", "delivered", "read"], "{wamid}");
    }
    emu.shutdown().await;
}

/// A receiver that answers 200 but never sends the body it announced must not hold a slot
/// forever (which would stall every queued notification and every status behind it): the
/// answer's body is read within the attempt's timeout, then the connection is dropped.
#[tokio::test]
async fn an_answer_whose_body_stalls_frees_its_slot_within_the_timeout() {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                    .await;
                // Hold the connection open, the body unfinished, until the emulator drops it.
                while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    let emu = Emulator::builder()
        .webhook_target(bounded_target(&url, 1, 10, Duration::from_millis(300)))
        .start()
        .await
        .unwrap();
    for i in 0..2u8 {
        emu.simulate_inbound(InboundMessage::new(vec![i; 64], "image/jpeg"))
            .await
            .unwrap();
    }
    // Both go through the single slot, one after the other: accepted on their status line.
    let s = until_counts(&emu, "both delivered", |s| s.delivered == 2).await;
    assert_eq!(total(&s), 2, "{s:?}");
    assert_eq!(deliveries(&emu), vec![200, 200]);
    emu.shutdown().await;
}
