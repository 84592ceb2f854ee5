//! Templates with media headers and the Resumable Upload API (issue 27), through the built
//! binary against the emulator, offline: `upload --resumable` gives a handle, `template
//! create` makes an approved template of it, `send --template … --header-file` sends the PDF
//! as its document header, the emulator records the template, the document and the
//! parameters, and `wa-media serve` takes the `sent`, `delivered` and `read` statuses; a
//! reset at 60 % of a resumable upload resumes from the server's offset; a session message
//! outside the 24-hour window exits 4 with 131047 and a hint naming `--template`; Graph's
//! template refusals (132001, 132000, 132012, 132015, 132016) exit 4; and a client that is not
//! ours (curl, with Meta's documented request shapes) does the same.

#[allow(dead_code)]
mod common;

use std::process::Command;
use std::time::Duration;

use common::serve::{Serve, SECRET, VERIFY, WAIT};
use common::{code, fixture, json, stderr, stdout, Env, CANARY_TOKEN};
use wa_media_emulator::{
    simulated_user_id, EmulatedTemplate, Endpoint, Fault, InboundMessage, TemplateStatus,
};

const CUSTOMER: &str = "15557654321";
const APP_ID: &str = "1234567890123";
const WABA_ID: &str = "102290129340398";

/// `wa-media --json serve` on `addr`.
fn serve_on(env: &Env, addr: std::net::SocketAddr) -> Serve {
    let dir = env.dir.path().join("inbox");
    let mut cmd = env.cmd();
    cmd.args([
        "--json",
        "serve",
        "--listen",
        &addr.to_string(),
        "--path",
        "/webhook",
        "--app-secret",
        SECRET,
        "--verify-token",
        VERIFY,
        "-d",
        dir.to_str().unwrap(),
    ]);
    Serve::spawn(cmd)
}

fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    common::running::wait_until(WAIT, Duration::from_millis(20), &mut f)
}

