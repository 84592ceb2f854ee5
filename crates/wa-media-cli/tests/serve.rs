//! `wa-media serve` (issue 14) through the built binary and over real sockets on 127.0.0.1:
//! it refuses to run unsigned by accident, answers Meta's handshake, saves every acknowledged
//! media once, verified, across SIGKILL, redeliveries and graceful restarts, drains on a signal,
//! resists hostile clients, and parks what can never succeed in `failed/` until
//! `--retry-failed`.
//!
//! The emulator runs in the test process as the Graph API and the download host; notifications
//! are delivered by a raw HTTP/1.1 client (`common::http`) and signed with
//! `wa_media_types::signature_header`. Every wait is bounded and polls for a state (a stdout
//! line, a stderr line, a fault taken by the emulator, a spool file); the hostile clients pace
//! their bytes, which is the attack, not a synchronisation.

#[allow(dead_code)]
mod common;

use std::io::Write;
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::http::{self, Closed};
use common::running::{wait_until, Running};
use common::serve::{
    index_lines, is_spooled, jpeg, media_files, part_files, requests_to, sign, spooled, Serve,
    PATH, VERIFY, WAIT,
};
use common::{code, stderr, stdout, Env};
use serde_json::Value;
use wa_media_emulator::{Endpoint, Fault, InboundMessage, SimulatedInbound};
use wa_media_types::Sha256Digest;

/// Poll step of the bounded waits.
const STEP: Duration = Duration::from_millis(20);

/// The pace of the slow hostile clients: five bytes a second.
const DRIP: Duration = Duration::from_millis(200);

/// Timeouts small enough for the hostile-client tests to finish quickly.
const SHORT_TIMEOUTS: [&str; 4] = ["--idle-timeout", "1", "--body-timeout", "1"];

fn simulate(env: &Env, msg: InboundMessage) -> SimulatedInbound {
    env.simulate(msg)
}

fn inbox(env: &Env) -> PathBuf {
    env.dir.path().join("inbox")
}

fn id(sim: &SimulatedInbound) -> &str {
    sim.media_id.as_str()
}

/// Waits until every fault queued in the emulator was taken by a request (a delayed download
/// is then under way).
fn faults_taken(env: &Env) -> bool {
    wait_until(WAIT, STEP, || env.emu().faults().pending().is_empty())
}

/// SIGTERM, then the bounded wait for a clean exit (0) with the summary line.
fn stop(s: Serve) -> common::serve::Exited {
    s.signal("TERM");
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 0, "stderr:\n{}", exited.stderr);
    assert!(exited.stderr.contains("stopped"), "{}", exited.stderr);
    exited
}

/// The `saved` lines of `events` for `media_id`.
fn saved_lines<'a>(events: &'a [Value], media_id: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|v| v["media_id"] == media_id && v["event"] == "saved")
        .collect()
}

/// The one saved file of `sim` holds `bytes`, with one index line, and nothing else is in the
/// inbox: no other file, no temporary file, nothing pending.
fn assert_saved_once(dir: &Path, sim: &SimulatedInbound, bytes: &[u8]) {
    let files = media_files(dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), bytes, "{:?}", files[0]);
    let index = index_lines(dir);
    assert_eq!(index.len(), 1, "{index:?}");
    assert_eq!(index[0]["media_id"], id(sim));
    assert_eq!(index[0]["path"], files[0].to_str().unwrap());
    assert_eq!(index[0]["sha256"], Sha256Digest::of(bytes).to_hex());
    assert_eq!(
        part_files(dir),
        Vec::<PathBuf>::new(),
        "temporary files left"
    );
    assert!(spooled(dir, "new").is_empty() && spooled(dir, "cur").is_empty());
    assert!(spooled(dir, "failed").is_empty());
}

// ---------------------------------------------------------------------------------------------
// Start-up and the handshake
// ---------------------------------------------------------------------------------------------

