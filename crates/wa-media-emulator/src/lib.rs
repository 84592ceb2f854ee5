#![doc = include_str!("../README.md")]
//!
//! # Where to start
//!
//! [`Emulator::builder`] configures and starts one ([`EmulatorBuilder::start`]); the
//! [`EmulatorHandle`] it returns gives the URLs and token to point a client at
//! ([`EmulatorHandle::graph_url`], [`EmulatorHandle::lookaside_addr`], [`EmulatorHandle::token`]),
//! the fault queue ([`EmulatorHandle::faults`], [`Fault`]), the request log
//! ([`EmulatorHandle::request_log`]), the webhook delivery counts
//! ([`EmulatorHandle::webhook_deliveries`]) and an in-process [`wa_media_core::Transport`]
//! ([`EmulatorHandle::in_process_transport`]).
//!
//! See `docs/emulator.md` in the repository for the HTTP interface (including `/__emulator/`),
//! the choices made where the real API is undocumented, and `curl` examples.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_debug_implementations)]

// The modules, from the top down; each imports only modules below it. `builder` (the start)
// stands on `handle` (the running emulator), which stands on `listener` (the sockets) and
// `transport` (in process); both hand requests to `service`, which dispatches to the routes:
// `admin` (`/__emulator/`), `graph` (with `messages`) and `lookaside` (the download host). The
// routes stand on `inbound` and `state` (what they all share: config, store, faults, log,
// outbox, clock, signer), and those on the leaves: `outbox`, `delivery`, `upload`, `reply`,
// `token`, `config`, `store`, `fault`, `request_log`, `clock`, `body`, `signed_url`, `tls`,
// `bsuid`, `error`.
mod admin;
mod body;
mod bsuid;
mod builder;
mod clock;
mod config;
mod delivery;
mod error;
mod fault;
mod graph;
mod handle;
mod inbound;
mod listener;
mod lookaside;
mod messages;
mod outbox;
mod reply;
mod request_log;
mod resumable;
mod service;
mod signed_url;
mod state;
mod store;
mod templates;
mod tls;
mod token;
mod transport;
mod upload;

pub use bsuid::simulated_user_id;
pub use builder::{Emulator, EmulatorBuilder};
pub use clock::{Clock, ManualClock, SystemClock, MAX_CLOCK_ADVANCE};
pub use config::{
    EmulatorConfig, PairRateLimit, UserAgentPolicy, WebhookTarget, ADMIN_TOKEN_HEADER,
    DEFAULT_BODY_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_INBOUND_MEDIA_TTL, DEFAULT_MAX_CONNECTIONS, DEFAULT_MEDIA_TTL, DEFAULT_STATUS_DELAY,
    DEFAULT_TOKEN, DEFAULT_URL_TTL, DEFAULT_WEBHOOK_MAX_IN_FLIGHT, DEFAULT_WEBHOOK_QUEUE_CAPACITY,
    MAX_STATUS_DELAY, NO_STORAGE_MEDIA_TTL, PRODUCTION_GRAPH_URL, PRODUCTION_LOOKASIDE_URL,
};
pub use delivery::DeliveryStats;
pub use error::EmulatorError;
pub use fault::{
    Endpoint, Fault, Faults, PendingFault, MAX_FAULT_DELAY_MILLIS, MAX_FAULT_DETAILS_CHARS,
    MAX_FAULT_RETRY_AFTER_SECS, MAX_PENDING_FAULTS,
};
pub use handle::EmulatorHandle;
pub use inbound::{
    InboundMessage, SimulatedInbound, SIMULATED_DISPLAY_PHONE_NUMBER, SIMULATED_WABA_ID,
};
pub use outbox::{SentMessage, SentTemplate, SENT_MESSAGES_CAPACITY};
pub use request_log::{LoggedRequest, Origin, REQUEST_LOG_CAPACITY};
pub use resumable::{UploadSessionInfo, MAX_RESUMABLE_FILE_BYTES};
pub use store::{MediaSource, StoredMedia};
pub use templates::{
    EmulatedTemplate, StoredTemplate, TemplateStatus, CUSTOMER_SERVICE_WINDOW_SECS,
};
pub use tls::{LocalPki, CERTIFICATE_NAMES};
pub use transport::InProcessTransport;
pub use upload::BODY_MIN_BYTES_PER_WINDOW;

/// The path of download URLs on the download origin.
pub const ATTACHMENTS_PATH: &str = signed_url::ATTACHMENTS_PATH;
