//! The leak canary: every library operation and every CLI command, on success and failure paths
//! (faults injected, wrong token, untrusted host, expired and tampered URLs, bad webhook
//! signatures), run with a distinctive token and trace-level logging. Every log line (in
//! process: a tracing subscriber writing into a buffer; for the binary: stdout and stderr with
//! `RUST_LOG=trace`), every error's Display and Debug (with its sources) is searched for the
//! token and for every download-URL signature (`hash=`) the emulator issued: none may appear.
//!
//! The documented exceptions: `wa-media info --json` prints the API's JSON as received, the
//! signed URL included (human `info` output hides the signature); `wa-media emulator` prints the
//! token it *accepts* (its own, by design) and is not run here.

#[allow(dead_code)]
mod common;

use common::{fixture, BIN, PHONE};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use wa_media_core::test_util::LogCapture;
use wa_media_emulator::{Emulator, EmulatorHandle, Endpoint, Fault, InboundMessage, ManualClock};
use wa_media_hyper::{
    Error, MediaApi, MediaApiExt, MediaClient, MediaKind, MediaType, MessagingApi, RetryPolicy,
    SendMedia, SendOptions, Timeouts, Upload,
};
use wa_media_testkit::errors::error_text;
use wa_media_testkit::http1;
use wa_media_testkit::net::runtime;

/// The canary: finding it anywhere is a leak.
const TOKEN: &str = "EAAGleakCANARYtok3n9876543210zyxwvu";
/// The token the emulator rotates to (a second canary).
const ROTATED: &str = "EAAGrotatedCANARYtok3n0123456789abc";
const APP_SECRET: &str = "leak-canary-app-secret";

/// The `hash=` value of a signed download URL.
fn signature_of(url: &str) -> String {
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix("hash="))
        .unwrap_or_else(|| panic!("no hash= in {url}"))
        .to_owned()
}

/// An emulator with a frozen clock: every retrieve of one id gives the same signed URL, so the
/// test knows every signature the CLI process will see.
fn start_emulator(rt: &tokio::runtime::Runtime) -> (EmulatorHandle, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::starting_now());
    let emu = rt
        .block_on(
            Emulator::builder()
                .token(TOKEN)
                .clock(clock.clone())
                .start(),
        )
        .unwrap();
    (emu, clock)
}

fn find_secret<'a>(text: &str, secrets: &'a [String]) -> Option<&'a str> {
    secrets
        .iter()
        .find(|s| text.contains(s.as_str()))
        .map(String::as_str)
}

fn client_for(emu: &EmulatorHandle, policy: RetryPolicy) -> MediaClient {
    wa_media_hyper::builder()
        .token(TOKEN)
        .phone_number_id(PHONE)
        .graph_url(emu.graph_url())
        .trust_host(emu.lookaside_addr().to_string())
        .retry_policy(policy)
        .timeouts(Timeouts::default().with_idle(Some(Duration::from_secs(2))))
        .build()
        .unwrap()
}

async fn drain(dl: Result<wa_media_hyper::Download, Error>) -> Result<usize, Error> {
    Ok(dl?.bytes(64 << 20).await?.len())
}