#[test]
fn upload_resumable_create_approve_send_the_pdf_header_and_see_its_statuses() {
    let addr = common::serve::free_addr();
    let env = Env::start_with(|b| {
        b.webhook(format!("http://{addr}/webhook"), SECRET)
            .customer_service_window(true)
    });
    let serve = serve_on(&env, addr);
    let pdf = fixture("document.pdf");
    let pdf = pdf.to_str().unwrap();

    // 1. upload --resumable gives a handle.
    let out = env.run(&["--json", "upload", "--resumable", "--app-id", APP_ID, pdf]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let up = json(&out);
    let handle = up["handle"].as_str().unwrap().to_owned();
    assert!(handle.starts_with("4::"), "{up}");
    let len = std::fs::metadata(pdf).unwrap().len();
    assert_eq!(up["bytes_sent"], len, "{up}");
    // Its requests carried the token as OAuth.
    let log = env.emu().request_log();
    let resumable: Vec<_> = log.iter().filter(|r| r.path.contains("upload")).collect();
    assert_eq!(resumable.len(), 2, "{resumable:?}");
    assert!(resumable.iter().all(|r| r.authorized), "{resumable:?}");

    // 2. a template is created with it, and approved.
    let out = env.run(&[
        "--json",
        "template",
        "create",
        "--waba-id",
        WABA_ID,
        "--name",
        "invoice_ready",
        "--lang",
        "en_US",
        "--header-format",
        "document",
        "--header-handle",
        &handle,
        "--body",
        "Your invoice {{1}} is attached.",
        "--example",
        "INV-1001",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["status"], "APPROVED", "{}", stdout(&out));
    let t = env.emu().templates();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].waba_id, WABA_ID);
    assert_eq!(t[0].header_handle.as_deref(), Some(handle.as_str()));

    // 3. send --template … --header-file prints a wamid, to a customer who never wrote (the
    // window is closed: only a template goes out).
    let out = env.run(&[
        "send",
        "--to",
        CUSTOMER,
        "--template",
        "invoice_ready",
        "--lang",
        "en_US",
        "--header-file",
        pdf,
        "--param",
        "INV-2031",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let wamid = stdout(&out).trim().to_owned();
    assert!(wamid.starts_with("wamid."), "{wamid}");

    // 4. the emulator's message list shows the template, the header document and the
    // parameters.
    let sent = env.emu().sent_messages();
    assert_eq!(sent.len(), 1);
    let m = &sent[0];
    assert_eq!(
        (m.wamid.as_str(), m.kind.as_str()),
        (wamid.as_str(), "template")
    );
    let tpl = m.template.as_ref().unwrap();
    assert_eq!(
        (tpl.name.as_str(), tpl.language.as_str()),
        ("invoice_ready", "en_US")
    );
    assert_eq!(tpl.header.as_deref(), Some("document"));
    assert_eq!(tpl.body_params, ["INV-2031"]);
    assert_eq!(m.filename.as_deref(), Some("document.pdf"));
    let media = wa_media_types::MediaId::new(m.media_id.as_deref().unwrap()).unwrap();
    let stored = env.emu().media_info(&media).unwrap();
    assert_eq!(
        (stored.mime_type.as_str(), stored.file_size),
        ("application/pdf", len)
    );

    // 5. the webhook service sees sent, delivered and read (each delivery answered 2xx).
    assert!(
        wait_until(|| {
            let s = env.emu().sent_messages();
            let d = env.emu().webhook_deliveries().unwrap();
            s[0].statuses == ["sent", "delivered", "read"] && d.delivered >= 3
        }),
        "statuses {:?}, deliveries {:?}; serve: {}",
        env.emu().sent_messages()[0].statuses,
        env.emu().webhook_deliveries(),
        serve.stderr()
    );
    assert_eq!(env.emu().webhook_deliveries().unwrap().given_up, 0);
    serve.signal("TERM");
    assert_eq!(serve.wait_exit(WAIT).code(), 0);
}

#[test]
fn a_reset_at_60_percent_resumes_from_the_servers_offset() {
    let env = Env::start();
    // A 4 MiB PDF (valid for the API: its magic bytes and size).
    let path = env.dir.path().join("big.pdf");
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..4 * 1024 * 1024 - 9).map(|i| (i % 251) as u8));
    std::fs::write(&path, &bytes).unwrap();
    let len = bytes.len() as u64;
    env.emu()
        .faults()
        .push(Endpoint::ResumableUpload, Fault::ResetAt { percent: 60 }, 1);
    let out = env.run(&[
        "--json",
        "upload",
        "--resumable",
        "--app-id",
        APP_ID,
        path.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let up = json(&out);
    let at = len * 60 / 100;
    // Resumed once, from exactly what the server kept.
    assert_eq!(up["resumed_from"], serde_json::json!([at]), "{up}");
    let sessions = env.emu().upload_sessions();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!((s.file_offset, s.posts), (len, 2), "{s:?}");
    // The server received every byte once: nothing it had kept was sent again.
    assert_eq!(s.bytes_received, len, "{s:?}");
    // The client's transport took the file once (the first attempt may have pushed all of it
    // into the connection before the reset), then only what the server had not kept: never
    // the whole file again.
    let sent = up["bytes_sent"].as_u64().unwrap();
    assert!(sent >= len && sent - len <= len - at, "{sent} of {len}");
    assert_eq!(s.handle.as_deref(), up["handle"].as_str());
    // One status query between the two uploads.
    let gets = env
        .emu()
        .request_log()
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("upload:"))
        .count();
    assert_eq!(gets, 1);
}

#[test]
fn a_session_message_outside_the_window_exits_4_with_131047_and_a_hint_naming_template() {
    let env = Env::start_with(|b| b.customer_service_window(true));
    let jpg = fixture("image.jpg");
    let send = |to: &str| env.run(&["send", "--to", to, jpg.to_str().unwrap()]);
    // A customer who never wrote.
    let out = send(CUSTOMER);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("131047") && err.contains("--template"),
        "{err}"
    );
    assert!(env.emu().sent_messages().is_empty());
    // They write: the window is open…
    env.simulate(InboundMessage::new(std::fs::read(&jpg).unwrap(), "image/jpeg").from(CUSTOMER));
    let out = send(CUSTOMER);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // …for 24 hours on the emulator's clock.
    env.emu()
        .advance_clock(Duration::from_secs(24 * 60 * 60 + 60))
        .unwrap();
    let out = send(CUSTOMER);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("131047"), "{}", stderr(&out));
    // The same customer by BSUID is the same customer.
    env.emu().customer_wrote(&simulated_user_id(CUSTOMER));
    assert_eq!(code(&send(&simulated_user_id(CUSTOMER))), 0);
}

