//! `serve --forward URL`: the forwarder's configuration from the command line, and its events
//! as output lines.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wa_media_webhook::{ForwardConfig, ForwardEvent, Forwarder, Ingest};

use crate::cli::ServeArgs;
use crate::failure::Failure;
use crate::output;

/// The forwarder `args` ask for (`None` without `--forward`), started on `ingest`'s spool; with
/// `--retry-failed`, the failed forwards are queued again first.
pub fn start(args: &ServeArgs, ingest: &Ingest, quiet: bool) -> Result<Option<Forwarder>, Failure> {
    let Some(url) = &args.forward else {
        return Ok(None);
    };
    let mut config = ForwardConfig::new(url)
        .map_err(|e| Failure::usage(format!("--forward {url}: {e}")))?
        .timeout(Duration::from_secs(args.forward_timeout.max(1)))
        .concurrency(args.forward_concurrency)
        .max_age(*args.forward_max_age);
    let max_delay = Duration::from_secs(args.forward_max_retry_delay.max(1));
    let base = ForwardConfig::default_retry().base_delay.min(max_delay);
    config = config.retry(
        ForwardConfig::default_retry()
            .with_delays(base, max_delay)
            .with_max_retry_after(max_delay),
    );
    if let Some(secret) = &args.app_secret {
        config = config.app_secret(secret);
    }
    if let Some(s) = &args.forward_secret {
        let secret = s
            .parse()
            .map_err(|e| Failure::usage(format!("--forward-secret: {e}")))?;
        config = config.signing_secret(secret);
    }
    // The transport has no token: a forward never carries one.
    let transport = wa_media_hyper::HyperTransport::new()
        .map_err(|e| Failure::other(format!("--forward: {e}")))?;
    let forwarder = Forwarder::start(ingest, Arc::new(transport), config)
        .map_err(|e| Failure::other(format!("cannot open the forward queue: {e}")))?;
    if args.retry_failed {
        let n = forwarder
            .retry_failed()
            .map_err(|e| Failure::other(format!("cannot move failed forwards back: {e}")))?;
        output::info(quiet, &format!("{n} failed forwards queued again"));
    }
    Ok(Some(forwarder))
}

/// One line per forward given up on stderr; with `--json`, one event per delivered, retried
/// and failed forward on stdout.
pub async fn report(forwarder: Forwarder, json_out: bool) {
    let mut events = forwarder.subscribe();
    loop {
        let ev = match events.recv().await {
            Ok(ev) => ev,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        match ev {
            ForwardEvent::Failed { id, reason } => {
                if json_out {
                    let _ = output::json(
                        &json!({ "event": "forward_failed", "webhook_id": id, "reason": reason }),
                    );
                } else {
                    eprintln!("wa-media: forward {id} failed: {reason}");
                }
            }
            ForwardEvent::Delivered {
                id,
                attempts,
                status,
            } if json_out => {
                let _ = output::json(
                    &json!({ "event": "forwarded", "webhook_id": id, "attempts": attempts, "status": status }),
                );
            }
            ForwardEvent::Retrying {
                id,
                attempts,
                delay,
                answer,
            } if json_out => {
                let _ = output::json(
                    &json!({ "event": "forward_retrying", "webhook_id": id, "attempts": attempts, "delay_ms": delay.as_millis() as u64, "answer": answer }),
                );
            }
            _ => {}
        }
    }
}