#[test]
fn refuses_to_start_without_an_app_secret_unless_told_to_skip_the_check() {
    let env = Env::start();
    let dir = inbox(&env);
    let d = dir.to_str().unwrap();
    // Neither --app-secret nor WHATSAPP_APP_SECRET: a usage error naming the option, before
    // anything is created or listened on.
    let out = Running::spawn(env.cmd().args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--verify-token",
        VERIFY,
        "-d",
        d,
    ]))
    .wait_output(WAIT);
    assert_eq!(code(&out), 2, "stderr:\n{}", stderr(&out));
    assert!(stderr(&out).contains("--app-secret"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(
        !dir.exists(),
        "created {dir:?} although it refused to start"
    );
    // An empty secret is no secret.
    let out = Running::spawn(env.cmd().args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--app-secret",
        "",
        "-d",
        d,
    ]))
    .wait_output(WAIT);
    assert_eq!(code(&out), 2, "stderr:\n{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));

    // Explicitly insecure: it starts, says so on stderr with the default log level, and accepts
    // an unsigned notification.
    let mut cmd = env.cmd();
    cmd.env_remove("RUST_LOG").args([
        "--json",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--path",
        PATH,
        "--insecure-skip-signature",
        "-d",
        d,
    ]);
    let mut s = Serve::spawn(cmd);
    let bytes = jpeg(2_000, 1);
    let sim = simulate(&env, InboundMessage::new(bytes.clone(), "image/jpeg"));
    let r = s.post(sim.body.as_bytes(), None).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    s.wait_saved(id(&sim));
    assert!(
        s.stderr().contains("NOT checked"),
        "no warning about unchecked signatures:\n{}",
        s.stderr()
    );
    stop(s);
    assert_saved_once(&dir, &sim, &bytes);
}

#[test]
fn the_handshake_answers_the_challenge_only_to_the_right_token() {
    let env = Env::start();
    let s = Serve::start(&env, &inbox(&env), &[]);
    let ok = s.get(&format!(
        "?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1158201444"
    ));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.text(), "1158201444");
    assert!(
        ok.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{}",
        ok.head
    );
    for q in [
        "?hub.mode=subscribe&hub.verify_token=wrong-token&hub.challenge=1".to_owned(),
        format!("?hub.mode=subscribe&hub.verify_token={VERIFY}x&hub.challenge=1"),
        format!("?hub.mode=unsubscribe&hub.verify_token={VERIFY}&hub.challenge=1"),
        format!("?hub.mode=subscribe&hub.verify_token={VERIFY}"),
        "?hub.mode=subscribe&hub.challenge=1".to_owned(),
        String::new(),
    ] {
        let r = s.get(&q);
        assert_eq!(r.status, 403, "{q}: {}", r.text());
        assert_ne!(r.text(), "1", "{q}: echoed the challenge");
    }
    // Only the configured path is the webhook.
    let other = http::request(
        s.addr,
        "GET",
        &format!("/other?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=7"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(other.status, 404);
    stop(s);
}

// ---------------------------------------------------------------------------------------------
// Nothing acknowledged is lost, nothing is saved twice
// ---------------------------------------------------------------------------------------------

#[test]
fn killed_after_the_200_before_the_download_finished_the_restart_saves_the_media_once() {
    let env = Env::start();
    let dir = inbox(&env);
    let bytes = jpeg(300_000, 3);
    let sim = simulate(&env, InboundMessage::new(bytes.clone(), "image/jpeg"));
    // The first download is held back far longer than the test needs to kill `serve`.
    env.emu()
        .faults()
        .push(Endpoint::Download, Fault::Delay { millis: 15_000 }, 1);
    let s = Serve::start(&env, &dir, &[]);
    let r = s.deliver(&sim.body);
    assert_eq!(r.status, 200, "{}", r.text());
    // The download is under way: the emulator took the fault, the entry is taken.
    assert!(faults_taken(&env), "the download never started");
    assert!(
        dir.join(".spool/cur")
            .join(format!("{}.json", id(&sim)))
            .exists(),
        "{:?}",
        spooled(&dir, "cur")
    );
    assert!(media_files(&dir).is_empty(), "{:?}", media_files(&dir));
    let killed = s.kill9();
    assert_eq!(killed.status.signal(), Some(9));
    assert!(killed.events.is_empty(), "{:?}", killed.events);
    // What a SIGKILL leaves: the entry still taken, and the fetch's temporary file.
    assert_eq!(spooled(&dir, "cur").len(), 1);
    assert_eq!(part_files(&dir).len(), 1, "{:?}", part_files(&dir));

    let mut s = Serve::start(&env, &dir, &[]);
    let saved = s.wait_saved(id(&sim));
    assert_eq!(saved["event"], "saved", "{saved}");
    assert_eq!(saved["sha256"], Sha256Digest::of(&bytes).to_hex());
    let exited = stop(s);
    assert_eq!(saved_lines(&exited.events, id(&sim)).len(), 1);
    assert_saved_once(&dir, &sim, &bytes);
    assert_eq!(saved["path"], media_files(&dir)[0].to_str().unwrap());
    assert!(is_spooled(&dir, id(&sim)), "the done record is kept");
}

#[test]
fn three_deliveries_and_one_after_a_restart_give_one_file_one_index_line_one_download() {
    let env = Env::start();
    let dir = inbox(&env);
    let bytes = b"%PDF-1.4 an invoice, delivered four times".to_vec();
    let sim = simulate(
        &env,
        InboundMessage::new(bytes.clone(), "application/pdf").filename("invoice.pdf"),
    );
    let mut s = Serve::start(&env, &dir, &[]);
    // Meta redelivers when it did not see an answer in time: the three may overlap.
    let addr = s.addr;
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| common::serve::deliver(addr, &sim.body).unwrap().status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses, [200, 200, 200]);
    assert_eq!(s.wait_saved(id(&sim))["event"], "saved");
    let first = stop(s);

    let s = Serve::start(&env, &dir, &[]);
    assert_eq!(s.deliver(&sim.body).status, 200);
    let second = stop(s);

    assert_eq!(
        saved_lines(&first.events, id(&sim)).len(),
        1,
        "{:?}",
        first.events
    );
    assert!(
        second.events.is_empty(),
        "saved again after the restart: {:?}",
        second.events
    );
    assert_saved_once(&dir, &sim, &bytes);
    assert!(media_files(&dir)[0].ends_with("invoice.pdf"));
    // Downloaded once, from the notification's own `url`: no retrieve.
    assert_eq!(requests_to(&env, Endpoint::Retrieve), 0);
    assert_eq!(requests_to(&env, Endpoint::Download), 1);
}

