//! Data safety, proven through the built `wa-media` binary (issue 11): a saved file is never
//! replaced by an unverified or mismatching one; a non-regular file is never replaced; an
//! interrupted command leaves no partial file; one media never overwrites another's file; exit
//! codes say what went wrong and a media id can only address a media.
//!
//! Every test runs the real binary against an emulator in the test process, or against a tiny
//! server of `common::raw_http` that stops mid-transfer so the test acts at a known moment.
//! Every wait is bounded and polls readiness; the one timing assertion (bounded concurrency) is
//! structural: at least the rounds the injected delays force, far fewer than a sequential run.

#[allow(dead_code)]
mod common;

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::raw_http::{StallingMedia, UploadGate};
use common::running::{wait_until, Running};
use common::{
    assert_no_leak, clean_command, code, fixture, stderr, stdout, Env, CANARY_TOKEN, PHONE,
};
use serde_json::Value;
use wa_media_emulator::{Endpoint, Fault, InboundMessage, Origin, SimulatedInbound};
use wa_media_types::Sha256Digest;

/// Bound of every wait for something the binary does.
const WAIT: Duration = Duration::from_secs(20);
/// Poll step of those waits.
const STEP: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Every entry of `dir`, hidden ones included, sorted; empty when `dir` does not exist.
fn entries(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// How many non-empty regular files `dir` holds (the bytes of transfers in progress).
fn partial_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .filter(|e| e.metadata().is_ok_and(|m| m.is_file() && m.len() > 0))
            .count()
    })
}

fn simulate(env: &Env, msg: InboundMessage) -> SimulatedInbound {
    env.simulate(msg)
}

/// One notification carrying the messages of all `sims`, in order.
fn merged(sims: &[&SimulatedInbound]) -> Value {
    let mut out = sims[0].notification.clone();
    let messages: Vec<Value> = sims
        .iter()
        .flat_map(|s| messages(&s.notification).clone())
        .collect();
    out["entry"][0]["changes"][0]["value"]["messages"] = Value::Array(messages);
    out
}

fn messages(notification: &Value) -> &Vec<Value> {
    notification["entry"][0]["changes"][0]["value"]["messages"]
        .as_array()
        .unwrap()
}

/// The media object (`image`, `document`, …) of the notification's first message.
fn first_media(notification: &mut Value) -> &mut Value {
    let message = &mut notification["entry"][0]["changes"][0]["value"]["messages"][0];
    let kind = message["type"].as_str().unwrap().to_owned();
    &mut message[kind]
}

