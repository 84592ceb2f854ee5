//! `wa-media serve --forward URL` (issue 26), through the binary, against a receiving
//! application (`wa_media_testkit::receiver`) that verifies `X-Hub-Signature-256` with the app
//! secret, as an application already checking Meta's webhooks does: text, media and status
//! notifications arrive signed, a media's `wa_media.path` names the saved file, Meta's
//! redeliveries are forwarded once, an application down for 30 s gets everything afterwards,
//! `kill -9` loses no pending forward, and `/metrics` and `/readyz` tell what happened.

#[allow(dead_code)]
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::serve::{Serve, SECRET, WAIT};
use common::{Env, CANARY_TOKEN};
use serde_json::Value;
use wa_media_emulator::{Endpoint, Fault, InboundMessage};
use wa_media_testkit::receiver::{Received, Receiver};
use wa_media_types::standard_webhooks::SigningSecret;
use wa_media_types::Sha256Digest;

const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A text message notification, as Meta's messages webhook reference shows one (2026 fields
/// included).
fn text_notification(wamid: &str) -> String {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234", "user_id": "US.13491208655302741918"}],
                    "messages": [{
                        "from": "16505551234",
                        "from_user_id": "US.13491208655302741918",
                        "id": wamid,
                        "timestamp": "1749416383",
                        "type": "text",
                        "text": {"body": "Does it come in another color?"}
                    }]
                },
                "field": "messages"
            }]
        }]
    })
    .to_string()
}

fn status_notification() -> String {
    let path = wa_media_testkit::paths::fixtures("webhooks").join("status-delivered.json");
    std::fs::read_to_string(path).unwrap()
}