// ---------------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------------

#[test]
fn sigterm_drains_finishes_the_running_download_and_leaves_the_rest_for_the_restart() {
    let env = Env::start();
    let dir = inbox(&env);
    let a_bytes = jpeg(50_000, 5);
    let b_bytes = jpeg(60_000, 6);
    let a = simulate(&env, InboundMessage::new(a_bytes.clone(), "image/jpeg"));
    let b = simulate(&env, InboundMessage::new(b_bytes.clone(), "image/jpeg"));
    let c = simulate(&env, InboundMessage::new(jpeg(7_000, 7), "image/jpeg"));
    let d = simulate(&env, InboundMessage::new(jpeg(8_000, 8), "image/jpeg"));
    // A's download takes a while (far longer than the steps up to the signal); the one
    // worker is busy with it while B waits.
    env.emu()
        .faults()
        .push(Endpoint::Download, Fault::Delay { millis: 3_000 }, 1);
    let mut s = Serve::start(&env, &dir, &["--concurrency", "1", "--grace", "60"]);
    assert_eq!(s.deliver(&a.body).status, 200);
    assert!(faults_taken(&env), "A's download never started");
    assert_eq!(s.deliver(&b.body).status, 200);
    // A keep-alive connection, open before the signal.
    let mut kept = http::connect(s.addr).unwrap();
    kept.write_all(&http::head(
        "GET",
        &format!("{PATH}?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=k"),
        s.addr,
        &[],
        None,
        true,
    ))
    .unwrap();
    assert_eq!(http::read_response(&mut kept).unwrap().status, 200);

    s.signal("TERM");
    // C, on the connection opened before: whatever the race with the signal, a 200 is only
    // ever given for a media that is in the spool.
    let sig = sign(c.body.as_bytes());
    let mut req = http::head(
        "POST",
        PATH,
        s.addr,
        &[
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", &sig),
        ],
        Some(c.body.len()),
        true,
    );
    req.extend_from_slice(c.body.as_bytes());
    let c_answer = kept
        .write_all(&req)
        .and_then(|()| http::read_response(&mut kept));
    if let Ok(r) = &c_answer {
        assert!(
            r.status == 200 || r.status == 503,
            "{} {}",
            r.status,
            r.text()
        );
        if r.status == 200 {
            assert!(is_spooled(&dir, id(&c)), "200 for a media not spooled");
        }
    }
    // D, once serve says it drains: 503 (the listener stays open until exit), never spooled.
    assert!(s.wait_stderr("draining", WAIT), "{}", s.stderr());
    let r = common::serve::deliver(s.addr, &d.body).expect("refused while draining");
    assert_eq!(r.status, 503, "while draining: {}", r.text());
    assert!(!is_spooled(&dir, id(&d)), "D was spooled while draining");

    // The running download finished within the grace; B stays in the spool.
    s.wait_saved(id(&a));
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 0, "{}", exited.stderr);
    assert!(saved_lines(&exited.events, id(&b)).is_empty());
    let c_acknowledged = matches!(&c_answer, Ok(r) if r.status == 200);
    let pending = if c_acknowledged { 2 } else { 1 };
    assert!(
        exited
            .stderr
            .contains(&format!("stopped: {pending} pending")),
        "{}",
        exited.stderr
    );
    assert_eq!(part_files(&dir), Vec::<PathBuf>::new());
    assert!(is_spooled(&dir, id(&b)) && !is_spooled(&dir, id(&d)));

    // Restarted: B is saved without a new delivery; D, delivered again, is saved too.
    let mut s = Serve::start(&env, &dir, &[]);
    s.wait_saved(id(&b));
    assert_eq!(s.deliver(&d.body).status, 200);
    s.wait_saved(id(&d));
    if c_acknowledged {
        s.wait_saved(id(&c));
    }
    stop(s);
    let saved: Vec<String> = index_lines(&dir)
        .iter()
        .map(|l| l["media_id"].as_str().unwrap().to_owned())
        .collect();
    for m in [&a, &b, &d] {
        assert_eq!(saved.iter().filter(|s| *s == id(m)).count(), 1, "{saved:?}");
    }
    for (m, bytes) in [(&a, &a_bytes), (&b, &b_bytes)] {
        let line = index_lines(&dir)
            .into_iter()
            .find(|l| l["media_id"] == id(m))
            .unwrap();
        assert_eq!(
            &std::fs::read(line["path"].as_str().unwrap()).unwrap(),
            bytes
        );
    }
}