/// Writes a webhook payload outside the inbox and returns its path as a string.
fn payload(env: &Env, name: &str, body: &str) -> String {
    let dir = env.dir.path().join("payloads");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `wa-media --json inbound PAYLOAD -d INBOX [extra…]`.
fn inbound(env: &Env, payload: &str, inbox: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--json", "inbound", payload, "-d", inbox.to_str().unwrap()];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// stdout's JSON lines.
fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// The file name of a JSON result's `path`.
fn file_name_of(line: &Value) -> String {
    let path = line["path"]
        .as_str()
        .unwrap_or_else(|| panic!("no path in {line}"));
    Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Fails unless the file at `path` holds exactly `want` (without printing the bytes).
fn assert_holds(path: &Path, want: &[u8], what: &str) {
    let got = std::fs::read(path).unwrap_or_else(|e| panic!("{what}: {}: {e}", path.display()));
    assert!(
        got == want,
        "{what}: {} holds other bytes ({} bytes, SHA-256 {}; want {} bytes, {})",
        path.display(),
        got.len(),
        Sha256Digest::of(&got).to_hex(),
        want.len(),
        Sha256Digest::of(want).to_hex()
    );
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs a command that must succeed (`mkfifo`, `mknod`); whether it did.
fn sh(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

// ---------------------------------------------------------------------------------------------
// 1. A saved file is never replaced by an unverified or mismatching one.
// ---------------------------------------------------------------------------------------------

/// An image notification, and the same notification with a webhook `sha256` that belongs to
/// different media (same message id, same media id).
fn good_and_mismatching_hooks(env: &Env) -> (Vec<u8>, SimulatedInbound, String) {
    let jpg = std::fs::read(fixture("image.jpg")).unwrap();
    let sim = simulate(env, InboundMessage::new(jpg.clone(), "image/jpeg"));
    let mut wrong = sim.notification.clone();
    let other = Sha256Digest::of(&std::fs::read(fixture("image.png")).unwrap());
    first_media(&mut wrong)["sha256"] = Value::from(other.to_base64());
    (jpg, sim, wrong.to_string())
}

#[test]
fn inbound_digest_mismatch_keeps_the_existing_good_file() {
    let env = Env::start();
    let (jpg, sim, wrong) = good_and_mismatching_hooks(&env);
    let hook1 = payload(&env, "hook1.json", &sim.body);
    let hook2 = payload(&env, "hook2.json", &wrong);
    let inbox = env.dir.path().join("inbox");

    let out = inbound(&env, &hook1, &inbox, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let saved = file_name_of(&json_lines(&out)[0]);
    let path = inbox.join(&saved);
    assert_holds(&path, &jpg, "the first run");
    let before = std::fs::metadata(&path).unwrap();

    let out = inbound(&env, &hook2, &inbox, &[]);
    assert_eq!(code(&out), 5, "a mismatching digest: {}", stderr(&out));
    assert_eq!(
        entries(&inbox),
        vec![saved.clone()],
        "the inbox must hold the first file and nothing else (hidden files included)"
    );
    assert_holds(&path, &jpg, "the good file after a mismatching run");
    let after = std::fs::metadata(&path).unwrap();
    assert_eq!(
        (before.ino(), before.mtime(), before.mtime_nsec()),
        (after.ino(), after.mtime(), after.mtime_nsec()),
        "the good file was replaced, not left as it was"
    );
}

#[test]
fn inbound_digest_mismatch_leaves_nothing_when_there_was_no_file() {
    let env = Env::start();
    let (_, _, wrong) = good_and_mismatching_hooks(&env);
    let hook2 = payload(&env, "hook2.json", &wrong);
    let inbox = env.dir.path().join("inbox");
    let out = inbound(&env, &hook2, &inbox, &[]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert_eq!(
        entries(&inbox),
        Vec::<String>::new(),
        "a mismatching media left files"
    );
}

/// The retrieve answer already tells the digest: when it disagrees with the webhook's, nothing
/// needs downloading (issue 11: "refused before any byte is written, where possible").
#[test]
fn inbound_refuses_a_webhook_digest_the_api_disagrees_with_before_downloading() {
    let env = Env::start();
    let (_, _, wrong) = good_and_mismatching_hooks(&env);
    let hook2 = payload(&env, "hook2.json", &wrong);
    let inbox = env.dir.path().join("inbox");
    let before = env.emu().request_log().len();
    let out = inbound(&env, &hook2, &inbox, &[]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let downloads: Vec<_> = env.emu().request_log()[before..]
        .iter()
        .filter(|r| r.origin == Origin::Lookaside)
        .cloned()
        .collect();
    assert!(
        downloads.is_empty(),
        "the media was downloaded although its retrieve answer contradicts the webhook: {downloads:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. An interrupted command leaves no partial file.
// ---------------------------------------------------------------------------------------------

/// 1 MiB that starts like a PDF.
fn stalled_body() -> Vec<u8> {
    pdf_body(1 << 20)
}

/// `len` bytes that start like a PDF.
fn pdf_body(len: u32) -> Vec<u8> {
    let mut body = b"%PDF-1.4\n".to_vec();
    body.extend((0..len - 9).map(|i| (i.wrapping_mul(31) % 251) as u8));
    body
}

/// Above the size from which core writes a download on a writer thread (4 MiB): the signal
/// then arrives while that thread owns the partial file.
const THREADED_BODY: u32 = 6 << 20;

/// A notification with `n` documents, whose media ids the stalling server answers for.
fn stalled_notification(body: &[u8], n: usize) -> String {
    let messages: Vec<Value> = (1..=n)
        .map(|i| {
            serde_json::json!({
                "from": "15551234567",
                "id": format!("wamid.STALLED000{i}"),
                "timestamp": "1764547200",
                "type": "document",
                "document": {
                    "id": format!("765432{i}"),
                    "mime_type": "application/pdf",
                    "filename": format!("stalled-{i}.pdf"),
                    "sha256": Sha256Digest::of(body).to_base64(),
                },
            })
        })
        .collect();
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE},
                    "contacts": [{"profile": {"name": "Customer"}, "wa_id": "15551234567"}],
                    "messages": messages,
                },
                "field": "messages",
            }],
        }],
    })
    .to_string()
}

/// Starts `download` (one media) or `inbound` (three media, downloaded concurrently) against a
/// server that stalls mid-body, waits until part of every body is on disk, sends `signal`, and
/// checks the exit code, the one stderr line and that the destination directory is empty.
fn signal_mid_transfer_leaves_no_partial_file(command: &str, signal: &str, want: i32) {
    signal_mid_transfer_of(stalled_body(), command, signal, want);
}

/// [`signal_mid_transfer_leaves_no_partial_file`] with a body of the caller's.
fn signal_mid_transfer_of(body: Vec<u8>, command: &str, signal: &str, want: i32) {
    let server = StallingMedia::start(body.clone(), "application/pdf");
    let work = tempfile::tempdir().unwrap();
    let dest_dir = work.path().join("dest");
    std::fs::create_dir(&dest_dir).unwrap();
    let mut cmd = clean_command();
    cmd.env("WHATSAPP_TOKEN", CANARY_TOKEN)
        .env("WHATSAPP_PHONE_NUMBER_ID", PHONE)
        .env("WHATSAPP_GRAPH_URL", server.url())
        .env("WHATSAPP_TRUSTED_HOSTS", server.addr.to_string());
    // How many downloads run at once, each leaving its own partial file.
    let in_flight = match command {
        "download" => {
            cmd.args(["download", "7654321", "-o"])
                .arg(dest_dir.join("x.bin"));
            1
        }
        "inbound" => {
            let payload = work.path().join("webhook.json");
            std::fs::write(&payload, stalled_notification(&body, 3)).unwrap();
            cmd.arg("inbound").arg(&payload).arg("-d").arg(&dest_dir);
            3
        }
        other => unreachable!("{other}"),
    };

    let mut child = Running::spawn(&mut cmd);
    let mut exited = None;
    let partial = wait_until(WAIT, STEP, || {
        exited = child.exited();
        exited.is_some() || partial_files(&dest_dir) >= in_flight
    });
    if let Some(status) = exited {
        let out = child.wait_output(WAIT);
        panic!(
            "{command} ended ({status}) before it was interrupted:\n{}",
            stderr(&out)
        );
    }
    assert!(
        partial,
        "{in_flight} partial files did not appear in {} within {WAIT:?} (a server sent half a body: {}); entries: {:?}",
        dest_dir.display(),
        server.wait_half_sent(Duration::ZERO),
        entries(&dest_dir)
    );
    let during = entries(&dest_dir);

    child.signal(signal);
    let out = child.wait_output(WAIT);
    assert_no_leak(&out);

    let mut problems = Vec::new();
    if code(&out) != want {
        problems.push(format!("exit status {} (want code {want})", out.status));
    }
    let text = stderr(&out);
    let lines = text
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("interrupted"))
        .count();
    if lines != 1 {
        problems.push(format!(
            "{lines} stderr lines say \"interrupted\" (want exactly 1)"
        ));
    }
    let left = entries(&dest_dir);
    if !left.is_empty() {
        problems.push(format!(
            "left in the destination directory: {left:?} (during the transfer: {during:?})"
        ));
    }
    assert!(
        problems.is_empty(),
        "SIG{signal} during `{command}`:\n- {}\nstderr:\n{text}",
        problems.join("\n- ")
    );
}

#[test]
fn sigint_during_download_leaves_no_partial_file() {
    signal_mid_transfer_leaves_no_partial_file("download", "INT", 130);
}

#[test]
fn sigterm_during_download_leaves_no_partial_file() {
    signal_mid_transfer_leaves_no_partial_file("download", "TERM", 143);
}

#[test]
fn sigint_during_a_download_written_on_a_thread_leaves_no_partial_file() {
    signal_mid_transfer_of(pdf_body(THREADED_BODY), "download", "INT", 130);
}

#[test]
fn sigterm_during_a_download_written_on_a_thread_leaves_no_partial_file() {
    signal_mid_transfer_of(pdf_body(THREADED_BODY), "download", "TERM", 143);
}

#[test]
fn sigint_during_inbound_leaves_no_partial_file() {
    signal_mid_transfer_leaves_no_partial_file("inbound", "INT", 130);
}

#[test]
fn sigterm_during_inbound_leaves_no_partial_file() {
    signal_mid_transfer_leaves_no_partial_file("inbound", "TERM", 143);
}

// ---------------------------------------------------------------------------------------------
// 3. inbound downloads with bounded concurrency, in order, with the worst exit code.
// ---------------------------------------------------------------------------------------------

/// `n` text documents, each with its own bytes.
fn text_media(env: &Env, n: usize) -> Vec<(SimulatedInbound, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let bytes = format!("media number {i}\n").repeat(50 + i).into_bytes();
            let sim = simulate(env, InboundMessage::new(bytes.clone(), "text/plain"));
            (sim, bytes)
        })
        .collect()
}

