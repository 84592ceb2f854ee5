//! The Cloud API of 2026 (issue 25) through the built binary: a customer who adopted a username
//! and withholds their phone number arrives with a business-scoped user id (BSUID) and no
//! `wa_id`/`from`, and `serve` saves their media and records who sent it under the record's
//! stable names (`user_id`, `parent_user_id`, `username`; `from` only when there is a phone);
//! `serve --media-lifetime` (a "No Storage" number keeps media 1 hour) fails older media as
//! expired, saying which lifetime applied.

#[allow(dead_code)]
mod common;

use common::serve::{index_lines, jpeg, requests_to, Serve, WAIT};
use common::Env;
use serde_json::Value;
use wa_media_emulator::{Endpoint, InboundMessage};

const USER: &str = "US.13491208655302741918";
const PARENT: &str = "US.ENT.11815799212886844830";

/// `notification` as Meta sends it for a username customer without a phone number.
fn without_phone(mut n: Value) -> Value {
    let value = &mut n["entry"][0]["changes"][0]["value"];
    value["contacts"] = serde_json::json!([{
        "profile": {"name": "Pablo M.", "username": "pablomorales"},
        "user_id": USER,
        "parent_user_id": PARENT,
    }]);
    let m = &mut value["messages"][0];
    m.as_object_mut().unwrap().remove("from");
    m["from_user_id"] = USER.into();
    m["from_parent_user_id"] = PARENT.into();
    n
}

#[test]
fn a_username_customer_without_a_phone_number_is_saved_with_their_ids() {
    let env = Env::start();
    let dir = env.dir.path().join("inbox");
    let bytes = jpeg(4_000, 25);
    let sim = env.simulate(InboundMessage::new(bytes.clone(), "image/jpeg"));
    let body = without_phone(sim.notification.clone()).to_string();
    assert!(!body.contains("\"wa_id\"") && !body.contains("\"from\""));
    let mut s = Serve::start(&env, &dir, &[]);
    assert_eq!(s.deliver(&body).status, 200);
    let event = s.wait_saved(sim.media_id.as_str());
    s.signal("TERM");
    assert_eq!(s.wait_exit(WAIT).code(), 0);
    let lines = index_lines(&dir);
    assert_eq!(lines.len(), 1, "{lines:?}");
    for record in [&lines[0], &event] {
        assert_eq!(record["user_id"], USER, "{record}");
        assert_eq!(record["parent_user_id"], PARENT, "{record}");
        assert_eq!(record["username"], "pablomorales", "{record}");
        assert!(record.get("from").is_none(), "{record}");
    }
    assert_eq!(
        std::fs::read(lines[0]["path"].as_str().unwrap()).unwrap(),
        bytes
    );
}

#[test]
fn a_media_older_than_the_media_lifetime_fails_as_expired_saying_which_lifetime() {
    let env = Env::start();
    let dir = env.dir.path().join("inbox");
    let sim = env.simulate(InboundMessage::new(jpeg(2_000, 7), "image/jpeg"));
    // The message was sent two hours ago; the number keeps media one hour.
    let mut n = sim.notification.clone();
    let two_hours_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 7_200;
    n["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] =
        two_hours_ago.to_string().into();
    let s = Serve::start(&env, &dir, &["--media-lifetime", "1h"]);
    assert_eq!(s.deliver(&n.to_string()).status, 200);
    let failed = dir
        .join(".spool/failed")
        .join(format!("{}.json", sim.media_id.as_str()));
    assert!(
        common::running::wait_until(WAIT, std::time::Duration::from_millis(20), || failed
            .exists()),
        "{}",
        s.stderr()
    );
    s.signal("TERM");
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 0, "{}", exited.stderr);
    let entry: Value = serde_json::from_slice(&std::fs::read(&failed).unwrap()).unwrap();
    let reason = entry["failure"].as_str().unwrap();
    assert!(
        reason.starts_with("expired") && reason.contains("media lifetime of 1 h"),
        "{reason}"
    );
    assert!(
        exited.stderr.contains("media lifetime of 1 h"),
        "{}",
        exited.stderr
    );
    // Nothing was asked of Graph for it.
    assert_eq!(requests_to(&env, Endpoint::Retrieve), 0);
}

/// `n` (a customer's media message) as a coexistence number sends the business's own message
/// (`smb_message_echoes`) or a past one (`history`).
fn as_echo_or_history(mut n: Value, history: bool) -> Value {
    let change = &mut n["entry"][0]["changes"][0];
    let value = &mut change["value"];
    let mut message = value["messages"][0].clone();
    let obj = value.as_object_mut().unwrap();
    obj.remove("messages");
    obj.remove("contacts");
    if history {
        change["field"] = "history".into();
        change["value"]["history"] = serde_json::json!([{
            "metadata": {"phase": 0, "chunk_order": 1, "progress": 100},
            "threads": [{"id": "16505551234", "messages": [message]}],
        }]);
    } else {
        message["to"] = message["from"].clone();
        message["from"] = "15550783881".into();
        message["to_user_id"] = USER.into();
        change["field"] = "smb_message_echoes".into();
        change["value"]["message_echoes"] = serde_json::json!([message]);
    }
    n
}

#[test]
fn media_in_echoes_and_history_is_saved_with_its_source() {
    let env = Env::start();
    let dir = env.dir.path().join("inbox");
    let media: Vec<_> = (0..2u8)
        .map(|i| {
            let bytes = jpeg(3_000, 40 + i);
            let sim = env.simulate(InboundMessage::new(bytes.clone(), "image/jpeg"));
            (sim, bytes)
        })
        .collect();
    let mut s = Serve::start(&env, &dir, &[]);
    for ((sim, _), history) in media.iter().zip([false, true]) {
        let body = as_echo_or_history(sim.notification.clone(), history).to_string();
        assert_eq!(s.deliver(&body).status, 200);
        s.wait_saved(sim.media_id.as_str());
    }
    s.signal("TERM");
    assert_eq!(s.wait_exit(WAIT).code(), 0);
    let lines = index_lines(&dir);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for ((sim, bytes), source) in media.iter().zip(["echo", "history"]) {
        let line = lines
            .iter()
            .find(|l| l["media_id"] == sim.media_id.as_str())
            .unwrap();
        assert_eq!(line["source"], source, "{line}");
        assert_eq!(
            std::fs::read(line["path"].as_str().unwrap()).unwrap(),
            *bytes
        );
    }
    let echo = lines.iter().find(|l| l["source"] == "echo").unwrap();
    assert_eq!(
        echo["user_id"], USER,
        "the echo's customer is its recipient: {echo}"
    );
}

#[test]
fn send_to_a_bsuid_prints_the_wamid_and_the_emulator_records_the_recipient() {
    let env = Env::start();
    let jpg = common::fixture("image.jpg");
    let out = env.run(&[
        "send",
        "--to",
        "US.13491208655302741918",
        jpg.to_str().unwrap(),
    ]);
    assert_eq!(common::code(&out), 0, "{}", common::stderr(&out));
    let wamid = common::stdout(&out).trim().to_owned();
    assert!(wamid.starts_with("wamid."), "{wamid}");
    let sent = env.emu().sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].wamid, wamid);
    assert_eq!(
        sent[0].recipient.as_deref(),
        Some("US.13491208655302741918")
    );
    // A malformed BSUID is refused locally (exit 3), nothing sent.
    let out = env.run(&["send", "--to", "US.ENT.", jpg.to_str().unwrap()]);
    assert_eq!(common::code(&out), 3, "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("BSUID"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(env.emu().sent_messages().len(), 1);
}
