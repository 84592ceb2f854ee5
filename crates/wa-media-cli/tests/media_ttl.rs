//! `--ttl-minutes N` ("No Storage" numbers keep media 1 hour unless the upload asks for longer;
//! issue 25 item 5) through the built binary against the emulator started in the test process:
//! `upload` and `send FILE` send the upload's `ttl_minutes` field and the emulator records it
//! with the media; a TTL outside 60 to 43,200 minutes exits 3 with nothing sent; with
//! `--no-validate` the emulator judges it (Graph error 100, exit 4); `send --media-id/--link`
//! refuses the option (exit 2); both `--help`s document it.

#[allow(dead_code)]
mod common;

use common::{code, fixture, json, stderr, stdout, Env};
use wa_media_emulator::Endpoint;
use wa_media_types::MediaId;

/// The test recipient.
const TO: &str = "15551234567";

/// Requests that reached the emulator's upload endpoint (answered or not).
fn uploads(env: &Env) -> usize {
    env.emu()
        .request_log()
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::Upload) || r.path.ends_with("/media"))
        .count()
}

/// The TTL the emulator recorded for `id`.
fn recorded_ttl(env: &Env, id: &str) -> Option<u32> {
    env.emu()
        .media_info(&MediaId::new(id).unwrap())
        .expect("the media is stored")
        .ttl_minutes
}

#[test]
fn upload_with_a_ttl_is_recorded_by_the_emulator() {
    let env = Env::start();
    let file = fixture("image.png");
    let out = env.run(&[
        "--json",
        "upload",
        "--ttl-minutes",
        "120",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let id = json(&out)["id"].as_str().unwrap().to_owned();
    assert_eq!(recorded_ttl(&env, &id), Some(120));
    assert_eq!(uploads(&env), 1);
    // Without the option nothing changes.
    let id = env.upload("image.png");
    assert_eq!(recorded_ttl(&env, &id), None);
}

#[test]
fn upload_with_a_ttl_out_of_range_exits_3_and_sends_nothing() {
    let env = Env::start();
    let file = fixture("image.png");
    for ttl in ["30", "59", "43201", "0"] {
        let out = env.run(&["upload", "--ttl-minutes", ttl, file.to_str().unwrap()]);
        assert_eq!(code(&out), 3, "{ttl}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("a media TTL of {ttl} minutes"))
                && err.contains("60 to 43200 minutes (1 hour to 30 days)"),
            "{ttl}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }
    assert_eq!(uploads(&env), 0, "a refused upload reached the emulator");
    assert!(env.emu().media().is_empty());
    // Not a number at all: a usage error.
    let out = env.run(&["upload", "--ttl-minutes", "2h", file.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(uploads(&env), 0);
}

#[test]
fn with_no_validate_the_emulator_judges_the_ttl_like_graph() {
    let env = Env::start();
    let file = fixture("image.png");
    let out = env.run(&[
        "upload",
        "--no-validate",
        "--ttl-minutes",
        "30",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("ttl_minutes"), "{}", stderr(&out));
    assert_eq!(uploads(&env), 1);
    assert!(env.emu().media().is_empty());
}

#[test]
fn send_file_with_a_ttl_uploads_with_it_then_sends() {
    let env = Env::start();
    let file = fixture("image.jpg");
    let out = env.run(&[
        "--json",
        "send",
        "--to",
        TO,
        "--ttl-minutes",
        "1440",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let id = v["media_id"].as_str().unwrap();
    assert_eq!(recorded_ttl(&env, id), Some(1_440));
    assert_eq!(env.emu().sent_messages().len(), 1);
}

#[test]
fn send_with_a_ttl_out_of_range_exits_3_and_uploads_nothing() {
    let env = Env::start();
    let file = fixture("image.jpg");
    let out = env.run(&[
        "send",
        "--to",
        TO,
        "--ttl-minutes",
        "30",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("60 to 43200 minutes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(uploads(&env), 0);
    assert_eq!(env.message_requests(), 0);
}

#[test]
fn send_by_media_id_or_link_refuses_a_ttl() {
    let env = Env::start();
    let id = env.upload("image.png");
    let before = env.emu().request_log().len();
    for source in [
        ["--media-id", id.as_str()],
        ["--link", "https://example.com/a.png"],
    ] {
        let out = env.run(&[
            "send",
            "--to",
            TO,
            "--kind",
            "image",
            source[0],
            source[1],
            "--ttl-minutes",
            "120",
        ]);
        assert_eq!(code(&out), 2, "{source:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--ttl-minutes"), "{}", stderr(&out));
    }
    assert_eq!(env.emu().request_log().len(), before, "nothing may be sent");
}

#[test]
fn help_documents_the_ttl() {
    let env = Env::start();
    for command in ["upload", "send"] {
        let out = env.run(&[command, "--help"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let help = stdout(&out);
        assert!(help.contains("--ttl-minutes <N>"), "{command}: {help}");
        assert!(help.contains("No Storage"), "{command}: {help}");
        assert!(help.contains("60 to 43200"), "{command}: {help}");
    }
}
