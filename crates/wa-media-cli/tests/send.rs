//! `wa-media send` through the built binary against the emulator started in the test process:
//! a FILE (uploaded, then sent), an uploaded `--media-id`, a `--link`; every local refusal
//! (exit 3, nothing sent); a 130429 backed off and sent once; a send whose connection fails
//! after the request went out (exit 8, "may have been sent", never sent again); a send that
//! fails after the upload (the media id printed, the retry by `--media-id` sends once).

#[allow(dead_code)]
mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{code, fixture, json, stderr, stdout, Env};
use wa_media_emulator::{Endpoint, Fault};

/// The test recipient.
const TO: &str = "15551234567";

/// Messages the emulator accepted.
fn accepted(env: &Env) -> usize {
    env.emu().sent_messages().len()
}

#[test]
fn a_file_is_uploaded_then_sent_once() {
    let env = Env::start();
    let jpg = fixture("image.jpg");
    let out = env.run(&[
        "--json",
        "send",
        "--to",
        TO,
        jpg.to_str().unwrap(),
        "--caption",
        "your order",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    let wamid = v["wamid"].as_str().unwrap();
    assert!(wamid.starts_with("wamid."), "{v}");
    assert_eq!(v["wa_id"], TO, "{v}");
    let media_id = v["media_id"].as_str().unwrap();
    assert!(media_id.chars().all(|c| c.is_ascii_digit()), "{v}");
    // The media id is the one the upload created, and the message is the only one.
    assert!(env.emu().media_info(&media_id.parse().unwrap()).is_some());
    assert_eq!(accepted(&env), 1);
    assert_eq!(env.message_requests(), 1);
    let m = &env.emu().sent_messages()[0];
    assert_eq!(m.wamid, wamid);
    assert_eq!(m.kind, "image");
    assert_eq!(m.media_id.as_deref(), Some(media_id));
    assert_eq!(m.caption.as_deref(), Some("your order"));

    // Plain output: the wamid alone.
    let out = env.run(&["send", "--to", TO, jpg.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let line = stdout(&out);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.trim().starts_with("wamid."), "{line}");
    assert_eq!(accepted(&env), 2);
}

#[test]
fn a_voice_note_from_an_opus_file_replying_to_a_message() {
    let env = Env::start();
    let out = env.run(&[
        "send",
        "--to",
        TO,
        "--link",
        "https://example.com/a.jpg",
        "--kind",
        "image",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let first = stdout(&out).trim().to_owned();
    let out = env.run(&[
        "--json",
        "send",
        "--to",
        TO,
        fixture("voice.ogg").to_str().unwrap(),
        "--voice",
        "--reply-to",
        &first,
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("play button"),
        "a small voice note gets no note"
    );
    let v = json(&out);
    let m = env.emu().sent_messages().pop().unwrap();
    assert_eq!(m.wamid, v["wamid"].as_str().unwrap());
    assert_eq!(m.kind, "audio");
    assert!(m.voice, "sent as a voice note");
    assert_eq!(m.reply_to.as_deref(), Some(first.as_str()));
}

#[test]
fn a_voice_note_over_512_kb_is_sent_with_a_note() {
    let env = Env::start();
    // Opus in Ogg by its first bytes, padded past 512 KB.
    let mut bytes = std::fs::read(fixture("voice.ogg")).unwrap();
    bytes.resize(600 * 1024, 0);
    let big = env.dir.path().join("long.ogg");
    std::fs::write(&big, &bytes).unwrap();
    let out = env.run(&["send", "--to", TO, big.to_str().unwrap(), "--voice"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("note:") && err.contains("play button"),
        "{err}"
    );
    assert!(stdout(&out).trim().starts_with("wamid."));
    assert_eq!(accepted(&env), 1);
    // --quiet keeps stderr for errors only (RUST_LOG off: the tests' trace logs show it too).
    let out = env
        .cmd()
        .env_remove("RUST_LOG")
        .args(["-q", "send", "--to", TO, big.to_str().unwrap(), "--voice"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn an_uploaded_media_id_is_sent_without_uploading() {
    let env = Env::start();
    let id = env.upload("document.pdf");
    let uploads = env.emu().media().len();
    let out = env.run(&[
        "--json",
        "send",
        "--to",
        "+1 555-123-4567",
        "--media-id",
        &id,
        "--kind",
        "document",
        "--filename",
        "invoice.pdf",
        "--caption",
        "March",
        "--callback-data",
        "order-42",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["media_id"], id.as_str(), "{v}");
    assert_eq!(v["wa_id"], TO, "the number was normalised: {v}");
    assert!(v["wamid"].as_str().unwrap().starts_with("wamid."));
    assert_eq!(env.emu().media().len(), uploads, "nothing was uploaded");
    assert_eq!(accepted(&env), 1);
    let m = &env.emu().sent_messages()[0];
    assert_eq!(m.kind, "document");
    assert_eq!(m.media_id.as_deref(), Some(id.as_str()));
    assert_eq!(m.filename.as_deref(), Some("invoice.pdf"));
    assert_eq!(m.caption.as_deref(), Some("March"));
    assert_eq!(m.biz_opaque_callback_data.as_deref(), Some("order-42"));
}

#[test]
fn a_link_is_sent_as_is() {
    let env = Env::start();
    let out = env.run(&[
        "--json",
        "send",
        "--to",
        TO,
        "--link",
        "https://example.com/files/report.pdf",
        "--kind",
        "document",
        "--filename",
        "report.pdf",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = json(&out);
    assert!(v["wamid"].as_str().unwrap().starts_with("wamid."), "{v}");
    assert!(v["media_id"].is_null(), "{v}");
    assert_eq!(accepted(&env), 1);
    assert!(env.emu().media().is_empty(), "nothing was uploaded");
    let m = &env.emu().sent_messages()[0];
    assert_eq!(
        m.link.as_deref(),
        Some("https://example.com/files/report.pdf")
    );
    assert_eq!(m.filename.as_deref(), Some("report.pdf"));
}

#[test]
fn local_refusals_exit_3_and_send_nothing() {
    let env = Env::start();
    let id = env.upload("image.jpg");
    let before = env.emu().request_log().len();
    let mp3 = fixture("audio.mp3");
    let vorbis = fixture("vorbis.ogg");
    let jpg = fixture("image.jpg");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "caption on audio (file)",
            vec!["send", "--to", TO, mp3.to_str().unwrap(), "--caption", "hi"],
        ),
        (
            "caption on audio (id)",
            vec![
                "send",
                "--to",
                TO,
                "--media-id",
                &id,
                "--kind",
                "audio",
                "--caption",
                "hi",
            ],
        ),
        (
            "filename on an image",
            vec![
                "send",
                "--to",
                TO,
                jpg.to_str().unwrap(),
                "--filename",
                "x.jpg",
            ],
        ),
        (
            "filename on an image (id)",
            vec![
                "send",
                "--to",
                TO,
                "--media-id",
                &id,
                "--kind",
                "image",
                "--filename",
                "x.jpg",
            ],
        ),
        (
            "plain http link",
            vec![
                "send",
                "--to",
                TO,
                "--link",
                "http://example.com/a.jpg",
                "--kind",
                "image",
            ],
        ),
        (
            "recipient too short",
            vec!["send", "--to", "12", jpg.to_str().unwrap()],
        ),
        (
            "recipient not a number",
            vec![
                "send",
                "--to",
                "call-me-maybe",
                "--media-id",
                &id,
                "--kind",
                "image",
            ],
        ),
        (
            "voice note from Ogg Vorbis",
            vec!["send", "--to", TO, vorbis.to_str().unwrap(), "--voice"],
        ),
        (
            "voice on an MP3",
            vec!["send", "--to", TO, mp3.to_str().unwrap(), "--voice"],
        ),
    ];
    for (label, args) in &cases {
        let out = env.run(args);
        assert_eq!(code(&out), 3, "{label}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("nothing was sent"),
            "{label}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        env.emu().request_log().len(),
        before,
        "a refused send reached the emulator: {:?}",
        &env.emu().request_log()[before..]
    );
    assert_eq!(accepted(&env), 0);
}

#[test]
fn a_link_graph_would_refuse_exits_3_and_sends_nothing() {
    let env = Env::start();
    let base = "https://example.com/a.jpg?sig=";
    let at_limit = format!("{base}{}", "x".repeat(2048 - base.len()));
    let too_long = format!("{at_limit}x");
    // Each of these the emulator refuses, as Graph does, with 131009 (exit 4 if sent).
    for (label, link) in [
        ("2,049 bytes", too_long.as_str()),
        ("port out of range", "https://example.com:99999/a.jpg"),
        ("port not a number", "https://example.com:8o/a.jpg"),
        ("IPv6 address without ]", "https://[::1/a.jpg"),
        ("a character no host holds", "https://exa<mple.com/a.jpg"),
    ] {
        let out = env.run(&["send", "--to", TO, "--link", link, "--kind", "image"]);
        assert_eq!(code(&out), 3, "{label}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("nothing was sent"),
            "{label}: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        env.message_requests(),
        0,
        "a refused send reached the emulator"
    );
    let out = env.run(&["send", "--to", TO, "--link", &too_long, "--kind", "image"]);
    assert!(
        stderr(&out).contains(
            "wa-media: refused before sending, nothing was sent: the media link is 2049 bytes long; Graph refuses links over 2048 bytes (error 131009)"
        ),
        "{}",
        stderr(&out)
    );
    // At the limit it is sent.
    let out = env.run(&["send", "--to", TO, "--link", &at_limit, "--kind", "image"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(accepted(&env), 1);
}

#[test]
fn an_empty_file_exits_3_and_sends_nothing() {
    let env = Env::start();
    let empty = env.dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let path = empty.to_str().unwrap();
    for args in [
        vec!["send", "--to", TO, path],
        vec!["send", "--to", TO, path, "--mime", "image/jpeg"],
        vec!["send", "--to", TO, path, "--kind", "document"],
    ] {
        let out = env.run(&args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("nothing was sent"), "{args:?}: {err}");
        assert!(err.contains("empty"), "{args:?}: {err}");
    }
    let out = env.run(&["send", "--to", TO, path]);
    assert!(
        stderr(&out).contains(&format!(
            "wa-media: refused before sending, nothing was sent: {path} is empty (0 bytes): there is nothing to send"
        )),
        "{}",
        stderr(&out)
    );
    assert!(
        env.emu().request_log().is_empty(),
        "nothing reached the emulator"
    );
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::start();
    let jpg = fixture("image.jpg");
    for args in [
        vec!["send", "--to", TO],
        vec![
            "send",
            "--to",
            TO,
            jpg.to_str().unwrap(),
            "--media-id",
            "123",
        ],
        vec!["send", "--to", TO, "--media-id", "123"],
        vec!["send", "--to", TO, "--link", "https://example.com/a.jpg"],
        vec!["send", jpg.to_str().unwrap()],
    ] {
        let out = env.run(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
    assert_eq!(env.message_requests(), 0);
}

#[test]
fn a_throughput_limit_is_backed_off_and_sent_once() {
    let env = Env::start();
    let id = env.upload("image.jpg");
    env.emu().faults().push(
        Endpoint::Messages,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let out = env.run(&[
        "--json",
        "send",
        "--to",
        TO,
        "--media-id",
        &id,
        "--kind",
        "image",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(accepted(&env), 1, "sent exactly once");
    assert_eq!(
        env.message_requests(),
        2,
        "refused once (130429), then sent"
    );
}

#[test]
fn a_failed_send_after_the_upload_prints_the_media_id_and_the_retry_by_id_sends_once() {
    let env = Env::start();
    env.emu()
        .faults()
        .push(Endpoint::Messages, Fault::ServerError { status: 500 }, 1);
    let out = env.run(&[
        "--json",
        "send",
        "--to",
        TO,
        fixture("image.jpg").to_str().unwrap(),
    ]);
    // A 5xx says nothing about whether Graph took the message: it may have been sent.
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert_eq!(accepted(&env), 0);
    let v = json(&out);
    let id = v["media_id"].as_str().unwrap().to_owned();
    assert_eq!(v["sent"], false, "{v}");
    assert_eq!(v["may_have_been_sent"], true, "{v}");
    let err = stderr(&out);
    assert!(err.contains("may have been sent"), "{err}");
    assert!(
        err.contains(&format!("--media-id {id} --kind image")),
        "{err}"
    );
    assert_eq!(
        env.message_requests(),
        1,
        "a 5xx after the body was sent is not retried"
    );

    let out = env.run(&["send", "--to", TO, "--media-id", &id, "--kind", "image"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(accepted(&env), 1);
}

/// A Graph host that reads each request whole, then closes the connection without answering:
/// the message may have been sent. Counts the requests it received.
fn silent_graph() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(20)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // The head, then Content-Length bytes of body.
            let (head_end, len) = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    break (i + 4, len);
                }
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            while buf.len() < head_end + len {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = s.flush();
            // Dropped: closed with no response.
        }
    });
    (format!("http://{addr}"), count)
}

#[test]
fn a_connection_lost_after_the_request_went_out_may_have_been_sent_and_is_not_retried() {
    let env = Env::start();
    let (graph, requests) = silent_graph();
    let out = env
        .cmd()
        .env("WHATSAPP_GRAPH_URL", &graph)
        .args([
            "send",
            "--to",
            TO,
            "--media-id",
            "1037543291543636",
            "--kind",
            "image",
        ])
        .output()
        .unwrap();
    common::assert_no_leak(&out);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("may have been sent"), "{err}");
    assert!(err.contains("statuses"), "{err}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "the send was tried exactly once"
    );
}

#[test]
fn a_reset_after_the_body_was_sent_gives_exit_8_and_at_most_one_message() {
    let env = Env::start();
    let id = env.upload("image.jpg");
    env.emu()
        .faults()
        .push(Endpoint::Messages, Fault::ResetMidBody, 1);
    let out = env.run(&["send", "--to", TO, "--media-id", &id, "--kind", "image"]);
    assert_eq!(code(&out), 8, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("may have been sent"),
        "{}",
        stderr(&out)
    );
    assert!(accepted(&env) <= 1, "{:?}", env.emu().sent_messages());
    assert_eq!(env.message_requests(), 1, "not retried");
}