/// Every line is a saved media, in the notification's order, and every file holds its bytes.
fn assert_saved_in_order(out: &Output, media: &[(SimulatedInbound, Vec<u8>)]) {
    let lines = json_lines(out);
    let ids: Vec<&str> = lines
        .iter()
        .map(|l| l["media_id"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = media.iter().map(|(s, _)| s.media_id.as_str()).collect();
    assert_eq!(ids, want, "output lines must keep the notification's order");
    for (line, (sim, bytes)) in lines.iter().zip(media) {
        let path = Path::new(line["path"].as_str().unwrap());
        assert_holds(path, bytes, sim.media_id.as_str());
        assert_eq!(line["sha256"], Sha256Digest::of(bytes).to_hex());
    }
}

#[test]
fn inbound_downloads_with_bounded_concurrency_in_notification_order() {
    const DELAY: u64 = 400;
    let env = Env::start();
    let media = text_media(&env, 20);
    let sims: Vec<&SimulatedInbound> = media.iter().map(|(s, _)| s).collect();
    let p = payload(&env, "twenty.json", &merged(&sims).to_string());
    env.emu()
        .faults()
        .push(Endpoint::Download, Fault::Delay { millis: DELAY }, 20);
    let inbox = env.dir.path().join("inbox");

    let started = Instant::now();
    let out = inbound(&env, &p, &inbox, &[]);
    let elapsed = started.elapsed();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_saved_in_order(&out, &media);
    assert_eq!(entries(&inbox).len(), 20, "{:?}", entries(&inbox));
    let delayed = env
        .emu()
        .request_log()
        .iter()
        .filter(|r| r.fault.as_deref() == Some("delay"))
        .count();
    assert_eq!(delayed, 20, "every download was delayed");
    // 20 delayed downloads, 4 at a time: at least 5 rounds; one at a time would be 20.
    let round = Duration::from_millis(DELAY);
    assert!(
        elapsed >= round * 5,
        "{elapsed:?} is less than 5 rounds: the delays did not apply"
    );
    assert!(
        elapsed < round * 12,
        "{elapsed:?} for 20 downloads delayed {DELAY} ms each: not 4 at a time (sequential is 20 rounds)"
    );
}

#[test]
fn inbound_concurrency_1_is_accepted_and_keeps_order() {
    let env = Env::start();
    let media = text_media(&env, 3);
    let sims: Vec<&SimulatedInbound> = media.iter().map(|(s, _)| s).collect();
    let p = payload(&env, "three.json", &merged(&sims).to_string());
    let inbox = env.dir.path().join("inbox");
    let out = inbound(&env, &p, &inbox, &["--concurrency", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_saved_in_order(&out, &media);
}

#[test]
fn inbound_exit_code_is_the_worst_failure_across_concurrent_downloads() {
    let env = Env::start();
    let media = text_media(&env, 2);
    // Two messages whose media id does not exist (API error, 4) around two good media, one of
    // which is corrupted in transit (integrity, 5): first or last failure alone would give 4.
    let missing = |n: u32| {
        let mut m = messages(&media[0].0.notification)[0].clone();
        m["id"] = Value::from(format!("wamid.MISSING{n}"));
        m["document"]["id"] = Value::from(format!("99999999999990{n}"));
        m
    };
    let mut notification = merged(&[&media[0].0, &media[1].0]);
    let list = notification["entry"][0]["changes"][0]["value"]["messages"]
        .as_array_mut()
        .unwrap();
    list.insert(0, missing(1));
    list.push(missing(2));
    let p = payload(&env, "mixed.json", &notification.to_string());
    env.emu()
        .faults()
        .push(Endpoint::Download, Fault::CorruptByte, 1);
    let inbox = env.dir.path().join("inbox");
    let out = inbound(&env, &p, &inbox, &[]);
    assert_eq!(
        code(&out),
        5,
        "integrity (5) outranks API errors (4): {}",
        stderr(&out)
    );
    let left = entries(&inbox);
    assert_eq!(
        left.len(),
        1,
        "only the one good media is saved, no partial files: {left:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. A non-regular file is never replaced.
// ---------------------------------------------------------------------------------------------

#[test]
fn download_to_a_fifo_streams_the_verified_bytes_and_keeps_the_fifo() {
    let env = Env::start();
    let id = env.upload("image.png");
    let want = std::fs::read(fixture("image.png")).unwrap();
    let fifo = env.dir.path().join("pipe");
    assert!(sh("mkfifo", &[fifo.to_str().unwrap()]), "mkfifo failed");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader_path = fifo.clone();
    // Blocks in open() until a writer comes; if the FIFO is replaced it may never return, so
    // the test waits on the channel with a bound and never joins it.
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read(&reader_path));
    });

    let out = env.run(&["download", &id, "-o", fifo.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        kind.is_fifo(),
        "the FIFO was replaced by {kind:?}: a download renamed over it"
    );
    let got = rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("the FIFO's reader got nothing within {WAIT:?}"))
        .unwrap();
    assert!(
        got == want,
        "the reader got {} bytes, not the media",
        got.len()
    );
    assert_eq!(
        entries(env.dir.path()),
        vec!["pipe"],
        "nothing else is left"
    );
}

#[test]
fn download_to_a_fifo_never_streams_unverified_bytes() {
    let env = Env::start();
    let id = env.upload("audio.mp3");
    env.emu()
        .faults()
        .push(Endpoint::Download, Fault::CorruptByte, 20);
    let fifo = env.dir.path().join("pipe");
    assert!(sh("mkfifo", &[fifo.to_str().unwrap()]), "mkfifo failed");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader_path = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read(&reader_path));
    });

    let out = env.run(&["download", &id, "-o", fifo.to_str().unwrap()]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the FIFO was replaced"
    );
    // The binary never opened the FIFO (the reader still waits in open()) or wrote into it:
    // open it for writing and close it, so a waiting reader sees end of file. If the reader
    // already finished, this open has no reader to meet and blocks, so it gets its own thread.
    let writer_path = fifo.clone();
    std::thread::spawn(move || drop(OpenOptions::new().write(true).open(writer_path)));
    let got = rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("the FIFO's reader did not finish within {WAIT:?}"))
        .unwrap();
    assert!(
        got.is_empty(),
        "{} unverified bytes reached the FIFO",
        got.len()
    );
    assert_eq!(
        entries(env.dir.path()),
        vec!["pipe"],
        "nothing else is left"
    );
}

