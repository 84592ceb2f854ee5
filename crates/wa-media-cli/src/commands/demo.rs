//! `wa-media demo`: the whole round trip against an embedded emulator, offline and tokenless.
//!
//! Starts the emulator on loopback (real sockets, two origins), then for each sample: upload
//! (streamed from a file), retrieve a fresh URL, download with SHA-256 and size verified into a
//! file written atomically, compare with the original, delete, and check the id is gone. One
//! sample the API would refuse (Ogg Vorbis as a voice note) shows local validation stopping it
//! before anything is sent. Last, one sample is sent as a message to a test recipient and its
//! `sent`, `delivered` and `read` statuses arrive, signed, through the webhook service
//! (`wa-media-webhook`) the emulator delivers to. Then, outside the 24-hour window (a customer
//! who never wrote: a session message gets 131047), the sample PDF goes out as a template's
//! document header: uploaded through the Resumable Upload API for the template's example
//! handle, the template created and approved, sent, and its statuses watched the same way.
//! Prints a table; exits 0 only if every step verified.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wa_media_core::{Error, MediaApi, MediaApiExt, MediaClient, MessagingApi, SendOptions, Upload};
use wa_media_emulator::Emulator;
use wa_media_types::webhook::{DeliveryStatus, Notification, Status};
use wa_media_types::{MediaKind, MediaType, Sha256Digest};
use wa_media_webhook::{DirectorySink, HandlerError, Ingest, IngestConfig, Spool, WebhookService};

use crate::cli::Global;
use crate::failure::{chain, Exit, Failure};
use crate::output;

/// A sample the demo sends: name, MIME type, kind, contents.
struct Sample {
    name: &'static str,
    mime: &'static str,
    kind: MediaKind,
    bytes: Vec<u8>,
}

macro_rules! fixture {
    ($file:literal, $mime:literal, $kind:expr) => {
        Sample {
            name: $file,
            mime: $mime,
            kind: $kind,
            bytes: include_bytes!(concat!("../../demo-media/", $file)).to_vec(),
        }
    };
}

/// Size of the generated large document, to show throughput.
const LARGE_DOC_BYTES: usize = 16 * wa_media_types::MB as usize;

fn samples() -> Vec<Sample> {
    vec![
        fixture!("image.jpg", "image/jpeg", MediaKind::Image),
        fixture!("image.png", "image/png", MediaKind::Image),
        fixture!("sticker.webp", "image/webp", MediaKind::Sticker),
        fixture!("sticker-animated.webp", "image/webp", MediaKind::Sticker),
        fixture!("document.pdf", "application/pdf", MediaKind::Document),
        fixture!("notes.txt", "text/plain", MediaKind::Document),
        fixture!("voice.ogg", "audio/ogg; codecs=opus", MediaKind::Voice),
        fixture!("audio.mp3", "audio/mpeg", MediaKind::Audio),
        fixture!("audio.aac", "audio/aac", MediaKind::Audio),
        fixture!("audio.amr", "audio/amr", MediaKind::Audio),
        fixture!("audio.m4a", "audio/mp4", MediaKind::Audio),
        fixture!("video.mp4", "video/mp4", MediaKind::Video),
        fixture!("video.3gp", "video/3gpp", MediaKind::Video),
        Sample {
            name: "large-16MiB.txt",
            mime: "text/plain",
            kind: MediaKind::Document,
            bytes: large_document(),
        },
    ]
}

/// Deterministic text: numbered lines, so the file is valid `text/plain`.
fn large_document() -> Vec<u8> {
    let mut out = Vec::with_capacity(LARGE_DOC_BYTES + 80);
    let mut n = 0u64;
    while out.len() < LARGE_DOC_BYTES {
        out.extend_from_slice(
            format!("{n:08} the quick brown fox jumps over the lazy dog 0123456789\n").as_bytes(),
        );
        n += 1;
    }
    out.truncate(LARGE_DOC_BYTES);
    out
}

