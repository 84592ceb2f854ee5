//! `wa-media serve`: the inbound media service. Meta's webhooks arrive over plain HTTP (TLS
//! belongs in a reverse proxy); every media is spooled before the 200 and saved once,
//! verified, into `DIR/YYYY-MM-DD/NAME` with a line in `DIR/index.jsonl`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wa_media_webhook::{
    DirectorySink, Ingest, IngestConfig, IngestEvent, SavedRecord, Spool, WebhookService,
};

use crate::cli::{Global, ServeArgs};
use crate::failure::Failure;
use crate::{client, output};

/// Runs `serve` until SIGINT or SIGTERM, then drains.
pub async fn run(g: &Global, args: ServeArgs) -> Result<(), Failure> {
    if args.app_secret.is_none() && !args.insecure_skip_signature {
        return Err(Failure::usage(
            "an app secret is required (--app-secret or WHATSAPP_APP_SECRET) to check X-Hub-Signature-256; --insecure-skip-signature turns the check off for local tests",
        ));
    }
    if args.concurrency == 0 {
        return Err(Failure::usage("--concurrency must be at least 1"));
    }
    #[cfg(not(feature = "postgres"))]
    if args.queue.is_some() {
        return Err(crate::failure::not_in_this_build(
            "`serve --queue`",
            "postgres",
        ));
    }
    if args.queue.is_some() && args.forward.is_some() {
        return Err(Failure::usage(
            "--forward with --queue is not supported yet: the forward outbox is kept in each instance's spool (docs/scaling.md)",
        ));
    }
    #[cfg(not(feature = "store"))]
    if args.store.is_some() {
        return Err(crate::failure::not_in_this_build(
            "`serve --store`",
            "store",
        ));
    }
    // Installed before anything records a metric.
    let metrics = match args.metrics_listen {
        Some(_) => Some(super::ops::install_recorder()?),
        None => None,
    };
    let api: Arc<dyn wa_media_hyper::MediaApi> = Arc::new(client::build(g)?);
    #[cfg(feature = "postgres")]
    if let Some(url) = args.queue.clone() {
        let queue = open_queue(g, &args, &url).await?;
        let sink = directory_or_store(&args)?;
        let index = wa_media_postgres::PgIndex::new(queue.pool().clone());
        let sink: Arc<dyn wa_media_webhook::Sink> =
            Arc::new(wa_media_postgres::IndexedSink::new(sink, index));
        let ingest = Ingest::start_with_queue(
            Arc::new(queue),
            api,
            sink,
            ingest_config(&args).sweep_interval(Duration::from_secs(1)),
        )
        .map_err(|e| Failure::other(format!("cannot start the workers: {e}")))?;
        return run_with(g, args, ingest, metrics).await;
    }
    let spool_dir = args
        .spool
        .clone()
        .unwrap_or_else(|| args.dir.join(".spool"));
    let spool = Spool::open(&spool_dir).map_err(|e| {
        if e.get_ref()
            .is_some_and(|i| i.is::<wa_media_webhook::SpoolInUse>())
        {
            Failure::other(e.to_string())
        } else {
            Failure::other(format!(
                "cannot open the spool {}: {e}",
                spool_dir.display()
            ))
        }
    })?;
    if args.retry_failed {
        let n = spool
            .retry_failed()
            .map_err(|e| Failure::other(format!("cannot move failed entries back: {e}")))?;
        output::info(g.quiet, &format!("{n} failed entries queued again"));
    }
    let _ = spool.prune_done(wa_media_webhook::MEDIA_ID_LIFETIME + Duration::from_secs(86_400));
    remove_orphaned_partial_files(&args.dir);
    let sink = directory_or_store(&args)?;
    let ingest = Ingest::start(spool, api, sink, ingest_config(&args))
        .map_err(|e| Failure::other(format!("cannot start the workers: {e}")))?;
    run_with(g, args, ingest, metrics).await
}