#[test]
fn a_download_longer_than_the_grace_is_cut_cleanly_and_saved_after_the_restart() {
    let env = Env::start();
    let dir = inbox(&env);
    let bytes = jpeg(80_000, 9);
    let sim = simulate(&env, InboundMessage::new(bytes.clone(), "image/jpeg"));
    env.emu()
        .faults()
        .push(Endpoint::Download, Fault::Delay { millis: 15_000 }, 1);
    let s = Serve::start(&env, &dir, &["--grace", "1"]);
    assert_eq!(s.deliver(&sim.body).status, 200);
    assert!(faults_taken(&env), "the download never started");
    assert_eq!(part_files(&dir).len(), 1);
    let exited = stop(s);
    assert!(exited.events.is_empty(), "{:?}", exited.events);
    assert!(exited.stderr.contains("cut off"), "{}", exited.stderr);
    // Cancelled, not killed: the temporary file went with it; the entry stays.
    assert_eq!(part_files(&dir), Vec::<PathBuf>::new());
    assert!(media_files(&dir).is_empty());
    assert!(is_spooled(&dir, id(&sim)));

    let mut s = Serve::start(&env, &dir, &[]);
    s.wait_saved(id(&sim));
    stop(s);
    assert_saved_once(&dir, &sim, &bytes);
}

#[test]
fn a_second_signal_exits_at_once_and_the_restart_saves_what_was_pending() {
    let env = Env::start();
    let dir = inbox(&env);
    let bytes = jpeg(40_000, 10);
    let sim = simulate(&env, InboundMessage::new(bytes.clone(), "image/jpeg"));
    // Far longer than WAIT: only the second signal can end `serve` in time.
    env.emu()
        .faults()
        .push(Endpoint::Download, Fault::Delay { millis: 60_000 }, 1);
    let s = Serve::start(&env, &dir, &["--grace", "120"]);
    assert_eq!(s.deliver(&sim.body).status, 200);
    assert!(faults_taken(&env), "the download never started");
    s.signal("TERM");
    assert!(s.wait_stderr("draining", WAIT), "{}", s.stderr());
    s.signal("INT");
    let exited = s.wait_exit(WAIT);
    assert_eq!(exited.code(), 130, "{}", exited.stderr);
    assert!(exited.stderr.contains("second signal"), "{}", exited.stderr);

    let mut s = Serve::start(&env, &dir, &[]);
    s.wait_saved(id(&sim));
    stop(s);
    assert_saved_once(&dir, &sim, &bytes);
}

// ---------------------------------------------------------------------------------------------
// Hostile clients
// ---------------------------------------------------------------------------------------------