/// One row of the table.
struct Row {
    name: String,
    kind: String,
    size: u64,
    upload: Option<Duration>,
    retrieve: Option<Duration>,
    download: Option<Duration>,
    delete: Option<Duration>,
    outcome: Result<String, String>,
    /// For the sent sample: its wamid and the statuses that arrived, in order.
    sent: Option<Sent>,
}

/// What the send step saw.
struct Sent {
    wamid: String,
    statuses: Vec<String>,
}

/// The test recipient the demo sends to (the emulator accepts any number).
const RECIPIENT: &str = "15551234567";
/// The customer the template goes to: one who never wrote (outside the 24-hour window).
const TEMPLATE_RECIPIENT: &str = "15557654321";
/// The app and the WhatsApp Business Account the template belongs to (any numeric ids).
const DEMO_APP_ID: &str = "1234567890123";
const DEMO_WABA_ID: &str = "102290129340398";
/// The app secret the emulator signs its webhook deliveries with, and the service checks.
const DEMO_APP_SECRET: &str = "wa-media-demo-app-secret";
/// How long the statuses of the sent message may take to arrive.
const STATUS_WAIT: Duration = Duration::from_secs(15);

/// Runs `demo`.
pub async fn run(g: &Global) -> Result<(), Failure> {
    let started = Instant::now();
    let work = tempfile::tempdir()
        .map_err(|e| Failure::other(format!("cannot create a temporary directory: {e}")))?;
    // The webhook service's address first: the emulator is told where to deliver statuses.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::other(format!("cannot listen on 127.0.0.1: {e}")))?;
    let hook_url = listener
        .local_addr()
        .map(|a| format!("http://{a}/webhook"))
        .map_err(|e| Failure::other(e.to_string()))?;
    let emulator = Emulator::builder()
        .webhook(hook_url.clone(), DEMO_APP_SECRET)
        .customer_service_window(true)
        .start()
        .await
        .map_err(|e| Failure::other(format!("cannot start the embedded emulator: {e}")))?;
    output::info(
        g.quiet,
        &format!(
            "emulator: graph {} · download host {} · statuses to {hook_url}",
            emulator.graph_url(),
            emulator.lookaside_url()
        ),
    );
    let client = wa_media_hyper::builder()
        .token(emulator.token())
        .phone_number_id("106540352242922")
        .graph_url(emulator.graph_url())
        .trust_host(emulator.lookaside_addr().to_string())
        // The emulator runs in this process: no proxy in the environment applies to it.
        .map_transport(|t| t.no_proxy())
        .build()
        .map_err(|e| Failure::other(format!("cannot build the client: {e}")))?;
    let mut hook = StatusHook::start(listener, &client, work.path())?;

    let mut rows = Vec::new();
    for s in samples() {
        rows.push(round_trip(&client, work.path(), &s).await);
    }
    rows.push(refused_sample(&client, &emulator, work.path()).await);
    // The test recipient wrote a moment ago: the session message goes out inside the window.
    emulator.customer_wrote(&wa_media_emulator::simulated_user_id(RECIPIENT));
    rows.push(send_and_watch(g, &client, &mut hook, work.path()).await);
    rows.push(template_and_watch(g, &client, &mut hook, work.path()).await);

    let ok = rows.iter().all(|r| r.outcome.is_ok());
    if g.json {
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                let mut row = serde_json::json!({
                    "sample": r.name, "kind": r.kind, "bytes": r.size,
                    "upload_ms": r.upload.map(ms), "retrieve_ms": r.retrieve.map(ms),
                    "download_verify_ms": r.download.map(ms), "delete_ms": r.delete.map(ms),
                    "ok": r.outcome.is_ok(),
                    "result": match &r.outcome { Ok(s) | Err(s) => s },
                });
                if let Some(sent) = &r.sent {
                    row["wamid"] = sent.wamid.clone().into();
                    row["statuses"] = sent.statuses.clone().into();
                }
                row
            })
            .collect();
        output::json(&serde_json::json!({ "ok": ok, "rows": rows }))?;
    } else {
        print_table(&rows)?;
        let verified = rows.iter().filter(|r| r.outcome.is_ok()).count();
        output::line(&format!(
            "\n{verified}/{} steps verified in {:.2} s — no token, no network: everything ran against the embedded emulator on 127.0.0.1.",
            rows.len(),
            started.elapsed().as_secs_f64()
        ))?;
    }
    hook.stop().await;
    emulator.shutdown().await;
    if ok {
        Ok(())
    } else {
        Err(Failure::new(
            Exit::Integrity,
            "demo failed: at least one step did not verify (see the table)",
        ))
    }
}