/// Opens the PostgreSQL queue of `--queue` (migrating its schema), waiting up to 60 s for a
/// database that does not answer yet (a restart of it, or of the machine).
#[cfg(feature = "postgres")]
async fn open_queue(
    g: &Global,
    args: &ServeArgs,
    url: &str,
) -> Result<wa_media_postgres::PgQueue, Failure> {
    use wa_media_webhook::Queue;
    let shown = wa_media_postgres::redact(url);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let pool = loop {
        match wa_media_postgres::connect(url, args.concurrency + 4).await {
            Ok(p) => break p,
            Err(e)
                if std::time::Instant::now() < deadline
                    && e.kind() == std::io::ErrorKind::NotConnected =>
            {
                tracing::warn!(queue = %shown, error = %e, "the queue's database does not answer yet; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(Failure::other(format!("--queue {shown}: {e}"))),
        }
    };
    let queue = wa_media_postgres::PgQueue::new(
        pool,
        wa_media_postgres::QueueConfig::default()
            .lease(Duration::from_secs(args.queue_lease.max(1))),
    );
    if args.retry_failed {
        let n = queue
            .retry_failed()
            .await
            .map_err(|e| Failure::other(format!("cannot move failed entries back: {e}")))?;
        output::info(g.quiet, &format!("{n} failed entries queued again"));
    }
    Ok(queue)
}

/// How the workers run, from the flags.
fn ingest_config(args: &ServeArgs) -> IngestConfig {
    let max_retry_delay = Duration::from_secs(args.max_retry_delay.max(1));
    IngestConfig::default()
        .concurrency(args.concurrency)
        .max_age(*args.media_lifetime)
        .retry(
            IngestConfig::default_retry()
                .with_max_attempts(args.max_attempts)
                .with_delays(
                    IngestConfig::default_retry()
                        .base_delay
                        .min(max_retry_delay),
                    max_retry_delay,
                ),
        )
}

/// Pending and failed media, from the spool or the shared queue.
async fn pending_failed(ingest: &Ingest) -> (usize, usize) {
    match ingest.maildir() {
        Some(s) => s.counts().unwrap_or((0, 0)),
        None => ingest
            .queue_counts()
            .await
            .map(|(p, t, f)| (p + t, f))
            .unwrap_or((0, 0)),
    }
}

/// The sink of `-d DIR`, or of `--store`.
fn directory_or_store(args: &ServeArgs) -> Result<Arc<dyn wa_media_webhook::Sink>, Failure> {
    Ok(match &args.store {
        #[cfg(not(feature = "store"))]
        Some(_) => unreachable!("--store is refused at the start without the store feature"),
        #[cfg(feature = "store")]
        Some(url) => {
            let opened = wa_media_store::open_store(url, args.store_endpoint.as_deref())
                .map_err(|e| Failure::usage(format!("--store {url}: {e}")))?;
            Arc::new(wa_media_store::ObjectStoreSink::new(
                opened.store,
                opened.prefix,
            ))
        }
        None => Arc::new(
            DirectorySink::new(&args.dir)
                .map_err(|e| Failure::other(format!("cannot use {}: {e}", args.dir.display())))?,
        ),
    })
}

/// Serves with `ingest` until a signal, then drains.
async fn run_with(
    g: &Global,
    args: ServeArgs,
    ingest: Ingest,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Result<(), Failure> {
    let forwarder = super::relay::start(&args, &ingest, g.quiet)?;
    let mut builder = WebhookService::builder(ingest.clone())
        .path(&args.path)
        .body_timeout(Duration::from_secs(args.body_timeout.max(1)));
    if let Some(s) = &args.app_secret {
        builder = builder.app_secret(s);
    } else {
        builder = builder.insecure_skip_signature();
    }
    if let Some(t) = &args.verify_token {
        builder = builder.verify_token(t);
    }
    if let Some(f) = &forwarder {
        builder = builder.forwarder(f.clone());
    }
    let service = builder
        .build()
        .map_err(|e| Failure::usage(format!("--path / --app-secret: {e}")))?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::other(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::other(e.to_string()))?;
    let url = format!("http://{addr}{}", args.path);
    // Where the pending media wait: the spool's directory, or the shared queue.
    let spool_dir = match ingest.maildir() {
        Some(s) => s.root().display().to_string(),
        None => ingest.queue().describe(),
    };
    if g.json {
        output::json(&json!({ "event": "listening", "url": url, "spool": spool_dir }))?;
    } else {
        output::info(
            g.quiet,
            &format!("listening on {url} (spool {spool_dir}); Ctrl-C drains"),
        );
    }

    let ops = match (args.metrics_listen, metrics) {
        (Some(addr), Some(handle)) => {
            let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                Failure::other(format!("cannot listen on {addr} (--metrics-listen): {e}"))
            })?;
            let local = l.local_addr().map_err(|e| Failure::other(e.to_string()))?;
            if g.json {
                output::json(
                    &json!({ "event": "metrics_listening", "url": format!("http://{local}/metrics") }),
                )?;
            } else {
                output::info(g.quiet, &format!("metrics on http://{local}/metrics"));
            }
            let endpoint = super::ops::Ops::new(handle, service.clone(), forwarder.clone());
            // Up until the process ends: /readyz answers 503 through the drain.
            Some(tokio::spawn(wa_media_server::serve(
                l,
                endpoint,
                wa_media_server::ServerConfig::default(),
                std::future::pending::<()>(),
            )))
        }
        _ => None,
    };
    let forward_reporter = forwarder
        .clone()
        .map(|f| tokio::spawn(super::relay::report(f, g.json)));
    let (reporter_stop, stop_reporting) = tokio::sync::oneshot::channel::<()>();
    let reporter = tokio::spawn(report(ingest.clone(), g.json, g.quiet, stop_reporting));
    let config = wa_media_server::ServerConfig::default()
        .max_connections(args.max_connections)
        .timeouts(
            Duration::from_secs(args.idle_timeout.clamp(1, 3600)),
            Duration::from_secs(args.idle_timeout.clamp(1, 3600)),
        )
        .shutdown_grace(Duration::from_secs(args.body_timeout.max(1)));

    let mut signals = crate::signals::Listener::new()?;
    // Drain from the first signal on, with the listener still open: every delivery (on a new
    // connection or a kept-alive one) gets 503 with Retry-After, so Meta (or a reverse proxy)
    // delivers it again later, while running downloads get the grace period; the rest stays
    // in the spool. The server stops once the workers have.
    let draining = service.clone();
    let (ingest2, grace, quiet) = (ingest.clone(), Duration::from_secs(args.grace), g.quiet);
    let forwarder2 = forwarder.clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<bool>();
    let drain = async move {
        let _ = signals.next().await;
        draining.drain();
        output::info(
            quiet,
            "draining: new deliveries get 503; running downloads may finish",
        );
        // A second signal exits at once (the spool keeps what was not done).
        let stop_forwarding = async {
            match &forwarder2 {
                Some(f) => f.shutdown(grace).await,
                None => true,
            }
        };
        let finished = tokio::select! {
            (all, _) = async { tokio::join!(ingest2.shutdown(grace), stop_forwarding) } => all,
            second = signals.next() => {
                eprintln!("wa-media: second signal; exiting now (the spool keeps what was not done)");
                std::process::exit(second.exit() as i32);
            }
        };
        let _ = done_tx.send(finished);
    };
    wa_media_server::serve(listener, service.clone(), config, drain).await;
    let all = done_rx.await.unwrap_or(false);
    // The media saved during the grace period get their line too.
    let _ = reporter_stop.send(());
    let _ = reporter.await;
    if let Some(r) = forward_reporter {
        r.abort();
    }
    if let Some(o) = ops {
        o.abort();
    }
    let (pending, failed) = pending_failed(&ingest).await;
    output::info(
        g.quiet,
        &format!(
            "stopped{}: {pending} pending in the spool, {failed} failed",
            if all {
                ""
            } else {
                " (some downloads were cut off; they stay in the spool)"
            }
        ),
    );
    Ok(())
}

/// Removes the temporary files (`.NAME.XXXXXXXX.wa-part`) a killed process left in DIR and in
/// its day directories (DIR/YYYY-MM-DD/, where the sink writes them). The entries that process
/// had taken are fetched again by this one, so they are orphans. (Another process fetching into
/// the same DIR with its own spool would see its temporary file gone, fail at the rename, and
/// retry: never a partial or unverified file.)
fn remove_orphaned_partial_files(dir: &std::path::Path) {
    let _ = wa_media_hyper::clean_partial_files(dir, Duration::ZERO);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = wa_media_hyper::clean_partial_files(&e.path(), Duration::ZERO);
        }
    }
}