fn handshake_head(addr: std::net::SocketAddr, extra: &[(&str, &str)]) -> Vec<u8> {
    http::head(
        "GET",
        &format!("{PATH}?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=x"),
        addr,
        extra,
        None,
        true,
    )
}

#[test]
fn slowloris_headers_are_cut_off_and_serve_keeps_answering() {
    let env = Env::start();
    let s = Serve::start(&env, &inbox(&env), &SHORT_TIMEOUTS);
    let padding = "a".repeat(1_000);
    // Two at once, each sending its head at five bytes a second.
    let addr = s.addr;
    let outcomes: Vec<(Vec<u8>, bool)> = std::thread::scope(|scope| {
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let head = handshake_head(addr, &[("X-Padding", &padding)]);
                scope.spawn(move || {
                    let mut c = http::connect(addr).unwrap();
                    // At most 100 bytes (20 s), far more than the 1 s allowed.
                    http::drip(&mut c, &head, DRIP, 100)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (received, closed) in outcomes {
        assert!(closed, "a slowloris head was not cut off");
        assert!(
            !http::is_success(&received),
            "{}",
            String::from_utf8_lossy(&received)
        );
    }
    assert!(s.answers_handshake());
    stop(s);
}

#[test]
fn a_body_at_five_bytes_a_second_gets_408_or_is_cut_and_nothing_is_spooled() {
    let env = Env::start();
    let dir = inbox(&env);
    let s = Serve::start(&env, &dir, &SHORT_TIMEOUTS);
    let sim = simulate(&env, InboundMessage::new(jpeg(1_000, 11), "image/jpeg"));
    let sig = sign(sim.body.as_bytes());
    let mut c = http::connect(s.addr).unwrap();
    c.write_all(&http::head(
        "POST",
        PATH,
        s.addr,
        &[
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", &sig),
        ],
        Some(sim.body.len()),
        true,
    ))
    .unwrap();
    let (received, closed) = http::drip(&mut c, sim.body.as_bytes(), DRIP, 100);
    assert!(
        closed || !received.is_empty(),
        "a 1-byte-a-second body was neither answered nor cut"
    );
    if !received.is_empty() {
        assert!(
            received.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&received)
        );
    }
    assert!(!is_spooled(&dir, id(&sim)));
    assert!(s.answers_handshake());
    // The same notification at full speed is accepted.
    assert_eq!(s.deliver(&sim.body).status, 200);
    let mut s = s;
    s.wait_saved(id(&sim));
    stop(s);
}

#[test]
fn silent_connections_and_a_silent_h2c_preface_are_closed() {
    let env = Env::start();
    let s = Serve::start(&env, &inbox(&env), &SHORT_TIMEOUTS);
    // The h2c preface alone; the preface and an empty SETTINGS frame (a complete HTTP/2
    // handshake, then no request); nothing at all.
    let settings: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
    let openings: [(&str, Vec<u8>); 3] = [
        ("h2c preface", http::H2C_PREFACE.to_vec()),
        (
            "h2c preface and SETTINGS",
            [http::H2C_PREFACE, settings].concat(),
        ),
        ("nothing", Vec::new()),
    ];
    let mut conns: Vec<(&str, TcpStream)> = openings
        .iter()
        .map(|(name, bytes)| {
            let mut c = http::connect(s.addr).unwrap();
            c.write_all(bytes).unwrap();
            (*name, c)
        })
        .collect();
    for (name, c) in &mut conns {
        match http::wait_closed(c, WAIT) {
            Closed::Yes { received } => assert!(
                !http::is_success(&received),
                "{name}: {}",
                String::from_utf8_lossy(&received)
            ),
            Closed::No => panic!("{name}: still open after {WAIT:?}"),
        }
    }
    assert!(s.answers_handshake());
    stop(s);
}

#[test]
fn idle_connections_at_the_cap_do_not_lock_out_the_next_client() {
    let env = Env::start();
    // Idle connections are closed after 3 s: ample time to see the fifth client wait.
    let s = Serve::start(
        &env,
        &inbox(&env),
        &["--idle-timeout", "3", "--max-connections", "4"],
    );
    // Four connections that never send anything take every slot.
    let mut idle: Vec<TcpStream> = (0..4).map(|_| http::connect(s.addr).unwrap()).collect();
    // A fifth client waits behind them (the kernel's backlog holds it)...
    let mut fifth = http::connect(s.addr).unwrap();
    fifth.write_all(&handshake_head(s.addr, &[])).unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        std::io::Read::read(&mut fifth, &mut byte).is_err(),
        "served beyond the cap of 4"
    );
    // ...and is served once the idle ones time out.
    fifth.set_read_timeout(Some(WAIT)).unwrap();
    let r = http::read_response(&mut fifth).expect("the fifth client was never served");
    assert_eq!((r.status, r.text().as_str()), (200, "x"));
    for (i, c) in idle.iter_mut().enumerate() {
        assert!(
            matches!(http::wait_closed(c, WAIT), Closed::Yes { .. }),
            "idle connection {i} still open"
        );
    }
    // Handshakes keep working, more than the cap of them in a row.
    for _ in 0..8 {
        assert!(s.answers_handshake());
    }
    stop(s);
}

#[test]
fn oversized_unsigned_and_malformed_bodies_get_a_4xx_and_serve_keeps_answering() {
    let env = Env::start();
    let dir = inbox(&env);
    let mut s = Serve::start(&env, &dir, &SHORT_TIMEOUTS);
    let sim = simulate(&env, InboundMessage::new(jpeg(3_000, 12), "image/jpeg"));

    // 10 MB, announced: 413 before the body is read.
    let big = vec![b' '; 10 * 1024 * 1024];
    let sig = sign(&big);
    let mut c = http::connect(s.addr).unwrap();
    c.write_all(&http::head(
        "POST",
        PATH,
        s.addr,
        &[
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", &sig),
        ],
        Some(big.len()),
        false,
    ))
    .unwrap();
    let mut writer = c.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&big);
    });
    let r = http::read_response(&mut c).unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    drop(c);
    sender.join().unwrap();

    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let nested_object = format!(
        "{}{}",
        r#"{"object":"whatsapp_business_account","entry":"#.repeat(20_000),
        "}".repeat(20_000)
    )
    .into_bytes();
    for (name, body) in [
        ("not JSON", b"not json at all".to_vec()),
        ("deeply nested arrays", nested),
        ("deeply nested objects", nested_object),
        ("not WhatsApp", br#"{"object":"page","entry":[]}"#.to_vec()),
    ] {
        let r = s.post(&body, Some(&sign(&body))).unwrap();
        assert_eq!(r.status, 400, "{name}: {}", r.text());
    }
    // The genuine notification with no signature, a forged one, one byte changed.
    let body = sim.body.as_bytes();
    assert_eq!(s.post(body, None).unwrap().status, 401);
    let forged = wa_media_types::signature_header(b"not-the-secret", body);
    assert_eq!(s.post(body, Some(&forged)).unwrap().status, 403);
    let mut altered = body.to_vec();
    let i = altered.iter().position(|b| *b == b'1').unwrap();
    altered[i] = b'2';
    assert_eq!(s.post(&altered, Some(&sign(body))).unwrap().status, 403);
    assert!(!is_spooled(&dir, id(&sim)));
    assert_eq!(
        requests_to(&env, Endpoint::Retrieve) + requests_to(&env, Endpoint::Download),
        0,
        "fetched for a bad delivery"
    );

    // Still answering, and the genuine delivery goes through.
    assert!(s.answers_handshake());
    assert_eq!(s.deliver(&sim.body).status, 200);
    s.wait_saved(id(&sim));
    stop(s);
    assert_eq!(index_lines(&dir).len(), 1);
    assert!(spooled(&dir, "failed").is_empty());
}