#[test]
fn download_to_a_character_device_keeps_the_device() {
    if !is_root() {
        eprintln!("skipped: making a device node with mknod needs root (id -u is not 0)");
        return;
    }
    let env = Env::start();
    let id = env.upload("image.png");
    let devices = env.dir.path().join("dev");
    std::fs::create_dir(&devices).unwrap();
    let null = devices.join("null");
    let full = devices.join("full");
    if !sh("mknod", &[null.to_str().unwrap(), "c", "1", "3"])
        || !sh("mknod", &[full.to_str().unwrap(), "c", "1", "7"])
    {
        eprintln!("skipped: mknod is not permitted here (no CAP_MKNOD)");
        return;
    }
    if OpenOptions::new().write(true).open(&null).is_err() {
        eprintln!("skipped: device nodes cannot be opened here (filesystem mounted nodev)");
        return;
    }
    let rdev = |p: &Path| std::fs::symlink_metadata(p).unwrap().rdev();
    let (null_rdev, full_rdev) = (rdev(&null), rdev(&full));

    // A copy of /dev/null: the verified bytes go into it and it stays a device.
    let out = env.run(&["download", &id, "-o", null.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(
        kind.is_char_device(),
        "the character device was replaced by {kind:?}"
    );
    assert_eq!(rdev(&null), null_rdev);

    // A copy of /dev/full: writing fails, which must be reported, and it stays a device.
    let out = env.run(&["download", &id, "-o", full.to_str().unwrap()]);
    assert_ne!(
        code(&out),
        0,
        "a write to a full device cannot succeed: {}",
        stdout(&out)
    );
    let kind = std::fs::symlink_metadata(&full).unwrap().file_type();
    assert!(
        kind.is_char_device(),
        "the character device was replaced by {kind:?}"
    );
    assert_eq!(rdev(&full), full_rdev);
    assert_eq!(
        entries(&devices),
        vec!["full", "null"],
        "nothing else is left"
    );
}

#[test]
fn download_onto_a_directory_or_a_socket_fails_and_leaves_it_untouched() {
    let env = Env::start();
    let id = env.upload("image.png");
    let full = env.dir.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep.txt"), b"keep me").unwrap();
    let empty = env.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let socket = env.dir.path().join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    for target in [&full, &empty, &socket] {
        let out = env.run(&["download", &id, "-o", target.to_str().unwrap()]);
        assert_ne!(code(&out), 0, "{}: {}", target.display(), stdout(&out));
    }
    assert!(full.is_dir() && empty.is_dir(), "a directory was replaced");
    let kind = std::fs::symlink_metadata(&socket).unwrap().file_type();
    assert!(kind.is_socket(), "the socket was replaced by {kind:?}");
    assert_eq!(entries(&full), vec!["keep.txt"]);
    assert_eq!(std::fs::read(full.join("keep.txt")).unwrap(), b"keep me");
    assert_eq!(entries(&empty), Vec::<String>::new());
    assert_eq!(
        entries(env.dir.path()),
        vec!["empty", "full", "socket"],
        "no temporary file is left next to them"
    );
}

#[test]
fn download_help_says_a_device_or_fifo_write_cannot_be_atomic() {
    let out = clean_command()
        .args(["download", "--help"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    let text = stdout(&out).to_ascii_lowercase();
    assert!(
        text.contains("fifo") && text.contains("device") && text.contains("atomic"),
        "`download --help` must say that writing to a device or FIFO cannot be atomic:\n{}",
        stdout(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// 5. One media never overwrites another's file.
// ---------------------------------------------------------------------------------------------

fn document(env: &Env, bytes: &[u8], name: &str, from: &str) -> SimulatedInbound {
    simulate(
        env,
        InboundMessage::new(bytes.to_vec(), "application/pdf")
            .filename(name)
            .from(from),
    )
}

/// Runs one notification into `inbox`: exit 0 and one line, whose file name and status are
/// returned.
fn save_one(env: &Env, payload: &str, inbox: &Path) -> (String, Value) {
    let out = inbound(env, payload, inbox, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{}", stdout(&out));
    (file_name_of(&lines[0]), lines[0]["event"].clone())
}

/// Two customers each send a document named `invoice.pdf`, with different bytes: the two
/// payloads, the two contents, and the inbox they go to.
fn two_invoices(env: &Env) -> (String, String, Vec<u8>, Vec<u8>, PathBuf) {
    let pdf1 = std::fs::read(fixture("document.pdf")).unwrap();
    let mut pdf2 = pdf1.clone();
    pdf2.extend_from_slice(b"% the second customer's invoice\n");
    let w1 = document(env, &pdf1, "invoice.pdf", "15550000001");
    let w2 = document(env, &pdf2, "invoice.pdf", "15550000002");
    (
        payload(env, "w1.json", &w1.body),
        payload(env, "w2.json", &w2.body),
        pdf1,
        pdf2,
        env.dir.path().join("in"),
    )
}

#[test]
fn inbound_never_lets_one_senders_file_replace_anothers() {
    let env = Env::start();
    let (w1, w2, pdf1, pdf2, inbox) = two_invoices(&env);
    let first = save_one(&env, &w1, &inbox);
    let second = save_one(&env, &w2, &inbox);
    assert_holds(
        &inbox.join("invoice.pdf"),
        &pdf1,
        "the first customer's invoice",
    );
    assert_eq!(entries(&inbox), vec!["invoice-1.pdf", "invoice.pdf"]);
    assert_holds(
        &inbox.join("invoice-1.pdf"),
        &pdf2,
        "the second customer's invoice",
    );
    assert_eq!(first, ("invoice.pdf".into(), "saved".into()));
    assert_eq!(
        second,
        ("invoice-1.pdf".into(), "saved".into()),
        "the second customer's invoice gets the next free name"
    );
}

#[test]
fn inbound_recognises_a_media_already_saved_and_makes_no_copy() {
    let env = Env::start();
    let (w1, w2, pdf1, pdf2, inbox) = two_invoices(&env);
    save_one(&env, &w1, &inbox);
    save_one(&env, &w2, &inbox);
    let before = entries(&inbox);
    let again2 = save_one(&env, &w2, &inbox);
    let again1 = save_one(&env, &w1, &inbox);
    assert_eq!(entries(&inbox), before, "a repeated media made a copy");
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(
        again2,
        ("invoice-1.pdf".into(), "already_saved".into()),
        "the second customer's invoice again"
    );
    assert_eq!(
        again1,
        ("invoice.pdf".into(), "already_saved".into()),
        "the first customer's invoice again"
    );
    assert_holds(
        &inbox.join("invoice.pdf"),
        &pdf1,
        "the first customer's invoice",
    );
    assert_holds(
        &inbox.join("invoice-1.pdf"),
        &pdf2,
        "the second customer's invoice",
    );
}

#[test]
fn inbound_file_names_never_start_with_a_dash() {
    let env = Env::start();
    let pdf = std::fs::read(fixture("document.pdf")).unwrap();
    let sim = document(&env, &pdf, "-rf", "15550000001");
    let p = payload(&env, "dash.json", &sim.body);
    let inbox = env.dir.path().join("in");
    let (name, _) = save_one(&env, &p, &inbox);
    assert_eq!(name, "rf");
    assert_eq!(entries(&inbox), vec!["rf"]);
}

#[test]
fn inbound_names_differing_only_in_case_stay_distinct() {
    let env = Env::start();
    let pdf1 = std::fs::read(fixture("document.pdf")).unwrap();
    let mut pdf2 = pdf1.clone();
    pdf2.extend_from_slice(b"% lower case\n");
    let upper = document(&env, &pdf1, "Report.PDF", "15550000001");
    let lower = document(&env, &pdf2, "report.pdf", "15550000001");
    let p = payload(&env, "case.json", &merged(&[&upper, &lower]).to_string());
    let inbox = env.dir.path().join("in");
    let out = inbound(&env, &p, &inbox, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{}", stdout(&out));
    let names: Vec<String> = lines.iter().map(file_name_of).collect();
    let folded: BTreeSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
    assert_eq!(
        folded.len(),
        2,
        "{names:?} collide on a case-insensitive filesystem"
    );
    assert_holds(&inbox.join(&names[0]), &pdf1, "Report.PDF");
    assert_holds(&inbox.join(&names[1]), &pdf2, "report.pdf");
    assert_eq!(entries(&inbox).len(), 2, "{:?}", entries(&inbox));
}

// ---------------------------------------------------------------------------------------------
// 6. Exit codes and ids that say what happened.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_media_id_must_be_digits_and_nothing_is_sent_otherwise() {
    let env = Env::start();
    let dest = env.dir.path().join("x.bin");
    let dest = dest.to_str().unwrap();
    let before = env.emu().request_log().len();
    for args in [
        vec!["info", "me"],
        vec!["delete", "me"],
        vec!["download", "me", "-o", dest],
        vec!["info", "12a4"],
    ] {
        let out = env.run(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).to_ascii_lowercase().contains("digit"),
            "{args:?}: the error must say a media id is digits: {}",
            stderr(&out)
        );
    }
    let long = "1".repeat(300);
    let out = env.run(&["info", &long]);
    assert_eq!(
        code(&out),
        2,
        "a 300-digit id must be refused: {}",
        stderr(&out)
    );
    let sent = env.emu().request_log()[before..].to_vec();
    assert!(sent.is_empty(), "a refused id reached the API: {sent:?}");
    assert!(!Path::new(dest).exists());
}

#[test]
fn a_malformed_webhook_payload_is_a_validation_failure() {
    let env = Env::start();
    let inbox = env.dir.path().join("inbox");
    let before = env.emu().request_log().len();
    for (name, body) in [
        (
            "wrong-shape.json",
            r#"{"object":"whatsapp_business_account","entry":"x"}"#,
        ),
        ("not-json.json", "not json"),
    ] {
        let p = payload(&env, name, body);
        let out = env.run(&["inbound", &p, "-d", inbox.to_str().unwrap()]);
        assert_eq!(code(&out), 3, "{body:?}: {}", stderr(&out));
    }
    assert!(env.emu().request_log().len() == before, "nothing is sent");
    assert_eq!(entries(&inbox), Vec::<String>::new());

    let out = clean_command().arg("--help").output().unwrap();
    let help = stdout(&out);
    // The exit code 3 entry, with its continuation lines (up to the next code).
    let entry: String = help
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("3 "))
        .enumerate()
        .take_while(|(i, l)| *i == 0 || !l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .map(|(_, l)| l.trim().to_ascii_lowercase() + " ")
        .collect();
    assert!(!entry.is_empty(), "no exit code 3 in --help:\n{help}");
    assert!(
        entry.contains("webhook"),
        "`--help` must list a malformed webhook under exit code 3: {entry:?}"
    );
}

/// How many bytes the kernel may buffer on one loopback connection (send plus receive
/// buffer), so a file larger than that is certainly still being read when the server has
/// taken only its first bytes.
fn loopback_buffer_bound() -> u64 {
    let max = |name: &str| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(2)?.parse::<u64>().ok())
    };
    match (max("tcp_rmem"), max("tcp_wmem")) {
        (Some(r), Some(w)) => r + w,
        _ => 64 << 20,
    }
}

/// Uploads a large text file to a server that stops after its first 64 KiB, applies
/// `change` to the file at that moment, lets the upload go on, and returns the run.
fn upload_of_a_file_that_changes(change: impl FnOnce(&Path)) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    // Text for the part validation reads, then a sparse tail: larger than anything the client
    // can have read ahead (its chunk, hyper's buffer, both socket buffers).
    let size = loopback_buffer_bound() + (16 << 20);
    assert!(
        size < 100_000_000,
        "the loopback buffers allow {size} bytes in flight: over the document limit"
    );
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&b"changing notes\n".repeat(10_000)).unwrap();
    f.set_len(size).unwrap();
    drop(f);

    let gate = UploadGate::start(64 * 1024);
    let mut cmd = clean_command();
    cmd.env("WHATSAPP_TOKEN", CANARY_TOKEN)
        .env("WHATSAPP_PHONE_NUMBER_ID", PHONE)
        .env("WHATSAPP_GRAPH_URL", gate.url())
        .args(["upload", "--mime", "text/plain"])
        .arg(&path);
    let mut child = Running::spawn(&mut cmd);
    let mut reached = false;
    let mut exited = None;
    wait_until(WAIT, STEP, || {
        reached = reached || gate.wait_reached(Duration::ZERO);
        exited = child.exited();
        reached || exited.is_some()
    });
    if !reached {
        let out = child.wait_output(Duration::ZERO);
        panic!(
            "the upload never sent 64 KiB (exited: {exited:?}):\n{}",
            stderr(&out)
        );
    }
    change(&path);
    gate.resume();
    let out = child.wait_output(WAIT);
    assert_no_leak(&out);
    out
}

#[test]
fn a_file_that_changes_during_upload_is_a_validation_failure() {
    let shrunk = upload_of_a_file_that_changes(|p| {
        OpenOptions::new()
            .write(true)
            .open(p)
            .unwrap()
            .set_len(0)
            .unwrap();
    });
    let grown = upload_of_a_file_that_changes(|p| {
        OpenOptions::new()
            .append(true)
            .open(p)
            .unwrap()
            .write_all(b"one more line\n")
            .unwrap();
    });
    for (what, out) in [("truncated", &shrunk), ("appended to", &grown)] {
        assert_eq!(
            code(out),
            3,
            "a file {what} during its upload: {}",
            stderr(out)
        );
        assert!(
            stderr(out).contains("changed"),
            "a file {what} during its upload: stderr must say it changed: {}",
            stderr(out)
        );
    }
}

/// The scaffolding of the test above: an upload through the gate of a file that does not
/// change succeeds, so the failures above come from the change and nothing else.
#[test]
fn harness_the_upload_gate_passes_an_unchanged_file() {
    let out = upload_of_a_file_that_changes(|_| {});
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "4242424242");
}

/// The scaffolding of the signal tests: without a signal, the stalling server really stalls
/// (the binary is still running once part of the body is on disk), so a test that passes
/// cannot have passed because the transfer simply finished.
#[test]
fn harness_the_stalling_server_holds_a_download_mid_body() {
    let body = stalled_body();
    let server = StallingMedia::start(body, "application/pdf");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = clean_command();
    cmd.env("WHATSAPP_TOKEN", CANARY_TOKEN)
        .env("WHATSAPP_GRAPH_URL", server.url())
        .env("WHATSAPP_TRUSTED_HOSTS", server.addr.to_string())
        .args(["download", "7654321", "-o"])
        .arg(dir.path().join("x.bin"));
    let mut child = Running::spawn(&mut cmd);
    assert!(
        server.wait_half_sent(WAIT),
        "the download never reached mid-body"
    );
    assert!(
        wait_until(WAIT, STEP, || partial_files(dir.path()) > 0),
        "no partial data on disk: {:?}",
        entries(dir.path())
    );
    assert!(
        child.exited().is_none(),
        "the binary ended while the server stalled"
    );
    drop(child);
}