/// One line per saved media on stdout (JSON with --json), failures on stderr, and a status
/// line on a terminal.
async fn report(
    ingest: Ingest,
    json_out: bool,
    quiet: bool,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut events = ingest.subscribe();
    let status = (!quiet && !json_out && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar
    });
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => print_event(&ev, json_out, status.as_ref()),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("wa-media: {n} events not shown (output too slow); see index.jsonl");
                }
                Err(_) => return,
            },
            _ = &mut stop => {
                // Stopping: the events already sent are printed, then nothing more.
                loop {
                    match events.try_recv() {
                        Ok(ev) => print_event(&ev, json_out, status.as_ref()),
                        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                            eprintln!("wa-media: {n} events not shown (output too slow); see index.jsonl");
                        }
                        Err(_) => return,
                    }
                }
            }
            _ = tick.tick() => {
                if let Some(bar) = &status {
                    let (pending, failed) = pending_failed(&ingest).await;
                    let (saved, _, _) = ingest.stats();
                    bar.set_message(format!("{pending} pending, {saved} saved, {failed} failed"));
                    bar.tick();
                }
            }
        }
    }
}

fn print_event(ev: &IngestEvent, json_out: bool, status: Option<&indicatif::ProgressBar>) {
    let line = match ev {
        IngestEvent::Saved { entry, saved } if json_out => SavedRecord::new(entry, saved)
            .to_event(if saved.already_present {
                "already_saved"
            } else {
                "saved"
            })
            .to_string(),
        IngestEvent::Saved { entry, saved } => format!(
            "{} {} {} bytes {} sha256 {} ({})",
            entry.media_id,
            saved.location,
            saved.file_size,
            entry.mime_type,
            saved.sha256,
            if saved.already_present {
                "verified, already saved"
            } else {
                "verified"
            }
        ),
        // A message Meta could not take: its `failed` record, as in index.jsonl.
        IngestEvent::MetaFailed { record } if json_out => record.to_event("failed").to_string(),
        IngestEvent::MetaFailed { record } => {
            let e = record.error.as_ref();
            let text = format!(
                "wa-media: {} not received: Meta's error {} {}: {}",
                if record.message_id.is_empty() {
                    "a notification"
                } else {
                    &record.message_id
                },
                e.map_or(0, |e| e.code),
                e.and_then(|e| e.title.as_deref()).unwrap_or(""),
                e.and_then(|e| e.details.as_deref().or(e.message.as_deref()))
                    .unwrap_or("")
            );
            match status {
                Some(bar) => bar.println(text),
                None => eprintln!("{text}"),
            }
            return;
        }
        IngestEvent::Failed { entry } => {
            let text = format!(
                "wa-media: {} ({}) failed: {}",
                entry.media_id,
                entry.message_id,
                entry.failure.as_deref().unwrap_or("unknown")
            );
            match status {
                Some(bar) => bar.println(text),
                None => eprintln!("{text}"),
            }
            return;
        }
        _ => return,
    };
    let _ = match status {
        Some(bar) => {
            bar.suspend(|| output::line(&line)).ok();
            Ok(())
        }
        None => output::line(&line),
    };
}