fn forward_args(receiver: &Receiver, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--forward",
        &receiver.url(),
        "--forward-secret",
        SIGNING_SECRET,
        "--forward-max-retry-delay",
        "2",
        "--metrics-listen",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn start(env: &Env, receiver: &Receiver, extra: &[&str]) -> (Serve, SocketAddr) {
    let args = forward_args(receiver, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut s = Serve::start(env, &env.dir.path().join("inbox"), &args);
    let m = s.wait_event(WAIT, |v| v["event"] == "metrics_listening");
    let url = m["url"].as_str().unwrap();
    let addr = url
        .strip_prefix("http://")
        .unwrap()
        .strip_suffix("/metrics")
        .unwrap()
        .parse()
        .unwrap();
    (s, addr)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = common::http::request(addr, "GET", path, &[], b"").unwrap();
    (r.status, r.text())
}

/// The value of a metric line `name` (with its labels, as rendered), 0 when absent.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Every forward checks out: signed with the app secret, the Standard Webhooks headers valid,
/// JSON, and no token anywhere.
fn assert_signed(r: &Received) {
    assert!(r.verified, "X-Hub-Signature-256 did not verify: {}", r.head);
    let id = r.header("webhook-id").expect("webhook-id");
    let ts: u64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
    let now = wa_media_webhook::now_secs();
    assert!(
        ts.abs_diff(now) < 120,
        "webhook-timestamp {ts} vs now {now}"
    );
    let secret: SigningSecret = SIGNING_SECRET.parse().unwrap();
    let sig = r.header("webhook-signature").expect("webhook-signature");
    assert!(
        secret.verify(&id, ts, &r.body, &sig),
        "webhook-signature does not verify"
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let all = format!("{}{}", r.head, String::from_utf8_lossy(&r.body));
    assert!(!all.contains(CANARY_TOKEN), "the token was forwarded");
    assert!(!all.to_lowercase().contains("authorization"), "{}", r.head);
    assert!(r.json().is_object());
}

fn distinct_ids(r: &[Received]) -> std::collections::BTreeSet<String> {
    r.iter().filter_map(|x| x.header("webhook-id")).collect()
}

#[test]
fn text_media_and_status_arrive_signed_once_each_and_the_metrics_say_so() {
    let env = Env::start();
    let app = Receiver::start(SECRET);
    let (s, metrics) = start(&env, &app, &[]);
    let inbox = env.dir.path().join("inbox");
    assert_eq!(get(metrics, "/healthz").0, 200);
    assert_eq!(get(metrics, "/readyz").0, 200);

    // A text, a media and a status, each as Meta signs it.
    let text = text_notification("wamid.TEXT1");
    assert_eq!(s.deliver(&text).status, 200);
    let bytes = common::serve::jpeg(20_000, 3);
    let sim = env.simulate(InboundMessage::new(bytes.clone(), "image/jpeg"));
    assert_eq!(s.deliver(&sim.body).status, 200);
    let status = status_notification();
    assert_eq!(s.deliver(&status).status, 200);
    assert!(
        app.wait_until(WAIT, |r| r.len() >= 3),
        "forwards: {:?}; stderr:\n{}",
        app.received().len(),
        s.stderr()
    );
    let got = app.received();
    got.iter().for_each(assert_signed);

    // Without media the body is Meta's, byte for byte.
    let t = got
        .iter()
        .find(|r| r.body == text.as_bytes())
        .expect("the text notification unchanged");
    assert!(got.iter().any(|r| r.body == status.as_bytes()));
    // With media: Meta's shape, plus where the verified file is.
    let m = got
        .iter()
        .find(|r| r.json()["entry"][0]["changes"][0]["value"]["messages"][0]["type"] == "image")
        .expect("the media notification");
    let image = &m.json()["entry"][0]["changes"][0]["value"]["messages"][0]["image"];
    assert_eq!(image["id"], sim.media_id.as_str());
    let w = &image["wa_media"];
    assert_eq!(w["status"], "saved", "{image}");
    let path = inbox.join(w["path"].as_str().unwrap());
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk, bytes);
    assert_eq!(w["sha256"], Sha256Digest::of(&bytes).to_hex());
    assert_eq!(w["file_size"], bytes.len() as u64);
    assert_eq!(w["mime_type"], "image/jpeg");

    // Meta redelivers the media notification three times: forwarded once.
    let media_id = m.header("webhook-id").unwrap();
    for _ in 0..3 {
        assert_eq!(s.deliver(&sim.body).status, 200);
    }
    // A redelivery of the text, and one more new text: only the new one is forwarded.
    assert_eq!(s.deliver(&text).status, 200);
    assert_eq!(s.deliver(&text_notification("wamid.TEXT2")).status, 200);
    assert!(app.wait_until(WAIT, |r| r.len() >= 4));
    std::thread::sleep(Duration::from_millis(500));
    let got = app.received();
    assert_eq!(got.len(), 4, "{:?}", distinct_ids(&got));
    assert_eq!(distinct_ids(&got).len(), 4);
    assert_eq!(
        got.iter()
            .filter(|r| r.header("webhook-id").as_deref() == Some(&media_id))
            .count(),
        1
    );
    assert!(t.header("webhook-id").is_some());

    // A delivery with a wrong signature is refused, logged once and counted.
    let r = s
        .post(text.as_bytes(), Some(&format!("sha256={}", "0".repeat(64))))
        .unwrap();
    assert_eq!(r.status, 403);
    assert!(s.wait_stderr("signature_mismatch", WAIT), "{}", s.stderr());

    let (code, text_metrics) = get(metrics, "/metrics");
    assert_eq!(code, 200);
    assert_eq!(
        metric(&text_metrics, "wa_media_media_saved_total"),
        1.0,
        "{text_metrics}"
    );
    assert_eq!(
        metric(&text_metrics, "wa_media_media_bytes_saved_total"),
        bytes.len() as f64
    );
    assert_eq!(
        metric(&text_metrics, "wa_media_notifications_accepted_total"),
        8.0
    );
    assert_eq!(
        metric(
            &text_metrics,
            "wa_media_notifications_refused_total{reason=\"signature_mismatch\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(&text_metrics, "wa_media_forwards_delivered_total"),
        4.0
    );
    assert_eq!(metric(&text_metrics, "wa_media_forwards_pending"), 0.0);
    assert_eq!(metric(&text_metrics, "wa_media_spool_pending"), 0.0);
    assert_eq!(metric(&text_metrics, "wa_media_ack_seconds_count"), 9.0);
    assert!(text_metrics.contains("# TYPE wa_media_forward_seconds histogram"));

    // Draining: /readyz answers 503 while a download holds the drain open.
    let slow = env.simulate(InboundMessage::new(
        common::serve::jpeg(5_000, 9),
        "image/jpeg",
    ));
    env.emu()
        .faults()
        .push(Endpoint::Download, Fault::Delay { millis: 3_000 }, 1);
    assert_eq!(s.deliver(&slow.body).status, 200);
    std::thread::sleep(Duration::from_millis(300));
    s.signal("TERM");
    let draining =
        common::running::wait_until(Duration::from_secs(3), Duration::from_millis(20), || {
            get(metrics, "/readyz").0 == 503
        });
    assert!(draining, "/readyz never answered 503 while draining");
    assert_eq!(get(metrics, "/healthz").0, 200);
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 0, "{}", exited.stderr);
}

#[test]
fn an_application_down_for_30_s_gets_everything_once_it_is_back() {
    let env = Env::start();
    let app = Receiver::start(SECRET);
    app.set_up(false);
    let (mut s, _metrics) = start(&env, &app, &[]);
    let sim = env.simulate(InboundMessage::new(
        common::serve::jpeg(8_000, 4),
        "image/jpeg",
    ));
    assert_eq!(s.deliver(&sim.body).status, 200);
    assert_eq!(s.deliver(&text_notification("wamid.DOWN1")).status, 200);
    assert_eq!(s.deliver(&status_notification()).status, 200);
    s.wait_saved(sim.media_id.as_str());
    let down_since = Instant::now();
    // Attempts fail meanwhile (connection refused), and are retried.
    assert!(s.wait_stderr("retrying later", WAIT) || s.stderr().is_empty());
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down_since.elapsed()));
    assert!(app.received().is_empty());
    app.set_up(true);
    assert!(
        app.wait_until(WAIT, |r| distinct_ids(r).len() >= 3),
        "after the application came back: {} forwards; stderr:\n{}",
        app.received().len(),
        s.stderr()
    );
    std::thread::sleep(Duration::from_millis(300));
    let got = app.received();
    assert_eq!(got.len(), 3, "each once: {:?}", distinct_ids(&got));
    got.iter().for_each(assert_signed);
    s.signal("TERM");
    assert_eq!(s.wait_exit(WAIT).code(), 0);
}