/// Every operation of the library, in process, successes and failures, with everything logged.
#[test]
fn library_operations_never_leak_the_token_or_a_signature() {
    let buf = LogCapture::default();
    let writer = buf.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let rt = runtime();
    let (emu, clock) = start_emulator(&rt);
    let fast = RetryPolicy::default()
        .with_delays(Duration::from_millis(1), Duration::from_millis(10))
        .with_max_retry_after(Duration::from_millis(20));
    let client = client_for(&emu, fast.clone());
    let once = client_for(&emu, RetryPolicy::none());
    let dir = tempfile::tempdir().unwrap();
    let mut errors = Vec::<Error>::new();
    let mut signatures = Vec::<String>::new();
    let jpeg = MediaType::parse("image/jpeg").unwrap();

    rt.block_on(async {
        // Successes: every operation.
        let id = client
            .upload(Upload::from_path(fixture("image.jpg"), jpeg.clone()))
            .await
            .unwrap();
        let bytes = std::fs::read(fixture("image.png")).unwrap();
        let id2 = client
            .upload(Upload::from_bytes(
                bytes,
                MediaType::parse("image/png").unwrap(),
            ))
            .await
            .unwrap();
        let info = client.retrieve(&id).await.unwrap();
        signatures.push(signature_of(info.url.expose()));
        drain(client.download(&info).await).await.unwrap();
        drain(client.fetch(&id).await).await.unwrap();
        client
            .fetch_to_file(&id, dir.path().join("ok.jpg"))
            .await
            .unwrap();

        // Failures of every kind.
        let mut record = |r: Result<(), Error>| {
            if let Err(e) = r {
                errors.push(e);
            }
        };
        let dest = dir.path().join("fail.jpg");
        for (endpoint, fault) in [
            (
                Endpoint::Retrieve,
                Fault::RateLimited {
                    retry_after_secs: 9,
                },
            ),
            (Endpoint::Download, Fault::ServerError { status: 503 }),
            (Endpoint::Download, Fault::ResetMidBody),
            (Endpoint::Download, Fault::TruncatedBody),
            (Endpoint::Download, Fault::CorruptByte),
            (Endpoint::Retrieve, Fault::CorruptByte),
            (Endpoint::Upload, Fault::ResetMidBody),
            (Endpoint::Delete, Fault::ServerError { status: 500 }),
        ] {
            emu.faults().push(endpoint, fault, 5);
            record(once.fetch_to_file(&id, &dest).await.map(|_| ()));
            record(drain(once.fetch(&id).await).await.map(|_| ()));
            record(
                once.upload(Upload::from_path(fixture("image.jpg"), jpeg.clone()))
                    .await
                    .map(|_| ()),
            );
            record(once.delete(&"999999".parse().unwrap()).await);
            emu.faults().clear();
        }
        // Wrong token, unknown id, untrusted download host, validation.
        let wrong = wa_media_hyper::builder()
            .token("EAAGsomeOTHERtoken")
            .phone_number_id(PHONE)
            .graph_url(emu.graph_url())
            .trust_host(emu.lookaside_addr().to_string())
            .build()
            .unwrap();
        record(wrong.retrieve(&id).await.map(|_| ()));
        record(
            client
                .retrieve(&"424242424242".parse().unwrap())
                .await
                .map(|_| ()),
        );
        let untrusted = wa_media_hyper::builder()
            .token(TOKEN)
            .graph_url(emu.graph_url())
            .build()
            .unwrap();
        record(untrusted.fetch_to_file(&id, &dest).await.map(|_| ()));
        record(
            client
                .upload(Upload::from_path(
                    fixture("image.jpg"),
                    MediaType::parse("image/png").unwrap(),
                ))
                .await
                .map(|_| ()),
        );
        // An expired URL (the clock moves past its expiry) and a tampered one.
        let info = client.retrieve(&id2).await.unwrap();
        signatures.push(signature_of(info.url.expose()));
        clock.advance(Duration::from_secs(3600));
        record(drain(once.download(&info).await).await.map(|_| ()));
        let info = client.retrieve(&id2).await.unwrap();
        signatures.push(signature_of(info.url.expose()));
        let mut tampered = info.clone();
        tampered.url = info.url.expose().replace("hash=", "hash=AAAA").into();
        record(drain(once.download(&tampered).await).await.map(|_| ()));
        // Delete, then everything on the deleted id.
        client.delete(&id2).await.unwrap();
        record(client.retrieve(&id2).await.map(|_| ()));
        record(drain(once.download(&info).await).await.map(|_| ()));
        record(client.delete(&id2).await);

        // Sends: by id, by link, a file; then faults on the messages endpoint, a wrong token.
        let to = "15551234567";
        let by_id = SendMedia::by_id(to, MediaKind::Image, id.clone()).unwrap();
        client.send_media(&by_id).await.unwrap();
        let by_link =
            SendMedia::by_link(to, MediaKind::Image, "https://example.com/canary.jpg").unwrap();
        client.send_media(&by_link).await.unwrap();
        client
            .send_file(
                fixture("image.jpg"),
                to,
                SendOptions::default().mime(jpeg.clone()),
            )
            .await
            .unwrap();
        for fault in [
            Fault::RateLimited {
                retry_after_secs: 9,
            },
            Fault::ServerError { status: 500 },
            Fault::ResetMidBody,
            Fault::TruncatedBody,
            Fault::CorruptByte,
        ] {
            emu.faults().push(Endpoint::Messages, fault, 1);
            record(once.send_media(&by_id).await.map(|_| ()));
        }
        emu.faults().clear();
        record(wrong.send_media(&by_id).await.map(|_| ()));

        // Rotated tokens. Graph moves to ROTATED while the source still holds TOKEN: two
        // requests, then the 190. Once the source has ROTATED: one rejected request, the fresh
        // token, success — for every operation. The old static clients are refused.
        emu.rotate_token(ROTATED);
        let source = Arc::new(Rotation::new(TOKEN));
        let rotating = wa_media_hyper::builder()
            .token_source(source.clone())
            .phone_number_id(PHONE)
            .graph_url(emu.graph_url())
            .trust_host(emu.lookaside_addr().to_string())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        record(rotating.retrieve(&id).await.map(|_| ()));
        record(drain(rotating.fetch(&id).await).await.map(|_| ()));
        record(rotating.send_media(&by_id).await.map(|_| ()));
        record(
            rotating
                .upload(Upload::from_path(fixture("image.jpg"), jpeg.clone()))
                .await
                .map(|_| ()),
        );
        for op in 0..4 {
            source.rotate_to(ROTATED, TOKEN);
            match op {
                0 => drain(rotating.fetch(&id).await).await.map(|_| ()),
                1 => rotating.send_media(&by_id).await.map(|_| ()),
                2 => rotating
                    .upload(Upload::from_path(fixture("image.jpg"), jpeg.clone()))
                    .await
                    .map(|_| ()),
                _ => rotating
                    .fetch_to_file(&id, dir.path().join("rotated.jpg"))
                    .await
                    .map(|_| ()),
            }
            .unwrap_or_else(|e| panic!("operation {op} after the rotation: {e}"));
        }
        record(client.retrieve(&id).await.map(|_| ()));
        record(once.fetch_to_file(&id, &dest).await.map(|_| ()));
        record(rotating.with_token(TOKEN).delete(&id).await);
    });
    assert!(
        !dest_exists(dir.path()),
        "no failed fetch left a temporary file"
    );
    assert!(
        errors.len() >= 30,
        "the failure paths ran ({} errors)",
        errors.len()
    );

    let mut secrets = vec![TOKEN.to_owned(), ROTATED.to_owned()];
    secrets.extend(signatures);
    for e in &errors {
        let text = error_text(e);
        assert!(
            find_secret(&text, &secrets).is_none(),
            "an error shows a secret: {text}"
        );
    }
    rt.block_on(emu.shutdown());
    let logs = buf.text();
    assert!(
        logs.contains("wa_media.fetch_to_file") && logs.contains("TRACE"),
        "the subscriber captured trace-level logs"
    );
    if let Some(s) = find_secret(&logs, &secrets) {
        let line = logs.lines().find(|l| l.contains(s)).unwrap();
        panic!("a secret appears in the logs: {line}");
    }
}

