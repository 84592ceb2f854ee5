//! Mounting the webhook service in an axum app with `Router::route_service`: no adapter code.
//!
//! ```sh
//! WHATSAPP_TOKEN=... WHATSAPP_APP_SECRET=... WHATSAPP_VERIFY_TOKEN=... \
//!   cargo run -p wa-media-webhook --example axum
//! ```
//!
//! With no `WHATSAPP_TOKEN`, it runs against an embedded emulator on 127.0.0.1 and exits after
//! one delivery is saved (offline). `cargo test --all-targets` compiles it.

use std::sync::Arc;

use axum::Router;
use wa_media_webhook::{DirectorySink, Ingest, IngestConfig, Spool, WebhookService};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inbox = std::env::temp_dir().join(format!("wa-media-axum-{}", std::process::id()));
    let emulator = match std::env::var("WHATSAPP_TOKEN") {
        Ok(_) => None,
        Err(_) => Some(wa_media_emulator::Emulator::builder().start().await?),
    };
    let api: Arc<dyn wa_media_core::MediaApi> = Arc::new(match &emulator {
        Some(emu) => wa_media_hyper::builder()
            .token(emu.token())
            .graph_url(emu.graph_url())
            .trust_host(emu.lookaside_addr().to_string())
            .build()?,
        None => wa_media_hyper::builder()
            .token(std::env::var("WHATSAPP_TOKEN")?)
            .build()?,
    });
    let secret = std::env::var("WHATSAPP_APP_SECRET").unwrap_or_else(|_| "example-secret".into());
    let ingest = Ingest::start(
        Spool::open(inbox.join(".spool"))?,
        api,
        Arc::new(DirectorySink::new(&inbox)?),
        IngestConfig::default(),
    )?;
    let webhook = WebhookService::builder(ingest.clone())
        .app_secret(&secret)
        .verify_token(std::env::var("WHATSAPP_VERIFY_TOKEN").unwrap_or_else(|_| "t".into()))
        .build()?;

    // The whole integration: one line.
    let app = Router::new().route_service("/webhook", webhook);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!(
        "listening on http://{addr}/webhook; media go to {}",
        inbox.display()
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let Some(emu) = emulator else {
        server.await??;
        return Ok(());
    };
    // Offline: the emulator simulates a customer's photo; deliver it as Meta would.
    let photo = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[7u8; 1000]].concat();
    let sim = emu
        .simulate_inbound(wa_media_emulator::InboundMessage::new(photo, "image/jpeg"))
        .await?;
    let mut events = ingest.subscribe();
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!(
        "POST /webhook HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\nx-hub-signature-256: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        sim.signature_header(secret.as_bytes()),
        sim.body.len(),
        sim.body
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await?;
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    if let wa_media_webhook::IngestEvent::Saved { saved, .. } = events.recv().await? {
        println!(
            "saved {} ({} bytes, verified)",
            saved.location, saved.file_size
        );
    }
    ingest.shutdown(std::time::Duration::from_secs(1)).await;
    let _ = std::fs::remove_dir_all(&inbox);
    Ok(())
}