#[test]
fn forwards_pending_at_a_kill_9_arrive_after_the_restart() {
    let env = Env::start();
    let app = Receiver::start(SECRET);
    // The application answers 503 at first: every forward stays pending, retried.
    app.answer(503);
    let (s, _) = start(&env, &app, &[]);
    let texts: Vec<String> = (0..3)
        .map(|i| text_notification(&format!("wamid.K{i}")))
        .collect();
    for t in &texts {
        assert_eq!(s.deliver(t).status, 200);
    }
    assert!(app.wait_until(WAIT, |r| distinct_ids(r).len() >= 3));
    let exited = s.kill9();
    assert_ne!(exited.code(), 0);
    app.answer(200);
    let before = app.received().len();
    let (s, _) = start(&env, &app, &[]);
    assert!(
        app.wait_until(WAIT, |r| {
            distinct_ids(&r[before..]).len() >= 3 && r[before..].iter().all(|x| x.verified)
        }),
        "after the restart: {:?}",
        distinct_ids(&app.received()[before..])
    );
    let after = &app.received()[before..];
    for t in &texts {
        assert!(after.iter().any(|r| r.body == t.as_bytes()));
    }
    // Delivered ones are not sent again by a later restart.
    s.signal("TERM");
    assert_eq!(s.wait_exit(WAIT).code(), 0);
    let n = app.received().len();
    let (s, _) = start(&env, &app, &[]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(app.received().len(), n);
    let value: Vec<Value> = app.received().iter().map(Received::json).collect();
    assert!(value.iter().all(Value::is_object));
    drop(s);
}

#[test]
fn serve_is_configured_from_the_environment_and_logs_json() {
    let env = Env::start();
    let app = Receiver::start(SECRET);
    let inbox = env.dir.path().join("inbox");
    // No flag but --json: everything from the documented variables (docs/deploying.md).
    let mut cmd = env.cmd();
    cmd.arg("--json")
        .arg("serve")
        .env("WA_MEDIA_LISTEN", "127.0.0.1:0")
        .env("WA_MEDIA_DIR", &inbox)
        .env("WHATSAPP_APP_SECRET", SECRET)
        .env("WA_MEDIA_FORWARD_URL", app.url())
        .env("WA_MEDIA_FORWARD_SECRET", SIGNING_SECRET)
        .env("WA_MEDIA_METRICS_LISTEN", "127.0.0.1:0")
        .env("WA_MEDIA_LOG_FORMAT", "json")
        .env("RUST_LOG", "warn");
    let mut s = Serve::spawn(cmd);
    s.wait_event(WAIT, |v| v["event"] == "metrics_listening");
    let text = text_notification("wamid.ENV1");
    assert_eq!(s.deliver(&text).status, 200);
    assert!(app.wait_until(WAIT, |r| !r.is_empty()));
    assert_signed(&app.received()[0]);
    assert_eq!(app.received()[0].body, text.as_bytes());
    // A refused delivery: one JSON log line with its reason.
    let r = s.post(text.as_bytes(), None).unwrap();
    assert_eq!(r.status, 401);
    assert!(s.wait_stderr("signature_missing", WAIT), "{}", s.stderr());
    s.signal("TERM");
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 0, "{}", exited.stderr);
    let logs: Vec<Value> = exited
        .stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let refusal = logs
        .iter()
        .find(|v| v["fields"]["reason"] == "signature_missing")
        .unwrap_or_else(|| panic!("no JSON refusal line in:\n{}", exited.stderr));
    assert_eq!(refusal["level"], "WARN");
    assert_eq!(refusal["fields"]["status"], 401);
}