// ---------------------------------------------------------------------------------------------
// What can never succeed goes to failed/, and comes back on request
// ---------------------------------------------------------------------------------------------

/// The failed entry of `media_id`, parsed.
fn failed_entry(dir: &Path, media_id: &str) -> Value {
    let p = dir.join(".spool/failed").join(format!("{media_id}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{p:?}: {e}"))).unwrap()
}

#[test]
fn a_webhook_digest_that_disagrees_goes_to_failed_and_retry_failed_tries_it_once_more() {
    let env = Env::start();
    let dir = inbox(&env);
    let sim = simulate(&env, InboundMessage::new(jpeg(5_000, 13), "image/jpeg"));
    let mut n = sim.notification.clone();
    n["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["sha256"] =
        Sha256Digest::of(b"another media").to_base64().into();
    // Without the media `url` (whose bytes would fail the wrong digest and fall back to the
    // retrieve): the retrieve answer's disagreement alone is under test here.
    n["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
        .as_object_mut()
        .unwrap()
        .remove("url");
    let body = n.to_string();

    let s = Serve::start(&env, &dir, &[]);
    assert_eq!(s.deliver(&body).status, 200);
    // Failures are reported on stderr.
    let line = format!("{} ({}) failed: digest mismatch", id(&sim), sim.message_id);
    assert!(s.wait_stderr(&line, WAIT), "{}", s.stderr());
    let exited = stop(s);
    assert!(exited.events.is_empty(), "{:?}", exited.events);
    assert!(exited.stderr.contains("1 failed"), "{}", exited.stderr);
    let entry = failed_entry(&dir, id(&sim));
    let reason = entry["failure"].as_str().unwrap().to_owned();
    assert!(reason.starts_with("digest mismatch"), "{entry}");
    assert_eq!(entry["media_id"], id(&sim));
    // Nothing in DIR but the spool: no file, no index line; nothing was downloaded.
    assert_eq!(media_files(&dir), Vec::<PathBuf>::new());
    assert!(!dir.join("index.jsonl").exists());
    assert_eq!(part_files(&dir), Vec::<PathBuf>::new());
    assert_eq!(requests_to(&env, Endpoint::Download), 0);
    assert_eq!(requests_to(&env, Endpoint::Retrieve), 1);
    assert!(spooled(&dir, "new").is_empty() && spooled(&dir, "cur").is_empty());

    // --retry-failed moves it back: it is tried again (a new retrieve) and fails again for the
    // same reason, with its attempts counted afresh.
    let s = Serve::start(&env, &dir, &["--retry-failed"]);
    assert!(
        s.wait_stderr("1 failed entries queued again", WAIT),
        "{}",
        s.stderr()
    );
    assert!(
        wait_until(WAIT, STEP, || s.stderr().matches(&line).count() == 1),
        "{}",
        s.stderr()
    );
    stop(s);
    assert_eq!(requests_to(&env, Endpoint::Retrieve), 2);
    assert_eq!(requests_to(&env, Endpoint::Download), 0);
    let again = failed_entry(&dir, id(&sim));
    assert_eq!(again["failure"].as_str().unwrap(), reason);
    assert_eq!(again["attempts"], 1, "{again}");
    assert!(media_files(&dir).is_empty());
}

#[test]
fn failed_entries_stay_failed_across_restarts_until_retry_failed_which_saves_them() {
    let env = Env::start();
    let dir = inbox(&env);
    let bytes = jpeg(20_000, 14);
    let sim = simulate(&env, InboundMessage::new(bytes.clone(), "image/jpeg"));
    // A misconfigured token: the API refuses the media with a 4xx, a permanent failure.
    let mut cmd = common::serve::serve_command(&env, &dir, &[]);
    cmd.env("WHATSAPP_TOKEN", "EAAG-a-revoked-token");
    let s = Serve::spawn(cmd);
    assert_eq!(s.deliver(&sim.body).status, 200);
    assert!(
        wait_until(WAIT, STEP, || dir
            .join(".spool/failed")
            .join(format!("{}.json", id(&sim)))
            .exists()),
        "{}",
        s.stderr()
    );
    stop(s);
    let entry = failed_entry(&dir, id(&sim));
    assert!(
        entry["failure"]
            .as_str()
            .unwrap()
            .starts_with("refused by the API"),
        "{entry}"
    );
    let retrieves = requests_to(&env, Endpoint::Retrieve);
    assert_eq!(retrieves, 1);

    // Fixed token, no --retry-failed: a failed entry is not retried, even when redelivered.
    let s = Serve::start(&env, &dir, &[]);
    assert_eq!(s.deliver(&sim.body).status, 200);
    let exited = stop(s);
    assert!(exited.events.is_empty(), "{:?}", exited.events);
    assert_eq!(requests_to(&env, Endpoint::Retrieve), retrieves);
    assert_eq!(spooled(&dir, "failed").len(), 1);

    // --retry-failed: back in the queue, saved and verified.
    let mut s = Serve::start(&env, &dir, &["--retry-failed"]);
    assert!(
        s.wait_stderr("1 failed entries queued again", WAIT),
        "{}",
        s.stderr()
    );
    assert_eq!(s.wait_saved(id(&sim))["event"], "saved");
    stop(s);
    assert_saved_once(&dir, &sim, &bytes);
}
