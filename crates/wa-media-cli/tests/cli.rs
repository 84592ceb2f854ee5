//! Runs the built `wa-media` binary against an emulator started in the test process, over real
//! sockets on 127.0.0.1: every command's success path, every exit code through a real cause,
//! `--json` outputs parsed, `demo`, `inbound` with a signed notification, and the token never
//! appearing in any output.

#[allow(dead_code)]
mod common;

use common::{
    assert_no_leak, code, fixture, json, stderr, stdout, Env, StdinBytes, BIN, CANARY_TOKEN, PHONE,
};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use wa_media_emulator::{Endpoint, Fault, InboundMessage};
use wa_media_types::Sha256Digest;

#[test]
fn upload_info_download_delete_round_trip_with_json() {
    let env = Env::start();
    let id = env.upload("document.pdf");
    let original = std::fs::read(fixture("document.pdf")).unwrap();

    let out = env.run(&["--json", "info", &id]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let info = json(&out);
    assert_eq!(info["id"], id.as_str());
    assert_eq!(info["mime_type"], "application/pdf");
    assert_eq!(info["file_size"], original.len() as u64);
    assert_eq!(info["sha256"], Sha256Digest::of(&original).to_hex());

    let dest = env.dir.path().join("out.pdf");
    let out = env.run(&["--json", "download", &id, "-o", dest.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let d = json(&out);
    assert_eq!(d["sha256"], Sha256Digest::of(&original).to_hex());
    assert_eq!(d["file_size"], original.len() as u64);
    assert_eq!(d["mime_type"], "application/pdf");
    assert_eq!(std::fs::read(&dest).unwrap(), original);

    let out = env.run(&["--json", "delete", &id]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["deleted"], true);

    // Gone: an API error, exit 4, with the Graph code in the message.
    let out = env.run(&["info", &id]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("code 100"), "{}", stderr(&out));
}

#[test]
fn plain_output_and_download_to_stdout() {
    let env = Env::start();
    let out = env.run(&["upload", fixture("image.png").to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    assert!(id.chars().all(|c| c.is_ascii_digit()), "{id:?}");

    let out = env.run(&["download", &id, "-o", "-"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, std::fs::read(fixture("image.png")).unwrap());
}

#[test]
fn mime_is_guessed_from_contents() {
    let env = Env::start();
    // voice.ogg is Ogg Opus: the guess must keep the codec so validation accepts it.
    let id = env.upload("voice.ogg");
    let out = env.run(&["--json", "info", &id]);
    assert_eq!(json(&out)["mime_type"], "audio/ogg; codecs=opus");
}

#[test]
fn exit_2_without_a_token_or_with_bad_arguments() {
    let env = Env::start();
    let out = env
        .cmd()
        .env_remove("WHATSAPP_TOKEN")
        .args(["info", "123"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("WHATSAPP_TOKEN"));
    let out = env.run(&["info", "12/34"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let out = env.run(&["frobnicate"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn exit_3_when_validation_refuses_and_nothing_is_sent() {
    let env = Env::start();
    let before = env.emu().request_log().len();
    let out = env.run(&[
        "upload",
        fixture("vorbis.ogg").to_str().unwrap(),
        "--kind",
        "voice",
        "--mime",
        "audio/ogg; codecs=opus",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let out = env.run(&[
        "upload",
        fixture("photo.jpg").to_str().unwrap(),
        "--mime",
        "image/jpeg",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    // An empty file: refused as such, not as a file whose type cannot be told (exit 2).
    let empty = env.dir.path().join("empty.pdf");
    std::fs::write(&empty, b"").unwrap();
    let out = env.run(&["upload", empty.to_str().unwrap()]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is empty (0 bytes): there is nothing to upload"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.emu().request_log().len(),
        before,
        "a refused upload reached the server"
    );
}

#[test]
fn exit_4_on_api_errors() {
    let env = Env::start();
    let out = env.run(&["--json", "info", "999999999999999"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let out = env
        .cmd()
        .env("WHATSAPP_TOKEN", "wrong-token")
        .args(["info", "999999999999999"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("190"), "{}", stderr(&out));
}

#[test]
fn exit_5_on_a_corrupted_download_and_no_file_is_left() {
    let env = Env::start();
    let id = env.upload("audio.mp3");
    env.emu()
        .faults()
        .push(Endpoint::Download, Fault::CorruptByte, 20);
    let dest = env.dir.path().join("song.mp3");
    let out = env.run(&["download", &id, "-o", dest.to_str().unwrap()]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(!dest.exists(), "a corrupt file was left at the destination");
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn exit_6_when_the_network_fails() {
    let env = Env::start();
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = env
        .cmd()
        .env("WHATSAPP_GRAPH_URL", format!("http://127.0.0.1:{port}"))
        .args(["info", "123456"])
        .output()
        .unwrap();
    assert_no_leak(&out);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
}

#[test]
fn exit_7_when_the_download_host_is_not_trusted() {
    let env = Env::start();
    let id = env.upload("image.jpg");
    let before = env.emu().request_log().len();
    let dest = env.dir.path().join("x.jpg");
    let out = env
        .cmd()
        .env_remove("WHATSAPP_TRUSTED_HOSTS")
        .args(["download", &id, "-o", dest.to_str().unwrap()])
        .output()
        .unwrap();
    assert_no_leak(&out);
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert!(!dest.exists());
    // Only the retrieve reached the emulator; the download host never saw a request.
    let log = env.emu().request_log();
    assert!(
        log[before..]
            .iter()
            .all(|r| r.origin == wa_media_emulator::Origin::Graph),
        "{log:?}"
    );
}

#[test]
fn demo_passes() {
    let out = Command::new(BIN)
        .arg("demo")
        .env_remove("WHATSAPP_TOKEN")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("17/17 steps verified"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    let out = Command::new(BIN).args(["--json", "demo"]).output().unwrap();
    assert_eq!(code(&out), 0);
    let v = json(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["rows"].as_array().unwrap().len(), 17);
    // The last step: a sample sent, its statuses received by the webhook service.
    let sent = &v["rows"][15];
    assert!(
        sent["wamid"].as_str().unwrap().starts_with("wamid."),
        "{sent}"
    );
    let statuses: Vec<&str> = sent["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for want in ["sent", "delivered", "read"] {
        assert!(statuses.contains(&want), "{statuses:?}");
    }
    // Then outside the 24-hour window: the PDF as a template's document header (issue 27),
    // its statuses through the webhook service too.
    let template = &v["rows"][16];
    assert_eq!(template["ok"], true, "{template}");
    assert!(
        template["result"].as_str().unwrap().contains("131047"),
        "{template}"
    );
    assert_eq!(
        template["statuses"],
        serde_json::json!(["sent", "delivered", "read"]),
        "{template}"
    );
}

#[test]
fn inbound_verifies_the_signature_then_downloads_every_media() {
    let env = Env::start();
    let secret = "app-secret-for-tests";
    let mut msg = InboundMessage::new(
        std::fs::read(fixture("document.pdf")).unwrap(),
        "application/pdf",
    );
    msg.filename = Some("../../etc/passwd".to_string());
    let doc = env.rt.block_on(env.emu().simulate_inbound(msg)).unwrap();
    let payload = env.dir.path().join("webhook.json");
    std::fs::write(&payload, &doc.body).unwrap();
    let inbox = env.dir.path().join("inbox");

    // A wrong signature: nothing downloaded, exit 1.
    let out = env.run(&[
        "inbound",
        payload.to_str().unwrap(),
        "-d",
        inbox.to_str().unwrap(),
        "--app-secret",
        secret,
        "--signature",
        "sha256=00",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(!inbox.exists() || std::fs::read_dir(&inbox).unwrap().next().is_none());

    let sig = doc.signature_header(secret.as_bytes());
    let out = env.run(&[
        "--json",
        "inbound",
        payload.to_str().unwrap(),
        "-d",
        inbox.to_str().unwrap(),
        "--app-secret",
        secret,
        "--signature",
        &sig,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let line: Value = serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    let path = PathBuf::from(line["path"].as_str().unwrap());
    assert_eq!(
        path,
        inbox.join("passwd"),
        "the hostile filename escaped or was not made safe"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(fixture("document.pdf")).unwrap()
    );
    assert_eq!(line["media_id"], doc.media_id.as_str());
}

#[test]
fn inbound_downloads_a_notification_with_several_media() {
    let env = Env::start();
    let inbox = env.dir.path().join("inbox");
    for (file, mime, voice) in [
        ("image.jpg", "image/jpeg", false),
        ("voice.ogg", "audio/ogg; codecs=opus", true),
        ("video.mp4", "video/mp4", false),
    ] {
        let mut msg = InboundMessage::new(std::fs::read(fixture(file)).unwrap(), mime);
        msg.voice = voice;
        let sim = env.rt.block_on(env.emu().simulate_inbound(msg)).unwrap();
        let out = env
            .cmd()
            .args(["--json", "inbound", "-", "-d", inbox.to_str().unwrap()])
            .stdin_bytes(sim.body.as_bytes());
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let line: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        let got = std::fs::read(line["path"].as_str().unwrap()).unwrap();
        assert_eq!(got, std::fs::read(fixture(file)).unwrap(), "{file}");
        assert_eq!(line["sha256"], Sha256Digest::of(&got).to_hex());
    }
}

#[test]
fn help_lists_exit_codes_and_never_prints_the_token() {
    let out = Command::new(BIN)
        .arg("--help")
        .env("WHATSAPP_TOKEN", CANARY_TOKEN)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(text.contains("Exit codes"), "{text}");
    assert!(text.contains("7  refused for the token's safety"), "{text}");
    assert!(
        text.contains("8  send: the message may have been sent"),
        "{text}"
    );
    assert_no_leak(&out);
}

#[test]
fn inbound_plain_output_is_one_line_per_file() {
    let env = Env::start();
    let sim = env
        .rt
        .block_on(env.emu().simulate_inbound(InboundMessage::new(
            std::fs::read(fixture("image.png")).unwrap(),
            "image/png",
        )))
        .unwrap();
    let inbox = env.dir.path().join("inbox");
    let out = env
        .cmd()
        .args(["inbound", "-", "-d", inbox.to_str().unwrap()])
        .stdin_bytes(sim.body.as_bytes());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(sim.media_id.as_str()) && text.contains("(verified)"),
        "{text}"
    );
}

#[test]
fn emulator_command_serves_until_interrupted() {
    use std::io::BufRead;
    let mut child = Command::new(BIN)
        .args([
            "--json",
            "emulator",
            "--graph-listen",
            "127.0.0.1:0",
            "--lookaside-listen",
            "127.0.0.1:0",
        ])
        .env("WHATSAPP_TOKEN", CANARY_TOKEN)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first stdout line announces the two origins once both listen.
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let info: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
    let graph = info["graph_url"].as_str().unwrap().to_string();
    let lookaside = info["lookaside_addr"].as_str().unwrap().to_string();
    assert_eq!(
        info["token"], CANARY_TOKEN,
        "the emulator accepts the token it was given"
    );

    // A full round trip through the CLI against the emulator process.
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("WHATSAPP_TOKEN", CANARY_TOKEN)
            .env("WHATSAPP_PHONE_NUMBER_ID", PHONE)
            .env("WHATSAPP_GRAPH_URL", &graph)
            .env("WHATSAPP_TRUSTED_HOSTS", &lookaside)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let out = cli(&["upload", fixture("image.jpg").to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("x.jpg");
    let out = cli(&["download", &id, "-o", dest.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(fixture("image.jpg")).unwrap()
    );

    // Ctrl-C (SIGINT) stops it cleanly with exit 0.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?} {}", out.status, stderr(&out));
}
