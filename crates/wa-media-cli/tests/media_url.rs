//! Media URLs in webhooks (issue 25 item 2) through the built binary: `serve` downloads a
//! media from the notification's own `url` (verified against the webhook's `sha256`, the token
//! sent only to the trusted download host) and asks Graph nothing (no retrieve in the
//! emulator's request log); when that URL has expired it still saves the media, by id, with
//! exactly one retrieve.

#[allow(dead_code)]
mod common;

use std::time::Duration;

use common::serve::{index_lines, jpeg, requests_to, Serve, WAIT};
use common::Env;
use wa_media_emulator::{Endpoint, InboundMessage};

/// Delivers `n` to a fresh `serve`, waits for the media to be saved, and stops `serve`; the
/// index lines.
fn serve_one(env: &Env, n: &serde_json::Value, media_id: &str) -> Vec<serde_json::Value> {
    let dir = env.dir.path().join("inbox");
    let mut s = Serve::start(env, &dir, &[]);
    assert_eq!(s.deliver(&n.to_string()).status, 200);
    let event = s.wait_saved(media_id);
    assert_eq!(event["media_id"], media_id, "{event}");
    s.signal("TERM");
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 0, "{}", exited.stderr);
    assert!(
        !exited.stderr.contains("hash="),
        "a signed URL reached the log: {}",
        exited.stderr
    );
    index_lines(&dir)
}

#[test]
fn a_fresh_url_is_downloaded_without_a_retrieve() {
    let env = Env::start();
    let bytes = jpeg(6_000, 3);
    let sim = env.simulate(InboundMessage::new(bytes.clone(), "image/jpeg"));
    let n = sim.notification.clone();
    assert!(
        n["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["url"].is_string(),
        "{n}"
    );
    let lines = serve_one(&env, &n, sim.media_id.as_str());
    assert_eq!(lines.len(), 1, "{lines:?}");
    let path = lines[0]["path"].as_str().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), bytes);
    assert_eq!(
        lines[0]["sha256"],
        wa_media_types::Sha256Digest::of(&bytes).to_hex()
    );
    assert_eq!(
        requests_to(&env, Endpoint::Retrieve),
        0,
        "a retrieve was made"
    );
    assert_eq!(requests_to(&env, Endpoint::Download), 1);
}

#[test]
fn an_expired_url_falls_back_to_one_retrieve() {
    let env = Env::start();
    let bytes = jpeg(5_000, 9);
    let sim = env.simulate(InboundMessage::new(bytes.clone(), "image/jpeg"));
    // The notification's URL lives 5 minutes; deliver it 10 minutes late (the media id lives
    // 7 days, so the retrieve still finds it).
    env.emu().advance_clock(Duration::from_secs(600)).unwrap();
    let lines = serve_one(&env, &sim.notification, sim.media_id.as_str());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        std::fs::read(lines[0]["path"].as_str().unwrap()).unwrap(),
        bytes
    );
    assert_eq!(requests_to(&env, Endpoint::Retrieve), 1);
    // The expired URL, then the retrieved one.
    assert_eq!(requests_to(&env, Endpoint::Download), 2);
}

#[test]
fn a_url_whose_bytes_do_not_match_the_webhook_falls_back_too() {
    // The notification's sha256 is the media's; the url points at another media of the
    // emulator: its bytes fail the digest, nothing is kept from it, and the media is fetched
    // by id (whose retrieve answer agrees with the webhook).
    let env = Env::start();
    let bytes = jpeg(4_000, 5);
    let other = env.simulate(InboundMessage::new(jpeg(4_000, 6), "image/jpeg"));
    let sim = env.simulate(InboundMessage::new(bytes.clone(), "image/jpeg"));
    let mut n = sim.notification.clone();
    n["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["url"] = other.notification
        ["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["url"]
        .clone();
    let lines = serve_one(&env, &n, sim.media_id.as_str());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        std::fs::read(lines[0]["path"].as_str().unwrap()).unwrap(),
        bytes
    );
    assert_eq!(requests_to(&env, Endpoint::Retrieve), 1);
}