async fn round_trip(client: &MediaClient, dir: &Path, s: &Sample) -> Row {
    let mut row = Row {
        name: s.name.to_string(),
        kind: s.kind.to_string(),
        size: s.bytes.len() as u64,
        upload: None,
        retrieve: None,
        download: None,
        delete: None,
        outcome: Err(String::new()),
        sent: None,
    };
    row.outcome = async {
        let src = dir.join(format!("src-{}", s.name));
        std::fs::write(&src, &s.bytes).map_err(|e| format!("cannot write sample: {e}"))?;
        let mime: MediaType = s.mime.parse().map_err(|e| format!("{e}"))?;
        let expected = Sha256Digest::of(&s.bytes);

        let t = Instant::now();
        let id = client
            .upload(Upload::from_path(&src, mime).kind(s.kind))
            .await
            .map_err(|e| format!("upload: {}", chain(&e)))?;
        row.upload = Some(t.elapsed());

        let t = Instant::now();
        let info = client
            .retrieve(&id)
            .await
            .map_err(|e| format!("retrieve: {}", chain(&e)))?;
        row.retrieve = Some(t.elapsed());
        if info.sha256 != expected || info.file_size != s.bytes.len() as u64 {
            return Err(
                "retrieve reported a different digest or size than was uploaded".to_string(),
            );
        }

        let dest = dir.join(format!("downloaded-{}", s.name));
        let t = Instant::now();
        let file = client
            .fetch_to_file(&id, &dest)
            .await
            .map_err(|e| format!("download: {}", chain(&e)))?;
        row.download = Some(t.elapsed());
        let on_disk = std::fs::read(&file.path).map_err(|e| format!("cannot read back: {e}"))?;
        if Sha256Digest::of(&on_disk) != expected || on_disk != s.bytes {
            return Err("downloaded bytes differ from the original".to_string());
        }

        let t = Instant::now();
        client
            .delete(&id)
            .await
            .map_err(|e| format!("delete: {}", chain(&e)))?;
        row.delete = Some(t.elapsed());
        match client.retrieve(&id).await {
            Err(Error::Api(_)) => {}
            Ok(_) => return Err("the id still resolves after delete".to_string()),
            Err(e) => return Err(format!("after delete: unexpected {}", chain(&e))),
        }
        Ok(format!("verified sha256 {}…", &expected.to_hex()[..12]))
    }
    .await;
    row
}

/// Ogg Vorbis declared as a voice note: the API would refuse it, so validation must stop it
/// locally, with nothing sent to the emulator.
async fn refused_sample(
    client: &MediaClient,
    emulator: &wa_media_emulator::EmulatorHandle,
    dir: &Path,
) -> Row {
    let bytes = include_bytes!("../../demo-media/vorbis.ogg");
    let mut row = Row {
        name: "vorbis.ogg (as voice)".to_string(),
        kind: MediaKind::Voice.to_string(),
        size: bytes.len() as u64,
        upload: None,
        retrieve: None,
        download: None,
        delete: None,
        outcome: Err(String::new()),
        sent: None,
    };
    let src = dir.join("vorbis.ogg");
    let before = emulator.request_log().len();
    let t = Instant::now();
    let result = match std::fs::write(&src, bytes) {
        Err(e) => Err(format!("cannot write sample: {e}")),
        Ok(()) => match "audio/ogg; codecs=opus".parse::<MediaType>() {
            Err(e) => Err(e.to_string()),
            Ok(mime) => client
                .upload(Upload::from_path(&src, mime).kind(MediaKind::Voice))
                .await
                .map_err(|e| e.to_string())
                .map(|_| ()),
        },
    };
    row.upload = Some(t.elapsed());
    let sent = emulator.request_log().len() - before;
    row.outcome = match result {
        Err(msg) if sent == 0 && msg.contains("refused before sending") => {
            Ok("refused locally as expected (not Opus), nothing sent".to_string())
        }
        Err(msg) => Err(format!("unexpected failure: {msg}")),
        Ok(()) => {
            Err("an Ogg Vorbis voice note was accepted; validation should refuse it".to_string())
        }
    };
    row
}