/// A token source as a secret manager feeds it: the token it holds (`current`), read again from
/// the "file" (`file`, written by `rotate_to`) after Graph rejected it.
struct Rotation {
    current: std::sync::Mutex<String>,
    file: std::sync::Mutex<String>,
}

impl Rotation {
    fn new(token: &str) -> Self {
        Self {
            current: std::sync::Mutex::new(token.to_owned()),
            file: std::sync::Mutex::new(token.to_owned()),
        }
    }

    /// The secret manager writes `token`; the source still holds `held` until a 190.
    fn rotate_to(&self, token: &str, held: &str) {
        *self.file.lock().unwrap() = token.to_owned();
        *self.current.lock().unwrap() = held.to_owned();
    }
}

#[async_trait::async_trait]
impl wa_media_hyper::TokenSource for Rotation {
    async fn token(&self) -> Result<wa_media_hyper::AccessToken, wa_media_hyper::BoxError> {
        Ok(wa_media_hyper::AccessToken::new(
            self.current.lock().unwrap().clone(),
        ))
    }
    async fn refresh(
        &self,
        _rejected: &wa_media_hyper::AccessToken,
    ) -> Result<Option<wa_media_hyper::AccessToken>, wa_media_hyper::BoxError> {
        let fresh = self.file.lock().unwrap().clone();
        *self.current.lock().unwrap() = fresh.clone();
        Ok(Some(wa_media_hyper::AccessToken::new(fresh)))
    }
}

