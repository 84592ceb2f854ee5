//! `wa-media emulator`: run the local emulator until Ctrl-C or SIGTERM. Both stop it the same
//! way: the listeners close, open connections get a few seconds to finish, and a temporary data
//! directory is removed before the process exits 0.

use std::time::Duration;

use wa_media_emulator::Emulator;
use wa_media_types::PhoneNumberId;

use crate::cli::{EmulatorArgs, Global};
use crate::failure::Failure;
use crate::output;

/// Runs `emulator`.
pub async fn run(g: &Global, args: EmulatorArgs) -> Result<(), Failure> {
    let mut b = Emulator::builder()
        .graph_listen(args.graph_listen)
        .lookaside_listen(args.lookaside_listen)
        .url_ttl(Duration::from_secs(args.url_ttl))
        .no_storage(args.no_storage)
        .tls(args.tls)
        .max_connections(args.max_connections)
        .idle_timeout(Duration::from_secs(args.idle_timeout))
        .body_timeout(Duration::from_secs(args.body_timeout))
        .status_delay(Duration::from_millis(args.status_delay_ms));
    if let Some(n) = args.message_throughput {
        b = b.message_throughput(n);
    }
    if let Some(n) = args.pair_rate_limit {
        b = b.pair_rate_limit(n, Duration::from_secs(args.pair_rate_window));
    }
    for spec in &args.templates {
        let t: wa_media_emulator::EmulatedTemplate = spec
            .parse()
            .map_err(|e| Failure::usage(format!("--template: {e}")))?;
        b = b.template(t);
    }
    b = b
        .template_approval_delay(Duration::from_secs(args.template_approval_delay))
        .customer_service_window(args.customer_service_window);
    if let Some(t) = args.admin_token.as_deref() {
        if t.trim().is_empty() {
            return Err(Failure::usage("--admin-token must not be empty"));
        }
        b = b.admin_token(t.trim());
    }
    if let Some(t) = g.token.as_deref().filter(|t| !t.trim().is_empty()) {
        b = b.token(t.trim());
    }
    if let Some(id) = &g.phone_number_id {
        let id: PhoneNumberId = id
            .parse()
            .map_err(|e| Failure::usage(format!("--phone-number-id: {e}")))?;
        b = b.phone_number_id(Some(id));
    }
    if let Some(dir) = &args.data_dir {
        b = b.data_dir(dir);
    }
    // Listened for before the URLs are printed: a harness that signals as soon as it has read
    // them never meets the default action (which would leave the data directory).
    let mut signals = crate::signals::Listener::new()?;
    if let (Some(url), Some(secret)) = (&args.webhook_url, &args.app_secret) {
        b = b.webhook(url.clone(), secret.clone());
    }
    let handle = b
        .start()
        .await
        .map_err(|e| Failure::other(format!("cannot start the emulator: {e}")))?;
    if g.json {
        output::json(&serde_json::json!({
            "graph_url": handle.graph_url(),
            "lookaside_url": handle.lookaside_url(),
            "graph_addr": handle.graph_addr().to_string(),
            "lookaside_addr": handle.lookaside_addr().to_string(),
            "token": handle.token(),
            "ca_certificate": handle.ca_certificate_path(),
            "data_dir": handle.data_dir(),
            "admin_token_required": handle.config().admin_token.is_some(),
            "webhook_url": handle.config().webhook.as_ref().map(|w| w.url.clone()),
        }))?;
    } else {
        // The emulator's own token is printed on purpose: it is a local test credential.
        output::line(&format!(
            "graph URL:     {}  (listening on {})",
            handle.graph_url(),
            handle.graph_addr()
        ))?;
        output::line(&format!(
            "lookaside URL: {}  (listening on {})",
            handle.lookaside_url(),
            handle.lookaside_addr()
        ))?;
        output::line(&format!("token:         {}", handle.token()))?;
        if let Some(ca) = handle.ca_certificate_path() {
            output::line(&format!("CA (PEM):      {}", ca.display()))?;
        }
        if let Some(w) = &handle.config().webhook {
            output::line(&format!(
                "webhook:       {} (every simulated inbound message and every status of a sent message is delivered there, signed)",
                w.url
            ))?;
        }
        output::line(&format!(
            "try:           wa-media --graph-url {} --token {} --trust-host {} --phone-number-id 106540352242922 upload FILE",
            handle.graph_url(),
            handle.token(),
            handle.lookaside_addr()
        ))?;
        output::info(g.quiet, "serving; Ctrl-C or SIGTERM stops");
    }
    let signal = signals.next().await;
    output::info(g.quiet, &format!("{}: stopping", signal.name()));
    handle.shutdown().await;
    Ok(())
}
