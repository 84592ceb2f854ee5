#![doc = include_str!("../README.md")]
//!
//! # Overview
//!
//! The inbound media service for the WhatsApp Cloud API: mount one
//! [`tower_service::Service`], and every media a customer sends ends up in a directory (or
//! your own [`Sink`]), verified, exactly once.
//!
//! - [`WebhookService`] answers Meta's verification handshake, checks `X-Hub-Signature-256`
//!   over the raw body, spools every media **durably before answering 200**, and passes the
//!   rest to your [`Handler`].
//! - [`Spool`] is a Maildir-style queue in files: `tmp/` → fsync → link into `new/`, one
//!   directory fsync per delivery; a redelivered notification finds its media pending or done
//!   and spools nothing.
//! - [`Ingest`] runs bounded workers that fetch each entry with the webhook's digest as the
//!   expected digest, retry what may succeed later (5xx, 429, network, a body that did not
//!   verify) with backoff across restarts, and move what never will to `failed/`.
//! - [`DirectorySink`] files media at `DIR/YYYY-MM-DD/<name>` with an `index.jsonl` line each;
//!   a name taken by another media gets a `-N` suffix, claimed atomically.
//!
//! The Graph client is whatever [`wa_media_core::MediaApi`] you pass: this crate has no HTTP
//! client and no TLS of its own.
//!
//! ```no_run
//! use std::sync::Arc;
//! use wa_media_webhook::{DirectorySink, Ingest, IngestConfig, Spool, WebhookService};
//! # async fn run(api: Arc<dyn wa_media_core::MediaApi>) -> Result<(), Box<dyn std::error::Error>> {
//! let ingest = Ingest::start(
//!     Spool::open("inbox/.spool")?,
//!     api, // e.g. Arc::new(wa_media_hyper::builder().token(..).build()?)
//!     Arc::new(DirectorySink::new("inbox")?),
//!     IngestConfig::default(),
//! )?;
//! let service = WebhookService::builder(ingest)
//!     .app_secret(std::env::var("WHATSAPP_APP_SECRET")?)
//!     .verify_token(std::env::var("WHATSAPP_VERIFY_TOKEN")?)
//!     .build()?;
//! // axum:  Router::new().route_service("/webhook", service)
//! // hyper: hyper_util::service::TowerToHyperService::new(service)
//! # drop(service); Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod directory;
mod entry;
mod forward;
mod fsops;
mod handler;
mod index;
mod ingest;
mod queue;
mod record;
mod service;
mod sink;
mod spool;
pub mod telemetry;
mod time;

pub use directory::DirectorySink;
pub use entry::SpoolEntry;
pub use forward::{ForwardConfig, ForwardConfigError, ForwardEvent, Forwarder};
pub use handler::{Handler, HandlerError};
pub use ingest::{Ingest, IngestConfig, IngestEvent, DEFAULT_SHUTDOWN_GRACE, MEDIA_ID_LIFETIME};
pub use queue::{MaildirQueue, Queue, QueueCounts};
pub use record::{RecordError, RecordStatus, SavedRecord, RECORD_VERSION};
pub use service::{
    BuildError, ResponseBody, WebhookService, WebhookServiceBuilder, DEFAULT_BODY_LIMIT,
    DEFAULT_BODY_TIMEOUT, DEFAULT_PATH, SIGNATURE_HEADER,
};
pub use sink::{filing_name, Location, Saved, Sink, SinkError};
pub use spool::{Enqueued, MediaOutcome, SavedOutcome, Spool, SpoolInUse};
pub use time::now_secs;