/// Whether a temporary file of a fetch was left in `dir`.
fn dest_exists(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".wa-part")
    })
}

struct Cli<'a> {
    emu: &'a EmulatorHandle,
}

impl Cli<'_> {
    fn cmd(&self) -> Command {
        let mut c = common::clean_command();
        c.env("WHATSAPP_TOKEN", TOKEN)
            .env("WHATSAPP_PHONE_NUMBER_ID", PHONE)
            .env("WHATSAPP_GRAPH_URL", self.emu.graph_url())
            .env(
                "WHATSAPP_TRUSTED_HOSTS",
                self.emu.lookaside_addr().to_string(),
            )
            .env("RUST_LOG", "trace");
        c
    }
}

/// Every CLI command, successes and failures, with `RUST_LOG=trace`.
#[test]
fn cli_commands_never_print_the_token_or_a_signature() {
    let rt = runtime();
    let (emu, _clock) = start_emulator(&rt);
    let cli = Cli { emu: &emu };
    let dir = tempfile::tempdir().unwrap();
    let mut runs: Vec<(String, Output)> = Vec::new();
    let mut run = |label: &str, mut c: Command| -> Output {
        let out = c.output().unwrap();
        runs.push((label.to_owned(), out.clone()));
        out
    };
    let args = |c: &mut Command, a: &[&str]| {
        c.args(a);
    };
    let mk = |a: &[&str]| {
        let mut c = cli.cmd();
        args(&mut c, a);
        c
    };
    let jpg = fixture("image.jpg");
    let jpg = jpg.to_str().unwrap();

    // Upload: plain, JSON, with the token as a flag, refused by validation, no-validate.
    let out = run("upload --json", mk(&["--json", "upload", jpg]));
    assert_eq!(out.status.code(), Some(0));
    let id: String = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut c = mk(&["upload", jpg]);
    c.env_remove("WHATSAPP_TOKEN").args(["--token", TOKEN]);
    assert_eq!(run("upload --token", c).status.code(), Some(0));
    assert_eq!(
        run(
            "upload refused",
            mk(&["upload", jpg, "--mime", "image/png"])
        )
        .status
        .code(),
        Some(3)
    );
    run(
        "upload --no-validate",
        mk(&["upload", jpg, "--mime", "image/png", "--no-validate"]),
    );

    // Info: human output hides the signature; --json is the API's JSON (checked apart below).
    let signature = signature_of(&emu.download_url(&id.parse().unwrap()).unwrap());
    let out = run("info", mk(&["info", &id]));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("url:"));
    let json_info = mk(&["--json", "info", &id]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&json_info.stdout).contains(&signature),
        "--json carries the API's JSON, URL included"
    );
    let json_stderr = json_info.stderr.clone();
    run("info unknown", mk(&["info", "424242424242"]));
    run("info wrong token", {
        let mut c = mk(&["info", &id]);
        c.env("WHATSAPP_TOKEN", "EAAGanotherTOKEN");
        c
    });

    // Download: to a file, to stdout, with faults, untrusted host, unknown id.
    let dest = dir.path().join("a.jpg");
    let dest = dest.to_str().unwrap();
    assert_eq!(
        run("download", mk(&["download", &id, "-o", dest]))
            .status
            .code(),
        Some(0)
    );
    run(
        "download --json",
        mk(&["--json", "download", &id, "-o", dest]),
    );
    let out = run("download -o -", mk(&["download", &id, "-o", "-"]));
    assert_eq!(out.stdout, std::fs::read(jpg).unwrap());
    for (label, endpoint, fault) in [
        ("download corrupt", Endpoint::Download, Fault::CorruptByte),
        ("download reset", Endpoint::Download, Fault::ResetMidBody),
        (
            "download truncated",
            Endpoint::Download,
            Fault::TruncatedBody,
        ),
        (
            "download 503",
            Endpoint::Download,
            Fault::ServerError { status: 503 },
        ),
        (
            "retrieve 429",
            Endpoint::Retrieve,
            Fault::RateLimited {
                retry_after_secs: 0,
            },
        ),
        ("retrieve corrupt", Endpoint::Retrieve, Fault::CorruptByte),
        ("upload reset", Endpoint::Upload, Fault::ResetMidBody),
    ] {
        emu.faults().push(endpoint, fault, 8);
        let failed = dir.path().join("f.jpg");
        let out = run(
            label,
            mk(&["download", &id, "-o", failed.to_str().unwrap()]),
        );
        if out.status.code() != Some(0) {
            assert!(!failed.exists(), "{label}: a failed download left a file");
        }
        run(&format!("{label} (upload)"), mk(&["upload", jpg]));
        emu.faults().clear();
    }
    run("download untrusted", {
        let mut c = mk(&["download", &id, "-o", dest]);
        c.env_remove("WHATSAPP_TRUSTED_HOSTS");
        c
    });
    run(
        "download unknown",
        mk(&["download", "424242424242", "-o", dest]),
    );

    // Inbound: signed notification, then a wrong signature.
    let mut msg = InboundMessage::new(std::fs::read(jpg).unwrap(), "image/jpeg");
    msg = msg.caption("canary");
    let sim = rt.block_on(emu.simulate_inbound(msg)).unwrap();
    let payload = dir.path().join("webhook.json");
    std::fs::write(&payload, &sim.body).unwrap();
    let header = sim.signature_header(APP_SECRET.as_bytes());
    let inbox = dir.path().join("inbox");
    let (p, i) = (payload.to_str().unwrap(), inbox.to_str().unwrap());
    let out = run(
        "inbound",
        mk(&[
            "inbound",
            p,
            "-d",
            i,
            "--app-secret",
            APP_SECRET,
            "--signature",
            &header,
        ]),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run(
        "inbound bad signature",
        mk(&[
            "inbound",
            p,
            "-d",
            i,
            "--app-secret",
            APP_SECRET,
            "--signature",
            "sha256=00",
        ]),
    );

    // Send: a file (uploaded, then sent), an id, a link, with --json; refused locally; faults
    // on the messages endpoint (backed off, failed after the upload, may have been sent); a
    // wrong token.
    let to = "15551234567";
    let out = run(
        "send file --json",
        mk(&["--json", "send", "--to", to, jpg, "--caption", "canary"]),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let send_id = ["send", "--to", to, "--media-id", &id, "--kind", "image"];
    assert_eq!(run("send --media-id", mk(&send_id)).status.code(), Some(0));
    let link = "https://example.com/canary.jpg";
    let send_link = ["send", "--to", to, "--link", link, "--kind", "image"];
    assert_eq!(run("send --link", mk(&send_link)).status.code(), Some(0));
    let refused = [
        "send",
        "--to",
        to,
        "--media-id",
        &id,
        "--kind",
        "audio",
        "--caption",
        "x",
    ];
    assert_eq!(run("send refused", mk(&refused)).status.code(), Some(3));
    for (label, fault, want) in [
        (
            "send 130429",
            Fault::RateLimited {
                retry_after_secs: 0,
            },
            0,
        ),
        ("send 500", Fault::ServerError { status: 500 }, 8),
        ("send reset", Fault::ResetMidBody, 8),
    ] {
        emu.faults().push(Endpoint::Messages, fault.clone(), 1);
        assert_eq!(
            run(label, mk(&send_id)).status.code(),
            Some(want),
            "{label}"
        );
        emu.faults().push(Endpoint::Messages, fault, 1);
        run(
            &format!("{label} (file)"),
            mk(&["--json", "send", "--to", to, jpg]),
        );
        emu.faults().clear();
    }
    run("send wrong token", {
        let mut c = mk(&send_id);
        c.env("WHATSAPP_TOKEN", "EAAGanotherTOKEN");
        c
    });

    // Delete, then everything on the deleted id.
    assert_eq!(run("delete", mk(&["delete", &id])).status.code(), Some(0));
    run("delete again", mk(&["delete", &id]));
    run("info deleted", mk(&["info", &id]));

    // A rotated token: Graph now accepts only ROTATED. The old token is refused (190) with
    // neither token printed; the new one works, from the environment and as a flag.
    emu.rotate_token(ROTATED);
    run(
        "info after rotation, old token",
        mk(&["info", "424242424242"]),
    );
    run("upload after rotation, old token", mk(&["upload", jpg]));
    let with_rotated = |a: &[&str]| {
        let mut c = mk(a);
        c.env("WHATSAPP_TOKEN", ROTATED);
        c
    };
    let out = run(
        "upload --json after rotation",
        with_rotated(&["--json", "upload", jpg]),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated_id: String = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated_dest = dir.path().join("rotated.jpg");
    assert_eq!(
        run(
            "download after rotation",
            with_rotated(&[
                "download",
                &rotated_id,
                "-o",
                rotated_dest.to_str().unwrap()
            ]),
        )
        .status
        .code(),
        Some(0)
    );
    let mut c = mk(&["delete", &rotated_id]);
    c.env_remove("WHATSAPP_TOKEN").args(["--token", ROTATED]);
    assert_eq!(
        run("delete --token after rotation", c).status.code(),
        Some(0)
    );

    // Every signature the emulator could have issued to these runs.
    let mut secrets = vec![
        TOKEN.to_owned(),
        ROTATED.to_owned(),
        APP_SECRET.to_owned(),
        signature,
    ];
    for m in emu.media() {
        if let Some(url) = emu.download_url(&m.id) {
            secrets.push(signature_of(&url));
        }
    }
    assert!(runs.len() >= 25);
    let mut saw_trace = false;
    for (label, out) in &runs {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            saw_trace |= text.contains("TRACE");
            if let Some(s) = find_secret(&text, &secrets) {
                let line = text.lines().find(|l| l.contains(s)).unwrap_or("");
                panic!("`{label}` printed a secret on {stream}: {line}");
            }
        }
    }
    assert!(saw_trace, "RUST_LOG=trace reached the binary");
    let text = String::from_utf8_lossy(&json_stderr);
    assert!(
        find_secret(&text, &secrets).is_none(),
        "info --json stderr: {text}"
    );
    rt.block_on(emu.shutdown());
}

/// A blocking server on 127.0.0.1:0 that answers each request with
/// `answer(target, authorization, host)`, one request per connection, until the test ends.
fn echo_server(
    answer: impl Fn(&str, &str, &str) -> Vec<u8> + Send + 'static,
) -> std::net::SocketAddr {
    http1::serve_blocking(move |head| {
        let header = |name| http1::header(head, name).unwrap_or_default();
        answer(
            http1::target(head),
            &header("authorization"),
            &header("host"),
        )
    })
}

/// The CLI against servers that echo the token back in every place an error could show it.
#[test]
fn cli_failures_from_a_server_echoing_the_token_never_print_it() {
    const SIG: &str = "ECHOsignatureCANARY0123456789";
    let envelope = echo_server(|_, auth, _| {
        let body = serde_json::json!({"error": {"message": format!("bad {auth}"), "type": auth,
            "code": 100, "error_user_msg": auth, "fbtrace_id": auth}});
        http1::response(
            400,
            &[
                ("x-fb-trace-id", auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
    });
    let not_json =
        echo_server(|_, auth, _| http1::response(200, &[], format!("<p>{auth}</p>").as_bytes()));
    // Graph and download on one origin: retrieve points at /dl on the same server.
    let page = echo_server(|target, auth, host| {
        if target.starts_with("/dl") {
            http1::response(500, &[], format!("<pre>{auth}</pre>").as_bytes())
        } else {
            let url = format!("http://{host}/dl?hash={SIG}");
            let body = serde_json::json!({"url": url, "mime_type": "image/jpeg",
                "sha256": "ab".repeat(32), "file_size": 3, "id": "123456"});
            http1::response(200, &[], body.to_string().as_bytes())
        }
    });
    let redirect = echo_server(|target, auth, host| {
        if target.starts_with("/dl") {
            let loc = format!("http://127.0.0.1:9/{}/x?hash={SIG}", auth.replace(' ', "/"));
            http1::response(302, &[("Location", &loc)], b"")
        } else {
            let body = serde_json::json!({"url": format!("http://{host}/dl?hash={SIG}"),
                "mime_type": "image/jpeg", "sha256": "ab".repeat(32), "file_size": 3, "id": "123456"});
            http1::response(200, &[], body.to_string().as_bytes())
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("x.jpg");
    let run = |graph: std::net::SocketAddr, args: &[&str]| -> Output {
        let mut c = Command::new(BIN);
        c.env_remove("WHATSAPP_TRUSTED_HOSTS")
            .env("WHATSAPP_TOKEN", TOKEN)
            .env("WHATSAPP_GRAPH_URL", format!("http://{graph}"))
            .env("RUST_LOG", "trace")
            .args(args);
        c.output().unwrap()
    };
    let cases: Vec<(&str, Output, i32)> = vec![
        ("envelope echo", run(envelope, &["info", "123456"]), 4),
        (
            "envelope echo --json",
            run(envelope, &["--json", "info", "123456"]),
            4,
        ),
        ("non-JSON echo", run(not_json, &["info", "123456"]), 4),
        (
            "download error page echo",
            run(page, &["download", "123456", "-o", dest.to_str().unwrap()]),
            4,
        ),
        (
            "send: envelope echo",
            run(
                envelope,
                &[
                    "--phone-number-id",
                    PHONE,
                    "send",
                    "--to",
                    "15551234567",
                    "--media-id",
                    "123456",
                    "--kind",
                    "image",
                ],
            ),
            4,
        ),
        (
            // A 200 whose body cannot be read: Graph probably took the message.
            "send: non-JSON echo",
            run(
                not_json,
                &[
                    "--phone-number-id",
                    PHONE,
                    "send",
                    "--to",
                    "15551234567",
                    "--media-id",
                    "123456",
                    "--kind",
                    "image",
                ],
            ),
            8,
        ),
        (
            "redirect carrying the token",
            run(
                redirect,
                &["download", "123456", "-o", dest.to_str().unwrap()],
            ),
            7,
        ),
    ];
    for (label, out, want) in &cases {
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(*want), "{label}: {text}");
        for secret in [TOKEN, SIG] {
            if let Some(line) = text.lines().find(|l| l.contains(secret)) {
                panic!("{label}: printed a secret: {line}");
            }
        }
    }
    assert!(!dest.exists());
}

/// `demo` runs its own emulator (well-known token) — its output at trace level must still show
/// neither that token nor any URL signature.
#[test]
fn demo_at_trace_level_shows_no_token_and_no_signature() {
    let out = Command::new(BIN)
        .env_remove("WHATSAPP_TOKEN")
        .env("RUST_LOG", "trace")
        .arg("demo")
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("TRACE"), "trace logging reached the demo");
    assert!(
        !text.contains(wa_media_emulator::DEFAULT_TOKEN),
        "the demo printed its token"
    );
    if let Some(line) = text.lines().find(|l| l.contains("hash=")) {
        panic!("the demo printed a signed URL: {line}");
    }
}
