//! Messages Meta could not take (issue 25 item 4) through the built binary: `serve` records a
//! `type: "unsupported"` message (Meta's fixture, codes 131051 and 131060) and a change's
//! value-level `errors[]` as `failed` lines of `index.jsonl` with Meta's error, prints a
//! `failed` event for each, fetches nothing, and records a redelivery once.

#[allow(dead_code)]
mod common;

use common::serve::{index_lines, Serve, WAIT};
use common::Env;
use serde_json::Value;

fn webhook_fixture(name: &str) -> String {
    let path = wa_media_testkit::paths::fixtures("webhooks").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn unsupported_messages_and_value_errors_are_recorded_as_failed_with_metas_error() {
    let env = Env::start();
    let dir = env.dir.path().join("inbox");
    let mut s = Serve::start(&env, &dir, &[]);
    let unsupported = webhook_fixture("unsupported.json");
    assert_eq!(s.deliver(&unsupported).status, 200);
    let first = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=";
    let event = s.wait_event(WAIT, |v| v["event"] == "failed" && v["message_id"] == first);
    assert_eq!(event["status"], "failed", "{event}");
    assert_eq!(event["error"]["code"], 131051, "{event}");
    assert_eq!(event["error"]["title"], "Message type unknown", "{event}");
    assert_eq!(
        event["error"]["details"], "Message type is currently not supported.",
        "{event}"
    );
    assert_eq!(event["unsupported_type"], "poll_update", "{event}");
    assert_eq!(event["from"], "16505551234", "{event}");
    assert_eq!(event["user_id"], "US.13491208655302741918", "{event}");
    s.wait_event(WAIT, |v| {
        v["event"] == "failed" && v["error"]["code"] == 131060
    });
    // Value-level errors: no message.
    assert_eq!(s.deliver(&webhook_fixture("errors.json")).status, 200);
    let errors = s.wait_event(WAIT, |v| {
        v["event"] == "failed" && v["error"]["code"] == 130429
    });
    assert!(errors.get("message_id").is_none(), "{errors}");
    // Meta delivers the same notification again: recorded once.
    assert_eq!(s.deliver(&unsupported).status, 200);
    s.signal("TERM");
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 0, "{}", exited.stderr);
    assert!(exited.stderr.contains("131051"), "{}", exited.stderr);

    let lines = index_lines(&dir);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let codes: Vec<&Value> = lines.iter().map(|l| &l["error"]["code"]).collect();
    assert_eq!(codes, [131051, 131060, 130429]);
    for l in &lines {
        assert_eq!(l["status"], "failed", "{l}");
        assert_eq!(l["v"], 1, "{l}");
        for absent in ["media_id", "path", "sha256", "file_size", "saved_at"] {
            assert!(l.get(absent).is_none(), "{absent} in {l}");
        }
    }
    assert_eq!(lines[0]["kind"], "unsupported");
    assert_eq!(lines[0]["message_id"], first);
    // Nothing was asked of Graph.
    assert!(env.emu().request_log().is_empty());
}