#[test]
fn template_refusals_exit_4_with_graphs_codes_and_local_ones_exit_3() {
    let env = Env::start_with(|b| {
        b.template(EmulatedTemplate::new("ticket", "en", Some("DOCUMENT"), 2))
            .template(EmulatedTemplate::new("promo", "en", Some("IMAGE"), 0))
    });
    let send = |args: &[&str]| {
        let mut all = vec!["send", "--to", CUSTOMER];
        all.extend_from_slice(args);
        env.run(&all)
    };
    let link = "https://example.com/ticket.pdf";
    let doc = [
        "--template",
        "ticket",
        "--lang",
        "en",
        "--header-link",
        link,
    ];
    let refused = |out: &std::process::Output, exit: i32, what: &str| {
        assert_eq!(code(out), exit, "{}", stderr(out));
        assert!(stderr(out).contains(what), "{what}: {}", stderr(out));
    };
    // Sent: two parameters, a document.
    let ok = [&doc[..], &["--param", "A1", "--param", "Gate 4"]].concat();
    refused(&send(&ok), 0, "");
    refused(
        &send(&["--template", "nope", "--lang", "en", "--param", "x"]),
        4,
        "132001",
    );
    refused(&send(&[&doc[..], &["--param", "A1"]].concat()), 4, "132000");
    refused(
        &send(&["--template", "promo", "--lang", "en", "--header-link", link]),
        4,
        "132012",
    );
    env.emu()
        .set_template_status("ticket", "en", TemplateStatus::Paused);
    refused(&send(&ok), 4, "132015");
    env.emu()
        .set_template_status("ticket", "en", TemplateStatus::Disabled);
    refused(&send(&ok), 4, "132016");
    // Local refusals: nothing reaches Graph.
    let before = env.message_requests();
    refused(
        &send(&[&doc[..], &["--param", "two\nlines"]].concat()),
        3,
        "new line",
    );
    refused(
        &send(&[
            "--template",
            "ticket",
            "--lang",
            "en",
            "--header-file",
            fixture("image.png").to_str().unwrap(),
            "--header-kind",
            "video",
        ]),
        3,
        "header file",
    );
    assert_eq!(env.message_requests(), before);
    assert_eq!(env.emu().sent_messages().len(), 1);
}

/// curl with Meta's documented shapes: the resumable upload (token as `OAuth`, then a
/// `file_offset` header), a template with the handle, and a template send with a document
/// header by id, for the emulator seeded with `--template` semantics from Rust.
#[test]
fn an_independent_client_uploads_creates_and_sends_a_document_header() {
    let env = Env::start();
    let graph = format!(
        "{}/{}",
        env.emu().graph_url(),
        wa_media_types::DEFAULT_API_VERSION
    );
    let curl = |args: &[&str]| -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stdout(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let pdf = fixture("document.pdf");
    let len = std::fs::metadata(&pdf).unwrap().len().to_string();
    let oauth = format!("Authorization: OAuth {CANARY_TOKEN}");
    let bearer = format!("Authorization: Bearer {CANARY_TOKEN}");
    let s = curl(&[
        "-X",
        "POST",
        // The token in the query, as Meta's guide shows this step.
        &format!("{graph}/{APP_ID}/uploads?file_name=doc.pdf&file_length={len}&file_type=application/pdf&access_token={CANARY_TOKEN}"),
    ]);
    let session = s["id"].as_str().unwrap().to_owned();
    let h = curl(&[
        &format!("{graph}/{session}"),
        "-H",
        &oauth,
        "-H",
        "file_offset: 0",
        "--data-binary",
        &format!("@{}", pdf.display()),
    ]);
    let handle = h["h"].as_str().unwrap().to_owned();
    let st = curl(&[&format!("{graph}/{session}"), "-H", &bearer]);
    assert_eq!(st["file_offset"].as_u64().unwrap().to_string(), len);
    let created = curl(&[
        &format!("{graph}/{WABA_ID}/message_templates"),
        "-H",
        &bearer,
        "-H",
        "Content-Type: application/json",
        "-d",
        &serde_json::json!({
            "name": "boarding_pass", "language": "en_US", "category": "UTILITY",
            "components": [
                {"type": "HEADER", "format": "DOCUMENT", "example": {"header_handle": [handle]}},
                {"type": "BODY", "text": "Flight {{1}} boards at {{2}}.",
                 "example": {"body_text": [["BA117", "18:05"]]}},
            ],
        })
        .to_string(),
    ]);
    assert_eq!(created["status"], "APPROVED");
    let id = env.upload("document.pdf");
    let sent = curl(&[
        &format!("{graph}/{}/messages", common::PHONE),
        "-H",
        &bearer,
        "-H",
        "Content-Type: application/json",
        "-d",
        &serde_json::json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER,
            "type": "template",
            "template": {"name": "boarding_pass", "language": {"code": "en_US"}, "components": [
                {"type": "header", "parameters": [
                    {"type": "document", "document": {"id": id, "filename": "pass.pdf"}}]},
                {"type": "body", "parameters": [
                    {"type": "text", "text": "BA117"}, {"type": "text", "text": "18:05"}]},
            ]},
        })
        .to_string(),
    ]);
    let wamid = sent["messages"][0]["id"].as_str().unwrap();
    let m = env.emu().sent_messages();
    assert_eq!(m[0].wamid, wamid);
    assert_eq!(m[0].filename.as_deref(), Some("pass.pdf"));
    assert_eq!(m[0].media_id.as_deref(), Some(id.as_str()));
}

#[test]
fn a_malformed_emulator_template_spec_is_a_usage_error() {
    let out = common::clean_command()
        .args(["emulator", "--template", "invoice_ready:en_US:PDF:1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--template"), "{}", stderr(&out));
}