/// The webhook service of `wa-media-webhook` on 127.0.0.1, with a [`Handler`] that passes on
/// every status it receives: what an application watching its messages runs.
///
/// [`Handler`]: wa_media_webhook::Handler
struct StatusHook {
    statuses: mpsc::UnboundedReceiver<Status>,
    ingest: Ingest,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl StatusHook {
    /// Serves the webhook service on `listener`; inbound media (none here) would be saved
    /// under `dir`.
    fn start(
        listener: tokio::net::TcpListener,
        client: &MediaClient,
        dir: &Path,
    ) -> Result<Self, Failure> {
        let inbox = dir.join("inbox");
        let spool = Spool::open(inbox.join(".spool"))
            .map_err(|e| Failure::other(format!("cannot open the demo's spool: {e}")))?;
        let sink = DirectorySink::new(&inbox)
            .map_err(|e| Failure::other(format!("cannot use the demo's inbox: {e}")))?;
        let ingest = Ingest::start(
            spool,
            Arc::new(client.clone()),
            Arc::new(sink),
            IngestConfig::default(),
        )
        .map_err(|e| Failure::other(format!("cannot start the webhook workers: {e}")))?;
        let (tx, statuses) = mpsc::unbounded_channel();
        let handler = move |n: &Notification| -> Result<(), HandlerError> {
            for change in n.entry.iter().flat_map(|e| &e.changes) {
                for status in &change.value.statuses {
                    let _ = tx.send(status.clone());
                }
            }
            Ok(())
        };
        let service = WebhookService::builder(ingest.clone())
            .app_secret(DEMO_APP_SECRET)
            .handler(handler)
            .build()
            .map_err(|e| Failure::other(format!("cannot build the webhook service: {e}")))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let config =
            wa_media_server::ServerConfig::default().shutdown_grace(Duration::from_secs(2));
        let server = tokio::spawn(wa_media_server::serve(
            listener,
            service,
            config,
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            statuses,
            ingest,
            stop: Some(stop),
            server,
        })
    }

    /// Waits (at most [`STATUS_WAIT`]) until `wanted` statuses of `wamid` arrived; returns
    /// every status of `wamid` received, in order, with the time each arrived after `since`.
    async fn wait_for(
        &mut self,
        wamid: &str,
        wanted: &[DeliveryStatus],
        since: Instant,
    ) -> Vec<(Status, Duration)> {
        let mut seen: Vec<(Status, Duration)> = Vec::new();
        let deadline = tokio::time::Instant::now() + STATUS_WAIT;
        while !wanted
            .iter()
            .all(|w| seen.iter().any(|(s, _)| &s.status == w))
            && !seen.iter().any(|(s, _)| s.status == DeliveryStatus::Failed)
        {
            match tokio::time::timeout_at(deadline, self.statuses.recv()).await {
                Ok(Some(s)) if s.id == wamid => seen.push((s, since.elapsed())),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        seen
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.server.await;
        let _ = self.ingest.shutdown(Duration::from_secs(2)).await;
    }
}

/// Sends a sample to the test recipient (validated, uploaded, sent in one call) and waits for
/// its `sent`, `delivered` and `read` statuses to arrive through the webhook service.
async fn send_and_watch(
    g: &Global,
    client: &MediaClient,
    hook: &mut StatusHook,
    dir: &Path,
) -> Row {
    let bytes = include_bytes!("../../demo-media/image.jpg");
    let mut row = Row {
        name: format!("image.jpg → {RECIPIENT}"),
        kind: MediaKind::Image.to_string(),
        size: bytes.len() as u64,
        upload: None,
        retrieve: None,
        download: None,
        delete: None,
        outcome: Err(String::new()),
        sent: None,
    };
    let src = dir.join("send-image.jpg");
    let t = Instant::now();
    let sent = async {
        std::fs::write(&src, bytes).map_err(|e| format!("cannot write sample: {e}"))?;
        let mime: MediaType = "image/jpeg".parse().map_err(|e| format!("{e}"))?;
        let options = SendOptions::default()
            .mime(mime)
            .caption("sent by wa-media demo");
        client
            .send_file(&src, RECIPIENT, options)
            .await
            .map_err(|e| format!("send: {}", chain(&e)))
    }
    .await;
    row.upload = Some(t.elapsed());
    let (_, sent) = match sent {
        Ok(ok) => ok,
        Err(e) => {
            row.outcome = Err(e);
            return row;
        }
    };
    let wanted = [
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Read,
    ];
    let seen = hook.wait_for(&sent.wamid, &wanted, t).await;
    for (s, at) in &seen {
        output::info(
            g.quiet,
            &format!(
                "webhook: {} is {} (+{:.1} ms)",
                sent.wamid,
                s.status,
                ms(*at)
            ),
        );
    }
    let names: Vec<String> = seen.iter().map(|(s, _)| s.status.to_string()).collect();
    let arrived = seen
        .iter()
        .map(|(s, at)| format!("{} +{:.0} ms", s.status, ms(*at)))
        .collect::<Vec<_>>()
        .join(" → ");
    row.outcome = if let Some((failed, _)) = seen
        .iter()
        .find(|(s, _)| s.status == DeliveryStatus::Failed)
    {
        let why: Vec<String> = failed
            .errors
            .iter()
            .map(|e| format!("{} {}", e.code, e.title.as_deref().unwrap_or_default()))
            .collect();
        Err(format!("the message failed: {}", why.join(", ")))
    } else if wanted
        .iter()
        .all(|w| seen.iter().any(|(s, _)| &s.status == w))
    {
        Ok(format!("uploaded+sent; via webhook: {arrived}"))
    } else {
        Err(format!(
            "statuses missing after {STATUS_WAIT:?}: got [{arrived}], want sent → delivered → read"
        ))
    };
    row.sent = Some(Sent {
        wamid: sent.wamid.clone(),
        statuses: names,
    });
    row
}

/// Outside the 24-hour window: a session message is refused (131047), so the sample PDF goes
/// out as a template's document header (its example uploaded through the Resumable Upload
/// API, the template created and approved), and its statuses arrive through the webhook
/// service.
async fn template_and_watch(
    g: &Global,
    client: &MediaClient,
    hook: &mut StatusHook,
    dir: &Path,
) -> Row {
    let bytes = include_bytes!("../../demo-media/document.pdf");
    let mut row = Row {
        name: format!("template → {TEMPLATE_RECIPIENT}"),
        kind: MediaKind::Document.to_string(),
        size: bytes.len() as u64,
        upload: None,
        retrieve: None,
        download: None,
        delete: None,
        outcome: Err(String::new()),
        sent: None,
    };
    let src = dir.join("invoice.pdf");
    let t = Instant::now();
    let sent = async {
        std::fs::write(&src, bytes).map_err(|e| format!("cannot write sample: {e}"))?;
        // A session message first: refused, the customer has not written in 24 hours.
        let session = wa_media_types::SendMedia::by_link(
            TEMPLATE_RECIPIENT,
            MediaKind::Document,
            "https://example.com/invoice.pdf",
        )
        .map_err(|e| e.to_string())?;
        let refused = match client.send_media(&session).await {
            Err(e) if e.to_string().contains("131047") => "131047".to_owned(),
            Err(e) => return Err(format!("session message: {}", chain(&e))),
            Ok(_) => return Err("a session message outside the window was sent".to_owned()),
        };
        let mime: MediaType = "application/pdf".parse().map_err(|e| format!("{e}"))?;
        let up = client
            .upload_resumable(DEMO_APP_ID, Upload::from_path(&src, mime))
            .await
            .map_err(|e| format!("resumable upload: {}", chain(&e)))?;
        let def = wa_media_types::TemplateDefinition::new(
            "invoice_ready",
            "en_US",
            "UTILITY",
            MediaKind::Document,
            &up.handle,
        )
        .body("Your invoice {{1}} is attached.", ["INV-1001"]);
        let created = client
            .create_template(DEMO_WABA_ID, &def)
            .await
            .map_err(|e| format!("create template: {}", chain(&e)))?;
        let msg = wa_media_types::SendTemplate::new(TEMPLATE_RECIPIENT, "invoice_ready", "en_US")
            .map_err(|e| e.to_string())?
            .body_text("INV-2031");
        let (_, sent) = client
            .send_template_file(&src, msg, Some(MediaKind::Document))
            .await
            .map_err(|e| format!("send template: {}", chain(&e)))?;
        Ok::<_, String>((refused, created.status, sent))
    }
    .await;
    row.upload = Some(t.elapsed());
    let (refused, status, sent) = match sent {
        Ok(ok) => ok,
        Err(e) => {
            row.outcome = Err(e);
            return row;
        }
    };
    let wanted = [
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Read,
    ];
    let seen = hook.wait_for(&sent.wamid, &wanted, t).await;
    for (s, at) in &seen {
        output::info(
            g.quiet,
            &format!(
                "webhook: {} is {} (+{:.1} ms)",
                sent.wamid,
                s.status,
                ms(*at)
            ),
        );
    }
    let names: Vec<String> = seen.iter().map(|(s, _)| s.status.to_string()).collect();
    let arrived = names.join(" → ");
    row.outcome = if wanted
        .iter()
        .all(|w| seen.iter().any(|(s, _)| &s.status == w))
        && !seen.iter().any(|(s, _)| s.status == DeliveryStatus::Failed)
    {
        Ok(format!(
            "session msg {refused}; resumable handle → template {status} → header sent; via webhook: {arrived}"
        ))
    } else {
        Err(format!(
            "statuses after {STATUS_WAIT:?}: [{arrived}], want sent → delivered → read"
        ))
    };
    row.sent = Some(Sent {
        wamid: sent.wamid.clone(),
        statuses: names,
    });
    row
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

fn cell(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), |d| format!("{:.1} ms", ms(d)))
}

fn print_table(rows: &[Row]) -> Result<(), Failure> {
    output::line(&format!(
        "{:<24} {:<9} {:>10} {:>10} {:>10} {:>22} {:>9}  {}",
        "sample", "kind", "bytes", "upload", "retrieve", "download+verify", "delete", "result"
    ))?;
    output::line(&"-".repeat(130))?;
    for r in rows {
        let download = match r.download {
            Some(d) if r.size >= wa_media_types::MB => {
                format!(
                    "{} ({:.0} MB/s)",
                    cell(Some(d)),
                    r.size as f64 / 1e6 / d.as_secs_f64().max(1e-9)
                )
            }
            d => cell(d),
        };
        let result = match &r.outcome {
            Ok(s) => format!("ok   {s}"),
            Err(s) => format!("FAIL {s}"),
        };
        output::line(&format!(
            "{:<24} {:<9} {:>10} {:>10} {:>10} {:>22} {:>9}  {}",
            r.name,
            r.kind,
            r.size,
            cell(r.upload),
            cell(r.retrieve),
            download,
            cell(r.delete),
            result
        ))?;
    }
    Ok(())
}