#[test]
fn a_forward_past_its_max_age_moves_to_failed_and_retry_failed_sends_it() {
    let env = Env::start();
    let app = Receiver::start(SECRET);
    app.answer(500);
    let args = ["--forward-max-age", "1s"];
    let (mut s, metrics) = start(&env, &app, &args);
    let text = text_notification("wamid.AGED1");
    assert_eq!(s.deliver(&text).status, 200);
    let failed = s.wait_event(WAIT, |v| v["event"] == "forward_failed");
    assert!(
        failed["reason"].as_str().unwrap().contains("HTTP 500"),
        "{failed}"
    );
    let (_, m) = get(metrics, "/metrics");
    assert_eq!(metric(&m, "wa_media_forwards_failed_total"), 1.0, "{m}");
    assert_eq!(metric(&m, "wa_media_forwards_failed"), 1.0, "{m}");
    assert!(metric(&m, "wa_media_forwards_retried_total") >= 1.0, "{m}");
    s.signal("TERM");
    assert_eq!(s.wait_exit(WAIT).code(), 0);
    // Meta's redelivery of it is not queued again; --retry-failed is what sends it.
    app.answer(200);
    let tried = app.received().len();
    let (s, _) = start(&env, &app, &["--retry-failed"]);
    assert!(app.wait_until(WAIT, |r| r.len() > tried
        && r.last().unwrap().body == text.as_bytes()));
    assert_signed(app.received().last().unwrap());
    assert_eq!(s.deliver(&text).status, 200);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(app.received().len(), tried + 1);
}
